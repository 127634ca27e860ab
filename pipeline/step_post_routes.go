package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// The PostProcessing step's cleanups of rows the Map step copies are not
// deletes run after the copy (the stream would write the rows again, and
// verify would miss them) but routes on the Map step's plan
// (transform.TablePlan.WithRoute), asked alike by the copy, the stream and
// verify: the rows never reach Magento 2.
//
//   - products in the root catalog: a catalog_category_product row whose
//     category_id is 1 (the category tree's root) is skipped;
//   - product url_path: a catalog_product_entity_varchar row whose
//     attribute is Magento 1's product url_path is skipped (Magento 2
//     builds its URLs from url_key and the rewrites).
//
// They are in force when config.xml runs the PostProcessing step in data
// mode and the destination gets the rows (sink: mysql): every mode then
// compiles the same plan.

// postRootCategory is the id of the category tree's root.
const postRootCategory = "1"

// postRouteTables are the source documents the routes apply to, by cleanup.
var postRouteTables = map[string]string{
	postRootCatalog: "catalog_category_product",
	postURLPath:     "catalog_product_entity_varchar",
}

const (
	postRootCatalog = "products in root catalog"
	postURLPath     = "product url_path"
)

// postRoutes is plan with the PostProcessing step's routes (see above), or
// plan itself when they are not in force.
func (r *Runtime) postRoutes(ctx context.Context, plan *transform.Plan) (*transform.Plan, error) {
	if plan == nil || !r.postRoutesInForce() {
		return plan, nil
	}
	prefix := r.cfg.Options.SourcePrefix
	var tps []*transform.TablePlan
	changed, mover := false, false
	for _, tp := range plan.Tables() {
		name := strings.ToLower(strings.TrimPrefix(tp.Source.Name, prefix))
		switch name {
		case postRouteTables[postRootCatalog]:
			col := tp.Source.ColumnIndex("category_id")
			if col < 0 {
				return nil, fmt.Errorf("%w: PostProcessing step: source %s has no category_id column: products in the root catalog cannot be left out; leave the PostProcessing Step out of config.xml", ErrIntegrity, tp.Source.Name)
			}
			tp = tp.WithRoute(postSkipWhen(col, map[string]bool{postRootCategory: true}), col)
			changed = true
		case postRouteTables[postURLPath]:
			col := tp.Source.ColumnIndex("attribute_id")
			if col < 0 {
				return nil, fmt.Errorf("%w: PostProcessing step: source %s has no attribute_id column: product url_path values cannot be left out; leave the PostProcessing Step out of config.xml", ErrIntegrity, tp.Source.Name)
			}
			ids, err := postURLPathIDs(ctx, r.src, prefix)
			if err != nil {
				return nil, err
			}
			if len(ids) > 0 {
				tp = tp.WithRoute(postSkipWhen(col, ids), col)
				changed = true
			}
		case postTextTable:
			var varchar *transform.TablePlan
			for _, v := range plan.Tables() {
				if strings.EqualFold(strings.TrimPrefix(v.Source.Name, prefix), postVarcharTable) {
					varchar = v
				}
			}
			moved, err := r.postMoverRoute(ctx, tp, varchar)
			if err != nil {
				return nil, err
			}
			mover = mover || moved != tp
			tp = moved
		}
		tps = append(tps, tp)
	}
	if mover {
		changed = true
		for i, tp := range tps {
			if strings.EqualFold(strings.TrimPrefix(tp.Source.Name, prefix), postVarcharTable) {
				tps[i] = postMovedRowsNotOwn(tp)
			}
		}
	}
	set, err := r.postSetLeftoverRoutes(ctx, tps)
	if err != nil {
		return nil, err
	}
	if !changed && !set {
		return plan, nil
	}
	return transform.NewPlan(tps...)
}

// postRoutesInForce: config.xml runs the PostProcessing step in data mode
// and the destination gets the rows.
func (r *Runtime) postRoutesInForce() bool {
	return r.dest != nil && r.dest.rows() == nil && r.stepInMode("PostProcessing", step.ModeData)
}

// postSkipWhen routes a row whose column col holds one of values to Skip
// and carries the others.
func postSkipWhen(col int, values map[string]bool) transform.Router {
	return func(row []any, _ bool) (transform.Route, error) {
		if col < len(row) && row[col] != nil && values[str(row[col])] {
			return transform.Route{Kind: transform.Skip}, nil
		}
		return transform.Route{Kind: transform.Carry}, nil
	}
}

// postURLPathIDs are the source's attribute_ids of the product url_path
// attribute (none when the source has no EAV tables).
func postURLPathIDs(ctx context.Context, src *sql.DB, prefix string) (map[string]bool, error) {
	return postProductAttributeIDs(ctx, src, prefix, "a.attribute_code = 'url_path'", "product url_path attribute")
}

// postProductAttributeIDs are the source's attribute_ids of catalog_product
// attributes that where (a condition on eav_attribute a) selects; what
// names them in an error. None when the source has no EAV tables.
func postProductAttributeIDs(ctx context.Context, src *sql.DB, prefix, where, what string) (map[string]bool, error) {
	q := func(t string) string { return "`" + strings.ReplaceAll(prefix+t, "`", "``") + "`" }
	var n int
	if err := src.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN (?, ?)",
		prefix+"eav_attribute", prefix+"eav_entity_type").Scan(&n); err != nil {
		return nil, fmt.Errorf("PostProcessing step: source: %w", err)
	}
	ids := map[string]bool{}
	if n < 2 {
		return ids, nil
	}
	rows, err := src.QueryContext(ctx, "SELECT a.attribute_id FROM "+q("eav_attribute")+" a JOIN "+q("eav_entity_type")+
		" t ON t.entity_type_id = a.entity_type_id WHERE "+where+" AND t.entity_type_code = 'catalog_product'")
	if err != nil {
		return nil, fmt.Errorf("PostProcessing step: source's %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids[id] = true
	}
	return ids, rows.Err()
}
