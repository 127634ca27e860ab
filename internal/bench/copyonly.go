package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shiplog/shiplog/internal/testenv"
)

// runCopyOnly is the -copy-only section: the snapshot alone, sysbench rows
// in -tables tables (-tables 1: the case only key ranges parallelise),
// copied by mydumper --rows + myloader and by shiplog migrate data, each
// tool into a fresh destination server of its own, -copy-runs times in
// turn, each copy checked (CHECKSUM TABLE) against the source.
func runCopyOnly(ctx context.Context, f flags) (results []result, notes []string, err error) {
	if err := testenv.Available(); err != nil {
		return nil, nil, err
	}
	b := &bench{flags: f}
	if b.root, err = testenv.ModuleRoot(); err != nil {
		return nil, nil, err
	}
	if b.work, err = os.MkdirTemp("", "shiplog-bench-copy-"); err != nil {
		return nil, nil, err
	}
	if f.keep {
		fmt.Println("work folder:", b.work)
	} else {
		defer os.RemoveAll(b.work)
	}
	step("starting the source (binlog ROW/FULL)")
	if b.src, err = testenv.StartMariaDB(ctx, testenv.Options{Binlog: true, ServerID: 1}); err != nil {
		return nil, nil, fmt.Errorf("source: %w", err)
	}
	defer b.src.Stop()
	if b.srcDB, err = b.src.Open(""); err != nil {
		return nil, nil, err
	}
	defer b.srcDB.Close()
	perTable := f.rows / f.tables
	rows := float64(perTable * f.tables)
	step(fmt.Sprintf("sysbench prepare: %d tables x %d rows", f.tables, perTable))
	if err := b.src.Exec(ctx, "", "CREATE DATABASE "+srcDBName); err != nil {
		return nil, nil, err
	}
	if _, err := b.sysbench(ctx, "prepare", f.threads); err != nil {
		return nil, nil, err
	}
	loaderOpts, loaderNote := b.myloaderOptions(ctx)
	fmt.Println("  " + loaderNote)
	// Each tool gets a fresh destination server: none pays for another's
	// background flushing.
	fresh := func(tool, sch string, job func() result) result {
		r := b.onFreshDestination(ctx, tool, sch, job)
		fmt.Printf("  %s: %.2fs, %.0f rows/s, peak RSS %s, load average %s (err %v)\n", r.tool, r.seconds, rows/max(r.seconds, 1e-9), formatKB(r.rssKB), loadAvg(), r.err)
		return r
	}
	for run := 1; run <= max(f.copyRuns, 1); run++ {
		tool := mydumperTool(f.threads, f.mydumperRows, loaderOpts)
		step(fmt.Sprintf("run %d: %s", run, tool))
		results = append(results, fresh(tool, mydumperDB, func() result { return b.mydumperChunked(ctx, rows, loaderOpts) }))
		step(fmt.Sprintf("run %d: shiplog migrate data (workers %d)", run, f.workers))
		results = append(results, fresh("shiplog migrate data", shiplogDB, func() result {
			b.shiplogErr = nil
			return b.shiplogData(ctx, rows)
		}))
		if f.shiplogBefore != "" {
			step(fmt.Sprintf("run %d: shiplog migrate data, binary %s (workers %d)", run, f.shiplogBefore, f.workers))
			results = append(results, fresh("shiplog migrate data (-shiplog-before)", shiplogDB, func() result {
				after := b.shiplog
				b.shiplog, b.shiplogErr = f.shiplogBefore, nil
				defer func() { b.shiplog = after }()
				r := b.shiplogData(ctx, rows)
				r.tool += " (-shiplog-before)"
				return r
			}))
		}
	}
	notes = append(notes, fmt.Sprintf("copy only: %d table(s) x %d rows, each tool into a fresh destination server", f.tables, perTable), loaderNote)
	return results, notes, nil
}

// mydumperChunked is mydumper + myloader as a user who knows them runs them:
// tables dumped in row chunks (--rows), so myloader loads one table with
// all its threads; loaderOpts are the extra myloader options
// (myloaderOptions). It loads into database mydumperDB of b.dst.
func (b *bench) mydumperChunked(ctx context.Context, rows float64, loaderOpts []string) result {
	r := result{group: "snapshot", tool: mydumperTool(b.threads, b.mydumperRows, loaderOpts), unit: "rows/s", work: rows}
	for _, tool := range []string{"mydumper", "myloader"} {
		if _, err := exec.LookPath(tool); err != nil {
			r.skipped = tool + " not installed (apt-get install mydumper)"
			return r
		}
	}
	if r.err = b.dst.Exec(ctx, "", "CREATE DATABASE "+mydumperDB); r.err != nil {
		return r
	}
	dir := filepath.Join(b.work, "mydumper-rows")
	os.RemoveAll(dir)
	t := strconv.Itoa(b.threads)
	dump := exec.CommandContext(ctx, "mydumper", "--host=127.0.0.1", "--port="+strconv.Itoa(b.src.Port), "--user=root",
		"--database="+srcDBName, "--threads="+t, "--rows="+strconv.Itoa(b.mydumperRows), "--outputdir="+dir)
	load := exec.CommandContext(ctx, "myloader", append([]string{"--host=127.0.0.1", "--port=" + strconv.Itoa(b.dst.Port), "--user=root",
		"--source-db=" + srcDBName, "--database=" + mydumperDB, "--threads=" + t, "--directory=" + dir, "--overwrite-tables"}, loaderOpts...)...)
	start := time.Now()
	for _, cmd := range []*exec.Cmd{dump, load} {
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			r.err = fmt.Errorf("%s: %w", filepath.Base(cmd.Path), err)
			return r
		}
		hwm := watchHWM(cmd.Process.Pid)
		err := cmd.Wait()
		r.rssKB = max(r.rssKB, hwm())
		if err != nil {
			r.err = fmt.Errorf("%s: %v: %s", filepath.Base(cmd.Path), err, lastLines(out.String(), 5))
			return r
		}
		r.cpu += cpuOf(cmd.ProcessState)
	}
	r.seconds = time.Since(start).Seconds()
	return r
}

// loadAvg is the first three fields of /proc/loadavg (the machine is shared).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	var a, c, d string
	fmt.Sscan(string(b), &a, &c, &d)
	return a + " " + c + " " + d
}
