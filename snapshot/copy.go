// Package snapshot is data mode: a consistent, chunked, resumable copy of every
// mapped source table into the destination, with the binlog position each table's
// copy is consistent with, and a volume check after it (verify.Volume).
//
// copy.go runs the copy table by table; ranges.go splits a large table into
// key ranges copied in parallel in one snapshot; chunk.go transforms,
// publishes and commits one chunk; indexes.go builds a fresh table's
// secondary indexes after its load; tx.go opens the consistent-snapshot transaction and its
// binlog position. Rows are read with rowio.
package snapshot

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/failpoint"
	"github.com/shiplog/shiplog/rowio"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
	"github.com/shiplog/shiplog/state"
	"github.com/shiplog/shiplog/transform"
	"github.com/shiplog/shiplog/verify"
)

// Copier copies the tables of a plan. Give it only what it uses.
type Copier struct {
	Source *sql.DB
	Dest   *sql.DB
	Writer *mysqlsink.Writer
	State  *state.State
	Plan   *transform.Plan
	// ChunkRows is the rows per chunk; 0 = automatic (sized to about 4 MiB).
	ChunkRows int
	// Workers copy tables, and key ranges of large tables, in parallel;
	// 0 = automatic. Each holds at most three chunks (read, queued,
	// written), so they bound the copy's memory.
	Workers int
	// RangeRows is the fewest rows (estimated) of each key range a large
	// table is split into, to copy its ranges in parallel; 0 =
	// DefaultRangeRows, negative: tables are copied whole.
	RangeRows int64
	// DeferIndexRows is the fewest rows (estimated) of a table copied
	// afresh whose destination's plain secondary indexes are dropped
	// before its first chunk and built after its last (indexes.go); 0 =
	// DefaultDeferIndexRows, negative: never.
	DeferIndexRows int64
	Logger         *slog.Logger
	// Progress, when set, is called after each committed chunk.
	Progress func(table string, rows int64)
	// NoBinlog copies without a binlog position (delta from change-log
	// tables needs none).
	NoBinlog bool
	// Publish, when set, gets each chunk's source rows before the chunk is
	// committed (the Kafka sink); it must return only once they are durable.
	Publish func(ctx context.Context, t *cdc.Table, rows [][]any, pos cdc.Position) error
	// StateOnly records progress without writing rows to the destination
	// (sink: kafka, where the destination database keeps only the state).
	StateOnly bool
	// Volume runs the volume check of each copied table (verify.Volume)
	// against Dest: it counts the table on both sides, the source in the
	// copy's snapshot, in the key ranges the copy saw (so the source side
	// needs no counting).
	Volume bool
	// After maps a table (source name) to the tables whose copies must take
	// their snapshot before its own does (foreign key parents, so a cascade
	// that passes through a child's copy is in its grandchildren's copies
	// too). It must have no cycles.
	After map[string][]string

	failed atomic.Int64
	// started[t] is closed once table t's snapshot position is taken.
	started map[string]chan struct{}
	// estimates[schema][table] are the source's row estimates (Run reads
	// them once, before any job starts).
	estimates map[string]map[string]int64
	// share is the estimated rows left to copy per worker: a table is split
	// into key ranges only when it holds more (planRanges).
	share int64
}

// Result summarises a copy.
type Result struct {
	Tables int
	Rows   int64
	// Start is the position delta streaming starts from: the lowest position any
	// table's copy is consistent with.
	Start cdc.Position
	// Warnings are volume differences that may be explained by resumed copies.
	Warnings []string
	// Failed counts rows a handler could not transform (recorded in the
	// failed-rows table).
	Failed int64
}

// ErrVolume is returned when a table's destination row count differs from the
// source's at the snapshot the table was copied in.
var ErrVolume = errors.New("volume check failed")

// Run copies every table of the plan not yet done, in parallel, and returns once
// all are copied (or on the first error, which cancels the rest). Progress is
// committed with each chunk, so a killed Run resumes where it stopped.
func (c *Copier) Run(ctx context.Context) (Result, error) {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	log := c.Logger
	progress, err := c.State.Progress(ctx)
	if err != nil {
		return Result{}, err
	}
	c.estimates = nil
	// Indexes a killed copy dropped come back before anything is copied.
	if err := c.restoreRecordedIndexes(ctx); err != nil {
		return Result{}, err
	}
	tables := c.Plan.Tables()
	workers := c.Workers
	if workers <= 0 {
		workers = min(2*runtime.NumCPU(), 8)
	}
	var res Result
	var rowsTotal atomic.Int64
	// Parents start before their children (After): tables go in order of
	// depth, so a worker never waits on a table no worker has taken.
	tables = c.ordered(tables)
	if progress, err = c.recopyAfterNewSnapshot(ctx, log, tables, progress); err != nil {
		return Result{}, err
	}
	if c.share, err = c.rowsPerWorker(ctx, tables, progress, workers); err != nil {
		return Result{}, err
	}
	c.started = make(map[string]chan struct{}, len(tables))
	for _, tp := range tables {
		ch := make(chan struct{})
		if p, ok := progress[tp.Source.Name]; ok && p.State == state.TableDone {
			close(ch) // copied before
		}
		c.started[tp.Source.Name] = ch
	}
	// A table is one job, or one per key range (rangedTable); jobs go in
	// the order of tables, so a table's ranges start together.
	type job struct {
		tp  *transform.TablePlan
		p   state.TableProgress
		ok  bool
		rt  *rangedTable
		rng int
	}
	var jobs []job
	var ranged []*rangedTable
	defer func() {
		for _, rt := range ranged {
			rt.close(ctx)
		}
	}()
	for _, tp := range tables {
		p, ok := progress[tp.Source.Name]
		if ok && p.State == state.TableDone {
			log.Info("table already copied", "stage", "data", "table", tp.Source.Name, "rows", p.Rows)
			continue
		}
		rt, err := c.rangedTable(ctx, log.With("table", tp.Source.Name), tp, p, ok, workers)
		if err != nil {
			return res, err
		}
		if rt == nil {
			jobs = append(jobs, job{tp: tp, p: p, ok: ok})
			continue
		}
		ranged = append(ranged, rt)
		n := 0
		for i, r := range rt.ranges {
			if !r.Done {
				jobs = append(jobs, job{tp: tp, rt: rt, rng: i})
				n++
			}
		}
		if n == 0 { // every range copied: only the table is left to finish
			jobs = append(jobs, job{tp: tp, rt: rt, rng: -1})
			n = 1
		}
		rt.left.Store(int32(n))
	}
	warnings := make(chan string, len(jobs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, j := range jobs {
		g.Go(func() error {
			var n int64
			var warn string
			var err error
			if j.rt != nil {
				n, warn, err = c.copyRange(gctx, j.rt, j.rng)
			} else {
				n, warn, err = c.copyTable(gctx, log.With("table", j.tp.Source.Name), j.tp, j.p, j.ok)
			}
			rowsTotal.Add(n)
			if warn != "" {
				warnings <- warn
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	close(warnings)
	for w := range warnings {
		res.Warnings = append(res.Warnings, w)
	}
	// Every table is done: the stream starts at the lowest snapshot position.
	if progress, err = c.State.Progress(ctx); err != nil {
		return res, err
	}
	for _, tp := range tables {
		p := progress[tp.Source.Name]
		if res.Start.IsZero() || p.SnapshotPos.Compare(res.Start) < 0 {
			res.Start = p.SnapshotPos
		}
	}
	res.Tables, res.Rows, res.Failed = len(tables), rowsTotal.Load(), c.failed.Load()
	return res, nil
}

// recopyAfterNewSnapshot forgets the progress of the tables that follow
// (After, transitively) a table whose unfinished copy takes a new snapshot
// now (resumed after a kill, or restarted: a table without a key): they
// were copied from snapshots taken before it, and a cascade that source
// foreign keys ran between the two (deleting rows of the table its new
// snapshot no longer has, and their children in the earlier copies) would
// leave rows in them the stream cannot reach, since the rows that lead to
// them never reach the destination. Copied again after it, each holds what
// its parents' copies hold. It returns progress without them.
func (c *Copier) recopyAfterNewSnapshot(ctx context.Context, log *slog.Logger, tables []*transform.TablePlan, progress map[string]state.TableProgress) (map[string]state.TableProgress, error) {
	if len(c.After) == 0 {
		return progress, nil
	}
	children := map[string][]string{}
	for child, parents := range c.After {
		for _, p := range parents {
			children[p] = append(children[p], child)
		}
	}
	forget := map[string]string{} // table -> the table whose new snapshot it follows
	var walk func(t, cause string, depth int)
	walk = func(t, cause string, depth int) {
		if depth > 64 {
			return
		}
		for _, ch := range children[t] {
			if _, ok := forget[ch]; ok {
				continue
			}
			if _, ok := progress[ch]; ok {
				forget[ch] = cause
			}
			walk(ch, cause, depth+1)
		}
	}
	for _, tp := range tables {
		// Started (a snapshot taken: its position, or with change logs
		// its segment count, is recorded) and not finished.
		if p, ok := progress[tp.Source.Name]; ok && p.State != state.TableDone && (p.Segments > 0 || !p.SnapshotPos.IsZero()) {
			walk(tp.Source.Name, tp.Source.Name, 0)
		}
	}
	if len(forget) == 0 {
		return progress, nil
	}
	names := make([]string, 0, len(forget))
	for t := range forget {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		log.Info("copying again: it follows the foreign keys of a table whose copy resumes in a new snapshot", "stage", "data", "table", t, "after", forget[t])
	}
	if err := c.State.ForgetProgress(ctx, names...); err != nil {
		return nil, err
	}
	out := make(map[string]state.TableProgress, len(progress))
	for t, p := range progress {
		if _, ok := forget[t]; !ok {
			out[t] = p
		}
	}
	return out, nil
}

// ordered sorts tables by their depth in After (parents first), keeping
// the plan's order within a depth.
func (c *Copier) ordered(tables []*transform.TablePlan) []*transform.TablePlan {
	if len(c.After) == 0 {
		return tables
	}
	depth := map[string]int{}
	var d func(t string, n int) int
	d = func(t string, n int) int {
		if v, ok := depth[t]; ok {
			return v
		}
		best := 0
		if n < 64 { // After has no cycles; bounded anyway
			for _, p := range c.After[t] {
				best = max(best, d(p, n+1)+1)
			}
		}
		depth[t] = best
		return best
	}
	out := append([]*transform.TablePlan(nil), tables...)
	sort.SliceStable(out, func(i, j int) bool { return d(out[i].Source.Name, 0) < d(out[j].Source.Name, 0) })
	return out
}

func (c *Copier) copyTable(ctx context.Context, log *slog.Logger, tp *transform.TablePlan, p state.TableProgress, resumed bool) (int64, string, error) {
	st := tp.Source
	start := time.Now()
	if tp.FullRow && resumed && p.Rows > 0 {
		resumed = false // rows without a key cannot be resumed: copy again
		log.Info("restarting copy of a table without key", "stage", "data")
	}
	var deferred []state.DeferredIndex
	if !resumed || p.LastKey == nil && p.Rows == 0 {
		if err := c.emptyDest(ctx, tp); err != nil {
			return 0, "", err
		}
		p = state.TableProgress{Table: st.Name, State: state.TableCopying}
		var err error
		if deferred, err = c.dropIndexes(ctx, tp); err != nil {
			return 0, "", err
		}
	}
	if err := c.waitParents(ctx, st.Name); err != nil {
		return 0, "", err
	}
	snap, err := beginSnapshot(ctx, c.Source, !c.NoBinlog)
	if err != nil {
		return 0, "", err
	}
	defer snap.close(ctx)
	if p.SnapshotPos.IsZero() {
		p.SnapshotPos = snap.pos
	}
	p.Segments++
	p.State = state.TableCopying
	if err := c.State.SaveProgress(ctx, nil, p); err != nil {
		return 0, "", err
	}
	// Logged before its children may start, so the log shows the order.
	log.Info("copying table", "stage", "data", "step", "copy", "resume_rows", p.Rows, "snapshot", snap.pos.String())
	c.markStarted(st.Name)

	var copied int64
	var err2 error
	var ranges *verify.KeyRanges
	if tp.FullRow {
		copied, err2 = c.copyFullRow(ctx, snap, tp, &p)
	} else {
		copied, ranges, err2 = c.copyKeyed(ctx, snap.conn, tp, &p, nil, len(deferred) > 0)
	}
	if err2 != nil {
		return copied, "", err2
	}
	if len(deferred) > 0 {
		// The rows are in: the indexes are built, then the table is done.
		if err := c.finishIndexed(ctx, log, p, deferred); err != nil {
			return copied, "", err
		}
	}
	if c.StateOnly {
		log.Info("table published", "stage", "data", "step", "copy", "rows", p.Rows, "seconds", time.Since(start).Seconds())
		return copied, "", nil
	}
	warn, err := c.checkVolume(ctx, log, snap, tp, ranges, p.Segments)
	if err != nil {
		return copied, "", err
	}
	log.Info("table copied", "stage", "data", "step", "copy", "rows", p.Rows, "seconds", time.Since(start).Seconds())
	return copied, warn, nil
}

// rangedTable returns how a table not yet copied is copied in key ranges, or
// nil when it is copied whole: a table whose ranges were recorded resumes
// them; one copied afresh is split when it is large (planRanges).
func (c *Copier) rangedTable(ctx context.Context, log *slog.Logger, tp *transform.TablePlan, p state.TableProgress, resumed bool, workers int) (*rangedTable, error) {
	rt := &rangedTable{tp: tp, log: log, p: p, workers: workers}
	if resumed {
		saved, err := c.State.Ranges(ctx, tp.Source.Name)
		if err != nil {
			return nil, err
		}
		if len(saved) > 0 {
			rt.ranges = saved
		}
	}
	if rt.ranges == nil {
		if resumed && (p.LastKey != nil || p.Rows > 0) || !c.splittable(tp) {
			return nil, nil // a whole copy resumes whole
		}
		ranges, err := c.planRanges(ctx, tp, workers)
		if err != nil || ranges == nil {
			return nil, err
		}
		rt.ranges, rt.fresh = ranges, true
	}
	n := len(rt.ranges)
	rt.known, rt.ends, rt.counts = make([]*verify.KeyRanges, n), make([][]any, n), make([]int64, n)
	for i, r := range rt.ranges {
		rt.rows.Add(r.Rows)
		rt.ends[i], rt.counts[i] = r.LastKey, r.Rows
	}
	return rt, nil
}

// emptyDest deletes what a table copied afresh has in the destination (the
// reference empties tables that were not finished).
func (c *Copier) emptyDest(ctx context.Context, tp *transform.TablePlan) error {
	if c.StateOnly {
		return nil // nothing written to empty
	}
	// Side tables hold only rows the table's rows own.
	// Rows other plans' routes write into Dest are not its own
	// (transform.TablePlan.WithOwnRows).
	own, _ := tp.OwnRows()
	for _, t := range append([]*cdc.Table{tp.Dest}, tp.SideTables()...) {
		where := ""
		if t == tp.Dest && own != "" {
			where = " WHERE " + own
		}
		if _, err := c.Dest.ExecContext(ctx, "DELETE FROM "+rowio.QuoteIdent(t.Schema)+"."+rowio.QuoteIdent(t.Name)+where); err != nil {
			return fmt.Errorf("empty destination table %s: %w", t.Name, err)
		}
	}
	return nil
}

// waitParents waits until the tables table's copy comes After have taken
// their snapshots.
func (c *Copier) waitParents(ctx context.Context, table string) error {
	for _, parent := range c.After[table] {
		if ch, ok := c.started[parent]; ok {
			select {
			case <-ch:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// markStarted records that table's snapshot is taken (its children may
// start).
func (c *Copier) markStarted(table string) {
	if ch := c.started[table]; ch != nil {
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
}

// checkVolume runs the volume check of a copied table: the destination must
// hold what the source held at the snapshot (still open: the source side is
// counted in it). A difference is an error for a copy made in one snapshot,
// a warning (returned) for one resumed across snapshots.
func (c *Copier) checkVolume(ctx context.Context, log *slog.Logger, snap *snapshotTx, tp *transform.TablePlan, ranges *verify.KeyRanges, segments int) (string, error) {
	if !c.Volume {
		return "", nil
	}
	st := tp.Source
	vol, err := verify.Volume(ctx, snap.conn, c.Dest, tp, ranges)
	if err != nil {
		return "", fmt.Errorf("volume check of %s: %w", tp.Dest.Name, err)
	}
	failed, err := c.State.CountFailures(ctx, st.Name)
	if err != nil {
		return "", err
	}
	// Failed rows are missing from their ranges: then only the totals can agree.
	if vol.Equal() && failed == 0 || failed > 0 && vol.DestRows+failed == vol.SourceRows {
		return "", nil
	}
	msg := fmt.Sprintf("table %s: source has %d rows at the snapshot, destination %s has %d and %d failed", st.Name, vol.SourceRows, tp.Dest.Name, vol.DestRows, failed)
	if detail := vol.Detail(); detail != "" {
		msg += "; " + detail
	}
	if segments == 1 {
		return "", fmt.Errorf("%w: %s", ErrVolume, msg)
	}
	// A resumed copy reads parts of the table at different moments; the
	// stream, which starts at the earliest of them, reconciles the rest.
	warn := msg + " (copy resumed across snapshots; delta reconciles it)"
	log.Warn("volume differs after resumed copy", "stage", "volume", "detail", warn)
	return warn, nil
}

// copyKeyed copies t chunk by chunk in key order, each chunk committed with the
// key it reached, reading conn (in the table's snapshot). With p.Range, it
// copies that key range (whose progress p is) and adds its rows to
// tableRows; it does not count the table then. With holdDone the last
// chunk leaves p copying (the caller marks it done).
func (c *Copier) copyKeyed(ctx context.Context, conn *sql.Conn, tp *transform.TablePlan, p *state.TableProgress, tableRows *atomic.Int64, holdDone bool) (int64, *verify.KeyRanges, error) {
	st := tp.Source
	// A copy from the first key in this one snapshot sees the whole table:
	// it notes the key ranges and the row count for the volume check.
	var ranges *verify.KeyRanges
	if p.LastKey == nil && p.Rows == 0 {
		ranges = &verify.KeyRanges{Every: verify.VolumeRangeRows}
	}
	// The next chunk is read from the source while the last one is written
	// to the destination: both servers work at once. The reader owns the
	// snapshot connection until it sends the last chunk.
	type chunk struct {
		rows       [][]any
		prepared   preparedChunk
		last       bool
		sourceRows int64 // with last: the table's rows in the snapshot
		err        error
	}
	rctx, cancel := context.WithCancel(ctx)
	chunks := make(chan chunk, 1)
	// On any return the reader is stopped and waited for: the snapshot
	// connection is the caller's again.
	defer func() {
		cancel()
		for ch := range chunks {
			if ch.prepared.chunk != nil {
				ch.prepared.chunk.Release()
			}
		}
	}()
	after, pos := p.LastKey, p.SnapshotPos
	go func() {
		defer close(chunks)
		size := c.ChunkRows
		if size <= 0 {
			size = 2000
		}
		for {
			rows, err := readRange(rctx, conn, st, p.Range, after, size)
			if err != nil {
				chunks <- chunk{err: fmt.Errorf("source table %s: %w", st.Name, err)}
				return
			}
			ch := chunk{rows: rows, last: len(rows) < size}
			if ranges != nil {
				for i := range rows {
					if ranges.Rows++; ranges.Rows%int64(ranges.Every) == 0 {
						ranges.Bounds = append(ranges.Bounds, st.KeyOf(rows[i]))
					}
				}
			}
			if len(rows) > 0 {
				after = st.KeyOf(rows[len(rows)-1])
				if c.ChunkRows <= 0 {
					size = autoChunk(rows)
				}
			}
			// Transformed and encoded here, while the writer writes the
			// previous chunk.
			if ch.prepared, err = c.prepareChunk(tp, rows, pos); err != nil {
				ch.err = err
			}
			if ch.last && ch.err == nil {
				if ranges != nil {
					ch.sourceRows = ranges.Rows
				} else if p.Range != nil {
					// the table is counted once its ranges are done
				} else if ch.sourceRows, err = c.countSource(rctx, conn, tp); err != nil {
					ch.err = err
				}
			}
			select {
			case chunks <- ch:
			case <-rctx.Done():
				if ch.prepared.chunk != nil {
					ch.prepared.chunk.Release()
				}
				return
			}
			if ch.last || ch.err != nil {
				return
			}
		}
	}()
	var copied int64
	for ch := range chunks {
		if ch.err != nil {
			return copied, nil, ch.err
		}
		shown := p.Rows
		if len(ch.rows) > 0 {
			p.LastKey = st.KeyOf(ch.rows[len(ch.rows)-1])
			p.Rows += int64(len(ch.rows))
			copied += int64(len(ch.rows))
			shown = p.Rows
			if tableRows != nil {
				shown = tableRows.Add(int64(len(ch.rows)))
			}
		}
		if ch.last {
			p.SourceRows = &ch.sourceRows
			if !holdDone {
				p.State = state.TableDone
			}
		}
		if err := c.commitChunk(ctx, tp, ch.prepared, *p, shown); err != nil {
			return copied, nil, err
		}
		if ch.last {
			return copied, ranges, nil
		}
	}
	return copied, nil, ctx.Err()
}

// copyFullRow copies a table without a key in one streaming pass; its progress
// counts rows only, so an interrupted copy starts the table again.
func (c *Copier) copyFullRow(ctx context.Context, snap *snapshotTx, tp *transform.TablePlan, p *state.TableProgress) (int64, error) {
	st := tp.Source
	chunk := c.ChunkRows
	if chunk <= 0 {
		chunk = 2000
	}
	stmt, err := snap.conn.PrepareContext(ctx, string(rowio.SelectColumns(nil, st)))
	if err != nil {
		return 0, fmt.Errorf("source table %s: %w", st.Name, err)
	}
	defer stmt.Close()
	rows, err := stmt.QueryContext(ctx)
	if err != nil {
		return 0, fmt.Errorf("source table %s: %w", st.Name, err)
	}
	defer rows.Close()
	var copied int64
	var buf [][]any
	for {
		row, ok, err := rowio.ScanRow(rows, st)
		if err != nil {
			return copied, fmt.Errorf("source table %s: %w", st.Name, err)
		}
		if ok {
			buf = append(buf, row)
		}
		if len(buf) < chunk && ok {
			continue
		}
		p.Rows += int64(len(buf))
		copied += int64(len(buf))
		if !ok {
			rows.Close()
			if err := c.finish(ctx, snap, tp, p); err != nil {
				return copied, err
			}
		}
		if err := c.writeChunk(ctx, tp, buf, *p); err != nil {
			return copied, err
		}
		buf = buf[:0]
		if !ok {
			return copied, nil
		}
	}
}

// countSource counts the source table's rows in the snapshot.
func (c *Copier) countSource(ctx context.Context, conn *sql.Conn, tp *transform.TablePlan) (int64, error) {
	var n int64
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+rowio.QuoteIdent(tp.Source.Schema)+"."+rowio.QuoteIdent(tp.Source.Name)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count source table %s: %w", tp.Source.Name, err)
	}
	return n, nil
}

// finishIndexed adds back the indexes dropped for a table's copy and marks
// the table done (p), forgetting their records in the same transaction.
func (c *Copier) finishIndexed(ctx context.Context, log *slog.Logger, p state.TableProgress, deferred []state.DeferredIndex) error {
	failpoint.Hit(failpoint.CopyBeforeIndexesAdded)
	start := time.Now()
	if err := c.addIndexes(ctx, deferred); err != nil {
		return err
	}
	log.Info("secondary indexes built", "stage", "data", "step", "copy", "indexes", indexNames(deferred), "seconds", time.Since(start).Seconds())
	p.State = state.TableDone
	return c.State.FinishTable(ctx, p)
}

// finish marks p done and records the source row count at the snapshot.
func (c *Copier) finish(ctx context.Context, snap *snapshotTx, tp *transform.TablePlan, p *state.TableProgress) error {
	n, err := c.countSource(ctx, snap.conn, tp)
	if err != nil {
		return err
	}
	p.SourceRows = &n
	p.State = state.TableDone
	return nil
}

func autoChunk(rows [][]any) int {
	var size int
	for _, r := range rows {
		size += cdc.ValueSize(r)
	}
	avg := max(size/len(rows), 1)
	return min(max((4<<20)/avg, 100), 20000)
}
