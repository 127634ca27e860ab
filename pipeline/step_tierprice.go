package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// The Tier Price step's config.xml option and documents (before prefixes).
const (
	tierPriceMapOption = "tier_price_map_file"
	tierPriceDoc       = "catalog_product_entity_tier_price"
	groupPriceDoc      = "catalog_product_entity_group_price"
)

// editionsWithoutGroupPrice are the Magento 1 versions (edition_number)
// that have no catalog_product_entity_group_price: group prices came with
// Community 1.7 and Enterprise 1.12. The reference's TierPrice helper
// leaves the document out for these.
var editionsWithoutGroupPrice = []string{
	"1.6.0.0", "1.6.1.0", "1.6.2.0",
	"1.11.0.0", "1.11.0.1", "1.11.0.2", "1.11.1.0", "1.11.2.0",
}

// tierPriceSources are the Tier Price step's source documents, in the order
// it copies them, for edition (config.xml's edition_number) and whether the
// source has a group price document. Magento 1's group prices are Magento
// 2's tier prices of quantity 1, so they come second: where a product has
// both for the same website and customer group, the group price is the one
// kept, as in the reference. An empty edition_number makes the reference
// leave group prices out without a word; here they are migrated when the
// source has them, and note says so.
func tierPriceSources(edition string, hasGroupPrice bool) (docs []string, note string) {
	docs = []string{tierPriceDoc}
	switch {
	case slices.Contains(editionsWithoutGroupPrice, strings.TrimSpace(edition)):
		if hasGroupPrice {
			note = fmt.Sprintf("options/edition_number is %s, which has no %s, but the source has one: it is not migrated (set edition_number to the source's Magento version to migrate its group prices)",
				strings.TrimSpace(edition), groupPriceDoc)
		}
	case strings.TrimSpace(edition) == "":
		if hasGroupPrice {
			docs = append(docs, groupPriceDoc)
			note = fmt.Sprintf("options/edition_number is not set: the reference then leaves %s out; shiplog migrates the group prices as tier prices of quantity 1 (set edition_number to the source's Magento version to silence this)", groupPriceDoc)
		}
	default:
		docs = append(docs, groupPriceDoc)
	}
	return docs, note
}

// tierPriceStep is the reference tool's Tier Price step (data mode):
// Magento 1's tier prices and group prices replace Magento 2's
// catalog_product_entity_tier_price through tier_price_map_file
// (map-tier-price.xml.dist), a group price becoming a tier price of
// quantity 1. The destination document is cleared and both source
// documents copied into it in one destination transaction; value_id is
// left to the destination's auto-increment (the two sources' ids overlap),
// and a row whose (product, all groups, customer group, quantity, website)
// is already there replaces it, as the reference's insert-or-update does.
// Product, website and customer group ids are copied as they are: the Map
// step copies products, websites and customer groups with their ids, and
// Magento 2's tier price rows have no attribute_id.
//
// The reference runs no delta for it in the stock config; tier prices
// changed after data mode are not followed (Delta says so when listed).
type tierPriceStep struct {
	r *Runtime
	// plans are the source documents' plans in tierPriceSources order
	// (found by Integrity, for Data).
	plans []*transform.TablePlan
	// absent: the source has neither price document (a partial
	// database): nothing to do (Integrity warned).
	absent bool
}

// Integrity compiles the tier price map over the source documents and the
// destination's tier price document: missing documents and fields,
// unmapped fields and handlers that cannot bind are its problems, as in
// the reference's check of the same pairs.
func (s *tierPriceStep) Integrity(ctx context.Context, env *step.Env) ([]transform.Problem, error) {
	s.plans = nil
	file, ok, err := s.r.cfg.MagentoFile(tierPriceMapOption)
	if err != nil {
		return nil, err
	}
	if !ok {
		return []transform.Problem{{Severity: transform.Error, Blocking: true, Area: "source",
			Msg: "Tier Price step: config.xml sets no options/" + tierPriceMapOption + " (the stock one is etc/opensource-to-opensource/1.9.4.5/map-tier-price.xml.dist)"}}, nil
	}
	srcPrefix, dstPrefix := s.r.cfg.Options.SourcePrefix, s.r.cfg.Options.DestPrefix
	hasGroup, err := tableExists(ctx, s.r.src, s.r.cfg.Source.Database, srcPrefix+groupPriceDoc)
	if err != nil {
		return nil, err
	}
	hasTier, err := tableExists(ctx, s.r.src, s.r.cfg.Source.Database, srcPrefix+tierPriceDoc)
	if err != nil {
		return nil, err
	}
	s.absent = !hasTier && !hasGroup
	if s.absent {
		// Not a Magento 1 catalogue (a partial database): no prices to
		// migrate, and Magento 2's are left as they are.
		return []transform.Problem{{Severity: transform.Warning, Area: "source", Table: srcPrefix + tierPriceDoc,
			Msg: fmt.Sprintf("Tier Price step: the source has neither %s nor %s: no tier prices to migrate; Magento 2's are left as they are (the reference stops here)", srcPrefix+tierPriceDoc, srcPrefix+groupPriceDoc)}}, nil
	}
	docs, note := tierPriceSources(s.r.cfg.Options.Magento["edition_number"], hasGroup)
	var problems []transform.Problem
	if note != "" {
		problems = append(problems, transform.Problem{Severity: transform.Warning, Area: "source", Table: srcPrefix + groupPriceDoc, Msg: "Tier Price step: " + note})
	}
	plan, more, err := s.r.compileMapFile(ctx, file, docs, []string{tierPriceDoc}, tierPriceRules(docs))
	if err != nil {
		return nil, err
	}
	problems = append(problems, more...)
	var plans []*transform.TablePlan
	for _, d := range docs {
		sn, dn := srcPrefix+d, dstPrefix+tierPriceDoc
		tp := plan.Table(sn)
		var msg string
		switch {
		case tp == nil:
			msg = fmt.Sprintf("Tier Price step: source document %s has no plan, so its prices cannot be migrated to %s (see the problems above and %s)", sn, dn, file)
		case !strings.EqualFold(tp.Dest.Name, dn):
			msg = fmt.Sprintf("Tier Price step: %s maps source document %s to %s; the Tier Price step migrates it to %s", file, sn, tp.Dest.Name, dn)
		case len(tp.SideTables()) > 0:
			msg = fmt.Sprintf("Tier Price step: %s gives %s a handler that writes other tables; the Tier Price step copies only %s", file, sn, dn)
		}
		if msg != "" {
			problems = append(problems, transform.Problem{Severity: transform.Error, Blocking: true, Area: "source", Table: sn, Msg: msg})
			continue
		}
		plans = append(plans, tp)
	}
	if len(plans) == len(docs) {
		s.plans = plans
	}
	return problems, nil
}

// tierPriceRules are the step's own rules beside the map file's: the group
// price document goes to the tier price document (the reference names the
// pair in code, not in the map), and the destination's qty, which no group
// price field fills, is written as 1 by the step (tierPriceRows).
func tierPriceRules(docs []string) func(*transform.Rules, []*cdc.Table) {
	return func(m *transform.Rules, _ []*cdc.Table) {
		if !slices.Contains(docs, groupPriceDoc) {
			return
		}
		at := transform.Origin{Element: "Tier Price step: a group price is a tier price of quantity 1"}
		m.Source.RenameDocuments = append(m.Source.RenameDocuments, transform.Rename{From: groupPriceDoc, To: tierPriceDoc, At: at})
		m.Destination.IgnoreFields = append(m.Destination.IgnoreFields, transform.Rule{Name: tierPriceDoc + ".qty", At: at})
	}
}

// tierPriceColumns are the destination columns the step writes for a
// source document's plan: the plan's, without value_id (the destination's
// auto-increment numbers the rows; the reference empties it whatever the
// map says), and with qty for a group price, which has none. pos maps each
// to its index in the plan's output row, -1 for the added qty.
func tierPriceColumns(dest *cdc.Table, group bool) (cols []cdc.Column, pos []int, err error) {
	for i, c := range dest.Columns {
		if strings.EqualFold(c.Name, "value_id") {
			continue
		}
		if group && strings.EqualFold(c.Name, "qty") {
			return nil, nil, fmt.Errorf("%s.qty is filled from the group price document, which has no qty in Magento 1: check the map's move rules", dest.Name)
		}
		cols, pos = append(cols, c), append(pos, i)
	}
	if group {
		cols, pos = append(cols, cdc.Column{Name: "qty", DataType: "decimal", ColumnType: "decimal(12,4)"}), append(pos, -1)
	}
	return cols, pos, nil
}

// groupPriceQty is the quantity of a group price as a tier price.
const groupPriceQty = "1.0000"

// tierPriceBatch is how many rows one INSERT writes.
const tierPriceBatch = 500

// tierPriceInsert is one multi-row INSERT of rows (in cols order) into
// dest that replaces the value of a row with the same unique key, as the
// reference's insert-or-update does.
func tierPriceInsert(dest *cdc.Table, cols []cdc.Column, rows [][]any) (string, error) {
	q := []byte("INSERT INTO " + rowio.QuoteIdent(dest.Schema) + "." + rowio.QuoteIdent(dest.Name) + " (")
	for i, c := range cols {
		if i > 0 {
			q = append(q, ',')
		}
		q = rowio.AppendIdent(q, c.Name)
	}
	q = append(q, ") VALUES "...)
	var err error
	for r, row := range rows {
		if r > 0 {
			q = append(q, ',')
		}
		q = append(q, '(')
		for i := range cols {
			if i > 0 {
				q = append(q, ',')
			}
			if q, err = rowio.AppendLiteral(q, row[i], &cols[i]); err != nil {
				return "", fmt.Errorf("field %s: %w", cols[i].Name, err)
			}
		}
		q = append(q, ')')
	}
	q = append(q, " ON DUPLICATE KEY UPDATE "...)
	for i, c := range cols {
		if i > 0 {
			q = append(q, ',')
		}
		q = rowio.AppendIdent(q, c.Name)
		q = append(q, "=VALUES("...)
		q = rowio.AppendIdent(q, c.Name)
		q = append(q, ')')
	}
	return string(q), nil
}

// Data clears the destination's tier prices and copies the source's tier
// and group prices through the plans, in one destination transaction: a
// row a handler cannot transform stops the step with nothing written. A
// source row that lands on a price already copied (a group price and a
// quantity-1 tier price of the same product, website and customer group)
// replaces it, as in the reference, and the count of those is logged.
func (s *tierPriceStep) Data(ctx context.Context, env *step.Env) error {
	if s.absent {
		env.Log.Info("no tier prices to migrate: the source has none of the price documents", "stage", "data")
		return nil
	}
	if s.plans == nil {
		return errors.New("Tier Price step: no plan (its integrity stage did not run or failed)")
	}
	dest := s.plans[0].Dest
	destName := rowio.QuoteIdent(dest.Schema) + "." + rowio.QuoteIdent(dest.Name)
	type copied struct {
		doc            string
		read, replaced int64
	}
	var done []copied
	err := s.r.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+destName); err != nil {
			return fmt.Errorf("Tier Price step: clearing %s: %w", dest.Name, err)
		}
		for _, tp := range s.plans {
			group := strings.EqualFold(strings.TrimPrefix(tp.Source.Name, s.r.cfg.Options.SourcePrefix), groupPriceDoc)
			cols, pos, err := tierPriceColumns(tp.Dest, group)
			if err != nil {
				return fmt.Errorf("Tier Price step: %w", err)
			}
			before, err := countInTx(ctx, tx, destName)
			if err != nil {
				return err
			}
			var batch [][]any
			var read int64
			flush := func() error {
				if len(batch) == 0 {
					return nil
				}
				q, err := tierPriceInsert(tp.Dest, cols, batch)
				if err != nil {
					return fmt.Errorf("Tier Price step: %s: %w", dest.Name, err)
				}
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return fmt.Errorf("Tier Price step: copying %s into %s: %w", tp.Source.Name, dest.Name, err)
				}
				batch = batch[:0]
				return nil
			}
			if err := rowio.ReadTable(ctx, s.r.src, tp.Source, func(row []any) error {
				out, err := tp.Row(row)
				if err != nil {
					return fmt.Errorf("Tier Price step: source %s row %s: %w; nothing was written: fix the row or the map and run data mode again",
						tp.Source.Name, keyText(tp.Source, row), err)
				}
				vals := make([]any, len(pos))
				for i, p := range pos {
					if p < 0 {
						vals[i] = groupPriceQty
					} else {
						vals[i] = out[p]
					}
				}
				batch = append(batch, vals)
				read++
				if len(batch) >= tierPriceBatch {
					return flush()
				}
				return nil
			}); err != nil {
				return err
			}
			if err := flush(); err != nil {
				return err
			}
			after, err := countInTx(ctx, tx, destName)
			if err != nil {
				return err
			}
			done = append(done, copied{doc: tp.Source.Name, read: read, replaced: read - (after - before)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range done {
		env.Log.Info("tier prices migrated", "stage", "data", "source", c.doc, "table", dest.Name, "rows", c.read)
		if c.replaced > 0 {
			env.Log.Warn(fmt.Sprintf("Tier Price step: %d row(s) of %s replaced a price copied before them with the same product, all-groups flag, customer group, quantity and website (a group price over a tier price of quantity 1); the later one is kept, as in the reference",
				c.replaced, c.doc), "stage", "data", "table", dest.Name)
		}
	}
	return nil
}

// tierPriceSourceCount is the query counting the distinct prices of the
// source documents (names quoted, in tierPriceSources order): a tier price
// by (product, all groups, customer group, quantity, website), a group
// price with quantity 1. That is what the destination's unique key leaves.
func tierPriceSourceCount(docs []string) string {
	parts := make([]string, 0, len(docs))
	for i, d := range docs {
		qty := "`qty`"
		if i > 0 {
			qty = "CAST(" + groupPriceQty + " AS DECIMAL(12,4))"
		}
		parts = append(parts, "SELECT `entity_id`,`all_groups`,`customer_group_id`,"+qty+",`website_id` FROM "+d)
	}
	return "SELECT COUNT(*) FROM (" + strings.Join(parts, " UNION ") + ") AS prices"
}

// Volume counts the source's distinct prices (tierPriceSourceCount) and the
// destination's rows; a difference is an error, as in the reference.
func (s *tierPriceStep) Volume(ctx context.Context, env *step.Env) error {
	if env.Mode == step.ModeDelta || s.absent {
		return nil // nothing followed (see Delta); counts would only show the source's changes
	}
	if s.plans == nil {
		return errors.New("Tier Price step: no plan (its integrity stage did not run or failed)")
	}
	docs := make([]string, 0, len(s.plans))
	for _, tp := range s.plans {
		docs = append(docs, rowio.QuoteIdent(tp.Source.Schema)+"."+rowio.QuoteIdent(tp.Source.Name))
	}
	var sc int64
	if err := s.r.src.QueryRowContext(ctx, tierPriceSourceCount(docs)).Scan(&sc); err != nil {
		return fmt.Errorf("Tier Price step: counting the source's prices: %w", err)
	}
	dc, err := countRows(ctx, s.r.dst, s.plans[0].Dest)
	if err != nil {
		return err
	}
	if sc != dc {
		return fmt.Errorf("Tier Price step: mismatch of amount of entities in documents: the source's %s hold %d distinct prices, the destination's %s has %d rows (run data mode again with --reset)",
			strings.Join(docs, " and "), sc, s.plans[0].Dest.Name, dc)
	}
	return nil
}

// Delta: the stock config.xml runs no Tier Price delta, and shiplog has
// none: tier and group prices changed after data mode are not followed.
// Listed in delta mode all the same, it says so at every run.
func (s *tierPriceStep) Delta(_ context.Context, env *step.Env) error {
	if env.Log != nil {
		env.Log.Warn("the Tier Price step has no delta here: tier and group prices changed in Magento 1 after data mode are not followed; run data mode again with --reset to copy them anew",
			"stage", "delta")
	}
	return nil
}

// countInTx counts the rows of table (quoted) as tx sees them.
func countInTx(ctx context.Context, tx *sql.Tx, table string) (int64, error) {
	var n int64
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting %s: %w", table, err)
	}
	return n, nil
}

// tableExists reports whether schema has a table named name.
func tableExists(ctx context.Context, db *sql.DB, schema, name string) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx,
		"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", schema, name).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("looking for table %s.%s: %w", schema, name, err)
	}
	return n > 0, nil
}
