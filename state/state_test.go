//go:build !unit

package state_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/shiplog/shiplog/internal/testenv"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
	"github.com/shiplog/shiplog/state"
)

// TestStateValuesAreStoredWholeOrRefused: state tables of an older version
// (value TEXT, 64 KiB) are widened when opened, a value of several hundred
// KiB (a large shop's recorded schema) is read back whole, and a value the
// column cannot store as it is (text its character set cannot hold, which the
// non-strict session would cut) is an error, not a cut value.
func TestStateValuesAreStoredWholeOrRefused(t *testing.T) {
	t.Parallel()
	db, st := testDestination(t,
		"CREATE TABLE _shiplog_state (name VARCHAR(64) NOT NULL PRIMARY KEY, value TEXT NOT NULL, updated_at DATETIME(6) NOT NULL) DEFAULT CHARSET=utf8mb4",
		"CREATE TABLE _shiplog_runs (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, command VARCHAR(64) NOT NULL, mode VARCHAR(32) NOT NULL,"+
			" started_at DATETIME(6) NOT NULL, ended_at DATETIME(6) NULL, status ENUM('started','success','partial','failed') NOT NULL,"+
			" inserted BIGINT NOT NULL DEFAULT 0, updated BIGINT NOT NULL DEFAULT 0, deleted BIGINT NOT NULL DEFAULT 0,"+
			" failed_rows BIGINT NOT NULL DEFAULT 0, error TEXT NULL, KEY started_at (started_at)) DEFAULT CHARSET=utf8mb4")
	ctx := context.Background()
	var typ string
	if err := db.QueryRow("SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'd' AND TABLE_NAME = '_shiplog_state' AND COLUMN_NAME = 'value'").Scan(&typ); err != nil || typ != "longtext" {
		t.Fatalf("_shiplog_state.value is %q (%v), want longtext", typ, err)
	}
	if err := db.QueryRow("SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'd' AND TABLE_NAME = '_shiplog_runs' AND COLUMN_NAME = 'error'").Scan(&typ); err != nil || typ != "mediumtext" {
		t.Fatalf("_shiplog_runs.error is %q (%v), want mediumtext", typ, err)
	}
	big := `[{"Name":"` + strings.Repeat("catalog_product_entity_varchar ", 12000) + `"}]` // ~370 KB
	if err := st.SetFlag(ctx, nil, "source_schema", big); err != nil {
		t.Fatal(err)
	}
	got, err := st.Flag(ctx, "source_schema")
	if err != nil || got != big {
		t.Fatalf("read back %d bytes of %d (%v)", len(got), len(big), err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = st.SetFlag(ctx, tx, "source_schema", "caf\xe9 \xff not UTF-8")
	_ = tx.Rollback()
	if !errors.Is(err, state.ErrStateTooLarge) {
		t.Fatalf("invalid text for a utf8mb4 column: %v, want ErrStateTooLarge", err)
	}
	if got, err := st.Flag(ctx, "source_schema"); err != nil || got != big {
		t.Fatalf("after the refused write: %d bytes (%v)", len(got), err)
	}
	// Ensure again (every command opens the state) changes nothing.
	if err := st.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
}

// testDestination starts a server with database d holding the tables of ddl,
// opens it with the destination's session settings and ensures shiplog's
// state tables in it.
func testDestination(t *testing.T, ddl ...string) (*sql.DB, *state.State) {
	t.Helper()
	m := testenv.MariaDBT(t, testenv.Options{})
	ctx := context.Background()
	if err := m.Exec(ctx, "", "CREATE DATABASE d"); err != nil {
		t.Fatal(err)
	}
	if err := m.Exec(ctx, "d", ddl...); err != nil {
		t.Fatal(err)
	}
	cfg, err := gomysql.ParseDSN(m.DSN("d"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := gomysql.NewConnector(mysqlsink.SessionConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	st := state.NewState(db, "d")
	if err := st.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	return db, st
}
