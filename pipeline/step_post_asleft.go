package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/shiplog/shiplog/deltalog"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
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

// The Map step's copy and stream and verify agree on these rows through a
// Skip route on the plans of the value tables (postSetLeftoverRoutes): a
// source row is left out when it is a leftover by the destination's product
// sets and set members, looked up in a postSetState. Which state:
//
//   - a plan compiled for the copy or verify reads the destination's
//     catalog_product_entity (key, attribute_set_id) and eav_entity_attribute
//     once, when compiled. Data mode's copy is planned before the products
//     are copied: it routes every row Carry (a product the destination lacks
//     keeps its values, as the reference's join), and the step's Data deletes
//     the leftovers after the copy. A verify run while the stream changes a
//     product's set may judge that product's values by the set it read: it
//     reports them (missing or extra rows), it never hides a row — run it
//     again.
//   - while delta mode streams, the state read when the stream started
//     (r.postSets), which the step's follower (postSetFollower) keeps in step
//     with the destination, in each batch's transaction.
//
// Rows of an attribute the EAV step's map lacks or otherwise failing to map
// are routed Carry: the plan makes them failed rows as before.

// postSetState is the destination's product sets and their members.
type postSetState struct {
	mu sync.RWMutex
	// sets: the attribute_set_id of each product, by its key's string form.
	sets map[string]string
	// members: the attribute_ids linked to each attribute set.
	members map[string]map[string]bool
}

// leftover reports whether a non-NULL value of attribute attr for product
// is a leftover: the product exists and its set does not link attr.
func (st *postSetState) leftover(product, attr string) bool {
	st.mu.RLock()
	defer st.mu.RUnlock()
	set, ok := st.sets[product]
	return ok && !st.members[set][attr]
}

// postLoadSetState reads the destination's product sets (by key) and set
// members.
func postLoadSetState(ctx context.Context, q rowsQuerier, prefix, key string) (*postSetState, error) {
	st := &postSetState{sets: map[string]string{}, members: map[string]map[string]bool{}}
	if err := postScanPairs(ctx, q, "SELECT `"+key+"`, attribute_set_id FROM "+rowio.QuoteIdent(prefix+"catalog_product_entity"), func(k, set string) {
		st.sets[k] = set
	}); err != nil {
		return nil, fmt.Errorf("PostProcessing step (%s): destination's product sets: %w", postSetLeftover, err)
	}
	if err := postScanPairs(ctx, q, "SELECT attribute_set_id, attribute_id FROM "+rowio.QuoteIdent(prefix+"eav_entity_attribute"), func(set, attr string) {
		if st.members[set] == nil {
			st.members[set] = map[string]bool{}
		}
		st.members[set][attr] = true
	}); err != nil {
		return nil, fmt.Errorf("PostProcessing step (%s): destination's attribute set members: %w", postSetLeftover, err)
	}
	return st, nil
}

// rowsQuerier is what reads rows: a *sql.DB or a *sql.Tx.
type rowsQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// postScanPairs calls fn with each row's two columns of query.
func postScanPairs(ctx context.Context, q rowsQuerier, query string, fn func(a, b string), args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a, b sql.NullString
		if err := rows.Scan(&a, &b); err != nil {
			return err
		}
		fn(a.String, b.String)
	}
	return rows.Err()
}

// postSetLeftoverTables are the destination's value tables the cleanup reads
// (unprefixed, lower case) with the column that keys them to their product;
// none when the destination lacks the product or set tables.
func (r *Runtime) postSetLeftoverTables(ctx context.Context) (map[string]string, error) {
	docs, err := postSetLeftoverDocuments(&step.Env{Config: r.cfg})
	if err != nil || len(docs) == 0 {
		return nil, err
	}
	cols, err := postColumns(ctx, r.dst)
	if err != nil {
		return nil, err
	}
	prefix := r.cfg.Options.DestPrefix
	ea := cols[strings.ToLower(prefix+"eav_entity_attribute")]
	if !ea["attribute_set_id"] || !ea["attribute_id"] {
		return nil, nil
	}
	out := map[string]string{}
	for _, t := range docs {
		if key := postSetLeftoverKey(cols, prefix, t); key != "" {
			out[t] = key
		}
	}
	return out, nil
}

// postSetLeftoverRoutes puts the Skip route of attribute-set leftovers on
// the plans of tps that copy a value table of the cleanup (in place, before
// the routes they have: the reference cleans the leftovers first). It
// reports whether it routed any.
func (r *Runtime) postSetLeftoverRoutes(ctx context.Context, tps []*transform.TablePlan) (bool, error) {
	tables, err := r.postSetLeftoverTables(ctx)
	if err != nil || len(tables) == 0 {
		return false, err
	}
	var snap *postSetState
	state := func() *postSetState {
		if live := r.postSets.Load(); live != nil {
			return live
		}
		return snap
	}
	routed := false
	for i, tp := range tps {
		name, ok := cutPrefixFold(tp.Source.Name, r.cfg.Options.SourcePrefix)
		key := tables[strings.ToLower(name)]
		if !ok || key == "" || !strings.EqualFold(strings.TrimPrefix(strings.ToLower(tp.Dest.Name), strings.ToLower(r.cfg.Options.DestPrefix)), strings.ToLower(name)) {
			continue
		}
		if snap == nil {
			if snap, err = postLoadSetState(ctx, r.dst, r.cfg.Options.DestPrefix, key); err != nil {
				return false, err
			}
		}
		routedTP, err := postSetLeftoverRoute(tp, key, state)
		if err != nil {
			return false, err
		}
		var also []*transform.TablePlan
		for _, av := range tp.AlsoVerify() {
			ra, err := postSetLeftoverRoute(av, key, state)
			if err != nil {
				return false, err
			}
			also = append(also, ra)
		}
		if len(also) > 0 {
			routedTP = routedTP.WithAlsoVerify(also...)
		}
		tps[i] = routedTP
		routed = true
	}
	return routed, nil
}

// postSetLeftoverRoute is tp routing a row that is an attribute-set leftover
// (by the state state gives) to Skip, and the others as tp does.
func postSetLeftoverRoute(tp *transform.TablePlan, key string, state func() *postSetState) (*transform.TablePlan, error) {
	value := tp.Source.ColumnIndex("value")
	attr, prod := tp.Dest.ColumnIndex("attribute_id"), tp.Dest.ColumnIndex(key)
	if value < 0 || attr < 0 || prod < 0 {
		return nil, fmt.Errorf("%w: PostProcessing step: %s -> %s lacks value, attribute_id or %s: its %s cannot be left out; leave the PostProcessing Step out of config.xml", ErrIntegrity, tp.Source.Name, tp.Dest.Name, key, postSetLeftover)
	}
	return tp.WithRoute(func(row []any, gone bool) (transform.Route, error) {
		if !gone && value < len(row) && row[value] != nil {
			if d, err := tp.Row(row); err == nil && d[attr] != nil && d[prod] != nil && state().leftover(str(d[prod]), str(d[attr])) {
				return transform.Route{Kind: transform.Skip}, nil
			}
		}
		return tp.RouteOf(row, gone)
	}, tp.RouteReads()...), nil
}
