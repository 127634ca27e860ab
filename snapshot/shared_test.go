//go:build !unit

package snapshot

import (
	"context"
	"sync"
	"testing"

	"github.com/shiplog/shiplog/internal/testenv"
)

// TestOpenSharedSeesOneSnapshot: while the source commits inserts as fast
// as one connection can, the connections openShared returns (those whose
// binlog positions agree) count the same rows: they are in one snapshot.
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
	var shared, single int
	for range 30 {
		snaps, err := openShared(ctx, db, 4)
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
		if len(snaps) == 1 {
			single++
		} else {
			shared += len(snaps)
		}
		for i, n := range counts {
			if n != counts[0] || snaps[i].pos != snaps[0].pos {
				t.Errorf("connections at %s, %s count %v rows", snaps[0].pos, snaps[i].pos, counts)
			}
		}
		if len(snaps) < 1 || len(snaps) > 4 {
			t.Errorf("openShared returned %d connections", len(snaps))
		}
	}
	stop()
	wg.Wait()
	t.Logf("under a steady insert load: %d of 30 opens single, the others %.1f connections on average", single, float64(shared)/float64(max(30-single, 1)))
}
