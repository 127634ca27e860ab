package pipeline

import (
	"context"
	"time"

	"github.com/shiplog/shiplog/binlog"
	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/deltalog"
	"github.com/shiplog/shiplog/stream"
)

// The stream sources of the delta: the binlog and the change-log tables.
// Both map what they read through the plan (mapper) on their own goroutine.

// binlogSource reads the binlog from a position and maps its transactions.
// Its checkpoint is written by the sink with each batch: Ack has nothing to
// do.
type binlogSource struct {
	reader *binlog.Reader
	from   cdc.Position
	m      *mapper
}

func (s *binlogSource) Read(ctx context.Context, emit func(context.Context, *stream.Batch) error) error {
	return s.reader.Stream(ctx, s.from, func(ctx context.Context, b cdc.Batch) error {
		it, ok, err := s.m.item(b)
		if err != nil || !ok {
			return err
		}
		return emit(ctx, it)
	})
}

func (s *binlogSource) Ack(context.Context, *stream.Batch) error { return nil }

// triggerSource reads the change logs round by round. A round's log rows
// are purged (by deltalog.Reader.Stream, once emit returns) only after the
// sink committed the round's batch and the loop acknowledged it: emit waits
// for that. A round that changed nothing is not emitted. every is how often
// (at most) check runs between rounds (it looks for new source tables, which
// no change log shows); caughtUp, when set, ends the stream once the logs
// hold nothing from before it started.
type triggerSource struct {
	reader   *deltalog.Reader
	from     cdc.Position
	m        *mapper
	check    func(context.Context) error
	every    time.Duration
	caughtUp func(context.Context) (bool, error)
	acked    chan struct{}
}

func (s *triggerSource) Read(ctx context.Context, emit func(context.Context, *stream.Batch) error) error {
	s.acked = make(chan struct{}, 1)
	lastCheck := time.Now()
	return s.reader.Stream(ctx, s.from, func(ctx context.Context, b cdc.Batch) error {
		if time.Since(lastCheck) >= s.every {
			if err := s.check(ctx); err != nil {
				return err
			}
			lastCheck = time.Now()
		}
		it, ok, err := s.m.item(b)
		if err != nil {
			return err
		}
		if ok && (len(it.Changes) > 0 || len(it.Failed) > 0) {
			it.N = len(it.Changes)
			if err := emit(ctx, it); err != nil {
				return err
			}
			// The log rows are purged when this returns: not before the
			// batch is committed.
			select {
			case <-s.acked:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if s.caughtUp != nil {
			done, err := s.caughtUp(ctx)
			if err != nil {
				return err
			}
			if done {
				return errCaughtUp
			}
		}
		return nil
	})
}

func (s *triggerSource) Ack(context.Context, *stream.Batch) error {
	s.acked <- struct{}{}
	return nil
}
