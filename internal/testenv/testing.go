package testenv

import (
	"context"
	"os"
	"testing"
	"time"
)

// MariaDBT starts a server for a test and stops it when the test ends. A missing
// server fails the test: tests here never skip because a server is absent.
func MariaDBT(t testing.TB, o Options) *MariaDB {
	t.Helper()
	if err := Available(); err != nil {
		t.Fatalf("MariaDB is required for this test (CI=%q): %v", os.Getenv("CI"), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// A test's server writes pages without the doublewrite buffer: less I/O
	// for the tests running in parallel; a killed server (a process crash,
	// not a power cut) tears no page. The demo's and the benchmark's servers
	// keep it.
	o.ExtraArgs = append([]string{"--innodb-doublewrite=0"}, o.ExtraArgs...)
	m, err := StartMariaDB(ctx, o)
	if err != nil {
		t.Fatalf("start MariaDB: %v", err)
	}
	t.Cleanup(func() { _ = m.Stop() })
	return m
}

// SourceAndDest starts a source with a ROW/FULL binlog and a destination server,
// creating database srcDB on the source and dstDB on the destination.
func SourceAndDest(t testing.TB, srcDB, dstDB string) (src, dst *MariaDB) {
	t.Helper()
	src = MariaDBT(t, Options{Binlog: true, ServerID: 1})
	dst = MariaDBT(t, Options{ServerID: 2})
	ctx := context.Background()
	if err := src.Exec(ctx, "", "CREATE DATABASE IF NOT EXISTS `"+srcDB+"`"); err != nil {
		t.Fatal(err)
	}
	if err := dst.Exec(ctx, "", "CREATE DATABASE IF NOT EXISTS `"+dstDB+"`"); err != nil {
		t.Fatal(err)
	}
	return src, dst
}
