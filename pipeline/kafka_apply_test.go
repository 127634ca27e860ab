//go:build !unit

package pipeline_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/internal/testenv"
	"github.com/shiplog/shiplog/pipeline"
	"github.com/shiplog/shiplog/rowio"
	kafkasink "github.com/shiplog/shiplog/sink/kafka"
)

const (
	kOrdersDDL = `CREATE TABLE orders (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, customer VARCHAR(64) NOT NULL,
	  amount DECIMAL(12,2) NOT NULL, status VARCHAR(16) NULL)`
	kItemsDDL = `CREATE TABLE items (order_id BIGINT UNSIGNED NOT NULL, line INT NOT NULL,
	  sku VARCHAR(32) CHARACTER SET latin1 NOT NULL, qty INT NOT NULL, PRIMARY KEY (order_id, line))`
	kEventsDDL = `CREATE TABLE events (kind VARCHAR(16), payload VARCHAR(64))`
	kPrefix    = "shiplog"
)

// renders are the queries that print each table as sorted text rows, the
// same way row() prints a model row.
var renders = map[string]string{
	"orders": "SELECT CONCAT_WS('|', id, customer, amount, IFNULL(status, 'NULL')) FROM `%s`.orders",
	"items":  "SELECT CONCAT_WS('|', order_id, line, sku, qty) FROM `%s`.items",
	"events": "SELECT CONCAT_WS('|', IFNULL(kind, 'NULL'), IFNULL(payload, 'NULL')) FROM `%s`.events",
}

// kenv is one MariaDB server (source database "shop", destinations made on
// demand) and one Kafka broker holding hand-made change topics.
type kenv struct {
	t      *testing.T
	m      *testenv.MariaDB
	k      *testenv.Kafka
	db     *sql.DB
	tables map[string]*cdc.Table
	w      *kafka.Writer
	model  *model
}

func newKEnv(t *testing.T) *kenv {
	t.Helper()
	ctx := context.Background()
	e := &kenv{t: t, m: testenv.MariaDBT(t, testenv.Options{}), k: testenv.KafkaT(t, true), model: newModel()}
	if err := e.m.Exec(ctx, "", "CREATE DATABASE shop"); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Exec(ctx, "shop", kOrdersDDL, kItemsDDL, kEventsDDL); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.db, err = e.m.Open(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.db.Close() })
	tables, err := rowio.LoadTables(ctx, e.db, "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	e.tables = map[string]*cdc.Table{}
	for _, tb := range tables {
		e.tables[tb.Name] = tb
	}
	client := &kafka.Client{Addr: kafka.TCP(e.k.Addrs...)}
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: kafkasink.TopicName(kPrefix, "shop", "orders"), NumPartitions: 4, ReplicationFactor: 1},
		{Topic: kafkasink.TopicName(kPrefix, "shop", "items"), NumPartitions: 1, ReplicationFactor: 1},
		{Topic: kafkasink.TopicName(kPrefix, "shop", "events"), NumPartitions: 2, ReplicationFactor: 1},
		{Topic: kafkasink.SchemaTopic(kPrefix), NumPartitions: 1, ReplicationFactor: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for name, err := range resp.Errors {
		if err != nil {
			t.Fatalf("create topic %s: %v", name, err)
		}
	}
	e.w = &kafka.Writer{Addr: kafka.TCP(e.k.Addrs...), Balancer: &kafka.Hash{}, BatchSize: 10000, BatchTimeout: 5 * time.Millisecond,
		RequiredAcks: kafka.RequireAll, AllowAutoTopicCreation: true}
	t.Cleanup(func() { e.w.Close() })
	var schemas []kafka.Message
	for _, tb := range tables {
		js, err := json.Marshal(tb)
		if err != nil {
			t.Fatal(err)
		}
		schemas = append(schemas, kafka.Message{Topic: kafkasink.SchemaTopic(kPrefix), Key: []byte("shop." + tb.Name), Value: js})
	}
	e.write(schemas...)
	return e
}

// dest creates a destination database with the tables.
func (e *kenv) dest(name string) {
	e.t.Helper()
	ctx := context.Background()
	if err := e.m.Exec(ctx, "", "CREATE DATABASE "+name); err != nil {
		e.t.Fatal(err)
	}
	if err := e.m.Exec(ctx, name, kOrdersDDL, kItemsDDL, kEventsDDL); err != nil {
		e.t.Fatal(err)
	}
}

func (e *kenv) config(dst, group string) *config.Config {
	db := func(name string) config.Database {
		return config.Database{Host: "127.0.0.1", Port: e.m.Port, User: "root", Database: name}
	}
	return &config.Config{
		Source: db("shop"), Destination: db(dst),
		Options: config.Options{FullRowTables: []string{"events"}},
		Delta:   config.Delta{Source: config.DeltaBinlog},
		Sink:    "mysql",
		Kafka:   config.Kafka{Brokers: e.k.Addrs, TopicPrefix: kPrefix, GroupID: group},
	}
}

func (e *kenv) runtime(cfg *config.Config, log *slog.Logger) *pipeline.Runtime {
	e.t.Helper()
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r, err := pipeline.Open(context.Background(), cfg, log)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(r.Close)
	return r
}

func (e *kenv) write(msgs ...kafka.Message) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.w.WriteMessages(ctx, msgs...); err != nil {
		e.t.Fatal(err)
	}
}

// ev is one change as a test writes it.
type ev struct {
	table         string
	op            cdc.Op
	before, after []any
	file          string
	pos           uint64
	row           int
	ts            time.Time
	// sameRow shares the previous change's row index (the two messages of
	// a key-changing update).
	sameRow bool
}

// tx numbers the rows of one source transaction.
func tx(pos uint64, ts time.Time, evs ...ev) []ev {
	row := -1
	for i := range evs {
		if !evs[i].sameRow {
			row++
		}
		evs[i].file, evs[i].pos, evs[i].row, evs[i].ts = "binlog.000001", pos, row, ts
	}
	return evs
}

func ins(table string, row ...any) ev { return ev{table: table, op: cdc.OpInsert, after: row} }
func del(table string, row ...any) ev { return ev{table: table, op: cdc.OpDelete, before: row} }

// keyChange is an update that changes the row's key, as the producer
// publishes it: a delete of the old key, then a create of the new one, under
// one row index.
func keyChange(table string, before, after []any) []ev {
	return []ev{{table: table, op: cdc.OpDelete, before: before}, {table: table, op: cdc.OpInsert, after: after, sameRow: true}}
}

func upd(table string, before, after []any) ev {
	return ev{table: table, op: cdc.OpUpdate, before: before, after: after}
}

func (e *kenv) message(c ev) kafka.Message {
	e.t.Helper()
	tb := e.tables[c.table]
	src := kafkasink.Source{Version: kafkasink.Version, Connector: "mysql", Name: kPrefix, TsMs: c.ts.UnixMilli(), Snapshot: "false",
		DB: "shop", Table: c.table, File: c.file, Pos: c.pos, Row: c.row}
	if c.op == cdc.OpRead {
		src.Snapshot = "true"
	}
	val, err := kafkasink.AppendEnvelope(nil, tb, cdc.Change{Op: c.op, Table: tb, Before: c.before, After: c.after}, src, c.ts.UnixMilli())
	if err != nil {
		e.t.Fatal(err)
	}
	keyRow := c.after
	if keyRow == nil {
		keyRow = c.before
	}
	key, err := kafkasink.AppendKey(nil, tb, keyRow)
	if err != nil {
		e.t.Fatal(err)
	}
	return kafka.Message{Topic: kafkasink.TopicName(kPrefix, "shop", c.table), Key: key, Value: val}
}

// publish writes the changes and applies them to the model.
func (e *kenv) publish(evs ...ev) {
	e.t.Helper()
	msgs := make([]kafka.Message, len(evs))
	for i, c := range evs {
		msgs[i] = e.message(c)
		e.model.apply(e.tables[c.table], c)
	}
	e.write(msgs...)
}

// resend writes the changes again without touching the model (a producer retry).
func (e *kenv) resend(evs ...ev) {
	e.t.Helper()
	msgs := make([]kafka.Message, len(evs))
	for i, c := range evs {
		msgs[i] = e.message(c)
	}
	e.write(msgs...)
}

// model is the expected destination: rows by table and key (keyless tables
// keep every row).
type model struct {
	rows map[string]map[string]string
	bag  map[string][]string
}

func newModel() *model {
	return &model{rows: map[string]map[string]string{}, bag: map[string][]string{}}
}

func row(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		if v == nil {
			parts[i] = "NULL"
		} else if s, ok := v.(string); ok && !utf8.ValidString(s) {
			// latin1 column values (canonical form: latin1 bytes), as the
			// server prints them to a utf8mb4 session.
			r := make([]rune, len(s))
			for j := 0; j < len(s); j++ {
				r[j] = rune(s[j])
			}
			parts[i] = string(r)
		} else {
			parts[i] = fmt.Sprint(v)
		}
	}
	return strings.Join(parts, "|")
}

func (m *model) apply(tb *cdc.Table, c ev) {
	if len(tb.Key) == 0 {
		if c.before != nil {
			b := m.bag[tb.Name]
			for i, r := range b {
				if r == row(c.before) {
					m.bag[tb.Name] = append(b[:i:i], b[i+1:]...)
					break
				}
			}
		}
		if c.after != nil {
			m.bag[tb.Name] = append(m.bag[tb.Name], row(c.after))
		}
		return
	}
	if m.rows[tb.Name] == nil {
		m.rows[tb.Name] = map[string]string{}
	}
	if c.before != nil {
		delete(m.rows[tb.Name], row(tb.KeyOf(c.before)))
	}
	if c.after != nil {
		m.rows[tb.Name][row(tb.KeyOf(c.after))] = row(c.after)
	}
}

func (m *model) expected(table string) []string {
	out := append([]string{}, m.bag[table]...)
	for _, r := range m.rows[table] {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

func (m *model) clone() *model {
	c := newModel()
	for t, rows := range m.rows {
		c.rows[t] = map[string]string{}
		for k, v := range rows {
			c.rows[t][k] = v
		}
	}
	for t, b := range m.bag {
		c.bag[t] = append([]string{}, b...)
	}
	return c
}

func (e *kenv) actual(dbName, table string) []string {
	e.t.Helper()
	rows, err := e.db.Query(fmt.Sprintf(renders[table], dbName))
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// diff describes how dbName differs from m ("" when equal).
func (e *kenv) diff(dbName string, m *model, tables ...string) string {
	var b strings.Builder
	for _, table := range tables {
		want, got := m.expected(table), e.actual(dbName, table)
		if strings.Join(want, "\n") != strings.Join(got, "\n") {
			fmt.Fprintf(&b, "%s.%s:\n want %q\n  got %q\n", dbName, table, want, got)
		}
	}
	return b.String()
}

func (e *kenv) assertModel(dbName string, m *model) {
	e.t.Helper()
	if d := e.diff(dbName, m, "orders", "items", "events"); d != "" {
		e.t.Fatal(d)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

func order(id uint64, customer, amount string, status any) []any {
	return []any{id, customer, amount, status}
}

func item(order uint64, line int64, sku string, qty int64) []any { return []any{order, line, sku, qty} }

// lockedBuffer collects log output written from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []map[string]any {
	l.mu.Lock()
	text := l.b.String()
	l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// orderPartitions returns, per generation, the partitions of the orders
// topic this applier logged as assigned.
func (l *lockedBuffer) orderPartitions() map[int]map[int]bool {
	out := map[int]map[int]bool{}
	for _, m := range l.lines() {
		if m["msg"] != "partition assigned" || m["topic"] != kafkasink.TopicName(kPrefix, "shop", "orders") {
			continue
		}
		g, p := int(m["generation"].(float64)), int(m["partition"].(float64))
		if out[g] == nil {
			out[g] = map[int]bool{}
		}
		out[g][p] = true
	}
	return out
}

func applyUntilCaughtUp(t *testing.T, r *pipeline.Runtime) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	return r.ApplyFromKafkaWith(ctx, pipeline.ApplyOptions{ExitWhenCaughtUp: true})
}

func TestApplyFromKafka(t *testing.T) {
	t.Parallel()
	e := newKEnv(t)
	e.dest("shop_new")
	ctx := context.Background()

	// Phase 1: inserts, updates, deletes, a key change, a keyless table, a
	// producer retry of earlier transactions, malformed messages, a tombstone.
	tx1 := tx(100, at(1),
		ins("orders", order(1, "ann", "10.00", nil)...), ins("orders", order(2, "bob", "20.50", "new")...),
		ins("orders", order(3, "cid ✓", "30.00", nil)...), ins("orders", order(4, "dee", "40.00", nil)...),
		ins("orders", order(5, "eve", "50.00", nil)...), ins("orders", order(6, "fay", "60.00", nil)...),
		ins("orders", order(7, "gus", "70.00", nil)...), ins("orders", order(8, "hal", "80.00", nil)...),
		ins("items", item(1, 1, "SKU-\xe91", 1)...), ins("items", item(1, 2, "SKU-2", 2)...), ins("items", item(2, 1, "SKU-3", 3)...))
	tx2 := tx(200, at(2),
		upd("orders", order(1, "ann", "10.00", nil), order(1, "ann", "11.00", "paid")),
		del("orders", order(2, "bob", "20.50", "new")...),
		upd("items", item(1, 1, "SKU-\xe91", 1), item(1, 1, "SKU-\xe91", 5)))
	tx3 := tx(300, at(3), keyChange("orders", order(3, "cid ✓", "30.00", nil), order(30, "cid ✓", "30.00", nil))...)
	tx4 := tx(400, at(4), del("orders", order(4, "dee", "40.00", nil)...),
		ins("events", "seed", "a"), ins("events", "seed", "b"), ins("events", "seed", "a"))
	e.publish(tx1...)
	e.publish(tx2...)
	e.publish(tx3...)
	e.publish(tx4...)
	// The tombstone after the delete of order 2.
	e.write(kafka.Message{Topic: kafkasink.TopicName(kPrefix, "shop", "orders"), Key: []byte(`{"id":2}`)})
	// A producer retry: tx1, tx2 and tx4 again. Applied again, they would
	// bring back orders 2, 3 and 4, undo order 1's update and duplicate events.
	e.resend(tx1...)
	e.resend(tx2...)
	e.resend(tx4...)
	// Malformed: not JSON, a field the table lacks, a table with no schema.
	bad := e.message(tx(450, at(4), ins("items", item(9, 9, "X", 1)...))[0])
	bad.Value = bytes.Replace(bad.Value, []byte(`"qty"`), []byte(`"quantity"`), 1)
	ghost := e.message(tx(450, at(4), ins("orders", order(99, "ghost", "1.00", nil)...))[0])
	ghost.Topic = kafkasink.TopicName(kPrefix, "shop", "ghost")
	ghost.Value = bytes.Replace(ghost.Value, []byte(`"table":"orders"`), []byte(`"table":"ghost"`), 1)
	e.write(kafka.Message{Topic: kafkasink.TopicName(kPrefix, "shop", "orders"), Key: []byte(`{"id":98}`), Value: []byte("not json {")}, bad, ghost)
	tx5 := tx(500, at(5), append([]ev{ins("orders", order(4, "dee again", "41.00", nil)...),
		upd("orders", order(5, "eve", "50.00", nil), order(5, "eve", "50.00", "paid"))},
		keyChange("events", []any{"seed", "b"}, []any{"seed", "B"})...)...)
	e.publish(tx5...)

	r := e.runtime(e.config("shop_new", "apply"), nil)
	if err := applyUntilCaughtUp(t, r); !errors.Is(err, pipeline.ErrPartial) {
		t.Fatalf("apply: %v, want partial success (malformed messages)", err)
	}
	e.assertModel("shop_new", e.model)
	var n int
	if err := e.db.QueryRow("SELECT COUNT(*) FROM shop_new._shiplog_failed_messages").Scan(&n); err != nil || n != 3 {
		t.Fatalf("failed messages: %d %v, want 3", n, err)
	}
	var reasons string
	if err := e.db.QueryRow("SELECT GROUP_CONCAT(error ORDER BY topic SEPARATOR ' / ') FROM shop_new._shiplog_failed_messages").Scan(&reasons); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"not a Debezium envelope", `unknown field "quantity"`, "unknown table shop.ghost"} {
		if !strings.Contains(reasons, want) {
			t.Errorf("failed messages %q lack %q", reasons, want)
		}
	}
	// Running again applies nothing and records nothing twice.
	if err := applyUntilCaughtUp(t, r); err != nil {
		t.Fatalf("second apply: %v", err)
	}
	e.assertModel("shop_new", e.model)

	// Phase 2: stop the applier mid-stream, then run it again. The keyless
	// events table turns any change applied twice into a duplicate row.
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.ApplyFromKafka(runCtx) }()
	pos := uint64(1000)
	publishChunk := func(i int) {
		var evs []ev
		for j := 0; j < 150; j++ {
			evs = append(evs, ins("events", fmt.Sprintf("c%d", i), fmt.Sprintf("p%d", j)))
		}
		evs = append(evs, upd("orders", order(1, "ann", fmt.Sprintf("%d.00", 100+i), "paid"), order(1, "ann", fmt.Sprintf("%d.00", 101+i), "paid")))
		e.publish(tx(pos, at(10+i), evs...)...)
		pos += 100
	}
	e.publish(tx(pos, at(9), upd("orders", order(1, "ann", "11.00", "paid"), order(1, "ann", "100.00", "paid")))...)
	pos += 100
	for i := 0; i < 5; i++ {
		publishChunk(i)
		time.Sleep(20 * time.Millisecond)
	}
	waitFor(t, "part of phase 2 applied", 60*time.Second, func() bool {
		var n int
		_ = e.db.QueryRow("SELECT COUNT(*) FROM shop_new.events WHERE kind LIKE 'c%'").Scan(&n)
		return n > 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stopped applier: %v", err)
	}
	for i := 5; i < 10; i++ {
		publishChunk(i)
	}
	if err := applyUntilCaughtUp(t, r); err != nil {
		t.Fatalf("restarted applier: %v", err)
	}
	e.assertModel("shop_new", e.model)
	var offsets int64
	if err := e.db.QueryRow("SELECT SUM(next_offset) FROM shop_new._shiplog_kafka_offsets WHERE group_id = 'apply'").Scan(&offsets); err != nil {
		t.Fatal(err)
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for c, parts := range map[string]int{"orders": 4, "items": 1, "events": 2, "ghost": 1} {
		for p := range parts {
			topic := kafkasink.TopicName(kPrefix, "shop", c)
			req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
		}
	}
	resp, err := (&kafka.Client{Addr: kafka.TCP(e.k.Addrs...)}).ListOffsets(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, parts := range resp.Topics {
		for _, p := range parts {
			if p.Error != nil {
				t.Fatal(p.Error)
			}
			total += p.LastOffset
		}
	}
	if offsets != total {
		t.Fatalf("recorded offsets sum to %d, the topics hold %d messages", offsets, total)
	}

	// Phase 3: two appliers in one group split the partitions and converge.
	e.dest("shop_two")
	logA, logB := &lockedBuffer{}, &lockedBuffer{}
	ra := e.runtime(e.config("shop_two", "two"), slog.New(slog.NewJSONHandler(logA, nil)))
	rb := e.runtime(e.config("shop_two", "two"), slog.New(slog.NewJSONHandler(logB, nil)))
	twoCtx, stopTwo := context.WithCancel(ctx)
	defer stopTwo()
	errs := make(chan error, 2)
	go func() { errs <- ra.ApplyFromKafka(twoCtx) }()
	waitFor(t, "first applier assigned", 60*time.Second, func() bool { return len(logA.orderPartitions()) > 0 })
	go func() { errs <- rb.ApplyFromKafka(twoCtx) }()
	waitFor(t, "the group to split the orders partitions", 90*time.Second, func() bool {
		a, b := logA.orderPartitions(), logB.orderPartitions()
		for g, pa := range a {
			pb := b[g]
			if len(pa) == 0 || len(pb) == 0 || len(pa)+len(pb) != 4 {
				continue
			}
			for p := range pa {
				if pb[p] {
					return false
				}
			}
			return true
		}
		return false
	})
	// More changes while both run, to every partition of orders.
	var more []ev
	for id := uint64(200); id < 240; id++ {
		more = append(more, ins("orders", order(id, fmt.Sprintf("c%d", id), "1.00", nil)...))
	}
	e.publish(tx(pos, at(30), more...)...)
	pos += 100
	var upds []ev
	for id := uint64(200); id < 240; id += 3 {
		upds = append(upds, upd("orders", order(id, fmt.Sprintf("c%d", id), "1.00", nil), order(id, fmt.Sprintf("c%d", id), "2.00", "paid")))
	}
	e.publish(tx(pos, at(31), upds...)...)
	waitFor(t, "both appliers to converge", 90*time.Second, func() bool {
		return e.diff("shop_two", e.model, "orders", "items", "events") == ""
	})
	stopTwo()
	for range 2 {
		if err := <-errs; err != nil && !errors.Is(err, pipeline.ErrPartial) {
			t.Fatalf("applier of the pair: %v", err)
		}
	}
	e.assertModel("shop_two", e.model)
	// Both did work: each applied at least one orders partition's offsets.
	var members int
	if err := e.db.QueryRow("SELECT COUNT(*) FROM shop_two._shiplog_kafka_offsets WHERE group_id = 'two' AND topic = ?",
		kafkasink.TopicName(kPrefix, "shop", "orders")).Scan(&members); err != nil || members != 4 {
		t.Fatalf("orders partitions recorded: %d %v, want 4", members, err)
	}
}

func TestApplyFromKafkaBrokerUnreachable(t *testing.T) {
	t.Parallel()
	e := newKEnv(t)
	e.dest("shop_new")
	cfg := e.config("shop_new", "apply")
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Kafka.Brokers = []string{fmt.Sprintf("127.0.0.1:%d", port)}
	r := e.runtime(cfg, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = r.ApplyFromKafka(ctx)
	if err == nil || !strings.Contains(err.Error(), cfg.Kafka.Brokers[0]) {
		t.Fatalf("apply with no broker: %v, want an error naming %s", err, cfg.Kafka.Brokers[0])
	}
}

// replayLine is one line of Replay's jsonl output.
type replayLine struct {
	Topic     string          `json:"topic"`
	Partition int             `json:"partition"`
	Offset    int64           `json:"offset"`
	Table     string          `json:"table"`
	Op        string          `json:"op"`
	Position  string          `json:"position"`
	Row       int             `json:"row"`
	Time      string          `json:"time"`
	Key       json.RawMessage `json:"key"`
	Before    json.RawMessage `json:"before"`
	After     json.RawMessage `json:"after"`
}

func canon(t *testing.T, raw []byte) string {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// summary is what a test compares of one replayed change.
func (e *kenv) summary(c ev) string {
	m := e.message(c)
	env, err := kafkasink.Decode(m.Value)
	if err != nil {
		e.t.Fatal(err)
	}
	pos := ""
	if c.op != cdc.OpRead {
		pos = fmt.Sprintf("%s:%d", c.file, c.pos)
	}
	before, after := "null", "null"
	if c.before != nil {
		before = canon(e.t, env.Before)
	}
	if c.after != nil {
		after = canon(e.t, env.After)
	}
	return fmt.Sprintf("%s %s %s %s row=%d %s key=%s before=%s after=%s", m.Topic, "shop."+c.table, kafkasink.OpCode(c.op), pos, c.row,
		c.ts.UTC().Format(time.RFC3339Nano), canon(e.t, m.Key), before, after)
}

func (e *kenv) replay(r *pipeline.Runtime, o pipeline.ReplayOptions) []string {
	e.t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.Replay(ctx, o, &out); err != nil {
		e.t.Fatalf("replay: %v", err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if l == "" {
			continue
		}
		var rl replayLine
		if err := json.Unmarshal([]byte(l), &rl); err != nil {
			e.t.Fatalf("line %q: %v", l, err)
		}
		if rl.Topic == "" || rl.Offset < 0 {
			e.t.Fatalf("line %q lacks topic or offset", l)
		}
		got = append(got, fmt.Sprintf("%s %s %s %s row=%d %s key=%s before=%s after=%s", rl.Topic, rl.Table, rl.Op, rl.Position, rl.Row, rl.Time,
			canon(e.t, rl.Key), canon(e.t, rl.Before), canon(e.t, rl.After)))
	}
	return got
}

func TestReplay(t *testing.T) {
	t.Parallel()
	e := newKEnv(t)
	e.dest("shop_new")
	ctx := context.Background()
	snap := ev{table: "orders", op: cdc.OpRead, after: order(9, "snap", "9.00", nil), file: "binlog.000001", pos: 50, ts: t0.Add(30 * time.Second)}
	tx1 := tx(100, at(1), ins("orders", order(1, "ann", "10.00", nil)...), ins("orders", order(2, "bob", "20.00", nil)...),
		ins("orders", order(3, "cid", "30.00", nil)...), ins("items", item(1, 1, "SKU-\xe91", 1)...))
	tx2 := tx(200, at(2), upd("orders", order(1, "ann", "10.00", nil), order(1, "ann", "12.50", "paid")), ins("items", item(1, 2, "SKU-2", 2)...))
	tx3 := tx(300, at(3), append([]ev{del("orders", order(2, "bob", "20.00", nil)...)},
		keyChange("orders", order(3, "cid", "30.00", nil), order(30, "cid", "30.00", nil))...)...)
	atUntil := func() *model { return e.model.clone() }
	var all []ev
	all = append(all, snap)
	all = append(all, tx1...)
	all = append(all, tx2...)
	all = append(all, tx3...)
	e.publish(snap)
	e.publish(tx1...)
	e.publish(tx2...)
	e.publish(tx3...)
	untilModel := atUntil()
	tx4 := tx(400, at(4), upd("orders", order(30, "cid", "30.00", nil), order(30, "cid", "31.00", "new")), del("items", item(1, 1, "SKU-\xe91", 1)...))
	e.publish(tx4...)
	all = append(all, tx4...)

	r := e.runtime(e.config("shop_new", "unused"), nil)
	pick := func(keep func(ev) bool) []string {
		var out []string
		for _, c := range all {
			if keep(c) {
				out = append(out, e.summary(c))
			}
		}
		return out
	}
	check := func(name string, o pipeline.ReplayOptions, keep func(ev) bool) {
		t.Helper()
		got, want := e.replay(r, o), pick(keep)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\n got\n  %s\n want\n  %s", name, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
	check("everything", pipeline.ReplayOptions{FromBeginning: true}, func(ev) bool { return true })
	check("table items", pipeline.ReplayOptions{Tables: []string{"items"}}, func(c ev) bool { return c.table == "items" })
	check("table shop.orders, deletes", pipeline.ReplayOptions{Tables: []string{"shop.orders"}, Ops: []string{"d"}},
		func(c ev) bool { return c.table == "orders" && c.op == cdc.OpDelete })
	check("key id 1", pipeline.ReplayOptions{Keys: []string{`{ "id": 1 }`}}, func(c ev) bool {
		return c.table == "orders" && c.after != nil && c.after[0] == uint64(1)
	})
	check("window", pipeline.ReplayOptions{Since: at(2), Until: at(3)}, func(c ev) bool { return !c.ts.Before(at(2)) && !c.ts.After(at(3)) })
	check("from offsets", pipeline.ReplayOptions{FromOffsets: map[string]map[int]int64{kafkasink.TopicName(kPrefix, "shop", "items"): {0: 2}},
		Tables: []string{"items"}}, func(c ev) bool { return c.table == "items" && c.pos == 400 })

	var table bytes.Buffer
	if err := r.Replay(ctx, pipeline.ReplayOptions{Format: "table", Tables: []string{"orders"}, Ops: []string{"u"}}, &table); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TIME") || !strings.Contains(table.String(), `amount: "10.00" -> "12.50"`) {
		t.Fatalf("table output:\n%s", table.String())
	}

	// --apply-to rebuilds the tables as they were at Until.
	if err := e.m.Exec(ctx, "", "CREATE DATABASE scratch"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := r.Replay(ctx, pipeline.ReplayOptions{Until: at(3), ApplyTo: e.m.DSN("scratch")}, &out); err != nil {
		t.Fatal(err)
	}
	if d := e.diff("scratch", untilModel, "orders", "items"); d != "" {
		t.Fatal(d)
	}
	var charset string
	if err := e.db.QueryRow("SELECT CHARACTER_SET_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'scratch' AND TABLE_NAME = 'items' AND COLUMN_NAME = 'sku'").Scan(&charset); err != nil || charset != "latin1" {
		t.Fatalf("scratch items.sku charset %q %v, want latin1", charset, err)
	}
}
