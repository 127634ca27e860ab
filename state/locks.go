package state

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
	sink      string // of a stream writer, as recorded
}

// StreamLockedError names the process holding the stream lock of Database.
// Holder is nil when the holder has not recorded itself yet (it took the lock
// a moment ago) or is a version that does not record itself.
type StreamLockedError struct {
	Database string
	Holder   *LockHolder
	// Group is set when the holder is a Kafka applier: of consumer group
	// Group, another than the refused applier's when OtherGroup.
	Group      string
	OtherGroup bool
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
	if e.OtherGroup {
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
// naming the holder. sink is the command's sink ("mysql", "kafka", "both"):
// unless it is "kafka", a live Kafka applier into this database (which writes
// the same tables) refuses it too.
//
// wait is how long to wait for the lock: 0 unless the caller knows the
// holder is gone and the server has yet to notice its closed connection.
func (s *State) TakeStreamLock(ctx context.Context, conn *sql.Conn, holder LockHolder, wait time.Duration, sink string) error {
	release, err := s.register(ctx, conn)
	if err != nil {
		return err
	}
	defer release()
	name := s.StreamLock()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", name, wait.Seconds()).Scan(&got); err != nil {
		return fmt.Errorf("take the stream lock of %s: %w", s.schema, err)
	}
	if !got.Valid || got.Int64 != 1 {
		return &StreamLockedError{Database: s.schema, Holder: s.lockHolder(ctx, name)}
	}
	if sink != "kafka" {
		if h, group, err := s.liveApplier(ctx, conn, nil); err != nil || h != nil {
			_, _ = conn.ExecContext(ctx, "SELECT RELEASE_LOCK(?)", name)
			if err != nil {
				return err
			}
			return &StreamLockedError{Database: s.schema, Holder: h, Group: group}
		}
	}
	_, err = conn.ExecContext(ctx, "REPLACE INTO "+s.table("_shiplog_lock_holders")+
		" (lock_name, host, pid, command, started_at, connection_id, scope) VALUES (?, ?, ?, ?, ?, CONNECTION_ID(), ?)",
		name, holder.Host, holder.PID, holder.Command, holder.StartedAt.UTC().Format(stateTime), sink)
	if err != nil {
		_, _ = conn.ExecContext(ctx, "SELECT RELEASE_LOCK(?)", name)
		return fmt.Errorf("record the holder of the stream lock of %s: %w", s.schema, err)
	}
	return nil
}

// register takes the lock under which writers of this database check each
// other and record themselves, so two starting at once do not both pass.
func (s *State) register(ctx context.Context, conn *sql.Conn) (release func(), err error) {
	register := s.applyLocks() + "register"
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 10)", register).Scan(&got); err != nil {
		return nil, fmt.Errorf("take the lock of the writers of %s: %w", s.schema, err)
	}
	if !got.Valid || got.Int64 != 1 {
		return nil, fmt.Errorf("take the lock of the writers of %s: another shiplog held %s for over 10s", s.schema, register)
	}
	return func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK(?)", register) }, nil
}

// liveApplier returns a live Kafka applier into this database, and its group;
// with except, one of another group than *except. nil when there is none.
func (s *State) liveApplier(ctx context.Context, conn *sql.Conn, except *string) (*LockHolder, string, error) {
	prefix := s.applyLocks()
	q := "SELECT host, pid, command, started_at, scope FROM " + s.table("_shiplog_lock_holders") +
		" WHERE LEFT(lock_name, ?) = ? AND lock_name <> ? AND connection_id = IS_USED_LOCK(lock_name)"
	args := []any{len(prefix), prefix, prefix + "register"}
	if except != nil {
		q += " AND scope <> ?"
		args = append(args, *except)
	}
	var h LockHolder
	var started, group string
	err := conn.QueryRowContext(ctx, q+" LIMIT 1", args...).Scan(&h.Host, &h.PID, &h.Command, &started, &group)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read the appliers of %s: %w", s.schema, err)
	}
	h.StartedAt, _ = time.ParseInLocation(stateTime, started, time.UTC)
	return &h, group, nil
}

// lockHolder reads the recorded holder of lock name, if it is the session
// holding it now (a row left by a dead holder names nobody).
func (s *State) lockHolder(ctx context.Context, name string) *LockHolder {
	var h LockHolder
	var started string
	err := s.db.QueryRowContext(ctx, "SELECT host, pid, command, started_at, scope FROM "+s.table("_shiplog_lock_holders")+
		" WHERE lock_name = ? AND connection_id = IS_USED_LOCK(?)", name, name).Scan(&h.Host, &h.PID, &h.Command, &started, &h.sink)
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
// naming that member; so does a live writer of the stream that is not a
// publisher to Kafka. It returns the name of the lock taken.
func (s *State) TakeApplyLock(ctx context.Context, conn *sql.Conn, holder LockHolder, group string) (string, error) {
	release, err := s.register(ctx, conn)
	if err != nil {
		return "", err
	}
	defer release()
	if h, other, err := s.liveApplier(ctx, conn, &group); err != nil {
		return "", err
	} else if h != nil {
		return "", &StreamLockedError{Database: s.schema, Holder: h, Group: other, OtherGroup: true}
	}
	// A writer of the stream into these tables (not a publisher to Kafka
	// that keeps its state here).
	stream := s.StreamLock()
	if h := s.lockHolder(ctx, stream); h != nil && h.sink != "kafka" {
		return "", &StreamLockedError{Database: s.schema, Holder: h}
	}
	prefix := s.applyLocks()
	var got sql.NullInt64
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

// EndHolder ends the session holding lock name (KILL CONNECTION), unless it
// is conn's: for a process whose own earlier connection still holds its
// lock after the network failed (the server has not noticed it is gone).
// The caller makes sure the holder is its own session.
func (s *State) EndHolder(ctx context.Context, conn *sql.Conn, name string) error {
	var id, self sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?), CONNECTION_ID()", name).Scan(&id, &self); err != nil {
		return fmt.Errorf("find the holder of %s: %w", name, err)
	}
	if !id.Valid || id.Int64 == self.Int64 {
		return nil
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id.Int64)); err != nil {
		return fmt.Errorf("end session %d holding %s: %w", id.Int64, name, err)
	}
	return nil
}
