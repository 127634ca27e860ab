//go:build !unit

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/internal/testenv"
)

// eavTestMap is the Map step's map for TestEAVStepOnTheReferenceDatabases:
// the reference's eav test databases hold only EAV and store tables, which
// other steps migrate, so the Map step copies only the value table the
// test adds (Magento 2 has no entity_type_id there).
const eavTestMap = `<?xml version="1.0" encoding="UTF-8"?>
<map>
  <source>
    <document_rules>
      <ignore><document>eav_*</document></ignore>
      <ignore><document>catalog_eav_attribute</document></ignore>
      <ignore><document>customer_eav_attribute*</document></ignore>
      <ignore><document>core_*</document></ignore>
    </document_rules>
    <field_rules>
      <ignore><field>catalog_product_entity_varchar.entity_type_id</field></ignore>
    </field_rules>
  </source>
  <destination>
    <document_rules>
      <ignore><document>eav_*</document></ignore>
      <ignore><document>catalog_eav_attribute</document></ignore>
      <ignore><document>customer_eav_attribute*</document></ignore>
      <ignore><document>store*</document></ignore>
    </document_rules>
  </destination>
</map>
`

// eavReferenceEnv loads the reference's eav integration-test databases
// (tests/integration/resource/eav/{source,dest}.sql) and what
// TestEAVStepOnTheReferenceDatabases adds to them, and writes the stock
// config.xml with options (over the test's map_file and crypt_key).
func eavReferenceEnv(t *testing.T, options map[string]string) *env {
	t.Helper()
	fx := magentoFixtures(t)
	res := filepath.Join(fx, "dmt", "tests", "integration", "resource", "eav")
	src, dst := testenv.SourceAndDest(t, "magento1", "magento2")
	loadSchemaFile(t, src, "magento1", filepath.Join(res, "source.sql"))
	loadSchemaFile(t, dst, "magento2", filepath.Join(res, "dest.sql"))
	ctx := context.Background()
	// Added by the test: a Magento 1 only multiselect product attribute,
	// its catalog_eav_attribute row, and product values.
	if err := src.Exec(ctx, "magento1",
		`INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input, frontend_label, source_model, is_user_defined)
			VALUES (200, 4, 'shiplog_colors', 'text', 'multiselect', 'Colors', 'eav/entity_attribute_source_table', 1)`,
		`INSERT INTO catalog_eav_attribute (attribute_id, is_global, is_visible, is_searchable) VALUES (200, 0, 1, 1)`,
		"CREATE TABLE catalog_product_entity_varchar (value_id INT NOT NULL PRIMARY KEY, entity_type_id SMALLINT UNSIGNED NOT NULL, attribute_id SMALLINT UNSIGNED NOT NULL, store_id SMALLINT UNSIGNED NOT NULL, entity_id INT UNSIGNED NOT NULL, value VARCHAR(255))",
		`INSERT INTO catalog_product_entity_varchar VALUES (1, 4, 63, 0, 7, 'SKU-7'), (2, 4, 200, 0, 7, '3,5'), (3, 4, 118, 0, 7, '2')`,
	); err != nil {
		t.Fatal(err)
	}
	if err := dst.Exec(ctx, "magento2",
		"CREATE TABLE catalog_product_entity_varchar (value_id INT NOT NULL PRIMARY KEY, attribute_id SMALLINT UNSIGNED NOT NULL, store_id SMALLINT UNSIGNED NOT NULL, entity_id INT UNSIGNED NOT NULL, value VARCHAR(255))",
	); err != nil {
		t.Fatal(err)
	}
	mapFile := filepath.Join(t.TempDir(), "map.xml")
	if err := os.WriteFile(mapFile, []byte(eavTestMap), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, src: src, dst: dst}
	opts := map[string]string{"map_file": mapFile, "crypt_key": storeM1Key}
	for k, v := range options {
		opts[k] = v
	}
	e.config = stockConfigXML(t, fx, src, dst, opts)
	var err error
	if e.srcDB, err = src.Open("magento1"); err != nil {
		t.Fatal(err)
	}
	if e.dstDB, err = dst.Open("magento2"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.srcDB.Close(); e.dstDB.Close() })
	return e
}

// TestEAVStepOnTheReferenceDatabases runs data mode with the stock
// config.xml.dist (whose data mode lists the EAV Step before the Map Step)
// on the reference's EAV integration-test databases
// (tests/integration/resource/eav/{source,dest}.sql). The reference's
// tests (testsuite/Migration/Step/EAV/{Integrity,Data,Volume}Test.php) only
// assert that Integrity, Data and Volume pass on them; the rows expected
// here follow from its Data.php on those databases and the stock
// eav-attribute-groups.xml.dist:
//   - sku (catalog_product, Magento 1 id 63) is Magento 2's sku (id 70) and
//     website_id (customer, 1) is Magento 2's website_id (1): matched by
//     entity type code and attribute code, Magento 2's rows kept;
//   - msrp_enabled (118) is in the "ignore" group: not migrated;
//   - quantity_and_stock_status (Magento 2 only) stays.
//
// The test adds what the databases lack (said so where it does): an
// attribute only Magento 1 has, which the EAV map transforms (ConvertModel
// by class-map.xml.dist, BackendTypeForMultiselect), and
// catalog_product_entity_varchar rows the Map step copies, whose
// attribute_id must name the same attribute (by code, read in SQL on both
// sides) in Magento 2. A second run (--reset) adds no attribute twice.
//
// Attribute sets and groups, as the reference's Data.php
// (migrateAttributeSets, migrateCustomAttributeGroups,
// createMapAttributeGroupIds, migrateCustomEntityAttributes) and
// map-eav.xml.dist make them of those databases: both Default sets (product
// 4, customer 1) are Magento 2's of the same entity type and name; the
// product set's General and Prices groups are Magento 2's Product Details
// (7), Design is Magento 2's Design (8), Images (Magento 1 only) is added
// to the set with its code by SetGroupCode, tab_group_code basic and
// sort_order +100 (map-eav.xml.dist); sku's place (Default/General) is
// Magento 2's own, kept. The test adds a Magento 1 only product set
// (Clothing, with General and a group of its own) and eav_entity_attribute
// rows: the set is added (sort_order 100, map-eav.xml.dist) as a copy of
// Magento 2's Default product set (createProductAttributeSetStructures:
// its groups Product Details and Design with their codes, tabs and sort
// orders, and its attributes sku and quantity_and_stock_status in their
// places); General is that copy's Product Details, where sku keeps Magento
// 2's place; Clothing Details is added (sort_order +100), with
// shiplog_colors; the ignored msrp_enabled is not placed.
func TestEAVStepOnTheReferenceDatabases(t *testing.T) {
	t.Parallel()
	e := eavReferenceEnv(t, nil)
	if err := e.src.Exec(context.Background(), "magento1",
		`INSERT INTO eav_attribute_set (attribute_set_id, entity_type_id, attribute_set_name, sort_order) VALUES (9, 4, 'Clothing', 3)`,
		`INSERT INTO eav_attribute_group (attribute_group_id, attribute_set_id, attribute_group_name, sort_order, default_id) VALUES (20, 9, 'General', 1, 1), (21, 9, 'Clothing Details', 2, 0)`,
		`INSERT INTO eav_entity_attribute (entity_attribute_id, entity_type_id, attribute_set_id, attribute_group_id, attribute_id, sort_order) VALUES
			(100, 4, 4, 5, 200, 3), (101, 4, 9, 20, 63, 1), (102, 4, 9, 21, 200, 2), (103, 4, 9, 20, 118, 5)`,
		// Magento 1's products default to Clothing, numbered on 10 digits.
		`UPDATE eav_entity_type SET default_attribute_set_id = 9, increment_pad_length = 10 WHERE entity_type_code = 'catalog_product'`,
	); err != nil {
		t.Fatal(err)
	}

	want := map[string][]string{
		// The id map: matched attributes map to Magento 2's ids; the
		// added one to the id Magento 2 gave it (checked by code below).
		// (rowsOf sorts rows as text.)
		"SELECT m.m1_id, m.entity_type_code, m.attribute_code, a.attribute_code FROM _shiplog_eav_attribute_map m JOIN eav_attribute a ON a.attribute_id = m.m2_id ORDER BY m.m1_id": {
			"'1','customer','website_id','website_id'",
			"'200','catalog_product','shiplog_colors','shiplog_colors'",
			"'63','catalog_product','sku','sku'",
		},
		"SELECT m1_id, m2_id FROM _shiplog_eav_attribute_map WHERE m1_id IN (1, 63) ORDER BY m1_id": {"'1','1'", "'63','70'"},
		// Magento 2's attributes keep their ids and rows; msrp_enabled is
		// not added.
		"SELECT attribute_id, entity_type_id, attribute_code, backend_model FROM eav_attribute WHERE attribute_id IN (1, 70, 115) ORDER BY attribute_id": {
			`'1','1','website_id','Magento\Customer\Model\Customer\Attribute\Backend\Website'`,
			`'115','4','quantity_and_stock_status','Magento\Catalog\Model\Product\Attribute\Backend\Stock'`,
			`'70','4','sku','Magento\Catalog\Model\Product\Attribute\Backend\Sku'`,
		},
		"SELECT COUNT(*) FROM eav_attribute WHERE attribute_code = 'msrp_enabled'": {"'0'"},
		"SELECT COUNT(*) FROM eav_attribute":                                       {"'4'"},
		// The added attribute through map-eav.xml.dist: Magento 2's
		// entity type id, source_model by class-map.xml.dist
		// (ConvertModel), backend_type varchar for a product multiselect
		// (BackendTypeForMultiselect); other fields as Magento 1 has them
		// (frontend_label: the stock map, unlike the reference's test map,
		// does not keep Magento 2's value).
		"SELECT entity_type_id, backend_type, frontend_input, source_model, frontend_label, is_user_defined FROM eav_attribute WHERE attribute_code = 'shiplog_colors'": {
			`'4','varchar','multiselect','Magento\Eav\Model\Entity\Attribute\Source\Table','Colors','1'`,
		},
		// Its catalog_eav_attribute row, under the new id, Magento 1's
		// values; apply_to NULL for a user-defined attribute Magento 2
		// lacks (ApplyTo).
		"SELECT c.is_global, c.is_visible, c.is_searchable, c.apply_to FROM catalog_eav_attribute c JOIN eav_attribute a USING (attribute_id) WHERE a.attribute_code = 'shiplog_colors'": {
			"'0','1','1',NULL",
		},
		"SELECT COUNT(*) FROM catalog_eav_attribute": {"'2'"},
		// Sets: matched by entity type and name (Magento 2's rows kept),
		// Clothing added.
		"SELECT m.m1_id, m.entity_type_code, s.attribute_set_name, s.entity_type_id, s.sort_order FROM _shiplog_eav_attribute_set_map m JOIN eav_attribute_set s ON s.attribute_set_id = m.m2_id ORDER BY m.m1_id": {
			"'1','customer','Default','1','2'", "'4','catalog_product','Default','4','1'", "'9','catalog_product','Clothing','4','100'",
		},
		"SELECT m1_id, m2_id FROM _shiplog_eav_attribute_set_map WHERE m1_id IN (1, 4) ORDER BY m1_id": {"'1','1'", "'4','4'"},
		"SELECT COUNT(*) FROM eav_attribute_set":                                                       {"'3'"},
		// Groups: by set and (Magento 2's) name.
		"SELECT m.m1_id, s.attribute_set_name, g.attribute_group_name, g.attribute_group_code, g.tab_group_code, g.sort_order FROM _shiplog_eav_attribute_group_map m JOIN eav_attribute_group g ON g.attribute_group_id = m.m2_id JOIN eav_attribute_set s ON s.attribute_set_id = g.attribute_set_id ORDER BY m.m1_id": {
			"'1','Default','General',NULL,NULL,'1'",
			"'20','Clothing','Product Details','product-details','basic','10'",
			"'21','Clothing','Clothing Details','clothing-details','basic','102'",
			"'4','Default','Product Details','product-details','basic','10'",
			"'5','Default','Product Details','product-details','basic','10'",
			"'6','Default','Design','design','advanced','11'",
			"'7','Default','Images','images','basic','104'",
		},
		"SELECT m1_id, m2_id FROM _shiplog_eav_attribute_group_map WHERE m1_id IN (1, 4, 5, 6) ORDER BY m1_id": {"'1','1'", "'4','7'", "'5','7'", "'6','8'"},
		"SELECT COUNT(*) FROM eav_attribute_group":                                                             {"'7'"},
		// Clothing's groups: the copy of Magento 2's Default (Design
		// too, which Magento 1's Clothing lacks) and its own.
		"SELECT g.attribute_group_name, g.sort_order, g.default_id, g.attribute_group_code, g.tab_group_code FROM eav_attribute_group g JOIN eav_attribute_set s USING (attribute_set_id) WHERE s.attribute_set_name = 'Clothing'": {
			"'Clothing Details','102','0','clothing-details','basic'", "'Design','11','1','design','advanced'", "'Product Details','10','1','product-details','basic'",
		},
		// Attributes in sets, by name and code.
		"SELECT s.attribute_set_name, g.attribute_group_name, a.attribute_code, ea.sort_order, ea.entity_type_id FROM eav_entity_attribute ea JOIN eav_attribute_set s ON s.attribute_set_id = ea.attribute_set_id JOIN eav_attribute_group g ON g.attribute_group_id = ea.attribute_group_id AND g.attribute_set_id = ea.attribute_set_id JOIN eav_attribute a ON a.attribute_id = ea.attribute_id": {
			"'Clothing','Clothing Details','shiplog_colors','2','4'",
			"'Clothing','Product Details','quantity_and_stock_status','3','4'",
			"'Clothing','Product Details','sku','20','4'",
			"'Default','Product Details','quantity_and_stock_status','3','4'",
			"'Default','Product Details','shiplog_colors','203','4'",
			"'Default','Product Details','sku','20','4'",
		},
		"SELECT COUNT(*) FROM eav_entity_attribute": {"'6'"},
		// Entity types (the reference's migrateEntityTypes writes Magento
		// 1's rows through map-eav.xml.dist): Magento 2's rows and ids,
		// with Magento 1's default set (Clothing, by its Magento 2 id) and
		// increment settings; the classes stay Magento 2's.
		"SELECT t.entity_type_id, t.entity_type_code, s.attribute_set_name, t.increment_pad_length, t.increment_pad_char, t.entity_model FROM eav_entity_type t JOIN eav_attribute_set s ON s.attribute_set_id = t.default_attribute_set_id": {
			`'1','customer','Default','8','0','Magento\Customer\Model\ResourceModel\Customer'`,
			`'4','catalog_product','Clothing','10','0','Magento\Catalog\Model\ResourceModel\Product'`,
		},
	}
	check := func() {
		t.Helper()
		assertQueries(t, e.dstDB, "", want)
		// Each copied value names, in Magento 2, the attribute whose code
		// its Magento 1 attribute_id had; the value of the ignored
		// msrp_enabled is not copied with an id that names another
		// attribute: it is a failed row.
		m1 := rowsOf(t, e.srcDB, "SELECT v.value_id, a.attribute_code, v.value FROM catalog_product_entity_varchar v JOIN eav_attribute a USING (attribute_id) WHERE v.value_id IN (1, 2) ORDER BY v.value_id")
		m2 := rowsOf(t, e.dstDB, "SELECT v.value_id, a.attribute_code, v.value FROM catalog_product_entity_varchar v JOIN eav_attribute a USING (attribute_id) ORDER BY v.value_id")
		if strings.Join(m1, "\n") != strings.Join(m2, "\n") || len(m2) != 2 {
			t.Errorf("catalog_product_entity_varchar by attribute code:\n Magento 1: %v\n Magento 2: %v", m1, m2)
		}
		if got := rowsOf(t, e.dstDB, "SELECT COUNT(*) FROM _shiplog_failed_rows WHERE table_name = 'catalog_product_entity_varchar' AND error LIKE '%attribute_id 118 is not in%'"); strings.Join(got, "") != "'1'" {
			t.Errorf("failed rows of msrp_enabled's value: %v", got)
		}
	}
	// The value of the ignored attribute fails: a partial success.
	r := runShiplog(t, e.config, nil, "migrate", "data")
	if r.code == 0 || !strings.Contains(r.stderr, "EAV attributes migrated") || !strings.Contains(r.stderr, "EAV volume check passed") {
		t.Fatalf("migrate data: exit %d, want a partial success after the EAV step's data and volume stages\n%s%s", r.code, r.stdout, r.stderr)
	}
	check()
	// Again from the start: the attribute added is found by its code and
	// keeps its id; nothing is added twice.
	const maps = "SELECT 'a', m1_id, m2_id FROM _shiplog_eav_attribute_map UNION ALL SELECT 's', m1_id, m2_id FROM _shiplog_eav_attribute_set_map UNION ALL SELECT 'g', m1_id, m2_id FROM _shiplog_eav_attribute_group_map"
	before := rowsOf(t, e.dstDB, maps)
	r = runShiplog(t, e.config, nil, "migrate", "data", "--reset")
	if !strings.Contains(r.stderr, "EAV volume check passed") {
		t.Fatalf("migrate data --reset: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	check()
	if after := rowsOf(t, e.dstDB, maps); strings.Join(after, " ") != strings.Join(before, " ") || len(after) != 3+3+7 {
		t.Errorf("the id maps changed on a second run: %v, then %v", before, after)
	}
}

// TestEAVStepIntegrity: the EAV step's integrity problems stop data mode
// before anything is written, reported as the Map step's are. An EAV map
// with a handler that does not exist (the stock map-eav.xml.dist with
// ConvertModel renamed) cannot compile; an attribute without a
// frontend_input fails the reference's AttributeFrontendInput check
// (Integrity/AttributeFrontendInput.php) unless the attribute groups file
// allows it; --auto does not go past the map's broken handler (it would
// copy class names untransformed).
func TestEAVStepIntegrity(t *testing.T) {
	t.Parallel()
	fx := magentoFixtures(t)
	dist, err := os.ReadFile(filepath.Join(fx, "dmt", "etc", "opensource-to-opensource", "map-eav.xml.dist"))
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(dist), `<field>eav_attribute.source_model</field>
                <handler class="\Migration\Handler\EavAttribute\ConvertModel" />`, `<field>eav_attribute.source_model</field>
                <handler class="\Migration\Handler\EavAttribute\NoSuchModel" />`, 1)
	if broken == string(dist) {
		t.Fatal("map-eav.xml.dist has no ConvertModel on eav_attribute.source_model")
	}
	mapFile := filepath.Join(t.TempDir(), "map-eav.xml")
	if err := os.WriteFile(mapFile, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	e := eavReferenceEnv(t, map[string]string{"eav_map_file": mapFile})
	if err := e.src.Exec(context.Background(), "magento1",
		`INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input) VALUES (201, 4, 'no_input', 'varchar', NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"migrate", "data"}, {"migrate", "data", "--auto"}} {
		r := runShiplog(t, e.config, nil, args...)
		if r.code == 0 || !strings.Contains(r.stderr, "integrity check failed") {
			t.Fatalf("%v: exit %d, want an integrity failure\n%s", args, r.code, r.stderr)
		}
		for _, want := range []string{`Unknown handler \"\\Migration\\Handler\\EavAttribute\\NoSuchModel\" on eav_attribute.source_model`} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%v: no %s in\n%s", args, want, r.stderr)
			}
		}
		if strings.Contains(r.stderr, "EAV attributes migrated") {
			t.Errorf("%v: the EAV step's data stage ran", args)
		}
	}
	if got := rowsOf(t, e.dstDB, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '_shiplog_eav_attribute_map'"); strings.Join(got, "") != "'0'" {
		t.Errorf("the id map table exists after a failed integrity check")
	}
	if got := rowsOf(t, e.dstDB, "SELECT COUNT(*) FROM eav_attribute"); strings.Join(got, "") != "'3'" {
		t.Errorf("destination eav_attribute has %v rows after a failed integrity check, want its 3", got)
	}
	// The map fixed, what the rows hold: an empty frontend_input, a class
	// class-map.xml.dist does not know (the reference's ClassMap check),
	// a note too long for a (narrowed, by the test) destination column.
	// Each is an error --auto turns into a warning: the first two are
	// migrated (the unknown class as NULL: auto_resolve), the third is a
	// failed row. So is an attribute set whose name is too long for the
	// (narrowed) destination column: its group is not migrated either.
	if err := e.src.Exec(context.Background(), "magento1",
		`INSERT INTO eav_attribute_set (attribute_set_id, entity_type_id, attribute_set_name, sort_order) VALUES (30, 4, 'A set name too long', 5)`,
		`INSERT INTO eav_attribute_group (attribute_group_id, attribute_set_id, attribute_group_name, sort_order, default_id) VALUES (40, 30, 'Extra', 1, 0)`,
		`INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input, source_model) VALUES (202, 4, 'acme_kind', 'int', 'select', 'acme/source_kind')`,
		`INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input, note) VALUES (203, 4, 'long_note', 'varchar', 'text', 'a note too long')`); err != nil {
		t.Fatal(err)
	}
	if err := e.dst.Exec(context.Background(), "magento2", "ALTER TABLE eav_attribute MODIFY note VARCHAR(5) NULL", "ALTER TABLE eav_attribute_set MODIFY attribute_set_name VARCHAR(10) NULL"); err != nil {
		t.Fatal(err)
	}
	testMap := filepath.Join(t.TempDir(), "map.xml")
	if err := os.WriteFile(testMap, []byte(eavTestMap), 0o600); err != nil {
		t.Fatal(err)
	}
	e.config = stockConfigXML(t, fx, e.src, e.dst, map[string]string{"map_file": testMap, "crypt_key": storeM1Key})
	const empty = "attribute catalog_product/no_input (attribute_id 201) has an empty frontend_input"
	r := runShiplog(t, e.config, nil, "migrate", "data")
	const unknownClass, tooLong = "acme/source_kind", "attribute catalog_product/long_note (attribute_id 203) cannot be transformed by the EAV map"
	const setTooLong = "(attribute_set_id 30) cannot be transformed by the EAV map"
	if r.code == 0 || !strings.Contains(r.stderr, "integrity check failed") || strings.Contains(r.stderr, "Unknown handler") {
		t.Fatalf("migrate data: exit %d, want an integrity failure\n%s", r.code, r.stderr)
	}
	for _, want := range []string{empty, unknownClass, tooLong, setTooLong} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("migrate data: no %q in\n%s", want, r.stderr)
		}
	}
	r = runShiplog(t, e.config, nil, "migrate", "data", "--auto")
	if !strings.Contains(r.stderr, empty) || !strings.Contains(r.stderr, "EAV attributes migrated") {
		t.Fatalf("migrate data --auto: exit %d, want the EAV step to run with a warning\n%s", r.code, r.stderr)
	}
	if r.code == 0 || !strings.Contains(r.stderr, "partial success") {
		t.Errorf("migrate data --auto: exit %d, want a partial success\n%s", r.code, r.stderr)
	}
	want := map[string][]string{
		"SELECT m.m1_id, a.attribute_code, a.frontend_input, a.source_model FROM _shiplog_eav_attribute_map m JOIN eav_attribute a ON a.attribute_id = m.m2_id WHERE m.m1_id > 200 ORDER BY m.m1_id": {
			"'201','no_input',NULL,NULL", "'202','acme_kind','select',NULL",
		},
		"SELECT COUNT(*) FROM eav_attribute WHERE attribute_code = 'long_note'":                                                  {"'0'"},
		"SELECT COUNT(*) FROM _shiplog_failed_rows WHERE table_name = 'eav_attribute' AND error LIKE '%note%'":                   {"'1'"},
		"SELECT COUNT(*) FROM _shiplog_eav_attribute_map WHERE m1_id = 203":                                                      {"'0'"},
		"SELECT COUNT(*) FROM _shiplog_failed_rows WHERE table_name = 'eav_attribute_set' AND error LIKE '%attribute_set_name%'": {"'1'"},
		"SELECT COUNT(*) FROM _shiplog_eav_attribute_set_map WHERE m1_id = 30":                                                   {"'0'"},
		"SELECT COUNT(*) FROM _shiplog_eav_attribute_group_map WHERE m1_id = 40":                                                 {"'0'"},
		"SELECT COUNT(*) FROM eav_attribute_set":                                                                                 {"'2'"},
	}
	assertQueries(t, e.dstDB, "", want)
}

// TestEAVStepWithTheStockMapOnRealSchemas: the EAV step and the Map step
// of the stock config.xml.dist and map.xml.dist on the real Magento 1.9
// and 2.4 schemas. Magento 2 has page_layout under another id than
// Magento 1; map.xml.dist's own handlers on
// catalog_product_entity_varchar.value (ConvertEavValue on page_layout,
// SetValueAttributeCondition on custom_design) still see Magento 1's ids
// (they run before the translation), and every copied row's attribute_id
// names, in Magento 2, the attribute its Magento 1 id named (by code, read
// in SQL on both sides), as does eav_attribute_option's, which
// map.xml.dist copies too. An attribute only Magento 1 has is added, and
// its values point at it. (url_key is there because map.xml.dist's
// TruncateSuffix needs it in eav_attribute.)
//
// Attribute sets: Magento 2 has Default (4) and Bags (9); Magento 1 has
// Default (4) and Clothing (9). A product of Clothing must be, in Magento
// 2, a product of Clothing (added with a new id), never of Bags: checked by
// set name in SQL on both sides, after the copy and after a second run
// (which adds no set, group or set attribute twice); verify compares
// attribute_set_id through the set map and finds a product moved to Bags.
// (Magento 1's General group is Magento 2's Product Details, as the
// reference's Data step maps it.)
func TestEAVStepWithTheStockMapOnRealSchemas(t *testing.T) {
	t.Parallel()
	s, fx := newStockStore(t)
	s.config = stockConfigXML(t, fx, s.src, s.dst, map[string]string{"crypt_key": storeM1Key, "m2_crypt_key": storeM2Key})
	s.e.config = s.config
	// The parents the Data Integrity step checks for.
	s.exec(storeAdminAndDefault...)
	s.exec(
		`INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model) VALUES (4, 'catalog_product', 'catalog/product'), (3, 'catalog_category', 'catalog/category')`,
		`INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input, is_user_defined) VALUES
			(83, 4, 'page_layout', 'varchar', 'select', 0), (84, 4, 'custom_design', 'varchar', 'select', 0),
			(85, 4, 'name', 'varchar', 'text', 0), (200, 4, 'shiplog_note', 'varchar', 'text', 1),
			(41, 3, 'name', 'varchar', 'text', 0), (87, 4, 'url_key', 'varchar', 'text', 0)`,
		`INSERT INTO catalog_eav_attribute (attribute_id, is_global, is_visible) VALUES (83, 0, 1), (84, 0, 1), (85, 0, 1), (200, 2, 1), (41, 0, 1), (87, 0, 1)`,
		`INSERT INTO eav_attribute_option (option_id, attribute_id, sort_order) VALUES (7, 200, 0), (8, 83, 1)`,
		`INSERT INTO eav_attribute_set (attribute_set_id, entity_type_id, attribute_set_name, sort_order) VALUES (4, 4, 'Default', 1), (9, 4, 'Clothing', 2), (3, 3, 'Default', 1)`,
		`INSERT INTO eav_attribute_group (attribute_group_id, attribute_set_id, attribute_group_name, sort_order, default_id) VALUES (7, 4, 'General', 1, 1), (20, 9, 'General', 1, 1), (21, 9, 'Clothing Details', 2, 0)`,
		// Default links every attribute P-1 has values of (values outside
		// it are the PostProcessing step's leftovers).
		`INSERT INTO eav_entity_attribute (entity_attribute_id, entity_type_id, attribute_set_id, attribute_group_id, attribute_id, sort_order) VALUES (1, 4, 4, 7, 85, 1), (2, 4, 9, 21, 200, 1), (3, 4, 9, 20, 85, 1),
			(4, 4, 4, 7, 83, 2), (5, 4, 4, 7, 84, 3), (6, 4, 4, 7, 200, 4), (7, 4, 4, 7, 87, 5)`,
		// (times given: Magento 2 would stamp a NULL with its own)
		`INSERT INTO catalog_product_entity (entity_id, entity_type_id, attribute_set_id, type_id, sku, created_at, updated_at) VALUES
			(1, 4, 4, 'simple', 'P-1', '2020-01-02 03:04:05', '2020-01-02 03:04:05'), (2, 4, 9, 'simple', 'P-2', '2020-01-02 03:04:05', '2020-01-02 03:04:05')`,
		`INSERT INTO catalog_product_entity_varchar (value_id, entity_type_id, attribute_id, store_id, entity_id, value) VALUES
			(1, 4, 83, 0, 1, 'one_column'), (2, 4, 84, 0, 1, 'default/modern'), (3, 4, 85, 0, 1, 'Phone'), (4, 4, 200, 0, 1, 'a note')`,
	)
	// Magento 2's own: the same codes under other ids (catalog_category's
	// name first, as Magento 2 numbers them), and one Magento 1 lacks.
	if err := s.dst.Exec(context.Background(), "magento2", "SET FOREIGN_KEY_CHECKS = 0",
		`INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model) VALUES (3, 'catalog_category', 'Magento\\Catalog\\Model\\ResourceModel\\Category'), (4, 'catalog_product', 'Magento\\Catalog\\Model\\ResourceModel\\Product')`,
		`INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input) VALUES
			(45, 3, 'name', 'varchar', 'text'), (73, 4, 'name', 'varchar', 'text'), (84, 4, 'page_layout', 'varchar', 'select'),
			(85, 4, 'custom_design', 'varchar', 'select'), (83, 4, 'gift_message_available', 'varchar', 'boolean'), (121, 4, 'url_key', 'varchar', 'text')`,
		`INSERT INTO eav_attribute_set (attribute_set_id, entity_type_id, attribute_set_name, sort_order) VALUES (4, 4, 'Default', 1), (9, 4, 'Bags', 2), (3, 3, 'Default', 1)`,
		`INSERT INTO eav_attribute_group (attribute_group_id, attribute_set_id, attribute_group_name, sort_order, default_id, attribute_group_code, tab_group_code) VALUES
			(7, 4, 'Product Details', 10, 1, 'product-details', 'basic'), (30, 9, 'Product Details', 10, 1, 'product-details', 'basic')`,
		`INSERT INTO eav_entity_attribute (entity_attribute_id, entity_type_id, attribute_set_id, attribute_group_id, attribute_id, sort_order) VALUES (1, 4, 4, 7, 73, 1)`,
	); err != nil {
		t.Fatal(err)
	}
	r := runShiplog(t, s.config, nil, "migrate", "data")
	if r.code != 0 || !strings.Contains(r.stderr, "EAV attributes migrated") {
		t.Fatalf("migrate data: exit %d\n%s", r.code, r.stderr)
	}
	m1 := rowsOf(t, s.e.srcDB, "SELECT v.value_id, a.attribute_code FROM catalog_product_entity_varchar v JOIN eav_attribute a USING (attribute_id) ORDER BY v.value_id")
	m2 := rowsOf(t, s.e.dstDB, "SELECT v.value_id, a.attribute_code FROM catalog_product_entity_varchar v JOIN eav_attribute a USING (attribute_id) ORDER BY v.value_id")
	if len(m1) != 4 || strings.Join(m1, " ") != strings.Join(m2, " ") {
		t.Errorf("catalog_product_entity_varchar attribute codes:\n Magento 1: %v\n Magento 2: %v", m1, m2)
	}
	// eav_attribute_option, which map.xml.dist copies, too.
	m1 = rowsOf(t, s.e.srcDB, "SELECT o.option_id, a.attribute_code FROM eav_attribute_option o JOIN eav_attribute a USING (attribute_id) ORDER BY o.option_id")
	m2 = rowsOf(t, s.e.dstDB, "SELECT o.option_id, a.attribute_code FROM eav_attribute_option o JOIN eav_attribute a USING (attribute_id) ORDER BY o.option_id")
	if len(m1) != 2 || strings.Join(m1, " ") != strings.Join(m2, " ") {
		t.Errorf("eav_attribute_option attribute codes:\n Magento 1: %v\n Magento 2: %v", m1, m2)
	}
	s.assertRows(map[string][]string{
		// ConvertEavValue turned page_layout's value, SetValueAttributeCondition
		// emptied custom_design's: both found the attribute by its Magento
		// 1 id; the ids are Magento 2's.
		"SELECT value_id, attribute_id, value FROM catalog_product_entity_varchar WHERE value_id < 4 ORDER BY value_id": {
			"'1','84','1column'", "'2','85',NULL", "'3','73','Phone'",
		},
		// Magento 2's attributes keep their ids; shiplog_note is added.
		"SELECT attribute_id, attribute_code FROM eav_attribute WHERE attribute_id < 100 ORDER BY attribute_id": {
			"'45','name'", "'73','name'", "'83','gift_message_available'", "'84','page_layout'", "'85','custom_design'",
		},
		"SELECT a.attribute_code, a.entity_type_id, a.is_user_defined, c.is_global FROM eav_attribute a JOIN catalog_eav_attribute c USING (attribute_id) WHERE a.attribute_code = 'shiplog_note'": {
			"'shiplog_note','4','1','2'",
		},
		"SELECT m1_id, m2_id FROM _shiplog_eav_attribute_map WHERE m1_id < 100 ORDER BY m1_id": {
			"'41','45'", "'83','84'", "'84','85'", "'85','73'", "'87','121'",
		},
	})
	// Delta (the binlog) translates the same way: a value added and one
	// moved to another attribute.
	s.exec(`INSERT INTO catalog_product_entity_varchar (value_id, entity_type_id, attribute_id, store_id, entity_id, value) VALUES (5, 4, 200, 1, 1, 'later')`,
		`UPDATE catalog_product_entity_varchar SET attribute_id = 87, value = 'phone-1' WHERE value_id = 3`)
	s.e.mustRun("migrate", "delta", "--exit-when-caught-up")
	m1 = rowsOf(t, s.e.srcDB, "SELECT v.value_id, a.attribute_code, v.value FROM catalog_product_entity_varchar v JOIN eav_attribute a USING (attribute_id) WHERE v.value_id IN (3, 5) ORDER BY v.value_id")
	m2 = rowsOf(t, s.e.dstDB, "SELECT v.value_id, a.attribute_code, v.value FROM catalog_product_entity_varchar v JOIN eav_attribute a USING (attribute_id) WHERE v.value_id IN (3, 5) ORDER BY v.value_id")
	if want := []string{"'3','url_key','phone-1'", "'5','shiplog_note','later'"}; strings.Join(m1, " ") != strings.Join(want, " ") || strings.Join(m2, " ") != strings.Join(want, " ") {
		t.Errorf("after delta, by attribute code:\n Magento 1: %v\n Magento 2: %v\n want:      %v", m1, m2, want)
	}
	// verify compares through the map, the id translation included.
	if r := runShiplog(t, s.config, nil, "verify", "--tables", "catalog_product_entity_varchar"); r.code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Products by attribute set name, on both sides; sets, groups and set
	// attributes by name and code.
	const bySet = "SELECT p.entity_id, s.attribute_set_name FROM catalog_product_entity p JOIN eav_attribute_set s ON s.attribute_set_id = p.attribute_set_id ORDER BY p.entity_id"
	const sets = "SELECT s.attribute_set_name, s.entity_type_id, g.attribute_group_name, a.attribute_code FROM eav_attribute_set s LEFT JOIN eav_attribute_group g ON g.attribute_set_id = s.attribute_set_id LEFT JOIN eav_entity_attribute ea ON ea.attribute_group_id = g.attribute_group_id LEFT JOIN eav_attribute a ON a.attribute_id = ea.attribute_id ORDER BY 1, 2, 3, 4"
	wantSets := []string{
		"'Bags','4','Product Details',NULL", "'Clothing','4','Clothing Details','shiplog_note'", "'Clothing','4','Product Details','name'",
		"'Default','3',NULL,NULL", "'Default','4','Product Details','custom_design'", "'Default','4','Product Details','name'",
		"'Default','4','Product Details','page_layout'", "'Default','4','Product Details','shiplog_note'", "'Default','4','Product Details','url_key'",
	}
	checkSets := func(when string) {
		t.Helper()
		m1, m2 := rowsOf(t, s.e.srcDB, bySet), rowsOf(t, s.e.dstDB, bySet)
		if want := []string{"'1','Default'", "'2','Clothing'"}; strings.Join(m1, " ") != strings.Join(want, " ") || strings.Join(m2, " ") != strings.Join(want, " ") {
			t.Errorf("%s: catalog_product_entity by attribute set name:\n Magento 1: %v\n Magento 2: %v\n want:      %v", when, m1, m2, want)
		}
		if got := rowsOf(t, s.e.dstDB, sets); strings.Join(got, "\n") != strings.Join(wantSets, "\n") {
			t.Errorf("%s: Magento 2's sets, groups and set attributes:\n got:  %v\n want: %v", when, got, wantSets)
		}
		if got := rowsOf(t, s.e.dstDB, "SELECT m1_id, m2_id FROM _shiplog_eav_attribute_set_map WHERE m1_id IN (3, 4)"); strings.Join(got, " ") != "'3','3' '4','4'" {
			t.Errorf("%s: set map of the Default sets: %v", when, got)
		}
	}
	checkSets("after the copy")
	if r := runShiplog(t, s.config, nil, "verify", "--tables", "catalog_product_entity"); r.code != 0 {
		t.Fatalf("verify catalog_product_entity: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A second run adds no set, group or set attribute.
	if r := runShiplog(t, s.config, nil, "migrate", "data", "--reset"); r.code != 0 {
		t.Fatalf("migrate data --reset: exit %d\n%s", r.code, r.stderr)
	}
	checkSets("after a second run")
	// A product moved to Bags (Magento 1's Clothing id) is a difference.
	if _, err := s.e.dstDB.Exec("UPDATE catalog_product_entity SET attribute_set_id = 9, updated_at = updated_at WHERE entity_id = 2"); err != nil {
		t.Fatal(err)
	}
	if r := runShiplog(t, s.config, nil, "verify", "--tables", "catalog_product_entity"); r.code == 0 || !strings.Contains(r.stdout, "different entity_id=2 (attribute_set_id)") {
		t.Fatalf("verify: exit %d, want product 2's attribute_set_id different\n%s", r.code, r.stdout)
	}
	// A value under another attribute (name, where url_key belongs) is a
	// difference.
	if _, err := s.e.dstDB.Exec("UPDATE catalog_product_entity_varchar SET attribute_id = 73 WHERE value_id = 3"); err != nil {
		t.Fatal(err)
	}
	if r := runShiplog(t, s.config, nil, "verify", "--tables", "catalog_product_entity_varchar"); r.code == 0 {
		t.Fatalf("verify passed with a Magento 1 attribute_id on the destination\n%s", r.stdout)
	}
}
