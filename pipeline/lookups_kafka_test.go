//go:build !unit

package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/shiplog/shiplog/transform"
)

// TestLookupsFollowKafka: `apply --from-kafka` drops what a handler read of
// a source table when it applies a change of that table: an item published
// (and written to the source) after the handler first read the items is
// found by the next order, in the same runtime.
func TestLookupsFollowKafka(t *testing.T) {
	t.Parallel()
	const handler = "ShiplogTestFirstSku"
	// Sets the order's status to the sku of its first item, read from the
	// source's items.
	transform.Register(handler, func(p transform.Params, b transform.Binding) (transform.Func, error) {
		l, err := b.Env.NeedLookups(handler)
		if err != nil {
			return nil, err
		}
		items := l.Table(transform.SideSource, "items")
		return func(rec, _ []any) error {
			rows, err := items.Rows()
			if err != nil {
				return err
			}
			found := rows.Find([]string{"order_id", "line"}, fmt.Sprint(rec[0]), "1")
			if len(found) == 0 {
				return fmt.Errorf("order %v has no item", rec[0])
			}
			rec[b.Index], _ = rows.Str(found[0], "sku")
			return nil
		}, nil
	})
	e := newKEnv(t)
	e.dest("shop_new")
	mapFile := filepath.Join(t.TempDir(), "map.yaml")
	if err := os.WriteFile(mapFile, []byte("source:\n  fields:\n    transform:\n      - {field: orders.status, handler: "+handler+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := e.config("shop_new", "apply")
	cfg.Options.MapFile = mapFile
	r := e.runtime(cfg, nil)
	status := func(id int) string {
		t.Helper()
		var s string
		if err := e.db.QueryRow("SELECT IFNULL(status, 'NULL') FROM shop_new.orders WHERE id = ?", id).Scan(&s); err != nil {
			t.Fatalf("order %d: %v", id, err)
		}
		return s
	}
	ctx := context.Background()

	// The source has item 1/1 when the handler first reads the items.
	if err := e.m.Exec(ctx, "shop", "INSERT INTO items VALUES (1, 1, 'SKU-1', 1)"); err != nil {
		t.Fatal(err)
	}
	e.publish(tx(100, at(1), ins("items", item(1, 1, "SKU-1", 1)...), ins("orders", order(1, "ann", "10.00", nil)...))...)
	if err := applyUntilCaughtUp(t, r); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if got := status(1); got != "SKU-1" {
		t.Fatalf("order 1 status %q, want SKU-1", got)
	}

	// Item 2/1 is written and published; once applied, order 2 finds it.
	if err := e.m.Exec(ctx, "shop", "INSERT INTO items VALUES (2, 1, 'SKU-2', 1)"); err != nil {
		t.Fatal(err)
	}
	e.publish(tx(200, at(2), ins("items", item(2, 1, "SKU-2", 1)...))...)
	if err := applyUntilCaughtUp(t, r); err != nil {
		t.Fatalf("apply the item: %v", err)
	}
	e.publish(tx(300, at(3), ins("orders", order(2, "bob", "20.00", nil)...))...)
	if err := applyUntilCaughtUp(t, r); err != nil {
		t.Errorf("apply the order: %v", err)
	}
	if got := status(2); got != "SKU-2" {
		t.Errorf("order 2 status %q, want SKU-2 (the item applied before it)", got)
	}
}
