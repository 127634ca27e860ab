//go:build !unit

package main

import (
	"context"
	"strings"
	"testing"
)

// TestStockConfigPostProcessingStep: the stock config.xml's "PostProcessing
// Step" runs in data mode, after the Map step (it is no longer warned about
// as not supported): a Magento 2 value row of an attribute that does not
// exist (left by a database written with the foreign keys off) is deleted
// and the count logged (the Map step has emptied the tables it copies; the
// leftovers are in tables only the EAV step writes); a second `migrate data`
// deletes nothing.
func TestStockConfigPostProcessingStep(t *testing.T) {
	t.Parallel()
	s, fx := newStockStore(t)
	s.config = stockConfigXML(t, fx, s.src, s.dst, map[string]string{"crypt_key": storeM1Key, "m2_crypt_key": storeM2Key})
	s.exec(storeAdmin...)
	if err := s.dst.Exec(context.Background(), "magento2", "SET FOREIGN_KEY_CHECKS = 0",
		`INSERT INTO eav_attribute (attribute_id, entity_type_id, attribute_code) VALUES (73, 4, 'name')`,
		`INSERT INTO eav_attribute_option (option_id, attribute_id) VALUES (1, 73), (2, 4444)`,
		`INSERT INTO catalog_eav_attribute (attribute_id) VALUES (73), (4444)`,
		`INSERT INTO eav_entity_attribute (entity_type_id, attribute_set_id, attribute_group_id, attribute_id) VALUES (4, 4, 7, 73), (4, 4, 7, 4444)`,
	); err != nil {
		t.Fatal(err)
	}
	r := runShiplog(t, s.config, nil, "migrate", "data")
	if r.code != 0 {
		t.Fatalf("migrate data: exit %d\n%s", r.code, r.stderr)
	}
	for _, w := range []string{
		`msg="post processing: deleted records" mode=data step="PostProcessing Step" cleanup="eav leftover data" table=catalog_eav_attribute rows=1`,
		`msg="post processing: deleted records" mode=data step="PostProcessing Step" cleanup="eav leftover data" table=eav_entity_attribute rows=1`,
		`msg="post processing: done" mode=data step="PostProcessing Step" deleted=2`,
	} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("migrate data did not log %s:\n%s", w, r.stderr)
		}
	}
	s.assertRows(map[string][]string{
		"SELECT attribute_id FROM catalog_eav_attribute": {"'73'"},
		"SELECT attribute_id FROM eav_entity_attribute":  {"'73'"},
	})
	if strings.Contains(r.stderr, `Magento step \"PostProcessing Step\" (mode data) is not supported`) {
		t.Errorf("the PostProcessing step is still skipped:\n%s", r.stderr)
	}

	r = runShiplog(t, s.config, nil, "migrate", "data")
	if r.code != 0 || strings.Contains(r.stderr, "post processing: deleted records") {
		t.Errorf("second migrate data: exit %d, or it deleted again:\n%s", r.code, r.stderr)
	}
}
