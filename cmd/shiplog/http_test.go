package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/internal/testenv"
)

// TestHTTPStatusAndControl runs `migrate delta` with the HTTP server and
// drives it: metrics move with writes, /status matches `shiplog status`,
// pause holds changes back while healthz stays ok, resume lets them through,
// and the throttle is changed live.
func TestHTTPStatusAndControl(t *testing.T) {
	e := newEnv(t, "full_row_tables: [events]")
	e.seedShop(50)
	e.mustRun("migrate", "data")

	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	f, err := os.OpenFile(e.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "http: {listen: \":%d\"}\n", port) // no host: loopback only
	f.Close()

	d := startDaemon(t, e.config, "migrate", "delta")

	client := &http.Client{Timeout: 10 * time.Second}
	do := func(method, path string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, d.stderr)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	d.waitHealthz(t, base)

	applied := func() float64 {
		t.Helper()
		code, body := do("GET", "/metrics")
		if code != http.StatusOK {
			t.Fatalf("/metrics: %d %s", code, body)
		}
		var sum float64
		sc := bufio.NewScanner(strings.NewReader(body))
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "shiplog_changes_applied_total{") {
				fields := strings.Fields(line)
				v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
				if err != nil {
					t.Fatalf("metric line %q: %v", line, err)
				}
				sum += v
			}
		}
		return sum
	}
	metric := func(name string) string {
		t.Helper()
		_, body := do("GET", "/metrics")
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				return v
			}
		}
		t.Fatalf("metric %s missing:\n%s", name, body)
		return ""
	}
	before := applied()
	if _, err := e.srcDB.Exec("UPDATE orders SET amount = amount + 1 WHERE id <= 10"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "changes_applied_total to move by 10", 30*time.Second, func() bool { return applied() >= before+10 })
	if got := metric("shiplog_batches_total"); got == "0" {
		t.Fatalf("shiplog_batches_total is 0")
	}

	// Writes have stopped and arrived: /status and `shiplog status` agree.
	type status struct {
		Mode       string `json:"mode"`
		DataDone   bool   `json:"data_done"`
		Checkpoint string `json:"checkpoint_position"`
		Paused     bool   `json:"paused"`
	}
	httpStatus := func() status {
		t.Helper()
		code, body := do("GET", "/status")
		var s status
		if code != http.StatusOK {
			t.Fatalf("/status: %d %s", code, body)
		}
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatalf("/status is not JSON: %v\n%s", err, body)
		}
		return s
	}
	var hs, cs status
	waitFor(t, "/status to equal `shiplog status`", 15*time.Second, func() bool {
		hs = httpStatus()
		r := e.mustRun("status")
		if err := json.Unmarshal([]byte(r.stdout), &cs); err != nil {
			t.Fatalf("status is not JSON: %v\n%s", err, r.stdout)
		}
		return hs == cs
	})
	if hs.Mode != "delta" || !hs.DataDone || hs.Checkpoint == "" {
		t.Fatalf("/status: %+v", hs)
	}

	// Pause: new rows stay behind, health stays ok.
	if code, body := do("POST", "/pause"); code != http.StatusOK {
		t.Fatalf("/pause: %d %s", code, body)
	}
	if !httpStatus().Paused || metric("shiplog_paused") != "1" {
		t.Fatal("status or metrics do not show paused")
	}
	if _, err := e.srcDB.Exec("INSERT INTO orders (customer, amount, note, updated) VALUES ('paused-1', 1, 'p', NOW(6)), ('paused-2', 2, 'p', NOW(6))"); err != nil {
		t.Fatal(err)
	}
	arrived := func() int {
		var n int
		if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM orders WHERE customer LIKE 'paused-%'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	time.Sleep(1200 * time.Millisecond)
	if n := arrived(); n != 0 {
		t.Fatalf("%d row(s) arrived while paused", n)
	}
	if code, body := do("GET", "/healthz"); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Fatalf("healthz while paused: %d %q", code, body)
	}
	if code, body := do("POST", "/resume"); code != http.StatusOK {
		t.Fatalf("/resume: %d %s", code, body)
	}
	waitFor(t, "the rows written while paused to arrive", 30*time.Second, func() bool { return arrived() == 2 })
	if httpStatus().Paused || metric("shiplog_paused") != "0" {
		t.Fatal("still shown paused after resume")
	}

	// Throttle.
	if code, body := do("POST", "/throttle?batch_changes=1"); code != http.StatusOK {
		t.Fatalf("/throttle: %d %s", code, body)
	}
	code, body := do("GET", "/throttle")
	var th struct {
		BatchChanges int `json:"batch_changes"`
	}
	if err := json.Unmarshal([]byte(body), &th); code != http.StatusOK || err != nil || th.BatchChanges != 1 {
		t.Fatalf("GET /throttle: %d %s", code, body)
	}
	form, err := client.PostForm(base+"/throttle", url.Values{"batch_changes": {"7"}})
	if err != nil {
		t.Fatal(err)
	}
	form.Body.Close()
	if form.StatusCode != http.StatusOK || metric("shiplog_batch_max_changes") != "7" {
		t.Fatalf("form POST /throttle: %d", form.StatusCode)
	}
	before = applied()
	if _, err := e.srcDB.Exec("UPDATE orders SET amount = amount + 1 WHERE id <= 30"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the throttled update to arrive", 30*time.Second, func() bool { return applied() >= before+30 })

	// Bad requests and wrong methods.
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"POST", "/throttle?batch_changes=0", http.StatusBadRequest},
		{"POST", "/throttle?batch_changes=x", http.StatusBadRequest},
		{"POST", "/throttle?speed=3", http.StatusBadRequest},
		{"POST", "/throttle", http.StatusBadRequest},
		{"GET", "/pause", http.StatusMethodNotAllowed},
		{"POST", "/metrics", http.StatusMethodNotAllowed},
		{"DELETE", "/status", http.StatusMethodNotAllowed},
	} {
		if code, body := do(c.method, c.path); code != c.want {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, code, body, c.want)
		}
	}

	// The server stops with the daemon.
	d.stop(t)
	if _, err := client.Get(base + "/healthz"); err == nil {
		t.Fatal("the HTTP server still answers after the daemon exited")
	}
	e.assertIdentical()
}
