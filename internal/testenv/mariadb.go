// Package testenv starts real servers for tests and the demo: MariaDB instances on
// free loopback ports in temporary folders. Servers started here are stopped by the
// process id this package recorded, never by name.
package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Options configure a MariaDB server.
type Options struct {
	// Binlog turns the binary log on (ROW format, FULL image and metadata unless
	// overridden below).
	Binlog bool
	// BinlogFormat overrides binlog_format (e.g. "STATEMENT").
	BinlogFormat string
	// RowMetadata overrides binlog_row_metadata (e.g. "MINIMAL").
	RowMetadata string
	// ServerID is the server_id; 0 picks 1.
	ServerID int
	// ExtraArgs are appended to the mariadbd command line.
	ExtraArgs []string
	// Dir, when set, is the data folder to use (kept on Stop); otherwise a
	// temporary folder is made and removed on Stop.
	Dir string
	// LogOutput receives the server's error log; nil discards it.
	LogOutput *os.File
}

// MariaDB is a running server started by this package.
type MariaDB struct {
	Port    int
	Dir     string
	Socket  string
	cmd     *exec.Cmd
	keepDir bool
	done    chan error
}

// ErrNoMariaDB is returned when the MariaDB server binaries are not installed.
var ErrNoMariaDB = errors.New("mariadbd and mariadb-install-db not found (install Debian's mariadb-server)")

func lookBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/usr/local/mysql/bin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", ErrNoMariaDB
}

// Available reports whether MariaDB can be started here.
func Available() error {
	if _, err := lookBinary("mariadbd"); err != nil {
		return err
	}
	_, err := lookBinary("mariadb-install-db")
	return err
}

// FreePort returns a free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartMariaDB initialises a data folder and starts mariadbd on a free loopback
// port, returning once it accepts connections (or ctx ends).
func StartMariaDB(ctx context.Context, o Options) (*MariaDB, error) {
	mariadbd, err := lookBinary("mariadbd")
	if err != nil {
		return nil, err
	}
	installDB, err := lookBinary("mariadb-install-db")
	if err != nil {
		return nil, err
	}
	m := &MariaDB{Dir: o.Dir, keepDir: o.Dir != "", done: make(chan error, 1)}
	if m.Dir == "" {
		if m.Dir, err = os.MkdirTemp("", "shiplog-mariadb-"); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(m.Dir, "data")
	m.Socket = filepath.Join(m.Dir, "mysql.sock")
	// A private tmpdir: servers (and mariadb-install-db's bootstrap server)
	// sharing /tmp trip over each other's temporary table files.
	tmp := filepath.Join(m.Dir, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		m.cleanup()
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(data, "mysql")); err != nil {
		if err := os.MkdirAll(data, 0o755); err != nil {
			return nil, err
		}
		args := []string{"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal", "--skip-test-db"}
		if os.Geteuid() == 0 {
			args = append(args, "--user=root")
		}
		cmd := exec.CommandContext(ctx, installDB, args...)
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		out, err := cmd.CombinedOutput()
		if err != nil {
			m.cleanup()
			return nil, fmt.Errorf("mariadb-install-db: %w: %s", err, firstLines(string(out), 4))
		}
	}
	if m.Port, err = FreePort(); err != nil {
		m.cleanup()
		return nil, err
	}
	serverID := o.ServerID
	if serverID == 0 {
		serverID = 1
	}
	args := []string{"--no-defaults", "--datadir=" + data, fmt.Sprintf("--port=%d", m.Port),
		"--bind-address=127.0.0.1", "--socket=" + m.Socket, fmt.Sprintf("--server-id=%d", serverID),
		"--pid-file=" + filepath.Join(m.Dir, "mariadbd.pid"),
		"--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
		"--innodb-buffer-pool-size=256M", "--innodb-log-file-size=256M", "--innodb-flush-log-at-trx-commit=2",
		"--max-connections=500", "--skip-name-resolve", "--tmpdir=" + tmp, "--log-error=" + filepath.Join(m.Dir, "error.log"),
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	if o.Binlog {
		format, meta := "ROW", "FULL"
		if o.BinlogFormat != "" {
			format = o.BinlogFormat
		}
		if o.RowMetadata != "" {
			meta = o.RowMetadata
		}
		args = append(args, "--log-bin="+filepath.Join(data, "binlog"), "--binlog-format="+format,
			"--binlog-row-image=FULL", "--binlog-row-metadata="+meta, "--sync-binlog=0")
	}
	args = append(args, o.ExtraArgs...)
	m.cmd = exec.Command(mariadbd, args...)
	m.cmd.Stdout, m.cmd.Stderr = o.LogOutput, o.LogOutput
	// The server dies with the process that started it, so a killed test run
	// leaves nothing behind.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		m.cleanup()
		return nil, fmt.Errorf("start mariadbd: %w", err)
	}
	go func() { m.done <- m.cmd.Wait() }()
	if err := m.waitReady(ctx); err != nil {
		_ = m.Stop()
		return nil, err
	}
	return m, nil
}

func (m *MariaDB) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		db, err := sql.Open("mysql", m.DSN(""))
		if err == nil {
			err = db.PingContext(ctx)
			db.Close()
			if err == nil {
				return nil
			}
		}
		select {
		case werr := <-m.done:
			m.done <- werr
			log, _ := os.ReadFile(filepath.Join(m.Dir, "error.log"))
			return fmt.Errorf("mariadbd exited during start-up (%v): %s", werr, lastLines(string(log), 8))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mariadbd on port %d not ready after 60s: %v", m.Port, err)
		}
	}
}

// Addr is "127.0.0.1:port".
func (m *MariaDB) Addr() string { return fmt.Sprintf("127.0.0.1:%d", m.Port) }

// DSN returns a go-sql-driver DSN for root on database db ("" for none), with the
// utf8mb4 connection charset.
func (m *MariaDB) DSN(db string) string {
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr, c.DBName = "root", "tcp", m.Addr(), db
	c.Params = map[string]string{"charset": "utf8mb4"}
	c.InterpolateParams = true
	c.MultiStatements = true
	return c.FormatDSN()
}

// Open opens a pool on database db as root.
func (m *MariaDB) Open(db string) (*sql.DB, error) {
	return sql.Open("mysql", m.DSN(db))
}

// Exec runs each statement as root in database db ("" for none).
func (m *MariaDB) Exec(ctx context.Context, db string, stmts ...string) error {
	conn, err := m.Open(db)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", firstLine(s), err)
		}
	}
	return nil
}

// Kill stops the server with SIGKILL (a crash) and waits for it; the data folder
// stays so the server can be started again on it.
func (m *MariaDB) Kill() error {
	if m.cmd == nil || m.cmd.Process == nil {
		return nil
	}
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	<-m.done
	m.done <- nil
	return nil
}

// Stop shuts the server down and removes its temporary folder. A server on a
// temporary folder is killed at once (its data is thrown away anyway); one on a
// kept folder gets SIGTERM, then SIGKILL after 20s.
func (m *MariaDB) Stop() error {
	if m.cmd != nil && m.cmd.Process != nil {
		sig := syscall.SIGTERM
		if !m.keepDir {
			sig = syscall.SIGKILL
		}
		_ = m.cmd.Process.Signal(sig)
		select {
		case err := <-m.done:
			m.done <- err
		case <-time.After(20 * time.Second):
			_ = m.cmd.Process.Signal(syscall.SIGKILL)
			err := <-m.done
			m.done <- err
		}
	}
	m.cleanup()
	return nil
}

func (m *MariaDB) cleanup() {
	if !m.keepDir && m.Dir != "" {
		os.RemoveAll(m.Dir)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " | ")
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

// Pid is the server's process id.
func (m *MariaDB) Pid() int { return m.cmd.Process.Pid }

// CPUSeconds is the CPU time (user + system) the server's process has used.
func (m *MariaDB) CPUSeconds() (float64, error) { return ProcessCPUSeconds(m.Pid()) }

// ProcessCPUSeconds reads a process's user + system CPU time from /proc.
func ProcessCPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return float64(utime+stime) / 100, nil // USER_HZ is 100 on Linux
}
