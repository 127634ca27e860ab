package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/config"
)

// Loop states reported by /healthz and shiplog_state.
const (
	StateStarting = "starting"
	StateData     = "data"
	StateDelta    = "delta"
	StateStopped  = "stopped"
	StateFailed   = "failed"
)

// DefaultBatchChanges is the bound on changes per destination transaction
// when throttle.max_batch_changes is not set (and of a nil *Control).
const DefaultBatchChanges = 20000

// Control is what one run of a command shares with its HTTP server: the
// metrics (in a registry of its own), the pause gate, the replica-lag
// throttle and the live settings. The command creates it and hands it to the
// pipeline explicitly; the stream loops report to it and are held by it.
// A nil *Control is valid: every method is then a no-op or returns defaults.
type Control struct {
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

	// retry: destination writes retried through an outage (retry.go).
	retry *retryMetrics
}

// NewControl builds the metrics in a fresh registry, with th's batch bound
// (0: DefaultBatchChanges) and replica lag limit (0: the default).
func NewControl(th config.Throttle) *Control {
	maxBatch := th.MaxBatchChanges
	if maxBatch <= 0 {
		maxBatch = DefaultBatchChanges
	}
	c := &Control{reg: prometheus.NewRegistry(), state: StateStarting, maxBatch: maxBatch,
		maxReplicaLag: config.DefaultMaxReplicaLag, throttleWake: make(chan struct{})}
	if th.MaxReplicaLag > 0 {
		c.maxReplicaLag = th.MaxReplicaLag
	}
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

// SetState records the loop's state.
func (c *Control) SetState(s string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.state = s
	c.mu.Unlock()
}

// State is the loop's state (StateStarting ... StateFailed; "" for a nil
// Control).
func (c *Control) State() string {
	if c == nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// EndLoop records how a loop ended: stopped when err is nil or a clean stop.
func (c *Control) EndLoop(failed bool) {
	if c == nil {
		return
	}
	if failed {
		c.CountError("stream", 1)
		c.SetState(StateFailed)
		return
	}
	c.SetState(StateStopped)
}

// Pause stops the writer before its next batch; Resume lets it go on.
func (c *Control) Pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.paused {
		c.paused = true
		c.resumed = make(chan struct{})
		c.pausedGauge.Set(1)
	}
}

func (c *Control) Resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused {
		c.paused = false
		close(c.resumed)
		c.pausedGauge.Set(0)
	}
}

// Paused reports whether POST /pause holds the writer.
func (c *Control) Paused() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused
}

// waitResumed returns at once unless paused; then when resumed or ctx ends.
func (c *Control) waitResumed(ctx context.Context) error {
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

// BatchLimit is the live maximum of changes per destination transaction.
func (c *Control) BatchLimit() int {
	if c == nil {
		return DefaultBatchChanges
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxBatch
}

// SetBatchLimit changes the live maximum (POST /throttle).
func (c *Control) SetBatchLimit(n int) {
	c.mu.Lock()
	c.maxBatch = n
	c.mu.Unlock()
	c.maxBatchG.Set(float64(n))
}

// ObserveBatch counts a written batch: the mapped changes (or, when none are
// kept, with sink: kafka, the source changes published), its size, how long
// the write took and the lag of its last transaction.
func (c *Control) ObserveBatch(b cdc.Batch, src []cdc.Change, n int, took time.Duration) {
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

// CountError adds n errors of kind.
func (c *Control) CountError(kind string, n int) {
	if c == nil || n <= 0 {
		return
	}
	c.errors.WithLabelValues(kind).Add(float64(n))
}

// AppliedByOp sums shiplog_changes_applied_total over tables, by op.
func (c *Control) AppliedByOp() (inserted, updated, deleted int64) {
	if c == nil {
		return 0, 0, 0
	}
	families, err := c.reg.Gather()
	if err != nil {
		return 0, 0, 0
	}
	for _, mf := range families {
		if mf.GetName() != "shiplog_changes_applied_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			n := int64(m.GetCounter().GetValue())
			for _, l := range m.GetLabel() {
				if l.GetName() != "op" {
					continue
				}
				switch l.GetValue() {
				case "insert":
					inserted += n
				case "update":
					updated += n
				case "delete":
					deleted += n
				}
			}
		}
	}
	return inserted, updated, deleted
}

// SnapshotRows is the shiplog_snapshot_rows gauge of this run's registry
// (registered on first use; the same one after), or nil without a Control.
func (c *Control) SnapshotRows() *prometheus.GaugeVec {
	if c == nil || c.reg == nil {
		return nil
	}
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "shiplog_snapshot_rows", Help: "Rows copied so far by the snapshot, by source table.",
	}, []string{"table"})
	if err := c.reg.Register(g); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			g, _ = are.ExistingCollector.(*prometheus.GaugeVec)
		} else {
			g = nil
		}
	}
	return g
}

// LogFailedRows logs the rows of a written batch that could not be
// transformed (the batch recorded them); withPos adds their source position.
func LogFailedRows(log *slog.Logger, stage string, failed []cdc.Failure, withPos bool) {
	for _, f := range failed {
		args := []any{"stage", stage, "table", f.Table, "key", fmt.Sprint(f.Key), "handler", f.Handler, "field", f.Field, "error", f.Reason}
		if withPos {
			args = append(args, "position", f.Pos.String())
		}
		log.Warn("row could not be transformed; recorded in _shiplog_failed_rows", args...)
	}
}
