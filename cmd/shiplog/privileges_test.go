//go:build !unit

package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// grantStatements returns the GRANT statements a refused run printed for
// side ("source" or "destination").
func grantStatements(t *testing.T, stderr, side string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		rest, ok := strings.CutPrefix(l, "on the "+side+": ")
		if !ok {
			continue
		}
		stmt, _, ok := strings.Cut(rest, ";")
		if !ok {
			t.Fatalf("no statement in %q", l)
		}
		out = append(out, stmt)
	}
	return out
}

// assertNothingWritten fails if the destination holds a state table or a
// row, or the source a change log or trigger.
func (e *env) assertNothingWritten(what string) {
	e.t.Helper()
	var state, rows, logs, triggers int
	if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop_new' AND TABLE_NAME LIKE '\\_shiplog%'").Scan(&state); err != nil {
		e.t.Fatal(err)
	}
	if err := e.dstDB.QueryRow("SELECT (SELECT COUNT(*) FROM orders) + (SELECT COUNT(*) FROM items)").Scan(&rows); err != nil {
		e.t.Fatal(err)
	}
	if err := e.srcDB.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME LIKE 'm2\\_cl\\_%'").Scan(&logs); err != nil {
		e.t.Fatal(err)
	}
	if err := e.srcDB.QueryRow("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop'").Scan(&triggers); err != nil {
		e.t.Fatal(err)
	}
	if state+rows+logs+triggers != 0 {
		e.t.Fatalf("%s: written although refused: %d state tables, %d destination rows, %d change logs, %d triggers", what, state, rows, logs, triggers)
	}
}

// TestPrivilegePreflightNamesEveryMissingGrant: a source user without
// REPLICATION SLAVE, one without BINLOG MONITOR, a destination user without
// CREATE are each refused with exit 2 before anything is copied or recorded,
// every missing grant named at once as the GRANT statement to run, and
// nothing else named (a destination user whose privileges come from a
// default role passes). The statement adds to the user's existing grant on
// the database (a second, differently spelled entry would not add up).
// Running exactly the named statement is enough: then data and delta run
// with only the documented grants; cutover --set-source-read-only without
// READ_ONLY ADMIN is refused naming it.
func TestPrivilegePreflightNamesEveryMissingGrant(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.both(shopDDL, itemsDDL)
	ctx := context.Background()
	if err := e.src.Exec(ctx, "shop",
		`INSERT INTO orders (customer, amount, note, updated) SELECT CONCAT('c', seq), seq, 'n', NOW(6) FROM seq_1_to_200`,
		`INSERT INTO items SELECT o.id, l.seq, CONCAT('SKU', o.id), l.seq, 1 FROM orders o JOIN seq_1_to_2 l`,
		`CREATE USER 'noslave'@'%' IDENTIFIED BY 'pw'`,
		"GRANT SELECT ON `shop`.* TO 'noslave'@'%'",
		`GRANT BINLOG MONITOR ON *.* TO 'noslave'@'%'`,
		`CREATE USER 'nomon'@'%' IDENTIFIED BY 'pw'`,
		`GRANT SELECT ON shop.* TO 'nomon'@'%'`,
		`GRANT REPLICATION SLAVE ON *.* TO 'nomon'@'%'`,
		// The documented grants; a db pattern that matches shop.
		`CREATE USER 'ok'@'%' IDENTIFIED BY 'pw'`,
		`GRANT SELECT ON `+"`sho_`"+`.* TO 'ok'@'%'`,
		`GRANT REPLICATION SLAVE, BINLOG MONITOR, RELOAD ON *.* TO 'ok'@'%'`,
	); err != nil {
		t.Fatal(err)
	}
	if err := e.dst.Exec(ctx, "",
		`CREATE USER 'nocreate'@'%' IDENTIFIED BY 'pw'`,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON shop_new.* TO 'nocreate'@'%'`,
		// Privileges through a default role.
		`CREATE ROLE shiplog_writer`,
		"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE ON `shop\\_new`.* TO shiplog_writer",
		`CREATE USER 'w'@'%' IDENTIFIED BY 'pw'`,
		`GRANT shiplog_writer TO 'w'@'%'`,
		`SET DEFAULT ROLE shiplog_writer FOR 'w'@'%'`,
	); err != nil {
		t.Fatal(err)
	}
	config := func(srcUser, dstUser string) string {
		return e.writeConfig(fmt.Sprintf(`source: {host: 127.0.0.1, port: %d, user: %s, password: pw, database: shop}
destination: {host: 127.0.0.1, port: %d, user: %s, password: pw, database: shop_new}
`, e.src.Port, srcUser, e.dst.Port, dstUser))
	}
	cases := []struct {
		src, dst string
		args     []string
		source   []string
		dest     []string
	}{
		{"noslave", "w", []string{"migrate", "data"}, []string{"GRANT REPLICATION SLAVE, RELOAD ON *.* TO 'noslave'@'%'"}, nil},
		{"nomon", "w", []string{"run"}, []string{"GRANT BINLOG MONITOR, RELOAD ON *.* TO 'nomon'@'%'"}, nil},
		{"ok", "nocreate", []string{"migrate", "data"}, nil, []string{"GRANT CREATE ON `shop_new`.* TO 'nocreate'@'%'"}},
		{"noslave", "nocreate", []string{"migrate", "delta"}, []string{"GRANT REPLICATION SLAVE ON *.* TO 'noslave'@'%'"},
			[]string{"GRANT CREATE ON `shop_new`.* TO 'nocreate'@'%'"}},
	}
	var lastDest []string
	for _, c := range cases {
		what := fmt.Sprintf("%s/%s %v", c.src, c.dst, c.args)
		r := runShiplog(t, config(c.src, c.dst), nil, c.args...)
		expectFailure(t, r, 2, "missing privileges", "nothing was written")
		if got := grantStatements(t, r.stderr, "source"); strings.Join(got, "\n") != strings.Join(c.source, "\n") {
			t.Fatalf("%s: source statements %q, want %q\n%s", what, got, c.source, r.stderr)
		}
		got := grantStatements(t, r.stderr, "destination")
		if strings.Join(got, "\n") != strings.Join(c.dest, "\n") {
			t.Fatalf("%s: destination statements %q, want %q\n%s", what, got, c.dest, r.stderr)
		}
		if strings.Contains(r.stderr, "pw") {
			t.Fatalf("%s: a password in the error:\n%s", what, r.stderr)
		}
		e.assertNothingWritten(what)
		if got != nil {
			lastDest = got
		}
	}

	// The statement as printed, and nothing more, is enough.
	if err := e.dst.Exec(ctx, "", lastDest...); err != nil {
		t.Fatal(err)
	}
	documented := config("ok", "nocreate")
	for _, args := range [][]string{{"migrate", "data"}, nil, {"migrate", "delta", "--exit-when-caught-up"}} {
		if args == nil {
			if err := e.src.Exec(ctx, "shop",
				`UPDATE orders SET amount = amount + 1 WHERE id % 3 = 0`,
				`DELETE FROM items WHERE order_id % 5 = 0`,
				`INSERT INTO orders (customer, amount, note, updated) VALUES ('late', 9, 'x', NOW(6))`); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if r := runShiplog(t, documented, nil, args...); r.code != 0 {
			t.Fatalf("%v with the documented grants: exit %d\n%s", args, r.code, r.stderr)
		}
	}
	e.assertIdentical()

	// Cutover with --set-source-read-only also needs READ_ONLY ADMIN
	// (MariaDB 10.11: SUPER no longer implies it); refused before read_only
	// is touched.
	r := runShiplog(t, documented, nil, "cutover", "--set-source-read-only", "--timeout", "5s")
	expectFailure(t, r, 2, "missing privileges")
	if got, want := grantStatements(t, r.stderr, "source"), "GRANT READ_ONLY ADMIN ON *.* TO 'ok'@'%'"; strings.Join(got, "\n") != want {
		t.Fatalf("cutover: source statements %q, want %q\n%s", got, want, r.stderr)
	}
	var readOnly int
	if err := e.srcDB.QueryRow("SELECT @@GLOBAL.read_only").Scan(&readOnly); err != nil || readOnly != 0 {
		t.Fatalf("source read_only = %d (%v) after a refused cutover", readOnly, err)
	}
}

// TestTriggerPreflightNamesTriggerAndProcess: a change-log (trigger) source
// user without TRIGGER and PROCESS is refused before a change log or trigger
// is created, both named in one error; once the named statements are run,
// data mode goes through.
func TestTriggerPreflightNamesTriggerAndProcess(t *testing.T) {
	t.Parallel()
	e := triggerEnv(t)
	ctx := context.Background()
	if err := e.src.Exec(ctx, "",
		`CREATE USER 'tmig'@'%' IDENTIFIED BY 'pw'`,
		`GRANT SELECT, INSERT, DELETE, CREATE ON shop.* TO 'tmig'@'%'`); err != nil {
		t.Fatal(err)
	}
	config := e.writeConfig(strings.Replace(readFile(t, e.config), "user: root", "user: tmig, password: pw", 1))
	r := runShiplog(t, config, nil, "migrate", "data")
	expectFailure(t, r, 2, "TRUNCATE")
	got := grantStatements(t, r.stderr, "source")
	want := []string{"GRANT TRIGGER, LOCK TABLES ON `shop`.* TO 'tmig'@'%'", "GRANT PROCESS ON *.* TO 'tmig'@'%'"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("source statements %q, want %q\n%s", got, want, r.stderr)
	}
	e.assertNothingWritten("trigger user without TRIGGER, PROCESS")
	if err := e.src.Exec(ctx, "", got...); err != nil {
		t.Fatal(err)
	}
	if r := runShiplog(t, config, nil, "migrate", "data"); r.code != 0 {
		t.Fatalf("migrate data after the named grants: exit %d\n%s", r.code, r.stderr)
	}
	var n int
	if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM orders").Scan(&n); err != nil || n != 300 {
		t.Fatalf("destination orders: %d (%v), want 300", n, err)
	}
}
