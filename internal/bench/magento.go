package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/blowfish"

	"github.com/shiplog/shiplog/internal/testenv"
)

// The -magento-rows scenario: the Map step's throughput on the real schemas
// with the stock map and its handlers, against the identity copy of the
// same rows (issue 14: within 25%).
//
// A source holds the real Magento 1 schema with n rows in each of the
// handler-heavy tables (order payments: Convert, SerializeToJson, Encrypt;
// order items: SerializeToJson, SalesOrderItem; product varchar values:
// SetValueAttributeCondition, ConvertEavValue, TruncateSuffix,
// CleanMultiselect with their lookups; CMS pages: Placeholder, Convert). The
// stock config.xml (Magento's files as shipped, database attributes edited)
// migrates them into the real Magento 2 schema; then the same rows are
// copied without a map into a copy of the Magento 1 schema on the same
// destination server. Both with --auto (some Magento 1 tables have no key)
// and the same workers.

const (
	magentoSrcDB = "magento1"
	magentoDstDB = "magento2"
	magentoIDDB  = "identity"
)

// newMagentoBench makes a bench of the Magento scenarios: the module root,
// the Magento fixtures (fx) and a work folder (prefix names it), which done
// removes unless -keep.
func newMagentoBench(f flags, prefix string) (b *bench, fx string, done func(), err error) {
	if err := testenv.Available(); err != nil {
		return nil, "", nil, err
	}
	b = &bench{flags: f}
	if b.root, err = testenv.ModuleRoot(); err != nil {
		return nil, "", nil, err
	}
	if fx, err = magentoFixtures(b.root); err != nil {
		return nil, "", nil, err
	}
	if b.work, err = os.MkdirTemp("", prefix); err != nil {
		return nil, "", nil, err
	}
	if f.keep {
		fmt.Println("work folder:", b.work)
		return b, fx, func() {}, nil
	}
	return b, fx, func() { os.RemoveAll(b.work) }, nil
}

func runMagento(ctx context.Context, f flags) (results []result, notes []string, err error) {
	b, fx, done, err := newMagentoBench(f, "shiplog-bench-")
	if err != nil {
		return nil, nil, err
	}
	defer done()
	step("starting source (binlog ROW/FULL) and destination")
	if b.src, err = testenv.StartMariaDB(ctx, testenv.Options{Binlog: true, ServerID: 1}); err != nil {
		return nil, nil, fmt.Errorf("source: %w", err)
	}
	defer b.src.Stop()
	if b.dst, err = testenv.StartMariaDB(ctx, testenv.Options{ServerID: 2}); err != nil {
		return nil, nil, fmt.Errorf("destination: %w", err)
	}
	defer b.dst.Stop()
	m1 := filepath.Join(fx, "schema", "m1-schema.sql")
	m2 := filepath.Join(fx, "schema", "m2-schema.sql")
	for _, l := range []struct {
		m        *testenv.MariaDB
		db, file string
	}{{b.src, magentoSrcDB, m1}, {b.dst, magentoDstDB, m2}, {b.dst, magentoIDDB, m1}} {
		if err := loadSchema(ctx, l.m, l.db, l.file); err != nil {
			return nil, nil, err
		}
	}
	n := f.magentoRows
	step(fmt.Sprintf("filling %d rows in each of 3 handler-heavy Magento 1 tables and %d CMS pages", n, cmsPages(n)))
	start := time.Now()
	if err := b.src.Exec(ctx, magentoSrcDB, magentoRows(n)...); err != nil {
		return nil, nil, err
	}
	fmt.Printf("  filled in %.1fs\n", time.Since(start).Seconds())
	rows := float64(3*n + cmsPages(n))

	step("shiplog migrate data: the stock config.xml (map, handlers) into the Magento 2 schema")
	mapped := result{group: "Map step", tool: "stock map.xml + handlers", unit: "rows/s", work: rows}
	cfg, err := b.stockConfig(fx, false)
	if err == nil {
		mapped.seconds, mapped.rssKB, mapped.cpu, mapped.err = b.runShiplog(ctx, cfg, "magento-map.log", "migrate", "data", "--auto")
	} else {
		mapped.err = err
	}
	results = append(results, mapped)

	step("shiplog migrate data: the same rows without a map (identity copy)")
	ident := result{group: "Map step", tool: "identity copy", unit: "rows/s", work: rows}
	cfg = filepath.Join(b.work, "identity.yaml")
	text := strings.Replace(b.databasesYAML(magentoSrcDB, 0, magentoIDDB), "# written by internal/bench\n", "", 1) +
		fmt.Sprintf("options:\n  workers: %d\n", b.workers)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		return results, nil, err
	}
	ident.seconds, ident.rssKB, ident.cpu, ident.err = b.runShiplog(ctx, cfg, "magento-identity.log", "migrate", "data", "--auto")
	results = append(results, ident)
	if mapped.err == nil && ident.err == nil && ident.seconds > 0 {
		ratio := (rows / mapped.seconds) / (rows / ident.seconds)
		verdict := "within"
		if ratio < 0.75 {
			verdict = "NOT within"
		}
		notes = append(notes, fmt.Sprintf("Map step with the stock handlers: %.0f%% of the identity copy's throughput (%s the 25%% target)", 100*ratio, verdict))
	}
	return results, notes, nil
}

// magentoFixtures finds the Magento fixtures beside the module.
func magentoFixtures(root string) (string, error) {
	for _, d := range []string{filepath.Join(root, "..", "shared", "fixtures", "magento"), "/work/shared/fixtures/magento"} {
		if _, err := os.Stat(filepath.Join(d, "schema", "m1-schema.sql")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("the Magento fixtures (../shared/fixtures/magento) are missing")
}

// loadSchema creates db on m and runs a schema file in it.
func loadSchema(ctx context.Context, m *testenv.MariaDB, db, file string) error {
	if err := m.Exec(ctx, "", "CREATE DATABASE `"+db+"`"); err != nil {
		return err
	}
	conn, err := m.Open(db)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetMaxOpenConns(1)
	return testenv.ExecFile(ctx, conn, file)
}

// stockConfig writes config.xml beside a link to the tool's etc/ folder, so
// the stock relative paths resolve as from the tool's root; with allSteps,
// every step as shipped, otherwise Settings and Map alone.
func (b *bench) stockConfig(fx string, allSteps bool) (string, error) {
	dist, err := os.ReadFile(filepath.Join(fx, "dmt", "etc", "opensource-to-opensource", "1.9.4.5", "config.xml.dist"))
	if err != nil {
		return "", err
	}
	root := filepath.Join(b.work, "dmt")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", err
	}
	if err := os.Symlink(filepath.Join(fx, "dmt", "etc"), filepath.Join(root, "etc")); err != nil && !os.IsExist(err) {
		return "", err
	}
	text := string(dist)
	if !allSteps {
		// Only the Map step runs in data mode: the scenario measures its
		// throughput (the bench's Magento 2 database has no EAV rows for
		// the EAV and Customer steps to merge with).
		text = regexp.MustCompile(`(?s)<step title="([^"]+)">.*?</step>`).ReplaceAllStringFunc(text, func(st string) string {
			if strings.HasPrefix(st, `<step title="Map Step">`) || strings.HasPrefix(st, `<step title="Settings Step">`) {
				return st
			}
			return ""
		})
	}
	for _, r := range []struct {
		name string
		port int
	}{{magentoSrcDB, b.src.Port}, {magentoDstDB, b.dst.Port}} {
		text = strings.Replace(text, fmt.Sprintf(`<database host="localhost" name="%s" user="root" />`, r.name),
			fmt.Sprintf(`<database host="127.0.0.1" port="%d" name="%s" user="root" />`, r.port, r.name), 1)
	}
	text = strings.Replace(text, "<log_file>migration.log</log_file>", "<log_file>"+filepath.Join(b.work, "migration.log")+"</log_file>", 1)
	text = strings.Replace(text, "<crypt_key />", "<crypt_key>"+magentoM1Key+"</crypt_key>", 1)
	text = strings.Replace(text, "</options>", fmt.Sprintf("<m2_crypt_key>%s</m2_crypt_key><workers>%d</workers></options>", magentoM2Key, b.workers), 1)
	p := filepath.Join(root, "config.xml")
	return p, os.WriteFile(p, []byte(text), 0o600)
}

// The crypt keys of the bench's two stores (not secrets: made up here).
const (
	magentoM1Key = "b3c8d1e4f5a6978812ab34cd56ef7890"
	magentoM2Key = "0123456789abcdef0123456789abcdef"
)

// magentoRows fills the handler-heavy tables with n rows each, and the
// EAV and settings rows their handlers look up.
func magentoRows(n int) []string {
	seq := fmt.Sprintf("seq_1_to_%d", n)
	return []string{
		"SET FOREIGN_KEY_CHECKS = 0",
		`INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model, attribute_model, entity_table) VALUES
			(3, 'catalog_category', 'catalog/category', 'catalog/resource_eav_attribute', 'catalog/category'),
			(4, 'catalog_product', 'catalog/product', 'catalog/resource_eav_attribute', 'catalog/product')`,
		`INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input, is_user_defined) VALUES
			(71, 4, 'name', 'varchar', 'text', 0), (98, 4, 'url_key', 'varchar', 'text', 0), (99, 4, 'url_path', 'varchar', 'text', 0),
			(103, 4, 'custom_design', 'varchar', 'select', 0), (107, 4, 'page_layout', 'varchar', 'select', 0),
			(136, 4, 'material', 'varchar', 'multiselect', 1)`,
		`INSERT INTO core_config_data (scope, scope_id, path, value) VALUES ('default', 0, 'catalog/seo/product_url_suffix', '.html')`,
		// Order payments: Convert (method), SerializeToJson (additional_information).
		`INSERT INTO sales_flat_order_payment (entity_id, parent_id, method, additional_information, cc_number_enc, cc_last4, amount_paid, base_amount_paid)
			SELECT seq, seq, ELT(1 + seq % 3, 'paypal_standard', 'checkmo', 'paypal_direct'),
				CONCAT('a:2:{s:15:"paypal_payer_id";s:', LENGTH(CONCAT('P-', seq)), ':"P-', seq, '";s:6:"status";s:7:"pending";}'),
				'` + m1Encrypt(magentoM1Key, "4111111111111111") + `', '1111', seq / 10, seq / 10 FROM ` + seq,
		// Order items: SerializeToJson (weee_tax_applied), SalesOrderItem (product_options).
		`INSERT INTO sales_flat_order_item (item_id, order_id, store_id, product_id, product_type, sku, name, qty_ordered, price, weee_tax_applied, product_options)
			SELECT seq, 1 + seq DIV 3, 1, seq, 'simple', CONCAT('SKU-', seq), CONCAT('Product ', seq), 1, 9.99, 'a:0:{}',
				CONCAT('a:2:{s:15:"info_buyRequest";a:2:{s:7:"product";s:', LENGTH(seq), ':"', seq, '";s:3:"qty";i:1;}s:7:"options";a:0:{}}') FROM ` + seq,
		// Product varchar values: the EAV handlers and their lookups.
		`INSERT INTO catalog_product_entity_varchar (value_id, entity_type_id, attribute_id, store_id, entity_id, value)
			SELECT seq, 4, ELT(1 + seq % 6, 71, 98, 99, 103, 107, 136), 0, 1 + seq DIV 6,
				ELT(1 + seq % 6, CONCAT('Name ', seq), CONCAT('key-', seq), CONCAT('path/', seq, '.html'), 'default/modern', 'two_columns_left', '1,,0,3') FROM ` + seq,
		// CMS pages: Placeholder (content), Convert (root_template).
		`INSERT INTO cms_page (page_id, title, root_template, identifier, content, creation_time, update_time, is_active, sort_order)
			SELECT seq, CONCAT('Page ', seq), 'two_columns_left', CONCAT('page-', seq),
				CONCAT('<p>Text ', seq, '</p>{{widget type="cms/widget_page_link" anchor_text="About" page_id="', seq, '"}}'),
				'2020-01-02 03:04:05', '2020-01-03 03:04:05', 1, 0 FROM ` + fmt.Sprintf("seq_1_to_%d", cmsPages(n)),
	}
}

// cmsPages is how many CMS pages the scenario fills: cms_page.page_id is
// a SMALLINT.
func cmsPages(n int) int { return min(n, 30000) }

// m1Encrypt encrypts as Magento 1 does: Blowfish ECB under the key's bytes,
// NUL-padded to whole blocks, base64.
func m1Encrypt(key, plain string) string {
	c, err := blowfish.NewCipher([]byte(key))
	if err != nil {
		panic(err)
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
