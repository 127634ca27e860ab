//go:build !unit

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/internal/testenv"
)

// httpToken is the http.token of the tests' daemons.
const httpToken = "e2e-token-6f1c9a0b2d4e8f7a"

// bearer adds "Authorization: Bearer <token>" to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(req)
}

// tokenClient is an HTTP client that sends token with every request.
func tokenClient(token string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: bearer{token: token, next: http.DefaultTransport}}
}

// TestHTTPStatusAndControl runs `migrate delta` with the HTTP server and
// drives it: metrics move with writes, /status matches `shiplog status`,
// pause holds changes back while healthz stays ok, resume lets them through,
// and the throttle is changed live, with the token; without it, from another
// origin or under another Host name, nothing changes, and GET changes nothing.
func TestHTTPStatusAndControl(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "full_row_tables: [events]")
	e.seedShop(50)
	e.mustRun("migrate", "data")

	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	e.appendConfig(fmt.Sprintf("http: {listen: \":%d\", token: %q}\n", port, httpToken)) // no host: loopback only

	d := startDaemon(t, e.config, "migrate", "delta")

	client := tokenClient(httpToken)
	plain := &http.Client{Timeout: 10 * time.Second}
	send := func(c *http.Client, req *http.Request) (int, string) {
		t.Helper()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", req.Method, req.URL.Path, err, d.stderr)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
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

	// Locked down: none of these pauses the writer.
	newReq := func(method, path, body string) *http.Request {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	wrong := newReq("POST", "/pause", "")
	wrong.Header.Set("Authorization", "Bearer "+httpToken+"0")
	crossOrigin := newReq("POST", "/pause", "anything") // what a web page's fetch(..., {mode: "no-cors"}) sends
	crossOrigin.Header.Set("Content-Type", "text/plain")
	crossOrigin.Header.Set("Origin", "http://evil.example")
	crossOriginToken := newReq("POST", "/pause", "")
	crossOriginToken.Header.Set("Origin", "http://evil.example")
	rebound := newReq("POST", "/pause", "")
	rebound.Host = fmt.Sprintf("evil.example:%d", port)
	for _, c := range []struct {
		name   string
		client *http.Client
		req    *http.Request
		want   int
	}{
		{"no token", plain, newReq("POST", "/pause", ""), http.StatusUnauthorized},
		{"text/plain without a token", plain, func() *http.Request {
			r := newReq("POST", "/pause", "x")
			r.Header.Set("Content-Type", "text/plain")
			return r
		}(), http.StatusUnauthorized},
		{"wrong token", plain, wrong, http.StatusUnauthorized},
		{"cross-origin text/plain", plain, crossOrigin, http.StatusForbidden},
		{"cross-origin with the token", client, crossOriginToken, http.StatusForbidden},
		{"rebound Host with the token", client, rebound, http.StatusForbidden},
		{"GET /pause", client, newReq("GET", "/pause", ""), http.StatusMethodNotAllowed},
	} {
		if code, body := send(c.client, c.req); code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.want)
		}
		if httpStatus().Paused || metric("shiplog_paused") != "0" {
			t.Fatalf("%s paused the writer", c.name)
		}
	}
	// GET /throttle reads only, whatever its query says.
	if code, body := send(plain, newReq("GET", "/throttle?batch_changes=3", "")); code != http.StatusOK || metric("shiplog_batch_max_changes") == "3" {
		t.Fatalf("GET /throttle?batch_changes=3: %d %s, shiplog_batch_max_changes %s", code, body, metric("shiplog_batch_max_changes"))
	}
	// Reads are open on loopback: a Prometheus scraper needs no token here.
	if code, _ := send(plain, newReq("GET", "/metrics", "")); code != http.StatusOK {
		t.Fatalf("GET /metrics without a token on loopback: %d", code)
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
	if strings.Contains(d.stderr.String(), httpToken[:12]) {
		t.Fatalf("the log shows the token:\n%s", d.stderr)
	}
	if !strings.Contains(d.stderr.String(), `reason="wrong token"`) {
		t.Fatalf("refused requests are not logged:\n%s", d.stderr)
	}
	if _, err := client.Get(base + "/healthz"); err == nil {
		t.Fatal("the HTTP server still answers after the daemon exited")
	}
	e.assertIdentical()
}

// TestHTTPBeyondLoopbackNeedsToken: listening on all interfaces without a
// token is a configuration error (exit 2) naming http.listen and
// http.token; with the token from SHIPLOG_HTTP_TOKEN the daemon serves, every
// endpoint but /healthz asks for it, and the token is never printed.
func TestHTTPBeyondLoopbackNeedsToken(t *testing.T) {
	t.Parallel()
	cfgOnly := (&env{t: t}).writeConfig("source: {database: shop}\ndestination: {database: d}\nhttp: {listen: \"0.0.0.0:9\"}\n")
	expectFailure(t, runShiplog(t, cfgOnly, nil, "migrate", "delta"), 2, "http.listen", "http.token", "SHIPLOG_HTTP_TOKEN")
	r := runShiplog(t, cfgOnly, []string{"SHIPLOG_HTTP_TOKEN=hunter2"}, "migrate", "delta")
	expectFailure(t, r, 2, "http.token", "too short")
	if strings.Contains(r.stderr, "hunter2") {
		t.Fatalf("the error shows the token:\n%s", r.stderr)
	}

	e := newEnv(t, "full_row_tables: [events]")
	e.seedShop(5)
	e.mustRun("migrate", "data")
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	e.appendConfig(fmt.Sprintf("http: {listen: \"0.0.0.0:%d\"}\n", port))
	d := startDaemonEnv(t, e.config, []string{"SHIPLOG_HTTP_TOKEN=" + httpToken}, "migrate", "delta")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	d.waitHealthz(t, base) // open without a token

	plain := &http.Client{Timeout: 10 * time.Second}
	for _, c := range []struct {
		client *http.Client
		method string
		path   string
		want   int
	}{
		{plain, "GET", "/metrics", http.StatusUnauthorized},
		{plain, "GET", "/status", http.StatusUnauthorized},
		{plain, "GET", "/throttle", http.StatusUnauthorized},
		{plain, "POST", "/pause", http.StatusUnauthorized},
		{tokenClient("not-" + httpToken), "GET", "/metrics", http.StatusUnauthorized},
		{tokenClient(httpToken), "GET", "/metrics", http.StatusOK},
		{tokenClient(httpToken), "GET", "/status", http.StatusOK},
		{tokenClient(httpToken), "POST", "/pause", http.StatusOK},
		{plain, "GET", "/healthz", http.StatusOK},
	} {
		req, err := http.NewRequest(c.method, base+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", c.method, c.path, err, d.stderr)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s (token %v): %d %s, want %d", c.method, c.path, c.client != plain, resp.StatusCode, b, c.want)
		}
		if strings.Contains(string(b), httpToken) {
			t.Errorf("%s %s echoes the token: %s", c.method, c.path, b)
		}
	}
	d.stop(t)
	if strings.Contains(d.stderr.String(), httpToken[:12]) {
		t.Fatalf("the log shows the token:\n%s", d.stderr)
	}
}
