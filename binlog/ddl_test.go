//go:build !unit

package binlog

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/testenv"
)

// ddlServer is a source for the DDL tests: statements run on one connection
// whose default database is shop.
type ddlServer struct {
	t    *testing.T
	m    *testenv.MariaDB
	db   *sql.DB
	conn *sql.Conn
	cfg  Config
}

func newDDLServer(t *testing.T, lctn int, setup ...string) *ddlServer {
	t.Helper()
	o := testenv.Options{Binlog: true}
	if lctn != 0 {
		o.ExtraArgs = []string{"--lower-case-table-names=1"}
	}
	m := testenv.MariaDBT(t, o)
	ctx := context.Background()
	if err := m.Exec(ctx, "", setup...); err != nil {
		t.Fatal(err)
	}
	db, err := m.Open("shop")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var got int
	if err := db.QueryRow("SELECT @@lower_case_table_names").Scan(&got); err != nil || got != lctn {
		t.Fatalf("lower_case_table_names = %d (%v), want %d", got, err, lctn)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &ddlServer{t: t, m: m, db: db, conn: conn, cfg: Config{
		Schema: "shop", Tables: func(name string) bool { return name == "t" }, HeartbeatPeriod: 100 * time.Millisecond,
	}}
}

func (s *ddlServer) head() cdc.Position {
	s.t.Helper()
	p, err := HeadPosition(context.Background(), s.db, "mariadb")
	if err != nil {
		s.t.Fatal(err)
	}
	return p
}

func (s *ddlServer) exec(stmts ...string) {
	s.t.Helper()
	for _, q := range stmts {
		if _, err := s.conn.ExecContext(context.Background(), q); err != nil {
			s.t.Fatalf("%s: %v", q, err)
		}
	}
}

// stopsAt streams from `from` and wants a *DDLError for stmt (as the binlog
// has it: the server rewrites some statements), at the start of its event
// group (its GTID event), with the last batch emitted at that position. It
// returns the error and the batches.
func (s *ddlServer) stopsAt(from cdc.Position, cfg Config, stmt string) (*DDLError, []cdc.Batch) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	batches, err := streamUntil(ctx, s.m, from, cfg)
	var ddl *DDLError
	if !errors.As(err, &ddl) {
		s.t.Fatalf("%s: Stream returned %v, want a *DDLError for it", stmt, err)
	}
	if !strings.Contains(strings.ToLower(ddl.Statement), strings.ToLower(stmt)) {
		s.t.Fatalf("stopped at %q, want %q", ddl.Statement, stmt)
	}
	if len(batches) == 0 || batches[len(batches)-1].Pos != ddl.Pos {
		s.t.Fatalf("%s: the last batch emitted is not at the DDL position %v", stmt, ddl.Pos)
	}
	// SHOW BINLOG EVENTS: the statement's Query event and, just before it,
	// the GTID event that opens its group.
	rows, err := s.db.Query("SHOW BINLOG EVENTS IN '" + ddl.Pos.File + "'")
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	var groupStart uint64
	found := false
	for rows.Next() {
		var file, typ, info string
		var pos, serverID, end uint64
		if err := rows.Scan(&file, &pos, &typ, &serverID, &end, &info); err != nil {
			s.t.Fatal(err)
		}
		if typ == "Gtid" {
			groupStart = pos
		}
		if typ == "Query" && strings.HasSuffix(info, ddl.Statement) && groupStart >= from.Pos {
			found = true
			break
		}
	}
	if !found || ddl.Pos.Pos != groupStart {
		s.t.Fatalf("%s: DDL position %v, want the start of its GTID event %d (found %v)", stmt, ddl.Pos, groupStart, found)
	}
	return ddl, batches
}

// TestDDLNamesMatchedAsTheServerMatchesThem: with lower_case_table_names=1
// a statement names a copied table in any case, schema-qualified or not,
// quoted or not, and each stops the stream; with 0, tables and databases
// whose names differ in case only are other tables, and neither their DDL nor
// their rows reach the stream.
func TestDDLNamesMatchedAsTheServerMatchesThem(t *testing.T) {
	t.Parallel()
	t.Run("lower_case_table_names=1", func(t *testing.T) {
		s := newDDLServer(t, 1, "CREATE DATABASE Shop", "CREATE DATABASE Other",
			"CREATE TABLE Shop.T (id INT PRIMARY KEY, v VARCHAR(10))", "CREATE TABLE Shop.U (id INT PRIMARY KEY)",
			"CREATE TABLE Other.T (id INT PRIMARY KEY)")
		hits := []struct {
			stmt, want string
			noTable    bool // t does not exist before the statement
		}{
			{stmt: "ALTER TABLE T ADD COLUMN c1 INT"},
			{stmt: "ALTER TABLE SHOP.T MODIFY v VARCHAR(20)"},
			{stmt: "ALTER TABLE `Shop`.`T` CONVERT TO CHARACTER SET latin1"},
			{stmt: "/* tool */ ALTER ONLINE TABLE T COMMENT 'x'"},
			{stmt: "TRUNCATE TABLE T"},
			{stmt: "TRUNCATE `T`"},
			{stmt: "CREATE INDEX i ON `SHOP`.`T` (v)"},
			{stmt: "RENAME TABLE T TO T_old"},
			{stmt: "RENAME TABLE T_OLD TO T", noTable: true},
			{stmt: "SET STATEMENT lock_wait_timeout=5 FOR ALTER TABLE T DROP COLUMN c1"},
			{stmt: "DROP TABLE IF EXISTS nothere, T", want: "DROP TABLE IF EXISTS `nothere`,`t`"},
			{stmt: "CREATE TABLE T (id INT PRIMARY KEY, v VARCHAR(10))", noTable: true},
		}
		for i, h := range hits {
			from := s.head()
			if i%3 == 0 {
				// Statements that do not touch the copied table pass first.
				s.exec("ALTER TABLE U ADD COLUMN z"+string(rune('a'+i))+" INT", "TRUNCATE Other.T", "ALTER TABLE OTHER.t FORCE")
			}
			want := 0
			if !h.noTable {
				s.exec("INSERT INTO T (id, v) VALUES (" + string(rune('0'+i%10)) + ", 'r') ON DUPLICATE KEY UPDATE v = 's'")
				want = 1
			}
			s.exec(h.stmt)
			stmt := h.stmt
			if h.want != "" {
				stmt = h.want
			}
			_, batches := s.stopsAt(from, s.cfg, stmt)
			rows := 0
			for _, b := range batches {
				for _, c := range b.Changes {
					if c.Table.Name != "t" {
						t.Fatalf("change of table %q emitted", c.Table.Name)
					}
					rows++
				}
			}
			if rows != want {
				t.Fatalf("before %s: %d row changes emitted, want %d", stmt, rows, want)
			}
		}

		// The statement a stopped stream returned is passed when asked for,
		// and the next one stops it; another statement at the same position
		// is not passed.
		from := s.head()
		s.exec("ALTER TABLE t ADD COLUMN c2 INT", "INSERT INTO T (id) VALUES (1)", "TRUNCATE t")
		first, _ := s.stopsAt(from, s.cfg, "ALTER TABLE t ADD COLUMN c2 INT")
		cfg := s.cfg
		cfg.AcceptDDL = first
		_, batches := s.stopsAt(first.Pos, cfg, "TRUNCATE t")
		inserted := false
		for _, b := range batches {
			for _, c := range b.Changes {
				inserted = inserted || (c.Op == cdc.OpInsert && len(c.After) == 3 && c.After[0] == int64(1))
			}
		}
		if !inserted {
			t.Fatal("the insert after the passed DDL was not emitted with the new column")
		}
		other := *first
		other.Statement = "ALTER TABLE t ADD COLUMN c3 INT"
		cfg.AcceptDDL = &other
		s.stopsAt(first.Pos, cfg, "ALTER TABLE t ADD COLUMN c2 INT")
	})

	t.Run("lower_case_table_names=0", func(t *testing.T) {
		s := newDDLServer(t, 0, "CREATE DATABASE shop", "CREATE DATABASE Shop",
			"CREATE TABLE shop.t (id INT PRIMARY KEY)", "CREATE TABLE shop.T (id INT PRIMARY KEY)",
			"CREATE TABLE Shop.t (id INT PRIMARY KEY)")
		from := s.head()
		s.exec("ALTER TABLE T ADD COLUMN z INT", "TRUNCATE TABLE T", "ALTER TABLE Shop.t ADD COLUMN z INT", "TRUNCATE Shop.t",
			"INSERT INTO T (id) VALUES (1)", "INSERT INTO Shop.t (id) VALUES (2)",
			"INSERT INTO t (id) VALUES (3)",
			"ALTER TABLE t ADD COLUMN z INT")
		_, batches := s.stopsAt(from, s.cfg, "ALTER TABLE t ADD COLUMN z INT")
		var ids []any
		for _, b := range batches {
			for _, c := range b.Changes {
				ids = append(ids, c.After[0])
			}
		}
		if len(ids) != 1 || ids[0] != int64(3) {
			t.Fatalf("row changes emitted: %v, want only id 3 of shop.t", ids)
		}
	})
}
