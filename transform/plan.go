// Package transform turns map rules into immutable per-table plans that every
// reader (snapshot, binlog, change-log tables) passes rows through on their way to
// a sink. Compile checks the rules against both schemas; its Problem list is the
// integrity check, so `check` and data mode can never disagree.
package transform

import (
	"errors"
	"fmt"
	"strings"

	"github.com/shiplog/shiplog/cdc"
)

// Severity of a Problem.
type Severity uint8

const (
	Warning Severity = iota + 1
	Error
)

func (s Severity) String() string {
	if s == Error {
		return "error"
	}
	return "warning"
}

// Problem is one finding of the integrity check.
type Problem struct {
	Severity Severity
	// Area is "source" or "destination".
	Area    string
	Table   string
	Columns []string
	Msg     string
	// Blocking errors stop every run, --auto included: going on would copy
	// a column the map says to transform untransformed, or clip values.
	Blocking bool
}

func (p Problem) String() string {
	return fmt.Sprintf("%s: %s", p.Severity, p.Msg)
}

// TablePlan is the compiled plan of one source table. It is immutable and safe for
// concurrent use.
type TablePlan struct {
	Source *cdc.Table
	// Dest is the destination table as written: only the columns the plan fills,
	// in the order of rows the plan produces, with Key indexing into them.
	Dest *cdc.Table
	// FullRow is set for tables without a key, matched by all columns.
	FullRow bool
	// proj[i] is the source column index that fills Dest.Columns[i], or -1 for
	// columns only handlers fill.
	proj []int
	// keep marks destination columns whose existing value is kept
	// (GetDestinationValue): new rows get the column default.
	keep []bool
	// srcFuncs run on a copy of the source row before the copy, dstFuncs on
	// the destination row after it (Magento's RecordTransformer order).
	srcFuncs, dstFuncs []boundFunc
	// keyOnlyBefore: the destination key is the source key as it is
	// (KeyIdentity), so Change maps only the key of a before image.
	keyOnlyBefore bool
	// fits check values against their destination columns (see fit).
	fits []fit
	// sides are the tables side handlers write (see SideSpec).
	sides []*sideOut
	// route, when set, routes each source row (see Router); routeReads are
	// the source columns it reads from a row gone.
	route      Router
	routeReads []int
	// ownWhere and own, when set, tell the plan's rows of Dest from rows
	// other plans' routes write there (see WithOwnRows).
	ownWhere string
	own      func(destKey []any) bool
	// alsoVerify are plans verify runs with this one (WithAlsoVerify).
	alsoVerify []*TablePlan
}

type boundFunc struct {
	fn      Func
	handler string
	field   string
	side    *sideCall // a side handler's (fn is nil)
}

// HandlerError is a row a handler could not transform.
type HandlerError struct {
	Table, Field, Handler string
	Err                   error
}

func (e *HandlerError) Error() string {
	return fmt.Sprintf("handler %s on %s.%s: %v", e.Handler, e.Table, e.Field, e.Err)
}

func (e *HandlerError) Unwrap() error { return e.Err }

// Row maps a source row image to a destination row image: source-area handlers
// on a copy of the row, the copy into destination columns, destination-area
// handlers, then the check of values against destination columns that may not
// hold them (text converted between character sets on the way). A handler's
// error, or a value its destination column cannot hold, is returned as
// *HandlerError (Handler FitHandler for the latter).
func (tp *TablePlan) Row(src []any) ([]any, error) {
	return tp.row(src, true)
}

// row is Row; check=false converts text but does not check values (before
// images: only their key is used, and a key too large for its column
// matches no destination row).
func (tp *TablePlan) row(src []any, check bool) ([]any, error) {
	return tp.rowSide(src, check, nil)
}

// rowSide is row; side handlers' rows go into sides (nil: discarded).
func (tp *TablePlan) rowSide(src []any, check bool, sides [][]any) ([]any, error) {
	if src == nil {
		return nil, nil
	}
	rec := src
	out := make([]any, len(tp.proj))
	if len(tp.srcFuncs) > 0 {
		rec = append(make([]any, 0, len(src)), src...)
		for _, f := range tp.srcFuncs {
			if err := f.call(rec, out, sides); err != nil {
				return nil, &HandlerError{Table: tp.Source.Name, Field: f.field, Handler: f.handler, Err: err}
			}
		}
	}
	for i, j := range tp.proj {
		if j >= 0 {
			out[i] = rec[j]
		}
	}
	for _, f := range tp.dstFuncs {
		if err := f.call(out, rec, sides); err != nil {
			return nil, &HandlerError{Table: tp.Dest.Name, Field: f.field, Handler: f.handler, Err: err}
		}
	}
	for k := range tp.fits {
		f := &tp.fits[k]
		v, err := f.apply(out[f.col], check)
		if err != nil {
			return nil, &HandlerError{Table: tp.Dest.Name, Field: tp.Dest.Columns[f.col].Name, Handler: FitHandler, Err: err}
		}
		out[f.col] = v
	}
	if tp.keep != nil {
		for i, k := range tp.keep {
			if k {
				out[i] = cdc.Default
			}
		}
	}
	return out, nil
}

// KeyRow maps the key columns of a source row to a destination row with only
// the key filled, copying them without handlers: what a delete needs when the
// rest of the row is unknown or a handler fails on it.
func (tp *TablePlan) KeyRow(src []any) []any {
	out := make([]any, len(tp.proj))
	for _, k := range tp.Dest.Key {
		if j := tp.proj[k]; j >= 0 {
			out[k] = src[j]
		}
	}
	for i := range tp.fits {
		if f := &tp.fits[i]; f.conv != nil && isKey(tp.Dest, f.col) {
			if v, err := f.apply(out[f.col], false); err == nil {
				out[f.col] = v
			}
		}
	}
	return out
}

func isKey(t *cdc.Table, col int) bool {
	for _, k := range t.Key {
		if k == col {
			return true
		}
	}
	return false
}

// Change maps a source change to its destination change. Sinks use only the
// key of a before image (to delete a row, or to see a key change): when the
// destination key is the source key as it is, only the key is mapped (no
// handler runs on the rest); otherwise the whole image is, and when a
// handler fails on the before image of a delete, the key is copied as it is.
func (tp *TablePlan) Change(c cdc.Change) (cdc.Change, error) {
	return tp.change(c, nil)
}

// change is Change; side handlers' rows of the after image go into sides.
func (tp *TablePlan) change(c cdc.Change, sides [][]any) (cdc.Change, error) {
	var before []any
	var err error
	if tp.keyOnlyBefore && c.Before != nil {
		before = tp.KeyRow(c.Before)
	} else if before, err = tp.row(c.Before, false); err != nil {
		if c.Op != cdc.OpDelete || tp.FullRow {
			return cdc.Change{}, err
		}
		before = tp.KeyRow(c.Before)
	}
	after, err := tp.rowSide(c.After, true, sides)
	if err != nil {
		return cdc.Change{}, err
	}
	return cdc.Change{Op: c.Op, Table: tp.Dest, Before: before, After: after, CommitTime: c.CommitTime, Pos: c.Pos}, nil
}

// Matches reports whether t (a table as the binlog describes it) has the columns
// the plan was compiled for, by name and order.
func (tp *TablePlan) Matches(t *cdc.Table) bool {
	if len(t.Columns) != len(tp.Source.Columns) {
		return false
	}
	for i, c := range t.Columns {
		if c.Name != "" && !strings.EqualFold(c.Name, tp.Source.Columns[i].Name) {
			return false
		}
	}
	return true
}

// Plan is the set of table plans, keyed by source table name.
type Plan struct {
	tables map[string]*TablePlan
	names  []string
}

// Table returns the plan of a source table, or nil when the table is not mapped.
func (p *Plan) Table(source string) *TablePlan { return p.tables[source] }

// Tables returns the table plans in source-name order.
func (p *Plan) Tables() []*TablePlan {
	out := make([]*TablePlan, len(p.names))
	for i, n := range p.names {
		out[i] = p.tables[n]
	}
	return out
}

// StateTablePrefix names shiplog's own tables in the destination.
const StateTablePrefix = "_shiplog_"

func sameColumns(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !strings.EqualFold(a[i], b[i]) {
			return false
		}
	}
	return true
}

// HasErrors reports whether any problem is an error.
func HasErrors(problems []Problem) bool {
	for _, p := range problems {
		if p.Severity == Error {
			return true
		}
	}
	return false
}

// KeyIdentity reports whether the destination key is the source key as it
// is: the same number of columns, each copied from the source key column in
// the same position, of the same kind, with no handler on either side naming
// a key column and none kept from the destination. Destination rows can then
// be found by the source's key ranges.
func (tp *TablePlan) KeyIdentity() bool {
	if tp.FullRow || len(tp.Source.Key) == 0 || len(tp.Source.Key) != len(tp.Dest.Key) {
		return false
	}
	for i, dk := range tp.Dest.Key {
		sk := tp.Source.Key[i]
		if tp.proj[dk] != sk || (tp.keep != nil && tp.keep[dk]) {
			return false
		}
		if tp.Source.Columns[sk].Kind() != tp.Dest.Columns[dk].Kind() {
			return false
		}
		for _, f := range tp.fits {
			if f.col == dk && f.conv != nil {
				return false
			}
		}
		for _, f := range tp.srcFuncs {
			if f.changes(tp.Source.Columns[sk].Name) {
				return false
			}
		}
		for _, f := range tp.dstFuncs {
			if f.changes(tp.Dest.Columns[dk].Name) {
				return false
			}
		}
	}
	return true
}

// CopiedTo returns the index of the destination column that source column
// src is copied into as it is (no handler on either side names it, and the
// destination does not keep its own value), or -1.
func (tp *TablePlan) CopiedTo(src int) int {
	if src < 0 || src >= len(tp.Source.Columns) {
		return -1
	}
	name := tp.Source.Columns[src].Name
	for _, f := range tp.srcFuncs {
		if f.changes(name) {
			return -1
		}
	}
	for d, j := range tp.proj {
		if j != src || (tp.keep != nil && tp.keep[d]) {
			continue
		}
		for _, f := range tp.dstFuncs {
			if f.changes(tp.Dest.Columns[d].Name) {
				return -1
			}
		}
		return d
	}
	return -1
}

// Identity is the plan that copies t into a table of the same shape
// unchanged (for tools that replay a table's own changes).
func Identity(t *cdc.Table) *TablePlan {
	p, _ := Compile(&Rules{}, []*cdc.Table{t}, []*cdc.Table{t})
	return p.Table(t.Name)
}

// Failure describes a source row of tp that a handler could not transform
// (err, a *HandlerError; any other error is returned). Rows of keyed tables
// are recorded by key (a retry reads the row again); rows of full-row tables
// whole.
func (tp *TablePlan) Failure(row []any, err error, pos cdc.Position) (cdc.Failure, error) {
	var he *HandlerError
	if !errors.As(err, &he) {
		return cdc.Failure{}, err
	}
	f := cdc.Failure{Table: tp.Source.Name, Handler: he.Handler, Field: he.Field, Reason: he.Err.Error(), Pos: pos}
	if tp.FullRow {
		f.Row = row
	} else {
		f.Key = tp.Source.KeyOf(row)
	}
	return f, nil
}

// MapChange maps source change c through tp. A change a handler cannot
// transform is no error: it comes back as f, to be recorded in
// _shiplog_failed_rows.
func (tp *TablePlan) MapChange(c cdc.Change) (d cdc.Change, f *cdc.Failure, err error) {
	d, terr := tp.Change(c)
	if terr == nil {
		return d, nil, nil
	}
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
