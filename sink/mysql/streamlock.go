package mysql

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// ErrStreamLocked is returned (wrapped in a *StreamLockedError) when another
// process holds the stream lock.
var ErrStreamLocked = errors.New("stream lock held by another shiplog")

// LockHolder says who holds a stream lock: it is recorded in
// _shiplog_lock_holders so a refused process can name it.
type LockHolder struct {
	Host      string
	PID       int64
	Command   string
	StartedAt time.Time
}

// StreamLockedError names the process holding the stream lock of Database.
// Holder is nil when the holder has not recorded itself yet (it took the lock
// a moment ago) or is a version that does not record itself.
type StreamLockedError struct {
	Database string
	Holder   *LockHolder
}

func (e *StreamLockedError) Error() string {
	who := "another shiplog"
	if h := e.Holder; h != nil {
		who = fmt.Sprintf("another shiplog (%s, host %s, pid %d, started %s UTC)",
			h.Command, h.Host, h.PID, h.StartedAt.UTC().Format("2006-01-02 15:04:05"))
	}
	return who + " holds the stream lock of " + e.Database + ": stop it first (only one process may write a destination stream)"
}

// Is makes errors.Is(err, ErrStreamLocked) true.
func (e *StreamLockedError) Is(target error) bool { return target == ErrStreamLocked }

// StreamLock is the name of the destination named lock that the one writer
// of the stream into this state's database holds for its lifetime.
func (s *State) StreamLock() string {
	sum := sha256.Sum256([]byte(s.schema))
	return "shiplog_stream." + hex.EncodeToString(sum[:8])
}

// TakeStreamLock takes the stream lock on conn without waiting (GET_LOCK with
// timeout 0) and records holder. The caller keeps conn open, and alive, while
// it writes: the server frees the lock when the connection ends, on SIGKILL
// too. When another session holds the lock it returns a *StreamLockedError
// naming the holder.
//
// wait is how long to wait for the lock: 0 unless the caller knows the
// holder is gone and the server has yet to notice its closed connection.
func (s *State) TakeStreamLock(ctx context.Context, conn *sql.Conn, holder LockHolder, wait time.Duration) error {
	name := s.StreamLock()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", name, wait.Seconds()).Scan(&got); err != nil {
		return fmt.Errorf("take the stream lock of %s: %w", s.schema, err)
	}
	if !got.Valid || got.Int64 != 1 {
		return &StreamLockedError{Database: s.schema, Holder: s.lockHolder(ctx, name)}
	}
	_, err := conn.ExecContext(ctx, "REPLACE INTO "+s.table("_shiplog_lock_holders")+
		" (lock_name, host, pid, command, started_at, connection_id) VALUES (?, ?, ?, ?, ?, CONNECTION_ID())",
		name, holder.Host, holder.PID, holder.Command, holder.StartedAt.UTC().Format(stateTime))
	if err != nil {
		_, _ = conn.ExecContext(ctx, "SELECT RELEASE_LOCK(?)", name)
		return fmt.Errorf("record the holder of the stream lock of %s: %w", s.schema, err)
	}
	return nil
}

// lockHolder reads the recorded holder of lock name, if it is the session
// holding it now (a row left by a dead holder names nobody).
func (s *State) lockHolder(ctx context.Context, name string) *LockHolder {
	var h LockHolder
	var started string
	err := s.db.QueryRowContext(ctx, "SELECT host, pid, command, started_at FROM "+s.table("_shiplog_lock_holders")+
		" WHERE lock_name = ? AND connection_id = IS_USED_LOCK(?)", name, name).Scan(&h.Host, &h.PID, &h.Command, &started)
	if err != nil {
		return nil
	}
	h.StartedAt, _ = time.ParseInLocation(stateTime, started, time.UTC)
	return &h
}

// HoldsStreamLock reports whether conn's session still holds the stream lock.
// An error means the connection is unusable, and so the lock is lost too.
func (s *State) HoldsStreamLock(ctx context.Context, conn *sql.Conn) (bool, error) {
	var held sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?) = CONNECTION_ID()", s.StreamLock()).Scan(&held); err != nil {
		return false, err
	}
	return held.Valid && held.Int64 == 1, nil
}
