package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The sections of issue 7's targets beyond the side-by-side table: the same
// jobs through a map of three handlers, replication lag under a sustained
// 1,000 tps, peak RSS at a larger table size, and the verdicts.

const mapDB = "bench_shiplog_map"

// mapConfig writes a map with three handlers on every sysbench table (an
// expression on k, a hash of c, a prefix on pad) and a config using it.
func (b *bench) mapConfig() (string, error) {
	var m strings.Builder
	m.WriteString("# written by internal/bench: three handlers on every table\nsource:\n  fields:\n    transform:\n")
	for i := 1; i <= b.tables; i++ {
		t := fmt.Sprintf("sbtest%d", i)
		fmt.Fprintf(&m, "      - {field: %s.k, eval: \"k * 2 + 1\"}\n", t)
		fmt.Fprintf(&m, "      - {field: %s.c, handler: SetHash, params: {baseField: c, hash: md5}}\n", t)
		fmt.Fprintf(&m, "      - {field: %s.pad, handler: AddPrefix, params: {prefix: \"x\"}}\n", t)
	}
	mapFile := filepath.Join(b.work, "map-3-handlers.yaml")
	if err := os.WriteFile(mapFile, []byte(m.String()), 0o600); err != nil {
		return "", err
	}
	return b.shiplogConfigFor("shiplog-map.yaml", srcDBName, mapDB, "map: "+mapFile+"\n")
}

// mapData is shiplog migrate data through the map, into its own database.
func (b *bench) mapData(ctx context.Context, rows float64) result {
	r := result{group: "snapshot", tool: "shiplog migrate data, map of 3 handlers", unit: "rows/s", work: rows}
	if r.err = b.copySchema(ctx, mapDB); r.err != nil {
		return r
	}
	cfg, err := b.mapConfig()
	if err != nil {
		r.err = err
		return r
	}
	r.seconds, r.rssKB, r.cpu, r.err = b.runShiplog(ctx, cfg, "map-migrate-data.log", "migrate", "data")
	return r
}

// mapDelta is the catch-up on the burst through the map.
func (b *bench) mapDelta(ctx context.Context, changes float64) result {
	r := result{group: "catch-up", tool: "shiplog migrate delta, map of 3 handlers", unit: "changes/s", work: changes}
	cfg := filepath.Join(b.work, "shiplog-map.yaml")
	r.seconds, r.rssKB, r.cpu, r.err = b.runShiplog(ctx, cfg, "map-migrate-delta.log", "migrate", "delta", "--exit-when-caught-up")
	return r
}

// mapVerify runs shiplog verify through the map: the copy and the catch-up
// must equal the transformed source. It returns a note for the table.
func (b *bench) mapVerify(ctx context.Context) (string, error) {
	cfg := filepath.Join(b.work, "shiplog-map.yaml")
	secs, _, _, err := b.runShiplog(ctx, cfg, "map-verify.log", "verify", "--recheck", "-1s")
	if err != nil {
		return "", fmt.Errorf("shiplog verify through the map: %w", err)
	}
	return fmt.Sprintf("shiplog verify through the map of 3 handlers after the catch-up: no differences (%.2fs for %d rows)", secs, b.rows), nil
}

// lagStats are the replication lag samples of the sustained-rate run.
type lagStats struct {
	tps               float64
	probes            int
	p50, p99, max     time.Duration
	rssKB             int64
	missed            int
	seconds, rateWant int
}

// lagRun starts shiplog migrate delta as a daemon (caught up), runs sysbench
// at a fixed rate, and measures the replication lag with probe rows: every
// 20 ms a row with a sequence number is inserted on the source, and the
// destination is polled every 2 ms for the highest number that arrived; a
// probe's lag is the time from its insert's commit to its first sighting.
func (b *bench) lagRun(ctx context.Context, rate, seconds int) (lagStats, error) {
	st := lagStats{rateWant: rate, seconds: seconds}
	cfg := filepath.Join(b.work, "shiplog.yaml")
	logFile, err := os.Create(filepath.Join(b.work, "lag-migrate-delta.log"))
	if err != nil {
		return st, err
	}
	defer logFile.Close()
	daemon := exec.CommandContext(ctx, b.shiplog, "--config", cfg, "migrate", "delta")
	daemon.Stdout, daemon.Stderr = logFile, logFile
	if err := daemon.Start(); err != nil {
		return st, err
	}
	stopHWM := make(chan struct{})
	hwm := make(chan int64, 1)
	go func() { hwm <- pollVmHWM(daemon.Process.Pid, stopHWM) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		_ = daemon.Process.Signal(syscall.SIGTERM)
		err := daemon.Wait()
		close(stopHWM)
		st.rssKB = <-hwm
		return err
	}
	defer stop()

	src, err := b.src.Open(srcDBName)
	if err != nil {
		return st, err
	}
	defer src.Close()
	dst, err := b.dst.Open(shiplogDB)
	if err != nil {
		return st, err
	}
	defer dst.Close()
	maxSeen := func() (int64, error) {
		var n sql.NullInt64
		err := dst.QueryRowContext(ctx, "SELECT MAX(id) FROM lagprobe").Scan(&n)
		return n.Int64, err
	}
	// The daemon is streaming once a probe arrives.
	if _, err := src.ExecContext(ctx, "INSERT INTO lagprobe (id, sent_us) VALUES (0, 0)"); err != nil {
		return st, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var c int
		if err := dst.QueryRowContext(ctx, "SELECT COUNT(*) FROM lagprobe").Scan(&c); err == nil && c > 0 {
			break
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("the delta daemon did not apply a probe within 60s (see lag-migrate-delta.log)")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The probes stop first; the watcher then waits for the last of them.
	probeCtx, stopProbes := context.WithCancel(ctx)
	defer stopProbes()
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	var sentMu sync.Mutex
	sent := map[int64]time.Time{}
	seen := map[int64]time.Time{}
	var lastSeen atomic.Int64
	probesDone, watchDone := make(chan error, 1), make(chan error, 1)
	quiet := func(ctx context.Context, err error) error {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	go func() { // probes
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for id := int64(1); ; id++ {
			select {
			case <-probeCtx.Done():
				probesDone <- nil
				return
			case <-t.C:
			}
			if _, err := src.ExecContext(probeCtx, "INSERT INTO lagprobe (id, sent_us) VALUES (?, 0)", id); err != nil {
				probesDone <- quiet(probeCtx, err)
				return
			}
			at := time.Now() // committed (autocommit) when Exec returns
			sentMu.Lock()
			sent[id] = at
			sentMu.Unlock()
		}
	}()
	go func() { // watcher
		var last int64
		for watchCtx.Err() == nil {
			n, err := maxSeen()
			if err != nil {
				watchDone <- quiet(watchCtx, err)
				return
			}
			now := time.Now()
			sentMu.Lock()
			for id := last + 1; id <= n; id++ {
				seen[id] = now
			}
			sentMu.Unlock()
			if n > last {
				last = n
				lastSeen.Store(n)
			}
			time.Sleep(2 * time.Millisecond)
		}
		watchDone <- nil
	}()
	out, err := b.sysbenchWith(ctx, sbRun{db: srcDBName, tableSize: b.rows / b.tables, threads: 4, command: "run", seconds: seconds, rate: rate})
	stopProbes()
	if perr := <-probesDone; perr != nil && err == nil {
		err = perr
	}
	// Every committed probe arrives, or is missed after 10 s.
	var maxSent int64
	sentMu.Lock()
	for id := range sent {
		maxSent = max(maxSent, id)
	}
	sentMu.Unlock()
	for deadline := time.Now().Add(10 * time.Second); lastSeen.Load() < maxSent && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	stopWatch()
	if werr := <-watchDone; werr != nil && err == nil {
		err = werr
	}
	if serr := stop(); serr != nil && err == nil {
		err = fmt.Errorf("delta daemon: %v", serr)
	}
	if err != nil {
		return st, err
	}
	_, _, st.tps = parseSysbench(out)
	var lags []time.Duration
	for id, at := range sent {
		if got, ok := seen[id]; ok {
			lags = append(lags, max(got.Sub(at), 0))
		} else {
			st.missed++
		}
	}
	if len(lags) == 0 {
		return st, fmt.Errorf("no probe arrived")
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	pct := func(p float64) time.Duration { return lags[min(len(lags)-1, int(float64(len(lags))*p))] }
	st.probes, st.p50, st.p99, st.max = len(lags), pct(0.50), pct(0.99), lags[len(lags)-1]
	return st, nil
}

// scaleRun copies a larger database (rows in all, in b.tables tables) and
// catches up on a burst on it, to show shiplog's peak RSS does not grow with
// table size.
func (b *bench) scaleRun(ctx context.Context, rows int) (data, delta result, err error) {
	const scaleSrc, scaleDst = "sbscale", "bench_scale"
	data = result{group: "scale snapshot", tool: fmt.Sprintf("shiplog migrate data, %dM rows", rows/1_000_000), unit: "rows/s", work: float64(rows)}
	delta = result{group: "scale catch-up", tool: fmt.Sprintf("shiplog migrate delta, %dM rows", rows/1_000_000), unit: "changes/s"}
	if err = b.src.Exec(ctx, "", "CREATE DATABASE "+scaleSrc); err != nil {
		return data, delta, err
	}
	start := time.Now()
	if _, err = b.sysbenchWith(ctx, sbRun{db: scaleSrc, tableSize: rows / b.tables, threads: b.threads, command: "prepare"}); err != nil {
		return data, delta, err
	}
	fmt.Printf("  prepared %d rows in %.1fs\n", rows, time.Since(start).Seconds())
	if err = b.dst.Exec(ctx, "", "CREATE DATABASE "+scaleDst); err != nil {
		return data, delta, err
	}
	for i := 1; i <= b.tables; i++ {
		var name, ddl string
		if err = b.srcDB.QueryRowContext(ctx, fmt.Sprintf("SHOW CREATE TABLE `%s`.`sbtest%d`", scaleSrc, i)).Scan(&name, &ddl); err != nil {
			return data, delta, err
		}
		if err = b.dst.Exec(ctx, scaleDst, ddl); err != nil {
			return data, delta, err
		}
	}
	cfg, err := b.shiplogConfigFor("shiplog-scale.yaml", scaleSrc, scaleDst, "")
	if err != nil {
		return data, delta, err
	}
	data.seconds, data.rssKB, data.cpu, data.err = b.runShiplog(ctx, cfg, "scale-migrate-data.log", "migrate", "data")
	if data.err != nil {
		return data, delta, nil
	}
	out, err := b.sysbenchWith(ctx, sbRun{db: scaleSrc, tableSize: rows / b.tables, threads: b.burstThreads, command: "run", seconds: b.burstSeconds})
	if err != nil {
		return data, delta, err
	}
	changes, _, _ := parseSysbench(out)
	delta.work = float64(changes)
	delta.seconds, delta.rssKB, delta.cpu, delta.err = b.runShiplog(ctx, cfg, "scale-migrate-delta.log", "migrate", "delta", "--exit-when-caught-up")
	return data, delta, nil
}

// verdict is one target line.
type verdict struct {
	target, figure string
	met, known     bool
}

// Issue 17's bounds: shiplog's time per row (copy) or per change (catch-up)
// divided by the baseline's, and the peak RSS of every shiplog process.
const (
	copyVsMydumper     = 0.8 // mydumper --rows + myloader
	copyVsDumpPipe     = 0.5 // mariadb-dump | mariadb
	catchUpVsReplica   = 0.3 // MariaDB replication, one SQL thread
	catchUpVsParallel  = 0.4 // MariaDB parallel replication
	oneTableVsMydumper = 1.0 // -copy-only -tables 1 (the 10M-row table)
	peakRSSBoundKB     = 200 * 1024
)

// find is the first result of group whose tool starts with prefix and that
// ran to the end, or nil.
func find(results []result, group, prefix string) *result {
	for i := range results {
		r := &results[i]
		if r.group == group && strings.HasPrefix(r.tool, prefix) && r.err == nil && r.skipped == "" && r.seconds > 0 {
			return r
		}
	}
	return nil
}

// ratioVerdict judges shiplog's time per unit of work divided by base's
// against bound (met when at most bound); baseName names base in the line.
// Either missing (not run, failed, skipped) is UNKNOWN.
func ratioVerdict(job, baseName string, shiplog, base *result, bound float64) verdict {
	v := verdict{target: fmt.Sprintf("%s: shiplog / %s <= %.1fx", job, baseName, bound)}
	if shiplog == nil || base == nil || shiplog.work <= 0 || base.work <= 0 {
		v.figure = "not measured"
		return v
	}
	x := (shiplog.seconds / shiplog.work) / (base.seconds / base.work)
	v.known, v.met = true, x <= bound
	v.figure = fmt.Sprintf("%.2fx (%.2fs vs %.2fs)", x, shiplog.seconds, base.seconds)
	return v
}

// rssVerdict judges the peak RSS of every shiplog process in results (and
// extra, already formatted, with its largest extraKB) against 200 MiB.
func rssVerdict(results []result, extra []string, extraKB int64) (verdict, bool) {
	var rss []string
	worst := int64(0)
	for _, r := range results {
		// Every shiplog process: snapshot, stream, change logs, both Kafka stages.
		// Not another build's (-shiplog-before).
		shiplog := strings.HasPrefix(r.tool, "shiplog migrate") || strings.HasPrefix(r.tool, "shiplog delta") || strings.Contains(r.tool, "Kafka")
		if shiplog && !strings.HasSuffix(r.tool, "(-shiplog-before)") && r.err == nil && r.rssKB > 0 {
			worst = max(worst, r.rssKB)
			rss = append(rss, fmt.Sprintf("%s %s", strings.TrimPrefix(r.tool, "shiplog migrate "), formatKB(r.rssKB)))
		}
	}
	worst = max(worst, extraKB)
	rss = append(rss, extra...)
	if worst == 0 {
		return verdict{}, false
	}
	return verdict{target: "peak RSS < 200 MiB, every shiplog process (VmHWM)", known: true, met: worst < peakRSSBoundKB, figure: strings.Join(rss, "; ")}, true
}

// targets judges issue 17's targets (copy and catch-up against the
// baselines, peak RSS) and issue 7's others (lag, map overhead) from the
// results.
func targets(results []result, lag *lagStats) []verdict {
	var vs []verdict
	add := func(target string, known, met bool, figure string) {
		vs = append(vs, verdict{target: target, figure: figure, met: met, known: known})
	}
	data := find(results, "snapshot", "shiplog migrate data")
	vs = append(vs,
		ratioVerdict("copy", "(mydumper --rows + myloader)", data, find(results, "snapshot", "mydumper"), copyVsMydumper),
		ratioVerdict("copy", "(mariadb-dump | mariadb)", data, find(results, "snapshot", "mariadb-dump"), copyVsDumpPipe))
	delta := find(results, "catch-up", "shiplog migrate delta")
	vs = append(vs,
		ratioVerdict("catch-up", "MariaDB replication (1 thread)", delta, find(results, "catch-up", "MariaDB replication"), catchUpVsReplica),
		ratioVerdict("catch-up", "MariaDB parallel replication", delta, find(results, "catch-up", "MariaDB parallel replication"), catchUpVsParallel))
	if lag != nil && lag.probes > 0 {
		ok := lag.p99 < 500*time.Millisecond && lag.missed == 0 && lag.tps >= 0.95*float64(lag.rateWant)
		add(fmt.Sprintf("lag at a sustained %d tps: p99 < 500 ms", lag.rateWant), true, ok,
			fmt.Sprintf("p50 %s, p99 %s, max %s over %d probes, %.0f tps achieved", ms(lag.p50), ms(lag.p99), ms(lag.max), lag.probes, lag.tps))
	}
	var extra []string
	var extraKB int64
	if lag != nil && lag.rssKB > 0 {
		extraKB = lag.rssKB
		extra = append(extra, "delta daemon at "+fmt.Sprint(lag.rateWant)+" tps "+formatKB(lag.rssKB))
	}
	if v, ok := rssVerdict(results, extra, extraKB); ok {
		vs = append(vs, v)
	}
	for _, j := range []struct{ group, base, mapped string }{
		{"snapshot", "shiplog migrate data", "shiplog migrate data, map"},
		{"catch-up", "shiplog migrate delta", "shiplog migrate delta, map"},
	} {
		base, mapped := find(results, j.group, j.base), find(results, j.group, j.mapped)
		if base == nil || mapped == nil || base == mapped {
			continue
		}
		slower := (mapped.seconds/mapped.work)/(base.seconds/base.work) - 1
		add(j.group+": map of 3 handlers within 15% of identity", true, slower <= 0.15, fmt.Sprintf("%+.1f%% (%.2fs vs %.2fs)", 100*slower, mapped.seconds, base.seconds))
	}
	return vs
}

// copyOnlyTargets judges a -copy-only run: shiplog's mean time against
// mydumper + myloader's over the runs (the -shiplog-before binary's runs
// aside), at most 0.8x with several tables and 1.0x with one (issue 17's
// 10,000,000-row table), and the peak RSS of every shiplog run.
func copyOnlyTargets(results []result, tables int) []verdict {
	mean := func(prefix string) *result {
		var m result
		n := 0
		for _, r := range results {
			if !strings.HasPrefix(r.tool, prefix) || strings.HasSuffix(r.tool, "(-shiplog-before)") {
				continue
			}
			if r.err != nil || r.skipped != "" || r.seconds <= 0 {
				return nil // one failed or skipped run: no figure
			}
			m.tool, m.work, m.seconds = r.tool, m.work+r.work, m.seconds+r.seconds
			n++
		}
		if n == 0 {
			return nil
		}
		m.work, m.seconds = m.work/float64(n), m.seconds/float64(n)
		return &m
	}
	job, bound := fmt.Sprintf("copy of %d tables", tables), copyVsMydumper
	if tables == 1 {
		job, bound = "copy of one table", oneTableVsMydumper
	}
	vs := []verdict{ratioVerdict(job, "(mydumper --rows + myloader)", mean("shiplog migrate data"), mean("mydumper"), bound)}
	if v, ok := rssVerdict(results, nil, 0); ok {
		vs = append(vs, v)
	}
	return vs
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

// printTargets prints the verdicts under title, MET / NOT MET / UNKNOWN
// (a figure not measured), and whether all were met.
func printTargets(w io.Writer, title string, vs []verdict) (allMet bool) {
	fmt.Fprintln(w, "\n"+title+":")
	allMet = true
	for _, v := range vs {
		mark := "MET    "
		switch {
		case !v.known:
			mark, allMet = "UNKNOWN", false
		case !v.met:
			mark, allMet = "NOT MET", false
		}
		fmt.Fprintf(w, "  %s  %-66s %s\n", mark, v.target, v.figure)
	}
	if allMet {
		fmt.Fprintln(w, "All targets met.")
	}
	return allMet
}
