package pipeline

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"regexp"

	gomysql "github.com/go-sql-driver/mysql"

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
	// Without utf8mb4 on the connection, 4-byte characters are lost.
	_ = c.Apply(gomysql.Charset("utf8mb4", ""))
	return c
}

// initConnector runs the user's init statements (Magento's
// init_statements_source/destination) on every new connection.
type initConnector struct {
	driver.Connector
	init []string
}

func (c initConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	for _, q := range c.init {
		if _, err := conn.(driver.ExecerContext).ExecContext(ctx, q, nil); err != nil {
			conn.Close()
			return nil, fmt.Errorf("init statement %q: %w", q, err)
		}
	}
	return conn, nil
}

// charsetStatement matches init statements that change the connection charset.
var charsetStatement = regexp.MustCompile(`(?i)^\s*SET\s+(NAMES|CHARACTER\s+SET|CHARSET)\b`)

// usableInit drops init statements that would switch the connection away from
// utf8mb4 (Magento's stock configs carry "SET NAMES utf8"), which would lose
// 4-byte characters, and warns about each.
func usableInit(log *slog.Logger, side string, init []string) []string {
	var out []string
	for _, q := range init {
		if charsetStatement.MatchString(q) {
			log.Warn("init statement ignored: shiplog keeps the utf8mb4 connection charset so 4-byte characters survive", "side", side, "statement", q)
			continue
		}
		out = append(out, q)
	}
	return out
}

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
	db := sql.OpenDB(initConnector{Connector: conn, init: init})
	db.SetMaxIdleConns(16)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	return db, nil
}
