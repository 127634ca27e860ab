package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestSysbenchWriteLoadWithKills copies sysbench tables and streams an
// oltp_write_only load into the destination while shiplog is killed with
// SIGKILL and restarted, and checks both sides end identical.
func TestSysbenchWriteLoadWithKills(t *testing.T) {
	if _, err := exec.LookPath("sysbench"); err != nil {
		t.Fatalf("sysbench is required for this test (Debian package sysbench): %v", err)
	}
	e := newEnv(t, "")
	sb := func(ctx context.Context, command string, extra ...string) *exec.Cmd {
		args := append([]string{"oltp_write_only", "--db-driver=mysql", "--mysql-host=127.0.0.1",
			"--mysql-port=" + strconv.Itoa(e.src.Port), "--mysql-user=root", "--mysql-password=",
			"--mysql-db=shop", "--tables=3", "--table-size=3000"}, extra...)
		return exec.CommandContext(ctx, "sysbench", append(args, command)...)
	}
	if out, err := sb(context.Background(), "prepare").CombinedOutput(); err != nil {
		t.Fatalf("sysbench prepare: %v\n%s", err, out)
	}
	// The same tables, empty, on the destination.
	for i := 1; i <= 3; i++ {
		var name, ddl string
		if err := e.srcDB.QueryRow(fmt.Sprintf("SHOW CREATE TABLE sbtest%d", i)).Scan(&name, &ddl); err != nil {
			t.Fatal(err)
		}
		if _, err := e.dstDB.Exec(ddl); err != nil {
			t.Fatal(err)
		}
	}
	load := sb(context.Background(), "run", "--threads=2", "--time=8", "--rand-seed=3")
	var loadOut bytes.Buffer
	load.Stdout, load.Stderr = &loadOut, &loadOut
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "data")
	for i := 0; i < 3; i++ {
		var before string
		_ = e.dstDB.QueryRow("SELECT position FROM _shiplog_checkpoint").Scan(&before)
		cmd, _ := startKillable(t, e.config, "migrate", "delta")
		waitFor(t, "the stream to checkpoint", 60*time.Second, func() bool {
			var now string
			_ = e.dstDB.QueryRow("SELECT position FROM _shiplog_checkpoint").Scan(&now)
			return now != before
		})
		time.Sleep(time.Duration(100+100*i) * time.Millisecond) // let it run a moment, then crash it
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	}
	if err := load.Wait(); err != nil {
		t.Fatalf("sysbench run: %v\n%s", err, loadOut.String())
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	e.assertIdentical()
}
