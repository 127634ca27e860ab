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
// binlog position it matches exactly.
func beginSnapshot(ctx context.Context, db *sql.DB, needPos bool) (*snapshotTx, error) {
	snaps, err := openSnapshots(ctx, db, 1, needPos)
	if err != nil {
		return nil, err
	}
	return snaps[0], nil
}

// openSnapshots opens k source connections in read-only consistent
// snapshots. With needPos they are one snapshot, started while the source's
// commits pause (rowio.PinSnapshots), with the binlog position it matches
// exactly: the ranges of a table read on them agree with each other and with
// the stream's start. Without, each starts on its own (the change-log delta
// needs no position).
func openSnapshots(ctx context.Context, db *sql.DB, k int, needPos bool) ([]*snapshotTx, error) {
	snaps := make([]*snapshotTx, 0, k)
	conns := make([]*sql.Conn, 0, k)
	fail := func(err error) ([]*snapshotTx, error) {
		for _, c := range conns {
			_, _ = c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			c.Close()
		}
		return nil, err
	}
	for range k {
		conn, err := db.Conn(ctx)
		if err != nil {
			return fail(fmt.Errorf("source: connect: %w", err))
		}
		conns = append(conns, conn)
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
		}
	}
	var pos cdc.Position
	if needPos {
		ms, found, err := rowio.PinSnapshots(ctx, db, conns...)
		if err != nil {
			return fail(err)
		}
		if !found || ms.File == "" {
			return fail(errors.New("source: no binlog position for the snapshot (is log_bin on?)"))
		}
		pos = cdc.Position{File: ms.File, Pos: ms.Pos}
	}
	for _, c := range conns {
		snaps = append(snaps, &snapshotTx{conn: c, pos: pos})
	}
	return snaps, nil
}

func (s *snapshotTx) close(ctx context.Context) {
	_, _ = s.conn.ExecContext(context.WithoutCancel(ctx), "COMMIT")
	s.conn.Close()
}
