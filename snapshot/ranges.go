package snapshot

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"sync/atomic"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/state"
	"github.com/shiplog/shiplog/transform"
	"github.com/shiplog/shiplog/verify"
)

// A large table is copied in key ranges, in parallel: each range is a job
// of the copier's worker pool (so memory stays bounded by Workers, as with
// whole tables), reading its own snapshot connection. All connections of a
// table are in one snapshot at one binlog position (started while the
// source's commits pause, rowio.PinSnapshots), so the table is one
// consistent copy (its volume check is exact) and the stream starts where
// it would for a whole-table copy. With the change-log delta, which needs no
// position, each connection starts its own snapshot. Each range records its own progress
// (state.KeyRange) with its chunks, so a killed copy resumes every range
// where it stopped.

// DefaultRangeRows is the fewest rows (estimated) a key range holds when a
// table is split.
const DefaultRangeRows = 100_000

// maxRanges caps the ranges of one table.
const maxRanges = 16

// rangedTable is a table copied in key ranges: its jobs share it.
type rangedTable struct {
	tp     *transform.TablePlan
	log    *slog.Logger
	p      state.TableProgress // the table's own progress
	fresh  bool                // copied from the first row in this run
	ranges []state.RangeProgress
	// workers is the copier's: no more of the table's ranges are read at
	// once, so it opens no more connections.
	workers int
	// deferred are the destination's indexes dropped for the copy (fresh
	// only), added back once every range is done.
	deferred []state.DeferredIndex

	openMu  sync.Mutex
	opened  bool
	openErr error
	pool    chan *snapshotTx // connections in the table's snapshot
	snaps   []*snapshotTx
	closed  bool

	left   atomic.Int32 // ranges (jobs) not finished in this run
	rows   atomic.Int64 // rows of all ranges copied, resumed ones too
	mu     sync.Mutex
	known  []*verify.KeyRanges // per range, when copied whole in this snapshot
	ends   [][]any             // per range: its last key
	counts []int64             // per range: its rows at the end
}

// splittable reports whether tp may be copied in key ranges: a keyed table
// whose rows go only into its own destination table (routed plans, side
// tables and shared destination tables stay whole: two ranges could write
// the same destination row), into MySQL with a binlog position (the
// connections' common position is how the copier knows they share the
// snapshot).
func (c *Copier) splittable(tp *transform.TablePlan) bool {
	if c.RangeRows < 0 || c.NoBinlog || c.Publish != nil || c.StateOnly || tp.FullRow || len(tp.Source.Key) == 0 {
		return false
	}
	if own, _ := tp.OwnRows(); own != "" || tp.Routed() || len(tp.SideTables()) > 0 {
		return false
	}
	return true
}

// rowEstimates returns the server's estimate of the rows of every table of
// schema (information_schema, read once per schema).
func (c *Copier) rowEstimates(ctx context.Context, schema string) (map[string]int64, error) {
	if est, ok := c.estimates[schema]; ok {
		return est, nil
	}
	rows, err := c.Source.QueryContext(ctx, "SELECT TABLE_NAME, COALESCE(TABLE_ROWS, 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", schema)
	if err != nil {
		return nil, fmt.Errorf("source: estimate the rows of the tables of %s: %w", schema, err)
	}
	defer rows.Close()
	est := map[string]int64{}
	for rows.Next() {
		var t string
		var n int64
		if err := rows.Scan(&t, &n); err != nil {
			return nil, err
		}
		est[t] = n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if c.estimates == nil {
		c.estimates = map[string]map[string]int64{}
	}
	c.estimates[schema] = est
	return est, nil
}

// planRanges returns the key ranges of a table to copy afresh, or none when
// it is too small to split. They are bounds on the first key column, read
// outside any snapshot: the ranges cover every key whatever the table holds.
func (c *Copier) planRanges(ctx context.Context, tp *transform.TablePlan, workers int) ([]state.RangeProgress, error) {
	st := tp.Source
	per := c.RangeRows
	if per == 0 {
		per = DefaultRangeRows
	}
	ests, err := c.rowEstimates(ctx, st.Schema)
	if err != nil {
		return nil, err
	}
	est := ests[st.Name]
	if est <= c.share {
		// Whole tables keep the workers busy, and two loaders in one
		// table contend on its indexes: 4 tables of 250k rows on 2
		// workers copied in 7.94 and 8.16 s in ranges, 7.09 and 7.25 s
		// whole (bench -copy-only).
		return nil, nil
	}
	// Ranges are jobs of the workers: a multiple of them, so that the last
	// wave keeps every worker busy.
	if workers < 2 {
		return nil, nil // nothing to run them in parallel
	}
	k := int(min(est/per, maxRanges))
	if k >= workers {
		k -= k % workers
	}
	if k < 2 {
		return nil, nil
	}
	col := &st.Columns[st.Key[0]]
	var bounds []any
	switch col.Kind() {
	case cdc.KindInt, cdc.KindUint:
		bounds, err = c.intBounds(ctx, st, col, k)
	default:
		bounds, err = c.sampledBounds(ctx, st, col, k, est)
	}
	if err != nil {
		return nil, fmt.Errorf("source table %s: split into key ranges: %w", st.Name, err)
	}
	if len(bounds) == 0 {
		return nil, nil
	}
	out := make([]state.RangeProgress, len(bounds)+1)
	for i := range out {
		out[i].No = i
		if i > 0 {
			out[i].Lo = bounds[i-1]
		}
		if i < len(bounds) {
			out[i].Hi = bounds[i]
		}
	}
	return out, nil
}

// rowsPerWorker is the source's estimate of the rows of the tables left to
// copy (those that could be split), divided by workers.
func (c *Copier) rowsPerWorker(ctx context.Context, tables []*transform.TablePlan, progress map[string]state.TableProgress, workers int) (int64, error) {
	var total int64
	for _, tp := range tables {
		if p, ok := progress[tp.Source.Name]; ok && p.State == state.TableDone || !c.splittable(tp) {
			continue
		}
		ests, err := c.rowEstimates(ctx, tp.Source.Schema)
		if err != nil {
			return 0, err
		}
		total += ests[tp.Source.Name]
	}
	return total / int64(max(workers, 1)), nil
}

// intBounds splits an integer first key column evenly between its least and
// greatest values: k-1 increasing bounds (fewer when the span is short).
func (c *Copier) intBounds(ctx context.Context, st *cdc.Table, col *cdc.Column, k int) ([]any, error) {
	name := rowio.QuoteIdent(col.Name)
	q := "SELECT MIN(" + name + "), MAX(" + name + ") FROM " + rowio.QuoteIdent(st.Schema) + "." + rowio.QuoteIdent(st.Name)
	var lo, hi sql.NullString
	if err := c.Source.QueryRowContext(ctx, q).Scan(&lo, &hi); err != nil {
		return nil, err
	}
	if !lo.Valid || !hi.Valid {
		return nil, nil // empty
	}
	a, ok1 := new(big.Int).SetString(lo.String, 10)
	b, ok2 := new(big.Int).SetString(hi.String, 10)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("key column %s: not integers: %q, %q", col.Name, lo.String, hi.String)
	}
	span := new(big.Int).Sub(b, a)
	var out []any
	var last *big.Int
	for i := 1; i < k; i++ {
		v := new(big.Int).Mul(span, big.NewInt(int64(i)))
		v.Quo(v, big.NewInt(int64(k)))
		v.Add(v, a)
		if last != nil && v.Cmp(last) <= 0 || v.Cmp(b) >= 0 {
			continue
		}
		last = v
		if col.Kind() == cdc.KindUint {
			out = append(out, v.Uint64())
		} else {
			out = append(out, v.Int64())
		}
	}
	return out, nil
}

// sampledBounds reads the first key column in order (the key's index only)
// and takes k-1 values evenly spaced by the estimated row count: one pass,
// for keys that cannot be divided arithmetically.
func (c *Copier) sampledBounds(ctx context.Context, st *cdc.Table, col *cdc.Column, k int, est int64) ([]any, error) {
	kt := &cdc.Table{Schema: st.Schema, Name: st.Name, Columns: []cdc.Column{*col}, Key: []int{0}}
	q := rowio.SelectColumns(nil, kt)
	q = rowio.AppendOrderByKey(q, kt)
	conn, err := c.Source.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// Raw bytes, as the copy reads them (beginSnapshot).
	if _, err := conn.ExecContext(ctx, "SET character_set_results = NULL"); err != nil {
		return nil, err
	}
	stmt, err := conn.PrepareContext(ctx, string(q))
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	rows, err := stmt.QueryContext(ctx)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []any
	var n int64
	next := est / int64(k)
	for len(out) < k-1 {
		row, ok, err := rowio.ScanRow(rows, kt)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if n++; n < next {
			continue
		}
		// Equal values of a composite key's first column stay in one range.
		if len(out) == 0 || !sameValue(out[len(out)-1], row[0]) {
			out = append(out, row[0])
		}
		next += est / int64(k)
	}
	return out, rows.Err()
}

// open, on the first job of the table, waits for its parents (After),
// empties its destination table when it is copied afresh, opens
// connections in one snapshot (one per range read at once: at most
// workers) and records the ranges with the table's progress. Later calls return what the first did.
func (rt *rangedTable) open(ctx context.Context, c *Copier) error {
	rt.openMu.Lock()
	defer rt.openMu.Unlock()
	if rt.opened {
		return rt.openErr
	}
	rt.opened = true
	rt.openErr = rt.doOpen(ctx, c)
	return rt.openErr
}

func (rt *rangedTable) doOpen(ctx context.Context, c *Copier) error {
	st := rt.tp.Source
	if rt.fresh {
		if err := c.emptyDest(ctx, rt.tp); err != nil {
			return err
		}
		rt.p = state.TableProgress{Table: st.Name, State: state.TableCopying}
		var err error
		if rt.deferred, err = c.dropIndexes(ctx, rt.tp); err != nil {
			return err
		}
	}
	if err := c.waitParents(ctx, st.Name); err != nil {
		return err
	}
	k := max(min(int(rt.left.Load()), rt.workers), 1)
	snaps, err := openSnapshots(ctx, c.Source, k, !c.NoBinlog)
	if err != nil {
		return err
	}
	rt.snaps = snaps
	rt.pool = make(chan *snapshotTx, len(snaps))
	for _, s := range snaps {
		rt.pool <- s
	}
	if rt.p.SnapshotPos.IsZero() {
		rt.p.SnapshotPos = snaps[0].pos
	}
	rt.p.Segments++
	rt.p.State = state.TableCopying
	if err := c.State.StartRanges(ctx, rt.p, rt.ranges); err != nil {
		return err
	}
	rt.log.Info("copying table in key ranges", "stage", "data", "step", "copy", "ranges", len(rt.ranges), "left", rt.left.Load(),
		"connections", len(snaps), "resume_rows", rt.rows.Load(), "snapshot", snaps[0].pos.String())
	c.markStarted(st.Name)
	return nil
}

// close ends the table's snapshot connections (once).
func (rt *rangedTable) close(ctx context.Context) {
	rt.openMu.Lock()
	defer rt.openMu.Unlock()
	if rt.closed {
		return
	}
	rt.closed = true
	for _, s := range rt.snaps {
		s.close(ctx)
	}
}

// copyRange is the job of range i of rt (i < 0: none left, only finish the
// table). The job that finishes the table's last range records the table
// done and runs its volume check.
func (c *Copier) copyRange(ctx context.Context, rt *rangedTable, i int) (int64, string, error) {
	if err := rt.open(ctx, c); err != nil {
		return 0, "", err
	}
	var snap *snapshotTx
	select {
	case snap = <-rt.pool:
	case <-ctx.Done():
		return 0, "", ctx.Err()
	}
	var copied int64
	if i >= 0 {
		r := rt.ranges[i]
		p := state.TableProgress{Table: rt.tp.Source.Name, State: state.TableCopying, LastKey: r.LastKey, Rows: r.Rows,
			SnapshotPos: rt.p.SnapshotPos, Range: &r.KeyRange}
		n, known, err := c.copyKeyed(ctx, snap.conn, rt.tp, &p, &rt.rows, false)
		copied = n
		if err != nil {
			rt.pool <- snap
			return copied, "", err
		}
		rt.mu.Lock()
		rt.known[i], rt.ends[i], rt.counts[i] = known, p.LastKey, p.Rows
		rt.mu.Unlock()
	}
	if rt.left.Add(-1) > 0 {
		rt.pool <- snap
		return copied, "", nil
	}
	// The last range: every other job has given its connection back.
	defer rt.close(ctx)
	warn, err := c.finishRanged(ctx, rt, snap)
	return copied, warn, err
}

// finishRanged records a table copied in ranges done, with its source rows
// at the snapshot, and checks its volume in snap (the ranges' snapshot).
func (c *Copier) finishRanged(ctx context.Context, rt *rangedTable, snap *snapshotTx) (string, error) {
	tp := rt.tp
	rt.mu.Lock()
	known := rt.merged()
	p := rt.p
	p.Rows = 0
	for _, n := range rt.counts {
		p.Rows += n
	}
	rt.mu.Unlock()
	if known != nil {
		p.SourceRows = &known.Rows
	} else {
		n, err := c.countSource(ctx, snap.conn, tp)
		if err != nil {
			return "", err
		}
		p.SourceRows = &n
	}
	if len(rt.deferred) > 0 {
		if err := c.finishIndexed(ctx, rt.log, p, rt.deferred); err != nil {
			return "", err
		}
	} else {
		p.State = state.TableDone
		if err := c.State.SaveProgress(ctx, nil, p); err != nil {
			return "", err
		}
	}
	warn, err := c.checkVolume(ctx, rt.log, snap, tp, known, p.Segments)
	if err != nil {
		return "", err
	}
	rt.log.Info("table copied", "stage", "data", "step", "copy", "rows", p.Rows, "ranges", len(rt.ranges))
	return warn, nil
}

// merged joins the key ranges each range's read saw into the table's, when
// every range was read whole in this one snapshot (else nil: the volume
// check counts the source itself).
func (rt *rangedTable) merged() *verify.KeyRanges {
	if rt.p.Segments != 1 {
		return nil
	}
	out := &verify.KeyRanges{Every: verify.VolumeRangeRows}
	for i, k := range rt.known {
		if k == nil {
			return nil
		}
		for _, b := range k.Bounds {
			out.Bounds = append(out.Bounds, b)
			out.Counts = append(out.Counts, int64(k.Every))
		}
		out.Rows += k.Rows
		// The range's last rows, up to its last key; the last range's
		// are the rest.
		if rest := k.Rows - int64(len(k.Bounds)*k.Every); rest > 0 && i < len(rt.known)-1 {
			out.Bounds = append(out.Bounds, rt.ends[i])
			out.Counts = append(out.Counts, rest)
		}
	}
	return out
}

// readRange reads up to limit rows of t in key order after the key after
// (nil: from the start of the range), inside the range (lo, hi] of its first
// key column (nil bounds: open).
func readRange(ctx context.Context, conn *sql.Conn, t *cdc.Table, r *state.KeyRange, after []any, limit int) ([][]any, error) {
	if r == nil {
		return rowio.ReadChunk(ctx, conn, t, after, limit)
	}
	col := &t.Columns[t.Key[0]]
	q := rowio.SelectColumns(make([]byte, 0, 256), t)
	var err error
	and := " WHERE "
	if after != nil {
		q = append(q, and...)
		if q, err = rowio.AppendAfter(q, t, after); err != nil {
			return nil, err
		}
		and = " AND "
	} else if r.Lo != nil {
		q = append(q, and+rowio.QuoteIdent(col.Name)+" > "...)
		if q, err = rowio.AppendLiteral(q, r.Lo, col); err != nil {
			return nil, err
		}
		and = " AND "
	}
	if r.Hi != nil {
		q = append(q, and+rowio.QuoteIdent(col.Name)+" <= "...)
		if q, err = rowio.AppendLiteral(q, r.Hi, col); err != nil {
			return nil, err
		}
	}
	q = rowio.AppendOrderByKey(q, t)
	q = append(q, fmt.Sprintf(" LIMIT %d", limit)...)
	return rowio.QueryRows(ctx, conn, t, string(q), limit)
}

// sameValue reports whether two key values read from the source are the same
// bytes.
func sameValue(a, b any) bool {
	ka, err1 := rowio.EncodeKey([]any{a})
	kb, err2 := rowio.EncodeKey([]any{b})
	return err1 == nil && err2 == nil && ka == kb
}
