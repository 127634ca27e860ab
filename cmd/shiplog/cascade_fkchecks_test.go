//go:build !unit

package main

import (
	"context"
	"strings"
	"testing"
)

// TestForeignKeyChecksOffCascadesNothing: a parent deleted, and a parent's
// key changed, with foreign_key_checks=0 on the source cascade nothing
// there (its children keep their rows and values); the stream must keep
// them on the destination too: the binlog's rows events carry the flag, and
// the change log reads the children again from the source. A delete made
// with the checks on afterwards still cascades.
func TestForeignKeyChecksOffCascadesNothing(t *testing.T) {
	t.Parallel()
	for _, delta := range []string{"binlog", "triggers"} {
		t.Run(delta, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "")
			mapFile := cascadeEnv(t, e, false)
			extra := "options: {bulk_size: 100}"
			if delta == "triggers" {
				// (A key outside the parent's log key is refused with change logs.)
				if err := e.src.Exec(context.Background(), "shop", "ALTER TABLE child DROP FOREIGN KEY child_code"); err != nil {
					t.Fatal(err)
				}
				extra = "delta: {source: triggers}\n" + extra
			}
			e.config = cascadeConfig(e, mapFile, extra)
			e.mustRun("migrate", "data")
			kept := map[string][]string{}
			for _, q := range []string{
				"SELECT COUNT(*) FROM child WHERE parent_id IN (5, 6)",
				"SELECT COUNT(*) FROM child WHERE parent_code IN ('c5', 'c6')",
			} {
				kept[q] = rowsOf(t, e.srcDB, q)
				if strings.Join(kept[q], "") == "'0'" {
					t.Fatalf("%s: no rows to keep", q)
				}
			}
			execConn(t, e.srcDB, "SET foreign_key_checks = 0",
				"DELETE FROM parent WHERE id = 5",
				"UPDATE parent SET id = 1006, code = 'c1006' WHERE id = 6",
				"SET foreign_key_checks = 1",
				"DELETE FROM parent WHERE id = 7")
			for q, want := range kept {
				if got := rowsOf(t, e.srcDB, q); strings.Join(got, "") != strings.Join(want, "") {
					t.Fatalf("%s on the source: %v, want %v kept (the checks were off)", q, got, want)
				}
			}
			if got := rowsOf(t, e.srcDB, "SELECT COUNT(*) FROM child WHERE parent_id = 7"); strings.Join(got, "") != "'0'" {
				t.Fatalf("parent 7's children on the source: %v, want none (the checks were on)", got)
			}
			e.mustRun("migrate", "delta", "--exit-when-caught-up")
			for q, want := range kept {
				if got := rowsOf(t, e.dstDB, q); strings.Join(got, "") != strings.Join(want, "") {
					t.Errorf("%s on the destination: %v, want %v, as the source kept them", q, got, want)
				}
			}
			if !assertCascadeEqual(t, e, false) {
				t.Fatalf("the destination differs from the source")
			}
			if r := runShiplog(t, e.config, nil, "verify"); r.code != 0 {
				t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}
