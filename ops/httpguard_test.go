package ops

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/config"
)

const testToken = "t0ken-0123456789abcdef"

// controlServer is the control API's handler over a fresh control, with the
// log captured so a test can check it never holds the token.
func controlServer(t *testing.T, h config.HTTP) (http.Handler, *Control, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := NewControl(config.Throttle{MaxBatchChanges: 100})
	return newHandler(c, &statusCache{}, h, log), c, &logs
}

type controlRequest struct {
	method, path string
	host         string // default: the listen address
	origin       string
	auth         string // the whole Authorization header; "" sends none
	contentType  string
	body         string
}

func (q controlRequest) send(t *testing.T, h http.Handler, listen string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(q.method, "http://"+listen+q.path, strings.NewReader(q.body))
	if q.host != "" {
		req.Host = q.host
	}
	if q.origin != "" {
		req.Header.Set("Origin", q.origin)
	}
	if q.auth != "" {
		req.Header.Set("Authorization", q.auth)
	}
	if q.contentType != "" {
		req.Header.Set("Content-Type", q.contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b)
}

// TestControlAPIAccess drives every rule of the control API's guard and
// checks, for each request, the status code and whether state changed.
func TestControlAPIAccess(t *testing.T) {
	const (
		loop = "127.0.0.1:9090"
		any  = "0.0.0.0:9090"
	)
	bearer := "Bearer " + testToken
	withToken := config.HTTP{Listen: loop, Token: testToken}
	noToken := config.HTTP{Listen: loop}
	open := config.HTTP{Listen: any, Token: testToken}
	for _, c := range []struct {
		name    string
		cfg     config.HTTP
		req     controlRequest
		want    int
		changes bool // the request pauses (or, for /throttle, sets batch_changes to 7)
	}{
		// Tokens on state changes.
		{"pause with the token", withToken, controlRequest{method: "POST", path: "/pause", auth: bearer}, 200, true},
		{"pause, scheme in lower case", withToken, controlRequest{method: "POST", path: "/pause", auth: "bearer " + testToken}, 200, true},
		{"pause without a token", withToken, controlRequest{method: "POST", path: "/pause"}, 401, false},
		{"pause with a wrong token", withToken, controlRequest{method: "POST", path: "/pause", auth: "Bearer " + testToken + "x"}, 401, false},
		{"pause with a token prefix", withToken, controlRequest{method: "POST", path: "/pause", auth: "Bearer " + testToken[:8]}, 401, false},
		{"pause with basic auth", withToken, controlRequest{method: "POST", path: "/pause", auth: "Basic " + testToken}, 401, false},
		{"pause with the bare token", withToken, controlRequest{method: "POST", path: "/pause", auth: testToken}, 401, false},
		{"throttle with the token", withToken, controlRequest{method: "POST", path: "/throttle?batch_changes=7", auth: bearer}, 200, true},
		{"throttle without a token", withToken, controlRequest{method: "POST", path: "/throttle?batch_changes=7"}, 401, false},
		{"text/plain throttle without a token", withToken, controlRequest{method: "POST", path: "/throttle",
			contentType: "text/plain", body: "batch_changes=7"}, 401, false},
		{"form throttle without a token", withToken, controlRequest{method: "POST", path: "/throttle",
			contentType: "application/x-www-form-urlencoded", body: "batch_changes=7"}, 401, false},
		{"form throttle with the token", withToken, controlRequest{method: "POST", path: "/throttle", auth: bearer,
			contentType: "application/x-www-form-urlencoded", body: "batch_changes=7"}, 200, true},
		{"pause on a server without a token", noToken, controlRequest{method: "POST", path: "/pause"}, 403, false},
		{"pause on a server without a token, token sent", noToken, controlRequest{method: "POST", path: "/pause", auth: bearer}, 403, false},
		{"OPTIONS preflight without a token", withToken, controlRequest{method: "OPTIONS", path: "/pause"}, 401, false},

		// Origin: a browser page elsewhere cannot post, even with a token it cannot have.
		{"cross-origin text/plain pause", withToken, controlRequest{method: "POST", path: "/pause", origin: "http://evil.example",
			contentType: "text/plain", body: "x"}, 403, false},
		{"cross-origin pause with the token", withToken, controlRequest{method: "POST", path: "/pause", origin: "http://evil.example", auth: bearer}, 403, false},
		{"null origin pause", withToken, controlRequest{method: "POST", path: "/pause", origin: "null", auth: bearer}, 403, false},
		{"other port origin", withToken, controlRequest{method: "POST", path: "/pause", origin: "http://127.0.0.1:8080", auth: bearer}, 403, false},
		{"https origin", withToken, controlRequest{method: "POST", path: "/pause", origin: "https://127.0.0.1:9090", auth: bearer}, 403, false},
		{"same-origin pause", withToken, controlRequest{method: "POST", path: "/pause", origin: "http://127.0.0.1:9090", auth: bearer}, 200, true},
		{"cross-origin read", noToken, controlRequest{method: "GET", path: "/throttle", origin: "http://evil.example"}, 403, false},

		// Host: DNS rebinding puts the attacker's name in Host.
		{"rebound name", withToken, controlRequest{method: "POST", path: "/pause", host: "evil.example:9090", auth: bearer}, 403, false},
		{"rebound name, read", noToken, controlRequest{method: "GET", path: "/metrics", host: "evil.example:9090"}, 403, false},
		{"rebound name, healthz", noToken, controlRequest{method: "GET", path: "/healthz", host: "evil.example"}, 403, false},
		{"empty host", noToken, controlRequest{method: "GET", path: "/metrics", host: " "}, 403, false},
		{"localhost name", withToken, controlRequest{method: "POST", path: "/pause", host: "localhost:9090", auth: bearer}, 200, true},
		{"ipv6 loopback", withToken, controlRequest{method: "POST", path: "/pause", host: "[::1]:9090", auth: bearer}, 200, true},
		{"other IP on a loopback listener", noToken, controlRequest{method: "GET", path: "/metrics", host: "10.1.2.3:9090"}, 403, false},
		{"any IP on an all-interfaces listener", open, controlRequest{method: "GET", path: "/metrics", host: "10.1.2.3:9090", auth: bearer}, 200, false},
		{"name on an all-interfaces listener", open, controlRequest{method: "GET", path: "/metrics", host: "evil.example:9090", auth: bearer}, 403, false},
		{"listen host name", config.HTTP{Listen: "db1.internal:9090", Token: testToken},
			controlRequest{method: "GET", path: "/metrics", host: "DB1.internal:9090", auth: bearer}, 200, false},

		// GET never changes state.
		{"GET pause", withToken, controlRequest{method: "GET", path: "/pause", auth: bearer}, 405, false},
		{"GET resume", withToken, controlRequest{method: "GET", path: "/resume", auth: bearer}, 405, false},
		{"GET throttle with settings", withToken, controlRequest{method: "GET", path: "/throttle?batch_changes=7", auth: bearer}, 200, false},
		{"GET throttle with settings, no token", noToken, controlRequest{method: "GET", path: "/throttle?batch_changes=7"}, 200, false},
		{"HEAD pause", withToken, controlRequest{method: "HEAD", path: "/pause", auth: bearer}, 405, false},

		// Reads: open on loopback, token beyond it; healthz always open.
		{"metrics on loopback, no token", withToken, controlRequest{method: "GET", path: "/metrics"}, 200, false},
		{"metrics on loopback, wrong token", withToken, controlRequest{method: "GET", path: "/metrics", auth: "Bearer nope"}, 401, false},
		{"metrics beyond loopback, no token", open, controlRequest{method: "GET", path: "/metrics"}, 401, false},
		{"metrics beyond loopback, token", open, controlRequest{method: "GET", path: "/metrics", auth: bearer}, 200, false},
		{"status beyond loopback, no token", open, controlRequest{method: "GET", path: "/status"}, 401, false},
		{"throttle beyond loopback, no token", open, controlRequest{method: "GET", path: "/throttle"}, 401, false},
		{"healthz beyond loopback, no token", open, controlRequest{method: "GET", path: "/healthz"}, 503, false},
		{"pause beyond loopback, token", open, controlRequest{method: "POST", path: "/pause", host: "192.0.2.7:9090", auth: bearer}, 200, true},
		{"pause beyond loopback, no token", open, controlRequest{method: "POST", path: "/pause", host: "192.0.2.7:9090"}, 401, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, ctl, logs := controlServer(t, c.cfg)
			code, body := c.req.send(t, h, c.cfg.Listen)
			if code != c.want {
				t.Errorf("%s %s: %d %q, want %d", c.req.method, c.req.path, code, body, c.want)
			}
			changed := ctl.Paused() || ctl.BatchLimit() == 7
			if changed != c.changes {
				t.Errorf("%s %s changed state: %v, want %v (paused %v, batch %d)", c.req.method, c.req.path, changed, c.changes, ctl.Paused(), ctl.BatchLimit())
			}
			if code == http.StatusUnauthorized && !strings.Contains(body, "Authorization: Bearer") {
				t.Errorf("401 body %q does not say how to send the token", body)
			}
			if strings.Contains(body, testToken) || strings.Contains(logs.String(), testToken) {
				t.Errorf("the token is echoed: body %q, log %q", body, logs.String())
			}
		})
	}
}

// TestControlAPIResumeNeedsToken: a paused writer cannot be resumed (or
// pushed to a huge batch) without the token either.
func TestControlAPIResumeNeedsToken(t *testing.T) {
	cfg := config.HTTP{Listen: "127.0.0.1:9090", Token: testToken}
	h, ctl, _ := controlServer(t, cfg)
	ctl.Pause()
	if code, body := (controlRequest{method: "POST", path: "/resume"}).send(t, h, cfg.Listen); code != 401 || !ctl.Paused() {
		t.Fatalf("resume without a token: %d %q, paused %v", code, body, ctl.Paused())
	}
	if code, body := (controlRequest{method: "POST", path: "/resume", auth: "Bearer " + testToken}).send(t, h, cfg.Listen); code != 200 || ctl.Paused() {
		t.Fatalf("resume with the token: %d %q, paused %v", code, body, ctl.Paused())
	}
}

// TestServeRefusesOpenListenWithoutToken: a Config not checked by
// config.Load still cannot open the control API beyond loopback without a
// token.
func TestServeRefusesOpenListenWithoutToken(t *testing.T) {
	cfg := ServerConfig{HTTP: config.HTTP{Listen: "0.0.0.0:0"}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	stop, err := Serve(t.Context(), NewControl(config.Throttle{}), cfg)
	if err == nil {
		stop()
		t.Fatal("serve listened on 0.0.0.0 without a token")
	}
	for _, w := range []string{"http.listen", "http.token"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not name %s", err, w)
		}
	}
}
