//go:build !unit

package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/internal/testenv"
)

// customerNothingMap is the Map step's map for
// TestCustomerStepOnTheReferenceDatabases: the reference's customer test
// databases hold only customer and EAV tables, which the Customer
// Attributes step migrates; the Map step copies nothing.
// customerReferenceDBs loads the reference's customer integration-test
// databases (tests/integration/resource/customer/{source,dest}.sql) into
// magento1 and magento2 of two servers and writes mapText as a map file.
func customerReferenceDBs(t *testing.T, fx, mapText string) (src, dst *testenv.MariaDB, mapFile string) {
	t.Helper()
	res := filepath.Join(fx, "dmt", "tests", "integration", "resource", "customer")
	src, dst = testenv.SourceAndDest(t, "magento1", "magento2")
	loadSchemaFile(t, src, "magento1", filepath.Join(res, "source.sql"))
	loadSchemaFile(t, dst, "magento2", filepath.Join(res, "dest.sql"))
	mapFile = filepath.Join(t.TempDir(), "map.xml")
	if err := os.WriteFile(mapFile, []byte(mapText), 0o600); err != nil {
		t.Fatal(err)
	}
	return src, dst, mapFile
}

const customerNothingMap = `<?xml version="1.0" encoding="UTF-8"?>
<map>
  <source><document_rules><ignore><document>*</document></ignore></document_rules></source>
  <destination><document_rules><ignore><document>*</document></ignore></document_rules></destination>
</map>
`

// TestCustomerStepOnTheReferenceDatabases runs the Customer Attributes
// step alone in data mode (as the reference's
// testsuite/Migration/Step/Customer/DataTest.php runs its Data class) with
// the stock customer map and groups files on the reference's customer
// integration-test databases (tests/integration/resource/customer/
// {source,dest}.sql). The row counts are DataTest::testPerform's; the
// values moved into the entity tables follow from the reference's
// AttributesDataToCustomerEntityRecords on source.sql, written here by
// hand (the stock config.xml sets upgrade_customer_password_hash: a
// 64-character hash gets ":1"). No EAV step runs: attribute_ids stay
// Magento 1's, as in the reference's test.
func TestCustomerStepOnTheReferenceDatabases(t *testing.T) {
	t.Parallel()
	fx := magentoFixtures(t)
	src, dst, mapFile := customerReferenceDBs(t, fx, customerNothingMap)
	e := &env{t: t, src: src, dst: dst}
	e.config = stockConfigXML(t, fx, src, dst, map[string]string{"map_file": mapFile, "crypt_key": storeM1Key})
	onlyCustomerDataSteps(t, e.config)
	var err error
	if e.srcDB, err = src.Open("magento1"); err != nil {
		t.Fatal(err)
	}
	if e.dstDB, err = dst.Open("magento2"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.srcDB.Close(); e.dstDB.Close() })

	r := runShiplog(t, e.config, nil, "migrate", "data")
	if r.code != 0 || !strings.Contains(r.stderr, "customer volume check passed") {
		t.Fatalf("migrate data: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	want := map[string][]string{
		// DataTest::testPerform's counts.
		"SELECT COUNT(*) FROM customer_entity":                           {"'2'"},
		"SELECT COUNT(*) FROM customer_entity_int":                       {"'6'"},
		"SELECT COUNT(*) FROM customer_entity_varchar":                   {"'0'"},
		"SELECT COUNT(*) FROM customer_address_entity":                   {"'4'"},
		"SELECT COUNT(*) FROM customer_address_entity_varchar":           {"'3'"},
		"SELECT COUNT(*) FROM customer_address_entity_int":               {"'0'"},
		"SELECT COUNT(*) FROM customer_address_entity_text":              {"'0'"},
		"SELECT attribute_id FROM customer_entity_int ORDER BY value_id": {"'147'", "'147'", "'148'", "'148'", "'175'", "'175'"},
		// Magento 1's values of the static attributes, in the entity rows
		// (dest.sql's own rows are gone).
		"SELECT entity_id, email, created_in, firstname, middlename, lastname, default_billing, default_shipping, password_hash FROM customer_entity": {
			"'1','null1@null.com','Default Store View','Fn','Mn','Ln','1','1','eeb2ec5c4744a88f44ec1858b2576b8a2462ed9373d41e2627d2cbc81cea7aab:NIpU4Or6owS8GYRoVlnRPKJNj7tf0Tpl:1'",
			"'2','null2@null.com','view11','Fn',NULL,'Ln','2','2','7900a4cff487ddfc9e9730d6053ca96ca22e0317d08a00d607a9eaa728ace5d8:4ulBtU3le2lDZAYrweTrwumaYkwAiwpX:1'",
		},
		"SELECT entity_id, parent_id, firstname, lastname, city, country_id, region, region_id, postcode, telephone, street FROM customer_address_entity WHERE entity_id = 1": {
			"'1','1','Viktor','Rad','SAN FRANCISCO','US','California','12','94110','9702196522','2801 Mission Street\n2801 Mission Street'",
		},
		// Marked static in Magento 2's eav_attribute.
		"SELECT COUNT(*) FROM eav_attribute a JOIN eav_entity_type t USING (entity_type_id) WHERE t.entity_type_code = 'customer' AND a.attribute_code IN ('firstname', 'password_hash', 'default_billing') AND a.backend_type <> 'static'": {"'0'"},
	}
	check := func() {
		t.Helper()
		assertQueries(t, e.dstDB, "", want)
	}
	check()
	// Again from the start: cleared and copied anew, nothing twice.
	if r := runShiplog(t, e.config, nil, "migrate", "data", "--reset"); r.code != 0 {
		t.Fatalf("migrate data --reset: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	check()
}

// TestCustomerStepIntegrity: on the reference's customer databases, an
// attribute of the stock customer-attribute-groups.xml.dist the source
// lacks is warned about in the reference's words
// (Model/AttributesDataToSkip.php, where it is an error: without the
// attribute the source holds no value of it, so nothing is lost and its
// column keeps its default); a SHA-512 password hash with its salt (161
// characters) leaves its hash part in password_hash's 128 and the whole
// value in customer_entity_varchar, where the reference's authentication
// plugin reads it; a value longer than its Magento 2 entity column (a
// 41-character prefix in varchar(40)) stops the step with nothing written
// rather than cut short.
func TestCustomerStepIntegrity(t *testing.T) {
	t.Parallel()
	fx := magentoFixtures(t)
	src, dst, mapFile := customerReferenceDBs(t, fx, customerNothingMap)
	config := stockConfigXML(t, fx, src, dst, map[string]string{"map_file": mapFile, "crypt_key": storeM1Key})
	onlyCustomerDataSteps(t, config)
	dstDB, err := dst.Open("magento2")
	if err != nil {
		t.Fatal(err)
	}
	defer dstDB.Close()
	before := rowsOf(t, dstDB, "SELECT entity_id, email, firstname FROM customer_entity")
	ctx := context.Background()
	if err := src.Exec(ctx, "magento1", "DELETE FROM eav_attribute WHERE attribute_code = 'gender' AND entity_type_id = 1"); err != nil {
		t.Fatal(err)
	}
	r := runShiplog(t, config, nil, "migrate", "data")
	if r.code != 0 || !strings.Contains(r.stderr, "Attribute gender does not exist in the type customer: the source holds no value of it, so customer_entity.gender keeps its default") {
		t.Fatalf("migrate data without the gender attribute: exit %d, want a warning in the reference's words\n%s", r.code, r.stderr)
	}
	if got := rowsOf(t, dstDB, "SELECT COUNT(*), COUNT(gender) FROM customer_entity"); strings.Join(got, " ") != "'2','0'" {
		t.Errorf("customers and genders after the run: %v", got)
	}
	before = rowsOf(t, dstDB, "SELECT entity_id, email, firstname FROM customer_entity")
	if err := src.Exec(ctx, "magento1",
		"INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type) VALUES (18, 1, 'gender', 'int')",
		"UPDATE customer_entity_varchar SET value = CONCAT(REPEAT('c', 128), ':', REPEAT('s', 32)) WHERE value_id = 9",
	); err != nil {
		t.Fatal(err)
	}
	r = runShiplog(t, config, nil, "migrate", "data", "--reset")
	if r.code != 0 {
		t.Fatalf("migrate data with a SHA-512 hash: exit %d\n%s", r.code, r.stderr)
	}
	sha := strings.Repeat("c", 128)
	if got := rowsOf(t, dstDB, "SELECT password_hash FROM customer_entity WHERE entity_id = 2"); strings.Join(got, " ") != "'"+sha+"'" {
		t.Errorf("customer 2's password_hash column = %v, want the SHA-512 hash part", got)
	}
	if got := rowsOf(t, dstDB, "SELECT value FROM customer_entity_varchar WHERE entity_id = 2"); strings.Join(got, " ") != "'"+sha+":"+strings.Repeat("s", 32)+"'" {
		t.Errorf("customer 2's values = %v, want the whole SHA-512 hash with its salt (and no other static value)", got)
	}
	before = rowsOf(t, dstDB, "SELECT entity_id, email, firstname FROM customer_entity")
	if err := src.Exec(ctx, "magento1", "INSERT INTO customer_entity_varchar (entity_type_id, attribute_id, entity_id, value) VALUES (1, 4, 2, REPEAT('p', 41))"); err != nil {
		t.Fatal(err)
	}
	r = runShiplog(t, config, nil, "migrate", "data", "--reset")
	if r.code == 0 || !strings.Contains(r.stderr, "does not fit in varchar(40)") || !strings.Contains(r.stderr, "entity_id=2") {
		t.Fatalf("migrate data with a 41-character prefix: exit %d, want the row named and nothing written\n%s", r.code, r.stderr)
	}
	if got := rowsOf(t, dstDB, "SELECT entity_id, email, firstname FROM customer_entity"); strings.Join(got, " ") != strings.Join(before, " ") {
		t.Errorf("customer_entity changed by a failed run: %v, then %v", before, got)
	}
}

// onlyCustomerDataSteps rewrites config.xml's data mode to list only the
// Customer Attributes Step (the Map step runs after it all the same).
func onlyCustomerDataSteps(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?s)<steps mode="data">.*?</steps>`)
	if !re.Match(b) {
		t.Fatal("config.xml has no data mode steps")
	}
	b = re.ReplaceAll(b, []byte(`<steps mode="data">
        <step title="Customer Attributes Step">
            <integrity>Migration\Step\Customer\Integrity</integrity>
            <data>Migration\Step\Customer\Data</data>
            <volume>Migration\Step\Customer\Volume</volume>
        </step>
    </steps>`))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// customerOtherStatic are the attributes of the stock
// customer-attribute-groups.xml.dist TestCustomerStepWithTheStockConfigOnRealSchemas
// gives no value (the reference's Integrity wants each in the source),
// under Magento 1's ids.
const customerOtherStatic = `(4, 1, 'prefix', 'varchar', 'text', 0), (6, 1, 'middlename', 'varchar', 'text', 0), (8, 1, 'suffix', 'varchar', 'text', 0),
	(33, 1, 'rp_token', 'varchar', 'hidden', 0), (34, 1, 'rp_token_created_at', 'datetime', 'date', 0), (14, 1, 'default_shipping', 'int', 'text', 0),
	(15, 1, 'taxvat', 'varchar', 'text', 0), (16, 1, 'confirmation', 'varchar', 'text', 0), (18, 1, 'gender', 'int', 'select', 0),
	(19, 2, 'prefix', 'varchar', 'text', 0), (21, 2, 'middlename', 'varchar', 'text', 0), (23, 2, 'suffix', 'varchar', 'text', 0),
	(24, 2, 'company', 'varchar', 'text', 0), (28, 2, 'region', 'varchar', 'text', 0), (30, 2, 'postcode', 'varchar', 'text', 0),
	(32, 2, 'fax', 'varchar', 'text', 0), (36, 2, 'vat_id', 'varchar', 'text', 0), (37, 2, 'vat_is_valid', 'int', 'text', 0),
	(38, 2, 'vat_request_id', 'varchar', 'text', 0), (39, 2, 'vat_request_date', 'varchar', 'text', 0), (40, 2, 'vat_request_success', 'int', 'text', 0)`

// customerStoreM1 is a Magento 1 store's customer with an address, and the
// customer attributes (on top of storeAdminAndDefault).
var customerStoreM1 = []string{
	`INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model) VALUES (1, 'customer', 'customer/customer'), (2, 'customer_address', 'customer/address')`,
	`INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input, is_user_defined) VALUES
			(5, 1, 'firstname', 'varchar', 'text', 0), (7, 1, 'lastname', 'varchar', 'text', 0), (11, 1, 'dob', 'datetime', 'date', 0),
			(12, 1, 'password_hash', 'varchar', 'hidden', 0), (13, 1, 'default_billing', 'int', 'text', 0), (3, 1, 'created_in', 'varchar', 'text', 0),
			(200, 1, 'shiplog_tier', 'varchar', 'text', 1), (201, 1, 'shiplog_points', 'int', 'text', 1),
			(20, 2, 'firstname', 'varchar', 'text', 0), (22, 2, 'lastname', 'varchar', 'text', 0), (25, 2, 'street', 'text', 'multiline', 0),
			(26, 2, 'city', 'varchar', 'text', 0), (27, 2, 'country_id', 'varchar', 'select', 0), (29, 2, 'region_id', 'int', 'hidden', 0),
			(31, 2, 'telephone', 'varchar', 'text', 0), (202, 2, 'shiplog_floor', 'int', 'text', 1)`,
	"INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input, is_user_defined) VALUES " + customerOtherStatic,
	`INSERT INTO customer_eav_attribute (attribute_id, is_visible) VALUES (5, 1), (7, 1), (11, 1), (12, 0), (13, 0), (3, 1), (200, 1), (201, 1), (20, 1), (22, 1), (25, 1), (26, 1), (27, 1), (29, 1), (31, 1), (202, 1)`,
	`INSERT INTO customer_entity (entity_id, entity_type_id, attribute_set_id, website_id, email, group_id, store_id, created_at, updated_at, is_active) VALUES
			(1, 1, 0, 1, 'ada@example.com', 1, 1, '2020-01-02 03:04:05', '2020-01-02 03:04:05', 1)`,
	`INSERT INTO customer_entity_varchar (value_id, entity_type_id, attribute_id, entity_id, value) VALUES
			(1, 1, 5, 1, 'Ada'), (2, 1, 7, 1, 'Lovelace'), (3, 1, 12, 1, '0123456789abcdef0123456789abcdef:XY'), (4, 1, 3, 1, 'Default Store View'), (5, 1, 200, 1, 'gold')`,
	`INSERT INTO customer_entity_datetime (value_id, entity_type_id, attribute_id, entity_id, value) VALUES (1, 1, 11, 1, '1815-12-10 00:00:00')`,
	`INSERT INTO customer_entity_int (value_id, entity_type_id, attribute_id, entity_id, value) VALUES (1, 1, 13, 1, 7), (2, 1, 201, 1, 1200)`,
	`INSERT INTO customer_address_entity (entity_id, entity_type_id, attribute_set_id, parent_id, created_at, updated_at, is_active) VALUES
			(7, 2, 0, 1, '2020-01-02 03:04:05', '2020-01-02 03:04:05', 1)`,
	`INSERT INTO customer_address_entity_varchar (value_id, entity_type_id, attribute_id, entity_id, value) VALUES
			(1, 2, 20, 7, 'Ada'), (2, 2, 22, 7, 'Lovelace'), (3, 2, 26, 7, 'London'), (4, 2, 27, 7, 'GB'), (5, 2, 31, 7, '555-0100')`,
	`INSERT INTO customer_address_entity_text (value_id, entity_type_id, attribute_id, entity_id, value) VALUES (1, 2, 25, 7, '12 St James''s Square')`,
	`INSERT INTO customer_address_entity_int (value_id, entity_type_id, attribute_id, entity_id, value) VALUES (1, 2, 29, 7, 0), (2, 2, 202, 7, 3)`,
}

// customerStoreM2 are Magento 2's own customer attributes: the static ones,
// and shiplog_tier under another id than Magento 1's.
var customerStoreM2 = []string{
	`INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model) VALUES (1, 'customer', 'Magento\\Customer\\Model\\ResourceModel\\Customer'), (2, 'customer_address', 'Magento\\Customer\\Model\\ResourceModel\\Address')`,
	`INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input) VALUES
			(5, 1, 'firstname', 'static', 'text'), (7, 1, 'lastname', 'static', 'text'), (11, 1, 'dob', 'static', 'date'),
			(12, 1, 'password_hash', 'static', 'hidden'), (13, 1, 'default_billing', 'static', 'text'), (3, 1, 'created_in', 'varchar', 'text'),
			(150, 1, 'shiplog_tier', 'varchar', 'text'),
			(20, 2, 'firstname', 'static', 'text'), (22, 2, 'lastname', 'static', 'text'), (25, 2, 'street', 'static', 'multiline'),
			(26, 2, 'city', 'static', 'text'), (27, 2, 'country_id', 'static', 'select'), (29, 2, 'region_id', 'static', 'hidden'),
			(31, 2, 'telephone', 'static', 'text')`,
	"INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code, backend_type, frontend_input, is_user_defined) VALUES " + customerOtherStatic,
}

// TestCustomerStepWithTheStockConfigOnRealSchemas: a customer with an
// address on the real Magento 1.9 and 2.4 schemas, through the stock
// config.xml.dist's data mode (EAV Step, Customer Attributes Step, Map
// Step, ...). Static attributes land in the entity tables' columns; the
// other values land under the Magento 2 attribute of the same code (read in
// SQL on both sides), one Magento 2 has under another id and ones the EAV
// step adds; an MD5 password hash gets ":0" (upgrade_customer_password_hash).
func TestCustomerStepWithTheStockConfigOnRealSchemas(t *testing.T) {
	t.Parallel()
	s, fx := newStockStore(t)
	s.config = stockConfigXML(t, fx, s.src, s.dst, map[string]string{"crypt_key": storeM1Key, "m2_crypt_key": storeM2Key})
	s.e.config = s.config
	stockCustomersM1(s)
	stockCustomersM2(t, s, "magento2")
	r := runShiplog(t, s.config, nil, "migrate", "data")
	if r.code != 0 || !strings.Contains(r.stderr, "customer volume check passed") {
		t.Fatalf("migrate data: exit %d\n%s", r.code, r.stderr)
	}
	s.assertRows(map[string][]string{
		"SELECT entity_id, email, website_id, firstname, lastname, dob, password_hash, default_billing, created_in FROM customer_entity": {
			"'1','ada@example.com','1','Ada','Lovelace','1815-12-10','0123456789abcdef0123456789abcdef:XY:0','7','Default Store View'",
		},
		"SELECT entity_id, parent_id, firstname, lastname, street, city, country_id, region_id, telephone FROM customer_address_entity": {
			"'7','1','Ada','Lovelace','12 St James's Square','London','GB','0','555-0100'",
		},
		"SELECT a.attribute_code, v.value FROM customer_entity_varchar v JOIN eav_attribute a USING (attribute_id)": {"'shiplog_tier','gold'"},
		"SELECT v.attribute_id FROM customer_entity_varchar v":                                                      {"'150'"},
		"SELECT a.attribute_code, v.value FROM customer_entity_int v JOIN eav_attribute a USING (attribute_id)":     {"'shiplog_points','1200'"},
		"SELECT a.attribute_code, v.value FROM customer_address_entity_int v JOIN eav_attribute a USING (attribute_id)": {
			"'shiplog_floor','3'",
		},
		"SELECT COUNT(*) FROM customer_address_entity_varchar":                       {"'0'"},
		"SELECT COUNT(*) FROM customer_address_entity_text":                          {"'0'"},
		"SELECT COUNT(*) FROM customer_entity_datetime":                              {"'0'"},
		"SELECT backend_type FROM eav_attribute WHERE attribute_code = 'created_in'": {"'static'"},
	})
	// The values kept as values name, in Magento 1, the same codes.
	m1 := rowsOf(t, s.e.srcDB, "SELECT a.attribute_code, v.value FROM customer_entity_varchar v JOIN eav_attribute a USING (attribute_id) WHERE a.attribute_code = 'shiplog_tier'")
	if strings.Join(m1, " ") != "'shiplog_tier','gold'" {
		t.Errorf("Magento 1 side: %v", m1)
	}
}

// stockCustomersM1 writes TestCustomerStepWithTheStockConfigOnRealSchemas's
// Magento 1 customer (1, with address 7), its attributes and stores.
func stockCustomersM1(s *stockStore) {
	s.t.Helper()
	// The parents the Data Integrity step checks for.
	s.exec(storeAdminAndDefault...)
	s.exec(customerStoreM1...)
}

// stockCustomersM2 writes Magento 2's customer attributes into database db
// of the destination server.
func stockCustomersM2(t *testing.T, s *stockStore, db string) {
	t.Helper()
	if err := s.dst.Exec(context.Background(), db, append([]string{"SET FOREIGN_KEY_CHECKS = 0"}, customerStoreM2...)...); err != nil {
		t.Fatal(err)
	}
}
