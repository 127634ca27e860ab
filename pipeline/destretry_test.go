package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/ops"
)

// TestDestRetryBacksOffWithinTheBound: connection-level failures are retried
// with growing, capped, jittered waits, recover and relock running before
// each new attempt, until the write succeeds; past the bound the error wraps
// ErrDestinationDown and names the destination, the bound and the remedy;
// other errors and the caller's end stop at once.
func TestDestRetryBacksOffWithinTheBound(t *testing.T) {
	newRetry := func(limit time.Duration, slept *[]time.Duration, clock *time.Duration) *destRetry {
		return &destRetry{limit: limit, log: slog.New(slog.NewTextHandler(io.Discard, nil)), ctl: ops.NewControl(config.Throttle{}),
			dest: "u:***@tcp(db:3306)/d", again: "shiplog --config c.yaml run",
			sleep: func(ctx context.Context, d time.Duration) error {
				*slept = append(*slept, d)
				*clock += d
				return ctx.Err()
			}}
	}
	t.Run("succeeds after failures", func(t *testing.T) {
		var slept []time.Duration
		var clock time.Duration
		d := newRetry(time.Hour, &slept, &clock)
		var writes, recovers, relocks int
		d.relock = func(context.Context) error { relocks++; return nil }
		err := d.do(context.Background(), "apply a batch", func(context.Context) error {
			writes++
			if writes < 8 {
				if d.ctl.DestRetrying() == nil && writes > 1 {
					t.Errorf("attempt %d: /status shows no retry", writes)
				}
				return gomysql.ErrInvalidConn
			}
			return nil
		}, func(context.Context) error { recovers++; return nil })
		if err != nil || writes != 8 || recovers != 7 || relocks != 7 {
			t.Fatalf("err %v, %d writes, %d recovers, %d relocks", err, writes, recovers, relocks)
		}
		if d.ctl.DestRetrying() != nil {
			t.Fatal("still retrying after success")
		}
		for i, w := range slept {
			hi := min(retryFirst<<i, retryMax)
			if w < hi/2 || w >= hi {
				t.Errorf("wait %d: %s, want in [%s, %s)", i, w, hi/2, hi)
			}
		}
	})
	t.Run("gives up past the bound", func(t *testing.T) {
		var slept []time.Duration
		var clock time.Duration
		d := newRetry(40*time.Millisecond, &slept, &clock)
		// The clock is real here: the bound is short.
		d.sleep = func(ctx context.Context, w time.Duration) error { time.Sleep(w); return nil }
		start := time.Now()
		err := d.do(context.Background(), "apply a batch", func(context.Context) error { return &gomysql.MySQLError{Number: 1053, Message: "shutdown"} }, nil)
		if !errors.Is(err, ErrDestinationDown) || time.Since(start) < 40*time.Millisecond {
			t.Fatalf("err %v after %s", err, time.Since(start))
		}
		for _, want := range []string{"u:***@tcp(db:3306)/d", "destination.retry_for 40ms", "shiplog --config c.yaml run", "1053"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not say %q: %v", want, err)
			}
		}
	})
	t.Run("other errors at once", func(t *testing.T) {
		var slept []time.Duration
		var clock time.Duration
		d := newRetry(time.Hour, &slept, &clock)
		readOnly := &gomysql.MySQLError{Number: 1290, Message: "read-only"}
		writes := 0
		err := d.do(context.Background(), "apply a batch", func(context.Context) error { writes++; return readOnly }, nil)
		if !errors.Is(err, readOnly) || writes != 1 || len(slept) != 0 {
			t.Fatalf("err %v, %d writes, slept %v", err, writes, slept)
		}
	})
	t.Run("stopped while waiting", func(t *testing.T) {
		var slept []time.Duration
		var clock time.Duration
		d := newRetry(time.Hour, &slept, &clock)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := d.do(ctx, "apply a batch", func(context.Context) error { return gomysql.ErrInvalidConn }, nil)
		if !errors.Is(err, context.Canceled) || !errors.Is(err, gomysql.ErrInvalidConn) || d.ctl.DestRetrying() != nil {
			t.Fatalf("err %v", err)
		}
	})
}

// TestRedactSecrets: a configured secret echoed in an error is not recorded
// in _shiplog_runs.
func TestRedactSecrets(t *testing.T) {
	r := &Runtime{cfg: &config.Config{}}
	r.cfg.Destination.Password = "hunter2-dest"
	r.cfg.Source.Password = "src-pw-42"
	r.cfg.HTTP.Token = "0123456789abcdef0123"
	got := r.redactSecrets("init statement failed near 'hunter2-dest' (source src-pw-42, token 0123456789abcdef0123)")
	if strings.Contains(got, "hunter2") || strings.Contains(got, "src-pw-42") || strings.Contains(got, "0123456789abcdef") || !strings.Contains(got, "near '***'") {
		t.Fatalf("redacted: %s", got)
	}
}

// TestDestRetryRestartsTheLoop: a stream that fails on a connection error
// outside a batch (while starting) is started again; an error that ends an
// outage already, or another error, is returned at once.
func TestDestRetryRestartsTheLoop(t *testing.T) {
	d := &destRetry{limit: time.Hour, log: slog.New(slog.NewTextHandler(io.Discard, nil)), ctl: ops.NewControl(config.Throttle{}), dest: "d", again: "run",
		sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}
	runs := 0
	err := d.restart(context.Background(), "the stream", func(context.Context) error {
		runs++
		if runs < 3 {
			return fmt.Errorf("destination: read columns of d: %w", gomysql.ErrInvalidConn)
		}
		return nil
	})
	if err != nil || runs != 3 || d.ctl.DestRetrying() != nil {
		t.Fatalf("err %v after %d runs", err, runs)
	}
	for _, stop := range []error{
		fmt.Errorf("%w: batch: %w", ErrDestinationDown, gomysql.ErrInvalidConn),
		fmt.Errorf("%w of d: %w", ErrStreamLockLost, gomysql.ErrInvalidConn),
		&gomysql.MySQLError{Number: 1290},
	} {
		runs = 0
		err := d.restart(context.Background(), "the stream", func(context.Context) error { runs++; return stop })
		if !errors.Is(err, stop) || runs != 1 {
			t.Errorf("%v: err %v after %d runs", stop, err, runs)
		}
	}
}
