//go:build !unit

package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/shiplog/shiplog/internal/testenv"
)

// hostileValues end, or escape the end of, a literal quoted for the other
// sql_mode (with NO_BACKSLASH_ESCAPES a backslash is text, without it an
// escape); run as SQL, the CONCAT ones would store the server's user.
var hostileValues = []string{
	`x', CONCAT(0x61, CURRENT_USER())) -- `,
	`x', CONCAT('a', CURRENT_USER())) -- `,
	`x\', CONCAT(0x61, CURRENT_USER())) -- `,
	`a\b`, `\`, `\\`, `\'`, `'`, `''`, `"`, `\"`, `\N`, `\0`, `\t`, `?`, `%_`,
	"\"; DROP TABLE hostile; -- ", "nul\x00byte", "tab\tnew\nline\r\x1a", "é 😀 ✓",
}

// magentoConfig writes a Magento config.xml for e with the given init
// statements.
func magentoConfig(t *testing.T, e *env, initSource, initDestination string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.xml")
	if err := os.WriteFile(p, []byte(fmt.Sprintf(`<?xml version="1.0"?>
<config>
  <steps mode="data"><step title="Map Step"><integrity>Migration\Step\Map\Integrity</integrity><data>Migration\Step\Map\Data</data></step></steps>
  <source><database host="127.0.0.1" port="%d" name="shop" user="root"/></source>
  <destination><database host="127.0.0.1" port="%d" name="shop_new" user="root"/></destination>
  <options>
    <bulk_size>4</bulk_size>
    <init_statements_source>%s</init_statements_source>
    <init_statements_destination>%s</init_statements_destination>
  </options>
</config>`, e.src.Port, e.dst.Port, initSource, initDestination)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestInitStatementsCannotChangeQuoting: an init statement that sets
// sql_mode is refused, naming it; one that changes the session in a way no
// check can see (EXECUTE IMMEDIATE: sql_mode NO_BACKSLASH_ESCAPES,
// ANSI_QUOTES and TRADITIONAL, another time zone, foreign key checks) is
// undone by shiplog's own settings; the source runs with
// NO_BACKSLASH_ESCAPES,ANSI_QUOTES globally. Rows whose keys and values hold
// backslashes, quotes and SQL are copied in chunks (key conditions), streamed
// and verified: the destination equals the source, and nothing of a value ran.
func TestInitStatementsCannotChangeQuoting(t *testing.T) {
	t.Parallel()
	src := testenv.MariaDBT(t, testenv.Options{Binlog: true, ServerID: 1, ExtraArgs: []string{"--sql-mode=NO_BACKSLASH_ESCAPES,ANSI_QUOTES"}})
	dst := testenv.MariaDBT(t, testenv.Options{ServerID: 2})
	ctx := context.Background()
	if err := src.Exec(ctx, "", "CREATE DATABASE shop"); err != nil {
		t.Fatal(err)
	}
	if err := dst.Exec(ctx, "", "CREATE DATABASE shop_new"); err != nil {
		t.Fatal(err)
	}
	e := openEnv(t, src, dst)
	var mode string
	if err := e.srcDB.QueryRow("SELECT @@GLOBAL.sql_mode").Scan(&mode); err != nil || mode != "ANSI_QUOTES,NO_BACKSLASH_ESCAPES" {
		t.Fatalf("source sql_mode %q %v", mode, err)
	}
	e.both(testenv.TypeMatrixDDL,
		"CREATE TABLE hostile (id VARCHAR(100) CHARACTER SET utf8mb4 NOT NULL PRIMARY KEY, v TEXT, l VARCHAR(100) CHARACTER SET latin1, b VARBINARY(200), n INT)",
		"CREATE TABLE hostile_bin (id VARBINARY(100) NOT NULL PRIMARY KEY, v TEXT, l VARCHAR(100) CHARACTER SET latin1)",
		"CREATE TABLE docs (id INT NOT NULL PRIMARY KEY, doc JSON, v TEXT)")
	if err := e.src.Exec(ctx, "shop", testenv.TypeMatrixRows...); err != nil {
		t.Fatal(err)
	}
	n := 0
	insert := func(prefix string) {
		t.Helper()
		for _, v := range hostileValues {
			n++
			id := hex.EncodeToString([]byte(prefix + v))
			js, _ := json.Marshal(map[string]string{"v": v})
			latin := hex.EncodeToString([]byte(v[:min(len(v), 3)]))
			for q, args := range map[string][]any{
				"INSERT INTO hostile VALUES (CONVERT(UNHEX(?) USING utf8mb4), CONVERT(UNHEX(?) USING utf8mb4), CONVERT(UNHEX(?) USING latin1), UNHEX(?), ?)": {id, id, latin, id, n},
				"INSERT INTO hostile_bin VALUES (UNHEX(?), CONVERT(UNHEX(?) USING utf8mb4), CONVERT(UNHEX(?) USING latin1))":                                 {id, id, latin},
				"INSERT INTO docs VALUES (?, CONVERT(UNHEX(?) USING utf8mb4), CONVERT(UNHEX(?) USING utf8mb4))":                                              {n, hex.EncodeToString(js), id},
			} {
				if _, err := e.srcDB.Exec(q, args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
		}
	}
	insert("")

	// Refused: a statement that sets sql_mode. Nothing is copied.
	refused := magentoConfig(t, e, "SET NAMES utf8", "SET NAMES utf8; SET SESSION sql_mode='NO_BACKSLASH_ESCAPES'")
	expectFailure(t, runShiplog(t, refused, nil, "migrate", "data"), 1, "SET SESSION sql_mode='NO_BACKSLASH_ESCAPES'", "sets sql_mode", "init_statements_destination")
	var copied int
	if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM hostile").Scan(&copied); err != nil || copied != 0 {
		t.Fatalf("rows copied by the refused run: %d %v", copied, err)
	}

	// Undone: session changes no check can see.
	config := magentoConfig(t, e,
		`SET NAMES utf8; EXECUTE IMMEDIATE 'SET SESSION time_zone = ''+05:00'''`,
		`SET NAMES utf8; EXECUTE IMMEDIATE 'SET SESSION sql_mode = ''TRADITIONAL,NO_BACKSLASH_ESCAPES,ANSI_QUOTES'', time_zone = ''-07:00'', foreign_key_checks = 1'`)
	if r := runShiplog(t, config, nil, "migrate", "data"); r.code != 0 {
		t.Fatalf("migrate data: %d\n%s", r.code, r.stderr)
	}
	e.assertIdentical()
	// The stream: updates, key changes, deletes and new rows, all types.
	if err := e.src.Exec(ctx, "shop", testenv.TypeMatrixChanges...); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"UPDATE hostile SET v = CONCAT(v, id, '\\'), l = CONCAT(l, '''') WHERE n % 3 = 0",
		"UPDATE hostile SET id = CONCAT('moved ', id) WHERE n % 3 = 1",
		"DELETE FROM hostile WHERE n % 5 = 2",
		"UPDATE hostile_bin SET v = CONCAT(id, v) WHERE LENGTH(id) % 2 = 0",
		"UPDATE hostile_bin SET id = CONCAT(id, '\\''') WHERE LENGTH(id) % 2 = 1",
		"UPDATE docs SET doc = JSON_SET(doc, '$.w', v), v = CONCAT(v, '\\') WHERE id % 2 = 0",
	} {
		if _, err := e.srcDB.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	insert("new ")
	if r := runShiplog(t, config, nil, "migrate", "delta", "--exit-when-caught-up"); r.code != 0 {
		t.Fatalf("migrate delta: %d\n%s", r.code, r.stderr)
	}
	e.assertIdentical()
	if r := runShiplog(t, config, nil, "verify"); r.code != 0 {
		t.Fatalf("verify: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var ran int
	if err := e.dstDB.QueryRow(`SELECT (SELECT COUNT(*) FROM hostile WHERE CONCAT(v, id) LIKE '%root@%') +
		(SELECT COUNT(*) FROM hostile_bin WHERE CONCAT(v, id) LIKE '%root@%') + (SELECT COUNT(*) FROM docs WHERE CONCAT(doc, v) LIKE '%root@%')`).Scan(&ran); err != nil || ran != 0 {
		t.Fatalf("values that ran as SQL on the destination: %d %v", ran, err)
	}
}
