//go:build !unit

package pipeline

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/shiplog/shiplog/internal/testenv"
)

// magentoFixtures is ../shared/fixtures/magento (the reference tool's
// files, the real schemas); a test fails without it.
func magentoFixtures(t *testing.T) string {
	t.Helper()
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(root, "..", "shared", "fixtures", "magento"), "/work/shared/fixtures/magento"} {
		if fileThere(filepath.Join(d, "schema", "m2-schema.sql")) {
			return d
		}
	}
	t.Fatal("the Magento fixtures (../shared/fixtures/magento) are missing")
	return ""
}

// loadMagentoSchema creates database name on m with the real schema file
// (m1-schema.sql or m2-schema.sql) of fixtures, and opens it (closed when
// the test ends).
func loadMagentoSchema(t *testing.T, m *testenv.MariaDB, fixtures, name, file string) *sql.DB {
	t.Helper()
	ctx := context.Background()
	if err := m.Exec(ctx, "", "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	db, err := m.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	if err := testenv.ExecFile(ctx, db, filepath.Join(fixtures, "schema", file)); err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(0)
	return db
}

func fileThere(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
