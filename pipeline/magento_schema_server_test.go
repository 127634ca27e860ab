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

// magentoServer starts a server with the real schemas of fixtures already
// loaded, m1-schema.sql as database m1 and m2-schema.sql as m2 (those of
// dbs), from a data folder they were loaded into once per process.
func magentoServer(t *testing.T, fixtures string, dbs ...string) *testenv.MariaDB {
	t.Helper()
	var o testenv.Options
	for _, db := range dbs {
		o.Schemas = append(o.Schemas, testenv.Schema{DB: db, File: filepath.Join(fixtures, "schema", db+"-schema.sql")})
	}
	return testenv.MariaDBT(t, o)
}

// loadMagentoSchema creates database name on m with the real schema file
// (m1-schema.sql or m2-schema.sql) of fixtures, unless m started with it
// (magentoServer), and opens it (closed when the test ends).
func loadMagentoSchema(t *testing.T, m *testenv.MariaDB, fixtures, name, file string) *sql.DB {
	t.Helper()
	ctx := context.Background()
	root, err := m.Open("")
	if err != nil {
		t.Fatal(err)
	}
	var there int
	err = root.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&there)
	if err == nil && there == 0 {
		_, err = root.ExecContext(ctx, "CREATE DATABASE "+name)
	}
	root.Close()
	if err != nil {
		t.Fatal(err)
	}
	db, err := m.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if there == 0 {
		db.SetMaxOpenConns(1)
		if err := testenv.ExecFile(ctx, db, filepath.Join(fixtures, "schema", file)); err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(0)
	}
	return db
}

func fileThere(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
