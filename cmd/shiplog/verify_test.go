//go:build !unit

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shiplog/shiplog/verify"
)

// TestVerifyFindsPlantedDifferencesWhileDeltaStreams copies two tables
// through a map (a renamed table, an AddPrefix handler, an ignored field),
// then runs verify while a writer keeps changing the source and delta
// streams: clean data verifies clean (exit 0) although rows keep changing,
// and four differences planted in the destination (a deleted row, an extra
// row, a changed plain column, a changed handler-made column) are reported,
// exactly those keys with their kinds (exit 1).
func TestVerifyFindsPlantedDifferencesWhileDeltaStreams(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	if err := e.src.Exec(ctx, "shop",
		`CREATE TABLE orders (id INT UNSIGNED NOT NULL PRIMARY KEY, customer VARCHAR(64) NOT NULL, code VARCHAR(32),
		  amount DECIMAL(10,2) NOT NULL, price DOUBLE, weight FLOAT, created DATETIME(6) NOT NULL, secret VARCHAR(32))`,
		`CREATE TABLE items (order_id INT UNSIGNED NOT NULL, line INT NOT NULL, sku VARCHAR(32) CHARACTER SET latin1 NOT NULL,
		  qty INT NOT NULL, PRIMARY KEY (order_id, line))`,
		`INSERT INTO orders SELECT seq, CONCAT('cust-', seq, ' ✓'), IF(seq % 9 = 0, NULL, CONCAT('c', seq)), seq * 1.25, seq / 7,
		  seq / 3, '2024-01-01 00:00:00' + INTERVAL seq SECOND + INTERVAL seq MICROSECOND, 'hush' FROM seq_1_to_3000`,
		`INSERT INTO items SELECT o.seq, l.seq, CONCAT('SKU-é', o.seq), l.seq FROM seq_1_to_1000 o JOIN seq_1_to_2 l`,
	); err != nil {
		t.Fatal(err)
	}
	if err := e.dst.Exec(ctx, "shop_new",
		`CREATE TABLE sales_order (id INT UNSIGNED NOT NULL PRIMARY KEY, customer VARCHAR(64) NOT NULL, code VARCHAR(40),
		  amount DECIMAL(10,2) NOT NULL, price DOUBLE, weight FLOAT, created DATETIME(6) NOT NULL)`,
		`CREATE TABLE items (order_id INT UNSIGNED NOT NULL, line INT NOT NULL, sku VARCHAR(32) CHARACTER SET latin1 NOT NULL,
		  qty INT NOT NULL, PRIMARY KEY (order_id, line))`,
	); err != nil {
		t.Fatal(err)
	}
	mapFile := filepath.Join(t.TempDir(), "map.yaml")
	if err := os.WriteFile(mapFile, []byte(`source:
  documents:
    rename: [{from: orders, to: sales_order}]
  fields:
    ignore: [orders.secret]
    transform:
      - {field: orders.code, handler: AddPrefix, params: {prefix: "SO-"}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	e.config = e.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: shop_new}\nmap: %s\n", e.src.Port, e.dst.Port, mapFile))
	e.mustRun("migrate", "data")

	// Delta streams in the background while a writer changes every table,
	// never the rows the differences are planted in (10, 20, 30, 50000).
	d := startDaemon(t, e.config, "migrate", "delta")
	delta := d.cmd
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	var writes int
	stopWriter := writeLoop(t, func(i int) error {
		id := 100 + rng.IntN(2900)
		var err error
		switch rng.IntN(6) {
		case 0:
			_, err = e.srcDB.Exec(`INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, NOW(6), 'new')`, 3001+i, fmt.Sprint("new-", i), fmt.Sprint("n", i), rng.IntN(10000), rng.Float64(), rng.Float64()*10)
		case 1, 2:
			_, err = e.srcDB.Exec(`UPDATE orders SET customer = CONCAT('upd-', ?), code = IF(? % 4 = 0, NULL, CONCAT('u', ?)), amount = amount + 0.01,
					weight = ?, created = NOW(6), secret = 'changed' WHERE id = ?`, i, i, i, rng.Float64()*100, id)
		case 3:
			_, err = e.srcDB.Exec("DELETE FROM orders WHERE id = ?", id)
		case 4:
			_, err = e.srcDB.Exec("INSERT INTO items VALUES (?, ?, 'SKU-ñ', 1) ON DUPLICATE KEY UPDATE qty = qty + 1", id, 1+rng.IntN(4))
		case 5:
			_, err = e.srcDB.Exec("DELETE FROM items WHERE order_id = ?", id)
		}
		if err != nil {
			return err
		}
		writes = i + 1
		// About 90 changes a second: rows keep changing under every
		// verify (the writer's pace, not a wait for a result).
		time.Sleep(10 * time.Millisecond)
		return nil
	})
	waitFor(t, "delta to apply the writer's changes", 60*time.Second, func() bool {
		var n int
		_ = e.dstDB.QueryRow("SELECT COUNT(*) FROM sales_order WHERE id > 3000").Scan(&n)
		return n > 10
	})

	verifyJSON := func(args ...string) (verify.Report, result) {
		t.Helper()
		r := runShiplog(t, e.config, nil, append([]string{"verify", "--format", "json", "--chunk-rows", "250"}, args...)...)
		var rep verify.Report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("verify %v: exit %d, not a JSON report: %v\n%s\n%s", args, r.code, err, r.stdout, r.stderr)
		}
		return rep, r
	}
	found := func(rep verify.Report) []string {
		var out []string
		for _, tr := range rep.Tables {
			for _, d := range tr.Differences {
				s := fmt.Sprintf("%s %s %s", tr.Destination, d.Kind, d.KeyString(tr.KeyColumns))
				if len(d.Columns) > 0 {
					s += " " + strings.Join(d.Columns, ",")
				}
				out = append(out, s)
			}
		}
		sort.Strings(out)
		return out
	}

	// Clean while rows keep changing: the recheck absorbs in-flight changes.
	rep, r := verifyJSON()
	if r.code != 0 || rep.Differences() != 0 {
		t.Fatalf("verify of identical data under writes: exit %d, differences %v\n%s", r.code, found(rep), r.stderr)
	}
	if len(rep.Tables) != 2 || rep.Rows < 4000 || rep.Chunks < 16 {
		t.Fatalf("verify covered %d tables, %d rows, %d chunks", len(rep.Tables), rep.Rows, rep.Chunks)
	}
	t.Logf("clean under writes: %d rows, %d chunks, %d rows rechecked", rep.Rows, rep.Chunks, rep.Tables[0].Rechecked+rep.Tables[1].Rechecked)
	r = runShiplog(t, e.config, nil, "verify")
	if r.code != 0 || !strings.Contains(r.stdout, "verify: 2 table(s)") || !strings.Contains(r.stdout, "no differences") ||
		!strings.Contains(r.stdout, "orders -> sales_order:") {
		t.Fatalf("verify text output: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// With delta paused, the source runs ahead: without a recheck verify
	// reports the changes not yet applied; with it, once delta resumes during
	// the recheck, they are gone.
	if err := delta.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	rep, r = verifyJSON("--recheck", "-1s")
	if r.code != 1 || rep.Differences() == 0 || rep.Counts[verify.Failed] != 0 {
		t.Fatalf("verify without recheck while delta is paused: exit %d, %v\n%s", r.code, found(rep), r.stderr)
	}
	t.Logf("without recheck, delta paused: %d transient differences", rep.Differences())
	cmd := exec.Command(binary, "--config", e.config, "-v", "verify", "--format", "json", "--chunk-rows", "250")
	var vout bytes.Buffer
	cmd.Stdout = &vout
	verr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var vlog strings.Builder
	sc := bufio.NewScanner(verr)
	resumed := false
	for sc.Scan() {
		vlog.WriteString(sc.Text() + "\n")
		if !resumed && strings.Contains(sc.Text(), "rechecking differences") {
			resumed = true
			if err := delta.Process.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = delta.Process.Signal(syscall.SIGCONT)
	if err := cmd.Wait(); err != nil || !resumed {
		t.Fatalf("verify with recheck after delta resumed: %v (rechecked: %v)\n%s\n%s", err, resumed, vout.String(), vlog.String())
	}
	rep = verify.Report{}
	if err := json.Unmarshal(vout.Bytes(), &rep); err != nil || rep.Differences() != 0 || rep.Tables[0].Rechecked+rep.Tables[1].Rechecked == 0 {
		t.Fatalf("verify with recheck: %v %v\n%s", err, found(rep), vout.String())
	}

	// Plant four differences in the destination.
	for _, q := range []string{
		"DELETE FROM sales_order WHERE id = 10",
		"INSERT INTO sales_order VALUES (50000, 'ghost', 'SO-ghost', 1, 1, 1, NOW(6))",
		"UPDATE sales_order SET customer = 'tampered' WHERE id = 20",
		"UPDATE sales_order SET code = 'SO-tampered' WHERE id = 30",
	} {
		if _, err := e.dstDB.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"sales_order different id=20 customer",
		"sales_order different id=30 code",
		"sales_order extra id=50000",
		"sales_order missing id=10",
	}
	rep, r = verifyJSON()
	if got := found(rep); r.code != 1 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("verify with planted differences: exit %d\n got  %q\n want %q\n%s", r.code, got, want, r.stderr)
	}
	if rep.Counts[verify.Missing] != 1 || rep.Counts[verify.Extra] != 1 || rep.Counts[verify.Different] != 2 || rep.Counts[verify.Failed] != 0 {
		t.Fatalf("counts: %v", rep.Counts)
	}
	if !strings.Contains(r.stderr, "4 difference(s)") {
		t.Fatalf("stderr does not give the count:\n%s", r.stderr)
	}
	// The text form names each key and kind.
	r = runShiplog(t, e.config, nil, "verify", "--chunk-rows", "500")
	for _, w := range []string{"missing   id=10", "extra     id=50000", "different id=20 (customer)", "different id=30 (code)",
		"1 missing, 2 different, 1 extra, 0 failed"} {
		if r.code != 1 || !strings.Contains(r.stdout, w) {
			t.Fatalf("verify text: exit %d, no %q in\n%s\n%s", r.code, w, r.stdout, r.stderr)
		}
	}
	// Keys only: the changed values are not compared.
	rep, r = verifyJSON("--only-pks")
	if got := found(rep); r.code != 1 || strings.Join(got, "\n") != "sales_order extra id=50000\nsales_order missing id=10" {
		t.Fatalf("verify --only-pks: exit %d, %q\n%s", r.code, got, r.stderr)
	}
	// Only the clean table, by its (unchanged) name.
	rep, r = verifyJSON("--tables", "items")
	if r.code != 0 || len(rep.Tables) != 1 || rep.Tables[0].Source != "items" {
		t.Fatalf("verify --tables items: exit %d, %+v\n%s", r.code, rep, r.stderr)
	}
	expectFailure(t, runShiplog(t, e.config, nil, "verify", "--tables", "nope"), 1, `"nope" is not a planned table`)
	expectFailure(t, runShiplog(t, e.config, nil, "verify", "--format", "xml"), 2, "--format")

	if err := stopWriter(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	t.Logf("writer made %d changes during the verification", writes)
	if writes < 500 {
		t.Fatalf("the writer made only %d changes: verify did not run under writes", writes)
	}
	_ = delta.Process.Signal(syscall.SIGCONT)
	_ = delta.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(20 * time.Second):
		_ = delta.Process.Kill()
		<-d.exited
	}
	if strings.Contains(d.stderr.String(), "level=ERROR") {
		t.Fatalf("delta logged errors:\n%s", d.stderr)
	}
}
