//go:build !unit

package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shiplog/shiplog/internal/testenv"
)

// largeTxRows is the size of the source transactions of the large
// transaction tests: with delta.max_transaction_bytes 64 KiB (about 400 row
// updates) and throttle.max_batch_changes 1000, the stream applies each in
// about 50 parts, several destination statements each.
const largeTxRows = 20000

// largeTxEnv is a copied table `big` of largeTxRows rows (k = 0), a keyless
// table `ledger`, and `migrate delta` configured to apply source
// transactions over 64 KiB in parts, with its metrics served on base.
type largeTxEnv struct {
	*env
	base string
}

func newLargeTxEnv(t *testing.T) *largeTxEnv {
	e := newEnv(t, "full_row_tables: [ledger]")
	e.both(`CREATE TABLE big (id INT NOT NULL PRIMARY KEY, k INT NOT NULL, c VARCHAR(100) NOT NULL) ENGINE=InnoDB`,
		`CREATE TABLE ledger (n INT NOT NULL, note VARCHAR(40) NOT NULL) ENGINE=InnoDB`)
	if err := e.src.Exec(context.Background(), "shop",
		fmt.Sprintf(`INSERT INTO big SELECT seq, 0, REPEAT(CHAR(97 + seq %% 26), 60) FROM seq_1_to_%d`, largeTxRows)); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "data")
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	e.appendConfig(fmt.Sprintf("delta: {max_transaction_bytes: 65536}\nthrottle: {max_batch_changes: 1000}\nhttp: {listen: \":%d\"}\n", port))
	return &largeTxEnv{env: e, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
}

// applied is the sum of shiplog_changes_applied_total for table big (-1
// while the daemon does not answer).
func (e *largeTxEnv) applied() float64 {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(e.base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "shiplog_changes_applied_total{") && strings.Contains(line, `table="big"`) {
			fields := strings.Fields(line)
			v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
			if err != nil {
				e.t.Errorf("metric line %q: %v", line, err)
			}
			sum += v
		}
	}
	return sum
}

// lockLastRow holds a lock on the destination's last row of big, which the
// large transaction's last part writes: the stream waits there, with the
// parts before applied in its open transaction. release ends the lock.
func (e *largeTxEnv) lockLastRow() (release func()) {
	e.t.Helper()
	ctx := context.Background()
	conn, err := e.dstDB.Conn(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	var id int
	if err := tx.QueryRow("SELECT id FROM big WHERE id = ? FOR UPDATE", largeTxRows).Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	released := false
	release = func() {
		if !released {
			released = true
			_ = tx.Rollback()
			conn.Close()
		}
	}
	e.t.Cleanup(release)
	return release
}

// largeTx runs the large source transaction: every row of big gets k = 1,
// and ledger gets 3000 rows.
func (e *largeTxEnv) largeTx() {
	e.t.Helper()
	err := execTx(e.srcDB, func(tx *sql.Tx) error {
		if _, err := tx.Exec("INSERT INTO ledger SELECT seq, CONCAT('entry ', seq) FROM seq_1_to_3000"); err != nil {
			return err
		}
		_, err := tx.Exec("UPDATE big SET k = 1, c = REVERSE(c)")
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// updated counts the destination rows of big the large transaction changed.
func (e *largeTxEnv) updated() int {
	e.t.Helper()
	var n int
	if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM big WHERE k = 1").Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestLargeTransactionAppliedInPartsAtomically streams a source transaction
// of 20,000 row updates and 3,000 inserts into a keyless table, 50 times
// delta.max_transaction_bytes, and checks that it is applied in parts (the
// applied-changes metric passes half of it while the destination's last row
// is locked, i.e. before the transaction's last part could be written; held
// whole, nothing would be applied before the end), that a destination reader
// polling throughout sees either none or all of it, and that the destination
// ends equal to the source.
func TestLargeTransactionAppliedInPartsAtomically(t *testing.T) {
	t.Parallel()
	e := newLargeTxEnv(t)
	d := startDaemon(t, e.config, "migrate", "delta")
	waitFor(t, "the daemon's metrics", 30*time.Second, func() bool { return e.applied() >= 0 })
	release := e.lockLastRow()

	// A reader polls the destination throughout: it must never see part of
	// the transaction.
	seen := make(chan map[int]int, 1)
	stopReader := make(chan struct{})
	go func() {
		counts := map[int]int{}
		for stopped := false; ; {
			// A read after the stop: one that began after the whole
			// transaction was seen.
			select {
			case <-stopReader:
				stopped = true
			default:
			}
			var n int
			if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM big WHERE k = 1").Scan(&n); err == nil {
				counts[n]++
			}
			if stopped {
				seen <- counts
				return
			}
		}
	}()

	e.largeTx()
	waitFor(t, "half the transaction applied in parts", 60*time.Second, func() bool {
		select {
		case <-d.exited:
			t.Fatalf("shiplog exited: %v\n%s", d.err, d.stderr)
		default:
		}
		return e.applied() >= largeTxRows/2
	})
	if n := e.updated(); n != 0 {
		t.Fatalf("%d updated rows visible on the destination before the transaction's end was written", n)
	}
	release()
	waitFor(t, "the whole transaction on the destination", 60*time.Second, func() bool { return e.updated() == largeTxRows })
	close(stopReader)
	counts := <-seen
	for n, times := range counts {
		if n != 0 && n != largeTxRows {
			t.Errorf("a destination reader saw %d of the %d updated rows (%d times)", n, largeTxRows, times)
		}
	}
	if counts[0] == 0 || counts[largeTxRows] == 0 {
		t.Errorf("the reader did not see both states: %v", counts)
	}
	d.stop(t)
	e.assertIdentical()
}

// TestLargeTransactionKilledMidwayIsAppliedOnceAfterRestart kills shiplog
// (SIGKILL) while a large source transaction is half applied in its open
// destination transaction: the destination keeps none of it, and the next
// run applies it again from its start, once (the keyless ledger table would
// show duplicates), ending equal to the source.
func TestLargeTransactionKilledMidwayIsAppliedOnceAfterRestart(t *testing.T) {
	t.Parallel()
	e := newLargeTxEnv(t)
	d := startDaemon(t, e.config, "migrate", "delta")
	waitFor(t, "the daemon's metrics", 30*time.Second, func() bool { return e.applied() >= 0 })
	var before string
	if err := e.dstDB.QueryRow("SELECT position FROM _shiplog_checkpoint WHERE id = 1").Scan(&before); err != nil {
		t.Fatal(err)
	}
	release := e.lockLastRow()
	e.largeTx()
	waitFor(t, "half the transaction applied in parts", 60*time.Second, func() bool {
		select {
		case <-d.exited:
			t.Fatalf("shiplog exited: %v\n%s", d.err, d.stderr)
		default:
		}
		return e.applied() >= largeTxRows/2
	})
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.exited
	release()
	// The server rolls the killed process's transaction back (the restart
	// waits for its locks): nothing of it is visible meanwhile.
	var after string
	var ledger int
	if err := e.dstDB.QueryRow("SELECT position FROM _shiplog_checkpoint WHERE id = 1").Scan(&after); err != nil {
		t.Fatal(err)
	}
	if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM ledger").Scan(&ledger); err != nil {
		t.Fatal(err)
	}
	if n := e.updated(); n != 0 || ledger != 0 || after != before {
		t.Fatalf("after the kill the destination kept part of the transaction: %d updated rows, %d ledger rows, checkpoint %s (before: %s)", n, ledger, after, before)
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM ledger").Scan(&ledger); err != nil {
		t.Fatal(err)
	}
	if n := e.updated(); n != largeTxRows || ledger != 3000 {
		t.Fatalf("after the restart: %d updated rows (want %d), %d ledger rows (want 3000)", n, largeTxRows, ledger)
	}
	e.assertIdentical()
}

// TestLargeTransactionThroughKafkaAppliedOnce publishes a large source
// transaction in parts (sink: kafka) and applies it with apply --from-kafka,
// then publishes it a second time from the checkpoint before it, as a
// publisher killed before its checkpoint would, and applies again: the
// messages of the parts carry the positions of their rows events, in order,
// so the applier loses none of them to its skipping of duplicates by source
// position, and the destination equals the source both times. (Keyless
// tables are left out: a republish duplicates their rows, a known limit of
// the Kafka path whatever the transaction's size.)
func TestLargeTransactionThroughKafkaAppliedOnce(t *testing.T) {
	t.Parallel()
	k := testenv.KafkaT(t, true)
	e := newEnv(t, "")
	e.both(`CREATE TABLE big (id INT NOT NULL PRIMARY KEY, k INT NOT NULL, c VARCHAR(100) NOT NULL) ENGINE=InnoDB`,
		`CREATE TABLE ledger (n INT NOT NULL PRIMARY KEY, note VARCHAR(40) NOT NULL) ENGINE=InnoDB`)
	if err := e.src.Exec(context.Background(), "shop",
		fmt.Sprintf(`INSERT INTO big SELECT seq, 0, REPEAT(CHAR(97 + seq %% 26), 60) FROM seq_1_to_%d`, largeTxRows),
		// The applier plans the tables whose definitions were published.
		"INSERT INTO ledger VALUES (0, 'seed')"); err != nil {
		t.Fatal(err)
	}
	publisher, applier := e.kafkaConfigs(fmt.Sprintf("kafka: {brokers: [%s], topic_prefix: shop, partitions: 2}\ndelta: {max_transaction_bytes: 65536}\n",
		strings.Join(k.Addrs, ", ")))
	run := func(config string, args ...string) string {
		t.Helper()
		r := runShiplog(t, config, nil, args...)
		if r.code != 0 {
			t.Fatalf("shiplog %v: exit %d\n%s", args, r.code, r.stderr)
		}
		return r.stderr
	}
	run(publisher, "migrate", "data")
	run(applier, "apply", "--from-kafka", "--exit-when-caught-up")
	var before string
	if err := e.dstDB.QueryRow("SELECT position FROM pubstate._shiplog_checkpoint WHERE id = 1").Scan(&before); err != nil {
		t.Fatal(err)
	}
	(&largeTxEnv{env: e}).largeTx()
	for i := 0; i < 2; i++ {
		if i == 1 {
			// Published again from before the transaction.
			if _, err := e.dstDB.Exec("UPDATE pubstate._shiplog_checkpoint SET position = ?", before); err != nil {
				t.Fatal(err)
			}
		}
		if out := run(publisher, "migrate", "delta", "--exit-when-caught-up"); !strings.Contains(out, "applying it in parts") {
			t.Fatalf("the publisher did not publish the transaction in parts:\n%s", tail(out))
		}
		run(applier, "apply", "--from-kafka", "--exit-when-caught-up")
		var updated, ledger int
		if err := e.dstDB.QueryRow("SELECT (SELECT COUNT(*) FROM big WHERE k = 1), (SELECT COUNT(*) FROM ledger)").Scan(&updated, &ledger); err != nil {
			t.Fatal(err)
		}
		if updated != largeTxRows || ledger != 3001 {
			t.Fatalf("publish %d: %d updated rows (want %d), %d ledger rows (want 3001)", i+1, updated, largeTxRows, ledger)
		}
		e.assertIdentical()
	}
}
