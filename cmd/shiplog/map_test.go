//go:build !unit

package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shiplog/shiplog/internal/testenv"
)

// execFile runs the statements of a SQL file.
func execFile(t *testing.T, db *sql.DB, path string) {
	t.Helper()
	if err := testenv.ExecFile(context.Background(), db, path); err != nil {
		t.Fatal(err)
	}
}

// rowsOf returns the rows of a query as sorted text lines.
func rowsOf(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	out, err := testenv.SortedRows(context.Background(), db, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

func sameRows(t *testing.T, what string, want, got []string) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%s: %d expected rows, destination has %d", what, len(want), len(got))
	}
	for i := 0; i < len(want) && i < len(got); i++ {
		if want[i] != got[i] {
			t.Errorf("%s: first difference at row %d:\n want %s\n got  %s", what, i, want[i], got[i])
			return
		}
	}
}

// TestMagentoLikeMapThroughSettingsDataAndDelta runs the example map through
// settings, data and delta mode while the source is written and shiplog is
// killed once, and checks the destination equals the source transformed by
// the map (computed independently, in SQL).
// magentoLikeEnv is newEnv with the examples/magento-like shop loaded on
// both sides (schemas and seeds); example is its folder.
func magentoLikeEnv(t *testing.T) (example string, e *env) {
	t.Helper()
	example, err := filepath.Abs("../../examples/magento-like")
	if err != nil {
		t.Fatal(err)
	}
	e = newEnv(t, "")
	execFile(t, e.srcDB, filepath.Join(example, "source.sql"))
	execFile(t, e.srcDB, filepath.Join(example, "seed.sql"))
	execFile(t, e.dstDB, filepath.Join(example, "destination.sql"))
	execFile(t, e.dstDB, filepath.Join(example, "destination-seed.sql"))
	return example, e
}

func TestMagentoLikeMapThroughSettingsDataAndDelta(t *testing.T) {
	t.Parallel()
	example, e := magentoLikeEnv(t)
	e.config = e.writeConfig(fmt.Sprintf(`source: {port: %d, database: shop}
destination: {port: %d, database: shop_new}
map: %s
settings_map: %s
`, e.src.Port, e.dst.Port, filepath.Join(example, "map.xml"), filepath.Join(example, "settings.xml")))

	if r := e.mustRun("check"); !strings.Contains(r.stdout, "integrity check passed") {
		t.Fatalf("check:\n%s", r.stdout)
	}
	e.mustRun("migrate", "settings")
	sameRows(t, "core_config_data", []string{
		"'default','0','catalog/frontend/list_mode','grid'",
		"'default','0','design/head/default_title','M2 Shop'",
		"'default','0','general/locale/code','en_US'",
		"'default','0','general/locale/timezone','Europe/Kyiv'",
		"'default','0','web/secure/base_url','https://old.example.com/'",
		"'stores','2','general/locale/timezone','UTC'",
		"'websites','1','design/head/default_title','M2 Shop One'",
	}, rowsOf(t, e.dstDB, "SELECT scope, scope_id, path, value FROM core_config_data"))
	// Settings mode is repeatable: a second run changes nothing.
	e.mustRun("migrate", "settings")
	if n := len(rowsOf(t, e.dstDB, "SELECT * FROM core_config_data")); n != 7 {
		t.Fatalf("second settings run: %d rows", n)
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	stopWriter := writeLoop(t, func(i int) error {
		id := 1 + rng.IntN(400)
		var err error
		switch rng.IntN(7) {
		case 0:
			_, err = e.srcDB.Exec(`INSERT IGNORE INTO sales_flat_order VALUES (?, ?, 'pending', ?, 9.99, '192.168.1.9', 1700000000, 'new ✓', 'a:1:{i:0;s:3:"one";}', 1)`,
				id, fmt.Sprint("N", i), fmt.Sprintf("New%d@X.org", i))
		case 1:
			_, err = e.srcDB.Exec(`UPDATE sales_flat_order SET status = ELT(1 + ? % 5, 'pending', 'processing', 'complete', 'canceled', 'weird'),
					customer_email = CONCAT('Upd', ?, '@EXAMPLE.com'), remote_ip = IF(? % 2 = 0, '172.16.5.4', 'not-an-ip'), created_at = created_at + 60 WHERE entity_id = ?`, i, i, i, id)
		case 2:
			_, err = e.srcDB.Exec("DELETE FROM sales_flat_order WHERE entity_id = ?", id)
		case 3:
			_, err = e.srcDB.Exec("UPDATE customer_entity SET lastname = CONCAT('L', ?), created_at = created_at + INTERVAL 1 MINUTE WHERE entity_id = ?", i, id%250)
		case 4:
			_, err = e.srcDB.Exec("INSERT IGNORE INTO customer_entity VALUES (?, 'n@x', 'F', NULL, NOW(), 'h')", 200+id)
		case 5:
			_, err = e.srcDB.Exec("UPDATE catalog_product SET price = price + 1, weight = ? WHERE entity_id = ?", rng.Float64()*10, id%60)
		case 6:
			_, err = e.srcDB.Exec("INSERT INTO log_visitor VALUES (?, 'x') ON DUPLICATE KEY UPDATE session_id = 'y'", 1000+i)
		}
		return err
	})
	e.mustRun("migrate", "data")
	cmd, _ := startKillable(t, e.config, "migrate", "delta")
	time.Sleep(700 * time.Millisecond) // let it stream for a while under writes, then crash it
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if err := stopWriter(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	for _, x := range testenv.MagentoLikeExpected {
		sameRows(t, x.Name, rowsOf(t, e.srcDB, x.Source), rowsOf(t, e.dstDB, x.Dest))
	}
	for _, left := range []string{"log_visitor", "ext_legacy_widget"} {
		var n int
		if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop_new' AND TABLE_NAME = ?", left).Scan(&n); err != nil || n != 0 {
			t.Fatalf("ignored table %s appeared in the destination", left)
		}
	}
}

// TestFailedRowsArePartialSuccessAndRetried makes a handler fail on some
// rows: data mode records them and exits 3; after the map is fixed, the next
// run applies them and exits 0.
func TestFailedRowsArePartialSuccessAndRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.both("CREATE TABLE o (id INT PRIMARY KEY, payload TEXT)")
	if _, err := e.srcDB.Exec(`INSERT INTO o VALUES (1, 'a:1:{i:0;i:1;}'), (2, 'broken'), (3, 'i:7;'), (4, 's:3:"ab'), (5, 'a:1:{i:0;i:2;}')`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mapFile := filepath.Join(dir, "map.yaml")
	writeMap := func(broken string) {
		if err := os.WriteFile(mapFile, []byte(fmt.Sprintf(`source:
  fields:
    transform:
      - {field: o.payload, handler: SerializeToJson, params: {migrateBrokenData: "%s"}}
`, broken)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeMap("0")
	e.config = e.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: shop_new}\nmap: %s\n", e.src.Port, e.dst.Port, mapFile))
	r := runShiplog(t, e.config, nil, "migrate", "data")
	expectFailure(t, r, 3, "partial success", "2 row(s)")
	var failed int
	if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM _shiplog_failed_rows WHERE table_name = 'o' AND handler = 'SerializeToJson'").Scan(&failed); err != nil || failed != 2 {
		t.Fatalf("failed rows recorded: %d %v", failed, err)
	}
	// The stream records failures the same way.
	if _, err := e.srcDB.Exec(`INSERT INTO o VALUES (6, 'nope'), (7, 'b:1;')`); err != nil {
		t.Fatal(err)
	}
	expectFailure(t, runShiplog(t, e.config, nil, "migrate", "delta", "--exit-when-caught-up"), 3, "could not be transformed")
	// With broken data migrated as NULL, the next run applies the recorded rows.
	writeMap("1")
	e.mustRun("migrate", "delta", "--exit-when-caught-up")
	sameRows(t, "o", []string{"'1','[1]'", "'2',NULL", "'3','7'", "'4',NULL", "'5','[2]'", "'6',NULL", "'7','true'"}, rowsOf(t, e.dstDB, "SELECT * FROM o"))
	if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM _shiplog_failed_rows").Scan(&failed); err != nil || failed != 0 {
		t.Fatalf("failed rows left after the retry: %d %v", failed, err)
	}
}

// TestBadMapsAreRefusedBeforeWriting checks each kind of bad map gives one
// clear error and leaves the destination untouched.
func TestBadMapsAreRefusedBeforeWriting(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.both("CREATE TABLE o (id INT PRIMARY KEY, status VARCHAR(16), note TEXT)")
	if _, err := e.srcDB.Exec("INSERT INTO o VALUES (1, 'a', 'n')"); err != nil {
		t.Fatal(err)
	}
	rule := func(inner string) string {
		return `<?xml version="1.0"?>
<map>
  <source>
    <field_rules>
` + inner + `
    </field_rules>
  </source>
</map>`
	}
	cases := []struct {
		name, file string
		code       int
		want       []string
	}{
		{"unknown element", rule(`      <rename><field>o.status</field></rename>`), 2, []string{"map.xml:5", "rename"}},
		{"unknown handler", rule(`      <transform><field>o.status</field><handler class="\Migration\Handler\Nope"/></transform>`), 1, []string{`Unknown handler "\Migration\Handler\Nope"`, "map.xml:5"}},
		{"missing param", rule(`      <transform><field>o.status</field><handler class="AddPrefix"/></transform>`), 1, []string{"AddPrefix", "prefix"}},
		{"move onto a missing field", rule(`      <move><field>o.note</field><to>o.nope</to></move>`), 1, []string{"destination field o.nope does not exist"}},
		{"rename onto a missing table", `<?xml version="1.0"?><map><source><document_rules><rename><document>o</document><to>gone</to></rename></document_rules></source></map>`,
			1, []string{"Rename of source document o to gone: the destination document does not exist"}},
		{"ambiguous rule", rule(`      <ignore><field>o.note</field></ignore>
      <move><field>o.note</field><to>o.status</to></move>`), 1, []string{"Ambiguous configuration", "o.note"}},
		{"handler that cannot run (Encrypt without crypt keys)", rule(`      <transform><field>o.status</field><handler class="\Migration\Handler\Encrypt"/></transform>`), 1, []string{"Encrypt", "cannot run", "crypt_key"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mapFile := filepath.Join(t.TempDir(), "map.xml")
			if err := os.WriteFile(mapFile, []byte(c.file), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := e.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: shop_new}\nmap: %s\n", e.src.Port, e.dst.Port, mapFile))
			r := runShiplog(t, cfg, nil, "migrate", "data")
			if r.code != c.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, c.code, r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Fatalf("error does not mention %q:\n%s", w, r.stderr)
				}
			}
			var n int
			if err := e.dstDB.QueryRow("SELECT COUNT(*) FROM o").Scan(&n); err != nil || n != 0 {
				t.Fatalf("rows written despite the bad map: %d %v", n, err)
			}
			_ = e.dstDB.QueryRow("SELECT COUNT(*) FROM _shiplog_tables").Scan(&n)
			if n != 0 {
				t.Fatalf("progress recorded despite the bad map")
			}
		})
	}
}

// TestSettingsAutoGoesPastAHandlerThatCannotRun: settings.xml names a
// handler shiplog does not have for one path. Without --auto, settings mode
// stops before writing, naming the path and --auto; with --auto the other
// settings are migrated, and the path's settings are recorded as failed
// rows (exit 3), never copied untransformed.
func TestSettingsAutoGoesPastAHandlerThatCannotRun(t *testing.T) {
	t.Parallel()
	example, e := magentoLikeEnv(t)
	settings, err := os.ReadFile(filepath.Join(example, "settings.xml"))
	if err != nil {
		t.Fatal(err)
	}
	withUnknown := strings.Replace(string(settings), `<handler class="\Migration\Handler\Convert">`, `<handler class="\Migration\Handler\NoSuchHandler">`, 1)
	if withUnknown == string(settings) {
		t.Fatal("the example's settings.xml changed: no Convert handler to replace")
	}
	settingsFile := filepath.Join(t.TempDir(), "settings.xml")
	if err := os.WriteFile(settingsFile, []byte(withUnknown), 0o644); err != nil {
		t.Fatal(err)
	}
	e.config = e.writeConfig(fmt.Sprintf(`source: {port: %d, database: shop}
destination: {port: %d, database: shop_new}
settings_map: %s
`, e.src.Port, e.dst.Port, settingsFile))
	before := rowsOf(t, e.dstDB, "SELECT scope, scope_id, path, value FROM core_config_data")

	// check runs settings mode's integrity too.
	if r := runShiplog(t, e.config, nil, "check"); r.code != 1 || !strings.Contains(r.stdout, `NoSuchHandler" for path general/locale/timezone`) {
		t.Fatalf("check: exit %d, want 1 naming the settings handler\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := runShiplog(t, e.config, nil, "migrate", "settings")
	expectFailure(t, r, 1, `NoSuchHandler\" for path general/locale/timezone`, "--auto")
	sameRows(t, "core_config_data (nothing written without --auto)", before, rowsOf(t, e.dstDB, "SELECT scope, scope_id, path, value FROM core_config_data"))

	r = runShiplog(t, e.config, nil, "migrate", "settings", "--auto")
	if r.code != 3 {
		t.Fatalf("migrate settings --auto: exit %d, want 3 (partial)\n%s", r.code, r.stderr)
	}
	got := rowsOf(t, e.dstDB, "SELECT scope, scope_id, path, value FROM core_config_data")
	for _, row := range got {
		if strings.Contains(row, "Europe/Kiev") {
			t.Errorf("a setting whose handler cannot run was copied untransformed: %s", row)
		}
	}
	if !slices.Contains(got, "'default','0','design/head/default_title','M2 Shop'") {
		t.Errorf("the other settings were not migrated: %v", got)
	}
	failed := rowsOf(t, e.dstDB, "SELECT table_name FROM _shiplog_failed_rows")
	if len(failed) == 0 {
		t.Fatal("no failed row recorded for the settings whose handler cannot run")
	}
}
