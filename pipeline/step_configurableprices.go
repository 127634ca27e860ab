package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// The ConfigurablePrices step's documents (before prefixes).
const (
	cfgPricingDoc  = "catalog_product_super_attribute_pricing"
	cfgAttrDoc     = "catalog_product_super_attribute"
	cfgLinkDoc     = "catalog_product_super_link"
	cfgDecimalDoc  = "catalog_product_entity_decimal"
	cfgIntDoc      = "catalog_product_entity_int"
	cfgStoreDoc    = "core_store"
	cfgEavAttrDoc  = "eav_attribute"
	cfgEavTypeDoc  = "eav_entity_type"
	cfgPriceAttr   = "price"
	cfgProductType = "catalog_product"
)

// cfgSourceFields and cfgDestFields are the fields the step reads and
// writes, by document, as the reference's Integrity checks them, plus the
// ones its query joins by.
var (
	cfgSourceFields = []cfgFields{
		{cfgPricingDoc, []string{"product_super_attribute_id", "value_index", "is_percent", "pricing_value", "website_id"}},
		{cfgAttrDoc, []string{"product_super_attribute_id", "product_id", "attribute_id"}},
		{cfgLinkDoc, []string{"product_id", "parent_id"}},
		{cfgDecimalDoc, []string{"entity_id", "attribute_id", "store_id", "value"}},
		{cfgIntDoc, []string{"entity_id", "attribute_id", "store_id", "value"}},
		{cfgStoreDoc, []string{"store_id", "website_id"}},
	}
	cfgDestFields = []cfgFields{{cfgDecimalDoc, []string{"entity_id", "attribute_id", "store_id", "value"}}}
)

type cfgFields struct {
	doc    string
	fields []string
}

// cfgMissing are the problems of fields whose documents lack them (have
// maps each prefixed document to its columns; nil: the document does not
// exist), in the reference's words.
func cfgMissing(area, prefix string, want []cfgFields, have map[string][]string) []transform.Problem {
	var out []transform.Problem
	side := "Source"
	if area == "destination" {
		side = "Destination"
	}
	for _, w := range want {
		name := prefix + w.doc
		cols, ok := have[name]
		if !ok || cols == nil {
			out = append(out, transform.Problem{Severity: transform.Error, Blocking: true, Area: area, Table: name,
				Msg: fmt.Sprintf("ConfigurablePrices step: %s documents are missing: %s", side, name)})
			continue
		}
		var missing []string
		for _, f := range w.fields {
			if !slices.ContainsFunc(cols, func(c string) bool { return strings.EqualFold(c, f) }) {
				missing = append(missing, f)
			}
		}
		if missing != nil {
			out = append(out, transform.Problem{Severity: transform.Error, Blocking: true, Area: area, Table: name,
				Msg: fmt.Sprintf("ConfigurablePrices step: %s fields are missing. Document: %s. Fields: %s", side, name, strings.Join(missing, ","))})
		}
	}
	return out
}

// configurablePricesStep is the reference tool's ConfigurablePrices step
// (data mode). Magento 1 prices a configurable product's child as the
// parent's price plus the price deltas of the child's super attribute
// options (catalog_product_super_attribute_pricing: a fixed amount or a
// percentage of the parent's price, per website); Magento 2 has no such
// deltas, so the step writes each child's resulting price into Magento 2's
// catalog_product_entity_decimal, as the child's price attribute in every
// store of the delta's website (website 0: the admin store 0), replacing
// the row the Map step copied (insert or update on the unique key, as the
// reference's). Nothing is cleared. Rows are written in one destination
// transaction.
//
// Where the reference's grouped query leaves the result to the server's
// row order, shiplog decides, and warns with counts:
//   - a child with pricing in more than one configurable parent: the
//     lowest parent id's price (the reference adds the deltas of all its
//     parents to one of their prices);
//   - several deltas, one a percentage: each percentage is a share of the
//     parent's price and all are added, as Magento 1 prices the child (the
//     reference applies one row's percentage, or sums every row as fixed);
//   - a parent with store-level prices: a store's child price starts from
//     the parent's price in that store, else its default (store 0) price
//     (the reference joins every price row of the parent, multiplying the
//     deltas).
//
// The super attributes' values of the child are read in the default scope
// (store 0): Magento 1 makes configurable attributes global.
//
// The price attribute is catalog_product's "price" (the reference takes
// the first attribute of that code, whatever its entity type), written
// with the destination's id: translated through the EAV step's id map
// when config.xml runs the EAV step, as the Map step translates the
// rows it copies; Magento 1's id otherwise.
//
// In delta mode a follower (followConfigurablePrices, registered whether
// or not config.xml lists the step there) recomputes, in the batch's
// transaction, the prices of the children whose rows the Map step's stream
// writes (the reference's Map delta leaves a child's own Magento 1 price
// over the computed one); the pricing table itself is not streamed (no
// Magento 2 table): every child is priced again at each delta start, which
// says so.
type configurablePricesStep struct {
	r *Runtime
	// absent: the source has no pricing document (a partial database).
	absent bool
	// srcPriceID is Magento 1's price attribute id ("" when the source
	// has none, and no pricing rows either: nothing to do).
	srcPriceID string
}

func cfgProblem(area, table, msg string) transform.Problem {
	return transform.Problem{Severity: transform.Error, Blocking: true, Area: area, Table: table, Msg: "ConfigurablePrices step: " + msg}
}

// Integrity checks that the source documents and fields the step reads,
// and the destination document and fields it writes, exist, and finds
// Magento 1's price attribute.
func (s *configurablePricesStep) Integrity(ctx context.Context, _ *step.Env) ([]transform.Problem, error) {
	s.absent, s.srcPriceID = false, ""
	sp, dp := s.r.cfg.Options.SourcePrefix, s.r.cfg.Options.DestPrefix
	has, err := tableExists(ctx, s.r.src, s.r.cfg.Source.Database, sp+cfgPricingDoc)
	if err != nil {
		return nil, err
	}
	if !has {
		s.absent = true
		return []transform.Problem{{Severity: transform.Warning, Area: "source", Table: sp + cfgPricingDoc,
			Msg: fmt.Sprintf("ConfigurablePrices step: the source has no %s: no configurable prices to migrate (a partial database)", sp+cfgPricingDoc)}}, nil
	}
	srcCols := map[string][]string{}
	for _, w := range append(slices.Clip(cfgSourceFields), cfgFields{doc: cfgEavAttrDoc}, cfgFields{doc: cfgEavTypeDoc}) {
		if srcCols[sp+w.doc], err = tableColumns(ctx, s.r.src, s.r.cfg.Source.Database, sp+w.doc); err != nil {
			return nil, err
		}
	}
	dstCols := map[string][]string{}
	if dstCols[dp+cfgDecimalDoc], err = tableColumns(ctx, s.r.dst, s.r.cfg.Destination.Database, dp+cfgDecimalDoc); err != nil {
		return nil, err
	}
	problems := append(cfgMissing("source", sp, cfgSourceFields, srcCols), cfgMissing("destination", dp, cfgDestFields, dstCols)...)
	if srcCols[sp+cfgEavAttrDoc] == nil || srcCols[sp+cfgEavTypeDoc] == nil {
		problems = append(problems, cfgProblem("source", sp+cfgEavAttrDoc, fmt.Sprintf("source documents %s and %s are needed to find the price attribute", sp+cfgEavAttrDoc, sp+cfgEavTypeDoc)))
	}
	if problems != nil {
		return problems, nil
	}
	id, found, err := s.sourcePriceID(ctx)
	if err != nil {
		return nil, err
	}
	if !found {
		var any int
		err := s.r.src.QueryRowContext(ctx, "SELECT COUNT(*) FROM (SELECT 1 FROM "+s.srcTable(cfgPricingDoc)+" LIMIT 1) AS p").Scan(&any)
		if err != nil {
			return nil, fmt.Errorf("ConfigurablePrices step: reading %s: %w", sp+cfgPricingDoc, err)
		}
		if any > 0 {
			problems = append(problems, cfgProblem("source", sp+cfgEavAttrDoc, fmt.Sprintf("the source has super attribute prices (%s) but no %s attribute %q in %s: the children's prices cannot be computed",
				sp+cfgPricingDoc, cfgProductType, cfgPriceAttr, sp+cfgEavAttrDoc)))
		}
		return problems, nil
	}
	s.srcPriceID = id
	return problems, nil
}

func (s *configurablePricesStep) srcTable(doc string) string {
	return rowio.QuoteIdent(s.r.cfg.Source.Database) + "." + rowio.QuoteIdent(s.r.cfg.Options.SourcePrefix+doc)
}

// sourcePriceID finds Magento 1's catalog_product price attribute.
func (s *configurablePricesStep) sourcePriceID(ctx context.Context) (string, bool, error) {
	var id string
	err := s.r.src.QueryRowContext(ctx, "SELECT a.attribute_id FROM "+s.srcTable(cfgEavAttrDoc)+" a JOIN "+s.srcTable(cfgEavTypeDoc)+
		" t ON t.entity_type_id = a.entity_type_id WHERE t.entity_type_code = ? AND a.attribute_code = ?", cfgProductType, cfgPriceAttr).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("ConfigurablePrices step: finding the source's price attribute: %w", err)
	}
	return id, true, nil
}

// destPriceID is the destination's id of the price attribute: through the
// EAV step's id map when config.xml runs the EAV step in data mode.
func (s *configurablePricesStep) destPriceID(ctx context.Context) (string, error) {
	if !s.r.eavInDataMode() {
		return s.srcPriceID, nil
	}
	var id string
	q := "SELECT m2_id FROM " + rowio.QuoteIdent(s.r.cfg.Destination.Database) + "." + rowio.QuoteIdent(transform.EavAttributeMapTable) + " WHERE m1_id = ?"
	if err := s.r.dst.QueryRowContext(ctx, q, s.srcPriceID).Scan(&id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			err = errors.New("not in the map")
		}
		return "", fmt.Errorf("ConfigurablePrices step: the destination id of the price attribute (source attribute_id %s) from the EAV step's id map %s: %w; run the EAV step first (config.xml lists it before this step)",
			s.srcPriceID, transform.EavAttributeMapTable, err)
	}
	return id, nil
}

// configurablePriceQuery selects, per child, store and configurable parent
// (in that order), the child's price there (TRUNCATE to 4 places, as the
// reference's), how many deltas made it and how many of those are
// percentages. t names each document (quoted, prefixed); the price
// attribute id is its two placeholders, then where's (a condition on the
// link l, "" for every child).
func configurablePriceQuery(t func(doc string) string, where string) string {
	if where != "" {
		where = " WHERE " + where
	}
	base := "COALESCE(bs.value, b0.value)"
	return "SELECT l.product_id, cs.store_id, l.parent_id," +
		" TRUNCATE(MAX(" + base + ") + SUM(IF(ap.is_percent = 1, " + base + " * ap.pricing_value / 100, ap.pricing_value)), 4)," +
		" COUNT(*), SUM(ap.is_percent = 1)" +
		" FROM " + t(cfgLinkDoc) + " l" +
		" JOIN " + t(cfgAttrDoc) + " a ON a.product_id = l.parent_id" +
		" JOIN " + t(cfgPricingDoc) + " ap ON ap.product_super_attribute_id = a.product_super_attribute_id" +
		" JOIN " + t(cfgIntDoc) + " i ON i.entity_id = l.product_id AND i.attribute_id = a.attribute_id AND i.store_id = 0 AND i.value = ap.value_index" +
		" JOIN " + t(cfgStoreDoc) + " cs ON cs.website_id = ap.website_id" +
		" LEFT JOIN " + t(cfgDecimalDoc) + " b0 ON b0.entity_id = l.parent_id AND b0.attribute_id = ? AND b0.store_id = 0" +
		" LEFT JOIN " + t(cfgDecimalDoc) + " bs ON bs.entity_id = l.parent_id AND bs.attribute_id = ? AND bs.store_id = cs.store_id AND cs.store_id <> 0" +
		where +
		" GROUP BY l.product_id, cs.store_id, l.parent_id" +
		" HAVING MAX(" + base + ") IS NOT NULL" +
		" ORDER BY l.product_id, cs.store_id, l.parent_id"
}

// cfgPrice is one row of configurablePriceQuery.
type cfgPrice struct {
	child, store, parent string
	value                string
	deltas, percents     int
}

// cfgPicker keeps, of configurablePriceQuery's rows (in its order), the
// first (lowest parent) per child and store, counting the children priced
// by several parents and the prices of several deltas with a percentage.
type cfgPicker struct {
	last           cfgPrice
	started        bool
	multiParent    int
	mixed          int
	lastMultiChild string
}

// take reports whether p is the one kept for its child and store.
func (k *cfgPicker) take(p cfgPrice) bool {
	if k.started && p.child == k.last.child && p.store == k.last.store {
		if k.lastMultiChild != p.child {
			k.multiParent++
			k.lastMultiChild = p.child
		}
		return false
	}
	k.started, k.last = true, p
	if p.deltas > 1 && p.percents > 0 {
		k.mixed++
	}
	return true
}

// cfgBatch is how many rows one INSERT writes.
const cfgBatch = 500

// writePrices computes on the source the prices of the children where
// selects (configurablePriceQuery's, args its placeholders), picking with k,
// and writes them into the destination's catalog_product_entity_decimal in
// tx as attribute dstID; keep, when not nil, says which child and store to
// write. It returns how many rows it wrote.
func (s *configurablePricesStep) writePrices(ctx context.Context, tx *sql.Tx, k *cfgPicker, dstID, where string, args []any, keep func(child, store string) bool) (int, error) {
	rows, err := s.r.src.QueryContext(ctx, configurablePriceQuery(s.srcTable, where), append([]any{s.srcPriceID, s.srcPriceID}, args...)...)
	if err != nil {
		return 0, fmt.Errorf("ConfigurablePrices step: computing the children's prices on the source: %w", err)
	}
	defer rows.Close()
	dest := rowio.QuoteIdent(s.r.cfg.Destination.Database) + "." + rowio.QuoteIdent(s.r.cfg.Options.DestPrefix+cfgDecimalDoc)
	var written int
	var batch []string
	var ins []any
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		q := "INSERT INTO " + dest + " (entity_id, attribute_id, store_id, value) VALUES " + strings.Join(batch, ",") +
			" ON DUPLICATE KEY UPDATE value = VALUES(value)"
		if _, err := tx.ExecContext(ctx, q, ins...); err != nil {
			return fmt.Errorf("ConfigurablePrices step: writing the children's prices into %s: %w; nothing was written", dest, err)
		}
		batch, ins = batch[:0], ins[:0]
		return nil
	}
	for rows.Next() {
		var p cfgPrice
		if err := rows.Scan(&p.child, &p.store, &p.parent, &p.value, &p.deltas, &p.percents); err != nil {
			return 0, fmt.Errorf("ConfigurablePrices step: reading the children's prices: %w", err)
		}
		if !k.take(p) || (keep != nil && !keep(p.child, p.store)) {
			continue
		}
		batch, ins = append(batch, "(?,?,?,?)"), append(ins, p.child, dstID, p.store, p.value)
		written++
		if len(batch) >= cfgBatch {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("ConfigurablePrices step: computing the children's prices on the source: %w", err)
	}
	return written, flush()
}

// Data computes the children's prices on the source and writes them into
// the destination's catalog_product_entity_decimal in one transaction.
func (s *configurablePricesStep) Data(ctx context.Context, env *step.Env) error {
	if s.absent || s.srcPriceID == "" {
		env.Log.Info("no configurable prices to migrate", "stage", "data")
		return nil
	}
	dstID, err := s.destPriceID(ctx)
	if err != nil {
		return err
	}
	var storeLevel int
	err = s.r.src.QueryRowContext(ctx, "SELECT COUNT(DISTINCT d.entity_id) FROM "+s.srcTable(cfgDecimalDoc)+" d JOIN "+s.srcTable(cfgAttrDoc)+
		" a ON a.product_id = d.entity_id WHERE d.attribute_id = ? AND d.store_id <> 0", s.srcPriceID).Scan(&storeLevel)
	if err != nil {
		return fmt.Errorf("ConfigurablePrices step: reading %s: %w", s.r.cfg.Options.SourcePrefix+cfgDecimalDoc, err)
	}
	var k cfgPicker
	var written int
	err = s.r.inTx(ctx, func(tx *sql.Tx) error {
		written, err = s.writePrices(ctx, tx, &k, dstID, "", nil, nil)
		return err
	})
	if err != nil {
		return err
	}
	env.Log.Info("configurable prices migrated", "stage", "data", "table", s.r.cfg.Options.DestPrefix+cfgDecimalDoc, "rows", written, "attribute_id", dstID)
	if k.multiParent > 0 {
		env.Log.Warn("ConfigurablePrices step: children priced by more than one configurable parent got the price of the lowest parent id (the reference adds the deltas of all parents to one parent's price)",
			"stage", "data", "children", k.multiParent)
	}
	if k.mixed > 0 {
		env.Log.Warn("ConfigurablePrices step: prices made of several option deltas with a percentage among them: each percentage was taken of the parent's price and all deltas added, as Magento 1 prices the child (the reference's result there depends on the server's row order)",
			"stage", "data", "prices", k.mixed)
	}
	if storeLevel > 0 {
		env.Log.Warn("ConfigurablePrices step: configurable parents with store-level prices: each store's child price starts from the parent's price in that store, else its default price (the reference multiplies the deltas by the parent's price rows)",
			"stage", "data", "parents", storeLevel)
	}
	return nil
}

// Volume: the reference's checks nothing for this step; neither does
// shiplog (the destination's rows of the price attribute are the Map
// step's and this step's together, with no count to compare).
func (s *configurablePricesStep) Volume(context.Context, *step.Env) error { return nil }

// Delta does nothing: the follower registered when delta mode starts
// (followConfigurablePrices) keeps the children's prices the stream touches.
func (s *configurablePricesStep) Delta(context.Context, *step.Env) error { return nil }
