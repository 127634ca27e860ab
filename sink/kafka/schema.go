package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/shiplog/shiplog/cdc"
)

// The schema topic: consumers decode rows without access to the source
// database, so the producer publishes each source table's definition (the
// JSON of *cdc.Table, all exported fields) to the compacted topic
// "<prefix>.__schema", key "db.table", before the table's first data message
// and again whenever the definition it is given differs from what it
// published. A null value (tombstone) under a key forgets the table.

// SchemaTopic is "<prefix>.__schema".
func SchemaTopic(prefix string) string { return prefix + ".__schema" }

// SchemaKey is the schema topic's key of t: "db.table".
func SchemaKey(t *cdc.Table) string { return t.Schema + "." + t.Name }

func marshalTable(t *cdc.Table) ([]byte, error) {
	js, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("kafka: schema of %s: %w", SchemaKey(t), err)
	}
	return js, nil
}

// publishSchema publishes t's definition unless this producer already
// published the same one. The caller holds p.mu.
func (p *Producer) publishSchema(ctx context.Context, t *cdc.Table) error {
	if p.current[t] {
		return nil
	}
	js, err := marshalTable(t)
	if err != nil {
		return err
	}
	key := SchemaKey(t)
	if prev, ok := p.schemas[key]; ok && bytes.Equal(prev, js) {
		p.markCurrent(t)
		return nil
	}
	topic := SchemaTopic(p.o.TopicPrefix)
	if err := p.ensureTopic(ctx, topic, 1, true); err != nil {
		return err
	}
	if err := p.send(ctx, []kafkago.Message{{Topic: topic, Key: []byte(key), Value: js}}); err != nil {
		return fmt.Errorf("kafka: publish schema of %s: %w", key, err)
	}
	p.log.Debug("kafka: published table schema", "table", key, "topic", topic)
	p.schemas[key] = js
	p.markCurrent(t)
	return nil
}

// ReadSchemas reads the schema topic from the beginning to its end at call
// time (the high watermark of each partition) and returns the latest
// definition per "db.table". A missing schema topic is an error wrapping
// ErrTopicMissing.
func ReadSchemas(ctx context.Context, o Options) (map[string]*cdc.Table, error) {
	if err := o.normalize(); err != nil {
		return nil, err
	}
	tr, client, _, err := connect(ctx, o)
	if err != nil {
		return nil, err
	}
	defer tr.CloseIdleConnections()
	topic := SchemaTopic(o.TopicPrefix)
	md, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("kafka: metadata of %s: %w", topic, err)
	}
	var parts []int
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			if errors.Is(t.Error, kafkago.UnknownTopicOrPartition) {
				break
			}
			return nil, fmt.Errorf("kafka: metadata of %s: %w", topic, t.Error)
		}
		for _, pt := range t.Partitions {
			parts = append(parts, pt.ID)
		}
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("%w: %s (no table schema was ever published)", ErrTopicMissing, topic)
	}
	req := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{}}
	for _, pt := range parts {
		req.Topics[topic] = append(req.Topics[topic], kafkago.FirstOffsetOf(pt), kafkago.LastOffsetOf(pt))
	}
	offs, err := client.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("kafka: offsets of %s: %w", topic, err)
	}
	out := map[string]*cdc.Table{}
	for _, po := range offs.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("kafka: offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		if err := readSchemaPartition(ctx, client, topic, po.Partition, po.FirstOffset, po.LastOffset, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readSchemaPartition reads offsets [from, end) of one partition into out.
func readSchemaPartition(ctx context.Context, client *kafkago.Client, topic string, partition int, from, end int64, out map[string]*cdc.Table) error {
	for off := from; off < end; {
		resp, err := client.Fetch(ctx, &kafkago.FetchRequest{
			Topic: topic, Partition: partition, Offset: off,
			MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 500 * time.Millisecond,
		})
		if err != nil {
			return fmt.Errorf("kafka: read %s/%d at %d: %w", topic, partition, off, err)
		}
		if resp.Error != nil {
			return fmt.Errorf("kafka: read %s/%d at %d: %w", topic, partition, off, resp.Error)
		}
		n := 0
		for {
			rec, err := resp.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("kafka: read %s/%d at %d: %w", topic, partition, off, err)
			}
			if rec.Offset < off {
				continue
			}
			if rec.Offset >= end {
				break
			}
			off = rec.Offset + 1
			n++
			key, err := kafkago.ReadAll(rec.Key)
			if err != nil {
				return fmt.Errorf("kafka: read %s/%d at %d: %w", topic, partition, rec.Offset, err)
			}
			if rec.Value == nil {
				delete(out, string(key))
				continue
			}
			val, err := kafkago.ReadAll(rec.Value)
			if err != nil {
				return fmt.Errorf("kafka: read %s/%d at %d: %w", topic, partition, rec.Offset, err)
			}
			var t cdc.Table
			if err := json.Unmarshal(val, &t); err != nil {
				return fmt.Errorf("kafka: schema %q at %s/%d offset %d: %w", key, topic, partition, rec.Offset, err)
			}
			out[string(key)] = &t
		}
		if n == 0 {
			// Nothing left below end (compacted away or control records).
			return nil
		}
	}
	return nil
}

// PublishSchemas publishes the definitions of tables (and creates their
// topics) that this producer has not published yet: a table copied empty
// has no row to carry its schema, and the applier checks the map against
// the schema topic.
func (p *Producer) PublishSchemas(ctx context.Context, tables []*cdc.Table) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range tables {
		if err := p.ensureTopic(ctx, TopicName(p.o.TopicPrefix, t.Schema, t.Name), p.o.Partitions, false); err != nil {
			return err
		}
		if err := p.publishSchema(ctx, t); err != nil {
			return err
		}
	}
	return nil
}
