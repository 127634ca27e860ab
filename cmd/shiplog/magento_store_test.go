//go:build !unit

package main

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/blowfish"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/shiplog/shiplog/internal/testenv"
)

// The stores' crypt keys (made up for the test).
const (
	storeM1Key = "f1e2d3c4b5a6978812ab34cd56ef7890"
	storeM2Key = "0123456789abcdef0123456789abcdef"
)

// m1Encrypt encrypts as Magento 1 does (Mage_Core_Model_Encryption with
// mcrypt): Blowfish in ECB mode under the key's bytes, the text padded with
// NUL bytes to whole blocks, base64.
func m1Encrypt(t *testing.T, key, plain string) string {
	t.Helper()
	c, err := blowfish.NewCipher([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	b := []byte(plain)
	for len(b)%blowfish.BlockSize != 0 {
		b = append(b, 0)
	}
	out := make([]byte, len(b))
	for i := 0; i < len(b); i += blowfish.BlockSize {
		c.Encrypt(out[i:], b[i:])
	}
	return base64.StdEncoding.EncodeToString(out)
}

// m2Decrypt decrypts as Magento 2's Encryptor does a "<key>:3:<base64>"
// value: ChaCha20-Poly1305 (IETF) under key number <key>, the 12-byte nonce
// first and used as the additional data too.
func m2Decrypt(t *testing.T, keys []string, value string) string {
	t.Helper()
	parts := strings.SplitN(value, ":", 3)
	if len(parts) != 3 || parts[1] != "3" {
		t.Fatalf("%q is not a Magento 2 sodium value", value)
	}
	k, err := strconv.Atoi(parts[0])
	if err != nil || k < 0 || k >= len(keys) {
		t.Fatalf("%q names key %s", value, parts[0])
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) < chacha20poly1305.NonceSize {
		t.Fatalf("%q: %v", value, err)
	}
	aead, err := chacha20poly1305.New([]byte(keys[k]))
	if err != nil {
		t.Fatal(err)
	}
	nonce := raw[:chacha20poly1305.NonceSize]
	plain, err := aead.Open(nil, nonce, raw[chacha20poly1305.NonceSize:], nonce)
	if err != nil {
		t.Fatalf("Magento 2 cannot decrypt %q: %v", value, err)
	}
	return string(plain)
}

// stockStore is a Magento 1 store on the real 1.9 schema and an empty
// Magento 2.4 schema, migrated with the reference tool's config.xml.dist for
// 1.9.4.5 as a user installs it: copied to config.xml beside the tool's etc/
// folder, with only the database attributes (and the options a user must
// fill in) edited.
type stockStore struct {
	t        *testing.T
	src, dst *testenv.MariaDB
	e        *env
	config   string
}

// stepsShiplogLacks are the steps of the stock config.xml that shiplog
// does not have yet: each is an integrity error of its mode (--auto: a
// warning).
var stepsShiplogLacks = []string{}

// stockConfigXML writes config.xml in a folder whose etc/ is the tool's, so
// the stock relative paths resolve as they do from the tool's root. The
// steps shiplog lacks are taken out of <steps>, as the error about them
// tells a user to do (stockConfigXMLAsShipped keeps them).
func stockConfigXML(t *testing.T, fx string, src, dst *testenv.MariaDB, options map[string]string) string {
	t.Helper()
	return writeStockConfigXML(t, fx, src, dst, options, false)
}

// stockConfigXMLAsShipped is stockConfigXML with every step of the stock
// file.
func stockConfigXMLAsShipped(t *testing.T, fx string, src, dst *testenv.MariaDB, options map[string]string) string {
	t.Helper()
	return writeStockConfigXML(t, fx, src, dst, options, true)
}

func writeStockConfigXML(t *testing.T, fx string, src, dst *testenv.MariaDB, options map[string]string, allSteps bool) string {
	t.Helper()
	dist, err := os.ReadFile(filepath.Join(fx, "dmt", "etc", "opensource-to-opensource", "1.9.4.5", "config.xml.dist"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.Symlink(filepath.Join(fx, "dmt", "etc"), filepath.Join(root, "etc")); err != nil {
		t.Fatal(err)
	}
	// The stock <log_file> is relative to where the tool runs: here, a
	// temporary folder, never the package's.
	if _, ok := options["log_file"]; !ok {
		options["log_file"] = filepath.Join(root, "migration.log")
	}
	text := string(dist)
	if !allSteps {
		for _, title := range stepsShiplogLacks {
			step := regexp.MustCompile(`(?s)\s*<step title="` + regexp.QuoteMeta(title) + `">.*?</step>`)
			if !step.MatchString(text) {
				t.Fatalf("the stock config.xml.dist has no step %q", title)
			}
			text = step.ReplaceAllLiteralString(text, "")
		}
	}
	for side, m := range map[string]*testenv.MariaDB{"source": src, "destination": dst} {
		name := map[string]string{"source": "magento1", "destination": "magento2"}[side]
		old := fmt.Sprintf(`<database host="localhost" name="%s" user="root" />`, name)
		if !strings.Contains(text, old) {
			t.Fatalf("the stock config.xml.dist has no %s", old)
		}
		text = strings.Replace(text, old, fmt.Sprintf(`<database host="127.0.0.1" port="%d" name="%s" user="root" />`, m.Port, name), 1)
	}
	for name, value := range options {
		empty := regexp.MustCompile(`<` + name + `\s*/>|<` + name + `>[^<]*</` + name + `>`)
		repl := fmt.Sprintf("<%s>%s</%s>", name, value, name)
		if empty.MatchString(text) {
			text = empty.ReplaceAllLiteralString(text, repl)
		} else {
			text = strings.Replace(text, "</options>", repl+"\n    </options>", 1)
		}
	}
	p := filepath.Join(root, "config.xml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// newStockStoreStreaming is newStockStore with the stock config.xml written
// for delta.source source ("binlog" or "triggers").
func newStockStoreStreaming(t *testing.T, source string) (*stockStore, string) {
	t.Helper()
	s, fx := newStockStore(t)
	opts := map[string]string{"crypt_key": storeM1Key, "m2_crypt_key": storeM2Key}
	if source == "triggers" {
		opts["delta_source"] = "triggers"
	}
	s.config = stockConfigXML(t, fx, s.src, s.dst, opts)
	s.e.config = s.config
	return s, fx
}

// newStockStore starts a source (ROW binlog) and a destination with the real
// schemas, as testenv.SourceAndDest starts its servers.
func newStockStore(t *testing.T) (*stockStore, string) {
	t.Helper()
	fx := magentoFixtures(t)
	src := testenv.MariaDBT(t, testenv.Options{Binlog: true, ServerID: 1, Schemas: []testenv.Schema{m1Schema(fx, "magento1")}})
	dst := testenv.MariaDBT(t, testenv.Options{ServerID: 2, Schemas: []testenv.Schema{m2Schema(fx, "magento2")}})
	s := &stockStore{t: t, src: src, dst: dst, e: &env{t: t, src: src, dst: dst}}
	var err error
	if s.e.srcDB, err = src.Open("magento1"); err != nil {
		t.Fatal(err)
	}
	if s.e.dstDB, err = dst.Open("magento2"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.e.srcDB.Close(); s.e.dstDB.Close() })
	return s, fx
}

// storeAdmin are Magento 1's admin website, group and store (id 0, kept
// by NO_AUTO_VALUE_ON_ZERO); storeAdminAndDefault adds the default ones
// (id 1): the parents the Data Integrity step checks for.
var (
	storeAdmin = []string{
		`SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')`,
		`INSERT INTO core_website (website_id, code, name, default_group_id) VALUES (0, 'admin', 'Admin', 0)`,
		`INSERT INTO core_store_group (group_id, website_id, name, root_category_id, default_store_id) VALUES (0, 0, 'Default', 0, 0)`,
		`INSERT INTO core_store (store_id, code, website_id, group_id, name, sort_order, is_active) VALUES (0, 'admin', 0, 0, 'Admin', 0, 1)`,
	}
	storeAdminAndDefault = append(append([]string(nil), storeAdmin...),
		`INSERT INTO core_website (website_id, code, name, sort_order, default_group_id, is_default) VALUES (1, 'base', 'Main Website', 0, 1, 1)`,
		`INSERT INTO core_store_group (group_id, website_id, name, root_category_id, default_store_id) VALUES (1, 1, 'Main Website Store', 2, 1)`,
		`INSERT INTO core_store (store_id, code, website_id, group_id, name, sort_order, is_active) VALUES (1, 'default', 1, 1, 'Default Store View', 0, 1)`)
)

// exec runs statements on the Magento 1 database with foreign key checks
// off (the rows reference stores and entities the test does not create).
func (s *stockStore) exec(stmts ...string) {
	s.t.Helper()
	if err := s.src.Exec(context.Background(), "magento1", append([]string{"SET FOREIGN_KEY_CHECKS = 0"}, stmts...)...); err != nil {
		s.t.Fatal(err)
	}
}

// phpSerialize and the JSON Magento 2 keeps instead, written by hand from
// PHP's serialize() and json_encode() formats (not by shiplog's code).
const (
	adminExtraM1 = `a:2:{s:11:"configState";a:2:{s:15:"general_country";s:1:"1";s:14:"general_locale";s:1:"0";}s:4:"flag";b:1;}`
	paymentInfM1 = `a:1:{s:15:"paypal_payer_id";s:4:"P-42";}`
	paymentInfM2 = `{"paypal_payer_id":"P-42"}`
)

// TestStockConfigXMLMigratesAStore: the Map and Settings steps of a real
// store, with the stock files as shipped, end as the reference leaves them —
// expected rows written here from the reference's rules (map.xml.dist,
// class-map.xml.dist, settings.xml.dist) by hand — after settings, data and
// delta mode, with the binlog and with the change-log delta.
func TestStockConfigXMLMigratesAStore(t *testing.T) {
	t.Parallel()
	for _, delta := range []string{"binlog", "triggers"} {
		t.Run(delta, func(t *testing.T) {
			t.Parallel()
			s, _ := newStockStoreStreaming(t, delta)
			s.exec(
				`INSERT INTO core_config_data (scope, scope_id, path, value) VALUES
					('default', 0, 'general/locale/code', 'uk_UA'),
					('default', 0, 'api/config/session_timeout', '3600'),
					('websites', 1, 'web/seo/use_rewrites', '1'),
					('default', 0, 'payment/payflow_advanced/pwd', '`+m1Encrypt(t, storeM1Key, "s3cr3t pässword")+`')`,
				`INSERT INTO cms_page (page_id, title, root_template, identifier, content, creation_time, update_time, is_active, sort_order, custom_root_template)
					VALUES (1, 'Home', 'two_columns_left', 'home', '<p>{{widget type="cms/widget_page_link" anchor_text="About" page_id="2"}}</p>{{widget type="acme/promo" x="1"}}', '2020-01-02 03:04:05', '2020-01-03 03:04:05', 1, 0, 'one_column'),
					(2, 'About', 'one_column', 'about', '<p>plain</p>', '2020-01-02 03:04:05', '2020-01-03 03:04:05', 1, 1, NULL)`,
				// The store's website and group and the payments' order:
				// the stock config's Data Integrity step refuses orphans.
				`INSERT INTO core_website (website_id, code, name, default_group_id) VALUES (1, 'base', 'Main Website', 1)`,
				`INSERT INTO core_store_group (group_id, website_id, name, root_category_id, default_store_id) VALUES (1, 1, 'Main Website Store', 2, 1)`,
				`INSERT INTO core_store (store_id, code, website_id, group_id, name, sort_order, is_active) VALUES (1, 'default', 1, 1, 'Default Store View', 0, 1)`,
				`INSERT INTO sales_flat_order (entity_id, store_id, increment_id) VALUES (1, 1, '100000001')`,
				`INSERT INTO catalogsearch_query (query_id, query_text, num_results, popularity, synonym_for, store_id, display_in_terms, is_active, is_processed, updated_at)
					VALUES (7, 'mobile', 3, 10, 'phone', 1, 1, 1, 0, '2020-01-01 00:00:00'), (8, 'laptop', 2, 5, NULL, 1, 1, 1, 0, '2020-01-01 00:00:00')`,
				`INSERT INTO admin_user (user_id, firstname, lastname, email, username, password, created, modified, lognum, is_active, extra)
					VALUES (1, 'Ada', 'Admin', 'ada@example.com', 'ada', 'hash:salt', '2020-01-01 00:00:00', '2020-01-02 00:00:00', 3, 1, '`+adminExtraM1+`')`,
				`INSERT INTO sales_flat_order_payment (entity_id, parent_id, method, additional_information, cc_number_enc)
					VALUES (1, 1, 'paypal_standard', '`+paymentInfM1+`', '`+m1Encrypt(t, storeM1Key, "4111111111111111")+`'), (2, 1, 'checkmo', NULL, NULL)`,
			)
			s.e.mustRun("migrate", "settings")
			data := s.e.mustRun("migrate", "data")
			// The stock deltalog.xml.dist lists the tables Magento's tool
			// streams; the others copied are said to stay as copied.
			static := regexp.MustCompile(`copied table\(s\) are not in the deltalog file: [^"]*`).FindString(data.stderr)
			if delta == "triggers" && (!strings.Contains(static, "cms_page") || !strings.Contains(static, "catalogsearch_query") || strings.Contains(static, "sales_flat_order_payment,")) {
				t.Errorf("no warning naming the copied tables the deltalog file leaves out: %q", static)
			}
			want := map[string][]string{
				"SELECT path, scope, scope_id, value FROM core_config_data WHERE path IN ('general/locale/code', 'api/config/session_timeout', 'web/seo/use_rewrites') ORDER BY path": {
					// api/config/* is ignored by settings.xml.dist.
					"'general/locale/code','default','0','uk_UA'",
					"'web/seo/use_rewrites','websites','1','1'",
				},
				"SELECT page_id, title, page_layout, identifier, content, custom_root_template, layout_update_selected FROM cms_page ORDER BY page_id": {
					// root_template moves to page_layout through Convert's map;
					// (in delta, below: PCRE's ungreedy (.*\/) cuts only the
					// first folder of a template path, "cms/");
					// Placeholder maps the widget class by class-map.xml and
					// drops a widget the class map does not know.
					`'1','Home','2columns-left','home','<p>{{widget type="Magento\\Cms\\Block\\Widget\\Page\\Link" anchor_text="About" page_id="2"}}</p>','one_column',NULL`,
					`'2','About','1column','about','<p>plain</p>',NULL,NULL`,
				},
				// Synonym: a query with a synonym is a search_synonyms row
				// (group_id = query_id), with its store's website.
				"SELECT group_id, synonyms, store_id, website_id FROM search_synonyms ORDER BY group_id": {
					`'7','phone"mobile",','1','1'`,
				},
				"SELECT query_id, query_text, store_id FROM search_query ORDER BY query_id": {
					`'7','mobile','1'`, `'8','laptop','1'`,
				},
				// The stock map ignores admin_user (Magento 2's admins are
				// made anew): nothing is copied.
				"SELECT COUNT(*) FROM admin_user": {`'0'`},
				"SELECT entity_id, parent_id, method, additional_information FROM sales_order_payment ORDER BY entity_id": {
					`'1','1','paypal_express','` + paymentInfM2 + `'`,
					`'2','1','checkmo',NULL`,
				},
			}
			s.assertRows(want)
			s.assertDecrypts("SELECT value FROM core_config_data WHERE path = 'payment/payflow_advanced/pwd'", "s3cr3t pässword")
			s.assertDecrypts("SELECT cc_number_enc FROM sales_order_payment WHERE entity_id = 1", "4111111111111111")

			// Delta: the same rules apply to what changes afterwards.
			s.exec(
				`UPDATE cms_page SET root_template = 'three_columns', content = '{{block type="cms/widget_page_link" template="cms/widget/link.phtml"}}' WHERE page_id = 2`,
				`DELETE FROM sales_flat_order_payment WHERE entity_id = 2`,
				`INSERT INTO sales_flat_order_payment (entity_id, parent_id, method, additional_information) VALUES (3, 1, 'paypal_direct', 'a:0:{}')`,
				`UPDATE catalogsearch_query SET synonym_for = NULL WHERE query_id = 7`,
				`UPDATE catalogsearch_query SET synonym_for = 'notebook' WHERE query_id = 8`,
			)
			s.e.mustRun("migrate", "delta", "--exit-when-caught-up")
			if delta == "binlog" {
				// The change logs cover only the deltalog file's tables, as
				// Magento's tool's do: cms_page and catalogsearch_query stay
				// as copied there (and were warned about).
				want["SELECT page_id, title, page_layout, identifier, content, custom_root_template, layout_update_selected FROM cms_page ORDER BY page_id"][1] =
					`'2','About','3columns','about','{{block type="Magento\\Cms\\Block\\Widget\\Page\\Link" template="widget/link.phtml"}}',NULL,NULL`
				want["SELECT group_id, synonyms, store_id, website_id FROM search_synonyms ORDER BY group_id"] = []string{`'8','notebook"laptop",','1','1'`}
			}
			want["SELECT entity_id, parent_id, method, additional_information FROM sales_order_payment ORDER BY entity_id"] = []string{
				`'1','1','paypal_express','` + paymentInfM2 + `'`,
				`'3','1','payflowpro','[]'`,
			}
			s.assertRows(want)
		})
	}
}

// assertDecrypts checks that the one value q reads is plain once decrypted
// the Magento 2 way with the store's Magento 2 key.
func (s *stockStore) assertDecrypts(q, plain string) {
	s.t.Helper()
	var v string
	if err := s.e.dstDB.QueryRow(q).Scan(&v); err != nil {
		s.t.Fatalf("%s: %v", q, err)
	}
	if got := m2Decrypt(s.t, []string{storeM2Key}, v); got != plain {
		s.t.Errorf("%s: Magento 2 decrypts %q, want %q", q, got, plain)
	}
}

// assertRows compares each query's rows on the Magento 2 database.
func (s *stockStore) assertRows(want map[string][]string) {
	s.t.Helper()
	assertQueries(s.t, s.e.dstDB, "", want)
}

// assertQueries compares the rows each query of want reads on db with its
// expected rows; what (e.g. "run 2: ") starts each difference reported.
func assertQueries(t *testing.T, db *sql.DB, what string, want map[string][]string) {
	t.Helper()
	for q, rows := range want {
		if got := rowsOf(t, db, q); strings.Join(got, "\n") != strings.Join(rows, "\n") {
			t.Errorf("%s%s\n got:\n  %s\nwant:\n  %s", what, q, strings.Join(got, "\n  "), strings.Join(rows, "\n  "))
		}
	}
}
