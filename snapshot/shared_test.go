//go:build !unit

package snapshot

import (
	"context"
	"sync"
	"testing"

	"github.com/shiplog/shiplog/internal/testenv"
)

// TestOpenSharedSeesOneSnapshot: while the source commits inserts as fast
// as one connection can, the four connections openSnapshots returns count
// the same rows: they are in one snapshot (a table's key ranges read on
// them agree). rowio's TestPinnedSnapshotsMatchTheirPositionExactly checks
// the position against the binlog.
func TestOpenSharedSeesOneSnapshot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := testenv.MariaDBT(t, testenv.Options{Binlog: true, ServerID: 1})
	if err := src.Exec(ctx, "", "CREATE DATABASE shop", "CREATE TABLE shop.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)"); err != nil {
		t.Fatal(err)
	}
	db, err := src.Open("shop")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for wctx.Err() == nil {
			_, _ = db.ExecContext(wctx, "INSERT INTO t (v) VALUES (1)")
		}
	})
	for range 30 {
		snaps, err := openSnapshots(ctx, db, 4, true)
		if err != nil {
			stop()
			wg.Wait()
			t.Fatal(err)
		}
		var counts []int64
		for _, s := range snaps {
			var n int64
			if err := s.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n); err != nil {
				t.Error(err)
			}
			counts = append(counts, n)
		}
		for _, s := range snaps {
			s.close(ctx)
		}
		for i, n := range counts {
			if n != counts[0] || snaps[i].pos != snaps[0].pos {
				t.Errorf("connections at %s, %s count %v rows", snaps[0].pos, snaps[i].pos, counts)
			}
		}
		if len(snaps) != 4 {
			t.Errorf("openSnapshots returned %d connections", len(snaps))
		}
	}
	stop()
	wg.Wait()
}
