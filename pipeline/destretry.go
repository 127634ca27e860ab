package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/ops"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
)

// ErrDestinationDown is returned (wrapped) when the destination stayed
// unreachable for longer than destination.retry_for.
var ErrDestinationDown = mysqlsink.ErrDestinationDown

// Backoff between attempts of a destination write: doubling from
// retryFirst up to retryMax, each wait drawn in [d/2, d) (jitter, so
// several writers do not hammer a restarting server in step).
const (
	retryFirst = 500 * time.Millisecond
	retryMax   = 30 * time.Second
	// writeTimeout bounds one attempt of a batch's write.
	writeTimeout = 5 * time.Minute
	// recoverTimeout bounds re-taking the lock and reading the checkpoint
	// back before an attempt.
	recoverTimeout = 30 * time.Second
)

// destRetry retries destination writes through connection-level outages
// (mysqlsink.IsTransient) for at most limit from the first failure.
type destRetry struct {
	limit time.Duration
	log   *slog.Logger
	ctl   *ops.Control
	// dest names the destination (no password) in errors.
	dest string
	// relock makes sure the stream lock (and the run's liveness lock) is
	// held, on a new connection when the old one was lost; nil: no lock.
	relock func(context.Context) error
	// again is the command that resumes, for errors.
	again string
	// sleep waits d or until ctx ends (a seam for tests).
	sleep func(ctx context.Context, d time.Duration) error
}

// destRetry returns the retrier of the destination's writes of command
// (what to run again, e.g. "run", unless StartRun recorded the command).
func (r *Runtime) destRetry(_ context.Context, command string) *destRetry {
	if r.running != "" {
		command = r.running
	}
	return &destRetry{
		limit: cmpDuration(r.cfg.Destination.RetryFor, config.DefaultRetryFor), log: r.log, ctl: r.ops,
		dest: r.cfg.Destination.Redacted(), relock: r.relock, again: r.command(command), sleep: sleepCtx,
	}
}

func cmpDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// do runs write, and runs it again while it fails with a connection-level
// error, until it succeeds, fails otherwise, or limit has passed since the
// first failure (then the error wraps ErrDestinationDown and names the
// destination and the remedy).
//
// Each attempt runs in a context of its own that ctx's end does not cancel
// (a write in flight finishes, so the destination commits whole batches),
// bounded by writeTimeout. Before each new attempt, recover (when not nil)
// runs: it must find out what the failed attempt committed (its COMMIT may
// have succeeded before the connection broke) so the attempt applies the
// rest only. ctx's end stops the waits between attempts: do then returns an
// error wrapping ctx's.
func (d *destRetry) do(ctx context.Context, what string, write func(context.Context) error, recover func(context.Context) error) error {
	var (
		since    time.Time
		attempts int
		last     error
	)
	attempt := func(f func(context.Context) error, timeout time.Duration) error {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		return f(actx)
	}
	for {
		err := func() error {
			if attempts > 0 {
				if d.relock != nil {
					if err := attempt(d.relock, recoverTimeout); err != nil {
						return err
					}
				}
				if recover != nil {
					if err := attempt(recover, recoverTimeout); err != nil {
						return err
					}
				}
			}
			return attempt(write, writeTimeout)
		}()
		if err == nil {
			if attempts > 0 {
				d.log.Info("destination back: write succeeded", "stage", "destination", "write", what,
					"attempts", attempts+1, "outage", time.Since(since).Round(time.Millisecond).String())
				d.ctl.SetRetrying(nil)
			}
			return nil
		}
		if !mysqlsink.IsTransient(err) {
			if attempts > 0 {
				d.ctl.SetRetrying(nil)
			}
			return err
		}
		if attempts == 0 {
			since = time.Now()
		}
		attempts++
		last = err
		left := d.limit - time.Since(since)
		if left <= 0 {
			d.ctl.SetRetrying(nil)
			return fmt.Errorf("%w: destination %s: %s failed for %s (%d attempts, destination.retry_for %s): %w; nothing is lost: "+
				"bring the destination back and run `%s` again (it resumes from the checkpoint), or raise destination.retry_for",
				ErrDestinationDown, d.dest, what, time.Since(since).Round(time.Second), attempts, d.limit, last, d.again)
		}
		wait := min(retryFirst<<min(attempts-1, 16), retryMax)
		wait = wait/2 + rand.N(wait/2)
		wait = min(wait, left)
		d.log.Warn("destination write failed (connection); retrying", "stage", "destination", "write", what,
			"attempt", attempts, "error", err.Error(), "retry_in", wait.Round(time.Millisecond).String(),
			"retrying_for", time.Since(since).Round(time.Millisecond).String(), "retry_for", d.limit.String())
		d.ctl.SetRetrying(&ops.RetryStatus{Since: since, Attempts: attempts, LastError: err.Error()})
		if err := d.sleep(ctx, wait); err != nil {
			d.ctl.SetRetrying(nil)
			return fmt.Errorf("%w (while retrying the destination after: %w)", err, last)
		}
	}
}

// restartReset is how long a loop must have run before its failure counts
// as a new outage (the bound starts again).
const restartReset = time.Minute

// restart runs loop (a stream: it runs until ctx ends or it fails) and runs
// it again from the start when it fails with a connection-level error that
// no retry inside it handled: while it starts (reading the state, compiling
// the plan against the destination), or from a write outside a batch. The
// stream resumes from the checkpoint, so nothing is applied twice. The
// waits and the bound are do's; a failure after restartReset of running
// starts a new bound. Errors that already end an outage (ErrDestinationDown,
// a lost stream lock) and others are returned at once.
func (d *destRetry) restart(ctx context.Context, what string, loop func(context.Context) error) error {
	var (
		since    time.Time
		attempts int
	)
	for {
		start := time.Now()
		err := loop(ctx)
		if err == nil || ctx.Err() != nil || !mysqlsink.IsTransient(err) ||
			errors.Is(err, ErrDestinationDown) || errors.Is(err, ErrStreamLockLost) {
			if attempts > 0 {
				d.ctl.SetRetrying(nil)
			}
			return err
		}
		if attempts == 0 || time.Since(start) >= restartReset {
			since, attempts = time.Now(), 0
		}
		attempts++
		left := d.limit - time.Since(since)
		if left <= 0 {
			d.ctl.SetRetrying(nil)
			return fmt.Errorf("%w: %s stopped on connection errors for %s (%d restarts, destination.retry_for %s): %w; nothing is lost: "+
				"bring the servers back and run `%s` again (it resumes from the checkpoint), or raise destination.retry_for",
				ErrDestinationDown, what, time.Since(since).Round(time.Second), attempts, d.limit, err, d.again)
		}
		wait := min(retryFirst<<min(attempts-1, 16), retryMax)
		wait = min(wait/2+rand.N(wait/2), left)
		d.log.Warn("stopped on a connection error; starting again from the checkpoint", "stage", "destination", "loop", what,
			"attempt", attempts, "error", err.Error(), "retry_in", wait.Round(time.Millisecond).String(), "retry_for", d.limit.String())
		d.ctl.SetRetrying(&ops.RetryStatus{Since: since, Attempts: attempts, LastError: err.Error()})
		if err := d.sleep(ctx, wait); err != nil {
			d.ctl.SetRetrying(nil)
			return nil // stopped while waiting: a clean stop
		}
	}
}
