package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/shiplog/shiplog/cdc"
)

// rangeMaxWait bounds how long ReadRange's fetches wait for messages.
const rangeMaxWait = 200 * time.Millisecond

// Client reads the topics a Producer writes: their partitions and offset
// bounds, ranges of their messages and the table schemas. It shares the
// producer's TLS and SASL settings (Options); Dialer gives kafka-go readers
// and consumer groups the same. Every request is bounded: dials by 10 s,
// metadata by 20 s, other requests by 15 s.
type Client struct {
	o         Options
	dialer    *kafkago.Dialer
	transport *kafkago.Transport
	client    *kafkago.Client
}

// NewClient returns a client of the brokers of o (TopicPrefix "shiplog" when
// empty). It does not connect: the first request does.
func NewClient(o Options) (*Client, error) {
	if len(o.Brokers) == 0 {
		return nil, errors.New("kafka.brokers is not set")
	}
	if o.TopicPrefix == "" {
		o.TopicPrefix = "shiplog"
	}
	mech, err := mechanism(o)
	if err != nil {
		return nil, err
	}
	transport, err := newTransport(o)
	if err != nil {
		return nil, err
	}
	return &Client{
		o:         o,
		dialer:    &kafkago.Dialer{ClientID: "shiplog", Timeout: dialTimeout, DualStack: true, TLS: o.TLS, SASLMechanism: mech},
		transport: transport,
		client:    &kafkago.Client{Addr: kafkago.TCP(o.Brokers...), Transport: transport, Timeout: 15 * time.Second},
	}, nil
}

// Close releases the client's idle connections.
func (kc *Client) Close() { kc.transport.CloseIdleConnections() }

// Options returns the options the client was made with (TopicPrefix filled).
func (kc *Client) Options() Options { return kc.o }

// Brokers returns the broker addresses.
func (kc *Client) Brokers() []string { return kc.o.Brokers }

// BrokerList returns the broker addresses as "host:port,host:port", for
// messages.
func (kc *Client) BrokerList() string { return strings.Join(kc.o.Brokers, ",") }

// Prefix returns the topic prefix.
func (kc *Client) Prefix() string { return kc.o.TopicPrefix }

// SchemaTopic returns the topic of the table schemas.
func (kc *Client) SchemaTopic() string { return SchemaTopic(kc.o.TopicPrefix) }

// Dialer returns the dialer for kafka-go readers and consumer groups.
func (kc *Client) Dialer() *kafkago.Dialer { return kc.dialer }

// ListOffsets sends req to the brokers (the client's timeout applies).
func (kc *Client) ListOffsets(ctx context.Context, req *kafkago.ListOffsetsRequest) (*kafkago.ListOffsetsResponse, error) {
	return kc.client.ListOffsets(ctx, req)
}

// Topics returns the partitions of every topic whose name passes keep.
func (kc *Client) Topics(ctx context.Context, keep func(string) bool) (map[string][]int, error) {
	mctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	md, err := kc.client.Metadata(mctx, &kafkago.MetadataRequest{})
	if err != nil {
		return nil, fmt.Errorf("kafka brokers %s: cannot read metadata (unreachable?): %w", kc.BrokerList(), err)
	}
	out := map[string][]int{}
	for _, t := range md.Topics {
		if t.Internal || !keep(t.Name) {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("kafka topic %s on %s: %w", t.Name, kc.BrokerList(), t.Error)
		}
		for _, p := range t.Partitions {
			out[t.Name] = append(out[t.Name], p.ID)
		}
		sort.Ints(out[t.Name])
	}
	return out, nil
}

// DataTopics returns the change topics "<prefix>.<db>.<table>" and their
// partitions.
func (kc *Client) DataTopics(ctx context.Context) (map[string][]int, error) {
	return kc.Topics(ctx, func(name string) bool {
		return strings.HasPrefix(name, kc.o.TopicPrefix+".") && name != kc.SchemaTopic()
	})
}

// Bounds are a partition's first offset and its high watermark (the offset
// the next message will get).
type Bounds struct{ First, Last int64 }

// Bounds returns the first and high-watermark offsets of the partitions.
func (kc *Client) Bounds(ctx context.Context, topics map[string][]int) (map[string]map[int]Bounds, error) {
	req := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{}}
	for t, parts := range topics {
		for _, p := range parts {
			req.Topics[t] = append(req.Topics[t], kafkago.FirstOffsetOf(p), kafkago.LastOffsetOf(p))
		}
	}
	resp, err := kc.client.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("kafka brokers %s: list offsets: %w", kc.BrokerList(), err)
	}
	out := map[string]map[int]Bounds{}
	for t, parts := range resp.Topics {
		out[t] = map[int]Bounds{}
		for _, p := range parts {
			if p.Error != nil {
				return nil, fmt.Errorf("kafka %s[%d]: list offsets: %w", t, p.Partition, p.Error)
			}
			out[t][p.Partition] = Bounds{First: p.FirstOffset, Last: p.LastOffset}
		}
	}
	return out, nil
}

// ReadRange calls fn for each message of topic/partition from offset from
// up to (not including) offset to. It blocks until then, an error of fn
// (returned as it is) or of the brokers, or the end of ctx.
func (kc *Client) ReadRange(ctx context.Context, topic string, part int, from, to int64, fn func(kafkago.Message) error) error {
	if from >= to {
		return nil
	}
	reader := kafkago.NewReader(kafkago.ReaderConfig{Brokers: kc.o.Brokers, Topic: topic, Partition: part, Dialer: kc.dialer,
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: rangeMaxWait})
	defer reader.Close()
	if err := reader.SetOffset(from); err != nil {
		return err
	}
	for {
		m, err := reader.FetchMessage(ctx)
		if err != nil {
			return fmt.Errorf("kafka %s[%d] on %s: %w", topic, part, kc.BrokerList(), err)
		}
		if m.Offset >= to {
			return nil
		}
		if err := fn(m); err != nil {
			return err
		}
		if m.Offset+1 >= to {
			return nil
		}
	}
}

// ReadSchemas returns the source table definitions the Kafka sink publishes
// to "<prefix>.__schema" (key "db.table"): the latest of each table. See
// the function ReadSchemas.
func (kc *Client) ReadSchemas(ctx context.Context) (map[string]*cdc.Table, error) {
	return ReadSchemas(ctx, kc.o)
}
