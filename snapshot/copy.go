// Package snapshot is data mode: a consistent, chunked, resumable copy of every
// mapped source table into the destination, with the binlog position each table's
// copy is consistent with, and a volume check after it.
package snapshot

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/failpoint"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
	"github.com/shiplog/shiplog/transform"
)

// Copier copies the tables of a plan. Give it only what it uses.
type Copier struct {
	Source *sql.DB
	Dest   *sql.DB
	Writer *mysqlsink.Writer
	State  *mysqlsink.State
	Plan   *transform.Plan
	// ChunkRows is the rows per chunk; 0 = automatic (sized to about 4 MiB).
	ChunkRows int
	// Workers copy tables in parallel; 0 = automatic.
	Workers int
	Logger  *slog.Logger
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
	// Volume is the volume check of a copied table (verify.VolumeCheck): it
	// counts the table on both sides, src being the connection that holds
	// the copy's snapshot; ranges, when not nil, are the source's key ranges
	// the copy saw, so the source side needs no counting. Nil: no check.
	Volume func(ctx context.Context, src *sql.Conn, tp *transform.TablePlan, ranges *KeyRanges) (VolumeCount, error)
	// After maps a table (source name) to the tables whose copies must take
	// their snapshot before its own does (foreign key parents, so a cascade
	// that passes through a child's copy is in its grandchildren's copies
	// too). It must have no cycles.
	After map[string][]string

	failed atomic.Int64
	// started[t] is closed once table t's snapshot position is taken.
	started map[string]chan struct{}
}

// VolumeCount is a volume check's result.
type VolumeCount struct {
	SourceRows, DestRows int64
	// Equal: every counted part holds as many rows on both sides.
	Equal bool
	// Detail names the rows that differ, when known.
	Detail string
}

// KeyRanges describe a table as one consistent read of it in key order saw
// it: Bounds[i] is the key of row (i+1)*Every, Rows the rows in all.
type KeyRanges struct {
	Every  int
	Bounds [][]any
	Rows   int64
}

// VolumeRangeRows is the rows between two bounds of the KeyRanges a copy
// collects (the volume check counts the destination in the same ranges).
const VolumeRangeRows = 10_000

// Failure describes a source row of tp that a handler could not transform.
// Rows of keyed tables are recorded by key (a retry reads the row again); rows
// of full-row tables whole.
func Failure(tp *transform.TablePlan, row []any, err error, pos cdc.Position) (cdc.Failure, error) {
	var he *transform.HandlerError
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
	tables := c.Plan.Tables()
	workers := c.Workers
	if workers <= 0 {
		workers = min(2*runtime.NumCPU(), 8)
	}
	var res Result
	var rowsTotal atomic.Int64
	var warnings = make(chan string, len(tables))
	// Parents start before their children (After): tables go in order of
	// depth, so a worker never waits on a table no worker has taken.
	tables = c.ordered(tables)
	c.started = make(map[string]chan struct{}, len(tables))
	for _, tp := range tables {
		ch := make(chan struct{})
		if p, ok := progress[tp.Source.Name]; ok && !p.SnapshotPos.IsZero() {
			close(ch) // its first snapshot was taken before
		}
		c.started[tp.Source.Name] = ch
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, tp := range tables {
		p, ok := progress[tp.Source.Name]
		if ok && p.State == mysqlsink.TableDone {
			log.Info("table already copied", "stage", "data", "table", tp.Source.Name, "rows", p.Rows)
			continue
		}
		g.Go(func() error {
			n, warn, err := c.copyTable(gctx, log.With("table", tp.Source.Name), tp, p, ok)
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

// snapshotTx is a source connection inside a consistent-snapshot transaction.
type snapshotTx struct {
	conn *sql.Conn
	pos  cdc.Position
}

// beginSnapshot opens a read-only consistent snapshot and the binlog position it
// matches: MariaDB reports it for the snapshot itself (binlog_snapshot_file and
// _position); elsewhere a short global read lock pins it.
func beginSnapshot(ctx context.Context, db *sql.DB, needPos bool) (*snapshotTx, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("source: connect: %w", err)
	}
	s := &snapshotTx{conn: conn}
	fail := func(err error) (*snapshotTx, error) {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		conn.Close()
		return nil, err
	}
	for _, q := range []string{
		"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
		"SET time_zone = '+00:00'",
		// Raw column bytes, as the binlog carries them, whatever the charset.
		"SET character_set_results = NULL",
		"START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fail(fmt.Errorf("source: %s: %w", q, err))
		}
	}
	if !needPos {
		return s, nil
	}
	file, pos, found, err := showPair(ctx, conn, "SHOW STATUS LIKE 'binlog_snapshot_%'", "Binlog_snapshot_file", "Binlog_snapshot_position")
	if err != nil {
		return fail(err)
	}
	if !found {
		// MySQL: pin the position with a global read lock around the snapshot start.
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			return fail(err)
		}
		for _, q := range []string{"FLUSH TABLES WITH READ LOCK", "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				_, _ = conn.ExecContext(ctx, "UNLOCK TABLES")
				return fail(fmt.Errorf("source: %s: %w", q, err))
			}
		}
		file, pos, found, err = showMasterStatus(ctx, conn)
		_, _ = conn.ExecContext(ctx, "UNLOCK TABLES")
		if err != nil {
			return fail(err)
		}
	}
	if !found || file == "" {
		return fail(errors.New("source: no binlog position for the snapshot (is log_bin on?)"))
	}
	s.pos = cdc.Position{File: file, Pos: pos}
	return s, nil
}

func (s *snapshotTx) close(ctx context.Context) {
	_, _ = s.conn.ExecContext(context.WithoutCancel(ctx), "COMMIT")
	s.conn.Close()
}

func showPair(ctx context.Context, conn *sql.Conn, q, fileVar, posVar string) (string, uint64, bool, error) {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return "", 0, false, fmt.Errorf("source: %s: %w", q, err)
	}
	defer rows.Close()
	var file string
	var pos uint64
	var seen int
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return "", 0, false, err
		}
		switch name {
		case fileVar:
			file = value
			seen++
		case posVar:
			fmt.Sscan(value, &pos)
			seen++
		}
	}
	return file, pos, seen == 2, rows.Err()
}

func showMasterStatus(ctx context.Context, conn *sql.Conn) (string, uint64, bool, error) {
	rows, err := conn.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		// MySQL 8.4 renamed it.
		var err2 error
		if rows, err2 = conn.QueryContext(ctx, "SHOW BINARY LOG STATUS"); err2 != nil {
			return "", 0, false, fmt.Errorf("source: SHOW MASTER STATUS: %w", err)
		}
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		return "", 0, false, rows.Err()
	}
	vals := make([]any, len(cols))
	var file string
	var pos uint64
	vals[0], vals[1] = &file, &pos
	for i := 2; i < len(vals); i++ {
		vals[i] = new(sql.RawBytes)
	}
	if err := rows.Scan(vals...); err != nil {
		return "", 0, false, err
	}
	return file, pos, true, nil
}

func (c *Copier) copyTable(ctx context.Context, log *slog.Logger, tp *transform.TablePlan, p mysqlsink.TableProgress, resumed bool) (int64, string, error) {
	st := tp.Source
	start := time.Now()
	if tp.FullRow && resumed && p.Rows > 0 {
		resumed = false // rows without a key cannot be resumed: copy again
		log.Info("restarting copy of a table without key", "stage", "data")
	}
	if !resumed || p.LastKey == nil && p.Rows == 0 {
		// The reference empties tables that were not finished.
		if c.StateOnly {
			// nothing written to empty
		} else if _, err := c.Dest.ExecContext(ctx, "DELETE FROM "+mysqlsink.QuoteIdent(tp.Dest.Schema)+"."+mysqlsink.QuoteIdent(tp.Dest.Name)); err != nil {
			return 0, "", fmt.Errorf("empty destination table %s: %w", tp.Dest.Name, err)
		}
		p = mysqlsink.TableProgress{Table: st.Name, State: mysqlsink.TableCopying}
	}
	for _, parent := range c.After[st.Name] {
		if ch, ok := c.started[parent]; ok {
			select {
			case <-ch:
			case <-ctx.Done():
				return 0, "", ctx.Err()
			}
		}
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
	p.State = mysqlsink.TableCopying
	if err := c.State.SaveProgress(ctx, nil, p); err != nil {
		return 0, "", err
	}
	if ch := c.started[st.Name]; ch != nil {
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
	log.Info("copying table", "stage", "data", "step", "copy", "resume_rows", p.Rows, "snapshot", snap.pos.String())

	var copied int64
	var err2 error
	var ranges *KeyRanges
	if tp.FullRow {
		copied, err2 = c.copyFullRow(ctx, snap, tp, &p)
	} else {
		copied, ranges, err2 = c.copyKeyed(ctx, snap, tp, &p)
	}
	if err2 != nil {
		return copied, "", err2
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

// checkVolume runs the volume check of a copied table: the destination must
// hold what the source held at the snapshot (still open: the source side is
// counted in it). A difference is an error for a copy made in one snapshot,
// a warning (returned) for one resumed across snapshots.
func (c *Copier) checkVolume(ctx context.Context, log *slog.Logger, snap *snapshotTx, tp *transform.TablePlan, ranges *KeyRanges, segments int) (string, error) {
	if c.Volume == nil {
		return "", nil
	}
	st := tp.Source
	vol, err := c.Volume(ctx, snap.conn, tp, ranges)
	if err != nil {
		return "", fmt.Errorf("volume check of %s: %w", tp.Dest.Name, err)
	}
	failed, err := c.State.CountFailures(ctx, st.Name)
	if err != nil {
		return "", err
	}
	// Failed rows are missing from their ranges: then only the totals can agree.
	if vol.Equal && failed == 0 || failed > 0 && vol.DestRows+failed == vol.SourceRows {
		return "", nil
	}
	msg := fmt.Sprintf("table %s: source has %d rows at the snapshot, destination %s has %d and %d failed", st.Name, vol.SourceRows, tp.Dest.Name, vol.DestRows, failed)
	if vol.Detail != "" {
		msg += "; " + vol.Detail
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
// key it reached.
func (c *Copier) copyKeyed(ctx context.Context, snap *snapshotTx, tp *transform.TablePlan, p *mysqlsink.TableProgress) (int64, *KeyRanges, error) {
	st := tp.Source
	// A copy from the first key in this one snapshot sees the whole table:
	// it notes the key ranges and the row count for the volume check.
	var ranges *KeyRanges
	if p.LastKey == nil && p.Rows == 0 {
		ranges = &KeyRanges{Every: VolumeRangeRows}
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
			rows, err := readChunk(rctx, snap.conn, st, after, size)
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
				} else if ch.sourceRows, err = c.countSource(rctx, snap, tp); err != nil {
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
		if len(ch.rows) > 0 {
			p.LastKey = st.KeyOf(ch.rows[len(ch.rows)-1])
			p.Rows += int64(len(ch.rows))
			copied += int64(len(ch.rows))
		}
		if ch.last {
			p.SourceRows = &ch.sourceRows
			p.State = mysqlsink.TableDone
		}
		if err := c.commitChunk(ctx, tp, ch.prepared, *p); err != nil {
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
func (c *Copier) copyFullRow(ctx context.Context, snap *snapshotTx, tp *transform.TablePlan, p *mysqlsink.TableProgress) (int64, error) {
	st := tp.Source
	chunk := c.ChunkRows
	if chunk <= 0 {
		chunk = 2000
	}
	stmt, err := snap.conn.PrepareContext(ctx, string(selectColumns(nil, st)))
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
		row, ok, err := scanRow(rows, st)
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

func (c *Copier) writeChunk(ctx context.Context, tp *transform.TablePlan, rows [][]any, p mysqlsink.TableProgress) error {
	pc, err := c.prepareChunk(tp, rows, p.SnapshotPos)
	if err != nil {
		return err
	}
	return c.commitChunk(ctx, tp, pc, p)
}

// preparedChunk is a chunk of source rows transformed (and encoded for the
// writer), ready to commit.
type preparedChunk struct {
	rows   [][]any // source rows (for Publish)
	chunk  *mysqlsink.Chunk
	failed []cdc.Failure
}

// prepareChunk transforms rows through the plan and prepares them for the
// writer; it touches neither database.
func (c *Copier) prepareChunk(tp *transform.TablePlan, rows [][]any, pos cdc.Position) (preparedChunk, error) {
	pc := preparedChunk{rows: rows}
	if c.StateOnly {
		return pc, nil
	}
	dst := make([][]any, 0, len(rows))
	for _, r := range rows {
		out, err := tp.Row(r)
		if err != nil {
			f, ferr := Failure(tp, r, err, pos)
			if ferr != nil {
				return pc, ferr
			}
			pc.failed = append(pc.failed, f)
			continue
		}
		dst = append(dst, out)
	}
	pc.chunk = c.Writer.PrepareChunk(tp.Dest, dst, tp.FullRow)
	return pc, nil
}

// commitChunk publishes and writes a prepared chunk with its progress p.
func (c *Copier) commitChunk(ctx context.Context, tp *transform.TablePlan, pc preparedChunk, p mysqlsink.TableProgress) error {
	if pc.chunk != nil {
		defer pc.chunk.Release()
	}
	if c.Publish != nil && len(pc.rows) > 0 {
		if err := c.Publish(ctx, tp.Source, pc.rows, p.SnapshotPos); err != nil {
			return err
		}
	}
	if c.StateOnly {
		if err := c.State.SaveProgress(ctx, nil, p); err != nil {
			return err
		}
		failpoint.Hit(failpoint.CopyChunkCommitted)
		if c.Progress != nil {
			c.Progress(tp.Source.Name, p.Rows)
		}
		return nil
	}
	if err := c.Writer.WritePrepared(ctx, pc.chunk, p, pc.failed); err != nil {
		return err
	}
	failpoint.Hit(failpoint.CopyChunkCommitted)
	if len(pc.failed) > 0 {
		c.failed.Add(int64(len(pc.failed)))
		for _, f := range pc.failed {
			c.Logger.Warn("row could not be transformed; recorded in _shiplog_failed_rows", "stage", "data", "table", f.Table, "key", fmt.Sprint(f.Key), "handler", f.Handler, "field", f.Field, "error", f.Reason)
		}
	}
	if c.Progress != nil {
		c.Progress(tp.Source.Name, p.Rows)
	}
	return nil
}

// countSource counts the source table's rows in the snapshot.
func (c *Copier) countSource(ctx context.Context, snap *snapshotTx, tp *transform.TablePlan) (int64, error) {
	var n int64
	if err := snap.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+mysqlsink.QuoteIdent(tp.Source.Schema)+"."+mysqlsink.QuoteIdent(tp.Source.Name)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count source table %s: %w", tp.Source.Name, err)
	}
	return n, nil
}

// finish marks p done and records the source row count at the snapshot.
func (c *Copier) finish(ctx context.Context, snap *snapshotTx, tp *transform.TablePlan, p *mysqlsink.TableProgress) error {
	n, err := c.countSource(ctx, snap, tp)
	if err != nil {
		return err
	}
	p.SourceRows = &n
	p.State = mysqlsink.TableDone
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

// appendOrderByKey appends " ORDER BY" the key columns of t.
func appendOrderByKey(q []byte, t *cdc.Table) []byte {
	q = append(q, " ORDER BY "...)
	for i, k := range t.Key {
		if i > 0 {
			q = append(q, ',')
		}
		q = append(q, mysqlsink.QuoteIdent(t.Columns[k].Name)...)
	}
	return q
}

// selectColumns appends "SELECT cols FROM t".
func selectColumns(q []byte, t *cdc.Table) []byte {
	q = append(q, "SELECT "...)
	for i, c := range t.Columns {
		if i > 0 {
			q = append(q, ',')
		}
		q = append(q, mysqlsink.QuoteIdent(c.Name)...)
	}
	q = append(q, " FROM "...)
	return append(q, mysqlsink.QuoteIdent(t.Schema)+"."+mysqlsink.QuoteIdent(t.Name)...)
}

// readChunk reads up to limit rows of t after key `after` in key order, over the
// binary protocol (exact FLOAT/DOUBLE), normalised to the canonical value forms.
// The key condition is written as literals with the key columns' charsets, so
// keys in any charset compare by the column's collation and use its index.
func readChunk(ctx context.Context, conn *sql.Conn, t *cdc.Table, after []any, limit int) ([][]any, error) {
	q := selectColumns(make([]byte, 0, 256), t)
	if after != nil {
		var err error
		q = append(q, " WHERE "...)
		if q, err = appendAfter(q, t, after); err != nil {
			return nil, err
		}
	}
	q = appendOrderByKey(q, t)
	q = append(q, fmt.Sprintf(" LIMIT %d", limit)...)
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
	out := make([][]any, 0, limit)
	for {
		row, ok, err := scanRow(rows, t)
		if err != nil {
			return nil, err
		}
		if !ok {
			return out, nil
		}
		out = append(out, row)
	}
}

// scanRow reads the next row of rows as canonical values; ok is false at the end.
func scanRow(rows *sql.Rows, t *cdc.Table) ([]any, bool, error) {
	if !rows.Next() {
		return nil, false, rows.Err()
	}
	vals := make([]any, len(t.Columns))
	ptrs := make([]any, len(t.Columns))
	for i := range ptrs {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, false, err
	}
	for i, v := range vals {
		var err error
		if vals[i], err = Normalize(v, &t.Columns[i]); err != nil {
			return nil, false, fmt.Errorf("column %s: %w", t.Columns[i].Name, err)
		}
	}
	return vals, true, nil
}

// appendAfter appends the keyset condition "key > after", expanded so the range
// optimiser uses the key's index: k1 >= a AND (k1 > a OR (k1 = a AND k2 > b)).
func appendAfter(q []byte, t *cdc.Table, after []any) ([]byte, error) {
	var err error
	lit := func(q []byte, i int) ([]byte, error) {
		return mysqlsink.AppendLiteral(q, after[i], &t.Columns[t.Key[i]])
	}
	col := func(i int) string { return mysqlsink.QuoteIdent(t.Columns[t.Key[i]].Name) }
	q = append(q, col(0)+" >= "...)
	if q, err = lit(q, 0); err != nil {
		return q, err
	}
	q = append(q, " AND ("...)
	for i := range t.Key {
		if i > 0 {
			q = append(q, " OR "...)
		}
		q = append(q, '(')
		for j := 0; j < i; j++ {
			q = append(q, col(j)+" = "...)
			if q, err = lit(q, j); err != nil {
				return q, err
			}
			q = append(q, " AND "...)
		}
		q = append(q, col(i)+" > "...)
		if q, err = lit(q, i); err != nil {
			return q, err
		}
		q = append(q, ')')
	}
	return append(q, ')'), nil
}

// Normalize converts a value read over the binary protocol to its canonical form
// (see package cdc).
func Normalize(v any, c *cdc.Column) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.Kind() {
	case cdc.KindInt:
		switch x := v.(type) {
		case int64:
			return x, nil
		case uint64:
			return int64(x), nil
		case []byte:
			return strconv.ParseInt(string(x), 10, 64)
		}
	case cdc.KindUint:
		switch x := v.(type) {
		case int64:
			return uint64(x), nil
		case uint64:
			return x, nil
		case []byte: // the driver hands values above MaxInt64 over as text
			return strconv.ParseUint(string(x), 10, 64)
		}
	case cdc.KindFloat:
		switch x := v.(type) {
		case float32:
			return x, nil
		case float64:
			return float32(x), nil
		}
	case cdc.KindDouble:
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		}
	case cdc.KindYear:
		switch x := v.(type) {
		case int64:
			return x, nil
		case uint64:
			return int64(x), nil
		case []byte:
			var n int64
			_, err := fmt.Sscan(string(x), &n)
			return n, err
		}
	case cdc.KindBit:
		if b, ok := v.([]byte); ok {
			if len(b) > 8 {
				return nil, fmt.Errorf("BIT value of %d bytes", len(b))
			}
			var buf [8]byte
			copy(buf[8-len(b):], b)
			return binary.BigEndian.Uint64(buf[:]), nil
		}
	case cdc.KindDecimal, cdc.KindTemporal, cdc.KindEnumSet, cdc.KindJSON:
		switch x := v.(type) {
		case []byte:
			return string(x), nil
		case string:
			return x, nil
		}
	default:
		if c.NativeLen() > 0 {
			// UUID, INET6, INET4: the server sends the text form; the
			// canonical form is the native bytes the binlog carries.
			switch x := v.(type) {
			case []byte:
				return cdc.ParseNative(c.DataType, x)
			case string:
				return cdc.ParseNative(c.DataType, []byte(x))
			}
			break
		}
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return []byte(x), nil
		}
	}
	return nil, fmt.Errorf("unexpected %T for %s column", v, c.ColumnType)
}

// ReadRow reads the current row of t with the given key, in canonical form.
func ReadRow(ctx context.Context, db *sql.DB, t *cdc.Table, key []any) ([]any, bool, error) {
	conn, release, err := rawConn(ctx, db)
	if err != nil {
		return nil, false, err
	}
	defer release()
	q := selectColumns(make([]byte, 0, 256), t)
	q = append(q, " WHERE "...)
	for i, k := range t.Key {
		if i > 0 {
			q = append(q, " AND "...)
		}
		q = append(q, mysqlsink.QuoteIdent(t.Columns[k].Name)+" = "...)
		if q, err = mysqlsink.AppendLiteral(q, key[i], &t.Columns[k]); err != nil {
			return nil, false, err
		}
	}
	stmt, err := conn.PrepareContext(ctx, string(q))
	if err != nil {
		return nil, false, fmt.Errorf("source table %s: %w", t.Name, err)
	}
	defer stmt.Close()
	rows, err := stmt.QueryContext(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("source table %s: %w", t.Name, err)
	}
	defer rows.Close()
	return scanRow(rows, t)
}

// ReadTable calls fn with every row of t, in canonical form, outside any
// snapshot (for small tables such as settings).
func ReadTable(ctx context.Context, db *sql.DB, t *cdc.Table, fn func(row []any) error) error {
	conn, release, err := rawConn(ctx, db)
	if err != nil {
		return err
	}
	defer release()
	stmt, err := conn.PrepareContext(ctx, string(selectColumns(nil, t)))
	if err != nil {
		return fmt.Errorf("table %s: %w", t.Name, err)
	}
	defer stmt.Close()
	rows, err := stmt.QueryContext(ctx)
	if err != nil {
		return fmt.Errorf("table %s: %w", t.Name, err)
	}
	defer rows.Close()
	for {
		row, ok, err := scanRow(rows, t)
		if err != nil || !ok {
			return err
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}

// rawConn takes a connection of db that reads raw column bytes in UTC, as the
// snapshot does; release restores it and returns it to the pool.
func rawConn(ctx context.Context, db *sql.DB) (*sql.Conn, func(), error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	if _, err := conn.ExecContext(ctx, "SET character_set_results = NULL, time_zone = '+00:00'"); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SET character_set_results = utf8mb4")
		conn.Close()
	}, nil
}

// RawConn takes a connection of db that reads raw column bytes in UTC, as the
// snapshot does; release restores it and returns it to the pool.
func RawConn(ctx context.Context, db *sql.DB) (conn *sql.Conn, release func(), err error) {
	return rawConn(ctx, db)
}

// ReadRowsByKey reads the rows of t whose columns keyIdx equal one of keys,
// over conn (see RawConn), in canonical form; rows not found are left out.
func ReadRowsByKey(ctx context.Context, conn *sql.Conn, t *cdc.Table, keyIdx []int, keys [][]any) ([][]any, error) {
	var out [][]any
	const perQuery = 500
	for start := 0; start < len(keys); start += perQuery {
		part := keys[start:min(start+perQuery, len(keys))]
		q := selectColumns(make([]byte, 0, 1024), t)
		q = append(q, " WHERE ("...)
		for i, k := range keyIdx {
			if i > 0 {
				q = append(q, ',')
			}
			q = append(q, mysqlsink.QuoteIdent(t.Columns[k].Name)...)
		}
		q = append(q, ") IN ("...)
		var err error
		for n, key := range part {
			if n > 0 {
				q = append(q, ',')
			}
			q = append(q, '(')
			for i, k := range keyIdx {
				if i > 0 {
					q = append(q, ',')
				}
				if q, err = mysqlsink.AppendLiteral(q, key[i], &t.Columns[k]); err != nil {
					return nil, err
				}
			}
			q = append(q, ')')
		}
		q = append(q, ')')
		rows, err := func() ([][]any, error) {
			stmt, err := conn.PrepareContext(ctx, string(q))
			if err != nil {
				return nil, fmt.Errorf("source table %s: %w", t.Name, err)
			}
			defer stmt.Close()
			rs, err := stmt.QueryContext(ctx)
			if err != nil {
				return nil, fmt.Errorf("source table %s: %w", t.Name, err)
			}
			defer rs.Close()
			var got [][]any
			for {
				row, ok, err := scanRow(rs, t)
				if err != nil {
					return nil, err
				}
				if !ok {
					return got, nil
				}
				got = append(got, row)
			}
		}()
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}
