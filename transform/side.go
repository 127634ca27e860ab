package transform

import (
	"bytes"
	"fmt"
	"strings"
	"sync"

	"github.com/shiplog/shiplog/cdc"
)

// Side handlers write, for each row they handle, a row into another
// destination table that the map does not fill otherwise (Magento's handlers
// that save records into a second document: Gallery\InsertValueToEntity,
// Sequence). The side rows mirror the handled rows:
//
//   - A side table's rows belong to a handled row by their owner columns,
//     which hold the handled row's source key (what every change of it
//     carries, a delete from the change-log tables too). The side rows a
//     row owns are written with it, in the same destination transaction, by
//     the copy and by the stream.
//   - A row written (insert, update, snapshot read) replaces the side rows
//     its key owns with the row the handler emitted (none when it emitted
//     none). Applied again, it leaves the same rows: replay is idempotent.
//   - A row deleted deletes the side rows its key owns, and a row whose key
//     changes deletes those of its old key: what the destination's foreign
//     key from the side table's owner columns ON DELETE CASCADE does (the
//     writer runs with foreign key checks off, so it does it itself), and
//     what Magento does with an entity's sequence row. A row a source
//     foreign key action deletes deletes its side rows too (the key must
//     then be copied to the destination as it is, to be found there).
//   - A copy that empties the handled table empties the side table too.
//   - The stream applies a batch that holds side rows in one transaction,
//     whatever options.apply_workers is (a side row's key would otherwise
//     put it in another partition's transaction than its owner's).
//
// The side table must exist on the destination, its key must hold the owner
// columns and it must have no other unique index (a row of one owner then
// never meets another owner's row), and no other handler or mapped document
// may write it.

// SideSpec names the destination table a side handler writes.
type SideSpec struct {
	// Table is the destination table, without prefix.
	Table string
	// Columns are the columns each side row fills, in emit's order.
	Columns []string
	// Owner names the columns (among Columns) that hold the handled row's
	// source key, in the key's order.
	Owner []string
	// Reads names the fields of the handled record, besides the bound
	// field, that side rows are computed from: a row a source foreign key
	// action changes in one of them (which the stream sees on the
	// destination only) is refused before streaming.
	Reads []string
	// Fill names columns of the handled row's destination table that the
	// handler sets in other (in the source area) whether the map fills
	// them or ignores them, as the reference's handler does; the compiler
	// adds those the plan lacks, and calls the factory again so that
	// b.Other has them.
	Fill []string
	// Holds maps side columns (among Columns) to the field of the handled
	// record each holds as it is: a source foreign key on such a field
	// that the map does not copy finds its rows on the destination
	// through the side table (see TablePlan.SideHolding).
	Holds map[string]string
}

// Emit writes the side row of the handled row: values in the order of
// SideSpec.Columns, in cdc's canonical forms (or strings).
type Emit func(vals ...any)

// SideFunc is a side handler bound to one field. It may change other as
// Func does, but not rec's field (a side handler reads it; the compiler
// relies on the field being copied as it is). It calls emit at most once;
// not calling it means the row owns no side row. An error sends the row to
// the failed-rows table, without its side row.
type SideFunc func(rec, other []any, emit Emit) error

// SideFactory validates params at bind time and returns the side table the
// handler writes with the bound handler. b.DestTable gives the destination's
// tables (to choose among columns, as editions differ).
type SideFactory func(p Params, b Binding) (SideSpec, SideFunc, error)

var sideRegistry sync.Map // canonical name -> SideFactory

// RegisterSide makes a side handler available to maps by name, as Register
// does (LookupHandler and Handlers list it too).
func RegisterSide(name string, f SideFactory) {
	sideRegistry.Store(canonicalHandlerName(name), f)
	Register(name, func(Params, Binding) (Func, error) {
		return nil, fmt.Errorf("handler %s writes rows into another table and is bound by Compile only", name)
	})
}

func lookupSide(name string) SideFactory {
	if f, ok := sideRegistry.Load(canonicalHandlerName(name)); ok {
		return f.(SideFactory)
	}
	return nil
}

// DestTable returns the destination table named table (without prefix, or
// with it), as the destination has it, or nil when there is none (or the
// binding was made outside Compile).
func (b Binding) DestTable(table string) *cdc.Table {
	if b.dest == nil {
		return nil
	}
	return b.dest(table)
}

// sideOut is one side table of a plan.
type sideOut struct {
	// table is the side table as written: the handler's columns, Key the
	// owner columns, KeyGroups set.
	table   *cdc.Table
	handler string
	field   string
	ref     string // the rule's document.field
	// destKey: where the destination row holds each source key column
	// copied as it is (nil when one is not): how a row deleted on the
	// destination alone (a foreign key action) tells its side rows.
	destKey []int
	// bound identifies the binding, to accept the same transform twice.
	bound string
	// reads are the fields of the handled record its rows are computed from.
	reads []string
	// holds: by field of the handled record (lower case), the side column
	// holding it as it is (SideSpec.Holds).
	holds map[string]int
}

// sideCall is a bound side handler.
type sideCall struct {
	fn    SideFunc
	out   int // index into TablePlan.sides
	index int // the field in rec
	width int // len(SideSpec.Columns)
}

// call runs f on rec and other; a side handler's row goes into sides
// (nil: discarded).
func (f *boundFunc) call(rec, other []any, sides [][]any) error {
	s := f.side
	if s == nil {
		return f.fn(rec, other)
	}
	var bad error
	emitted := false
	before := rec[s.index]
	err := s.fn(rec, other, func(vals ...any) {
		switch {
		case emitted:
			bad = fmt.Errorf("emitted more than one row into its side table")
		case len(vals) != s.width:
			bad = fmt.Errorf("emitted %d values into its side table, which it declared %d columns of", len(vals), s.width)
		default:
			emitted = true
			if sides != nil {
				sides[s.out] = append([]any(nil), vals...)
			}
		}
	})
	if err != nil {
		return err
	}
	if !sameValue(before, rec[s.index]) {
		return fmt.Errorf("changed the field it reads (a handler that writes rows into another table must not)")
	}
	return bad
}

// changes reports whether f may change the field named name.
func (f *boundFunc) changes(name string) bool {
	return f.side == nil && strings.EqualFold(f.field, name)
}

// sameValue compares canonical values: bytes by content, numbers of
// different Go types by their decimal form.
func sameValue(a, b any) bool {
	if ab, ok := a.([]byte); ok {
		bb, ok := b.([]byte)
		if !ok {
			if s, isStr := b.(string); isStr {
				return string(ab) == s
			}
			return false
		}
		return bytes.Equal(ab, bb)
	}
	if _, ok := b.([]byte); ok {
		return sameValue(b, a)
	}
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if a == b {
		return true
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// bindSide binds side handler sf on field of tp (bindHandlers' part for
// side handlers): problems are reported as a plain handler's are.
func (c *compiler) bindSide(tp *TablePlan, area string, tr Transform, field string, sf SideFactory, params Params, b Binding) {
	fail := func(format string, args ...any) {
		c.blockingf(area, tp.Source.Name, tr.Handler.At, field, "Handler %s on %s cannot run (%s); %s",
			tr.Handler.Name, tr.Field, fmt.Sprintf(format, args...), handlerRemedy(area, tr.Field))
	}
	spec, fn, err := sf(params, b)
	if err != nil {
		fail("%v", err)
		return
	}
	if len(spec.Fill) > 0 {
		if why := c.fill(tp, area, spec.Fill); why != "" {
			fail("%s", why)
			return
		}
		if spec, fn, err = sf(params, b); err != nil {
			fail("%v", err)
			return
		}
	}
	st, why := c.sideTable(tp, spec)
	if why != "" {
		fail("%s", why)
		return
	}
	bound := fmt.Sprintf("%s|%s|%s|%v|%v", tp.Source.Name, strings.ToLower(field), canonicalHandlerName(tr.Handler.Name), params, spec)
	if c.sideUsers == nil {
		c.sideUsers = map[string]*sideOut{}
	}
	if prev, ok := c.sideUsers[strings.ToLower(st.Name)]; ok {
		if prev.bound == bound {
			return // the same transform twice (the reference's maps have some): its rows once
		}
		fail("destination table %s is written by %s on %s already", st.Name, prev.handler, prev.ref)
		return
	}
	out := &sideOut{table: st, handler: tr.Handler.Name, field: field, ref: tr.Field, bound: bound, reads: append([]string{field}, spec.Reads...)}
	for col, f := range spec.Holds {
		i := st.ColumnIndex(col)
		if i < 0 || b.Rec.ColumnIndex(f) < 0 {
			fail("it declares that column %s of %s holds field %s, which one of them lacks", col, st.Name, f)
			return
		}
		if out.holds == nil {
			out.holds = map[string]int{}
		}
		out.holds[strings.ToLower(f)] = i
	}
	c.sideUsers[strings.ToLower(st.Name)] = out
	tp.sides = append(tp.sides, out)
	bf := boundFunc{handler: tr.Handler.Name, field: field,
		side: &sideCall{fn: fn, out: len(tp.sides) - 1, index: b.Index, width: len(spec.Columns)}}
	if area == "source" {
		tp.srcFuncs = append(tp.srcFuncs, bf)
	} else {
		tp.dstFuncs = append(tp.dstFuncs, bf)
	}
}

// destTable is the destination table named table, without prefix or (when
// none is) with it; nil when there is none.
func (c *compiler) destTable(table string) *cdc.Table {
	if t := c.dstByBase[strings.ToLower(table)]; t != nil {
		return t
	}
	for _, t := range c.dstByBase {
		if strings.EqualFold(t.Name, table) {
			return t
		}
	}
	return nil
}

// fill adds the destination columns cols of tp's table that the plan does
// not write to the row as written (filled by a source-area handler).
func (c *compiler) fill(tp *TablePlan, area string, cols []string) string {
	dt := c.destTable(tp.Dest.Name)
	if area != "source" || dt == nil {
		return "it sets columns of the destination row, and runs only on a source field"
	}
	for _, name := range cols {
		if tp.Dest.ColumnIndex(name) >= 0 {
			continue
		}
		i := dt.ColumnIndex(name)
		if i < 0 || dt.Columns[i].Generated {
			return fmt.Sprintf("destination table %s has no column %s to set", dt.Name, name)
		}
		tp.Dest.Columns = append(tp.Dest.Columns, dt.Columns[i])
		tp.proj = append(tp.proj, -1)
		if tp.keep != nil {
			tp.keep = append(tp.keep, false)
		}
		// The handler fills it: it is no NOT NULL column nothing fills.
		unfilled := fmt.Sprintf("Destination field %s.%s is NOT NULL without a default and nothing fills it", dt.Name, dt.Columns[i].Name)
		kept := c.problems[:0]
		for _, p := range c.problems {
			if p.Area != "destination" || p.Table != dt.Name || !strings.HasPrefix(p.Msg, unfilled) {
				kept = append(kept, p)
			}
		}
		c.problems = kept
	}
	return ""
}

// sideTable checks spec against the destination and tp, and returns the
// side table as written, or why it cannot be.
func (c *compiler) sideTable(tp *TablePlan, spec SideSpec) (*cdc.Table, string) {
	dt := c.dstByBase[strings.ToLower(spec.Table)]
	if dt == nil {
		return nil, fmt.Sprintf("destination table %s%s does not exist; create it (the handler writes rows into it)", c.r.DestPrefix, spec.Table)
	}
	if tp.FullRow || len(tp.Source.Key) == 0 {
		return nil, fmt.Sprintf("document %s has no key to own the rows of %s by", tp.Source.Name, dt.Name)
	}
	if len(dt.Key) == 0 || len(dt.Unique) > 0 {
		return nil, fmt.Sprintf("destination table %s must have a primary key and no other unique index", dt.Name)
	}
	st := &cdc.Table{Schema: dt.Schema, Name: dt.Name, KeyGroups: true}
	for _, name := range spec.Columns {
		i := dt.ColumnIndex(name)
		if i < 0 {
			return nil, fmt.Sprintf("destination table %s has no column %s", dt.Name, name)
		}
		if st.ColumnIndex(name) >= 0 {
			return nil, fmt.Sprintf("column %s.%s declared twice", dt.Name, name)
		}
		st.Columns = append(st.Columns, dt.Columns[i])
	}
	for _, k := range dt.Key {
		if st.ColumnIndex(dt.Columns[k].Name) < 0 {
			return nil, fmt.Sprintf("key column %s.%s is not written", dt.Name, dt.Columns[k].Name)
		}
	}
	if len(spec.Owner) != len(tp.Source.Key) {
		return nil, fmt.Sprintf("%s's rows are owned by (%s), which must hold the key (%s) of %s", dt.Name,
			strings.Join(spec.Owner, ","), strings.Join(tp.Source.KeyNames(), ","), tp.Source.Name)
	}
	for _, name := range spec.Owner {
		i := st.ColumnIndex(name)
		if i < 0 || dt.ColumnIndex(name) < 0 || !isKey(dt, dt.ColumnIndex(name)) {
			return nil, fmt.Sprintf("owner column %s.%s must be one of the columns written and of the table's primary key", dt.Name, name)
		}
		st.Key = append(st.Key, i)
	}
	return st, ""
}

// checkSides reports side tables that a mapped document fills too, and
// notes where each plan's destination rows hold its source key (run once
// every table is compiled).
func (c *compiler) checkSides() {
	for _, name := range c.plan.names {
		tp := c.plan.tables[name]
		if by, ok := c.sideUsers[strings.ToLower(tp.Dest.Name)]; ok {
			c.errorf("destination", tp.Dest.Name, Origin{}, "Destination document %s is written by handler %s on %s and is also mapped from %s: ignore one of them in the map",
				tp.Dest.Name, by.handler, by.ref, tp.Source.Name)
		}
		for _, s := range tp.sides {
			s.destKey = make([]int, len(tp.Source.Key))
			for i, k := range tp.Source.Key {
				if s.destKey[i] = tp.CopiedTo(k); s.destKey[i] < 0 {
					s.destKey = nil
					break
				}
			}
		}
	}
	for name := range c.sideUsers {
		c.usedDest[name] = true
	}
}

// SideTables returns the destination tables tp's handlers write rows into
// (see SideSpec), as written: only the handlers' columns, keyed by their
// owner columns (KeyGroups).
func (tp *TablePlan) SideTables() []*cdc.Table {
	out := make([]*cdc.Table, len(tp.sides))
	for i, s := range tp.sides {
		out[i] = s.table
	}
	return out
}

// RowSide is Row with the changes of tp's side tables for source row src:
// per side table, an insert of the row the handler emitted (the writer
// replaces the rows its owner owns with it) or, when it emitted none, a
// delete of the rows src's key owns.
func (tp *TablePlan) RowSide(src []any) ([]any, []cdc.Change, error) {
	if len(tp.sides) == 0 {
		out, err := tp.Row(src)
		return out, nil, err
	}
	sides := make([][]any, len(tp.sides))
	out, err := tp.rowSide(src, true, sides)
	if err != nil {
		return nil, nil, err
	}
	ch, err := tp.sideChanges(tp.Source.KeyOf(src), sides)
	if err != nil {
		return nil, nil, err
	}
	return out, ch, nil
}

// sideChanges turns the handlers' rows for the source row of key into
// changes, checking that each row belongs to it.
func (tp *TablePlan) sideChanges(key []any, sides [][]any) ([]cdc.Change, error) {
	ch := make([]cdc.Change, 0, len(sides))
	for i, s := range tp.sides {
		row := sides[i]
		if row == nil {
			ch = append(ch, tp.sideDelete(i, key))
			continue
		}
		for j, k := range s.table.Key {
			if !sameValue(row[k], key[j]) {
				return nil, &HandlerError{Table: tp.Source.Name, Field: s.field, Handler: s.handler,
					Err: fmt.Errorf("its row of %s has %s %v, which is not the key %v of the row it handles", s.table.Name, s.table.Columns[k].Name, row[k], key[j])}
			}
		}
		for j, v := range row {
			if c := &s.table.Columns[j]; v == nil && !c.Nullable {
				return nil, &HandlerError{Table: tp.Source.Name, Field: s.field, Handler: s.handler,
					Err: fmt.Errorf("its row of %s has NULL for %s, which is NOT NULL", s.table.Name, c.Name)}
			}
		}
		ch = append(ch, cdc.Change{Op: cdc.OpInsert, Table: s.table, After: row})
	}
	return ch, nil
}

// sideDelete deletes the rows of side table i that key (a source key of
// tp) owns.
func (tp *TablePlan) sideDelete(i int, key []any) cdc.Change {
	t := tp.sides[i].table
	before := make([]any, len(t.Columns))
	for j, k := range t.Key {
		before[k] = key[j]
	}
	return cdc.Change{Op: cdc.OpDelete, Table: t, Before: before}
}

// MapChangeSide is MapChange with the changes of tp's side tables, to be
// applied in the same transaction, after d: for an update or a delete, the
// deletes of the rows the before image's key owns; for an image after,
// RowSide's changes. A change that fails has none.
func (tp *TablePlan) MapChangeSide(c cdc.Change) (d cdc.Change, side []cdc.Change, f *cdc.Failure, err error) {
	if len(tp.sides) == 0 {
		d, f, err = tp.MapChange(c)
		return d, nil, f, err
	}
	sides := make([][]any, len(tp.sides))
	d, terr := tp.change(c, sides)
	if terr == nil && c.After != nil {
		side, terr = tp.sideChanges(tp.Source.KeyOf(c.After), sides)
	}
	if terr != nil {
		d, f, err = tp.failed(c, d, terr)
		return d, nil, f, err
	}
	if c.Before != nil && (c.Op == cdc.OpUpdate || c.Op == cdc.OpDelete) {
		side = append(tp.SideDeletes(tp.Source.KeyOf(c.Before)), side...)
	}
	for i := range side {
		side[i].Pos, side[i].CommitTime = c.Pos, c.CommitTime
	}
	return d, side, nil, nil
}

// SideDeletes returns the deletes of the side rows that the source row of
// key owns (a row gone from the source).
func (tp *TablePlan) SideDeletes(key []any) []cdc.Change {
	out := make([]cdc.Change, 0, len(tp.sides))
	for i := range tp.sides {
		out = append(out, tp.sideDelete(i, key))
	}
	return out
}

// DestSideDeletes returns the deletes of the side rows that the destination
// row d deletes owns, for a delete of tp.Dest that no source change maps to
// (a source foreign key action's): the source key is read from the
// destination row, where it must be copied as it is.
func (tp *TablePlan) DestSideDeletes(d cdc.Change) ([]cdc.Change, error) {
	if len(tp.sides) == 0 || d.Op != cdc.OpDelete || d.Before == nil {
		return nil, nil
	}
	if err := tp.SideOwnersOnDest(); err != nil {
		return nil, err
	}
	out := make([]cdc.Change, 0, len(tp.sides))
	for i, s := range tp.sides {
		key := make([]any, len(s.destKey))
		for j, k := range s.destKey {
			key[j] = d.Before[k]
		}
		c := tp.sideDelete(i, key)
		c.Pos, c.CommitTime = d.Pos, d.CommitTime
		out = append(out, c)
	}
	return out, nil
}

// SideOwnersOnDest returns an error when tp has side tables and its
// destination rows do not hold its source key as it is: a row deleted on
// the destination alone (by a foreign key action) could not tell which side
// rows it owns.
func (tp *TablePlan) SideOwnersOnDest() error {
	for _, s := range tp.sides {
		if s.destKey == nil {
			return fmt.Errorf("rows of %s own rows of %s (handler %s on %s), which a row deleted by a foreign key action could not find: the key (%s) is not copied to %s as it is; copy it unchanged, or ignore %s in the map",
				tp.Source.Name, s.table.Name, s.handler, s.ref, strings.Join(tp.Source.KeyNames(), ","), tp.Dest.Name, tp.Source.Name)
		}
	}
	return nil
}

// SideHolding returns the side table of tp that holds the handled fields
// as they are (SideSpec.Holds) with its columns holding them, and the
// destination columns of tp.Dest holding the side table's owner key: the
// rows of tp whose fields hold some values are found on the destination by
// the side rows holding them. ok is false when no side table holds them all
// or tp's destination rows do not hold the owner key.
func (tp *TablePlan) SideHolding(fields []string) (side *cdc.Table, cols, owner []int, ok bool) {
	for _, s := range tp.sides {
		if s.destKey == nil || len(s.holds) == 0 {
			continue
		}
		cols = cols[:0]
		for _, f := range fields {
			i, held := s.holds[strings.ToLower(f)]
			if !held {
				break
			}
			cols = append(cols, i)
		}
		if len(cols) == len(fields) {
			return s.table, cols, append([]int(nil), s.destKey...), true
		}
	}
	return nil, nil, nil, false
}

// SideReadsAny returns an error naming the side table when a side handler
// of tp computes its rows from one of fields (of the handled record): a
// foreign key action that changes them changes rows whose side rows the
// stream cannot compute again.
func (tp *TablePlan) SideReadsAny(fields []string) error {
	for _, s := range tp.sides {
		for _, r := range s.reads {
			for _, f := range fields {
				if strings.EqualFold(r, f) {
					return fmt.Errorf("handler %s on %s writes rows of %s computed from %s, which the key's action changes where the stream sees the change on the destination only; drop the action, or ignore the field or the handler in the map",
						s.handler, s.ref, s.table.Name, f)
				}
			}
		}
	}
	return nil
}

// failed is MapChange's answer for change c that failed with terr.
func (tp *TablePlan) failed(c, d cdc.Change, terr error) (cdc.Change, *cdc.Failure, error) {
	row := c.After
	if row == nil {
		row = c.Before
	}
	failure, err := tp.Failure(row, terr, c.Pos)
	if err != nil {
		return d, nil, err
	}
	return d, &failure, nil
}
