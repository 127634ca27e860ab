package kafka

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	meta "github.com/segmentio/kafka-go/protocol/metadata"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/shiplog/shiplog/cdc"
)

// Options configure the producer; the caller fills them from config.Kafka.
type Options struct {
	Brokers     []string
	TopicPrefix string
	TLS         *tls.Config
	// SASLMechanism is "" (none), "plain", "scram-sha-256" or "scram-sha-512".
	SASLMechanism, SASLUsername, SASLPassword string
	// Acks is "all" (default), "one" or "none".
	Acks string
	// Compression is "none" (default), "gzip", "snappy", "lz4" or "zstd".
	Compression string
	// Partitions and ReplicationFactor of the topics the producer creates
	// (default 1 each).
	Partitions, ReplicationFactor int
	// AutoCreateTopics creates missing topics; when false a missing topic is
	// an error wrapping ErrTopicMissing that names it.
	AutoCreateTopics bool
	// Tombstones publishes, after each delete, a message with the same key
	// and a null value (so compacted topics forget the row).
	Tombstones bool
	// ServerName is source.name in the envelope (default TopicPrefix).
	ServerName string
	// ServerID is source.server_id in the envelope.
	ServerID uint32
	Logger   *slog.Logger
	// RetryFor bounds how long a publish that fails for a transient reason
	// (a lost or refused connection, a leader moving, a timeout) is retried,
	// with backoff, before the error is returned (default 5 minutes).
	RetryFor time.Duration
}

var (
	// ErrTopicMissing is wrapped by errors about topics that do not exist
	// while AutoCreateTopics is off.
	ErrTopicMissing = errors.New("kafka topic does not exist")
	// ErrBrokerUnreachable is wrapped by NewProducer's error when no broker
	// accepts a TCP connection.
	ErrBrokerUnreachable = errors.New("kafka brokers unreachable")
)

// dialTimeout bounds connecting to the brokers.
const dialTimeout = 10 * time.Second

// Producer publishes row changes as Debezium envelopes, one topic per source
// table, keyed by the row key. Write and WriteSnapshot block until the
// brokers acknowledged every message (per Acks). A Producer serialises its
// calls; it is safe for concurrent use.
type Producer struct {
	o      Options
	log    *slog.Logger
	addr   net.Addr
	tr     *kafkago.Transport
	client *kafkago.Client
	w      *kafkago.Writer

	mu sync.Mutex
	// topics are known to exist.
	topics map[string]bool
	// schemas is the JSON last published per "db.table".
	schemas map[string][]byte
	// current holds the tables whose definition equals what was published.
	current map[*cdc.Table]bool
	// partitions caches the partition count of topics cascade markers go to.
	partitions map[string]int
	// buf is the reused write buffer (nil: allocate one).
	buf *outBuf
}

// normalize checks o and fills defaults.
func (o *Options) normalize() error {
	if len(o.Brokers) == 0 {
		return errors.New("kafka: no brokers configured")
	}
	if o.TopicPrefix == "" {
		return errors.New("kafka: empty topic prefix")
	}
	if o.ServerName == "" {
		o.ServerName = o.TopicPrefix
	}
	if o.Partitions <= 0 {
		o.Partitions = 1
	}
	if o.ReplicationFactor <= 0 {
		o.ReplicationFactor = 1
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if _, err := requiredAcks(o.Acks); err != nil {
		return err
	}
	if _, err := compression(o.Compression); err != nil {
		return err
	}
	_, err := mechanism(*o)
	return err
}

func requiredAcks(s string) (kafkago.RequiredAcks, error) {
	switch strings.ToLower(s) {
	case "", "all", "-1":
		return kafkago.RequireAll, nil
	case "one", "1":
		return kafkago.RequireOne, nil
	case "none", "0":
		return kafkago.RequireNone, nil
	}
	return 0, fmt.Errorf("kafka: acks %q: want all, one or none", s)
}

func compression(s string) (kafkago.Compression, error) {
	switch strings.ToLower(s) {
	case "", "none":
		return 0, nil
	case "gzip":
		return kafkago.Gzip, nil
	case "snappy":
		return kafkago.Snappy, nil
	case "lz4":
		return kafkago.Lz4, nil
	case "zstd":
		return kafkago.Zstd, nil
	}
	return 0, fmt.Errorf("kafka: compression %q: want none, gzip, snappy, lz4 or zstd", s)
}

func mechanism(o Options) (sasl.Mechanism, error) {
	switch strings.ToLower(o.SASLMechanism) {
	case "":
		return nil, nil
	case "plain":
		return plain.Mechanism{Username: o.SASLUsername, Password: o.SASLPassword}, nil
	case "scram-sha-256":
		return scram.Mechanism(scram.SHA256, o.SASLUsername, o.SASLPassword)
	case "scram-sha-512":
		return scram.Mechanism(scram.SHA512, o.SASLUsername, o.SASLPassword)
	}
	return nil, fmt.Errorf("kafka: SASL mechanism %q: want plain, scram-sha-256 or scram-sha-512", o.SASLMechanism)
}

// newTransport builds a kafka-go transport for o (TLS, SASL).
func newTransport(o Options) (*kafkago.Transport, error) {
	mech, err := mechanism(o)
	if err != nil {
		return nil, err
	}
	return &kafkago.Transport{
		DialTimeout: dialTimeout,
		ClientID:    "shiplog",
		TLS:         o.TLS,
		SASL:        mech,
	}, nil
}

// checkReachable dials every broker over TCP until one answers.
func checkReachable(ctx context.Context, brokers []string) error {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	var errs []error
	var d net.Dialer
	for _, b := range brokers {
		c, err := d.DialContext(ctx, "tcp", b)
		if err == nil {
			_ = c.Close()
			return nil
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrBrokerUnreachable, strings.Join(brokers, ", "), errors.Join(errs...))
}

// connect checks the brokers and returns a client on a new transport that
// has fetched the cluster metadata.
func connect(ctx context.Context, o Options) (*kafkago.Transport, *kafkago.Client, net.Addr, error) {
	if err := checkReachable(ctx, o.Brokers); err != nil {
		return nil, nil, nil, err
	}
	tr, err := newTransport(o)
	if err != nil {
		return nil, nil, nil, err
	}
	addr := kafkago.TCP(o.Brokers...)
	client := &kafkago.Client{Addr: addr, Transport: tr, Timeout: dialTimeout}
	mctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	if _, err := client.Metadata(mctx, &kafkago.MetadataRequest{}); err != nil {
		tr.CloseIdleConnections()
		return nil, nil, nil, fmt.Errorf("kafka brokers %s: no cluster metadata within %s; check that these are Kafka brokers that are up and reachable (kafka.brokers, TLS and SASL settings): %w",
			strings.Join(o.Brokers, ", "), dialTimeout, err)
	}
	return tr, client, addr, nil
}

// NewProducer connects to the brokers (an error wrapping ErrBrokerUnreachable
// when none answers within 10s) and returns a producer.
func NewProducer(ctx context.Context, o Options) (*Producer, error) {
	if err := o.normalize(); err != nil {
		return nil, err
	}
	tr, client, addr, err := connect(ctx, o)
	if err != nil {
		return nil, err
	}
	acks, _ := requiredAcks(o.Acks)
	comp, _ := compression(o.Compression)
	log := o.Logger
	p := &Producer{
		o:      o,
		log:    log,
		addr:   addr,
		tr:     tr,
		client: client,
		w: &kafkago.Writer{
			Addr: addr,
			// Hash on the key: a key always lands in the same partition, so
			// the changes of a row keep their order.
			// Cascade markers name their partition (a header).
			Balancer:     &balancer{},
			MaxAttempts:  5,
			BatchSize:    batchMessages,
			BatchBytes:   batchBytes,
			BatchTimeout: time.Millisecond,
			RequiredAcks: acks,
			Compression:  comp,
			Transport:    tr,
			ErrorLogger: kafkago.LoggerFunc(func(msg string, args ...any) {
				log.Warn("kafka writer: " + fmt.Sprintf(msg, args...))
			}),
		},
		topics:     map[string]bool{},
		schemas:    map[string][]byte{},
		current:    map[*cdc.Table]bool{},
		partitions: map[string]int{},
	}
	return p, nil
}

// Close flushes and closes the writer and the connections.
func (p *Producer) Close() error {
	err := p.w.Close()
	p.tr.CloseIdleConnections()
	return err
}

// Write publishes every change of b and blocks until all are acknowledged.
// On error nothing of b may be considered published (some messages may have
// been; a retry publishes them again: delivery is at least once).
//
// An update that changes the row key is published as Debezium does: a delete
// ("d") under the old key (and its tombstone), then a create ("c") under the
// new key, so each key's messages stay in the key's partition.
func (p *Producer) Write(ctx context.Context, b cdc.Batch) error {
	if len(b.Changes) == 0 {
		return nil
	}
	for _, f := range b.Failed {
		p.log.Warn("kafka: change not transformed, not published", "table", f.Table, "field", f.Field, "handler", f.Handler, "reason", f.Reason, "pos", f.Pos.String())
	}
	p.mu.Lock()
	defer p.mu.Unlock()

	now := time.Now().UnixMilli()
	var row int
	out := p.out()
	defer p.release(out)
	// take returns out.arena[from:] as a slice nobody appends to.
	take := func(from int) []byte { return out.arena[from:len(out.arena):len(out.arena)] }
	for i := range b.Changes {
		c := &b.Changes[i]
		t := c.Table
		if t == nil {
			return fmt.Errorf("kafka: change %d of batch at %s has no table", i, b.Pos)
		}
		if i > 0 && c.Pos == b.Changes[i-1].Pos {
			row++
		} else {
			row = 0
		}
		changed, err := p.prepare(ctx, t)
		if err != nil {
			return err
		}
		if (changed && len(out.msgs) > 0) || out.full() {
			// The table's definition changed inside the batch: the rows of
			// the old definition go out before its new schema. Or the
			// messages encoded so far reached the bounds of one write.
			if err := p.flush(ctx, out); err != nil {
				return err
			}
		}
		if err := p.publishSchema(ctx, t); err != nil {
			return err
		}

		src := Source{
			Version:   Version,
			Connector: "mysql",
			Name:      p.o.ServerName,
			TsMs:      commitMs(c.CommitTime, b.Time),
			Snapshot:  "false",
			DB:        t.Schema,
			Table:     t.Name,
			ServerID:  p.o.ServerID,
			GTID:      gtid(c.Pos.GTID, b.Pos.GTID),
			File:      c.Pos.File,
			Pos:       c.Pos.Pos,
			Row:       row,
		}
		topic := TopicName(p.o.TopicPrefix, t.Schema, t.Name)

		if c.Op == cdc.OpCascade {
			if err := p.appendCascade(ctx, out, t, c, src, topic, now); err != nil {
				return err
			}
			continue
		}
		var keyRow []any
		switch c.Op {
		case cdc.OpDelete:
			keyRow = c.Before
		case cdc.OpInsert, cdc.OpUpdate, cdc.OpRead:
			keyRow = c.After
		default:
			return fmt.Errorf("kafka: change %d of %s.%s: unknown op %d", i, t.Schema, t.Name, c.Op)
		}
		if keyRow == nil {
			return fmt.Errorf("kafka: %s change %d of %s.%s has no row image", c.Op, i, t.Schema, t.Name)
		}
		start := len(out.arena)
		if out.arena, err = AppendKey(out.arena, t, keyRow); err != nil {
			return fmt.Errorf("kafka: key of %s.%s: %w", t.Schema, t.Name, err)
		}
		key := take(start)

		if c.Op == cdc.OpUpdate && c.Before != nil {
			start = len(out.arena)
			if out.arena, err = AppendKey(out.arena, t, c.Before); err != nil {
				return fmt.Errorf("kafka: key of %s.%s: %w", t.Schema, t.Name, err)
			}
			if oldKey := take(start); !bytes.Equal(oldKey, key) {
				del := cdc.Change{Op: cdc.OpDelete, Table: t, Before: c.Before}
				start = len(out.arena)
				if out.arena, err = AppendEnvelope(out.arena, t, del, src, now); err != nil {
					return fmt.Errorf("kafka: envelope of %s.%s: %w", t.Schema, t.Name, err)
				}
				out.msgs = append(out.msgs, kafkago.Message{Topic: topic, Key: oldKey, Value: take(start)})
				if p.o.Tombstones {
					out.msgs = append(out.msgs, kafkago.Message{Topic: topic, Key: oldKey})
				}
				ins := cdc.Change{Op: cdc.OpInsert, Table: t, After: c.After}
				start = len(out.arena)
				if out.arena, err = AppendEnvelope(out.arena, t, ins, src, now); err != nil {
					return fmt.Errorf("kafka: envelope of %s.%s: %w", t.Schema, t.Name, err)
				}
				out.msgs = append(out.msgs, kafkago.Message{Topic: topic, Key: key, Value: take(start)})
				continue
			}
		}

		start = len(out.arena)
		if out.arena, err = AppendEnvelope(out.arena, t, *c, src, now); err != nil {
			return fmt.Errorf("kafka: envelope of %s.%s: %w", t.Schema, t.Name, err)
		}
		out.msgs = append(out.msgs, kafkago.Message{Topic: topic, Key: key, Value: take(start)})
		if c.Op == cdc.OpDelete && p.o.Tombstones {
			out.msgs = append(out.msgs, kafkago.Message{Topic: topic, Key: key})
		}
	}
	return p.flush(ctx, out)
}

// WriteSnapshot publishes snapshot rows of t (op "r", source.snapshot
// "true", source.file/pos from pos) and blocks until all are acknowledged.
func (p *Producer) WriteSnapshot(ctx context.Context, t *cdc.Table, rows [][]any, pos cdc.Position) error {
	if t == nil {
		return errors.New("kafka: snapshot without table")
	}
	if len(rows) == 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.prepare(ctx, t); err != nil {
		return err
	}
	if err := p.publishSchema(ctx, t); err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	src := Source{
		Version:   Version,
		Connector: "mysql",
		Name:      p.o.ServerName,
		TsMs:      now,
		Snapshot:  "true",
		DB:        t.Schema,
		Table:     t.Name,
		ServerID:  p.o.ServerID,
		GTID:      gtid(pos.GTID, ""),
		File:      pos.File,
		Pos:       pos.Pos,
	}
	topic := TopicName(p.o.TopicPrefix, t.Schema, t.Name)
	out := p.out()
	defer p.release(out)
	for _, r := range rows {
		if len(r) != len(t.Columns) {
			return fmt.Errorf("kafka: snapshot row of %s.%s has %d values for %d columns", t.Schema, t.Name, len(r), len(t.Columns))
		}
		if out.full() {
			if err := p.flush(ctx, out); err != nil {
				return err
			}
		}
		var err error
		start := len(out.arena)
		if out.arena, err = AppendKey(out.arena, t, r); err != nil {
			return fmt.Errorf("kafka: key of %s.%s: %w", t.Schema, t.Name, err)
		}
		key := out.arena[start:len(out.arena):len(out.arena)]
		start = len(out.arena)
		if out.arena, err = AppendEnvelope(out.arena, t, cdc.Change{Op: cdc.OpRead, Table: t, After: r}, src, now); err != nil {
			return fmt.Errorf("kafka: envelope of %s.%s: %w", t.Schema, t.Name, err)
		}
		out.msgs = append(out.msgs, kafkago.Message{Topic: topic, Key: key, Value: out.arena[start:len(out.arena):len(out.arena)]})
	}
	return p.flush(ctx, out)
}

// Bounds of one synchronous write to the brokers: Write and WriteSnapshot
// encode a large batch and send it in parts of at most this many messages or
// encoded bytes, reusing the buffers, so a producer holds a few MiB of
// messages rather than a whole batch's.
const (
	writeMaxMessages = 8192
	writeMaxBytes    = 8 << 20
)

// outBuf is the messages of one write and the arena their keys and values
// are encoded into.
type outBuf struct {
	msgs  []kafkago.Message
	arena []byte
}

// full reports whether the buffered messages reached the bounds of a write.
func (o *outBuf) full() bool {
	return len(o.msgs) >= writeMaxMessages || len(o.arena) >= writeMaxBytes
}

// out returns the producer's write buffer (callers hold p.mu).
func (p *Producer) out() *outBuf {
	if p.buf == nil {
		p.buf = &outBuf{arena: make([]byte, 0, writeMaxBytes+writeMaxBytes/4)}
	}
	return p.buf
}

// release empties o for the next call, or drops it when its memory could
// still be referenced (a failed write may leave messages in the writer) or
// grew past the bounds (one huge row).
func (p *Producer) release(o *outBuf) {
	if len(o.msgs) > 0 || cap(o.arena) > 2*writeMaxBytes || cap(o.msgs) > 2*writeMaxMessages {
		p.buf = nil
		return
	}
	o.arena = o.arena[:0]
}

// flush sends the buffered messages and, once acknowledged, empties the
// buffer for reuse. On error the messages stay (and release drops the
// buffer).
func (p *Producer) flush(ctx context.Context, o *outBuf) error {
	if err := p.send(ctx, o.msgs); err != nil {
		return err
	}
	clear(o.msgs)
	o.msgs, o.arena = o.msgs[:0], o.arena[:0]
	return nil
}

// Limits of one kafka-go batch (one produce of one partition). send hands
// the writer at most this much at a time, so that no partition gets two
// batches from one call: kafka-go writes a partition's batches one after the
// other and goes on after one that failed, which would put the retried
// messages after later ones of the same partition (a delete applied before
// the insert it follows).
const (
	batchMessages = 10000
	batchBytes    = 1 << 20
)

// send writes msgs synchronously, in chunks within one batch per partition.
// Messages that fail for a transient reason are sent again, with backoff
// (logged), for up to Options.RetryFor, before the next chunk: only the
// failed ones (whole partition batches), so every partition keeps its order
// and the others are not duplicated.
func (p *Producer) send(ctx context.Context, msgs []kafkago.Message) error {
	for len(msgs) > 0 {
		n, size := 0, 0
		for n < len(msgs) && n < batchMessages {
			m := &msgs[n]
			sz := 64 + len(m.Key) + len(m.Value)
			for _, h := range m.Headers {
				sz += 16 + len(h.Key) + len(h.Value)
			}
			if n > 0 && size+sz > batchBytes {
				break
			}
			size += sz
			n++
		}
		if err := p.sendChunk(ctx, msgs[:n]); err != nil {
			return err
		}
		msgs = msgs[n:]
	}
	return nil
}

func (p *Producer) sendChunk(ctx context.Context, msgs []kafkago.Message) error {
	retryFor := p.o.RetryFor
	if retryFor <= 0 {
		retryFor = defaultRetryFor
	}
	start := time.Now()
	backoff := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := p.w.WriteMessages(ctx, msgs...)
		if err == nil {
			if attempt > 1 {
				p.log.Info("kafka: publish succeeded again", "attempt", attempt, "after", time.Since(start).Round(time.Millisecond).String())
			}
			return nil
		}
		failed, first, topic := msgs, err, ""
		var werr kafkago.WriteErrors
		if errors.As(err, &werr) && len(werr) == len(msgs) {
			failed = failed[:0:0]
			first = nil
			for i, e := range werr {
				if e != nil {
					failed = append(failed, msgs[i])
					if first == nil {
						first, topic = e, msgs[i].Topic
					}
				}
			}
		}
		var out error
		if topic != "" {
			out = fmt.Errorf("kafka: publish to %s: %d of %d messages failed, first: %w", topic, len(failed), len(msgs), first)
		} else {
			out = fmt.Errorf("kafka: publish %d messages: %w", len(msgs), err)
		}
		if !Transient(first) || ctx.Err() != nil {
			return out
		}
		if time.Since(start)+backoff > retryFor {
			return fmt.Errorf("%w (retried for %s: check that the brokers %s are up and reachable, then start again; nothing after the last acknowledged change was checkpointed)",
				out, time.Since(start).Round(time.Second), strings.Join(p.o.Brokers, ", "))
		}
		p.log.Warn("kafka: publish failed; retrying", "error", out.Error(), "attempt", attempt, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return out
		case <-time.After(backoff + rand.N(backoff/4+1)):
		}
		backoff = min(2*backoff, 10*time.Second)
		msgs = failed
	}
}

// defaultRetryFor is Options.RetryFor's default.
const defaultRetryFor = 5 * time.Minute

// Transient reports whether a Kafka error is worth trying again: a
// connection lost, refused or timed out, or a broker error Kafka calls
// retriable (leader moved, not enough replicas, ...).
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var ke kafkago.Error
	if errors.As(err, &ke) {
		return ke.Temporary()
	}
	var ne net.Error
	var errno syscall.Errno
	return errors.As(err, &ne) || errors.As(err, &errno) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func commitMs(t, batch time.Time) int64 {
	if t.IsZero() {
		t = batch
	}
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func gtid(s, fallback string) *string {
	if s == "" {
		s = fallback
	}
	if s == "" {
		return nil
	}
	return &s
}

// prepare makes sure t's topic exists and reports whether t's definition
// differs from a schema this producer already published for it.
func (p *Producer) prepare(ctx context.Context, t *cdc.Table) (changed bool, err error) {
	if p.current[t] {
		return false, nil
	}
	topic := TopicName(p.o.TopicPrefix, t.Schema, t.Name)
	if err := p.ensureTopic(ctx, topic, p.o.Partitions, false); err != nil {
		return false, err
	}
	prev, ok := p.schemas[SchemaKey(t)]
	if !ok {
		return false, nil
	}
	js, err := marshalTable(t)
	if err != nil {
		return false, err
	}
	if bytes.Equal(js, prev) {
		p.markCurrent(t)
		return false, nil
	}
	return true, nil
}

func (p *Producer) markCurrent(t *cdc.Table) {
	if len(p.current) > 4096 {
		clear(p.current)
	}
	p.current[t] = true
}

// ensureTopic checks that topic exists, creating it when allowed.
func (p *Producer) ensureTopic(ctx context.Context, topic string, partitions int, compact bool) error {
	if p.topics[topic] {
		return nil
	}
	ok, err := topicExists(ctx, p.client, topic)
	if err != nil {
		return err
	}
	if !ok {
		// The transport's metadata is cached: ask the cluster afresh.
		if ok, err = freshTopicExists(ctx, p.o, topic); err != nil {
			return err
		}
		if ok {
			if err := p.refresh(ctx, topic); err != nil {
				return err
			}
		}
	}
	if !ok {
		if !p.o.AutoCreateTopics {
			return fmt.Errorf("%w: %s (create it, or enable auto-creation of topics)", ErrTopicMissing, topic)
		}
		if err := p.createTopic(ctx, topic, partitions, compact); err != nil {
			return err
		}
	}
	p.topics[topic] = true
	return nil
}

func (p *Producer) createTopic(ctx context.Context, topic string, partitions int, compact bool) error {
	cfg := kafkago.TopicConfig{Topic: topic, NumPartitions: partitions, ReplicationFactor: p.o.ReplicationFactor}
	if compact {
		cfg.ConfigEntries = []kafkago.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}}
	}
	resp, err := p.client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{cfg}})
	if err != nil {
		return fmt.Errorf("kafka: create topic %s: %w", topic, err)
	}
	switch err := resp.Errors[topic]; {
	case err == nil:
		p.log.Info("kafka: created topic", "topic", topic, "partitions", partitions, "replication_factor", p.o.ReplicationFactor, "compact", compact)
		return nil
	case errors.Is(err, kafkago.TopicAlreadyExists):
		return p.refresh(ctx, topic)
	default:
		return fmt.Errorf("kafka: create topic %s: %w", topic, err)
	}
}

// refresh makes the shared transport learn about an existing topic its
// cached metadata does not know yet.
func (p *Producer) refresh(ctx context.Context, topic string) error {
	// A metadata request allowing auto-creation bypasses the cache and
	// refreshes it; the topic exists, so nothing is created.
	_, err := p.tr.RoundTrip(ctx, p.addr, &meta.Request{TopicNames: []string{topic}, AllowAutoTopicCreation: true})
	if err != nil {
		return fmt.Errorf("kafka: metadata of %s: %w", topic, err)
	}
	return nil
}

// topicExists asks client (whose transport caches metadata) about topic.
func topicExists(ctx context.Context, client *kafkago.Client, topic string) (bool, error) {
	md, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return false, fmt.Errorf("kafka: metadata of %s: %w", topic, err)
	}
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		switch {
		case t.Error == nil:
			return len(t.Partitions) > 0, nil
		case errors.Is(t.Error, kafkago.UnknownTopicOrPartition):
			return false, nil
		default:
			return false, fmt.Errorf("kafka: metadata of %s: %w", topic, t.Error)
		}
	}
	return false, nil
}

// freshTopicExists asks the cluster about topic over a new transport.
func freshTopicExists(ctx context.Context, o Options, topic string) (bool, error) {
	tr, err := newTransport(o)
	if err != nil {
		return false, err
	}
	defer tr.CloseIdleConnections()
	client := &kafkago.Client{Addr: kafkago.TCP(o.Brokers...), Transport: tr, Timeout: dialTimeout}
	return topicExists(ctx, client, topic)
}

// partitionHeader carries the partition a message must go to (cascade
// markers, one per partition of the child's topic).
const partitionHeader = "shiplog-partition"

// balancer hashes keys as kafka-go's Hash does (so a key always lands in
// the same partition), except for messages that name their partition.
type balancer struct{ hash kafkago.Hash }

func (b *balancer) Balance(msg kafkago.Message, partitions ...int) int {
	for _, h := range msg.Headers {
		if h.Key == partitionHeader {
			if n, err := strconv.Atoi(string(h.Value)); err == nil && slices.Contains(partitions, n) {
				return n
			}
		}
	}
	return b.hash.Balance(msg, partitions...)
}

// PartitionOf is the partition of parts a message key goes to.
func PartitionOf(key []byte, parts int) int {
	ids := make([]int, parts)
	for i := range ids {
		ids[i] = i
	}
	var h kafkago.Hash
	return h.Balance(kafkago.Message{Key: key}, ids...)
}

// appendCascade adds the messages of cascade marker c (see cdc.OpCascade)
// of child table t: one per partition of the child's topic, each carrying
// the partition, so the applier of every partition repeats the key's action
// on the rows it owns, in its own order.
func (p *Producer) appendCascade(ctx context.Context, out *outBuf, t *cdc.Table, c *cdc.Change, src Source, topic string, now int64) error {
	parts, err := p.topicPartitions(ctx, topic)
	if err != nil {
		return err
	}
	for part := range parts {
		start := len(out.arena)
		if out.arena, err = AppendCascade(out.arena, t, *c, src, now, part, parts); err != nil {
			return fmt.Errorf("kafka: cascade marker of %s.%s: %w", t.Schema, t.Name, err)
		}
		val := out.arena[start:len(out.arena):len(out.arena)]
		key := []byte(fmt.Sprintf("cascade:%s:%d", c.Cascade.Constraint, part))
		out.msgs = append(out.msgs, kafkago.Message{Topic: topic, Key: key, Value: val,
			Headers: []kafkago.Header{{Key: partitionHeader, Value: []byte(strconv.Itoa(part))}}})
	}
	return nil
}

// topicPartitions is the number of partitions of topic (cached).
func (p *Producer) topicPartitions(ctx context.Context, topic string) (int, error) {
	if n, ok := p.partitions[topic]; ok {
		return n, nil
	}
	mctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	md, err := p.client.Metadata(mctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, fmt.Errorf("kafka: metadata of %s: %w", topic, err)
	}
	for _, t := range md.Topics {
		if t.Name == topic && t.Error == nil && len(t.Partitions) > 0 {
			p.partitions[topic] = len(t.Partitions)
			return len(t.Partitions), nil
		}
	}
	return 0, fmt.Errorf("kafka: metadata of %s: no partitions", topic)
}
