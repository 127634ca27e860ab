// Package deltalog is delta mode without binlog access: AFTER INSERT/UPDATE/
// DELETE triggers on the source tables write the keys of changed rows into
// change-log tables m2_cl_<table>, as Magento's Data Migration Tool does, and a
// reader turns the log into batches of changes like the binlog reader's.
//
// Unlike the reference tool, the log never loses a change: every change is a
// new row with its own sequence number (the reference keeps one row per key
// and loses changes made between marking a row processed and purging it), and
// the reader deletes exactly the log rows it has applied.
package deltalog

import (
	"context"
	"crypto/sha1"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/mysqlerr"
	"github.com/shiplog/shiplog/rowio"
)

// Spec is one logged table.
type Spec struct {
	Table *cdc.Table
	// Key holds the indexes (into Table.Columns) of the columns that identify
	// a row: the deltalog document's key, or the table's key.
	Key []int
	// Carry holds the indexes of other columns whose values the log keeps
	// with the key (a delete's OLD values): a row gone from the source is
	// read from nowhere else, and its delete's before image holds them (a
	// plan that routes rows by them needs them; see transform.Route).
	Carry []int
	// LogTable is the change-log table: <prefix>m2_cl_<table>, cut to 64.
	LogTable string
}

// LogTableName is the change-log table of a source table (the table name
// without the installation prefix).
func LogTableName(prefix, base string) string {
	return cut64(prefix + "m2_cl_" + base)
}

// triggerName is shiplog's trigger for one table and event.
func triggerName(table, event string) string {
	return cut64("shiplog_" + table + "_" + strings.ToLower(event[:1]) + "_after")
}

// cut64 keeps identifiers within MySQL's 64 characters; long names keep a
// hash of the whole so two long names do not collide.
func cut64(name string) string {
	if len(name) <= 64 {
		return name
	}
	sum := sha1.Sum([]byte(name))
	return name[:55] + "_" + hex.EncodeToString(sum[:4])
}

// Installer sets up and removes change logs in the source database.
type Installer struct {
	DB     *sql.DB
	Schema string
	// LockWait bounds the wait for a table's lock when its triggers are
	// created (0 = DefaultLockWait): the application's statements on the
	// table queue behind the waiting lock.
	LockWait time.Duration
}

// DefaultLockWait is Installer.LockWait's default.
const DefaultLockWait = 30 * time.Second

func (in *Installer) q(name string) string {
	return rowio.QuoteIdent(in.Schema) + "." + rowio.QuoteIdent(name)
}

var events = []string{"INSERT", "UPDATE", "DELETE"}

// Install creates the change-log tables and triggers that are missing. It is
// idempotent: existing ones are kept (so no change goes unlogged while they
// would be replaced). A user's own trigger on the same table and event is left
// as it is and runs first: shiplog's trigger is added after it (FOLLOWS),
// which MariaDB 10.2.3+ and MySQL 5.7.2+ allow. Tables that cannot be set up
// are returned with the reason; the others are set up.
func (in *Installer) Install(ctx context.Context, specs []Spec) (failed map[string]error, err error) {
	failed = map[string]error{}
	for _, s := range specs {
		if err := in.install(ctx, s); err != nil {
			if ctx.Err() != nil {
				return failed, ctx.Err()
			}
			failed[s.Table.Name] = err
		}
	}
	return failed, nil
}

func (in *Installer) install(ctx context.Context, s Spec) error {
	if len(s.Key) == 0 {
		return errors.New("no key to log changes by (add a primary or unique NOT NULL key, or a key attribute in the deltalog file)")
	}
	// The log table: one row per change, in order.
	var cols, keys []string
	for i, k := range s.logged() {
		c := s.Table.Columns[k]
		def := rowio.QuoteIdent(c.Name) + " " + c.ColumnType
		if c.Charset != "" && c.Charset != "binary" && c.Kind() != cdc.KindJSON {
			def += " CHARACTER SET " + c.Charset
		}
		cols = append(cols, def+" NULL")
		if i < len(s.Key) {
			keys = append(keys, rowio.QuoteIdent(c.Name))
		}
	}
	ddl := "CREATE TABLE IF NOT EXISTS " + in.q(s.LogTable) + " (\n" +
		"  seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,\n  " +
		strings.Join(cols, ",\n  ") + ",\n" +
		"  operation ENUM('INSERT','UPDATE','DELETE') NOT NULL,\n" +
		"  changed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),\n" +
		"  KEY (" + strings.Join(keys, ",") + ")\n) ENGINE=InnoDB"
	if _, err := in.DB.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("create %s: %w", s.LogTable, err)
	}
	if err := in.checkLogTable(ctx, s); err != nil {
		return err
	}
	existing, err := in.triggers(ctx, s.Table.Name)
	if err != nil {
		return err
	}
	var ddls []string
	for _, ev := range events {
		name := triggerName(s.Table.Name, ev)
		var follows string
		ours := false
		for _, t := range existing {
			if t.event != ev || t.timing != "AFTER" {
				continue
			}
			if t.name == name {
				ours = true
				break
			}
			follows = t.name // the last user trigger, by action order
		}
		if ours {
			continue
		}
		ddls = append(ddls, in.triggerDDL(s, ev, name, follows))
	}
	return in.underLock(ctx, []string{s.Table.Name, s.LogTable}, ddls)
}

// underLock runs the trigger statements ddls while holding LOCK TABLES ...
// WRITE on tables, so the application sees the table's triggers change once.
// Created one by one with writes going on, MariaDB 10.11 leaves some of the
// application's prepared statements that were re-prepared in between failing
// on every later EXECUTE with "Table '<db>.m2_cl_<table>' doesn't exist"
// (error 1146), although the log table exists: a DELETE prepared between the
// UPDATE and the DELETE trigger, for one (TestInstallKeepsTheApplications-
// PreparedStatements). The lock waits for running statements on the table
// like CREATE TRIGGER's own metadata lock does, and holds the application's
// writes for the few milliseconds the statements take.
func (in *Installer) underLock(ctx context.Context, tables, ddls []string) (err error) {
	if len(ddls) == 0 {
		return nil
	}
	conn, err := in.DB.Conn(ctx)
	if err != nil {
		return err
	}
	// The session's lock and lock_wait_timeout end with this connection:
	// it is dropped, not returned to the pool.
	defer func() {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
	}()
	var locks []string
	for _, t := range tables {
		locks = append(locks, in.q(t)+" WRITE")
	}
	wait := in.LockWait
	if wait <= 0 {
		wait = DefaultLockWait
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET SESSION lock_wait_timeout = %d", max(1, int(wait.Seconds())))); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, "LOCK TABLES "+strings.Join(locks, ", "))
	if mysqlerr.Is(err, gmysql.ER_LOCK_WAIT_TIMEOUT) {
		return fmt.Errorf("lock %s (to create its triggers at once): a transaction or statement kept it for over %s "+
			"(see SHOW PROCESSLIST and information_schema.INNODB_TRX), and the application's statements on it queue behind the waiting lock, "+
			"so shiplog gave up; run it again when that is done: %w", strings.Join(tables, ", "), wait, err)
	}
	if err != nil {
		return fmt.Errorf("lock %s (to create its triggers at once): %w", strings.Join(tables, ", "), err)
	}
	defer func() {
		if _, uerr := conn.ExecContext(context.WithoutCancel(ctx), "UNLOCK TABLES"); uerr != nil {
			err = errors.Join(err, fmt.Errorf("unlock tables: %w", uerr))
		}
	}()
	for _, ddl := range ddls {
		if _, err := conn.ExecContext(ctx, ddl); err != nil {
			return fmt.Errorf("%s: %w", ddlHead(ddl), err)
		}
	}
	return nil
}

// ddlHead names a trigger statement in errors: "create trigger `db`.`name`".
func ddlHead(ddl string) string {
	f := strings.Fields(ddl)
	if len(f) >= 3 {
		return strings.ToLower(f[0]+" "+f[1]) + " " + f[2]
	}
	return ddl
}

// logged are the columns a log row holds: the key's, then Carry.
func (s *Spec) logged() []int {
	return append(append([]int(nil), s.Key...), s.Carry...)
}

// checkLogTable refuses a change-log table left by another tool (Magento's has
// no sequence column and keeps one row per key, which loses changes), or set
// up without the Carry columns s needs.
func (in *Installer) checkLogTable(ctx context.Context, s Spec) error {
	for _, k := range s.Carry {
		var n int
		name := s.Table.Columns[k].Name
		if err := in.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?`,
			in.Schema, s.LogTable, name).Scan(&n); err != nil {
			return fmt.Errorf("check %s: %w", s.LogTable, err)
		}
		if n == 0 {
			return fmt.Errorf("%s was set up without column %s, which the plan routing %s's rows needs in its deletes: run `shiplog deltalog uninstall`, then data mode again with --reset", s.LogTable, name, s.Table.Name)
		}
	}
	var n int
	err := in.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = 'seq' AND EXTRA LIKE '%auto_increment%'`, in.Schema, s.LogTable).Scan(&n)
	if err != nil {
		return fmt.Errorf("check %s: %w", s.LogTable, err)
	}
	if n == 0 {
		return fmt.Errorf("%s exists without shiplog's seq column (left by Magento's tool?): drop it, or run `shiplog deltalog uninstall` for that tool's triggers first", s.LogTable)
	}
	return nil
}

type trigger struct{ name, event, timing string }

// triggers lists the triggers of a table in action order.
func (in *Installer) triggers(ctx context.Context, table string) ([]trigger, error) {
	rows, err := in.DB.QueryContext(ctx, `SELECT TRIGGER_NAME, EVENT_MANIPULATION, ACTION_TIMING FROM information_schema.TRIGGERS
		WHERE TRIGGER_SCHEMA = ? AND EVENT_OBJECT_TABLE = ? ORDER BY EVENT_MANIPULATION, ACTION_TIMING, ACTION_ORDER`, in.Schema, table)
	if err != nil {
		return nil, fmt.Errorf("read triggers of %s: %w", table, err)
	}
	defer rows.Close()
	var out []trigger
	for rows.Next() {
		var t trigger
		if err := rows.Scan(&t.name, &t.event, &t.timing); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// triggerDDL writes the key of each changed row into the log: NEW for inserts
// and updates, OLD for deletes, and OLD as well when an update changes the key
// (the old key's row is gone).
func (in *Installer) triggerDDL(s Spec, event, name, follows string) string {
	var cols []string
	for _, k := range s.logged() {
		cols = append(cols, rowio.QuoteIdent(s.Table.Columns[k].Name))
	}
	values := func(row string) string {
		var v []string
		for _, c := range cols {
			v = append(v, row+"."+c)
		}
		return strings.Join(v, ", ")
	}
	insert := func(row string) string {
		return "INSERT INTO " + in.q(s.LogTable) + " (" + strings.Join(cols, ", ") + ", operation) VALUES (" + values(row) + ", '" + event + "')"
	}
	var body string
	switch event {
	case "INSERT":
		body = insert("NEW")
	case "DELETE":
		body = insert("OLD")
	case "UPDATE":
		var same []string
		for _, c := range cols[:len(s.Key)] {
			same = append(same, "OLD."+c+" <=> NEW."+c)
		}
		body = "BEGIN\n  " + insert("NEW") + ";\n  IF NOT (" + strings.Join(same, " AND ") + ") THEN\n    " + insert("OLD") + ";\n  END IF;\nEND"
	}
	order := ""
	if follows != "" {
		order = " FOLLOWS " + rowio.QuoteIdent(follows)
	}
	return "CREATE TRIGGER " + rowio.QuoteIdent(in.Schema) + "." + rowio.QuoteIdent(name) + " AFTER " + event + " ON " + in.q(s.Table.Name) +
		" FOR EACH ROW" + order + "\n" + body
}

// Uninstall drops shiplog's triggers and the change-log tables of specs.
// Users' own triggers are not touched (shiplog never rewrote them).
func (in *Installer) Uninstall(ctx context.Context, specs []Spec) error {
	var errs []error
	for _, s := range specs {
		for _, ev := range events {
			if _, err := in.DB.ExecContext(ctx, "DROP TRIGGER IF EXISTS "+rowio.QuoteIdent(in.Schema)+"."+rowio.QuoteIdent(triggerName(s.Table.Name, ev))); err != nil {
				errs = append(errs, fmt.Errorf("drop trigger on %s: %w", s.Table.Name, err))
			}
		}
		if _, err := in.DB.ExecContext(ctx, "DROP TABLE IF EXISTS "+in.q(s.LogTable)); err != nil {
			errs = append(errs, fmt.Errorf("drop %s: %w", s.LogTable, err))
		}
	}
	return errors.Join(errs...)
}

// Backlog counts the log rows not yet applied, per source table.
func (in *Installer) Backlog(ctx context.Context, specs []Spec) (map[string]int64, error) {
	out := map[string]int64{}
	for _, s := range specs {
		var n int64
		if err := in.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+in.q(s.LogTable)).Scan(&n); err != nil {
			return nil, fmt.Errorf("backlog of %s: %w", s.LogTable, err)
		}
		out[s.Table.Name] = n
	}
	return out, nil
}
