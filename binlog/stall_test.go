//go:build !unit

package binlog

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/testenv"
)

// syncLog is a log a test reads while the reader writes it.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *syncLog) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// TestStallReconnectsButSlowEmitDoesNot streams through a proxy. An emit
// that holds the reader back for several stall timeouts is not a stall (the
// connection is not read meanwhile); a connection that passes nothing is:
// Stream logs it, reconnects from the last position and receives what was
// written meanwhile, exactly once. Before, it waited forever.
func TestStallReconnectsButSlowEmitDoesNot(t *testing.T) {
	t.Parallel()
	m := testenv.MariaDBT(t, testenv.Options{Binlog: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := m.Exec(ctx, "", "CREATE DATABASE shop", "CREATE TABLE shop.t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	db, err := m.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	head, err := HeadPosition(ctx, db, "")
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewProxy(t, m.Addr())
	var logs syncLog
	const stall = 1500 * time.Millisecond
	cfg := Config{
		Host: "127.0.0.1", Port: uint16(proxy.Port()), User: "root", Schema: "shop",
		HeartbeatPeriod: 500 * time.Millisecond, StallTimeout: stall, ConnectTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}

	var mu sync.Mutex
	seen := map[int64]int{}
	holdOnce := make(chan struct{}, 1)
	holdOnce <- struct{}{}
	streamCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- NewReader(cfg).Stream(streamCtx, head, func(ctx context.Context, b cdc.Batch) error {
			for _, c := range b.Changes {
				mu.Lock()
				seen[c.After[0].(int64)]++
				mu.Unlock()
				select {
				case <-holdOnce: // a writer busy for 3 stall timeouts
					select {
					case <-time.After(3 * stall):
					case <-ctx.Done():
					}
				default:
				}
			}
			return nil
		})
	}()
	count := func(id int64) int {
		mu.Lock()
		defer mu.Unlock()
		return seen[id]
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			select {
			case err := <-done:
				t.Fatalf("Stream ended waiting for %s: %v", what, err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; log:\n%s", what, logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	insert := func(id int) {
		t.Helper()
		if _, err := db.ExecContext(ctx, "INSERT INTO shop.t VALUES (?)", id); err != nil {
			t.Fatal(err)
		}
	}

	insert(1)
	insert(2) // arrives while emit holds row 1
	wait("rows 1 and 2", func() bool { return count(1) == 1 && count(2) == 1 })
	if n := logs.count("stalled"); n != 0 {
		t.Fatalf("a slow emit was taken for a stall:\n%s", logs.String())
	}
	if n := logs.count("binlog stream started"); n != 1 {
		t.Fatalf("%d connections for a slow emit, want 1:\n%s", n, logs.String())
	}

	proxy.Stall()
	insert(3)
	wait("row 3 after the stall", func() bool { return count(3) == 1 })
	if logs.count("binlog stream stalled: no event for 1.5s, reconnecting") != 1 || logs.count("binlog stream started") != 2 {
		t.Fatalf("want one stall logged and one reconnect:\n%s", logs.String())
	}
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Stream: %v", err)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("row %d emitted %d times", id, n)
		}
	}
}

// TestSilentServerIsRetriedNotWaitedFor points the reader at a listener
// that accepts connections and never sends a handshake: each attempt ends
// at ConnectTimeout and is retried, logged. Before, the first attempt
// waited for the handshake forever.
func TestSilentServerIsRetriedNotWaitedFor(t *testing.T) {
	t.Parallel()
	hole := testenv.NewBlackhole(t)
	var logs syncLog
	r := NewReader(Config{
		Host: "127.0.0.1", Port: uint16(hole.Port()), User: "root", Schema: "shop",
		ConnectTimeout: 300 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- r.Stream(ctx, cdc.Position{File: "binlog.000001", Pos: 4}, func(context.Context, cdc.Batch) error { return nil })
	}()
	deadline := time.Now().Add(10 * time.Second)
	for logs.count("binlog connection failed; reconnecting") < 3 {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("fewer than 3 attempts in 10s against a silent server; log:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Stream: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stream did not return within 5s of its context ending")
	}
	if hole.Accepted() < 3 {
		t.Fatalf("%d connections accepted, want at least 3", hole.Accepted())
	}
}
