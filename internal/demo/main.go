// Command demo shows shiplog migrating a live Magento-1-like shop into a
// Magento-2-like schema with the Data Migration Tool map files in
// examples/magento-like. It starts two local MariaDB servers, loads the example,
// runs `shiplog check`, `migrate settings` and `migrate data`, then streams later
// changes with `migrate delta` while a writer changes rows, and checks that the
// destination ends up equal to the source transformed by the map (computed
// independently, in SQL).
//
// With -kafka the changes travel through Kafka: a Kafka broker (franz-go's
// kfake) starts in the demo process, a publisher (sink: kafka, its state in a
// demo_state database on the destination server) runs `migrate data` and then
// `migrate delta`, and `apply --from-kafka` runs in the background, applying
// the topics through the map to the destination database.
//
//	go run ./internal/demo            (or: make demo)
//	go run ./internal/demo -seconds 30 -shiplog bin/shiplog
//	go run ./internal/demo -kafka     (source -> Kafka -> destination)
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

const (
	exampleDir = "examples/magento-like"
	srcName    = "magento1"
	dstName    = "magento2"
	// stateName keeps the Kafka publisher's state (-kafka), on the destination server.
	stateName = "demo_state"
)

func main() {
	seconds := flag.Int("seconds", 10, "how long the writer changes rows while delta runs")
	binary := flag.String("shiplog", "", "shiplog binary to use (default: build ./cmd/shiplog into a temp folder)")
	keep := flag.Bool("keep", false, "keep the temp folder (config, logs) for inspection")
	viaKafka := flag.Bool("kafka", false, "send the changes through Kafka (a broker in this process): migrate data/delta with sink: kafka, apply --from-kafka to the destination")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *seconds, *binary, *keep, *viaKafka); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, seconds int, binary string, keep, viaKafka bool) error {
	if err := testenv.Available(); err != nil {
		return fmt.Errorf("%w\n  as root: apt-get install -y --no-install-recommends mariadb-server", err)
	}
	root, err := testenv.ModuleRoot()
	if err != nil {
		return err
	}
	example := filepath.Join(root, exampleDir)
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
	fmt.Printf("  source      %s (database %s)\n  destination %s (database %s)\n", src.Addr(), srcName, dst.Addr(), dstName)
	var kafka *testenv.Kafka
	if viaKafka {
		step("starting a Kafka broker (franz-go's kfake) in this process")
		if kafka, err = testenv.StartKafka(true); err != nil {
			return err
		}
		defer kafka.Close()
		fmt.Printf("  kafka       %s (topics demo.%s.<table>, 2 partitions each)\n", strings.Join(kafka.Addrs, ", "), srcName)
		if err := dst.Exec(ctx, "", "CREATE DATABASE "+stateName); err != nil {
			return err
		}
	}

	// 2. The example: Magento-1-like schema and rows on the source, a fresh
	// Magento-2-like schema (with its default settings) on the destination.
	step("loading " + exampleDir)
	if err := src.Exec(ctx, "", "CREATE DATABASE "+srcName+" CHARACTER SET utf8mb4"); err != nil {
		return err
	}
	if err := dst.Exec(ctx, "", "CREATE DATABASE "+dstName+" CHARACTER SET utf8mb4"); err != nil {
		return err
	}
	srcDB, err := src.Open(srcName)
	if err != nil {
		return err
	}
	defer srcDB.Close()
	dstDB, err := dst.Open(dstName)
	if err != nil {
		return err
	}
	defer dstDB.Close()
	for _, f := range []struct {
		db   *sql.DB
		file string
	}{{srcDB, "source.sql"}, {srcDB, "seed.sql"}, {dstDB, "destination.sql"}, {dstDB, "destination-seed.sql"}} {
		if err := testenv.ExecFile(ctx, f.db, filepath.Join(example, f.file)); err != nil {
			return err
		}
	}
	counts, err := rowCounts(ctx, srcDB, "sales_flat_order", "customer_entity", "catalog_product", "core_config_data")
	if err != nil {
		return err
	}
	fmt.Println("  source rows:", counts)

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
	text := config(src, dst, example)
	// dataCfg is what migrate data and delta run with: cfg, or with -kafka the
	// publisher's configuration (sink: kafka, state in demo_state). cfg then
	// also has the kafka section, for apply --from-kafka.
	dataCfg := cfg
	if kafka != nil {
		text += kafkaConfig(kafka)
		dataCfg = filepath.Join(work, "publisher.yaml")
		if err := os.WriteFile(dataCfg, []byte(publisherConfig(src, dst)+kafkaConfig(kafka)), 0o600); err != nil {
			return err
		}
	}
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		return err
	}
	fmt.Println("  config:", cfg)
	if kafka != nil {
		fmt.Println("  publisher config:", dataCfg)
	}

	// 4. Integrity check: does the map account for every table and field?
	step("shiplog check")
	checkLog := filepath.Join(work, "check.log")
	if err := shiplog(ctx, binary, cfg, checkLog, "check"); err != nil {
		return err
	}
	fmt.Println(indent(checkLog))

	// 5. Settings: core_config_data through settings.xml.
	step("shiplog migrate settings")
	if err := shiplog(ctx, binary, cfg, filepath.Join(work, "settings.log"), "migrate", "settings"); err != nil {
		return err
	}
	if err := printSettings(ctx, dstDB); err != nil {
		return err
	}

	// 6. Snapshot through map.xml (with -kafka: to Kafka, then applied from
	// the topics through map.xml by apply --from-kafka in the background).
	var bg []*background
	defer func() {
		for _, p := range bg {
			p.kill()
		}
	}()
	if kafka != nil {
		step("shiplog migrate data (sink: kafka: the snapshot to Kafka)")
	} else {
		step("shiplog migrate data")
	}
	start := time.Now()
	if err := shiplog(ctx, binary, dataCfg, filepath.Join(work, "data.log"), "migrate", "data"); err != nil {
		return err
	}
	if kafka != nil {
		fmt.Printf("  published in %.1fs\n", time.Since(start).Seconds())
		step("shiplog apply --from-kafka in the background (Kafka -> destination, through map.xml)")
		apply, err := startBackground(binary, cfg, filepath.Join(work, "apply.log"), "apply", "--from-kafka")
		if err != nil {
			return err
		}
		bg = append(bg, apply)
		if _, err := waitInStep(ctx, srcDB, dstDB, bg, 60*time.Second); err != nil {
			return err
		}
	}
	counts, err = rowCounts(ctx, dstDB, "sales_order", "customer_entity", "catalog_product_entity")
	if err != nil {
		return err
	}
	fmt.Printf("  copied in %.1fs; destination rows: %s\n", time.Since(start).Seconds(), counts)

	// 7. Delta in the background while the writer changes rows.
	if kafka != nil {
		step(fmt.Sprintf("shiplog migrate delta (sink: kafka), with a writer changing rows for %ds", seconds))
	} else {
		step(fmt.Sprintf("shiplog migrate delta, with a writer changing rows for %ds", seconds))
	}
	delta, err := startBackground(binary, dataCfg, filepath.Join(work, "delta.log"), "migrate", "delta")
	if err != nil {
		return err
	}
	bg = append([]*background{delta}, bg...)

	w := &writer{db: srcDB, rng: rand.New(rand.NewPCG(42, 7))}
	if err := w.init(ctx); err != nil {
		return err
	}
	wctx, stopWriter := context.WithTimeout(ctx, time.Duration(seconds)*time.Second)
	defer stopWriter()
	var wg sync.WaitGroup
	var writeErr error
	wg.Add(1)
	go func() { defer wg.Done(); writeErr = w.run(wctx) }()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	exited := make(chan *background, len(bg))
	for _, p := range bg {
		go func() {
			<-p.exited
			exited <- p
		}()
	}
	for elapsed := 1; wctx.Err() == nil; {
		select {
		case <-wctx.Done():
		case <-tick.C:
			progress(ctx, srcDB, dstDB, fmt.Sprintf("%3ds", elapsed))
			elapsed++
		case p := <-exited:
			stopWriter()
			wg.Wait()
			return fmt.Errorf("shiplog %s exited early (%v): %s", p.name, p.err, tail(p.log))
		}
	}
	wg.Wait()
	if writeErr != nil && !errors.Is(writeErr, context.DeadlineExceeded) && !errors.Is(writeErr, context.Canceled) {
		return fmt.Errorf("writer: %w", writeErr)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	fmt.Printf("  writer stopped after %d changes\n", w.changes)

	// 8. Wait until the destination equals the transformed source.
	step("waiting for the destination to catch up")
	n, err := waitInStep(ctx, srcDB, dstDB, bg, 60*time.Second)
	if err != nil {
		return err
	}
	fmt.Printf("in step: %d tables equal the transformed source\n", n)

	// 9. Stop delta (and apply) the way an operator would.
	step("stopping shiplog (SIGTERM)")
	for _, p := range bg {
		if err := p.stop(20 * time.Second); err != nil {
			return err
		}
	}
	if len(bg) > 1 {
		fmt.Println("  shiplog migrate delta and apply --from-kafka exited cleanly")
	} else {
		fmt.Println("  shiplog exited cleanly")
	}
	step("stopping the servers")
	return nil
}

// background is a shiplog command running in the background.
type background struct {
	name   string // e.g. "migrate delta"
	cmd    *exec.Cmd
	log    string
	exited chan struct{} // closed when the command has exited, err then set
	err    error
}

func startBackground(binary, cfg, logFile string, args ...string) (*background, error) {
	cmd, done, err := startShiplog(binary, cfg, logFile, args...)
	if err != nil {
		return nil, err
	}
	p := &background{name: strings.Join(args, " "), cmd: cmd, log: logFile, exited: make(chan struct{})}
	go func() { p.err = <-done; close(p.exited) }()
	return p, nil
}

// running reports whether the command still runs; when not, the error is why.
func (p *background) running() (bool, error) {
	select {
	case <-p.exited:
		return false, fmt.Errorf("shiplog %s exited (%v): %s", p.name, p.err, tail(p.log))
	default:
		return true, nil
	}
}

// stop sends SIGTERM and waits up to limit for a clean exit.
func (p *background) stop(limit time.Duration) error {
	if ok, err := p.running(); !ok {
		return err
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.err != nil {
			return fmt.Errorf("shiplog %s did not exit cleanly on SIGTERM (%v): %s", p.name, p.err, tail(p.log))
		}
		return nil
	case <-time.After(limit):
		p.kill()
		return fmt.Errorf("shiplog %s did not stop within %s of SIGTERM: %s", p.name, limit, tail(p.log))
	}
}

// kill ends the command if it still runs and waits for it.
func (p *background) kill() {
	if ok, _ := p.running(); ok {
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func step(s string) { fmt.Printf("\n== %s\n", s) }

func config(src, dst *testenv.MariaDB, example string) string {
	return databasesYAML("", src, dst, dstName) + fmt.Sprintf(`map: %s
settings_map: %s
options:
  bulk_size: 500
  workers: 2
`, filepath.Join(example, "map.xml"), filepath.Join(example, "settings.xml"))
}

// databasesYAML is the start of a demo configuration (note follows its
// comment line): the source and destination database dstDB on dst.
func databasesYAML(note string, src, dst *testenv.MariaDB, dstDB string) string {
	return fmt.Sprintf(`# written by internal/demo%s
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
`, note, src.Port, srcName, dst.Port, dstDB)
}

// publisherConfig is the -kafka publisher's configuration: the source, sink:
// kafka, and the destination server's demo_state database for its state. It
// has no map: the source rows go to Kafka as they are, and apply --from-kafka
// maps them.
func publisherConfig(src, dst *testenv.MariaDB) string {
	return databasesYAML(" (-kafka): the publisher", src, dst, stateName) + `sink: kafka
options:
  bulk_size: 500
  workers: 2
`
}

// kafkaConfig is the kafka section of both -kafka configurations.
func kafkaConfig(k *testenv.Kafka) string {
	return fmt.Sprintf("kafka:\n  brokers: [%s]\n  topic_prefix: demo\n  partitions: 2\n  group_id: demo-apply\n", strings.Join(k.Addrs, ", "))
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

// indent returns a log file's text, each line indented.
func indent(path string) string {
	b, _ := os.ReadFile(path)
	return "  | " + strings.ReplaceAll(strings.TrimRight(string(b), "\n"), "\n", "\n  | ")
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

// printSettings shows the destination's core_config_data after settings mode:
// Magento 2's defaults merged with the source's settings, renamed, transformed
// or left out by settings.xml.
func printSettings(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "SELECT scope, scope_id, path, COALESCE(value, 'NULL') FROM core_config_data ORDER BY path, scope, scope_id")
	if err != nil {
		return err
	}
	defer rows.Close()
	fmt.Println("  destination core_config_data:")
	for rows.Next() {
		var scope, scopeID, path, value string
		if err := rows.Scan(&scope, &scopeID, &path, &value); err != nil {
			return err
		}
		fmt.Printf("    %-12s %-28s = %s\n", scope+"/"+scopeID, path, value)
	}
	return rows.Err()
}

// writer changes the source the way a running Magento 1 shop would: orders
// placed, moving through statuses and deleted; customers and products added,
// edited and removed. Every value is one the map handles: known and unknown
// statuses, mixed-case emails, IPv4 text, serialized payment info.
type writer struct {
	db      *sql.DB
	rng     *rand.Rand
	changes int

	nextOrder, nextCustomer, nextProduct int // ids for new rows
}

var (
	statuses = []string{"pending", "processing", "complete", "canceled", "holded"} // holded -> the default, new
	payments = []any{`a:2:{s:6:"method";s:6:"checkm";s:4:"paid";b:1;}`, `a:1:{i:0;s:3:"one";}`, nil}
	notes    = []any{nil, "leave at the door 🚪", "Geschenk 🎁, bitte einpacken"}
)

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
		w.changes++
	}
}

// init makes new rows follow the seeded ones.
func (w *writer) init(ctx context.Context) error {
	return w.db.QueryRowContext(ctx, `SELECT
		(SELECT COALESCE(MAX(entity_id), 0) + 1 FROM sales_flat_order),
		(SELECT COALESCE(MAX(entity_id), 0) + 1 FROM customer_entity),
		(SELECT COALESCE(MAX(entity_id), 0) + 1 FROM catalog_product)`).Scan(&w.nextOrder, &w.nextCustomer, &w.nextProduct)
}

// ip is IPv4 text, or NULL now and then.
func (w *writer) ip() any {
	if w.rng.IntN(8) == 0 {
		return nil
	}
	return fmt.Sprintf("%d.%d.%d.%d", 1+w.rng.IntN(223), w.rng.IntN(256), w.rng.IntN(256), 1+w.rng.IntN(254))
}

func (w *writer) once(ctx context.Context) error {
	r := w.rng
	pick := func(xs []any) any { return xs[r.IntN(len(xs))] }
	order := 1 + r.IntN(w.nextOrder-1) // an existing order, most of the time
	var q string
	var args []any
	switch k := r.IntN(20); {
	case k < 6: // a new order
		id := w.nextOrder
		w.nextOrder++
		q = `INSERT INTO sales_flat_order VALUES (?, ?, 'pending', ?, ?, ?, UNIX_TIMESTAMP(), ?, ?, ?)`
		args = []any{id, fmt.Sprint(200000 + id), fmt.Sprintf("Buyer%d@Shop.Example.COM", id),
			float64(r.IntN(100000)) / 100, w.ip(), pick(notes), pick(payments), r.IntN(2)}
	case k < 11: // an order moves on
		q = `UPDATE sales_flat_order SET status = ?, customer_email = ?, remote_ip = ?, payment_info = ? WHERE entity_id = ?`
		args = []any{statuses[r.IntN(len(statuses))], fmt.Sprintf("Updated%d@EXAMPLE.org", r.IntN(1000)), w.ip(), pick(payments), order}
	case k < 12: // an order is deleted
		q, args = "DELETE FROM sales_flat_order WHERE entity_id = ?", []any{order}
	case k < 14: // a customer edits their account
		q = "UPDATE customer_entity SET lastname = ?, email = ?, created_at = created_at + INTERVAL 1 MINUTE WHERE entity_id = ?"
		args = []any{[]string{"Nguyễn 🐉", "Müller", "Żółć 🌻"}[r.IntN(3)], fmt.Sprintf("Me%d@Mail.Example", r.IntN(1000)), 1 + r.IntN(w.nextCustomer-1)}
	case k < 15: // a new customer
		id := w.nextCustomer
		w.nextCustomer++
		q = "INSERT INTO customer_entity VALUES (?, ?, 'New', 'Customer ✨', NOW(), SHA2(?, 256))"
		args = []any{id, fmt.Sprintf("New%d@Example.com", id), fmt.Sprint("pw", id)}
	case k < 16: // a customer is removed
		q, args = "DELETE FROM customer_entity WHERE entity_id = ?", []any{1 + r.IntN(w.nextCustomer-1)}
	case k < 18: // price and weight changes
		q = "UPDATE catalog_product SET price = price + ?, weight = ? WHERE entity_id = ?"
		args = []any{float64(r.IntN(201)-100) / 100, float64(r.IntN(10000)) / 1000, 1 + r.IntN(w.nextProduct-1)}
	case k < 19: // a new product
		id := w.nextProduct
		w.nextProduct++
		q, args = "INSERT INTO catalog_product VALUES (?, ?, ?, ?)", []any{id, fmt.Sprint("SKU-NEW-", id), float64(100+r.IntN(10000)) / 100, nil}
	default: // a product is removed
		q, args = "DELETE FROM catalog_product WHERE entity_id = ?", []any{1 + r.IntN(w.nextProduct-1)}
	}
	_, err := w.db.ExecContext(ctx, q, args...)
	return err
}

// progress prints one line: the order counts on both sides and the newest
// order on the destination next to its source row, showing the map at work.
func progress(ctx context.Context, srcDB, dstDB *sql.DB, label string) {
	var srcN, dstN, newest int64
	if err := srcDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM sales_flat_order").Scan(&srcN); err != nil {
		fmt.Println("  source:", err)
		return
	}
	if err := dstDB.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(MAX(entity_id), 0) FROM sales_order").Scan(&dstN, &newest); err != nil {
		fmt.Println("  destination:", err)
		return
	}
	const cols = "status, customer_email, remote_ip, payment_info"
	var s, d [4]sql.NullString
	sample := fmt.Sprintf("#%d ", newest)
	err := dstDB.QueryRowContext(ctx, "SELECT "+cols+" FROM sales_order WHERE entity_id = ?", newest).Scan(&d[0], &d[1], &d[2], &d[3])
	if err == nil {
		err = srcDB.QueryRowContext(ctx, "SELECT "+cols+" FROM sales_flat_order WHERE entity_id = ?", newest).Scan(&s[0], &s[1], &s[2], &s[3])
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		sample += "(deleted on the source since)"
	case err != nil:
		sample += err.Error()
	default:
		var parts []string
		for i := range s {
			parts = append(parts, text(s[i])+" → "+text(d[i]))
		}
		sample += strings.Join(parts, ", ")
	}
	fmt.Printf("  %s  sales_flat_order=%d sales_order=%d  %s\n", label, srcN, dstN, sample)
}

func text(v sql.NullString) string {
	if !v.Valid {
		return "NULL"
	}
	return v.String
}

// waitInStep polls until every destination table equals the source transformed
// by the map, or the deadline passes, or one of the background commands exits.
func waitInStep(ctx context.Context, srcDB, dstDB *sql.DB, bg []*background, limit time.Duration) (int, error) {
	deadline := time.Now().Add(limit)
	last := time.Now()
	for {
		diff, err := compare(ctx, srcDB, dstDB)
		if err == nil && len(diff) == 0 {
			return len(testenv.MagentoLikeExpected), nil
		}
		if err != nil {
			diff = []string{err.Error()}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("not in step after %s: %s", limit, strings.Join(diff, "; "))
		}
		if time.Since(last) >= time.Second {
			last = time.Now()
			fmt.Println("  differs:", strings.Join(diff, "; "))
		}
		for _, p := range bg {
			if ok, err := p.running(); !ok {
				return 0, fmt.Errorf("before catching up: %w", err)
			}
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// compare runs the testenv.MagentoLikeExpected queries and describes each table that differs.
func compare(ctx context.Context, srcDB, dstDB *sql.DB) ([]string, error) {
	var diff []string
	for _, x := range testenv.MagentoLikeExpected {
		want, err := testenv.SortedRows(ctx, srcDB, x.Source)
		if err != nil {
			return nil, fmt.Errorf("source, expected %s: %w", x.Name, err)
		}
		got, err := testenv.SortedRows(ctx, dstDB, x.Dest)
		if err != nil {
			return nil, fmt.Errorf("destination %s: %w", x.Name, err)
		}
		if d := firstDifference(want, got); d != "" {
			diff = append(diff, x.Name+": "+d)
		}
	}
	return diff, nil
}

func firstDifference(want, got []string) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d expected rows, destination has %d", len(want), len(got))
	}
	for i := range want {
		if want[i] != got[i] {
			return fmt.Sprintf("want %s, got %s", want[i], got[i])
		}
	}
	return ""
}

// rowCounts returns "table=N ..." for the tables given.
func rowCounts(ctx context.Context, db *sql.DB, tables ...string) (string, error) {
	var parts []string
	for _, t := range tables {
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM `"+t+"`").Scan(&n); err != nil {
			return "", err
		}
		parts = append(parts, fmt.Sprintf("%s=%d", t, n))
	}
	return strings.Join(parts, " "), nil
}
