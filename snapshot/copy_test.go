//go:build !unit

package snapshot_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/shiplog/shiplog/internal/testenv"
	"github.com/shiplog/shiplog/rowio"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
	"github.com/shiplog/shiplog/snapshot"
	"github.com/shiplog/shiplog/state"
	"github.com/shiplog/shiplog/transform"

	gomysql "github.com/go-sql-driver/mysql"
)

func openDest(t *testing.T, m *testenv.MariaDB, db string) *sql.DB {
	t.Helper()
	cfg, err := gomysql.ParseDSN(m.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := gomysql.NewConnector(mysqlsink.SessionConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	d := sql.OpenDB(conn)
	t.Cleanup(func() { d.Close() })
	return d
}

// TestCopyTypeMatrix copies every column type and checks the bytes match;
// tables keyed by UUID and INET6/INET4 are copied in chunks of 7 through
// their keys.
func TestCopyTypeMatrix(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, dst := testenv.SourceAndDest(t, "shop", "shop_new")
	if err := src.Exec(ctx, "shop", append([]string{testenv.TypeMatrixDDL,
		"CREATE TABLE nokey (a INT, b VARCHAR(10))",
		"INSERT INTO nokey VALUES (1,'x'),(1,'x'),(2,NULL)",
		"CREATE TABLE big (id BIGINT UNSIGNED NOT NULL, k VARCHAR(20) CHARACTER SET latin1 NOT NULL, v INT, PRIMARY KEY (id, k))",
		"INSERT INTO big SELECT seq DIV 3, CONCAT('k', ELT(1 + seq MOD 3, 'å', 'ä', 'ö')), seq FROM seq_1_to_5000",
	}, append(append(testenv.TypeMatrixRows, testenv.TypeMatrixKeyDDL...), testenv.TypeMatrixKeyRows...)...)...); err != nil {
		t.Fatal(err)
	}
	if err := dst.Exec(ctx, "shop_new", append([]string{testenv.TypeMatrixDDL,
		"CREATE TABLE nokey (a INT, b VARCHAR(10))",
		"CREATE TABLE big (id BIGINT UNSIGNED NOT NULL, k VARCHAR(20) CHARACTER SET latin1 NOT NULL, v INT, PRIMARY KEY (id, k))"},
		testenv.TypeMatrixKeyDDL...)...); err != nil {
		t.Fatal(err)
	}
	srcDB, err := src.Open("shop")
	if err != nil {
		t.Fatal(err)
	}
	defer srcDB.Close()
	dstDB := openDest(t, dst, "shop_new")

	srcTables, err := rowio.LoadTables(ctx, srcDB, "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	dstTables, err := rowio.LoadTables(ctx, dstDB, "shop_new", "_shiplog_")
	if err != nil {
		t.Fatal(err)
	}
	// Without opting in, the keyless table is an integrity error.
	if _, problems := transform.Compile(nil, srcTables, dstTables); !transform.HasErrors(problems) {
		t.Fatalf("want an integrity error for table nokey, got %v", problems)
	}
	plan, problems := transform.Compile(&transform.Rules{FullRowTables: []string{"nokey"}}, srcTables, dstTables)
	if transform.HasErrors(problems) {
		t.Fatalf("problems: %v", problems)
	}
	st := state.NewState(dstDB, "shop_new")
	if err := st.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	c := &snapshot.Copier{Source: srcDB, Dest: dstDB, State: st, Plan: plan, ChunkRows: 7, Volume: true,
		Writer: mysqlsink.NewWriter(dstDB, st, mysqlsink.Options{MaxStatementBytes: 2000})}
	res, err := c.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Tables != 5 || res.Rows != 4+3+5000+302+300 || res.Start.IsZero() {
		t.Fatalf("result %+v", res)
	}
	diffs, err := testenv.CompareDatabases(ctx, srcDB, "shop", dstDB, "shop_new")
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Fatalf("differences after copy: %v", diffs)
	}
	// Generated columns are computed by the destination, not copied.
	var gen sql.NullInt64
	if err := dstDB.QueryRowContext(ctx, "SELECT gen FROM types WHERE id = 1").Scan(&gen); err != nil || gen.Int64 != -4294967296 {
		t.Fatalf("generated column: %v %v", gen, err)
	}
	progress, err := st.Progress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := progress["big"]; p.State != state.TableDone || p.Rows != 5000 || p.SourceRows == nil || *p.SourceRows != 5000 {
		t.Fatalf("progress of big: %+v", p)
	}
	if p := progress["types_uuid"]; p.State != state.TableDone || p.Rows != 302 || p.SourceRows == nil || *p.SourceRows != 302 {
		t.Fatalf("progress of types_uuid: %+v", p)
	}
}
