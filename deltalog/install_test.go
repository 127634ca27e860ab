//go:build !unit

package deltalog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/testenv"
)

// TestInstallKeepsTheApplicationsPreparedStatements: an application writing
// through server-side prepared statements (as sysbench and Java pools with
// useServerPrepStmts do) while the change logs are installed and removed
// goes on without an error, and its writes are logged. With the triggers
// created one by one, MariaDB 10.11 left prepared DELETEs failing on every
// EXECUTE with "Table 'shop.m2_cl_sbtest1' doesn't exist" (hundreds of
// errors per run, on connections that never recovered).
func TestInstallKeepsTheApplicationsPreparedStatements(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src := testenv.MariaDBT(t, testenv.Options{})
	const tables, workers = 4, 8
	stmts := []string{"CREATE DATABASE shop"}
	var specs []Spec
	for i := 1; i <= tables; i++ {
		name := fmt.Sprintf("sbtest%d", i)
		stmts = append(stmts, "CREATE TABLE shop."+name+" (id INT PRIMARY KEY, k INT, c CHAR(20))",
			"INSERT INTO shop."+name+" SELECT seq, seq, 'x' FROM mysql.seq_1_to_1000")
		tb := &cdc.Table{Name: name, Columns: []cdc.Column{{Name: "id", DataType: "int", ColumnType: "int(11)"}}, Key: []int{0}}
		specs = append(specs, Spec{Table: tb, Key: []int{0}, LogTable: LogTableName("", name)})
	}
	if err := src.Exec(ctx, "", stmts...); err != nil {
		t.Fatal(err)
	}
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr, c.DBName = "root", "tcp", src.Addr(), "shop"
	app, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	db, err := src.Open("shop")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	var (
		stop   atomic.Bool
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []string
		nErr   int
		rounds [workers]atomic.Int64
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		nErr++
		if len(errs) < 5 {
			errs = append(errs, fmt.Sprintf(format, args...))
		}
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			conn, err := app.Conn(ctx)
			if err != nil {
				fail("worker %d: %v", w, err)
				return
			}
			defer conn.Close()
			var ps []*sql.Stmt
			var texts []string
			for i := 1; i <= tables; i++ {
				for _, q := range []string{"UPDATE sbtest%d SET k=k+1 WHERE id=?", "DELETE FROM sbtest%d WHERE id=?",
					"REPLACE INTO sbtest%d (id, k, c) VALUES (?, 1, 'y')", "SELECT c FROM sbtest%d WHERE id=?"} {
					text := fmt.Sprintf(q, i)
					s, err := conn.PrepareContext(ctx, text) // COM_STMT_PREPARE: a server-side statement
					if err != nil {
						fail("worker %d: prepare %s: %v", w, text, err)
						return
					}
					defer s.Close()
					ps, texts = append(ps, s), append(texts, text)
				}
			}
			for j := 0; !stop.Load() && ctx.Err() == nil; j++ {
				id := 1 + (j*workers+w)%1000
				for k, s := range ps {
					if _, err := s.ExecContext(ctx, id); err != nil {
						fail("worker %d: EXECUTE %s: %v", w, texts[k], err)
					}
				}
				rounds[w].Add(1)
			}
		}(w)
	}
	// waitRounds waits until every worker has run n more rounds of its
	// statements.
	waitRounds := func(n int64) {
		t.Helper()
		var base [workers]int64
		for w := range rounds {
			base[w] = rounds[w].Load()
		}
		deadline := time.Now().Add(time.Minute)
		for w := range rounds {
			for rounds[w].Load() < base[w]+n {
				if time.Now().After(deadline) {
					t.Fatalf("worker %d ran %d rounds in a minute", w, rounds[w].Load()-base[w])
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	check := func(stage string) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if nErr > 0 {
			t.Fatalf("%s: the application's prepared statements failed %d times, e.g.:\n%v", stage, nErr, errs)
		}
	}
	defer func() { stop.Store(true); wg.Wait() }()

	in := &Installer{DB: db, Schema: "shop"}
	waitRounds(20)
	failed, err := in.Install(ctx, specs)
	if err != nil || len(failed) > 0 {
		t.Fatal(err, failed)
	}
	waitRounds(50)
	check("install")
	for _, s := range specs {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(DISTINCT operation) FROM "+s.LogTable).Scan(&n); err != nil || n != 3 {
			t.Fatalf("%s logs %d kinds of change (%v), want INSERT, UPDATE and DELETE", s.LogTable, n, err)
		}
	}
	if err := in.Uninstall(ctx, specs); err != nil {
		t.Fatal(err)
	}
	waitRounds(50)
	check("uninstall")
}

// TestInstallGivesUpOnABusyTable: a transaction holding a table makes the
// install wait LockWait at most (the application's statements on the table
// queue behind the waiting lock), then name the table and the reason; once
// the transaction ends the install goes through.
func TestInstallGivesUpOnABusyTable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src := testenv.MariaDBT(t, testenv.Options{})
	if err := src.Exec(ctx, "", "CREATE DATABASE shop", "CREATE TABLE shop.orders (id INT PRIMARY KEY, k INT)", "INSERT INTO shop.orders VALUES (1, 1)"); err != nil {
		t.Fatal(err)
	}
	db, err := src.Open("shop")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "UPDATE orders SET k = 2 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	tb := &cdc.Table{Name: "orders", Columns: []cdc.Column{{Name: "id", DataType: "int", ColumnType: "int(11)"}}, Key: []int{0}}
	specs := []Spec{{Table: tb, Key: []int{0}, LogTable: LogTableName("", "orders")}}
	in := &Installer{DB: db, Schema: "shop", LockWait: time.Second}
	start := time.Now()
	failed, err := in.Install(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("install waited %s", took)
	}
	if e := failed["orders"]; e == nil || !strings.Contains(e.Error(), "kept it for over 1s") {
		t.Fatalf("install beside an open transaction: %v, want the busy table named", failed)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_TABLE = 'orders'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d triggers (%v) after giving up, want none", n, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if failed, err := in.Install(ctx, specs); err != nil || len(failed) > 0 {
		t.Fatal(err, failed)
	}
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_TABLE = 'orders'").Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d triggers (%v), want 3", n, err)
	}
}
