package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// orderGrid is one Magento 2 sales grid: the reference rebuilds it from the
// migrated sales tables for the documents Magento 1's grid (source) lists.
type orderGrid struct {
	source, dest string // Magento 1's grid, Magento 2's (without prefixes)
	// entity is the Magento 2 sales table a grid row is built from, by its
	// entity_id; alias is its name in the query.
	entity, alias string
	// columns are the SQL expressions of the grid's columns the reference
	// fills; a grid column not listed here is NULL.
	columns map[string]string
}

// SQL expressions over the query's tables: o is the order, ship and bill
// its (or the document's) shipping and billing addresses.
func gridName(a string) string {
	return fmt.Sprintf("TRIM(CONCAT(IFNULL(%[1]s.firstname, ''), ' ', IFNULL(%[1]s.lastname, '')))", a)
}

func gridAddress(a string) string {
	return fmt.Sprintf("TRIM(CONCAT(IFNULL(%[1]s.street, ''), ', ', IFNULL(%[1]s.city, ''), ', ', IFNULL(%[1]s.region, ''), ', ', IFNULL(%[1]s.postcode, '')))", a)
}

const (
	gridCustomerName = "TRIM(CONCAT(IFNULL(o.customer_firstname, ''), ' ', IFNULL(o.customer_lastname, '')))"
	// gridPayment is filled in with the payment table's quoted name.
	gridPayment = "(SELECT pay.method FROM %s AS pay WHERE pay.parent_id = o.entity_id LIMIT 1)"
)

// The sales tables every grid's query reads besides its document's own
// (gridSelect): the order o, its addresses ship and bill, its payment.
const (
	gridOrders    = "sales_order"
	gridAddresses = "sales_order_address"
	gridPayments  = "sales_order_payment"
)

// orderGrids are the four grids, in the reference's order, with the
// columns its OrderGrids step fills (src/Migration/Step/OrderGrids/Helper.php).
var orderGrids = []orderGrid{
	{source: "sales_flat_order_grid", dest: "sales_order_grid", entity: gridOrders, alias: "o", columns: map[string]string{
		"entity_id": "o.entity_id", "status": "o.status", "store_id": "o.store_id", "store_name": "o.store_name",
		"customer_id": "o.customer_id", "base_grand_total": "o.base_grand_total", "base_total_paid": "o.base_total_paid",
		"grand_total": "o.grand_total", "total_paid": "o.total_paid", "increment_id": "o.increment_id",
		"base_currency_code": "o.base_currency_code", "order_currency_code": "o.order_currency_code",
		"shipping_name": gridName("ship"), "billing_name": gridName("bill"),
		"created_at": "o.created_at", "updated_at": "o.updated_at",
		"billing_address": gridAddress("bill"), "shipping_address": gridAddress("ship"),
		"shipping_information": "o.shipping_description", "customer_email": "o.customer_email",
		"customer_group": "o.customer_group_id", "subtotal": "o.base_subtotal",
		"shipping_and_handling": "o.base_shipping_amount", "customer_name": gridCustomerName,
		"payment_method": gridPayment, "total_refunded": "o.total_refunded",
	}},
	{source: "sales_flat_invoice_grid", dest: "sales_invoice_grid", entity: "sales_invoice", alias: "d", columns: map[string]string{
		"entity_id": "d.entity_id", "increment_id": "d.increment_id", "state": "d.state", "store_id": "d.store_id",
		"store_name": "o.store_name", "order_id": "d.order_id", "order_increment_id": "o.increment_id",
		"order_created_at": "o.created_at", "customer_name": gridCustomerName, "customer_email": "o.customer_email",
		"customer_group_id": "o.customer_group_id", "payment_method": gridPayment,
		"store_currency_code": "d.store_currency_code", "order_currency_code": "d.order_currency_code",
		"base_currency_code": "d.base_currency_code", "global_currency_code": "d.global_currency_code",
		"billing_name": gridName("bill"), "billing_address": gridAddress("bill"), "shipping_address": gridAddress("ship"),
		"shipping_information": "o.shipping_description", "subtotal": "o.base_subtotal",
		"shipping_and_handling": "o.base_shipping_amount", "grand_total": "d.grand_total",
		"base_grand_total": "d.base_grand_total", "created_at": "d.created_at", "updated_at": "d.updated_at",
	}},
	{source: "sales_flat_shipment_grid", dest: "sales_shipment_grid", entity: "sales_shipment", alias: "d", columns: map[string]string{
		"entity_id": "d.entity_id", "increment_id": "d.increment_id", "store_id": "d.store_id",
		"order_increment_id": "o.increment_id", "order_id": "d.order_id", "order_created_at": "o.created_at",
		"customer_name": gridCustomerName, "total_qty": "d.total_qty", "shipment_status": "d.shipment_status",
		"order_status": "o.status", "billing_address": gridAddress("bill"), "shipping_address": gridAddress("ship"),
		"billing_name": gridName("bill"), "shipping_name": gridName("ship"), "customer_email": "o.customer_email",
		"customer_group_id": "o.customer_group_id", "payment_method": gridPayment,
		"shipping_information": "o.shipping_description", "created_at": "d.created_at", "updated_at": "d.updated_at",
	}},
	{source: "sales_flat_creditmemo_grid", dest: "sales_creditmemo_grid", entity: "sales_creditmemo", alias: "d", columns: map[string]string{
		"entity_id": "d.entity_id", "increment_id": "d.increment_id", "created_at": "d.created_at", "updated_at": "d.updated_at",
		"order_id": "o.entity_id", "order_increment_id": "o.increment_id", "order_created_at": "o.created_at",
		"billing_name": gridName("bill"), "state": "d.state", "base_grand_total": "d.base_grand_total",
		"order_status": "o.status", "store_id": "d.store_id", "billing_address": gridAddress("bill"),
		"shipping_address": gridAddress("ship"), "customer_name": gridCustomerName, "customer_email": "o.customer_email",
		"customer_group_id": "o.customer_group_id", "payment_method": gridPayment,
		"shipping_information": "o.shipping_description", "subtotal": "d.subtotal",
		"shipping_and_handling": "d.shipping_amount", "adjustment_positive": "d.adjustment_positive",
		"adjustment_negative": "d.adjustment_negative", "order_base_grand_total": "o.base_grand_total",
	}},
}

// gridSelect is the SELECT of g's rows over the destination's sales tables
// (names with prefix), one column per grid column of cols, in order (NULL
// for those the reference does not fill), followed by where.
func gridSelect(g orderGrid, cols []string, prefix, where string) string {
	q := func(t string) string { return rowio.QuoteIdent(prefix + t) }
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		expr, ok := g.columns[strings.ToLower(c)]
		switch {
		case !ok:
			expr = "NULL"
		case expr == gridPayment:
			expr = fmt.Sprintf(gridPayment, q(gridPayments))
		}
		b.WriteString(expr + " AS " + rowio.QuoteIdent(c))
	}
	b.WriteString(" FROM " + q(g.entity) + " AS " + g.alias)
	addrOf := g.alias
	if g.entity != gridOrders {
		b.WriteString(" LEFT JOIN " + q(gridOrders) + " AS o ON " + g.alias + ".order_id = o.entity_id")
	}
	b.WriteString(" LEFT JOIN " + q(gridAddresses) + " AS ship ON " + addrOf + ".shipping_address_id = ship.entity_id")
	b.WriteString(" LEFT JOIN " + q(gridAddresses) + " AS bill ON " + addrOf + ".billing_address_id = bill.entity_id")
	if where != "" {
		b.WriteString(" WHERE " + where)
	}
	return b.String()
}

// gridInsert is the statement that writes g's rows for the documents
// where selects (an upsert, as the reference's: a row there is replaced).
func gridInsert(g orderGrid, cols []string, prefix, where string) string {
	quoted := make([]string, len(cols))
	updates := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = rowio.QuoteIdent(c)
		updates[i] = quoted[i] + " = VALUES(" + quoted[i] + ")"
	}
	return "INSERT INTO " + rowio.QuoteIdent(prefix+g.dest) + " (" + strings.Join(quoted, ", ") + ") " +
		gridSelect(g, cols, prefix, where) + " ON DUPLICATE KEY UPDATE " + strings.Join(updates, ", ")
}

// gridPage is how many documents one grid statement writes.
const gridPage = 5000

// orderGridsStep is the reference's OrderGrids step (data mode, and delta):
// Magento 2's sales_order_grid, sales_invoice_grid, sales_shipment_grid and
// sales_creditmemo_grid are cleared and rebuilt, by SQL joins over the
// sales tables the Map step migrated, for the documents Magento 1's grids
// list (the rows are Magento 2's, not Magento 1's grid rows). Each grid is
// rebuilt in one destination transaction.
//
// Not done as in the reference: its direct_document_copy option (one
// statement across both databases) is not read — the documents are always
// paged from the source's grid.
type orderGridsStep struct {
	r *Runtime
	// cols are each grid's destination columns (Integrity), in orderGrids
	// order.
	cols [][]string
	// absent: the source has none of Magento 1's grids (a partial
	// database); the step does nothing.
	absent bool
}

// AlwaysRuns: the Map step copies the sales tables again on a run again
// (it resumes or starts over), so the grids are rebuilt after it.
func (s *orderGridsStep) AlwaysRuns() bool { return true }

// Integrity checks that the destination keeps Magento 2's rows (not sink:
// kafka), that the source's and destination's grids exist, and that every
// grid's query compiles against the destination's sales tables (run with
// no rows: a missing table or column is named by the server).
func (s *orderGridsStep) Integrity(ctx context.Context, _ *step.Env) ([]transform.Problem, error) {
	if err := s.r.dest.rows(); err != nil {
		return []transform.Problem{{Severity: transform.Error, Area: "destination", Table: "sales_order_grid", Blocking: true,
			Msg: fmt.Sprintf("the OrderGrids step builds Magento 2's sales grids itself and cannot run here: %v; run with sink: mysql, or leave the OrderGrids Step out of config.xml", err)}}, nil
	}
	sp, dp := s.r.cfg.Options.SourcePrefix, s.r.cfg.Options.DestPrefix
	var problems []transform.Problem
	s.cols, s.absent = make([][]string, len(orderGrids)), false
	srcCols := make([][]string, len(orderGrids))
	found := false
	for i, g := range orderGrids {
		cols, err := salesColumns(ctx, s.r.src, sp+g.source)
		if err != nil {
			return nil, err
		}
		srcCols[i], found = cols, found || len(cols) > 0
	}
	if !found {
		// Not a Magento 1 sales schema (a partial database), as the
		// Customer Attributes step treats one without customers.
		s.cols, s.absent = nil, true
		return []transform.Problem{{Severity: transform.Warning, Area: "source", Table: sp + orderGrids[0].source,
			Msg: fmt.Sprintf("OrderGrids step: the source has none of Magento 1's sales grids (%s, ...): no grids to rebuild; Magento 2's are left as they are (the reference stops here)", sp+orderGrids[0].source)}}, nil
	}
	ok := true
	for i, g := range orderGrids {
		if !containsFold(srcCols[i], "entity_id") {
			problems = append(problems, transform.Problem{Severity: transform.Error, Blocking: true, Area: "source", Table: sp + g.source,
				Msg: fmt.Sprintf("OrderGrids step: source document %s (or its entity_id) does not exist; the step rebuilds %s for the documents it lists", sp+g.source, dp+g.dest)})
			ok = false
		}
		cols, err := salesColumns(ctx, s.r.dst, dp+g.dest)
		if err != nil {
			return nil, err
		}
		if !containsFold(cols, "entity_id") {
			problems = append(problems, transform.Problem{Severity: transform.Error, Blocking: true, Area: "destination", Table: dp + g.dest,
				Msg: fmt.Sprintf("OrderGrids step: destination document %s (or its entity_id) does not exist", dp+g.dest)})
			ok = false
			continue
		}
		s.cols[i] = cols
		if _, err := s.r.dst.ExecContext(ctx, "SELECT COUNT(*) FROM ("+gridSelect(g, cols, dp, "1 = 0")+") AS probe"); err != nil {
			problems = append(problems, transform.Problem{Severity: transform.Error, Blocking: true, Area: "destination", Table: dp + g.dest,
				Msg: fmt.Sprintf("OrderGrids step: %s cannot be built from the destination's sales tables: %v", dp+g.dest, err)})
			ok = false
		}
	}
	if !ok {
		s.cols = nil
	}
	return problems, nil
}

// Data clears each grid and writes the rows of the documents the source's
// grid lists, page by page, in one transaction per grid.
func (s *orderGridsStep) Data(ctx context.Context, env *step.Env) error {
	if s.absent {
		env.Log.Info("no order grids to rebuild: the source has none of Magento 1's sales grids", "stage", "data")
		return nil
	}
	if s.cols == nil {
		return errors.New("OrderGrids step: no plan (its integrity stage did not run or failed)")
	}
	sp, dp := s.r.cfg.Options.SourcePrefix, s.r.cfg.Options.DestPrefix
	for i, g := range orderGrids {
		n := 0
		err := s.r.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+rowio.QuoteIdent(dp+g.dest)); err != nil {
				return fmt.Errorf("OrderGrids step: clearing %s: %w", dp+g.dest, err)
			}
			return gridIDPages(ctx, s.r.src, sp+g.source, func(ids []any) error {
				where := g.alias + ".entity_id IN (?" + strings.Repeat(", ?", len(ids)-1) + ")"
				if _, err := tx.ExecContext(ctx, gridInsert(g, s.cols[i], dp, where), ids...); err != nil {
					return fmt.Errorf("OrderGrids step: building %s: %w", dp+g.dest, err)
				}
				n += len(ids)
				return nil
			})
		})
		if err != nil {
			return err
		}
		env.Log.Info("order grid rebuilt", "stage", "data", "table", dp+g.dest, "documents", n)
	}
	return nil
}

// gridIDPages calls fn with the entity ids of table, gridPage at a time,
// in order.
func gridIDPages(ctx context.Context, db *sql.DB, table string, fn func(ids []any) error) error {
	var after int64 = -1
	for {
		rows, err := db.QueryContext(ctx, "SELECT entity_id FROM "+rowio.QuoteIdent(table)+" WHERE entity_id > ? ORDER BY entity_id LIMIT ?", after, gridPage)
		if err != nil {
			return fmt.Errorf("OrderGrids step: reading %s: %w", table, err)
		}
		var ids []any
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
			after = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("OrderGrids step: reading %s: %w", table, err)
		}
		if len(ids) == 0 {
			return nil
		}
		if err := fn(ids); err != nil {
			return err
		}
		if len(ids) < gridPage {
			return nil
		}
	}
}

// Volume compares each grid's rows with the source grid's, as the
// reference does (data mode; in delta mode the counts would only show the
// source's changes).
func (s *orderGridsStep) Volume(ctx context.Context, env *step.Env) error {
	if env.Mode == step.ModeDelta || s.absent {
		return nil
	}
	sp, dp := s.r.cfg.Options.SourcePrefix, s.r.cfg.Options.DestPrefix
	var errs []error
	for _, g := range orderGrids {
		var sc, dc int64
		if err := s.r.src.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+rowio.QuoteIdent(sp+g.source)).Scan(&sc); err != nil {
			return fmt.Errorf("OrderGrids step: counting %s: %w", sp+g.source, err)
		}
		if err := s.r.dst.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+rowio.QuoteIdent(dp+g.dest)).Scan(&dc); err != nil {
			return fmt.Errorf("OrderGrids step: counting %s: %w", dp+g.dest, err)
		}
		if sc != dc {
			errs = append(errs, fmt.Errorf("OrderGrids step: mismatch of entities in the document %s: source %s has %d, destination %d (a grid row whose document the Map step did not migrate is missing; run data mode again)",
				dp+g.dest, sp+g.source, sc, dc))
		}
	}
	return errors.Join(errs...)
}

// DeltaStart (step.DeltaStarter) rebuilds, once when delta mode starts,
// the grid rows of every document the destination's sales tables hold
// (upserted, a page of ids at a time) and deletes those of documents it
// no longer holds — what apply --from-kafka, or an OrderGrids step left
// out of an earlier run, left behind — then registers the
// follower that keeps them in step with what this run streams
// (gridFollower).
func (s *orderGridsStep) DeltaStart(ctx context.Context, env *step.Env) error {
	if s.cols == nil {
		problems, err := s.Integrity(ctx, env)
		if err != nil {
			return err
		}
		if s.absent {
			env.Log.Warn("OrderGrids step: the source has none of Magento 1's sales grids: no grids to refresh", "stage", "delta")
			return nil
		}
		if s.cols == nil {
			msgs := make([]string, len(problems))
			for i, p := range problems {
				msgs[i] = p.Msg
			}
			return fmt.Errorf("OrderGrids step (delta): %s", strings.Join(msgs, "; "))
		}
	}
	dp := s.r.cfg.Options.DestPrefix
	for i, g := range orderGrids {
		n := 0
		err := gridIDPages(ctx, s.r.dst, dp+g.entity, func(ids []any) error {
			if _, err := s.r.dst.ExecContext(ctx, gridInsert(g, s.cols[i], dp, gridIn(g.alias+".entity_id", len(ids))), ids...); err != nil {
				return fmt.Errorf("OrderGrids step: refreshing %s: %w", dp+g.dest, err)
			}
			n += len(ids)
			return nil
		})
		if err != nil {
			return err
		}
		// Rows of documents the destination no longer holds go, as the
		// follower's (gridFollower says why).
		res, err := s.r.dst.ExecContext(ctx, "DELETE gr FROM "+rowio.QuoteIdent(dp+g.dest)+" AS gr LEFT JOIN "+rowio.QuoteIdent(dp+g.entity)+
			" AS d ON d.entity_id = gr.entity_id WHERE d.entity_id IS NULL")
		if err != nil {
			return fmt.Errorf("OrderGrids step: deleting the %s rows of documents %s no longer holds: %w", dp+g.dest, dp+g.entity, err)
		}
		gone, _ := res.RowsAffected()
		env.Log.Info("order grid refreshed from the sales tables", "stage", "delta", "table", dp+g.dest, "documents", n, "deleted", gone)
	}
	f := newGridFollower(s.r, s.cols, env.Log)
	s.r.follow(f)
	env.Log.Info("order grids follow the stream: each batch that writes these tables refreshes the grid rows of its documents in its transaction",
		"stage", "delta", "tables", strings.Join(f.followedTables(), ","))
	if s.r.cfg.Sink == "both" {
		env.Log.Warn("the OrderGrids step keeps the grids of this destination only: apply --from-kafka writes the sales tables published to Kafka without following them into the grids (sales_order_grid, sales_invoice_grid, sales_shipment_grid, sales_creditmemo_grid): a destination it writes has its grids refreshed only when this step's delta starts against it (migrate delta with sink: mysql or both)",
			"stage", "delta")
	}
	return nil
}

// Delta does nothing more: the work is DeltaStart's (step.DeltaStarter)
// and its follower's.
func (s *orderGridsStep) Delta(context.Context, *step.Env) error { return nil }
