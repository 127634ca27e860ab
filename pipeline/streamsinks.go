package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/shiplog/shiplog/cascade"
	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/failpoint"
	"github.com/shiplog/shiplog/ops"
	kafkasink "github.com/shiplog/shiplog/sink/kafka"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
	"github.com/shiplog/shiplog/stream"
)

// The stream sinks: where a delta stream's batches go. The configured sink
// is chosen once (deltaSink); the loop (stream.Loop) knows only the
// interface.

// partTimeout bounds the delivery of one part of a source transaction
// applied in parts.
const partTimeout = 5 * time.Minute

// mysqlSink applies batches to the destination with their checkpoint; with
// checkpointOnly (sink: kafka) it writes the checkpoint and the failed rows
// alone.
type mysqlSink struct {
	r      *Runtime
	w      *mysqlsink.Writer
	fks    *cascade.Set
	expand cascade.Options
	retry  *destRetry
	log    *slog.Logger
	// checkpointOnly: the changes are published, not applied.
	checkpointOnly bool
	// open is the destination transaction of a source transaction applied
	// in parts (cdc.Batch.Partial); a stop before its last part rolls it
	// back, and the next run reads the transaction again.
	open *mysqlsink.TxStream
	// follow holds the changes of open's parts that followers read
	// (follow.go).
	follow []cdc.Change
}

// Deliver applies b. A write in flight finishes even when asked to stop, so
// the destination commits whole batches only. A source transaction applied
// in parts has a deadline per part, and is not retried part by part: a
// failed part rolls the whole transaction back and the stream reads it again
// from the checkpoint.
func (s *mysqlSink) Deliver(ctx context.Context, b *stream.Batch) (err error) {
	if b.Partial || s.open != nil {
		if s.open == nil {
			s.log.Info("a source transaction larger than delta.max_transaction_bytes: applying it in parts into one destination transaction",
				"stage", "delta", "after", b.Pos.String())
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), partTimeout)
		defer cancel()
		var err error
		// The followers run once, before the commit, with the followed
		// changes of every part.
		s.follow = append(s.follow, s.r.followed(b.Changes)...)
		var then func(context.Context, *sql.Tx) error
		if !b.Partial && len(s.follow) > 0 {
			follow := s.follow
			then = func(ctx context.Context, tx *sql.Tx) error { return s.r.runFollowers(ctx, tx, follow) }
		}
		s.open, err = deliverPart(wctx, s.w, s.open, b.Batch, then)
		if s.open == nil {
			s.follow = nil
		}
		if err == nil && s.open == nil {
			s.log.Info("the large source transaction is committed", "stage", "delta", "position", b.Pos.String())
			s.r.lookupRefresh().WrittenAll()
		}
		return err
	}
	if s.checkpointOnly {
		return s.checkpoint(ctx, b.Batch)
	}
	expanded := false
	defer func() {
		if err == nil {
			s.r.lookupRefresh().Written(b.Changes)
		}
	}()
	return s.retry.do(ctx, "apply a batch", func(ctx context.Context) error {
		if !expanded {
			// Once: the rows the markers stand for are read from the
			// destination's state before the batch (or, for the change-log
			// delta, from the source).
			changes, err := s.fks.Expand(ctx, s.r.dst, b.Changes, s.expand)
			if err != nil {
				return err
			}
			b.Changes, expanded = changes, true
		}
		return s.w.WriteThen(ctx, b.Batch, s.r.followThen(b.Changes))
	}, s.w.Recover)
}

// checkpoint writes b's failed rows and its checkpoint in one destination
// transaction (sink: kafka), retried through an outage; the checkpoint read
// back tells whether a lost COMMIT committed.
func (s *mysqlSink) checkpoint(ctx context.Context, b cdc.Batch) error {
	done := false
	return s.retry.do(ctx, "write the checkpoint", func(ctx context.Context) error {
		if done {
			return nil
		}
		return s.w.Apply(ctx, nil, func(tx *sql.Tx) error {
			if err := s.r.state.SaveFailures(ctx, tx, b.Failed); err != nil {
				return err
			}
			return s.r.state.SaveCheckpoint(ctx, tx, b.Pos, b.Time)
		})
	}, func(ctx context.Context) error {
		pos, _, ok, err := s.r.state.Checkpoint(ctx)
		done = err == nil && ok && pos.Covers(b.Pos)
		return err
	})
}

// Close rolls back a transaction of parts the stream stopped inside.
func (s *mysqlSink) Close() error {
	if s.open == nil {
		return nil
	}
	err := s.open.Rollback()
	s.open = nil
	return err
}

// deliverPart delivers b, a batch of a source transaction applied in parts:
// b.Partial, or the last part when open (the destination transaction of the
// parts before) is not nil. The mapped changes go into open, begun here for
// the first part, which commits with the checkpoint b.Pos with the last
// part. It returns the transaction still open, or nil once committed or on
// error (then rolled back: the next run reads the source transaction again
// from its start, as nothing of it is checkpointed).
func deliverPart(ctx context.Context, w *mysqlsink.Writer, open *mysqlsink.TxStream, b cdc.Batch, then func(context.Context, *sql.Tx) error) (_ *mysqlsink.TxStream, err error) {
	defer func() {
		if err != nil && open != nil {
			err = errors.Join(err, open.Rollback())
		}
	}()
	for _, c := range b.Changes {
		if c.Op == cdc.OpCascade {
			// maxTransactionBytes keeps transactions whole when markers may come.
			return nil, fmt.Errorf("a source transaction applied in parts holds a foreign key action on %s, which needs the transaction whole", c.Table.Name)
		}
	}
	if open == nil {
		if open, err = w.Begin(ctx); err != nil {
			return nil, err
		}
	}
	if err := open.Apply(ctx, b); err != nil {
		return nil, fmt.Errorf("apply part of a large source transaction after %s (nothing of it is committed; the stream reads it again from its start): %w", b.Pos, err)
	}
	if b.Partial {
		return open, nil
	}
	if then != nil {
		if err := open.Exec(ctx, then); err != nil {
			return nil, fmt.Errorf("a large source transaction ending at %s: %w (nothing of it is committed; the stream reads it again from its start)", b.Pos, err)
		}
	}
	if err := open.Commit(ctx, b.Pos, b.Time); err != nil {
		return nil, fmt.Errorf("commit a large source transaction at %s: %w", b.Pos, err)
	}
	return nil, nil
}

// kafkaSink publishes the source changes of batches (at least once: a
// retried batch may be published again; consumers skip what they applied).
type kafkaSink struct {
	p *kafkasink.Producer
	// inParts: the last batch was a part of a larger source transaction.
	inParts bool
}

func (s *kafkaSink) Deliver(ctx context.Context, b *stream.Batch) error {
	timeout := writeTimeout
	if b.Partial || s.inParts {
		timeout = partTimeout
	}
	s.inParts = b.Partial
	if len(b.Source) == 0 {
		return nil
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := s.p.Write(pctx, cdc.Batch{Changes: b.Source, Pos: b.Pos, Time: b.Time}); err != nil {
		return err
	}
	failpoint.Hit(failpoint.Published)
	return nil
}

func (s *kafkaSink) Close() error { return nil }

// fanout delivers to each sink in order; a failure stops at that sink.
type fanout []stream.Sink

func (f fanout) Deliver(ctx context.Context, b *stream.Batch) error {
	for _, s := range f {
		if err := s.Deliver(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

func (f fanout) Close() error {
	var errs []error
	for _, s := range f {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// loopOps connects a stream loop to the operations: pause and replica-lag
// throttle, the live batch size, metrics, failed rows logged.
type loopOps struct {
	ctl *ops.Control
	log *slog.Logger
	// applied counts the changes applied.
	applied atomic.Int64
	// stage names the loop in logs ("delta", "apply"); withPos adds the
	// source position to the failed rows logged.
	stage   string
	withPos bool
}

func (o *loopOps) Hold(ctx context.Context) error { return o.ctl.Hold(ctx, o.log) }

func (o *loopOps) BatchLimit() int { return o.ctl.BatchLimit() }

func (o *loopOps) Delivered(b *stream.Batch, took time.Duration) {
	o.applied.Add(int64(b.N))
	o.ctl.ObserveBatch(b.Batch, b.Source, b.N, took)
	o.ctl.CountError("transform", len(b.Failed))
	ops.LogFailedRows(o.log, o.stage, b.Failed, o.withPos)
}

func (o *loopOps) Failed(error) { o.ctl.CountError("apply", 1) }

// ended is how a delta loop that returned err ended: caught up or stopped
// (logged; nil), or err.
func (o *loopOps) ended(ctx context.Context, err error, args ...any) error {
	args = append([]any{"stage", o.stage, "changes", o.applied.Load()}, args...)
	switch {
	case errors.Is(err, errCaughtUp):
		o.ctl.EndLoop(false)
		o.log.Info("caught up", args...)
	case err == nil || ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		o.ctl.EndLoop(false)
		o.log.Info("stopped", args...)
	default:
		o.ctl.EndLoop(true)
		return err
	}
	return nil
}
