package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shiplog/shiplog/internal/testenv"
)

// TestSourceToKafkaToDestinationWithKills publishes a written source to Kafka
// (kfake over TCP) and applies the topics with two appliers in one consumer
// group; the publisher and an applier are killed with SIGKILL and restarted.
// The destination must end equal to the source.
func TestSourceToKafkaToDestinationWithKills(t *testing.T) {
	k := testenv.KafkaT(t, true)
	e := newEnv(t, "")
	ctx := context.Background()
	e.both(shopDDL, itemsDDL)
	if err := e.src.Exec(ctx, "shop",
		`INSERT INTO orders (customer, amount, note, status, updated) SELECT CONCAT('c', seq, ' ✓'), seq, 'n', 'new', NOW(6) FROM seq_1_to_1500`,
		`INSERT INTO items SELECT id, 1, 'SKU-é', 1, 2.5 FROM orders`); err != nil {
		t.Fatal(err)
	}
	if err := e.dst.Exec(ctx, "", "CREATE DATABASE pubstate"); err != nil {
		t.Fatal(err)
	}
	kafka := fmt.Sprintf("kafka: {brokers: [%s], topic_prefix: shop, partitions: 4}\n", strings.Join(k.Addrs, ", "))
	publisher := e.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: pubstate}\nsink: kafka\n%s", e.src.Port, e.dst.Port, kafka))
	applier := e.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: shop_new}\n%s", e.src.Port, e.dst.Port, kafka))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := 1 + i*7%1600
			var err error
			switch i % 4 {
			case 0:
				_, err = e.srcDB.Exec("UPDATE orders SET amount = amount + 1, status = 'paid' WHERE id = ?", id)
			case 1:
				_, err = e.srcDB.Exec("INSERT INTO orders (customer, amount, updated) VALUES (?, 1, NOW(6))", fmt.Sprint("w", i))
			case 2:
				_, err = e.srcDB.Exec("DELETE FROM items WHERE order_id = ?", id)
			case 3:
				_, err = e.srcDB.Exec("UPDATE IGNORE items SET line = line + 1 WHERE order_id = ?", id)
			}
			if err != nil {
				writeErr = err
				return
			}
		}
	}()
	if r := runShiplog(t, publisher, nil, "migrate", "data"); r.code != 0 {
		t.Fatalf("publish snapshot: %d\n%s", r.code, r.stderr)
	}
	// Two appliers in one group, and a publisher that is killed once.
	a1, a1err := startKillable(t, applier, "apply", "--from-kafka")
	a2, a2err := startKillable(t, applier, "apply", "--from-kafka")
	pub, _ := startKillable(t, publisher, "migrate", "delta")
	time.Sleep(1500 * time.Millisecond) // let everything run under writes, then crash the publisher and one applier
	_ = pub.Process.Signal(syscall.SIGKILL)
	_ = pub.Wait()
	_ = a1.Process.Signal(syscall.SIGKILL)
	_ = a1.Wait()
	pub, _ = startKillable(t, publisher, "migrate", "delta")
	a1, a1err = startKillable(t, applier, "apply", "--from-kafka")
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if writeErr != nil {
		t.Fatalf("writer: %v", writeErr)
	}
	_ = pub.Process.Signal(syscall.SIGTERM)
	if err := pub.Wait(); err != nil {
		t.Fatalf("publisher: %v", err)
	}
	if r := runShiplog(t, publisher, nil, "migrate", "delta", "--exit-when-caught-up"); r.code != 0 {
		t.Fatalf("publisher catch-up: %d\n%s", r.code, r.stderr)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		diffs, err := testenv.CompareDatabases(ctx, e.srcDB, "shop", e.dstDB, "shop_new")
		if err == nil && len(diffs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			sameRows(t, "orders", rowsOf(t, e.srcDB, "SELECT * FROM orders"), rowsOf(t, e.dstDB, "SELECT * FROM orders"))
			t.Fatalf("the appliers did not converge: %v %v\napplier 1:\n%s\napplier 2:\n%s", diffs, err, tail(a1err.String()), tail(a2err.String()))
		}
		time.Sleep(200 * time.Millisecond)
	}
	_ = a1.Process.Signal(syscall.SIGTERM)
	_ = a2.Process.Signal(syscall.SIGTERM)
	if err := a1.Wait(); err != nil {
		t.Fatalf("applier 1: %v\n%s", err, a1err)
	}
	if err := a2.Wait(); err != nil {
		t.Fatalf("applier 2: %v\n%s", err, a2err)
	}
	e.assertIdentical()
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}
