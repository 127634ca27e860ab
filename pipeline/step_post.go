package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/shiplog/shiplog/deltalog"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// The PostProcessing step (the reference's Migration\Step\PostProcessing)
// runs last in data mode and removes from Magento 2 rows the migration left
// that Magento 2 would trip over. Its cleanups run in the reference's order,
// in one destination transaction, and each logs how many rows it deleted:
//
//  1. EAV leftovers: value, option, label and extension rows (the groups
//     file's documents_leftover_values) whose attribute_id is no longer in
//     eav_attribute.
//  2. Attribute-set leftovers: non-NULL product values (the group
//     documents_attribute_set_leftover_values) of an attribute that is not
//     in the product's attribute set (eav_entity_attribute).
//  3. Products in the root catalog: catalog_category_product rows of the
//     tree root (category 1), a category Magento 2 does not show.
//  4. Multiselect product values are moved from catalog_product_entity_text
//     to catalog_product_entity_varchar, where Magento 2 reads them.
//  5. Product url_path values (catalog_product_entity_varchar) are deleted:
//     Magento 2 builds product URLs without them.
//
// Why each is safe for the Map step's stream (delta mode, after this step):
// the stream writes a destination row only when its source row changes, and
// then through the same map and the same EAV attribute map as the snapshot.
// (1) A value of an attribute missing from eav_attribute has no attribute the
// stream could translate to: Magento 2's schema holds these tables to
// eav_attribute by foreign keys, so such rows come only from writes with the
// keys off, and the stream never needs the deleted row to apply a later
// change (an update of it is an upsert that writes the whole row). (2) and
// (3) remove rows whose source row still exists: if that source row changes
// later, the stream writes it again, exactly as the reference's delta mode
// does (its PostProcessing step runs in data mode only); a later data-mode
// run of this step removes it again. The same holds for (4), whose moved row
// the stream may write to the text table again, and (5), whose url_path row
// it may write again. No stream write needs a row these deleted: the stream
// writes whole rows (upserts) and deletes by key, which finds nothing.
//
// Not done yet: the reference's changedDocumentRowsCount record of the
// source/destination row count differences (DeletedRecordsCounter).

// postRootCategory is Magento's category tree root, which holds no products.
const postRootCategory = 1

// postDefaultLeftover and postDefaultSetLeftover are the reference's
// opensource-to-opensource groups, used when no eav_document_groups_file is set.
var (
	postDefaultLeftover = []string{
		"catalog_category_entity_datetime", "catalog_category_entity_decimal", "catalog_category_entity_int",
		"catalog_category_entity_text", "catalog_category_entity_varchar", "catalog_eav_attribute",
		"catalog_product_entity_datetime", "catalog_product_entity_decimal", "catalog_product_entity_gallery",
		"catalog_product_entity_int", "catalog_product_entity_media_gallery", "catalog_product_entity_text",
		"catalog_product_entity_varchar", "customer_address_entity_datetime", "customer_address_entity_decimal",
		"customer_address_entity_int", "customer_address_entity_text", "customer_address_entity_varchar",
		"customer_eav_attribute", "customer_eav_attribute_website", "customer_entity_datetime",
		"customer_entity_decimal", "customer_entity_int", "customer_entity_text", "customer_entity_varchar",
		"customer_form_attribute", "eav_attribute_label", "eav_attribute_option", "eav_entity_attribute",
		"eav_form_element", "salesrule_product_attribute", "weee_tax",
	}
	postDefaultSetLeftover = []string{
		"catalog_product_entity_datetime", "catalog_product_entity_decimal", "catalog_product_entity_gallery",
		"catalog_product_entity_int", "catalog_product_entity_text", "catalog_product_entity_varchar",
	}
)

// postDeleted is what one cleanup deleted from one table.
type postDeleted struct {
	Cleanup, Table string
	Rows           int64
}

// postStep is the PostProcessing step (data mode).
type postStep struct {
	// r, when set, says whether the destination holds the rows (not with
	// sink: kafka).
	r *Runtime
	// Found by Integrity: the tables of cleanups 1 and 2.
	leftover, setLeftover []string
	// deleted is what the last Data deleted, per cleanup and table, in order.
	deleted []postDeleted
}

// postDocuments reads the leftover groups of eav_document_groups_file (the
// reference's defaults without one); the _ee group counts unless
// edition_migrate is opensource-to-opensource, as in the reference.
func postDocuments(env *step.Env) (leftover, setLeftover []string, err error) {
	if env.Config == nil {
		return postDefaultLeftover, postDefaultSetLeftover, nil
	}
	p, ok, err := env.Config.MagentoFile("eav_document_groups_file")
	if err != nil || !ok {
		return postDefaultLeftover, postDefaultSetLeftover, err
	}
	groups, err := deltalog.ReadGroups(p)
	if err != nil {
		return nil, nil, fmt.Errorf("options/eav_document_groups_file: %w", err)
	}
	ee := !strings.EqualFold(env.Config.Options.Magento["edition_migrate"], "opensource-to-opensource")
	for _, g := range groups {
		t := strings.ToLower(g.Table)
		switch {
		case g.Group == "documents_leftover_values", g.Group == "documents_leftover_values_ee" && ee:
			leftover = append(leftover, t)
		case g.Group == "documents_attribute_set_leftover_values":
			setLeftover = append(setLeftover, t)
		}
	}
	return leftover, setLeftover, nil
}

// Integrity reads the groups file (a destination that keeps shiplog's
// state alone, sink: kafka, is a blocking problem); the tables are checked by Data, which
// warns about a listed table the destination lacks.
func (s *postStep) Integrity(_ context.Context, env *step.Env) ([]transform.Problem, error) {
	if s.r != nil && s.r.dest != nil {
		if err := s.r.dest.rows(); err != nil {
			return []transform.Problem{{Severity: transform.Error, Area: "destination", Table: "eav_attribute", Blocking: true,
				Msg: fmt.Sprintf("the PostProcessing step cleans Magento 2's tables itself and cannot run here: %v; run data mode with sink: mysql, or leave the PostProcessing Step out of config.xml", err)}}, nil
		}
	}
	var err error
	s.leftover, s.setLeftover, err = postDocuments(env)
	return nil, err
}

// postMoveMultiselect moves the product values of multiselect attributes
// from catalog_product_entity_text to catalog_product_entity_varchar (an
// existing varchar value of the same product, attribute and store is
// replaced), as Magento 2 keeps them, and returns how many it moved (-1:
// the tables are not there). A value longer than the varchar column is an
// error: the reference's insert would fail or cut it.
func postMoveMultiselect(ctx context.Context, tx *sql.Tx, q func(string) string, cols map[string]map[string]bool, prefix string,
	has func(cleanup, table string, need ...string) bool) (int64, error) {
	const cleanup = "multiselect values moved from text to varchar"
	text, varchar := prefix+"catalog_product_entity_text", prefix+"catalog_product_entity_varchar"
	if !has(cleanup, text, "attribute_id", "store_id", "value") || !has(cleanup, varchar, "attribute_id", "store_id", "value") ||
		!has(cleanup, prefix+"eav_attribute", "attribute_id", "frontend_input", "entity_type_id") ||
		!has(cleanup, prefix+"eav_entity_type", "entity_type_id", "entity_type_code") {
		return -1, nil
	}
	key := "entity_id"
	if cols[strings.ToLower(text)]["row_id"] && cols[strings.ToLower(varchar)]["row_id"] {
		key = "row_id"
	} else if !has(cleanup, text, "entity_id") || !has(cleanup, varchar, "entity_id") {
		return -1, nil
	}
	ids := "SELECT ea.attribute_id FROM " + q("eav_attribute") + " ea JOIN " + q("eav_entity_type") +
		" et ON et.entity_type_id = ea.entity_type_id WHERE et.entity_type_code = 'catalog_product' AND ea.frontend_input = 'multiselect'"
	var width sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT character_maximum_length FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND column_name = 'value'", varchar).Scan(&width); err != nil {
		return 0, fmt.Errorf("post processing (%s): %s.value: %w", cleanup, varchar, err)
	}
	if width.Valid {
		var n int
		var attrs sql.NullString
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*), GROUP_CONCAT(DISTINCT attribute_id ORDER BY attribute_id) FROM "+q("catalog_product_entity_text")+
			" WHERE attribute_id IN ("+ids+") AND CHAR_LENGTH(value) > ?", width.Int64).Scan(&n, &attrs); err != nil {
			return 0, fmt.Errorf("post processing (%s): %s: %w", cleanup, text, err)
		}
		if n > 0 {
			return 0, fmt.Errorf("post processing (%s): %d value(s) of multiselect attribute(s) %s in %s are longer than %s.value (%d characters) and would be cut; shorten them (or drop options) in the source, or leave PostProcessing Step out of config.xml",
				cleanup, n, attrs.String, text, varchar, width.Int64)
		}
	}
	fields := "attribute_id, store_id, value, " + key
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+q("catalog_product_entity_varchar")+" ("+fields+") SELECT "+fields+" FROM "+q("catalog_product_entity_text")+
		" WHERE attribute_id IN ("+ids+") ON DUPLICATE KEY UPDATE value = VALUES(value)"); err != nil {
		return 0, fmt.Errorf("post processing (%s): %s: %w", cleanup, varchar, err)
	}
	res, err := tx.ExecContext(ctx, "DELETE FROM "+q("catalog_product_entity_text")+" WHERE attribute_id IN ("+ids+")")
	if err != nil {
		return 0, fmt.Errorf("post processing (%s): %s: %w", cleanup, text, err)
	}
	return res.RowsAffected()
}

// Data runs the cleanups in one destination transaction and logs each
// table's deleted-row count. A second run deletes nothing.
func (s *postStep) Data(ctx context.Context, env *step.Env) error {
	if s.leftover == nil && s.setLeftover == nil {
		if _, err := s.Integrity(ctx, env); err != nil {
			return err
		}
	}
	prefix := ""
	if env.Config != nil {
		prefix = env.Config.Options.DestPrefix
	}
	cols, err := postColumns(ctx, env.Destination)
	if err != nil {
		return err
	}
	tx, err := env.Destination.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("post processing: %w", err)
	}
	defer tx.Rollback()
	s.deleted = nil
	del := func(cleanup, table, query string, args ...any) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("post processing (%s): %s: %w", cleanup, table, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("post processing (%s): %s: %w", cleanup, table, err)
		}
		s.deleted = append(s.deleted, postDeleted{Cleanup: cleanup, Table: table, Rows: n})
		return nil
	}
	has := func(cleanup, table string, need ...string) bool {
		for _, c := range need {
			if !cols[strings.ToLower(table)][c] {
				env.Log.Warn("post processing: a table the step cleans or reads is not in the destination (or lacks a column); that cleanup skips it",
					"cleanup", cleanup, "table", table, "column", c)
				return false
			}
		}
		return true
	}
	q := func(t string) string { return "`" + strings.ReplaceAll(prefix+t, "`", "``") + "`" }

	const eavLeftover = "eav leftover data"
	if has(eavLeftover, prefix+"eav_attribute", "attribute_id") {
		for _, t := range s.leftover {
			if !has(eavLeftover, prefix+t, "attribute_id") {
				continue
			}
			if err := del(eavLeftover, prefix+t, "DELETE FROM "+q(t)+" WHERE attribute_id IS NOT NULL AND attribute_id NOT IN (SELECT attribute_id FROM "+q("eav_attribute")+")"); err != nil {
				return err
			}
		}
	}

	const setLeftover = "attribute set leftover data"
	if has(setLeftover, prefix+"catalog_product_entity", "entity_id", "attribute_set_id") &&
		has(setLeftover, prefix+"eav_entity_attribute", "attribute_set_id", "attribute_id") {
		for _, t := range s.setLeftover {
			if !has(setLeftover, prefix+t, "attribute_id", "value") {
				continue
			}
			// Commerce's staging keys values by row_id; the reference
			// decides by edition and module, shiplog by the columns.
			key := "entity_id"
			if cols[strings.ToLower(prefix+t)]["row_id"] && cols[strings.ToLower(prefix+"catalog_product_entity")]["row_id"] {
				key = "row_id"
			} else if !has(setLeftover, prefix+t, "entity_id") {
				continue
			}
			if err := del(setLeftover, prefix+t, "DELETE v FROM "+q(t)+" v JOIN "+q("catalog_product_entity")+" e ON e."+key+" = v."+key+
				" WHERE v.value IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "+q("eav_entity_attribute")+
				" ea WHERE ea.attribute_set_id = e.attribute_set_id AND ea.attribute_id = v.attribute_id)"); err != nil {
				return err
			}
		}
	}

	const rootCatalog = "products in root catalog"
	if has(rootCatalog, prefix+"catalog_category_product", "category_id") {
		if err := del(rootCatalog, prefix+"catalog_category_product", "DELETE FROM "+q("catalog_category_product")+" WHERE category_id = ?", postRootCategory); err != nil {
			return err
		}
	}
	const textToVarchar = "multiselect values moved from text to varchar"
	if n, err := postMoveMultiselect(ctx, tx, q, cols, prefix, has); err != nil {
		return err
	} else if n >= 0 {
		s.deleted = append(s.deleted, postDeleted{Cleanup: textToVarchar, Table: prefix + "catalog_product_entity_text", Rows: n})
	}

	const urlPath = "product url_path"
	if has(urlPath, prefix+"catalog_product_entity_varchar", "attribute_id") &&
		has(urlPath, prefix+"eav_attribute", "attribute_id", "attribute_code", "entity_type_id") &&
		has(urlPath, prefix+"eav_entity_type", "entity_type_id", "entity_type_code") {
		if err := del(urlPath, prefix+"catalog_product_entity_varchar", "DELETE FROM "+q("catalog_product_entity_varchar")+
			" WHERE attribute_id IN (SELECT ea.attribute_id FROM "+q("eav_attribute")+" ea JOIN "+q("eav_entity_type")+
			" et ON et.entity_type_id = ea.entity_type_id WHERE et.entity_type_code = 'catalog_product' AND ea.attribute_code = 'url_path')"); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("post processing: commit: %w", err)
	}
	var total int64
	for _, d := range s.deleted {
		total += d.Rows
		if d.Rows > 0 {
			env.Log.Info("post processing: deleted records", "cleanup", d.Cleanup, "table", d.Table, "rows", d.Rows)
		}
	}
	env.Log.Info("post processing: done", "deleted", total)
	return nil
}

// postColumns reads the destination's tables and their columns.
func postColumns(ctx context.Context, db *sql.DB) (map[string]map[string]bool, error) {
	rows, err := db.QueryContext(ctx, "SELECT LOWER(table_name), LOWER(column_name) FROM information_schema.columns WHERE table_schema = DATABASE()")
	if err != nil {
		return nil, fmt.Errorf("post processing: read the destination's columns: %w", err)
	}
	defer rows.Close()
	cols := map[string]map[string]bool{}
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			return nil, err
		}
		if cols[t] == nil {
			cols[t] = map[string]bool{}
		}
		cols[t][c] = true
	}
	return cols, rows.Err()
}

// Volume has nothing to compare: the step only deletes.
func (s *postStep) Volume(context.Context, *step.Env) error { return nil }

// Delta: the reference runs PostProcessing in data mode only.
func (s *postStep) Delta(context.Context, *step.Env) error { return nil }
