package snapshot

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
)

// snapshotTx is a source connection inside a consistent-snapshot transaction.
type snapshotTx struct {
	conn *sql.Conn
	pos  cdc.Position
}

// beginSnapshot opens a read-only consistent snapshot and, with needPos, the
// binlog position it matches exactly (rowio.PinSnapshots: the source's
// commits pause while it starts).
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
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fail(fmt.Errorf("source: %s: %w", q, err))
		}
	}
	if !needPos {
		if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
			return fail(fmt.Errorf("source: START TRANSACTION WITH CONSISTENT SNAPSHOT: %w", err))
		}
		return s, nil
	}
	ms, found, err := rowio.PinSnapshots(ctx, db, conn)
	if err != nil {
		return fail(err)
	}
	if !found || ms.File == "" {
		return fail(errors.New("source: no binlog position for the snapshot (is log_bin on?)"))
	}
	s.pos = cdc.Position{File: ms.File, Pos: ms.Pos}
	return s, nil
}

func (s *snapshotTx) close(ctx context.Context) {
	_, _ = s.conn.ExecContext(context.WithoutCancel(ctx), "COMMIT")
	s.conn.Close()
}
