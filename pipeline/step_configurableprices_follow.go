package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/step"
)

// followConfigurablePrices registers, when delta mode starts, the follower
// that keeps the children's computed prices (the step's Data) over what the
// Map step's stream writes, when config.xml runs the ConfigurablePrices
// step in data mode (or in delta mode; the stock config.xml does not list
// it in delta mode, so the decision is the data steps', as for the Ratings
// step). It also says, at every start, what no follower sees: the pricing
// table itself has no Magento 2 table, so the stream carries no change of
// it; and with sink: kafka nothing is followed (apply --from-kafka runs no
// follower).
func (r *Runtime) followConfigurablePrices(ctx context.Context, log logWarner) error {
	if !r.stepInMode("ConfigurablePrices", step.ModeData) && !r.stepInMode("ConfigurablePrices", step.ModeDelta) {
		return nil
	}
	s := &configurablePricesStep{r: r}
	sp := r.cfg.Options.SourcePrefix
	has, err := tableExists(ctx, r.src, r.cfg.Source.Database, sp+cfgPricingDoc)
	if err != nil || !has {
		return err // no pricing table: nothing was computed (Integrity warned)
	}
	id, found, err := s.sourcePriceID(ctx)
	if err != nil || !found {
		return err // no price attribute: data mode computed nothing (Integrity said why)
	}
	s.srcPriceID = id
	log.Warn("the ConfigurablePrices step cannot follow super attribute price changes: "+sp+cfgPricingDoc+" has no Magento 2 table, so the stream does not carry it; a pricing change made in Magento 1 after data mode reaches Magento 2 at the next `migrate data --reset` (changes of parent prices, children's prices, super links, super attributes and the children's option values are followed)",
		"stage", "delta")
	if err := r.dest.rows(); err != nil {
		log.Warn("the ConfigurablePrices step's delta does not run here: "+err.Error()+"; apply --from-kafka writes the children's own Magento 1 prices over their computed ones when those rows change: after the last apply, run `migrate data --reset` to compute them anew",
			"stage", "delta")
		return nil
	}
	dstID, err := s.destPriceID(ctx)
	if err != nil {
		return err
	}
	r.follow(&cfgPricesFollower{s: s, dstID: dstID})
	return nil
}

// cfgPricesFollower recomputes, in the batch's transaction, the prices of
// the configurable children a batch touches — a change of the price
// attribute's rows (of a parent or a child: the stream just wrote the
// child's own Magento 1 price), of a super link, a super attribute or a
// product's int values (the children's options) — with the step's own
// computation on the source's current rows, as data mode reads them, and
// writes them as Data does (insert or update). Reading the source ahead of
// the stream only makes the result converge: a later change of the rows it
// read is streamed in a later batch, which runs the follower again.
//
// Children the destination does not hold yet, and stores it does not hold
// yet, are left out (their rows would break the foreign keys): the
// child's own rows, streamed later, bring it back here; a store added to
// Magento 1 after data mode gets its children's prices at the next
// `migrate data --reset`.
type cfgPricesFollower struct {
	s     *configurablePricesStep
	dstID string // the destination's price attribute id
}

func (*cfgPricesFollower) name() string { return "ConfigurablePrices step" }

func (*cfgPricesFollower) follows(table string) bool {
	switch table {
	case cfgDecimalDoc, cfgLinkDoc, cfgAttrDoc, cfgIntDoc:
		return true
	}
	return false
}

// cfgFollowChunk is how many ids one IN list of the follower holds.
const cfgFollowChunk = 500

func (f *cfgPricesFollower) follow(ctx context.Context, tx *sql.Tx, changes []cdc.Change) error {
	r := f.s.r
	links := r.changesOf(changes, cfgLinkDoc)
	ids := cfgDistinct(
		cfgPriceEntities(r.changesOf(changes, cfgDecimalDoc), f.dstID),
		changedValues(links, "product_id"), changedValues(links, "parent_id"),
		changedValues(r.changesOf(changes, cfgAttrDoc), "product_id"),
		changedValues(r.changesOf(changes, cfgIntDoc), "entity_id"))
	if len(ids) == 0 {
		return nil
	}
	var children []any
	for _, c := range cfgChunks(ids, cfgFollowChunk) {
		in := cfgPlaceholders(len(c))
		got, err := cfgColumn(ctx, r.src, "SELECT DISTINCT product_id FROM "+f.s.srcTable(cfgLinkDoc)+" WHERE product_id IN ("+in+") OR parent_id IN ("+in+")", append(c, c...)...)
		if err != nil {
			return fmt.Errorf("reading the source's %s: %w", r.cfg.Options.SourcePrefix+cfgLinkDoc, err)
		}
		children = append(children, got...)
	}
	children = cfgDistinct(children)
	if len(children) == 0 {
		return nil
	}
	dq := func(doc string) string {
		return rowio.QuoteIdent(r.cfg.Destination.Database) + "." + rowio.QuoteIdent(r.cfg.Options.DestPrefix+doc)
	}
	storeIDs, err := cfgColumn(ctx, tx, "SELECT store_id FROM "+dq("store"))
	if err != nil {
		return fmt.Errorf("reading the destination's stores: %w", err)
	}
	stores := map[string]bool{}
	for _, v := range storeIDs {
		stores[cfgValueKey(v)] = true
	}
	keep := func(_, store string) bool { return stores[store] }
	for _, c := range cfgChunks(children, cfgFollowChunk) {
		held, err := cfgColumn(ctx, tx, "SELECT entity_id FROM "+dq("catalog_product_entity")+" WHERE entity_id IN ("+cfgPlaceholders(len(c))+")", c...)
		if err != nil {
			return fmt.Errorf("reading the destination's products: %w", err)
		}
		if len(held) == 0 {
			continue
		}
		var k cfgPicker
		if _, err := f.s.writePrices(ctx, tx, &k, f.dstID, "l.product_id IN ("+cfgPlaceholders(len(held))+")", held, keep); err != nil {
			return err
		}
	}
	return nil
}

// cfgPriceEntities are the entity ids of the changes of
// catalog_product_entity_decimal rows of attribute id (or of an unknown
// attribute).
func cfgPriceEntities(changes []cdc.Change, id string) []any {
	var mine []cdc.Change
	for _, c := range changes {
		i := c.Table.ColumnIndex("attribute_id")
		match := func(row []any) bool {
			return row != nil && (i < 0 || i >= len(row) || row[i] == nil || cfgValueKey(row[i]) == id)
		}
		if match(c.Before) || match(c.After) {
			mine = append(mine, c)
		}
	}
	return changedValues(mine, "entity_id")
}

// cfgValueKey is a column value's string form.
func cfgValueKey(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return fmt.Sprint(v)
}

// cfgDistinct are the values of lists, each once (by string form), in
// order.
func cfgDistinct(lists ...[]any) []any {
	seen := map[string]bool{}
	var out []any
	for _, l := range lists {
		for _, v := range l {
			if k := cfgValueKey(v); !seen[k] {
				seen[k] = true
				out = append(out, v)
			}
		}
	}
	return out
}

func cfgChunks(vs []any, n int) [][]any {
	var out [][]any
	for len(vs) > n {
		out = append(out, vs[:n:n])
		vs = vs[n:]
	}
	if len(vs) > 0 {
		out = append(out, vs)
	}
	return out
}

func cfgPlaceholders(n int) string { return "?" + strings.Repeat(",?", n-1) }

type cfgQueryer interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// cfgColumn returns the first column of q's rows.
func cfgColumn(ctx context.Context, db cfgQueryer, q string, args ...any) ([]any, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []any
	for rows.Next() {
		var v []byte
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, string(v))
	}
	return out, rows.Err()
}
