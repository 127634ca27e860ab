package transform

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shiplog/shiplog/cdc"
)

// A plan may route its source rows one by one: a Router, given to a
// compiled TablePlan (WithRoute), says for each source row whether the plan
// carries it as it maps it, leaves it out, or turns it into one column of a
// row of another destination table (Magento's customer value rows of
// attributes that Magento 2 keeps as columns of the entity table). Copy,
// stream and verify ask the same Router, so they agree on every row:
//
//   - Carry: the row is copied, streamed and compared as the plan maps it.
//   - Skip: the row exists nowhere on the destination (an insert routed
//     to Skip deletes its mapping: it may be a change log's upsert of a
//     row carried before).
//   - SetColumn: the row is column Col of the row of Table whose key is
//     Key. Written (insert, update), the column gets Value; gone (delete,
//     or an update that routes the row elsewhere), it gets Value as the
//     Router gives it for a row gone (its default, say). The row of Table
//     must exist (another plan writes it, with the column among those it
//     keeps: WithKept); a set of a row it does not hold changes nothing.
//   - Upsert: the row, as the plan maps it, is a row of another
//     destination table, Table, keyed there by Table.Key (a unique key of
//     that table): Project turns the plan's destination row into Table's.
//     Written, the row is upserted there by that key (in the copy's chunk
//     transaction, as a side row); gone, it is deleted there by that key
//     (so a source whose deletes carry only the key must carry the columns
//     the key is mapped from: WithRoute's reads). Magento's multiselect
//     product values that the reference moves from the _text to the
//     _varchar value table.
//
// An update whose before and after images route differently is the delete
// of the before image followed by the insert of the after image.

// RouteKind is what a plan does with one source row.
type RouteKind uint8

const (
	// Carry: the plan maps the row as it does without a Router.
	Carry RouteKind = iota
	// Skip: the row is left out of the destination.
	Skip
	// SetColumn: the row is one column of another table's row.
	SetColumn
	// Upsert: the row is a row of another table, by that table's key.
	Upsert
)

func (k RouteKind) String() string {
	switch k {
	case Carry:
		return "carry"
	case Skip:
		return "skip"
	case SetColumn:
		return "set column"
	case Upsert:
		return "upsert into another table"
	}
	return "unknown"
}

// Route is where one source row goes.
type Route struct {
	Kind RouteKind
	// SetColumn only: the destination table (the *cdc.Table of the plan
	// that writes it, so that a sink orders the set after that plan's
	// writes of the row), the column set, the row's key values in
	// Table.Key's order, and the column's value (cdc's canonical forms;
	// cdc.Default for the column's default).
	Table *cdc.Table
	Col   int
	Key   []any
	Value any
	// AlsoCarry (SetColumn only): the row is also carried as the plan maps
	// it (Magento's SHA-512 customer password hash: the column gets the
	// hash, and the whole value stays in its value table).
	AlsoCarry bool
	// Create asks for the row to be created when Table does not hold it
	// (cdc.Change.Create): for a source whose changes of two tables may come
	// out of order (a change log read in rounds), where the row's own insert
	// may follow the set.
	Create bool
	// Project (Upsert only) turns a destination row of the plan (its
	// Dest's columns, as Row maps it; a gone row's columns the source did
	// not carry are nil) into a row of Table (Table's columns). Table.Key
	// is the key the row is upserted and deleted by.
	Project func(dst []any) []any
}

// Router decides the route of a source row image of its plan's table. gone
// is true for an image that leaves the source (a delete's, or the before
// image of an update routed elsewhere): a SetColumn route then gives the
// value the column goes back to. Its error stops what asked (nothing is
// written for the row); a Router is called from several goroutines at once.
type Router func(row []any, gone bool) (Route, error)

// WithRoute returns a copy of tp whose rows go where r routes them. reads
// are the source columns (indexes into Source.Columns) r reads from an image
// of a row gone: a source whose deletes carry only the key must carry them
// too (see RouteReads).
func (tp *TablePlan) WithRoute(r Router, reads ...int) *TablePlan {
	c := *tp
	c.route = r
	c.routeReads = slices.Clone(reads)
	return &c
}

// RouteReads are the source columns besides the key that tp's Router reads
// from the image of a row gone (nil without a Router).
func (tp *TablePlan) RouteReads() []int {
	var out []int
	for _, i := range tp.routeReads {
		if !slices.Contains(tp.Source.Key, i) {
			out = append(out, i)
		}
	}
	return out
}

// Routed reports whether tp has a Router.
func (tp *TablePlan) Routed() bool { return tp.route != nil }

// RouteOf is the route of source row src (Carry without a Router).
func (tp *TablePlan) RouteOf(src []any, gone bool) (Route, error) {
	if tp.route == nil {
		return Route{Kind: Carry}, nil
	}
	r, err := tp.route(src, gone)
	if err != nil {
		return r, fmt.Errorf("table %s: routing row %v: %w", tp.Source.Name, tp.Source.KeyOf(src), err)
	}
	if r.Kind == SetColumn {
		if r.Table == nil || r.Col < 0 || r.Col >= len(r.Table.Columns) || len(r.Key) != len(r.Table.Key) || slices.Contains(r.Table.Key, r.Col) {
			return r, fmt.Errorf("table %s: row %v is routed to a column that is not a non-key column of its table (a Router's bug)", tp.Source.Name, tp.Source.KeyOf(src))
		}
	}
	if r.Kind == Upsert && (r.Table == nil || r.Project == nil || len(r.Table.Key) == 0) {
		return r, fmt.Errorf("table %s: row %v is routed to another table without that table, its key or a projection (a Router's bug)", tp.Source.Name, tp.Source.KeyOf(src))
	}
	return r, nil
}

// Moved maps source row src, routed r (Upsert), to its row of r.Table,
// for a copy: nil and the plan's error as Row's when it cannot be mapped.
func (tp *TablePlan) Moved(src []any, r Route) ([]any, error) {
	out, err := tp.Row(src)
	if err != nil {
		return nil, err
	}
	return r.Project(out), nil
}

// WithOwnRows returns a copy of tp whose rows of Dest are those that SQL
// condition where selects and own reports true for (by Dest's key): the
// other rows are written there by another plan's route (Upsert), and the
// copy's emptying of Dest, the volume check and verify's search for extra
// rows leave them alone.
func (tp *TablePlan) WithOwnRows(where string, own func(destKey []any) bool) *TablePlan {
	c := *tp
	c.ownWhere, c.own = where, own
	return &c
}

// OwnRows is the SQL condition selecting the plan's rows of Dest ("" for
// all) and whether a row of Dest of key destKey is the plan's.
func (tp *TablePlan) OwnRows() (where string, own func(destKey []any) bool) {
	if tp.own == nil {
		return "", func([]any) bool { return true }
	}
	return tp.ownWhere, tp.own
}

// WithAlsoVerify returns a copy of tp that verify runs with plans: the
// rows tp routes into another table (Upsert), as a plan of their own
// (AsRowsOf) that compares them there.
func (tp *TablePlan) WithAlsoVerify(plans ...*TablePlan) *TablePlan {
	c := *tp
	c.alsoVerify = slices.Clone(plans)
	return &c
}

// AlsoVerify are the plans verify runs with tp.
func (tp *TablePlan) AlsoVerify() []*TablePlan { return tp.alsoVerify }

// AsRowsOf returns a copy of tp (without its Router) whose destination is
// dest: a table of dest's name with tp.Dest's columns, by position, and its
// own key — for verify to compare the rows tp routes into dest's table.
func (tp *TablePlan) AsRowsOf(dest *cdc.Table) (*TablePlan, error) {
	if len(dest.Columns) != len(tp.Dest.Columns) || len(dest.Key) == 0 {
		return nil, fmt.Errorf("table %s: %s is not a destination shaped as %s", tp.Source.Name, dest.Name, tp.Dest.Name)
	}
	for i := range dest.Columns {
		if !strings.EqualFold(dest.Columns[i].Name, tp.Dest.Columns[i].Name) {
			return nil, fmt.Errorf("table %s: column %d of %s is %s, not %s", tp.Source.Name, i, dest.Name, dest.Columns[i].Name, tp.Dest.Columns[i].Name)
		}
	}
	c := *tp
	c.Dest = dest
	c.route, c.routeReads, c.alsoVerify = nil, nil, nil
	return &c, nil
}

// WithKept returns a copy of tp that also writes cols, columns of its
// destination table the plan does not fill: rows it inserts give them their
// defaults, and its updates leave them as they are (cdc.Column's
// KeepExisting), for other plans' rows routed into them (SetColumn). A
// column the plan has already is an error.
func (tp *TablePlan) WithKept(cols []cdc.Column) (*TablePlan, error) {
	c := *tp
	d := *tp.Dest
	d.Columns = slices.Clone(tp.Dest.Columns)
	c.proj = slices.Clone(tp.proj)
	c.keep = slices.Clone(tp.keep)
	if c.keep == nil {
		c.keep = make([]bool, len(c.proj))
	}
	for _, col := range cols {
		if slices.ContainsFunc(d.Columns, func(x cdc.Column) bool { return strings.EqualFold(x.Name, col.Name) }) {
			return nil, fmt.Errorf("table %s: column %s is filled by the plan already", d.Name, col.Name)
		}
		col.KeepExisting = true
		d.Columns = append(d.Columns, col)
		c.proj = append(c.proj, -1)
		c.keep = append(c.keep, true)
	}
	c.Dest = &d
	return &c, nil
}

// MapRouted maps source change c through tp and its Router: the
// destination changes it stands for, in order (none for a skipped row; an
// OpSet for a row routed into a column; the change and its side rows, as
// MapChangeSide, for a carried one). A carried row a handler cannot
// transform comes back as f; a Router's error is returned.
func (tp *TablePlan) MapRouted(c cdc.Change) (out []cdc.Change, f *cdc.Failure, err error) {
	carry := func(c cdc.Change) error {
		d, side, ff, err := tp.MapChangeSide(c)
		if err != nil || ff != nil {
			f = ff
			return err
		}
		out = append(out, d)
		out = append(out, side...)
		return nil
	}
	if tp.route == nil {
		err = carry(c)
		return out, f, err
	}
	var rb, ra Route
	if c.Before != nil {
		if rb, err = tp.RouteOf(c.Before, c.Op == cdc.OpDelete); err != nil {
			return nil, nil, err
		}
	}
	if c.After != nil {
		if ra, err = tp.RouteOf(c.After, false); err != nil {
			return nil, nil, err
		}
	}
	set := func(r Route) {
		row := make([]any, len(r.Table.Columns))
		for i, k := range r.Table.Key {
			row[k] = r.Key[i]
		}
		row[r.Col] = r.Value
		out = append(out, cdc.Change{Op: cdc.OpSet, Table: r.Table, After: row, Set: []int{r.Col}, Create: r.Create, CommitTime: c.CommitTime, Pos: c.Pos})
	}
	// move writes change c of a row routed r (Upsert) into r.Table.
	move := func(c cdc.Change, r Route) error {
		d, side, ff, err := tp.MapChangeSide(c)
		if err != nil || ff != nil {
			f = ff
			return err
		}
		m := cdc.Change{Op: d.Op, Table: r.Table, CommitTime: c.CommitTime, Pos: c.Pos}
		if c.Before != nil {
			// The whole before image (a delete maps its key only): the
			// row is found in r.Table by columns the plan's key is not.
			b, err := tp.row(c.Before, false)
			if err != nil {
				return fmt.Errorf("table %s: row %v gone from %s cannot be mapped to its key there: %w", tp.Source.Name, tp.Source.KeyOf(c.Before), r.Table.Name, err)
			}
			m.Before = r.Project(b)
		}
		if d.After != nil {
			m.After = r.Project(d.After)
		}
		out = append(out, m)
		out = append(out, side...)
		return nil
	}
	switch {
	case c.Before == nil || c.After == nil:
		r := ra
		if c.After == nil {
			r = rb
		}
		switch r.Kind {
		case Carry:
			err = carry(c)
		case Skip:
			// An insert without a before image may be an upsert of a row
			// a change log read as it is now (deltalog.Reader): its
			// earlier version may have been carried, so its mapping is
			// deleted where it may be (a delete of a row not there is
			// none).
			if c.Before == nil && !tp.FullRow {
				err = carry(cdc.Change{Op: cdc.OpDelete, Table: c.Table, Before: c.After, CommitTime: c.CommitTime, Pos: c.Pos})
			}
		case SetColumn:
			set(r)
			if r.AlsoCarry {
				err = carry(c)
			}
		case Upsert:
			// As Skip: the row's earlier version may have been carried.
			if c.Before == nil && !tp.FullRow {
				if err = carry(cdc.Change{Op: cdc.OpDelete, Table: c.Table, Before: c.After, CommitTime: c.CommitTime, Pos: c.Pos}); err != nil || f != nil {
					return nil, f, err
				}
			}
			err = move(c, r)
		}
		return out, f, err
	case rb.Kind == Carry && ra.Kind == Carry:
		err = carry(c)
		return out, f, err
	case rb.Kind == SetColumn && ra.Kind == SetColumn && rb.Table == ra.Table && rb.Col == ra.Col && sameKey(rb.Key, ra.Key) && rb.AlsoCarry == ra.AlsoCarry:
		set(ra)
		if ra.AlsoCarry {
			err = carry(c)
		}
		return out, f, err
	case rb.Kind == Upsert && ra.Kind == Upsert && rb.Table == ra.Table:
		err = move(c, ra)
		return out, f, err
	}
	// Routed differently: the before image leaves, the after image comes.
	if rb.Kind == SetColumn || rb.Kind == Carry {
		if rb, err = tp.RouteOf(c.Before, true); err != nil {
			return nil, nil, err
		}
	}
	if rb.Kind == SetColumn {
		set(rb)
	}
	if rb.Kind == Upsert {
		if err := move(cdc.Change{Op: cdc.OpDelete, Table: c.Table, Before: c.Before, CommitTime: c.CommitTime, Pos: c.Pos}, rb); err != nil || f != nil {
			return nil, f, err
		}
	}
	if rb.Kind == Carry || rb.Kind == SetColumn && rb.AlsoCarry {
		if err := carry(cdc.Change{Op: cdc.OpDelete, Table: c.Table, Before: c.Before, CommitTime: c.CommitTime, Pos: c.Pos}); err != nil || f != nil {
			return nil, f, err
		}
	}
	if ra.Kind == Carry || ra.Kind == SetColumn && ra.AlsoCarry {
		if err := carry(cdc.Change{Op: cdc.OpInsert, Table: c.Table, After: c.After, CommitTime: c.CommitTime, Pos: c.Pos}); err != nil || f != nil {
			return nil, f, err
		}
	}
	if ra.Kind == Upsert {
		if err := move(cdc.Change{Op: cdc.OpInsert, Table: c.Table, After: c.After, CommitTime: c.CommitTime, Pos: c.Pos}, ra); err != nil || f != nil {
			return nil, f, err
		}
	}
	if ra.Kind == SetColumn {
		set(ra)
	}
	return out, nil, nil
}

// sameKey compares two key value lists in canonical forms.
func sameKey(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if fmt.Sprint(a[i]) != fmt.Sprint(b[i]) {
			return false
		}
	}
	return true
}
