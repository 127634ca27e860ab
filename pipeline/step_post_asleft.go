package pipeline

import (
	"fmt"
	"strings"

	"github.com/shiplog/shiplog/deltalog"
	"github.com/shiplog/shiplog/step"
)

// The PostProcessing step's attribute-set leftovers (the reference's
// AttributeSetLeftoverDataCleaner): a product value row (the groups file's
// documents_attribute_set_leftover_values: the six catalog_product_entity_*
// value tables) whose value is not NULL, whose product exists, and whose
// attribute is not linked to the product's attribute set in Magento 2's
// eav_entity_attribute is deleted. Everything is read on the destination
// (the EAV step's sets and ids, the Map step's rows); the store scope does
// not matter; value rows of a product the destination lacks stay (the
// reference's inner join).
//
// Data mode deletes them after the Map step's copy (postSetLeftoverDelete).

const postSetLeftover = "attribute set leftover data"

// postDefaultSetLeftover is the reference's documents_attribute_set_leftover_values
// group, used when no eav_document_groups_file is set.
var postDefaultSetLeftover = []string{
	"catalog_product_entity_datetime", "catalog_product_entity_decimal", "catalog_product_entity_gallery",
	"catalog_product_entity_int", "catalog_product_entity_text", "catalog_product_entity_varchar",
}

// postSetLeftoverDocuments reads the documents_attribute_set_leftover_values
// group of eav_document_groups_file (the reference's defaults without one).
func postSetLeftoverDocuments(env *step.Env) ([]string, error) {
	if env.Config == nil {
		return postDefaultSetLeftover, nil
	}
	p, ok, err := env.Config.MagentoFile("eav_document_groups_file")
	if err != nil || !ok {
		return postDefaultSetLeftover, err
	}
	groups, err := deltalog.ReadGroups(p)
	if err != nil {
		return nil, fmt.Errorf("options/eav_document_groups_file: %w", err)
	}
	tables := []string{}
	for _, g := range groups {
		if g.Group == "documents_attribute_set_leftover_values" {
			tables = append(tables, strings.ToLower(g.Table))
		}
	}
	return tables, nil
}

// postSetLeftoverKey is the column that ties a value row of table (lower
// case, unprefixed) to its product: row_id when both the value table and
// catalog_product_entity have one (Magento Commerce with staging), else
// entity_id; "" when the tables lack the columns the cleanup reads.
func postSetLeftoverKey(cols map[string]map[string]bool, prefix, table string) string {
	v, p := cols[strings.ToLower(prefix+table)], cols[strings.ToLower(prefix+"catalog_product_entity")]
	if !v["attribute_id"] || !v["value"] || !p["attribute_set_id"] {
		return ""
	}
	for _, k := range []string{"row_id", "entity_id"} {
		if v[k] && p[k] {
			return k
		}
	}
	return ""
}

// postSetLeftoverDelete is the statement that deletes the attribute-set
// leftovers of value table (unprefixed) keyed to the product by key; with
// products > 0, only those of the products whose key is one of the first
// products arguments.
func postSetLeftoverDelete(prefix, table, key string, products int) string {
	q := func(t string) string { return "`" + strings.ReplaceAll(prefix+t, "`", "``") + "`" }
	s := "DELETE v FROM " + q(table) + " v JOIN " + q("catalog_product_entity") + " p ON p.`" + key + "` = v.`" + key + "`" +
		" WHERE v.value IS NOT NULL AND NOT EXISTS (SELECT 1 FROM " + q("eav_entity_attribute") +
		" e WHERE e.attribute_set_id = p.attribute_set_id AND e.attribute_id = v.attribute_id)"
	if products > 0 {
		s += " AND v.`" + key + "` IN (" + strings.Repeat("?, ", products-1) + "?)"
	}
	return s
}
