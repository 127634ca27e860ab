//go:build !unit

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestCrashIsNotABadConfig: a panic in a goroutine and a fatal runtime error
// (the path an out-of-memory takes) end shiplog with SIGABRT and the trace,
// also in the --log-file, never with exit 2, which stays a bad configuration.
func TestCrashIsNotABadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// The runtime prints a fatal error's first line to stderr only; its trace
	// goes to the log file too.
	for _, c := range []struct{ kind, trace, logged string }{
		{"panic", "panic: shiplog crash: on purpose", "panic: shiplog crash: on purpose"},
		{"fatal", "fatal error: stack overflow", "main.recurse"},
	} {
		t.Run(c.kind, func(t *testing.T) {
			logFile := filepath.Join(dir, c.kind+".log")
			cmd := exec.Command(binary, "--log-file", logFile, "crash", c.kind)
			cmd.Env = append(os.Environ(), "GOTRACEBACK=")
			cmd.Dir = dir // where a core file would land
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("crash %s: %v, want it killed by SIGABRT", c.kind, err)
			}
			ws := ee.Sys().(syscall.WaitStatus)
			if !ws.Signaled() || ws.Signal() != syscall.SIGABRT {
				t.Fatalf("crash %s: %v (exit code %d), want killed by SIGABRT\n%s", c.kind, err, ee.ExitCode(), stderr.String())
			}
			if !strings.Contains(stderr.String(), c.trace) {
				t.Fatalf("stderr does not hold %q:\n%s", c.trace, stderr.String())
			}
			logged, err := os.ReadFile(logFile)
			if err != nil || !strings.Contains(string(logged), c.logged) {
				t.Fatalf("the log file does not hold %q (%v):\n%s", c.logged, err, logged)
			}
			if _, err := os.Stat(filepath.Join(dir, "core")); err == nil {
				t.Fatal("a core file was written")
			}
		})
	}
	// The user's GOTRACEBACK wins: then the runtime's own exit 2.
	cmd := exec.Command(binary, "crash", "panic")
	cmd.Env = append(os.Environ(), "GOTRACEBACK=single")
	if err := cmd.Run(); exitCode(t, err) != 2 {
		t.Fatalf("GOTRACEBACK=single: %v, want exit 2", err)
	}
	// A bad configuration is still exit 2.
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("source: {database: shop, password: 98765432123}\ndestination: {database: d}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runShiplog(t, cfg, nil, "status")
	expectFailure(t, r, 2, "key source.password", "must be a string")
	if strings.Contains(r.stderr, "98765432123") {
		t.Fatalf("the error shows the password:\n%s", r.stderr)
	}
}
