//go:build !unit

package main

import (
	"strings"
	"testing"

	"github.com/shiplog/shiplog/internal/failpoint"
)

// TestKilledAfterOnePartitionCommittedResumesEveryPartition: the first batch
// of a stream touches keys of every apply partition; shiplog is killed right
// after the first partition's transaction commits, before the others do.
// The next run must apply what the partitions that had not committed held:
// a partition without a checkpoint row is not a partition that has nothing to
// apply (nor a sign that the last run had fewer partitions).
func TestKilledAfterOnePartitionCommittedResumesEveryPartition(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "apply_workers: 4, full_row_tables: [events]")
	e.seedShop(400)
	e.mustRun("migrate", "data")
	// One transaction over every key: every partition has work.
	tx, err := e.srcDB.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"UPDATE orders SET amount = amount + 1, note = CONCAT(IFNULL(note, ''), 'x')",
		"UPDATE items SET qty = qty + 1",
		"INSERT INTO events SELECT 'after', CONCAT('p', seq), NOW() FROM seq_1_to_200",
	} {
		if _, err := tx.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	r := runShiplog(t, e.config, []string{failpoint.Env + "=" + failpoint.DestAfterCommit + ":1"}, "migrate", "delta", "--exit-when-caught-up")
	if !strings.Contains(r.stderr, "failpoint "+failpoint.DestAfterCommit+" reached") {
		t.Fatalf("shiplog was not killed at %s (exit %d):\n%s", failpoint.DestAfterCommit, r.code, r.stderr)
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	e.assertIdentical()
}
