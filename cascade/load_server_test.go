//go:build !unit

package cascade

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/internal/testenv"
)

// TestLoadReadsMagentoForeignKeys: Load on the real Magento 1.9 schema
// (../shared/fixtures/magento/schema/m1-schema.sql) gives every foreign key
// with its columns in order and its actions, as one join of
// REFERENTIAL_CONSTRAINTS and KEY_COLUMN_USAGE (the query Load made before
// it read the two apart) lists them.
func TestLoadReadsMagentoForeignKeys(t *testing.T) {
	t.Parallel()
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "..", "shared", "fixtures", "magento", "schema", "m1-schema.sql")
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("the Magento fixtures: %v", err)
	}
	m := testenv.MariaDBT(t, testenv.Options{Schemas: []testenv.Schema{{DB: "magento1", File: file}}})
	db, err := m.Open("magento1")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	fks, err := Load(ctx, db, "magento1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, fk := range fks {
		got = append(got, fmt.Sprintf("%s.%s(%s)->%s(%s) %v/%v", fk.Child, fk.Name, strings.Join(fk.ChildCols, ","), fk.Parent, strings.Join(fk.ParentCols, ","), fk.OnDelete, fk.OnUpdate))
	}
	rows, err := db.QueryContext(ctx, `SELECT rc.TABLE_NAME, rc.CONSTRAINT_NAME, GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION),
		rc.REFERENCED_TABLE_NAME, GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION), rc.DELETE_RULE, rc.UPDATE_RULE
		FROM information_schema.REFERENTIAL_CONSTRAINTS rc JOIN information_schema.KEY_COLUMN_USAGE k
		ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME AND k.TABLE_NAME = rc.TABLE_NAME
		WHERE rc.CONSTRAINT_SCHEMA = 'magento1' GROUP BY rc.TABLE_NAME, rc.CONSTRAINT_NAME`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var want []string
	for rows.Next() {
		var child, name, cols, parent, refs, del, upd string
		if err := rows.Scan(&child, &name, &cols, &parent, &refs, &del, &upd); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%s.%s(%s)->%s(%s) %v/%v", child, name, cols, parent, refs, parseAction(del), parseAction(upd)))
	}
	sort.Strings(got)
	sort.Strings(want)
	if len(want) < 100 {
		t.Fatalf("the Magento 1 schema has %d foreign keys; want hundreds", len(want))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Load gave %d foreign keys, the join %d:\n%s\n---\n%s", len(got), len(want), strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
