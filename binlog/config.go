// Package binlog reads row changes from a MySQL or MariaDB binary log with
// go-mysql's replication package and emits them as cdc.Batch values, one per
// source transaction, each carrying the position after it.
//
// Reader.Stream is the entry point; CheckServer, HeadPosition,
// CheckPositionAvailable and LagBytes are the server queries around it.
package binlog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/shiplog/shiplog/cdc"
)

// Config configures a Reader.
type Config struct {
	Host     string
	Port     uint16
	User     string
	Password string
	TLS      *tls.Config
	// ServerID is the replica id the reader registers with; 0 picks a random
	// one in [100000, 4e9).
	ServerID uint32
	// Flavor is "mariadb" or "mysql"; "" detects it from SELECT VERSION().
	Flavor string
	// Schema is the source database; only its tables are decoded.
	Schema string
	// Tables selects tables of Schema by name as the server stores it (as
	// information_schema and table-map events spell it); nil selects all. Rows
	// of other tables are not decoded.
	Tables func(table string) bool
	// Unselected, when set, is called for a table of Schema that Tables does
	// not select when a rows event of it arrives, or when a CREATE, ALTER or
	// RENAME statement names it (so a table that appears during the stream is
	// seen at that moment). It runs on the reading goroutine and may block; a
	// non-nil error stops Stream, which returns it wrapped with the position
	// of the transaction.
	Unselected func(ctx context.Context, table string) error
	// TablesFold selects tables by a name written in a statement when the
	// source matches table names case-insensitively (lower_case_table_names 1
	// or 2, which the reader reads from the source): it must answer for any
	// spelling of a selected table's name. nil asks Tables with the name in
	// lower case, which is exact for lower_case_table_names=1 (names stored in
	// lower case).
	TablesFold func(table string) bool
	// AcceptDDL, when set, is the one DDL statement on a selected table the
	// reader lets pass instead of returning a *DDLError: the statement
	// AcceptDDL.Statement in the event group that starts at AcceptDDL.Pos (a
	// DDLError an earlier Stream returned, after the user applied the
	// equivalent change to the destination). Any other DDL still stops it.
	AcceptDDL *DDLError
	// HeartbeatPeriod is how often an idle server sends a heartbeat, so an idle
	// stream still reports its position; default 1s.
	HeartbeatPeriod time.Duration
	// ConnectTimeout bounds each connection to the server up to the first
	// binlog event: TCP connect, handshake, login and the replica
	// registration; default 10s.
	ConnectTimeout time.Duration
	// StallTimeout is how long the stream may wait for an event with not a
	// byte arriving from the server (idle, it sends a heartbeat every
	// HeartbeatPeriod) before the connection counts as stalled and is
	// replaced; default 10s, at least 3 heartbeat periods. Time spent in emit
	// does not count.
	StallTimeout time.Duration
	// Logger receives connection and DDL messages; nil uses slog.Default().
	Logger *slog.Logger
}

// Sentinel errors. Errors returned by this package wrap them, so test with errors.Is.
var (
	// ErrBinlogOff: the server does not write a binary log (log_bin=OFF).
	ErrBinlogOff = errors.New("binary log is off")
	// ErrNotRowFormat: binlog_format is not ROW.
	ErrNotRowFormat = errors.New("binlog_format is not ROW")
	// ErrRowImageNotFull: binlog_row_image is not FULL, or a row event lacks columns.
	ErrRowImageNotFull = errors.New("binlog_row_image is not FULL")
	// ErrRowMetadataNotFull: binlog_row_metadata is not FULL (or the server is
	// too old to have it), so table-map events carry no column names.
	ErrRowMetadataNotFull = errors.New("binlog_row_metadata is not FULL")
	// ErrPositionPurged: the binlog file a position names is no longer on the server.
	ErrPositionPurged = errors.New("binlog position is no longer available on the server")
)

// DDLError is returned by Stream when a statement changes the structure of a
// selected table (or empties it: TRUNCATE). Pos is the position where the
// statement's event group starts: everything before it has been emitted, and
// the last batch emitted carries exactly Pos.
type DDLError struct {
	Statement string
	// Schema and Table name the selected table the statement touches (Table is
	// "" for DROP DATABASE).
	Schema string
	Table  string
	Pos    cdc.Position
}

func (e *DDLError) Error() string {
	what := "database `" + e.Schema + "`"
	if e.Table != "" {
		what = "copied table `" + e.Schema + "`.`" + e.Table + "`"
	}
	return fmt.Sprintf("DDL on %s at %s: %s", what, e.Pos, oneLine(e.Statement, 500))
}

// accepts reports whether the statement stmt, in the event group starting at
// pos, is the one a stopped stream returned as e.
func (e *DDLError) accepts(pos cdc.Position, stmt string) bool {
	if e == nil || stmt != e.Statement {
		return false
	}
	if e.Pos.File != "" || pos.File != "" {
		return e.Pos.File == pos.File && e.Pos.Pos == pos.Pos
	}
	return e.Pos.GTID != "" && e.Pos.GTID == pos.GTID
}

// oneLine collapses whitespace and cuts s to at most n bytes, for messages.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}

func (c Config) withDefaults() Config {
	if c.HeartbeatPeriod <= 0 {
		c.HeartbeatPeriod = time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = 10 * time.Second
	}
	c.StallTimeout = max(c.StallTimeout, 3*c.HeartbeatPeriod)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Flavor = strings.ToLower(c.Flavor)
	return c
}
