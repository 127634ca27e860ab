// Package testenv starts real servers for tests and the demo: MariaDB instances on
// free loopback ports in temporary folders. Servers started here are stopped by the
// process id this package recorded, never by name.
package testenv

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	// Disk keeps a test's server (MariaDBT) on disk, where the other tests'
	// servers are in memory (see memoryDir).
	Disk bool
	// Schemas are databases the server starts with (when its data folder is
	// new): see schemaTemplate.
	Schemas []Schema
}

// Schema is a database named DB made by the statements of the SQL file File
// (run as ExecFile runs them, on one connection).
type Schema struct{ DB, File string }

// MariaDB is a running server started by this package.
type MariaDB struct {
	Port    int
	Dir     string
	Socket  string
	cmd     *exec.Cmd
	keepDir bool
	done    chan error
	// template is the data folder it started from (see Reset).
	template *dataTemplate
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

// handedOut holds the ports FreePort returned in this process: tests run in
// parallel, and a port one test was given (for a server not yet listening, or
// stopped to be restarted on it) is never given to another.
var handedOut struct {
	sync.Mutex
	ports map[int]bool
}

// FreePort returns a free TCP port on 127.0.0.1, never one it returned before
// in this process.
func FreePort() (int, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut.ports[port] {
			if handedOut.ports == nil {
				handedOut.ports = map[int]bool{}
			}
			handedOut.ports[port] = true
			return port, nil
		}
	}
	return 0, errors.New("no free port not handed out before")
}

// templates are data folders held in memory, each made once per process:
// "" a fresh one as mariadb-install-db makes it (see installDataDir), other
// keys one with schemas loaded (see schemaTemplate).
var templates struct {
	sync.Mutex
	m map[string]*dataTemplate
}

type dataTemplate struct {
	once  sync.Once
	files []templateFile
	err   error
}

// templateFile is a folder or a file of the template: its non-zero blocks
// and its size (the rest is zeros, written as holes).
type templateFile struct {
	rel    string
	dir    bool
	mode   fs.FileMode
	size   int64
	blocks []templateBlock
}

type templateBlock struct {
	off  int64
	data []byte
}

// installDataDir fills the empty folder data with a fresh server's system
// tables, and o.Schemas. mariadb-install-db takes seconds, so it runs once
// per process, into a temporary folder read into memory (about 10 MB: its
// redo log is mostly zeros) and removed; each server gets a copy of that.
func installDataDir(installDB, data string, o Options, parent string) (*dataTemplate, error) {
	key := ""
	if len(o.Schemas) > 0 {
		key = fmt.Sprint(o.Schemas, o.ExtraArgs)
	}
	templates.Lock()
	if templates.m == nil {
		templates.m = map[string]*dataTemplate{}
	}
	tp := templates.m[key]
	if tp == nil {
		tp = &dataTemplate{}
		templates.m[key] = tp
	}
	templates.Unlock()
	tp.once.Do(func() {
		if key == "" {
			tp.files, tp.err = makeTemplate(installDB)
		} else {
			tp.files, tp.err = schemaTemplate(o, parent)
		}
	})
	if tp.err != nil {
		return nil, tp.err
	}
	return tp, tp.writeUnder(data)
}

func (tp *dataTemplate) writeUnder(data string) error {
	for _, f := range tp.files {
		if err := f.writeUnder(data); err != nil {
			return err
		}
	}
	return nil
}

func makeTemplate(installDB string) ([]templateFile, error) {
	dir, err := os.MkdirTemp("", "shiplog-mariadb-template-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	data, tmp := filepath.Join(dir, "data"), filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	args := []string{"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal", "--skip-test-db"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	// No context: the template outlives the test that happens to make it.
	cmd := exec.Command(installDB, args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mariadb-install-db: %w: %s", err, firstLines(string(out), 4))
	}
	return readTemplate(data)
}

// schemaTemplate is a data folder with o.Schemas loaded (the real Magento
// schemas: 340-360 tables each, seconds to load under load), for the
// servers started with the same schemas and extra arguments. It is the
// whole folder of a server that loaded them without a binary log and was
// shut down cleanly: the system tablespace and the tables' files must come
// from one server, and no copy replays the load from a binary log.
func schemaTemplate(o Options, parent string) ([]templateFile, error) {
	// Not the test's context: the template outlives the test that makes it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp(parent, fmt.Sprintf("shiplog-mariadb-%d-", os.Getpid()))
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// Dir set: Stop shuts it down with SIGTERM, cleanly, and keeps the folder.
	m, err := startMariaDB(ctx, Options{Dir: dir, ExtraArgs: o.ExtraArgs}, parent)
	if err != nil {
		return nil, err
	}
	for _, s := range o.Schemas {
		err = m.Exec(ctx, "", "CREATE DATABASE `"+s.DB+"`")
		if err == nil {
			err = m.execFile(ctx, s)
		}
		if err != nil {
			_ = m.Kill()
			return nil, err
		}
	}
	_ = m.Stop()
	return readTemplate(filepath.Join(dir, "data"))
}

func (m *MariaDB) execFile(ctx context.Context, s Schema) error {
	db, err := m.Open(s.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	return ExecFile(ctx, db, s.File)
}

// readTemplate reads the data folder data into memory, but for the
// buffer pool's dump (a copy need not load the template's pages).
func readTemplate(data string) ([]templateFile, error) {
	var files []templateFile
	err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(data, path)
		if err != nil || rel == "." || rel == "ib_buffer_pool" {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		f := templateFile{rel: rel, dir: d.IsDir(), mode: info.Mode().Perm()}
		if !f.dir {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			f.size = int64(len(b))
			const bs = 64 << 10
			for off := 0; off < len(b); off += bs {
				block := b[off:min(off+bs, len(b))]
				if bytes.Count(block, []byte{0}) != len(block) {
					f.blocks = append(f.blocks, templateBlock{int64(off), bytes.Clone(block)})
				}
			}
		}
		files = append(files, f)
		return nil
	})
	return files, err
}

func (f templateFile) writeUnder(data string) error {
	path := filepath.Join(data, f.rel)
	if f.dir {
		return os.Mkdir(path, f.mode)
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
	if err != nil {
		return err
	}
	for _, b := range f.blocks {
		if _, err := out.WriteAt(b.data, b.off); err != nil {
			out.Close()
			return err
		}
	}
	if err := out.Truncate(f.size); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// StartMariaDB initialises a data folder and starts mariadbd on a free loopback
// port, returning once it accepts connections (or ctx ends).
func StartMariaDB(ctx context.Context, o Options) (*MariaDB, error) {
	return startMariaDB(ctx, o, "")
}

// startMariaDB is StartMariaDB with the temporary folder (when o.Dir is
// empty) made under parent ("" for os.TempDir()).
func startMariaDB(ctx context.Context, o Options, parent string) (*MariaDB, error) {
	mariadbd, err := lookBinary("mariadbd")
	if err != nil {
		return nil, err
	}
	installDB, err := lookBinary("mariadb-install-db")
	if err != nil {
		return nil, err
	}
	m := &MariaDB{Dir: o.Dir, keepDir: o.Dir != ""}
	if m.Dir == "" {
		if m.Dir, err = os.MkdirTemp(parent, fmt.Sprintf("shiplog-mariadb-%d-", os.Getpid())); err != nil {
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
		if m.template, err = installDataDir(installDB, data, o, parent); err != nil {
			m.cleanup()
			return nil, err
		}
	}
	// Another process (a test binary of another package, say) may take the
	// port between FreePort and the server's bind: then start again on
	// another.
	for attempt := 1; ; attempt++ {
		err := m.start(ctx, mariadbd, o, data, tmp)
		if err == nil {
			return m, nil
		}
		if !errors.Is(err, errPortTaken) || attempt == 5 {
			m.cleanup()
			return nil, err
		}
	}
}

// errPortTaken: mariadbd could not listen on its port.
var errPortTaken = errors.New("port taken")

// start starts mariadbd on a free port and waits until it accepts
// connections; if it does not, the server is killed.
func (m *MariaDB) start(ctx context.Context, mariadbd string, o Options, data, tmp string) error {
	var err error
	if m.Port, err = FreePort(); err != nil {
		return err
	}
	serverID := o.ServerID
	if serverID == 0 {
		serverID = 1
	}
	errorLog := filepath.Join(m.Dir, "error.log")
	var logStart int64
	if st, err := os.Stat(errorLog); err == nil {
		logStart = st.Size()
	}
	args := []string{"--no-defaults", "--datadir=" + data, fmt.Sprintf("--port=%d", m.Port),
		"--bind-address=127.0.0.1", "--socket=" + m.Socket, fmt.Sprintf("--server-id=%d", serverID),
		"--pid-file=" + filepath.Join(m.Dir, "mariadbd.pid"),
		"--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
		"--innodb-buffer-pool-size=256M", "--innodb-log-file-size=256M", "--innodb-flush-log-at-trx-commit=2",
		"--max-connections=500", "--skip-name-resolve", "--tmpdir=" + tmp, "--log-error=" + errorLog,
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
		return fmt.Errorf("start mariadbd: %w", err)
	}
	m.done = make(chan error, 1)
	go func() { m.done <- m.cmd.Wait() }()
	if err := m.waitReady(ctx); err != nil {
		_ = m.Kill()
		if errors.Is(err, errPortTaken) {
			return err
		}
		if b, rerr := os.ReadFile(errorLog); rerr == nil && int64(len(b)) >= logStart &&
			strings.Contains(string(b[logStart:]), "Address already in use") {
			return fmt.Errorf("%w: %w", errPortTaken, err)
		}
		return err
	}
	return nil
}

func (m *MariaDB) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		db, err := sql.Open("mysql", m.DSN(""))
		if err == nil {
			// The server answering on the port must be this one: another
			// process's server may hold the port (taken between FreePort and
			// the bind), and a ping alone would find it.
			var socket string
			err = db.QueryRowContext(ctx, "SELECT @@socket").Scan(&socket)
			db.Close()
			if err == nil {
				if socket != m.Socket {
					return fmt.Errorf("%w: port %d answers for another server (socket %s)", errPortTaken, m.Port, socket)
				}
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
