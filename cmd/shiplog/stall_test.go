//go:build !unit

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shiplog/shiplog/internal/testenv"
)

// startLogged starts shiplog in the background with its stderr readable
// while it runs; the test's end kills it if it still runs. wait waits for
// it to exit.
func startLogged(t *testing.T, config string, args ...string) (cmd *exec.Cmd, stderr *testenv.Buffer, wait func() error) {
	t.Helper()
	cmd = exec.Command(binary, append([]string{"--config", config}, args...)...)
	stderr = &testenv.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var err error
	go func() { err = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	return cmd, stderr, func() error { <-exited; return err }
}

// timedGet GETs url and returns how long the answer took; the test fails if
// there is none within 10s.
func timedGet(t *testing.T, url string) (time.Duration, []byte) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	start := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v (after %v)", url, err, time.Since(start))
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	took := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b.String())
	}
	return took, b.Bytes()
}

// statusAnswersFast GETs /status for the given time, a request every 50 ms
// (back to back, the test and shiplog's HTTP server spent a core on it; a
// stall of 1s cannot fall between two requests either way), and fails the
// test if an answer takes 1s or more.
func statusAnswersFast(t *testing.T, base, while string, during time.Duration) {
	t.Helper()
	end := time.Now().Add(during)
	n := 0
	for ; n == 0 || time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		took, body := timedGet(t, base+"/status")
		var s struct {
			Mode string `json:"mode"`
		}
		if err := json.Unmarshal(body, &s); err != nil {
			t.Fatalf("/status %s is not JSON: %v\n%s", while, err, body)
		}
		if took >= time.Second {
			t.Fatalf("/status %s took %v, want under 1s", while, took)
		}
		n++
	}
}

// TestStalledSourceConnectionIsReplaced puts a proxy between shiplog and the
// source, delays every packet by 500ms, then stalls the open connections
// (held open, nothing passes) while the source is written. /status answers
// within a second throughout; within a few heartbeat periods the stall is
// logged and the binlog connection replaced, and the destination converges.
// Before, the stream waited forever on the stalled connection and /status
// waited on the source.
func TestStalledSourceConnectionIsReplaced(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "full_row_tables: [events]")
	e.seedShop(200)
	e.mustRun("migrate", "data")

	proxy := testenv.NewProxy(t, e.src.Addr())
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cfg := e.writeConfig(fmt.Sprintf(`source: {host: 127.0.0.1, port: %d, user: root, password: "", database: shop}
destination: {host: 127.0.0.1, port: %d, user: root, database: shop_new}
options: {full_row_tables: [events]}
http: {listen: "127.0.0.1:%d"}
timeouts: {binlog_stall: 3s}
`, proxy.Port(), e.dst.Port, port))
	cmd, stderr, wait := startLogged(t, cfg, "migrate", "delta")
	t.Cleanup(func() {
		if t.Failed() {
			_ = cmd.Process.Signal(syscall.SIGQUIT)
			_ = wait()
			t.Logf("migrate delta stderr:\n%s", stderr.String())
		}
	})
	checkpoint := func() string {
		var pos string
		_ = e.dstDB.QueryRow("SELECT position FROM _shiplog_checkpoint").Scan(&pos)
		return pos
	}
	before := checkpoint()
	stopWrites := e.writer(21)
	waitFor(t, "the stream to checkpoint", 60*time.Second, func() bool { return checkpoint() != before })
	statusAnswersFast(t, base, "with the source fast", time.Second)

	proxy.Delay(500 * time.Millisecond)
	statusAnswersFast(t, base, "with 500ms source latency", 3*time.Second)
	proxy.Delay(0)

	proxy.Stall()
	statusAnswersFast(t, base, "with the source stalled", 3*time.Second)
	waitFor(t, "the stall to be logged", 30*time.Second, func() bool {
		return strings.Contains(stderr.String(), "binlog stream stalled: no event for 3s, reconnecting")
	})
	// Changes made after the stall arrive over the new connection.
	if err := stopWrites(); err != nil {
		t.Fatal(err)
	}
	res, err := e.srcDB.Exec("UPDATE orders SET amount = 4242 WHERE id <= 50")
	if err != nil {
		t.Fatal(err)
	}
	marked, _ := res.RowsAffected()
	waitFor(t, "changes after the stall", 60*time.Second, func() bool {
		var n int64
		_ = e.dstDB.QueryRow("SELECT COUNT(*) FROM orders WHERE amount = 4242").Scan(&n)
		return n == marked
	})
	waitFor(t, "the destination to equal the source", 60*time.Second, func() bool {
		diffs, err := testenv.CompareDatabases(context.Background(), e.srcDB, "shop", e.dstDB, "shop_new")
		return err == nil && len(diffs) == 0
	})
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := wait(); err != nil {
		t.Fatalf("migrate delta: %v\n%s", err, tail(stderr.String()))
	}
	e.assertIdentical()
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "stalled") {
			t.Log(line)
		}
	}
}

// TestServerWithoutHandshakeFailsWithinTheDeadline points each server in
// turn (source, destination, Kafka broker) at a listener that accepts
// connections and never answers: every command fails within its deadline
// (timeouts.connect for the databases) with an error naming the server and
// the remedy. Before, the database cases waited forever for the handshake.
func TestServerWithoutHandshakeFailsWithinTheDeadline(t *testing.T) {
	t.Parallel()
	src, dst := testenv.SourceAndDest(t, "shop", "shop_new")
	hole := testenv.NewBlackhole(t)
	e := openEnv(t, src, dst)
	e.both(shopDDL)
	if err := dst.Exec(context.Background(), "", "CREATE DATABASE pubstate"); err != nil {
		t.Fatal(err)
	}
	silentDB := fmt.Sprintf("root:***@tcp(127.0.0.1:%d)/", hole.Port())
	handshake := []string{"no MySQL handshake within 2s (timeouts.connect)", "raise timeouts.connect"}
	silentKafka := fmt.Sprintf("kafka brokers 127.0.0.1:%d", hole.Port())
	cases := []struct {
		silent string // source, destination or kafka
		args   []string
		within time.Duration
		want   []string
	}{
		{"source", []string{"status"}, 10 * time.Second, append([]string{"source " + silentDB}, handshake...)},
		{"destination", []string{"status"}, 10 * time.Second, append([]string{"destination " + silentDB}, handshake...)},
		{"source", []string{"migrate", "data"}, 10 * time.Second, append([]string{"source " + silentDB}, handshake...)},
		{"destination", []string{"migrate", "data"}, 10 * time.Second, append([]string{"destination " + silentDB}, handshake...)},
		{"source", []string{"run"}, 10 * time.Second, append([]string{"source " + silentDB}, handshake...)},
		{"destination", []string{"verify"}, 10 * time.Second, append([]string{"destination " + silentDB}, handshake...)},
		// Kafka's deadlines are fixed: 10s to read the cluster metadata when
		// publishing, 20s when applying.
		{"kafka", []string{"run"}, 25 * time.Second, []string{silentKafka, "no cluster metadata within 10s; check that these are Kafka brokers"}},
		{"kafka", []string{"apply", "--from-kafka"}, 25 * time.Second, []string{silentKafka, "cannot read metadata"}},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " ")+" with a silent "+c.silent, func(t *testing.T) {
			srcPort, dstPort, dstDB, kafka := src.Port, dst.Port, "shop_new", ""
			switch c.silent {
			case "source":
				srcPort = hole.Port()
			case "destination":
				dstPort = hole.Port()
			case "kafka":
				kafka = fmt.Sprintf("kafka: {brokers: [\"127.0.0.1:%d\"]}\n", hole.Port())
				if c.args[0] == "run" {
					kafka += "sink: kafka\n"
					dstDB = "pubstate"
				}
			}
			config := e.writeConfig(fmt.Sprintf(`source: {host: 127.0.0.1, port: %d, user: root, password: "", database: shop}
destination: {host: 127.0.0.1, port: %d, user: root, database: %s}
timeouts: {connect: 2s}
%s`, srcPort, dstPort, dstDB, kafka))
			ctx, cancel := context.WithTimeout(context.Background(), c.within+30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, append([]string{"--config", config}, c.args...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			start := time.Now()
			err := cmd.Run()
			took := time.Since(start)
			if ctx.Err() != nil {
				t.Fatalf("still running after %v: killed\n%s", took, stderr.String())
			}
			if err == nil {
				t.Fatalf("exit 0 against a server that never answers\n%s", stderr.String())
			}
			if took > c.within {
				t.Fatalf("failed after %v, want within %v\n%s", took, c.within, stderr.String())
			}
			for _, w := range c.want {
				if !strings.Contains(stderr.String(), w) {
					t.Fatalf("stderr does not say %q:\n%s", w, stderr.String())
				}
			}
			t.Logf("%v, %s", took, strings.TrimSpace(stderr.String()))
		})
	}
}
