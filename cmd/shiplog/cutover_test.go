//go:build !unit

package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shiplog/shiplog/internal/testenv"
)

// cutoverEnv is a source with sysbench's tables (written by an ordinary user,
// app, whom read_only stops; root is exempt from read_only), copied, with a
// `migrate delta` daemon streaming.
type cutoverEnv struct {
	*env
	daemon *exec.Cmd
}

func newCutoverEnv(t *testing.T) *cutoverEnv {
	t.Helper()
	e := &cutoverEnv{env: newEnv(t, "")}
	for _, host := range []string{"%", "localhost", "127.0.0.1"} {
		if err := e.src.Exec(context.Background(), "shop",
			fmt.Sprintf("CREATE USER 'app'@'%s' IDENTIFIED BY 'app'", host),
			fmt.Sprintf("GRANT ALL ON shop.* TO 'app'@'%s'", host)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _, _ = e.srcDB.Exec("SET GLOBAL read_only = OFF") })
	e.prepareSysbench()
	return e
}

// startDelta copies the tables and starts the delta daemon.
func (e *cutoverEnv) startDelta() {
	e.t.Helper()
	e.mustRun("migrate", "data")
	cmd, errb := e.startStream()
	e.daemon = cmd
	e.stopOnCleanup(cmd, errb)
}

// stopOnCleanup stops a delta daemon when the test ends, showing its log if
// the test failed.
func (e *cutoverEnv) stopOnCleanup(cmd *exec.Cmd, stderr *testenv.Buffer) {
	t := e.t
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("delta daemon stderr:\n%s", tail(stderr.String()))
		}
	})
}

func (e *cutoverEnv) readOnly() int {
	e.t.Helper()
	var ro int
	if err := e.srcDB.QueryRow("SELECT @@GLOBAL.read_only").Scan(&ro); err != nil {
		e.t.Fatal(err)
	}
	return ro
}

// TestCutoverUnderSysbenchLoad cuts over while sysbench writes to the source:
// the source ends read-only, sysbench's writes fail from then on, the hook
// ran, and the destination is identical to the source.
func TestCutoverUnderSysbenchLoad(t *testing.T) {
	t.Parallel()
	e := newCutoverEnv(t)
	loadStart := time.Now()
	load := e.sysbench("app", "run", "--threads=2", "--time=120", "--rand-seed=5")
	var loadOut bytes.Buffer
	load.Stdout, load.Stderr = &loadOut, &loadOut
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = load.Process.Kill(); _ = load.Wait() }()
	e.startDelta()
	time.Sleep(2 * time.Second) // the load streams a moment

	hookFile := filepath.Join(t.TempDir(), "ready")
	r := runShiplog(t, e.config, nil, "cutover", "--set-source-read-only", "--max-lag", "2s", "--timeout", "60s",
		"--on-ready", `printf '%s' "$SHIPLOG_CUTOVER_POSITION" > `+hookFile)
	if r.code != 0 {
		t.Fatalf("cutover: exit %d\n%s%s", r.code, r.stdout, tail(r.stderr))
	}
	var res struct {
		FinalPosition        string   `json:"final_position"`
		WaitedForLagSeconds  *float64 `json:"waited_for_lag_seconds"`
		WriteDowntimeSeconds *float64 `json:"write_downtime_seconds"`
		Verified             bool     `json:"verified"`
		VerifyScope          string   `json:"verify_scope"`
		RowsVerified         int64    `json:"rows_verified"`
		VerifySeconds        float64  `json:"verify_seconds"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("cutover output is not JSON: %v\n%s", err, r.stdout)
	}
	if res.FinalPosition == "" || res.WaitedForLagSeconds == nil || res.WriteDowntimeSeconds == nil || !res.Verified || res.VerifyScope != "window" || res.RowsVerified <= 0 || res.RowsVerified >= 3*3000 {
		t.Fatalf("cutover result: %s", r.stdout)
	}
	t.Logf("cutover under sysbench load: write downtime %.3fs (verify %.3fs of it, %d rows changed in the window), waited %.3fs for the lag; final position %s",
		*res.WriteDowntimeSeconds, res.VerifySeconds, res.RowsVerified, *res.WaitedForLagSeconds, res.FinalPosition)
	if *res.WriteDowntimeSeconds <= 0 || *res.WriteDowntimeSeconds >= 10 {
		t.Fatalf("write downtime %.3fs, want (0, 10)", *res.WriteDowntimeSeconds)
	}
	pos, err := os.ReadFile(hookFile)
	if err != nil {
		t.Fatalf("the on-ready hook did not run: %v", err)
	}
	if string(pos) != res.FinalPosition {
		t.Fatalf("hook saw SHIPLOG_CUTOVER_POSITION=%q, result says %q", pos, res.FinalPosition)
	}
	if ro := e.readOnly(); ro != 1 {
		t.Fatalf("source @@read_only = %d after the cutover, want 1", ro)
	}

	// sysbench's writes fail from the cutover on: it stops (with an error,
	// expected) long before its --time, saying the server is read-only.
	_ = load.Wait() // its exit status is expected to be an error
	if took := time.Since(loadStart); took > 100*time.Second {
		t.Fatalf("sysbench ran %v: its writes did not fail after the cutover\n%s", took, tail(loadOut.String()))
	}
	if out := loadOut.String(); !strings.Contains(out, "read-only") && !strings.Contains(out, "1290") {
		t.Fatalf("sysbench did not stop on read_only:\n%s", tail(out))
	}
	app := exec.Command("mariadb", "-h127.0.0.1", "-P"+strconv.Itoa(e.src.Port), "-uapp", "-papp", "shop", "-e", "UPDATE sbtest1 SET k = k + 1 WHERE id = 1")
	if out, err := app.CombinedOutput(); err == nil || !strings.Contains(string(out), "read-only") {
		t.Fatalf("an application write after the cutover: err %v, output %s; want a read-only error", err, out)
	}
	e.assertIdentical()
}

// TestCutoverFailingHookRestoresReadOnly: a failing --on-ready fails the
// cutover with exit 1 and the source is writable again.
func TestCutoverFailingHookRestoresReadOnly(t *testing.T) {
	t.Parallel()
	e := newCutoverEnv(t)
	// Paced: the load ends before the cutover, which needs its writes
	// streamed, not a flood of them.
	load := e.sysbench("app", "run", "--threads=2", "--time=3", "--rate=300", "--rand-seed=7")
	var loadOut bytes.Buffer
	load.Stdout, load.Stderr = &loadOut, &loadOut
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	e.startDelta()
	if err := load.Wait(); err != nil {
		t.Fatalf("sysbench run: %v\n%s", err, tail(loadOut.String()))
	}
	sysbenchTransactions(t, loadOut.String(), 90)
	r := runShiplog(t, e.config, nil, "cutover", "--set-source-read-only", "--max-lag", "2s", "--timeout", "60s", "--on-ready", "exit 3")
	if r.code != 1 {
		t.Fatalf("cutover with a failing hook: exit %d, want 1\n%s%s", r.code, r.stdout, tail(r.stderr))
	}
	if !strings.Contains(r.stderr, "--on-ready") || !strings.Contains(r.stderr, "exit status 3") {
		t.Fatalf("cutover error does not name the hook's failure:\n%s", tail(r.stderr))
	}
	if ro := e.readOnly(); ro != 0 {
		t.Fatalf("source @@read_only = %d after the failed cutover, want 0 (restored)", ro)
	}
	// The application writes again, and they stream on.
	app := exec.Command("mariadb", "-h127.0.0.1", "-P"+strconv.Itoa(e.src.Port), "-uapp", "-papp", "shop", "-e", "UPDATE sbtest1 SET k = k + 1 WHERE id = 1")
	if out, err := app.CombinedOutput(); err != nil {
		t.Fatalf("an application write after the failed cutover: %v\n%s", err, out)
	}
	// Bad flags are exit 2.
	if r := runShiplog(t, e.config, nil, "cutover", "--max-lag", "soon"); r.code != 2 {
		t.Fatalf("cutover --max-lag soon: exit %d, want 2\n%s", r.code, r.stderr)
	}
	r = runShiplog(t, e.config, nil, "cutover", "--max-lag", "2s", "--timeout", "60s", "--verify=false")
	if r.code != 0 {
		t.Fatalf("cutover without read-only: exit %d\n%s%s", r.code, r.stdout, tail(r.stderr))
	}
	e.assertIdentical()
}

// TestCutoverVerifiesTheWindow: the cutover verifies the rows changed since
// it started. A row the destination corrupts while the window is applied
// fails it (read_only restored); a difference planted before the window is
// not its business (shiplog verify, which reads every row, finds both).
func TestCutoverVerifiesTheWindow(t *testing.T) {
	t.Parallel()
	e := newCutoverEnv(t)
	load := e.sysbench("app", "run", "--threads=1", "--time=2", "--rate=200", "--rand-seed=9")
	var loadOut bytes.Buffer
	load.Stdout, load.Stderr = &loadOut, &loadOut
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	e.startDelta()
	if err := load.Wait(); err != nil {
		t.Fatalf("sysbench run: %v\n%s", err, tail(loadOut.String()))
	}
	sysbenchTransactions(t, loadOut.String(), 40)
	waitFor(t, "the stream to catch up", 60*time.Second, func() bool {
		r := runShiplog(t, e.config, nil, "status")
		return r.code == 0 && strings.Contains(r.stdout, `"lag_bytes": 0`)
	})
	if _, err := e.dstDB.Exec("UPDATE sbtest2 SET c = 'planted' WHERE id = 9"); err != nil {
		t.Fatal(err)
	}
	_ = e.daemon.Process.Signal(syscall.SIGTERM)
	_ = e.daemon.Wait()
	if _, err := e.dstDB.Exec("CREATE TRIGGER corrupt BEFORE UPDATE ON sbtest1 FOR EACH ROW BEGIN IF NEW.id = 7 THEN SET NEW.pad = 'corrupt'; END IF; END"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srcDB.Exec("UPDATE sbtest1 SET k = k + 1 WHERE id IN (7, 8)"); err != nil {
		t.Fatal(err)
	}
	// The cutover starts while the update is not applied: it is in the window.
	cut := exec.Command(binary, "--config", e.config, "cutover", "--set-source-read-only", "--max-lag", "1s", "--timeout", "60s")
	var out, errb bytes.Buffer
	cut.Stdout, cut.Stderr = &out, &errb
	if err := cut.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	e.stopOnCleanup(startKillable(t, e.config, "migrate", "delta"))
	code := exitCode(t, cut.Wait())
	if code != 1 || !strings.Contains(errb.String(), "2 row(s)") || !strings.Contains(errb.String(), "0 missing, 1 different, 0 extra") {
		t.Fatalf("cutover over a corrupted window: exit %d, want 1 naming 1 different row of the 2 changed\n%s%s", code, out.String(), tail(errb.String()))
	}
	if ro := e.readOnly(); ro != 0 {
		t.Fatalf("source @@read_only = %d after the failed cutover, want 0", ro)
	}
	r := runShiplog(t, e.config, nil, "verify", "--recheck", "-1s")
	if r.code != 1 || !strings.Contains(r.stdout, "planted") && !strings.Contains(r.stdout, "id=9") || !strings.Contains(r.stdout, "id=7") {
		t.Fatalf("verify of every row: exit %d, want both rows\n%s%s", r.code, r.stdout, tail(r.stderr))
	}
	if r := runShiplog(t, e.config, nil, "cutover", "--verify-scope", "some"); r.code != 2 || !strings.Contains(r.stderr, "--verify-scope") {
		t.Fatalf("cutover --verify-scope some: exit %d, want 2 naming the flag\n%s", r.code, r.stderr)
	}
}

// TestCutoverNamesWritersThroughReadOnly: a client whose user has READ_ONLY
// ADMIN keeps writing while the cutover holds the source read-only. The
// cutover fails (exit 1) saying the source was written during the freeze and
// naming that user's session, not just "destination differs"; read_only is
// restored. On the old code it failed on the difference only, or passed a
// stale verify.
func TestCutoverNamesWritersThroughReadOnly(t *testing.T) {
	t.Parallel()
	e := newCutoverEnv(t)
	for _, host := range []string{"%", "localhost", "127.0.0.1"} {
		if err := e.src.Exec(context.Background(), "shop",
			fmt.Sprintf("CREATE USER 'ops'@'%s' IDENTIFIED BY 'ops'", host),
			fmt.Sprintf("GRANT ALL ON shop.* TO 'ops'@'%s'", host),
			fmt.Sprintf("GRANT READ_ONLY ADMIN ON *.* TO 'ops'@'%s'", host)); err != nil {
			t.Fatal(err)
		}
	}

	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr, c.DBName = "ops", "ops", "tcp", e.src.Addr(), "shop"
	c.Timeout, c.ReadTimeout, c.WriteTimeout = 5*time.Second, 10*time.Second, 10*time.Second
	ops, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer ops.Close()
	ops.SetMaxOpenConns(1)
	// The writer paces itself; it writes through read_only until stopped.
	ctx, cancel := context.WithCancel(context.Background())
	writes := make(chan error, 1)
	go func() {
		var n int
		for ctx.Err() == nil {
			if _, err := ops.ExecContext(ctx, "UPDATE sbtest1 SET k = k + 1 WHERE id = 1"); err != nil && ctx.Err() == nil {
				writes <- fmt.Errorf("write %d as ops: %w", n, err)
				return
			}
			n++
			time.Sleep(5 * time.Millisecond)
		}
		writes <- nil
	}()
	defer func() {
		cancel()
		if err := <-writes; err != nil {
			t.Errorf("the READ_ONLY ADMIN writer stopped: %v", err)
		}
	}()
	e.startDelta() // its checkpoint moves with the writes

	r := runShiplog(t, e.config, nil, "cutover", "--set-source-read-only", "--max-lag", "2s", "--timeout", "60s")
	if r.code != 1 {
		t.Fatalf("cutover while a READ_ONLY ADMIN user writes: exit %d, want 1\n%s%s", r.code, r.stdout, tail(r.stderr))
	}
	for _, want := range []string{"the source was written during the freeze (binlog moved from ", "sessions that can write through read_only: ", "ops@", "revoke the privilege"} {
		if !strings.Contains(r.stderr, want) {
			t.Fatalf("cutover error lacks %q:\n%s", want, tail(r.stderr))
		}
	}
	t.Logf("cutover error: %s", tail(r.stderr))
	if i, j := strings.Index(r.stderr, "written during the freeze"), strings.Index(r.stderr, "destination differs"); j >= 0 && j < i {
		t.Fatalf("cutover error names the difference before the writes during the freeze:\n%s", tail(r.stderr))
	}
	if ro := e.readOnly(); ro != 0 {
		t.Fatalf("source @@read_only = %d after the failed cutover, want 0 (restored)", ro)
	}
}
