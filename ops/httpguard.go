package ops

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/shiplog/shiplog/config"
)

// httpGuard enforces the control API's access rules before any handler runs:
//
//   - Host must name this server (an IP address, localhost, the host of
//     http.listen, or the machine's name when listening on all interfaces),
//     so a DNS-rebinding page cannot reach it under its own name.
//   - A request with an Origin header from another origin is refused, so a
//     web page in a local browser cannot send a cross-origin (text/plain or
//     form) POST.
//   - Every request but GET and HEAD changes state and needs
//     "Authorization: Bearer <http.token>"; with no token configured, state
//     changes are refused altogether.
//   - Reads (/metrics, /status, GET /throttle) are open when the server
//     listens on loopback and need the token beyond it; /healthz is always
//     open, so probes need no secret.
//   - A request that carries a wrong token is refused even where none is
//     needed, so a misconfigured client is noticed.
//
// Tokens are compared in constant time and never logged or echoed.
type httpGuard struct {
	next     http.Handler
	log      *slog.Logger
	hasToken bool
	token    [sha256.Size]byte // hash of http.token: equal lengths for the constant-time compare
	loopback bool
	// listenHost is the host of http.listen; anyHost is set when it is an
	// unspecified address (0.0.0.0, ::).
	listenHost string
	anyHost    bool
	hostname   string
}

func newHTTPGuard(cfg config.HTTP, log *slog.Logger, next http.Handler) *httpGuard {
	g := &httpGuard{next: next, log: log, loopback: cfg.Loopback()}
	if cfg.Token != "" {
		g.hasToken = true
		g.token = sha256.Sum256([]byte(cfg.Token))
	}
	host, _, _ := net.SplitHostPort(cfg.Listen)
	g.listenHost = host
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		g.anyHost = true
		if h, err := os.Hostname(); err == nil {
			g.hostname = h
		}
	}
	return g
}

// tokenHelp says how to authenticate, for refusals.
const tokenHelp = `send the header "Authorization: Bearer <token>" with the token of http.token (or SHIPLOG_HTTP_TOKEN)`

func (g *httpGuard) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	refuse := func(code int, reason, msg string) {
		g.log.Warn("http request refused", "stage", "http", "method", req.Method, "path", req.URL.Path,
			"remote", req.RemoteAddr, "reason", reason)
		if code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="shiplog"`)
		}
		http.Error(w, msg, code)
	}
	if !g.hostAllowed(req.Host) {
		refuse(http.StatusForbidden, "host", fmt.Sprintf("Host %q does not name this server: use its IP address, localhost or the host of http.listen", req.Host))
		return
	}
	if o := req.Header.Get("Origin"); o != "" && !strings.EqualFold(o, "http://"+req.Host) {
		refuse(http.StatusForbidden, "origin", "cross-origin request refused: the control API takes requests from its own origin only")
		return
	}
	changes := req.Method != http.MethodGet && req.Method != http.MethodHead
	auth, given := req.Header["Authorization"]
	switch {
	case given:
		if !g.hasToken {
			refuse(http.StatusForbidden, "no token configured", "this server has no token: set http.token (or SHIPLOG_HTTP_TOKEN) to use the control API")
			return
		}
		if !g.tokenOK(auth) {
			refuse(http.StatusUnauthorized, "wrong token", "wrong token: "+tokenHelp)
			return
		}
	case changes && !g.hasToken:
		refuse(http.StatusForbidden, "no token configured", "the control API is off: set http.token (or SHIPLOG_HTTP_TOKEN) and "+tokenHelp)
		return
	case changes || (!g.loopback && req.URL.Path != "/healthz"):
		refuse(http.StatusUnauthorized, "no token", "token required: "+tokenHelp)
		return
	}
	g.next.ServeHTTP(w, req)
}

// tokenOK reports whether the Authorization header values hold exactly one
// "Bearer <token>" with the configured token.
func (g *httpGuard) tokenOK(values []string) bool {
	if len(values) != 1 {
		return false
	}
	scheme, tok, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(sum[:], g.token[:]) == 1
}

// hostAllowed reports whether a request's Host header names this server.
// Names other than localhost, the listen host and (on all interfaces) the
// machine's name are refused: a rebound DNS name would pass an IP check.
func (g *httpGuard) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		return false
	}
	if config.IsLoopbackHost(host) || strings.EqualFold(host, g.listenHost) {
		return true
	}
	if !g.anyHost {
		return false
	}
	return net.ParseIP(host) != nil || (g.hostname != "" && strings.EqualFold(host, g.hostname))
}
