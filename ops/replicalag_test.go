package ops

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/config"
)

func TestComputeLag(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 10, 0, time.UTC)
	at := func(sec float64) time.Time { return now.Add(-time.Duration(sec * float64(time.Second))) }
	tests := []struct {
		name             string
		primary, replica checkpointRow
		want             time.Duration
		problem          string
	}{
		{name: "nothing written yet", primary: checkpointRow{}, replica: checkpointRow{}, want: 0},
		{name: "replica has a row the primary lost (reset)", primary: checkpointRow{},
			replica: checkpointRow{ok: true, pos: "a", updated: at(60)}, want: 0},
		{name: "no row on the replica yet", primary: checkpointRow{ok: true, pos: "b", updated: at(2)},
			replica: checkpointRow{}, want: 2 * time.Second, problem: "no shiplog checkpoint row yet"},
		{name: "same position, idle for long", primary: checkpointRow{ok: true, pos: "b", updated: at(3600)},
			replica: checkpointRow{ok: true, pos: "b", updated: at(3600)}, want: 0},
		{name: "behind: age of the replica's checkpoint", primary: checkpointRow{ok: true, pos: "c", updated: at(0.1)},
			replica: checkpointRow{ok: true, pos: "b", updated: at(2.5)}, want: 2500 * time.Millisecond},
		{name: "clock skew never gives a negative lag", primary: checkpointRow{ok: true, pos: "c", updated: at(-1)},
			replica: checkpointRow{ok: true, pos: "b", updated: at(-0.5)}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lag, problem := computeLag(tt.primary, now, tt.replica)
			if lag != tt.want || problem != tt.problem {
				t.Errorf("computeLag = %v, %q; want %v, %q", lag, problem, tt.want, tt.problem)
			}
		})
	}
}

func TestThrottleReason(t *testing.T) {
	ok := func(addr string, lag time.Duration) replicaLag { return replicaLag{addr: addr, lag: lag, known: true} }
	tests := []struct {
		name     string
		lags     []replicaLag
		measured bool
		want     string
	}{
		{name: "not measured yet", measured: false, want: "replica lag not measured yet"},
		{name: "all under the limit", measured: true, lags: []replicaLag{ok("r1:1", 900*time.Millisecond), ok("r2:2", 0)}},
		{name: "at the limit is fine", measured: true, lags: []replicaLag{ok("r1:1", time.Second)}},
		{name: "the worst one is named", measured: true,
			lags: []replicaLag{ok("r1:1", 1500*time.Millisecond), ok("r2:2", 3*time.Second), ok("r3:3", 10*time.Millisecond)},
			want: "replica r2:2 lag 3s > 1s"},
		{name: "a problem wins over lag", measured: true,
			lags: []replicaLag{ok("r1:1", 5*time.Second), {addr: "r2:2", problem: "replication SQL thread stopped"}},
			want: "replica r2:2: replication SQL thread stopped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := throttleReason(tt.lags, time.Second, tt.measured); got != tt.want {
				t.Errorf("throttleReason = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestHoldWaitsForTheThrottle checks the writer's gate: it waits while a
// replica lags, wakes when a measurement or a raised limit lifts the
// throttle, and ends with the context.
func TestHoldWaitsForTheThrottle(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	c := NewControl(config.Throttle{})
	if err := c.Hold(context.Background(), log); err != nil {
		t.Fatalf("hold without replicas: %v", err)
	}
	c.watchReplicas([]string{"r1:1"}, time.Second)
	if reason, _ := c.Throttled(); reason != "replica lag not measured yet" {
		t.Fatalf("before the first measurement: %q", reason)
	}
	c.setReplicaLags([]replicaLag{{addr: "r1:1", lag: 2 * time.Second, known: true}})

	released := make(chan error, 1)
	go func() { released <- c.Hold(context.Background(), log) }()
	select {
	case err := <-released:
		t.Fatalf("hold returned while throttled: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	// Still lagging: still held.
	c.setReplicaLags([]replicaLag{{addr: "r1:1", lag: 3 * time.Second, known: true}})
	select {
	case err := <-released:
		t.Fatalf("hold returned while throttled: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	// A raised limit lets it go.
	c.SetMaxLag(5 * time.Second)
	select {
	case err := <-released:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("hold did not return after the limit was raised")
	}
	if n := strings.Count(logs.String(), "throttled: replica r1:1 lag 2s > 1s"); n != 1 {
		t.Errorf("throttle logged %d times, want once:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "throttle lifted"); n != 1 {
		t.Errorf("lift logged %d times, want once:\n%s", n, logs.String())
	}

	// A problem holds the writer until ctx ends.
	c.setReplicaLags([]replicaLag{{addr: "r1:1", problem: "unreachable: dial tcp: connection refused"}})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := c.Hold(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hold = %v, want the context's error", err)
	}
	reason, lags := c.Throttled()
	if reason != "replica r1:1: unreachable: dial tcp: connection refused" || len(lags) != 1 || lags[0].LagSeconds != nil {
		t.Fatalf("throttled() = %q, %+v", reason, lags)
	}
}
