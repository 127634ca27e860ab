package state

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

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
	// StepsRan and StepsSkipped are the migration steps the run started and
	// those it skipped as done by an earlier run, in order (none: not a
	// migration mode).
	StepsRan     []string `json:"steps_ran"`
	StepsSkipped []string `json:"steps_skipped"`
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
	q := "SELECT id, command, mode, started_at, ended_at, status, inserted, updated, deleted, failed_rows, error, exit_code, steps_ran, steps_skipped FROM " +
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
		var ended, msg, ran, skipped sql.NullString
		var code sql.NullInt64
		if err := rows.Scan(&r.ID, &r.Command, &r.Mode, &started, &ended, &r.Status, &r.Inserted, &r.Updated, &r.Deleted, &r.FailedRows, &msg, &code, &ran, &skipped); err != nil {
			return nil, err
		}
		r.StepsRan, r.StepsSkipped = splitSteps(ran), splitSteps(skipped)
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

// splitSteps reads a list of steps NoteRunStep wrote.
func splitSteps(v sql.NullString) []string {
	if !v.Valid || v.String == "" {
		return []string{}
	}
	return strings.Split(v.String, ",")
}
