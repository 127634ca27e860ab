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

// inventoryTables are the tables of Magento 2's Inventory (MSI) modules the
// Inventory step fills, with the columns the reference expects of each
// (exactly these: more or fewer is an integrity error, as in the reference).
var inventoryTables = []struct {
	name   string
	fields []string
}{
	{"inventory_source_item", []string{"source_item_id", "source_code", "quantity", "status", "sku"}},
	{"inventory_stock_sales_channel", []string{"type", "code", "stock_id"}},
	{"inventory_shipment_source", []string{"shipment_id", "source_code"}},
}

// inventoryReads are the destination tables the step reads: what the Map
// step copied (legacy stock items, products, websites, shipments) and MSI's
// sources.
var inventoryReads = []string{"cataloginventory_stock_item", "catalog_product_entity", "store_website", "sales_shipment", "inventory_source"}

// inventoryStep is the reference tool's Inventory step (data mode). It works
// on the destination alone, after the Map step copied Magento 1's stock
// items (cataloginventory_stock_item), websites and shipments: when Magento
// 2's Inventory (MSI) modules are installed, each stock item of website 0
// becomes a source item of the default source (quantity, in-stock status,
// its product's sku), every website but admin a sales channel of stock 1,
// and every shipment is shipped from the default source. Without MSI's tables
// on the destination (the reference: without the Magento_Inventory module)
// Magento 2 keeps its inventory in cataloginventory_stock_item, which the
// Map step fills, and the step has nothing to do.
//
// The reference asks Magento 2's module list; shiplog sees the destination
// database only: MSI is there when any of its tables is, and then all must
// be. The default source is "default" (the source MSI's install creates)
// when it exists, else the first by code, as the reference reads it.
// Data leaves source items of stock items deleted in Magento 1, as the
// reference does (the delta's follower does not: see inventoryFollower); a NULL quantity becomes 0, what the reference's non-strict
// session writes into the NOT NULL column. Reservations (inventory_reservation)
// are not written, as in the reference: Magento 1 has none.
//
// Delta: the reference rewrites the source items and shipment sources of the
// stock items and shipments its change logs name. Here, at every delta start
// (DeltaStart) the step brings MSI's tables up to the destination's stock
// items and shipments as they are then (what a crash between runs left),
// and registers a follower that keeps them in step with the stock items,
// products and shipments the Map step streams, in the batch's transaction
// (inventoryFollower).
type inventoryStep struct {
	r *Runtime
	// msi: the destination has MSI's tables (found by Integrity).
	msi bool
}

// AlwaysRuns: the step's Data is idempotent and cheap (three INSERT ...
// SELECT on the destination), and it must follow the Map step's copy,
// which a later run of data mode continues.
func (s *inventoryStep) AlwaysRuns() bool { return true }

// Integrity finds whether the destination has MSI's tables and, when it
// has, checks each with the columns the step writes and the tables it
// reads, and that inventory_source has a source.
func (s *inventoryStep) Integrity(ctx context.Context, env *step.Env) ([]transform.Problem, error) {
	dp, schema := s.r.cfg.Options.DestPrefix, s.r.cfg.Destination.Database
	cols := map[string][]string{}
	for _, t := range append([]string{"inventory_source"}, inventoryNames()...) {
		c, err := tableColumns(ctx, s.r.dst, schema, dp+t)
		if err != nil {
			return nil, err
		}
		if c != nil {
			cols[t] = c
		}
	}
	s.msi = len(cols) > 0
	if !s.msi {
		if env.Log != nil {
			env.Log.Info("the destination has no Inventory (MSI) tables: Magento 2 keeps stock in cataloginventory_stock_item, which the Map step copies; the Inventory step has nothing to do", "stage", "integrity")
		}
		return nil, nil
	}
	problem := func(table, msg string, blocking bool) transform.Problem {
		return transform.Problem{Severity: transform.Error, Blocking: blocking, Area: "destination", Table: table, Msg: "Inventory step: " + msg}
	}
	var problems []transform.Problem
	for _, t := range inventoryTables {
		have, ok := cols[t.name]
		if !ok {
			problems = append(problems, problem(dp+t.name, fmt.Sprintf("the destination has Inventory (MSI) tables but not %s; install Magento 2's Inventory modules completely, or remove their tables", dp+t.name), true))
			continue
		}
		if missing := without(t.fields, have); len(missing) > 0 {
			problems = append(problems, problem(dp+t.name, fmt.Sprintf("destination document %s lacks the fields %s", dp+t.name, strings.Join(missing, ",")), true))
		}
		if extra := without(have, t.fields); len(extra) > 0 {
			problems = append(problems, problem(dp+t.name, fmt.Sprintf("destination document %s has fields the step does not fill: %s (they get their defaults)", dp+t.name, strings.Join(extra, ",")), false))
		}
	}
	for _, t := range inventoryReads {
		ok, err := tableExists(ctx, s.r.dst, schema, dp+t)
		if err != nil {
			return nil, err
		}
		if !ok {
			problems = append(problems, problem(dp+t, fmt.Sprintf("destination document %s, which the step reads, does not exist", dp+t), true))
		}
	}
	if _, ok := cols["inventory_source"]; ok {
		if _, err := s.defaultSource(ctx, s.r.dst); err != nil {
			problems = append(problems, problem(dp+"inventory_source", err.Error(), true))
		}
	}
	return problems, nil
}

func inventoryNames() []string {
	var out []string
	for _, t := range inventoryTables {
		out = append(out, t.name)
	}
	return out
}

// without returns the names of a that b lacks (case-insensitive).
func without(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.ContainsFunc(b, func(y string) bool { return strings.EqualFold(x, y) }) {
			out = append(out, x)
		}
	}
	return out
}

// tableColumns returns the columns of schema.name; nil when it does not exist.
func tableColumns(ctx context.Context, db *sql.DB, schema, name string) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", schema, name)
	if err != nil {
		return nil, fmt.Errorf("reading the columns of %s.%s: %w", schema, name, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// defaultSource is the code of the source stock items go to: "default" when
// inventory_source has it, else the first by code.
func (s *inventoryStep) defaultSource(ctx context.Context, db querier) (string, error) {
	t := rowio.QuoteIdent(s.r.cfg.Destination.Database) + "." + rowio.QuoteIdent(s.r.cfg.Options.DestPrefix+"inventory_source")
	var code string
	err := db.QueryRowContext(ctx, "SELECT source_code FROM "+t+" ORDER BY source_code = 'default' DESC, source_code LIMIT 1").Scan(&code)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%s has no source to put the stock items in (Magento 2's Inventory install creates the source \"default\"; create it, or run setup:upgrade)", s.r.cfg.Options.DestPrefix+"inventory_source")
	}
	if err != nil {
		return "", fmt.Errorf("reading the default source from %s: %w", t, err)
	}
	return code, nil
}

// inventoryCounts are the rows each statement of fill wrote.
type inventoryCounts struct {
	source   string
	items    int64
	channels int64
	shipped  int64
}

// fill writes MSI's tables from the destination's stock items, websites and
// shipments, in one destination transaction.
func (s *inventoryStep) fill(ctx context.Context) (inventoryCounts, error) {
	var c inventoryCounts
	q := func(name string) string {
		return rowio.QuoteIdent(s.r.cfg.Destination.Database) + "." + rowio.QuoteIdent(s.r.cfg.Options.DestPrefix+name)
	}
	err := s.r.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if c.source, err = s.defaultSource(ctx, tx); err != nil {
			return fmt.Errorf("Inventory step: %w", err)
		}
		exec := func(what, stmt string, args ...any) (int64, error) {
			res, err := tx.ExecContext(ctx, stmt, args...)
			if err != nil {
				return 0, fmt.Errorf("Inventory step: %s: %w", what, err)
			}
			n, _ := res.RowsAffected()
			return n, nil
		}
		// RowsAffected counts an updated row twice; the counts logged are
		// the rows read.
		if _, err = exec("filling "+q("inventory_source_item"),
			"INSERT INTO "+q("inventory_source_item")+" (source_code, quantity, status, sku)"+
				" SELECT ?, COALESCE(si.qty, 0), si.is_in_stock, p.sku FROM "+q("cataloginventory_stock_item")+" si"+
				" JOIN "+q("catalog_product_entity")+" p ON p.entity_id = si.product_id WHERE si.website_id = 0"+
				" ON DUPLICATE KEY UPDATE quantity = VALUES(quantity), status = VALUES(status)", c.source); err != nil {
			return err
		}
		if _, err = exec("clearing "+q("inventory_stock_sales_channel"), "DELETE FROM "+q("inventory_stock_sales_channel")); err != nil {
			return err
		}
		if c.channels, err = exec("filling "+q("inventory_stock_sales_channel"),
			"INSERT INTO "+q("inventory_stock_sales_channel")+" (type, code, stock_id)"+
				" SELECT 'website', code, 1 FROM "+q("store_website")+" WHERE code != 'admin'"); err != nil {
			return err
		}
		if _, err = exec("filling "+q("inventory_shipment_source"),
			"INSERT INTO "+q("inventory_shipment_source")+" (shipment_id, source_code)"+
				" SELECT entity_id, ? FROM "+q("sales_shipment")+
				" ON DUPLICATE KEY UPDATE source_code = VALUES(source_code)", c.source); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+q("inventory_source_item")+" WHERE source_code = ?", c.source).Scan(&c.items); err != nil {
			return fmt.Errorf("Inventory step: counting %s: %w", q("inventory_source_item"), err)
		}
		return tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+q("inventory_shipment_source")).Scan(&c.shipped)
	})
	return c, err
}

// Data fills MSI's tables (see inventoryStep); without them it does nothing.
func (s *inventoryStep) Data(ctx context.Context, env *step.Env) error {
	if !s.msi {
		return nil
	}
	c, err := s.fill(ctx)
	if err != nil {
		return err
	}
	env.Log.Info("inventory migrated", "stage", "data", "source", c.source, "source_items", c.items, "sales_channels", c.channels, "shipment_sources", c.shipped)
	return nil
}

// Volume compares, as the reference does, the destination's stock items
// with its source items and its shipments with its shipment sources (data
// mode; in delta mode nothing: the counts would show only what the stream
// changed since delta start).
func (s *inventoryStep) Volume(ctx context.Context, env *step.Env) error {
	if !s.msi || env.Mode == step.ModeDelta {
		return nil
	}
	count := func(name string) (int64, error) {
		var n int64
		q := "SELECT COUNT(*) FROM " + rowio.QuoteIdent(s.r.cfg.Destination.Database) + "." + rowio.QuoteIdent(s.r.cfg.Options.DestPrefix+name)
		if err := s.r.dst.QueryRowContext(ctx, q).Scan(&n); err != nil {
			return 0, fmt.Errorf("Inventory step: counting %s: %w", name, err)
		}
		return n, nil
	}
	var errs []error
	for _, p := range [][2]string{{"cataloginventory_stock_item", "inventory_source_item"}, {"sales_shipment", "inventory_shipment_source"}} {
		a, err := count(p[0])
		if err != nil {
			return err
		}
		b, err := count(p[1])
		if err != nil {
			return err
		}
		if a != b {
			errs = append(errs, fmt.Errorf("Inventory step: mismatch of entities in the document %s: %s has %d, %s %d (a stock item whose product is missing has no source item; run data mode again)",
				s.r.cfg.Options.DestPrefix+p[1], s.r.cfg.Options.DestPrefix+p[0], a, s.r.cfg.Options.DestPrefix+p[1], b))
		}
	}
	return errors.Join(errs...)
}

// DeltaStart brings MSI's tables up to the destination's stock items and
// shipments as they are when delta starts, and registers the follower that
// keeps them up while the stream runs (see inventoryStep).
func (s *inventoryStep) DeltaStart(ctx context.Context, env *step.Env) error {
	if err := s.r.dest.rows(); err != nil {
		env.Log.Warn("the Inventory step's delta does not run here: "+err.Error()+"; apply --from-kafka writes cataloginventory_stock_item and sales_shipment without following them into Magento 2's Inventory (MSI) tables inventory_source_item and inventory_shipment_source: after the last apply, bring those up with the Inventory step's data mode against Magento 2 (sink: mysql)",
			"stage", "delta")
		return nil
	}
	problems, err := s.Integrity(ctx, env)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range problems {
		if p.Blocking {
			errs = append(errs, errors.New(p.Msg))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if !s.msi {
		return nil
	}
	c, err := s.fill(ctx)
	if err != nil {
		return err
	}
	env.Log.Info("inventory caught up at delta start; the stream's stock items, products and shipments follow into MSI's tables",
		"stage", "delta", "source_items", c.items, "shipment_sources", c.shipped)
	s.r.follow(&inventoryFollower{s: s})
	return nil
}

// Delta does nothing: DeltaStart did the step's delta and registered its
// follower.
func (s *inventoryStep) Delta(context.Context, *step.Env) error { return nil }

// inventoryFollower keeps MSI's tables in step with what the stream writes,
// in the batch's transaction, as the step's Data fills them:
//   - the stock items (of website 0) of the products whose stock item or
//     product row the batch wrote get their source item in the default
//     source upserted (quantity, status, the product's sku);
//   - when the batch deletes a stock item or a product, or updates a
//     product (its sku may have changed), the source items of the default
//     source that no stock item of website 0 backs any more are deleted,
//     as a fresh migration would not have them (the reference's delta
//     leaves them: its select joins the stock items that remain; so does
//     data mode, as the reference's Data). A deleted row's image holds its
//     key alone, so this is one anti-join over the default source's items.
//     An updated stock item does not run it (stock items are updated with
//     every order): one given another product_id, which Magento never does
//     (the product is the item's identity), would leave its old product's
//     source item;
//   - the shipments the batch wrote get their shipment source (the default
//     source); a deleted shipment's goes.
type inventoryFollower struct{ s *inventoryStep }

func (*inventoryFollower) name() string { return "Inventory step" }

func (*inventoryFollower) follows(table string) bool {
	return table == "cataloginventory_stock_item" || table == "catalog_product_entity" || table == "sales_shipment"
}

func (f *inventoryFollower) follow(ctx context.Context, tx *sql.Tx, changes []cdc.Change) error {
	r := f.s.r
	q := func(name string) string {
		return rowio.QuoteIdent(r.cfg.Destination.Database) + "." + rowio.QuoteIdent(r.cfg.Options.DestPrefix+name)
	}
	in := func(vals []any) string { return "(?" + strings.Repeat(", ?", len(vals)-1) + ")" }
	exec := func(what, stmt string, args ...any) error {
		if _, err := tx.ExecContext(ctx, stmt, args...); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	source, err := f.s.defaultSource(ctx, tx)
	if err != nil {
		return err
	}
	stock, products := r.changesOf(changes, "cataloginventory_stock_item"), r.changesOf(changes, "catalog_product_entity")
	// A deleted row's image holds its key alone (the stream deletes by
	// key; the change logs have nothing more): the product of a deleted
	// stock item, or the sku a product had, is not known, so the source
	// items no stock item backs are looked for over the whole default
	// source, once a batch.
	orphans := false
	for _, c := range stock {
		orphans = orphans || c.Op == cdc.OpDelete
	}
	for _, c := range products {
		orphans = orphans || c.Op == cdc.OpDelete || c.Op == cdc.OpUpdate
	}
	if orphans {
		isi := q("inventory_source_item")
		if err := exec("deleting from "+isi+" the source items no stock item backs any more",
			"DELETE FROM "+isi+" WHERE source_code = ? AND NOT EXISTS (SELECT 1 FROM "+q("cataloginventory_stock_item")+" si JOIN "+q("catalog_product_entity")+" p ON p.entity_id = si.product_id"+
				" WHERE si.website_id = 0 AND p.sku = "+isi+".sku)", source); err != nil {
			return err
		}
	}
	if ids := append(changedValues(stock, "product_id"), changedValues(products, "entity_id")...); len(ids) > 0 {
		if err := exec("upserting "+q("inventory_source_item"),
			"INSERT INTO "+q("inventory_source_item")+" (source_code, quantity, status, sku)"+
				" SELECT ?, COALESCE(si.qty, 0), si.is_in_stock, p.sku FROM "+q("cataloginventory_stock_item")+" si"+
				" JOIN "+q("catalog_product_entity")+" p ON p.entity_id = si.product_id WHERE si.website_id = 0 AND si.product_id IN "+in(ids)+
				" ON DUPLICATE KEY UPDATE quantity = VALUES(quantity), status = VALUES(status)",
			append([]any{source}, ids...)...); err != nil {
			return err
		}
	}
	if ships := changedValues(r.changesOf(changes, "sales_shipment"), "entity_id"); len(ships) > 0 {
		if err := exec("deleting the sources of deleted shipments from "+q("inventory_shipment_source"),
			"DELETE FROM "+q("inventory_shipment_source")+" WHERE shipment_id IN "+in(ships)+
				" AND shipment_id NOT IN (SELECT entity_id FROM "+q("sales_shipment")+" WHERE entity_id IN "+in(ships)+")",
			append(append([]any{}, ships...), ships...)...); err != nil {
			return err
		}
		if err := exec("upserting "+q("inventory_shipment_source"),
			"INSERT INTO "+q("inventory_shipment_source")+" (shipment_id, source_code) SELECT entity_id, ? FROM "+q("sales_shipment")+" WHERE entity_id IN "+in(ships)+
				" ON DUPLICATE KEY UPDATE source_code = VALUES(source_code)",
			append([]any{source}, ships...)...); err != nil {
			return err
		}
	}
	return nil
}
