//go:build !unit

package kafka_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/testenv"
	"github.com/shiplog/shiplog/sink/kafka"
)

// allKinds is a table with a column of every value kind.
func allKinds() *cdc.Table {
	return &cdc.Table{
		Schema: "shop",
		Name:   "allkinds",
		Columns: []cdc.Column{
			{Name: "id", DataType: "bigint", ColumnType: "bigint(20)"},
			{Name: "i64", DataType: "bigint", ColumnType: "bigint(20)", Nullable: true},
			{Name: "u64", DataType: "bigint", ColumnType: "bigint(20) unsigned", Unsigned: true, Nullable: true},
			{Name: "f32", DataType: "float", ColumnType: "float", Nullable: true},
			{Name: "f64", DataType: "double", ColumnType: "double", Nullable: true},
			{Name: "dec", DataType: "decimal", ColumnType: "decimal(20,3)", Nullable: true},
			{Name: "b64", DataType: "bit", ColumnType: "bit(64)", Nullable: true},
			{Name: "yr", DataType: "year", ColumnType: "year(4)", Nullable: true},
			{Name: "d", DataType: "date", ColumnType: "date", Nullable: true},
			{Name: "dz", DataType: "date", ColumnType: "date", Nullable: true},
			{Name: "dt", DataType: "datetime", ColumnType: "datetime(6)", Nullable: true},
			{Name: "dtz", DataType: "datetime", ColumnType: "datetime", Nullable: true},
			{Name: "ts", DataType: "timestamp", ColumnType: "timestamp(3)", Nullable: true},
			{Name: "tsz", DataType: "timestamp", ColumnType: "timestamp", Nullable: true},
			{Name: "tm", DataType: "time", ColumnType: "time", Nullable: true},
			{Name: "tmf", DataType: "time", ColumnType: "time(1)", Nullable: true},
			{Name: "e", DataType: "enum", ColumnType: "enum('klein','größe')", Charset: "utf8mb4", Nullable: true},
			{Name: "s", DataType: "set", ColumnType: "set('a','café')", Charset: "latin1", Nullable: true},
			{Name: "j", DataType: "json", ColumnType: "longtext", Charset: "utf8mb4", Nullable: true},
			{Name: "js", DataType: "json", ColumnType: "longtext", Charset: "utf8mb4", Nullable: true},
			{Name: "jbad", DataType: "json", ColumnType: "longtext", Charset: "utf8mb4", Nullable: true},
			{Name: "v", DataType: "varchar", ColumnType: "varchar(64)", Charset: "utf8mb4", Nullable: true},
			{Name: "l1", DataType: "text", ColumnType: "text", Charset: "latin1", Nullable: true},
			{Name: "bin", DataType: "varbinary", ColumnType: "varbinary(16)", Charset: "binary", Nullable: true},
			{Name: "blb", DataType: "blob", ColumnType: "blob", Charset: "binary", Nullable: true},
			{Name: "geo", DataType: "geometry", ColumnType: "geometry", Nullable: true},
			{Name: "n", DataType: "int", ColumnType: "int(11)", Nullable: true},
		},
		Key:     []int{0},
		KeyName: "PRIMARY",
		Unique:  [][]int{{21}},
	}
}

// latin1All is every byte value, as a latin1 column holds them.
func latin1All() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// fullRow has extreme or tricky values in every column.
func fullRow(id int64) []any {
	return []any{
		id,
		int64(math.MinInt64),
		uint64(math.MaxUint64),
		float32(math.MaxFloat32),
		float64(0.1),
		"-12.340",
		uint64(math.MaxUint64),
		int64(2024),
		"2024-01-31",
		"0000-00-00",
		"2024-01-31 13:45:00.123456",
		"0000-00-00 00:00:00",
		"2024-01-31 13:45:00.123",
		"0000-00-00 00:00:00",
		"-838:59:59",
		"13:45:00.5",
		"größe",
		"a,caf\xe9",
		`{"a": [1, 2.5, {"b": null}], "c": "é\n"}`,
		`"a string document"`,
		`not json {`,
		[]byte("héllo ✓ 😀 \"q\" <tag> & \\ \x01"),
		latin1All(),
		[]byte{0, 1, 2, 0x7f, 0x80, 0xfe, 0xff},
		[]byte{},
		[]byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f},
		nil,
	}
}

// smallRow has small, negative or plain values.
func smallRow(id int64) []any {
	r := fullRow(id)
	r[1] = int64(-1)
	r[2] = uint64(0)
	r[3] = float32(0.1)
	r[4] = -1.5e-300
	r[5] = "0.000"
	r[6] = uint64(0)
	r[16] = "klein"
	r[18] = `[]`
	r[19] = `""`
	r[20] = ` {"padded": true} `
	r[21] = []byte("")
	r[22] = []byte("caf\xe9")
	for _, i := range []int{7, 8, 10, 12, 14, 23, 24, 25} {
		r[i] = nil
	}
	return r
}

func opts(k *testenv.Kafka, prefix string) kafka.Options {
	return kafka.Options{
		Brokers:          k.Addrs,
		TopicPrefix:      prefix,
		AutoCreateTopics: true,
		Tombstones:       true,
		ServerID:         7,
	}
}

func newProducer(t *testing.T, o kafka.Options) *kafka.Producer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := kafka.NewProducer(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// readTopic reads every message of one partition of topic with a plain
// kafka-go Reader, up to the partition's end.
func readTopic(t *testing.T, addrs []string, topic string, partition int) []kafkago.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := kafkago.DialLeader(ctx, "tcp", addrs[0], topic, partition)
	if err != nil {
		t.Fatalf("dial leader of %s/%d: %v", topic, partition, err)
	}
	end, err := conn.ReadLastOffset()
	_ = conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: addrs, Topic: topic, Partition: partition,
		MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 100 * time.Millisecond,
	})
	defer r.Close()
	if err := r.SetOffset(kafkago.FirstOffset); err != nil {
		t.Fatal(err)
	}
	var out []kafkago.Message
	for int64(len(out)) < end {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %s/%d after %d messages (end %d): %v", topic, partition, len(out), end, err)
		}
		out = append(out, m)
	}
	return out
}

type wantMsg struct {
	op          string // "" for a tombstone
	key         string
	before      []any
	after       []any
	snapshot    string
	file        string
	pos         uint64
	gtid        *string
	row         int
	tsMs        int64
	tombstoneOf string
}

func strp(s string) *string { return &s }

func checkMessages(t *testing.T, tbl *cdc.Table, got []kafkago.Message, want []wantMsg, start, end int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i, w := range want {
		m := got[i]
		if string(m.Key) != w.key {
			t.Errorf("message %d: key %s, want %s", i, m.Key, w.key)
		}
		if w.op == "" {
			if m.Value != nil {
				t.Errorf("message %d: want a tombstone (nil value), got %q", i, m.Value)
			}
			continue
		}
		env, err := kafka.Decode(m.Value)
		if err != nil {
			t.Fatalf("message %d: %v\n%s", i, err, m.Value)
		}
		if env.Op != w.op {
			t.Errorf("message %d: op %q, want %q", i, env.Op, w.op)
		}
		before, err := kafka.DecodeRow(tbl, env.Before)
		if err != nil {
			t.Fatalf("message %d before: %v", i, err)
		}
		after, err := kafka.DecodeRow(tbl, env.After)
		if err != nil {
			t.Fatalf("message %d after: %v", i, err)
		}
		compareRow(t, fmt.Sprintf("message %d before", i), tbl, before, w.before)
		compareRow(t, fmt.Sprintf("message %d after", i), tbl, after, w.after)
		s := env.Source
		wantSrc := kafka.Source{
			Version: kafka.Version, Connector: "mysql", Name: "test", TsMs: w.tsMs,
			Snapshot: w.snapshot, DB: tbl.Schema, Table: tbl.Name, ServerID: 7,
			GTID: w.gtid, File: w.file, Pos: w.pos, Row: w.row,
		}
		if w.snapshot == "true" {
			if s.TsMs < start || s.TsMs > end {
				t.Errorf("message %d: snapshot source.ts_ms %d not within [%d, %d]", i, s.TsMs, start, end)
			}
			wantSrc.TsMs = s.TsMs
		}
		if !reflect.DeepEqual(s, wantSrc) {
			t.Errorf("message %d: source\n got %+v (gtid %v)\nwant %+v (gtid %v)", i, s, deref(s.GTID), wantSrc, deref(wantSrc.GTID))
		}
		if env.TsMs < start || env.TsMs > end {
			t.Errorf("message %d: ts_ms %d not within [%d, %d]", i, env.TsMs, start, end)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func compareRow(t *testing.T, what string, tbl *cdc.Table, got, want []any) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Errorf("%s: got %v, want null", what, got)
		}
		return
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("%s: column %s: got %#v (%T), want %#v (%T)", what, tbl.Columns[i].Name, got[i], got[i], want[i], want[i])
		}
	}
}

func TestRoundTripEveryKindAndOp(t *testing.T) {
	t.Parallel()
	k := testenv.KafkaT(t, true)
	p := newProducer(t, opts(k, "test"))
	tbl := allKinds()
	ctx := context.Background()

	commit1 := time.Date(2024, 1, 31, 13, 45, 0, 123e6, time.UTC)
	commit2 := commit1.Add(time.Second)
	p1 := cdc.Position{File: "bin.000003", Pos: 1000, GTID: "0-1-42"}
	p2 := cdc.Position{File: "bin.000003", Pos: 2000}
	r1, r2, r1b := fullRow(1), smallRow(2), smallRow(1)
	r1b[5] = "99999999999999999.999"
	r10 := fullRow(10)

	start := time.Now().UnixMilli()
	if err := p.Write(ctx, cdc.Batch{
		Pos:  cdc.Position{File: "bin.000003", Pos: 2000, GTID: "0-1-43"},
		Time: commit2,
		Changes: []cdc.Change{
			{Op: cdc.OpInsert, Table: tbl, After: r1, CommitTime: commit1, Pos: p1},
			{Op: cdc.OpInsert, Table: tbl, After: r2, CommitTime: commit1, Pos: p1},
			{Op: cdc.OpUpdate, Table: tbl, Before: r1, After: r1b, CommitTime: commit2, Pos: p2},
			{Op: cdc.OpDelete, Table: tbl, Before: r2, CommitTime: commit2, Pos: p2},
		},
	}); err != nil {
		t.Fatal(err)
	}
	snapPos := cdc.Position{File: "bin.000002", Pos: 4}
	if err := p.WriteSnapshot(ctx, tbl, [][]any{smallRow(3)}, snapPos); err != nil {
		t.Fatal(err)
	}
	// An update of the key: a delete under the old key, its tombstone, a
	// create under the new key.
	p3 := cdc.Position{File: "bin.000004", Pos: 77}
	if err := p.Write(ctx, cdc.Batch{Pos: p3, Changes: []cdc.Change{
		{Op: cdc.OpUpdate, Table: tbl, Before: r1b, After: r10, Pos: p3},
	}}); err != nil {
		t.Fatal(err)
	}
	end := time.Now().UnixMilli()

	got := readTopic(t, k.Addrs, "test.shop.allkinds", 0)
	ms1, ms2 := commit1.UnixMilli(), commit2.UnixMilli()
	want := []wantMsg{
		{op: "c", key: `{"id":1}`, after: r1, snapshot: "false", file: "bin.000003", pos: 1000, gtid: strp("0-1-42"), row: 0, tsMs: ms1},
		{op: "c", key: `{"id":2}`, after: r2, snapshot: "false", file: "bin.000003", pos: 1000, gtid: strp("0-1-42"), row: 1, tsMs: ms1},
		{op: "u", key: `{"id":1}`, before: r1, after: r1b, snapshot: "false", file: "bin.000003", pos: 2000, gtid: strp("0-1-43"), row: 0, tsMs: ms2},
		{op: "d", key: `{"id":2}`, before: r2, snapshot: "false", file: "bin.000003", pos: 2000, gtid: strp("0-1-43"), row: 1, tsMs: ms2},
		{key: `{"id":2}`},
		{op: "r", key: `{"id":3}`, after: smallRow(3), snapshot: "true", file: "bin.000002", pos: 4},
		{op: "d", key: `{"id":1}`, before: r1b, snapshot: "false", file: "bin.000004", pos: 77},
		{key: `{"id":1}`},
		{op: "c", key: `{"id":10}`, after: r10, snapshot: "false", file: "bin.000004", pos: 77},
	}
	checkMessages(t, tbl, got, want, start, end)

	// The schema went out before the data, once.
	schemas, err := kafka.ReadSchemas(ctx, opts(k, "test"))
	if err != nil {
		t.Fatal(err)
	}
	if len(schemas) != 1 || !reflect.DeepEqual(schemas["shop.allkinds"], tbl) {
		t.Errorf("schemas: got %#v", schemas)
	}
	if n := len(readTopic(t, k.Addrs, "test.__schema", 0)); n != 1 {
		t.Errorf("schema topic has %d messages, want 1", n)
	}
	if v, _ := k.TopicConfig("test.__schema", "cleanup.policy"); v != "compact" {
		t.Errorf("schema topic cleanup.policy = %q, want compact", v)
	}
}

func TestKeysAndPartitions(t *testing.T) {
	t.Parallel()
	k := testenv.KafkaT(t, true)
	o := opts(k, "test")
	o.Partitions = 3
	o.Tombstones = false
	p := newProducer(t, o)
	ctx := context.Background()

	// Composite key in key order (not column order), and a table without key.
	ck := &cdc.Table{Schema: "shop", Name: "ck", Columns: []cdc.Column{
		{Name: "a", DataType: "int"},
		{Name: "b", DataType: "varchar", Charset: "utf8mb4"},
		{Name: "v", DataType: "int", Unsigned: true},
	}, Key: []int{1, 0}}
	nk := &cdc.Table{Schema: "shop", Name: "nk", Columns: []cdc.Column{
		{Name: "x", DataType: "int"},
		{Name: "y", DataType: "varbinary", Charset: "binary"},
	}}
	var changes []cdc.Change
	for v := uint64(0); v < 40; v++ {
		a := int64(v % 5)
		var before []any
		op := cdc.OpInsert
		if v >= 5 {
			op, before = cdc.OpUpdate, []any{a, []byte("k"), v - 5}
		}
		pos := cdc.Position{File: "bin.000001", Pos: 100 + v}
		changes = append(changes, cdc.Change{Op: op, Table: ck, Before: before, After: []any{a, []byte("k"), v}, Pos: pos})
	}
	changes = append(changes, cdc.Change{Op: cdc.OpDelete, Table: nk, Before: []any{int64(5), []byte{0xff}}})
	if err := p.Write(ctx, cdc.Batch{Changes: changes}); err != nil {
		t.Fatal(err)
	}
	if n := k.TopicPartitions("test.shop.ck"); n != 3 {
		t.Fatalf("topic has %d partitions, want 3", n)
	}
	if n := k.TopicPartitions("test.__schema"); n != 1 {
		t.Fatalf("schema topic has %d partitions, want 1", n)
	}
	// Every key stays in one partition, in order.
	partOf := map[string]int{}
	last := map[string]int64{}
	total := 0
	for part := range 3 {
		for _, m := range readTopic(t, k.Addrs, "test.shop.ck", part) {
			total++
			key := string(m.Key)
			if q, ok := partOf[key]; ok && q != part {
				t.Errorf("key %s in partitions %d and %d", key, q, part)
			}
			partOf[key] = part
			env, err := kafka.Decode(m.Value)
			if err != nil {
				t.Fatal(err)
			}
			row, err := kafka.DecodeRow(ck, env.After)
			if err != nil {
				t.Fatal(err)
			}
			v := int64(row[2].(uint64))
			if l, ok := last[key]; ok && v <= l {
				t.Errorf("key %s: value %d after %d", key, v, l)
			}
			last[key] = v
			if want := fmt.Sprintf(`{"b":"k","a":%d}`, row[0]); key != want {
				t.Errorf("key %s, want %s", key, want)
			}
		}
	}
	if total != 40 || len(partOf) != 5 {
		t.Errorf("read %d messages of %d keys, want 40 of 5", total, len(partOf))
	}
	var nkMsgs []kafkago.Message
	for part := range 3 {
		nkMsgs = append(nkMsgs, readTopic(t, k.Addrs, "test.shop.nk", part)...)
	}
	if len(nkMsgs) != 1 || string(nkMsgs[0].Key) != `{"x":5,"y":"/w=="}` {
		t.Fatalf("keyless table: got %v", nkMsgs)
	}
	env, err := kafka.Decode(nkMsgs[0].Value)
	if err != nil || env.Op != "d" || string(env.After) != "null" {
		t.Errorf("keyless delete: %v %+v", err, env)
	}
}

func TestSchemaChangesArePublished(t *testing.T) {
	t.Parallel()
	k := testenv.KafkaT(t, true)
	p := newProducer(t, opts(k, "test"))
	ctx := context.Background()
	v1 := &cdc.Table{Schema: "shop", Name: "t", Columns: []cdc.Column{{Name: "id", DataType: "int"}}, Key: []int{0}}
	v2 := &cdc.Table{Schema: "shop", Name: "t", Columns: []cdc.Column{{Name: "id", DataType: "int"}, {Name: "note", DataType: "text", Charset: "utf8mb4", Nullable: true}}, Key: []int{0}}
	other := &cdc.Table{Schema: "crm", Name: "u", Columns: []cdc.Column{{Name: "id", DataType: "bigint", Unsigned: true}}, Key: []int{0}, KeyName: "PRIMARY"}
	same := *v1 // equal definition, another pointer: no new schema message

	write := func(changes ...cdc.Change) {
		t.Helper()
		if err := p.Write(ctx, cdc.Batch{Changes: changes}); err != nil {
			t.Fatal(err)
		}
	}
	write(cdc.Change{Op: cdc.OpInsert, Table: v1, After: []any{int64(1)}})
	write(cdc.Change{Op: cdc.OpInsert, Table: &same, After: []any{int64(2)}})
	// A DDL inside a batch: v1 rows, then v2 rows.
	write(cdc.Change{Op: cdc.OpInsert, Table: v1, After: []any{int64(3)}},
		cdc.Change{Op: cdc.OpInsert, Table: v2, After: []any{int64(4), []byte("x")}},
		cdc.Change{Op: cdc.OpInsert, Table: other, After: []any{uint64(5)}})

	schemaMsgs := readTopic(t, k.Addrs, "test.__schema", 0)
	var keys []string
	for _, m := range schemaMsgs {
		keys = append(keys, string(m.Key))
	}
	if want := []string{"shop.t", "shop.t", "crm.u"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("schema messages %v, want %v", keys, want)
	}
	got, err := kafka.ReadSchemas(ctx, opts(k, "test"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*cdc.Table{"shop.t": v2, "crm.u": other}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("schemas:\n got %#v\nwant %#v", got, want)
	}

	// Data rows decode with the schemas alone.
	msgs := readTopic(t, k.Addrs, "test.shop.t", 0)
	if len(msgs) != 4 {
		t.Fatalf("%d messages, want 4", len(msgs))
	}
	env, err := kafka.Decode(msgs[3].Value)
	if err != nil {
		t.Fatal(err)
	}
	row, err := kafka.DecodeRow(got["shop.t"], env.After)
	if err != nil || !reflect.DeepEqual(row, []any{int64(4), []byte("x")}) {
		t.Errorf("row with read schema: %#v, %v", row, err)
	}

	// A new producer publishes its schemas again.
	p2 := newProducer(t, opts(k, "test"))
	if err := p2.Write(ctx, cdc.Batch{Changes: []cdc.Change{{Op: cdc.OpDelete, Table: v1, Before: []any{int64(1)}}}}); err != nil {
		t.Fatal(err)
	}
	got, err = kafka.ReadSchemas(ctx, opts(k, "test"))
	if err != nil || !reflect.DeepEqual(got["shop.t"], v1) {
		t.Errorf("after a new producer wrote v1: %#v, %v", got["shop.t"], err)
	}
}

func TestReadSchemasWithoutTopic(t *testing.T) {
	t.Parallel()
	k := testenv.KafkaT(t, false)
	_, err := kafka.ReadSchemas(context.Background(), opts(k, "nothing"))
	if !errors.Is(err, kafka.ErrTopicMissing) || !strings.Contains(err.Error(), "nothing.__schema") {
		t.Fatalf("got %v, want ErrTopicMissing naming nothing.__schema", err)
	}
}

func TestMissingTopic(t *testing.T) {
	t.Parallel()
	k := testenv.KafkaT(t, false)
	o := opts(k, "test")
	o.AutoCreateTopics = false
	p := newProducer(t, o)
	ctx := context.Background()
	tbl := &cdc.Table{Schema: "shop", Name: "orders", Columns: []cdc.Column{{Name: "id", DataType: "int"}}, Key: []int{0}}
	b := cdc.Batch{Changes: []cdc.Change{{Op: cdc.OpInsert, Table: tbl, After: []any{int64(1)}}}}

	err := p.Write(ctx, b)
	if !errors.Is(err, kafka.ErrTopicMissing) || !strings.Contains(err.Error(), "test.shop.orders") {
		t.Fatalf("got %v, want ErrTopicMissing naming test.shop.orders", err)
	}
	if err := k.CreateTopic("test.shop.orders", 1, nil); err != nil {
		t.Fatal(err)
	}
	err = p.Write(ctx, b)
	if !errors.Is(err, kafka.ErrTopicMissing) || !strings.Contains(err.Error(), "test.__schema") {
		t.Fatalf("got %v, want ErrTopicMissing naming test.__schema", err)
	}
	if err := k.CreateTopic("test.__schema", 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	// Topics created behind the producer's back are found at once.
	if err := p.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	if n := len(readTopic(t, k.Addrs, "test.shop.orders", 0)); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
	if err := p.WriteSnapshot(ctx, tbl, [][]any{{int64(2)}}, cdc.Position{}); err != nil {
		t.Fatal(err)
	}

	// The producer creates them itself when allowed, even on a broker that
	// does not auto-create.
	o.AutoCreateTopics, o.TopicPrefix, o.Partitions = true, "made", 2
	p2 := newProducer(t, o)
	if err := p2.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	if n := k.TopicPartitions("made.shop.orders"); n != 2 {
		t.Errorf("created topic has %d partitions, want 2", n)
	}
	if v, _ := k.TopicConfig("made.__schema", "cleanup.policy"); v != "compact" {
		t.Errorf("created schema topic cleanup.policy = %q", v)
	}
}

func TestUnreachableBroker(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	start := time.Now()
	_, err = kafka.NewProducer(context.Background(), kafka.Options{Brokers: []string{addr}, TopicPrefix: "x"})
	if !errors.Is(err, kafka.ErrBrokerUnreachable) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("got %v, want ErrBrokerUnreachable naming %s", err, addr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	if _, err := kafka.ReadSchemas(context.Background(), kafka.Options{Brokers: []string{addr}, TopicPrefix: "x"}); !errors.Is(err, kafka.ErrBrokerUnreachable) {
		t.Errorf("ReadSchemas: got %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []kafka.Options{
		{TopicPrefix: "x"},
		{Brokers: []string{"127.0.0.1:1"}},
		{Brokers: []string{"127.0.0.1:1"}, TopicPrefix: "x", Acks: "some"},
		{Brokers: []string{"127.0.0.1:1"}, TopicPrefix: "x", Compression: "brotli"},
		{Brokers: []string{"127.0.0.1:1"}, TopicPrefix: "x", SASLMechanism: "gssapi"},
	} {
		if _, err := kafka.NewProducer(context.Background(), o); err == nil || errors.Is(err, kafka.ErrBrokerUnreachable) {
			t.Errorf("%+v: got %v, want a configuration error", o, err)
		}
	}
}

func TestCompressionAndAcks(t *testing.T) {
	t.Parallel()
	k := testenv.KafkaT(t, true)
	tbl := allKinds()
	for _, c := range []struct{ comp, acks string }{{"gzip", "one"}, {"snappy", "all"}, {"lz4", "all"}, {"zstd", "all"}, {"none", "one"}} {
		o := opts(k, "test")
		o.Compression, o.Acks = c.comp, c.acks
		o.ServerName = "test"
		p := newProducer(t, o)
		if err := p.Write(context.Background(), cdc.Batch{Changes: []cdc.Change{{Op: cdc.OpInsert, Table: tbl, After: fullRow(1)}}}); err != nil {
			t.Fatalf("%s: %v", c.comp, err)
		}
	}
	got := readTopic(t, k.Addrs, "test.shop.allkinds", 0)
	if len(got) != 5 {
		t.Fatalf("%d messages, want 5", len(got))
	}
	for i, m := range got {
		env, err := kafka.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		row, err := kafka.DecodeRow(tbl, env.After)
		if err != nil {
			t.Fatal(err)
		}
		compareRow(t, fmt.Sprintf("message %d", i), tbl, row, fullRow(1))
	}
}

// TestKcatReadsEnvelopes checks the envelopes as a non-Go consumer sees them.
func TestKcatReadsEnvelopes(t *testing.T) {
	t.Parallel()
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat is required for this test (Debian package kcat): %v", err)
	}
	k := testenv.KafkaT(t, true)
	p := newProducer(t, opts(k, "test"))
	ctx := context.Background()
	tbl := allKinds()
	commit := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	pos := cdc.Position{File: "mysql-bin.000042", Pos: 4711, GTID: "0-1-99"}
	r1, r1b := fullRow(1), smallRow(1)
	start := time.Now().UnixMilli()
	if err := p.Write(ctx, cdc.Batch{Pos: pos, Time: commit, Changes: []cdc.Change{
		{Op: cdc.OpInsert, Table: tbl, After: r1, CommitTime: commit, Pos: pos},
		{Op: cdc.OpUpdate, Table: tbl, Before: r1, After: r1b, CommitTime: commit, Pos: pos},
		{Op: cdc.OpDelete, Table: tbl, Before: r1b, CommitTime: commit, Pos: pos},
	}}); err != nil {
		t.Fatal(err)
	}
	end := time.Now().UnixMilli()

	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, kcat, "-b", strings.Join(k.Addrs, ","), "-C", "-t", "test.shop.allkinds", "-o", "beginning", "-e", "-J")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, stderr.String())
	}
	type kcatMsg struct {
		Topic     string  `json:"topic"`
		Partition int     `json:"partition"`
		Offset    int64   `json:"offset"`
		Key       *string `json:"key"`
		Payload   *string `json:"payload"`
	}
	var msgs []kcatMsg
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var m kcatMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("kcat output %q: %v", sc.Text(), err)
		}
		msgs = append(msgs, m)
	}
	if len(msgs) != 4 {
		t.Fatalf("kcat read %d messages, want 4:\n%s\n%s", len(msgs), out, stderr.String())
	}
	for i, m := range msgs {
		if m.Topic != "test.shop.allkinds" || m.Offset != int64(i) || m.Key == nil || *m.Key != `{"id":1}` {
			t.Errorf("message %d: topic %s offset %d key %v", i, m.Topic, m.Offset, deref(m.Key))
		}
	}
	if msgs[3].Payload != nil {
		t.Errorf("tombstone payload %q, want null", *msgs[3].Payload)
	}

	// Field by field, as generic JSON.
	parse := func(i int) map[string]any {
		t.Helper()
		if msgs[i].Payload == nil {
			t.Fatalf("message %d: null payload", i)
		}
		dec := json.NewDecoder(strings.NewReader(*msgs[i].Payload))
		dec.UseNumber()
		var v map[string]any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("message %d payload: %v", i, err)
		}
		return v
	}
	num := func(s string) json.Number { return json.Number(s) }
	wantFull := map[string]any{
		"id": num("1"), "i64": num("-9223372036854775808"), "u64": num("18446744073709551615"),
		"f32": num("3.4028235e+38"), "f64": num("0.1"), "dec": "-12.340",
		"b64": num("18446744073709551615"), "yr": num("2024"),
		"d": "2024-01-31", "dz": "0000-00-00",
		"dt": "2024-01-31T13:45:00.123456", "dtz": "0000-00-00T00:00:00",
		"ts": "2024-01-31T13:45:00.123Z", "tsz": "0000-00-00T00:00:00",
		"tm": "-838:59:59", "tmf": "13:45:00.5",
		"e": "größe", "s": "a,café",
		"j":    map[string]any{"a": []any{num("1"), num("2.5"), map[string]any{"b": nil}}, "c": "é\n"},
		"js":   `"a string document"`,
		"jbad": "not json {",
		"v":    "héllo ✓ 😀 \"q\" <tag> & \\ \x01",
		"l1":   latin1Text(t),
		"bin":  base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 0x7f, 0x80, 0xfe, 0xff}),
		"blb":  "",
		"geo":  base64.StdEncoding.EncodeToString(fullRow(1)[25].([]byte)),
		"n":    nil,
	}
	gtid := "0-1-99"
	wantSource := func(row int) map[string]any {
		return map[string]any{
			"version": kafka.Version, "connector": "mysql", "name": "test",
			"ts_ms": num(fmt.Sprint(commit.UnixMilli())), "snapshot": "false",
			"db": "shop", "table": "allkinds", "server_id": num("7"), "gtid": gtid,
			"file": "mysql-bin.000042", "pos": num("4711"), "row": num(fmt.Sprint(row)),
		}
	}
	for i, op := range []string{"c", "u", "d"} {
		v := parse(i)
		if v["op"] != op {
			t.Errorf("message %d: op %v, want %s", i, v["op"], op)
		}
		ts, err := v["ts_ms"].(json.Number).Int64()
		if err != nil || ts < start || ts > end {
			t.Errorf("message %d: ts_ms %v not within [%d, %d]", i, v["ts_ms"], start, end)
		}
		if !reflect.DeepEqual(v["source"], wantSource(i)) {
			t.Errorf("message %d: source\n got %#v\nwant %#v", i, v["source"], wantSource(i))
		}
		for _, f := range []string{"before", "after", "source", "op", "ts_ms"} {
			if _, ok := v[f]; !ok {
				t.Errorf("message %d: no field %s", i, f)
			}
		}
		if len(v) != 5 {
			t.Errorf("message %d: fields %v, want before, after, source, op, ts_ms", i, v)
		}
	}
	checkFields := func(what string, got any, want map[string]any) {
		t.Helper()
		obj, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: got %#v, want an object", what, got)
			return
		}
		if len(obj) != len(want) {
			t.Errorf("%s: %d fields, want %d", what, len(obj), len(want))
		}
		for name, w := range want {
			if !reflect.DeepEqual(obj[name], w) {
				t.Errorf("%s.%s: got %#v, want %#v", what, name, obj[name], w)
			}
		}
	}
	m0, m1, m2 := parse(0), parse(1), parse(2)
	if m0["before"] != nil || m2["after"] != nil {
		t.Errorf("insert before %v, delete after %v: want null", m0["before"], m2["after"])
	}
	checkFields("c.after", m0["after"], wantFull)
	checkFields("u.before", m1["before"], wantFull)
	wantSmall := map[string]any{}
	for k, v := range wantFull {
		wantSmall[k] = v
	}
	for k, v := range map[string]any{
		"i64": num("-1"), "u64": num("0"), "f32": num("0.1"), "f64": num("-1.5e-300"), "dec": "0.000",
		"b64": num("0"), "e": "klein", "j": []any{}, "js": `""`, "jbad": ` {"padded": true} `,
		"v": "", "l1": "café",
		"yr": nil, "d": nil, "dt": nil, "ts": nil, "tm": nil, "bin": nil, "blb": nil, "geo": nil,
	} {
		wantSmall[k] = v
	}
	checkFields("u.after", m1["after"], wantSmall)
	checkFields("d.before", m2["before"], wantSmall)
}

// latin1Text is latin1All as text: MySQL's latin1 is Windows-1252, with the
// five bytes it leaves undefined as C1 controls.
func latin1Text(t *testing.T) string {
	t.Helper()
	const cp1252 = "€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008DŽ\u008F\u0090‘’“”•–—˜™š›œ\u009DžŸ"
	var b strings.Builder
	for i := range 0x80 {
		b.WriteByte(byte(i))
	}
	b.WriteString(cp1252)
	for i := 0xa0; i <= 0xff; i++ {
		b.WriteRune(rune(i))
	}
	return b.String()
}
