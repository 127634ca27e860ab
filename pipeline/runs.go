package pipeline

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/ops"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
	"github.com/shiplog/shiplog/state"
)

// RunLock is the destination lock a recorded command holds while it runs.
type RunLock int

const (
	// NoLock: the command runs beside a streaming daemon (cutover).
	NoLock RunLock = iota
	// StreamLock: the command writes the stream into the destination and
	// holds its stream lock for its lifetime: one writer per destination
	// database.
	StreamLock
	// ApplyLock: an applier's lock, shared by the members of one consumer
	// group (apply --from-kafka; see State.TakeApplyLock).
	ApplyLock
)

// RunSpec says how StartRun records a command. The caller (the CLI) knows
// its commands; the recorder knows none.
type RunSpec struct {
	// Command and Mode are recorded in _shiplog_runs ("migrate data",
	// "data").
	Command, Mode string
	// Line is the command line below the root that runs the command again
	// ("apply --from-kafka"): the lock's holder names it, and remedies in
	// errors give it. Empty: Command.
	Line string
	// Lock is the destination lock the command holds while it runs.
	Lock RunLock
	// Serve starts, for the run's lifetime, the replica-lag monitor and
	// (with http.listen) the status and control server of the run's
	// operations object.
	Serve bool
}

// line is the command line that runs the command again.
func (s RunSpec) line() string {
	if s.Line != "" {
		return s.Line
	}
	return s.Command
}

// ErrStreamLocked is returned, wrapped in a *state.StreamLockedError
// naming the holder, when another process holds the destination's stream
// lock: the command refused to start.
var ErrStreamLocked = state.ErrStreamLocked

// ErrStreamLockLost is the cause a command is stopped with when the
// connection holding its stream lock is lost: another process may take the
// lock, so this one must not write on.
var ErrStreamLockLost = errors.New("lost the stream lock")

// streamLockCheck is how often the stream lock's connection is checked (it
// also keeps the connection from idling out), and how long a check may take.
const (
	streamLockCheck   = 2 * time.Second
	streamLockTimeout = 10 * time.Second
)

// deadHolderWait is how long a command waits for the stream lock of a holder
// that ran on this host and has exited, for the server to notice.
const deadHolderWait = 5 * time.Second

// processAlive reports whether a process pid runs on this host.
func processAlive(pid int64) bool {
	p, err := os.FindProcess(int(pid))
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// RunRecorder records one command in _shiplog_runs, as Frappe's Data
// Migration Run: a 'started' row when it begins, its outcome and counts when
// it ends.
//
// Counts: inserted/updated/deleted are the changes the stream applied (the
// shiplog_changes_applied_total metric of the run's operations object, by op),
// plus, as inserted, the rows the snapshot copied (growth of
// _shiplog_tables.rows_copied less the table's new failed rows; a table
// whose progress restarted counts all its rows). Retries of failed rows,
// settings merges and apply --from-kafka are not counted. failed_rows is the growth of _shiplog_failed_rows over the run
// (never negative; rows that failed again are not counted twice).
//
// A run killed without a chance to finish (SIGKILL, crash) stays 'started'.
// Each run holds a destination named lock while it lives; when a recorded
// command starts, every other 'started' run whose lock is free (its process,
// and so its connection, is gone) is marked 'failed' with error "interrupted".
// Runs of live processes (cutover while a daemon streams) are left alone.
type RunRecorder struct {
	r        *Runtime
	id       int64
	lockLost func() error // nil without the stream lock
	stopLock func()
	ctl      *ops.Control
	done     func()
	failed0  map[string]int64
	progress map[string]state.TableProgress

	// lockMu guards the lock connection, which relock replaces when the
	// destination was lost, and what relock takes again on it.
	lockMu sync.Mutex
	conn   *sql.Conn
	// lockName is the stream or apply lock held on conn ("": none); an
	// apply lock's name changes with its connection.
	lockName string
	holder   state.LockHolder
	spec     RunSpec
	// runLocked: conn holds the run's liveness lock (id).
	runLocked bool
}

// StartRun records the start of the command spec describes, takes its lock
// and, when spec.Serve is set, serves the operations object given to SetOps
// (required: the run counts its metrics). It returns the context the
// command must run in (cancelled when the lock is lost). Finish must be
// called with the command's result.
func (r *Runtime) StartRun(ctx context.Context, spec RunSpec) (context.Context, *RunRecorder, error) {
	if r.ops == nil {
		return ctx, nil, errors.New("recording a run needs the command's operations object: call SetOps before StartRun")
	}
	rec := &RunRecorder{r: r, done: func() {}, stopLock: func() {}, spec: spec, ctl: r.ops}
	r.running = spec.line()
	var err error
	if rec.conn, err = r.dst.Conn(ctx); err != nil {
		return ctx, nil, fmt.Errorf("destination: %w", err)
	}
	if spec.Lock != NoLock {
		host, _ := os.Hostname()
		rec.holder = state.LockHolder{Host: host, PID: int64(os.Getpid()), Command: spec.line(), StartedAt: time.Now()}
		if err := rec.takeLock(ctx, rec.conn); err != nil {
			rec.conn.Close()
			return ctx, nil, err
		}
		ctx = rec.watchStreamLock(ctx)
		r.relock = rec.relock
	}
	if rec.failed0, err = r.state.FailureCounts(ctx); err != nil {
		rec.release()
		return ctx, nil, err
	}
	if rec.progress, err = r.state.Progress(ctx); err != nil {
		rec.release()
		return ctx, nil, err
	}
	rec.lockMu.Lock()
	rec.id, err = r.state.StartRun(ctx, rec.conn, spec.Command, spec.Mode, time.Now())
	rec.runLocked = err == nil
	rec.lockMu.Unlock()
	r.runID = rec.id
	if err != nil {
		rec.release()
		return ctx, nil, err
	}
	// Earlier runs that ended while the destination was down: their end,
	// before any is taken for a killed one.
	r.recordPendingRuns(ctx)
	if n, err := r.state.InterruptRuns(ctx, rec.id); err != nil {
		r.log.Warn("could not check earlier runs", "stage", "runs", "error", err.Error())
	} else if n > 0 {
		r.log.Warn("earlier runs did not finish; marked failed (interrupted)", "stage", "runs", "runs", n)
	}
	if spec.Serve {
		done, err := r.serve(ctx)
		if err != nil {
			rec.Finish(ctx, err, 1)
			return ctx, nil, err
		}
		rec.done = done
	}
	return ctx, rec, nil
}

// takeLock takes the command's lock (the stream lock, or an applier's) on
// conn and records its name.
func (rec *RunRecorder) takeLock(ctx context.Context, conn *sql.Conn) error {
	r := rec.r
	if rec.spec.Lock == ApplyLock {
		name, err := r.state.TakeApplyLock(ctx, conn, rec.holder, r.cfg.Kafka.GroupID)
		if err != nil {
			return err
		}
		rec.lockName = name
		return nil
	}
	err := r.state.TakeStreamLock(ctx, conn, rec.holder, 0, r.cfg.Sink)
	var le *state.StreamLockedError
	if errors.As(err, &le) && le.Holder != nil && le.Holder.Host == rec.holder.Host {
		switch {
		case le.Holder.PID == rec.holder.PID && rec.lockName != "":
			// This process's own session from before the connection was
			// lost (the server has not noticed yet): end it.
			if kerr := r.state.EndHolder(ctx, conn, r.state.StreamLock()); kerr != nil {
				r.log.Warn("could not end this process's stale session holding the stream lock", "stage", "lock", "error", kerr.Error())
			}
			err = r.state.TakeStreamLock(ctx, conn, rec.holder, deadHolderWait, r.cfg.Sink)
		case !processAlive(le.Holder.PID):
			// The holder ran here and has exited (SIGKILL a moment ago): the
			// server has yet to see its connection close.
			err = r.state.TakeStreamLock(ctx, conn, rec.holder, deadHolderWait, r.cfg.Sink)
		}
	}
	if err != nil {
		return err
	}
	rec.lockName = r.state.StreamLock()
	return nil
}

// lockConnGone reports whether err says the lock connection is lost (not
// that another process took the lock).
func lockConnGone(err error) bool {
	return errors.Is(err, sql.ErrConnDone) || mysqlsink.IsTransient(err)
}

// relock makes sure the command's lock (and the run's liveness lock) is
// held. When the lock connection was lost (the destination restarted, or the
// network failed) it takes them again on a new connection; another process
// that took the stream lock meanwhile is an error (a *StreamLockedError),
// as is a session that lost the lock while connected. A destination still
// unreachable is an error lockConnGone reports true for. Writers retrying
// through an outage call it before each attempt (see destRetry), so nothing
// is written without the lock; the lock watch calls it periodically.
func (rec *RunRecorder) relock(ctx context.Context) error {
	rec.lockMu.Lock()
	defer rec.lockMu.Unlock()
	held, err := rec.r.state.HoldsLock(ctx, rec.conn, rec.lockName)
	if err == nil && held {
		return nil
	}
	if err == nil {
		return errors.New("the server no longer has it on this connection")
	}
	if !lockConnGone(err) {
		return err
	}
	conn, err := rec.r.dst.Conn(ctx)
	if err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	if err := conn.PingContext(ctx); err != nil {
		conn.Close()
		return fmt.Errorf("destination: %w", err)
	}
	if err := rec.takeLock(ctx, conn); err != nil {
		conn.Close()
		if errors.Is(err, ErrStreamLocked) {
			// Not a refusal to start (exit 4): this process wrote, and stops.
			return fmt.Errorf("%w of %s: another process took it while this one's connection was lost (%v): stopping, so as not to write beside it",
				ErrStreamLockLost, rec.r.cfg.Destination.Database, err)
		}
		return err
	}
	if rec.runLocked {
		if err := rec.r.state.RelockRun(ctx, conn, rec.id); err != nil {
			conn.Close()
			return err
		}
	}
	rec.conn.Close()
	rec.conn = conn
	rec.r.log.Warn("the destination connection holding the stream lock was lost: took the lock again on a new connection", "stage", "lock")
	return nil
}

// watchStreamLock checks, every streamLockCheck, that the session of
// rec.conn still holds the command's lock (the stream lock, or an
// applier's), taking it again on a new connection when that connection was
// lost (see relock), and cancels the returned context with
// ErrStreamLockLost when another process holds it now, when the session lost
// it, or when the destination stayed unreachable for longer than
// destination.retry_for: the command stops instead of writing without the
// lock.
func (rec *RunRecorder) watchStreamLock(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancelCause(ctx)
	var (
		mu   sync.Mutex
		lost error
		wg   sync.WaitGroup
	)
	limit := cmpDuration(rec.r.cfg.Destination.RetryFor, config.DefaultRetryFor)
	db := rec.r.cfg.Destination.Database
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(streamLockCheck)
		defer t.Stop()
		var down time.Time // since when the destination is unreachable
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			cctx, ccancel := context.WithTimeout(ctx, streamLockTimeout)
			err := rec.relock(cctx)
			ccancel()
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				down = time.Time{}
				continue
			}
			var e error
			if lockConnGone(err) {
				if down.IsZero() {
					down = time.Now()
					rec.r.log.Warn("the destination connection holding the stream lock is lost; taking the lock again when the destination is back",
						"stage", "lock", "error", err.Error(), "retry_for", limit.String())
				}
				if time.Since(down) < limit {
					continue
				}
				e = fmt.Errorf("%w of %s: %w: destination %s unreachable for %s (destination.retry_for %s): %w; nothing is lost: bring the destination back and run `%s` again (it resumes from the checkpoint), or raise destination.retry_for",
					ErrStreamLockLost, db, ErrDestinationDown, rec.r.cfg.Destination.Redacted(), time.Since(down).Round(time.Second), limit, err, rec.r.command(rec.spec.line()))
			} else if errors.Is(err, ErrStreamLockLost) {
				e = err
			} else {
				e = fmt.Errorf("%w of %s: stopping, so as not to write beside another process that may hold it now: %w",
					ErrStreamLockLost, db, err)
			}
			rec.r.log.Error(e.Error(), "stage", "lock")
			mu.Lock()
			lost = e
			mu.Unlock()
			cancel(e)
			return
		}
	}()
	rec.lockLost = func() error {
		mu.Lock()
		defer mu.Unlock()
		return lost
	}
	rec.stopLock = func() {
		close(stop)
		wg.Wait()
		cancel(nil)
	}
	return ctx
}

// LockLost returns why the command was stopped when its stream lock was lost,
// or nil. The command's own error is then only a consequence.
func (rec *RunRecorder) LockLost() error {
	if rec == nil || rec.lockLost == nil {
		return nil
	}
	return rec.lockLost()
}

// release stops the lock watch and closes the lock's connection (the server
// frees the locks with it).
func (rec *RunRecorder) release() {
	rec.stopLock()
	rec.stopLock = func() {}
	rec.r.relock = nil
	rec.lockMu.Lock()
	rec.conn.Close()
	rec.lockMu.Unlock()
}

// Finish records the outcome of the run: success (nil, or stopped by
// SIGINT/SIGTERM), partial (ErrPartial) or failed. Errors recording it are
// logged, not returned: the command's own result matters more.
//
// exitCode is the command's exit status, recorded with it. When the
// destination cannot be reached (the run ended because it was down), the
// end is kept in a local file (see pendingRuns) that the next recorded
// command of this destination writes, and `shiplog runs` shows meanwhile:
// the run is not left to be taken for a killed one ("interrupted").
func (rec *RunRecorder) Finish(ctx context.Context, cmdErr error, exitCode int) {
	if rec == nil {
		return
	}
	rec.done()
	rec.done = func() {}
	ctx = context.WithoutCancel(ctx)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	defer rec.release()
	run := state.Run{ID: rec.id, Status: state.RunSuccess}
	switch {
	case cmdErr == nil:
	case errors.Is(cmdErr, ErrPartial):
		run.Status = state.RunPartial
	case errors.Is(cmdErr, context.Canceled):
		// A clean stop by SIGINT/SIGTERM.
	default:
		run.Status = state.RunFailed
	}
	if cmdErr != nil && run.Status != state.RunSuccess {
		msg := rec.r.redactSecrets(cmdErr.Error())
		run.Error = &msg
	}
	run.Inserted, run.Updated, run.Deleted = rec.ctl.AppliedByOp()
	failed, ferr := rec.r.state.FailureCounts(ctx)
	if ferr == nil {
		var before, after int64
		for _, n := range rec.failed0 {
			before += n
		}
		for _, n := range failed {
			after += n
		}
		run.FailedRows = max(after-before, 0)
	}
	if end, err := rec.r.state.Progress(ctx); err == nil {
		for table, p := range end {
			copied := p.Rows
			if before, ok := rec.progress[table]; ok && p.Rows >= before.Rows {
				copied -= before.Rows
			}
			if copied > 0 && ferr == nil {
				// rows_copied counts the rows read, failed ones included.
				copied = max(copied-max(failed[table]-rec.failed0[table], 0), 0)
			}
			run.Inserted += copied
		}
	}
	run.ExitCode = &exitCode
	err := rec.r.state.FinishRun(ctx, run)
	if err != nil && lockConnGone(err) {
		now := time.Now()
		run.EndedAt = &now
		path, perr := rec.r.savePendingRun(run)
		if perr == nil {
			rec.r.log.Warn("could not record the end of the run in the destination (unreachable); kept in "+path+": the next command records it",
				"stage", "runs", "run", run.ID, "error", err.Error())
			return
		}
		err = errors.Join(err, perr)
	}
	if err != nil {
		rec.r.log.Warn("could not record the end of the run", "stage", "runs", "error", err.Error())
	}
}

// pendingRunsDir is the folder of run ends not yet recorded in their
// destination (the user's cache folder, shiplog/runs).
func pendingRunsDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "shiplog", "runs"), nil
}

// pendingPrefix names the pending run files of this destination database.
func (r *Runtime) pendingPrefix() string {
	d := r.cfg.Destination
	sum := sha256.Sum256([]byte(net.JoinHostPort(d.Host, strconv.Itoa(d.Port)) + "/" + d.Database))
	return hex.EncodeToString(sum[:8]) + "-"
}

// savePendingRun keeps the end of run in a local file, for when the
// destination cannot record it; it returns the file's path.
func (r *Runtime) savePendingRun(run state.Run) (string, error) {
	dir, err := pendingRunsDir()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	b, err := json.Marshal(run)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, r.pendingPrefix()+strconv.FormatInt(run.ID, 10)+".json")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// pendingRuns reads the run ends of this destination kept locally, by file.
func (r *Runtime) pendingRuns() map[string]state.Run {
	dir, err := pendingRunsDir()
	if err != nil {
		return nil
	}
	paths, _ := filepath.Glob(filepath.Join(dir, r.pendingPrefix()+"*.json"))
	out := map[string]state.Run{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var run state.Run
		if err := json.Unmarshal(b, &run); err != nil || run.ID == 0 {
			r.log.Warn("ignoring an unreadable pending run record", "stage", "runs", "file", p)
			continue
		}
		out[p] = run
	}
	return out
}

// recordPendingRuns writes the run ends kept locally into the destination,
// and removes their files.
func (r *Runtime) recordPendingRuns(ctx context.Context) {
	for path, run := range r.pendingRuns() {
		if err := r.state.FinishRun(ctx, run); err != nil {
			r.log.Warn("could not record the end of an earlier run", "stage", "runs", "run", run.ID, "file", path, "error", err.Error())
			continue
		}
		_ = os.Remove(path)
	}
}

// Runs returns the recorded runs, newest first (limit 0: all).
// A run whose end is kept locally (the destination was down when it ended)
// is shown with it.
func (r *Runtime) Runs(ctx context.Context, limit int) ([]state.Run, error) {
	runs, err := r.state.Runs(ctx, limit)
	if err != nil {
		return nil, err
	}
	pending := map[int64]state.Run{}
	for _, run := range r.pendingRuns() {
		pending[run.ID] = run
	}
	for i, run := range runs {
		p, ok := pending[run.ID]
		if ok && (run.Status == state.RunStarted || (run.Status == state.RunFailed && run.Error != nil && *run.Error == "interrupted")) {
			p.Command, p.Mode, p.StartedAt = run.Command, run.Mode, run.StartedAt
			p.StepsRan, p.StepsSkipped = run.StepsRan, run.StepsSkipped
			runs[i] = p
		}
	}
	return runs, nil
}

// redactSecrets replaces the configured secrets in msg with "***": errors
// name servers without their passwords already; this keeps a secret a
// server or library echoed out of the recorded run too.
func (r *Runtime) redactSecrets(msg string) string {
	// Magento's crypt keys (m2_env_php's too) first, longest first.
	secrets := append(config.Options{Magento: r.handlerEnv().Options}.MagentoSecrets(), r.cfg.Options.MagentoSecrets()...)
	for _, secret := range append(secrets, r.cfg.Source.Password, r.cfg.Destination.Password, r.cfg.Kafka.SASL.Password, r.cfg.HTTP.Token) {
		if len(secret) >= 4 {
			msg = strings.ReplaceAll(msg, secret, "***")
		}
	}
	return msg
}
