package state

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
)

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

// ForgetFailuresOf removes the failed row records of table, inside tx (a
// table copied whole again, such as the settings merged anew).
func (s *State) ForgetFailuresOf(ctx context.Context, tx *sql.Tx, table string) error {
	_, err := tx.ExecContext(ctx, "DELETE FROM "+rowio.QuoteIdent(s.schema)+"._shiplog_failed_rows WHERE table_name = ?", table)
	return err
}

// CountFailures returns how many failed rows are recorded, for one source
// table or (table "") for all.
func (s *State) CountFailures(ctx context.Context, table string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.table("_shiplog_failed_rows")+" WHERE ? = '' OR table_name = ?", table, table).Scan(&n)
	return n, err
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
