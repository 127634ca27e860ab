//go:build !unit

package kafka_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/testenv"
	"github.com/shiplog/shiplog/sink/kafka"
)

// TestClientReadsWhatTheProducerWrote: the consumer-side Client lists the
// data topics (not the schema topic, not other prefixes), their offset
// bounds, reads a range of messages and the schemas.
func TestClientReadsWhatTheProducerWrote(t *testing.T) {
	k := testenv.KafkaT(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tbl := &cdc.Table{Schema: "shop", Name: "t", Columns: []cdc.Column{{Name: "id", DataType: "int"}}, Key: []int{0}}
	p := newProducer(t, opts(k, "cons"))
	var changes []cdc.Change
	for i := range 5 {
		changes = append(changes, cdc.Change{Op: cdc.OpInsert, Table: tbl, After: []any{int64(i)}})
	}
	if err := p.Write(ctx, cdc.Batch{Changes: changes}); err != nil {
		t.Fatal(err)
	}
	if err := newProducer(t, opts(k, "other")).Write(ctx, cdc.Batch{Changes: changes[:1]}); err != nil {
		t.Fatal(err)
	}

	kc, err := kafka.NewClient(opts(k, "cons"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	topics, err := kc.DataTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]int{"cons.shop.t": {0}}; !reflect.DeepEqual(topics, want) {
		t.Fatalf("data topics %v, want %v", topics, want)
	}
	bounds, err := kc.Bounds(ctx, topics)
	if err != nil {
		t.Fatal(err)
	}
	b := bounds["cons.shop.t"][0]
	if b.Last-b.First != 5 {
		t.Fatalf("bounds %+v, want 5 messages", b)
	}
	var offsets []int64
	err = kc.ReadRange(ctx, "cons.shop.t", 0, b.First+1, b.First+4, func(m kafkago.Message) error {
		offsets = append(offsets, m.Offset)
		return nil
	})
	if err != nil || !reflect.DeepEqual(offsets, []int64{b.First + 1, b.First + 2, b.First + 3}) {
		t.Errorf("ReadRange [%d, %d): offsets %v, %v", b.First+1, b.First+4, offsets, err)
	}
	schemas, err := kc.ReadSchemas(ctx)
	if err != nil || !reflect.DeepEqual(schemas, map[string]*cdc.Table{"shop.t": tbl}) {
		t.Errorf("schemas %#v, %v", schemas, err)
	}
}
