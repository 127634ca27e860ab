package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// lagCheckEvery is how often the server compares the checkpoint with the
// source's head for shiplog_lag_bytes.
const lagCheckEvery = 3 * time.Second

// serve gives ctx a control (unless it already carries one: Run's delta
// shares Run's), starts the replica lag monitor when throttle.replicas is set
// and, when http.listen is set, the status and control server. done stops
// them; it is a no-op when ctx already had a control.
func (r *Runtime) serve(ctx context.Context) (context.Context, func(), error) {
	if controlFrom(ctx) != nil {
		return ctx, func() {}, nil
	}
	c := newControl(r.cfg.Throttle.MaxBatchChanges)
	if d := r.cfg.Throttle.MaxReplicaLag; d > 0 {
		c.setMaxLag(d)
	}
	ctx = withControl(ctx, c)
	stopWatch := r.watchReplicas(ctx, c)
	if r.cfg.HTTP.Listen == "" {
		return ctx, stopWatch, nil
	}
	if !r.cfg.HTTP.Loopback() && r.cfg.HTTP.Token == "" {
		// config.Load refuses this already; a Config built otherwise must not
		// open the control API to the network either.
		stopWatch()
		return ctx, nil, fmt.Errorf("http.listen %s is beyond loopback and http.token is not set: set http.token (or SHIPLOG_HTTP_TOKEN), or listen on 127.0.0.1", r.cfg.HTTP.Listen)
	}
	ln, err := net.Listen("tcp", r.cfg.HTTP.Listen)
	if err != nil {
		stopWatch()
		return ctx, nil, fmt.Errorf("http.listen: %w", err)
	}
	sc := &statusCache{}
	srv := &http.Server{
		Handler:           r.httpHandler(c, sc),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	control := "on (token)"
	if r.cfg.HTTP.Token == "" {
		control = "off: set http.token to pause, resume or throttle"
	}
	r.log.Info("http server listening", "addr", ln.Addr().String(), "control", control)
	bg, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Error("http server", "error", err.Error())
		}
	}()
	go func() {
		defer wg.Done()
		r.checkLag(bg, c)
	}()
	go func() {
		defer wg.Done()
		r.refreshStatus(bg, sc)
	}()
	return ctx, func() {
		stop()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		wg.Wait()
		stopWatch()
	}, nil
}

// checkLag updates shiplog_lag_bytes (and shiplog_lag_seconds, which batches
// alone leave stale when nothing arrives or the writer is paused) from the
// checkpoint and the source head, every lagCheckEvery while delta streams
// the binlog.
func (r *Runtime) checkLag(ctx context.Context, c *control) {
	t := time.NewTicker(lagCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if c.getState() != stateDelta {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, lagCheckEvery)
		n, ckptTime, ok, err := r.source.lag(qctx)
		cancel()
		if ok {
			c.lagBytes.Set(float64(n))
			switch {
			case n == 0:
				c.lagSeconds.Set(0)
			case !ckptTime.IsZero():
				c.lagSeconds.Set(max(time.Since(ckptTime).Seconds(), 0))
			}
		}
		if err != nil && ctx.Err() == nil {
			c.countError("lag_check", 1)
			r.log.Debug("lag check", "stage", "http", "error", err.Error())
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

// httpHandler serves the status and control endpoints behind httpGuard's
// access rules (token, Origin, Host). Only POST changes state.
func (r *Runtime) httpHandler(c *control, sc *statusCache) http.Handler {
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
	}
	settings := func() throttleSettings {
		reason, _ := c.throttled()
		return throttleSettings{BatchChanges: c.batchLimit(), Paused: c.isPaused(), MaxReplicaLag: c.maxLag().String(),
			Throttled: reason != "", ThrottleReason: reason}
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(c.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		// From memory (refreshStatus): no server is asked on this path.
		s := sc.get(time.Now())
		s.DestinationRetrying = c.destRetrying()
		s.Paused = c.isPaused()
		s.ThrottleReason, s.Replicas = c.throttled()
		s.Throttled = s.ThrottleReason != ""
		writeJSON(w, s)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		switch st := c.getState(); st {
		case stateData, stateDelta:
			fmt.Fprintln(w, "ok")
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, st)
		}
	})
	mux.HandleFunc("POST /pause", func(w http.ResponseWriter, _ *http.Request) {
		c.pause()
		r.log.Info("paused through http", "stage", "http")
		writeJSON(w, settings())
	})
	mux.HandleFunc("POST /resume", func(w http.ResponseWriter, _ *http.Request) {
		c.resume()
		r.log.Info("resumed through http", "stage", "http")
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
			c.setBatchLimit(batch)
			r.log.Info("throttle changed through http", "stage", "http", "batch_changes", batch)
		}
		if lag > 0 {
			c.setMaxLag(lag)
			r.log.Info("throttle changed through http", "stage", "http", "max_replica_lag", lag.String())
		}
		writeJSON(w, settings())
	})
	return newHTTPGuard(r.cfg.HTTP, r.log, mux)
}
