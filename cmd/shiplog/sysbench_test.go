//go:build !unit

package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shiplog/shiplog/internal/testenv"
)

// TestSysbenchWriteLoadWithKills copies sysbench tables and streams an
// oltp_write_only load into the destination while shiplog is killed with
// SIGKILL and restarted, and checks both sides end identical.
func TestSysbenchWriteLoadWithKills(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.prepareSysbench()
	// 300 transactions a second (unpaced, sysbench made ~2,400 a second and
	// the servers and the stream burned CPU for it).
	load := e.sysbench("root", "run", "--threads=2", "--time=8", "--rate=300", "--rand-seed=3")
	var loadOut bytes.Buffer
	load.Stdout, load.Stderr = &loadOut, &loadOut
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "data")
	for i := 0; i < 3; i++ {
		cmd, _ := e.startStream()
		time.Sleep(time.Duration(100+100*i) * time.Millisecond) // let it run a moment, then crash it
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	}
	if err := load.Wait(); err != nil {
		t.Fatalf("sysbench run: %v\n%s", err, loadOut.String())
	}
	t.Logf("sysbench made %d transactions", sysbenchTransactions(t, loadOut.String(), 200))
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	e.assertIdentical()
}

// TestTriggerInstallUnderSysbenchPreparedStatements installs the change-log
// triggers (migrate data with delta.source: triggers) while sysbench writes
// the tables through server-side prepared statements (--db-ps-mode=auto):
// sysbench, which stops at its first error, must run to its end (installing
// the triggers one by one made its EXECUTEs fail with error 1146), and the
// trigger delta must end with both sides identical.
func TestTriggerInstallUnderSysbenchPreparedStatements(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.appendConfig("delta: {source: triggers}\n")
	e.prepareSysbench()
	// 600 transactions a second, ~3,600 statements a second through the
	// prepared statements (unpaced, sysbench made ~2,300 transactions a second).
	load := e.sysbench("root", "run", "--threads=4", "--time=6", "--rate=600", "--rand-seed=5", "--db-ps-mode=auto")
	var loadOut bytes.Buffer
	load.Stdout, load.Stderr = &loadOut, &loadOut
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the prepared statements are in use before the install
	// Under this load a table's lock may not come within 30 s: the install
	// then gives up on it, says to run again, and the next run sets it up.
	r := runShiplog(t, e.config, nil, "migrate", "data")
	if r.code != 0 && strings.Contains(r.stderr, "run it again") {
		r = runShiplog(t, e.config, nil, "migrate", "data")
	}
	if r.code != 0 {
		t.Fatalf("migrate data: exit %d\n%s", r.code, r.stderr)
	}
	if err := load.Wait(); err != nil {
		t.Fatalf("sysbench failed while the triggers were installed: %v\n%s", err, loadOut.String())
	}
	t.Logf("sysbench made %d transactions", sysbenchTransactions(t, loadOut.String(), 200))
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("sbtest%d", i)
		want, wn, err := testenv.Checksum(ctx, e.srcDB, "shop", name, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, gn, err := testenv.Checksum(ctx, e.dstDB, "shop_new", name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want != got || wn != gn {
			t.Errorf("%s: source %d rows %s, destination %d rows %s", name, wn, want, gn, got)
		}
	}
}
