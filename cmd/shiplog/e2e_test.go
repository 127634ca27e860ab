//go:build !unit

package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shiplog/shiplog/internal/testenv"
)

// binary is the shiplog command built once for the end-to-end tests, which run
// it as a separate process so it can be killed at arbitrary moments.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shiplog-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "shiplog")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type env struct {
	t        *testing.T
	src, dst *testenv.MariaDB
	srcDB    *sql.DB
	dstDB    *sql.DB
	config   string
}

func newEnv(t *testing.T, extraOptions string) *env {
	t.Helper()
	src, dst := testenv.SourceAndDest(t, "shop", "shop_new")
	e := openEnv(t, src, dst)
	e.config = e.writeConfig(fmt.Sprintf(`source: {host: 127.0.0.1, port: %d, user: root, password: "", database: shop}
destination: {host: 127.0.0.1, port: %d, user: root, database: shop_new}
options: {%s}
`, src.Port, dst.Port, extraOptions))
	return e
}

// openEnv connects to the shop database of src and the shop_new database of
// dst, which must exist; it writes no config.
func openEnv(t *testing.T, src, dst *testenv.MariaDB) *env {
	t.Helper()
	e := &env{t: t, src: src, dst: dst}
	var err error
	if e.srcDB, err = src.Open("shop"); err != nil {
		t.Fatal(err)
	}
	if e.dstDB, err = dst.Open("shop_new"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.srcDB.Close(); e.dstDB.Close() })
	return e
}

func (e *env) writeConfig(text string) string {
	p := filepath.Join(e.t.TempDir(), "shiplog.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// appendConfig adds text (YAML sections) to the end of the env's config.
func (e *env) appendConfig(text string) {
	e.t.Helper()
	f, err := os.OpenFile(e.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		e.t.Fatal(err)
	}
}

// both runs DDL on the source and the destination.
func (e *env) both(stmts ...string) {
	e.t.Helper()
	ctx := context.Background()
	if err := e.src.Exec(ctx, "shop", stmts...); err != nil {
		e.t.Fatal(err)
	}
	if err := e.dst.Exec(ctx, "shop_new", stmts...); err != nil {
		e.t.Fatal(err)
	}
}

type result struct {
	code           int
	stdout, stderr string
}

func runShiplog(t *testing.T, config string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--config", config}, args...)...)
	cmd.Env = append(os.Environ(), append([]string{"XDG_CACHE_HOME=" + cacheHome(t)}, env...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := exitCode(t, cmd.Run())
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// cacheHomes holds the folder cacheHome gave each running test.
var cacheHomes sync.Map // *testing.T -> string

// cacheHome is the user's cache folder (XDG_CACHE_HOME) of the shiplog
// processes test t runs, private to t: a run's end waits there while its
// destination is down. Tests run in parallel, so it is given to each process
// rather than set with t.Setenv.
func cacheHome(t *testing.T) string {
	if dir, ok := cacheHomes.Load(t); ok {
		return dir.(string)
	}
	dir, loaded := cacheHomes.LoadOrStore(t, t.TempDir())
	if !loaded {
		t.Cleanup(func() { cacheHomes.Delete(t) })
	}
	return dir.(string)
}

// exitCode is the exit code of a command that ended with err; the test
// fails if the command could not run.
func exitCode(t *testing.T, err error) int {
	t.Helper()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0
}

func (e *env) mustRun(args ...string) result {
	e.t.Helper()
	r := runShiplog(e.t, e.config, nil, args...)
	if r.code != 0 {
		e.t.Fatalf("shiplog %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
	}
	return r
}

func (e *env) assertIdentical() {
	e.t.Helper()
	diffs, err := testenv.CompareDatabases(context.Background(), e.srcDB, "shop", e.dstDB, "shop_new")
	if err != nil {
		e.t.Fatal(err)
	}
	if len(diffs) > 0 {
		e.t.Fatalf("source and destination differ:\n%s", strings.Join(diffs, "\n"))
	}
}

// TestTypeMatrixThroughSnapshotAndStream copies every column type, changes
// every type on the source, streams the changes, compares bytes, and
// verifies. Chunks of 7 rows make the tables keyed by UUID and INET6/INET4
// copy and verify page by page through their keys.
func TestTypeMatrixThroughSnapshotAndStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "bulk_size: 7")
	// types_load has the columns LOAD DATA writes (no BIT, JSON, geometry,
	// UUID/INET or generated columns): its snapshot goes through LOAD DATA
	// LOCAL INFILE, the other's through INSERT.
	e.both(append([]string{testenv.TypeMatrixDDL, "CREATE TABLE types_load LIKE types",
		"ALTER TABLE types_load DROP b1, DROP b64, DROP j, DROP g, DROP pt, DROP uu, DROP i4, DROP i6, DROP gen, DROP gens"},
		testenv.TypeMatrixKeyDDL...)...)
	ctx := context.Background()
	if err := e.src.Exec(ctx, "shop", append(testenv.TypeMatrixRows, testenv.TypeMatrixKeyRows...)...); err != nil {
		t.Fatal(err)
	}
	loadCols := "id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, dec1, dec2, f, d, c, vc, t, lt, latin, bin, vb, bl, e, s, dt, tm, dtm, ts, yr"
	if err := e.src.Exec(ctx, "shop", "SET SESSION sql_mode = '', time_zone = '+00:00'",
		"INSERT INTO types_load ("+loadCols+") SELECT "+loadCols+" FROM types",
		`INSERT INTO types_load (id, vc, vb, c) VALUES (5, '\\N', X'5C4E', '\\'), (6, 'tab\tnl\ncr\rbs\\', X'09000A5C0D', '')`); err != nil {
		t.Fatal(err)
	}
	var loads0, loads1 int64
	var name string
	if err := e.dstDB.QueryRow("SHOW GLOBAL STATUS LIKE 'Com_load'").Scan(&name, &loads0); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "data")
	e.assertIdentical()
	if err := e.dstDB.QueryRow("SHOW GLOBAL STATUS LIKE 'Com_load'").Scan(&name, &loads1); err != nil || loads1-loads0 != 1 {
		t.Fatalf("LOAD DATA statements during the copy: %d (%v), want 1 (types_load)", loads1-loads0, err)
	}
	var copied int
	if err := e.dstDB.QueryRow("SELECT COUNT(DISTINCT u) FROM types_uuid").Scan(&copied); err != nil || copied != 302 {
		t.Fatalf("types_uuid copied as %d distinct keys (%v), want 302", copied, err)
	}
	if err := e.src.Exec(ctx, "shop", append(testenv.TypeMatrixChanges, testenv.TypeMatrixKeyChanges...)...); err != nil {
		t.Fatal(err)
	}
	// types_load changes in one transaction of 1,200 rows (more than
	// minLoadRows in each of the 4 apply partitions):
	// new rows and updates of every row go through LOAD DATA ... REPLACE.
	if err := e.src.Exec(ctx, "shop", "SET SESSION sql_mode = '', time_zone = '+00:00'", "BEGIN",
		"INSERT INTO types_load ("+loadCols+") SELECT id + 1000 * seq, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, dec1, dec2, f, d, c, vc, t, lt, latin, bin, vb, bl, e, s, dt, tm, dtm, ts, yr FROM types_load JOIN seq_1_to_100",
		"UPDATE types_load SET vc = CONCAT(IFNULL(vc, ''), '\t😀'), yr = IF(id % 2 = 0, 0, yr), vb = CONCAT(IFNULL(vb, ''), X'5C0A')",
		"COMMIT"); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	e.assertIdentical()
	var loads2 int64
	if err := e.dstDB.QueryRow("SHOW GLOBAL STATUS LIKE 'Com_load'").Scan(&name, &loads2); err != nil || loads2 == loads1 {
		t.Fatalf("LOAD DATA statements during the stream: %d (%v), want some (types_load)", loads2-loads1, err)
	}
	var n int
	if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM types WHERE id IN (20, 101, 104)").Scan(&n); err != nil || n != 3 {
		t.Fatalf("streamed rows missing: %d %v", n, err)
	}

	// verify pages through the same keys and reads them as the stream wrote
	// them: no differences; then one changed UUID/INET value, one missing
	// and one extra key on the destination are each found, named by text.
	if r := runShiplog(t, e.config, nil, "verify", "--chunk-rows", "7", "--recheck", "-1s"); r.code != 0 || !strings.Contains(r.stdout, "no differences") {
		t.Fatalf("verify after the stream: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := e.dstDB.Exec(`UPDATE types_uuid SET i6 = '::2' WHERE n = 150`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dstDB.Exec(`DELETE FROM types_inet WHERE a = '::ffff:10.0.4.0' AND b = '10.2.0.0'`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dstDB.Exec(`INSERT INTO types_uuid VALUES ('d0d0d0d0-0000-1000-8000-000000000000', NULL, NULL, 9999)`); err != nil {
		t.Fatal(err)
	}
	r := runShiplog(t, e.config, nil, "verify", "--chunk-rows", "7", "--recheck", "-1s", "--tables", "types_uuid,types_inet")
	for _, want := range []string{"different u=0000200a-0003-1096-c000-000000000000 (i6)", "missing   a=::ffff:10.0.4.0,b=10.2.0.0", "extra     u=d0d0d0d0-0000-1000-8000-000000000000"} {
		if r.code != 1 || !strings.Contains(r.stdout, want) {
			t.Fatalf("verify of a changed UUID/INET row: exit %d, want 1 and %q in\n%s%s", r.code, want, r.stdout, r.stderr)
		}
	}
}

const shopDDL = `CREATE TABLE orders (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, customer VARCHAR(64) NOT NULL,
  amount DECIMAL(12,2) NOT NULL, note TEXT, status ENUM('new','paid','shipped') NOT NULL DEFAULT 'new', updated DATETIME(6) NOT NULL)`

const itemsDDL = `CREATE TABLE items (order_id BIGINT UNSIGNED NOT NULL, line INT NOT NULL, sku VARCHAR(32) CHARACTER SET latin1 NOT NULL,
  qty INT NOT NULL, price DOUBLE, PRIMARY KEY (order_id, line))`

const eventsDDL = `CREATE TABLE events (kind VARCHAR(16), payload VARCHAR(64), at DATETIME)`

func (e *env) seedShop(orders int) {
	e.t.Helper()
	e.both(shopDDL, itemsDDL, eventsDDL, testenv.TypeMatrixDDL)
	ctx := context.Background()
	if err := e.src.Exec(ctx, "shop", testenv.TypeMatrixRows...); err != nil {
		e.t.Fatal(err)
	}
	if err := e.src.Exec(ctx, "shop",
		fmt.Sprintf(`INSERT INTO orders (customer, amount, note, status, updated)
		  SELECT CONCAT('cust-', seq, ' ✓'), seq * 1.25, IF(seq %% 7 = 0, NULL, REPEAT('n', seq %% 50)), ELT(1 + seq %% 3, 'new', 'paid', 'shipped'), NOW(6) FROM seq_1_to_%d`, orders),
		`INSERT INTO items SELECT o.id, l.seq, CONCAT('SKU-é', o.id, '-', l.seq), l.seq, o.id / 3 FROM orders o JOIN seq_1_to_2 l`,
		fmt.Sprintf(`INSERT INTO events SELECT 'seed', CONCAT('p', seq %% 40), '2024-01-01 00:00:00' FROM seq_1_to_%d`, orders/4),
	); err != nil {
		e.t.Fatal(err)
	}
}

// writer changes the shop tables in the background until the returned stop
// is called (see writeLoop).
func (e *env) writer(seed uint64) (stop func() error) {
	return e.writerPaced(seed, writePace)
}

// writerPaced is writer with its writes at most one every pace (0: as fast
// as they go, for a test that waits for a volume of writes, which pacing
// would only spread over more time).
func (e *env) writerPaced(seed uint64, pace time.Duration) (stop func() error) {
	rng := rand.New(rand.NewPCG(seed, 7))
	db := e.srcDB
	return writeLoopPaced(e.t, pace, func(i int) error {
		var err error
		id := 1 + rng.IntN(2000)
		switch rng.IntN(10) {
		case 8:
			// every column type changes on the stream too
			_, err = db.Exec(`UPDATE types SET f = -f, d = -d / 3, biu = biu ^ 1, b64 = b64 ^ 5, latin = 'Ølse',
					vc = LEFT(CONCAT('é😀', IFNULL(vc, '')), 100), bin = UNHEX(HEX(?)), e = ELT(1 + ? % 3, 'a', 'b', 'ç'),
					tm = IF(tm < '00:00:00', '12:00:00.5', SUBTIME(tm, '00:00:01.25')), j = JSON_SET(IFNULL(j, '{}'), '$.n', ?),
					dtm = IF(dtm = '0000-00-00 00:00:00', NOW(6), '0000-00-00 00:00:00') WHERE id = ?`, i%256, i, i, 1+rng.IntN(4))
		case 9:
			_, err = db.Exec(`INSERT IGNORE INTO types (id, ti, tiu, biu, dec1, f, d, b64, c, vc, latin, bin, vb, bl, e, s, j, dt, tm, dtm, ts, yr, g, pt)
					SELECT ?, ti, tiu, biu, dec1, f, d, b64, c, vc, latin, bin, vb, bl, e, s, j, dt, tm, dtm, ts, yr, g, pt FROM types WHERE id = ?`,
				100+rng.IntN(400), 1+rng.IntN(4))
		case 0:
			_, err = db.Exec("INSERT INTO orders (customer, amount, note, updated) VALUES (?, ?, ?, NOW(6))", fmt.Sprintf("new-%d 😀", i), rng.IntN(10000), "fresh")
		case 1:
			_, err = db.Exec("UPDATE orders SET amount = amount + 1, status = 'paid', updated = NOW(6) WHERE id = ?", id)
		case 2:
			_, err = db.Exec("DELETE FROM orders WHERE id = ?", id)
		case 3:
			_, err = db.Exec("INSERT INTO items VALUES (?, ?, ?, 1, 2.5) ON DUPLICATE KEY UPDATE qty = qty + 1", id, 3+rng.IntN(5), "SKU-ñ")
		case 4:
			// a key change
			_, err = db.Exec("UPDATE IGNORE items SET line = line + 100 WHERE order_id = ? AND line < 100", id)
		case 5:
			_, err = db.Exec("DELETE FROM items WHERE order_id = ?", id)
		case 6:
			_, err = db.Exec("INSERT INTO events VALUES ('w', ?, NOW())", fmt.Sprintf("p%d", rng.IntN(40)))
		case 7:
			// a multi-statement transaction over tables
			err = execTx(db, func(tx *sql.Tx) error {
				if _, err := tx.Exec("UPDATE orders SET note = CONCAT(IFNULL(note, ''), 'x') WHERE id BETWEEN ? AND ?", id, id+20); err != nil {
					return err
				}
				_, err := tx.Exec("DELETE FROM events WHERE payload = ? LIMIT 1", fmt.Sprintf("p%d", rng.IntN(40)))
				return err
			})
		}
		return err
	})
}

// writePace is the least time between the starts of two writes of a
// writeLoop: up to 500 writes a second. Unpaced, a loop made 4,000-6,500 a
// second, and the servers and shiplog processes of the test burned CPU on
// them that the parallel tests needed.
const writePace = 2 * time.Millisecond

// writeLoop calls write(0), write(1), ... in the background, at most one
// every writePace, until the returned stop is called, or the test ends, or
// write fails. stop waits for the loop to end and returns write's error, or
// an error if no write was made; it may be called more than once.
func writeLoop(t *testing.T, write func(i int) error) (stop func() error) {
	return writeLoopPaced(t, writePace, write)
}

// writeLoopPaced is writeLoop with at most one write every pace (0: no pace).
func writeLoopPaced(t *testing.T, pace time.Duration, write func(i int) error) (stop func() error) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var firstErr error
	var writes int
	start := time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		var tick <-chan time.Time
		if pace > 0 {
			ticker := time.NewTicker(pace)
			defer ticker.Stop()
			tick = ticker.C
		}
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			if tick != nil {
				select {
				case <-done:
					return
				case <-tick:
				}
			}
			if err := write(i); err != nil {
				firstErr = err
				return
			}
			writes = i + 1
		}
	}()
	var once sync.Once
	stop = func() error {
		once.Do(func() {
			close(done)
			wg.Wait()
			took := time.Since(start)
			t.Logf("the writer made %d writes in %v (%.0f a second)", writes, took.Round(time.Millisecond), float64(writes)/took.Seconds())
			if firstErr == nil && writes == 0 {
				// A test "under writes" must not pass without them.
				firstErr = fmt.Errorf("the writer made no write in %v", took.Round(time.Millisecond))
			}
		})
		return firstErr
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// execTx runs fn in a transaction, committed if fn succeeds and rolled back
// if not.
func execTx(db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// startKillable starts shiplog and returns its process.
func startKillable(t *testing.T, config string, args ...string) (*exec.Cmd, *testenv.Buffer) {
	t.Helper()
	return startKillableEnv(t, config, nil, args...)
}

// startKillableEnv is startKillable with extra environment variables.
func startKillableEnv(t *testing.T, config string, env []string, args ...string) (*exec.Cmd, *testenv.Buffer) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--config", config}, args...)...)
	cmd.Env = append(os.Environ(), append([]string{"XDG_CACHE_HOME=" + cacheHome(t)}, env...)...)
	errb := &testenv.Buffer{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, errb
}

// daemon is a shiplog process a test runs in the background.
type daemon struct {
	cmd    *exec.Cmd
	stderr *testenv.Buffer
	// exited is closed when the process has exited, with err its Wait error.
	exited chan struct{}
	err    error
}

// startDaemon starts shiplog in the background; the test's end kills it if
// it still runs.
func startDaemon(t *testing.T, config string, args ...string) *daemon {
	t.Helper()
	return startDaemonEnv(t, config, nil, args...)
}

// startDaemonEnv is startDaemon with extra environment variables.
func startDaemonEnv(t *testing.T, config string, env []string, args ...string) *daemon {
	t.Helper()
	cmd, stderr := startKillableEnv(t, config, env, args...)
	d := &daemon{cmd: cmd, stderr: stderr, exited: make(chan struct{})}
	go func() { d.err = cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			_ = cmd.Process.Kill()
			<-d.exited
		}
	})
	return d
}

// stop sends the daemon SIGTERM and fails the test unless it exits cleanly
// within 20s.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		if d.err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", d.err, d.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("shiplog did not stop within 20s of SIGTERM\n%s", d.stderr)
	}
}

// waitHealthz waits until the daemon's HTTP server at base answers /healthz
// with 200; the test fails if the daemon exits first.
func (d *daemon) waitHealthz(t *testing.T, base string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	waitFor(t, "healthz ok", 30*time.Second, func() bool {
		select {
		case <-d.exited:
			t.Fatalf("shiplog exited: %v\n%s", d.err, d.stderr)
		default:
		}
		resp, err := client.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// startStream starts `migrate delta` and returns once it has moved the
// checkpoint.
func (e *env) startStream() (*exec.Cmd, *testenv.Buffer) {
	e.t.Helper()
	checkpoint := func() string {
		var pos string
		_ = e.dstDB.QueryRow("SELECT position FROM _shiplog_checkpoint").Scan(&pos)
		return pos
	}
	before := checkpoint()
	cmd, stderr := startKillable(e.t, e.config, "migrate", "delta")
	checkpointed := false
	defer func() {
		if !checkpointed { // waitFor failed the test
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			e.t.Logf("migrate delta stderr:\n%s", tail(stderr.String()))
		}
	}()
	waitFor(e.t, "the stream to checkpoint", 60*time.Second, func() bool { return checkpoint() != before })
	checkpointed = true
	return cmd, stderr
}

// prepareSysbench creates sysbench's tables (3 of 3,000 rows) on the source,
// and the same tables, empty, on the destination.
func (e *env) prepareSysbench() {
	e.t.Helper()
	if _, err := exec.LookPath("sysbench"); err != nil {
		e.t.Fatalf("sysbench is required for this test (Debian package sysbench): %v", err)
	}
	if out, err := e.sysbench("root", "prepare").CombinedOutput(); err != nil {
		e.t.Fatalf("sysbench prepare: %v\n%s", err, out)
	}
	for i := 1; i <= 3; i++ {
		var name, ddl string
		if err := e.srcDB.QueryRow(fmt.Sprintf("SHOW CREATE TABLE sbtest%d", i)).Scan(&name, &ddl); err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.dstDB.Exec(ddl); err != nil {
			e.t.Fatal(err)
		}
	}
}

// sysbench returns an oltp_write_only sysbench command on the source's
// tables, connecting as user: root (no password) or app (password app).
func (e *env) sysbench(user, command string, extra ...string) *exec.Cmd {
	password := map[string]string{"root": "", "app": "app"}[user]
	args := append([]string{"oltp_write_only", "--db-driver=mysql", "--mysql-host=127.0.0.1",
		"--mysql-port=" + strconv.Itoa(e.src.Port), "--mysql-user=" + user, "--mysql-password=" + password,
		"--mysql-db=shop", "--tables=3", "--table-size=3000"}, extra...)
	return exec.Command("sysbench", append(args, command)...)
}

// sysbenchTransactions fails the test unless the output of a finished
// sysbench run reports at least min transactions, so a paced load (--rate)
// cannot leave a test passing without the writes it is about. min is about
// a tenth of what the rate asks for: on 2 cores shared by 8 parallel tests
// sysbench has made as few as 20 transactions a second (a trigger install's
// table locks held it back), and the point is that a load ran, not its speed.
func sysbenchTransactions(t *testing.T, out string, min int) int {
	t.Helper()
	m := regexp.MustCompile(`transactions:\s+(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("sysbench reported no transaction count:\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	if n < min {
		t.Fatalf("sysbench made %d transactions, want at least %d:\n%s", n, min, out)
	}
	return n
}

// kafkaConfigs creates the publisher's state database, pubstate, on the
// destination server and returns two configs with the kafka section given:
// one that publishes the source to Kafka, one that applies Kafka to the
// destination.
func (e *env) kafkaConfigs(kafka string) (publisher, applier string) {
	e.t.Helper()
	if err := e.dst.Exec(context.Background(), "", "CREATE DATABASE pubstate"); err != nil {
		e.t.Fatal(err)
	}
	publisher = e.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: pubstate}\nsink: kafka\n%s", e.src.Port, e.dst.Port, kafka))
	applier = e.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: shop_new}\n%s", e.src.Port, e.dst.Port, kafka))
	return publisher, applier
}

// waitFor polls cond until it is true or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKilledAndRestartedUnderWritesConverges kills shiplog with SIGKILL in the
// middle of the copy and of the stream, repeatedly, while the source is
// written, and checks the destination ends identical.
func TestKilledAndRestartedUnderWritesConverges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "bulk_size: 20, workers: 2, full_row_tables: [events]")
	e.seedShop(6000)
	stopWriter := e.writer(uint64(time.Now().UnixNano()))

	// Kill the copy once a keyed table has committed chunks, three times (the
	// keyless events table restarts its copy instead of resuming).
	for i := 0; i < 3; i++ {
		cmd, _ := startKillable(t, e.config, "migrate", "data")
		copied := func() bool {
			var n int
			_ = e.dstDB.QueryRow("SELECT COUNT(*) FROM _shiplog_tables WHERE state = 'copying' AND table_name <> 'events' AND rows_copied > ?", 20*(i+1)).Scan(&n)
			return n > 0
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		deadline := time.Now().Add(60 * time.Second)
		exited := false
		for !copied() {
			select {
			case <-done:
				exited = true
			default:
			}
			if exited || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if exited {
			break // finished before we could kill it
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
	e.mustRun("migrate", "data")
	var segments int
	if err := e.dstDB.QueryRow("SELECT MAX(segments) FROM _shiplog_tables").Scan(&segments); err != nil {
		t.Fatal(err)
	}
	t.Logf("copy resumed over up to %d snapshots", segments)
	if segments < 2 {
		t.Fatalf("the copy was never interrupted mid-table (segments=%d); the test did not test resuming", segments)
	}

	// Kill the stream after it has applied something, three times.
	for i := 0; i < 3; i++ {
		cmd, stderr := e.startStream()
		time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond) // land the kill anywhere in the stream
		_ = cmd.Process.Signal(syscall.SIGKILL)
		if err := cmd.Wait(); err == nil {
			t.Fatalf("delta exited by itself: %s", stderr)
		}
	}
	if err := stopWriter(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	e.assertIdentical()
}

// TestRunDaemonStopsCleanlyOnSIGTERM checks `run` copies, then streams, and
// stops with exit 0 on SIGTERM.
func TestRunDaemonStopsCleanlyOnSIGTERM(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "full_row_tables: [events]")
	e.seedShop(100)
	d := startDaemon(t, e.config, "run")
	waitFor(t, "delta mode", 30*time.Second, func() bool {
		var mode string
		_ = e.dstDB.QueryRow("SELECT value FROM _shiplog_state WHERE name = 'mode'").Scan(&mode)
		return mode == "delta"
	})
	if _, err := e.srcDB.Exec("UPDATE orders SET amount = 1 WHERE id < 50"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the update to arrive", 30*time.Second, func() bool {
		var n int
		_ = e.dstDB.QueryRow("SELECT COUNT(*) FROM orders WHERE amount = 1").Scan(&n)
		return n == 49
	})
	d.stop(t)
	e.assertIdentical()
}

// TestStatusReportsProgressAndLag checks the JSON of `status`.
func TestStatusReportsProgressAndLag(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "full_row_tables: [events]")
	e.seedShop(50)
	e.mustRun("migrate", "data")
	if _, err := e.srcDB.Exec("UPDATE orders SET amount = 2"); err != nil {
		t.Fatal(err)
	}
	var s struct {
		Mode     string `json:"mode"`
		DataDone bool   `json:"data_done"`
		Tables   []struct {
			Table string `json:"table"`
			State string `json:"state"`
			Rows  int64  `json:"rows_copied"`
		} `json:"tables"`
		Checkpoint string `json:"checkpoint_position"`
		Head       string `json:"source_head_position"`
		LagBytes   *int64 `json:"lag_bytes"`
	}
	r := e.mustRun("status")
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("status is not JSON: %v\n%s", err, r.stdout)
	}
	if s.Mode != "data" || !s.DataDone || len(s.Tables) != 4 || s.Checkpoint == "" || s.Head == "" || s.LagBytes == nil || *s.LagBytes <= 0 {
		t.Fatalf("status after data with pending changes: %+v", s)
	}
	for _, tb := range s.Tables {
		if tb.State != "done" {
			t.Fatalf("table %s state %s", tb.Table, tb.State)
		}
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	r = e.mustRun("status")
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatal(err)
	}
	if s.Mode != "delta" || s.LagBytes == nil || *s.LagBytes != 0 {
		t.Fatalf("status after catching up: %s", r.stdout)
	}
}

// TestMagentoConfigXMLAndLogFile runs data and delta from a Magento config.xml
// whose stock init statement would drop 4-byte characters, with --log-file.
func TestMagentoConfigXMLAndLogFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.both(shopDDL)
	if _, err := e.srcDB.Exec("INSERT INTO orders (customer, amount, updated) VALUES ('emoji 😀🚀', 1.5, NOW(6))"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	xml := filepath.Join(dir, "config.xml")
	if err := os.WriteFile(xml, []byte(fmt.Sprintf(`<?xml version="1.0"?>
<config>
  <steps mode="data"><step title="Map Step"><integrity>Migration\Step\Map\Integrity</integrity><data>Migration\Step\Map\Data</data></step></steps>
  <source><database host="127.0.0.1" port="%d" name="shop" user="root"/></source>
  <destination><database host="127.0.0.1" port="%d" name="shop_new" user="root"/></destination>
  <options>
    <bulk_size>100</bulk_size>
    <init_statements_source>SET NAMES utf8; SET SESSION wait_timeout = 3600</init_statements_source>
    <init_statements_destination>SET NAMES utf8;</init_statements_destination>
  </options>
</config>`, e.src.Port, e.dst.Port)), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "shiplog.log")
	if r := runShiplog(t, xml, nil, "--log-file", logFile, "-q", "migrate", "data"); r.code != 0 {
		t.Fatalf("migrate data from config.xml: %d\n%s", r.code, r.stderr)
	} else if strings.Contains(r.stderr, "level=INFO") {
		t.Fatalf("-q printed info lines:\n%s", r.stderr)
	}
	if _, err := e.srcDB.Exec("UPDATE orders SET customer = CONCAT(customer, ' 🎉')"); err != nil {
		t.Fatal(err)
	}
	if r := runShiplog(t, xml, nil, "--log-file", logFile, "migrate", "delta", "--exit-when-caught-up"); r.code != 0 {
		t.Fatalf("migrate delta from config.xml: %d\n%s", r.code, r.stderr)
	}
	e.assertIdentical()
	var customer string
	if err := e.dstDB.QueryRow("SELECT customer FROM orders").Scan(&customer); err != nil || customer != "emoji 😀🚀 🎉" {
		t.Fatalf("4-byte characters: %q %v", customer, err)
	}
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mode=data", "stage=data", "table=orders", "mode=delta", "init statement ignored"} {
		if !strings.Contains(string(log), want) {
			t.Fatalf("log file lacks %q:\n%s", want, log)
		}
	}
}

// TestStreamSurvivesLostReplicationConnection kills the binlog connection on
// the source while delta runs; the reader reconnects and nothing is lost.
func TestStreamSurvivesLostReplicationConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "full_row_tables: [events]")
	e.seedShop(200)
	e.mustRun("migrate", "data")
	cmd, stderr := startKillable(t, e.config, "migrate", "delta")
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	dumpThreads := func() []int64 {
		rows, err := e.srcDB.Query("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		return ids
	}
	for round := 1; round <= 3; round++ {
		waitFor(t, "a binlog dump connection", 30*time.Second, func() bool { return len(dumpThreads()) > 0 })
		for _, id := range dumpThreads() {
			if _, err := e.srcDB.Exec(fmt.Sprintf("KILL %d", id)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.srcDB.Exec("UPDATE orders SET amount = ? WHERE id <= 100", round*1000); err != nil {
			t.Fatal(err)
		}
		if _, err := e.srcDB.Exec("DELETE FROM items WHERE order_id = ?", round); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the changes after the reconnect", 60*time.Second, func() bool {
			var n int
			_ = e.dstDB.QueryRow("SELECT COUNT(*) FROM orders WHERE amount = ?", round*1000).Scan(&n)
			return n == 100
		})
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("delta: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr.String(), "reconnect") {
		t.Fatalf("no reconnect was logged:\n%s", stderr)
	}
	e.assertIdentical()
}

// TestDDLOnCopiedTableStopsTheStream checks an ALTER TABLE on a copied table
// stops delta with exit 1 naming the statement, with everything before it
// applied and the checkpoint just before it.
func TestDDLOnCopiedTableStopsTheStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "full_row_tables: [events]")
	e.seedShop(50)
	e.mustRun("migrate", "data")
	if _, err := e.srcDB.Exec("UPDATE orders SET amount = 7"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srcDB.Exec("ALTER TABLE orders ADD COLUMN extra INT"); err != nil {
		t.Fatal(err)
	}
	r := runShiplog(t, e.config, nil, "migrate", "delta", "--exit-when-caught-up")
	expectFailure(t, r, 1, "ALTER TABLE orders ADD COLUMN extra INT")
	var n int
	if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM orders WHERE amount = 7").Scan(&n); err != nil || n != 50 {
		t.Fatalf("changes before the DDL were not applied: %d %v", n, err)
	}
	// A restart stops at the same statement again: nothing is skipped.
	expectFailure(t, runShiplog(t, e.config, nil, "migrate", "delta", "--exit-when-caught-up"), 1, "ALTER TABLE orders")
}

// TestSecondaryUniqueIndexKeepsSourceOrder applies, in one batch, changes
// whose order matters only through a unique index other than the key.
func TestSecondaryUniqueIndexKeepsSourceOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.both("CREATE TABLE u (id INT PRIMARY KEY, email VARCHAR(32) NOT NULL UNIQUE, name VARCHAR(32))")
	if _, err := e.srcDB.Exec("INSERT INTO u VALUES (1, 'x', 'a')"); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "data")
	tx, err := e.srcDB.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"UPDATE u SET email = 'y' WHERE id = 1",
		"INSERT INTO u VALUES (2, 'x', 'b')",
		"UPDATE u SET name = 'n' WHERE id = 1",
		"UPDATE u SET email = 'z' WHERE id = 2",
		"UPDATE u SET email = 'x' WHERE id = 1",
	} {
		if _, err := tx.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	e.assertIdentical()
}

// TestStatementLoggedChangeStopsTheStream checks a change the binlog carries
// as a statement (a session with binlog_format=STATEMENT) is an error, not a
// silent loss.
func TestStatementLoggedChangeStopsTheStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.both("CREATE TABLE s (id INT PRIMARY KEY, v INT)")
	e.mustRun("migrate", "data")
	conn, err := e.srcDB.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{"SET SESSION binlog_format = 'STATEMENT'", "INSERT INTO s VALUES (1, 1)"} {
		if _, err := conn.ExecContext(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	expectFailure(t, runShiplog(t, e.config, nil, "migrate", "delta", "--exit-when-caught-up"), 1, "statement-logged INSERT", "copied table s")
}
