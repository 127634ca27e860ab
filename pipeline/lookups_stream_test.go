//go:build !unit

package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/internal/testenv"
	"github.com/shiplog/shiplog/pipeline"
	"github.com/shiplog/shiplog/transform"
)

// registerStoreCode registers a handler that sets its field to the code of
// the store whose id is in field store_id, looked up in the source table
// store (which the map leaves out).
func registerStoreCode(name string) {
	transform.Register(name, func(p transform.Params, b transform.Binding) (transform.Func, error) {
		l, err := b.Env.NeedLookups(name)
		if err != nil {
			return nil, err
		}
		stores := l.Table(transform.SideSource, "store")
		idIdx, err := b.IndexOf("store_id")
		if err != nil {
			return nil, err
		}
		return func(rec, _ []any) error {
			rows, err := stores.Rows()
			if err != nil {
				return err
			}
			code, ok := rows.First("store_id", fmt.Sprint(rec[idIdx]), "code")
			if !ok {
				return fmt.Errorf("no store %v", rec[idIdx])
			}
			rec[b.Index] = code
			return nil
		}, nil
	})
}

// TestLookupsFollowTheStream: a handler reads a source table; the table is
// read once (data mode), and when the stream carries a change of it, the
// rows after that change are mapped with the new content, in the same
// runtime. From the binlog the table is decoded although the map leaves it
// out; the change-log delta sees the tables it logs (copied ones).
func TestLookupsFollowTheStream(t *testing.T) {
	t.Parallel()
	registerStoreCode("ShiplogTestStoreCode")
	for _, tc := range []struct {
		delta string
		// copied: the map copies the store table too (else it ignores it).
		copied bool
	}{{config.DeltaBinlog, false}, {config.DeltaTriggers, true}} {
		t.Run(tc.delta, func(t *testing.T) {
			t.Parallel()
			lookupsFollowTheStream(t, tc.delta, tc.copied)
		})
	}
}

func lookupsFollowTheStream(t *testing.T, delta string, copied bool) {
	ctx := context.Background()
	src, dst := testenv.SourceAndDest(t, "shop", "shop_new")
	if err := src.Exec(ctx, "shop",
		"CREATE TABLE m1_store (store_id INT PRIMARY KEY, code VARCHAR(32) CHARACTER SET utf8mb4 NOT NULL)",
		"CREATE TABLE m1_orders (id INT PRIMARY KEY, store_id INT NOT NULL, store_code VARCHAR(32) NULL)",
		"INSERT INTO m1_store VALUES (1, 'alpha'), (2, 'zwei ✓')",
		"INSERT INTO m1_orders VALUES (1, 1, NULL), (2, 2, NULL)"); err != nil {
		t.Fatal(err)
	}
	destTables := []string{"CREATE TABLE orders (id INT PRIMARY KEY, store_id INT NOT NULL, store_code VARCHAR(32) NULL)"}
	ignore := "[store]"
	if copied {
		ignore = "[]"
		destTables = append(destTables, "CREATE TABLE store (store_id INT PRIMARY KEY, code VARCHAR(32) CHARACTER SET utf8mb4 NOT NULL)")
	}
	if err := dst.Exec(ctx, "shop_new", destTables...); err != nil {
		t.Fatal(err)
	}
	mapFile := filepath.Join(t.TempDir(), "map.yaml")
	if err := os.WriteFile(mapFile, []byte(`source:
  documents:
    ignore: `+ignore+`
  fields:
    transform:
      - {field: orders.store_code, handler: ShiplogTestStoreCode}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	db := func(m *testenv.MariaDB, name string) config.Database {
		return config.Database{Host: "127.0.0.1", Port: m.Port, User: "root", Database: name}
	}
	cfg := &config.Config{Source: db(src, "shop"), Destination: db(dst, "shop_new"),
		Options: config.Options{MapFile: mapFile, SourcePrefix: "m1_"},
		Delta:   config.Delta{Source: delta}, Sink: "mysql"}
	r, err := pipeline.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Data(ctx, pipeline.DataOptions{}); err != nil {
		t.Fatal(err)
	}
	dstDB, err := dst.Open("shop_new")
	if err != nil {
		t.Fatal(err)
	}
	defer dstDB.Close()
	orders := func() string {
		t.Helper()
		rows, err := testenv.SortedRows(ctx, dstDB, "SELECT id, store_code FROM orders")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(rows, " ")
	}
	if got, want := orders(), "'1','alpha' '2','zwei ✓'"; got != want {
		t.Fatalf("after data mode: orders %s, want %s", got, want)
	}

	// The store is renamed, then an order of it is placed; a store is
	// added and used at once.
	if err := src.Exec(ctx, "shop",
		"UPDATE m1_store SET code = 'beta' WHERE store_id = 1",
		"INSERT INTO m1_orders VALUES (3, 1, NULL)",
		"BEGIN", "INSERT INTO m1_store VALUES (3, 'gamma')", "INSERT INTO m1_orders VALUES (4, 3, NULL)", "COMMIT",
		"UPDATE m1_orders SET store_id = 2 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	if err := r.Delta(ctx, pipeline.DeltaOptions{ExitWhenCaughtUp: true}); err != nil {
		t.Error(err)
	}
	if got, want := orders(), "'1','zwei ✓' '2','zwei ✓' '3','beta' '4','gamma'"; got != want {
		t.Errorf("after the stream: orders %s, want %s (the looked-up table as the stream changed it)", got, want)
	}
	var n int
	if err := dstDB.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop_new' AND TABLE_NAME = 'store'").Scan(&n); err != nil || (n == 1) != copied {
		t.Errorf("destination has %d store tables (%v); want one only when copied (%v)", n, err, copied)
	}
}
