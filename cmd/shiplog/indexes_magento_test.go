//go:build !unit

package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/internal/magentogen"
	"github.com/shiplog/shiplog/internal/testenv"
)

// TestDeferredIndexesOnTheRealMagento2Schema: an identity copy of the real
// Magento 2.4 schema (m2-schema.sql on both sides; the source holds a fresh
// install's EAV rows from magentogen) with options.defer_index_rows 1, so
// that every filled table has its plain KEYs dropped and built after its
// load: every destination table's SHOW CREATE TABLE is as before the copy
// (multi-column keys, keys foreign keys need, FULLTEXT keys, prefixes), and
// every row equals the source's.
func TestDeferredIndexesOnTheRealMagento2Schema(t *testing.T) {
	t.Parallel()
	fx := magentoFixtures(t)
	src := testenv.MariaDBT(t, testenv.Options{Binlog: true, ServerID: 1, Schemas: []testenv.Schema{m2Schema(fx, "magento2")}})
	dst := testenv.MariaDBT(t, testenv.Options{ServerID: 2, Schemas: []testenv.Schema{m2Schema(fx, "magento2")}})
	e := &env{t: t, src: src, dst: dst}
	var err error
	if e.srcDB, err = src.Open("magento2"); err != nil {
		t.Fatal(err)
	}
	if e.dstDB, err = dst.Open("magento2"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.srcDB.Close(); e.dstDB.Close() })
	execConn(t, e.srcDB, append([]string{"SET FOREIGN_KEY_CHECKS = 0"}, magentogen.Magento2()...)...)
	ctx := context.Background()
	var tables []string
	rows, err := e.dstDB.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'magento2' AND TABLE_TYPE = 'BASE TABLE'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var tb string
		if err := rows.Scan(&tb); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, tb)
	}
	if err := rows.Close(); err != nil || len(tables) < 300 {
		t.Fatalf("%d tables of the Magento 2 schema: %v", len(tables), err)
	}
	showCreate := func(table string) string {
		var name, create string
		if err := e.dstDB.QueryRowContext(ctx, "SHOW CREATE TABLE magento2.`"+table+"`").Scan(&name, &create); err != nil {
			t.Fatal(err)
		}
		// The copy's rows move the AUTO_INCREMENT counter; nothing else may differ.
		return autoIncrement.ReplaceAllString(create, "")
	}
	// Row estimates (what defer_index_rows is judged on) are refreshed in the
	// background after a load: made exact before the copy reads them.
	quoted := make([]string, len(tables))
	for i, tb := range tables {
		quoted[i] = "`" + tb + "`"
	}
	execConn(t, e.srcDB, "ANALYZE TABLE "+strings.Join(quoted, ", "))
	before := map[string]string{}
	for _, tb := range tables {
		before[tb] = showCreate(tb)
	}
	e.config = e.writeConfig(fmt.Sprintf(`source: {host: 127.0.0.1, port: %d, user: root, password: "", database: magento2}
destination: {host: 127.0.0.1, port: %d, user: root, database: magento2}
options: {defer_index_rows: 1, full_row_tables: [queue_poison_pill]}
`, src.Port, dst.Port))
	r := e.mustRun("migrate", "data")
	// The rows fill the EAV tables (209 rows): 6 of them have plain keys to
	// drop; eav_entity_attribute keeps its keys (a foreign key needs one).
	if n := strings.Count(r.stderr, "secondary indexes dropped; built after the copy"); n < 5 ||
		!strings.Contains(r.stderr, "keeping an index a foreign key needs") {
		t.Fatalf("indexes were built after the load of %d tables, want 5 or more and one table keeping a foreign key's index:\n%s", n, r.stderr)
	}
	for _, tb := range tables {
		if got := showCreate(tb); got != before[tb] {
			t.Errorf("%s after the copy:\n%s\nbefore:\n%s", tb, got, before[tb])
		}
	}
	diffs, err := testenv.CompareDatabases(ctx, e.srcDB, "magento2", e.dstDB, "magento2")
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Fatalf("source and destination differ:\n%s", strings.Join(diffs, "\n"))
	}
}

var autoIncrement = regexp.MustCompile(` AUTO_INCREMENT=\d+`)
