package pipeline

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"sort"
	"strings"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/shiplog/shiplog/rowio"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
)

// sourceSession makes source sessions UTC, so TIMESTAMP values read as the
// binlog carries them.
func sourceSession(c *gomysql.Config) *gomysql.Config {
	c = c.Clone()
	if c.Params == nil {
		c.Params = map[string]string{}
	}
	c.Params["time_zone"] = "'+00:00'"
	rowio.SetCharset(c)
	return c
}

// initConnector runs the user's init statements (Magento's
// init_statements_source/destination) on every new connection, then puts
// shiplog's own session settings back (reset): whatever a statement did to
// the session (a procedure, a prepared statement), values are read and
// written in UTC over utf8mb4, and on the destination in shiplog's sql_mode.
// (Literals do not depend on sql_mode: see rowio.AppendLiteral.)
//
// connect, when > 0, bounds each new connection, init statements included:
// the driver bounds only the TCP dial by its own timeout, and would wait
// for a server's handshake forever under a context without a deadline (a
// pool growing inside a query that has none).
type initConnector struct {
	driver.Connector
	init    []string
	reset   string
	connect time.Duration
}

func (c initConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.connect > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, c.connect, errConnectTimeout)
		defer cancel()
	}
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, connectError(ctx, err, c.connect)
	}
	for _, q := range c.init {
		if _, err := conn.(driver.ExecerContext).ExecContext(ctx, q, nil); err != nil {
			conn.Close()
			return nil, fmt.Errorf("init statement %q: %w", q, err)
		}
	}
	if c.reset != "" {
		if _, err := conn.(driver.ExecerContext).ExecContext(ctx, c.reset, nil); err != nil {
			conn.Close()
			return nil, fmt.Errorf("restore shiplog's session settings after the init statements: %w", err)
		}
	}
	return conn, nil
}

// errConnectTimeout is the cause of a connection's context ending at
// timeouts.connect.
var errConnectTimeout = errors.New("connect timeout")

// ErrNoHandshake: a server accepted the TCP connection but did not complete
// the MySQL handshake (and login) within timeouts.connect.
var ErrNoHandshake = errors.New("no MySQL handshake")

// connectError explains a connection that ran out of timeouts.connect: which
// step hung and what to check. Other errors are returned as they are.
func connectError(ctx context.Context, err error, limit time.Duration) error {
	var ne net.Error
	switch {
	case context.Cause(ctx) == errConnectTimeout:
		return fmt.Errorf("%w within %s (timeouts.connect): the server accepted the TCP connection but did not answer; "+
			"check that the host and port are a MySQL or MariaDB server and that it is not hung or overloaded, or raise timeouts.connect: %w",
			ErrNoHandshake, limit, err)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("no TCP connection within %s (timeouts.connect): check the host, the port and the firewall: %w", limit, err)
	}
	return err
}

// sessionReset is the statement that restores the session settings c gives
// a connection (the utf8mb4 charset and c.Params, which hold SQL values).
func sessionReset(c *gomysql.Config) string {
	names := make([]string, 0, len(c.Params))
	for k := range c.Params {
		names = append(names, k)
	}
	sort.Strings(names)
	q := "SET NAMES " + rowio.Charset
	for _, k := range names {
		q += ", SESSION " + k + " = " + c.Params[k]
	}
	return q
}

// charsetStatement matches init statements that change the connection charset.
var charsetStatement = regexp.MustCompile(`(?i)^\s*SET\s+(NAMES|CHARACTER\s+SET|CHARSET)\b`)

// sessionVariable finds, in a SET statement with its quoted strings blanked,
// an assignment to a session variable shiplog sets itself: how literals are
// read (sql_mode), TIMESTAMP values (time_zone) and text (the charsets and
// collations of the connection). A user variable (@sql_mode) is not one.
var sessionVariable = regexp.MustCompile(`(?i)(?:^|[^@\w$]|@@(?:session\s*\.\s*|local\s*\.\s*)?)(sql_mode|time_zone|character_set_\w+|collation_\w+)\b`)

// quoted matches the quoted strings and identifiers of a statement.
var quoted = regexp.MustCompile(`'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|` + "`(?:[^`]|``)*`")

// unquote blanks the strings of statement q and unquotes its identifiers
// (`sql_mode` names the variable too).
func unquote(q string) string {
	return quoted.ReplaceAllStringFunc(q, func(s string) string {
		if s[0] == '`' {
			return strings.ReplaceAll(s[1:len(s)-1], "``", "`")
		}
		return "''"
	})
}

// setStatement matches statements that start with SET.
var setStatement = regexp.MustCompile(`(?i)^\s*SET\b`)

// usableInit checks the init statements of one side. A statement that sets
// sql_mode, time_zone, or a character_set_* or collation_* variable is an
// error naming it: shiplog's own values of those are what make the copy
// exact and its literals safe. Statements that switch the connection charset
// (Magento's stock configs carry "SET NAMES utf8", which would lose 4-byte
// characters) are dropped with a warning, as shiplog keeps utf8mb4.
func usableInit(log *slog.Logger, side string, init []string) ([]string, error) {
	var out []string
	for _, q := range init {
		if setStatement.MatchString(q) {
			if m := sessionVariable.FindStringSubmatch(unquote(q)); m != nil {
				return nil, fmt.Errorf("%s init statement %q sets %s, which shiplog sets itself (sql_mode decides how values are quoted, time_zone how TIMESTAMPs read, the character_set_*/collation_* variables how text is sent): remove it from init_statements_%s",
					side, q, strings.ToLower(m[1]), side)
			}
		}
		if charsetStatement.MatchString(q) {
			log.Warn("init statement ignored: shiplog keeps the utf8mb4 connection charset so 4-byte characters survive", "side", side, "statement", q)
			continue
		}
		out = append(out, q)
	}
	return out, nil
}

// openPool opens a pool to the server of c (the source's, or the
// destination's when dest) and checks it can connect. Every new connection is
// bounded by c.Timeout (timeouts.connect), handshake included.
func openPool(ctx context.Context, c *gomysql.Config, dest bool, init []string) (*sql.DB, error) {
	if dest {
		c = mysqlsink.SessionConfig(c)
	} else {
		c = sourceSession(c)
	}
	conn, err := gomysql.NewConnector(c)
	if err != nil {
		return nil, err
	}
	ic := initConnector{Connector: conn, init: init, connect: c.Timeout}
	if len(init) > 0 {
		ic.reset = sessionReset(c)
	}
	db := sql.OpenDB(ic)
	db.SetMaxIdleConns(16)
	if err := pingStarting(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	return db, nil
}

// startRetries bounds pingStarting: four more tries, 0.2 s to 1.6 s apart
// (3 s in all).
const startRetries = 4

// pingStarting checks a new pool can connect. A connection a network blip
// cuts (a link flapping, a server restarting: mysqlsink.IsTransient) is
// tried again a few times, so a daemon restarted into a short outage does
// not exit; a server that accepts no MySQL handshake within timeouts.connect
// (ErrNoHandshake), a refused login and anything else fail at once.
func pingStarting(ctx context.Context, db *sql.DB) error {
	wait := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := db.PingContext(ctx)
		if err == nil || attempt == startRetries || errors.Is(err, ErrNoHandshake) || !mysqlsink.IsTransient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait *= 2
	}
}
