//go:build !unit

package main

import (
	"bytes"
	"syscall"
	"testing"
	"time"
)

// TestSysbenchWriteLoadWithKills copies sysbench tables and streams an
// oltp_write_only load into the destination while shiplog is killed with
// SIGKILL and restarted, and checks both sides end identical.
func TestSysbenchWriteLoadWithKills(t *testing.T) {
	e := newEnv(t, "")
	e.prepareSysbench()
	load := e.sysbench("root", "run", "--threads=2", "--time=8", "--rand-seed=3")
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
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	e.assertIdentical()
}
