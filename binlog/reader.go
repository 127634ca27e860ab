package binlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/shiplog/shiplog/cdc"
)

// Reader streams row changes of one schema from a server's binary log.
type Reader struct {
	cfg Config
}

// NewReader returns a reader for cfg. It does not connect.
func NewReader(cfg Config) *Reader {
	cfg = cfg.withDefaults()
	if cfg.ServerID == 0 {
		cfg.ServerID = 100000 + uint32(rand.IntN(4_000_000_000-100000))
	}
	return &Reader{cfg: cfg}
}

const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
	// eventBuffer is how many events go-mysql reads (and decodes) ahead of
	// the stream (its default, 10240 rows events of up to 8 KiB each, holds
	// a large transaction's events whole, about 200 MiB decoded).
	eventBuffer = 1024
)

// Stream blocks, reading the binlog from `from` (its File/Pos when set, else
// its GTID state), and calls emit once per source transaction with a batch of
// that transaction's row changes of the selected tables (Op insert, update or
// delete; Before/After in canonical form; CommitTime; Pos after the commit).
// Transactions without selected rows, and events outside transactions (binlog
// rotation, GTID lists, checkpoints, other DDL, heartbeats every
// Config.HeartbeatPeriod), give empty batches carrying the new position, so a
// caller sees when it has reached a head position.
//
// A transaction whose changes reach Config.MaxGroupBytes (or
// Config.MaxGroupChanges) is emitted in
// several batches, all but the last marked Partial and carrying the position
// before the transaction; each change then carries the position of the end
// of its rows event (the last batch's, the commit's). After a reconnect in
// such a transaction, Stream reads it again from its start and emits only
// the changes it had not emitted yet.
//
// Table names are matched the way the source matches them: its
// lower_case_table_names, read when Stream starts, makes names written in
// statements case-sensitive (0) or not (1, 2).
//
// Stream returns ctx.Err() when ctx ends, emit's or Config.Unselected's error
// (wrapped with the position), a *DDLError when a statement changes a
// selected table (other than Config.AcceptDDL; the last batch emitted then
// carries the DDLError's Pos), or a permanent error: authentication or
// privileges, a purged position (ErrPositionPurged), missing row metadata
// (ErrRowMetadataNotFull) or a partial row image (ErrRowImageNotFull), or a
// value it cannot decode. Connection errors are retried with exponential
// backoff (100ms..10s, each logged), restarting from the last emitted position
// and dropping any partial transaction. So is a stalled connection: one that
// delivers not a byte for Config.StallTimeout while Stream waits for an event
// (the server sends a heartbeat every Config.HeartbeatPeriod when idle), and
// a connection that does not reach the first event within
// Config.ConnectTimeout.
func (r *Reader) Stream(ctx context.Context, from cdc.Position, emit func(context.Context, cdc.Batch) error) error {
	if from.File == "" && from.GTID == "" {
		return errors.New("binlog stream: the start position has neither a file nor a GTID")
	}
	log := r.cfg.Logger.With("component", "binlog", "host", r.cfg.Host, "port", r.cfg.Port)
	s := &stream{cfg: r.cfg, log: log, pos: from, emit: emit, tables: newTableCache()}
	backoff := minBackoff
	for {
		progressed, err := s.run(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			return perm.err
		}
		if err = classify(err); !isTransient(err) {
			return err
		}
		if progressed {
			backoff = minBackoff
		}
		if errors.Is(err, errStalled) {
			log.Warn(fmt.Sprintf("binlog stream stalled: no event for %s, reconnecting", s.cfg.StallTimeout),
				"at", s.pos.String(), "retry_in", backoff, "stall_timeout", s.cfg.StallTimeout.String())
		} else {
			log.Warn("binlog connection failed; reconnecting", "error", err, "retry_in", backoff, "from", s.pos.String())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// permanentError marks errors Stream returns without retrying.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// classify wraps server errors that say the position is gone.
func classify(err error) error {
	var me *mysql.MyError
	if errors.As(err, &me) && me.Code == mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG {
		return fmt.Errorf("%w: the server cannot send the binlog from this position (error %d: %s)", ErrPositionPurged, me.Code, me.Message)
	}
	return err
}

// isTransient reports whether err is a connection problem worth a reconnect.
func isTransient(err error) bool {
	var me *mysql.MyError
	if errors.As(err, &me) {
		switch me.Code {
		// Errors Stream treats as permanent.
		case mysql.ER_DBACCESS_DENIED_ERROR, mysql.ER_ACCESS_DENIED_ERROR, mysql.ER_SPECIFIC_ACCESS_DENIED_ERROR,
			mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG, mysql.ER_NOT_SUPPORTED_AUTH_MODE, mysql.ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
			return false
		}
		return true
	}
	var ne net.Error
	var errno syscall.Errno
	var start *startFailed
	return errors.As(err, &start) || errors.Is(err, errStalled) || errors.Is(err, mysql.ErrBadConn) || errors.As(err, &ne) || errors.As(err, &errno) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, replication.ErrSyncClosed) ||
		errors.Is(err, replication.ErrNeedSyncAgain)
}

// stream is the state of one Stream call across reconnects.
type stream struct {
	cfg    Config
	log    *slog.Logger
	emit   func(context.Context, cdc.Batch) error
	tables *tableCache
	gtid   *gtidState
	flavor string
	// lctn is the source's lower_case_table_names; lctnKnown once read.
	lctn      int
	lctnKnown bool
	// accepted: Config.AcceptDDL has been passed.
	accepted bool

	pos cdc.Position // the last emitted boundary

	// The group (transaction or standalone statement) being read.
	inGroup    bool
	begun      bool // a BEGIN (or MariaDB non-standalone GTID) opened a transaction
	pendMaria  *mysql.MariadbGTID
	pendMySQL  *replication.GTIDEvent
	pendTag    string
	commitTime time.Time
	changes    []cdc.Change
	size       int
	// sent is the number of changes of the group emitted in Partial
	// batches; after a reconnect, the group is read again and its first
	// resend changes are not emitted twice.
	sent   int
	resend int
	// rereading: the connection was made again inside a group sent in
	// part; its first group is that group again.
	rereading bool
}

// run makes one connection and reads until an error. progressed reports
// whether any event arrived, to reset the backoff.
func (s *stream) run(ctx context.Context) (progressed bool, err error) {
	if s.gtid == nil {
		if err := s.prepare(ctx); err != nil {
			s.flavor, s.gtid = "", nil
			return false, err
		}
	}
	s.resetGroup()
	s.resend, s.rereading = s.sent, s.sent > 0
	s.tables.resetIDs()
	dial := &dialer{timeout: s.cfg.ConnectTimeout}
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		Dialer:                  dial.dial,
		ServerID:                s.cfg.ServerID,
		Flavor:                  s.flavor,
		Host:                    s.cfg.Host,
		Port:                    s.cfg.Port,
		User:                    s.cfg.User,
		Password:                s.cfg.Password,
		TLSConfig:               s.cfg.TLS,
		Charset:                 "utf8mb4",
		ParseTime:               false,
		TimestampStringLocation: time.UTC,
		UseDecimal:              false,
		HeartbeatPeriod:         s.cfg.HeartbeatPeriod,
		DisableRetrySync:        true,
		Logger:                  quietLogger(s.log),
		RowsEventDecodeFunc:     s.decodeRows,
		EventCacheCount:         eventBuffer,
	})
	defer syncer.Close()
	var streamer *replication.BinlogStreamer
	if s.pos.File != "" {
		streamer, err = syncer.StartSync(mysql.Position{Name: s.pos.File, Pos: uint32(s.pos.Pos)})
	} else {
		var set mysql.GTIDSet
		if set, err = s.gtid.syncSet(); err != nil {
			return false, &permanentError{fmt.Errorf("binlog stream from %s: %w", s.pos, err)}
		}
		streamer, err = syncer.StartSyncGTID(set)
	}
	if err != nil {
		return false, startError(s.pos, err)
	}
	// Registered and streaming: from here the stall watch bounds the waits
	// (a read deadline would also fire while emit holds the reader back).
	conn := dial.last
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return false, fmt.Errorf("binlog stream: start from %s: %w", s.pos, err)
	}
	s.log.Info("binlog stream started", "from", s.pos.String(), "flavor", s.flavor, "server_id", s.cfg.ServerID)
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watch := &stallWatch{conn: conn, limit: s.cfg.StallTimeout}
	go watch.run(wctx, cancel)
	for {
		watch.waiting()
		ev, err := streamer.GetEvent(wctx)
		watch.notWaiting()
		if err != nil {
			if ctx.Err() == nil && errors.Is(context.Cause(wctx), errStalled) {
				return progressed, fmt.Errorf("binlog stream at %s: no event for %s: %w", s.pos, s.cfg.StallTimeout, errStalled)
			}
			return progressed, fmt.Errorf("binlog stream at %s: %w", s.pos, err)
		}
		progressed = true
		if err := s.handle(ctx, ev.Header, ev.Event); err != nil {
			return progressed, &permanentError{err}
		}
	}
}

// quietLogger passes go-mysql's own messages on at debug level only: it logs
// every connection at info, and its errors are returned to us anyway.
func quietLogger(l *slog.Logger) *slog.Logger {
	return slog.New(levelCap{l.Handler()})
}

type levelCap struct{ h slog.Handler }

func (c levelCap) Enabled(ctx context.Context, _ slog.Level) bool {
	return c.h.Enabled(ctx, slog.LevelDebug)
}

func (c levelCap) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return c.h.Handle(ctx, r)
}
func (c levelCap) WithAttrs(a []slog.Attr) slog.Handler { return levelCap{c.h.WithAttrs(a)} }
func (c levelCap) WithGroup(n string) slog.Handler      { return levelCap{c.h.WithGroup(n)} }

// prepare detects the flavor and the GTID state at the start position.
func (s *stream) prepare(ctx context.Context) error {
	s.flavor = strings.ToLower(s.cfg.Flavor)
	needGTID := s.pos.GTID == "" && s.pos.File != ""
	if s.flavor == "" || !s.lctnKnown || (needGTID && s.flavor == mysql.MariaDBFlavor) {
		if err := s.query(ctx, needGTID); err != nil {
			return err
		}
	}
	if s.flavor != mysql.MariaDBFlavor && s.flavor != mysql.MySQLFlavor {
		return &permanentError{fmt.Errorf("binlog stream: unknown flavor %q (want mariadb or mysql)", s.flavor)}
	}
	if s.gtid == nil {
		g, err := newGTIDState(s.flavor, s.pos.GTID)
		if err != nil {
			return &permanentError{fmt.Errorf("binlog stream: start position: %w", err)}
		}
		s.gtid = g
	}
	return nil
}

// query asks the server its version and lower_case_table_names and, on
// MariaDB, the GTID state at a file position given without one.
func (s *stream) query(ctx context.Context, needGTID bool) error {
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(int(s.cfg.Port)))
	// The dialer's deadline bounds the handshake and these few queries.
	dial := &dialer{timeout: s.cfg.ConnectTimeout}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
	defer cancel()
	conn, err := client.ConnectWithDialer(cctx, "", addr, s.cfg.User, s.cfg.Password, "", dial.dial,
		func(c *client.Conn) error { c.SetTLSConfig(s.cfg.TLS); return nil })
	if err != nil {
		return fmt.Errorf("binlog stream: connect to %s: %w", addr, err)
	}
	defer conn.Close()
	res, err := conn.Execute("SELECT VERSION(), @@lower_case_table_names")
	if err != nil {
		return fmt.Errorf("binlog stream: SELECT VERSION(), @@lower_case_table_names: %w", err)
	}
	version, _ := res.GetString(0, 0)
	if s.flavor == "" {
		s.flavor = flavorOf(version)
	}
	lctn, err := res.GetInt(0, 1)
	if err != nil {
		return fmt.Errorf("binlog stream: read lower_case_table_names: %w", err)
	}
	s.lctn, s.lctnKnown = int(lctn), true
	if needGTID && s.flavor == mysql.MariaDBFlavor {
		res, err := conn.Execute("SELECT BINLOG_GTID_POS(?, ?)", s.pos.File, s.pos.Pos)
		if err != nil {
			return fmt.Errorf("binlog stream: BINLOG_GTID_POS(%s): %w", s.pos, err)
		}
		if null, _ := res.IsNull(0, 0); !null {
			g, _ := res.GetString(0, 0)
			s.gtid, err = newGTIDState(s.flavor, g)
			if err != nil {
				return &permanentError{err}
			}
			s.gtid.known = true
		}
	}
	return nil
}

// decodeRows runs in go-mysql's reading goroutine: it decodes the rows of
// selected tables only and leaves other rows events with no rows.
func (s *stream) decodeRows(e *replication.RowsEvent, data []byte) error {
	pos, err := e.DecodeHeader(data)
	if err != nil {
		return err
	}
	if e.Table == nil || !s.selected(string(e.Table.Schema), string(e.Table.Table)) {
		return nil
	}
	return e.DecodeData(pos, data)
}

// ErrUnsupportedTransaction is returned for row changes to copied tables that
// the stream cannot apply exactly: XA transactions, groups that never commit,
// rollbacks of non-transactional changes, and statement-logged changes.
var ErrUnsupportedTransaction = errors.New("changes to copied tables that cannot be applied exactly")

// openGroup starts a new event group; rows still pending from a group that
// never committed (an XA PREPARE, say) are an error, not a silent drop.
func (s *stream) openGroup() error {
	if s.rereading {
		// The group sent in part, read again from its start.
		s.rereading = false
	} else if n := s.pending(); n > 0 {
		return fmt.Errorf("%w: %d row change(s) after %s were never committed before the next transaction began (XA transactions are not supported)",
			ErrUnsupportedTransaction, n, s.pos)
	}
	s.resetGroup()
	return nil
}

// pending is the number of changes of the group read so far, emitted in
// Partial batches or not.
func (s *stream) pending() int {
	return len(s.changes) + s.sent - s.resend
}

func (s *stream) resetGroup() {
	s.inGroup, s.begun = false, false
	s.pendMaria, s.pendMySQL, s.pendTag = nil, nil, ""
	s.commitTime = time.Time{}
	s.changes, s.size = nil, 0
}

// handle processes one event. h is the header of the event as sent (for the
// events inside a MySQL compressed transaction payload, the payload's).
func (s *stream) handle(ctx context.Context, h *replication.EventHeader, ev replication.Event) error {
	artificial := h.Flags&replication.LOG_EVENT_ARTIFICIAL_F != 0
	// An event that opens a group starts at a transaction boundary; taking the
	// offset from it also fixes the position after a GTID start, where the
	// server's first (artificial) rotate only names the file.
	if !s.inGroup && h.LogPos > 0 && h.EventSize > 0 && h.LogPos >= h.EventSize && !artificial {
		switch ev.(type) {
		case *replication.MariadbGTIDEvent, *replication.GTIDEvent, *replication.GtidTaggedLogEvent, *replication.QueryEvent:
			s.pos.Pos = uint64(h.LogPos - h.EventSize)
		}
	}
	switch e := ev.(type) {
	case *replication.RotateEvent:
		s.pos.File, s.pos.Pos = string(e.NextLogName), e.Position
		if artificial {
			return nil
		}
		return s.emitEmpty(ctx, time.Time{})
	case *replication.FormatDescriptionEvent:
		return nil
	case *replication.MariadbGTIDListEvent:
		s.gtid.setFromList(e.GTIDs)
		return s.boundary(ctx, h, artificial)
	case *replication.PreviousGTIDsEvent:
		if !s.gtid.known {
			if err := s.gtid.set(e.GTIDSets); err != nil {
				return err
			}
		}
		return s.boundary(ctx, h, artificial)
	case *replication.MariadbBinlogCheckPointEvent:
		return s.boundary(ctx, h, artificial)
	case *replication.HeartbeatEvent:
		if s.inGroup {
			return nil
		}
		return s.emitEmpty(ctx, time.Time{})
	case *replication.MariadbGTIDEvent:
		if err := s.openGroup(); err != nil {
			return err
		}
		s.inGroup = true
		s.begun = !e.IsStandalone()
		g := e.GTID
		s.pendMaria = &g
		return nil
	case *replication.GtidTaggedLogEvent:
		if err := s.openGroup(); err != nil {
			return err
		}
		s.inGroup = true
		s.pendMySQL, s.pendTag = &e.GTIDEvent, e.Tag.String()
		s.commitTime = e.ImmediateCommitTime()
		return nil
	case *replication.GTIDEvent:
		if err := s.openGroup(); err != nil {
			return err
		}
		s.inGroup = true
		s.pendMySQL = e
		s.commitTime = e.ImmediateCommitTime()
		return nil
	case *replication.QueryEvent:
		return s.handleQuery(ctx, h, e)
	case *replication.XIDEvent:
		return s.commit(ctx, h)
	case *replication.RowsEvent:
		if e.Table != nil && s.cfg.Unselected != nil {
			if err := s.unselected(ctx, string(e.Table.Schema), string(e.Table.Table)); err != nil {
				return err
			}
		}
		return s.rows(ctx, h, e)
	case *replication.TransactionPayloadEvent:
		for _, inner := range e.Events {
			ih := *inner.Header
			ih.LogPos, ih.EventSize, ih.Flags = h.LogPos, 0, 0
			if _, ok := inner.Event.(*replication.XIDEvent); !ok {
				ih.LogPos = 0
			}
			if err := s.handle(ctx, &ih, inner.Event); err != nil {
				return err
			}
		}
		return nil
	}
	return nil
}

// boundary handles a non-transactional event that moves the position.
func (s *stream) boundary(ctx context.Context, h *replication.EventHeader, artificial bool) error {
	if s.inGroup || artificial || h.LogPos == 0 {
		return nil
	}
	s.pos.Pos = uint64(h.LogPos)
	return s.emitEmpty(ctx, time.Time{})
}

func (s *stream) handleQuery(ctx context.Context, h *replication.EventHeader, e *replication.QueryEvent) error {
	q := string(e.Query)
	toks := skipSetStatement(tokenize(q))
	first := ""
	if len(toks) > 0 && toks[0].kind == tokWord {
		first = strings.ToUpper(toks[0].text)
	}
	second := ""
	if len(toks) > 1 && toks[1].kind == tokWord {
		second = strings.ToUpper(toks[1].text)
	}
	switch first {
	case "BEGIN":
		s.inGroup, s.begun = true, true
		return nil
	case "COMMIT":
		return s.commit(ctx, h)
	case "ROLLBACK":
		if second == "TO" {
			return nil
		}
		if n := s.pending(); n > 0 {
			// Only non-transactional tables log rows that are then rolled
			// back: their changes stayed on the source.
			return fmt.Errorf("%w: a ROLLBACK at %s follows %d row change(s) to copied non-transactional tables, which kept them",
				ErrUnsupportedTransaction, s.pos, n)
		}
		return s.commit(ctx, h)
	case "XA":
		if s.pending() > 0 {
			return fmt.Errorf("%w: XA transaction at %s changes copied tables (XA transactions are not supported)", ErrUnsupportedTransaction, s.pos)
		}
		return nil
	case "SAVEPOINT", "RELEASE":
		return nil
	case "INSERT", "UPDATE", "DELETE", "REPLACE", "LOAD":
		if t := s.statementTable(toks, string(e.Schema)); t != "" {
			return fmt.Errorf("%w: statement-logged %s on copied table %s at %s (the session ran with binlog_format=STATEMENT or MIXED): %s",
				ErrUnsupportedTransaction, first, t, s.pos, q)
		}
	}
	schema := string(e.Schema)
	passed := false
	if ref, ok := s.ddlHit(q, schema); ok {
		if !s.accepted && s.cfg.AcceptDDL.accepts(s.pos, q) {
			s.accepted, passed = true, true
			s.log.Warn("DDL on a copied table passed: it is the one the stream stopped at, accepted", "statement", oneLine(q, 500), "at", s.pos.String())
		} else {
			// The caller's checkpoint can then be exactly at the statement.
			if err := s.emitEmpty(ctx, time.Time{}); err != nil {
				return err
			}
			return &DDLError{Statement: q, Schema: ref.Schema, Table: ref.Name, Pos: s.pos}
		}
	} else {
		s.log.Debug("DDL on tables not copied", "statement", strings.TrimSpace(first+" "+second), "schema", schema, "at", s.pos.String())
	}
	// The tables a statement the user accepted names (a rename's
	// intermediate name) were checked when the schema was planned again.
	if !passed && (first == "CREATE" || first == "ALTER" || first == "RENAME") {
		for _, ref := range ddlTables(q, schema) {
			if err := s.unselected(ctx, ref.Schema, ref.Name); err != nil {
				return err
			}
		}
	}
	if s.begun {
		return nil // a statement inside a transaction; its COMMIT ends it
	}
	return s.commit(ctx, h)
}

// ddlHit returns the first selected table (or the selected database: Name
// "") that statement q, run with default database schema, changes.
func (s *stream) ddlHit(q, schema string) (tableRef, bool) {
	for _, ref := range ddlTables(q, schema) {
		if !s.inSchema(ref.Schema) || ref.Name != "" && !s.named(ref.Name) {
			continue
		}
		// Named as the copy names it: lower_case_table_names=1 stores
		// names in lower case.
		ref.Schema = s.cfg.Schema
		if s.lctn == 1 {
			ref.Name = strings.ToLower(ref.Name)
		}
		return ref, true
	}
	return tableRef{}, false
}

// inSchema reports whether a database name is the selected one, compared as
// the source compares names.
func (s *stream) inSchema(schema string) bool {
	if s.lctn != 0 {
		return strings.EqualFold(schema, s.cfg.Schema)
	}
	return schema == s.cfg.Schema
}

// selected reports whether the table of a table-map event (names as the
// server stores them) is one whose rows the reader decodes.
func (s *stream) selected(schema, table string) bool {
	return s.inSchema(schema) && (s.cfg.Tables == nil || s.cfg.Tables(table))
}

// named reports whether a table name written in a statement names a
// selected table of the schema, resolved as the server resolves it.
func (s *stream) named(table string) bool {
	if s.cfg.Tables == nil || s.cfg.Tables(table) {
		return true
	}
	if s.lctn == 0 {
		return false
	}
	if s.cfg.TablesFold != nil {
		return s.cfg.TablesFold(table)
	}
	return s.cfg.Tables(strings.ToLower(table))
}

// statementTable returns a selected table a DML statement names, or "".
// It is deliberately broad: a false hit stops the stream with an error,
// a miss would lose a change.
func (s *stream) statementTable(toks []token, schema string) string {
	inSchema := strings.EqualFold(schema, s.cfg.Schema)
	for _, t := range toks {
		if (t.kind == tokWord || t.kind == tokIdent) && strings.EqualFold(t.text, s.cfg.Schema) {
			inSchema = true
		}
	}
	if !inSchema {
		return ""
	}
	for _, t := range toks[1:] {
		if t.kind != tokWord && t.kind != tokIdent {
			continue
		}
		if s.named(t.text) {
			return t.text
		}
	}
	return ""
}

// unselected passes a table of the schema that is not selected to
// Config.Unselected.
func (s *stream) unselected(ctx context.Context, schema, table string) error {
	if s.cfg.Unselected == nil || table == "" || !s.inSchema(schema) || s.named(table) {
		return nil
	}
	if err := s.cfg.Unselected(ctx, table); err != nil {
		return fmt.Errorf("binlog stream at %s: %w", s.pos, err)
	}
	return nil
}

// rowsNoForeignKeyChecks is the rows event flag (MySQL's and MariaDB's
// NO_FOREIGN_KEY_CHECKS_F) of a statement run with foreign_key_checks=0.
const rowsNoForeignKeyChecks = 0x0002

// rows converts a rows event of a selected table into changes.
func (s *stream) rows(ctx context.Context, h *replication.EventHeader, e *replication.RowsEvent) error {
	if e.Table == nil || !s.selected(string(e.Table.Schema), string(e.Table.Table)) {
		return nil
	}
	if !s.inGroup {
		s.inGroup = true // rows without BEGIN (old servers); the commit ends them
	}
	info, err := s.tables.get(e.Table)
	if err != nil {
		return err
	}
	for _, skipped := range e.SkippedColumns {
		if len(skipped) > 0 {
			return fmt.Errorf("%w: a rows event of `%s`.`%s` lacks %d column(s); set binlog_row_image=FULL",
				ErrRowImageNotFull, info.table.Schema, info.table.Name, len(skipped))
		}
	}
	// The statement ran with foreign_key_checks=0: its deletes and
	// updates did not cascade on the source.
	noFK := e.Flags&rowsNoForeignKeyChecks != 0
	switch e.Type() {
	case replication.EnumRowsEventTypeInsert, replication.EnumRowsEventTypeDelete:
		op := cdc.OpInsert
		if e.Type() == replication.EnumRowsEventTypeDelete {
			op = cdc.OpDelete
		}
		for _, raw := range e.Rows {
			row, err := convertRow(info, raw)
			if err != nil {
				return err
			}
			c := cdc.Change{Op: op, Table: info.table, NoFKChecks: noFK}
			if op == cdc.OpInsert {
				c.After = row
			} else {
				c.Before = row
			}
			s.add(c, cdc.ValueSize(row))
		}
	case replication.EnumRowsEventTypeUpdate:
		if len(e.Rows)%2 != 0 {
			return fmt.Errorf("update rows event of `%s`.`%s` has an odd number of images", info.table.Schema, info.table.Name)
		}
		for i := 0; i < len(e.Rows); i += 2 {
			before, err := convertRow(info, e.Rows[i])
			if err != nil {
				return err
			}
			after, err := convertRow(info, e.Rows[i+1])
			if err != nil {
				return err
			}
			s.add(cdc.Change{Op: cdc.OpUpdate, Table: info.table, Before: before, After: after, NoFKChecks: noFK}, cdc.ValueSize(before)+cdc.ValueSize(after))
		}
	default:
		return fmt.Errorf("rows event of unknown type on `%s`.`%s`", info.table.Schema, info.table.Name)
	}
	// Not inside a compressed transaction payload (its events have no
	// positions of their own, and the payload is in memory whole anyway).
	full := s.size >= s.cfg.MaxGroupBytes || s.cfg.MaxGroupChanges > 0 && len(s.changes) >= s.cfg.MaxGroupChanges
	if s.cfg.MaxGroupBytes > 0 && full && uint64(h.LogPos) > s.pos.Pos {
		return s.emitPart(ctx, h)
	}
	return nil
}

// add appends change c, of value size size, to the group; after a
// reconnect, the changes emitted before it are read again and dropped.
func (s *stream) add(c cdc.Change, size int) {
	if s.resend > 0 {
		s.resend--
		return
	}
	s.size += size
	s.changes = append(s.changes, c)
}

// emitPart emits the changes of the group read so far as a Partial batch,
// ending with the rows event of header h. The position stays before the
// group: no checkpoint lands inside it.
func (s *stream) emitPart(ctx context.Context, h *replication.EventHeader) error {
	at := s.pos
	at.Pos = uint64(h.LogPos)
	t := s.commitTime
	if t.IsZero() && h.Timestamp > 0 {
		t = time.Unix(int64(h.Timestamp), 0)
	}
	t = t.UTC()
	changes, size := s.changes, s.size
	for i := range changes {
		changes[i].Pos = at
		changes[i].CommitTime = t
	}
	s.changes, s.size = nil, 0
	s.sent += len(changes)
	if err := s.emit(ctx, cdc.Batch{Changes: changes, Pos: s.pos, Time: t, Size: size, Partial: true}); err != nil {
		return fmt.Errorf("binlog stream: emit part of the transaction after %s: %w", s.pos, err)
	}
	return nil
}

// commit ends the current group at the event with header h: it records the
// group's GTID, moves the position past h and emits the group's changes.
func (s *stream) commit(ctx context.Context, h *replication.EventHeader) error {
	if s.pendMaria != nil {
		s.gtid.addMariaDB(*s.pendMaria)
	}
	if s.pendMySQL != nil {
		if err := s.gtid.addMySQL(s.pendMySQL.SID, s.pendTag, s.pendMySQL.GNO); err != nil {
			return err
		}
	}
	if h.LogPos > 0 {
		s.pos.Pos = uint64(h.LogPos)
	}
	t := s.commitTime
	if t.IsZero() && h.Timestamp > 0 {
		t = time.Unix(int64(h.Timestamp), 0)
	}
	t = t.UTC()
	changes, size := s.changes, s.size
	s.resetGroup()
	s.sent, s.resend, s.rereading = 0, 0, false
	return s.emitBatch(ctx, changes, size, t)
}

func (s *stream) emitEmpty(ctx context.Context, t time.Time) error {
	if s.sent > 0 {
		// Inside a transaction emitted in part (read again after a
		// reconnect): the position is the one before it, nothing new, and
		// an empty batch must not look like the transaction's end.
		return nil
	}
	return s.emitBatch(ctx, nil, 0, t)
}

func (s *stream) emitBatch(ctx context.Context, changes []cdc.Change, size int, t time.Time) error {
	s.pos.GTID = s.gtid.String()
	pos := s.pos
	for i := range changes {
		changes[i].Pos = pos
		changes[i].CommitTime = t
	}
	if err := s.emit(ctx, cdc.Batch{Changes: changes, Pos: pos, Time: t, Size: size}); err != nil {
		return fmt.Errorf("binlog stream: emit at %s: %w", pos, err)
	}
	return nil
}

// startFailed is a failure to register as a replica that is not a server
// error saying no: go-mysql reports a connection lost while registering
// (e.g. "failed to set @mariadb_slave_capability=4: ... EOF") as text
// only, so these are retried like any lost connection.
type startFailed struct{ err error }

func (e *startFailed) Error() string { return e.err.Error() }
func (e *startFailed) Unwrap() error { return e.err }

func startError(pos cdc.Position, err error) error {
	err = fmt.Errorf("binlog stream: start from %s: %w", pos, err)
	var me *mysql.MyError
	if errors.As(err, &me) {
		return err // the server answered: isTransient judges its code
	}
	return &startFailed{err}
}
