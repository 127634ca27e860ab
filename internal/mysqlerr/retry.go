package mysqlerr

import (
	"context"
	"log/slog"
	"time"
)

// Retry says how often and how far apart Do runs a transaction again after
// a lock conflict.
type Retry struct {
	// Attempts bounds the runs of f, the first included.
	Attempts int
	// Wait is the pause after the attempt-th run (from 1) lost a conflict.
	Wait func(attempt int) time.Duration
	// Log, if set, gets a debug line for each run again.
	Log *slog.Logger
}

// Do runs f until it returns nil or an error that is not a lock conflict
// (LockConflict: deadlock victim, lock wait timeout), at most r.Attempts
// times, pausing r.Wait(attempt) in between. It blocks for the runs and the
// pauses and returns f's last error (nil on success), also when ctx ends
// during a pause. f must be safe to run again: a whole transaction, which
// the server rolled back, or one that rolls itself back on error.
func (r Retry) Do(ctx context.Context, f func() error) error {
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || attempt >= r.Attempts || !LockConflict(err) {
			return err
		}
		if r.Log != nil {
			r.Log.Debug("running a transaction again after a lock conflict", "error", err, "attempt", attempt)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(r.Wait(attempt)):
		}
	}
}
