// Command bench measures shiplog against the usual tools on local MariaDB servers:
//
//	snapshot:  mariadb-dump | mariadb, mydumper --rows + myloader, shiplog migrate data,
//	           each into a fresh destination server of its own
//	catch-up:  MariaDB replication (one SQL thread, and parallel: 4 threads,
//	           optimistic), shiplog migrate delta --exit-when-caught-up
//	triggers:  shiplog's change-log triggers (delta.source: triggers): the source's
//	           write throughput with them, and migrate delta from the change logs
//	via Kafka: sink: kafka to an in-process Kafka broker (franz-go's kfake), then
//	           apply --from-kafka: binlog -> Kafka and Kafka -> MySQL, each timed
//
// It starts a source (binlog ROW/FULL), a destination and two replicas, prepares
// sysbench tables on the source, copies them with each tool, then runs a sysbench
// write burst on the source while nothing reads and times how long each reader
// needs to apply it. Last (unless -triggers=false), shiplog migrate data copies
// the tables again with delta.source: triggers, which installs change-log
// triggers on the source tables; the same burst runs again with the triggers in
// place, migrate delta applies the change logs, and deltalog uninstall removes
// the triggers and logs. Then (unless -kafka=false) a Kafka broker starts in
// the bench process; shiplog migrate data with sink: kafka publishes the tables
// and apply --from-kafka applies them to a fresh database; a burst with the same
// seconds, threads and seed as the first runs again, and the two halves of the
// Kafka path are timed apart: migrate delta --exit-when-caught-up publishing the
// burst (binlog -> Kafka), then apply --from-kafka --exit-when-caught-up
// applying it (Kafka -> MySQL).
//
//	go run ./internal/bench                       (or: make bench; 1,000,000 rows)
//	go run ./internal/bench -rows 20000 -burst-seconds 5
//	go run ./internal/bench -hugetx-rows 2000000   (only: one 2M-row UPDATE, peak RSS of migrate delta)
//	go run ./internal/bench -magento-rows 100000   (only: the Map step with the stock handlers vs the identity copy)
//	go run ./internal/bench -store-only -store-products 10000 -store-customers 5000 -store-orders 20000
//	                                               (only: the Magento store section, at a tenth of its size)
//	go run ./internal/bench -copy-only -tables 1 -rows 10000000
//	                                               (only: the snapshot of one 10M-row table, mydumper --rows + myloader
//	                                                against migrate data, each into a fresh server; copyonly.go)
//
// Last (unless -store=false), the Magento store section (store.go): a
// generated Magento 1.9 store migrated with the stock config.xml, every
// step, against the identity copy of the same rows, each on its own servers.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/shiplog/shiplog/internal/testenv"
	"github.com/shiplog/shiplog/rowio"
)

const srcDBName = "sbtest"

type flags struct {
	rows, tables, burstSeconds, burstThreads, threads int
	shiplog, profile                                  string
	keep, triggers, kafka                             bool
	lagRate, lagSeconds, scaleRows, workers           int
	hugeTxRows, magentoRows                           int
	hugeTxWhole                                       bool
	store, storeOnly                                  bool
	storeProducts, storeCustomers, storeOrders        int
	copyOnly                                          bool
	copyRuns, mydumperRows                            int
	shiplogBefore                                     string
}

// result is one line of the final table.
type result struct {
	group   string // "snapshot" or "catch-up"
	tool    string
	seconds float64
	work    float64 // rows or row changes handled
	unit    string  // "rows/s" or "changes/s"
	rssKB   int64   // peak RSS of the tool's own processes; 0 if unknown
	cpu     float64 // CPU seconds of the tool's own processes; 0 if unknown
	srcCPU  float64 // CPU seconds the source MariaDB server used meanwhile
	dstCPU  float64 // CPU seconds the destination and replica servers used meanwhile
	err     error
	skipped string
}

func main() {
	var f flags
	flag.IntVar(&f.rows, "rows", 1_000_000, "sysbench rows in all, split over -tables")
	flag.IntVar(&f.tables, "tables", 4, "sysbench tables")
	flag.IntVar(&f.burstSeconds, "burst-seconds", 20, "length of the sysbench oltp_write_only burst")
	flag.IntVar(&f.burstThreads, "burst-threads", 4, "sysbench threads during the burst")
	flag.IntVar(&f.threads, "threads", 2, "threads for sysbench prepare, mydumper and myloader")
	flag.StringVar(&f.shiplog, "shiplog", "", "shiplog binary (default: build ./cmd/shiplog into the work folder)")
	flag.IntVar(&f.workers, "workers", 2, "shiplog's options.workers (tables copied at once)")
	flag.IntVar(&f.lagRate, "lag-rate", 1000, "sysbench transactions/s of the sustained-rate lag run (0 skips it)")
	flag.IntVar(&f.lagSeconds, "lag-seconds", 30, "length of the sustained-rate lag run")
	flag.IntVar(&f.scaleRows, "scale-rows", 4_000_000, "rows of the peak-RSS check at a larger size (0 skips it)")
	flag.StringVar(&f.profile, "profile", "", "write pprof CPU and allocation profiles of each shiplog run into this folder (<log>.cpu.pprof, <log>.mem.pprof)")
	flag.BoolVar(&f.keep, "keep", false, "keep the work folder (dumps, configs, logs)")
	flag.BoolVar(&f.triggers, "triggers", true, "also measure delta.source: triggers (source write throughput with the change-log triggers, delta from the change logs)")
	flag.BoolVar(&f.kafka, "kafka", true, "also measure the Kafka path (binlog -> Kafka -> MySQL) through an in-process Kafka broker")
	flag.IntVar(&f.hugeTxRows, "hugetx-rows", 0, "run only the huge-transaction scenario: one UPDATE of this many rows applied by migrate delta, its peak RSS against the 250 MiB target")
	flag.BoolVar(&f.hugeTxWhole, "hugetx-whole", false, "with -hugetx-rows: also measure the transaction held whole, for comparison")
	flag.IntVar(&f.magentoRows, "magento-rows", 0, "run only the Map-step scenario: this many rows in each of 4 handler-heavy tables of the real Magento 1 schema, migrated with the stock config.xml and its handlers, against the identity copy of the same rows")
	flag.BoolVar(&f.store, "store", true, "also run the Magento store section: a generated store migrated with the stock config.xml (every step), against the identity copy of the same rows")
	flag.BoolVar(&f.storeOnly, "store-only", false, "run only the Magento store section")
	flag.IntVar(&f.storeProducts, "store-products", 100_000, "products of the Magento store section's generated store")
	flag.IntVar(&f.storeCustomers, "store-customers", 50_000, "customers of the Magento store section's generated store")
	flag.IntVar(&f.storeOrders, "store-orders", 200_000, "orders of the Magento store section's generated store (with invoices, shipments, credit memos)")
	flag.BoolVar(&f.copyOnly, "copy-only", false, "run only the snapshot: mydumper --rows + myloader against shiplog migrate data, each into a fresh destination server (with -tables 1: one large table)")
	flag.StringVar(&f.shiplogBefore, "shiplog-before", "", "with -copy-only: also run this shiplog binary after each shiplog run (a before/after pair under the same load)")
	flag.IntVar(&f.copyRuns, "copy-runs", 1, "with -copy-only: runs of each tool, in turn")
	flag.IntVar(&f.mydumperRows, "mydumper-rows", 50_000, "mydumper --rows (row chunks, so myloader loads one table in parallel)")
	flag.Parse()
	if f.rows < f.tables || f.tables < 1 || f.burstSeconds < 1 || f.mydumperRows < 1 {
		fmt.Fprintln(os.Stderr, "bench: need -tables >= 1, -rows >= -tables, -burst-seconds >= 1 and -mydumper-rows >= 1")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.copyOnly {
		results, notes, err := runCopyOnly(ctx, f)
		if len(results) > 0 {
			printTable(os.Stdout, results, notes)
			printTargets(os.Stdout, "Targets (issue 17, copy only)", copyOnlyTargets(results, f.tables))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench failed:", err)
			os.Exit(1)
		}
		return
	}
	if f.hugeTxRows > 0 {
		results, err := runHugeTx(ctx, f)
		if len(results) > 0 {
			printTable(os.Stdout, results, nil)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench failed:", err)
			os.Exit(1)
		}
		return
	}
	if f.magentoRows > 0 {
		results, notes, err := runMagento(ctx, f)
		if len(results) > 0 {
			printTable(os.Stdout, results, notes)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench failed:", err)
			os.Exit(1)
		}
		return
	}
	if f.storeOnly {
		f.store = true
	} else {
		results, notes, lag, err := run(ctx, f)
		if len(results) > 0 {
			printTable(os.Stdout, results, notes)
			printTargets(os.Stdout, "Targets (issue 17: copy, catch-up, peak RSS; issue 7: lag, map overhead)", targets(results, lag))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench failed:", err)
			os.Exit(1)
		}
	}
	if f.store {
		results, notes, err := runStore(ctx, f)
		if len(results) > 0 {
			printTable(os.Stdout, results, notes)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench failed (Magento store):", err)
			os.Exit(1)
		}
	}
}

type bench struct {
	flags
	work                string
	root                string
	src, dst, replica   *testenv.MariaDB
	srcDB, dstDB, repDB *sql.DB
	parReplica          *testenv.MariaDB // the parallel replication baseline
	parDB               *sql.DB
	shiplogErr          error // why shiplog cannot run, once known
}

// run returns the results, lines to print under the table, and the first
// error that stopped it (or that some step failed).
func run(ctx context.Context, f flags) (results []result, notes []string, lag *lagStats, err error) {
	for _, tool := range []string{"sysbench", "mariadb-dump", "mariadb"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, nil, nil, fmt.Errorf("%s not found; as root: apt-get install -y --no-install-recommends mariadb-server mariadb-client sysbench mydumper", tool)
		}
	}
	if err := testenv.Available(); err != nil {
		return nil, nil, nil, err
	}
	b := &bench{flags: f}
	if b.root, err = testenv.ModuleRoot(); err != nil {
		return nil, nil, nil, err
	}
	if b.work, err = os.MkdirTemp("", "shiplog-bench-"); err != nil {
		return nil, nil, nil, err
	}
	if f.keep {
		fmt.Println("work folder:", b.work)
	} else {
		defer os.RemoveAll(b.work)
	}

	step("starting source (binlog ROW/FULL), shiplog's destination, a replica and a parallel replica")
	if b.src, err = testenv.StartMariaDB(ctx, testenv.Options{Binlog: true, ServerID: 1}); err != nil {
		return nil, nil, nil, fmt.Errorf("source: %w", err)
	}
	defer b.src.Stop()
	if b.dst, err = testenv.StartMariaDB(ctx, testenv.Options{ServerID: 2}); err != nil {
		return nil, nil, nil, fmt.Errorf("destination: %w", err)
	}
	defer b.dst.Stop()
	if b.replica, err = testenv.StartMariaDB(ctx, testenv.Options{ServerID: 3}); err != nil {
		return nil, nil, nil, fmt.Errorf("replica: %w", err)
	}
	defer b.replica.Stop()
	if b.parReplica, err = testenv.StartMariaDB(ctx, testenv.Options{ServerID: 4, ExtraArgs: parallelReplicaArgs}); err != nil {
		return nil, nil, nil, fmt.Errorf("parallel replica: %w", err)
	}
	defer b.parReplica.Stop()
	for _, p := range []struct {
		m  *testenv.MariaDB
		db **sql.DB
	}{{b.src, &b.srcDB}, {b.dst, &b.dstDB}, {b.replica, &b.repDB}, {b.parReplica, &b.parDB}} {
		if *p.db, err = p.m.Open(""); err != nil {
			return nil, nil, nil, err
		}
		defer (*p.db).Close()
	}

	perTable := f.rows / f.tables
	rows := float64(perTable * f.tables)
	step(fmt.Sprintf("sysbench prepare: %d tables x %d rows", f.tables, perTable))
	if err := b.src.Exec(ctx, "", "CREATE DATABASE "+srcDBName); err != nil {
		return nil, nil, nil, err
	}
	start := time.Now()
	if _, err := b.sysbench(ctx, "prepare", f.threads); err != nil {
		return nil, nil, nil, err
	}
	fmt.Printf("  prepared in %.1fs\n", time.Since(start).Seconds())
	// Probe rows of the lag measurement (h) go to a table of their own.
	if err := b.src.Exec(ctx, srcDBName, "CREATE TABLE lagprobe (id BIGINT PRIMARY KEY, sent_us BIGINT NOT NULL)"); err != nil {
		return nil, nil, nil, err
	}

	// notes are lines under the table.
	add := func(r result) {
		results = append(results, r)
		switch {
		case r.skipped != "":
			fmt.Printf("  %s: skipped (%s)\n", r.tool, r.skipped)
		case r.err != nil:
			fmt.Printf("  %s: FAILED: %v\n", r.tool, r.err)
		default:
			fmt.Printf("  %s: %.2fs, %.0f %s, peak RSS %s\n", r.tool, r.seconds, r.work/r.seconds, r.unit, formatKB(r.rssKB))
		}
	}

	// Each snapshot tool loads into a fresh destination server of its own,
	// the same table definitions (the source's), checked against the source
	// before the server goes: none pays for another's background flushing.
	// shiplog's destination b.dst is fresh too: nothing loads into it first.
	// (a) mariadb-dump | mariadb, keeping a copy of the dump to seed the replicas.
	step("(a) mariadb-dump --single-transaction | mariadb, into a fresh destination server")
	dumpFile := filepath.Join(b.work, "dump.sql")
	r := b.onFreshDestination(ctx, "mariadb-dump | mariadb", "bench_dump", func() result {
		r := b.dumpPipe(ctx, "bench_dump", dumpFile)
		r.work = rows
		return r
	})
	add(r)
	if r.err != nil {
		return results, notes, lag, r.err
	}

	// (b) mydumper + myloader, row-chunked.
	loaderOpts, loaderNote := b.myloaderOptions(ctx)
	mydumperName := mydumperTool(f.threads, f.mydumperRows, loaderOpts)
	step("(b) " + mydumperName + ", into a fresh destination server")
	fmt.Println("  " + loaderNote)
	notes = append(notes, loaderNote)
	add(b.onFreshDestination(ctx, mydumperName, mydumperDB, func() result { return b.mydumperChunked(ctx, rows, loaderOpts) }))

	// (c) shiplog migrate data.
	step("(c) shiplog migrate data, into its own fresh destination server")
	add(b.servers(func() result { return b.shiplogData(ctx, rows) }))
	step("checking shiplog's copy (CHECKSUM TABLE, table definitions) against the source")
	if verr := b.verify(ctx, []target{{"shiplog", b.dstDB, shiplogDB}}); verr != nil {
		results = failed(results, "shiplog migrate data", verr)
	}

	step("(c') shiplog migrate data through a map of 3 handlers (expression, hash, prefix) on every table")
	add(b.servers(func() result { return b.mapData(ctx, rows) }))

	// (d) A write burst, then native replication catching up from before it:
	// one SQL thread, and parallel replication on a server of its own.
	step("(d) native replication: two replicas seeded from the dump, CHANGE MASTER to the position before the burst")
	parSettings, err := b.parallelReplicaSettings(ctx)
	if err != nil {
		return results, notes, lag, err
	}
	fmt.Println("  parallel replica: " + parSettings)
	notes = append(notes, "MariaDB parallel replication: "+parSettings+", on a replica of its own")
	file, pos, err := masterStatus(ctx, b.srcDB)
	if err != nil {
		return results, notes, lag, err
	}
	fmt.Printf("  source position before the burst: %s:%d\n", file, pos)
	for _, rep := range []struct {
		name string
		m    *testenv.MariaDB
		db   *sql.DB
	}{{"replica", b.replica, b.repDB}, {"parallel replica", b.parReplica, b.parDB}} {
		if err := rep.m.Exec(ctx, "", "CREATE DATABASE "+srcDBName); err != nil {
			return results, notes, lag, err
		}
		if err := loadFile(ctx, rep.m, srcDBName, dumpFile); err != nil {
			return results, notes, lag, fmt.Errorf("seed %s: %w", rep.name, err)
		}
		if _, err := rep.db.ExecContext(ctx, fmt.Sprintf(
			"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='root', MASTER_PASSWORD='', MASTER_LOG_FILE='%s', MASTER_LOG_POS=%d",
			b.src.Port, file, pos)); err != nil {
			return results, notes, lag, fmt.Errorf("%s: CHANGE MASTER TO: %w", rep.name, err)
		}
	}

	step(fmt.Sprintf("sysbench oltp_write_only burst: %ds, %d threads, nothing reading", f.burstSeconds, f.burstThreads))
	out, err := b.sysbench(ctx, "run", f.burstThreads)
	if err != nil {
		return results, notes, lag, err
	}
	changes, txns, tps := parseSysbench(out)
	headFile, headPos, err := masterStatus(ctx, b.srcDB)
	if err != nil {
		return results, notes, lag, err
	}
	fmt.Printf("  %d transactions (%.0f tps), %d row changes; source head %s:%d\n", txns, tps, changes, headFile, headPos)

	step("(d) MariaDB replication, one SQL thread: START SLAVE until the source's head")
	add(b.servers(func() result {
		return b.replicate(ctx, b.repDB, "MariaDB replication (1 SQL thread)", headFile, headPos, float64(changes))
	}))
	step("(d') MariaDB parallel replication (4 threads, optimistic): START SLAVE until the source's head")
	add(b.servers(func() result {
		return b.replicate(ctx, b.parDB, "MariaDB parallel replication (4 threads, optimistic)", headFile, headPos, float64(changes))
	}))
	if n, rerr := b.retriedTransactions(ctx); rerr == nil {
		note := fmt.Sprintf("MariaDB parallel replication retried %d of %d transactions (optimistic mode's conflicts)", n, txns)
		fmt.Println("  " + note)
		notes = append(notes, note)
	}

	// (e) shiplog migrate delta from its checkpoint (before the burst).
	step("(e) shiplog migrate delta --exit-when-caught-up")
	add(b.servers(func() result { return b.shiplogDelta(ctx, float64(changes)) }))

	step("(e') shiplog migrate delta --exit-when-caught-up through the map of 3 handlers")
	add(b.servers(func() result { return b.mapDelta(ctx, float64(changes)) }))

	step("checking the caught-up copies (CHECKSUM TABLE) against the source")
	for _, t := range []struct {
		tool string
		t    target
	}{
		{"MariaDB replication (1 SQL thread)", target{"replica", b.repDB, srcDBName}},
		{"MariaDB parallel replication", target{"parallel replica", b.parDB, srcDBName}},
		{"shiplog migrate delta", target{"shiplog", b.dstDB, shiplogDB}},
	} {
		if verr := b.verify(ctx, []target{t.t}); verr != nil {
			results = failed(results, t.tool, verr)
		}
	}
	step("checking the copy through the map: shiplog verify")
	if note, err := b.mapVerify(ctx); err != nil {
		fmt.Printf("  FAILED: %v\n", err)
		notes = append(notes, err.Error())
		results = append(results, result{group: "catch-up", tool: "shiplog verify through the map", err: err})
	} else {
		fmt.Println("  " + note)
		notes = append(notes, note)
	}

	// (h) Replication lag at a sustained rate, shiplog streaming.
	if f.lagRate > 0 {
		step(fmt.Sprintf("(h) lag: shiplog migrate delta streaming while sysbench runs at %d tps for %ds, probe rows every 20 ms", f.lagRate, f.lagSeconds))
		st, err := b.lagRun(ctx, f.lagRate, f.lagSeconds)
		if err != nil {
			fmt.Printf("  FAILED: %v\n", err)
			results = append(results, result{group: "lag", tool: "shiplog lag run", err: err})
		} else {
			lag = &st
			note := fmt.Sprintf("lag at %.0f tps (sysbench --rate=%d, %ds): p50 %s, p99 %s, max %s over %d probes (%d missed); delta daemon peak RSS %s",
				st.tps, st.rateWant, st.seconds, ms(st.p50), ms(st.p99), ms(st.max), st.probes, st.missed, formatKB(st.rssKB))
			fmt.Println("  " + note)
			notes = append(notes, note)
		}
	}

	// (f) The same burst with shiplog's change-log triggers on the source
	// tables, then shiplog migrate delta from the change logs.
	if f.triggers {
		step("(f) change-log triggers: shiplog migrate data with delta.source: triggers (installs the triggers)")
		r, note, err := b.triggers(ctx, tps)
		add(r)
		if note != "" {
			notes = append(notes, note)
		}
		if err != nil {
			return results, notes, lag, err
		}
	}

	// (g) The changes through Kafka: a new burst like (d)'s, published from
	// the binlog, then applied from the topics.
	if f.kafka {
		step("(g) via Kafka: a Kafka broker (kfake) in this process, shiplog migrate data with sink: kafka")
		kr, note, err := b.viaKafka(ctx)
		for _, r := range kr {
			add(r)
		}
		if note != "" {
			notes = append(notes, note)
		}
		if err != nil {
			return results, notes, lag, err
		}
		results = besideDelta(results, len(kr))
	}
	// (j) Peak RSS at a larger size.
	if f.scaleRows > 0 {
		step(fmt.Sprintf("(j) scale: %d rows in %d tables, shiplog migrate data, a %ds burst, shiplog migrate delta", f.scaleRows, f.tables, f.burstSeconds))
		d, c, err := b.scaleRun(ctx, f.scaleRows)
		add(d)
		if c.seconds > 0 || c.err != nil {
			add(c)
		}
		if err != nil {
			return results, notes, lag, err
		}
	}
	for _, r := range results {
		if r.err != nil {
			return results, notes, lag, errors.New("some steps failed (see above)")
		}
	}
	return results, notes, lag, nil
}

func step(s string) { fmt.Printf("\n== %s\n", s) }

func (b *bench) sysbench(ctx context.Context, command string, threads int) (string, error) {
	o := sbRun{db: srcDBName, tableSize: b.rows / b.tables, threads: threads, command: command}
	if command == "run" {
		o.seconds = b.burstSeconds
	}
	return b.sysbenchWith(ctx, o)
}

// sbRun is one sysbench oltp_write_only command.
type sbRun struct {
	db                 string
	tableSize, threads int
	command            string
	seconds            int // run: its length
	rate               int // run: transactions per second (0: as fast as it goes)
}

func (b *bench) sysbenchWith(ctx context.Context, o sbRun) (string, error) {
	args := []string{"oltp_write_only", "--db-driver=mysql", "--mysql-host=127.0.0.1",
		"--mysql-port=" + strconv.Itoa(b.src.Port), "--mysql-user=root", "--mysql-password=",
		"--mysql-db=" + o.db, "--tables=" + strconv.Itoa(b.tables),
		"--table-size=" + strconv.Itoa(o.tableSize), "--threads=" + strconv.Itoa(o.threads)}
	if o.command == "run" {
		args = append(args, "--time="+strconv.Itoa(o.seconds), "--report-interval=5", "--rand-seed=1")
		if o.rate > 0 {
			args = append(args, "--rate="+strconv.Itoa(o.rate))
		}
	}
	args = append(args, o.command)
	cmd := exec.CommandContext(ctx, "sysbench", args...)
	var out strings.Builder
	cmd.Stdout = io.MultiWriter(&out, prefixWriter(os.Stdout, "  sysbench| ", o.command == "run"))
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("sysbench %s: %v\n%s", o.command, err, lastLines(out.String(), 10))
	}
	return out.String(), nil
}

var (
	reWrites = regexp.MustCompile(`(?m)^\s*write:\s+(\d+)`)
	reTxns   = regexp.MustCompile(`(?m)^\s*transactions:\s+(\d+)\s+\(([0-9.]+) per sec`)
)

func parseSysbench(out string) (writes, txns int64, tps float64) {
	if m := reWrites.FindStringSubmatch(out); m != nil {
		writes, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := reTxns.FindStringSubmatch(out); m != nil {
		txns, _ = strconv.ParseInt(m[1], 10, 64)
		tps, _ = strconv.ParseFloat(m[2], 64)
	}
	return writes, txns, tps
}

func clientArgs(m *testenv.MariaDB) []string {
	return []string{"-h127.0.0.1", "-P" + strconv.Itoa(m.Port), "-uroot"}
}

// dumpPipe times mariadb-dump piped into mariadb on the destination, while
// writing a copy of the dump to keep (for the replica).
func (b *bench) dumpPipe(ctx context.Context, dstDB, keepFile string) result {
	r := result{group: "snapshot", tool: "mariadb-dump | mariadb", unit: "rows/s"}
	if r.err = b.dst.Exec(ctx, "", "CREATE DATABASE "+dstDB); r.err != nil {
		return r
	}
	copyFile, err := os.Create(keepFile)
	if err != nil {
		r.err = err
		return r
	}
	defer copyFile.Close()
	dump := exec.CommandContext(ctx, "mariadb-dump", append(clientArgs(b.src), "--single-transaction", srcDBName)...)
	load := exec.CommandContext(ctx, "mariadb", append(clientArgs(b.dst), dstDB)...)
	var dumpErr, loadErr strings.Builder
	dump.Stderr, load.Stderr = &dumpErr, &loadErr
	dumpOut, err := dump.StdoutPipe()
	if err != nil {
		r.err = err
		return r
	}
	loadIn, err := load.StdinPipe()
	if err != nil {
		r.err = err
		return r
	}
	start := time.Now()
	if err := load.Start(); err != nil {
		r.err = err
		return r
	}
	loadHWM := watchHWM(load.Process.Pid)
	if err := dump.Start(); err != nil {
		loadIn.Close()
		_ = load.Wait()
		loadHWM()
		r.err = err
		return r
	}
	dumpHWM := watchHWM(dump.Process.Pid)
	_, copyErr := io.Copy(io.MultiWriter(loadIn, copyFile), dumpOut)
	loadIn.Close()
	dErr, lErr := dump.Wait(), load.Wait()
	r.seconds = time.Since(start).Seconds()
	r.rssKB = max(dumpHWM(), loadHWM())
	r.cpu = cpuOf(dump.ProcessState) + cpuOf(load.ProcessState)
	switch {
	case dErr != nil:
		r.err = fmt.Errorf("mariadb-dump: %v: %s", dErr, lastLines(dumpErr.String(), 5))
	case lErr != nil:
		r.err = fmt.Errorf("mariadb: %v: %s", lErr, lastLines(loadErr.String(), 5))
	case copyErr != nil:
		r.err = copyErr
	}
	return r
}

func loadFile(ctx context.Context, m *testenv.MariaDB, db, file string) error {
	in, err := os.Open(file)
	if err != nil {
		return err
	}
	defer in.Close()
	cmd := exec.CommandContext(ctx, "mariadb", append(clientArgs(m), db)...)
	cmd.Stdin = in
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mariadb < %s: %v: %s", filepath.Base(file), err, lastLines(string(out), 5))
	}
	return nil
}

// replicate starts the threads of the replica rep and times them reaching
// the source's head; tool names the result.
func (b *bench) replicate(ctx context.Context, rep *sql.DB, tool, headFile string, headPos int64, changes float64) result {
	r := result{group: "catch-up", tool: tool, unit: "changes/s", work: changes}
	start := time.Now()
	if _, r.err = rep.ExecContext(ctx, "START SLAVE"); r.err != nil {
		return r
	}
	deadline := start.Add(30 * time.Minute)
	for {
		st, err := slaveStatus(ctx, rep)
		if err != nil {
			r.err = err
			return r
		}
		if st["Last_SQL_Error"] != "" || st["Last_IO_Error"] != "" {
			r.err = fmt.Errorf("replica: %s%s", st["Last_IO_Error"], st["Last_SQL_Error"])
			return r
		}
		pos, _ := strconv.ParseInt(st["Exec_Master_Log_Pos"], 10, 64)
		if st["Relay_Master_Log_File"] == headFile && pos >= headPos {
			break
		}
		if time.Now().After(deadline) {
			r.err = fmt.Errorf("replica not caught up after 30 minutes (at %s:%d)", st["Relay_Master_Log_File"], pos)
			return r
		}
		select {
		case <-ctx.Done():
			r.err = ctx.Err()
			return r
		case <-time.After(20 * time.Millisecond):
		}
	}
	r.seconds = time.Since(start).Seconds()
	_, _ = rep.ExecContext(ctx, "STOP SLAVE")
	return r
}

// servers runs a job and sets its srcCPU and dstCPU: the CPU time the
// source, and the destination and replica servers, used meanwhile (the
// servers not in the job are idle).
func (b *bench) servers(job func() result) result {
	cpu := func(ms ...*testenv.MariaDB) float64 {
		var sum float64
		for _, m := range ms {
			if m == nil { // -copy-only has no replicas
				continue
			}
			if s, err := m.CPUSeconds(); err == nil {
				sum += s
			}
		}
		return sum
	}
	src, dst := cpu(b.src), cpu(b.dst, b.replica, b.parReplica)
	r := job()
	r.srcCPU, r.dstCPU = cpu(b.src)-src, cpu(b.dst, b.replica, b.parReplica)-dst
	return r
}

// cpuOf is the user + system CPU seconds of an exited process.
func cpuOf(ps *os.ProcessState) float64 {
	if ps == nil {
		return 0
	}
	return (ps.UserTime() + ps.SystemTime()).Seconds()
}

// shiplog runs one shiplog command, returning its time and peak RSS.
func (b *bench) runShiplog(ctx context.Context, cfg, logName string, args ...string) (secs float64, rssKB int64, cpu float64, err error) {
	if b.shiplogErr != nil {
		return 0, 0, 0, b.shiplogErr
	}
	if b.shiplog == "" {
		bin := filepath.Join(b.work, "shiplog")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/shiplog")
		build.Dir = b.root
		if out, err := build.CombinedOutput(); err != nil {
			b.shiplogErr = fmt.Errorf("cannot build ./cmd/shiplog: %v: %s", err, lastLines(string(out), 5))
			return 0, 0, 0, b.shiplogErr
		}
		b.shiplog = bin
	}
	logFile := filepath.Join(b.work, logName)
	out, err := os.Create(logFile)
	if err != nil {
		return 0, 0, 0, err
	}
	defer out.Close()
	pre := []string{"--config", cfg}
	if b.profile != "" {
		base := filepath.Join(b.profile, strings.TrimSuffix(logName, ".log"))
		pre = append(pre, "--cpuprofile", base+".cpu.pprof", "--memprofile", base+".mem.pprof")
	}
	cmd := exec.CommandContext(ctx, b.shiplog, append(pre, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	if err = cmd.Start(); err != nil {
		return 0, 0, 0, err
	}
	// Not ru_maxrss: the bench process's peak, which holds the in-process
	// Kafka broker, would count in it.
	hwm := watchHWM(cmd.Process.Pid)
	err = cmd.Wait()
	secs = time.Since(start).Seconds()
	rssKB = hwm()
	cpu = cpuOf(cmd.ProcessState)
	if err != nil {
		log, _ := os.ReadFile(logFile)
		return secs, rssKB, cpu, fmt.Errorf("shiplog %s: %v: %s", strings.Join(args, " "), err, lastLines(string(log), 8))
	}
	return secs, rssKB, cpu, nil
}

const shiplogDB = "bench_shiplog"

// databasesYAML is the start of a bench configuration: the source (database
// srcDB, replica server_id serverID unless 0) and the destination (database
// dstDB) sections.
func (b *bench) databasesYAML(srcDB string, serverID int, dstDB string) string {
	id := ""
	if serverID != 0 {
		id = fmt.Sprintf("  server_id: %d\n", serverID)
	}
	return fmt.Sprintf(`# written by internal/bench
source:
  host: 127.0.0.1
  port: %d
  user: root
  password: ""
  database: %s
%sdestination:
  host: 127.0.0.1
  port: %d
  user: root
  password: ""
  database: %s
`, b.src.Port, srcDB, id, b.dst.Port, dstDB)
}

func (b *bench) shiplogConfig() (string, error) {
	return b.shiplogConfigFor("shiplog.yaml", srcDBName, shiplogDB, "")
}

// shiplogConfigFor writes a config copying source database srcDB into
// destination database db, with extra appended.
func (b *bench) shiplogConfigFor(name, srcDB, db, extra string) (string, error) {
	cfg := filepath.Join(b.work, name)
	text := b.databasesYAML(srcDB, 4301, db) + fmt.Sprintf(`options:
  bulk_size: 0
  workers: %d
`, b.workers) + extra
	return cfg, os.WriteFile(cfg, []byte(text), 0o600)
}

func (b *bench) shiplogData(ctx context.Context, rows float64) result {
	r := result{group: "snapshot", tool: "shiplog migrate data", unit: "rows/s", work: rows}
	// The destination tables are created beforehand (not timed), as a map's
	// destination schema would be.
	if r.err = b.copySchema(ctx, shiplogDB); r.err != nil {
		return r
	}
	cfg, err := b.shiplogConfig()
	if err != nil {
		r.err = err
		return r
	}
	r.seconds, r.rssKB, r.cpu, r.err = b.runShiplog(ctx, cfg, "migrate-data.log", "migrate", "data")
	if r.err != nil {
		b.shiplogErr = fmt.Errorf("skipped: migrate data failed")
	}
	return r
}

func (b *bench) shiplogDelta(ctx context.Context, changes float64) result {
	r := result{group: "catch-up", tool: "shiplog migrate delta", unit: "changes/s", work: changes}
	cfg := filepath.Join(b.work, "shiplog.yaml")
	r.seconds, r.rssKB, r.cpu, r.err = b.runShiplog(ctx, cfg, "migrate-delta.log", "migrate", "delta", "--exit-when-caught-up")
	return r
}

const triggersDB = "bench_triggers"

func (b *bench) triggersConfig() (string, error) {
	cfg := filepath.Join(b.work, "shiplog-triggers.yaml")
	text := b.databasesYAML(srcDBName, 0, triggersDB) + fmt.Sprintf(`delta:
  source: triggers
options:
  bulk_size: 0
  workers: %d
`, b.threads)
	return cfg, os.WriteFile(cfg, []byte(text), 0o600)
}

// triggers is step (f): shiplog migrate data with delta.source: triggers into
// a fresh destination database (which installs the change-log triggers on the
// source tables), the burst of step (d) again with the triggers in place, then
// shiplog migrate delta --exit-when-caught-up from the change logs, a check of
// the copy, and deltalog uninstall. plainTPS is the burst's throughput without
// triggers; note compares the two. A failed step is r.err; err is only what
// r does not hold (the uninstall failing).
func (b *bench) triggers(ctx context.Context, plainTPS float64) (r result, note string, err error) {
	r = result{group: "catch-up", tool: "shiplog delta from triggers", unit: "changes/s"}
	if b.shiplogErr != nil {
		r.skipped = b.shiplogErr.Error()
		return r, "", nil
	}
	// The destination tables are created beforehand, as in (c), while the
	// source has no change-log tables yet.
	if r.err = b.copySchema(ctx, triggersDB); r.err != nil {
		return r, "", nil
	}
	cfg, cerr := b.triggersConfig()
	if cerr != nil {
		r.err = cerr
		return r, "", nil
	}
	// Whatever happens from here on, the triggers and change logs go, so
	// that the source is as before.
	// (When interrupted there is no point: the servers are thrown away.)
	defer func() {
		if ctx.Err() != nil {
			return
		}
		step("(f) shiplog deltalog uninstall")
		if _, _, _, uerr := b.runShiplog(ctx, cfg, "triggers-uninstall.log", "deltalog", "uninstall"); uerr != nil {
			err = errors.Join(err, uerr)
			return
		}
		trg, logs, cerr := b.changeLogObjects(ctx)
		switch {
		case cerr != nil:
			err = errors.Join(err, cerr)
		case trg != 0 || logs != 0:
			err = errors.Join(err, fmt.Errorf("after deltalog uninstall the source still has %d shiplog triggers and %d m2_cl_* tables", trg, logs))
		default:
			fmt.Println("  source clean: no shiplog triggers, no change-log tables")
		}
	}()

	secs, rss, _, derr := b.runShiplog(ctx, cfg, "triggers-migrate-data.log", "migrate", "data")
	if derr != nil {
		r.err = derr
		return r, "", nil
	}
	trg, logs, derr := b.changeLogObjects(ctx)
	// Every source table has them: the sysbench tables and lagprobe.
	if want := b.tables + 1; derr == nil && (trg != 3*want || logs != want) {
		derr = fmt.Errorf("migrate data installed %d triggers and %d change-log tables, want %d and %d", trg, logs, 3*want, want)
	}
	if derr != nil {
		r.err = derr
		return r, "", nil
	}
	fmt.Printf("  copied in %.2fs (peak RSS %s); %d triggers and %d change-log tables on the source\n", secs, formatKB(rss), trg, logs)

	step(fmt.Sprintf("(f) the same sysbench oltp_write_only burst with the triggers: %ds, %d threads", b.burstSeconds, b.burstThreads))
	out, serr := b.sysbench(ctx, "run", b.burstThreads)
	if serr != nil {
		r.err = serr
		return r, "", nil
	}
	changes, txns, tps := parseSysbench(out)
	r.work = float64(changes)
	logged, lerr := b.changeLogRows(ctx)
	if lerr != nil {
		r.err = lerr
		return r, "", nil
	}
	fmt.Printf("  %d transactions (%.0f tps), %d row changes; %d change-log rows\n", txns, tps, changes, logged)
	if tps > 0 && plainTPS > 0 {
		note = fmt.Sprintf("source write throughput with triggers: %.0f tps vs %.0f tps without (%+.1f%%)", tps, plainTPS, (tps-plainTPS)/plainTPS*100)
		fmt.Println("  " + note)
	}

	step("(f) shiplog migrate delta --exit-when-caught-up from the change logs")
	r.seconds, r.rssKB, r.cpu, r.err = b.runShiplog(ctx, cfg, "triggers-migrate-delta.log", "migrate", "delta", "--exit-when-caught-up")
	if r.err != nil {
		return r, note, nil
	}
	if left, lerr := b.changeLogRows(ctx); lerr == nil {
		fmt.Printf("  change-log rows left: %d\n", left)
	}

	step("(f) checking the copy fed by the change logs (CHECKSUM TABLE) against the source")
	r.err = b.verify(ctx, []target{{"shiplog (triggers)", b.dstDB, triggersDB}})
	return r, note, nil
}

const (
	kafkaDB    = "bench_kafka"    // the database apply --from-kafka writes
	pubStateDB = "bench_pubstate" // the publisher's state (sink: kafka)
)

// kafkaConfigs writes the publisher's configuration (sink: kafka, its state in
// bench_pubstate) and the applier's (apply --from-kafka into bench_kafka).
func (b *bench) kafkaConfigs(brokers []string) (publisher, applier string, err error) {
	common := func(dstDB string) string {
		return b.databasesYAML(srcDBName, 4302, dstDB) + fmt.Sprintf(`kafka:
  brokers: [%s]
  topic_prefix: bench
  partitions: 4
options:
  bulk_size: 0
  workers: %d
`, strings.Join(brokers, ", "), b.threads)
	}
	publisher = filepath.Join(b.work, "shiplog-kafka-publisher.yaml")
	applier = filepath.Join(b.work, "shiplog-kafka-applier.yaml")
	if err := os.WriteFile(publisher, []byte(common(pubStateDB)+"sink: kafka\n"), 0o600); err != nil {
		return "", "", err
	}
	return publisher, applier, os.WriteFile(applier, []byte(common(kafkaDB)), 0o600)
}

// viaKafka is step (g). A kfake broker runs in the bench process (so its
// memory is not in the peak RSS figures). shiplog migrate data with sink: kafka
// publishes the tables and records its binlog position in bench_pubstate;
// apply --from-kafka --exit-when-caught-up applies that snapshot to bench_kafka
// (created beforehand with the sysbench tables). Then a burst with the same
// seconds, threads and seed as step (d) runs on the source, and the Kafka path
// catches up in two timed stages: migrate delta --exit-when-caught-up
// (binlog -> Kafka), then apply --from-kafka --exit-when-caught-up
// (Kafka -> MySQL, only the burst: the snapshot was applied before it).
// Both are per row change of the burst. A failed stage is its result's err;
// err is only what the results do not hold.
func (b *bench) viaKafka(ctx context.Context) (rs []result, note string, err error) {
	pub := result{group: "catch-up", tool: "binlog -> Kafka", unit: "changes/s"}
	app := result{group: "catch-up", tool: "Kafka -> MySQL", unit: "changes/s"}
	fail := func(e error) ([]result, string, error) {
		if pub.seconds == 0 && pub.err == nil {
			pub.err = e
		}
		if app.seconds == 0 && app.err == nil {
			app.err = e
		}
		return []result{pub, app}, note, nil
	}
	if b.shiplogErr != nil {
		pub.skipped, app.skipped = b.shiplogErr.Error(), b.shiplogErr.Error()
		return []result{pub, app}, "", nil
	}
	k, kerr := testenv.StartKafka(true)
	if kerr != nil {
		return fail(kerr)
	}
	defer k.Close()
	fmt.Printf("  kafka broker: %s (topic_prefix bench, 4 partitions a topic)\n", strings.Join(k.Addrs, ", "))
	if e := b.dst.Exec(ctx, "", "CREATE DATABASE "+pubStateDB); e != nil {
		return fail(e)
	}
	if e := b.copySchema(ctx, kafkaDB); e != nil {
		return fail(e)
	}
	pubCfg, appCfg, cerr := b.kafkaConfigs(k.Addrs)
	if cerr != nil {
		return fail(cerr)
	}
	rows := float64(b.rows / b.tables * b.tables)
	secs, rss, _, derr := b.runShiplog(ctx, pubCfg, "kafka-migrate-data.log", "migrate", "data")
	if derr != nil {
		return fail(derr)
	}
	fmt.Printf("  snapshot published in %.2fs (%.0f rows/s, peak RSS %s)\n", secs, rows/secs, formatKB(rss))

	step("(g) shiplog apply --from-kafka --exit-when-caught-up: the snapshot into " + kafkaDB)
	secs, rss, _, derr = b.runShiplog(ctx, appCfg, "kafka-apply-snapshot.log", "apply", "--from-kafka", "--exit-when-caught-up")
	if derr != nil {
		return fail(derr)
	}
	fmt.Printf("  snapshot applied in %.2fs (%.0f rows/s, peak RSS %s)\n", secs, rows/secs, formatKB(rss))

	step(fmt.Sprintf("(g) the same sysbench oltp_write_only burst again (same seed): %ds, %d threads, nothing reading", b.burstSeconds, b.burstThreads))
	out, serr := b.sysbench(ctx, "run", b.burstThreads)
	if serr != nil {
		return fail(serr)
	}
	changes, txns, tps := parseSysbench(out)
	pub.work, app.work = float64(changes), float64(changes) // replaced below by the counts shiplog logs
	fmt.Printf("  %d transactions (%.0f tps), %d row changes\n", txns, tps, changes)

	step("(g) binlog -> Kafka: shiplog migrate delta --exit-when-caught-up (sink: kafka)")
	pub.seconds, pub.rssKB, pub.cpu, pub.err = b.runShiplog(ctx, pubCfg, "kafka-migrate-delta.log", "migrate", "delta", "--exit-when-caught-up")
	if pub.err != nil {
		return fail(pub.err)
	}
	if n := b.caughtUpChanges("kafka-migrate-delta.log"); n > 0 {
		pub.work = float64(n)
	}
	fmt.Printf("  published %.0f changes\n", pub.work)

	step("(g) Kafka -> MySQL: shiplog apply --from-kafka --exit-when-caught-up")
	app.seconds, app.rssKB, app.cpu, app.err = b.runShiplog(ctx, appCfg, "kafka-apply-burst.log", "apply", "--from-kafka", "--exit-when-caught-up")
	if app.err != nil {
		return []result{pub, app}, "", nil
	}
	if n := b.caughtUpChanges("kafka-apply-burst.log"); n > 0 {
		app.work = float64(n)
	}
	fmt.Printf("  applied %.0f changes (the time includes joining the consumer group)\n", app.work)

	step("(g) checking the copy fed through Kafka (CHECKSUM TABLE) against the source")
	app.err = b.verify(ctx, []target{{"shiplog via Kafka", b.dstDB, kafkaDB}})
	if pub.seconds > 0 && app.seconds > 0 {
		note = fmt.Sprintf("via Kafka end to end: %.2fs for %.0f changes (%.0f changes/s), the two stages run one after the other.", pub.seconds+app.seconds, app.work, app.work/(pub.seconds+app.seconds))
	}
	return []result{pub, app}, note, nil
}

var reCaughtUp = regexp.MustCompile(`msg="caught up".* changes=(\d+)`)

// caughtUpChanges is the changes count of the "caught up" line of a shiplog
// log in the work folder (what migrate delta published or apply applied), or
// 0 when there is none.
func (b *bench) caughtUpChanges(logName string) int64 {
	text, err := os.ReadFile(filepath.Join(b.work, logName))
	if err != nil {
		return 0
	}
	var n int64
	for _, m := range reCaughtUp.FindAllStringSubmatch(string(text), -1) {
		v, _ := strconv.ParseInt(m[1], 10, 64)
		n += v
	}
	return n
}

// besideDelta moves the last n results (the Kafka stages) right after the
// direct binlog delta ("shiplog migrate delta"), so that the table shows them
// together.
func besideDelta(results []result, n int) []result {
	if n == 0 || n > len(results) {
		return results
	}
	tail := append([]result(nil), results[len(results)-n:]...)
	rest := results[:len(results)-n]
	for i, r := range rest {
		if r.tool == "shiplog migrate delta" {
			out := append([]result(nil), rest[:i+1]...)
			out = append(out, tail...)
			return append(out, rest[i+1:]...)
		}
	}
	return results
}

// changeLogObjects counts shiplog's triggers and the change-log tables in the
// source database.
func (b *bench) changeLogObjects(ctx context.Context) (triggers, logTables int, err error) {
	err = b.srcDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? AND TRIGGER_NAME LIKE 'shiplog\\_%'", srcDBName).Scan(&triggers)
	if err != nil {
		return 0, 0, err
	}
	names, err := b.changeLogTables(ctx)
	return triggers, len(names), err
}

func (b *bench) changeLogTables(ctx context.Context) ([]string, error) {
	rows, err := b.srcDB.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_name LIKE 'm2\\_cl\\_%'", srcDBName)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// changeLogRows counts the rows of all change-log tables.
func (b *bench) changeLogRows(ctx context.Context) (int64, error) {
	names, err := b.changeLogTables(ctx)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, n := range names {
		var c int64
		if err := b.srcDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM `"+srcDBName+"`.`"+n+"`").Scan(&c); err != nil {
			return 0, err
		}
		total += c
	}
	return total, nil
}

// copySchema creates database db on the destination with the source's tables, empty.
func (b *bench) copySchema(ctx context.Context, db string) error {
	if err := b.dst.Exec(ctx, "", "CREATE DATABASE "+db); err != nil {
		return err
	}
	rows, err := b.srcDB.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name", srcDBName)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		names = append(names, n)
	}
	rows.Close()
	for _, n := range names {
		var name, ddl string
		if err := b.srcDB.QueryRowContext(ctx, "SHOW CREATE TABLE `"+srcDBName+"`.`"+n+"`").Scan(&name, &ddl); err != nil {
			return err
		}
		if err := b.dst.Exec(ctx, db, ddl); err != nil {
			return err
		}
	}
	return nil
}

type target struct {
	name string
	db   *sql.DB
	sch  string
}

// verify compares CHECKSUM TABLE and the definition (SHOW CREATE TABLE,
// but for its AUTO_INCREMENT counter) of every sysbench table in each target
// with the source's, prints what it found, and returns an error naming each
// target that differs or could not be read.
func (b *bench) verify(ctx context.Context, targets []target) error {
	var errs []error
	for _, t := range targets {
		if t.name == "shiplog" && b.shiplogErr != nil {
			fmt.Printf("  %s: not run\n", t.name)
			continue
		}
		var bad, badDDL []string
		var firstErr error
		for i := 1; i <= b.tables; i++ {
			want, err1 := checksum(ctx, b.srcDB, srcDBName, i)
			got, err2 := checksum(ctx, t.db, t.sch, i)
			wantDDL, err3 := tableDefinition(ctx, b.srcDB, srcDBName, i)
			gotDDL, err4 := tableDefinition(ctx, t.db, t.sch, i)
			if err := errors.Join(err1, err2, err3, err4); err != nil && firstErr == nil {
				firstErr = err
			}
			table := fmt.Sprintf("sbtest%d", i)
			if err1 != nil || err2 != nil || want != got {
				bad = append(bad, table)
			}
			if err3 == nil && err4 == nil && wantDDL != gotDDL {
				badDDL = append(badDDL, table)
			}
		}
		switch {
		case len(bad) == 0 && len(badDDL) == 0 && firstErr == nil:
			fmt.Printf("  %s: %d tables identical to the source (rows and definitions)\n", t.name, b.tables)
			continue
		case firstErr != nil:
			fmt.Printf("  %s: %d of %d tables differ or could not be read (%v)\n", t.name, len(bad), b.tables, firstErr)
			errs = append(errs, fmt.Errorf("%s: checking %s against the source: %w", t.name, t.sch, firstErr))
		default:
			fmt.Printf("  %s: rows of %d and definitions of %d of %d tables DIFFER from the source\n", t.name, len(bad), len(badDDL), b.tables)
			errs = append(errs, fmt.Errorf("%s: %s differs from the source: rows of [%s], definitions of [%s]", t.name, t.sch, strings.Join(bad, " "), strings.Join(badDDL, " ")))
		}
	}
	return errors.Join(errs...)
}

var reAutoIncrement = regexp.MustCompile(` AUTO_INCREMENT=\d+`)

// tableDefinition is SHOW CREATE TABLE of sbtest<i> without its
// AUTO_INCREMENT counter (which a copy need not carry).
func tableDefinition(ctx context.Context, db *sql.DB, schema string, i int) (string, error) {
	var name, ddl string
	if err := db.QueryRowContext(ctx, fmt.Sprintf("SHOW CREATE TABLE `%s`.`sbtest%d`", schema, i)).Scan(&name, &ddl); err != nil {
		return "", fmt.Errorf("SHOW CREATE TABLE %s.sbtest%d: %w", schema, i, err)
	}
	return reAutoIncrement.ReplaceAllString(ddl, ""), nil
}

// failed marks the first result of tool (a prefix) that has no error yet as
// failed with err: a copy that differs from the source must not count.
func failed(results []result, tool string, err error) []result {
	for i := range results {
		if strings.HasPrefix(results[i].tool, tool) && results[i].err == nil && results[i].skipped == "" {
			results[i].err = err
			return results
		}
	}
	return append(results, result{group: "check", tool: tool, err: err})
}

func checksum(ctx context.Context, db *sql.DB, schema string, i int) (string, error) {
	var name string
	var sum sql.NullString
	err := db.QueryRowContext(ctx, fmt.Sprintf("CHECKSUM TABLE `%s`.`sbtest%d`", schema, i)).Scan(&name, &sum)
	if err == nil && !sum.Valid {
		err = fmt.Errorf("%s.sbtest%d does not exist", schema, i)
	}
	return sum.String, err
}

func masterStatus(ctx context.Context, db *sql.DB) (string, int64, error) {
	st, ok, err := rowio.ReadMasterStatus(ctx, db)
	if err != nil {
		return "", 0, err
	}
	if !ok {
		return "", 0, errors.New("SHOW MASTER STATUS: no row (binlog off?)")
	}
	return st.File, int64(st.Pos), nil
}

func slaveStatus(ctx context.Context, db *sql.DB) (map[string]string, error) {
	st, ok, err := testenv.FirstRow(ctx, db, "SHOW SLAVE STATUS")
	if err == nil && !ok {
		err = errors.New("SHOW SLAVE STATUS: replica not configured")
	}
	return st, err
}

// pollVmHWM returns the highest VmHWM (peak resident set, KiB) read from
// /proc/pid/status until stop is closed.
func pollVmHWM(pid int, stop <-chan struct{}) int64 {
	var peak int64
	path := fmt.Sprintf("/proc/%d/status", pid)
	for {
		if data, err := os.ReadFile(path); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					var kb int64
					fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
					peak = max(peak, kb)
				}
			}
		}
		select {
		case <-stop:
			return peak
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// watchHWM polls the VmHWM of a started process (pollVmHWM) until the
// returned function is called, after the process's Wait; that returns the
// peak in KiB. Not ru_maxrss: a child started by os/exec (vfork + exec)
// counts the bench process's own peak in it.
func watchHWM(pid int) func() int64 {
	stop := make(chan struct{})
	hwm := make(chan int64, 1)
	go func() { hwm <- pollVmHWM(pid, stop) }()
	return func() int64 {
		close(stop)
		return <-hwm
	}
}

func secs(s float64) string {
	if s <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", s)
}

func formatKB(kb int64) string {
	if kb <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f MiB", float64(kb)/1024)
}

func printTable(w io.Writer, results []result, notes []string) {
	// The first shiplog result of a group is the one the others are compared
	// with (in catch-up: the binlog delta, not the trigger-fed one), per row
	// or change, as the trigger-fed delta applies a burst of its own.
	shiplog := map[string]result{}
	for _, r := range results {
		if _, ok := shiplog[r.group]; !ok && strings.HasPrefix(r.tool, "shiplog") && r.err == nil && r.skipped == "" && r.work > 0 {
			shiplog[r.group] = r
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\ttool\tseconds\tthroughput\ttime vs shiplog\tpeak RSS\ttool CPU s\tsource CPU s\tdest CPU s\t")
	for _, r := range results {
		switch {
		case r.skipped != "":
			fmt.Fprintf(tw, "%s\t%s\t-\tskipped\t-\t-\t-\t-\t-\t\n", r.group, r.tool)
		case r.err != nil:
			fmt.Fprintf(tw, "%s\t%s\t-\tFAILED\t-\t-\t-\t-\t-\t\n", r.group, r.tool)
		default:
			ratio := "-"
			if s, ok := shiplog[r.group]; ok && s.seconds > 0 && r.work > 0 {
				ratio = fmt.Sprintf("%.2fx", (r.seconds/r.work)/(s.seconds/s.work))
			}
			through := "-"
			if r.work > 0 {
				through = fmt.Sprintf("%.0f %s", r.work/r.seconds, r.unit)
			}
			fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.group, r.tool, r.seconds, through, ratio, formatKB(r.rssKB), secs(r.cpu), secs(r.srcCPU), secs(r.dstCPU))
		}
	}
	tw.Flush()
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	fmt.Fprintln(w, "\"time vs shiplog\" is the tool's time divided by shiplog's for the same job (above 1: shiplog is faster).")
	for _, r := range results {
		if r.tool == "shiplog delta from triggers" && r.err == nil && r.skipped == "" {
			fmt.Fprintln(w, "The delta from triggers applies a burst of its own; it is compared per change with shiplog's binlog delta.")
			break
		}
	}
	for _, r := range results {
		if r.tool == "binlog -> Kafka" && r.err == nil && r.skipped == "" {
			fmt.Fprintln(w, "binlog -> Kafka and Kafka -> MySQL are shiplog's Kafka path (migrate delta with sink: kafka, then apply --from-kafka),")
			fmt.Fprintln(w, "timed apart on a burst of their own (same seconds, threads and seed as the first); compared per change.")
			break
		}
	}
	fmt.Fprintln(w, "Peak RSS is the tools' own processes (largest of a pipeline), not the servers' (nor the in-process Kafka broker's).")
	fmt.Fprintln(w, "Tool CPU is the tools' own processes; source / dest CPU is what the source and the destination (or replica) MariaDB servers used during the job.")
	for _, r := range results {
		if r.err != nil {
			fmt.Fprintf(w, "%s: %v\n", r.tool, r.err)
		}
	}
}

// prefixWriter copies sysbench's interim report lines ("[ 5s ] ...") to w
// with a prefix when on is set; otherwise it discards everything.
func prefixWriter(w io.Writer, prefix string, on bool) io.Writer {
	if !on {
		return io.Discard
	}
	return &lineWriter{w: w, prefix: prefix}
}

type lineWriter struct {
	w      io.Writer
	prefix string
	buf    []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			return len(p), nil
		}
		if line := string(l.buf[:i]); strings.HasPrefix(line, "[") {
			fmt.Fprintln(l.w, l.prefix+line)
		}
		l.buf = l.buf[i+1:]
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
