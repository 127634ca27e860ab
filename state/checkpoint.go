package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/mysqlerr"
	"github.com/shiplog/shiplog/rowio"
)

// Checkpoint returns the stream position recorded with the data, its source
// commit time, and whether there is one. With a partitioned apply (see
// sink/mysql's Writer) every partition has a row; the checkpoint is the lowest of them:
// everything up to it is applied in every partition.
func (s *State) Checkpoint(ctx context.Context) (cdc.Position, time.Time, bool, error) {
	parts, err := s.PartCheckpoints(ctx)
	if err != nil {
		return cdc.Position{}, time.Time{}, false, err
	}
	pos, t, ok := Lowest(parts)
	return pos, t, ok, nil
}

// Lowest is the lowest of the partitions' checkpoints, where the stream
// resumes; ok is false when none has one.
func Lowest(parts []PartCheckpoint) (pos cdc.Position, t time.Time, ok bool) {
	lo := -1
	for i, p := range parts {
		if p.Have && (lo < 0 || p.Pos.Compare(parts[lo].Pos) < 0) {
			lo = i
		}
	}
	if lo < 0 {
		return cdc.Position{}, time.Time{}, false
	}
	return parts[lo].Pos, parts[lo].Time, true
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
	return s.SavePartCheckpoint(ctx, tx, 0, pos, t)
}

// SavePartCheckpoint records the checkpoint of apply partition part (row id
// part+1) inside tx: the Writer commits it with the partition's changes.
func (s *State) SavePartCheckpoint(ctx context.Context, tx *sql.Tx, part int, pos cdc.Position, t time.Time) error {
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

// EnsurePartCheckpoints gives each of the first parts apply partitions a
// checkpoint row where it has none, at pos (reached at t): the stream's
// resume position. A run writes it before its first batch, so a run killed
// after some partitions committed and before others did leaves a row for
// every partition it used, the others' still at pos; a missing row would
// read as a partition with nothing to apply, or as a run with fewer
// partitions.
func (s *State) EnsurePartCheckpoints(ctx context.Context, parts int, pos cdc.Position, t time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	defer tx.Rollback()
	have := map[int]bool{}
	rows, err := tx.QueryContext(ctx, "SELECT id FROM "+s.table("_shiplog_checkpoint")+" FOR UPDATE")
	if err != nil {
		return fmt.Errorf("read checkpoint: %w", err)
	}
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("read checkpoint: %w", err)
		}
		have[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read checkpoint: %w", err)
	}
	for p := range parts {
		if have[p+1] {
			continue
		}
		if err := s.SavePartCheckpoint(ctx, tx, p, pos, t); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}

// TrimCheckpoints deletes, inside tx, the rows of partitions >= parts (left
// by a run with more partitions).
func (s *State) TrimCheckpoints(ctx context.Context, tx *sql.Tx, parts int) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+s.table("_shiplog_checkpoint")+" WHERE id > ?", parts); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}

// CheckpointRow is the stored checkpoint row of the first partition as the
// replica-lag monitor compares it between the destination and its replicas
// (which copy it): the position text and when it was written. OK is false
// when there is none (or no state table at all).
type CheckpointRow struct {
	OK      bool
	Pos     string
	Updated time.Time
}

// ReadCheckpointRowAndClock reads the checkpoint row in schema on db (the
// destination) and its clock, UTC_TIMESTAMP(6), the clock updated_at is
// written with.
func ReadCheckpointRowAndClock(ctx context.Context, db *sql.DB, schema string) (CheckpointRow, time.Time, error) {
	var now string
	var pos, updated sql.NullString
	err := db.QueryRowContext(ctx, "SELECT UTC_TIMESTAMP(6), c.position, c.updated_at FROM (SELECT 1 AS one) AS d LEFT JOIN "+
		checkpointTable(schema)+" AS c ON c.id = 1").Scan(&now, &pos, &updated)
	if err != nil {
		return CheckpointRow{}, time.Time{}, err
	}
	t, err := time.ParseInLocation(stateTime, now, time.UTC)
	if err != nil {
		return CheckpointRow{}, time.Time{}, fmt.Errorf("UTC_TIMESTAMP(6) %q: %w", now, err)
	}
	row, err := checkpointFrom(pos, updated)
	return row, t, err
}

// ReadCheckpointRow reads the checkpoint row in schema on db (a replica's
// copy of it); a missing row, table or schema is no row.
func ReadCheckpointRow(ctx context.Context, db *sql.DB, schema string) (CheckpointRow, error) {
	var pos, updated sql.NullString
	err := db.QueryRowContext(ctx, "SELECT position, updated_at FROM "+checkpointTable(schema)+" WHERE id = 1").Scan(&pos, &updated)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return CheckpointRow{}, nil
	case mysqlerr.Is(err, gmysql.ER_NO_SUCH_TABLE, gmysql.ER_BAD_DB_ERROR):
		return CheckpointRow{}, nil
	case err != nil:
		return CheckpointRow{}, err
	}
	return checkpointFrom(pos, updated)
}

func checkpointTable(schema string) string {
	return rowio.QuoteIdent(schema) + "." + rowio.QuoteIdent("_shiplog_checkpoint")
}

func checkpointFrom(pos, updated sql.NullString) (CheckpointRow, error) {
	if !pos.Valid {
		return CheckpointRow{}, nil
	}
	t, err := time.ParseInLocation(stateTime, updated.String, time.UTC)
	if err != nil {
		return CheckpointRow{}, fmt.Errorf("checkpoint updated_at %q: %w", updated.String, err)
	}
	return CheckpointRow{OK: true, Pos: pos.String, Updated: t}, nil
}
