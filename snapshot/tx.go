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

// beginSnapshot opens a read-only consistent snapshot and the binlog position it
// matches: MariaDB reports it for the snapshot itself (binlog_snapshot_file and
// _position); elsewhere a short global read lock pins it.
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
		"START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fail(fmt.Errorf("source: %s: %w", q, err))
		}
	}
	if !needPos {
		return s, nil
	}
	file, pos, found, err := showPair(ctx, conn, "SHOW STATUS LIKE 'binlog_snapshot_%'", "Binlog_snapshot_file", "Binlog_snapshot_position")
	if err != nil {
		return fail(err)
	}
	if !found {
		// MySQL: pin the position with a global read lock around the snapshot start.
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			return fail(err)
		}
		for _, q := range []string{"FLUSH TABLES WITH READ LOCK", "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				_, _ = conn.ExecContext(ctx, "UNLOCK TABLES")
				return fail(fmt.Errorf("source: %s: %w", q, err))
			}
		}
		var ms rowio.MasterStatus
		ms, found, err = rowio.ReadMasterStatus(ctx, conn)
		file, pos = ms.File, ms.Pos
		_, _ = conn.ExecContext(ctx, "UNLOCK TABLES")
		if err != nil {
			return fail(fmt.Errorf("source: %w", err))
		}
	}
	if !found || file == "" {
		return fail(errors.New("source: no binlog position for the snapshot (is log_bin on?)"))
	}
	s.pos = cdc.Position{File: file, Pos: pos}
	return s, nil
}

func (s *snapshotTx) close(ctx context.Context) {
	_, _ = s.conn.ExecContext(context.WithoutCancel(ctx), "COMMIT")
	s.conn.Close()
}

func showPair(ctx context.Context, conn *sql.Conn, q, fileVar, posVar string) (string, uint64, bool, error) {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return "", 0, false, fmt.Errorf("source: %s: %w", q, err)
	}
	defer rows.Close()
	var file string
	var pos uint64
	var seen int
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return "", 0, false, err
		}
		switch name {
		case fileVar:
			file = value
			seen++
		case posVar:
			fmt.Sscan(value, &pos)
			seen++
		}
	}
	return file, pos, seen == 2, rows.Err()
}
