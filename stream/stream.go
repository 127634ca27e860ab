// Package stream is the one loop that moves changes from a source to a sink,
// whatever they are: relay → drain → hold → deliver → acknowledge.
//
// A Source (the binlog, the change-log tables, a Kafka partition) emits
// batches in source order on its own goroutine; they wait in a relay bounded
// in bytes, so a slow sink makes the source block rather than memory grow.
// The loop takes the first waiting batch, drains what else is already
// waiting into it (up to a change count and a byte size), holds it while the
// operations say so (paused, throttled by replica lag), and hands it to the
// Sink, which commits it with its checkpoint. Only then is the source told
// (Ack): a source that must not forget a change before it is committed (the
// change-log reader purges its logs) does that there.
//
// The package knows nothing of MySQL, Kafka or the map: it imports only cdc.
// Sources and sinks live beside what they read and write (pipeline wires
// them), and the unit tests here drive the loop with fakes.
package stream

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/shiplog/shiplog/cdc"
)

// Batch is what flows from a source to a sink: mapped changes with the
// position after them, and what the source needs back when they are
// committed.
type Batch struct {
	cdc.Batch
	// Source holds the source changes of the batch, for a sink that
	// publishes source rows (Kafka); nil otherwise.
	Source []cdc.Change
	// N is the number of changes the batch counts for (the mapped changes,
	// or the messages read): Changes may not hold them all.
	N int
	// Weight is what the batch holds in the relay's byte budget; the loop
	// caps it at the budget.
	Weight int64
	// Acks are the sources' own records of what the batch holds (log rows
	// to purge, offsets to commit), one element per emitted batch, in
	// order; a drained batch carries those of every batch merged into it.
	Acks []any
}

// Source emits batches in source order.
type Source interface {
	// Read emits batches until ctx ends (it then returns ctx's error) or
	// the source stops: it returns nil when it has nothing more to give,
	// or the reason it stopped. Batches emitted before it returned are
	// delivered either way. emit blocks while the relay is full; a batch
	// passed to emit belongs to the loop.
	Read(ctx context.Context, emit func(context.Context, *Batch) error) error
	// Ack is called, in order, once the sink committed the batches whose
	// records b.Acks holds. A batch applied in parts (Partial) is
	// acknowledged with the part that commits it.
	Ack(ctx context.Context, b *Batch) error
}

// Sink writes batches.
type Sink interface {
	// Deliver commits b with its checkpoint (b.Pos). A Partial b is part of
	// a source transaction that continues in the next batches: the sink
	// keeps it uncommitted until the last part. A write in flight should
	// finish even when ctx ends, so that only whole batches commit.
	Deliver(ctx context.Context, b *Batch) error
	// Close ends the sink when the loop ends: what is not committed (an
	// open transaction of parts) is rolled back.
	Close() error
}

// Ops are the operations hooks of a loop: pausing, throttling, live batch
// size, metrics. Every method may be called from the loop's goroutine only.
type Ops interface {
	// Hold returns when batches may be delivered (not paused, not
	// throttled), or with ctx's error.
	Hold(ctx context.Context) error
	// BatchLimit is the live bound of changes per delivered batch; <= 0
	// leaves Loop.MaxChanges.
	BatchLimit() int
	// Delivered observes a batch the sink committed (or took as a part),
	// and how long Deliver took.
	Delivered(b *Batch, took time.Duration)
	// Failed observes a delivery that failed.
	Failed(err error)
}

// Loop moves batches from Source to Sink. Its zero bounds take defaults.
type Loop struct {
	Source Source
	Sink   Sink
	// Ops may be nil: no hold, no observation.
	Ops Ops
	// Budget bounds the bytes of the batches waiting in the relay and being
	// delivered; loops may share one. Nil: a budget of RelayBytes of the
	// loop's own.
	Budget *semaphore.Weighted
	// RelayBytes is the size of the loop's own budget (16 MiB), and the cap
	// of one batch's weight whatever the budget.
	RelayBytes int64
	// MaxChanges bounds the changes (Batch.N) drained into one delivered
	// batch (20000); MaxBytes their weight (16 MiB). A batch emitted larger
	// is delivered alone.
	MaxChanges int
	MaxBytes   int64
	// After, when set, is called after every delivered and acknowledged
	// batch that is not Partial; an error from it ends the loop with that
	// error (e.g. a "caught up" sentinel).
	After func(ctx context.Context, b *Batch) error
}

// Defaults of Loop's bounds.
const (
	DefaultRelayBytes = 16 << 20
	DefaultMaxChanges = 20000
	DefaultMaxBytes   = 16 << 20
	// relaySlots bounds the batches waiting in the relay besides their bytes.
	relaySlots = 4096
)

// errSourceEnded marks the end of a source whose Read returned nil: Run
// then returns nil once everything it emitted is delivered.
var errSourceEnded = errors.New("source ended")

// item is a relayed batch, or the source's end.
type item struct {
	b *Batch
	w int64
	// end, when set, is why the source stopped (errSourceEnded when it
	// just ended), after the batches relayed before it.
	end error
}

// Run runs the loop until ctx ends, the source stops, the sink or After
// fails. Everything the source emitted before it stopped is delivered
// first; then Run returns the source's error (nil when it just ended). When
// ctx ends Run returns its error; a delivery in flight is the sink's to
// finish.
func (l *Loop) Run(ctx context.Context) (err error) {
	relayBytes := l.RelayBytes
	if relayBytes <= 0 {
		relayBytes = DefaultRelayBytes
	}
	budget := l.Budget
	if budget == nil {
		budget = semaphore.NewWeighted(relayBytes)
	}
	maxBytes := l.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	defer func() {
		if cerr := l.Sink.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	relay := make(chan item, relaySlots)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		err := l.Source.Read(gctx, func(ctx context.Context, b *Batch) error {
			w := min(max(b.Weight, 0), relayBytes)
			if err := budget.Acquire(ctx, w); err != nil {
				return err
			}
			select {
			case relay <- item{b: b, w: w}:
				return nil
			case <-ctx.Done():
				budget.Release(w)
				return ctx.Err()
			}
		})
		if gctx.Err() != nil {
			return err
		}
		if err == nil {
			err = errSourceEnded
		}
		// The writer delivers everything relayed before, then ends with err.
		select {
		case relay <- item{end: err}:
			return nil
		case <-gctx.Done():
			return err
		}
	})
	g.Go(func() error {
		d := deliverer{l: l, budget: budget, maxBytes: maxBytes}
		defer d.release()
		return d.run(gctx, relay)
	})
	err = g.Wait()
	// Batches left in the relay hold budget that a shared budget must get
	// back.
	for {
		select {
		case it := <-relay:
			budget.Release(it.w)
		default:
			if errors.Is(err, errSourceEnded) {
				return nil
			}
			return err
		}
	}
}

// deliverer is the loop's writing side.
type deliverer struct {
	l        *Loop
	budget   *semaphore.Weighted
	maxBytes int64
	// held is the budget the batch being built holds.
	held int64
	// changes and source are kept from batch to batch: nothing holds on to
	// them once delivered.
	changes []cdc.Change
	source  []cdc.Change
	// pending are the acknowledgements of parts delivered but not committed
	// (Partial batches).
	pending []any
}

func (d *deliverer) release() {
	d.budget.Release(d.held)
	d.held = 0
}

func (d *deliverer) run(ctx context.Context, relay <-chan item) error {
	l := d.l
	for {
		// Asked to stop: nothing more is delivered (the batch in flight,
		// if any, was finished by the sink).
		if err := ctx.Err(); err != nil {
			return err
		}
		var it item
		select {
		case it = <-relay:
		case <-ctx.Done():
			return ctx.Err()
		}
		if it.end != nil {
			return it.end
		}
		d.held = it.w
		// Paused or throttled: hold the batch; the relay fills and the
		// source blocks.
		if l.Ops != nil {
			if err := l.Ops.Hold(ctx); err != nil {
				return err
			}
		}
		b, end := d.drain(it, relay)
		start := time.Now()
		err := l.Sink.Deliver(ctx, b)
		took := time.Since(start)
		d.changes, d.source = b.Changes[:0], b.Source[:0]
		d.release()
		if err != nil {
			if l.Ops != nil {
				l.Ops.Failed(err)
			}
			return err
		}
		if l.Ops != nil {
			l.Ops.Delivered(b, took)
		}
		if b.Partial {
			d.pending = append(d.pending, b.Acks...)
		} else {
			if len(d.pending) > 0 {
				b.Acks = append(d.pending, b.Acks...)
				d.pending = nil
			}
			if err := l.Source.Ack(ctx, b); err != nil {
				return err
			}
			if l.After != nil {
				if err := l.After(ctx, b); err != nil {
					return err
				}
			}
		}
		if end != nil {
			return end
		}
	}
}

// drain builds the batch to deliver from first and what else is already
// waiting in the relay, up to the bounds. end is the source's end when it
// was reached while draining.
func (d *deliverer) drain(first item, relay <-chan item) (b *Batch, end error) {
	l := d.l
	limit := l.MaxChanges
	if l.Ops != nil {
		if n := l.Ops.BatchLimit(); n > 0 {
			limit = n
		}
	}
	if limit <= 0 {
		limit = DefaultMaxChanges
	}
	b = first.b
	b.Changes = append(d.changes, b.Changes...)
	b.Source = append(d.source, b.Source...)
	for b.N < limit && d.held < d.maxBytes {
		var it item
		select {
		case it = <-relay:
		default:
			return b, nil
		}
		if it.end != nil {
			return b, it.end
		}
		d.held += it.w
		merge(b, it.b)
	}
	return b, nil
}

// merge appends n, the batch after b, to b.
func merge(b, n *Batch) {
	b.Changes = append(b.Changes, n.Changes...)
	b.Failed = append(b.Failed, n.Failed...)
	b.Source = append(b.Source, n.Source...)
	b.Acks = append(b.Acks, n.Acks...)
	b.Pos = n.Pos
	b.Size += n.Size
	b.N += n.N
	b.Weight += n.Weight
	b.Whole = b.Whole || n.Whole
	b.Partial = n.Partial
	if !n.Time.IsZero() {
		b.Time = n.Time
	}
}
