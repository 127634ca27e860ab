package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	"github.com/shiplog/shiplog/internal/testenv"
)

// The baselines as a user who knows the tools runs them (issue 17): each
// snapshot tool into a fresh destination server of its own, mydumper
// row-chunked with what myloader offers for speed, and MariaDB parallel
// replication beside the single-threaded replica.

const mydumperDB = "bench_mydumper"

// onFreshDestination runs job with b.dst and b.dstDB on a destination
// server started for it alone (as the bench starts all its servers), so
// that no tool pays for another's background flushing; then it checks the
// copy in database sch against the source (CHECKSUM TABLE and table
// definitions; a difference is the result's err) and stops the server.
// b.dst and b.dstDB are as before when it returns. tool names the result
// when the server cannot start.
func (b *bench) onFreshDestination(ctx context.Context, tool, sch string, job func() result) result {
	r := result{group: "snapshot", tool: tool}
	dst, err := testenv.StartMariaDB(ctx, testenv.Options{ServerID: 2})
	if err != nil {
		r.err = fmt.Errorf("fresh destination: %w", err)
		return r
	}
	defer dst.Stop()
	db, err := dst.Open("")
	if err != nil {
		r.err = err
		return r
	}
	defer db.Close()
	prev, prevDB := b.dst, b.dstDB
	b.dst, b.dstDB = dst, db
	defer func() { b.dst, b.dstDB = prev, prevDB }()
	r = b.servers(job)
	if r.err == nil && r.skipped == "" {
		r.err = b.verify(ctx, []target{{r.tool, db, sch}})
	}
	return r
}

// mydumperTool is the table's name for mydumper + myloader with these options.
func mydumperTool(threads, rows int, loaderOpts []string) string {
	load := fmt.Sprintf("myloader -t %d", threads)
	if len(loaderOpts) > 0 {
		load += " " + strings.Join(loaderOpts, " ")
	}
	return fmt.Sprintf("mydumper -t %d --rows %d + %s", threads, rows, load)
}

// myloaderOptions detects the speed options the installed myloader offers
// (myloader --help) and returns those to pass, with a line saying which
// ran. Without myloader it returns none (mydumperChunked then skips).
func (b *bench) myloaderOptions(ctx context.Context) (opts []string, note string) {
	help, err := exec.CommandContext(ctx, "myloader", "--help").CombinedOutput()
	if err != nil && len(help) == 0 {
		return nil, fmt.Sprintf("myloader --help: %v (no extra myloader options)", err)
	}
	version, _ := exec.CommandContext(ctx, "myloader", "--version").CombinedOutput()
	return loaderOptions(string(help), strings.TrimSpace(string(version)))
}

// loaderOptions picks from myloader's --help text the options that make it
// faster: --innodb-optimize-keys (tables created without their secondary
// indexes, which are added after the load), in myloader 0.12 and later.
func loaderOptions(help, version string) (opts []string, note string) {
	if version == "" {
		version = "myloader"
	}
	if hasOption(help, "--innodb-optimize-keys") {
		return []string{"--innodb-optimize-keys"}, fmt.Sprintf("%s: ran with --innodb-optimize-keys (secondary indexes built after the load)", version)
	}
	return nil, fmt.Sprintf("%s: has no --innodb-optimize-keys (myloader >= 0.12 has), ran without it", version)
}

// hasOption reports whether a --help text lists option name (a line
// starting with it, after an optional short form: "  -x, --name ...").
func hasOption(help, name string) bool {
	re := regexp.MustCompile(`(?m)^\s*(?:-\w,\s*)?` + regexp.QuoteMeta(name) + `(?:[\s=]|$)`)
	return re.MatchString(help)
}

// parallelReplicaArgs configure the parallel replication baseline as the
// MariaDB documentation recommends for a replica catching up: 4 worker
// threads, optimistic mode (transactional DML applied in parallel,
// conflicts rolled back and retried), and a read-ahead larger than the
// 128 KiB default so that the workers are kept busy on a backlog.
var parallelReplicaArgs = []string{
	"--slave-parallel-threads=4",
	"--slave-parallel-mode=optimistic",
	"--slave-parallel-max-queued=" + strconv.Itoa(16<<20),
}

// parallelReplicaSettings reads back the parallel replica's settings, so
// that the bench says what ran, and fails unless they are those asked for.
func (b *bench) parallelReplicaSettings(ctx context.Context) (string, error) {
	var threads, maxQueued int
	var mode string
	err := b.parDB.QueryRowContext(ctx, "SELECT @@slave_parallel_threads, @@slave_parallel_mode, @@slave_parallel_max_queued").Scan(&threads, &mode, &maxQueued)
	if err != nil {
		return "", fmt.Errorf("parallel replica settings: %w", err)
	}
	got := fmt.Sprintf("slave_parallel_threads=%d, slave_parallel_mode=%s, slave_parallel_max_queued=%d", threads, mode, maxQueued)
	if threads != 4 || mode != "optimistic" {
		return got, fmt.Errorf("parallel replica runs with %s, want slave_parallel_threads=4 and slave_parallel_mode=optimistic", got)
	}
	return got, nil
}

// retriedTransactions is the parallel replica's Slave_retried_transactions:
// the transactions optimistic mode rolled back on a conflict and ran again.
func (b *bench) retriedTransactions(ctx context.Context) (int64, error) {
	var name string
	var n int64
	err := b.parDB.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Slave_retried_transactions'").Scan(&name, &n)
	return n, err
}
