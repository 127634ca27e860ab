//go:build !unit

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/internal/testenv"
)

// TestTierPriceStepOnTheReferenceDatabase runs the Tier Price step on the
// reference's own integration database tier_price (resource/tier_price)
// with its test maps (testsuite/Migration/_files/map-tier-price.xml and
// map-tier-price-fail.xml, edition_number 1.9.2.1 as its config.xml), and
// checks what the reference's integration tests expect:
//
//   - TierPrice/IntegrityTest::testPerform: the check passes with the test
//     map (which ignores the source's custom_field).
//   - TierPrice/IntegrityTest::testPerformFail: with the fail map the error
//     is "Source fields are not mapped. Document:
//     catalog_product_entity_tier_price. Fields: custom_field".
//   - TierPrice/DataTest::testPerform: 3 rows in Magento 2's
//     catalog_product_entity_tier_price. Which 3 follows from the
//     reference's Data (group prices after tier prices, qty 1, insert or
//     update on the unique key): product 1's group price (10) replaces its
//     quantity-1 tier price (15) for customer group 1; product 6 keeps its
//     quantity-3 tier price and gains its group price as quantity 1.
//   - The reference's Volume (distinct prices by the unique key) passes.
func TestTierPriceStepOnTheReferenceDatabase(t *testing.T) {
	t.Parallel()
	fx := magentoFixtures(t)
	files := filepath.Join(fx, "dmt", "tests", "integration", "testsuite", "Migration", "_files")
	res := filepath.Join(fx, "dmt", "tests", "integration", "resource", "tier_price")
	src, dst := testenv.SourceAndDest(t, "magento1", "magento2")
	loadSchemaFile(t, src, "magento1", filepath.Join(res, "source.sql"))
	loadSchemaFile(t, dst, "magento2", filepath.Join(res, "dest.sql"))
	dir := t.TempDir()
	// The reference's tests run the step alone; shiplog's data mode runs
	// the Map step too, given here a map that copies nothing.
	nothing := filepath.Join(dir, "map-nothing.xml")
	if err := os.WriteFile(nothing, []byte(`<map><source><document_rules><ignore><document>*</document></ignore></document_rules></source>`+
		`<destination><document_rules><ignore><document>*</document></ignore></document_rules></destination></map>`), 0o600); err != nil {
		t.Fatal(err)
	}
	config := func(name, mapFile string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(fmt.Sprintf(`<?xml version="1.0"?>
<config>
  <steps mode="data">
    <step title="Tier Price Step">
      <integrity>Migration\Step\TierPrice\Integrity</integrity>
      <data>Migration\Step\TierPrice\Data</data>
      <volume>Migration\Step\TierPrice\Volume</volume>
    </step>
  </steps>
  <source><database host="127.0.0.1" port="%d" name="magento1" user="root"/></source>
  <destination><database host="127.0.0.1" port="%d" name="magento2" user="root"/></destination>
  <options>
    <map_file>%s</map_file>
    <tier_price_map_file>%s</tier_price_map_file>
    <edition_migrate>opensource-to-opensource</edition_migrate>
    <edition_number>1.9.2.1</edition_number>
    <source_prefix />
    <dest_prefix />
    <log_file>%s</log_file>
  </options>
</config>`, src.Port, dst.Port, nothing, mapFile, filepath.Join(dir, name+".log"))), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	withMap := config("config.xml", filepath.Join(files, "map-tier-price.xml"))
	fail := config("config-fail.xml", filepath.Join(files, "map-tier-price-fail.xml"))

	// testPerformFail.
	r := runShiplog(t, fail, nil, "check")
	if want := "Source fields are not mapped. Document: catalog_product_entity_tier_price. Fields: custom_field"; r.code != 1 || !strings.Contains(r.stdout, want) {
		t.Errorf("check with the fail map: exit %d, want 1 with %q\n%s%s", r.code, want, r.stdout, r.stderr)
	}
	r = runShiplog(t, fail, nil, "migrate", "data")
	expectFailure(t, r, 1, "integrity check failed")

	// testPerform (integrity).
	if r := runShiplog(t, withMap, nil, "check"); r.code != 0 {
		t.Fatalf("check with the test map: exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
	}
	// DataTest and the volume check.
	r = runShiplog(t, withMap, nil, "migrate", "data")
	if r.code != 0 {
		t.Fatalf("migrate data: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "1 row(s) of catalog_product_entity_group_price replaced a price") {
		t.Errorf("no warning that a group price replaced a tier price:\n%s", r.stderr)
	}
	dstDB, err := dst.Open("magento2")
	if err != nil {
		t.Fatal(err)
	}
	defer dstDB.Close()
	assertQueries(t, dstDB, "the reference's TierPrice/DataTest: ", map[string][]string{
		"SELECT COUNT(*) FROM catalog_product_entity_tier_price": {"'3'"},
		"SELECT entity_id, all_groups, customer_group_id, qty, value, website_id FROM catalog_product_entity_tier_price": {
			"'1','0','1','1.0000','10.0000','0'",
			"'6','0','2','3.0000','85.0000','0'",
			"'6','0','3','1.0000','95.0000','0'",
		},
	})
}
