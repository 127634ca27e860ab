package transform

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Sides a handler may look rows up on.
const (
	SideSource      = "source"
	SideDestination = "destination"
)

// HandlerEnv is what handlers may use beyond their two records: the
// configuration's options, whole tables of either side (Lookups), and
// Magento's class map. Compile passes Rules.Env (or an empty one) in every
// Binding; a field a handler needs and the caller did not give is a bind
// error naming what is missing.
type HandlerEnv struct {
	// Options are the configuration's options by name (config.xml's
	// <options>: crypt_key, edition_migrate, ...; shiplog's own keys too).
	Options map[string]string
	// Lookups reads other tables of either side, once per run; nil when
	// the caller has no database.
	Lookups *Lookups
	// ClassMap maps Magento 1 class names to Magento 2 ones (the
	// reference's class-map.xml); nil when none was read.
	ClassMap map[string]string
}

// Option returns option name ("" when unset).
func (e *HandlerEnv) Option(name string) string {
	if e == nil {
		return ""
	}
	return e.Options[name]
}

// NeedLookups returns e's Lookups, or an error naming handler when there
// are none (a plan compiled without a database).
func (e *HandlerEnv) NeedLookups(handler string) (*Lookups, error) {
	if e == nil || e.Lookups == nil {
		return nil, fmt.Errorf("handler %s reads other tables of the source or destination, and this plan was compiled without a database connection", handler)
	}
	return e.Lookups, nil
}

// LookupLoader reads every row of table (its name without the side's
// prefix) on side. It must put a deadline on its queries.
type LookupLoader func(side, table string) (*LookupRows, error)

// Lookups gives handlers the rows of other tables (EAV attributes, stores,
// bundle relations, ...): each table is read once, on first use, and kept;
// the stream calls Invalidate when it sees a looked-up table change, and
// the next use reads it again. Nothing queries per row. Safe for
// concurrent use.
type Lookups struct {
	load   LookupLoader
	mu     sync.Mutex
	tables map[LookupRef]*LookupTable
}

// LookupRef names a looked-up table.
type LookupRef struct {
	Side, Table string
}

// NewLookups returns lookups that read tables with load.
func NewLookups(load LookupLoader) *Lookups {
	return &Lookups{load: load, tables: map[LookupRef]*LookupTable{}}
}

// Table returns the handle of table (without prefix) on side. Handler
// factories call it when they bind, so the stream knows which tables to
// watch; rows are read on the handle's first Rows.
func (l *Lookups) Table(side, table string) *LookupTable {
	ref := LookupRef{Side: side, Table: strings.ToLower(table)}
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.tables[ref]
	if t == nil {
		t = &LookupTable{l: l, ref: ref}
		l.tables[ref] = t
	}
	return t
}

// Tables lists the tables handlers looked up, sorted.
func (l *Lookups) Tables() []LookupRef {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]LookupRef, 0, len(l.tables))
	for r := range l.tables {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Side != out[j].Side {
			return out[i].Side < out[j].Side
		}
		return out[i].Table < out[j].Table
	})
	return out
}

// Watches reports whether table (without prefix) on side is looked up.
func (l *Lookups) Watches(side, table string) bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.tables[LookupRef{Side: side, Table: strings.ToLower(table)}]
	return ok
}

// Invalidate drops the rows kept of table on side: the next Rows reads it
// again. A table nobody looks up is ignored.
func (l *Lookups) Invalidate(side, table string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	t := l.tables[LookupRef{Side: side, Table: strings.ToLower(table)}]
	l.mu.Unlock()
	if t != nil {
		t.mu.Lock()
		t.rows = nil
		t.mu.Unlock()
	}
}

// LookupTable is one looked-up table.
type LookupTable struct {
	l    *Lookups
	ref  LookupRef
	mu   sync.RWMutex
	rows *LookupRows
}

// Ref names the table.
func (t *LookupTable) Ref() LookupRef { return t.ref }

// Rows returns the table's rows, reading them on first use and after an
// Invalidate. The rows returned are never changed (a later read makes new
// ones), so a caller may keep them for one record.
func (t *LookupTable) Rows() (*LookupRows, error) {
	t.mu.RLock()
	rows := t.rows
	t.mu.RUnlock()
	if rows != nil {
		return rows, nil // every row's call, from every worker: shared lock only
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rows != nil {
		return t.rows, nil
	}
	rows, err := t.l.load(t.ref.Side, t.ref.Table)
	if err != nil {
		return nil, fmt.Errorf("look up %s table %s: %w", t.ref.Side, t.ref.Table, err)
	}
	t.rows = rows
	return rows, nil
}

// LookupRows are the rows of a looked-up table, in canonical values (see
// cdc), with indexes built on first use.
type LookupRows struct {
	Columns []string
	Rows    [][]any

	mu  sync.RWMutex
	idx map[string]map[string][]int
}

// NewLookupRows returns rows with the given columns.
func NewLookupRows(columns []string, rows [][]any) *LookupRows {
	return &LookupRows{Columns: columns, Rows: rows}
}

// Col returns the index of column name (case-insensitive), or -1.
func (r *LookupRows) Col(name string) int {
	for i, c := range r.Columns {
		if strings.EqualFold(c, name) {
			return i
		}
	}
	return -1
}

// Str returns the string form (as PHP would see it) of column col of row
// i; ok is false for NULL or an unknown column.
func (r *LookupRows) Str(i int, col string) (string, bool) {
	k := r.Col(col)
	if k < 0 || i < 0 || i >= len(r.Rows) {
		return "", false
	}
	return hdlString(r.Rows[i][k])
}

// Find returns the indexes of the rows whose columns cols have the string
// forms vals (compared exactly; NULL matches nothing), in table order. The
// index of a column list is built on its first use.
func (r *LookupRows) Find(cols []string, vals ...string) []int {
	if len(cols) != len(vals) {
		return nil
	}
	key := strings.ToLower(strings.Join(cols, "\x00"))
	// Handlers call Find for every row, from every copy worker: the index
	// is read under a shared lock and built once under the exclusive one.
	r.mu.RLock()
	ix, ok := r.idx[key]
	r.mu.RUnlock()
	if ok {
		return ix[strings.Join(vals, "\x00")]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.idx == nil {
		r.idx = map[string]map[string][]int{}
	}
	if ix, ok = r.idx[key]; !ok {
		ks := make([]int, len(cols))
		for j, c := range cols {
			if ks[j] = r.Col(c); ks[j] < 0 {
				r.idx[key] = nil
				return nil
			}
		}
		ix = map[string][]int{}
	rows:
		for i, row := range r.Rows {
			parts := make([]string, len(ks))
			for j, k := range ks {
				s, ok := hdlString(row[k])
				if !ok {
					continue rows
				}
				parts[j] = s
			}
			v := strings.Join(parts, "\x00")
			ix[v] = append(ix[v], i)
		}
		r.idx[key] = ix
	}
	return ix[strings.Join(vals, "\x00")]
}

// First returns the string form of column want in the first row whose
// column col is val; ok is false when there is none (or it is NULL).
func (r *LookupRows) First(col, val, want string) (string, bool) {
	rows := r.Find([]string{col}, val)
	if len(rows) == 0 {
		return "", false
	}
	return r.Str(rows[0], want)
}
