package main

import (
	"bytes"
	"errors"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// myloader 0.10's --help (the Debian package here) has no
// --innodb-optimize-keys; 0.15's has it with an optional value.
const (
	myloaderHelp010 = `Usage:
  myloader [OPTION?] multi-threaded MySQL loader

Application Options:
  -d, --directory                   Directory of the dump to import
  -q, --queries-per-transaction     Number of queries per transaction, default 1000
  -o, --overwrite-tables            Drop tables if they already exist
  -t, --threads                     Number of threads to use, default 4
`
	myloaderHelp015 = `Usage:
  myloader [OPTION?] multi-threaded MySQL loader

Application Options:
  -d, --directory                   Directory of the dump to import
  --innodb-optimize-keys            Creates the table without the indexes and it adds them at the end. Options: AFTER_IMPORT_PER_TABLE and AFTER_IMPORT_ALL_TABLES. Default: AFTER_IMPORT_PER_TABLE
  -t, --threads                     Number of threads to use, default 4
`
)

func TestLoaderOptions(t *testing.T) {
	for _, c := range []struct {
		name, help, version string
		want                []string
		note                string
	}{
		{"0.10 has none", myloaderHelp010, "myloader 0.10.0, built against MySQL 10.11.14", nil, "myloader 0.10.0, built against MySQL 10.11.14: has no --innodb-optimize-keys"},
		{"0.15 has it", myloaderHelp015, "myloader v0.15.1-3", []string{"--innodb-optimize-keys"}, "myloader v0.15.1-3: ran with --innodb-optimize-keys"},
		{"only in a description", "  -x, --other   unlike --innodb-optimize-keys\n", "", nil, "myloader: has no"},
		{"a longer option's prefix", "  --innodb-optimize-keys-per-table   x\n", "", nil, "myloader: has no"},
		{"with a short form", "  -k, --innodb-optimize-keys   x\n", "", []string{"--innodb-optimize-keys"}, "myloader: ran with"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, note := loaderOptions(c.help, c.version)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("options %q, want %q", got, c.want)
			}
			if !strings.HasPrefix(note, c.note) {
				t.Errorf("note %q, want it to start with %q", note, c.note)
			}
		})
	}
}

func TestMydumperTool(t *testing.T) {
	if got, want := mydumperTool(2, 50000, nil), "mydumper -t 2 --rows 50000 + myloader -t 2"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := mydumperTool(2, 50000, []string{"--innodb-optimize-keys"}), "mydumper -t 2 --rows 50000 + myloader -t 2 --innodb-optimize-keys"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A full bench's results, issue 17's figures: copy 5.76 s vs 4.01 s
// (1.44x, NOT MET), catch-up 2.57 s vs 14.94 s and 11.43 s (MET).
func issue17Results() []result {
	return []result{
		{group: "snapshot", tool: "mariadb-dump | mariadb", seconds: 12, work: 1e6},
		{group: "snapshot", tool: "mydumper -t 2 --rows 50000 + myloader -t 2", seconds: 4.01, work: 1e6},
		{group: "snapshot", tool: "shiplog migrate data", seconds: 5.76, work: 1e6, rssKB: 206 * 1024},
		{group: "snapshot", tool: "shiplog migrate data, map of 3 handlers", seconds: 6, work: 1e6, rssKB: 150 * 1024},
		{group: "catch-up", tool: "MariaDB replication (1 SQL thread)", seconds: 14.94, work: 5e5},
		{group: "catch-up", tool: "MariaDB parallel replication (4 threads, optimistic)", seconds: 11.43, work: 5e5},
		{group: "catch-up", tool: "shiplog migrate delta", seconds: 2.57, work: 5e5, rssKB: 100 * 1024},
		{group: "catch-up", tool: "shiplog migrate delta, map of 3 handlers", seconds: 2.6, work: 5e5, rssKB: 100 * 1024},
	}
}

func TestTargetsIssue17(t *testing.T) {
	vs := targets(issue17Results(), nil)
	want := []struct {
		prefix      string
		met, known  bool
		figurePart  string
		targetBound string
	}{
		{"copy: shiplog / (mydumper", false, true, "1.44x (5.76s vs 4.01s)", "<= 0.8x"},
		{"copy: shiplog / (mariadb-dump", true, true, "0.48x (5.76s vs 12.00s)", "<= 0.5x"},
		{"catch-up: shiplog / MariaDB replication", true, true, "0.17x (2.57s vs 14.94s)", "<= 0.3x"},
		{"catch-up: shiplog / MariaDB parallel", true, true, "0.22x (2.57s vs 11.43s)", "<= 0.4x"},
		{"peak RSS < 200 MiB", false, true, "data 206 MiB", ""},
		{"snapshot: map of 3 handlers", true, true, "+4.2%", ""},
		{"catch-up: map of 3 handlers", true, true, "+1.2%", ""},
	}
	if len(vs) != len(want) {
		t.Fatalf("%d verdicts, want %d: %+v", len(vs), len(want), vs)
	}
	for i, w := range want {
		v := vs[i]
		if !strings.HasPrefix(v.target, w.prefix) || !strings.Contains(v.target, w.targetBound) || v.met != w.met || v.known != w.known || !strings.Contains(v.figure, w.figurePart) {
			t.Errorf("verdict %d: %+v, want target %q...%q, met %v, known %v, figure with %q", i, v, w.prefix, w.targetBound, w.met, w.known, w.figurePart)
		}
	}
	var out bytes.Buffer
	if printTargets(&out, "Targets (issue 17)", vs) {
		t.Error("printTargets reports all met")
	}
	for _, line := range []string{"Targets (issue 17):", "NOT MET  copy: shiplog / (mydumper --rows + myloader) <= 0.8x", "MET      catch-up: shiplog / MariaDB parallel replication <= 0.4x"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("printed\n%s\nwant a line with %q", out.String(), line)
		}
	}
	if strings.Contains(out.String(), "All targets met") {
		t.Errorf("printed %q with a target not met", out.String())
	}
}

// A baseline that failed or was skipped leaves its target UNKNOWN, and the
// targets are not all met; the ratio is per unit of work.
func TestTargetsMissingBaseline(t *testing.T) {
	rs := issue17Results()
	rs[1].skipped = "mydumper not installed"
	rs[5].err = errors.New("replica: stopped")
	rs[2].rssKB = 150 * 1024
	rs[6].work = 1e6 // twice the changes in the same time: half the ratio
	vs := targets(rs, nil)
	if v := vs[0]; v.known || v.figure != "not measured" {
		t.Errorf("copy vs skipped mydumper: %+v, want unknown, not measured", v)
	}
	if v := vs[3]; v.known {
		t.Errorf("catch-up vs failed parallel replica: %+v, want unknown", v)
	}
	if v := vs[2]; !v.met || !strings.HasPrefix(v.figure, "0.09x") {
		t.Errorf("catch-up per change: %+v, want 0.09x, met", v)
	}
	if v := vs[4]; !v.met {
		t.Errorf("peak RSS 150 MiB: %+v, want met", v)
	}
	var out bytes.Buffer
	if printTargets(&out, "t", vs) || !strings.Contains(out.String(), "UNKNOWN  copy: shiplog / (mydumper") {
		t.Errorf("printed\n%s\nwant not all met, UNKNOWN for mydumper", out.String())
	}
}

func TestCopyOnlyTargets(t *testing.T) {
	runs := []result{
		{group: "snapshot", tool: "mydumper -t 2 --rows 50000 + myloader -t 2", seconds: 10, work: 1e7},
		{group: "snapshot", tool: "shiplog migrate data", seconds: 9, work: 1e7, rssKB: 190 * 1024},
		{group: "snapshot", tool: "shiplog migrate data (-shiplog-before)", seconds: 30, work: 1e7, rssKB: 400 * 1024},
		{group: "snapshot", tool: "mydumper -t 2 --rows 50000 + myloader -t 2", seconds: 12, work: 1e7},
		{group: "snapshot", tool: "shiplog migrate data", seconds: 13, work: 1e7, rssKB: 180 * 1024},
	}
	// One table: the mean 11 s vs 11 s is within 1.0x; the other build's
	// run counts for neither the time nor the peak RSS.
	vs := copyOnlyTargets(runs, 1)
	if len(vs) != 2 {
		t.Fatalf("verdicts %+v, want 2", vs)
	}
	if v := vs[0]; v.target != "copy of one table: shiplog / (mydumper --rows + myloader) <= 1.0x" || !v.met || v.figure != "1.00x (11.00s vs 11.00s)" {
		t.Errorf("one table: %+v", v)
	}
	if v := vs[1]; !v.met || strings.Contains(v.figure, "400") {
		t.Errorf("peak RSS: %+v, want met, without the -shiplog-before run", v)
	}
	// Four tables: 0.8x is the bound.
	if v := copyOnlyTargets(runs, 4)[0]; v.met || !strings.Contains(v.target, "<= 0.8x") {
		t.Errorf("four tables: %+v, want not met against 0.8x", v)
	}
	// A failed run leaves no figure.
	runs[4].err = errors.New("killed")
	if v := copyOnlyTargets(runs, 1)[0]; v.known {
		t.Errorf("with a failed shiplog run: %+v, want unknown", v)
	}
}

func TestFailed(t *testing.T) {
	rs := []result{{tool: "shiplog migrate data"}, {tool: "shiplog migrate data, map of 3 handlers"}}
	bad := errors.New("differs")
	rs = failed(rs, "shiplog migrate data", bad)
	if rs[0].err != bad || rs[1].err != nil || len(rs) != 2 {
		t.Errorf("failed marked %+v", rs)
	}
	rs = failed(rs, "MariaDB parallel replication", bad)
	if len(rs) != 3 || rs[2].err != bad || rs[2].tool != "MariaDB parallel replication" {
		t.Errorf("a check of a tool without a result: %+v, want a failed result added", rs)
	}
}

// watchHWM reads a child's own peak RSS (VmHWM), not the bench process's:
// a shell that allocates about 64 MiB and sleeps reports at least that, and
// far less than the test binary would add to it.
func TestWatchHWM(t *testing.T) {
	cmd := exec.Command("sh", "-c", `x=$(head -c 67108864 /dev/zero | tr '\0' a); sleep 0.3; echo ${#x}`)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	hwm := watchHWM(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if kb := hwm(); kb < 64*1024 || kb > 1024*1024 {
		t.Errorf("peak RSS %d KiB, want 64 MiB to 1 GiB", kb)
	}
	small := exec.Command("sleep", "0.2")
	if err := small.Start(); err != nil {
		t.Fatal(err)
	}
	hwm = watchHWM(small.Process.Pid)
	if err := small.Wait(); err != nil {
		t.Fatal(err)
	}
	if kb := hwm(); kb <= 0 || kb > 16*1024 {
		t.Errorf("peak RSS of sleep %d KiB, want 1 KiB to 16 MiB", kb)
	}
}
