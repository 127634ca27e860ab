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
	// Group is set when the holder is an applier of another Kafka consumer
	// group.
	Group string
}

func (e *StreamLockedError) Error() string {
	who := "another shiplog"
	if h := e.Holder; h != nil {
		cmd := h.Command
		if e.Group != "" {
			cmd += " of consumer group " + e.Group
		}
		who = fmt.Sprintf("another shiplog (%s, host %s, pid %d, started %s UTC)",
			cmd, h.Host, h.PID, h.StartedAt.UTC().Format("2006-01-02 15:04:05"))
	}
	if e.Group != "" {
		return who + " holds the stream lock of " + e.Database + ": stop it first, or give this applier its kafka.group_id so the two split the partitions"
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

// applyLocks is the prefix of the names of the locks Kafka appliers into this
// state's database hold, one per member.
func (s *State) applyLocks() string {
	sum := sha256.Sum256([]byte(s.schema))
	return "shiplog_apply." + hex.EncodeToString(sum[:8]) + "."
}

// TakeApplyLock takes the lock of one Kafka applier (a member of consumer
// group) on conn, and records holder. Members of one group share the stream:
// the group splits the partitions and each partition's offset row fences a
// member that lost it. A live member of another group would apply every
// change a second time, out of step: then it returns a *StreamLockedError
// naming that member. It returns the name of the lock taken.
func (s *State) TakeApplyLock(ctx context.Context, conn *sql.Conn, holder LockHolder, group string) (string, error) {
	prefix := s.applyLocks()
	// Members starting at once check and register one after the other.
	register := prefix + "register"
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 10)", register).Scan(&got); err != nil {
		return "", fmt.Errorf("take the apply lock of %s: %w", s.schema, err)
	}
	if !got.Valid || got.Int64 != 1 {
		return "", fmt.Errorf("take the apply lock of %s: another applier held %s for over 10s", s.schema, register)
	}
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK(?)", register) }()
	var h LockHolder
	var started, other string
	err := conn.QueryRowContext(ctx, "SELECT host, pid, command, started_at, scope FROM "+s.table("_shiplog_lock_holders")+
		" WHERE LEFT(lock_name, ?) = ? AND lock_name <> ? AND scope <> ? AND connection_id = IS_USED_LOCK(lock_name) LIMIT 1",
		len(prefix), prefix, register, group).Scan(&h.Host, &h.PID, &h.Command, &started, &other)
	switch {
	case err == nil:
		h.StartedAt, _ = time.ParseInLocation(stateTime, started, time.UTC)
		return "", &StreamLockedError{Database: s.schema, Holder: &h, Group: other}
	case !errors.Is(err, sql.ErrNoRows):
		return "", fmt.Errorf("read the appliers of %s: %w", s.schema, err)
	}
	var id int64
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		return "", fmt.Errorf("take the apply lock of %s: %w", s.schema, err)
	}
	name := prefix + fmt.Sprint(id)
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", name).Scan(&got); err != nil {
		return "", fmt.Errorf("take the apply lock of %s: %w", s.schema, err)
	} else if !got.Valid || got.Int64 != 1 {
		return "", fmt.Errorf("take the apply lock of %s: %s is held by another session", s.schema, name)
	}
	if _, err := conn.ExecContext(ctx, "DELETE FROM "+s.table("_shiplog_lock_holders")+
		" WHERE LEFT(lock_name, ?) = ? AND IS_FREE_LOCK(lock_name) = 1", len(prefix), prefix); err != nil {
		return "", fmt.Errorf("forget the appliers gone from %s: %w", s.schema, err)
	}
	if _, err := conn.ExecContext(ctx, "REPLACE INTO "+s.table("_shiplog_lock_holders")+
		" (lock_name, host, pid, command, started_at, connection_id, scope) VALUES (?, ?, ?, ?, ?, CONNECTION_ID(), ?)",
		name, holder.Host, holder.PID, holder.Command, holder.StartedAt.UTC().Format(stateTime), group); err != nil {
		return "", fmt.Errorf("record the holder of the apply lock of %s: %w", s.schema, err)
	}
	return name, nil
}

// HoldsLock reports whether conn's session still holds the named lock (the
// stream lock, or an applier's). An error means the connection is unusable,
// and so the lock is lost too.
func (s *State) HoldsLock(ctx context.Context, conn *sql.Conn, name string) (bool, error) {
	var held sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?) = CONNECTION_ID()", name).Scan(&held); err != nil {
		return false, err
	}
	return held.Valid && held.Int64 == 1, nil
}
