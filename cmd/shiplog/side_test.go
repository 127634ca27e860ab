//go:build !unit

package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// realCreateTable returns the CREATE TABLE statement of table in a schema
// file of the fixtures, without its foreign keys (their parents are not in
// these tests; the writer runs with foreign key checks off anyway).
func realCreateTable(t *testing.T, file, table string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(magentoFixtures(t), "schema", file))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "CREATE TABLE `"+table+"` (")
	if start < 0 {
		t.Fatalf("%s: no table %s", file, table)
	}
	end := strings.Index(text[start:], ";\n")
	stmt := text[start : start+end]
	var lines []string
	for _, l := range strings.Split(stmt, "\n") {
		if strings.Contains(l, "FOREIGN KEY") {
			continue
		}
		lines = append(lines, l)
	}
	stmt = strings.Join(lines, "\n")
	return regexp.MustCompile(`,\n\)`).ReplaceAllString(stmt, "\n)")
}

// The media gallery rules of the stock 1.9.4.5 map.xml.dist; the
// destination's value_to_entity table is not ignored (the stock map ignores
// it): only the handler fills it, and check must not call it unmapped.
const sideMap = `<?xml version="1.0" encoding="UTF-8"?>
<map>
    <source>
        <field_rules>
            <ignore><field>catalog_product_entity_media_gallery.entity_id</field></ignore>
            <transform>
                <field>catalog_product_entity_media_gallery.value_id</field>
                <handler class="\Migration\Handler\Gallery\InsertValueToEntity" />
            </transform>
        </field_rules>
    </source>
    <destination>
        <field_rules>
            <ignore><field>catalog_product_entity_media_gallery.media_type</field></ignore>
            <ignore><field>catalog_product_entity_media_gallery.disabled</field></ignore>
        </field_rules>
    </destination>
</map>
`

// TestInsertValueToEntityThroughCopyAndStream copies and streams Magento 1
// media gallery rows (the real tables) with Gallery\InsertValueToEntity:
// catalog_product_entity_media_gallery_value_to_entity on the destination
// links every entry to its product after the copy and after the stream's
// inserts, product moves, key changes and deletes, from the binlog (with
// parallel apply partitions) and from the change-log tables.
func TestInsertValueToEntityThroughCopyAndStream(t *testing.T) {
	t.Parallel()
	for _, delta := range []string{"binlog", "triggers"} {
		t.Run(delta, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "apply_workers: 4")
			// A parent whose deletes cascade to the gallery on the source
			// (as eav_attribute's do in Magento 1).
			attr := "CREATE TABLE attr (attribute_id smallint unsigned NOT NULL PRIMARY KEY, code varchar(32) NOT NULL)"
			if err := e.src.Exec(t.Context(), "shop", attr, realCreateTable(t, "m1-schema.sql", "catalog_product_entity_media_gallery"),
				"ALTER TABLE catalog_product_entity_media_gallery ADD CONSTRAINT gallery_attr FOREIGN KEY (attribute_id) REFERENCES attr (attribute_id) ON DELETE CASCADE",
				"INSERT INTO attr VALUES (88, 'media_gallery'), (89, 'gone_soon')"); err != nil {
				t.Fatal(err)
			}
			if err := e.dst.Exec(t.Context(), "shop_new", attr,
				realCreateTable(t, "m2-schema.sql", "catalog_product_entity_media_gallery"),
				realCreateTable(t, "m2-schema.sql", "catalog_product_entity_media_gallery_value_to_entity")); err != nil {
				t.Fatal(err)
			}
			mapFile := filepath.Join(t.TempDir(), "map.xml")
			if err := os.WriteFile(mapFile, []byte(sideMap), 0o600); err != nil {
				t.Fatal(err)
			}
			e.appendConfig("map: " + mapFile + "\ndelta: {source: " + delta + "}\n")
			// A stale link the copy must not keep.
			if _, err := e.dstDB.Exec("INSERT INTO catalog_product_entity_media_gallery_value_to_entity VALUES (9999, 1)"); err != nil {
				t.Fatal(err)
			}
			if _, err := e.srcDB.Exec(`INSERT INTO catalog_product_entity_media_gallery (value_id, attribute_id, entity_id, value)
				SELECT seq, IF(seq % 13 = 0, 89, 88), 1 + seq % 37, CONCAT('/m/', seq, '.jpg') FROM seq_1_to_3000`); err != nil {
				t.Fatal(err)
			}
			if r := e.mustRun("check"); !strings.Contains(r.stdout, "integrity check passed") {
				t.Fatalf("check:\n%s\n%s", r.stdout, r.stderr)
			}
			e.mustRun("migrate", "data")
			links := func() []string {
				return rowsOf(t, e.srcDB, "SELECT value_id, entity_id FROM catalog_product_entity_media_gallery")
			}
			got := func() []string {
				return rowsOf(t, e.dstDB, "SELECT value_id, entity_id FROM catalog_product_entity_media_gallery_value_to_entity")
			}
			want := links()
			if len(want) != 3000 {
				t.Fatalf("source has %d rows", len(want))
			}
			sameRows(t, "value_to_entity after the copy", want, got())

			var n89 int
			if err := e.srcDB.QueryRow("SELECT COUNT(*) FROM catalog_product_entity_media_gallery WHERE attribute_id = 89").Scan(&n89); err != nil || n89 < 100 {
				t.Fatalf("%d rows of attribute 89 (%v)", n89, err)
			}
			for _, tx := range [][]string{
				// new entries
				{"INSERT INTO catalog_product_entity_media_gallery (value_id, attribute_id, entity_id, value) SELECT 5000 + seq, 88, 500 + seq, 'n' FROM seq_1_to_200"},
				// entries moved to another product
				{"UPDATE catalog_product_entity_media_gallery SET entity_id = entity_id + 1000 WHERE value_id % 7 = 0"},
				// entries whose key changes
				{"UPDATE catalog_product_entity_media_gallery SET value_id = value_id + 10000 WHERE value_id BETWEEN 100 AND 150"},
				// deleted entries
				{"DELETE FROM catalog_product_entity_media_gallery WHERE value_id % 11 = 0"},
				// entries deleted by the foreign key's cascade (not in the binlog)
				{"DELETE FROM attr WHERE attribute_id = 89"},
				// deleted, and added again for another product in one transaction
				{"DELETE FROM catalog_product_entity_media_gallery WHERE value_id = 2001",
					"INSERT INTO catalog_product_entity_media_gallery VALUES (2001, 88, 4242, 'again')"},
				// moved twice in one transaction
				{"UPDATE catalog_product_entity_media_gallery SET entity_id = 7 WHERE value_id = 2003",
					"UPDATE catalog_product_entity_media_gallery SET entity_id = 8 WHERE value_id = 2003"},
			} {
				db, err := e.srcDB.Begin()
				if err != nil {
					t.Fatal(err)
				}
				for _, q := range tx {
					if _, err := db.Exec(q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
				if err := db.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			e.mustRun("migrate", "delta", "--exit-when-caught-up")
			want = links()
			if len(want) < 2000 || len(want) > 2910-n89+n89/11+1 {
				t.Fatalf("source has %d rows after the changes", len(want))
			}
			sameRows(t, "value_to_entity after the stream", want, got())
			sameRows(t, "media gallery after the stream",
				rowsOf(t, e.srcDB, "SELECT value_id, attribute_id, value FROM catalog_product_entity_media_gallery"),
				rowsOf(t, e.dstDB, "SELECT value_id, attribute_id, value FROM catalog_product_entity_media_gallery"))
			for _, w := range []string{"'2001','4242'", "'2003','8'"} {
				found := false
				for _, r := range got() {
					found = found || r == w
				}
				if !found {
					t.Errorf("value_to_entity has no row %q", w)
				}
			}
		})
	}
}

// The catalog rule rules of the reference's commerce maps, on the real
// Magento 1 table: Sequence keeps sequence_catalogrule, and sets the
// staging columns the map ignores.
const sequenceMap = `<?xml version="1.0" encoding="UTF-8"?>
<map>
    <source>
        <field_rules>
            <ignore><field>catalogrule.sub_is_enable</field></ignore>
            <ignore><field>catalogrule.sub_simple_action</field></ignore>
            <ignore><field>catalogrule.sub_discount_amount</field></ignore>
            <transform>
                <field>catalogrule.rule_id</field>
                <handler class="\Migration\Handler\Sequence">
                    <param name="table" value="sequence_catalogrule" />
                </handler>
            </transform>
        </field_rules>
    </source>
    <destination>
        <field_rules>
            <ignore><field>catalogrule.created_in</field></ignore>
            <ignore><field>catalogrule.updated_in</field></ignore>
        </field_rules>
    </destination>
</map>
`

// TestSequenceThroughCopyAndStream copies and streams Magento 1 catalog
// rules into Magento 2 with a staging table's created_in and updated_in (as
// Commerce has them, without defaults) and the sequence table (the real
// shape of Magento 2's sequence tables): every rule has its sequence row
// and the first and last version, after the copy and after the stream.
func TestSequenceThroughCopyAndStream(t *testing.T) {
	t.Parallel()
	for _, delta := range []string{"binlog", "triggers"} {
		t.Run(delta, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "apply_workers: 4")
			if err := e.src.Exec(t.Context(), "shop", realCreateTable(t, "m1-schema.sql", "catalogrule")); err != nil {
				t.Fatal(err)
			}
			seq := strings.Replace(realCreateTable(t, "m2-schema.sql", "sequence_order_0"), "sequence_order_0", "sequence_catalogrule", 1)
			if err := e.dst.Exec(t.Context(), "shop_new", realCreateTable(t, "m2-schema.sql", "catalogrule"), seq,
				"ALTER TABLE catalogrule ADD created_in bigint unsigned NOT NULL, ADD updated_in bigint unsigned NOT NULL",
				"INSERT INTO sequence_catalogrule VALUES (77777)"); err != nil {
				t.Fatal(err)
			}
			mapFile := filepath.Join(t.TempDir(), "map.xml")
			if err := os.WriteFile(mapFile, []byte(sequenceMap), 0o600); err != nil {
				t.Fatal(err)
			}
			e.appendConfig("map: " + mapFile + "\ndelta: {source: " + delta + "}\n")
			if _, err := e.srcDB.Exec(`INSERT INTO catalogrule (rule_id, name, is_active, discount_amount) SELECT seq, CONCAT('rule ', seq), seq % 2, seq / 7 FROM seq_1_to_500`); err != nil {
				t.Fatal(err)
			}
			if r := e.mustRun("check"); !strings.Contains(r.stdout, "integrity check passed") {
				t.Fatalf("check:\n%s\n%s", r.stdout, r.stderr)
			}
			check := func(when string) {
				t.Helper()
				ids := rowsOf(t, e.srcDB, "SELECT rule_id FROM catalogrule")
				sameRows(t, "sequence_catalogrule "+when, ids, rowsOf(t, e.dstDB, "SELECT sequence_value FROM sequence_catalogrule"))
				sameRows(t, "catalogrule "+when, rowsOf(t, e.srcDB, "SELECT rule_id, name, 1, 2147483647 FROM catalogrule"),
					rowsOf(t, e.dstDB, "SELECT rule_id, name, created_in, updated_in FROM catalogrule"))
			}
			e.mustRun("migrate", "data")
			check("after the copy")
			for _, q := range []string{
				"INSERT INTO catalogrule (rule_id, name) SELECT 1000 + seq, 'new' FROM seq_1_to_50",
				"UPDATE catalogrule SET rule_id = rule_id + 5000 WHERE rule_id BETWEEN 10 AND 20",
				"UPDATE catalogrule SET name = 'renamed' WHERE rule_id % 3 = 0",
				"DELETE FROM catalogrule WHERE rule_id % 5 = 0",
			} {
				if _, err := e.srcDB.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			e.mustRun("migrate", "delta", "--exit-when-caught-up")
			check("after the stream")
		})
	}
}
