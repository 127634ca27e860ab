//go:build !unit

package main

import (
	"context"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/internal/failpoint"
)

// TestRangedCopyKilledMidRange: a table large enough to be copied in key
// ranges in parallel, the copy killed (SIGKILL at a named point) while its
// ranges are part-copied, rows changed in both ranges meanwhile; the resumed
// copy goes on in every range from its last committed key, and delta
// reconciles what changed: the destination ends equal to the source.
func TestRangedCopyKilledMidRange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "bulk_size: 2000, workers: 2")
	ctx := context.Background()
	e.both("CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(20), KEY v (v))")
	if err := e.src.Exec(ctx, "shop", "INSERT INTO big SELECT seq, CONCAT('v', seq) FROM seq_1_to_250000", "ANALYZE TABLE big"); err != nil {
		t.Fatal(err)
	}
	r := runShiplog(t, e.config, []string{failpoint.Env + "=" + failpoint.CopyChunkCommitted + ":40"}, "migrate", "data")
	if r.code == 0 || !strings.Contains(r.stderr, "failpoint "+failpoint.CopyChunkCommitted) {
		t.Fatalf("migrate data was not killed: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "copying table in key ranges") {
		t.Fatalf("the table was not copied in key ranges:\n%s", r.stderr)
	}
	ranges := rowsOf(t, e.dstDB, "SELECT range_no, done, last_key IS NOT NULL FROM _shiplog_ranges WHERE table_name = 'big' ORDER BY range_no")
	var mid int
	for _, s := range ranges {
		if strings.HasSuffix(s, "'0','1'") {
			mid++
		}
	}
	if len(ranges) < 2 || mid == 0 {
		t.Fatalf("at the kill: ranges %v; the test needs one stopped mid-range", ranges)
	}
	// Changes at both ends of the key space, after the killed snapshot.
	if err := e.src.Exec(ctx, "shop",
		"UPDATE big SET v = 'changed' WHERE id IN (3, 249990)",
		"DELETE FROM big WHERE id IN (5, 249995)",
		"INSERT INTO big VALUES (250001, 'new'), (0, 'new')"); err != nil {
		t.Fatal(err)
	}
	// Its key v is dropped for the bulk load; the resume adds it back.
	if c := strings.Join(rowsOf(t, e.dstDB, "SHOW CREATE TABLE big"), ""); strings.Contains(c, "KEY `v`") {
		t.Errorf("the table has its key v during the copy:\n%s", c)
	}
	e.mustRun("migrate", "data")
	if c := strings.Join(rowsOf(t, e.dstDB, "SHOW CREATE TABLE big"), ""); !strings.Contains(c, "KEY `v` (`v`)") {
		t.Errorf("the table lacks its key v after the resumed copy:\n%s", c)
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	q := "SELECT COUNT(*), SUM(id), SUM(CRC32(v)) FROM big"
	want, got := rowsOf(t, e.srcDB, q), rowsOf(t, e.dstDB, q)
	if strings.Join(want, " ") != strings.Join(got, " ") {
		t.Fatalf("after the resumed copy and delta: source %v, destination %v", want, got)
	}
	for _, q := range []string{"SELECT * FROM big WHERE id IN (0, 3, 5, 249990, 249995, 250001) ORDER BY id"} {
		if w, g := rowsOf(t, e.srcDB, q), rowsOf(t, e.dstDB, q); strings.Join(w, " ") != strings.Join(g, " ") {
			t.Errorf("%s: source %v, destination %v", q, w, g)
		}
	}
}
