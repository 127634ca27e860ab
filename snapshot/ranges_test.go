//go:build !unit

package snapshot_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"

	"github.com/shiplog/shiplog/internal/testenv"
	"github.com/shiplog/shiplog/rowio"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
	"github.com/shiplog/shiplog/snapshot"
	"github.com/shiplog/shiplog/state"
	"github.com/shiplog/shiplog/transform"
)

// rangeTables are tables large enough (with RangeRows 2000) to be copied in
// key ranges: an integer key with gaps and negative values, an unsigned
// key near its top, a composite key led by a string (sampled bounds, many
// rows per first-column value) and a keyless table (whole).
var rangeTables = []string{
	"CREATE TABLE ints (id INT NOT NULL PRIMARY KEY, v VARCHAR(40), KEY v (v))",
	"CREATE TABLE uints (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, v INT)",
	"CREATE TABLE strs (k VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL, n INT NOT NULL, v BLOB, PRIMARY KEY (k, n))",
	"CREATE TABLE nokey (a INT, b VARCHAR(10))",
}

var rangeRows = []string{
	"INSERT INTO ints SELECT CAST(seq AS SIGNED) * 3 - 15000, CONCAT('v', seq) FROM seq_1_to_20000",
	"INSERT INTO uints SELECT 18446744073709551615 - seq * 7, seq FROM seq_0_to_9999",
	"INSERT INTO strs SELECT CONCAT(ELT(1 + seq MOD 4, 'a', 'B', 'ä', 'é'), seq DIV 40), seq MOD 40, UNHEX(HEX(seq)) FROM seq_1_to_12000",
	"INSERT INTO nokey SELECT seq MOD 7, 'x' FROM seq_1_to_5000",
	"ANALYZE TABLE ints, uints, strs, nokey",
}

func rangeSetup(t *testing.T) (ctx context.Context, srcDB, dstDB *sql.DB, st *state.State, plan *transform.Plan) {
	t.Helper()
	return copySetup(t, rangeTables, rangeRows, &transform.Rules{FullRowTables: []string{"nokey"}})
}

// copySetup starts a source and a destination, creates tables on both,
// fills the source with rows, and returns the plan compiled with rules
// and the destination's state (ensured).
func copySetup(t *testing.T, tables, rows []string, rules *transform.Rules) (ctx context.Context, srcDB, dstDB *sql.DB, st *state.State, plan *transform.Plan) {
	t.Helper()
	ctx = context.Background()
	src, dst := testenv.SourceAndDest(t, "shop", "shop_new")
	if err := src.Exec(ctx, "shop", append(append([]string{}, tables...), rows...)...); err != nil {
		t.Fatal(err)
	}
	if err := dst.Exec(ctx, "shop_new", tables...); err != nil {
		t.Fatal(err)
	}
	srcDB, err := src.Open("shop")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srcDB.Close() })
	dstDB = openDest(t, dst, "shop_new")
	srcTables, err := rowio.LoadTables(ctx, srcDB, "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	dstTables, err := rowio.LoadTables(ctx, dstDB, "shop_new", "_shiplog_")
	if err != nil {
		t.Fatal(err)
	}
	plan, problems := transform.Compile(rules, srcTables, dstTables)
	if transform.HasErrors(problems) {
		t.Fatalf("problems: %v", problems)
	}
	st = state.NewState(dstDB, "shop_new")
	if err := st.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	return ctx, srcDB, dstDB, st, plan
}

// rangeCopier: 8 workers, so that each keyed table (10,000 rows and more)
// is above a worker's share of the 42,000 rows and is split.
func rangeCopier(srcDB, dstDB *sql.DB, st *state.State, plan *transform.Plan) *snapshot.Copier {
	return &snapshot.Copier{Source: srcDB, Dest: dstDB, State: st, Plan: plan, ChunkRows: 300, Workers: 8, RangeRows: 2000, Volume: true,
		Writer: mysqlsink.NewWriter(dstDB, st, mysqlsink.Options{})}
}

// checkRangedCopy compares every row and the recorded progress: each keyed
// table was copied in several ranges, all done, and is done with its rows;
// ints in segments snapshots.
func checkRangedCopy(t *testing.T, ctx context.Context, srcDB, dstDB *sql.DB, st *state.State, segments int) {
	t.Helper()
	diffs, err := testenv.CompareDatabases(ctx, srcDB, "shop", dstDB, "shop_new")
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Fatalf("differences after copy: %v", diffs)
	}
	progress, err := st.Progress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for table, rows := range map[string]int64{"ints": 20000, "uints": 10000, "strs": 12000, "nokey": 5000} {
		p := progress[table]
		if p.State != state.TableDone || p.Rows != rows || p.SourceRows == nil || *p.SourceRows != rows {
			t.Errorf("progress of %s: %+v", table, p)
		}
		ranges, err := st.Ranges(ctx, table)
		if err != nil {
			t.Fatal(err)
		}
		if table == "nokey" {
			if len(ranges) != 0 {
				t.Errorf("keyless table copied in ranges: %+v", ranges)
			}
			continue
		}
		if table == "ints" && p.Segments != segments || p.Segments < 1 {
			t.Errorf("%s: %d segments, want %d", table, p.Segments, segments)
		}
		var sum int64
		for _, r := range ranges {
			if !r.Done {
				t.Errorf("%s: range %d not done", table, r.No)
			}
			sum += r.Rows
		}
		if len(ranges) < 2 || sum != rows {
			t.Errorf("%s: %d ranges, %d rows in them, want several and %d", table, len(ranges), sum, rows)
		}
	}
}

// TestCopyInRanges copies large tables in key ranges in parallel (integer,
// unsigned and string-led composite keys) and compares every row; the
// volume check (exact: one snapshot) passes.
func TestCopyInRanges(t *testing.T) {
	t.Parallel()
	ctx, srcDB, dstDB, st, plan := rangeSetup(t)
	res, err := rangeCopier(srcDB, dstDB, st, plan).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 20000+10000+12000+5000 || res.Start.IsZero() || len(res.Warnings) > 0 {
		t.Fatalf("result %+v", res)
	}
	checkRangedCopy(t, ctx, srcDB, dstDB, st, 1)
}

// TestCopyInRangesResumes stops a ranged copy mid-range (its context ends
// after some chunks are committed), then runs it again: every range goes on
// from its last committed key, and no row is lost or doubled.
func TestCopyInRangesResumes(t *testing.T) {
	t.Parallel()
	ctx, srcDB, dstDB, st, plan := rangeSetup(t)
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	c := rangeCopier(srcDB, dstDB, st, plan)
	c.Progress = func(table string, rows int64) {
		if table == "ints" && rows >= 7000 {
			cancel()
		}
	}
	if _, err := c.Run(stop); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted copy: %v", err)
	}
	ranges, err := st.Ranges(ctx, "ints")
	if err != nil {
		t.Fatal(err)
	}
	var mid int
	for _, r := range ranges {
		if !r.Done && r.LastKey != nil {
			mid++
		}
	}
	if mid == 0 {
		t.Fatalf("no range of ints stopped mid-way: %+v", ranges)
	}
	if _, err := rangeCopier(srcDB, dstDB, st, plan).Run(ctx); err != nil {
		t.Fatal(err)
	}
	checkRangedCopy(t, ctx, srcDB, dstDB, st, 2)
}

// TestCopySplitsOnlyTablesAboveAWorkersShare: a table is split into key
// ranges only when it holds more than its share of the rows left per
// worker: with 3 workers only ints (20,000 of 42,000 keyed rows) is; with 2
// none is (whole tables keep both workers busy). Rows compared each time.
func TestCopySplitsOnlyTablesAboveAWorkersShare(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		workers int
		split   map[string]bool
	}{{3, map[string]bool{"ints": true}}, {2, map[string]bool{}}} {
		t.Run(fmt.Sprint(c.workers), func(t *testing.T) {
			t.Parallel()
			ctx, srcDB, dstDB, st, plan := rangeSetup(t)
			cp := rangeCopier(srcDB, dstDB, st, plan)
			cp.Workers = c.workers
			if _, err := cp.Run(ctx); err != nil {
				t.Fatal(err)
			}
			diffs, err := testenv.CompareDatabases(ctx, srcDB, "shop", dstDB, "shop_new")
			if err != nil || len(diffs) > 0 {
				t.Fatalf("differences after copy: %v %v", diffs, err)
			}
			for _, table := range []string{"ints", "uints", "strs"} {
				ranges, err := st.Ranges(ctx, table)
				if err != nil {
					t.Fatal(err)
				}
				if got := len(ranges) > 1; got != c.split[table] {
					t.Errorf("%d workers: %s in %d ranges, want split %v", c.workers, table, len(ranges), c.split[table])
				}
			}
		})
	}
}
