package state

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
)

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

// ForgetProgress removes the snapshot progress of tables: their copy starts
// afresh.
func (s *State) ForgetProgress(ctx context.Context, tables ...string) error {
	for _, t := range tables {
		if _, err := s.db.ExecContext(ctx, "DELETE FROM "+s.table("_shiplog_tables")+" WHERE table_name = ?", t); err != nil {
			return fmt.Errorf("forget the progress of %s: %w", t, err)
		}
	}
	return nil
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
