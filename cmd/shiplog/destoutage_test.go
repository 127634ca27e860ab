//go:build !unit

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shiplog/shiplog/internal/testenv"
)

// outageEnv is newEnv with the shop seeded, the config's HTTP server on a
// free port (base) plus extra destination keys, and the user's cache folder
// (where a run's end waits while the destination is down) private to the
// test. With triggers, the stream is fed by change-log triggers, which need
// a key: the shop's keyless events table is dropped.
func outageEnv(t *testing.T, destExtra string, triggers bool) (e *env, base string) {
	t.Helper()
	// In memory the stream is fast enough that
	// TestDestinationOutageBeyondRetryForStops kills the destination before
	// every apply partition has committed once: the next run must resume
	// every partition (it once took a partition without a checkpoint row
	// for one with nothing to apply, and skipped rows).
	e = newEnv(t, "")
	e.seedShop(500)
	options, top := "full_row_tables: [events]", ""
	if triggers {
		e.both("DROP TABLE events")
		options, top = "", "delta: {source: triggers}\n"
	}
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	e.config = e.writeConfig(fmt.Sprintf(`source: {host: 127.0.0.1, port: %d, user: root, password: "", database: shop}
destination: {host: 127.0.0.1, port: %d, user: root, database: shop_new%s}
options: {%s}
http: {listen: "127.0.0.1:%d"}
%s`, e.src.Port, e.dst.Port, destExtra, options, port, top))
	return e, fmt.Sprintf("http://127.0.0.1:%d", port)
}

// streaming waits until the daemon streams and has applied a batch.
func (e *env) streaming(d *daemon) {
	e.t.Helper()
	checkpoint := func() string {
		var pos string
		_ = e.dstDB.QueryRow("SELECT MAX(position) FROM _shiplog_checkpoint").Scan(&pos)
		return pos
	}
	waitFor(e.t, "delta mode", 60*time.Second, func() bool {
		select {
		case <-d.exited:
			e.t.Fatalf("shiplog exited: %v\n%s", d.err, d.stderr)
		default:
		}
		var mode string
		_ = e.dstDB.QueryRow("SELECT value FROM _shiplog_state WHERE name = 'mode'").Scan(&mode)
		return mode == "delta"
	})
	before := checkpoint()
	waitFor(e.t, "a batch applied in delta mode", 30*time.Second, func() bool { return checkpoint() != before })
}

// getBody GETs url, returning the status code (0 when unreachable) and body.
func getBody(url string) (int, string) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// converged waits until the destination equals the source.
// With tables, only those are compared (the source also has change logs).
func (e *env) converged(d *daemon, timeout time.Duration, tables ...string) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-d.exited:
			e.t.Fatalf("shiplog exited: %v\n%s", d.err, tail(d.stderr.String()))
		default:
		}
		diffs, err := e.differences(tables)
		if err == nil && len(diffs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the destination differs from the source after %s: %v %v\n%s", timeout, diffs, err, tail(d.stderr.String()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// differences compares tables (all but state tables when none) of the
// source and the destination.
func (e *env) differences(tables []string) ([]string, error) {
	ctx := context.Background()
	if len(tables) == 0 {
		return testenv.CompareDatabases(ctx, e.srcDB, "shop", e.dstDB, "shop_new")
	}
	var diffs []string
	for _, tb := range tables {
		a, an, err := testenv.Checksum(ctx, e.srcDB, "shop", tb, nil)
		if err != nil {
			return nil, err
		}
		b, bn, err := testenv.Checksum(ctx, e.dstDB, "shop_new", tb, nil)
		if err != nil {
			return nil, err
		}
		if a != b || an != bn {
			diffs = append(diffs, fmt.Sprintf("%s: source %d rows, destination %d rows", tb, an, bn))
		}
	}
	return diffs, nil
}

// TestDestinationOutageDuringRunIsRetried stops the destination server
// (SIGKILL) for 5s while `run` streams under continuous source writes, then
// starts it again on the same data and port: the daemon keeps running,
// retries with backoff (logged, in /status and in the metrics), takes its
// stream lock again, and ends with the destination equal to the source. Before
// the retry it exited 1 ("destination: begin: ... connection refused").
func TestDestinationOutageDuringRunIsRetried(t *testing.T) {
	t.Parallel()
	t.Run("binlog", func(t *testing.T) { testDestinationOutage(t, false) })
	// The trigger-fed stream retries the same way.
	t.Run("triggers", func(t *testing.T) { testDestinationOutage(t, true) })
}

func testDestinationOutage(t *testing.T, triggers bool) {
	var e *env
	var base string
	var stopWriter func() error
	if triggers {
		e, base = outageEnv(t, "", true)
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
		stopWriter = writeLoop(t, func(i int) error {
			id := 1 + rng.IntN(600)
			var err error
			switch rng.IntN(4) {
			case 0:
				_, err = e.srcDB.Exec("INSERT INTO orders (customer, amount, note, updated) VALUES (?, ?, 'fresh', NOW(6))", fmt.Sprintf("new-%d", i), i%1000)
			case 1:
				_, err = e.srcDB.Exec("UPDATE orders SET amount = amount + 1, updated = NOW(6) WHERE id = ?", id)
			case 2:
				_, err = e.srcDB.Exec("DELETE FROM orders WHERE id = ?", id)
			case 3:
				_, err = e.srcDB.Exec("INSERT INTO items VALUES (?, ?, 'SKU', 1, 2.5) ON DUPLICATE KEY UPDATE qty = qty + 1", id, 3+rng.IntN(5))
			}
			return err
		})
	} else {
		e, base = outageEnv(t, "", false)
		stopWriter = e.writer(uint64(time.Now().UnixNano()))
	}
	writing := true
	defer func() {
		if writing {
			_ = stopWriter()
		}
	}()
	d := startDaemon(t, e.config, "run")
	e.streaming(d)

	down := time.Now()
	if err := e.dst.Kill(); err != nil {
		t.Fatal(err)
	}
	var status string
	waitFor(t, "/status to show the retry", 30*time.Second, func() bool {
		select {
		case <-d.exited:
			t.Fatalf("shiplog exited during the outage: %v\n%s", d.err, tail(d.stderr.String()))
		default:
		}
		code, body := getBody(base + "/status")
		status = body
		return code == http.StatusOK && strings.Contains(body, `"destination_retrying"`) && strings.Contains(body, `"attempts"`)
	})
	var st struct {
		Retrying struct {
			Since     time.Time `json:"since"`
			Attempts  int       `json:"attempts"`
			LastError string    `json:"last_error"`
		} `json:"destination_retrying"`
	}
	if err := json.Unmarshal([]byte(status), &st); err != nil || st.Retrying.Attempts < 1 || st.Retrying.LastError == "" || st.Retrying.Since.Before(down.Add(-time.Second)) {
		t.Fatalf("/status during the outage: %v\n%s", err, status)
	}
	if _, metrics := getBody(base + "/metrics"); !strings.Contains(metrics, "shiplog_destination_retrying 1") {
		t.Fatalf("metrics during the outage do not show shiplog_destination_retrying 1:\n%s", metrics)
	}
	// The outage lasts 5s (the fault being tested, not a wait for a result).
	time.Sleep(time.Until(down.Add(5 * time.Second)))
	select {
	case <-d.exited:
		t.Fatalf("shiplog exited during the outage: %v\n%s", d.err, tail(d.stderr.String()))
	default:
	}
	if err := e.dst.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/status without a retry", 60*time.Second, func() bool {
		code, body := getBody(base + "/status")
		return code == http.StatusOK && !strings.Contains(body, "destination_retrying")
	})
	_, metrics := getBody(base + "/metrics")
	if !strings.Contains(metrics, "shiplog_destination_retrying 0") || strings.Contains(metrics, "shiplog_destination_retries_total 0\n") {
		t.Fatalf("metrics after the outage:\n%s", metrics)
	}
	writing = false
	if err := stopWriter(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	var tables []string
	if triggers {
		tables = []string{"orders", "items", "types"}
	}
	e.converged(d, 90*time.Second, tables...)
	d.stop(t)
	log := d.stderr.String()
	for _, want := range []string{"destination write failed (connection); retrying", "attempt=", "destination back: write succeeded", "took the lock again on a new connection"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not say %q:\n%s", want, tail(log))
		}
	}
	if diffs, err := e.differences(tables); err != nil || len(diffs) > 0 {
		t.Fatalf("after the stop: %v %v", diffs, err)
	}
	if r := runShiplog(t, e.config, nil, "verify"); r.code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	runs := runsOf(t, e.config)
	if len(runs) == 0 || runs[0].Command != "run" || runs[0].Status != "success" || runs[0].ExitCode == nil || *runs[0].ExitCode != 0 {
		t.Fatalf("runs: %+v", runs)
	}
}

// TestDestinationOutageBeyondRetryForStops: a destination down for longer
// than destination.retry_for stops `run` with exit 1 and an error naming the
// destination (without its password), the bound and the remedy; `shiplog
// runs` shows that error and the exit status while the destination is back
// but nothing else ran (the end waited in a local file, not taken for an
// interrupted run), and the next command records it in the destination. The
// stream then resumes exactly where it stopped. No secret is in the error:
// the destination is named as user:***@tcp(host:port)/database.
func TestDestinationOutageBeyondRetryForStops(t *testing.T) {
	t.Parallel()
	e, _ := outageEnv(t, ", retry_for: 3s", false)
	stopWriter := e.writer(uint64(time.Now().UnixNano()))
	writing := true
	defer func() {
		if writing {
			_ = stopWriter()
		}
	}()
	d := startDaemon(t, e.config, "run")
	e.streaming(d)
	down := time.Now()
	if err := e.dst.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("shiplog still runs 60s into an outage longer than retry_for 3s\n%s", tail(d.stderr.String()))
	}
	took := time.Since(down)
	t.Logf("stopped %s into the outage", took.Round(time.Millisecond))
	if code := d.cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, tail(d.stderr.String()))
	}
	if took < 3*time.Second {
		t.Fatalf("stopped %s into the outage, before retry_for 3s", took)
	}
	stderr := d.stderr.String()
	last := stderr[strings.LastIndex(stderr, "shiplog:"):]
	for _, want := range []string{"destination unreachable", fmt.Sprintf("root:***@tcp(127.0.0.1:%d)/shop_new", e.dst.Port), "destination.retry_for 3s",
		"nothing is lost", "run` again", "raise destination.retry_for"} {
		if !strings.Contains(last, want) {
			t.Errorf("the error does not say %q:\n%s", want, last)
		}
	}
	if !strings.Contains(stderr, "kept in ") {
		t.Errorf("the log does not say where the run's end is kept:\n%s", tail(stderr))
	}

	if err := e.dst.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	pending, _ := filepath.Glob(filepath.Join(cacheHome(t), "shiplog", "runs", "*.json"))
	if len(pending) != 1 {
		t.Fatalf("pending run ends: %v", pending)
	}
	checkRun := func(when string) {
		t.Helper()
		runs := runsOf(t, e.config)
		var run *runRow
		for i := range runs {
			if runs[i].Command == "run" {
				run = &runs[i]
				break
			}
		}
		if run == nil || run.Status != "failed" || run.Error == nil || !strings.Contains(*run.Error, "destination unreachable") ||
			!strings.Contains(*run.Error, "destination.retry_for 3s") ||
			run.ExitCode == nil || *run.ExitCode != 1 || run.EndedAt == nil {
			t.Fatalf("runs %s: %+v", when, runs)
		}
	}
	checkRun("before the next command")
	r := runShiplog(t, e.config, nil, "runs")
	if r.code != 0 || !strings.Contains(r.stdout, "EXIT") || !strings.Contains(r.stdout, "destination unreachable") {
		t.Fatalf("runs (table): exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	writing = false
	if err := stopWriter(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	if pending, _ := filepath.Glob(filepath.Join(cacheHome(t), "shiplog", "runs", "*.json")); len(pending) != 0 {
		t.Fatalf("run ends still pending after the next command: %v", pending)
	}
	var status, msg string
	if err := e.dstDB.QueryRow("SELECT status, error FROM _shiplog_runs WHERE command = 'run'").Scan(&status, &msg); err != nil || status != "failed" || !strings.Contains(msg, "destination unreachable") {
		t.Fatalf("_shiplog_runs of the run: %q %q %v", status, msg, err)
	}
	checkRun("after the next command")
	e.assertIdentical()
}

// TestDestinationConnectionsKilledUnderWrites kills shiplog's destination
// sessions (KILL CONNECTION from another session) again and again while
// `run` streams under continuous source writes: its transactions, COMMITs
// in flight first, and the session holding its stream lock. Each killed
// write is retried after reading the checkpoints back, so nothing is applied
// twice (the keyless events table, applied by plain inserts and row
// deletes, would show a duplicate) and nothing is lost; the stream lock is
// taken again on a new connection.
func TestDestinationConnectionsKilledUnderWrites(t *testing.T) {
	t.Parallel()
	e, _ := outageEnv(t, "", false)
	stopWriter := e.writer(uint64(time.Now().UnixNano()))
	writing := true
	defer func() {
		if writing {
			_ = stopWriter()
		}
	}()
	d := startDaemon(t, e.config, "run")
	e.streaming(d)

	admin, err := e.dst.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	admin.SetMaxOpenConns(1)
	var kills, commits int
	kill := func(where string) int {
		rows, err := admin.Query("SELECT ID, IFNULL(INFO, '') FROM information_schema.PROCESSLIST WHERE DB = 'shop_new' AND ID <> CONNECTION_ID() AND " + where)
		if err != nil {
			t.Fatal(err)
		}
		type victim struct {
			id   int64
			info string
		}
		var vs []victim
		for rows.Next() {
			var v victim
			if err := rows.Scan(&v.id, &v.info); err != nil {
				t.Fatal(err)
			}
			vs = append(vs, v)
		}
		rows.Close()
		n := 0
		for _, v := range vs {
			if _, err := admin.Exec(fmt.Sprintf("KILL CONNECTION %d", v.id)); err == nil {
				n++
				if strings.HasPrefix(strings.ToUpper(v.info), "COMMIT") {
					commits++
				}
			}
		}
		return n
	}
	end := time.Now().Add(8 * time.Second)
	for i := 0; time.Now().Before(end); i++ {
		select {
		case <-d.exited:
			t.Fatalf("shiplog exited: %v\n%s", d.err, tail(d.stderr.String()))
		default:
		}
		if i == 20 {
			// Every session, the one holding the stream lock too.
			kills += kill("1=1")
		} else {
			// COMMITs in flight first, else any busy session.
			if n := kill("INFO LIKE 'COMMIT%'"); n > 0 {
				kills += n
			} else {
				kills += kill("COMMAND = 'Query'")
			}
		}
		time.Sleep(50 * time.Millisecond) // the pace of the fault, not a wait for a result
	}
	t.Logf("killed %d destination sessions (%d during a COMMIT)", kills, commits)
	if kills < 5 {
		t.Fatalf("only %d sessions killed: the test did not test killed connections", kills)
	}
	writing = false
	if err := stopWriter(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	e.converged(d, 90*time.Second)
	d.stop(t)
	log := d.stderr.String()
	for _, want := range []string{"destination write failed (connection); retrying", "took the lock again on a new connection"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not say %q:\n%s", want, tail(log))
		}
	}
	e.assertIdentical()
}

// TestDestinationLostDuringCopyResumes kills the destination server in the
// middle of `migrate data`: the copy stops with exit 1 and an error naming
// the destination and the remedy; once the server is back, the same command
// resumes the copy and the destination equals the source.
func TestDestinationLostDuringCopyResumes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "bulk_size: 20, workers: 2, full_row_tables: [events]")
	e.seedShop(6000)
	d := startDaemon(t, e.config, "migrate", "data")
	waitFor(t, "chunks committed", 60*time.Second, func() bool {
		select {
		case <-d.exited:
			t.Fatalf("the copy ended before the destination could be killed: %v\n%s", d.err, tail(d.stderr.String()))
		default:
		}
		var n int
		_ = e.dstDB.QueryRow("SELECT COUNT(*) FROM _shiplog_tables WHERE state = 'copying' AND rows_copied > 40").Scan(&n)
		return n > 0
	})
	if err := e.dst.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("migrate data still runs 60s after the destination died\n%s", tail(d.stderr.String()))
	}
	stderr := d.stderr.String()
	if code := d.cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, tail(stderr))
	}
	last := stderr[strings.LastIndex(stderr, "shiplog:"):]
	for _, want := range []string{"destination unreachable", fmt.Sprintf("root:***@tcp(127.0.0.1:%d)/shop_new", e.dst.Port), "was lost during the copy", "migrate data` again"} {
		if !strings.Contains(last, want) {
			t.Errorf("the error does not say %q:\n%s", want, last)
		}
	}
	if err := e.dst.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "data")
	e.assertIdentical()
}

// TestKafkaApplierAndPublisherRetryThroughDestinationOutage stops the
// destination server for 5s while a publisher (sink: kafka, its checkpoint
// kept on that server) and `apply --from-kafka` run under source writes: both
// retry (the applier reads its partitions' offsets back before applying a
// batch again) and keep running, and the destination ends equal to the
// source.
func TestKafkaApplierAndPublisherRetryThroughDestinationOutage(t *testing.T) {
	t.Parallel()
	k := testenv.KafkaT(t, true)
	e := newEnv(t, "")
	ctx := context.Background()
	e.both(shopDDL, itemsDDL)
	if err := e.src.Exec(ctx, "shop",
		`INSERT INTO orders (customer, amount, note, status, updated) SELECT CONCAT('c', seq), seq, 'n', 'new', NOW(6) FROM seq_1_to_1000`,
		`INSERT INTO items SELECT id, 1, 'SKU', 1, 2.5 FROM orders`); err != nil {
		t.Fatal(err)
	}
	publisher, applier := e.kafkaConfigs(fmt.Sprintf("kafka: {brokers: [%s], topic_prefix: shop, partitions: 3}\n", strings.Join(k.Addrs, ", ")))
	stopWriter := writeLoop(t, func(i int) error {
		id := 1 + i*7%1100
		var err error
		switch i % 4 {
		case 0:
			_, err = e.srcDB.Exec("UPDATE orders SET amount = amount + 1, status = 'paid' WHERE id = ?", id)
		case 1:
			_, err = e.srcDB.Exec("INSERT INTO orders (customer, amount, updated) VALUES (?, 1, NOW(6))", fmt.Sprint("w", i))
		case 2:
			_, err = e.srcDB.Exec("DELETE FROM items WHERE order_id = ?", id)
		case 3:
			_, err = e.srcDB.Exec("UPDATE IGNORE items SET line = line + 1 WHERE order_id = ?", id)
		}
		return err
	})
	writing := true
	defer func() {
		if writing {
			_ = stopWriter()
		}
	}()
	if r := runShiplog(t, publisher, nil, "migrate", "data"); r.code != 0 {
		t.Fatalf("publish snapshot: %d\n%s", r.code, r.stderr)
	}
	pub := startDaemon(t, publisher, "migrate", "delta")
	app := startDaemon(t, applier, "apply", "--from-kafka")
	waitFor(t, "the applier to apply rows", 60*time.Second, func() bool {
		var n int
		_ = e.dstDB.QueryRow("SELECT COUNT(*) FROM orders").Scan(&n)
		return n > 1000
	})
	// The applier has a backlog when the destination goes down, so it writes
	// during the outage: it is stopped while the publisher publishes more
	// (the paced writer leaves it caught up otherwise), and goes on once the
	// destination is down.
	if err := app.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	published := func() string {
		var pos string
		_ = e.dstDB.QueryRow("SELECT GROUP_CONCAT(position ORDER BY position) FROM pubstate._shiplog_checkpoint").Scan(&pos)
		return pos
	}
	before := published()
	waitFor(t, "the publisher to publish while the applier is stopped", 60*time.Second, func() bool { return published() != before })
	down := time.Now()
	err := e.dst.Kill()
	_ = app.cmd.Process.Signal(syscall.SIGCONT)
	if err != nil {
		t.Fatal(err)
	}
	// The outage lasts 5s (the fault being tested, not a wait for a result).
	time.Sleep(time.Until(down.Add(5 * time.Second)))
	for name, d := range map[string]*daemon{"publisher": pub, "applier": app} {
		select {
		case <-d.exited:
			t.Fatalf("the %s exited during the outage: %v\n%s", name, d.err, tail(d.stderr.String()))
		default:
		}
	}
	if err := e.dst.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	writing = false
	if err := stopWriter(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	pub.stop(t)
	if r := runShiplog(t, publisher, nil, "migrate", "delta", "--exit-when-caught-up"); r.code != 0 {
		t.Fatalf("publisher catch-up: %d\n%s", r.code, r.stderr)
	}
	e.converged(app, 90*time.Second)
	app.stop(t)
	for name, d := range map[string]*daemon{"publisher": pub, "applier": app} {
		if log := d.stderr.String(); !strings.Contains(log, "destination write failed (connection); retrying") && !strings.Contains(log, "taking the lock again") {
			t.Errorf("the %s's log shows no retry:\n%s", name, tail(log))
		}
	}
	if log := app.stderr.String(); !strings.Contains(log, "destination back: write succeeded") {
		t.Errorf("the applier's log shows no retried batch:\n%s", tail(log))
	}
	e.assertIdentical()
}
