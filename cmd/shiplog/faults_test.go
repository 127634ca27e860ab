//go:build faults && !unit

// The fault suite, `make test-faults`: a TCP proxy (testenv.Proxy) sits in
// front of the source, the destination and the Kafka broker; each test cuts,
// stalls, delays or resets their connections, or kills a server or shiplog,
// under a steady load of source writes, then checks that the destination
// ends equal to the source (row by row, and by `shiplog verify`) and that
// shiplog noticed and recovered within its deadlines.
package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shiplog/shiplog/internal/failpoint"
	"github.com/shiplog/shiplog/internal/testenv"
)

// faultEnv is an env whose shiplog configuration reaches both servers
// through proxies, with the control API on a free port.
type faultEnv struct {
	*env
	srcProxy, dstProxy *testenv.Proxy
	base               string // http://127.0.0.1:port
}

func newFaultEnv(t *testing.T, extra string) *faultEnv {
	t.Helper()
	e := newEnv(t, "")
	f := &faultEnv{env: e, srcProxy: testenv.NewProxy(t, e.src.Addr()), dstProxy: testenv.NewProxy(t, e.dst.Addr())}
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	f.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	e.config = e.writeConfig(fmt.Sprintf(`source: {host: 127.0.0.1, port: %d, user: root, password: "", database: shop}
destination: {host: 127.0.0.1, port: %d, user: root, database: shop_new}
http: {listen: "127.0.0.1:%d", token: %q}
options: {full_row_tables: [events]}
%s`, f.srcProxy.Port(), f.dstProxy.Port(), port, httpToken, extra))
	e.seedShop(2000)
	return f
}

// streaming starts `run` and returns once the copy is done and the stream
// has moved the checkpoint.
func (f *faultEnv) streaming() *daemon {
	f.t.Helper()
	d := startDaemon(f.t, f.config, "run")
	f.waitCheckpointMoves(d, 90*time.Second)
	return d
}

func (f *faultEnv) checkpoint() string {
	var pos string
	_ = f.dstDB.QueryRow("SELECT position FROM _shiplog_checkpoint").Scan(&pos)
	return pos
}

// waitCheckpointMoves waits until the checkpoint changes (a stream applied
// something), failing if the daemon exits first.
func (f *faultEnv) waitCheckpointMoves(d *daemon, timeout time.Duration) {
	f.t.Helper()
	before := f.checkpoint()
	if _, err := f.srcDB.Exec("INSERT INTO events VALUES ('tick', 'p', NOW())"); err != nil {
		f.t.Fatal(err)
	}
	waitFor(f.t, "the checkpoint to move", timeout, func() bool {
		f.alive(d)
		return f.checkpoint() != before
	})
}

// alive fails the test when the daemon has exited.
func (f *faultEnv) alive(d *daemon) {
	f.t.Helper()
	select {
	case <-d.exited:
		f.t.Fatalf("shiplog exited during the fault: %v\n%s", d.err, tail(d.stderr.String()))
	default:
	}
}

// converged stops the writer, waits (up to within) until the destination
// equals the source row for row while the daemon still runs, stops the
// daemon cleanly and runs verify. It returns how long convergence took.
func (f *faultEnv) converged(d *daemon, stopWriter func() error, within time.Duration) time.Duration {
	f.t.Helper()
	if err := stopWriter(); err != nil {
		f.t.Fatalf("source writer: %v", err)
	}
	start := time.Now()
	f.waitEqual("the destination to equal the source", within, d)
	took := time.Since(start)
	d.stop(f.t)
	if r := runShiplog(f.t, f.config, nil, "verify"); r.code != 0 {
		f.t.Fatalf("verify after the fault: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return took
}

// waitEqual waits until the destination equals the source row for row,
// failing (with the differences) after timeout or if a daemon exits.
func (f *faultEnv) waitEqual(what string, timeout time.Duration, ds ...*daemon) {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	var last []string
	for {
		for _, d := range ds {
			f.alive(d)
		}
		diffs, err := testenv.CompareDatabases(context.Background(), f.srcDB, "shop", f.dstDB, "shop_new")
		if err == nil && len(diffs) == 0 {
			return
		}
		if err != nil {
			last = []string{err.Error()}
		} else {
			last = diffs
		}
		if time.Now().After(deadline) {
			if len(last) > 20 {
				last = last[:20]
			}
			var logs []string
			for _, d := range ds {
				logs = append(logs, tail(d.stderr.String()))
			}
			f.t.Fatalf("timed out after %v waiting for %s; differences:\n%s\nshiplog's stderr (tail):\n%s", timeout, what, strings.Join(last, "\n"), strings.Join(logs, "\n---\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// flap cuts every connection through p every `every` for d: each
// reconnection lives at most `every`.
func flap(p *testenv.Proxy, d, every time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		p.Cut()
		time.Sleep(every)
	}
}

// statusWithin fails unless GET /status answers 200 within limit.
func (f *faultEnv) statusWithin(limit time.Duration) {
	f.t.Helper()
	c := tokenClient(httpToken)
	c.Timeout = limit
	start := time.Now()
	resp, err := c.Get(f.base + "/status")
	if err != nil {
		f.t.Fatalf("/status did not answer within %v: %v", limit, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		f.t.Fatalf("/status: %s", resp.Status)
	}
	f.t.Logf("/status answered in %v", time.Since(start).Round(time.Millisecond))
}

// Source link: 5 s of flapping (every connection cut after 300 ms), then a
// 15 s outage (every connection cut at once), under writes.
func TestFaultSourceCutsAndOutage(t *testing.T) {
	f := newFaultEnv(t, "")
	d := f.streaming()
	stop := f.writer(11)
	flap(f.srcProxy, 5*time.Second, 300*time.Millisecond)
	time.Sleep(time.Second)
	flap(f.srcProxy, 15*time.Second, 20*time.Millisecond)
	f.alive(d)
	f.statusWithin(time.Second)
	took := f.converged(d, stop, 90*time.Second)
	t.Logf("converged %v after the source came back", took.Round(time.Millisecond))
}

// Destination link: 5 s of flapping, then a 15 s outage, under writes: the
// daemon retries (it does not exit) and converges.
func TestFaultDestinationCutsAndOutage(t *testing.T) {
	f := newFaultEnv(t, "")
	d := f.streaming()
	stop := f.writer(12)
	flap(f.dstProxy, 5*time.Second, 300*time.Millisecond)
	time.Sleep(time.Second)
	flap(f.dstProxy, 15*time.Second, 20*time.Millisecond)
	f.alive(d)
	took := f.converged(d, stop, 90*time.Second)
	t.Logf("converged %v after the destination came back", took.Round(time.Millisecond))
}

// 500 ms of latency on every packet from and to the source: /status still
// answers from memory within a second, and the stream converges once the
// latency is gone.
func TestFaultSourceLatency(t *testing.T) {
	f := newFaultEnv(t, "")
	d := f.streaming()
	stop := f.writer(13)
	f.srcProxy.Delay(500 * time.Millisecond)
	f.srcProxy.Cut() // new connections see the delay from their handshake on
	for i := 0; i < 5; i++ {
		time.Sleep(2 * time.Second)
		f.statusWithin(time.Second)
	}
	f.srcProxy.Delay(0)
	f.converged(d, stop, 90*time.Second)
}

// Both servers killed with SIGKILL mid-stream, one after the other, and
// restarted on the same data: crash recovery on both sides, no loss, no
// duplicate.
func TestFaultServersKilled(t *testing.T) {
	f := newFaultEnv(t, "")
	d := f.streaming()
	ctx := context.Background()
	// The writer stops first: its statements would fail while the source
	// is down.
	stop := f.writer(14)
	time.Sleep(2 * time.Second)
	if err := stop(); err != nil {
		t.Fatalf("source writer: %v", err)
	}
	if err := f.src.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := f.src.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	f.alive(d)
	stop = f.writer(16)
	time.Sleep(2 * time.Second)
	if err := f.dst.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	if err := f.dst.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	f.alive(d)
	took := f.converged(d, stop, 120*time.Second)
	t.Logf("converged %v after both servers came back", took.Round(time.Millisecond))
}

// shiplog killed with SIGKILL at random moments while the source link
// flaps: each restart resumes from the checkpoint, exactly once.
func TestFaultShiplogKilledAtRandomWhileLinksFlap(t *testing.T) {
	f := newFaultEnv(t, "")
	d := f.streaming()
	stop := f.writer(17)
	rng := rand.New(rand.NewPCG(17, 3))
	done := make(chan struct{})
	go func() {
		defer close(done)
		flap(f.srcProxy, 8*time.Second, 400*time.Millisecond)
	}()
	for i := 0; i < 4; i++ {
		time.Sleep(time.Duration(300+rng.IntN(1500)) * time.Millisecond)
		_ = d.cmd.Process.Signal(syscall.SIGKILL)
		<-d.exited
		d = startDaemon(t, f.config, "run")
	}
	<-done
	took := f.converged(d, stop, 90*time.Second)
	t.Logf("converged %v after the last kill", took.Round(time.Millisecond))
}

// A second daemon on the same stream while the first is frozen (SIGSTOP,
// as a VM pause would): the second is refused, naming the holder; the first
// resumes and converges.
func TestFaultSecondDaemonWhileFirstFrozen(t *testing.T) {
	f := newFaultEnv(t, "")
	d := f.streaming()
	stop := f.writer(18)
	if err := d.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	r := runShiplog(t, f.config, nil, "migrate", "delta")
	_ = d.cmd.Process.Signal(syscall.SIGCONT)
	if r.code != 4 || !strings.Contains(r.stderr, fmt.Sprintf("pid %d", d.cmd.Process.Pid)) {
		t.Fatalf("second daemon: want exit 4 naming pid %d, got %d\n%s", d.cmd.Process.Pid, r.code, r.stderr)
	}
	f.converged(d, stop, 90*time.Second)
}

// A server that accepts the connection and never answers (no handshake):
// status and run fail within the connect deadline, naming the server.
func TestFaultNoHandshake(t *testing.T) {
	e := newEnv(t, "")
	e.both(shopDDL, itemsDDL)
	hole := testenv.NewBlackhole(t)
	for _, c := range []struct{ side, cfg string }{
		{"source", fmt.Sprintf("source: {host: 127.0.0.1, port: %d, user: root, database: shop}\ndestination: {host: 127.0.0.1, port: %d, user: root, database: shop_new}\n", hole.Port(), e.dst.Port)},
		{"destination", fmt.Sprintf("source: {host: 127.0.0.1, port: %d, user: root, database: shop}\ndestination: {host: 127.0.0.1, port: %d, user: root, database: shop_new}\n", e.src.Port, hole.Port())},
		{"kafka", fmt.Sprintf("source: {host: 127.0.0.1, port: %d, user: root, database: shop}\ndestination: {host: 127.0.0.1, port: %d, user: root, database: shop_new}\nsink: kafka\nkafka: {brokers: [%s]}\n", e.src.Port, e.dst.Port, hole.Addr())},
	} {
		cfg := e.writeConfig(c.cfg)
		cmds := [][]string{{"status"}, {"run"}}
		if c.side == "kafka" {
			cmds = [][]string{{"run"}, {"apply", "--from-kafka"}}
		}
		for _, args := range cmds {
			start := time.Now()
			r := runShiplog(t, cfg, nil, args...)
			took := time.Since(start)
			// timeouts.connect (10s) and the Kafka dial/metadata deadlines
			// (10s), plus start-up.
			if r.code == 0 || !strings.Contains(strings.ToLower(r.stderr), c.side) || took > 20*time.Second {
				t.Errorf("%s %v against a silent %s: exit %d after %v (want non-zero within 20s naming the %s)\n%s",
					"shiplog", args, c.side, r.code, took.Round(time.Millisecond), c.side, r.stderr)
			}
		}
	}
}

// Kafka link: publisher and applier reach the broker only through a proxy;
// 5 s of flapping and a 10 s outage under writes, then both converge.
func TestFaultKafkaCutsAndOutage(t *testing.T) {
	k, kp := testenv.KafkaBehindProxy(t, true)
	f := newFaultEnv(t, "")
	kafka := fmt.Sprintf("kafka: {brokers: [%s], topic_prefix: fault, partitions: 3}\noptions: {full_row_tables: [events]}\n", strings.Join(k.Addrs, ", "))
	if err := f.dst.Exec(context.Background(), "", "CREATE DATABASE pubstate"); err != nil {
		t.Fatal(err)
	}
	publisher := f.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: pubstate}\nsink: kafka\n%s", f.src.Port, f.dst.Port, kafka))
	applier := f.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: shop_new}\n%s", f.src.Port, f.dst.Port, kafka))
	if r := runShiplog(t, publisher, nil, "migrate", "data"); r.code != 0 {
		t.Fatalf("publish snapshot: %d\n%s", r.code, r.stderr)
	}
	pub := startDaemon(t, publisher, "migrate", "delta")
	app := startDaemon(t, applier, "apply", "--from-kafka")
	stop := f.writer(19)
	time.Sleep(2 * time.Second)
	flap(kp, 5*time.Second, 300*time.Millisecond)
	time.Sleep(time.Second)
	flap(kp, 10*time.Second, 20*time.Millisecond)
	f.alive(pub)
	f.alive(app)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	f.waitEqual("the destination to equal the source through Kafka", 120*time.Second, pub, app)
	pub.stop(t)
	app.stop(t)
}

// killedAt waits for d to die at its failpoint: by SIGKILL, having said so.
func killedAt(t *testing.T, d *daemon, point string) {
	t.Helper()
	select {
	case <-d.exited:
	case <-time.After(120 * time.Second):
		t.Fatalf("failpoint %s not reached within 120s\n%s", point, tail(d.stderr.String()))
	}
	ws, ok := d.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL || !strings.Contains(d.stderr.String(), "failpoint "+point) {
		t.Fatalf("want a SIGKILL at failpoint %s, got %v\n%s", point, d.cmd.ProcessState, tail(d.stderr.String()))
	}
}

// shiplog killed at each named point of its work (a committed copy chunk,
// a destination batch before and after its COMMIT), under writes and with
// the destination link flapping: each restart ends equal to the source.
func TestFaultShiplogKilledAtNamedPoints(t *testing.T) {
	f := newFaultEnv(t, "")
	stop := f.writer(20)
	// The copy: killed after its 3rd committed chunk.
	killedAt(t, startDaemonEnv(t, f.config, []string{failpoint.Env + "=" + failpoint.CopyChunkCommitted + ":3"}, "run"), failpoint.CopyChunkCommitted)
	// The stream: before the 40th destination commit, then after the 40th.
	for _, point := range []string{failpoint.DestBeforeCommit, failpoint.DestAfterCommit} {
		flapped := make(chan struct{})
		go func() {
			defer close(flapped)
			flap(f.dstProxy, 3*time.Second, 700*time.Millisecond)
		}()
		d := startDaemonEnv(t, f.config, []string{failpoint.Env + "=" + point + ":40"}, "run")
		killedAt(t, d, point)
		<-flapped
	}
	d := startDaemon(t, f.config, "run")
	f.waitCheckpointMoves(d, 90*time.Second)
	took := f.converged(d, stop, 90*time.Second)
	t.Logf("converged %v after three kills at named points", took.Round(time.Millisecond))
}

// The Kafka publisher killed once the broker acknowledged a batch whose
// checkpoint is not written yet: the restart publishes it again, and the
// applier applies it once.
func TestFaultPublisherKilledAfterAcknowledgement(t *testing.T) {
	k := testenv.KafkaT(t, true)
	f := newFaultEnv(t, "")
	kafka := fmt.Sprintf("kafka: {brokers: [%s], topic_prefix: fp, partitions: 2}\noptions: {full_row_tables: [events]}\n", strings.Join(k.Addrs, ", "))
	if err := f.dst.Exec(context.Background(), "", "CREATE DATABASE pubstate"); err != nil {
		t.Fatal(err)
	}
	publisher := f.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: pubstate}\nsink: kafka\n%s", f.src.Port, f.dst.Port, kafka))
	applier := f.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: shop_new}\n%s", f.src.Port, f.dst.Port, kafka))
	if r := runShiplog(t, publisher, nil, "migrate", "data"); r.code != 0 {
		t.Fatalf("publish snapshot: %d\n%s", r.code, r.stderr)
	}
	app := startDaemon(t, applier, "apply", "--from-kafka")
	stop := f.writer(21)
	killedAt(t, startDaemonEnv(t, publisher, []string{failpoint.Env + "=" + failpoint.Published + ":30"}, "migrate", "delta"), failpoint.Published)
	pub := startDaemon(t, publisher, "migrate", "delta")
	time.Sleep(2 * time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	f.waitEqual("the destination to equal the source through Kafka", 120*time.Second, pub, app)
	pub.stop(t)
	app.stop(t)
}

// A source transaction of 20,000 row updates and 3,000 inserts, 50 times
// delta.max_transaction_bytes, applied in parts:
// shiplog killed after its 10th part is in the open destination
// transaction leaves nothing of it on the destination and the checkpoint
// before it; restarted, it reads the transaction again while the source
// link is cut every 700 ms for 2 s (the reader re-reads from the
// transaction's start and drops what it had handed on), and the destination
// ends equal to the source.
func TestFaultLargeTransactionKilledAndCut(t *testing.T) {
	f := newFaultEnv(t, "delta: {max_transaction_bytes: 65536}\nthrottle: {max_batch_changes: 1000}\n")
	f.both(`CREATE TABLE big (id INT NOT NULL PRIMARY KEY, k INT NOT NULL, c VARCHAR(100) NOT NULL) ENGINE=InnoDB`,
		`CREATE TABLE ledger (n INT NOT NULL PRIMARY KEY, note VARCHAR(40) NOT NULL) ENGINE=InnoDB`)
	if err := f.src.Exec(context.Background(), "shop",
		fmt.Sprintf(`INSERT INTO big SELECT seq, 0, REPEAT(CHAR(97 + seq %% 26), 60) FROM seq_1_to_%d`, largeTxRows)); err != nil {
		t.Fatal(err)
	}
	d := f.streaming()
	before := f.checkpoint()
	d.stop(t)
	l := &largeTxEnv{env: f.env}
	l.largeTx()
	killedAt(t, startDaemonEnv(t, f.config, []string{failpoint.Env + "=" + failpoint.DestPartApplied + ":10"}, "run"), failpoint.DestPartApplied)
	var ledger int
	if err := f.dstDB.QueryRow("SELECT COUNT(*) FROM ledger").Scan(&ledger); err != nil {
		t.Fatal(err)
	}
	if n := l.updated(); n != 0 || ledger != 0 || f.checkpoint() != before {
		t.Fatalf("killed in the middle of the transaction, the destination kept part of it: %d updated rows, %d ledger rows, checkpoint %s (before: %s)",
			n, ledger, f.checkpoint(), before)
	}
	d = startDaemon(t, f.config, "run")
	flapped := make(chan struct{})
	go func() { flap(f.srcProxy, 2*time.Second, 700*time.Millisecond); close(flapped) }()
	waitFor(t, "the transaction applied after the restart", 120*time.Second, func() bool {
		f.alive(d)
		return l.updated() == largeTxRows
	})
	<-flapped // verify, in converged, reads the source through the proxy
	if err := f.dstDB.QueryRow("SELECT COUNT(*) FROM ledger").Scan(&ledger); err != nil {
		t.Fatal(err)
	}
	if ledger != 3000 {
		t.Fatalf("%d ledger rows after the restart, want 3000", ledger)
	}
	took := f.converged(d, func() error { return nil }, 90*time.Second)
	t.Logf("converged %v after the kill in the middle of the transaction", took.Round(time.Millisecond))
}

// The binlog connection stalls (open, passing nothing) under writes: the
// stall is noticed within timeouts.binlog_stall (3s here) plus a heartbeat,
// logged, and the stream reconnects and converges, while /status answers.
func TestFaultSourceStalled(t *testing.T) {
	f := newFaultEnv(t, "timeouts: {binlog_stall: 3s}\n")
	d := f.streaming()
	stop := f.writer(22)
	time.Sleep(time.Second)
	f.srcProxy.Stall()
	stalled := time.Now()
	waitFor(t, "the stall to be logged", 10*time.Second, func() bool {
		f.alive(d)
		return strings.Contains(d.stderr.String(), "binlog stream stalled")
	})
	t.Logf("stall noticed after %v", time.Since(stalled).Round(time.Millisecond))
	f.statusWithin(time.Second)
	took := f.converged(d, stop, 90*time.Second)
	f.srcProxy.Resume()
	t.Logf("converged %v after the writes stopped, the stalled connection still open", took.Round(time.Millisecond))
}

// Every destination connection stalls (open, passing nothing) under
// writes, the stream lock's too: the statements in flight end at
// timeouts.read/write (3s here), the batch is retried on new connections,
// the stream lock is taken again, and the stream converges while the
// stalled connections stay open.
func TestFaultDestinationStalled(t *testing.T) {
	f := newFaultEnv(t, "timeouts: {read: 3s, write: 3s}\n")
	d := f.streaming()
	stop := f.writer(23)
	time.Sleep(time.Second)
	f.dstProxy.Stall()
	stalled := time.Now()
	f.statusWithin(time.Second)
	took := f.converged(d, stop, 120*time.Second)
	f.dstProxy.Resume()
	t.Logf("stall began %v before the end; converged %v after the writes stopped; %d lost session(s) ended",
		time.Since(stalled).Round(time.Millisecond), took.Round(time.Millisecond), strings.Count(d.stderr.String(), "ended a lost destination session"))
}
