package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/shiplog/shiplog/cdc"
)

var tbl = &cdc.Table{Name: "t", Columns: []cdc.Column{{Name: "id"}}, Key: []int{0}}

// batchOf is a batch of n inserts whose ids start at first, ending at
// position first+n-1.
func batchOf(first, n int) *Batch {
	b := &Batch{N: n, Weight: int64(n), Acks: []any{first}}
	for i := range n {
		b.Changes = append(b.Changes, cdc.Change{Op: cdc.OpInsert, Table: tbl, After: []any{int64(first + i)}})
	}
	b.Pos = cdc.Position{File: "f.000001", Pos: uint64(first + n - 1)}
	return b
}

// fakeSource emits its batches, then returns end (or blocks until ctx ends
// when block is set).
type fakeSource struct {
	batches []*Batch
	end     error
	block   bool
	// emitted counts the batches emit accepted.
	emitted atomic.Int64

	mu    sync.Mutex
	acked []any
	// ackErr fails Ack.
	ackErr error
}

func (s *fakeSource) Read(ctx context.Context, emit func(context.Context, *Batch) error) error {
	for _, b := range s.batches {
		if err := emit(ctx, b); err != nil {
			return err
		}
		s.emitted.Add(1)
	}
	if s.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.end
}

func (s *fakeSource) Ack(_ context.Context, b *Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acked = append(s.acked, b.Acks...)
	return s.ackErr
}

func (s *fakeSource) ackedList() []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]any(nil), s.acked...)
}

// fakeSink records what it was given; gate, when set, is waited on before
// each delivery.
type fakeSink struct {
	mu        sync.Mutex
	delivered []cdc.Batch // copies
	ids       []int64
	sizes     []int
	partial   int
	failAt    int // 1-based delivery that fails; 0 = none
	gate      chan struct{}
	closed    bool
}

var errSink = errors.New("sink failed")

func (s *fakeSink) Deliver(ctx context.Context, b *Batch) error {
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAt > 0 && len(s.sizes)+1 == s.failAt {
		return errSink
	}
	s.sizes = append(s.sizes, b.N)
	if b.Partial {
		s.partial++
	}
	cp := b.Batch
	cp.Changes = append([]cdc.Change(nil), b.Changes...)
	s.delivered = append(s.delivered, cp)
	for _, c := range b.Changes {
		s.ids = append(s.ids, c.After[0].(int64))
	}
	return nil
}

func (s *fakeSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *fakeSink) snapshot() (ids []int64, sizes []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.ids...), append([]int(nil), s.sizes...)
}

// fakeOps pauses while paused is set and counts what it observes.
type fakeOps struct {
	mu        sync.Mutex
	paused    bool
	resume    chan struct{}
	limit     int
	delivered int
	failed    []error
	holds     atomic.Int64
}

func (o *fakeOps) Hold(ctx context.Context) error {
	o.holds.Add(1)
	o.mu.Lock()
	paused, resume := o.paused, o.resume
	o.mu.Unlock()
	if !paused {
		return nil
	}
	select {
	case <-resume:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (o *fakeOps) BatchLimit() int { return o.limit }

func (o *fakeOps) Delivered(b *Batch, _ time.Duration) {
	o.mu.Lock()
	o.delivered += b.N
	o.mu.Unlock()
}

func (o *fakeOps) Failed(err error) {
	o.mu.Lock()
	o.failed = append(o.failed, err)
	o.mu.Unlock()
}

// run runs l with a deadline that fails the test when reached.
func run(t *testing.T, l *Loop) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := l.Run(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("the loop did not end")
	}
	return err
}

func wantIDs(t *testing.T, ids []int64, n int) {
	t.Helper()
	if len(ids) != n {
		t.Fatalf("delivered %d changes, want %d", len(ids), n)
	}
	for i, id := range ids {
		if id != int64(i) {
			t.Fatalf("change %d is id %d: out of order", i, id)
		}
	}
}

func TestLoopDeliversInOrderAndAcksEveryBatch(t *testing.T) {
	src := &fakeSource{}
	for i := 0; i < 1000; i += 10 {
		src.batches = append(src.batches, batchOf(i, 10))
	}
	sink := &fakeSink{}
	ops := &fakeOps{}
	if err := run(t, &Loop{Source: src, Sink: sink, Ops: ops}); err != nil {
		t.Fatal(err)
	}
	ids, _ := sink.snapshot()
	wantIDs(t, ids, 1000)
	acked := src.ackedList()
	if len(acked) != 100 {
		t.Fatalf("%d acks, want one per emitted batch (100)", len(acked))
	}
	for i, a := range acked {
		if a != i*10 {
			t.Fatalf("ack %d is %v, want %d: acks out of order", i, a, i*10)
		}
	}
	if ops.delivered != 1000 {
		t.Fatalf("ops saw %d delivered changes, want 1000", ops.delivered)
	}
	if !sink.closed {
		t.Fatal("sink not closed")
	}
	last := sink.delivered[len(sink.delivered)-1]
	if last.Pos.Pos != 999 {
		t.Fatalf("last delivered position %d, want 999", last.Pos.Pos)
	}
}

func TestLoopDrainsUpToTheBounds(t *testing.T) {
	// Paused until everything is relayed, so the loop drains.
	for _, tc := range []struct {
		name       string
		maxChanges int
		maxBytes   int64
		opsLimit   int
		want       []int
	}{
		{"changes", 25, 0, 0, []int{30, 30, 30, 10}},
		{"bytes", 0, 20, 0, []int{20, 20, 20, 20, 20}}, // weight 10 each
		{"live limit", 1000, 0, 15, []int{20, 20, 20, 20, 20}},
		{"defaults", 0, 0, 0, []int{100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &fakeSource{}
			for i := 0; i < 100; i += 10 {
				src.batches = append(src.batches, batchOf(i, 10))
			}
			sink := &fakeSink{}
			ops := &fakeOps{limit: tc.opsLimit, paused: true, resume: make(chan struct{})}
			done := make(chan error, 1)
			go func() {
				done <- (&Loop{Source: src, Sink: sink, Ops: ops, MaxChanges: tc.maxChanges, MaxBytes: tc.maxBytes}).Run(context.Background())
			}()
			waitFor(t, func() bool { return src.emitted.Load() == 10 && ops.holds.Load() == 1 })
			ops.mu.Lock()
			ops.paused = false
			ops.mu.Unlock()
			close(ops.resume)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			ids, sizes := sink.snapshot()
			wantIDs(t, ids, 100)
			if fmt.Sprint(sizes) != fmt.Sprint(tc.want) {
				t.Fatalf("batch sizes %v, want %v", sizes, tc.want)
			}
		})
	}
}

func TestLoopBatchLargerThanBoundsIsDeliveredAlone(t *testing.T) {
	src := &fakeSource{batches: []*Batch{batchOf(0, 50), batchOf(50, 1)}}
	sink := &fakeSink{}
	if err := run(t, &Loop{Source: src, Sink: sink, MaxChanges: 10}); err != nil {
		t.Fatal(err)
	}
	ids, sizes := sink.snapshot()
	wantIDs(t, ids, 51)
	if sizes[0] != 50 {
		t.Fatalf("first batch %d changes, want the 50 emitted together", sizes[0])
	}
}

func TestLoopSourceStopIsReturnedAfterEverythingBeforeIt(t *testing.T) {
	stop := errors.New("a DDL statement")
	src := &fakeSource{end: stop}
	for i := 0; i < 50; i += 5 {
		src.batches = append(src.batches, batchOf(i, 5))
	}
	sink := &fakeSink{}
	err := run(t, &Loop{Source: src, Sink: sink})
	if !errors.Is(err, stop) {
		t.Fatalf("Run = %v, want the source's stop", err)
	}
	ids, _ := sink.snapshot()
	wantIDs(t, ids, 50)
	if len(src.ackedList()) != 10 {
		t.Fatalf("%d acks, want 10", len(src.ackedList()))
	}
}

func TestLoopSinkErrorStopsWithoutAck(t *testing.T) {
	src := &fakeSource{block: true}
	for i := 0; i < 30; i += 10 {
		src.batches = append(src.batches, batchOf(i, 10))
	}
	sink := &fakeSink{failAt: 2, gate: make(chan struct{})}
	ops := &fakeOps{}
	done := make(chan error, 1)
	go func() { done <- (&Loop{Source: src, Sink: sink, Ops: ops, MaxChanges: 10}).Run(context.Background()) }()
	sink.gate <- struct{}{} // first delivery
	sink.gate <- struct{}{} // second: fails
	err := <-done
	if !errors.Is(err, errSink) {
		t.Fatalf("Run = %v, want the sink's error", err)
	}
	if acked := src.ackedList(); len(acked) != 1 || acked[0] != 0 {
		t.Fatalf("acked %v, want only the first batch", acked)
	}
	if len(ops.failed) != 1 {
		t.Fatalf("ops saw %d failures, want 1", len(ops.failed))
	}
	if !sink.closed {
		t.Fatal("sink not closed after its error")
	}
}

func TestLoopAckErrorStops(t *testing.T) {
	bad := errors.New("purge failed")
	src := &fakeSource{ackErr: bad, block: true, batches: []*Batch{batchOf(0, 1), batchOf(1, 1)}}
	err := run(t, &Loop{Source: src, Sink: &fakeSink{}, MaxChanges: 1})
	if !errors.Is(err, bad) {
		t.Fatalf("Run = %v, want the ack's error", err)
	}
}

func TestLoopPauseHoldsDelivery(t *testing.T) {
	src := &fakeSource{block: true, batches: []*Batch{batchOf(0, 10), batchOf(10, 10)}}
	sink := &fakeSink{}
	ops := &fakeOps{paused: true, resume: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- (&Loop{Source: src, Sink: sink, Ops: ops}).Run(ctx) }()
	waitFor(t, func() bool { return ops.holds.Load() == 1 && src.emitted.Load() == 2 })
	if ids, _ := sink.snapshot(); len(ids) != 0 {
		t.Fatalf("delivered %d changes while paused", len(ids))
	}
	ops.mu.Lock()
	ops.paused = false
	ops.mu.Unlock()
	close(ops.resume)
	waitFor(t, func() bool { ids, _ := sink.snapshot(); return len(ids) == 20 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
}

func TestLoopStopWhilePausedDeliversNothingMore(t *testing.T) {
	src := &fakeSource{block: true, batches: []*Batch{batchOf(0, 10)}}
	sink := &fakeSink{}
	ops := &fakeOps{paused: true, resume: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Loop{Source: src, Sink: sink, Ops: ops}).Run(ctx) }()
	waitFor(t, func() bool { return ops.holds.Load() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if ids, _ := sink.snapshot(); len(ids) != 0 || len(src.ackedList()) != 0 {
		t.Fatalf("delivered %d, acked %d after a stop while paused", len(ids), len(src.ackedList()))
	}
}

func TestLoopStopMidDeliveryLetsTheWriteFinish(t *testing.T) {
	// A sink that finishes its write whatever ctx says: the loop returns
	// the cancellation after it, and never acks a batch twice or skips one.
	src := &fakeSource{block: true, batches: []*Batch{batchOf(0, 10), batchOf(10, 10)}}
	started := make(chan struct{})
	finish := make(chan struct{})
	sink := &slowSink{started: started, finish: finish}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Loop{Source: src, Sink: sink, MaxChanges: 10}).Run(ctx) }()
	<-started
	cancel()
	close(finish)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if sink.n.Load() != 1 {
		t.Fatalf("%d deliveries, want the one in flight only", sink.n.Load())
	}
}

type slowSink struct {
	started, finish chan struct{}
	n               atomic.Int64
}

func (s *slowSink) Deliver(ctx context.Context, b *Batch) error {
	if s.n.Add(1) == 1 {
		close(s.started)
	}
	<-s.finish
	return nil
}

func (s *slowSink) Close() error { return nil }

func TestLoopPartialPartsAreAckedWithTheCommittingPart(t *testing.T) {
	p1, p2, last := batchOf(0, 5), batchOf(5, 5), batchOf(10, 5)
	p1.Partial, p2.Partial = true, true
	after := batchOf(15, 5)
	src := &fakeSource{batches: []*Batch{p1, p2, last, after}}
	sink := &fakeSink{}
	var afters []uint64
	l := &Loop{Source: src, Sink: sink, MaxChanges: 5, After: func(_ context.Context, b *Batch) error {
		afters = append(afters, b.Pos.Pos)
		if len(src.ackedList()) == 0 {
			return errors.New("After before Ack")
		}
		return nil
	}}
	if err := run(t, l); err != nil {
		t.Fatal(err)
	}
	if sink.partial != 2 {
		t.Fatalf("%d partial deliveries, want 2", sink.partial)
	}
	if got := fmt.Sprint(src.ackedList()); got != "[0 5 10 15]" {
		t.Fatalf("acked %s", got)
	}
	if fmt.Sprint(afters) != "[14 19]" {
		t.Fatalf("After called at %v, want only after committing batches [14 19]", afters)
	}
}

func TestLoopAfterEndsTheLoop(t *testing.T) {
	caughtUp := errors.New("caught up")
	src := &fakeSource{block: true}
	for i := 0; i < 100; i += 10 {
		src.batches = append(src.batches, batchOf(i, 10))
	}
	sink := &fakeSink{}
	l := &Loop{Source: src, Sink: sink, MaxChanges: 10, After: func(_ context.Context, b *Batch) error {
		if b.Pos.Pos >= 49 {
			return caughtUp
		}
		return nil
	}}
	if err := run(t, l); !errors.Is(err, caughtUp) {
		t.Fatalf("Run = %v, want After's error", err)
	}
	ids, _ := sink.snapshot()
	wantIDs(t, ids, 50)
}

func TestLoopBudgetBlocksTheSourceAndIsReturned(t *testing.T) {
	// A shared budget of 30 bytes: with the sink held, the source emits
	// three 10-byte batches and blocks on the fourth; every byte comes back.
	budget := semaphore.NewWeighted(30)
	src := &fakeSource{block: true}
	for i := 0; i < 100; i += 10 {
		src.batches = append(src.batches, batchOf(i, 10))
	}
	gate := make(chan struct{})
	sink := &fakeSink{gate: gate}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Loop{Source: src, Sink: sink, Budget: budget, RelayBytes: 30}).Run(ctx) }()
	waitFor(t, func() bool { return src.emitted.Load() == 3 })
	time.Sleep(50 * time.Millisecond) // the source stays blocked
	if n := src.emitted.Load(); n != 3 {
		t.Fatalf("the source emitted %d batches past a full budget", n)
	}
	close(gate)
	waitFor(t, func() bool { ids, _ := sink.snapshot(); return len(ids) == 100 })
	cancel()
	<-done
	if !budget.TryAcquire(30) {
		t.Fatal("the loop kept budget after it ended")
	}
}

func TestLoopBudgetReturnedWhenTheSinkFails(t *testing.T) {
	budget := semaphore.NewWeighted(100)
	src := &fakeSource{block: true}
	for i := 0; i < 100; i += 10 {
		src.batches = append(src.batches, batchOf(i, 10))
	}
	sink := &fakeSink{failAt: 1}
	err := run(t, &Loop{Source: src, Sink: sink, Budget: budget, RelayBytes: 100, MaxChanges: 10})
	if !errors.Is(err, errSink) {
		t.Fatalf("Run = %v", err)
	}
	if !budget.TryAcquire(100) {
		t.Fatal("the loop kept budget after the sink failed")
	}
}

func TestLoopSourceErrorBeforeAnyBatch(t *testing.T) {
	bad := errors.New("cannot read")
	sink := &fakeSink{}
	if err := run(t, &Loop{Source: &fakeSource{end: bad}, Sink: sink}); !errors.Is(err, bad) {
		t.Fatalf("Run = %v", err)
	}
	if !sink.closed {
		t.Fatal("sink not closed")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}
