package mysql

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
)

// State is shiplog's own state in the destination database: the stream
// checkpoint, per-table snapshot progress and named flags, in `_shiplog_*` tables.
// Writes that must agree with data take a *sql.Tx so they commit with it.
type State struct {
	db     *sql.DB
	schema string
}

// NewState returns the state kept in schema on db.
func NewState(db *sql.DB, schema string) *State { return &State{db: db, schema: schema} }

func (s *State) table(name string) string {
	return rowio.QuoteIdent(s.schema) + "." + rowio.QuoteIdent(name)
}

// Ensure creates the state tables when missing.
func (s *State) Ensure(ctx context.Context) error {
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS ` + s.table("_shiplog_checkpoint") + ` (
			id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
			position MEDIUMTEXT NOT NULL,
			event_time DATETIME(6) NULL,
			updated_at DATETIME(6) NOT NULL
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS ` + s.table("_shiplog_tables") + ` (
			table_name VARCHAR(192) NOT NULL PRIMARY KEY,
			state VARCHAR(16) NOT NULL,
			last_key MEDIUMTEXT NULL,
			rows_copied BIGINT NOT NULL DEFAULT 0,
			snapshot_pos MEDIUMTEXT NOT NULL,
			segments INT NOT NULL DEFAULT 0,
			source_rows BIGINT NULL,
			updated_at DATETIME(6) NOT NULL
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS ` + s.table("_shiplog_failed_rows") + ` (
			table_name VARCHAR(192) NOT NULL,
			key_hash CHAR(64) NOT NULL,
			row_key LONGTEXT NOT NULL,
			full_row LONGTEXT NULL,
			handler VARCHAR(255) NOT NULL,
			field VARCHAR(192) NOT NULL,
			error MEDIUMTEXT NOT NULL,
			position MEDIUMTEXT NOT NULL,
			attempts INT NOT NULL DEFAULT 1,
			first_seen DATETIME(6) NOT NULL,
			last_seen DATETIME(6) NOT NULL,
			PRIMARY KEY (table_name, key_hash)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS ` + s.table("_shiplog_runs") + ` (
			id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
			command VARCHAR(64) NOT NULL,
			mode VARCHAR(32) NOT NULL,
			started_at DATETIME(6) NOT NULL,
			ended_at DATETIME(6) NULL,
			status ENUM('started','success','partial','failed') NOT NULL,
			inserted BIGINT NOT NULL DEFAULT 0,
			updated BIGINT NOT NULL DEFAULT 0,
			deleted BIGINT NOT NULL DEFAULT 0,
			failed_rows BIGINT NOT NULL DEFAULT 0,
			error MEDIUMTEXT NULL,
			exit_code INT NULL,
			KEY started_at (started_at)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS ` + s.table("_shiplog_lock_holders") + ` (
			lock_name VARCHAR(64) NOT NULL PRIMARY KEY,
			host VARCHAR(255) NOT NULL,
			pid BIGINT NOT NULL,
			command VARCHAR(64) NOT NULL,
			started_at DATETIME(6) NOT NULL,
			connection_id BIGINT NOT NULL,
			scope VARCHAR(255) NOT NULL DEFAULT ''
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS ` + s.table("_shiplog_state") + ` (
			name VARCHAR(64) NOT NULL PRIMARY KEY,
			value LONGTEXT NOT NULL,
			updated_at DATETIME(6) NOT NULL
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
	}
	for _, q := range stmts {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create state tables in %s: %w", s.schema, err)
		}
	}
	return s.widen(ctx)
}

// stateColumns are the state columns whose values have no small bound, with
// the type they must have: tables made by older versions had TEXT (64 KiB),
// which cut a large recorded schema in a non-strict session. Widen alters
// them in place.
var stateColumns = []struct{ table, column, typ, def string }{
	{"_shiplog_checkpoint", "position", "mediumtext", "MEDIUMTEXT NOT NULL"},
	{"_shiplog_tables", "snapshot_pos", "mediumtext", "MEDIUMTEXT NOT NULL"},
	{"_shiplog_tables", "last_key", "mediumtext", "MEDIUMTEXT NULL"},
	{"_shiplog_failed_rows", "row_key", "longtext", "LONGTEXT NOT NULL"},
	{"_shiplog_failed_rows", "full_row", "longtext", "LONGTEXT NULL"},
	{"_shiplog_failed_rows", "error", "mediumtext", "MEDIUMTEXT NOT NULL"},
	{"_shiplog_failed_rows", "position", "mediumtext", "MEDIUMTEXT NOT NULL"},
	{"_shiplog_runs", "error", "mediumtext", "MEDIUMTEXT NULL"},
	{"_shiplog_state", "value", "longtext", "LONGTEXT NOT NULL"},
}

// textCapacity is the bytes a column of a text type holds.
var textCapacity = map[string]int64{"tinytext": 255, "text": 65535, "mediumtext": 1<<24 - 1, "longtext": 1<<32 - 1}

// widen alters state columns narrower than stateColumns says (tables of
// older versions) to their type.
func (s *State) widen(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE '\\_shiplog\\_%'", s.schema)
	if err != nil {
		return fmt.Errorf("read state table columns in %s: %w", s.schema, err)
	}
	have := map[[2]string]string{}
	for rows.Next() {
		var t, c, typ string
		if err := rows.Scan(&t, &c, &typ); err != nil {
			rows.Close()
			return fmt.Errorf("read state table columns in %s: %w", s.schema, err)
		}
		have[[2]string{t, c}] = typ
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read state table columns in %s: %w", s.schema, err)
	}
	alters := map[string][]string{}
	var order []string
	if _, ok := have[[2]string{"_shiplog_runs", "id"}]; ok {
		if _, ok := have[[2]string{"_shiplog_runs", "exit_code"}]; !ok {
			// Tables of older versions: the exit status of a run.
			order = append(order, "_shiplog_runs")
			alters["_shiplog_runs"] = []string{"ADD COLUMN exit_code INT NULL AFTER error"}
		}
	}
	for _, sc := range stateColumns {
		typ, ok := have[[2]string{sc.table, sc.column}]
		if !ok || textCapacity[typ] >= textCapacity[sc.typ] {
			continue
		}
		if alters[sc.table] == nil {
			order = append(order, sc.table)
		}
		alters[sc.table] = append(alters[sc.table], "MODIFY "+rowio.QuoteIdent(sc.column)+" "+sc.def)
	}
	for _, t := range order {
		q := "ALTER TABLE " + s.table(t) + " " + strings.Join(alters[t], ", ")
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("widen state table %s in %s: %w", t, s.schema, err)
		}
	}
	return nil
}

// ErrStateTooLarge is returned when a state value does not fit its column:
// nothing is written rather than a cut value.
var ErrStateTooLarge = errors.New("state value too large for its column")

// checkSize refuses a value of column (table.column) larger than the column
// holds, instead of letting a non-strict session cut it.
func checkSize(table, column string, v string) error {
	for _, sc := range stateColumns {
		if sc.table == table && sc.column == column {
			if int64(len(v)) > textCapacity[sc.typ] {
				return fmt.Errorf("%w: %s.%s holds %d bytes, the value has %d", ErrStateTooLarge, table, column, textCapacity[sc.typ], len(v))
			}
			return nil
		}
	}
	return nil
}

// Reset forgets all progress: checkpoint, table progress and flags.
func (s *State) Reset(ctx context.Context) error {
	for _, t := range []string{"_shiplog_checkpoint", "_shiplog_tables", "_shiplog_state", "_shiplog_failed_rows"} {
		if _, err := s.db.ExecContext(ctx, "DELETE FROM "+s.table(t)); err != nil {
			return fmt.Errorf("reset %s: %w", t, err)
		}
	}
	return nil
}

// Checkpoint returns the stream position recorded with the data, its source
// commit time, and whether there is one. With a partitioned apply (see
// Writer) every partition has a row; the checkpoint is the lowest of them:
// everything up to it is applied in every partition.
func (s *State) Checkpoint(ctx context.Context) (cdc.Position, time.Time, bool, error) {
	parts, err := s.PartCheckpoints(ctx)
	if err != nil || len(parts) == 0 {
		return cdc.Position{}, time.Time{}, false, err
	}
	lo := -1
	for i, p := range parts {
		if p.Have && (lo < 0 || p.Pos.Compare(parts[lo].Pos) < 0) {
			lo = i
		}
	}
	if lo < 0 {
		return cdc.Position{}, time.Time{}, false, nil
	}
	return parts[lo].Pos, parts[lo].Time, true, nil
}

// PartCheckpoint is the checkpoint of one apply partition.
type PartCheckpoint struct {
	Pos  cdc.Position
	Time time.Time
	// Have: the partition has a checkpoint row.
	Have bool
}

// PartCheckpoints returns the checkpoints of the apply partitions, indexed
// by partition (row id - 1), up to the highest row present.
func (s *State) PartCheckpoints(ctx context.Context) ([]PartCheckpoint, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, position, event_time FROM "+s.table("_shiplog_checkpoint")+" ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	defer rows.Close()
	var out []PartCheckpoint
	for rows.Next() {
		var id int
		var text string
		var et sql.NullString
		if err := rows.Scan(&id, &text, &et); err != nil {
			return nil, fmt.Errorf("read checkpoint: %w", err)
		}
		p, err := cdc.ParsePosition(text)
		if err != nil {
			return nil, fmt.Errorf("read checkpoint %d: %w", id, err)
		}
		for len(out) < id {
			out = append(out, PartCheckpoint{})
		}
		pc := PartCheckpoint{Pos: p, Have: true}
		if et.Valid {
			pc.Time, _ = time.ParseInLocation("2006-01-02 15:04:05.999999", et.String, time.UTC)
		}
		out[id-1] = pc
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	return out, nil
}

// SaveCheckpoint records pos (reached at source commit time t) inside tx.
func (s *State) SaveCheckpoint(ctx context.Context, tx *sql.Tx, pos cdc.Position, t time.Time) error {
	return s.savePartCheckpoint(ctx, tx, 0, pos, t)
}

// savePartCheckpoint records the checkpoint of apply partition part.
func (s *State) savePartCheckpoint(ctx context.Context, tx *sql.Tx, part int, pos cdc.Position, t time.Time) error {
	var et any
	if !t.IsZero() {
		et = t.UTC().Format("2006-01-02 15:04:05.999999")
	}
	text := pos.String()
	if err := checkSize("_shiplog_checkpoint", "position", text); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	_, err := tx.ExecContext(ctx, "INSERT INTO "+s.table("_shiplog_checkpoint")+
		" (id, position, event_time, updated_at) VALUES (?, ?, ?, UTC_TIMESTAMP(6))"+
		" ON DUPLICATE KEY UPDATE position = VALUES(position), event_time = IFNULL(VALUES(event_time), event_time), updated_at = VALUES(updated_at)",
		part+1, text, et)
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}

// trimCheckpoints deletes the rows of partitions >= parts (left by a run
// with more partitions).
func (s *State) trimCheckpoints(ctx context.Context, tx *sql.Tx, parts int) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+s.table("_shiplog_checkpoint")+" WHERE id > ?", parts); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}

// Table states of TableProgress.
const (
	TableCopying = "copying"
	TableDone    = "done"
)

// TableProgress is the snapshot progress of one source table.
type TableProgress struct {
	Table string `json:"table"`
	State string `json:"state"`
	// LastKey is the key of the last copied row (nil before the first chunk).
	LastKey []any `json:"-"`
	Rows    int64 `json:"rows_copied"`
	// SnapshotPos is the binlog position of the earliest snapshot any chunk of
	// the table was read in: the stream skips the table's changes up to it.
	SnapshotPos cdc.Position `json:"snapshot_position"`
	// Segments counts the snapshots the copy used (more than one after a resume).
	Segments   int    `json:"segments"`
	SourceRows *int64 `json:"source_rows,omitempty"`
}

// Progress returns the snapshot progress of every table that has any.
func (s *State) Progress(ctx context.Context) (map[string]TableProgress, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT table_name, state, last_key, rows_copied, snapshot_pos, segments, source_rows FROM "+s.table("_shiplog_tables"))
	if err != nil {
		return nil, fmt.Errorf("read table progress: %w", err)
	}
	defer rows.Close()
	out := map[string]TableProgress{}
	for rows.Next() {
		var p TableProgress
		var lastKey sql.NullString
		var pos string
		var srcRows sql.NullInt64
		if err := rows.Scan(&p.Table, &p.State, &lastKey, &p.Rows, &pos, &p.Segments, &srcRows); err != nil {
			return nil, err
		}
		if lastKey.Valid {
			if p.LastKey, err = rowio.DecodeKey(lastKey.String); err != nil {
				return nil, fmt.Errorf("table progress of %s: %w", p.Table, err)
			}
		}
		if p.SnapshotPos, err = cdc.ParsePosition(pos); err != nil {
			return nil, fmt.Errorf("table progress of %s: %w", p.Table, err)
		}
		if srcRows.Valid {
			n := srcRows.Int64
			p.SourceRows = &n
		}
		out[p.Table] = p
	}
	return out, rows.Err()
}

// SaveProgress records p inside tx (with the chunk it describes) or, when tx is
// nil, on its own.
func (s *State) SaveProgress(ctx context.Context, tx *sql.Tx, p TableProgress) error {
	var lastKey any
	if p.LastKey != nil {
		k, err := rowio.EncodeKey(p.LastKey)
		if err != nil {
			return fmt.Errorf("table progress of %s: %w", p.Table, err)
		}
		lastKey = k
	}
	var srcRows any
	if p.SourceRows != nil {
		srcRows = *p.SourceRows
	}
	q := "INSERT INTO " + s.table("_shiplog_tables") +
		" (table_name, state, last_key, rows_copied, snapshot_pos, segments, source_rows, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))" +
		" ON DUPLICATE KEY UPDATE state = VALUES(state), last_key = VALUES(last_key), rows_copied = VALUES(rows_copied)," +
		" snapshot_pos = VALUES(snapshot_pos), segments = VALUES(segments), source_rows = VALUES(source_rows), updated_at = VALUES(updated_at)"
	if k, ok := lastKey.(string); ok {
		if err := checkSize("_shiplog_tables", "last_key", k); err != nil {
			return fmt.Errorf("table progress of %s: %w", p.Table, err)
		}
	}
	pos := p.SnapshotPos.String()
	if err := checkSize("_shiplog_tables", "snapshot_pos", pos); err != nil {
		return fmt.Errorf("table progress of %s: %w", p.Table, err)
	}
	args := []any{p.Table, p.State, lastKey, p.Rows, pos, p.Segments, srcRows}
	var err error
	if tx != nil {
		_, err = tx.ExecContext(ctx, q, args...)
	} else {
		_, err = s.db.ExecContext(ctx, q, args...)
	}
	if err != nil {
		return fmt.Errorf("save progress of %s: %w", p.Table, err)
	}
	return nil
}

// Flag returns a named state value ("" when unset).
func (s *State) Flag(ctx context.Context, name string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, "SELECT value FROM "+s.table("_shiplog_state")+" WHERE name = ?", name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read state %s: %w", name, err)
	}
	return v, nil
}

// SetFlag records a named state value, inside tx when it is not nil. The
// value is read back: a value the destination did not store whole (too
// large, or text its character set cannot hold, which a non-strict session
// cuts with a warning) is an error wrapping ErrStateTooLarge, never a cut
// value read later.
func (s *State) SetFlag(ctx context.Context, tx *sql.Tx, name, value string) error {
	if err := checkSize("_shiplog_state", "value", value); err != nil {
		return fmt.Errorf("write state %s: %w", name, err)
	}
	q := "INSERT INTO " + s.table("_shiplog_state") + " (name, value, updated_at) VALUES (?, ?, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE value = VALUES(value), updated_at = VALUES(updated_at)"
	back := "SELECT value FROM " + s.table("_shiplog_state") + " WHERE name = ?"
	var err error
	var got string
	if tx != nil {
		if _, err = tx.ExecContext(ctx, q, name, value); err == nil {
			err = tx.QueryRowContext(ctx, back, name).Scan(&got)
		}
	} else if conn, cerr := s.db.Conn(ctx); cerr != nil {
		err = cerr
	} else {
		if _, err = conn.ExecContext(ctx, q, name, value); err == nil {
			err = conn.QueryRowContext(ctx, back, name).Scan(&got)
		}
		conn.Close()
	}
	if err != nil {
		return fmt.Errorf("write state %s: %w", name, err)
	}
	if got != value {
		return fmt.Errorf("write state %s: %w: %d bytes written, %d stored (check the column type of %s.value)",
			name, ErrStateTooLarge, len(value), len(got), s.table("_shiplog_state"))
	}
	return nil
}

// SaveFailures records rows that could not be transformed, inside tx; a row
// already recorded gets the new reason and one more attempt.
func (s *State) SaveFailures(ctx context.Context, tx *sql.Tx, failures []cdc.Failure) error {
	for _, f := range failures {
		key, err := rowio.EncodeKey(f.Key)
		if err != nil {
			return fmt.Errorf("failed row of %s: %w", f.Table, err)
		}
		var full any
		if f.Row != nil {
			if full, err = rowio.EncodeKey(f.Row); err != nil {
				return fmt.Errorf("failed row of %s: %w", f.Table, err)
			}
			key = full.(string)
		}
		pos := f.Pos.String()
		for _, c := range [...]struct{ col, v string }{{"row_key", key}, {"error", f.Reason}, {"position", pos}} {
			if err := checkSize("_shiplog_failed_rows", c.col, c.v); err != nil {
				return fmt.Errorf("record failed row of %s: %w", f.Table, err)
			}
		}
		sum := sha256.Sum256([]byte(key))
		_, err = tx.ExecContext(ctx, "INSERT INTO "+s.table("_shiplog_failed_rows")+
			" (table_name, key_hash, row_key, full_row, handler, field, error, position, attempts, first_seen, last_seen)"+
			" VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))"+
			" ON DUPLICATE KEY UPDATE handler = VALUES(handler), field = VALUES(field), error = VALUES(error),"+
			" position = VALUES(position), attempts = attempts + 1, last_seen = VALUES(last_seen)",
			f.Table, hex.EncodeToString(sum[:]), key, full, f.Handler, f.Field, f.Reason, pos)
		if err != nil {
			return fmt.Errorf("record failed row of %s: %w", f.Table, err)
		}
	}
	return nil
}

// Failures returns the recorded failed rows.
func (s *State) Failures(ctx context.Context) ([]cdc.Failure, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT table_name, row_key, full_row, handler, field, error, position FROM "+s.table("_shiplog_failed_rows")+" ORDER BY table_name, first_seen")
	if err != nil {
		return nil, fmt.Errorf("read failed rows: %w", err)
	}
	defer rows.Close()
	var out []cdc.Failure
	for rows.Next() {
		var f cdc.Failure
		var key, pos string
		var full sql.NullString
		if err := rows.Scan(&f.Table, &key, &full, &f.Handler, &f.Field, &f.Reason, &pos); err != nil {
			return nil, err
		}
		if full.Valid {
			if f.Row, err = rowio.DecodeKey(full.String); err != nil {
				return nil, err
			}
		} else if f.Key, err = rowio.DecodeKey(key); err != nil {
			return nil, err
		}
		f.Pos, _ = cdc.ParsePosition(pos)
		out = append(out, f)
	}
	return out, rows.Err()
}

// ForgetFailure removes a failed row record (it was applied, or its source row
// is gone), inside tx.
func (s *State) ForgetFailure(ctx context.Context, tx *sql.Tx, f cdc.Failure) error {
	key, err := rowio.EncodeKey(f.Key)
	if f.Row != nil {
		key, err = rowio.EncodeKey(f.Row)
	}
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(key))
	_, err = tx.ExecContext(ctx, "DELETE FROM "+s.table("_shiplog_failed_rows")+" WHERE table_name = ? AND key_hash = ?", f.Table, hex.EncodeToString(sum[:]))
	return err
}

// CountFailures returns how many failed rows are recorded, for one source
// table or (table "") for all.
func (s *State) CountFailures(ctx context.Context, table string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.table("_shiplog_failed_rows")+" WHERE ? = '' OR table_name = ?", table, table).Scan(&n)
	return n, err
}

// Run statuses of _shiplog_runs.
const (
	RunStarted = "started"
	RunSuccess = "success"
	RunPartial = "partial"
	RunFailed  = "failed"
)

// Run is one recorded command in _shiplog_runs. Reset keeps them: they are
// history, not progress.
type Run struct {
	ID         int64      `json:"id"`
	Command    string     `json:"command"`
	Mode       string     `json:"mode"`
	StartedAt  time.Time  `json:"started_at"`
	EndedAt    *time.Time `json:"ended_at"`
	Status     string     `json:"status"`
	Inserted   int64      `json:"inserted"`
	Updated    int64      `json:"updated"`
	Deleted    int64      `json:"deleted"`
	FailedRows int64      `json:"failed_rows"`
	Error      *string    `json:"error"`
	// ExitCode is the command's exit status (nil: not recorded, the run is
	// live, was killed, or is older than the column).
	ExitCode *int `json:"exit_code"`
}

const stateTime = "2006-01-02 15:04:05.999999"

// runLock is the name of the destination lock a live run holds for its
// lifetime: a 'started' run whose lock is free belongs to a process that is
// gone.
func (s *State) runLock(id int64) string {
	sum := sha256.Sum256([]byte(s.schema))
	return "shiplog_run." + hex.EncodeToString(sum[:8]) + "." + strconv.FormatInt(id, 10)
}

// StartRun records a 'started' run and takes its liveness lock on conn, a
// connection the caller keeps open until FinishRun (the server frees the lock
// when the process dies, even on SIGKILL).
func (s *State) StartRun(ctx context.Context, conn *sql.Conn, command, mode string, started time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, "INSERT INTO "+s.table("_shiplog_runs")+
		" (command, mode, started_at, status) VALUES (?, ?, ?, ?)", command, mode, started.UTC().Format(stateTime), RunStarted)
	if err != nil {
		return 0, fmt.Errorf("record run: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("record run: %w", err)
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", s.runLock(id)).Scan(&got); err != nil {
		return id, fmt.Errorf("record run: lock: %w", err)
	}
	return id, nil
}

// RelockRun takes the liveness lock of run id again on conn: the connection
// that held it was lost (the destination restarted) and the run goes on.
func (s *State) RelockRun(ctx context.Context, conn *sql.Conn, id int64) error {
	var got sql.NullInt64
	// A few seconds: this process's own lost session may still hold it
	// while the server ends it.
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 5)", s.runLock(id)).Scan(&got); err != nil {
		return fmt.Errorf("run %d: lock: %w", id, err)
	}
	if !got.Valid || got.Int64 != 1 {
		return fmt.Errorf("run %d: lock: %s is held by another session", id, s.runLock(id))
	}
	return nil
}

// InterruptRuns marks 'started' runs other than current whose process is gone
// (their liveness lock is free: killed, or the server restarted) as 'failed'
// with error "interrupted". Runs of live processes (a cutover while a delta
// daemon streams) are left alone. It returns how many it marked.
func (s *State) InterruptRuns(ctx context.Context, current int64) (int, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id FROM "+s.table("_shiplog_runs")+" WHERE status = ? AND id <> ?", RunStarted, current)
	if err != nil {
		return 0, fmt.Errorf("read runs: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		var free sql.NullInt64
		if err := s.db.QueryRowContext(ctx, "SELECT IS_FREE_LOCK(?)", s.runLock(id)).Scan(&free); err != nil {
			return n, fmt.Errorf("check run %d: %w", id, err)
		}
		if !free.Valid || free.Int64 != 1 {
			continue // its process still holds the lock
		}
		res, err := s.db.ExecContext(ctx, "UPDATE "+s.table("_shiplog_runs")+
			" SET status = ?, error = 'interrupted', ended_at = UTC_TIMESTAMP(6) WHERE id = ? AND status = ?", RunFailed, id, RunStarted)
		if err != nil {
			return n, fmt.Errorf("mark run %d interrupted: %w", id, err)
		}
		if k, _ := res.RowsAffected(); k > 0 {
			n++
		}
	}
	return n, nil
}

// FinishRun records how run r.ID ended, at r.EndedAt (nil: now).
func (s *State) FinishRun(ctx context.Context, r Run) error {
	var msg any
	if r.Error != nil {
		msg = *r.Error
		if err := checkSize("_shiplog_runs", "error", *r.Error); err != nil {
			return fmt.Errorf("finish run %d: %w", r.ID, err)
		}
	}
	var ended, code any
	if r.EndedAt != nil {
		ended = r.EndedAt.UTC().Format(stateTime)
	}
	if r.ExitCode != nil {
		code = *r.ExitCode
	}
	// A run recorded late (the destination was down when it ended) may have
	// been marked interrupted meanwhile: its own end replaces that.
	_, err := s.db.ExecContext(ctx, "UPDATE "+s.table("_shiplog_runs")+
		" SET ended_at = IFNULL(?, UTC_TIMESTAMP(6)), status = ?, inserted = ?, updated = ?, deleted = ?, failed_rows = ?, error = ?, exit_code = ?"+
		" WHERE id = ? AND (status = ? OR (status = ? AND error = 'interrupted'))",
		ended, r.Status, r.Inserted, r.Updated, r.Deleted, r.FailedRows, msg, code, r.ID, RunStarted, RunFailed)
	if err != nil {
		return fmt.Errorf("finish run %d: %w", r.ID, err)
	}
	return nil
}

// Runs returns the recorded runs, newest first, at most limit (0: all).
func (s *State) Runs(ctx context.Context, limit int) ([]Run, error) {
	q := "SELECT id, command, mode, started_at, ended_at, status, inserted, updated, deleted, failed_rows, error, exit_code FROM " +
		s.table("_shiplog_runs") + " ORDER BY id DESC"
	if limit > 0 {
		q += " LIMIT " + strconv.Itoa(limit)
	}
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	defer rows.Close()
	out := []Run{}
	for rows.Next() {
		var r Run
		var started string
		var ended, msg sql.NullString
		var code sql.NullInt64
		if err := rows.Scan(&r.ID, &r.Command, &r.Mode, &started, &ended, &r.Status, &r.Inserted, &r.Updated, &r.Deleted, &r.FailedRows, &msg, &code); err != nil {
			return nil, err
		}
		if code.Valid {
			c := int(code.Int64)
			r.ExitCode = &c
		}
		r.StartedAt, _ = time.ParseInLocation(stateTime, started, time.UTC)
		if ended.Valid {
			t, _ := time.ParseInLocation(stateTime, ended.String, time.UTC)
			r.EndedAt = &t
		}
		if msg.Valid {
			m := msg.String
			r.Error = &m
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// FailureCounts returns how many failed rows are recorded, by source table.
func (s *State) FailureCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT table_name, COUNT(*) FROM "+s.table("_shiplog_failed_rows")+" GROUP BY table_name")
	if err != nil {
		return nil, fmt.Errorf("count failed rows: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var t string
		var n int64
		if err := rows.Scan(&t, &n); err != nil {
			return nil, err
		}
		out[t] = n
	}
	return out, rows.Err()
}
