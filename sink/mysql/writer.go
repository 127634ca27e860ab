// Package mysql is the MySQL/MariaDB sink: it applies batches of row changes as
// idempotent multi-row upserts and deletes by key, committing shiplog's checkpoint
// in the same destination transaction, and keeps shiplog's state tables.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	gomysql "github.com/go-sql-driver/mysql"
	"golang.org/x/sync/errgroup"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/failpoint"
	"github.com/shiplog/shiplog/internal/mysqlerr"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/state"
)

// SessionParams are the session settings every destination connection gets:
// UTC for TIMESTAMP values (readers produce them in UTC); explicit zero ids kept
// as given; and, as the reference tool does, foreign keys unchecked while rows
// arrive in source order and no strict mode: the values come from columns of
// the source, which may hold what its own sql_mode once let in (ENUM ” error
// values, invalid or zero dates), and must land as they are. Values a
// narrower destination column would clip never get here: the plan checks
// them against the destination column (transform's fit) and makes them
// failed rows.
var SessionParams = map[string]string{
	"time_zone":          "'+00:00'",
	"sql_mode":           "'NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION'",
	"foreign_key_checks": "0",
}

// SessionConfig returns cfg with SessionParams and the utf8mb4 connection
// charset applied, for destination pools.
func SessionConfig(cfg *gomysql.Config) *gomysql.Config {
	c := cfg.Clone()
	if c.Params == nil {
		c.Params = map[string]string{}
	}
	for k, v := range SessionParams {
		c.Params[k] = v
	}
	rowio.SetCharset(c)
	c.InterpolateParams = true
	return c
}

// Writer applies batches to the destination. It is safe for concurrent use by
// snapshot workers (each call uses its own transaction); Write calls of the
// stream must come from one goroutine, in order.
type Writer struct {
	db    *sql.DB
	state *state.State
	log   *slog.Logger
	// maxStmt bounds the bytes of one statement (below max_allowed_packet).
	maxStmt int
	// parts is the number of apply partitions of Write (>= 1).
	parts int
	// skip[p] is the position partition p had applied when the stream
	// resumed: its operations up to it are applied already (nil: none).
	skip    []cdc.Position
	skipMax cdc.Position
	// trimmed: checkpoint rows of partitions >= parts are gone.
	trimmed bool
	// loadOff: the destination refused LOAD DATA LOCAL; INSERT only.
	loadOff atomic.Bool
	// recovered[p], set by Recover for the next Write, is partition p's
	// checkpoint as read back after a failed Write.
	recovered []string
	// replace caches replaceable per destination table.
	replaceMu sync.Mutex
	replace   map[*cdc.Table]bool
	// sessions maps the pool's connections to their server connection ids;
	// stale holds the ids of connections lost in a transaction, which the
	// server may keep (with the transaction's row locks) long after: a
	// stalled link or a network partition leaves the server waiting.
	sessMu   sync.Mutex
	sessions map[any]int64
	stale    []int64
}

// Options tune a Writer.
type Options struct {
	// MaxStatementBytes bounds one multi-row statement; 0 = 4 MiB.
	MaxStatementBytes int
	// Parts is the number of apply partitions of Write; 0 = 1. See Write.
	Parts  int
	Logger *slog.Logger
}

// NewWriter returns a writer on db that records progress in st.
func NewWriter(db *sql.DB, st *state.State, o Options) *Writer {
	if o.MaxStatementBytes <= 0 {
		o.MaxStatementBytes = 4 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Writer{db: db, state: st, log: o.Logger, maxStmt: o.MaxStatementBytes, parts: max(o.Parts, 1)}
}

// Resume tells the writer where each apply partition stood when the stream
// resumed from the lowest of them (state.State.PartCheckpoints): a partition's
// operations up to its own checkpoint are not applied again. The partition
// count must be the one those checkpoints were written with.
func (w *Writer) Resume(parts []state.PartCheckpoint) {
	w.skip, w.skipMax = nil, cdc.Position{}
	for i, p := range parts {
		if i >= w.parts {
			break
		}
		if w.skip == nil {
			w.skip = make([]cdc.Position, w.parts)
		}
		if p.Have {
			w.skip[i] = p.Pos
			if p.Pos.Compare(w.skipMax) > 0 {
				w.skipMax = p.Pos
			}
		}
	}
}

// Recover prepares the writer to write again a batch whose Write failed
// (the connection was lost, see IsTransient): it reads every partition's
// checkpoint back from the destination. The next Write leaves out the
// partitions whose checkpoint is already its batch's position: their
// transaction committed (also one whose COMMIT's outcome the lost
// connection hid), and its rows are there. The others had not committed
// any of the batch (a partition's transaction holds its whole part and its
// checkpoint), so Write applies their part exactly once. Positions are
// matched exactly, not ordered: change-log positions have no order.
func (w *Writer) Recover(ctx context.Context) error {
	w.endStaleSessions(ctx)
	parts, err := w.state.PartCheckpoints(ctx)
	if err != nil {
		return err
	}
	w.recovered = make([]string, w.parts)
	for i, p := range parts {
		if i < w.parts && p.Have {
			w.recovered[i] = p.Pos.String()
		}
	}
	return nil
}

// Write applies the changes of b (already mapped to destination tables) and
// records b.Pos as the checkpoint. Changes to the same key are compacted to
// their final state; statements keep the batch's order between keys. It
// blocks until the commit; on error nothing of b is applied, except with
// several partitions, where the partitions that committed keep their part
// (and their checkpoint: a resumed stream does not apply it again).
//
// With Parts > 1 the compacted operations are split by a stable hash of
// table and key into partitions applied in parallel, each in a transaction
// of its own (READ COMMITTED, retried on deadlocks) that records the
// partition's checkpoint; a partition with nothing in the batch has its
// checkpoint recorded by another's transaction. Tables whose keys may
// compare differently on the server than byte for byte, tables with other
// unique indexes and tables without a key go whole to partition 0, in
// order. Destination readers may see a source transaction's rows in one
// partition before another's commit; with Parts = 1 every destination
// transaction holds whole source transactions. A batch marked Whole is
// applied in one transaction (partition 0's) whatever Parts is, recording
// every partition's checkpoint.
func (w *Writer) Write(ctx context.Context, b cdc.Batch) error {
	return w.WriteThen(ctx, b, nil)
}

// WriteThen is Write, and when then is not nil, b is applied whole (in one
// transaction, as b.Whole) and then runs in that transaction after the
// changes, before the checkpoint: what it writes commits with the batch or
// not at all. then may run more than once (a failed transaction is tried
// again): it must be idempotent.
func (w *Writer) WriteThen(ctx context.Context, b cdc.Batch, then func(context.Context, *sql.Tx) error) error {
	if then != nil {
		b.Whole = true
	}
	ops := compact(b.Changes)
	parts := make([][]op, w.parts)
	for _, o := range ops {
		p := w.partOf(o)
		if w.skip != nil && !w.skip[p].IsZero() && o.pos.Compare(w.skip[p]) <= 0 {
			continue // applied before the stream resumed
		}
		if b.Whole {
			parts[0] = append(parts[0], o) // in the batch's order
			continue
		}
		parts[p] = append(parts[p], o)
	}
	if rec := w.recovered; rec != nil {
		// The batch again after a failed Write: the partitions that
		// committed it are done.
		w.recovered = nil
		pos, all := b.Pos.String(), true
		for p := range parts {
			if rec[p] == pos {
				parts[p] = nil
			} else {
				all = false
			}
		}
		if all {
			w.trimmed = true // the committed transaction trimmed them
			if w.skip != nil && b.Pos.Compare(w.skipMax) >= 0 {
				w.skip = nil
			}
			return nil
		}
	}
	var active, idle []int
	for p := range parts {
		if len(parts[p]) > 0 {
			active = append(active, p)
		} else {
			idle = append(idle, p)
		}
	}
	if len(active) == 0 {
		active, idle = idle[:1], idle[1:]
	}
	write := func(ctx context.Context, i int) error {
		p := active[i]
		return w.inTx(ctx, len(active) > 1, func(tx *sql.Tx) error {
			if err := w.apply(ctx, tx, parts[p]); err != nil {
				return err
			}
			if i == 0 && then != nil {
				if err := then(ctx, tx); err != nil {
					return err
				}
			}
			if i == 0 {
				for _, q := range idle {
					if err := w.state.SavePartCheckpoint(ctx, tx, q, b.Pos, b.Time); err != nil {
						return err
					}
				}
				if err := w.state.SaveFailures(ctx, tx, b.Failed); err != nil {
					return err
				}
				if !w.trimmed {
					if err := w.state.TrimCheckpoints(ctx, tx, w.parts); err != nil {
						return err
					}
				}
			}
			return w.state.SavePartCheckpoint(ctx, tx, p, b.Pos, b.Time)
		})
	}
	var err error
	if len(active) == 1 {
		err = write(ctx, 0)
	} else {
		// The partitions do not cancel each other: those that commit keep
		// their part, and a resumed stream does not apply it again.
		var g errgroup.Group
		for i := range active {
			g.Go(func() error { return write(ctx, i) })
		}
		err = g.Wait()
	}
	if err != nil {
		return err
	}
	w.trimmed = true
	if w.skip != nil && b.Pos.Compare(w.skipMax) >= 0 {
		w.skip = nil
	}
	return nil
}

// partOf is the apply partition of o.
func (w *Writer) partOf(o op) int {
	if w.parts == 1 || o.key == "" || !exactKey(o.table) {
		return 0
	}
	// FNV-1a of schema, NUL, name, NUL, encoded key: stable across runs.
	h := uint64(14695981039405025565)
	for _, s := range [...]string{o.table.Schema, "\x00", o.table.Name, "\x00", o.key} {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * 1099511628211
		}
	}
	return int(h % uint64(w.parts))
}

// Apply applies changes (already mapped) and runs then (when not nil) in the
// same transaction.
func (w *Writer) Apply(ctx context.Context, changes []cdc.Change, then func(*sql.Tx) error) error {
	ops := compact(changes)
	return w.inTx(ctx, false, func(tx *sql.Tx) error {
		if err := w.apply(ctx, tx, ops); err != nil {
			return err
		}
		if then != nil {
			return then(tx)
		}
		return nil
	})
}

// WriteChunk upserts snapshot rows of table t and records p and the rows that
// failed to transform, in one transaction.
func (w *Writer) WriteChunk(ctx context.Context, t *cdc.Table, rows [][]any, fullRow bool, p state.TableProgress, failed []cdc.Failure) error {
	return w.WritePrepared(ctx, w.PrepareChunk(t, rows, fullRow), p, failed)
}

// WritePrepared is WriteChunk of a prepared chunk; it releases ch.
func (w *Writer) WritePrepared(ctx context.Context, ch *Chunk, p state.TableProgress, failed []cdc.Failure) error {
	defer ch.Release()
	finish := func(tx *sql.Tx) error {
		if len(ch.Side) > 0 {
			if err := w.apply(ctx, tx, compact(ch.Side)); err != nil {
				return err
			}
		}
		if err := w.state.SaveFailures(ctx, tx, failed); err != nil {
			return err
		}
		return w.state.SaveProgress(ctx, tx, p)
	}
	if ch.tsv != nil && !w.loadOff.Load() {
		err := w.inTx(ctx, false, func(tx *sql.Tx) error {
			if err := w.loadChunk(ctx, tx, ch); err != nil {
				return err
			}
			return finish(tx)
		})
		if !w.refusedLoad(err) {
			return err
		}
	}
	kind := opUpsert
	if ch.fullRow {
		kind = opInsert
	}
	ops := make([]op, len(ch.rows))
	for i, r := range ch.rows {
		ops[i] = op{kind: kind, table: ch.t, row: r}
	}
	return w.inTx(ctx, false, func(tx *sql.Tx) error {
		if err := w.apply(ctx, tx, ops); err != nil {
			return err
		}
		return finish(tx)
	})
}

// inTx runs f in a transaction and commits it. concurrent: other
// transactions of the same batch write the same tables at the same time:
// READ COMMITTED (no gap locks between their keys), and a deadlock or lock
// wait timeout runs f again (it is idempotent) a few times.
func (w *Writer) inTx(ctx context.Context, concurrent bool, f func(*sql.Tx) error) error {
	var opts *sql.TxOptions
	if concurrent {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	if !concurrent {
		return w.tx(ctx, opts, f)
	}
	retry := mysqlerr.Retry{Attempts: 5, Log: w.log,
		Wait: func(attempt int) time.Duration { return time.Duration(attempt*attempt) * 10 * time.Millisecond }}
	return retry.Do(ctx, func() error { return w.tx(ctx, opts, f) })
}

func (w *Writer) tx(ctx context.Context, opts *sql.TxOptions, f func(*sql.Tx) error) error {
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("destination: connect: %w", err)
	}
	defer conn.Close()
	id := w.sessionID(ctx, conn)
	lost := func(err error) error {
		if id > 0 && IsTransient(err) {
			w.sessMu.Lock()
			w.stale = append(w.stale, id)
			w.sessMu.Unlock()
		}
		return err
	}
	tx, err := conn.BeginTx(ctx, opts)
	if err != nil {
		return lost(fmt.Errorf("destination: begin: %w", err))
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return lost(err)
	}
	failpoint.Hit(failpoint.DestBeforeCommit)
	if err := tx.Commit(); err != nil {
		if errors.Is(err, sql.ErrTxDone) && ctx.Err() != nil {
			// database/sql rolled the transaction back when ctx ended
			// (between the statements and the COMMIT): a stop, not a
			// failure, and nothing of it is committed.
			err = ctx.Err()
		}
		return lost(fmt.Errorf("destination: commit: %w", err))
	}
	failpoint.Hit(failpoint.DestAfterCommit)
	return nil
}

// sessionID returns the server's id of conn's session (0 when unknown),
// asked once per pooled connection.
func (w *Writer) sessionID(ctx context.Context, conn *sql.Conn) int64 {
	var key any
	_ = conn.Raw(func(dc any) error { key = dc; return nil })
	w.sessMu.Lock()
	id, ok := w.sessions[key]
	w.sessMu.Unlock()
	if ok {
		return id
	}
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		return 0
	}
	w.sessMu.Lock()
	if w.sessions == nil || len(w.sessions) > 4096 {
		w.sessions = map[any]int64{} // closed connections' entries go too
	}
	w.sessions[key] = id
	w.sessMu.Unlock()
	return id
}

// endStaleSessions kills the server sessions of connections lost in a
// transaction, before a retry: a session the server still keeps holds its
// transaction's row locks, and the retry would wait on them until the
// server noticed (hours, with TCP keepalive). A user may kill its own
// sessions; an id the server no longer knows is fine.
func (w *Writer) endStaleSessions(ctx context.Context) {
	w.sessMu.Lock()
	stale := w.stale
	w.stale = nil
	w.sessMu.Unlock()
	for _, id := range stale {
		kctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := w.db.ExecContext(kctx, "KILL CONNECTION "+strconv.FormatInt(id, 10))
		cancel()
		if err != nil {
			if mysqlerr.Is(err, gmysql.ER_NO_SUCH_THREAD) { // gone already
				continue
			}
			w.log.Warn("could not end a lost destination session; its locks stay until the server drops it", "connection_id", id, "error", err)
			continue
		}
		w.log.Info("ended a lost destination session (its transaction is rolled back, its locks freed)", "connection_id", id)
	}
}

type opKind uint8

const (
	opUpsert opKind = iota + 1
	opDelete
	// opInsert and opDeleteRow are for full-row tables: plain inserts, and
	// deletes of one row matched by all its columns.
	opInsert
	opDeleteRow
	// opSet updates some columns of an existing row (cdc.OpSet).
	opSet
)

type op struct {
	kind  opKind
	table *cdc.Table
	row   []any // full row for upserts/inserts/row deletes, key for deletes
	dead  bool
	// pos is the position of the change the operation comes from.
	pos cdc.Position
	// set are the columns an opSet sets; create: it creates a row missing.
	set    []int
	create bool
	// key is the encoded key of upserts and deletes of keyed tables without
	// other unique indexes (what compaction and partitioning go by).
	key string
}

// compact turns changes into operations: the final state of each key, in the
// order of each key's last change. Full-row tables (no key) keep every change.
func compact(changes []cdc.Change) []op {
	ops := make([]op, 0, len(changes))
	type tk struct {
		t   *cdc.Table
		key string
	}
	last := make(map[tk]int, len(changes))
	var kb []byte
	var cur cdc.Position
	add := func(o op) {
		o.pos = cur
		// Tables with other unique indexes keep every write in source order:
		// moving a key's write past another key's could make an upsert meet a
		// unique value the other row still holds, and update the wrong row.
		if len(o.table.Key) > 0 && len(o.table.Unique) == 0 {
			key := o.row
			if o.kind == opUpsert || o.kind == opSet {
				key = o.table.KeyOf(o.row)
			}
			kb = rowio.AppendKey(kb[:0], key)
			o.key = string(kb)
			k := tk{o.table, o.key}
			if o.kind == opSet {
				// A set changes part of the row its key's writes before it
				// left: those stand (a later write must not drop the insert
				// it sets a column of), and one after it keeps what it set
				// (upserts leave the columns sets fill).
				delete(last, k)
				ops = append(ops, o)
				return
			}
			if i, ok := last[k]; ok {
				ops[i].dead = true
			}
			last[k] = len(ops)
		}
		ops = append(ops, o)
	}
	for i := range changes {
		c := &changes[i] // not copied: a Change is large
		t := c.Table
		cur = c.Pos
		if len(t.Key) == 0 {
			switch c.Op {
			case cdc.OpInsert, cdc.OpRead:
				add(op{kind: opInsert, table: t, row: c.After})
			case cdc.OpUpdate:
				add(op{kind: opDeleteRow, table: t, row: c.Before})
				add(op{kind: opInsert, table: t, row: c.After})
			case cdc.OpDelete:
				add(op{kind: opDeleteRow, table: t, row: c.Before})
			}
			continue
		}
		switch c.Op {
		case cdc.OpInsert, cdc.OpRead:
			add(op{kind: opUpsert, table: t, row: c.After})
		case cdc.OpUpdate:
			bk, ak := t.KeyOf(c.Before), t.KeyOf(c.After)
			if string(rowio.AppendKey(nil, bk)) != string(rowio.AppendKey(nil, ak)) {
				add(op{kind: opDelete, table: t, row: bk})
			}
			add(op{kind: opUpsert, table: t, row: c.After})
		case cdc.OpDelete:
			add(op{kind: opDelete, table: t, row: t.KeyOf(c.Before)})
		case cdc.OpSet:
			add(op{kind: opSet, table: t, row: c.After, set: c.Set, create: c.Create})
		}
	}
	out := ops[:0]
	for _, o := range ops {
		if !o.dead {
			out = append(out, o)
		}
	}
	return out
}

// group reorders compacted ops so each table's operations form as few runs as
// possible: tables are independent (foreign keys are not checked), so they are
// taken one after another in order of first appearance. Within a table whose key
// compares byte for byte (numbers, dates, binary strings), every key has one
// final operation, so all deletes can go first (they only free unique values)
// and the upserts follow in their order. Tables keyed by collated strings keep
// the original order, since two keys that differ in bytes may be one row to the
// server ('a' and 'A'); so do tables without a key.
func group(ops []op) []op {
	if len(ops) < 2 {
		return ops
	}
	type bucket struct {
		exact   bool
		deletes []op
		rest    []op
	}
	var order []*cdc.Table
	buckets := map[*cdc.Table]*bucket{}
	// A key may have several operations when sets are among them: their
	// order stands.
	sets := map[*cdc.Table]bool{}
	for _, o := range ops {
		if o.kind == opSet {
			sets[o.table] = true
		}
	}
	for _, o := range ops {
		b := buckets[o.table]
		if b == nil {
			b = &bucket{exact: exactKey(o.table) && !sets[o.table]}
			buckets[o.table] = b
			order = append(order, o.table)
		}
		if b.exact && o.kind == opDelete {
			b.deletes = append(b.deletes, o)
		} else {
			b.rest = append(b.rest, o)
		}
	}
	out := make([]op, 0, len(ops))
	for _, t := range order {
		b := buckets[t]
		out = append(out, b.deletes...)
		out = append(out, b.rest...)
	}
	return out
}

// exactKey reports whether t's key values are equal on the server exactly when
// their canonical forms are equal.
func exactKey(t *cdc.Table) bool {
	if len(t.Key) == 0 || len(t.Unique) > 0 {
		return false
	}
	for _, k := range t.Key {
		c := t.Columns[k]
		switch c.Kind() {
		case cdc.KindInt, cdc.KindUint, cdc.KindDecimal, cdc.KindBit, cdc.KindYear, cdc.KindTemporal:
		case cdc.KindBytes:
			if c.Charset != "" && c.Charset != "binary" {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// apply runs ops, one multi-row statement per run of operations of the same
// kind on the same table.
func (w *Writer) apply(ctx context.Context, tx *sql.Tx, ops []op) error {
	ops = group(ops)
	buf := make([]byte, 0, 64<<10)
	for i := 0; i < len(ops); {
		j := i + 1
		for j < len(ops) && ops[j].kind == ops[i].kind && ops[j].table == ops[i].table && ops[i].kind != opDeleteRow && ops[i].kind != opSet {
			j++
		}
		if ops[i].kind == opUpsert && ops[i].table.KeyGroups {
			if err := w.clearGroups(ctx, tx, ops[i:j]); err != nil {
				return err
			}
		}
		if ops[i].kind == opUpsert && j-i >= minLoadRows {
			done, err := w.loadUpserts(ctx, tx, ops[i:j])
			if err != nil {
				return err
			}
			if done {
				i = j
				continue
			}
		}
		for i < j {
			var n int
			var err error
			buf, n, err = w.statement(buf[:0], ops[i:j])
			if err != nil {
				return fmt.Errorf("destination table %s: %w", ops[i].table.Name, err)
			}
			// The statement is not copied: buf is not touched until Exec returns.
			if _, err := tx.ExecContext(ctx, unsafe.String(unsafe.SliceData(buf), len(buf))); err != nil {
				if big, limit := w.packetTooLarge(ctx, len(buf), err); big {
					return packetError(ops[i:i+n], len(buf), limit, err)
				}
				return fmt.Errorf("destination table %s: %s: %w", ops[i].table.Name, ops[i].kind, err)
			}
			i += n
		}
	}
	return nil
}

// clearGroups deletes the groups of rows that upserts (of a table whose
// key names groups, cdc.Table.KeyGroups) replace.
func (w *Writer) clearGroups(ctx context.Context, tx *sql.Tx, upserts []op) error {
	t := upserts[0].table
	dels := make([]op, len(upserts))
	for i, o := range upserts {
		dels[i] = op{kind: opDelete, table: t, row: t.KeyOf(o.row)}
	}
	var buf []byte
	for i := 0; i < len(dels); {
		var n int
		var err error
		if buf, n, err = w.statement(buf[:0], dels[i:]); err != nil {
			return fmt.Errorf("destination table %s: %w", t.Name, err)
		}
		if _, err := tx.ExecContext(ctx, string(buf)); err != nil {
			return fmt.Errorf("destination table %s: %s: %w", t.Name, opDelete, err)
		}
		i += n
	}
	return nil
}

func (k opKind) String() string {
	switch k {
	case opUpsert:
		return "upsert"
	case opDelete:
		return "delete"
	case opInsert:
		return "insert"
	case opDeleteRow:
		return "delete row"
	case opSet:
		return "set"
	}
	return "?"
}

// statement builds one statement for a prefix of ops (all of one kind and table),
// stopping when it reaches the byte bound; it returns how many ops it covers.
func (w *Writer) statement(buf []byte, ops []op) ([]byte, int, error) {
	t := ops[0].table
	name := append(rowio.AppendIdent(nil, t.Schema), '.')
	name = rowio.AppendIdent(name, t.Name)
	var err error
	switch ops[0].kind {
	case opUpsert, opInsert:
		buf = append(buf, "INSERT INTO "...)
		buf = append(buf, name...)
		buf = append(buf, " ("...)
		for i, c := range t.Columns {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = rowio.AppendIdent(buf, c.Name)
		}
		buf = append(buf, ") VALUES "...)
		n := 0
		for n < len(ops) && (n == 0 || len(buf) < w.maxStmt) {
			if n > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, '(')
			for i := range t.Columns {
				if i > 0 {
					buf = append(buf, ',')
				}
				if buf, err = rowio.AppendLiteral(buf, ops[n].row[i], &t.Columns[i]); err != nil {
					return buf, 0, err
				}
			}
			buf = append(buf, ')')
			n++
		}
		if ops[0].kind == opUpsert {
			buf = append(buf, " ON DUPLICATE KEY UPDATE "...)
			first := true
			for i, c := range t.Columns {
				if isKey(t, i) || c.KeepExisting {
					continue
				}
				if !first {
					buf = append(buf, ',')
				}
				first = false
				buf = rowio.AppendIdent(buf, c.Name)
				buf = append(buf, "=VALUES("...)
				buf = rowio.AppendIdent(buf, c.Name)
				buf = append(buf, ')')
			}
			if first { // every column is in the key
				c := t.Columns[t.Key[0]].Name
				buf = rowio.AppendIdent(buf, c)
				buf = append(buf, '=')
				buf = rowio.AppendIdent(buf, c)
			}
		}
		return buf, n, nil
	case opDelete:
		buf = append(buf, "DELETE FROM "...)
		buf = append(buf, name...)
		buf = append(buf, " WHERE ("...)
		for i, k := range t.Key {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = rowio.AppendIdent(buf, t.Columns[k].Name)
		}
		buf = append(buf, ") IN ("...)
		n := 0
		for n < len(ops) && (n == 0 || len(buf) < w.maxStmt) {
			if n > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, '(')
			for i, k := range t.Key {
				if i > 0 {
					buf = append(buf, ',')
				}
				if buf, err = rowio.AppendLiteral(buf, ops[n].row[i], &t.Columns[k]); err != nil {
					return buf, 0, err
				}
			}
			buf = append(buf, ')')
			n++
		}
		buf = append(buf, ')')
		return buf, n, nil
	case opDeleteRow:
		buf = append(buf, "DELETE FROM "...)
		buf = append(buf, name...)
		buf = append(buf, " WHERE "...)
		first := true
		for i, c := range t.Columns {
			if !first {
				buf = append(buf, " AND "...)
			}
			first = false
			buf = rowio.AppendIdent(buf, c.Name)
			buf = append(buf, " <=> "...)
			if buf, err = rowio.AppendLiteral(buf, ops[0].row[i], &t.Columns[i]); err != nil {
				return buf, 0, err
			}
		}
		if first {
			buf = append(buf, "1=1"...)
		}
		buf = append(buf, " LIMIT 1"...)
		return buf, 1, nil
	case opSet:
		o := ops[0]
		if o.create {
			return setOrCreate(buf, name, o)
		}
		buf = append(buf, "UPDATE "...)
		buf = append(buf, name...)
		buf = append(buf, " SET "...)
		for n, i := range o.set {
			if n > 0 {
				buf = append(buf, ',')
			}
			buf = rowio.AppendIdent(buf, t.Columns[i].Name)
			buf = append(buf, '=')
			if buf, err = rowio.AppendLiteral(buf, o.row[i], &t.Columns[i]); err != nil {
				return buf, 0, err
			}
		}
		// Assigned, a column ON UPDATE CURRENT_TIMESTAMP keeps its value,
		// as it does when the row's own writes (upserts of every column)
		// change it.
		for i, c := range t.Columns {
			if (c.DataType == "timestamp" || c.DataType == "datetime") && !c.Generated && !slices.Contains(o.set, i) {
				buf = append(buf, ',')
				buf = rowio.AppendIdent(buf, c.Name)
				buf = append(buf, '=')
				buf = rowio.AppendIdent(buf, c.Name)
			}
		}
		buf = append(buf, " WHERE "...)
		for n, k := range t.Key {
			if n > 0 {
				buf = append(buf, " AND "...)
			}
			buf = rowio.AppendIdent(buf, t.Columns[k].Name)
			buf = append(buf, '=')
			if buf, err = rowio.AppendLiteral(buf, o.row[k], &t.Columns[k]); err != nil {
				return buf, 0, err
			}
		}
		return buf, 1, nil
	}
	return buf, 0, fmt.Errorf("unknown operation %d", ops[0].kind)
}

func isKey(t *cdc.Table, i int) bool {
	for _, k := range t.Key {
		if k == i {
			return true
		}
	}
	return false
}

// setOrCreate is the statement of an opSet that creates its row when
// missing: the key and the columns set are inserted, or set on the row the
// key finds (its timestamp columns assigned to themselves, as a plain set
// does).
func setOrCreate(buf, name []byte, o op) ([]byte, int, error) {
	t := o.table
	cols := append(append([]int(nil), t.Key...), o.set...)
	buf = append(buf, "INSERT INTO "...)
	buf = append(buf, name...)
	buf = append(buf, " ("...)
	for n, i := range cols {
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = rowio.AppendIdent(buf, t.Columns[i].Name)
	}
	buf = append(buf, ") VALUES ("...)
	var err error
	for n, i := range cols {
		if n > 0 {
			buf = append(buf, ',')
		}
		if buf, err = rowio.AppendLiteral(buf, o.row[i], &t.Columns[i]); err != nil {
			return buf, 0, err
		}
	}
	buf = append(buf, ") ON DUPLICATE KEY UPDATE "...)
	for n, i := range o.set {
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = rowio.AppendIdent(buf, t.Columns[i].Name)
		buf = append(buf, "=VALUES("...)
		buf = rowio.AppendIdent(buf, t.Columns[i].Name)
		buf = append(buf, ')')
	}
	for i, c := range t.Columns {
		if (c.DataType == "timestamp" || c.DataType == "datetime") && !c.Generated && !slices.Contains(cols, i) {
			buf = append(buf, ',')
			buf = rowio.AppendIdent(buf, c.Name)
			buf = append(buf, '=')
			buf = rowio.AppendIdent(buf, c.Name)
		}
	}
	return buf, 1, nil
}
