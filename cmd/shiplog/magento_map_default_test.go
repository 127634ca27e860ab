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

// TestMapStepOnTheReferenceDefaultDatabase runs the Map step on the
// reference's own integration database "default" (resource/default) with
// its test map (testsuite/Migration/_files/map.xml), and checks what the
// reference's integration tests expect:
//
//   - Map/IntegrityTest::testIntegrityWithMap: the check has errors; with
//     auto_resolve they are warnings.
//   - Map/IntegrityTest::testIntegrityWithoutMap (_files/empty-map.xml):
//     the unmapped documents and fields, named as the reference lists them.
//   - Map/DataTest::testPerform: table_with_data's rows in
//     table_without_data, nothing in table_ignored, common_table's
//     dest_field_ignored left at its default and common_field set to 123 by
//     SetValue.
//   - Map/VolumeTest::testPerform: the volume check passes.
func TestMapStepOnTheReferenceDefaultDatabase(t *testing.T) {
	t.Parallel()
	fx := magentoFixtures(t)
	files := filepath.Join(fx, "dmt", "tests", "integration", "testsuite", "Migration", "_files")
	res := filepath.Join(fx, "dmt", "tests", "integration", "resource", "default")
	src, dst := testenv.SourceAndDest(t, "magento1", "magento2")
	loadSchemaFile(t, src, "magento1", filepath.Join(res, "source.sql"))
	loadSchemaFile(t, dst, "magento2", filepath.Join(res, "dest.sql"))
	dir := t.TempDir()
	config := func(name, mapFile string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(fmt.Sprintf(`<?xml version="1.0"?>
<config>
  <steps mode="data">
    <step title="Map Step">
      <integrity>Migration\Step\Map\Integrity</integrity>
      <data>Migration\Step\Map\Data</data>
      <volume>Migration\Step\Map\Volume</volume>
    </step>
  </steps>
  <source><database host="127.0.0.1" port="%d" name="magento1" user="root"/></source>
  <destination><database host="127.0.0.1" port="%d" name="magento2" user="root"/></destination>
  <options>
    <map_file>%s</map_file>
    <bulk_size>100</bulk_size>
    <source_prefix />
    <dest_prefix />
    <log_file>%s</log_file>
  </options>
</config>`, src.Port, dst.Port, mapFile, filepath.Join(dir, name+".log"))), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	withMap := config("config.xml", filepath.Join(files, "map.xml"))
	empty := config("config-with-empty-map.xml", filepath.Join(files, "empty-map.xml"))

	// testIntegrityWithoutMap: what nothing maps, document by document.
	r := runShiplog(t, empty, nil, "check")
	for _, want := range []string{
		"Source documents are not mapped: source_table_1,source_table_2,source_table_ignored,source_table_renamed,table_with_data",
		"Destination documents are not mapped: dest_table_1,dest_table_2,dest_table_ignored,dest_table_renamed,table_without_data",
		"Source fields are not mapped. Document: common_table. Fields: source_field_ignored",
		"Destination fields are not mapped. Document: common_table. Fields: dest_field_ignored",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("check with the empty map lacks the reference's %q:\n%s%s", want, r.stdout, r.stderr)
		}
	}
	if r.code != 1 {
		t.Errorf("check with the empty map: exit %d, want 1 (errors)\n%s%s", r.code, r.stdout, r.stderr)
	}

	// testIntegrityWithMap: errors, which auto_resolve makes warnings.
	r = runShiplog(t, withMap, nil, "check")
	if r.code != 1 || !strings.Contains(r.stdout, "Errors (") {
		t.Fatalf("check with the test map: exit %d, want 1 with errors\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runShiplog(t, withMap, nil, "migrate", "data")
	expectFailure(t, r, 1, "integrity check failed", "--auto")
	dstDB, err := dst.Open("magento2")
	if err != nil {
		t.Fatal(err)
	}
	defer dstDB.Close()
	if got := rowsOf(t, dstDB, "SELECT COUNT(*) FROM table_without_data"); strings.Join(got, "") != "'0'" {
		t.Fatalf("the integrity errors did not stop the copy: table_without_data has %v rows", got)
	}

	// DataTest and VolumeTest.
	r = runShiplog(t, withMap, nil, "migrate", "data", "--auto")
	if r.code != 0 || !strings.Contains(r.stderr, "level=WARN") {
		t.Fatalf("migrate data --auto: exit %d, want 0 with the errors as warnings\n%s", r.code, r.stderr)
	}
	assertQueries(t, dstDB, "the reference's Map/DataTest", map[string][]string{
		"SELECT `key`, field1, field2, field3 FROM table_without_data ORDER BY `key`": {
			"'1','1','2','3'", "'2','2','3','4'", "'3','3','4','5'", "'4','4','5','6'", "'5','5','5','5'", "'6','6','6','7'", "'7','7','7','7'",
		},
		"SELECT COUNT(*) FROM table_ignored": {"'0'"},
		"SELECT `key`, dest_field_ignored, common_field FROM common_table ORDER BY `key`": {
			"'1','0','123'", "'2','0','123'", "'3','0','123'", "'4','0','123'", "'5','0','123'", "'6','0','123'", "'7','0','123'",
		},
	})
	if strings.Contains(r.stderr, "volume check failed") || strings.Contains(r.stderr, "level=ERROR") {
		t.Errorf("the volume check did not pass:\n%s", r.stderr)
	}
}
