//go:build !unit

package main

import (
	"context"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/internal/failpoint"
)

// TestCopyKilledWithIndexesDropped: migrate data killed (SIGKILL at a named
// point) after it dropped a table's secondary indexes for its bulk load,
// before it added them back; verify refuses to run, naming the table and the
// remedy; the next migrate data adds them back, finishes the copy, and the
// table's SHOW CREATE TABLE and rows are the source's. Then, with an index
// recorded as pending by hand, delta and verify refuse and migrate data
// (nothing left to copy) adds it back (so does run, which starts with it).
func TestCopyKilledWithIndexesDropped(t *testing.T) {
	t.Parallel()
	for _, point := range []string{failpoint.CopyIndexesDropped, failpoint.CopyBeforeIndexesAdded + ":1"} {
		t.Run(strings.Split(point, ":")[0], func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "bulk_size: 2000, workers: 1, defer_index_rows: 1000")
			ctx := context.Background()
			e.both("CREATE TABLE big (id INT PRIMARY KEY, k INT NOT NULL, c VARCHAR(40), KEY k_1 (k), KEY kc (k DESC, c(5)) COMMENT 'k, then c')")
			if err := e.src.Exec(ctx, "shop", "INSERT INTO big SELECT seq, seq MOD 1000, CONCAT('c', seq) FROM seq_1_to_30000", "ANALYZE TABLE big"); err != nil {
				t.Fatal(err)
			}
			create := func() string { return strings.Join(rowsOf(t, e.dstDB, "SHOW CREATE TABLE big"), "") }
			before := create()
			r := runShiplog(t, e.config, []string{failpoint.Env + "=" + point}, "migrate", "data")
			if r.code == 0 || !strings.Contains(r.stderr, "failpoint "+strings.Split(point, ":")[0]) {
				t.Fatalf("migrate data was not killed: exit %d\n%s", r.code, r.stderr)
			}
			if now := create(); strings.Contains(now, "k_1") || strings.Contains(now, "`kc`") {
				t.Fatalf("at the kill the indexes are in place:\n%s", now)
			}
			if got := rowsOf(t, e.dstDB, "SELECT index_name FROM _shiplog_deferred_indexes ORDER BY seq"); strings.Join(got, " ") != "'k_1' 'kc'" {
				t.Fatalf("recorded at the kill: %v", got)
			}
			r = runShiplog(t, e.config, nil, "verify")
			if r.code == 0 || !strings.Contains(r.stderr, "shop_new.big (k_1, kc)") || !strings.Contains(r.stderr, "migrate data") {
				t.Fatalf("verify with indexes pending: exit %d\n%s", r.code, r.stderr)
			}
			if err := e.src.Exec(ctx, "shop", "UPDATE big SET k = 7 WHERE id IN (3, 29990)", "DELETE FROM big WHERE id = 5"); err != nil {
				t.Fatal(err)
			}
			e.mustRun("migrate", "data")
			if after := create(); after != before {
				t.Fatalf("SHOW CREATE TABLE after the resumed copy:\n%s\nbefore:\n%s", after, before)
			}
			if got := rowsOf(t, e.dstDB, "SELECT COUNT(*) FROM _shiplog_deferred_indexes"); strings.Join(got, "") != "'0'" {
				t.Fatalf("recorded after the resumed copy: %v", got)
			}
			e.mustRun("migrate", "delta", "--exit-when-caught-up")
			e.assertIdentical()

			// A pending index with data mode done: the stream refuses, and
			// migrate data, with nothing to copy, adds it back.
			if err := e.dst.Exec(ctx, "shop_new", "ALTER TABLE big DROP INDEX kc",
				"INSERT INTO _shiplog_deferred_indexes (table_name, index_name, dest_schema, dest_table, seq, definition, recorded_at)"+
					" VALUES ('big', 'kc', 'shop_new', 'big', 1, 'KEY `kc` (`k` DESC,`c`(5)) COMMENT ''k, then c''', NOW())"); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"migrate", "delta", "--exit-when-caught-up"}, {"verify"}} {
				r := runShiplog(t, e.config, nil, args...)
				if r.code == 0 || !strings.Contains(r.stderr, "shop_new.big (kc)") {
					t.Errorf("%v with an index pending: exit %d\n%s", args, r.code, r.stderr)
				}
			}
			e.mustRun("migrate", "data")
			if after := create(); after != before {
				t.Fatalf("SHOW CREATE TABLE after migrate data added the pending index:\n%s\nbefore:\n%s", after, before)
			}
			e.mustRun("migrate", "delta", "--exit-when-caught-up")
		})
	}
}
