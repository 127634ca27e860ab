//go:build !unit

package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/internal/testenv"
)

// qtyFollower keeps the destination-only table order_qty (an order's item
// quantity) in step with the streamed orders and items, as a step's
// follower keeps a grid.
type qtyFollower struct {
	r *Runtime
	// fail makes follow fail (a planted error).
	fail atomic.Bool
	// calls counts follow calls; largest is the most changes one call got.
	calls, largest atomic.Int64
}

func (f *qtyFollower) name() string              { return "test follower" }
func (f *qtyFollower) follows(table string) bool { return table == "items" || table == "orders" }

func (f *qtyFollower) follow(ctx context.Context, tx *sql.Tx, changes []cdc.Change) error {
	f.calls.Add(1)
	if int64(len(changes)) > f.largest.Load() {
		f.largest.Store(int64(len(changes)))
	}
	if f.fail.Load() {
		return errors.New("planted follower failure")
	}
	ids := append(changedValues(f.r.changesOf(changes, "items"), "order_id"), changedValues(f.r.changesOf(changes, "orders"), "id")...)
	if len(ids) == 0 {
		return nil
	}
	in := "(?" + strings.Repeat(", ?", len(ids)-1) + ")"
	if _, err := tx.ExecContext(ctx, "DELETE FROM order_qty WHERE order_id IN "+in, ids...); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "INSERT INTO order_qty SELECT o.id, COALESCE(SUM(i.qty), 0) FROM orders o LEFT JOIN items i ON i.order_id = o.id WHERE o.id IN "+in+" GROUP BY o.id", ids...)
	return err
}

// TestFollowersRunInTheBatchTransaction: a follower registered for the
// stream sees every change of the batches that write its tables — the
// items of one source transaction spread over the apply partitions, the
// rows a foreign key cascade deleted, a source transaction applied in parts
// — and what it writes commits with them: a follower that fails leaves the
// batch unapplied and the checkpoint where it was. Both delta sources; from
// the binlog also without source foreign keys (with them, transactions are
// held whole, never applied in parts).
func TestFollowersRunInTheBatchTransaction(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		delta string
		fk    bool
	}{{config.DeltaBinlog, true}, {config.DeltaBinlog, false}, {config.DeltaTriggers, true}} {
		t.Run(fmt.Sprintf("%s/fk=%v", tc.delta, tc.fk), func(t *testing.T) {
			t.Parallel()
			followersRunInTheBatchTransaction(t, tc.delta, tc.fk)
		})
	}
}

func followersRunInTheBatchTransaction(t *testing.T, delta string, fk bool) {
	ctx := context.Background()
	src, dst := testenv.SourceAndDest(t, "shop", "shop_new")
	fkDef, delItems := "", "DELETE FROM items WHERE order_id = 2"
	if fk {
		fkDef, delItems = ", FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE", "DO 0"
	}
	if err := src.Exec(ctx, "shop",
		"CREATE TABLE orders (id INT PRIMARY KEY, note VARCHAR(20) NULL)",
		"CREATE TABLE items (id INT PRIMARY KEY, order_id INT NOT NULL, qty INT NOT NULL"+fkDef+")",
		"INSERT INTO orders VALUES (1, NULL), (2, NULL), (4, NULL)",
		"INSERT INTO items VALUES (1, 1, 2), (2, 1, 3), (3, 2, 5), (4, 4, 1)"); err != nil {
		t.Fatal(err)
	}
	if err := dst.Exec(ctx, "shop_new",
		"CREATE TABLE orders (id INT PRIMARY KEY, note VARCHAR(20) NULL)",
		"CREATE TABLE items (id INT PRIMARY KEY, order_id INT NOT NULL, qty INT NOT NULL)",
		"CREATE TABLE order_qty (order_id INT PRIMARY KEY, qty INT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	mapFile := filepath.Join(t.TempDir(), "map.yaml")
	if err := os.WriteFile(mapFile, []byte("destination:\n  documents:\n    ignore: [order_qty]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := func(m *testenv.MariaDB, name string) config.Database {
		return config.Database{Host: "127.0.0.1", Port: m.Port, User: "root", Database: name}
	}
	cfg := &config.Config{Source: db(src, "shop"), Destination: db(dst, "shop_new"),
		Options: config.Options{MapFile: mapFile, ApplyWorkers: 4},
		Delta:   config.Delta{Source: delta, MaxTransactionBytes: 2048}, Sink: "mysql"}
	r, err := Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Data(ctx, DataOptions{}); err != nil {
		t.Fatal(err)
	}
	f := &qtyFollower{r: r}
	r.follow(f)
	dstDB, err := dst.Open("shop_new")
	if err != nil {
		t.Fatal(err)
	}
	defer dstDB.Close()
	query := func(q string) string {
		t.Helper()
		rows, err := testenv.SortedRows(ctx, dstDB, q)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(rows, " ")
	}

	// Order 3 with 40 items in one transaction (spread over the apply
	// partitions by key), an item of order 1 changed, order 2 deleted (its
	// item by the source's cascade when fk: in neither the binlog nor the
	// change logs).
	stmts := []string{"BEGIN", "INSERT INTO orders VALUES (3, NULL)"}
	for i := 0; i < 40; i++ {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO items VALUES (%d, 3, %d)", 100+i, i))
	}
	stmts = append(stmts, "COMMIT", "UPDATE items SET qty = 10 WHERE id = 2", delItems, "DELETE FROM orders WHERE id = 2")
	if err := src.Exec(ctx, "shop", stmts...); err != nil {
		t.Fatal(err)
	}
	if err := r.delta(ctx, DeltaOptions{ExitWhenCaughtUp: true}); err != nil {
		t.Fatal(err)
	}
	// Order 4 was not written: the follower has nothing of it.
	if got, want := query("SELECT order_id, qty FROM order_qty"), "'1','12' '3','780'"; got != want {
		t.Errorf("order_qty after the stream: %s, want %s", got, want)
	}
	if got := query("SELECT COUNT(*) FROM items WHERE order_id = 2"); got != "'0'" {
		t.Errorf("items of the deleted order 2: %s, want 0 (the cascade)", got)
	}

	// A source transaction larger than delta.max_transaction_bytes: the
	// binlog stream applies it in parts, and the follower runs once, with
	// the changes of every part.
	if delta == config.DeltaBinlog && !fk {
		stmts = []string{"BEGIN", "INSERT INTO orders VALUES (5, NULL)"}
		for i := 0; i < 300; i++ {
			stmts = append(stmts, fmt.Sprintf("INSERT INTO items VALUES (%d, 5, 1)", 1000+i))
		}
		if err := src.Exec(ctx, "shop", append(stmts, "COMMIT")...); err != nil {
			t.Fatal(err)
		}
		before := f.calls.Load()
		if err := r.delta(ctx, DeltaOptions{ExitWhenCaughtUp: true}); err != nil {
			t.Fatal(err)
		}
		if got := query("SELECT qty FROM order_qty WHERE order_id = 5"); got != "'300'" {
			t.Errorf("order_qty of the order written in parts: %s, want 300", got)
		}
		if n := f.calls.Load() - before; n != 1 || f.largest.Load() < 301 {
			t.Errorf("the follower ran %d times for the transaction in parts, at most with %d changes; want once with all 301", n, f.largest.Load())
		}
	}

	// A follower that fails: the batch is not applied, the checkpoint
	// stays, and the stream stops with the follower's error.
	ckpt, _, _, err := r.state.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.fail.Store(true)
	if err := src.Exec(ctx, "shop", "INSERT INTO items VALUES (7, 1, 100)"); err != nil {
		t.Fatal(err)
	}
	err = r.delta(ctx, DeltaOptions{ExitWhenCaughtUp: true})
	if err == nil || !strings.Contains(err.Error(), "planted follower failure") || !strings.Contains(err.Error(), "test follower") {
		t.Fatalf("delta with a failing follower: %v, want its error naming it", err)
	}
	if got := query("SELECT COUNT(*) FROM items WHERE id = 7"); got != "'0'" {
		t.Errorf("the item of the batch whose follower failed is on the destination (%s)", got)
	}
	after, _, _, err := r.state.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.String() != ckpt.String() {
		t.Errorf("checkpoint moved from %s to %s past a batch whose follower failed", ckpt, after)
	}
	f.fail.Store(false)
	if err := r.delta(ctx, DeltaOptions{ExitWhenCaughtUp: true}); err != nil {
		t.Fatal(err)
	}
	if got := query("SELECT qty FROM order_qty WHERE order_id = 1"); got != "'112'" {
		t.Errorf("order_qty of order 1 once the follower works: %s, want 112", got)
	}
}
