package testenv

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
	// The demo's and the benchmark's servers stay on disk.
	parent := ""
	if !o.Disk {
		parent = memoryDir()
	}
	if parent != "" {
		// The redo log as mariadb-install-db made it, mostly holes: 256M
		// would take that much memory for each server.
		o.ExtraArgs = append([]string{"--innodb-log-file-size=96M", "--innodb-flush-log-at-trx-commit=1"}, o.ExtraArgs...)
	}
	m, err := startMariaDB(ctx, o, parent)
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

// memoryDir is where the tests' servers keep their data: /dev/shm (memory)
// when it is there with 4 GiB free, else "" (the temporary folder). The tests run in parallel, and on a shared disk their
// servers' DDL and fsyncs wait on each other (loading a 340-table schema took
// 11-40 s on disk under load, 0.5 s in memory). A test binary ended without
// its cleanups (a -timeout panic) leaves its servers' folders there: the
// first server started by a later test binary removes those of processes
// that are gone.
func memoryDir() string {
	shm.once.Do(func() {
		const dir = "/dev/shm"
		var fs syscall.Statfs_t
		if syscall.Access(dir, 2 /* W_OK */) != nil || syscall.Statfs(dir, &fs) != nil ||
			uint64(fs.Bavail)*uint64(fs.Bsize) < 4<<30 { // a container's 64 MB /dev/shm would not do
			return
		}
		shm.dir = dir
		removeOrphans(dir)
	})
	return shm.dir
}

var shm struct {
	once sync.Once
	dir  string
}

// removeOrphans removes the servers' folders under dir (named
// shiplog-mariadb-PID-*) whose process PID is gone.
func removeOrphans(dir string) {
	paths, _ := filepath.Glob(filepath.Join(dir, "shiplog-mariadb-*-*"))
	for _, p := range paths {
		pidText, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(p), "shiplog-mariadb-"), "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(p)
		}
	}
}
