// Package verify compares the transformed source with the destination: per
// planned table, chunk by chunk in source key order, it reads the source rows,
// runs them through the table's plan, and compares checksums of the
// destination-shaped rows with the destination rows of the same keys. Chunks
// whose checksums differ are compared row by row; destination rows whose keys
// the source does not have are found by walking the destination's keys too.
//
// Verify runs online, while delta streams: each difference found is read
// again on both sides after a short delay (a few times), and only those that
// persist are reported.
package verify

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/transform"
)

// Options of a verification.
type Options struct {
	// Tables limits verification to these tables (source or destination
	// names); empty: every planned table.
	Tables []string
	// OnlyPKs compares keys only: missing and extra rows, not column values.
	OnlyPKs bool
	// ChunkRows is the source rows per chunk; 0 = 1000.
	ChunkRows int
	// Recheck is the delay before differences are read again; 0 = 2s,
	// negative = report the first reading without rechecking.
	Recheck time.Duration
	// Rechecks is how many times differences are read again; 0 = 3.
	Rechecks int
	Logger   *slog.Logger
}

func (o *Options) defaults() {
	if o.ChunkRows <= 0 {
		o.ChunkRows = 1000
	}
	if o.Recheck == 0 {
		o.Recheck = 2 * time.Second
	}
	if o.Rechecks == 0 {
		o.Rechecks = 3
	}
	if o.Recheck < 0 || o.Rechecks < 0 {
		o.Rechecks = 0
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Kind is the kind of a difference.
type Kind string

const (
	// Missing: the source has the row, the destination not.
	Missing Kind = "missing"
	// Different: both have the row, with different column values.
	Different Kind = "different"
	// Extra: the destination has a row whose key the source has not.
	Extra Kind = "extra"
	// Failed: a handler cannot transform the source row (see the failed-rows
	// table); the destination cannot match it.
	Failed Kind = "failed"
	// MissingTable: a whole table the destination should match is not
	// there: a source table that the map does not ignore and that is not
	// replicated, or a planned table the destination lacks. Its Reason says
	// which.
	MissingTable Kind = "missing_table"
)

// Kinds in report order.
var Kinds = []Kind{Missing, Different, Extra, Failed, MissingTable}

// Difference is one row that differs, by destination key (for tables
// without a key, the whole row).
type Difference struct {
	Kind Kind `json:"kind"`
	// Key maps the destination key columns to their values' canonical text.
	Key map[string]string `json:"key"`
	// Columns are the destination columns that differ (Different).
	Columns []string `json:"columns,omitempty"`
	// Reason is the handler error (Failed).
	Reason string `json:"reason,omitempty"`
}

// KeyString is the key as "a=1,b=x" in key column order.
func (d Difference) KeyString(keyColumns []string) string {
	parts := make([]string, 0, len(d.Key))
	for _, k := range keyColumns {
		if v, ok := d.Key[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	if len(parts) == 0 { // full-row tables
		for k, v := range d.Key {
			parts = append(parts, k+"="+v)
		}
		sort.Strings(parts)
	}
	return strings.Join(parts, ",")
}

// TableReport is the result of one table.
type TableReport struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	// KeyColumns are the destination key columns (empty for tables compared
	// by whole rows).
	KeyColumns []string `json:"key_columns"`
	Rows       int64    `json:"rows_compared"`
	Chunks     int      `json:"chunks"`
	// ChunksDiffering counts chunks whose first checksums differed.
	ChunksDiffering int `json:"chunks_differing"`
	// Rechecked counts rows read again because they differed at first.
	Rechecked   int          `json:"rechecked"`
	Counts      map[Kind]int `json:"differences_by_kind"`
	Differences []Difference `json:"differences"`
}

// Report is the result of a verification.
type Report struct {
	Tables  []TableReport `json:"tables"`
	Rows    int64         `json:"rows_compared"`
	Chunks  int           `json:"chunks"`
	Counts  map[Kind]int  `json:"differences_by_kind"`
	OnlyPKs bool          `json:"only_pks"`
	Seconds float64       `json:"seconds"`
}

// Differences is the number of differences found.
func (r Report) Differences() int {
	n := 0
	for _, c := range r.Counts {
		n += c
	}
	return n
}

// Summary is a one-line summary.
func (r Report) Summary() string {
	s := fmt.Sprintf("%d table(s), %d row(s) in %d chunk(s): ", len(r.Tables), r.Rows, r.Chunks)
	if r.Differences() == 0 {
		return s + "no differences"
	}
	var parts []string
	for _, k := range Kinds {
		if k != MissingTable {
			parts = append(parts, fmt.Sprintf("%d %s", r.Counts[k], k))
		}
	}
	if n := r.Counts[MissingTable]; n > 0 {
		var names []string
		for _, t := range r.Tables {
			if t.Counts[MissingTable] > 0 {
				names = append(names, t.Source)
			}
		}
		parts = append(parts, fmt.Sprintf("%d missing table(s): %s", n, strings.Join(names, ", ")))
	}
	return s + strings.Join(parts, ", ")
}

// AddMissingTable records a missing table (Kind MissingTable): source is
// the source table, dest the destination table it maps to ("" when none),
// reason why it counts as missing.
func (r *Report) AddMissingTable(source, dest, reason string) {
	if r.Counts == nil {
		r.Counts = map[Kind]int{}
	}
	r.Tables = append(r.Tables, TableReport{Source: source, Destination: dest, Counts: map[Kind]int{MissingTable: 1},
		Differences: []Difference{{Kind: MissingTable, Reason: reason}}})
	r.Counts[MissingTable]++
}

// destMissing reports whether tp's destination table does not exist.
func destMissing(ctx context.Context, dst *sql.DB, tp *transform.TablePlan) (bool, error) {
	var n int
	err := dst.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
		tp.Dest.Schema, tp.Dest.Name).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("destination: look up table %s: %w", tp.Dest.Name, err)
	}
	return n == 0, nil
}

// missingDestReason is the reason of a planned table the destination lacks.
const missingDestReason = "the destination table does not exist (dropped after the copy?); create it and copy again with `shiplog migrate data --reset`"

// ErrDifferent is returned by callers that treat differences as failure.
var ErrDifferent = errors.New("destination differs from the transformed source")

// Run verifies the tables of plan: src is the source database, dst the
// destination.
func Run(ctx context.Context, src, dst *sql.DB, plan *transform.Plan, o Options) (Report, error) {
	o.defaults()
	start := time.Now()
	tables, err := selectTables(plan, o.Tables)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Counts: map[Kind]int{}, OnlyPKs: o.OnlyPKs}
	for _, tp := range tables {
		if gone, err := destMissing(ctx, dst, tp); err != nil {
			return rep, err
		} else if gone {
			rep.AddMissingTable(tp.Source.Name, tp.Dest.Name, missingDestReason)
			o.Logger.Warn("destination table missing", "stage", "verify", "table", tp.Source.Name, "destination", tp.Dest.Name)
			continue
		}
		// Rows the plan routes into another table are compared there by
		// plans of their own (transform.TablePlan.AlsoVerify).
		for _, tp := range append([]*transform.TablePlan{tp}, tp.AlsoVerify()...) {
			trep, err := newTableRun(tp, &o, src, dst).run(ctx)
			if err != nil {
				return rep, fmt.Errorf("verify %s: %w", tp.Source.Name, err)
			}
			rep.Tables = append(rep.Tables, trep)
			rep.Rows += trep.Rows
			rep.Chunks += trep.Chunks
			for k, n := range trep.Counts {
				rep.Counts[k] += n
			}
			o.Logger.Info("table verified", "stage", "verify", "table", tp.Source.Name, "destination", tp.Dest.Name,
				"rows", trep.Rows, "chunks", trep.Chunks, "differences", len(trep.Differences))
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func selectTables(plan *transform.Plan, names []string) ([]*transform.TablePlan, error) {
	all := plan.Tables()
	if len(names) == 0 {
		return all, nil
	}
	var out []*transform.TablePlan
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		found := false
		for _, tp := range all {
			if strings.EqualFold(tp.Source.Name, n) || strings.EqualFold(tp.Dest.Name, n) {
				out = append(out, tp)
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("verify: table %q is not a planned table (source or destination name)", n)
		}
	}
	return out, nil
}

// tableRun verifies one table.
type tableRun struct {
	tp       *transform.TablePlan
	o        *Options
	src, dst *sql.DB
	srcConn  *sql.Conn
	dstConn  *sql.Conn
	// compare marks the destination columns compared.
	compare []bool
	// identity: destination keys are the source keys (same values and kinds),
	// so the destination can be walked by the source's chunk boundaries.
	identity bool
	// seen holds every destination key of the source when not identity.
	seen  map[string]struct{}
	rep   TableReport
	cands []cand
}

// cand is a row that differed, to read again.
type cand struct {
	srcKey []any // nil when the source key is unknown
	dstKey []any
}

// prepared is a source row in destination shape.
type prepared struct {
	srcKey  []any
	dstKey  []any
	keyText string
	vals    []Value
	failed  error
}

var errNotIdentity = errors.New("destination key is not the source key")

// newTableRun prepares the verification of tp.
func newTableRun(tp *transform.TablePlan, o *Options, src, dst *sql.DB) *tableRun {
	tr := &tableRun{tp: tp, o: o, src: src, dst: dst}
	tr.rep = TableReport{Source: tp.Source.Name, Destination: tp.Dest.Name, Counts: map[Kind]int{}}
	tr.compare = make([]bool, len(tp.Dest.Columns))
	for i, c := range tp.Dest.Columns {
		tr.compare[i] = !c.KeepExisting && !c.Generated && !o.OnlyPKs
	}
	for _, k := range tp.Dest.Key {
		tr.compare[k] = true
	}
	return tr
}

// open takes a connection on each side; release gives them back.
func (tr *tableRun) open(ctx context.Context) (release func(), err error) {
	srcConn, srelease, err := rowio.RawConn(ctx, tr.src)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	dstConn, drelease, err := rowio.RawConn(ctx, tr.dst)
	if err != nil {
		srelease()
		return nil, fmt.Errorf("destination: %w", err)
	}
	tr.srcConn, tr.dstConn = srcConn, dstConn
	return func() { srelease(); drelease() }, nil
}

func (tr *tableRun) run(ctx context.Context) (TableReport, error) {
	tp := tr.tp
	if tp.FullRow || len(tp.Source.Key) == 0 || len(tp.Dest.Key) == 0 {
		return tr.rep, tr.fullRow(ctx)
	}
	tr.rep.KeyColumns = tp.Dest.KeyNames()
	release, err := tr.open(ctx)
	if err != nil {
		return tr.rep, err
	}
	defer release()

	tr.identity = len(tp.Source.Key) == len(tp.Dest.Key)
	for i := range tp.Source.Key {
		if !tr.identity {
			break
		}
		if tp.Source.Columns[tp.Source.Key[i]].Kind() != tp.Dest.Columns[tp.Dest.Key[i]].Kind() {
			tr.identity = false
		}
	}
	err = tr.walk(ctx)
	if errors.Is(err, errNotIdentity) {
		tr.o.Logger.Debug("destination keys differ from source keys; walking the destination separately", "stage", "verify", "table", tp.Source.Name)
		tr.identity = false
		tr.rep = TableReport{Source: tp.Source.Name, Destination: tp.Dest.Name, KeyColumns: tp.Dest.KeyNames(), Counts: map[Kind]int{}}
		tr.cands = nil
		err = tr.walk(ctx)
	}
	if err != nil {
		return tr.rep, err
	}
	return tr.rep, tr.recheck(ctx)
}

// walk compares the table chunk by chunk.
func (tr *tableRun) walk(ctx context.Context) error {
	tp := tr.tp
	if !tr.identity {
		tr.seen = map[string]struct{}{}
	}
	var after []any
	for {
		rows, err := rowio.ReadChunk(ctx, tr.srcConn, tp.Source, after, tr.o.ChunkRows)
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		last := len(rows) < tr.o.ChunkRows
		if err := tr.chunk(ctx, rows, after, last); err != nil {
			return err
		}
		if last {
			break
		}
		after = tp.Source.KeyOf(rows[len(rows)-1])
	}
	if !tr.identity {
		return tr.walkExtras(ctx, nil, nil, tr.seen)
	}
	return nil
}

func (tr *tableRun) prepare(row []any) (prepared, error) {
	tp := tr.tp
	p := prepared{srcKey: tp.Source.KeyOf(row)}
	out, err := tp.Row(row)
	if err != nil {
		var he *transform.HandlerError
		if !errors.As(err, &he) {
			return p, err
		}
		p.failed = err
		out = tp.KeyRow(row)
	} else {
		p.vals = Canonicalize(tp.Dest, out, tr.compare)
	}
	p.dstKey = tp.Dest.KeyOf(out)
	p.keyText = tr.dstKeyText(p.dstKey)
	if tr.identity && p.keyText != tr.dstKeyText(p.srcKey) {
		return p, errNotIdentity
	}
	return p, nil
}

func (tr *tableRun) dstKeyText(key []any) string {
	vals := make([]Value, len(key))
	for i, k := range tr.tp.Dest.Key {
		vals[i] = Canonical(key[i], &tr.tp.Dest.Columns[k])
	}
	return keyText(vals)
}

func (tr *tableRun) srcKeyText(key []any) string {
	vals := make([]Value, len(key))
	for i, k := range tr.tp.Source.Key {
		vals[i] = Canonical(key[i], &tr.tp.Source.Columns[k])
	}
	return keyText(vals)
}

func (tr *tableRun) keyMap(key []any) map[string]string {
	m := make(map[string]string, len(key))
	for i, k := range tr.tp.Dest.Key {
		c := &tr.tp.Dest.Columns[k]
		m[c.Name] = Canonical(key[i], c).String()
	}
	return m
}

// chunk compares one chunk of source rows (keys after `after`, up to the
// last row's key, or to the end when last).
func (tr *tableRun) chunk(ctx context.Context, rows [][]any, after []any, last bool) error {
	tp := tr.tp
	tr.rep.Chunks++
	tr.rep.Rows += int64(len(rows))
	ps := make([]prepared, 0, len(rows))
	keys := make([][]any, 0, len(rows))
	inChunk := make(map[string]struct{}, len(rows))
	for _, r := range rows {
		if tp.Routed() {
			// A row the plan routes elsewhere is not in its table (the
			// route's kind only: gone asks for no value check).
			rt, err := tp.RouteOf(r, true)
			if err != nil {
				return err
			}
			if rt.Kind != transform.Carry && !rt.AlsoCarry {
				tr.rep.Rows--
				continue
			}
		}
		p, err := tr.prepare(r)
		if err != nil {
			return err
		}
		ps = append(ps, p)
		if _, dup := inChunk[p.keyText]; !dup {
			keys = append(keys, p.dstKey)
		}
		inChunk[p.keyText] = struct{}{}
		if tr.seen != nil {
			tr.seen[p.keyText] = struct{}{}
		}
	}
	dmap, err := tr.readDest(ctx, keys)
	if err != nil {
		return err
	}
	// Chunk checksums: combination of the rows' key and value hashes.
	var sSum, dSum uint64
	nSrc := 0
	for _, p := range ps {
		if p.failed != nil {
			sSum ^= 1 // a failed row never matches
			continue
		}
		nSrc++
		sSum ^= mix(p.keyText, HashRow(p.vals, nil))
		if d, ok := dmap[p.keyText]; ok {
			dSum ^= mix(p.keyText, HashRow(d, p.vals))
		}
	}
	if sSum != dSum || nSrc != len(dmap) {
		tr.rep.ChunksDiffering++
		for i := range ps {
			p := &ps[i]
			d, ok := dmap[p.keyText]
			if diff := tr.classify(p, d, ok, p.dstKey); diff != nil {
				tr.addCand(cand{srcKey: p.srcKey, dstKey: p.dstKey}, *diff)
			}
		}
	}
	if tr.identity {
		var upTo []any
		if !last {
			upTo = tp.Source.KeyOf(rows[len(rows)-1])
		}
		return tr.walkExtras(ctx, after, upTo, inChunk)
	}
	return nil
}

func mix(key string, h uint64) uint64 {
	f := fnv.New64a()
	f.Write([]byte(key))
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], h)
	f.Write(b[:])
	return f.Sum64()
}

// readDest reads the destination rows of keys, canonical, by key text.
func (tr *tableRun) readDest(ctx context.Context, keys [][]any) (map[string][]Value, error) {
	tp := tr.tp
	out := make(map[string][]Value, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := rowio.ReadRowsByKey(ctx, tr.dstConn, tp.Dest, tp.Dest.Key, keys)
	if err != nil {
		return nil, fmt.Errorf("destination: %w", err)
	}
	for _, r := range rows {
		out[tr.dstKeyText(tp.Dest.KeyOf(r))] = Canonicalize(tp.Dest, r, tr.compare)
	}
	return out, nil
}

// classify compares a source row p (nil: the source has none) with the
// destination row d (ok: it exists) at destination key dstKey.
func (tr *tableRun) classify(p *prepared, d []Value, ok bool, dstKey []any) *Difference {
	switch {
	case p == nil:
		if ok {
			return &Difference{Kind: Extra, Key: tr.keyMap(dstKey)}
		}
		return nil
	case p.failed != nil:
		reason := p.failed.Error()
		var he *transform.HandlerError
		if errors.As(p.failed, &he) {
			reason = he.Error()
		}
		return &Difference{Kind: Failed, Key: tr.keyMap(p.dstKey), Reason: reason}
	case !ok:
		return &Difference{Kind: Missing, Key: tr.keyMap(p.dstKey)}
	}
	idx := DiffColumns(p.vals, d)
	if len(idx) == 0 {
		return nil
	}
	cols := make([]string, len(idx))
	for i, j := range idx {
		cols[i] = tr.tp.Dest.Columns[j].Name
	}
	return &Difference{Kind: Different, Key: tr.keyMap(p.dstKey), Columns: cols}
}

func (tr *tableRun) addCand(c cand, d Difference) {
	tr.cands = append(tr.cands, c)
	tr.rep.Differences = append(tr.rep.Differences, d)
}

// walkExtras reads the destination keys in (after, upTo] (nil: unbounded)
// and records those not in known as extra rows.
func (tr *tableRun) walkExtras(ctx context.Context, after, upTo []any, known map[string]struct{}) error {
	kt := keyTable(tr.tp.Dest)
	page := after
	for {
		q := rowio.SelectColumns(make([]byte, 0, 256), kt)
		q, err := rangeWhere(q, kt, page, upTo)
		if err != nil {
			return err
		}
		if own, _ := tr.tp.OwnRows(); own != "" {
			// Only the plan's own rows can be extra.
			if page == nil && upTo == nil {
				q = append(q, " WHERE ("+own+")"...)
			} else {
				q = append(q, " AND ("+own+")"...)
			}
		}
		q = rowio.AppendOrderByKey(q, kt)
		q = append(q, fmt.Sprintf(" LIMIT %d", tr.o.ChunkRows)...)
		keys, err := queryRows(ctx, tr.dstConn, kt, string(q))
		if err != nil {
			return fmt.Errorf("destination: %w", err)
		}
		_, own := tr.tp.OwnRows()
		for _, k := range keys {
			if _, ok := known[tr.dstKeyText(k)]; ok || !own(k) {
				continue
			}
			c := cand{dstKey: k}
			if tr.identity {
				c.srcKey = k
			}
			tr.addCand(c, Difference{Kind: Extra, Key: tr.keyMap(k)})
		}
		if len(keys) < tr.o.ChunkRows {
			return nil
		}
		page = keys[len(keys)-1]
	}
}

func queryRows(ctx context.Context, conn *sql.Conn, t *cdc.Table, q string) ([][]any, error) {
	stmt, err := conn.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	rs, err := stmt.QueryContext(ctx)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out [][]any
	for {
		row, ok, err := rowio.ScanRow(rs, t)
		if err != nil || !ok {
			return out, err
		}
		out = append(out, row)
	}
}

// recheck reads the differing rows again on both sides after the delay, up
// to Rechecks times; only differences that persist stay.
func (tr *tableRun) recheck(ctx context.Context) error {
	for i := 0; i < tr.o.Rechecks && len(tr.cands) > 0; i++ {
		tr.rep.Rechecked += len(tr.cands)
		tr.o.Logger.Debug("rechecking differences", "stage", "verify", "table", tr.tp.Source.Name, "rows", len(tr.cands), "round", i+1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(tr.o.Recheck):
		}
		cands, diffs, err := tr.evaluate(ctx, tr.cands)
		if err != nil {
			return err
		}
		tr.cands, tr.rep.Differences = cands, diffs
	}
	tr.rep.Counts = map[Kind]int{}
	for _, d := range tr.rep.Differences {
		tr.rep.Counts[d.Kind]++
	}
	return nil
}

// evaluate reads the rows of cands again on both sides and classifies them.
func (tr *tableRun) evaluate(ctx context.Context, cands []cand) ([]cand, []Difference, error) {
	tp := tr.tp
	var srcKeys [][]any
	for _, c := range cands {
		if c.srcKey != nil {
			srcKeys = append(srcKeys, c.srcKey)
		}
	}
	srcText := tr.srcKeyText
	srcRows := map[string]*prepared{}
	if len(srcKeys) > 0 {
		rows, err := rowio.ReadRowsByKey(ctx, tr.srcConn, tp.Source, tp.Source.Key, srcKeys)
		if err != nil {
			return nil, nil, fmt.Errorf("source: %w", err)
		}
		saved := tr.identity
		tr.identity = false // a recheck compares whatever key the row maps to
		for _, r := range rows {
			if tp.Routed() {
				// As chunk: a row routed elsewhere is not expected here.
				rt, err := tp.RouteOf(r, true)
				if err != nil {
					tr.identity = saved
					return nil, nil, err
				}
				if rt.Kind != transform.Carry && !rt.AlsoCarry {
					continue
				}
			}
			p, err := tr.prepare(r)
			if err != nil {
				tr.identity = saved
				return nil, nil, err
			}
			srcRows[srcText(p.srcKey)] = &p
		}
		tr.identity = saved
	}
	var dstKeys [][]any
	for _, c := range cands {
		dstKeys = append(dstKeys, c.dstKey)
		if c.srcKey != nil {
			if p := srcRows[srcText(c.srcKey)]; p != nil {
				dstKeys = append(dstKeys, p.dstKey)
			}
		}
	}
	dmap, err := tr.readDest(ctx, dstKeys)
	if err != nil {
		return nil, nil, err
	}
	var outC []cand
	var outD []Difference
	for _, c := range cands {
		var p *prepared
		if c.srcKey != nil {
			p = srcRows[srcText(c.srcKey)]
		}
		key := c.dstKey
		if p != nil {
			key = p.dstKey
		}
		d, ok := dmap[tr.dstKeyText(key)]
		if diff := tr.classify(p, d, ok, key); diff != nil {
			outC = append(outC, c)
			outD = append(outD, *diff)
		}
	}
	return outC, outD, nil
}

// fullRow compares a table without a key as multisets of whole rows, again
// up to Rechecks times while they differ.
func (tr *tableRun) fullRow(ctx context.Context) error {
	tp := tr.tp
	for round := 0; ; round++ {
		counts := map[string]int{}
		sample := map[string][]Value{}
		var diffs []Difference
		var rows int64
		err := rowio.ReadTable(ctx, tr.src, tp.Source, func(row []any) error {
			rows++
			out, err := tp.Row(row)
			if err != nil {
				var he *transform.HandlerError
				if !errors.As(err, &he) {
					return err
				}
				vals := Canonicalize(tp.Source, row, nil)
				diffs = append(diffs, Difference{Kind: Failed, Key: rowMap(tp.Source, vals), Reason: he.Error()})
				return nil
			}
			vals := Canonicalize(tp.Dest, out, tr.compare)
			k := keyText(vals)
			counts[k]++
			sample[k] = vals
			return nil
		})
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		err = rowio.ReadTable(ctx, tr.dst, tp.Dest, func(row []any) error {
			vals := Canonicalize(tp.Dest, row, tr.compare)
			k := keyText(vals)
			counts[k]--
			sample[k] = vals
			return nil
		})
		if err != nil {
			return fmt.Errorf("destination: %w", err)
		}
		keys := make([]string, 0, len(counts))
		for k := range counts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			n := counts[k]
			kind := Missing
			if n < 0 {
				kind, n = Extra, -n
			}
			for ; n > 0; n-- {
				diffs = append(diffs, Difference{Kind: kind, Key: rowMap(tp.Dest, sample[k])})
			}
		}
		tr.rep.Rows, tr.rep.Chunks = rows, 1
		tr.rep.Differences = diffs
		if len(diffs) == 0 || round >= tr.o.Rechecks {
			break
		}
		if round == 0 {
			tr.rep.ChunksDiffering = 1
		}
		tr.rep.Rechecked += len(diffs)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(tr.o.Recheck):
		}
	}
	tr.rep.Counts = map[Kind]int{}
	for _, d := range tr.rep.Differences {
		tr.rep.Counts[d.Kind]++
	}
	return nil
}

func rowMap(t *cdc.Table, vals []Value) map[string]string {
	m := map[string]string{}
	for i, v := range vals {
		if !v.Skip {
			m[t.Columns[i].Name] = v.String()
		}
	}
	return m
}
