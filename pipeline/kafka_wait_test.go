//go:build !unit

package pipeline_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/shiplog/shiplog/pipeline"
	kafkasink "github.com/shiplog/shiplog/sink/kafka"
)

// TestApplyFromKafkaWithThePublishersConfig applies with the configuration
// the publisher runs with (sink: kafka): the rows go to the destination
// database, shop_new, not to a database named like the source's (here the
// source database itself, on the same server).
func TestApplyFromKafkaWithThePublishersConfig(t *testing.T) {
	t.Parallel()
	e := newKEnv(t)
	e.dest("shop_new")
	e.publish(tx(100, at(1),
		ins("orders", order(1, "ann", "10.00", nil)...), ins("orders", order(2, "bob", "20.50", "new")...),
		ins("items", item(1, 1, "SKU-\xe91", 1)...), ins("events", "seed", "a"))...)
	e.publish(tx(200, at(2), upd("orders", order(1, "ann", "10.00", nil), order(1, "ann", "11.00", "paid")),
		del("orders", order(2, "bob", "20.50", "new")...))...)
	cfg := e.config("shop_new", "apply")
	cfg.Sink = "kafka"
	r := e.runtime(cfg, nil)
	if err := applyUntilCaughtUp(t, r); err != nil {
		t.Fatalf("apply: %v", err)
	}
	e.assertModel("shop_new", e.model)
	if d := e.diff("shop", newModel(), "orders", "items", "events"); d != "" {
		t.Fatalf("the applier wrote to the source's database name:\n%s", d)
	}
}

// TestApplyFromKafkaWaitsForTopics starts the applier daemon before the
// publisher created anything: it waits (one log line) through a data topic
// without the schema topic, applies once both exist, and takes up a topic
// created while it applies. With --exit-when-caught-up and no topic it
// returns at once, as before.
func TestApplyFromKafkaWaitsForTopics(t *testing.T) {
	t.Parallel()
	e := newKEnv(t)
	e.dest("shop_new")
	const prefix = "late"
	cfg := e.config("shop_new", "late")
	cfg.Kafka.TopicPrefix = prefix
	logs := &lockedBuffer{}
	r := e.runtime(cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))

	if err := applyUntilCaughtUp(t, r); err != nil {
		t.Fatalf("apply --exit-when-caught-up with no topics: %v, want nil (nothing to apply)", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- r.ApplyFromKafkaWith(ctx, pipeline.ApplyOptions{TopicCheckEvery: 100 * time.Millisecond})
	}()
	running := func() {
		t.Helper()
		select {
		case err := <-done:
			t.Fatalf("the applier returned while waiting for its topics: %v", err)
		default:
		}
	}
	count := func(msg, reason string) int {
		n := 0
		for _, l := range logs.lines() {
			why, _ := l["reason"].(string)
			if l["msg"] == msg && strings.Contains(why, reason) {
				n++
			}
		}
		return n
	}
	waitFor(t, "checks finding no data topic", 30*time.Second, func() bool {
		running()
		return count("the publisher's topics are not there yet", "no data topics") >= 3
	})
	// A data topic, but no schema yet (the publisher creates the topic first).
	if err := e.k.CreateTopic(kafkasink.TopicName(prefix, "shop", "orders"), 3, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "checks finding no schema topic", 30*time.Second, func() bool {
		running()
		return count("the publisher's topics are not there yet", prefix+".__schema") >= 3
	})
	if n := count("waiting for the publisher's topics", ""); n != 1 {
		t.Fatalf("logged waiting %d times, want once", n)
	}
	var schemas []kafka.Message
	for name, tb := range e.tables {
		js, err := json.Marshal(tb)
		if err != nil {
			t.Fatal(err)
		}
		schemas = append(schemas, kafka.Message{Topic: kafkasink.SchemaTopic(prefix), Key: []byte("shop." + name), Value: js})
	}
	e.write(schemas...)
	publishTo := func(evs ...ev) {
		t.Helper()
		msgs := make([]kafka.Message, len(evs))
		for i, c := range evs {
			msgs[i] = e.message(c)
			msgs[i].Topic = kafkasink.TopicName(prefix, "shop", c.table)
			e.model.apply(e.tables[c.table], c)
		}
		e.write(msgs...)
	}
	publishTo(tx(100, at(1), ins("orders", order(1, "ann", "10.00", nil)...), ins("orders", order(2, "bob", "2.00", "new")...))...)
	converged := func(tables ...string) func() bool {
		return func() bool {
			running()
			return e.diff("shop_new", e.model, tables...) == ""
		}
	}
	waitFor(t, "orders applied", 60*time.Second, converged("orders"))
	// A table whose topic appears while the applier runs.
	publishTo(tx(200, at(2), ins("items", item(1, 1, "SKU-1", 1)...), upd("orders", order(2, "bob", "2.00", "new"), order(2, "bob", "2.00", "paid")))...)
	waitFor(t, "items applied", 60*time.Second, converged("orders", "items"))
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stopped applier: %v", err)
	}
	e.assertModel("shop_new", e.model)
	if n := count("new data topics or partitions: rejoining the consumer group with them", ""); n < 1 {
		t.Fatalf("no rejoin logged for the items topic")
	}
}
