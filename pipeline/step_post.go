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
// runs last in data mode and removes from Magento 2 rows Magento 2 would trip
// over. It runs the first of the reference's cleanups, in one destination
// transaction, and logs per table how many rows it deleted:
//
//   - EAV leftovers: value, option, label and extension rows (the groups
//     file's documents_leftover_values, and _ee unless edition_migrate is
//     opensource-to-opensource) whose attribute_id is not in eav_attribute;
//   - attribute-set leftovers: product values of attributes outside their
//     product's attribute set (step_post_asleft.go).
//
// Why it is safe for the Map step (its copy and, in delta mode, its stream):
// with the EAV step in data mode, every attribute_id the Map step writes is
// translated to an attribute the EAV step put in eav_attribute (an unmapped
// one is a failed row), so the rows deleted here were never written by the
// copy nor will be by the stream. Without the EAV step the Map step copies
// Magento 1 attribute_ids as they are (shiplog writes with foreign key checks
// off, as the reference does): deleting them would be undone by the stream,
// so the step then refuses to run (Integrity).
//
// Products in the root catalog and product url_path values are left out of
// the Map step's plan instead (step_post_routes.go): the copy never writes
// them, the stream never writes them again, verify does not expect them.
// Data counts, per document, the source rows those routes leave out, and
// logs them with the rows it deleted (the reference's deleted-records count).
//
// The multiselect values moved from catalog_product_entity_text to _varchar
// are an Upsert route (step_post_mover.go); the attribute-set leftovers are
// deleted here, are a Skip route, and are followed by the stream
// (step_post_asleft.go).

// postDefaultLeftover is the reference's opensource-to-opensource group, used when no eav_document_groups_file is set.
var postDefaultLeftover = []string{
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
	// Found by Integrity: the tables to clean (EAV leftovers, attribute-set
	// leftovers).
	leftover, setLeftover []string
	// deleted is what the last Data deleted, per cleanup and table, in order.
	deleted []postDeleted
	// routed counts the source rows the step's routes leave out of the
	// Map step's copy, per cleanup and table (last Data).
	routed []postDeleted
}

// postDocuments reads the documents_leftover_values group of
// eav_document_groups_file (the reference's defaults without one); its _ee
// group counts unless edition_migrate is opensource-to-opensource, as in the
// reference.
func postDocuments(env *step.Env) ([]string, error) {
	if env.Config == nil {
		return postDefaultLeftover, nil
	}
	p, ok, err := env.Config.MagentoFile("eav_document_groups_file")
	if err != nil || !ok {
		return postDefaultLeftover, err
	}
	groups, err := deltalog.ReadGroups(p)
	if err != nil {
		return nil, fmt.Errorf("options/eav_document_groups_file: %w", err)
	}
	ee := !strings.EqualFold(env.Config.Options.Magento["edition_migrate"], "opensource-to-opensource")
	var leftover []string
	for _, g := range groups {
		if g.Group == "documents_leftover_values" || g.Group == "documents_leftover_values_ee" && ee {
			leftover = append(leftover, strings.ToLower(g.Table))
		}
	}
	return leftover, nil
}

// Integrity reads the groups file (a destination that keeps shiplog's
// state alone, sink: kafka, is a blocking problem); the tables are checked by Data, which
// warns about a listed table the destination lacks.
func (s *postStep) Integrity(ctx context.Context, env *step.Env) ([]transform.Problem, error) {
	if s.r != nil && s.r.dest != nil {
		if err := s.r.dest.rows(); err != nil {
			return []transform.Problem{{Severity: transform.Error, Area: "destination", Table: "eav_attribute", Blocking: true,
				Msg: fmt.Sprintf("the PostProcessing step cleans Magento 2's tables itself and cannot run here: %v; run data mode with sink: mysql, or leave the PostProcessing Step out of config.xml", err)}}, nil
		}
	}
	if s.r != nil && !s.r.eavInDataMode() {
		return []transform.Problem{{Severity: transform.Error, Area: "destination", Table: "eav_attribute", Blocking: true,
			Msg: "the PostProcessing step deletes EAV values whose attribute_id Magento 2 lacks, and without the EAV Step in data mode the Map step copies Magento 1 attribute_ids the stream would write again; list the EAV Step before it in config.xml, or leave the PostProcessing Step out"}}, nil
	}
	var err error
	if s.leftover, err = postDocuments(env); err != nil {
		return nil, err
	}
	if s.setLeftover, err = postSetLeftoverDocuments(env); err != nil {
		return nil, err
	}
	return nil, s.r.postDataModeSets(ctx, env)
}

// Data runs the cleanup in one destination transaction and logs each
// table's deleted-row count. A second run deletes nothing.
func (s *postStep) Data(ctx context.Context, env *step.Env) error {
	if s.leftover == nil {
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

	if len(s.setLeftover) > 0 && has(postSetLeftover, prefix+"eav_entity_attribute", "attribute_set_id", "attribute_id") &&
		has(postSetLeftover, prefix+"catalog_product_entity", "attribute_set_id") {
		for _, t := range s.setLeftover {
			key := postSetLeftoverKey(cols, prefix, t)
			if key == "" {
				has(postSetLeftover, prefix+t, "attribute_id", "value", "entity_id")
				continue
			}
			if err := del(postSetLeftover, prefix+t, postSetLeftoverDelete(prefix, t, key, 0)); err != nil {
				return err
			}
		}
	}

	if err := s.countRouted(ctx, env, prefix); err != nil {
		return err
	}

	if err := tx.Commit(); err != nil {
		return fmt.Errorf("post processing: commit: %w", err)
	}
	if s.r != nil {
		s.r.postSets.Store(nil) // the copy is cleaned: plans compiled from now on read the sets as they are
	}
	var total, left int64
	for _, d := range s.deleted {
		total += d.Rows
		if d.Rows > 0 {
			env.Log.Info("post processing: deleted records", "cleanup", d.Cleanup, "table", d.Table, "rows", d.Rows)
		}
	}
	for _, d := range s.routed {
		left += d.Rows
		if d.Rows > 0 {
			env.Log.Info("post processing: records left out by the Map step", "cleanup", d.Cleanup, "table", d.Table, "rows", d.Rows)
		}
	}
	env.Log.Info("post processing: done", "deleted", total, "left_out", left)
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

// countRouted counts, per cleanup, the source rows the step's routes on the
// Map step's plan leave out (none when the routes are not in force).
func (s *postStep) countRouted(ctx context.Context, env *step.Env, destPrefix string) error {
	s.routed = nil
	if s.r == nil || env.Source == nil || !s.r.postRoutesInForce() {
		return nil
	}
	prefix := ""
	if env.Config != nil {
		prefix = env.Config.Options.SourcePrefix
	}
	count := func(cleanup, where string, args ...any) error {
		t := prefix + postRouteTables[cleanup]
		var found int
		if err := env.Source.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", t).Scan(&found); err != nil || found == 0 {
			return err
		}
		var n int64
		if err := env.Source.QueryRowContext(ctx, "SELECT COUNT(*) FROM `"+strings.ReplaceAll(t, "`", "``")+"` WHERE "+where, args...).Scan(&n); err != nil {
			return fmt.Errorf("post processing (%s): count the source rows of %s left out: %w", cleanup, t, err)
		}
		s.routed = append(s.routed, postDeleted{Cleanup: cleanup, Table: destPrefix + postRouteTables[cleanup], Rows: n})
		return nil
	}
	if err := count(postRootCatalog, "category_id = ?", postRootCategory); err != nil {
		return err
	}
	ids, err := postURLPathIDs(ctx, env.Source, prefix)
	if err != nil {
		return err
	}
	list := make([]any, 0, len(ids))
	marks := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, id)
		marks = append(marks, "?")
	}
	if len(list) > 0 {
		return count(postURLPath, "attribute_id IN ("+strings.Join(marks, ", ")+")", list...)
	}
	return nil
}
