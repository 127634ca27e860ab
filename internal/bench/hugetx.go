package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/shiplog/shiplog/internal/testenv"
)

// hugeTxTargetKB is issue 12's bound on the peak RSS of the stream applying a
// 2,000,000-row UPDATE.
const hugeTxTargetKB = 250 << 10

// runHugeTx is the -hugetx-rows scenario, run instead of the others: a
// sysbench table of n rows is copied by shiplog migrate data, one UPDATE
// changes every row in one source transaction, and shiplog migrate delta
// --exit-when-caught-up applies it; its time and peak RSS (VmHWM) are the
// result, the copy is compared with the source (CHECKSUM TABLE). With
// -hugetx-whole the same is done again with the transaction held whole
// (delta.max_transaction_bytes above its size), for comparison.
func runHugeTx(ctx context.Context, f flags) (results []result, err error) {
	if _, err := exec.LookPath("sysbench"); err != nil {
		return nil, fmt.Errorf("sysbench not found; as root: apt-get install -y --no-install-recommends sysbench: %w", err)
	}
	if err := testenv.Available(); err != nil {
		return nil, err
	}
	b := &bench{flags: f}
	b.tables = 1
	if b.root, err = testenv.ModuleRoot(); err != nil {
		return nil, err
	}
	if b.work, err = os.MkdirTemp("", "shiplog-bench-"); err != nil {
		return nil, err
	}
	if f.keep {
		fmt.Println("work folder:", b.work)
	} else {
		defer os.RemoveAll(b.work)
	}
	step("starting source (binlog ROW/FULL) and destination")
	if b.src, err = testenv.StartMariaDB(ctx, testenv.Options{Binlog: true, ServerID: 1}); err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	defer b.src.Stop()
	if b.dst, err = testenv.StartMariaDB(ctx, testenv.Options{ServerID: 2}); err != nil {
		return nil, fmt.Errorf("destination: %w", err)
	}
	defer b.dst.Stop()
	if b.srcDB, err = b.src.Open(""); err != nil {
		return nil, err
	}
	defer b.srcDB.Close()
	if b.dstDB, err = b.dst.Open(""); err != nil {
		return nil, err
	}
	defer b.dstDB.Close()

	n := f.hugeTxRows
	step(fmt.Sprintf("sysbench prepare: 1 table x %d rows", n))
	if err := b.src.Exec(ctx, "", "CREATE DATABASE "+srcDBName); err != nil {
		return nil, err
	}
	start := time.Now()
	if _, err := b.sysbenchWith(ctx, sbRun{db: srcDBName, tableSize: n, threads: b.threads, command: "prepare"}); err != nil {
		return nil, err
	}
	fmt.Printf("  prepared in %.1fs\n", time.Since(start).Seconds())

	step("shiplog migrate data")
	data := b.shiplogData(ctx, float64(n))
	results = append(results, data)
	if data.err != nil {
		return results, data.err
	}
	fmt.Printf("  %.1fs, peak RSS %s\n", data.seconds, formatKB(data.rssKB))

	run := func(name, extra string) result {
		r := result{group: "huge transaction", tool: name, unit: "changes/s", work: float64(n)}
		cfg, err := b.shiplogConfigFor("shiplog-"+filepath.Base(name)+".yaml", srcDBName, shiplogDB, extra)
		if err != nil {
			r.err = err
			return r
		}
		before, err := binlogBytes(ctx, b.srcDB)
		if err != nil {
			r.err = err
			return r
		}
		start := time.Now()
		if _, err := b.srcDB.ExecContext(ctx, "UPDATE "+srcDBName+".sbtest1 SET k = k + 1"); err != nil {
			r.err = fmt.Errorf("UPDATE: %w", err)
			return r
		}
		after, err := binlogBytes(ctx, b.srcDB)
		if err != nil {
			r.err = err
			return r
		}
		fmt.Printf("  UPDATE sbtest1 SET k = k + 1: %d rows in one transaction, %.0f MB of binlog, %.1fs on the source\n", n, float64(after-before)/1e6, time.Since(start).Seconds())
		r.seconds, r.rssKB, r.cpu, r.err = b.runShiplog(ctx, cfg, "hugetx-"+filepath.Base(name)+".log", "migrate", "delta", "--exit-when-caught-up")
		if r.err == nil {
			want, err1 := checksum(ctx, b.srcDB, srcDBName, 1)
			got, err2 := checksum(ctx, b.dstDB, shiplogDB, 1)
			switch {
			case errors.Join(err1, err2) != nil:
				r.err = errors.Join(err1, err2)
			case want != got:
				r.err = fmt.Errorf("sbtest1 differs from the source after the stream (CHECKSUM %s, source %s)", got, want)
			}
		}
		return r
	}
	step(fmt.Sprintf("shiplog migrate delta --exit-when-caught-up applying one %d-row UPDATE (in parts, default delta.max_transaction_bytes)", n))
	parts := run("migrate delta, huge transaction in parts", "")
	results = append(results, parts)
	if parts.err != nil {
		return results, parts.err
	}
	verdict := "met"
	if parts.rssKB > hugeTxTargetKB {
		verdict = "NOT met"
	}
	fmt.Printf("  %.1fs (%.0f changes/s), peak RSS %s: target < %s %s\n", parts.seconds, float64(n)/parts.seconds, formatKB(parts.rssKB), formatKB(hugeTxTargetKB), verdict)
	if f.hugeTxWhole {
		step(fmt.Sprintf("the same with the transaction held whole (delta.max_transaction_bytes: %d)", int64(1)<<40))
		whole := run("migrate delta, huge transaction held whole", fmt.Sprintf("delta:\n  max_transaction_bytes: %d\n", int64(1)<<40))
		results = append(results, whole)
		if whole.err != nil {
			return results, whole.err
		}
		fmt.Printf("  %.1fs (%.0f changes/s), peak RSS %s\n", whole.seconds, float64(n)/whole.seconds, formatKB(whole.rssKB))
	}
	if parts.rssKB > hugeTxTargetKB {
		return results, fmt.Errorf("peak RSS %s applying a %d-row transaction: over the %s target", formatKB(parts.rssKB), n, formatKB(hugeTxTargetKB))
	}
	return results, nil
}

// binlogBytes is the size of the source's binlog files together.
func binlogBytes(ctx context.Context, db *sql.DB) (int64, error) {
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	var total int64
	for rows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return 0, err
		}
		n, err := strconv.ParseInt(string(vals[1]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("SHOW BINARY LOGS: size %q: %w", vals[1], err)
		}
		total += n
	}
	return total, rows.Err()
}
