package fromkafka

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
	kafkasink "github.com/shiplog/shiplog/sink/kafka"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
	"github.com/shiplog/shiplog/state"
	"github.com/shiplog/shiplog/transform"
)

// ReplayOptions choose what Replay reads, keeps and does with it.
type ReplayOptions struct {
	// Start point of each partition: FromOffsets (topic -> partition ->
	// offset) where given, else the first message at or after FromTime (the
	// broker's message time) when set, else the beginning (FromBeginning, the
	// default).
	FromBeginning bool
	FromTime      time.Time
	FromOffsets   map[string]map[int]int64
	// Tables keeps changes of these tables ("table" or "db.table"); empty keeps all.
	Tables []string
	// Keys keeps changes whose message key is one of these JSON objects
	// (`{"id":5}`; compared as JSON, not as text).
	Keys []string
	// Ops keeps these Debezium ops: c, u, d, r.
	Ops []string
	// Since and Until keep changes committed in [Since, Until] (source ts_ms);
	// zero means unbounded.
	Since, Until time.Time
	// Format is "jsonl" (default) or "table".
	Format string
	// ApplyTo, a go-sql-driver DSN naming a scratch database, rebuilds the
	// replayed tables there from the kept changes (no map).
	ApplyTo string
}

// replayRecord is one change message read by Replay.
type replayRecord struct {
	topic     string
	partition int
	offset    int64
	key       json.RawMessage
	env       *kafkasink.Message
	pos       sourcePos
	ts        int64
}

func (rec *replayRecord) table() string { return rec.env.Source.DB + "." + rec.env.Source.Table }

func (rec *replayRecord) time() time.Time {
	return time.UnixMilli(rec.ts).UTC()
}

// Replay reads every data topic (no consumer group, nothing committed) from
// the start point up to the high watermark each partition had when Replay
// started, merges the partitions in source order (commit time, binlog
// position, row), keeps the changes that pass the filters and prints them to
// out. With ApplyTo it also rebuilds the tables of the kept changes in that
// scratch database: the source as it was at Until. Malformed messages are
// logged and counted, never printed or applied. It blocks until done.
func (r *Env) Replay(ctx context.Context, o ReplayOptions, out io.Writer) error {
	log := r.Log.With("mode", "replay")
	switch o.Format {
	case "", "jsonl", "table":
	default:
		return fmt.Errorf("replay format %q: want jsonl or table", o.Format)
	}
	filter, err := newReplayFilter(o)
	if err != nil {
		return err
	}
	kc, topics, err := r.kafkaTopics(ctx)
	if err != nil {
		return err
	}
	defer kc.Close()
	bounds, err := kc.Bounds(ctx, topics)
	if err != nil {
		return err
	}
	starts, err := replayStarts(ctx, kc, o, bounds)
	if err != nil {
		return err
	}
	var (
		mu      sync.Mutex
		records []*replayRecord
		bad     int
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for topic, parts := range bounds {
		for p, b := range parts {
			g.Go(func() error {
				var mine []*replayRecord
				err := kc.ReadRange(gctx, topic, p, starts[topic][p], b.Last, func(m kafka.Message) error {
					if len(m.Value) == 0 {
						return nil // tombstone
					}
					env, err := kafkasink.Decode(m.Value)
					if err != nil {
						log.Warn("malformed message skipped", "topic", topic, "partition", p, "offset", m.Offset, "error", err)
						mu.Lock()
						bad++
						mu.Unlock()
						return nil
					}
					rec := &replayRecord{topic: topic, partition: p, offset: m.Offset, key: m.Key, env: env, pos: messagePos(env), ts: env.Source.TsMs}
					if rec.ts == 0 {
						rec.ts = env.TsMs
					}
					if filter.keep(rec) {
						mine = append(mine, rec)
					}
					return nil
				})
				mu.Lock()
				records = append(records, mine...)
				mu.Unlock()
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Source order: snapshot rows first (in partition order), then changes by
	// binlog position (file, offset, row); the commit time only breaks ties,
	// since it has whole seconds on MariaDB and may go backwards.
	sort.SliceStable(records, func(i, j int) bool {
		a, b := records[i], records[j]
		if a.pos.set != b.pos.set {
			return !a.pos.set
		}
		if a.pos.set {
			if c := a.pos.compare(b.pos); c != 0 {
				return c < 0
			}
		} else if a.topic == b.topic && a.partition == b.partition {
			return a.offset < b.offset
		}
		if a.ts != b.ts {
			return a.ts < b.ts
		}
		if a.topic != b.topic {
			return a.topic < b.topic
		}
		if a.partition != b.partition {
			return a.partition < b.partition
		}
		return a.offset < b.offset
	})
	if o.Format == "table" {
		err = printReplayTable(out, records)
	} else {
		err = printReplayJSONL(out, records)
	}
	if err != nil {
		return err
	}
	if o.ApplyTo != "" {
		if err := r.replayApply(ctx, kc, o.ApplyTo, records); err != nil {
			return err
		}
	}
	log.Info("replayed", "changes", len(records), "malformed", bad)
	return nil
}

// replayStarts returns the first offset to read of each partition.
func replayStarts(ctx context.Context, kc *kafkasink.Client, o ReplayOptions, bounds map[string]map[int]kafkasink.Bounds) (map[string]map[int]int64, error) {
	out := map[string]map[int]int64{}
	var byTime *kafka.ListOffsetsRequest
	for topic, parts := range bounds {
		out[topic] = map[int]int64{}
		for p, b := range parts {
			start := b.First
			if off, ok := o.FromOffsets[topic][p]; ok {
				start = min(max(off, b.First), b.Last)
			} else if !o.FromTime.IsZero() && !o.FromBeginning {
				if byTime == nil {
					byTime = &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
				}
				byTime.Topics[topic] = append(byTime.Topics[topic], kafka.TimeOffsetOf(p, o.FromTime))
			}
			out[topic][p] = start
		}
	}
	if byTime != nil {
		resp, err := kc.ListOffsets(ctx, byTime)
		if err != nil {
			return nil, fmt.Errorf("kafka brokers %s: offsets at %s: %w", kc.BrokerList(), o.FromTime.Format(time.RFC3339), err)
		}
		for topic, parts := range resp.Topics {
			for _, p := range parts {
				if p.Error != nil {
					return nil, fmt.Errorf("kafka %s[%d]: offset at %s: %w", topic, p.Partition, o.FromTime.Format(time.RFC3339), p.Error)
				}
				start := bounds[topic][p.Partition].Last // no message after the time
				for off := range p.Offsets {
					if off >= 0 {
						start = off
					}
				}
				out[topic][p.Partition] = start
			}
		}
	}
	return out, nil
}

type replayFilter struct {
	tables map[string]bool
	keys   map[string]bool
	ops    map[string]bool
	since  int64
	until  int64
}

func newReplayFilter(o ReplayOptions) (*replayFilter, error) {
	f := &replayFilter{since: -1 << 63, until: 1<<63 - 1}
	if len(o.Tables) > 0 {
		f.tables = map[string]bool{}
		for _, t := range o.Tables {
			f.tables[t] = true
		}
	}
	if len(o.Keys) > 0 {
		f.keys = map[string]bool{}
		for _, k := range o.Keys {
			c, err := canonicalJSON([]byte(k))
			if err != nil {
				return nil, fmt.Errorf("replay key %q: want a JSON object as in the message key (%w)", k, err)
			}
			f.keys[c] = true
		}
	}
	if len(o.Ops) > 0 {
		f.ops = map[string]bool{}
		for _, op := range o.Ops {
			if _, err := kafkasink.ParseOp(op); err != nil {
				return nil, fmt.Errorf("replay: %w", err)
			}
			f.ops[op] = true
		}
	}
	if !o.Since.IsZero() {
		f.since = o.Since.UnixMilli()
	}
	if !o.Until.IsZero() {
		f.until = o.Until.UnixMilli()
	}
	return f, nil
}

func (f *replayFilter) keep(rec *replayRecord) bool {
	if rec.ts < f.since || rec.ts > f.until {
		return false
	}
	if f.tables != nil && !f.tables[rec.table()] && !f.tables[rec.env.Source.Table] {
		return false
	}
	if f.ops != nil && !f.ops[rec.env.Op] {
		return false
	}
	if f.keys != nil {
		c, err := canonicalJSON(rec.key)
		if err != nil || !f.keys[c] {
			return false
		}
	}
	return true
}

// canonicalJSON re-encodes a JSON value with sorted object keys and numbers
// as written, so equal values compare equal as text.
func canonicalJSON(b []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	out, err := json.Marshal(v)
	return string(out), err
}

func rawOrNull(b json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(b)) == 0 {
		return json.RawMessage("null")
	}
	return b
}

func printReplayJSONL(out io.Writer, records []*replayRecord) error {
	type line struct {
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
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for _, rec := range records {
		pos := ""
		if rec.pos.set {
			pos = fmt.Sprintf("%s:%d", rec.pos.pos.File, rec.pos.pos.Pos)
		}
		key := json.RawMessage(rec.key)
		if !json.Valid(key) {
			b, _ := json.Marshal(string(rec.key))
			key = b
		}
		err := enc.Encode(line{
			Topic: rec.topic, Partition: rec.partition, Offset: rec.offset, Table: rec.table(), Op: rec.env.Op,
			Position: pos, Row: rec.env.Source.Row, Time: rec.time().Format(time.RFC3339Nano),
			Key: rawOrNull(key), Before: rawOrNull(rec.env.Before), After: rawOrNull(rec.env.After),
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// field is one member of a JSON object, in document order.
type field struct {
	name  string
	value string
}

// objectFields lists the members of a JSON object in order (nil for null or
// anything that is not an object).
func objectFields(raw json.RawMessage) []field {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var out []field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return out
		}
		out = append(out, field{name, string(v)})
	}
	return out
}

func printReplayTable(out io.Writer, records []*replayRecord) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tOP\tTABLE\tKEY\tCHANGES")
	for _, rec := range records {
		var changes []string
		before, after := objectFields(rec.env.Before), objectFields(rec.env.After)
		switch rec.env.Op {
		case "u":
			old := map[string]string{}
			for _, f := range before {
				old[f.name] = f.value
			}
			for _, f := range after {
				if o, ok := old[f.name]; !ok || o != f.value {
					changes = append(changes, fmt.Sprintf("%s: %s -> %s", f.name, old[f.name], f.value))
				}
			}
		case "d":
			for _, f := range before {
				changes = append(changes, fmt.Sprintf("%s: %s -> ", f.name, f.value))
			}
		default:
			for _, f := range after {
				changes = append(changes, fmt.Sprintf("%s: -> %s", f.name, f.value))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", rec.time().Format("2006-01-02 15:04:05.000"), rec.env.Op, rec.table(),
			strings.ReplaceAll(string(rec.key), "\t", " "), strings.ReplaceAll(strings.Join(changes, ", "), "\t", " "))
	}
	return tw.Flush()
}

// replayApply creates the tables of records in the scratch database of dsn
// and applies records in order, as they are (no map).
func (r *Env) replayApply(ctx context.Context, kc *kafkasink.Client, dsn string, records []*replayRecord) error {
	db, schema, redacted, err := r.OpenDB(ctx, dsn)
	if err != nil {
		return fmt.Errorf("replay --apply-to: %w", err)
	}
	defer db.Close()
	schemas, err := kc.ReadSchemas(ctx)
	if err != nil {
		return err
	}
	tables := map[string]*cdc.Table{}
	for _, rec := range records {
		name := rec.table()
		if _, ok := tables[name]; ok {
			continue
		}
		src := schemas[name]
		if src == nil {
			return fmt.Errorf("replay --apply-to: table %s has no definition in %s", name, kc.SchemaTopic())
		}
		t := *src
		t.Schema = schema
		if _, err := db.ExecContext(ctx, createTableSQL(&t)); err != nil {
			return fmt.Errorf("replay --apply-to %s: create table %s: %w", redacted, t.Name, err)
		}
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+rowio.QuoteIdent(t.Schema)+"."+rowio.QuoteIdent(t.Name)+" LIMIT 1").Scan(&n); err == nil && n > 0 {
			r.Log.Warn("scratch table already has rows: the changes are applied over them", "mode", "replay", "table", t.Name)
		}
		tables[name] = &t
	}
	writer := mysqlsink.NewWriter(db, state.NewState(db, schema), mysqlsink.Options{Logger: r.Log})
	var batch []cdc.Change
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := writer.Apply(ctx, batch, nil)
		batch = batch[:0]
		return err
	}
	for _, rec := range records {
		op, _ := kafkasink.ParseOp(rec.env.Op)
		t := tables[rec.table()]
		c, err := changeOf(t, rec.env, op)
		if err != nil {
			return fmt.Errorf("replay --apply-to: %s[%d]@%d: %w", rec.topic, rec.partition, rec.offset, err)
		}
		if op == cdc.OpCascade {
			// A source foreign key's action: the rows of this record's
			// partition that it changed, after the changes before it.
			if err := flush(); err != nil {
				return err
			}
			tp := transform.Identity(t)
			if tp == nil {
				return fmt.Errorf("replay --apply-to: table %s cannot be planned", t.Name)
			}
			mk, err := cascadeMarker(tp, rec.env, c)
			if err != nil {
				return fmt.Errorf("replay --apply-to: %s[%d]@%d: %w", rec.topic, rec.partition, rec.offset, err)
			}
			owners := map[*cdc.Table]cascadeOwner{tp.Dest: {tp: tp, parts: rec.env.Cascade.Partitions}}
			expanded, err := expandCascades(ctx, db, []cdc.Change{mk}, owners, rec.partition)
			if err != nil {
				return fmt.Errorf("replay --apply-to: %s[%d]@%d: %w", rec.topic, rec.partition, rec.offset, err)
			}
			if err := writer.Apply(ctx, expanded, nil); err != nil {
				return err
			}
			continue
		}
		batch = append(batch, c)
		if len(batch) >= applyMaxMessages {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// createTableSQL is CREATE TABLE IF NOT EXISTS for t as its definition
// describes it: column types, character sets, nullability, keys.
func createTableSQL(t *cdc.Table) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s.%s (", rowio.QuoteIdent(t.Schema), rowio.QuoteIdent(t.Name))
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(rowio.QuoteIdent(c.Name) + " " + c.ColumnType)
		switch c.Kind() {
		case cdc.KindBytes, cdc.KindEnumSet:
			if c.Charset != "" && !strings.EqualFold(c.Charset, "binary") {
				b.WriteString(" CHARACTER SET " + c.Charset)
			}
		}
		if !c.Nullable {
			b.WriteString(" NOT NULL")
		}
	}
	cols := func(idx []int) string {
		names := make([]string, len(idx))
		for i, k := range idx {
			names[i] = rowio.QuoteIdent(t.Columns[k].Name)
		}
		return strings.Join(names, ", ")
	}
	if len(t.Key) > 0 {
		if t.KeyName == "" || t.KeyName == "PRIMARY" {
			b.WriteString(", PRIMARY KEY (" + cols(t.Key) + ")")
		} else {
			b.WriteString(", UNIQUE KEY " + rowio.QuoteIdent(t.KeyName) + " (" + cols(t.Key) + ")")
		}
	}
	for i, u := range t.Unique {
		fmt.Fprintf(&b, ", UNIQUE KEY `u%d` (%s)", i+1, cols(u))
	}
	b.WriteString(") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
	return b.String()
}
