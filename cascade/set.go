package cascade

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/transform"
)

// Set is the compiled foreign keys of a plan whose actions reach copied
// tables. It is immutable once compiled (SkipUpTo aside, which is called
// before use) and safe for concurrent use.
type Set struct {
	// bySource: edges by parent source table name.
	bySource map[string][]*edge
	// byDest: edges by parent destination table (as planned), for the
	// children of rows a cascade changed.
	byDest map[*cdc.Table][]*edge
	// plans: the child plans, by destination table.
	plans map[*cdc.Table]*transform.TablePlan
	// closure[t]: t and every table a cascade from t's rows reaches.
	closure map[*cdc.Table]map[*cdc.Table]bool
	// skip: a child table whose copy was taken at a later position already
	// reflects the cascades of changes up to it.
	skip    map[*cdc.Table]cdc.Position
	skipMax cdc.Position
	// trips: by source table, the keys whose action on a change of it
	// cannot be followed (see tripwire).
	trips map[string][]tripwire
	fks   []string
	// sides: the side tables (transform.SideSpec) through which followed
	// keys find their child rows, with their owners.
	sides map[*cdc.Table]*sideInfo
	// owners: the actions of owner edges (see sideInfo).
	owners map[*cdc.Cascade]bool
	// colls caches the collations of destination columns (see collation).
	collMu sync.Mutex
	colls  map[*cdc.Table]map[int]collation
}

// edge is one foreign key between a parent and a copied child.
type edge struct {
	fk         *ForeignKey
	parentCols []string
	// parentDest indexes the referenced columns in the parent's destination
	// table (nil when the parent is not copied, or not as it is).
	parentDest []int
	child      *transform.TablePlan
	onDelete   *cdc.Cascade
	onUpdate   *cdc.Cascade
	// srcOnDelete and srcOnUpdate are the same actions on the child's
	// source table (for Generator.Source).
	srcOnDelete *cdc.Cascade
	srcOnUpdate *cdc.Cascade
	delAction   Action
	updAction   Action
	// via, when set, is the side table holding the key's child columns,
	// which the child's destination table lacks (a side handler moved
	// them): the marker names the side table, and its rows deleted delete
	// the child rows owning them (sideInfo's owner edge).
	via *cdc.Table
}

// target is the destination table an edge's markers name.
func (e *edge) target() *cdc.Table {
	if e.via != nil {
		return e.via
	}
	return e.child.Dest
}

// sideInfo is a side table a followed key reaches its child rows through:
// each side row deleted by the key's action deletes the child row owning
// it (an edge from the side table's owner columns to the columns of the
// child's destination table holding its source key), as the source's
// action deleted the child row holding the values.
type sideInfo struct {
	owner *transform.TablePlan
	edge  *edge
	// src: by side column, the child's source column it holds.
	src map[int]int
}

// Compile binds the source's foreign keys to the plan. A key whose action
// reaches a copied table but cannot be repeated exactly on the destination
// is an error naming the key and the remedy: its child columns are not
// copied as they are, the child has no key, the parent is in another
// database, or the cascade passes through a table that is not copied.
func Compile(fks []ForeignKey, plan *transform.Plan) (*Set, error) {
	s := &Set{bySource: map[string][]*edge{}, byDest: map[*cdc.Table][]*edge{}, plans: map[*cdc.Table]*transform.TablePlan{},
		closure: map[*cdc.Table]map[*cdc.Table]bool{}, skip: map[*cdc.Table]cdc.Position{}}
	var errs []error
	// actsOn[t]: keys with an action whose child is source table t.
	actsOn := map[string][]*ForeignKey{}
	for i := range fks {
		fk := &fks[i]
		if fk.acts() {
			actsOn[fk.Child] = append(actsOn[fk.Child], fk)
		}
	}
	for i := range fks {
		fk := &fks[i]
		if !fk.acts() {
			continue
		}
		ctp := plan.Table(fk.Child)
		if ctp == nil {
			continue // the child is not copied (chains through it are checked below)
		}
		if fk.OnDelete == SetDefault || fk.OnUpdate == SetDefault {
			errs = append(errs, fmt.Errorf("%s: SET DEFAULT is not supported", fk))
			continue
		}
		if fk.ParentSchema != "" {
			errs = append(errs, fmt.Errorf("%s: the parent is in database %s, whose changes shiplog does not read, so the rows its %s actions change in %s cannot be followed; ignore %s in the map, or drop the foreign key's action",
				fk, fk.ParentSchema, actionsOf(fk), fk.Child, fk.Child))
			continue
		}
		if len(ctp.Dest.Key) == 0 {
			errs = append(errs, fmt.Errorf("%s: the destination table %s has no primary or unique NOT NULL key, so the child rows its %s actions change cannot be found; add a key or ignore %s in the map",
				fk, ctp.Dest.Name, actionsOf(fk), fk.Child))
			continue
		}
		e := &edge{fk: fk, parentCols: fk.ParentCols, child: ctp, delAction: fk.OnDelete, updAction: fk.OnUpdate}
		// A key whose action the stream cannot repeat on the destination
		// stops the stream when a change of its parent (or of a table whose
		// actions reach the parent) comes that it acts on — not before:
		// the real Magento schemas have such keys on tables whose rows
		// rarely go (EAV entity types, stores), and the rest streams.
		unfollowable := func(err error) {
			msg := err.Error()
			stop := func(*ForeignKey) error {
				return fmt.Errorf("%s: the source changed a row this key acts on (%s), and %s; then copy again with `migrate data --reset`", fk, actionsOf(fk), msg)
			}
			s.trip(fk, ctp.Dest, stop)
			s.tripAbove(actsOn, fk.Parent, ctp.Dest, func(g *ForeignKey) error {
				return fmt.Errorf("%s: a change of %s acts on %s, and on through %s: %s; then copy again with `migrate data --reset`", g, g.Parent, g.Child, fk, msg)
			}, map[string]bool{})
		}
		cols := make([]int, len(fk.ChildCols))
		var notCopied []string
		for j, name := range fk.ChildCols {
			if cols[j] = ctp.CopiedTo(ctp.Source.ColumnIndex(name)); cols[j] < 0 {
				notCopied = append(notCopied, name)
			}
		}
		if len(notCopied) > 0 {
			side, sideCols, owner, held := ctp.SideHolding(fk.ChildCols)
			if !held || fk.OnDelete != Cascade {
				unfollowable(fmt.Errorf("column %s.%s is not copied to the destination as it is (ignored, or changed by a handler), so the rows its actions change cannot be found there; copy the column unchanged, or ignore %s in the map",
					fk.Child, strings.Join(notCopied, ","), fk.Child))
				continue
			}
			// The side table holds the columns: a parent's delete finds
			// the child rows by the side rows holding its values. An update
			// of the referenced columns would change the side rows, which
			// the stream cannot compute from the destination: it stops.
			if fk.OnUpdate != NoAction {
				msg := fmt.Sprintf("column %s.%s is not copied to the destination as it is but held by %s, whose rows the stream cannot compute again when the action changes it",
					fk.Child, strings.Join(notCopied, ","), side.Name)
				s.tripOn(fk, ctp.Dest, false, true, func(*ForeignKey) error {
					return fmt.Errorf("%s: the source changed the referenced columns of a row this key acts on (ON UPDATE %s), and %s; then copy again with `migrate data --reset`", fk, fk.OnUpdate, msg)
				})
			}
			e.via = side
			cols = sideCols
			s.addSide(side, sideCols, owner, ctp, fk)
		}
		if fk.OnDelete == Cascade {
			if err := ctp.SideOwnersOnDest(); err != nil {
				unfollowable(err)
				continue
			}
		}
		if (fk.OnUpdate != NoAction && e.via == nil) || fk.OnDelete == SetNull {
			if err := ctp.SideReadsAny(fk.ChildCols); err != nil {
				unfollowable(err)
				continue
			}
		}
		srcCols := make([]int, len(fk.ChildCols))
		for j, name := range fk.ChildCols {
			srcCols[j] = ctp.Source.ColumnIndex(name)
		}
		if fk.OnDelete != NoAction {
			e.onDelete = &cdc.Cascade{Constraint: fk.Name, Cols: cols, Delete: fk.OnDelete == Cascade}
			e.srcOnDelete = &cdc.Cascade{Constraint: fk.Name, Cols: srcCols, Delete: fk.OnDelete == Cascade}
		}
		if fk.OnUpdate != NoAction && e.via == nil {
			e.onUpdate = &cdc.Cascade{Constraint: fk.Name, Cols: cols}
			e.srcOnUpdate = &cdc.Cascade{Constraint: fk.Name, Cols: srcCols}
		}
		if ptp := plan.Table(fk.Parent); ptp != nil {
			e.parentDest = make([]int, len(fk.ParentCols))
			for j, name := range fk.ParentCols {
				if e.parentDest[j] = ptp.CopiedTo(ptp.Source.ColumnIndex(name)); e.parentDest[j] < 0 {
					e.parentDest = nil
					break
				}
			}
		}
		// The parent's own rows may change by a cascade the binlog does
		// not show either; following it on needs the parent copied as it
		// is. Otherwise its own changes are followed, and a change of a
		// table whose action reaches it (at any depth) stops the stream
		// when it comes (Generator.Add): rare in a live store (deleting a
		// store group, an EAV entity type), and no reason to refuse every
		// other change before it.
		if len(actsOn[fk.Parent]) > 0 && e.parentDest == nil {
			how := "not copied"
			if plan.Table(fk.Parent) != nil {
				how = "not copied with columns " + strings.Join(fk.ParentCols, ",") + " as they are"
			}
			s.tripAbove(actsOn, fk.Parent, ctp.Dest, func(g *ForeignKey) error {
				return fmt.Errorf("%s: a change of %s acts through %s on %s, which is %s, and on through %s to the copied %s: the rows it changes there cannot be found; copy %s (those columns unchanged) or ignore %s in the map, then copy again with `migrate data --reset`",
					g, g.Parent, g.Name, fk.Parent, how, fk.Name, fk.Child, fk.Parent, fk.Child)
			}, map[string]bool{})
		}
		s.bySource[fk.Parent] = append(s.bySource[fk.Parent], e)
		if e.parentDest != nil {
			pd := plan.Table(fk.Parent).Dest
			s.byDest[pd] = append(s.byDest[pd], e)
		}
		s.plans[ctp.Dest] = ctp
		s.fks = append(s.fks, fk.Name)
	}
	for t := range s.plans {
		s.closure[t] = s.reach(t, map[*cdc.Table]bool{})
	}
	for t := range s.sides {
		s.closure[t] = s.reach(t, map[*cdc.Table]bool{})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("source foreign keys whose actions shiplog cannot repeat on the destination:\n  %w", joinLines(errs))
	}
	return s, nil
}

// addSide notes side table side, whose columns cols hold fk's child
// columns, as one through which fk's deletes reach the rows of ctp (owner:
// the columns of ctp.Dest holding the side rows' owner key).
func (s *Set) addSide(side *cdc.Table, cols, owner []int, ctp *transform.TablePlan, fk *ForeignKey) {
	if s.sides == nil {
		s.sides = map[*cdc.Table]*sideInfo{}
		s.owners = map[*cdc.Cascade]bool{}
	}
	si := s.sides[side]
	if si == nil {
		var ownerCols, childCols []string
		for _, k := range side.Key {
			ownerCols = append(ownerCols, side.Columns[k].Name)
		}
		for _, k := range owner {
			childCols = append(childCols, ctp.Dest.Columns[k].Name)
		}
		name := "(" + side.Name + " rows owned by " + ctp.Dest.Name + ")"
		e := &edge{fk: &ForeignKey{Name: name, Child: ctp.Source.Name, Parent: side.Name, ChildCols: childCols, ParentCols: ownerCols, OnDelete: Cascade},
			parentCols: ownerCols, parentDest: append([]int(nil), side.Key...), child: ctp, delAction: Cascade,
			onDelete: &cdc.Cascade{Constraint: name, Cols: owner, Delete: true}}
		si = &sideInfo{owner: ctp, edge: e, src: map[int]int{}}
		s.sides[side] = si
		s.owners[e.onDelete] = true
		s.byDest[side] = append(s.byDest[side], e)
	}
	for j, c := range cols {
		si.src[c] = ctp.Source.ColumnIndex(fk.ChildCols[j])
	}
}

// tripwire stops the stream at a change of its table that fk's action
// carries on to rows the stream cannot follow.
type tripwire struct {
	fk  *ForeignKey
	err func(*ForeignKey) error
	// child is the copied table (destination) the action would reach: a
	// change its copy already reflects sets nothing off.
	child *cdc.Table
	// onDelete, onUpdate: the kinds of change it is set off by (when
	// fk's action acts on them).
	onDelete, onUpdate bool
}

// trip sets a tripwire on fk's parent.
func (s *Set) trip(fk *ForeignKey, child *cdc.Table, err func(*ForeignKey) error) {
	s.tripOn(fk, child, true, true, err)
}

// tripOn sets a tripwire on fk's parent that deletes (del) or updates
// (upd) set off.
func (s *Set) tripOn(fk *ForeignKey, child *cdc.Table, del, upd bool, err func(*ForeignKey) error) {
	if s.trips == nil {
		s.trips = map[string][]tripwire{}
	}
	s.trips[fk.Parent] = append(s.trips[fk.Parent], tripwire{fk: fk, err: err, child: child, onDelete: del, onUpdate: upd})
}

// TripTables lists the source tables whose changes may stop the stream
// (see tripwire) and that no followed key has as parent, sorted: a
// change-log delta must log them too.
func (s *Set) TripTables() []string {
	if s == nil {
		return nil
	}
	var out []string
	for t := range s.trips {
		if len(s.bySource[t]) == 0 {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// tripAbove sets tripwires on every table whose foreign key actions reach
// table t (the keys acting on t, their parents' acting keys, ...).
func (s *Set) tripAbove(actsOn map[string][]*ForeignKey, t string, child *cdc.Table, err func(*ForeignKey) error, seen map[string]bool) {
	if seen[t] || len(seen) > maxDepth {
		return
	}
	seen[t] = true
	for _, g := range actsOn[t] {
		s.trip(g, child, err)
		s.tripAbove(actsOn, g.Parent, child, err, seen)
	}
}

// Watches reports whether the stream must see the changes of source table
// name: a parent of keys it follows, or one whose changes it must stop at.
func (s *Set) Watches(name string) bool {
	return s != nil && (len(s.bySource[name]) > 0 || len(s.trips[name]) > 0)
}

// tripped returns the error of a tripwire change c sets off (nil if none):
// a delete of a row of a table whose key deletes or nulls, or an update of
// the referenced columns of one whose key acts on update.
func (s *Set) tripped(c cdc.Change) error {
	for _, w := range s.trips[c.Table.Name] {
		if s.skipped(w.child, c.Pos) {
			continue
		}
		switch c.Op {
		case cdc.OpDelete:
			if w.fk.OnDelete != NoAction && w.onDelete {
				return w.err(w.fk)
			}
		case cdc.OpUpdate:
			if w.fk.OnUpdate == NoAction || !w.onUpdate || c.Before == nil || c.After == nil {
				continue
			}
			for _, name := range w.fk.ParentCols {
				if k := c.Table.ColumnIndex(name); k >= 0 && !sameValue(c.Before[k], c.After[k]) {
					return w.err(w.fk)
				}
			}
		}
	}
	return nil
}

func (s *Set) reach(t *cdc.Table, seen map[*cdc.Table]bool) map[*cdc.Table]bool {
	if seen[t] {
		return seen
	}
	seen[t] = true
	for _, e := range s.byDest[t] {
		s.reach(e.target(), seen)
	}
	return seen
}

func actionsOf(fk *ForeignKey) string {
	var a []string
	if fk.OnDelete != NoAction {
		a = append(a, "ON DELETE "+fk.OnDelete.String())
	}
	if fk.OnUpdate != NoAction {
		a = append(a, "ON UPDATE "+fk.OnUpdate.String())
	}
	return strings.Join(a, ", ")
}

func joinLines(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	sort.Strings(msgs)
	return errors.New(strings.Join(msgs, "\n  "))
}

// Empty reports whether no foreign key action reaches a copied table.
func (s *Set) Empty() bool { return s == nil || len(s.bySource) == 0 }

// Names lists the foreign keys the set follows.
func (s *Set) Names() []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s.fks...)
}

// Parents lists the source tables whose changes can cascade (a reader must
// decode them even when they are not copied themselves).
func (s *Set) Parents() []string {
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s.bySource))
	for t := range s.bySource {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// IsParent reports whether changes of source table name can cascade.
func (s *Set) IsParent(name string) bool { return s != nil && len(s.bySource[name]) > 0 }

// SkipUpTo notes, by source table, the positions of copies taken after the
// stream's start: cascades of changes up to them are in the copies already.
func (s *Set) SkipUpTo(pos map[string]cdc.Position) {
	if s == nil {
		return
	}
	for t, tp := range s.plans {
		if p, ok := pos[tp.Source.Name]; ok {
			s.skip[t] = p
			if p.Compare(s.skipMax) > 0 {
				s.skipMax = p
			}
		}
	}
	// Side rows are copied with their owners.
	for t, si := range s.sides {
		if p, ok := pos[si.owner.Source.Name]; ok {
			s.skip[t] = p
		}
	}
}

// checkSkips returns an error when a parent change at pos cascades, along
// the keys of edges, through a child whose copy was taken after pos (so it
// reflects the change already, and the stream skips the change's action on
// it) into a table whose copy was taken before: the rows the action changed
// there hang on rows of the first that are gone from its copy, and cannot
// be found. del: the rows of the edges' parent are deleted (else their
// columns changed are updated).
func (s *Set) checkSkips(edges []*edge, pos cdc.Position, del bool, changed []int, via *edge, depth int) error {
	if depth > maxDepth {
		return nil
	}
	for _, e := range edges {
		var next []int
		nextDel := false
		switch {
		case del && e.onDelete != nil:
			nextDel = e.onDelete.Delete
			next = e.onDelete.Cols
		case !del && e.onUpdate != nil && (changed == nil || overlaps(e.parentDest, changed)):
			next = e.onUpdate.Cols
		default:
			continue
		}
		skipped := s.skipped(e.child.Dest, pos)
		if via != nil && !skipped {
			return fmt.Errorf("%s: a change of %s at %s cascades through %s, whose copy was taken after it (it reflects the change, and the stream skips its action there), into %s, whose copy was taken before it: the rows it changed in %s cannot be found; copy again with `migrate data --reset`",
				e.fk, via.fk.Parent, pos, via.child.Source.Name, e.child.Source.Name, e.child.Source.Name)
		}
		v := via
		if skipped && v == nil {
			v = e
		}
		if err := s.checkSkips(s.byDest[e.target()], pos, nextDel, next, v, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func overlaps(a, b []int) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

func (s *Set) skipped(child *cdc.Table, pos cdc.Position) bool {
	p, ok := s.skip[child]
	return ok && pos.Compare(p) <= 0
}

// ParentKeyOnly checks that every followed key references columns within
// keyOf(parent) (the columns a change-log delta knows of a deleted row);
// with follows, only the keys whose child it accepts.
func (s *Set) ParentKeyOnly(keyOf func(parent string) []string, follows func(child string) bool) error {
	if s == nil {
		return nil
	}
	var errs []error
	for parent, edges := range s.bySource {
		key := keyOf(parent)
		for _, e := range edges {
			if follows != nil && !follows(e.child.Source.Name) {
				continue // the child's changes are not streamed at all
			}
			for _, c := range e.parentCols {
				found := false
				for _, k := range key {
					found = found || strings.EqualFold(k, c)
				}
				if !found {
					errs = append(errs, fmt.Errorf("%s: %s.%s is not in the change log's key of %s (%s), so the change log cannot tell which rows the key's %s actions changed; stream from the binlog, or ignore %s in the map",
						e.fk, parent, c, parent, strings.Join(key, ","), actionsOf(e.fk), e.fk.Child))
				}
			}
		}
	}
	if len(errs) > 0 {
		return joinLines(errs)
	}
	return nil
}

// Generator adds markers to a stream of source changes. It is not safe for
// concurrent use; use one per stream.
type Generator struct {
	// Refresh: the stream reads the source's state, not its history (a
	// change-log delta, which collapses a delete and a re-insert of a key
	// into one upsert): every change of a parent gets markers, whatever its
	// kind, for Expand with a Refresher.
	Refresh bool
	// Source: markers name the child's source table and columns (for the
	// Kafka sink, which publishes source rows) instead of the destination's.
	Source bool
	set    *Set
	// cols caches, per source table as a reader describes it, the indexes of
	// each edge's referenced columns (nil entry: no edges).
	cols map[*cdc.Table][][]int
}

// Generator returns a marker generator for one stream.
func (s *Set) Generator() *Generator {
	return &Generator{set: s, cols: map[*cdc.Table][][]int{}}
}

// Add appends to out the markers of source change c (a change of a parent
// whose key action reaches a copied child), in the order of the set's keys,
// and returns out. c.Before must hold the referenced columns. A change made
// with foreign_key_checks=0 (c.NoFKChecks) gets none: the keys did nothing.
func (g *Generator) Add(out []cdc.Change, c cdc.Change) ([]cdc.Change, error) {
	if g == nil || g.set == nil || c.NoFKChecks {
		// (With foreign_key_checks=0 the source's keys did nothing.)
		return out, nil
	}
	if len(g.set.trips) > 0 {
		if err := g.set.tripped(c); err != nil {
			return out, err
		}
	}
	cols, ok := g.cols[c.Table]
	if !ok {
		edges := g.set.bySource[c.Table.Name]
		if len(edges) > 0 {
			cols = make([][]int, len(edges))
			for i, e := range edges {
				cols[i] = make([]int, len(e.parentCols))
				for j, name := range e.parentCols {
					if cols[i][j] = c.Table.ColumnIndex(name); cols[i][j] < 0 {
						return out, fmt.Errorf("%s: table %s has no column %s any more; the schema changed: re-run data mode", e.fk, c.Table.Name, name)
					}
				}
			}
		}
		g.cols[c.Table] = cols
	}
	if cols == nil {
		return out, nil
	}
	if len(g.set.skip) > 0 && c.Pos.Compare(g.set.skipMax) <= 0 && c.Before != nil && (c.Op == cdc.OpDelete || c.Op == cdc.OpUpdate) {
		for i, e := range g.set.bySource[c.Table.Name] {
			acts := true
			changed := c.Op == cdc.OpDelete
			for _, k := range cols[i] {
				acts = acts && c.Before[k] != nil
				changed = changed || !sameValue(c.Before[k], c.After[k])
			}
			if !acts || !changed {
				continue
			}
			if err := g.set.checkSkips([]*edge{e}, c.Pos, c.Op == cdc.OpDelete, nil, nil, 0); err != nil {
				return out, err
			}
		}
	}
	if g.Refresh {
		row := c.Before
		if row == nil {
			row = c.After
		}
		for i, e := range g.set.bySource[c.Table.Name] {
			out = e.refreshMarker(out, c, row, cols[i], g.set)
		}
		return out, nil
	}
	if c.Before == nil || (c.Op != cdc.OpDelete && c.Op != cdc.OpUpdate) {
		return out, nil
	}
	for i, e := range g.set.bySource[c.Table.Name] {
		if g.Source && e.via != nil && c.Op == cdc.OpDelete && !g.set.skipped(e.child.Dest, c.Pos) && !hasNull(c.Before, cols[i]) {
			// A Kafka applier finds a marker's rows by the child's columns,
			// which the destination lacks.
			return out, fmt.Errorf("%s: the source deleted a row this key acts on (ON DELETE CASCADE), and column %s.%s is not copied to the destination as it is (held by %s), so a Kafka applier cannot find the rows it deleted; then copy again with `migrate data --reset`",
				e.fk, e.fk.Child, strings.Join(e.fk.ChildCols, ","), e.via.Name)
		}
		out = e.marker(out, c, c.Before, c.After, cols[i], g.set, g.Source)
	}
	return out, nil
}

func hasNull(row []any, cols []int) bool {
	for _, k := range cols {
		if row[k] == nil {
			return true
		}
	}
	return false
}

// refreshMarker appends a marker asking for the children of row (values
// of the referenced columns at cols) to be read again.
func (e *edge) refreshMarker(out []cdc.Change, c cdc.Change, row []any, cols []int, s *Set) []cdc.Change {
	old := make([]any, len(cols))
	for j, k := range cols {
		if row == nil || row[k] == nil {
			return out
		}
		old[j] = row[k]
	}
	cas := e.onDelete
	if cas == nil {
		cas = e.onUpdate
	}
	if s.skipped(e.child.Dest, c.Pos) {
		return out
	}
	return append(out, cdc.Change{Op: cdc.OpCascade, Table: e.target(), Before: old, Cascade: cas, CommitTime: c.CommitTime, Pos: c.Pos})
}

// marker appends the marker of a parent change with images before and
// after (after nil for deletes) whose referenced columns are at cols.
func (e *edge) marker(out []cdc.Change, c cdc.Change, before, after []any, cols []int, s *Set, src bool) []cdc.Change {
	old := make([]any, len(cols))
	for j, k := range cols {
		if before[k] == nil {
			return out // a NULL is referenced by no child
		}
		old[j] = before[k]
	}
	var cas *cdc.Cascade
	var set []any
	if after == nil {
		if cas = e.onDelete; cas == nil {
			return out
		}
		if !cas.Delete {
			set = make([]any, len(cols))
		}
	} else {
		if e.onUpdate == nil {
			return out
		}
		changed := false
		set = make([]any, len(cols))
		for j, k := range cols {
			set[j] = after[k]
			changed = changed || !sameValue(old[j], after[k])
		}
		if !changed {
			return out
		}
		cas = e.onUpdate
		if e.updAction == SetNull {
			clear(set)
		}
	}
	if s.skipped(e.child.Dest, c.Pos) {
		return out
	}
	t := e.target()
	if src {
		t = e.child.Source
		if cas == e.onDelete {
			cas = e.srcOnDelete
		} else {
			cas = e.srcOnUpdate
		}
	}
	return append(out, cdc.Change{Op: cdc.OpCascade, Table: t, Before: old, After: set, Cascade: cas,
		CommitTime: c.CommitTime, Pos: c.Pos})
}

// ChildrenOf lists the copied source tables whose rows the actions of
// parent's foreign keys change.
func (s *Set) ChildrenOf(parent string) []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, e := range s.bySource[parent] {
		out = append(out, e.child.Source.Name)
	}
	return out
}

// KafkaCheck reports the followed keys a Kafka applier cannot repeat
// exactly. Each marker is published to every partition of the child's topic
// and the applier of each partition changes the rows of its own keys, in
// the order of its partition: exact for the children of a changed parent,
// but the rows those children's own keys reach live in other topics, whose
// appliers run at their own pace. So a cascade that reaches further than one
// level is refused, as is a child whose destination key is not its source
// key (the applier finds a row's partition by its source key).
func (s *Set) KafkaCheck() error {
	if s == nil {
		return nil
	}
	var errs []error
	for _, edges := range s.bySource {
		for _, e := range edges {
			if e.via != nil {
				continue // Generator.Add stops at its deletes (Source)
			}
			if next := s.byDest[e.child.Dest]; len(next) > 0 {
				errs = append(errs, fmt.Errorf("%s: the rows it changes in %s are parents of %s, whose rows a Kafka applier cannot follow in order (only one level of cascades goes through Kafka)",
					e.fk, e.fk.Child, next[0].fk))
			}
			if !e.child.KeyIdentity() {
				errs = append(errs, fmt.Errorf("%s: the map changes the key of %s, so a Kafka applier cannot tell which of its rows its partition owns", e.fk, e.fk.Child))
			}
		}
	}
	if len(errs) > 0 {
		return joinLines(errs)
	}
	return nil
}

// Tables returns a set that follows no foreign key but can expand markers
// made elsewhere (a Kafka applier's, which reads them from the topics) on
// tables: each table's rows are laid over by the batch's changes.
func Tables(tables []*cdc.Table) *Set {
	s := &Set{bySource: map[string][]*edge{}, byDest: map[*cdc.Table][]*edge{}, plans: map[*cdc.Table]*transform.TablePlan{},
		closure: map[*cdc.Table]map[*cdc.Table]bool{}, skip: map[*cdc.Table]cdc.Position{}}
	for _, t := range tables {
		s.plans[t] = nil
		s.closure[t] = map[*cdc.Table]bool{t: true}
	}
	return s
}

// CopyOrder maps each copied child table (source name) to the copied
// parents whose copies must start before its own: a cascade that passes
// through a child is then in a grandchild's copy whenever it is in the
// child's (see Generator.Add's hand-off check). Keys in a cycle are left out.
func (s *Set) CopyOrder() map[string][]string {
	out := map[string][]string{}
	if s == nil {
		return out
	}
	for parent, edges := range s.bySource {
		for _, e := range edges {
			child := e.child.Source.Name
			if e.parentDest == nil || child == parent || slices.Contains(out[child], parent) {
				continue
			}
			out[child] = append(out[child], parent)
		}
	}
	// Drop the edges that close a cycle (back edges of a depth-first
	// walk), so an order exists.
	state := map[string]int{} // 0 unseen, 1 on the walk's path, 2 done
	var walk func(t string)
	walk = func(t string) {
		state[t] = 1
		kept := out[t][:0]
		for _, p := range out[t] {
			if state[p] == 1 {
				continue
			}
			kept = append(kept, p)
			if state[p] == 0 {
				walk(p)
			}
		}
		out[t] = kept
		state[t] = 2
	}
	for t := range out {
		if state[t] == 0 {
			walk(t)
		}
	}
	return out
}
