package pipeline

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/config"
)

// Loop states reported by /healthz and shiplog_state.
const (
	stateStarting = "starting"
	stateData     = "data"
	stateDelta    = "delta"
	stateStopped  = "stopped"
	stateFailed   = "failed"
)

// control is what one run of `run` or `migrate delta` shares with its HTTP
// server: the metrics (in a registry of its own), the pause gate and the live
// settings. It travels in the context so that Run and Delta find the same one.
// A nil *control is valid: every method is then a no-op or returns defaults.
type control struct {
	reg *prometheus.Registry

	applied      *prometheus.CounterVec
	batches      prometheus.Counter
	batchChanges prometheus.Histogram
	applySeconds prometheus.Histogram
	lagSeconds   prometheus.Gauge
	lagBytes     prometheus.Gauge
	errors       *prometheus.CounterVec
	pausedGauge  prometheus.Gauge
	maxBatchG    prometheus.Gauge
	replicaLagG  *prometheus.GaugeVec
	throttledG   prometheus.Gauge

	mu       sync.Mutex
	state    string
	paused   bool
	resumed  chan struct{} // closed when a pause ends
	maxBatch int

	// Replica lag throttle (see replicalag.go). watching is set when
	// throttle.replicas is; until measured, the writer waits.
	watching       bool
	measured       bool
	maxReplicaLag  time.Duration
	replicaLags    []replicaLag
	throttleReason string        // "" when not throttled
	throttleWake   chan struct{} // closed and replaced when the throttle may have changed

	// retry: destination writes retried through an outage (destretry.go).
	retry *retryMetrics
}

type controlKey struct{}

func withControl(ctx context.Context, c *control) context.Context {
	return context.WithValue(ctx, controlKey{}, c)
}

func controlFrom(ctx context.Context) *control {
	c, _ := ctx.Value(controlKey{}).(*control)
	return c
}

// newControl builds the metrics in a fresh registry; maxBatch 0 is the
// default batch bound.
func newControl(maxBatch int) *control {
	if maxBatch <= 0 {
		maxBatch = maxBatchChanges
	}
	c := &control{reg: prometheus.NewRegistry(), state: stateStarting, maxBatch: maxBatch,
		maxReplicaLag: config.DefaultMaxReplicaLag, throttleWake: make(chan struct{})}
	c.applied = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shiplog_changes_applied_total", Help: "Changes written to the sinks, by destination table and operation.",
	}, []string{"table", "op"})
	c.batches = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shiplog_batches_total", Help: "Batches (destination transactions) written.",
	})
	c.batchChanges = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "shiplog_batch_changes", Help: "Changes per batch.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 9), // 1 .. 65536
	})
	c.applySeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "shiplog_apply_seconds", Help: "Time to write one batch to the sinks.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12), // 1ms .. ~60s
	})
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	c.lagSeconds = gauge("shiplog_lag_seconds", "Age of the last applied source transaction (0 when caught up).")
	c.lagBytes = gauge("shiplog_lag_bytes", "Binlog bytes between the checkpoint and the source head (checked every few seconds).")
	c.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shiplog_errors_total", Help: "Errors by kind: apply (a batch failed), transform (a row recorded in _shiplog_failed_rows), lag_check, replica_check (a destination replica could not be measured), stream (the loop ended with an error).",
	}, []string{"kind"})
	c.pausedGauge = gauge("shiplog_paused", "1 while the writer is paused through POST /pause.")
	c.maxBatchG = gauge("shiplog_batch_max_changes", "Current maximum changes per destination transaction.")
	c.replicaLagG = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "shiplog_replica_lag_seconds", Help: "Lag of each destination replica of throttle.replicas (NaN when it could not be measured).",
	}, []string{"replica"})
	c.throttledG = gauge("shiplog_throttled", "1 while a destination replica lags more than throttle.max_replica_lag (or does not replicate): the writer waits.")
	c.maxBatchG.Set(float64(maxBatch))
	c.retry = newRetryMetrics(c.reg)
	for _, k := range []string{"apply", "transform", "lag_check", "replica_check", "stream"} {
		c.errors.WithLabelValues(k)
	}
	c.reg.MustRegister(c.applied, c.batches, c.batchChanges, c.applySeconds, c.lagSeconds, c.lagBytes,
		c.errors, c.pausedGauge, c.maxBatchG, c.replicaLagG, c.throttledG)
	return c
}

// setState records the loop's state.
func (c *control) setState(s string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.state = s
	c.mu.Unlock()
}

func (c *control) getState() string {
	if c == nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// endLoop records how a loop ended: stopped when err is nil or a clean stop.
func (c *control) endLoop(failed bool) {
	if c == nil {
		return
	}
	if failed {
		c.countError("stream", 1)
		c.setState(stateFailed)
		return
	}
	c.setState(stateStopped)
}

// pause stops the writer before its next batch; resume lets it go on.
func (c *control) pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.paused {
		c.paused = true
		c.resumed = make(chan struct{})
		c.pausedGauge.Set(1)
	}
}

func (c *control) resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused {
		c.paused = false
		close(c.resumed)
		c.pausedGauge.Set(0)
	}
}

func (c *control) isPaused() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused
}

// waitResumed returns at once unless paused; then when resumed or ctx ends.
func (c *control) waitResumed(ctx context.Context) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	paused, ch := c.paused, c.resumed
	c.mu.Unlock()
	if !paused {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// batchLimit is the live maximum of changes per destination transaction.
func (c *control) batchLimit() int {
	if c == nil {
		return maxBatchChanges
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxBatch
}

func (c *control) setBatchLimit(n int) {
	c.mu.Lock()
	c.maxBatch = n
	c.mu.Unlock()
	c.maxBatchG.Set(float64(n))
}

// observeBatch counts a written batch: the mapped changes (or, when none are
// kept, with sink: kafka, the source changes published), its size, how long
// the write took and the lag of its last transaction.
func (c *control) observeBatch(b cdc.Batch, src []cdc.Change, n int, took time.Duration) {
	if c == nil {
		return
	}
	changes := b.Changes
	if len(changes) == 0 {
		changes = src
	}
	// One counter look-up per run of changes to the same table with the same
	// op, not per change.
	for i := 0; i < len(changes); {
		t, op := changes[i].Table, changes[i].Op
		j := i + 1
		for j < len(changes) && changes[j].Table == t && changes[j].Op == op {
			j++
		}
		name := ""
		if t != nil {
			name = t.Name
		}
		c.applied.WithLabelValues(name, op.String()).Add(float64(j - i))
		i = j
	}
	c.batches.Inc()
	c.batchChanges.Observe(float64(n))
	c.applySeconds.Observe(took.Seconds())
	if !b.Time.IsZero() {
		c.lagSeconds.Set(max(time.Since(b.Time).Seconds(), 0))
	}
}

// countError adds n errors of kind.
func (c *control) countError(kind string, n int) {
	if c == nil || n <= 0 {
		return
	}
	c.errors.WithLabelValues(kind).Add(float64(n))
}
