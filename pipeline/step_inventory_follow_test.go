package pipeline

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/step"
)

// TestInventoryDeltaStartWithKafka: with sink: kafka the destination holds
// shiplog's state alone and apply --from-kafka runs no follower: the
// Inventory step's delta start says what is not followed, registers
// nothing and reads nothing (no database here: a query would panic).
func TestInventoryDeltaStartWithKafka(t *testing.T) {
	r := &Runtime{cfg: &config.Config{Sink: "kafka"}}
	r.dest = newDestination(r)
	var logs strings.Builder
	s := &inventoryStep{r: r}
	if err := s.DeltaStart(context.Background(), &step.Env{Mode: step.ModeDelta, Log: slog.New(slog.NewTextHandler(&logs, nil))}); err != nil {
		t.Fatal(err)
	}
	if len(r.followers) != 0 {
		t.Errorf("%d followers registered with sink: kafka", len(r.followers))
	}
	for _, w := range []string{"level=WARN", "inventory_source_item", "inventory_shipment_source", "apply --from-kafka"} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("no %q in the delta start's log: %s", w, logs.String())
		}
	}
}
