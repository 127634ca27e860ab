//go:build !unit

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

type runRow struct {
	ID         int64      `json:"id"`
	Command    string     `json:"command"`
	Mode       string     `json:"mode"`
	StartedAt  time.Time  `json:"started_at"`
	EndedAt    *time.Time `json:"ended_at"`
	Status     string     `json:"status"`
	Inserted   int64      `json:"inserted"`
	Updated    int64      `json:"updated"`
	Deleted    int64      `json:"deleted"`
	FailedRows int64      `json:"failed_rows"`
	Error      *string    `json:"error"`
	ExitCode   *int       `json:"exit_code"`
}

// runsOf returns `shiplog runs --format json`, newest first.
func runsOf(t *testing.T, config string) []runRow {
	t.Helper()
	r := runShiplog(t, config, nil, "runs", "--format", "json")
	if r.code != 0 {
		t.Fatalf("runs: exit %d\n%s", r.code, r.stderr)
	}
	var runs []runRow
	if err := json.Unmarshal([]byte(r.stdout), &runs); err != nil {
		t.Fatalf("runs --format json: %v\n%s", err, r.stdout)
	}
	return runs
}

// TestRunsRecordDataAndDelta checks migrate data and delta each leave a
// 'success' run with their counts, listed newest first.
func TestRunsRecordDataAndDelta(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.both("CREATE TABLE o (id INT PRIMARY KEY, v VARCHAR(16))")
	if _, err := e.srcDB.Exec("INSERT INTO o VALUES (1, 'a'), (2, 'b'), (3, 'c')"); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "data")
	if _, err := e.srcDB.Exec("INSERT INTO o VALUES (4, 'd'), (5, 'e')"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srcDB.Exec("UPDATE o SET v = 'x' WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srcDB.Exec("DELETE FROM o WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	e.mustRun("status") // not recorded: it changes nothing

	runs := runsOf(t, e.config)
	if len(runs) != 2 {
		t.Fatalf("want 2 runs, got %+v", runs)
	}
	delta, data := runs[0], runs[1]
	if data.Command != "migrate data" || data.Mode != "data" || data.Status != "success" || data.Inserted != 3 || data.FailedRows != 0 || data.EndedAt == nil || data.Error != nil {
		t.Errorf("data run: %+v", data)
	}
	if delta.Command != "migrate delta" || delta.Status != "success" || delta.Inserted != 2 || delta.Updated != 1 || delta.Deleted != 1 || delta.EndedAt == nil {
		t.Errorf("delta run: %+v", delta)
	}
	if delta.ID <= data.ID || delta.StartedAt.Before(data.StartedAt) || data.EndedAt.Before(data.StartedAt) {
		t.Errorf("order or times: %+v %+v", data, delta)
	}
	r := e.mustRun("runs", "--limit", "1")
	if !strings.Contains(r.stdout, "migrate delta") || strings.Contains(r.stdout, "migrate data") {
		t.Errorf("runs --limit 1:\n%s", r.stdout)
	}
	expectFailure(t, runShiplog(t, e.config, nil, "runs", "--format", "xml"), 2, "--format")
}

// TestRunsRecordPartialAndFailed checks a run with rows that fail to
// transform is 'partial' with its failed rows, and a failing run is 'failed'.
func TestRunsRecordPartialAndFailed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.both("CREATE TABLE o (id INT PRIMARY KEY, payload TEXT)")
	if _, err := e.srcDB.Exec(`INSERT INTO o VALUES (1, 'a:1:{i:0;i:1;}'), (2, 'broken'), (3, 'i:7;'), (4, 's:3:"ab')`); err != nil {
		t.Fatal(err)
	}
	mapFile := filepath.Join(t.TempDir(), "map.yaml")
	if err := os.WriteFile(mapFile, []byte(`source:
  fields:
    transform:
      - {field: o.payload, handler: SerializeToJson, params: {migrateBrokenData: "0"}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	e.config = e.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: shop_new}\nmap: %s\n", e.src.Port, e.dst.Port, mapFile))
	expectFailure(t, runShiplog(t, e.config, nil, "migrate", "data"), 3, "partial success")
	if _, err := e.srcDB.Exec(`INSERT INTO o VALUES (6, 'nope'), (7, 'b:1;')`); err != nil {
		t.Fatal(err)
	}
	expectFailure(t, runShiplog(t, e.config, nil, "migrate", "delta", "--exit-when-caught-up"), 3, "could not be transformed")

	runs := runsOf(t, e.config)
	if len(runs) != 2 {
		t.Fatalf("want 2 runs, got %+v", runs)
	}
	delta, data := runs[0], runs[1]
	if data.Status != "partial" || data.FailedRows != 2 || data.Inserted != 2 || data.Error == nil || !strings.Contains(*data.Error, "partial success") ||
		data.ExitCode == nil || *data.ExitCode != 3 {
		t.Errorf("data run: %+v", data)
	}
	if delta.Status != "partial" || delta.FailedRows != 1 || delta.Inserted != 1 {
		t.Errorf("delta run: %+v", delta)
	}

	// A failing command: the map names a handler that does not exist.
	if err := os.WriteFile(mapFile, []byte(`source:
  fields:
    transform:
      - {field: o.payload, handler: Nope}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runShiplog(t, e.config, nil, "migrate", "data", "--reset")
	if r.code == 0 || r.code == 3 {
		t.Fatalf("data with a bad map: exit %d\n%s", r.code, r.stderr)
	}
	if runs := runsOf(t, e.config); len(runs) != 3 || runs[0].Status != "failed" || runs[0].Error == nil || runs[0].EndedAt == nil ||
		runs[0].ExitCode == nil || *runs[0].ExitCode != r.code {
		t.Fatalf("failed run: %+v", runs)
	}
}

// TestRunsMarkKilledRunsInterrupted checks a SIGKILLed daemon's run stays
// 'started' until the next recorded command marks it failed, and that a
// SIGTERM stop is a success.
func TestRunsMarkKilledRunsInterrupted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.both("CREATE TABLE o (id INT PRIMARY KEY, v VARCHAR(16))")
	if _, err := e.srcDB.Exec("INSERT INTO o VALUES (1, 'a')"); err != nil {
		t.Fatal(err)
	}
	inDelta := func() bool {
		var mode string
		_ = e.dstDB.QueryRow("SELECT value FROM _shiplog_state WHERE name = 'mode'").Scan(&mode)
		return mode == "delta"
	}
	cmd, _ := startKillable(t, e.config, "run")
	waitFor(t, "delta mode", 30*time.Second, inDelta)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if runs := runsOf(t, e.config); len(runs) != 1 || runs[0].Status != "started" || runs[0].EndedAt != nil {
		t.Fatalf("after SIGKILL: %+v", runs)
	}

	cmd, stderr := startKillable(t, e.config, "run")
	waitFor(t, "the killed run marked interrupted", 30*time.Second, func() bool {
		var status string
		_ = e.dstDB.QueryRow("SELECT status FROM _shiplog_runs WHERE id = (SELECT MIN(id) FROM _shiplog_runs)").Scan(&status)
		return status == "failed"
	})
	// Wait until the daemon streams (it has applied a new row).
	if _, err := e.srcDB.Exec("INSERT INTO o VALUES (2, 'b')"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the daemon to apply a row", 30*time.Second, func() bool {
		var n int
		_ = e.dstDB.QueryRow("SELECT COUNT(*) FROM o WHERE id = 2").Scan(&n)
		return n == 1
	})
	// A second writer of the stream is refused (exit 4) and not recorded.
	expectFailure(t, runShiplog(t, e.config, nil, "migrate", "settings"), 4, "holds the stream lock of shop_new")
	// The live daemon's run is left alone by other recorded commands (a
	// cutover runs beside the daemon).
	if r := runShiplog(t, e.config, nil, "cutover", "--max-lag", "1h", "--timeout", "30s", "--verify=false"); r.code != 0 && r.code != 1 {
		t.Fatalf("cutover: exit %d\n%s", r.code, r.stderr)
	}
	var live string
	if err := e.dstDB.QueryRow("SELECT status FROM _shiplog_runs WHERE command = 'run' ORDER BY id DESC LIMIT 1").Scan(&live); err != nil || live != "started" {
		t.Fatalf("live daemon's run: %q %v", live, err)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr)
	}
	runs := runsOf(t, e.config)
	if len(runs) != 3 {
		t.Fatalf("want 3 runs, got %+v", runs)
	}
	if k := runs[2]; k.Status != "failed" || k.Error == nil || *k.Error != "interrupted" || k.EndedAt == nil || k.ExitCode != nil {
		t.Errorf("killed run: %+v", k)
	}
	if d := runs[1]; d.Command != "run" || d.Status != "success" || d.Error != nil || d.Inserted < 1 || d.ExitCode == nil || *d.ExitCode != 0 {
		t.Errorf("daemon stopped by SIGTERM: %+v", d)
	}
}
