//go:build !unit

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/internal/testenv"
)

// TestSecondWriterIsRefused checks that while a `migrate delta` daemon
// streams into shop_new, a second `migrate delta`, `run`, `migrate data` or
// `apply --from-kafka` on the same config exits 4 naming the daemon's pid and writes nothing, the
// daemon streams on, read-only commands still work, and once the daemon
// stops a new writer starts.
func TestSecondWriterIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.both("CREATE TABLE o (id INT PRIMARY KEY, v VARCHAR(16))")
	if _, err := e.srcDB.Exec("INSERT INTO o VALUES (1, 'a'), (2, 'b')"); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "data")
	d := startDaemon(t, e.config, "migrate", "delta")
	rowAt := func(id int) func() bool {
		return func() bool {
			select {
			case <-d.exited:
				t.Fatalf("the first daemon exited: %v\n%s", d.err, d.stderr)
			default:
			}
			var n int
			_ = e.dstDB.QueryRow("SELECT COUNT(*) FROM o WHERE id = ?", id).Scan(&n)
			return n == 1
		}
	}
	if _, err := e.srcDB.Exec("INSERT INTO o VALUES (3, 'c')"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the daemon to stream row 3", 60*time.Second, rowAt(3))
	runsBefore := len(runsOf(t, e.config))

	pid := fmt.Sprintf("pid %d", d.cmd.Process.Pid)
	for _, args := range [][]string{{"migrate", "delta"}, {"run"}, {"migrate", "data"}, {"migrate", "data", "--reset"}, {"apply", "--from-kafka"}} {
		r := runWithin(t, 30*time.Second, e.config, args...)
		expectFailure(t, r, 4, "holds the stream lock of shop_new", pid, "migrate delta", "stop it first")
	}
	// --reset was refused before it forgot anything.
	var copied int
	if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM _shiplog_tables").Scan(&copied); err != nil || copied != 1 {
		t.Fatalf("_shiplog_tables after a refused --reset: %d rows, %v", copied, err)
	}
	// Read-only commands do not take the lock.
	e.mustRun("status")
	e.mustRun("check")
	if runs := runsOf(t, e.config); len(runs) != runsBefore {
		t.Fatalf("refused starts were recorded as runs: %+v", runs)
	}
	// The first daemon streams on.
	if _, err := e.srcDB.Exec("INSERT INTO o VALUES (4, 'd')"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the daemon to stream row 4 after the refusals", 60*time.Second, rowAt(4))

	d.stop(t)
	if _, err := e.srcDB.Exec("INSERT INTO o VALUES (5, 'e')"); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	e.assertIdentical()
}

// TestLostStreamLockStopsTheWriter checks that when the connection holding
// the stream lock is killed and another session takes the lock before the
// daemon could take it again on a new connection, the daemon stops with an
// error saying so instead of writing on without the lock, and the run is
// recorded failed. (With the lock free, it takes it again and goes on: see
// TestDestinationConnectionsKilledUnderWrites.)
func TestLostStreamLockStopsTheWriter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.both("CREATE TABLE o (id INT PRIMARY KEY, v VARCHAR(16))")
	if _, err := e.srcDB.Exec("INSERT INTO o VALUES (1, 'a')"); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, e.config, "run")
	waitFor(t, "delta mode", 60*time.Second, func() bool {
		var mode string
		_ = e.dstDB.QueryRow("SELECT value FROM _shiplog_state WHERE name = 'mode'").Scan(&mode)
		return mode == "delta"
	})
	var conn int64
	if err := e.dstDB.QueryRow("SELECT connection_id FROM _shiplog_lock_holders WHERE pid = ?", d.cmd.Process.Pid).Scan(&conn); err != nil {
		t.Fatalf("the daemon did not record itself as the lock holder: %v", err)
	}
	thief, err := e.dstDB.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer thief.Close()
	if _, err := thief.ExecContext(context.Background(), fmt.Sprintf("KILL %d", conn)); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("shop_new"))
	var got sql.NullInt64
	if err := thief.QueryRowContext(context.Background(), "SELECT GET_LOCK(?, 10)", "shiplog_stream."+hex.EncodeToString(sum[:8])).Scan(&got); err != nil || got.Int64 != 1 {
		t.Fatalf("the test could not take the freed stream lock: %v %v\n%s", got, err, d.stderr)
	}
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("the daemon still runs 30s after its lock connection was killed\n%s", d.stderr)
	}
	if code := exitCode(t, d.err); code != 1 || !strings.Contains(d.stderr.String(), "lost the stream lock of shop_new") {
		t.Fatalf("exit %d, want 1 naming the lost lock:\n%s", code, d.stderr)
	}
	runs := runsOf(t, e.config)
	if len(runs) == 0 || runs[0].Status != "failed" || runs[0].Error == nil || !strings.Contains(*runs[0].Error, "lost the stream lock") {
		t.Fatalf("runs: %+v", runs)
	}
}

// runWithin runs shiplog like runShiplog, but fails the test if it has not
// exited within timeout (a writer that is not refused streams on).
func runWithin(t *testing.T, timeout time.Duration, config string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"--config", config}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("shiplog %v still ran after %s: it was not refused\n%s", args, timeout, errb.String())
	}
	return result{code: exitCode(t, err), stdout: out.String(), stderr: errb.String()}
}

// TestKafkaApplierOfAnotherGroupIsRefused checks that two appliers of one
// consumer group share the destination (they split the partitions), while an
// applier of another group, which would apply every change again, exits 4
// naming the running member's pid and group, and so is a `migrate delta`
// into the same database; once they stop the other group starts.
func TestKafkaApplierOfAnotherGroupIsRefused(t *testing.T) {
	t.Parallel()
	k := testenv.KafkaT(t, true)
	e := newEnv(t, "")
	e.both("CREATE TABLE o (id INT PRIMARY KEY, v VARCHAR(16))")
	if _, err := e.srcDB.Exec("INSERT INTO o VALUES (1, 'a'), (2, 'b')"); err != nil {
		t.Fatal(err)
	}
	kafka := fmt.Sprintf("kafka: {brokers: [%s], topic_prefix: lk, partitions: 2, group_id: g1}\n", strings.Join(k.Addrs, ", "))
	publisher, applier := e.kafkaConfigs(kafka)
	other := e.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: shop_new}\n%s",
		e.src.Port, e.dst.Port, strings.Replace(kafka, "g1", "g2", 1)))
	if r := runShiplog(t, publisher, nil, "migrate", "data"); r.code != 0 {
		t.Fatalf("publish: %d\n%s", r.code, r.stderr)
	}
	registered := func(d *daemon) func() bool {
		return func() bool {
			select {
			case <-d.exited:
				t.Fatalf("applier exited: %v\n%s", d.err, d.stderr)
			default:
			}
			var n int
			_ = e.dstDB.QueryRow("SELECT COUNT(*) FROM _shiplog_lock_holders WHERE pid = ? AND scope = 'g1'", d.cmd.Process.Pid).Scan(&n)
			return n == 1
		}
	}
	a1 := startDaemon(t, applier, "apply", "--from-kafka")
	waitFor(t, "the first applier to register", 60*time.Second, registered(a1))
	a2 := startDaemon(t, applier, "apply", "--from-kafka")
	waitFor(t, "the second applier of the same group to register", 60*time.Second, registered(a2))
	waitFor(t, "the snapshot applied", 60*time.Second, func() bool {
		var n int
		_ = e.dstDB.QueryRow("SELECT COUNT(*) FROM o").Scan(&n)
		return n == 2
	})

	r := runWithin(t, 30*time.Second, other, "apply", "--from-kafka")
	expectFailure(t, r, 4, "holds the stream lock of shop_new", "consumer group g1", "kafka.group_id")
	if !strings.Contains(r.stderr, fmt.Sprintf("pid %d", a1.cmd.Process.Pid)) && !strings.Contains(r.stderr, fmt.Sprintf("pid %d", a2.cmd.Process.Pid)) {
		t.Fatalf("the refusal names neither applier's pid:\n%s", r.stderr)
	}
	// A writer of the stream straight into the same database is refused
	// too: it would write the tables the appliers write.
	r = runWithin(t, 30*time.Second, applier, "migrate", "delta")
	expectFailure(t, r, 4, "holds the stream lock of shop_new", "apply --from-kafka of consumer group g1")
	registered(a1)()
	registered(a2)()
	a1.stop(t)
	a2.stop(t)
	if r := runWithin(t, 60*time.Second, other, "apply", "--from-kafka", "--exit-when-caught-up"); r.code != 0 {
		t.Fatalf("the other group after the first stopped: exit %d\n%s", r.code, r.stderr)
	}
}
