package fromkafka

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/segmentio/kafka-go"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/ops"
	kafkasink "github.com/shiplog/shiplog/sink/kafka"
	"github.com/shiplog/shiplog/state"
	"github.com/shiplog/shiplog/stream"
)

// One assigned partition of `apply --from-kafka` is a stream.Loop: the
// partition's messages (partitionSource) into the destination with the
// partition's offset in the same transaction (partitionSink).

// partition applies one assigned partition until ctx ends; caughtUp is called
// once the partition reached target (when target is set).
func (a *kafkaApplier) partition(ctx context.Context, gen *kafka.Generation, topic string, part int, target *kafkasink.Bounds, caughtUp func()) error {
	for {
		err := a.partitionLoop(ctx, gen, topic, part, target, caughtUp)
		if ctx.Err() != nil {
			return nil // the generation ended (a rebalance), or the run: not applied, read again by the partition's next owner
		}
		if !errors.Is(err, state.ErrFenced) {
			return err
		}
		a.log.Warn("partition moved; reloading its offset", "stage", "apply", "topic", topic, "partition", part)
	}
}

// partitionLoop applies the partition from its stored offset until ctx ends
// or an error.
func (a *kafkaApplier) partitionLoop(ctx context.Context, gen *kafka.Generation, topic string, part int, target *kafkasink.Bounds, caughtUp func()) error {
	st, err := a.loadState(ctx, topic, part)
	if err != nil {
		return err
	}
	if err := a.rememberApplied(ctx, topic, part, &st); err != nil {
		return err
	}
	reader := kafka.NewReader(kafka.ReaderConfig{
		Brokers: a.kc.Brokers(), Topic: topic, Partition: part, Dialer: a.kc.Dialer(),
		MinBytes: 1, MaxBytes: readerMaxBytes, MaxWait: applyMaxWait,
		ErrorLogger: kafka.LoggerFunc(func(f string, args ...any) {
			a.log.Debug(fmt.Sprintf(f, args...), "stage", "apply", "topic", topic, "partition", part)
		}),
	})
	defer reader.Close()
	off := st.next
	if off < 0 {
		off = kafka.FirstOffset
	}
	if err := reader.SetOffset(off); err != nil {
		return fmt.Errorf("kafka %s[%d]: seek to %d: %w", topic, part, off, err)
	}
	sink := &partitionSink{a: a, topic: topic, part: part, next: st.next}
	src := &partitionSource{a: a, reader: reader, topic: topic, part: part, st: &st, gen: gen}
	reached := func() {
		if target == nil {
			return
		}
		next := sink.next
		if next < 0 {
			next = target.First
		}
		if next >= target.Last {
			caughtUp()
		}
	}
	reached()
	loop := &stream.Loop{Source: src, Sink: sink, Budget: a.budget, RelayBytes: applyBudgetBytes,
		MaxChanges: applyMaxMessages, MaxBytes: applyMaxBytes,
		After: func(context.Context, *stream.Batch) error {
			reached()
			return nil
		}}
	return loop.Run(ctx)
}

// message is what partitionSource records of one message for the sink: its
// offset, and what the destination transaction that applies it records.
type message struct {
	offset int64
	// last is the partition's last applied source position with this
	// message.
	last sourcePos
	// bad is set when the message is malformed (recorded, skipped).
	bad *badMessage
	// dup: a copy of a message applied before (a producer retry).
	dup bool
	// owner is set for a cascade marker: the table it changes.
	owner *cascadeOwner
}

// partitionSource reads one partition and decodes and maps each message into
// a batch of its own (the loop drains them into transactions).
type partitionSource struct {
	a      *kafkaApplier
	reader *kafka.Reader
	gen    *kafka.Generation
	topic  string
	part   int
	// st holds the positions seen from the partition: those applied before
	// it started (rememberApplied), and those emitted since.
	st *partitionState
}

func (s *partitionSource) Read(ctx context.Context, emit func(context.Context, *stream.Batch) error) error {
	for {
		m, err := s.reader.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("kafka %s[%d] on %s: %w", s.topic, s.part, s.a.kc.BrokerList(), err)
		}
		b, err := s.batch(ctx, m)
		if err != nil {
			return err
		}
		if err := emit(ctx, b); err != nil {
			return err
		}
	}
}

// batch decodes and maps m. A message whose source position was applied
// before is a copy a producer retry wrote: skipped. A malformed message is
// recorded, not applied; rows a handler cannot transform are failed rows.
func (s *partitionSource) batch(ctx context.Context, m kafka.Message) (*stream.Batch, error) {
	st := s.st
	info := &message{offset: m.Offset, last: st.last}
	b := &stream.Batch{N: 1, Weight: messageWeight(&m), Acks: []any{info}}
	if len(m.Value) == 0 {
		return b, nil // tombstone: the delete before it did the work
	}
	env, err := kafkasink.Decode(m.Value)
	if err != nil {
		info.bad = &badMessage{m, err}
		return b, nil
	}
	if p := messagePos(env); p.set {
		if st.isSeen(p) || (st.last.set && p == st.last) {
			info.dup = true
			return b, nil
		}
		st.remember([]sourcePos{p})
		if !st.last.set || p.compare(st.last) > 0 {
			st.last = p
		}
		info.last = st.last
	}
	c, tp, err := s.a.decode(ctx, env)
	if err != nil {
		var fatal fatalError
		if errors.As(err, &fatal) {
			return nil, fatal.err
		}
		info.bad = &badMessage{m, err}
		return b, nil
	}
	if s.a.r.Lookups != nil {
		s.a.r.Lookups.SourceChanged([]cdc.Change{c})
	}
	if tp == nil {
		return b, nil // a table the map does not copy
	}
	if c.Op == cdc.OpCascade {
		mk, err := cascadeMarker(tp, env, c)
		if err != nil {
			return nil, fmt.Errorf("kafka %s[%d]@%d: %w", s.topic, s.part, m.Offset, err)
		}
		info.owner = &cascadeOwner{tp: tp, parts: env.Cascade.Partitions}
		b.Changes = []cdc.Change{mk}
		return b, nil
	}
	d, side, f, err := tp.MapChangeSide(c)
	if err != nil {
		return nil, err
	}
	if f != nil {
		b.Failed = []cdc.Failure{*f}
		return b, nil
	}
	b.Changes = append([]cdc.Change{d}, side...)
	b.Time = c.CommitTime
	return b, nil
}

// Ack commits the partition's next offset to the consumer group, best
// effort: the destination has it.
func (s *partitionSource) Ack(_ context.Context, b *stream.Batch) error {
	next := b.Acks[len(b.Acks)-1].(*message).offset + 1
	if err := s.gen.CommitOffsets(map[string]map[int]int64{s.topic: {s.part: next}}); err != nil {
		s.a.log.Debug("commit offset to the consumer group failed (the destination has it)", "stage", "apply", "topic", s.topic, "partition", s.part, "error", err)
	}
	return nil
}

// partitionSink applies a partition's batches, each with the partition's
// new offset and last source position, its failed rows and malformed
// messages, in one destination transaction.
type partitionSink struct {
	a     *kafkaApplier
	topic string
	part  int
	// next is the partition's stored next offset (-1: none yet).
	next int64
}

func (s *partitionSink) Deliver(ctx context.Context, b *stream.Batch) error {
	a := s.a
	var (
		bad    []badMessage
		dups   int
		owners map[*cdc.Table]cascadeOwner
	)
	for _, x := range b.Acks {
		m := x.(*message)
		switch {
		case m.bad != nil:
			bad = append(bad, *m.bad)
		case m.dup:
			dups++
		case m.owner != nil:
			if owners == nil {
				owners = map[*cdc.Table]cascadeOwner{}
			}
			owners[m.owner.tp.Dest] = *m.owner
		}
	}
	lastMsg := b.Acks[len(b.Acks)-1].(*message)
	next, last := lastMsg.offset+1, lastMsg.last
	changes := b.Changes
	// A write in flight finishes even when asked to stop, so the destination
	// commits whole batches only; a destination outage is retried (see
	// destRetry): the partition's stored offset, read back, tells whether a
	// lost COMMIT committed the batch.
	expanded, done := owners == nil, false
	err := a.retry.Do(ctx, "apply a batch", func(wctx context.Context) error {
		if done {
			return nil
		}
		if !expanded {
			expandedChanges, err := expandCascades(wctx, a.r.Dst, changes, owners, s.part)
			if err != nil {
				return err
			}
			changes, expanded = expandedChanges, true
		}
		return kafkaLockRetry.Do(wctx, func() error {
			return a.writer.Apply(wctx, changes, func(tx *sql.Tx) error {
				if err := a.r.State.SaveKafkaOffset(wctx, tx, a.group, s.topic, s.part, s.next, next, last.String()); err != nil {
					return err
				}
				if err := a.r.State.SaveFailures(wctx, tx, b.Failed); err != nil {
					return err
				}
				return a.r.State.SaveFailedMessages(wctx, tx, failedMessages(bad))
			})
		})
	}, func(ctx context.Context) error {
		o, ok, err := a.r.State.KafkaOffset(ctx, a.group, s.topic, s.part)
		if err != nil || !ok {
			return err
		}
		done = o.Next == next
		return nil
	})
	b.Changes = changes
	if err != nil {
		return err
	}
	if a.r.Lookups != nil {
		a.r.Lookups.Written(changes)
	}
	s.next = next
	a.applied.Add(int64(len(changes)))
	a.failedRows.Add(int64(len(b.Failed)))
	a.badMessages.Add(int64(len(bad)))
	ops.LogFailedRows(a.log, "apply", b.Failed, true)
	for _, m := range bad {
		a.log.Error("malformed message skipped; recorded in "+state.FailedMessagesTable, "stage", "apply", "topic", s.topic, "partition", s.part,
			"offset", m.m.Offset, "error", m.err.Error())
	}
	if dups > 0 {
		a.log.Info("skipped messages already applied (producer retries)", "stage", "apply", "topic", s.topic, "partition", s.part, "messages", dups)
	}
	a.log.Debug("applied", "stage", "apply", "topic", s.topic, "partition", s.part, "changes", len(changes), "next_offset", next,
		"position", last.String(), "commit_time", b.Time)
	return nil
}

func (s *partitionSink) Close() error { return nil }

// The loop's contracts.
var (
	_ stream.Source = (*partitionSource)(nil)
	_ stream.Sink   = (*partitionSink)(nil)
)
