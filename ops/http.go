package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shiplog/shiplog/config"
)

// lagCheckEvery is how often the server compares the checkpoint with the
// source's head for shiplog_lag_bytes.
const lagCheckEvery = 3 * time.Second

// ServerConfig is what the status and control server needs besides its
// Control.
type ServerConfig struct {
	// HTTP is where it listens (no server when Listen is empty) and its
	// token.
	HTTP config.HTTP
	Log  *slog.Logger
	// Status reads the status from the servers, within ctx's deadline; GET
	// /status serves the last one read (see statusCache).
	Status func(ctx context.Context) (Status, error)
	// Lag measures the binlog between the checkpoint and the source head:
	// its bytes and the checkpoint's event time (zero when unknown); ok is
	// false when there is no checkpoint yet. nil: not measured (the
	// change-log delta has no binlog).
	Lag func(ctx context.Context) (bytes int64, checkpointTime time.Time, ok bool, err error)
}

// Serve starts the status and control server of c when cfg.HTTP.Listen is
// set: /metrics, /status, /healthz, /pause, /resume and /throttle behind
// httpGuard's access rules. It returns once the server listens; stop shuts
// it down (waiting up to 5 s for requests in flight) and waits for its
// background loops. Without http.listen, stop is a no-op.
func Serve(ctx context.Context, c *Control, cfg ServerConfig) (stop func(), err error) {
	if cfg.HTTP.Listen == "" {
		return func() {}, nil
	}
	if c == nil {
		return nil, errors.New("http server: no Control to serve")
	}
	if !cfg.HTTP.Loopback() && cfg.HTTP.Token == "" {
		// config.Load refuses this already; a Config built otherwise must not
		// open the control API to the network either.
		return nil, fmt.Errorf("http.listen %s is beyond loopback and http.token is not set: set http.token (or SHIPLOG_HTTP_TOKEN), or listen on 127.0.0.1", cfg.HTTP.Listen)
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("http.listen: %w", err)
	}
	sc := &statusCache{}
	srv := &http.Server{
		Handler:           newHandler(c, sc, cfg.HTTP, cfg.Log),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	control := "on (token)"
	if cfg.HTTP.Token == "" {
		control = "off: set http.token to pause, resume or throttle"
	}
	cfg.Log.Info("http server listening", "addr", ln.Addr().String(), "control", control)
	bg, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Log.Error("http server", "error", err.Error())
		}
	}()
	go func() {
		defer wg.Done()
		c.checkLag(bg, cfg.Log, cfg.Lag)
	}()
	go func() {
		defer wg.Done()
		refreshStatus(bg, sc, cfg.Status)
	}()
	return func() {
		cancel()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
		wg.Wait()
	}, nil
}

// checkLag updates shiplog_lag_bytes (and shiplog_lag_seconds, which batches
// alone leave stale when nothing arrives or the writer is paused) through
// lag, every lagCheckEvery while the loop is in delta (never when lag is
// nil).
func (c *Control) checkLag(ctx context.Context, log *slog.Logger, lag func(context.Context) (int64, time.Time, bool, error)) {
	if lag == nil {
		return
	}
	t := time.NewTicker(lagCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if c.State() != StateDelta {
			continue
		}
		err := func() error {
			qctx, cancel := context.WithTimeout(ctx, lagCheckEvery)
			defer cancel()
			n, ckptTime, ok, err := lag(qctx)
			if err != nil || !ok {
				return err
			}
			c.lagBytes.Set(float64(n))
			switch {
			case n == 0:
				c.lagSeconds.Set(0)
			case !ckptTime.IsZero():
				c.lagSeconds.Set(max(time.Since(ckptTime).Seconds(), 0))
			}
			return nil
		}()
		if err != nil && ctx.Err() == nil {
			c.CountError("lag_check", 1)
			log.Debug("lag check", "stage", "http", "error", err.Error())
		}
	}
}

// throttleSettings is the JSON of GET and POST /throttle.
type throttleSettings struct {
	BatchChanges int  `json:"batch_changes"`
	Paused       bool `json:"paused"`
	// MaxReplicaLag is a Go duration ("1s", "1.5s"), as POST takes it.
	MaxReplicaLag  string `json:"max_replica_lag"`
	Throttled      bool   `json:"throttled"`
	ThrottleReason string `json:"throttle_reason,omitempty"`
}

// settableThrottle names the settings POST /throttle accepts.
const settableThrottle = "batch_changes, max_replica_lag"

// newHandler serves the status and control endpoints of c behind
// httpGuard's access rules (token, Origin, Host). Only POST changes state.
func newHandler(c *Control, sc *statusCache, h config.HTTP, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
	}
	settings := func() throttleSettings {
		reason, _ := c.Throttled()
		return throttleSettings{BatchChanges: c.BatchLimit(), Paused: c.Paused(), MaxReplicaLag: c.MaxLag().String(),
			Throttled: reason != "", ThrottleReason: reason}
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(c.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		// From memory (refreshStatus): no server is asked on this path.
		s := sc.get(time.Now())
		s.DestinationRetrying = c.DestRetrying()
		s.Paused = c.Paused()
		s.ThrottleReason, s.Replicas = c.Throttled()
		s.Throttled = s.ThrottleReason != ""
		writeJSON(w, s)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		switch st := c.State(); st {
		case StateData, StateDelta:
			fmt.Fprintln(w, "ok")
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, st)
		}
	})
	mux.HandleFunc("POST /pause", func(w http.ResponseWriter, _ *http.Request) {
		c.Pause()
		log.Info("paused through http", "stage", "http")
		writeJSON(w, settings())
	})
	mux.HandleFunc("POST /resume", func(w http.ResponseWriter, _ *http.Request) {
		c.Resume()
		log.Info("resumed through http", "stage", "http")
		writeJSON(w, settings())
	})
	mux.HandleFunc("GET /throttle", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, settings())
	})
	mux.HandleFunc("POST /throttle", func(w http.ResponseWriter, req *http.Request) {
		req.Body = http.MaxBytesReader(w, req.Body, 1<<16)
		if err := req.ParseForm(); err != nil {
			http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
			return
		}
		for k := range req.Form {
			if k != "batch_changes" && k != "max_replica_lag" {
				http.Error(w, fmt.Sprintf("unknown setting %q (settable: %s)", k, settableThrottle), http.StatusBadRequest)
				return
			}
		}
		if len(req.Form) == 0 {
			http.Error(w, "nothing to set: give batch_changes=N and/or max_replica_lag=DURATION (such as 1500ms)", http.StatusBadRequest)
			return
		}
		for k, vals := range req.Form {
			if len(vals) != 1 {
				http.Error(w, k+" given more than once", http.StatusBadRequest)
				return
			}
		}
		// Both are checked before either is set, so a bad request changes nothing.
		batch, lag := 0, time.Duration(0)
		if v, ok := req.Form["batch_changes"]; ok {
			n, err := strconv.Atoi(v[0])
			if err != nil || n < 1 {
				http.Error(w, fmt.Sprintf("batch_changes must be an integer >= 1, got %q", v[0]), http.StatusBadRequest)
				return
			}
			batch = n
		}
		if v, ok := req.Form["max_replica_lag"]; ok {
			d, err := time.ParseDuration(v[0])
			if err != nil || d <= 0 {
				http.Error(w, fmt.Sprintf("max_replica_lag must be a duration > 0 such as 500ms or 2s, got %q", v[0]), http.StatusBadRequest)
				return
			}
			lag = d
		}
		if batch > 0 {
			c.SetBatchLimit(batch)
			log.Info("throttle changed through http", "stage", "http", "batch_changes", batch)
		}
		if lag > 0 {
			c.SetMaxLag(lag)
			log.Info("throttle changed through http", "stage", "http", "max_replica_lag", lag.String())
		}
		writeJSON(w, settings())
	})
	return newHTTPGuard(h, log, mux)
}
