package ops

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	gomysql "github.com/go-sql-driver/mysql"

	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/internal/mysqlerr"
	"github.com/shiplog/shiplog/state"
)

// Replica lag throttling, in the spirit of gh-ost's --throttle-control-replicas
// and --max-lag-millis: a monitor measures every replica of the destination
// (throttle.replicas) each throttle.replica_check_interval, and the delta
// writer holds its next batch while one of them lags more than
// throttle.max_replica_lag or does not replicate at all.
//
// The lag is read from shiplog's own checkpoint row, which every batch
// rewrites on the destination with updated_at = UTC_TIMESTAMP(6) of the
// destination's clock and which replication carries to the replicas: a
// replica at the destination's position has lag 0; otherwise its lag is the
// destination's UTC_TIMESTAMP(6) now minus the updated_at the replica has
// (both times come from the destination's clock, so clocks need not agree).
// That is an upper bound: the replica may have applied writes of the
// destination newer than its checkpoint row, up to the next checkpoint.

// ReplicaLag is the last measurement of one destination replica, as /status
// shows it.
type ReplicaLag struct {
	// Replica is host:port.
	Replica string `json:"replica"`
	// LagSeconds is nil when the lag could not be measured.
	LagSeconds *float64 `json:"lag_seconds,omitempty"`
	// Problem, when set, makes the replica count as lagging whatever its
	// lag: replication stopped, unreachable, no checkpoint row yet.
	Problem    string    `json:"problem,omitempty"`
	MeasuredAt time.Time `json:"measured_at"`
}

// replicaLag is one measurement.
type replicaLag struct {
	addr    string
	lag     time.Duration
	known   bool // lag was measured
	problem string
	// failed: the problem is a failed check (a query error), not a state
	// of replication.
	failed bool
	at     time.Time
}

func (l replicaLag) view() ReplicaLag {
	v := ReplicaLag{Replica: l.addr, Problem: l.problem, MeasuredAt: l.at.UTC()}
	if l.known {
		s := l.lag.Seconds()
		v.LagSeconds = &s
	}
	return v
}

// checkpointRow is the checkpoint row of one server; ok is false when there
// is none (or no state table at all).
type checkpointRow struct {
	ok      bool
	pos     string
	updated time.Time
}

// computeLag is the lag of a replica whose checkpoint row is replica, when
// the destination (the primary) has primary and its clock reads now. problem
// is set when the replica counts as lagging without a measured lag.
func computeLag(primary checkpointRow, now time.Time, replica checkpointRow) (lag time.Duration, problem string) {
	switch {
	case !primary.ok:
		// Nothing written yet, so nothing to fall behind on.
		return 0, ""
	case !replica.ok:
		// It lacks at least the destination's last checkpoint.
		return max(now.Sub(primary.updated), 0), "no shiplog checkpoint row yet"
	case primary.pos == replica.pos:
		return 0, ""
	default:
		return max(now.Sub(replica.updated), 0), ""
	}
}

// throttleReason says why the writer must wait, or "" when it may write:
// the first replica with a problem, else the one lagging most when that is
// more than maxLag. measured is false until the first measurement is in.
func throttleReason(lags []replicaLag, maxLag time.Duration, measured bool) string {
	if !measured {
		return "replica lag not measured yet"
	}
	var worst *replicaLag
	for i := range lags {
		l := &lags[i]
		if l.problem != "" {
			return fmt.Sprintf("replica %s: %s", l.addr, l.problem)
		}
		if l.known && (worst == nil || l.lag > worst.lag) {
			worst = l
		}
	}
	if worst != nil && worst.lag > maxLag {
		return fmt.Sprintf("replica %s lag %s > %s", worst.addr, roundLag(worst.lag), maxLag)
	}
	return ""
}

func roundLag(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

// ReplicaWatch is what the replica monitor measures.
type ReplicaWatch struct {
	// Throttle holds the replicas (none: no monitor), the interval and
	// the lag limit to start with.
	Throttle config.Throttle
	// Primary is the destination; Schema its database, where the
	// checkpoint row is.
	Primary *sql.DB
	Schema  string
	Log     *slog.Logger
}

// WatchReplicas starts the replica monitor when w.Throttle.Replicas is set:
// until stop is called (or ctx ends) it measures every replica each
// interval and hands the measurements to c, which throttles the writer. stop
// waits for the monitor and closes its connections.
func WatchReplicas(ctx context.Context, c *Control, w ReplicaWatch) (stop func()) {
	th := w.Throttle
	if len(th.Replicas) == 0 || c == nil {
		return func() {}
	}
	addrs := make([]string, len(th.Replicas))
	m := &replicaMonitor{
		primary: w.Primary, schema: w.Schema, interval: th.ReplicaCheckInterval,
		log: w.Log.With("stage", "throttle"), ctl: c,
	}
	for i, rep := range th.Replicas {
		addrs[i] = rep.Addr
		var db *sql.DB
		conn, err := gomysql.NewConnector(rep.DriverConfig())
		if err == nil {
			db = sql.OpenDB(conn)
			db.SetMaxOpenConns(2)
			db.SetMaxIdleConns(2)
		}
		m.replicas = append(m.replicas, &watchedReplica{Replica: rep, db: db, openErr: err})
		m.log.Info("watching replica lag", "replica", rep.Redacted(), "max_replica_lag", th.MaxReplicaLag.String(),
			"interval", th.ReplicaCheckInterval.String())
	}
	c.watchReplicas(addrs, th.MaxReplicaLag)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.run(ctx)
	}()
	return func() {
		cancel()
		<-done
		for _, w := range m.replicas {
			if w.db != nil {
				w.db.Close()
			}
		}
	}
}

type replicaMonitor struct {
	primary  *sql.DB
	schema   string // the destination database, where the state tables are
	replicas []*watchedReplica
	interval time.Duration
	log      *slog.Logger
	ctl      *Control
}

type watchedReplica struct {
	config.Replica
	db      *sql.DB
	openErr error
	// replicaStatus: the server rejected SHOW SLAVE STATUS (MySQL 8.4), so
	// SHOW REPLICA STATUS is used. Only the monitor goroutine touches it.
	replicaStatus bool
	problem       string // the last problem logged
}

func (m *replicaMonitor) run(ctx context.Context) {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		lags := m.measure(ctx)
		if ctx.Err() != nil {
			return
		}
		m.ctl.setReplicaLags(lags)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// measure takes one measurement of every replica, in parallel. A replica
// that does not answer within the timeout counts as unreachable.
func (m *replicaMonitor) measure(ctx context.Context) []replicaLag {
	qctx, cancel := context.WithTimeout(ctx, max(2*m.interval, 3*time.Second))
	defer cancel()
	primary, now, perr := readPrimaryCheckpoint(qctx, m.primary, m.schema)
	lags := make([]replicaLag, len(m.replicas))
	var wg sync.WaitGroup
	for i, w := range m.replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lags[i] = m.measureOne(qctx, w, primary, now, perr)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return lags
	}
	for i, w := range m.replicas {
		l := lags[i]
		if l.failed {
			m.ctl.CountError("replica_check", 1)
		}
		switch {
		case l.problem == w.problem:
		case l.problem == "":
			m.log.Info("replica replicating again", "replica", w.Addr)
		default:
			m.log.Warn("replica counts as lagging", "replica", w.Addr, "reason", l.problem)
		}
		w.problem = l.problem
	}
	return lags
}

func (m *replicaMonitor) measureOne(ctx context.Context, w *watchedReplica, primary checkpointRow, now time.Time, perr error) replicaLag {
	l := replicaLag{addr: w.Addr, at: time.Now()}
	if w.openErr != nil {
		l.problem, l.failed = "unreachable: "+w.scrub(w.openErr), true
		return l
	}
	threads, err := w.replicationProblem(ctx)
	if err != nil {
		if _, ok := mysqlerr.Number(err); ok {
			l.problem = "replication status: " + w.scrub(err)
		} else {
			l.problem = "unreachable: " + w.scrub(err)
		}
		l.failed = true
		return l
	}
	ckpt, err := readCheckpoint(ctx, w.db, w.Schema)
	switch {
	case err != nil:
		l.problem, l.failed = "checkpoint: "+w.scrub(err), true
	case perr != nil:
		// Without the destination's side there is nothing to compare with.
		l.problem, l.failed = "destination checkpoint: "+perr.Error(), true
	default:
		l.lag, l.problem = computeLag(primary, now, ckpt)
		l.known = l.problem == ""
	}
	if threads != "" {
		l.problem = threads
	}
	return l
}

// scrub removes the replica's password from texts shiplog did not write
// (driver and server errors), belt and braces: none is known to quote it.
func (w *watchedReplica) scrub(err error) string {
	s := err.Error()
	if pw := w.Password(); pw != "" {
		s = strings.ReplaceAll(s, pw, "***")
	}
	return s
}

// replicationProblem reads SHOW SLAVE STATUS (SHOW REPLICA STATUS where the
// server no longer knows the former, MySQL 8.4) and says what is wrong with
// replication: "" when both threads run.
func (w *watchedReplica) replicationProblem(ctx context.Context) (string, error) {
	q := "SHOW SLAVE STATUS"
	if w.replicaStatus {
		q = "SHOW REPLICA STATUS"
	}
	rows, err := w.db.QueryContext(ctx, q)
	if !w.replicaStatus && mysqlerr.Is(err, gmysql.ER_PARSE_ERROR) {
		w.replicaStatus = true
		return w.replicationProblem(ctx)
	}
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return "", err
		}
		return "not a replica (" + q + " is empty)", nil
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return "", err
	}
	get := func(names ...string) string {
		for _, n := range names {
			for i, c := range cols {
				if strings.EqualFold(c, n) {
					return vals[i].String
				}
			}
		}
		return ""
	}
	detail := func(s string) string {
		if s = strings.TrimSpace(s); s == "" {
			return ""
		}
		if len(s) > 200 {
			s = s[:200] + "..."
		}
		return ": " + s
	}
	if st := get("Slave_SQL_Running", "Replica_SQL_Running"); st != "Yes" {
		return "replication SQL thread stopped" + detail(get("Last_SQL_Error")), nil
	}
	if st := get("Slave_IO_Running", "Replica_IO_Running"); st != "Yes" {
		state := "stopped"
		if st != "" && st != "No" {
			state = strings.ToLower(st) // Connecting, Preparing
		}
		return "replication IO thread " + state + detail(get("Last_IO_Error")), nil
	}
	return "", rows.Err()
}

// readPrimaryCheckpoint reads the destination's checkpoint row and its
// clock, UTC_TIMESTAMP(6), the clock updated_at is written with.
func readPrimaryCheckpoint(ctx context.Context, db *sql.DB, schema string) (checkpointRow, time.Time, error) {
	row, now, err := state.ReadCheckpointRowAndClock(ctx, db, schema)
	return checkpointRow{ok: row.OK, pos: row.Pos, updated: row.Updated}, now, err
}

// readCheckpoint reads a replica's copy of the checkpoint row; a missing
// row, table or schema is no row.
func readCheckpoint(ctx context.Context, db *sql.DB, schema string) (checkpointRow, error) {
	row, err := state.ReadCheckpointRow(ctx, db, schema)
	return checkpointRow{ok: row.OK, pos: row.Pos, updated: row.Updated}, err
}

// watchReplicas makes c throttle on the replicas at addrs, starting with
// maxLag; until the first measurement the writer waits.
func (c *Control) watchReplicas(addrs []string, maxLag time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watching = true
	c.maxReplicaLag = maxLag
	c.replicaLags = nil
	for _, a := range addrs {
		c.replicaLagG.WithLabelValues(a).Set(math.NaN())
	}
	c.updateThrottleLocked()
}

// setReplicaLags records a measurement and wakes a waiting writer.
func (c *Control) setReplicaLags(lags []replicaLag) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.replicaLags = lags
	c.measured = true
	for _, l := range lags {
		v := math.NaN()
		if l.known {
			v = l.lag.Seconds()
		}
		c.replicaLagG.WithLabelValues(l.addr).Set(v)
	}
	c.updateThrottleLocked()
}

// maxLag is the live throttle.max_replica_lag.
func (c *Control) MaxLag() time.Duration {
	if c == nil {
		return config.DefaultMaxReplicaLag
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxReplicaLag
}

func (c *Control) SetMaxLag(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.maxReplicaLag = d
	c.updateThrottleLocked()
}

// updateThrottleLocked recomputes the throttle, sets shiplog_throttled and
// wakes whoever waits on the previous state.
func (c *Control) updateThrottleLocked() {
	c.throttleReason = ""
	if c.watching {
		c.throttleReason = throttleReason(c.replicaLags, c.maxReplicaLag, c.measured)
	}
	if c.throttleReason != "" {
		c.throttledG.Set(1)
	} else {
		c.throttledG.Set(0)
	}
	if c.throttleWake != nil {
		close(c.throttleWake)
	}
	c.throttleWake = make(chan struct{})
}

// throttled reports why the writer is held back by replica lag ("" when it
// is not) and the last measurement of each replica.
func (c *Control) Throttled() (reason string, lags []ReplicaLag) {
	if c == nil {
		return "", nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.replicaLags {
		lags = append(lags, l.view())
	}
	return c.throttleReason, lags
}

// hold blocks the writer before its next batch while it is paused (POST
// /pause) or throttled (a replica lags); it returns nil when neither holds
// any more, or ctx's error when ctx ends first. A throttle is logged once
// when it starts holding the writer and once when it lets go.
func (c *Control) Hold(ctx context.Context, log *slog.Logger) error {
	if c == nil {
		return nil
	}
	var since time.Time
	for {
		if err := c.waitResumed(ctx); err != nil {
			return err
		}
		c.mu.Lock()
		paused, reason, wake := c.paused, c.throttleReason, c.throttleWake
		c.mu.Unlock()
		if paused {
			continue
		}
		if reason == "" {
			if !since.IsZero() {
				log.Info("throttle lifted: writing again", "stage", "throttle", "throttled_for", time.Since(since).Round(time.Millisecond).String())
			}
			return nil
		}
		if since.IsZero() {
			since = time.Now()
			log.Info("throttled: "+reason, "stage", "throttle")
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
