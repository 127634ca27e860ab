package rowio

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/shiplog/shiplog/internal/mysqlerr"
)

// PinLockWait bounds each wait of PinSnapshots for the source's commits to
// pause (lock_wait_timeout of its lock session).
var PinLockWait = 10 * time.Second

// pinAttempts is how many times PinSnapshots waits PinLockWait before it
// gives up.
const pinAttempts = 3

// pinMu: one process pauses the source's commits for one set of snapshots
// at a time (a second BACKUP STAGE START would wait for the first anyway).
var pinMu sync.Mutex

// PinSnapshots begins a read-only consistent-snapshot transaction on each of
// conns while the source's commits are paused, and returns the binary log
// position they all match exactly: every transaction the binlog holds before
// it is in each snapshot, none after it. The callers' session settings
// (isolation level REPEATABLE READ, time zone, ...) must be in place.
//
// MariaDB reports the position of a snapshot itself (binlog_snapshot_file and
// _position), but under concurrent commits that position can be ahead of
// what the snapshot sees: on MariaDB 10.11, with three connections inserting,
// snapshots missed 1-9 transactions the binlog had before their reported
// position in 5 to 959 of 1200 tries. A stream started there would never
// deliver those rows. So commits are paused instead, on a session of their
// own: BACKUP STAGE BLOCK_COMMIT on MariaDB (it waits for commits under way
// and holds new ones, nothing else), FLUSH TABLES WITH READ LOCK where the
// server has no BACKUP STAGE (MySQL, MariaDB before 10.4: a syntax error).
// Both need the RELOAD privilege. The pause lasts as long as starting the
// snapshots and reading SHOW MASTER STATUS (milliseconds).
//
// ok is false when the server has no binary log. On error no snapshot is
// left open on conns (each is rolled back).
func PinSnapshots(ctx context.Context, db *sql.DB, conns ...*sql.Conn) (st MasterStatus, ok bool, err error) {
	rollback := func() {
		for _, c := range conns {
			_, _ = c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}
	pinMu.Lock()
	defer pinMu.Unlock()
	lock, err := db.Conn(ctx)
	if err != nil {
		return st, false, fmt.Errorf("source: connect: %w", err)
	}
	// The lock session is closed, not returned to the pool: whatever
	// happened, its pause ends with it.
	defer func() {
		_ = lock.Raw(func(any) error { return driver.ErrBadConn })
		_ = lock.Close()
	}()
	// MariaDB 10.4+ has BACKUP STAGE; elsewhere it is a syntax error, and
	// the global read lock is taken instead (below).
	pause, resume := []string{"BACKUP STAGE START", "BACKUP STAGE BLOCK_COMMIT"}, "BACKUP STAGE END"
	if _, err := lock.ExecContext(ctx, fmt.Sprintf("SET SESSION lock_wait_timeout = %d", max(int(PinLockWait/time.Second), 1))); err != nil {
		return st, false, fmt.Errorf("source: SET lock_wait_timeout: %w", err)
	}
	for attempt := 1; ; attempt++ {
		err = execAll(ctx, lock, pause)
		if err == nil {
			break
		}
		_, _ = lock.ExecContext(context.WithoutCancel(ctx), resume)
		switch {
		case mysqlerr.Is(err, mysql.ER_PARSE_ERROR) && pause[0] == "BACKUP STAGE START":
			// MySQL, or MariaDB before 10.4.
			pause, resume = []string{"FLUSH TABLES WITH READ LOCK"}, "UNLOCK TABLES"
			continue
		case mysqlerr.Is(err, mysql.ER_LOCK_WAIT_TIMEOUT) && attempt < pinAttempts:
			continue
		case mysqlerr.Is(err, mysql.ER_LOCK_WAIT_TIMEOUT):
			return st, false, fmt.Errorf("source: %w: the snapshot's commits could not be paused in %d tries of %s (a long DDL statement, a backup "+
				"or another FLUSH TABLES WITH READ LOCK holds them); try again when it ends", err, pinAttempts, PinLockWait)
		case mysqlerr.Is(err, mysql.ER_SPECIFIC_ACCESS_DENIED_ERROR, mysql.ER_DBACCESS_DENIED_ERROR, mysql.ER_ACCESS_DENIED_ERROR):
			return st, false, fmt.Errorf("source: %w: the source user needs the RELOAD privilege (GRANT RELOAD ON *.* TO ...): "+
				"commits are paused for a moment so that the copy's snapshot and the stream's start position agree exactly", err)
		}
		return st, false, fmt.Errorf("source: pausing commits for the snapshot: %w", err)
	}
	for _, c := range conns {
		if _, err = c.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
			err = fmt.Errorf("source: START TRANSACTION WITH CONSISTENT SNAPSHOT: %w", err)
			break
		}
	}
	if err == nil {
		st, ok, err = ReadMasterStatus(ctx, lock)
		if err != nil {
			err = fmt.Errorf("source: %w", err)
		}
	}
	if _, rerr := lock.ExecContext(context.WithoutCancel(ctx), resume); rerr != nil && err == nil {
		err = fmt.Errorf("source: %s: %w", resume, rerr)
	}
	if err != nil {
		rollback()
		return MasterStatus{}, false, err
	}
	return st, ok, nil
}

func execAll(ctx context.Context, c *sql.Conn, qs []string) error {
	for _, q := range qs {
		if _, err := c.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}
