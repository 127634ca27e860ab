package state

import (
	"context"
	"database/sql"
	"errors"
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
	// Range, when set, makes this the progress of one key range of the
	// table's copy (ranges are copied in parallel): LastKey, Rows and State
	// are the range's, and SaveProgress records the range, not the table.
	Range *KeyRange `json:"-"`
}

// rangesTable holds the key ranges of tables copied in parallel.
const rangesTable = "_shiplog_ranges"

// KeyRange is one key range of a table copied in parallel: the rows whose
// first key column is above Lo and at most Hi (nil: unbounded).
type KeyRange struct {
	No     int
	Lo, Hi any
}

// RangeProgress is the recorded progress of one key range.
type RangeProgress struct {
	KeyRange
	LastKey []any
	Rows    int64
	Done    bool
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
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// A table copied in key ranges counts its rows there until it is done.
	sums, err := s.db.QueryContext(ctx, "SELECT table_name, SUM(rows_copied) FROM "+s.table(rangesTable)+" GROUP BY table_name")
	if err != nil {
		return nil, fmt.Errorf("read table progress: %w", err)
	}
	defer sums.Close()
	for sums.Next() {
		var t string
		var n int64
		if err := sums.Scan(&t, &n); err != nil {
			return nil, err
		}
		if p, ok := out[t]; ok && p.State != TableDone {
			p.Rows = n
			out[t] = p
		}
	}
	return out, sums.Err()
}

// ForgetProgress removes the snapshot progress of tables (and of their key
// ranges): their copy starts afresh.
func (s *State) ForgetProgress(ctx context.Context, tables ...string) error {
	for _, t := range tables {
		for _, st := range []string{rangesTable, "_shiplog_tables"} {
			if _, err := s.db.ExecContext(ctx, "DELETE FROM "+s.table(st)+" WHERE table_name = ?", t); err != nil {
				return fmt.Errorf("forget the progress of %s: %w", t, err)
			}
		}
	}
	return nil
}

// Ranges returns the key ranges recorded for table's copy, in order (none:
// the table is not copied in ranges).
func (s *State) Ranges(ctx context.Context, table string) ([]RangeProgress, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT range_no, lo, hi, last_key, rows_copied, done FROM "+s.table(rangesTable)+" WHERE table_name = ? ORDER BY range_no", table)
	if err != nil {
		return nil, fmt.Errorf("read the key ranges of %s: %w", table, err)
	}
	defer rows.Close()
	var out []RangeProgress
	for rows.Next() {
		var r RangeProgress
		var lo, hi, last sql.NullString
		if err := rows.Scan(&r.No, &lo, &hi, &last, &r.Rows, &r.Done); err != nil {
			return nil, err
		}
		for _, f := range []struct {
			s   sql.NullString
			set func([]any)
		}{
			{lo, func(k []any) { r.Lo = k[0] }},
			{hi, func(k []any) { r.Hi = k[0] }},
			{last, func(k []any) { r.LastKey = k }},
		} {
			if !f.s.Valid {
				continue
			}
			k, err := rowio.DecodeKey(f.s.String)
			if err == nil && len(k) == 0 {
				err = errors.New("empty key")
			}
			if err != nil {
				return nil, fmt.Errorf("key range %d of %s: %w", r.No, table, err)
			}
			f.set(k)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// StartRanges records table's key ranges, replacing any it had, and p (the
// table's progress) in one transaction.
func (s *State) StartRanges(ctx context.Context, p TableProgress, ranges []RangeProgress) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save the key ranges of %s: %w", p.Table, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+s.table(rangesTable)+" WHERE table_name = ?", p.Table); err != nil {
		return fmt.Errorf("save the key ranges of %s: %w", p.Table, err)
	}
	for _, r := range ranges {
		rp := p
		rp.Range, rp.LastKey, rp.Rows, rp.State = &r.KeyRange, r.LastKey, r.Rows, TableCopying
		if r.Done {
			rp.State = TableDone
		}
		if err := s.SaveProgress(ctx, tx, rp); err != nil {
			return err
		}
	}
	if err := s.SaveProgress(ctx, tx, p); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save the key ranges of %s: %w", p.Table, err)
	}
	return nil
}

// saveRange records the progress of the range p.Range of p.Table.
func (s *State) saveRange(ctx context.Context, tx *sql.Tx, p TableProgress) error {
	var keys [3]any // lo, hi, last_key; NULL: unbounded, none yet
	for i, k := range [][]any{{p.Range.Lo}, {p.Range.Hi}, p.LastKey} {
		if k == nil || k[0] == nil {
			continue
		}
		enc, err := rowio.EncodeKey(k)
		if err != nil {
			return fmt.Errorf("key range %d of %s: %w", p.Range.No, p.Table, err)
		}
		if err := checkSize(rangesTable, "last_key", enc); err != nil {
			return fmt.Errorf("key range %d of %s: %w", p.Range.No, p.Table, err)
		}
		keys[i] = enc
	}
	q := "INSERT INTO " + s.table(rangesTable) +
		" (table_name, range_no, lo, hi, last_key, rows_copied, done, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))" +
		" ON DUPLICATE KEY UPDATE last_key = VALUES(last_key), rows_copied = VALUES(rows_copied), done = VALUES(done), updated_at = VALUES(updated_at)"
	args := []any{p.Table, p.Range.No, keys[0], keys[1], keys[2], p.Rows, p.State == TableDone}
	var err error
	if tx != nil {
		_, err = tx.ExecContext(ctx, q, args...)
	} else {
		_, err = s.db.ExecContext(ctx, q, args...)
	}
	if err != nil {
		return fmt.Errorf("save progress of %s, key range %d: %w", p.Table, p.Range.No, err)
	}
	return nil
}

// SaveProgress records p inside tx (with the chunk it describes) or, when tx is
// nil, on its own; with p.Range set, the range's progress.
func (s *State) SaveProgress(ctx context.Context, tx *sql.Tx, p TableProgress) error {
	if p.Range != nil {
		return s.saveRange(ctx, tx, p)
	}
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
