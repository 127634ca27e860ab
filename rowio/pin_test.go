//go:build !unit

package rowio_test

import (
	"context"
	"database/sql"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/shiplog/shiplog/internal/testenv"
	"github.com/shiplog/shiplog/rowio"
)

// TestPinnedSnapshotsMatchTheirPositionExactly: while three connections
// commit single-row inserts as fast as they can, every pair of snapshots
// PinSnapshots starts sees exactly the inserts whose transactions end in the
// binary log at or before the position it returns (counted from SHOW BINLOG
// EVENTS afterwards): none missing — a stream started there would never
// deliver it — and none from after. MariaDB's own binlog_snapshot_position,
// read the same way for comparison, is logged: on 10.11 it is at times ahead
// of its snapshot.
func TestPinnedSnapshotsMatchTheirPositionExactly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := testenv.MariaDBT(t, testenv.Options{Binlog: true})
	if err := m.Exec(ctx, "", "CREATE DATABASE s", "CREATE TABLE s.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)"); err != nil {
		t.Fatal(err)
	}
	db, err := m.Open("s")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start, _, err := rowio.ReadMasterStatus(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for wctx.Err() == nil {
				_, _ = db.ExecContext(wctx, "INSERT INTO t (v) VALUES (1)")
			}
		})
	}
	type seen struct {
		pos    uint64
		counts [2]int64
	}
	var pinned, reported []seen
	count := func(c *sql.Conn) int64 {
		var n int64
		if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n); err != nil {
			t.Error(err)
		}
		return n
	}
	for range 60 {
		a, b := conn(t, db), conn(t, db)
		st, ok, err := rowio.PinSnapshots(ctx, db, a, b)
		if err != nil || !ok || st.File != start.File {
			t.Fatalf("PinSnapshots: %v %v %+v (binlog %s)", err, ok, st, start.File)
		}
		pinned = append(pinned, seen{st.Pos, [2]int64{count(a), count(b)}})
		for _, c := range []*sql.Conn{a, b} {
			_, _ = c.ExecContext(ctx, "COMMIT")
			c.Close()
		}
		// For comparison: MariaDB's report of a snapshot's own position.
		c := conn(t, db)
		if _, err := c.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
			t.Fatal(err)
		}
		var name, value string
		var pos uint64
		rows, err := c.QueryContext(ctx, "SHOW STATUS LIKE 'binlog_snapshot_position'")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			if err := rows.Scan(&name, &value); err != nil {
				t.Fatal(err)
			}
			if pos, err = strconv.ParseUint(value, 10, 64); err != nil {
				t.Fatal(err)
			}
		}
		rows.Close()
		n := count(c)
		reported = append(reported, seen{pos, [2]int64{n, n}})
		_, _ = c.ExecContext(ctx, "COMMIT")
		c.Close()
	}
	stop()
	wg.Wait()
	// The end of every committed insert in the binary log.
	var ends []uint64
	rows, err := db.QueryContext(ctx, "SHOW BINLOG EVENTS IN '"+start.File+"'")
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		// Log_name, Pos, Event_type, Server_id, End_log_pos, Info
		if vals[2].String == "Xid" {
			end, err := strconv.ParseUint(strings.TrimSpace(vals[4].String), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			ends = append(ends, end)
		}
	}
	rows.Close()
	sort.Slice(ends, func(i, j int) bool { return ends[i] < ends[j] })
	before := func(pos uint64) int64 {
		return int64(sort.Search(len(ends), func(i int) bool { return ends[i] > pos }))
	}
	if len(ends) < 100 {
		t.Fatalf("only %d inserts committed under the test: no load to race", len(ends))
	}
	for _, s := range pinned {
		if want := before(s.pos); s.counts[0] != want || s.counts[1] != want {
			t.Errorf("pinned snapshots at %s:%d count %v rows; the binlog holds %d inserts up to there", start.File, s.pos, s.counts, want)
		}
	}
	off := 0
	for _, s := range reported {
		if s.counts[0] != before(s.pos) {
			off++
		}
	}
	t.Logf("%d inserts committed; %d pinned pairs checked; binlog_snapshot_position disagreed with its snapshot %d times of %d", len(ends), len(pinned), off, len(reported))
}

func conn(t *testing.T, db *sql.DB) *sql.Conn {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(context.Background(), "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPinSnapshotsWithoutReloadSaysWhatToGrant: a source user without RELOAD
// gets an error naming the privilege, and no snapshot is left open.
func TestPinSnapshotsWithoutReloadSaysWhatToGrant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := testenv.MariaDBT(t, testenv.Options{Binlog: true})
	if err := m.Exec(ctx, "", "CREATE DATABASE s", "CREATE USER 'u'@'%' IDENTIFIED BY 'p'", "GRANT SELECT ON s.* TO 'u'@'%'",
		"GRANT BINLOG MONITOR, REPLICATION SLAVE ON *.* TO 'u'@'%'"); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", "u:p@tcp("+m.Addr()+")/s")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := conn(t, db)
	defer c.Close()
	_, _, err = rowio.PinSnapshots(ctx, db, c)
	if err == nil || !strings.Contains(err.Error(), "RELOAD") || strings.Contains(err.Error(), "'p'") {
		t.Fatalf("PinSnapshots without RELOAD: %v", err)
	}
	var in int
	if err := c.QueryRowContext(ctx, "SELECT @@in_transaction").Scan(&in); err != nil || in != 0 {
		t.Fatalf("a snapshot was left open after the error: in_transaction=%d %v", in, err)
	}
}
