package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

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
