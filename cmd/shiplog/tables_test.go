//go:build !unit

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/internal/testenv"
)

// tablesEnv is a shop with an orders table on both sides, copied through a
// map that ignores scratch_* tables.
func tablesEnv(t *testing.T, extra string) (*env, string) {
	t.Helper()
	e := newEnv(t, "")
	e.both(`CREATE TABLE orders (id INT PRIMARY KEY, amount INT NOT NULL)`)
	if _, err := e.srcDB.Exec("INSERT INTO orders SELECT seq, seq FROM seq_1_to_20"); err != nil {
		t.Fatal(err)
	}
	mapFile := filepath.Join(t.TempDir(), "map.yaml")
	writeIgnores(t, mapFile, "scratch_*")
	e.config = e.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: shop_new}\nmap: %s\n%s",
		e.src.Port, e.dst.Port, mapFile, extra))
	return e, mapFile
}

// writeIgnores writes a map that ignores the given source documents.
func writeIgnores(t *testing.T, path string, docs ...string) {
	t.Helper()
	text := "source:\n  documents:\n    ignore: [\"" + strings.Join(docs, `", "`) + "\"]\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitExit waits for a daemon to exit; the test fails if it still runs
// after timeout.
func waitExit(t *testing.T, d *daemon, timeout time.Duration, what string) int {
	t.Helper()
	select {
	case <-d.exited:
	case <-time.After(timeout):
		_ = d.cmd.Process.Kill()
		<-d.exited
		t.Fatalf("%s: shiplog kept streaming %v after it\n%s", what, timeout, tail(d.stderr.String()))
	}
	return exitCode(t, d.err)
}

// TestNewTableDuringDeltaStopsTheStream: a table created on the source while
// binlog delta streams stops it at that moment, exit 1, naming the table and
// both remedies, while a table the map ignores stays silent; verify counts it
// as a missing table (exit 1). Each remedy is then taken: ignoring the table
// in the map lets delta go on and verify pass; a table created on the
// destination too is copied by `migrate data --reset` and streams on.
func TestNewTableDuringDeltaStopsTheStream(t *testing.T) {
	t.Parallel()
	e, mapFile := tablesEnv(t, "")
	e.mustRun("migrate", "data")
	d := startDaemon(t, e.config, "migrate", "delta")
	ctx := context.Background()

	// A table the map ignores: silent, the stream goes on past it.
	if err := e.src.Exec(ctx, "shop", "CREATE TABLE scratch_tmp (id INT PRIMARY KEY)", "INSERT INTO scratch_tmp VALUES (1), (2)",
		"UPDATE orders SET amount = 99 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the update after the ignored table to stream", 60*time.Second, func() bool {
		select {
		case <-d.exited:
			t.Fatalf("delta stopped on a table the map ignores: %v\n%s", d.err, tail(d.stderr.String()))
		default:
		}
		var n int
		_ = e.dstDB.QueryRow("SELECT amount FROM orders WHERE id = 1").Scan(&n)
		return n == 99
	})

	// A new table the map does not ignore: the stream stops at it.
	if err := e.src.Exec(ctx, "shop", "CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(32))",
		"INSERT INTO notes VALUES (1, 'lost?')", "UPDATE orders SET amount = 100 WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	code := waitExit(t, d, 30*time.Second, "CREATE TABLE notes")
	stderr := d.stderr.String()
	if code != 1 {
		t.Fatalf("delta at a new table: exit %d, want 1\n%s", code, tail(stderr))
	}
	for _, want := range []string{"shop.notes", "not replicated", "<ignore><document>notes</document></ignore>", "shiplog migrate data --reset"} {
		if !strings.Contains(stderr, want) {
			t.Fatalf("the stop does not mention %q:\n%s", want, tail(stderr))
		}
	}
	if strings.Contains(stderr, "scratch_tmp") {
		t.Fatalf("the ignored table was reported:\n%s", tail(stderr))
	}
	var n int
	if err := e.dstDB.QueryRow("SELECT amount FROM orders WHERE id = 2").Scan(&n); err != nil || n != 2 {
		t.Fatalf("orders 2 after the stop: %d %v; want 2 (the change after the table is not applied)", n, err)
	}

	// verify counts it as a missing table, and only it.
	r := runShiplog(t, e.config, nil, "verify", "--recheck", "-1s")
	if r.code != 1 || !strings.Contains(r.stdout, "notes: 0 rows, 0 chunks: 1 missing_table") || !strings.Contains(r.stdout, "1 missing table(s): notes") ||
		strings.Contains(r.stdout, "scratch") {
		t.Fatalf("verify with a new table: exit %d, want 1 naming notes only\n%s%s", r.code, r.stdout, tail(r.stderr))
	}
	if r := runShiplog(t, e.config, nil, "verify", "--tables", "notes"); r.code != 1 || !strings.Contains(r.stdout, "missing table(s): notes") {
		t.Fatalf("verify --tables notes: exit %d, want 1\n%s%s", r.code, r.stdout, tail(r.stderr))
	}
	// A restart stops at the same table again: nothing is skipped.
	expectFailure(t, runShiplog(t, e.config, nil, "migrate", "delta", "--exit-when-caught-up"), 1, "shop.notes", "not replicated")

	// Remedy 1: the map ignores it. Delta goes on, verify passes.
	writeIgnores(t, mapFile, "scratch_*", "notes")
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	if err := e.dstDB.QueryRow("SELECT amount FROM orders WHERE id = 2").Scan(&n); err != nil || n != 100 {
		t.Fatalf("orders 2 after ignoring notes: %d %v; want 100", n, err)
	}
	if r := runShiplog(t, e.config, nil, "verify"); r.code != 0 {
		t.Fatalf("verify after ignoring notes: exit %d\n%s%s", r.code, r.stdout, tail(r.stderr))
	}

	// Remedy 2: the table is created on the destination and copied again.
	if err := e.src.Exec(ctx, "shop", "CREATE TABLE tags (id INT PRIMARY KEY, name VARCHAR(16))", "INSERT INTO tags VALUES (1, 'a'), (2, 'b')"); err != nil {
		t.Fatal(err)
	}
	expectFailure(t, runShiplog(t, e.config, nil, "migrate", "delta", "--exit-when-caught-up"), 1, "shop.tags")
	if err := e.dst.Exec(ctx, "shop_new", "CREATE TABLE tags (id INT PRIMARY KEY, name VARCHAR(16))"); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "data", "--reset")
	if err := e.src.Exec(ctx, "shop", "INSERT INTO tags VALUES (3, 'c')"); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM tags").Scan(&n); err != nil || n != 3 {
		t.Fatalf("tags on the destination: %d %v; want 3", n, err)
	}
	if r := runShiplog(t, e.config, nil, "verify"); r.code != 0 {
		t.Fatalf("verify after copying tags: exit %d\n%s%s", r.code, r.stdout, tail(r.stderr))
	}
}

// TestNewTableUnderAutoWarnsAndCutoverRefuses: with data mode run under
// --auto, a new table makes delta log a warning naming it at that moment and
// stream on; the cutover (window and full scope) and verify still count it
// as a missing table and fail.
func TestNewTableUnderAutoWarnsAndCutoverRefuses(t *testing.T) {
	t.Parallel()
	e, _ := tablesEnv(t, "")
	e.mustRun("migrate", "data", "--auto")
	logFile := filepath.Join(t.TempDir(), "delta.log")
	d := startDaemon(t, e.config, "--log-file", logFile, "migrate", "delta")
	ctx := context.Background()
	if err := e.src.Exec(ctx, "shop", "CREATE TABLE scratch_x (id INT PRIMARY KEY)", "INSERT INTO scratch_x VALUES (1)",
		"CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(32))", "INSERT INTO notes VALUES (1, 'a')",
		"UPDATE orders SET amount = 77 WHERE id = 3"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a warning naming notes", 30*time.Second, func() bool {
		b, _ := os.ReadFile(logFile)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "level=WARN") && strings.Contains(line, "NOT REPLICATED") && strings.Contains(line, "shop.notes") {
				return true
			}
		}
		return false
	})
	waitFor(t, "the stream to go on", 30*time.Second, func() bool {
		var n int
		_ = e.dstDB.QueryRow("SELECT amount FROM orders WHERE id = 3").Scan(&n)
		return n == 77
	})
	if b, _ := os.ReadFile(logFile); strings.Contains(string(b), "scratch_x") {
		t.Fatalf("the ignored table was reported:\n%s", tail(string(b)))
	}
	for _, scope := range []string{"window", "full"} {
		r := runShiplog(t, e.config, nil, "cutover", "--max-lag", "2s", "--timeout", "60s", "--verify-scope", scope)
		if r.code != 1 || !strings.Contains(r.stderr, "1 missing table(s): notes") {
			t.Fatalf("cutover (%s) with a new table: exit %d, want 1 naming notes\n%s%s", scope, r.code, r.stdout, tail(r.stderr))
		}
	}
	if r := runShiplog(t, e.config, nil, "verify"); r.code != 1 || !strings.Contains(r.stdout, "1 missing table(s): notes") {
		t.Fatalf("verify with a new table: exit %d, want 1\n%s%s", r.code, r.stdout, tail(r.stderr))
	}
	d.stop(t)
}

// TestUserM2CLTableIsReported: on the trigger path, shiplog's own change log
// (m2_cl_orders) is recognised and left alone, while a user's table that is
// merely named m2_cl_* is not: created while delta polls, it stops delta at
// the next poll (a table the map ignores does not), verify counts it as a
// missing table, and the integrity check names it.
func TestUserM2CLTableIsReported(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := testenv.MariaDBT(t, testenv.Options{}) // no binlog: triggers
	dst := testenv.MariaDBT(t, testenv.Options{ServerID: 2})
	for _, s := range []struct {
		db   *testenv.MariaDB
		name string
	}{{src, "shop"}, {dst, "shop_new"}} {
		if err := s.db.Exec(ctx, "", "CREATE DATABASE "+s.name, "CREATE TABLE "+s.name+".orders (id INT PRIMARY KEY, amount INT NOT NULL)"); err != nil {
			t.Fatal(err)
		}
	}
	e := openEnv(t, src, dst)
	if _, err := e.srcDB.Exec("INSERT INTO orders SELECT seq, seq FROM seq_1_to_20"); err != nil {
		t.Fatal(err)
	}
	mapFile := filepath.Join(t.TempDir(), "map.yaml")
	writeIgnores(t, mapFile, "scratch_*")
	e.config = e.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: shop_new}\nmap: %s\ndelta: {source: triggers}\n",
		src.Port, dst.Port, mapFile))
	e.mustRun("migrate", "data")
	// Its own change log exists now and is no table to copy.
	e.mustRun("check")
	d := startDaemon(t, e.config, "migrate", "delta")
	if err := src.Exec(ctx, "shop", "CREATE TABLE scratch_y (id INT PRIMARY KEY)", "UPDATE orders SET amount = 55 WHERE id = 4"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the update after the ignored table to stream", 60*time.Second, func() bool {
		var n int
		_ = e.dstDB.QueryRow("SELECT amount FROM orders WHERE id = 4").Scan(&n)
		return n == 55
	})
	// Two polls pass with the ignored table: still streaming.
	time.Sleep(2500 * time.Millisecond)
	select {
	case <-d.exited:
		t.Fatalf("delta stopped on a table the map ignores: %v\n%s", d.err, tail(d.stderr.String()))
	default:
	}
	if err := src.Exec(ctx, "shop", "CREATE TABLE m2_cl_notes (id INT PRIMARY KEY, note VARCHAR(32))", "INSERT INTO m2_cl_notes VALUES (1, 'mine')"); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, d, 30*time.Second, "CREATE TABLE m2_cl_notes"); code != 1 || !strings.Contains(d.stderr.String(), "shop.m2_cl_notes") {
		t.Fatalf("delta at a user's m2_cl_notes: exit %d, want 1 naming it\n%s", code, tail(d.stderr.String()))
	}
	if strings.Contains(d.stderr.String(), "m2_cl_orders") || strings.Contains(d.stderr.String(), "scratch_y") {
		t.Fatalf("the change log or the ignored table was reported:\n%s", tail(d.stderr.String()))
	}
	r := runShiplog(t, e.config, nil, "verify")
	if r.code != 1 || !strings.Contains(r.stdout, "1 missing table(s): m2_cl_notes") || strings.Contains(r.stdout, "m2_cl_orders") {
		t.Fatalf("verify with a user's m2_cl_notes: exit %d, want 1 naming it only\n%s%s", r.code, r.stdout, tail(r.stderr))
	}
	if r := runShiplog(t, e.config, nil, "check"); r.code != 1 || !strings.Contains(r.stdout, "m2_cl_notes") || strings.Contains(r.stdout, "m2_cl_orders") {
		t.Fatalf("check with a user's m2_cl_notes: exit %d, want 1 naming it only\n%s%s", r.code, r.stdout, tail(r.stderr))
	}
}
