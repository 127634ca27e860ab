package cascade

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/transform"
)

// maxDepth bounds the levels a cascade may pass (InnoDB stops at 15).
const maxDepth = 64

// Refresher reads the current source rows of destination rows of a copied
// table, mapped to the destination: a nil entry for a row the source no
// longer has. It is how a change-log delta, which reads the source's state
// instead of its history, learns what a cascade did to each child.
type Refresher func(ctx context.Context, tp *cdc.Table, rows [][]any) ([][]any, error)

// Finder reads the current source rows of copied table t (a destination
// table) whose columns cols (destination column indexes) hold one of vals,
// mapped to the destination. With a Refresher, it finds the children whose
// key a parent's ON UPDATE CASCADE moved: the destination has them under
// their old key only, which the source no longer has.
type Finder func(ctx context.Context, t *cdc.Table, cols []int, vals [][]any) ([][]any, error)

// Options of Expand.
type Options struct {
	// Refresh, when set, decides what happened to each child row by reading
	// the source (see Refresher) instead of applying the key's action.
	Refresh Refresher
	// Find, with Refresh, reads the source's children of a parent's values
	// when the key's columns are part of the child's key (see Finder).
	Find Finder
	// Keep, when set, limits the rows a marker changes to those it accepts
	// (an applier that owns part of a table's keys).
	Keep func(t *cdc.Table, row []any) bool
}

// Expand returns changes (mapped to the destination) with each OpCascade
// marker replaced by the row changes it stands for, in place: the rows of the
// marker's child table that match the parent's old values, as db held them
// before the batch with the batch's earlier changes laid over them, deleted
// or updated as the key's action did on the source, and the same for the
// children of those rows in turn. db must hold the state before changes
// (nothing else writes the tables meanwhile). It blocks for one query per
// child table and level of a run of markers; without markers it returns
// changes as they are.
func (s *Set) Expand(ctx context.Context, db *sql.DB, changes []cdc.Change, o Options) ([]cdc.Change, error) {
	first := -1
	for i := range changes {
		if changes[i].Op == cdc.OpCascade {
			first = i
			break
		}
	}
	if first < 0 {
		return changes, nil
	}
	x := &expander{set: s, db: db, o: o, overlay: map[*cdc.Table]map[string]*state{}, index: map[indexKey]*index{},
		puts: map[*cdc.Table][]string{}, weights: map[string]map[string]string{}}
	defer x.close()
	out := make([]cdc.Change, 0, len(changes)+64)
	for _, c := range changes[:first] {
		x.note(c)
	}
	out = append(out, changes[:first]...)
	var group []cdc.Change
	touched := map[*cdc.Table]bool{}
	var err error
	for _, c := range changes[first:] {
		if c.Op == cdc.OpCascade {
			group = append(group, c)
			for t := range s.closure[c.Table] {
				touched[t] = true
			}
			continue
		}
		// Markers wait for each other (one query for many parents) until a
		// change touches a table they may reach.
		if len(group) > 0 && touched[c.Table] {
			if out, err = x.flush(ctx, out, group); err != nil {
				return nil, err
			}
			group = group[:0]
			clear(touched)
		}
		x.note(c)
		out = append(out, c)
	}
	if len(group) > 0 {
		if out, err = x.flush(ctx, out, group); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type expander struct {
	set     *Set
	db      *sql.DB
	o       Options
	conn    *sql.Conn
	release func()
	// overlay: the batch's own state of rows of cascade children, by key.
	overlay map[*cdc.Table]map[string]*state
	// index: rows of the overlay by a key's column values (entries may be
	// stale: checked against the overlay when used).
	index map[indexKey]*index
	// puts: the keys of t's rows the overlay took, in order (an index
	// takes those it has not seen when used).
	puts map[*cdc.Table][]string
	// weights: by collation, the server's weight of each string value
	// (its bytes) as the collation compares it.
	weights map[string]map[string]string
	// err: a value was matched before it was weighed.
	err error
}

type index struct {
	rows map[string][]string
	// upto: the puts of the table the index holds.
	upto int
}

type state struct {
	row   []any
	alive bool
}

type indexKey struct {
	t    *cdc.Table
	cols string
}

func (x *expander) close() {
	if x.release != nil {
		x.release()
	}
}

func colsKey(cols []int) string { return fmt.Sprint(cols) }

func keyOf(t *cdc.Table, row []any) string {
	return string(rowio.AppendKey(nil, t.KeyOf(row)))
}

// note lays change c over the destination's state.
func (x *expander) note(c cdc.Change) {
	if _, ok := x.set.plans[c.Table]; !ok && x.set.sides[c.Table] == nil {
		return
	}
	ov := x.overlay[c.Table]
	if ov == nil {
		ov = map[string]*state{}
		x.overlay[c.Table] = ov
	}
	switch c.Op {
	case cdc.OpInsert, cdc.OpRead:
		x.put(c.Table, ov, c.After)
	case cdc.OpUpdate:
		bk := keyOf(c.Table, c.Before)
		if bk != keyOf(c.Table, c.After) {
			ov[bk] = &state{}
		}
		x.put(c.Table, ov, c.After)
	case cdc.OpDelete:
		ov[keyOf(c.Table, c.Before)] = &state{}
	}
}

func (x *expander) put(t *cdc.Table, ov map[string]*state, row []any) {
	k := keyOf(t, row)
	ov[k] = &state{row: row, alive: true}
	x.puts[t] = append(x.puts[t], k)
}

func colsOf(key string) []int {
	var out []int
	for _, f := range strings.Fields(strings.Trim(key, "[]")) {
		var n int
		fmt.Sscan(f, &n)
		out = append(out, n)
	}
	return out
}

// matchKey encodes the values of cols of row as the server compares them:
// strings of collated columns by their weight in the column's collation
// (see weigh, which must have seen them).
func (x *expander) matchKey(t *cdc.Table, cols []int, row []any) string {
	vals := make([]any, len(cols))
	for i, k := range cols {
		vals[i] = row[k]
	}
	return x.matchVals(t, cols, vals)
}

// matchVals is matchKey of the values vals of columns cols.
func (x *expander) matchVals(t *cdc.Table, cols []int, vals []any) string {
	var out []any
	for i, k := range cols {
		b, ok := collated(&t.Columns[k], vals[i])
		if !ok {
			continue
		}
		if out == nil {
			out = append([]any(nil), vals...)
		}
		w, ok := x.weights[x.set.collationName(t, k)][string(b)]
		if !ok && x.err == nil {
			x.err = fmt.Errorf("table %s: column %s: value matched before it was weighed", t.Name, t.Columns[k].Name)
		}
		out[i] = w
	}
	if out == nil {
		out = vals
	}
	return string(rowio.AppendKey(nil, out))
}

// collated returns the bytes of v when column c compares them by a
// collation (a non-binary string).
func collated(c *cdc.Column, v any) ([]byte, bool) {
	if c.Kind() != cdc.KindBytes || c.Charset == "" || c.Charset == "binary" {
		return nil, false
	}
	switch x := v.(type) {
	case string:
		return []byte(x), true
	case []byte:
		return x, true
	}
	return nil, false
}

// weigh asks the server for the weights of the collated values of cols in
// rows (each in t's column order, or in the order of cols when inCols) that
// it has not weighed yet. Values compare equal in a collation exactly when their
// weights (after the trailing spaces a PAD SPACE collation ignores) are
// equal; a fold in Go (lower case, trimmed) would miss accents, expansions
// and the collation's own rules, and leave rows the server's action
// changed.
func (x *expander) weigh(ctx context.Context, t *cdc.Table, cols []int, rows [][]any, inCols bool) error {
	type pending struct {
		c    collation
		col  *cdc.Column
		vals [][]byte
		seen map[string]bool
	}
	var todo map[string]*pending
	for i, k := range cols {
		col := &t.Columns[k]
		if _, ok := collated(col, []byte(nil)); !ok {
			continue
		}
		c, err := x.set.collation(ctx, x.db, t, k)
		if err != nil {
			return err
		}
		have := x.weights[c.name]
		for _, r := range rows {
			var v any
			if inCols {
				v = r[i]
			} else {
				v = r[k]
			}
			b, ok := collated(col, v)
			if !ok {
				continue
			}
			if _, ok := have[string(b)]; ok {
				continue
			}
			if todo == nil {
				todo = map[string]*pending{}
			}
			p := todo[c.name]
			if p == nil {
				p = &pending{c: c, col: col, seen: map[string]bool{}}
				todo[c.name] = p
			}
			if !p.seen[string(b)] {
				p.seen[string(b)] = true
				p.vals = append(p.vals, b)
			}
		}
	}
	for name, p := range todo {
		if x.weights[name] == nil {
			x.weights[name] = map[string]string{}
		}
		const perQuery = 200
		for start := 0; start < len(p.vals); start += perQuery {
			part := p.vals[start:min(start+perQuery, len(p.vals))]
			q := []byte("SELECT ")
			for i, v := range part {
				if i > 0 {
					q = append(q, ',')
				}
				q = append(q, "WEIGHT_STRING("...)
				if p.c.pad {
					q = append(q, "TRIM(TRAILING ' ' FROM ("...)
				}
				var err error
				if q, err = rowio.AppendLiteral(q, v, p.col); err != nil {
					return err
				}
				q = append(q, " COLLATE "...)
				q = append(q, rowio.QuoteIdent(name)...)
				if p.c.pad {
					q = append(q, "))"...)
				}
				q = append(q, ')')
			}
			got := make([]sql.RawBytes, len(part))
			dest := make([]any, len(part))
			for i := range got {
				dest[i] = &got[i]
			}
			rows, err := x.db.QueryContext(ctx, string(q))
			if err != nil {
				return fmt.Errorf("destination: weights of %s values of %s: %w", name, t.Name, err)
			}
			if !rows.Next() {
				rows.Close()
				return fmt.Errorf("destination: weights of %s values of %s: no row: %w", name, t.Name, rows.Err())
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return fmt.Errorf("destination: weights of %s values of %s: %w", name, t.Name, err)
			}
			for i, v := range part {
				x.weights[name][string(v)] = string(got[i])
			}
			if err := rows.Close(); err != nil {
				return fmt.Errorf("destination: weights of %s values of %s: %w", name, t.Name, err)
			}
		}
	}
	return nil
}

func sameValues(a, b []any, cols []int) bool {
	for _, k := range cols {
		if !sameValue(a[k], b[k]) {
			return false
		}
	}
	return true
}

func sameValue(a, b any) bool {
	return string(rowio.AppendKey(nil, []any{a})) == string(rowio.AppendKey(nil, []any{b}))
}

// allCols are the indexes of a row of n columns.
func allCols(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// flush replaces a run of markers by their row changes, level by level.
func (x *expander) flush(ctx context.Context, out []cdc.Change, level []cdc.Change) ([]cdc.Change, error) {
	for depth := 0; len(level) > 0; depth++ {
		if depth >= maxDepth {
			return nil, fmt.Errorf("foreign key %s: cascades nest deeper than %d levels (a cycle?)", level[0].Cascade.Constraint, maxDepth)
		}
		found, err := x.query(ctx, level)
		if err != nil {
			return nil, err
		}
		fresh, err := x.find(ctx, level)
		if err != nil {
			return nil, err
		}
		// done: rows of this level read from the source by find, by table
		// and key (a row two markers find is written once).
		done := map[indexKey]bool{}
		var next []cdc.Change
		for _, m := range level {
			t := m.Table
			cols := m.Cascade.Cols
			if err := x.weigh(ctx, t, cols, [][]any{m.Before}, true); err != nil {
				return nil, err
			}
			idx, err := x.indexed(ctx, t, cols)
			if err != nil {
				return nil, err
			}
			want := x.matchVals(t, cols, m.Before)
			ov := x.overlay[t]
			if ov == nil {
				ov = map[string]*state{}
				x.overlay[t] = ov
			}
			var rows [][]any
			seen := map[string]bool{}
			for _, r := range found[indexKey{t, colsKey(cols)}][want] {
				k := keyOf(t, r)
				if _, ok := ov[k]; ok || seen[k] {
					continue // the batch's own state of the row decides
				}
				seen[k] = true
				rows = append(rows, r)
			}
			for _, k := range idx[want] {
				st := ov[k]
				if seen[k] || st == nil || !st.alive || x.matchKey(t, cols, st.row) != want {
					continue
				}
				seen[k] = true
				rows = append(rows, st.row)
			}
			if x.o.Keep != nil {
				kept := rows[:0]
				for _, r := range rows {
					if x.o.Keep(t, r) {
						kept = append(kept, r)
					}
				}
				rows = kept
			}
			if si := x.set.sides[t]; si != nil && x.o.Refresh != nil {
				// What the source did to the rows owning them is read
				// (the side rows go with them, or stay).
				for _, r := range rows {
					next = si.edge.refreshMarker(next, m, r, si.edge.parentDest, x.set)
				}
				continue
			}
			var now [][]any
			if x.o.Refresh != nil && len(rows) > 0 {
				if now, err = x.o.Refresh(ctx, t, rows); err != nil {
					return nil, err
				}
			}
			for i, r := range rows {
				if x.o.Refresh != nil && now[i] != nil && sameValues(r, now[i], allCols(len(r))) && len(r) == len(now[i]) {
					// The source holds it as the destination does: nothing
					// changed it, nor its children by it (an upsert of a
					// row the destination keys otherwise could duplicate it).
					continue
				}
				c := cdc.Change{Table: t, Before: r, CommitTime: m.CommitTime, Pos: m.Pos}
				switch {
				case x.o.Refresh != nil && now[i] == nil, x.o.Refresh == nil && m.Cascade.Delete:
					c.Op = cdc.OpDelete
				case x.o.Refresh != nil:
					c.Op, c.After = cdc.OpUpdate, now[i]
				default:
					c.Op = cdc.OpUpdate
					c.After = append([]any(nil), r...)
					for j, k := range cols {
						c.After[k] = m.After[j]
					}
				}
				x.note(c)
				out = append(out, c)
				if tp := x.set.plans[t]; tp != nil {
					side, err := tp.DestSideDeletes(c) // the rows of side tables it owns
					if err != nil {
						return nil, err
					}
					for _, sc := range side {
						x.note(sc)
					}
					out = append(out, side...)
				}
				next = x.children(next, c)
			}
			// Children the source holds under the parent's values that the
			// destination does not (their key moved with the parent's).
			for _, r := range fresh[indexKey{t, colsKey(cols)}][want] {
				k := keyOf(t, r)
				if seen[k] || done[indexKey{t, k}] || (x.o.Keep != nil && !x.o.Keep(t, r)) {
					continue
				}
				done[indexKey{t, k}] = true
				c := cdc.Change{Op: cdc.OpInsert, Table: t, After: r, CommitTime: m.CommitTime, Pos: m.Pos}
				x.note(c)
				out = append(out, c)
				next = x.children(next, c)
			}
		}
		if x.err != nil {
			return nil, x.err
		}
		level = next
	}
	return out, nil
}

// indexed is the overlay's index of t by cols, brought up to date with the
// rows the overlay took since its last use (the index of a key's values is
// built on first use).
func (x *expander) indexed(ctx context.Context, t *cdc.Table, cols []int) (map[string][]string, error) {
	ik := indexKey{t, colsKey(cols)}
	idx := x.index[ik]
	if idx == nil {
		idx = &index{rows: map[string][]string{}}
		x.index[ik] = idx
	}
	puts := x.puts[t]
	if idx.upto == len(puts) {
		return idx.rows, nil
	}
	ov := x.overlay[t]
	var rows [][]any
	for _, k := range puts[idx.upto:] {
		if st := ov[k]; st != nil && st.alive {
			rows = append(rows, st.row)
		}
	}
	if err := x.weigh(ctx, t, cols, rows, false); err != nil {
		return nil, err
	}
	for _, k := range puts[idx.upto:] {
		// A row put again later is indexed by its last values then, too
		// (stale entries are checked against the overlay when used).
		if st := ov[k]; st != nil && st.alive {
			v := x.matchKey(t, cols, st.row)
			idx.rows[v] = append(idx.rows[v], k)
		}
	}
	idx.upto = len(puts)
	return idx.rows, nil
}

// children appends the markers of a row change a cascade made.
func (x *expander) children(out []cdc.Change, c cdc.Change) []cdc.Change {
	for _, e := range x.set.byDest[c.Table] {
		if x.o.Refresh != nil {
			// What happened to the row's own children is read too: the
			// source's state may hide a delete and re-insert.
			if c.Before != nil {
				out = e.refreshMarker(out, c, c.Before, e.parentDest, x.set)
			}
			if c.After != nil && (c.Before == nil || !sameValues(c.Before, c.After, e.parentDest)) {
				out = e.refreshMarker(out, c, c.After, e.parentDest, x.set)
			}
			continue
		}
		if c.Op == cdc.OpDelete {
			out = e.marker(out, c, c.Before, nil, e.parentDest, x.set, false)
		} else {
			out = e.marker(out, c, c.Before, c.After, e.parentDest, x.set, false)
		}
	}
	return out
}

// find reads from the source (Options.Find), for the refresh markers of
// one level whose columns are part of their child's key, the child rows
// holding their values, by match key.
func (x *expander) find(ctx context.Context, level []cdc.Change) (map[indexKey]map[string][][]any, error) {
	if x.o.Refresh == nil || x.o.Find == nil {
		return nil, nil
	}
	var keyed []cdc.Change
	for _, m := range level {
		// (An owner's rows are found through its side rows, which the
		// destination holds: one the destination lacks is no child.)
		if inKey(m.Table, m.Cascade.Cols) && !x.set.owners[m.Cascade] {
			keyed = append(keyed, m)
		}
	}
	return x.rowsOf(ctx, keyed, x.o.Find, "source")
}

// inKey reports whether any of cols is a column of t's key.
func inKey(t *cdc.Table, cols []int) bool {
	for _, c := range cols {
		for _, k := range t.Key {
			if c == k {
				return true
			}
		}
	}
	return false
}

// query reads, for the markers of one level, the destination rows of each
// child table that match any of their values, by match key.
func (x *expander) query(ctx context.Context, level []cdc.Change) (map[indexKey]map[string][][]any, error) {
	if x.conn == nil {
		conn, release, err := rowio.RawConn(ctx, x.db)
		if err != nil {
			return nil, fmt.Errorf("destination: %w", err)
		}
		x.conn, x.release = conn, release
	}
	return x.rowsOf(ctx, level, func(ctx context.Context, t *cdc.Table, cols []int, vals [][]any) ([][]any, error) {
		return rowio.ReadRowsByKey(ctx, x.conn, t, cols, vals)
	}, "destination")
}

// rowsOf reads with find, for markers, the rows of each child table that
// match any of their values (one read per table and columns), by match key.
func (x *expander) rowsOf(ctx context.Context, markers []cdc.Change, find Finder, side string) (map[indexKey]map[string][][]any, error) {
	type group struct {
		t    *cdc.Table
		cols []int
		vals [][]any
		seen map[string]bool
	}
	var groups []*group
	byKey := map[indexKey]*group{}
	for _, m := range markers {
		ik := indexKey{m.Table, colsKey(m.Cascade.Cols)}
		g := byKey[ik]
		if g == nil {
			g = &group{t: m.Table, cols: m.Cascade.Cols, seen: map[string]bool{}}
			byKey[ik] = g
			groups = append(groups, g)
		}
		k := string(rowio.AppendKey(nil, m.Before))
		if !g.seen[k] {
			g.seen[k] = true
			g.vals = append(g.vals, m.Before)
		}
	}
	out := make(map[indexKey]map[string][][]any, len(groups))
	for _, g := range groups {
		rows, err := find(ctx, g.t, g.cols, g.vals)
		if err != nil {
			return nil, fmt.Errorf("%s: rows of %s changed by a foreign key action: %w", side, g.t.Name, err)
		}
		if err := x.weigh(ctx, g.t, g.cols, rows, false); err != nil {
			return nil, err
		}
		m := map[string][][]any{}
		for _, r := range rows {
			k := x.matchKey(g.t, g.cols, r)
			m[k] = append(m[k], r)
		}
		out[indexKey{g.t, colsKey(g.cols)}] = m
	}
	return out, nil
}

// Touched reads the rows of child tables that markers (from a Generator)
// may have changed: the rows of each marker's child table holding the
// parent's old or new values, on the source (source rows) and on the
// destination (destination rows). A verify of the rows a stretch of the
// stream changed adds them, since the binlog does not name them.
func (s *Set) Touched(ctx context.Context, src, dst *sql.DB, markers []cdc.Change) (map[*transform.TablePlan][2][][]any, error) {
	type want struct {
		vals [][]any
		seen map[string]bool
	}
	by := map[*cdc.Table]map[string]*want{}
	var order []*cdc.Table
	add := func(t *cdc.Table, cols []int, v []any) {
		if v == nil {
			return
		}
		for _, x := range v {
			if x == nil {
				return
			}
		}
		m := by[t]
		if m == nil {
			m = map[string]*want{}
			by[t] = m
			order = append(order, t)
		}
		ck := colsKey(cols)
		w := m[ck]
		if w == nil {
			w = &want{seen: map[string]bool{}}
			m[ck] = w
		}
		k := string(rowio.AppendKey(nil, v))
		if !w.seen[k] {
			w.seen[k] = true
			w.vals = append(w.vals, v)
		}
	}
	for _, m := range markers {
		if m.Op == cdc.OpCascade {
			add(m.Table, m.Cascade.Cols, m.Before)
			add(m.Table, m.Cascade.Cols, m.After)
		}
	}
	out := map[*transform.TablePlan][2][][]any{}
	if len(order) == 0 {
		return out, nil
	}
	read := func(db *sql.DB, t *cdc.Table, cols []int, vals [][]any) ([][]any, error) {
		conn, release, err := rowio.RawConn(ctx, db)
		if err != nil {
			return nil, err
		}
		defer release()
		return rowio.ReadRowsByKey(ctx, conn, t, cols, vals)
	}
	for _, t := range order {
		tp := s.plans[t]
		si := s.sides[t]
		if si != nil {
			tp = si.owner // the rows owning the side rows
		}
		pair := out[tp]
		for ck, w := range by[t] {
			cols := colsOf(ck)
			var srcCols []int
			var err error
			if si != nil {
				for _, c := range cols {
					srcCols = append(srcCols, si.src[c])
				}
			} else if srcCols, err = sourceCols(tp, cols); err != nil {
				return nil, err
			}
			rows, err := read(src, tp.Source, srcCols, w.vals)
			if err != nil {
				return nil, fmt.Errorf("source: %w", err)
			}
			pair[0] = append(pair[0], rows...)
			if rows, err = read(dst, t, cols, w.vals); err != nil {
				return nil, fmt.Errorf("destination: %w", err)
			}
			if si != nil && len(rows) > 0 {
				owners := make([][]any, len(rows))
				for i, r := range rows {
					owners[i] = t.KeyOf(r)
				}
				if rows, err = read(dst, tp.Dest, si.edge.onDelete.Cols, owners); err != nil {
					return nil, fmt.Errorf("destination: %w", err)
				}
			}
			pair[1] = append(pair[1], rows...)
		}
		out[tp] = pair
	}
	return out, nil
}

// collation is how a destination column compares strings.
type collation struct {
	name string
	// pad: trailing spaces are ignored (PAD SPACE).
	pad bool
}

// collation returns the collation of column k of destination table t, read
// from db on first use.
func (s *Set) collation(ctx context.Context, db *sql.DB, t *cdc.Table, k int) (collation, error) {
	s.collMu.Lock()
	defer s.collMu.Unlock()
	if c, ok := s.colls[t][k]; ok {
		return c, nil
	}
	rows, err := db.QueryContext(ctx, `SELECT COLUMN_NAME, COLLATION_NAME, CHARACTER_SET_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLLATION_NAME IS NOT NULL`, t.Schema, t.Name)
	if err != nil {
		return collation{}, fmt.Errorf("destination: collations of %s: %w", t.Name, err)
	}
	type col struct{ name, coll, cs string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.name, &c.coll, &c.cs); err != nil {
			rows.Close()
			return collation{}, fmt.Errorf("destination: collations of %s: %w", t.Name, err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return collation{}, fmt.Errorf("destination: collations of %s: %w", t.Name, err)
	}
	if s.colls == nil {
		s.colls = map[*cdc.Table]map[int]collation{}
	}
	if s.colls[t] == nil {
		s.colls[t] = map[int]collation{}
	}
	for _, c := range cols {
		i := t.ColumnIndex(c.name)
		if i < 0 {
			continue
		}
		var pad bool
		q := "SELECT CONVERT('a ' USING " + rowio.QuoteIdent(c.cs) + ") COLLATE " + rowio.QuoteIdent(c.coll) +
			" = CONVERT('a' USING " + rowio.QuoteIdent(c.cs) + ")"
		if err := db.QueryRowContext(ctx, q).Scan(&pad); err != nil {
			return collation{}, fmt.Errorf("destination: collation %s of %s.%s: %w", c.coll, t.Name, c.name, err)
		}
		s.colls[t][i] = collation{name: c.coll, pad: pad}
	}
	c, ok := s.colls[t][k]
	if !ok {
		return collation{}, fmt.Errorf("destination: table %s has no column %s with a collation: the schema changed: re-run data mode", t.Name, t.Columns[k].Name)
	}
	return c, nil
}

// collationName is the name of the collation of column k of t, read before
// by collation.
func (s *Set) collationName(t *cdc.Table, k int) string {
	s.collMu.Lock()
	defer s.collMu.Unlock()
	return s.colls[t][k].name
}

// sourceCols returns the source columns copied as they are into the
// destination columns cols of tp.
func sourceCols(tp *transform.TablePlan, cols []int) ([]int, error) {
	out := make([]int, len(cols))
	for i, d := range cols {
		out[i] = -1
		for j := range tp.Source.Columns {
			if tp.CopiedTo(j) == d {
				out[i] = j
			}
		}
		if out[i] < 0 {
			return nil, fmt.Errorf("table %s: column %s has no source column", tp.Dest.Name, tp.Dest.Columns[d].Name)
		}
	}
	return out, nil
}

// SourceFinder is the Finder of the copied tables of the set, reading src.
func (s *Set) SourceFinder(src *sql.DB) Finder {
	return func(ctx context.Context, t *cdc.Table, cols []int, vals [][]any) ([][]any, error) {
		tp := s.plans[t]
		if tp == nil {
			return nil, fmt.Errorf("table %s is not a child of a followed foreign key", t.Name)
		}
		srcCols, err := sourceCols(tp, cols)
		if err != nil {
			return nil, err
		}
		conn, release, err := rowio.RawConn(ctx, src)
		if err != nil {
			return nil, err
		}
		defer release()
		rows, err := rowio.ReadRowsByKey(ctx, conn, tp.Source, srcCols, vals)
		if err != nil {
			return nil, err
		}
		out := make([][]any, 0, len(rows))
		for _, r := range rows {
			d, err := tp.Row(r)
			if err != nil {
				return nil, fmt.Errorf("table %s: a row changed by a foreign key action: %w", tp.Source.Name, err)
			}
			out = append(out, d)
		}
		return out, nil
	}
}
