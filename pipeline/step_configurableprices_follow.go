package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"strings"
	"sync"

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
	if err := r.dest.rows(); err != nil {
		log.Warn("the ConfigurablePrices step's delta does not run here: "+err.Error()+"; apply --from-kafka writes the children's own Magento 1 prices over their computed ones when those rows change, and pricing changes are not followed: after the last apply, run `migrate data --reset` to compute them anew",
			"stage", "delta")
		return nil
	}
	log.Warn("the ConfigurablePrices step cannot follow super attribute price changes: "+sp+cfgPricingDoc+" has no Magento 2 table, so the stream does not carry it; a pricing change made in Magento 1 reaches Magento 2 at the next delta start, which prices every child again (changes of parent prices, children's prices, super links, super attributes and the children's option values are followed while the stream runs)",
		"stage", "delta")
	dstID, err := s.destPriceID(ctx)
	if err != nil {
		return err
	}
	f := &cfgPricesFollower{s: s, dstID: dstID, priceRows: map[string]string{}}
	if f.linkChild, err = cfgPairs(ctx, r.dst, r.cfg.Destination.Database, r.cfg.Options.DestPrefix+cfgLinkDoc, "link_id", "product_id"); err != nil {
		return err
	}
	if f.attrParent, err = cfgPairs(ctx, r.dst, r.cfg.Destination.Database, r.cfg.Options.DestPrefix+cfgAttrDoc, "product_super_attribute_id", "product_id"); err != nil {
		return err
	}
	// A full refresh first: what a stop between runs or a Kafka apply left
	// behind, and the pricing changes made since the last run.
	var children []any
	err = r.inTx(ctx, func(tx *sql.Tx) error {
		src, err := cfgColumn(ctx, r.src, "SELECT DISTINCT product_id FROM "+s.srcTable(cfgLinkDoc))
		if err != nil {
			return fmt.Errorf("ConfigurablePrices step: reading the source's %s: %w", sp+cfgLinkDoc, err)
		}
		dst, err := cfgColumn(ctx, tx, "SELECT DISTINCT product_id FROM "+rowio.QuoteIdent(r.cfg.Destination.Database)+"."+rowio.QuoteIdent(r.cfg.Options.DestPrefix+cfgLinkDoc))
		if err != nil {
			return fmt.Errorf("ConfigurablePrices step: reading the destination's %s: %w", r.cfg.Options.DestPrefix+cfgLinkDoc, err)
		}
		children = cfgDistinct(src, dst)
		return f.price(ctx, tx, children)
	})
	if err != nil {
		return err
	}
	all, err := f.readPriceRows(ctx, r.dst, nil)
	if err != nil {
		return err
	}
	maps.Copy(f.priceRows, all)
	if l, ok := log.(interface{ Info(string, ...any) }); ok {
		l.Info("configurable children priced again at delta start", "stage", "delta", "children", len(children))
	}
	r.follow(f)
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
// Magento 1 after data mode gets its children's prices at the next delta
// start.
//
// A deleted super link or super attribute comes as its key alone: the
// follower keeps the destination's link -> child and super attribute ->
// parent (read when delta mode starts, then from the changes) to know
// whose prices a deletion touches.
type cfgPricesFollower struct {
	s     *configurablePricesStep
	dstID string // the destination's price attribute id

	mu         sync.Mutex
	linkChild  map[string]any // link_id -> product_id
	attrParent map[string]any // product_super_attribute_id -> product_id
	// priceRows are the destination's price rows of children: value_id
	// -> entity_id. The stream writes Magento 1's decimal rows by
	// value_id, and a computed row Magento 1 lacks holds an id of the
	// destination's own, which a later Magento 1 row (of any product and
	// attribute) takes over: the child whose row it was is priced again.
	priceRows map[string]string
}

// readPriceRows reads the price rows of the children (products, or every
// child of the destination's super links when nil) into a map value_id ->
// entity_id.
func (f *cfgPricesFollower) readPriceRows(ctx context.Context, db cfgQueryer, products []any) (map[string]string, error) {
	r := f.s.r
	dq := func(doc string) string {
		return rowio.QuoteIdent(r.cfg.Destination.Database) + "." + rowio.QuoteIdent(r.cfg.Options.DestPrefix+doc)
	}
	q := "SELECT value_id, entity_id FROM " + dq(cfgDecimalDoc) + " WHERE attribute_id = ? AND entity_id IN (SELECT product_id FROM " + dq(cfgLinkDoc) + ")"
	args := []any{f.dstID}
	if products != nil {
		q = "SELECT value_id, entity_id FROM " + dq(cfgDecimalDoc) + " WHERE attribute_id = ? AND entity_id IN (" + cfgPlaceholders(len(products)) + ")"
		args = append(args, products...)
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("ConfigurablePrices step: reading the destination's price rows: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, e string
		if err := rows.Scan(&id, &e); err != nil {
			return nil, err
		}
		out[id] = e
	}
	return out, rows.Err()
}

// takenOver returns the children whose price rows (by value_id) changes of
// catalog_product_entity_decimal wrote: another product's row, another
// store's or attribute's of the child, or the price row itself (priced
// again anyway).
func (f *cfgPricesFollower) takenOver(changes []cdc.Change) []any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []any
	for _, c := range changes {
		id := c.Table.ColumnIndex("value_id")
		if id < 0 || c.After == nil || id >= len(c.After) || c.After[id] == nil {
			continue
		}
		if was, ok := f.priceRows[cfgValueKey(c.After[id])]; ok {
			out = append(out, was)
		}
	}
	return out
}

// owners records, of changes, key -> owner of the rows written, and
// returns the owners of the rows changed (deleted ones through the
// record).
func (f *cfgPricesFollower) owners(changes []cdc.Change, key, owner string, known map[string]any) []any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []any
	for _, c := range changes {
		k, o := c.Table.ColumnIndex(key), c.Table.ColumnIndex(owner)
		if k < 0 || o < 0 {
			continue
		}
		for _, row := range [][]any{c.Before, c.After} {
			if k >= len(row) || row[k] == nil {
				continue
			}
			id := cfgValueKey(row[k])
			if o < len(row) && row[o] != nil {
				if c.After != nil {
					known[id] = row[o]
				}
				out = append(out, row[o])
			} else if v, ok := known[id]; ok {
				out = append(out, v)
			}
		}
	}
	return out
}

// cfgPairs reads key -> owner of a destination table.
func cfgPairs(ctx context.Context, db *sql.DB, schema, table, key, owner string) (map[string]any, error) {
	rows, err := db.QueryContext(ctx, "SELECT "+rowio.QuoteIdent(key)+", "+rowio.QuoteIdent(owner)+" FROM "+rowio.QuoteIdent(schema)+"."+rowio.QuoteIdent(table))
	if err != nil {
		return nil, fmt.Errorf("ConfigurablePrices step: reading the destination's %s: %w", table, err)
	}
	defer rows.Close()
	out := map[string]any{}
	for rows.Next() {
		var k, o string
		if err := rows.Scan(&k, &o); err != nil {
			return nil, err
		}
		out[k] = o
	}
	return out, rows.Err()
}

// followsLast: the PostProcessing step's follower writes a new product's
// Magento 1 value rows again, its price among them; the computed price
// goes over it.
func (*cfgPricesFollower) followsLast() {}

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
	unlinked := f.owners(links, "link_id", "product_id", f.linkChild) // children, or children no more
	decimals := r.changesOf(changes, cfgDecimalDoc)
	ids := cfgDistinct(
		cfgPriceEntities(decimals, f.dstID), f.takenOver(decimals),
		unlinked, changedValues(links, "parent_id"),
		f.owners(r.changesOf(changes, cfgAttrDoc), "product_super_attribute_id", "product_id", f.attrParent),
		changedValues(r.changesOf(changes, cfgIntDoc), "entity_id"))
	if len(ids) == 0 {
		return nil
	}
	children := unlinked
	for _, c := range cfgChunks(ids, cfgFollowChunk) {
		in := cfgPlaceholders(len(c))
		got, err := cfgColumn(ctx, r.src, "SELECT DISTINCT product_id FROM "+f.s.srcTable(cfgLinkDoc)+" WHERE product_id IN ("+in+") OR parent_id IN ("+in+")", append(c, c...)...)
		if err != nil {
			return fmt.Errorf("reading the source's %s: %w", r.cfg.Options.SourcePrefix+cfgLinkDoc, err)
		}
		children = append(children, got...)
	}
	return f.price(ctx, tx, cfgDistinct(children))
}

// price writes, in tx, the computed prices of children (those the
// destination holds) and restores the rows of those not priced in a store.
func (f *cfgPricesFollower) price(ctx context.Context, tx *sql.Tx, children []any) error {
	r := f.s.r
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
	for _, c := range cfgChunks(children, cfgFollowChunk) {
		held, err := cfgColumn(ctx, tx, "SELECT entity_id FROM "+dq("catalog_product_entity")+" WHERE entity_id IN ("+cfgPlaceholders(len(c))+")", c...)
		if err != nil {
			return fmt.Errorf("reading the destination's products: %w", err)
		}
		if len(held) == 0 {
			continue
		}
		computed := map[[2]string]bool{}
		keep := func(child, store string) bool {
			if stores[store] {
				computed[[2]string{child, store}] = true
			}
			return stores[store]
		}
		var k cfgPicker
		if _, err := f.s.writePrices(ctx, tx, &k, f.dstID, "l.product_id IN ("+cfgPlaceholders(len(held))+")", held, keep); err != nil {
			return err
		}
		if err := f.restore(ctx, tx, held, computed, dq(cfgDecimalDoc)); err != nil {
			return err
		}
		now, err := f.readPriceRows(ctx, tx, held)
		if err != nil {
			return err
		}
		f.mu.Lock()
		maps.Copy(f.priceRows, now)
		f.mu.Unlock()
	}
	return nil
}

// restore gives the price rows of products (held by the destination) that
// have no computed price in their store what a fresh migration gives them:
// the product's own Magento 1 row there, or none — a child whose option,
// link or pricing no longer prices it in a store does not keep the price
// computed before.
func (f *cfgPricesFollower) restore(ctx context.Context, tx *sql.Tx, products []any, computed map[[2]string]bool, decimal string) error {
	in := cfgPlaceholders(len(products))
	own := map[[2]string]sql.NullString{}
	rows, err := f.s.r.src.QueryContext(ctx, "SELECT entity_id, store_id, value FROM "+f.s.srcTable(cfgDecimalDoc)+" WHERE attribute_id = ? AND entity_id IN ("+in+")",
		append([]any{f.s.srcPriceID}, products...)...)
	if err != nil {
		return fmt.Errorf("reading the source's prices: %w", err)
	}
	for rows.Next() {
		var e, st string
		var v sql.NullString
		if err := rows.Scan(&e, &st, &v); err != nil {
			rows.Close()
			return err
		}
		own[[2]string{e, st}] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading the source's prices: %w", err)
	}
	type destRow struct{ id, entity, store string }
	var stale []destRow
	drows, err := tx.QueryContext(ctx, "SELECT value_id, entity_id, store_id FROM "+decimal+" WHERE attribute_id = ? AND entity_id IN ("+in+")", append([]any{f.dstID}, products...)...)
	if err != nil {
		return fmt.Errorf("reading the destination's prices: %w", err)
	}
	for drows.Next() {
		var d destRow
		if err := drows.Scan(&d.id, &d.entity, &d.store); err != nil {
			drows.Close()
			return err
		}
		if !computed[[2]string{d.entity, d.store}] {
			stale = append(stale, d)
		}
	}
	drows.Close()
	if err := drows.Err(); err != nil {
		return fmt.Errorf("reading the destination's prices: %w", err)
	}
	for _, d := range stale {
		var err error
		if v, ok := own[[2]string{d.entity, d.store}]; ok {
			_, err = tx.ExecContext(ctx, "UPDATE "+decimal+" SET value = ? WHERE value_id = ? AND NOT (value <=> ?)", v, d.id, v)
		} else {
			_, err = tx.ExecContext(ctx, "DELETE FROM "+decimal+" WHERE value_id = ?", d.id)
		}
		if err != nil {
			return fmt.Errorf("restoring the own price of product %s in store %s in %s: %w", d.entity, d.store, decimal, err)
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
