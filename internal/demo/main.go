// Command demo shows shiplog keeping a live database in step: it starts two local
// MariaDB servers, seeds a small shop on the source, copies it with
// `shiplog migrate data`, streams later changes with `shiplog migrate delta` while
// a writer changes rows, and checks that both sides end up identical.
//
//	go run ./internal/demo            (or: make demo)
//	go run ./internal/demo -seconds 30 -shiplog bin/shiplog
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shiplog/shiplog/internal/testenv"
)

const dbName = "shop"

var tables = []string{"customers", "products", "orders", "order_items"}

func main() {
	seconds := flag.Int("seconds", 10, "how long the writer changes rows while delta runs")
	binary := flag.String("shiplog", "", "shiplog binary to use (default: build ./cmd/shiplog into a temp folder)")
	keep := flag.Bool("keep", false, "keep the temp folder (config, logs) for inspection")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *seconds, *binary, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, seconds int, binary string, keep bool) error {
	if err := testenv.Available(); err != nil {
		return fmt.Errorf("%w\n  as root: apt-get install -y --no-install-recommends mariadb-server", err)
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "shiplog-demo-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("work folder:", work)
	} else {
		defer os.RemoveAll(work)
	}

	// 1. Two servers: a source with a ROW/FULL binlog and a destination.
	step("starting source (binlog ROW, FULL image and metadata) and destination MariaDB")
	src, err := testenv.StartMariaDB(ctx, testenv.Options{Binlog: true, ServerID: 1})
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer src.Stop()
	dst, err := testenv.StartMariaDB(ctx, testenv.Options{ServerID: 2})
	if err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	defer dst.Stop()
	fmt.Printf("  source      %s\n  destination %s\n", src.Addr(), dst.Addr())

	// 2. The shop: schema on both sides, rows on the source.
	step("seeding the shop database from examples/shop")
	schema, err := os.ReadFile(filepath.Join(root, "examples/shop/schema.sql"))
	if err != nil {
		return err
	}
	seed, err := os.ReadFile(filepath.Join(root, "examples/shop/seed.sql"))
	if err != nil {
		return err
	}
	for _, m := range []*testenv.MariaDB{src, dst} {
		if err := m.Exec(ctx, "", "CREATE DATABASE "+dbName+" CHARACTER SET utf8mb4"); err != nil {
			return err
		}
		if err := m.Exec(ctx, dbName, string(schema)); err != nil {
			return fmt.Errorf("schema.sql: %w", err)
		}
	}
	if err := src.Exec(ctx, dbName, string(seed)); err != nil {
		return fmt.Errorf("seed.sql: %w", err)
	}
	srcDB, err := src.Open(dbName)
	if err != nil {
		return err
	}
	defer srcDB.Close()
	dstDB, err := dst.Open(dbName)
	if err != nil {
		return err
	}
	defer dstDB.Close()
	counts, err := rowCounts(ctx, srcDB)
	if err != nil {
		return err
	}
	fmt.Printf("  source rows: %s\n", formatCounts(counts))

	// 3. The shiplog binary and its configuration.
	if binary == "" {
		step("building shiplog")
		binary = filepath.Join(work, "shiplog")
		build := exec.CommandContext(ctx, "go", "build", "-o", binary, "./cmd/shiplog")
		build.Dir, build.Stdout, build.Stderr = root, os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build ./cmd/shiplog: %w", err)
		}
	}
	cfg := filepath.Join(work, "shiplog.yaml")
	if err := os.WriteFile(cfg, []byte(config(src, dst)), 0o600); err != nil {
		return err
	}
	fmt.Println("  config:", cfg)

	// 4. Snapshot.
	step("shiplog migrate data")
	start := time.Now()
	if err := shiplog(ctx, binary, cfg, filepath.Join(work, "data.log"), "migrate", "data"); err != nil {
		return err
	}
	fmt.Printf("  copied in %.1fs\n", time.Since(start).Seconds())

	// 5. Delta in the background while the writer changes rows.
	step(fmt.Sprintf("shiplog migrate delta, with a writer changing rows for %ds", seconds))
	deltaLog := filepath.Join(work, "delta.log")
	delta, deltaDone, err := startShiplog(binary, cfg, deltaLog, "migrate", "delta")
	if err != nil {
		return err
	}
	defer func() {
		if delta.ProcessState == nil {
			_ = delta.Process.Kill()
		}
	}()

	w := &writer{db: srcDB, rng: rand.New(rand.NewPCG(42, 7)), placed: map[int64]time.Time{}}
	wctx, stopWriter := context.WithTimeout(ctx, time.Duration(seconds)*time.Second)
	defer stopWriter()
	var wg sync.WaitGroup
	var writeErr error
	wg.Add(1)
	go func() { defer wg.Done(); writeErr = w.run(wctx) }()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for wctx.Err() == nil {
		select {
		case <-wctx.Done():
		case <-tick.C:
			progress(ctx, srcDB, dstDB, w)
		case err := <-deltaDone:
			stopWriter()
			wg.Wait()
			return fmt.Errorf("shiplog migrate delta exited early (%v): %s", err, tail(deltaLog))
		}
	}
	wg.Wait()
	if writeErr != nil && !errors.Is(writeErr, context.DeadlineExceeded) && !errors.Is(writeErr, context.Canceled) {
		return fmt.Errorf("writer: %w", writeErr)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	fmt.Printf("  writer stopped after %d transactions\n", w.txns)

	// 6. Wait for the destination to match, table by table.
	step("waiting for the destination to catch up")
	n, err := waitInStep(ctx, srcDB, dstDB, w, deltaDone, deltaLog, 60*time.Second)
	if err != nil {
		return err
	}
	fmt.Printf("in step: %d tables identical\n", n)

	// 7. Stop delta the way an operator would.
	step("stopping shiplog (SIGTERM)")
	_ = delta.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-deltaDone:
		if err != nil {
			fmt.Printf("  shiplog exited: %v\n", err)
		} else {
			fmt.Println("  shiplog exited cleanly")
		}
	case <-time.After(20 * time.Second):
		_ = delta.Process.Kill()
		<-deltaDone
		return fmt.Errorf("shiplog did not stop within 20s of SIGTERM: %s", tail(deltaLog))
	}
	step("stopping the servers")
	return nil
}

func step(s string) { fmt.Printf("\n== %s\n", s) }

// moduleRoot finds the folder holding go.mod, from the working folder upwards.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the demo from inside the shiplog repository (go.mod not found)")
		}
		dir = parent
	}
}

func config(src, dst *testenv.MariaDB) string {
	return fmt.Sprintf(`# written by internal/demo
source:
  host: 127.0.0.1
  port: %d
  user: root
  password: ""
  database: %s
  server_id: 4201
destination:
  host: 127.0.0.1
  port: %d
  user: root
  password: ""
  database: %s
options:
  bulk_size: 500
  workers: 2
`, src.Port, dbName, dst.Port, dbName)
}

// shiplog runs one shiplog command to the end, its output going to logFile.
func shiplog(ctx context.Context, binary, cfg, logFile string, args ...string) error {
	cmd, done, err := startShiplog(binary, cfg, logFile, args...)
	if err != nil {
		return err
	}
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-done
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("shiplog %s: %v\n%s", strings.Join(args, " "), err, tail(logFile))
	}
	return nil
}

func startShiplog(binary, cfg, logFile string, args ...string) (*exec.Cmd, <-chan error, error) {
	out, err := os.Create(logFile)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(binary, append([]string{"--config", cfg}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, nil, fmt.Errorf("start %s: %w", binary, err)
	}
	done := make(chan error, 1)
	go func() { err := cmd.Wait(); out.Close(); done <- err }()
	return cmd, done, nil
}

// tail returns the last lines of a log file, indented.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "  | " + strings.Join(lines, "\n  | ") + "\n  (full log: " + path + ")"
}

// writer changes the shop the way customers and staff would: new orders with
// lines, status changes, stock updates, new customers, cancelled orders deleted.
type writer struct {
	db   *sql.DB
	rng  *rand.Rand
	txns int

	mu     sync.Mutex
	placed map[int64]time.Time // order id -> when the writer committed it
}

func (w *writer) run(ctx context.Context) error {
	pace := time.NewTicker(20 * time.Millisecond)
	defer pace.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-pace.C:
		}
		if err := w.once(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		w.txns++
	}
}

func (w *writer) once(ctx context.Context) error {
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	r := w.rng
	var newOrder int64
	switch k := r.IntN(10); {
	case k < 5: // a new order with 1-4 lines
		customer := 1 + r.IntN(200)
		res, err := tx.ExecContext(ctx, "INSERT INTO orders (customer_id, status, note, placed_at) VALUES (?, 'new', ?, NOW(3))",
			customer, []any{nil, "leave at the door 🚪", "Geschenk 🎁, bitte einpacken"}[r.IntN(3)])
		if err != nil {
			return err
		}
		if newOrder, err = res.LastInsertId(); err != nil {
			return err
		}
		for line := 1; line <= 1+r.IntN(4); line++ {
			if _, err := tx.ExecContext(ctx, `INSERT INTO order_items (order_id, line, product_id, qty, unit_price)
				SELECT ?, ?, id, ?, price FROM products WHERE id = ?`, newOrder, line, 1+r.IntN(3), 1+r.IntN(12)); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE orders SET total = (SELECT COALESCE(SUM(qty * unit_price), 0)
			FROM order_items WHERE order_id = ?) WHERE id = ?`, newOrder, newOrder); err != nil {
			return err
		}
	case k < 7: // an order moves on
		status := []string{"paid", "shipped", "cancelled"}[r.IntN(3)]
		_, err = tx.ExecContext(ctx, `UPDATE orders SET status = ?, shipped_on = IF(? = 'shipped', CURDATE(), shipped_on)
			WHERE id = (SELECT id FROM (SELECT id FROM orders ORDER BY id DESC LIMIT 1 OFFSET ?) t)`,
			status, status, r.IntN(50))
		if err == nil {
			_, err = tx.ExecContext(ctx, "UPDATE orders SET status = ? WHERE id = ?", "shipped", 1+r.IntN(300))
		}
	case k < 8: // stock and price changes
		_, err = tx.ExecContext(ctx, "UPDATE products SET stock = stock + ?, price = price + ?, updated_at = NOW() WHERE id = ?",
			r.IntN(11)-5, float64(r.IntN(201)-100)/100, 1+r.IntN(12))
	case k < 9: // a new customer, or one changing preferences
		if r.IntN(2) == 0 {
			_, err = tx.ExecContext(ctx, `INSERT INTO customers (email, name, city, tier, prefs, created_at)
				VALUES (CONCAT('new', UUID(), '@example.com'), ?, ?, 'bronze', ?, NOW(6))`,
				[]string{"Nguyễn Văn 🐉", "Jörg Müller", "Ewa Żółć 🌻"}[r.IntN(3)], "Hà Nội", `{"signup": "demo", "emoji": "✨"}`)
		} else {
			_, err = tx.ExecContext(ctx, "UPDATE customers SET prefs = JSON_SET(COALESCE(prefs, '{}'), '$.visits', ?), tier = ? WHERE id = ?",
				r.IntN(1000), []string{"bronze", "silver", "gold"}[r.IntN(3)], 1+r.IntN(200))
		}
	default: // a cancelled order is deleted with its lines
		var id int64
		err = tx.QueryRowContext(ctx, "SELECT id FROM orders WHERE status = 'cancelled' ORDER BY id LIMIT 1").Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err == nil {
			_, err = tx.ExecContext(ctx, "DELETE FROM order_items WHERE order_id = ?", id)
		}
		if err == nil {
			_, err = tx.ExecContext(ctx, "DELETE FROM orders WHERE id = ?", id)
		}
	}
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if newOrder != 0 {
		w.mu.Lock()
		w.placed[newOrder] = time.Now()
		w.mu.Unlock()
	}
	return nil
}

// lag is how long ago the writer committed the newest order the destination has
// not got yet, or 0 when it has them all.
func (w *writer) lag(srcMax, dstMax int64) time.Duration {
	if dstMax >= srcMax {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var oldest time.Time
	for id, at := range w.placed {
		if id > dstMax && id <= srcMax && (oldest.IsZero() || at.Before(oldest)) {
			oldest = at
		}
	}
	if oldest.IsZero() {
		return 0
	}
	return time.Since(oldest)
}

func progress(ctx context.Context, srcDB, dstDB *sql.DB, w *writer) {
	var srcN, dstN, srcMax, dstMax int64
	q := "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM orders"
	if err := srcDB.QueryRowContext(ctx, q).Scan(&srcN, &srcMax); err != nil {
		fmt.Println("  source:", err)
		return
	}
	if err := dstDB.QueryRowContext(ctx, q).Scan(&dstN, &dstMax); err != nil {
		fmt.Println("  destination:", err)
		return
	}
	fmt.Printf("source orders=%d dest orders=%d lag=%s\n", srcN, dstN, w.lag(srcMax, dstMax).Round(10*time.Millisecond))
}

// waitInStep polls until every table has the same row count and checksum on
// both sides, or the deadline passes.
func waitInStep(ctx context.Context, srcDB, dstDB *sql.DB, w *writer, deltaDone <-chan error, deltaLog string, limit time.Duration) (int, error) {
	deadline := time.Now().Add(limit)
	last := time.Now()
	for {
		same, diff, err := compare(ctx, srcDB, dstDB)
		if err == nil && len(diff) == 0 {
			return same, nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return 0, err
			}
			return 0, fmt.Errorf("not in step after %s: %s", limit, strings.Join(diff, "; "))
		}
		if time.Since(last) >= time.Second {
			last = time.Now()
			if err != nil {
				fmt.Println("  compare:", err)
			} else {
				fmt.Println("  differs:", strings.Join(diff, "; "))
			}
			progress(ctx, srcDB, dstDB, w)
		}
		select {
		case err := <-deltaDone:
			return 0, fmt.Errorf("shiplog migrate delta exited before catching up (%v): %s", err, tail(deltaLog))
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// compare checks each table's row count and content checksum on both sides.
func compare(ctx context.Context, srcDB, dstDB *sql.DB) (same int, diff []string, err error) {
	for _, t := range tables {
		q, err := checksumQuery(ctx, srcDB, t)
		if err != nil {
			return 0, nil, err
		}
		var sn, dn int64
		var ss, ds string
		if err := srcDB.QueryRowContext(ctx, q).Scan(&sn, &ss); err != nil {
			return 0, nil, fmt.Errorf("source %s: %w", t, err)
		}
		if err := dstDB.QueryRowContext(ctx, q).Scan(&dn, &ds); err != nil {
			return 0, nil, fmt.Errorf("destination %s: %w", t, err)
		}
		switch {
		case sn != dn:
			diff = append(diff, fmt.Sprintf("%s rows %d vs %d", t, sn, dn))
		case ss != ds:
			diff = append(diff, fmt.Sprintf("%s checksum differs", t))
		default:
			same++
		}
	}
	return same, diff, nil
}

// checksumQuery builds "SELECT COUNT(*), <sum and xor of CRC32 of every row>"
// over all columns of a table, with a NULL flag per column so that NULL and the
// empty string differ.
func checksumQuery(ctx context.Context, db *sql.DB, table string) (string, error) {
	rows, err := db.QueryContext(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position`, table)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var cols, nulls []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return "", err
		}
		cols = append(cols, "CAST(`"+c+"` AS CHAR)")
		nulls = append(nulls, "ISNULL(`"+c+"`)")
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if len(cols) == 0 {
		return "", fmt.Errorf("table %s has no columns on the source", table)
	}
	row := "CRC32(CONCAT_WS('|', " + strings.Join(cols, ", ") + ", CONCAT(" + strings.Join(nulls, ", ") + ")))"
	return fmt.Sprintf("SELECT COUNT(*), CONCAT(COALESCE(SUM(%s), 0), '/', COALESCE(BIT_XOR(%s), 0)) FROM `%s`", row, row, table), nil
}

func rowCounts(ctx context.Context, db *sql.DB) (map[string]int64, error) {
	counts := map[string]int64{}
	for _, t := range tables {
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM `"+t+"`").Scan(&n); err != nil {
			return nil, err
		}
		counts[t] = n
	}
	return counts, nil
}

func formatCounts(c map[string]int64) string {
	var parts []string
	for _, t := range tables {
		parts = append(parts, fmt.Sprintf("%s=%d", t, c[t]))
	}
	return strings.Join(parts, " ")
}
