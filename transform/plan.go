// Package transform turns map rules into immutable per-table plans that every
// reader (snapshot, binlog, change-log tables) passes rows through on their way to
// a sink. Compile checks the rules against both schemas; its Problem list is the
// integrity check, so `check` and data mode can never disagree.
package transform

import (
	"fmt"
	"sort"
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
}

func (p Problem) String() string {
	s := fmt.Sprintf("%s: %s", p.Severity, p.Msg)
	return s
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
	// proj[i] is the source column index that fills Dest.Columns[i].
	proj []int
}

// Row maps a source row image to a destination row image.
func (tp *TablePlan) Row(src []any) []any {
	if src == nil {
		return nil
	}
	out := make([]any, len(tp.proj))
	for i, j := range tp.proj {
		out[i] = src[j]
	}
	return out
}

// Change maps a source change to its destination change.
func (tp *TablePlan) Change(c cdc.Change) cdc.Change {
	return cdc.Change{Op: c.Op, Table: tp.Dest, Before: tp.Row(c.Before), After: tp.Row(c.After), CommitTime: c.CommitTime, Pos: c.Pos}
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

// Compile builds the plan of every source table and checks it against the
// destination, in both directions. Errors make the plan unusable for the affected
// tables (they are left out); warnings do not.
func Compile(rules *Rules, source, dest []*cdc.Table) (*Plan, []Problem) {
	if rules == nil {
		rules = &Rules{}
	}
	plan := &Plan{tables: map[string]*TablePlan{}}
	var problems []Problem
	destByName := map[string]*cdc.Table{}
	for _, t := range dest {
		destByName[strings.ToLower(t.Name)] = t
	}
	fullRow := map[string]bool{}
	for _, n := range rules.FullRowTables {
		fullRow[strings.ToLower(n)] = true
	}
	used := map[string]bool{}
	var unmappedSrc []string
	for _, st := range source {
		base := st.Name
		if rules.SourcePrefix != "" {
			if !strings.HasPrefix(base, rules.SourcePrefix) {
				continue // not a table of this installation
			}
			base = strings.TrimPrefix(base, rules.SourcePrefix)
		}
		dname := rules.DestPrefix + base
		dt := destByName[strings.ToLower(dname)]
		if dt == nil {
			unmappedSrc = append(unmappedSrc, st.Name)
			continue
		}
		used[strings.ToLower(dt.Name)] = true
		tp, probs := compileTable(st, dt, fullRow[strings.ToLower(st.Name)])
		problems = append(problems, probs...)
		if tp != nil {
			plan.tables[st.Name] = tp
			plan.names = append(plan.names, st.Name)
		}
	}
	if len(unmappedSrc) > 0 {
		problems = append(problems, Problem{Severity: Error, Area: "source", Columns: unmappedSrc,
			Msg: "Source documents are not mapped: " + strings.Join(unmappedSrc, ",")})
	}
	ignored := map[string]bool{}
	for _, n := range rules.IgnoreDestTables {
		ignored[strings.ToLower(n)] = true
	}
	var unmappedDst []string
	for _, dt := range dest {
		ln := strings.ToLower(dt.Name)
		if used[ln] || ignored[ln] || strings.HasPrefix(ln, StateTablePrefix) {
			continue
		}
		if rules.DestPrefix != "" && !strings.HasPrefix(dt.Name, rules.DestPrefix) {
			continue
		}
		unmappedDst = append(unmappedDst, dt.Name)
	}
	if len(unmappedDst) > 0 {
		problems = append(problems, Problem{Severity: Error, Area: "destination", Columns: unmappedDst,
			Msg: "Destination documents are not mapped: " + strings.Join(unmappedDst, ",")})
	}
	sort.Strings(plan.names)
	return plan, problems
}

func compileTable(st, dt *cdc.Table, fullRow bool) (*TablePlan, []Problem) {
	var problems []Problem
	tp := &TablePlan{Source: st, FullRow: fullRow}
	out := &cdc.Table{Schema: dt.Schema, Name: dt.Name}
	var missingInDest, missingInSrc []string
	for _, sc := range st.Columns {
		if sc.Generated {
			continue
		}
		di := dt.ColumnIndex(sc.Name)
		if di < 0 {
			missingInDest = append(missingInDest, sc.Name)
			continue
		}
		dc := dt.Columns[di]
		if dc.Generated {
			continue // the destination computes it
		}
		if !strings.EqualFold(sc.DataType, dc.DataType) {
			problems = append(problems, Problem{Severity: Warning, Area: "source", Table: st.Name, Columns: []string{sc.Name},
				Msg: fmt.Sprintf("Mismatch of data types. Source document: %s. Fields: %s (%s vs destination %s)", st.Name, sc.Name, sc.ColumnType, dc.ColumnType)})
		}
		tp.proj = append(tp.proj, st.ColumnIndex(sc.Name))
		out.Columns = append(out.Columns, dc)
	}
	for _, dc := range dt.Columns {
		if dc.Generated {
			continue
		}
		if si := st.ColumnIndex(dc.Name); si < 0 {
			missingInSrc = append(missingInSrc, dc.Name)
		}
	}
	if len(missingInDest) > 0 {
		problems = append(problems, Problem{Severity: Error, Area: "source", Table: st.Name, Columns: missingInDest,
			Msg: fmt.Sprintf("Source fields are not mapped. Document: %s. Fields: %s", st.Name, strings.Join(missingInDest, ","))})
	}
	if len(missingInSrc) > 0 {
		problems = append(problems, Problem{Severity: Error, Area: "destination", Table: dt.Name, Columns: missingInSrc,
			Msg: fmt.Sprintf("Destination fields are not mapped. Document: %s. Fields: %s", dt.Name, strings.Join(missingInSrc, ","))})
	}
	switch {
	case len(st.Key) > 0 && !fullRow:
		for _, k := range st.Key {
			name := st.Columns[k].Name
			i := out.ColumnIndex(name)
			if i < 0 {
				problems = append(problems, Problem{Severity: Error, Area: "source", Table: st.Name, Columns: []string{name},
					Msg: fmt.Sprintf("Key column %s.%s is not copied to the destination", st.Name, name)})
				return nil, problems
			}
			out.Key = append(out.Key, i)
		}
		out.KeyName = st.KeyName
		if !sameColumns(dt.KeyNames(), st.KeyNames()) {
			problems = append(problems, Problem{Severity: Warning, Area: "destination", Table: dt.Name,
				Msg: fmt.Sprintf("Destination document %s is keyed by (%s), source %s by (%s): upserts match on the destination's unique keys",
					dt.Name, strings.Join(dt.KeyNames(), ","), st.Name, strings.Join(st.KeyNames(), ","))})
		}
	case fullRow:
		tp.FullRow = true
	default:
		problems = append(problems, Problem{Severity: Error, Area: "source", Table: st.Name,
			Msg: fmt.Sprintf("Document %s has no primary key or unique NOT NULL key; add one, or list it in options.full_row_tables to copy it matching rows by all columns", st.Name)})
		return nil, problems
	}
	// Tables with unmapped fields still get a plan (the fields are left out):
	// the caller refuses to run on errors unless --auto downgraded them.
	tp.Dest = out
	return tp, problems
}

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
