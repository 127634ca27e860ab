//go:build !unit

package mysql

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/testenv"
	"github.com/shiplog/shiplog/state"
)

// hostileValues end, or escape the end of, a literal quoted for the other
// sql_mode: with NO_BACKSLASH_ESCAPES a backslash is text, without it an
// escape.
var hostileValues = []string{
	`x', CONCAT('a', CURRENT_USER())) -- `,
	`x', CONCAT(0x61, CURRENT_USER())) -- `,
	`x\', CONCAT('a', CURRENT_USER())) -- `,
	`x\\', CONCAT('a', CURRENT_USER())) -- `,
	`a\b`, `\`, `\\`, `\'`, `'`, `''`, `"`, `\"`, `\N`, `\0`, `\t`, `?`, `%_`,
	"\"; DROP TABLE k; -- ", "nul\x00byte", "tab\tnew\nline\r\x1a", "é 😀 ✓",
}

// TestWritesWhateverTheSQLMode writes snapshot chunks (LOAD DATA and INSERT)
// and a stream batch (upserts, LOAD DATA REPLACE, deletes and key changes by
// those keys) of hostile values through sessions in several sql_modes: every
// byte lands as the source had it, and nothing of a value runs as SQL.
func TestWritesWhateverTheSQLMode(t *testing.T) {
	t.Parallel()
	m := testenv.MariaDBT(t, testenv.Options{})
	ctx := context.Background()
	for i, mode := range []string{"NO_BACKSLASH_ESCAPES", "NO_BACKSLASH_ESCAPES,ANSI_QUOTES", "ANSI,NO_BACKSLASH_ESCAPES", "ANSI_QUOTES", ""} {
		t.Run(fmt.Sprintf("mode=%q", mode), func(t *testing.T) {
			name := fmt.Sprintf("d%d", i)
			if err := m.Exec(ctx, "", "CREATE DATABASE "+name); err != nil {
				t.Fatal(err)
			}
			if err := m.Exec(ctx, name,
				"CREATE TABLE k (id VARBINARY(128) PRIMARY KEY, v TEXT CHARACTER SET utf8mb4, l VARCHAR(64) CHARACTER SET latin1, b VARBINARY(128))",
				"CREATE TABLE j (id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PRIMARY KEY, v TEXT CHARACTER SET utf8mb4, doc JSON)"); err != nil {
				t.Fatal(err)
			}
			cfg, err := gomysql.ParseDSN(m.DSN(name))
			if err != nil {
				t.Fatal(err)
			}
			cfg = SessionConfig(cfg)
			cfg.Params["sql_mode"] = "'" + mode + "'"
			conn, err := gomysql.NewConnector(cfg)
			if err != nil {
				t.Fatal(err)
			}
			db := sql.OpenDB(conn)
			defer db.Close()
			var got string
			if err := db.QueryRow("SELECT @@SESSION.sql_mode").Scan(&got); err != nil || !strings.Contains(got, strings.Split(mode, ",")[0]) {
				t.Fatalf("session sql_mode %q (%v), want %q", got, err, mode)
			}
			st := state.NewState(db, name)
			if err := st.Ensure(ctx); err != nil {
				t.Fatal(err)
			}
			kt := &cdc.Table{Schema: name, Name: "k", Key: []int{0}, Columns: []cdc.Column{
				{Name: "id", DataType: "varbinary", Charset: "binary"}, {Name: "v", DataType: "text", Charset: "utf8mb4", Nullable: true},
				{Name: "l", DataType: "varchar", Charset: "latin1", Nullable: true}, {Name: "b", DataType: "varbinary", Charset: "binary", Nullable: true}}}
			jt := &cdc.Table{Schema: name, Name: "j", Key: []int{0}, Columns: []cdc.Column{
				{Name: "id", DataType: "varchar", Charset: "utf8mb4"}, {Name: "v", DataType: "text", Charset: "utf8mb4", Nullable: true},
				{Name: "doc", DataType: "json", Nullable: true}}}
			want := map[string]map[string][]any{"k": {}, "j": {}}
			rowsOf := func(v, suffix string) (k, j []any) {
				js, _ := json.Marshal(map[string]string{"v": v, "s": suffix})
				latin := strings.ReplaceAll(strings.ReplaceAll(v, "😀", "?"), "✓", "!")
				latin = strings.ReplaceAll(latin, "é", "\xe9")
				return []any{[]byte(v + suffix), v, []byte(latin), []byte(v + suffix)}, []any{v + suffix, v + suffix, js}
			}
			var krows, jrows [][]any
			for _, v := range hostileValues {
				for _, s := range []string{"", "#2", "#3", "#4"} {
					k, j := rowsOf(v, s)
					krows, jrows = append(krows, k), append(jrows, j)
					want["k"][v+s], want["j"][v+s] = k, j
				}
			}
			loads := func() (n int64) {
				var name string
				if err := db.QueryRow("SHOW GLOBAL STATUS LIKE 'Com_load'").Scan(&name, &n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			w := NewWriter(db, st, Options{Parts: 1})
			before := loads()
			if err := w.WriteChunk(ctx, kt, krows, false, state.TableProgress{Table: "k"}, nil); err != nil {
				t.Fatalf("snapshot chunk (LOAD DATA): %v", err)
			}
			if loads() == before {
				t.Fatal("the snapshot chunk of k did not go with LOAD DATA")
			}
			if err := w.WriteChunk(ctx, jt, jrows, false, state.TableProgress{Table: "j"}, nil); err != nil {
				t.Fatalf("snapshot chunk (INSERT): %v", err)
			}
			check(t, db, want)

			// The stream: every row updated, "#3" rows deleted, "#2" rows
			// moved to a new key.
			var kc, jc []cdc.Change
			for _, v := range hostileValues {
				for _, s := range []string{"", "#2", "#3", "#4"} {
					kb, jb := rowsOf(v, s)
					ka, ja := rowsOf(v+"'\\", s)
					ka[0], ja[0] = kb[0], jb[0]
					switch s {
					case "#3":
						kc, jc = append(kc, cdc.Change{Op: cdc.OpDelete, Table: kt, Before: kb}), append(jc, cdc.Change{Op: cdc.OpDelete, Table: jt, Before: jb})
						delete(want["k"], v+s)
						delete(want["j"], v+s)
						continue
					case "#2":
						ka[0], ja[0] = []byte("moved "+v+s), "moved "+v+s
						delete(want["k"], v+s)
						delete(want["j"], v+s)
					}
					kc, jc = append(kc, cdc.Change{Op: cdc.OpUpdate, Table: kt, Before: kb, After: ka}), append(jc, cdc.Change{Op: cdc.OpUpdate, Table: jt, Before: jb, After: ja})
					want["k"][string(ka[0].([]byte))], want["j"][ja[0].(string)] = ka, ja
				}
			}
			before = loads()
			b := cdc.Batch{Pos: cdc.Position{File: "binlog.000001", Pos: 4}, Changes: append(kc, jc...)}
			if err := w.Write(ctx, b); err != nil {
				t.Fatalf("stream batch: %v", err)
			}
			if loads() == before {
				t.Fatal("the stream's upserts of k did not go with LOAD DATA")
			}
			check(t, db, want)
		})
	}
}

// check compares tables k and j, byte for byte, with want (rows by key).
func check(t *testing.T, db *sql.DB, want map[string]map[string][]any) {
	t.Helper()
	hexOf := func(v any) string {
		switch x := v.(type) {
		case nil:
			return "NULL"
		case string:
			return strings.ToUpper(hex.EncodeToString([]byte(x)))
		case []byte:
			return strings.ToUpper(hex.EncodeToString(x))
		}
		return fmt.Sprint(v)
	}
	for table, cols := range map[string]string{"k": "HEX(id), HEX(v), HEX(l), HEX(b)", "j": "HEX(id), HEX(v), HEX(doc)"} {
		var exp []string
		for _, row := range want[table] {
			parts := make([]string, len(row))
			for i, v := range row {
				parts[i] = hexOf(v)
			}
			exp = append(exp, strings.Join(parts, "|"))
		}
		rows, err := db.Query("SELECT CONCAT_WS('|', " + cols + ") FROM " + table)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		rows.Close()
		sort.Strings(exp)
		sort.Strings(got)
		if strings.Join(exp, "\n") != strings.Join(got, "\n") {
			t.Fatalf("table %s differs:\nwant %d rows %q\n got %d rows %q", table, len(exp), exp, len(got), got)
		}
	}
}
