//go:build !unit

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/internal/testenv"
)

// magentoFixtures is the folder of the real Magento files (the shared
// fixtures beside the checkout); a missing folder fails the test.
func magentoFixtures(t *testing.T) string {
	t.Helper()
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(root, "..", "shared", "fixtures", "magento"), "/work/shared/fixtures/magento"} {
		if _, err := os.Stat(filepath.Join(d, "schema", "m1-schema.sql")); err == nil {
			return d
		}
	}
	t.Fatalf("the Magento fixtures (../shared/fixtures/magento) are missing")
	return ""
}

// m1Schema and m2Schema are the real Magento 1 and 2 schemas as database
// db of a server that starts with them (a copy of a data folder they were
// loaded into once: see testenv.Options.Schemas).
func m1Schema(fx, db string) testenv.Schema {
	return testenv.Schema{DB: db, File: filepath.Join(fx, "schema", "m1-schema.sql")}
}

func m2Schema(fx, db string) testenv.Schema {
	return testenv.Schema{DB: db, File: filepath.Join(fx, "schema", "m2-schema.sql")}
}

// loadSchemaFile creates database name on m and runs a schema file in it on
// one connection (the file's SET statements hold for the rest of it).
func loadSchemaFile(t *testing.T, m *testenv.MariaDB, name, path string) {
	t.Helper()
	loadSQLFile(t, m, name, path)
}

// loadSQLFile creates database name on m and runs the statements init, then
// the file, on one connection.
func loadSQLFile(t *testing.T, m *testenv.MariaDB, name, path string, init ...string) {
	t.Helper()
	ctx := context.Background()
	if err := m.Exec(ctx, "", "CREATE DATABASE IF NOT EXISTS `"+name+"`"); err != nil {
		t.Fatal(err)
	}
	db, err := m.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range init {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := testenv.ExecFile(ctx, db, path); err != nil {
		t.Fatal(err)
	}
}

// TestStockMagentoMapCheck runs `check` on a real Magento 1 schema and a real
// Magento 2 schema with the stock files of Magento's tool. With the stock
// config.xml (its class map, the two crypt keys filled in) it passes: every
// handler of the stock map binds, and every other verdict is the
// reference's — no error; rules on what the schemas lack, renames onto
// ignored documents, NOT NULL fields nothing fills and narrower columns are
// warnings. With only the map (no keys, no class map) the handlers that need
// them are errors naming the option to set, and --auto does not go past
// them.
func TestStockMagentoMapCheck(t *testing.T) {
	t.Parallel()
	fx := magentoFixtures(t)
	m := testenv.MariaDBT(t, testenv.Options{Binlog: true, Schemas: []testenv.Schema{m1Schema(fx, "magento1"), m2Schema(fx, "magento2")}})
	config := stockConfigXML(t, fx, m, m, map[string]string{"crypt_key": storeM1Key, "m2_crypt_key": storeM2Key})
	r := runShiplog(t, config, nil, "check")
	if r.code != 0 {
		t.Fatalf("check with the stock config.xml: exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
	}
	var narrow []string
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(l, "Errors (") || strings.HasPrefix(l, "Warnings (") {
			t.Log(l)
		}
		if strings.Contains(l, "is narrower than source field") {
			narrow = append(narrow, strings.TrimSpace(l))
		}
	}
	for _, w := range []string{
		"2 rename rule(s) name source documents or fields that do not exist; skipped, as Magento's tool does: core_directory_storage, core_file_storage",
		"transform rule(s) name source documents or fields that do not exist; skipped, as Magento's tool does: sales_flat_quote.gift_cards",
		"Source document core_session is renamed to session, which the destination's rules ignore: it is copied there all the same",
		"Destination field oauth_nonce.consumer_id is NOT NULL without a default and nothing fills it",
	} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("no warning %q:\n%s", w, r.stdout)
		}
	}
	for _, notErr := range []string{"Destination documents are not mapped", "Destination fields are not mapped. Document: cms_page", "Source documents are not mapped", "cannot run"} {
		if strings.Contains(r.stdout, notErr) {
			t.Errorf("%q: Magento's tool raises no such problem on its own files:\n%s", notErr, r.stdout)
		}
	}
	t.Logf("narrowing warnings (%d):\n%s", len(narrow), strings.Join(narrow, "\n"))

	// The map alone: the handlers that need the keys or the class map say
	// which option to set; nothing else is an error.
	dir := t.TempDir()
	yaml := filepath.Join(dir, "shiplog.yaml")
	if err := os.WriteFile(yaml, []byte(fmt.Sprintf("source: {port: %d, database: magento1}\ndestination: {port: %d, database: magento2}\nmap: %s\n",
		m.Port, m.Port, filepath.Join(fx, "dmt", "etc", "opensource-to-opensource", "1.9.4.5", "map.xml.dist"))), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runShiplog(t, yaml, nil, "check")
	if r.code != 1 {
		t.Fatalf("check with the map alone: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	handlerErr := regexp.MustCompile(`Handler (\S+) on (\S+) cannot run \(.*(crypt_key|class_map).*\); --auto does not copy the field untransformed`)
	errs, _, _ := strings.Cut(r.stdout, "Warnings (")
	refused := map[string]bool{}
	for _, l := range strings.Split(errs, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "Errors (") || l == "source:" || l == "destination:" {
			continue
		}
		if m := handlerErr.FindStringSubmatch(l); m != nil {
			refused[m[1]] = true
			continue
		}
		t.Errorf("an error that is not a handler missing its option: %s", l)
	}
	var names []string
	for n := range refused {
		names = append(names, n)
	}
	sort.Strings(names)
	if want := `\Migration\Handler\ClassMap \Migration\Handler\Encrypt \Migration\Handler\Placeholder \Migration\Handler\Rule\SerializedData`; strings.Join(names, " ") != want {
		t.Errorf("handlers missing their options: %s, want %s", strings.Join(names, " "), want)
	}
	r = runShiplog(t, yaml, nil, "migrate", "data", "--auto")
	if r.code != 1 || !strings.Contains(r.stderr, "--auto does not go past these") || !strings.Contains(r.stderr, "crypt_key") {
		t.Fatalf("migrate data --auto: exit %d, want 1 naming the handlers and their options\n%s", r.code, r.stderr)
	}
}

// TestStockSettingsXMLDistOnRealSchemas: the reference's own settings.xml.dist
// (30 Encrypt transforms, UrlSuffix, CategoryRootId, SerializeToJson) on the
// real Magento 1 and Magento 2 core_config_data tables. Without the crypt
// keys configured Encrypt cannot run, so settings mode stops before writing,
// naming it; with --auto
// an encrypted setting is recorded as failed and never copied as it is (a
// Magento 1 ciphertext in Magento 2 would be garbage), an ignored one is left
// out, and a plain one is migrated; the run exits 3.
func TestStockSettingsXMLDistOnRealSchemas(t *testing.T) {
	t.Parallel()
	fx := magentoFixtures(t)
	m := testenv.MariaDBT(t, testenv.Options{Binlog: true, Schemas: []testenv.Schema{m1Schema(fx, "m1"), m2Schema(fx, "m2")}})
	if err := m.Exec(context.Background(), "m1", `INSERT INTO core_config_data (scope, scope_id, path, value) VALUES
		('default', 0, 'general/locale/code', 'uk_UA'),
		('default', 0, 'payment/payflow_advanced/pwd', 'm1-ciphertext'),
		('default', 0, 'api/config/session_timeout', '3600')`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "shiplog.yaml")
	settings := filepath.Join(fx, "dmt", "etc", "opensource-to-opensource", "settings.xml.dist")
	if err := os.WriteFile(config, []byte(fmt.Sprintf("source: {port: %d, database: m1}\ndestination: {port: %d, database: m2}\nsettings_map: %s\n",
		m.Port, m.Port, settings)), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := m.Open("m2")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	paths := func() map[string]string {
		out := map[string]string{}
		rows, err := db.Query("SELECT path, IFNULL(value, 'NULL') FROM core_config_data")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var p, v string
			if err := rows.Scan(&p, &v); err != nil {
				t.Fatal(err)
			}
			out[p] = v
		}
		return out
	}
	before := paths()

	r := runShiplog(t, config, nil, "migrate", "settings")
	expectFailure(t, r, 1, "Encrypt", "payment/payflow_advanced/pwd", "--auto")
	if got := paths(); len(got) != len(before) {
		t.Fatalf("settings written without --auto: %d rows, were %d", len(got), len(before))
	}

	r = runShiplog(t, config, nil, "migrate", "settings", "--auto")
	if r.code != 3 {
		t.Fatalf("migrate settings --auto: exit %d, want 3 (partial)\n%s", r.code, r.stderr)
	}
	got := paths()
	if got["general/locale/code"] != "uk_UA" {
		t.Errorf("general/locale/code = %q, want the source's uk_UA", got["general/locale/code"])
	}
	if v, ok := got["payment/payflow_advanced/pwd"]; ok {
		t.Errorf("the encrypted setting reached Magento 2 untransformed: %q", v)
	}
	if _, ok := got["api/config/session_timeout"]; ok {
		t.Error("a setting settings.xml.dist ignores was migrated")
	}
	var failed int
	if err := db.QueryRow("SELECT COUNT(*) FROM _shiplog_failed_rows WHERE table_name = 'core_config_data'").Scan(&failed); err != nil || failed != 1 {
		t.Fatalf("failed rows for core_config_data: %d (%v), want the encrypted setting", failed, err)
	}
}
