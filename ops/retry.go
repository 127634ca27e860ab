package ops

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RetryStatus is what /status shows while destination writes are retried.
type RetryStatus struct {
	Since     time.Time `json:"since"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
}

// retryMetrics are the Control's metrics of destination retries.
type retryMetrics struct {
	retries  prometheus.Counter
	retrying prometheus.Gauge

	mu    sync.Mutex
	state *RetryStatus
}

func newRetryMetrics(reg *prometheus.Registry) *retryMetrics {
	m := &retryMetrics{
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shiplog_destination_retries_total", Help: "Destination writes attempted again after a connection-level failure (destination.retry_for bounds an outage).",
		}),
		retrying: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shiplog_destination_retrying", Help: "1 while a destination write is being retried after a connection-level failure.",
		}),
	}
	reg.MustRegister(m.retries, m.retrying)
	return m
}

// DestRetrying returns the state of a destination outage being retried, or
// nil.
func (c *Control) DestRetrying() *RetryStatus {
	if c == nil || c.retry == nil {
		return nil
	}
	c.retry.mu.Lock()
	defer c.retry.mu.Unlock()
	if c.retry.state == nil {
		return nil
	}
	s := *c.retry.state
	return &s
}

// SetRetrying records the state of a destination outage being retried (a
// new attempt: counted in shiplog_destination_retries_total), or its end
// (nil).
func (c *Control) SetRetrying(s *RetryStatus) {
	if c == nil || c.retry == nil {
		return
	}
	c.retry.mu.Lock()
	defer c.retry.mu.Unlock()
	if s == nil {
		c.retry.state = nil
		c.retry.retrying.Set(0)
		return
	}
	cp := *s
	c.retry.state = &cp
	c.retry.retries.Inc()
	c.retry.retrying.Set(1)
}
