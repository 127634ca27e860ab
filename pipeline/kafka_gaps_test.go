//go:build !unit

package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/shiplog/shiplog/pipeline"
	kafkasink "github.com/shiplog/shiplog/sink/kafka"
)

// loseBroker restarts the broker empty on the same address (it lost its
// data), and with recreate creates the topics again and republishes the
// schemas, as a publisher would.
func (e *kenv) loseBroker(recreate bool) {
	e.t.Helper()
	if err := e.k.Restart(true); err != nil {
		e.t.Fatal(err)
	}
	e.w.Close()
	e.w = &kafka.Writer{Addr: kafka.TCP(e.k.Addrs...), Balancer: &kafka.Hash{}, BatchSize: 10000, BatchTimeout: 5 * time.Millisecond,
		RequiredAcks: kafka.RequireAll, AllowAutoTopicCreation: true}
	if !recreate {
		return
	}
	for name, parts := range map[string]int32{"orders": 4, "items": 1, "events": 2} {
		if err := e.k.CreateTopic(kafkasink.TopicName(kPrefix, "shop", name), parts, nil); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := e.k.CreateTopic(kafkasink.SchemaTopic(kPrefix), 1, nil); err != nil {
		e.t.Fatal(err)
	}
	var schemas []kafka.Message
	for name, tb := range e.tables {
		js, err := json.Marshal(tb)
		if err != nil {
			e.t.Fatal(err)
		}
		schemas = append(schemas, kafka.Message{Topic: kafkasink.SchemaTopic(kPrefix), Key: []byte("shop." + name), Value: js})
	}
	e.write(schemas...)
}

func expectGap(t *testing.T, err error, wants ...string) {
	t.Helper()
	if !errors.Is(err, pipeline.ErrGap) {
		t.Fatalf("apply: %v, want an error wrapping ErrGap", err)
	}
	for _, w := range append(wants, "migrate data --reset", "DELETE FROM `shop_new`._shiplog_kafka_offsets WHERE group_id = 'apply'") {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the error lacks %q:\n%v", w, err)
		}
	}
}

// TestApplyFromKafkaStopsWhenTheBrokerLostItsTopics: after the broker lost
// its topics (restarted empty), the applier's stored offsets point past what
// the broker holds. The old applier then waited at those offsets (or found
// no topics) and reported caught up, applying nothing, or read a refilled
// topic from the old offset, skipping its first messages. Now it stops with
// ErrGap, naming the partitions and the remedy: when started, and while it
// runs as a daemon.
func TestApplyFromKafkaStopsWhenTheBrokerLostItsTopics(t *testing.T) {
	t.Parallel()
	e := newKEnv(t)
	e.dest("shop_new")
	var first []ev
	for id := uint64(1); id <= 12; id++ {
		first = append(first, ins("orders", order(id, fmt.Sprintf("c%d", id), "1.00", nil)...))
	}
	first = append(first, ins("items", item(1, 1, "A", 1)...), ins("items", item(1, 2, "B", 1)...), ins("items", item(2, 1, "C", 1)...))
	e.publish(tx(100, at(1), first...)...)
	r := e.runtime(e.config("shop_new", "apply"), nil)
	if err := applyUntilCaughtUp(t, r); err != nil {
		t.Fatal(err)
	}
	e.assertModel("shop_new", e.model)

	// Restarted empty: the topics are gone.
	e.loseBroker(false)
	expectGap(t, applyUntilCaughtUp(t, r), "shiplog.shop.orders: the topic is gone", "shiplog.shop.items: the topic is gone")

	// The publisher created them again and wrote a little: orders end
	// before the stored offsets; items was refilled past them, with newer
	// changes.
	e.loseBroker(true)
	var later []ev
	for line := int64(1); line <= 10; line++ {
		later = append(later, ins("items", item(9, line, "N", 1)...))
	}
	e.publish(tx(200, at(2), append(later, ins("orders", order(100, "late", "1.00", nil)...))...)...)
	expectGap(t, applyUntilCaughtUp(t, r), "the partition ends at", "shiplog.shop.items[0]: offset 2 holds a change at binlog.000001:200",
		"the topic was created again and refilled")
	// Nothing of it was applied.
	var n int
	if err := e.db.QueryRow("SELECT COUNT(*) FROM shop_new.items WHERE order_id = 9").Scan(&n); err != nil || n != 0 {
		t.Fatalf("items applied from the refilled topic: %d %v", n, err)
	}

	// The remedy: forget the offsets (after a fresh copy): the applier goes on.
	if _, err := e.db.Exec("DELETE FROM `shop_new`._shiplog_kafka_offsets WHERE group_id = 'apply'"); err != nil {
		t.Fatal(err)
	}
	// As a daemon, it applies; then the broker loses its data again.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- r.ApplyFromKafkaWith(ctx, pipeline.ApplyOptions{TopicCheckEvery: 200 * time.Millisecond})
	}()
	waitFor(t, "the refilled items applied", 60*time.Second, func() bool {
		_ = e.db.QueryRow("SELECT COUNT(*) FROM shop_new.items WHERE order_id = 9").Scan(&n)
		return n == 10
	})
	e.loseBroker(true)
	e.publish(tx(300, at(3), ins("items", item(10, 1, "M", 1)...))...)
	select {
	case err := <-done:
		expectGap(t, err, "shiplog.shop.items[0]: applied up to offset 10, but the partition ends at ")
	case <-time.After(60 * time.Second):
		t.Fatal("the daemon went on for 60s after the broker lost its topics")
	}
}
