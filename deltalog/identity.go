package deltalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shiplog/shiplog/internal/mysqlerr"
	"github.com/shiplog/shiplog/rowio"
)

// Identity tells a source table from another of the same name, as far as its
// change log is concerned. Triggers fire for row changes only: a TRUNCATE,
// an ALTER TABLE, a table dropped and created again, or another table renamed
// to its name leaves no log row, so the logged tables' identities are
// recorded when the copy is planned and compared as the logs are read.
// Measured on MariaDB 10.11:
//
//   - InnoDB's table ids (of the table, or of each partition) change on
//     TRUNCATE (also of a partition), OPTIMIZE, every ALTER TABLE that
//     rebuilds (FORCE, ENGINE=, a column type change, ALGORITHM=COPY) and for
//     a table created under the name; not on row changes, ANALYZE, restarts
//     or ALTERs done in place (instant column changes, indexes, comments).
//   - Created (information_schema.TABLES.CREATE_TIME, the time of the table's
//     definition file) changes on every ALTER TABLE, CREATE/DROP INDEX and
//     RENAME TABLE, and for MyISAM and Aria on TRUNCATE; not on row changes
//     or ANALYZE. Its resolution is a second.
//   - Columns are the column definitions, for the error to name.
type Identity struct {
	Engine string `json:"engine"`
	// InnoDB holds the table's InnoDB table id, or "#P#p0=21,#P#p1=22" for
	// a partitioned table ("" for other engines).
	InnoDB  string      `json:"innodb,omitempty"`
	Created string      `json:"created"`
	Columns []ColumnDef `json:"columns,omitempty"`
}

// ColumnDef is one column as its table defines it.
type ColumnDef struct {
	Name string `json:"n"`
	// Def is the type, character set and collation, nullability and
	// generation expression.
	Def string `json:"d"`
}

// ErrNoProcessPrivilege is wrapped by ReadIdentities when the source user
// may not read InnoDB's table ids.
var ErrNoProcessPrivilege = errors.New("the source user lacks the PROCESS privilege")

// ReadIdentities reads the identities of tables (named as the source stores
// them) in schema: one query for their engines and creation times, one for
// the InnoDB table ids when one of them is InnoDB, and with columns one for
// their column definitions. A table that does not exist is absent from the
// result. Reading InnoDB table ids needs the PROCESS privilege; without it
// the error wraps ErrNoProcessPrivilege.
func ReadIdentities(ctx context.Context, db *sql.DB, schema string, tables []string, columns bool) (map[string]*Identity, error) {
	out := map[string]*Identity{}
	if len(tables) == 0 {
		return out, nil
	}
	in := "(" + strings.TrimSuffix(strings.Repeat("?,", len(tables)), ",") + ")"
	args := make([]any, 0, 1+len(tables))
	args = append(args, schema)
	for _, t := range tables {
		args = append(args, t)
	}
	want := make(map[string]bool, len(tables))
	for _, t := range tables {
		want[t] = true
	}
	// The names InnoDB gives tables are the file names: schema and table in
	// the server's filename encoding.
	rows, err := db.QueryContext(ctx, `SELECT TABLE_NAME, IFNULL(ENGINE, ''), IFNULL(CAST(CREATE_TIME AS CHAR), ''),
		CAST(CONVERT(TABLE_SCHEMA USING filename) AS BINARY), CAST(CONVERT(TABLE_NAME USING filename) AS BINARY), @@lower_case_table_names
		FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN `+in, args...)
	if err != nil {
		return nil, fmt.Errorf("source: read table identities: %w", err)
	}
	innodb := map[string]string{} // file name -> table
	var fileSchema string
	var foldNames bool
	for rows.Next() {
		var name, fileName string
		var lctn int
		id := &Identity{}
		if err := rows.Scan(&name, &id.Engine, &id.Created, &fileSchema, &fileName, &lctn); err != nil {
			rows.Close()
			return nil, fmt.Errorf("source: read table identities: %w", err)
		}
		if !want[name] {
			continue // information_schema matched another case of the name
		}
		out[name] = id
		if strings.EqualFold(id.Engine, "InnoDB") {
			// With lower_case_table_names=2 InnoDB stores names in lower case.
			foldNames = lctn == 2
			if foldNames {
				fileName = strings.ToLower(fileName)
			}
			innodb[fileName] = name
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("source: read table identities: %w", err)
	}
	if len(innodb) > 0 {
		if err := readInnoDBIDs(ctx, db, fileSchema, foldNames, innodb, out); err != nil {
			return nil, err
		}
	}
	if columns {
		if err := readColumnDefs(ctx, db, in, args, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readInnoDBIDs sets the InnoDB field of the tables of out named (by file
// name) in innodb.
func readInnoDBIDs(ctx context.Context, db *sql.DB, fileSchema string, fold bool, innodb map[string]string, out map[string]*Identity) error {
	pattern := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(fileSchema) + "/%"
	q := func(view string) (*sql.Rows, error) {
		return db.QueryContext(ctx, "SELECT NAME, TABLE_ID FROM information_schema."+view+" WHERE NAME LIKE ?", pattern)
	}
	rows, err := q("INNODB_SYS_TABLES")
	if mysqlerr.Is(err, gmysql.ER_UNKNOWN_TABLE) { // MySQL 8 calls it INNODB_TABLES
		rows, err = q("INNODB_TABLES")
	}
	if mysqlerr.Is(err, gmysql.ER_SPECIFIC_ACCESS_DENIED_ERROR, gmysql.ER_TABLEACCESS_DENIED_ERROR) {
		return fmt.Errorf("source: read InnoDB table ids (information_schema.INNODB_SYS_TABLES): %w: %w; without it a TRUNCATE of a logged table "+
			"cannot be seen (triggers do not fire on it): GRANT PROCESS ON *.* to the source user", ErrNoProcessPrivilege, err)
	}
	if err != nil {
		return fmt.Errorf("source: read InnoDB table ids: %w", err)
	}
	defer rows.Close()
	parts := map[string][]string{}
	for rows.Next() {
		var name string
		var id uint64
		if err := rows.Scan(&name, &id); err != nil {
			return fmt.Errorf("source: read InnoDB table ids: %w", err)
		}
		if len(name) <= len(fileSchema) || name[:len(fileSchema)] != fileSchema || name[len(fileSchema)] != '/' {
			continue // LIKE matched another case of the schema
		}
		file, part, _ := strings.Cut(name[len(fileSchema)+1:], "#") // '#' only starts a partition's suffix: it is encoded in names
		if fold {
			file = strings.ToLower(file)
		}
		table, ok := innodb[file]
		if !ok {
			continue
		}
		if part == "" {
			parts[table] = append(parts[table], strconv.FormatUint(id, 10))
		} else {
			parts[table] = append(parts[table], "#"+part+"="+strconv.FormatUint(id, 10))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("source: read InnoDB table ids: %w", err)
	}
	for table, ids := range parts {
		sort.Strings(ids)
		out[table].InnoDB = strings.Join(ids, ",")
	}
	if len(parts) == 0 {
		// Some versions answer users without PROCESS with no rows: that
		// must not pass as "unchanged". (A single table without an id is
		// one being changed right now: it differs from what was recorded.)
		return fmt.Errorf("source: read InnoDB table ids: %w: information_schema shows none; without them a TRUNCATE of a logged table "+
			"cannot be seen (triggers do not fire on it): GRANT PROCESS ON *.* to the source user", ErrNoProcessPrivilege)
	}
	return nil
}

func readColumnDefs(ctx context.Context, db *sql.DB, in string, args []any, out map[string]*Identity) error {
	rows, err := db.QueryContext(ctx, `SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IFNULL(CHARACTER_SET_NAME, ''), IFNULL(COLLATION_NAME, ''),
		IS_NULLABLE, IFNULL(GENERATION_EXPRESSION, '')
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN `+in+` ORDER BY TABLE_NAME, ORDINAL_POSITION`, args...)
	if err != nil {
		return fmt.Errorf("source: read column definitions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, name, typ, charset, collation, nullable, gen string
		if err := rows.Scan(&table, &name, &typ, &charset, &collation, &nullable, &gen); err != nil {
			return fmt.Errorf("source: read column definitions: %w", err)
		}
		id := out[table]
		if id == nil {
			continue
		}
		def := typ
		if charset != "" {
			def += " character set " + charset + " collate " + collation
		}
		if nullable == "NO" {
			def += " not null"
		}
		if gen != "" {
			def += " as (" + gen + ")"
		}
		id.Columns = append(id.Columns, ColumnDef{Name: name, Def: def})
	}
	return rows.Err()
}

// Diff describes how table identity now differs from was, one line per
// difference (nil: the same table). now nil means the table is gone.
// Columns are compared when both have them.
func Diff(was, now *Identity) []string {
	if now == nil {
		return []string{"no longer exists (dropped, or renamed away)"}
	}
	var out []string
	if !strings.EqualFold(was.Engine, now.Engine) {
		out = append(out, fmt.Sprintf("engine %s, was %s", now.Engine, was.Engine))
	} else if was.InnoDB != now.InnoDB {
		out = append(out, fmt.Sprintf("emptied or rebuilt: TRUNCATE, OPTIMIZE TABLE, an ALTER TABLE that copies it (FORCE, ENGINE=, a column type change), "+
			"or another table created or renamed under its name (InnoDB table id %s, was %s)", orNone(now.InnoDB), orNone(was.InnoDB)))
	}
	if was.Columns != nil && now.Columns != nil {
		out = append(out, columnDiff(was.Columns, now.Columns)...)
	}
	if len(out) == 0 && was.Created != now.Created {
		what := "altered: ALTER TABLE, CREATE or DROP INDEX, or RENAME TABLE"
		if was.InnoDB == "" {
			what = "altered, emptied or created again: ALTER TABLE, TRUNCATE, CREATE or DROP INDEX, RENAME TABLE, or DROP and CREATE"
		}
		out = append(out, fmt.Sprintf("%s (its definition dates from %s, was %s)", what, now.Created, was.Created))
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func columnDiff(was, now []ColumnDef) []string {
	var out []string
	old := map[string]ColumnDef{}
	for _, c := range was {
		old[strings.ToLower(c.Name)] = c
	}
	cur := map[string]bool{}
	var wasOrder, nowOrder []string
	for _, c := range now {
		cur[strings.ToLower(c.Name)] = true
		o, ok := old[strings.ToLower(c.Name)]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("column %s added: %s", rowio.QuoteIdent(c.Name), c.Def))
		case o.Def != c.Def:
			out = append(out, fmt.Sprintf("column %s: %s, was %s", rowio.QuoteIdent(c.Name), c.Def, o.Def))
			nowOrder = append(nowOrder, c.Name)
		default:
			nowOrder = append(nowOrder, c.Name)
		}
	}
	for _, c := range was {
		if !cur[strings.ToLower(c.Name)] {
			out = append(out, fmt.Sprintf("column %s dropped", rowio.QuoteIdent(c.Name)))
		} else {
			wasOrder = append(wasOrder, c.Name)
		}
	}
	if strings.Join(wasOrder, ",") != strings.Join(nowOrder, ",") {
		out = append(out, fmt.Sprintf("columns in the order %s, were %s", strings.Join(nowOrder, ","), strings.Join(wasOrder, ",")))
	}
	return out
}

// TableChange is a logged table that is not the table its identity was
// recorded for.
type TableChange struct {
	Table string
	// Now is its identity now (nil: it is gone).
	Now *Identity
	// What describes the differences (see Diff).
	What []string
}

// ChangedError stops Stream: logged tables changed in a way their change logs
// do not show. Nothing read after the change was emitted.
type ChangedError struct {
	Schema  string
	Changes []TableChange
}

func (e *ChangedError) Error() string {
	var b strings.Builder
	b.WriteString("source table(s) changed without a trace in the change logs (triggers do not fire on TRUNCATE or DDL): ")
	for i, c := range e.Changes {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(rowio.QuoteIdent(e.Schema) + "." + rowio.QuoteIdent(c.Table) + ": " + strings.Join(c.What, ", "))
	}
	return b.String()
}

// Tables names the changed tables.
func (e *ChangedError) Tables() []string {
	out := make([]string, len(e.Changes))
	for i, c := range e.Changes {
		out[i] = c.Table
	}
	return out
}

// CompareIdentities reads the identities of the tables of was now (with
// their columns) and returns a *ChangedError naming those that differ, or
// nil.
func CompareIdentities(ctx context.Context, db *sql.DB, schema string, was map[string]*Identity) error {
	names := make([]string, 0, len(was))
	for n := range was {
		names = append(names, n)
	}
	sort.Strings(names)
	return compare(ctx, db, schema, was, names, true)
}

// compare checks the tables names against was. Without columns only
// engines, ids and creation times are read; a table that differs is read
// again with its columns, to name them.
func compare(ctx context.Context, db *sql.DB, schema string, was map[string]*Identity, names []string, columns bool) error {
	now, err := ReadIdentities(ctx, db, schema, names, columns)
	if err != nil {
		return err
	}
	var changed []string
	for _, n := range names {
		if w := was[n]; w != nil && len(Diff(w, now[n])) > 0 {
			changed = append(changed, n)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	if !columns {
		if now, err = ReadIdentities(ctx, db, schema, changed, true); err != nil {
			return err
		}
	}
	e := &ChangedError{Schema: schema}
	for _, n := range changed {
		if d := Diff(was[n], now[n]); len(d) > 0 {
			e.Changes = append(e.Changes, TableChange{Table: n, Now: now[n], What: d})
		}
	}
	if len(e.Changes) == 0 {
		return nil // changed back between the two reads: the next check sees it
	}
	return e
}

// HasTriggers reports whether shiplog's three triggers are on table (a table
// dropped and created again has lost them).
func (in *Installer) HasTriggers(ctx context.Context, table string) (bool, error) {
	existing, err := in.triggers(ctx, table)
	if err != nil {
		return false, err
	}
	n := 0
	for _, ev := range events {
		for _, t := range existing {
			if t.name == triggerName(table, ev) && t.event == ev {
				n++
				break
			}
		}
	}
	return n == len(events), nil
}
