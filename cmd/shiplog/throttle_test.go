//go:build !unit

package main

import (
	"context"
	"database/sql"
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

// replicaPassword is the password of the user shiplog watches the replica
// with; it must never appear in shiplog's output.
const replicaPassword = "r3pl1ca-S3cret"

// TestThrottleOnDestinationReplicaLag streams into a destination that has a
// replica of its own and checks that the writer waits while the replica does
// not keep up: with its SQL thread stopped (a problem, whatever the lag) and
// with replication delayed (lag above throttle.max_replica_lag, which POST
// /throttle raises live).
func TestThrottleOnDestinationReplicaLag(t *testing.T) {
	t.Parallel()
	src := testenv.MariaDBT(t, testenv.Options{Binlog: true, ServerID: 1})
	// The destination logs binlogs for its replica.
	dst := testenv.MariaDBT(t, testenv.Options{Binlog: true, ServerID: 2})
	replica := testenv.MariaDBT(t, testenv.Options{ServerID: 3})
	ctx := context.Background()

	// Replicate everything the destination writes from now on, the schema
	// included.
	var file string
	var pos int64
	dstRoot, err := dst.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer dstRoot.Close()
	if err := scanFirst(dstRoot, "SHOW MASTER STATUS", map[string]any{"File": &file, "Position": &pos}); err != nil {
		t.Fatal(err)
	}
	if err := replica.Exec(ctx, "",
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='root', MASTER_PASSWORD='', MASTER_USE_GTID=no, MASTER_LOG_FILE='%s', MASTER_LOG_POS=%d",
			dst.Port, file, pos),
		"START SLAVE",
		"CREATE USER 'watch'@'%' IDENTIFIED BY '"+replicaPassword+"'",
		"GRANT SELECT, REPLICATION CLIENT, SLAVE MONITOR ON *.* TO 'watch'@'%'",
	); err != nil {
		t.Fatal(err)
	}
	replicaDB, err := replica.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer replicaDB.Close()
	running := func() bool {
		t.Helper()
		var ioThread, sqlThread string
		if err := scanFirst(replicaDB, "SHOW SLAVE STATUS", map[string]any{"Slave_IO_Running": &ioThread, "Slave_SQL_Running": &sqlThread}); err != nil {
			t.Fatal(err)
		}
		return ioThread == "Yes" && sqlThread == "Yes"
	}
	waitFor(t, "the replica to replicate", 30*time.Second, running)

	if err := src.Exec(ctx, "", "CREATE DATABASE shop"); err != nil {
		t.Fatal(err)
	}
	if err := dst.Exec(ctx, "", "CREATE DATABASE shop_new"); err != nil {
		t.Fatal(err)
	}
	e := openEnv(t, src, dst)
	e.both(shopDDL)
	if _, err := e.srcDB.Exec("INSERT INTO orders (customer, amount, note, updated) SELECT CONCAT('seed-', seq), seq, 'n', NOW(6) FROM seq_1_to_50"); err != nil {
		t.Fatal(err)
	}

	httpPort, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	replicaAddr := replica.Addr()
	e.config = e.writeConfig(fmt.Sprintf(`source: {host: 127.0.0.1, port: %d, user: root, password: "", database: shop}
destination: {host: 127.0.0.1, port: %d, user: root, database: shop_new}
http: {listen: "127.0.0.1:%d", token: "%s"}
throttle:
  replicas: ["watch:%s@tcp(%s)/"]
  max_replica_lag: 1s
  replica_check_interval: 100ms
`, src.Port, dst.Port, httpPort, httpToken, replicaPassword, replicaAddr))
	e.mustRun("migrate", "data")

	d := startDaemon(t, e.config, "migrate", "delta")
	client := tokenClient(httpToken)
	get := func(path string) string {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, d.stderr)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		if strings.Contains(string(b), replicaPassword) {
			t.Fatalf("GET %s shows the replica's password:\n%s", path, b)
		}
		return string(b)
	}
	d.waitHealthz(t, base)

	type status struct {
		Throttled      bool   `json:"throttled"`
		ThrottleReason string `json:"throttle_reason"`
		Replicas       []struct {
			Replica    string   `json:"replica"`
			LagSeconds *float64 `json:"lag_seconds"`
			Problem    string   `json:"problem"`
		} `json:"replicas"`
	}
	httpStatus := func() status {
		t.Helper()
		var s status
		body := get("/status")
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatalf("/status is not JSON: %v\n%s", err, body)
		}
		return s
	}
	metric := func(name string) (string, bool) {
		t.Helper()
		for _, line := range strings.Split(get("/metrics"), "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				return v, true
			}
		}
		return "", false
	}
	lagMetric := fmt.Sprintf("shiplog_replica_lag_seconds{replica=%q}", replicaAddr)
	insert := func(prefix string, n int) {
		t.Helper()
		for i := range n {
			if _, err := e.srcDB.Exec("INSERT INTO orders (customer, amount, note, updated) VALUES (?, 1, 't', NOW(6))", fmt.Sprintf("%s-%d", prefix, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	arrived := func(db *sql.DB, prefix string) int {
		t.Helper()
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM shop_new.orders WHERE customer LIKE ?", prefix+"-%").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	unthrottled := func() bool {
		s := httpStatus()
		v, _ := metric("shiplog_throttled")
		return !s.Throttled && s.ThrottleReason == "" && v == "0"
	}

	// In step: rows arrive, on the replica too, nothing throttles.
	insert("before", 3)
	waitFor(t, "rows to reach the destination", 30*time.Second, func() bool { return arrived(e.dstDB, "before") == 3 })
	waitFor(t, "rows to reach the replica", 30*time.Second, func() bool { return arrived(replicaDB, "before") == 3 })
	waitFor(t, "throttled 0 with a lag measured", 15*time.Second, func() bool {
		s := httpStatus()
		v, ok := metric(lagMetric)
		return unthrottled() && len(s.Replicas) == 1 && s.Replicas[0].Replica == replicaAddr &&
			s.Replicas[0].LagSeconds != nil && ok && v != "NaN"
	})

	// The replica's SQL thread stops: the writer waits, whatever the lag.
	if err := replica.Exec(ctx, "", "STOP SLAVE SQL_THREAD"); err != nil {
		t.Fatal(err)
	}
	var s status
	waitFor(t, "/status to show throttled", 15*time.Second, func() bool {
		s = httpStatus()
		return s.Throttled
	})
	if want := "replica " + replicaAddr + ": replication SQL thread stopped"; s.ThrottleReason != want ||
		len(s.Replicas) != 1 || s.Replicas[0].Problem != "replication SQL thread stopped" {
		t.Fatalf("/status while the SQL thread is stopped: %+v, want reason %q", s, want)
	}
	if v, _ := metric("shiplog_throttled"); v != "1" {
		t.Fatalf("shiplog_throttled = %q while throttled", v)
	}
	insert("held", 4)
	// Nothing to poll for: the rows must stay away for a while.
	time.Sleep(2 * time.Second)
	if n := arrived(e.dstDB, "held"); n != 0 {
		t.Fatalf("%d row(s) reached the destination while throttled", n)
	}
	if v, _ := metric("shiplog_throttled"); v != "1" || !httpStatus().Throttled {
		t.Fatalf("no longer shown throttled while the SQL thread is stopped (shiplog_throttled %q)", v)
	}
	var th struct {
		MaxReplicaLag  string `json:"max_replica_lag"`
		Throttled      bool   `json:"throttled"`
		ThrottleReason string `json:"throttle_reason"`
	}
	if err := json.Unmarshal([]byte(get("/throttle")), &th); err != nil || th.MaxReplicaLag != "1s" || !th.Throttled || th.ThrottleReason == "" {
		t.Fatalf("GET /throttle while throttled: %+v %v", th, err)
	}
	if err := replica.Exec(ctx, "", "START SLAVE SQL_THREAD"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the held rows to arrive", 30*time.Second, func() bool { return arrived(e.dstDB, "held") == 4 })
	waitFor(t, "throttled 0 again", 15*time.Second, unthrottled)

	// Replication delayed: the lag itself goes over max_replica_lag. (Its
	// STOP SLAVE may be seen as a stopped SQL thread again: the log up to
	// here holds the first stop.)
	firstStop := d.stderr.String()
	if err := replica.Exec(ctx, "", "STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY=8", "START SLAVE"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delayed replica to run", 15*time.Second, running)
	insert("delayed", 1)
	waitFor(t, "the first delayed row to reach the destination", 30*time.Second, func() bool { return arrived(e.dstDB, "delayed") == 1 })
	waitFor(t, "throttled on lag", 15*time.Second, func() bool {
		s = httpStatus()
		return s.Throttled
	})
	if !strings.HasPrefix(s.ThrottleReason, "replica "+replicaAddr+" lag ") || !strings.HasSuffix(s.ThrottleReason, " > 1s") ||
		len(s.Replicas) != 1 || s.Replicas[0].LagSeconds == nil || *s.Replicas[0].LagSeconds <= 1 {
		t.Fatalf("/status while the replica lags: %+v", s)
	}
	if v, ok := metric(lagMetric); !ok {
		t.Fatalf("%s missing", lagMetric)
	} else if f, err := strconv.ParseFloat(v, 64); err != nil || f <= 1 {
		t.Fatalf("%s = %q while the replica lags", lagMetric, v)
	}
	// A row now waits for the replica...
	insert("lagheld", 1)
	time.Sleep(500 * time.Millisecond)
	if n := arrived(e.dstDB, "lagheld"); n != 0 || !httpStatus().Throttled {
		t.Fatalf("%d row(s) reached the destination while the replica lagged (or the throttle lifted too early: raise MASTER_DELAY)", n)
	}
	// ... until a higher limit, set live, lets the writer go at once.
	resp, err := client.PostForm(base+"/throttle", url.Values{"max_replica_lag": {"1m"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(body, &th); err != nil || resp.StatusCode != http.StatusOK || th.MaxReplicaLag != "1m0s" || th.Throttled {
		t.Fatalf("POST /throttle max_replica_lag=1m: %d %s", resp.StatusCode, body)
	}
	waitFor(t, "the held row to arrive under the raised limit", 30*time.Second, func() bool { return arrived(e.dstDB, "lagheld") == 1 })
	insert("raised", 2)
	waitFor(t, "rows to arrive under the raised limit", 30*time.Second, func() bool { return arrived(e.dstDB, "raised") == 2 })
	for _, bad := range []string{"max_replica_lag=0", "max_replica_lag=-1s", "max_replica_lag=500", "max_replica_lag=1s&max_replica_lag=2s"} {
		resp, err := client.Post(base+"/throttle?"+bad, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST /throttle?%s: %d, want 400", bad, resp.StatusCode)
		}
	}

	d.stop(t)
	logs := d.stderr.String()
	for _, want := range []string{
		`msg="throttled: replica ` + replicaAddr + `: replication SQL thread stopped"`,
		`msg="throttled: replica ` + replicaAddr + ` lag `,
		`msg="throttle lifted: writing again"`,
		"watching replica lag",
		"watch:***@tcp(" + replicaAddr + ")/shop_new",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log does not contain %q:\n%s", want, logs)
		}
	}
	stopped := `msg="throttled: replica ` + replicaAddr + `: replication SQL thread stopped"`
	if n, later := strings.Count(firstStop, stopped), strings.Count(logs[len(firstStop):], stopped); n != 1 || later > 1 {
		t.Errorf("the stopped SQL thread was logged as a throttle %d times, want once (and %d times for the STOP SLAVE of the delay, want at most once):\n%s", n, later, logs)
	}
	if strings.Contains(logs, replicaPassword) {
		t.Fatalf("the log shows the replica's password:\n%s", logs)
	}
}

// TestThrottleBadReplicaIsExit2 checks that a malformed throttle.replicas
// entry is a configuration error naming the key, without its password.
func TestThrottleBadReplicaIsExit2(t *testing.T) {
	t.Parallel()
	e := &env{t: t}
	for _, c := range []struct{ entry, want string }{
		{"watch:" + replicaPassword + "@tcp(127.0.0.1:3307)", "missing the slash"},
		{"watch:" + replicaPassword + "@tcp(127.0.0.1:3307/", "not a DSN"},
		{"watch:" + replicaPassword, "want host:port"},
	} {
		cfg := e.writeConfig(fmt.Sprintf("source: {database: shop}\ndestination: {database: d}\nthrottle: {replicas: [%q]}\n", c.entry))
		r := runShiplog(t, cfg, nil, "migrate", "delta")
		expectFailure(t, r, 2, "key throttle.replicas", "entry 1", c.want)
		if strings.Contains(r.stdout+r.stderr, replicaPassword) {
			t.Fatalf("the error shows the password:\n%s", r.stderr)
		}
	}
	cfg := e.writeConfig("source: {database: shop}\ndestination: {database: d}\nthrottle: {max_replica_lag: -2s}\n")
	expectFailure(t, runShiplog(t, cfg, nil, "run"), 2, "key throttle.max_replica_lag", "must be a duration")
	cfg = e.writeConfig("source: {database: shop}\ndestination: {database: d}\nthrottle: {replica_check_interval: 5}\n")
	expectFailure(t, runShiplog(t, cfg, nil, "run"), 2, "key throttle.replica_check_interval", "must be a duration")
}

// scanFirst reads the named columns of the first row of q.
func scanFirst(db *sql.DB, q string, into map[string]any) error {
	rows, err := db.Query(q)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return fmt.Errorf("%s: no rows", q)
	}
	ptrs := make([]any, len(cols))
	for i, c := range cols {
		if p, ok := into[c]; ok {
			ptrs[i] = p
			delete(into, c)
		} else {
			ptrs[i] = new(sql.RawBytes)
		}
	}
	if len(into) > 0 {
		return fmt.Errorf("%s: no column %v", q, into)
	}
	return rows.Scan(ptrs...)
}
