package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/rowio"
)

// gridRead is a destination table a grid's query reads (gridSelect) and
// the grid rows one of its rows feeds: those whose key — an expression
// of the query — equals the row's column col.
type gridRead struct {
	table, col, key string
}

// reads are the tables g's query reads, from its definition: the
// document's table by entity_id, and the order (joined by the document's
// order_id), its addresses and its payment (both by parent_id, the
// order). A document's addresses are its order's: Magento 1 puts the
// order's address ids on its invoices, shipments and credit memos, so an
// address is mapped to the documents through its order (indexed:
// order_id), not through the documents' address columns (not indexed).
// Every column of the invoice, shipment and credit memo grids that comes
// from o, ship, bill or the payment changes with the order's rows: an
// order's change refreshes its documents' grid rows too.
func (g orderGrid) reads() []gridRead {
	doc := g.alias + ".entity_id"
	order := g.alias + ".order_id"
	reads := []gridRead{{table: g.entity, col: "entity_id", key: doc}}
	if g.entity == gridOrders {
		order = doc
	} else {
		reads = append(reads, gridRead{table: gridOrders, col: "entity_id", key: order})
	}
	return append(reads, gridRead{table: gridAddresses, col: "parent_id", key: order}, gridRead{table: gridPayments, col: "parent_id", key: order})
}

// gridIn is "expr IN (?, ...)" for n values.
func gridIn(expr string, n int) string {
	return expr + " IN (?" + strings.Repeat(", ?", n-1) + ")"
}

// gridPages calls fn with ids, gridPage at a time.
func gridPages(ids []any, fn func(page []any) error) error {
	for len(ids) > 0 {
		n := min(len(ids), gridPage)
		if err := fn(ids[:n]); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// gridFollower is the OrderGrids step's delta while the stream runs (a
// follower): in the destination transaction of each batch that writes a
// table some grid reads, the grid rows of the documents whose rows the
// batch wrote are upserted again from the sales tables as the batch left
// them (gridInsert for those ids), and those of documents the batch
// deleted are deleted.
//
// Deleting is not what the reference's delta does: it upserts the grid
// rows of the changed ids, so a deleted document's select finds nothing
// and its grid row stays. Magento 1's grids drop a document's row with it
// (their entity_id is a foreign key ON DELETE CASCADE to the document), so
// a fresh data-mode migration of the final source — which builds the rows
// Magento 1's grids list — has no row for it; keeping it would leave the
// destination different from that migration.
type gridFollower struct {
	r *Runtime
	// cols are each grid's destination columns, in orderGrids order.
	cols [][]string
	log  *slog.Logger
	// tables are the destination tables the grids read (without prefix).
	tables map[string]bool
}

func newGridFollower(r *Runtime, cols [][]string, log *slog.Logger) *gridFollower {
	f := &gridFollower{r: r, cols: cols, log: log, tables: map[string]bool{}}
	for _, g := range orderGrids {
		for _, rd := range g.reads() {
			f.tables[rd.table] = true
		}
	}
	return f
}

func (f *gridFollower) name() string              { return "OrderGrids step" }
func (f *gridFollower) follows(table string) bool { return f.tables[table] }

// followedTables are the followed tables' names, sorted (for the log).
func (f *gridFollower) followedTables() []string {
	var out []string
	for t := range f.tables {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// follow upserts, grid by grid, the rows the changes feed (a page of ids
// per statement), then deletes the rows of the grid's documents the
// changes deleted (or moved to another id) that the destination no
// longer holds. Idempotent: it reads the tables as they stand in tx.
func (f *gridFollower) follow(ctx context.Context, tx *sql.Tx, changes []cdc.Change) error {
	dp := f.r.cfg.Options.DestPrefix
	vals := map[gridRead][]any{}
	for _, g := range orderGrids {
		for _, rd := range g.reads() {
			if _, ok := vals[rd]; ok {
				continue
			}
			v, err := f.values(ctx, tx, changes, rd)
			if err != nil {
				return err
			}
			vals[rd] = v
		}
	}
	for i, g := range orderGrids {
		// The ids each key expression of g's query selects, distinct.
		var keys []string
		ids := map[string][]any{}
		seen := map[string]bool{}
		for _, rd := range g.reads() {
			if _, ok := ids[rd.key]; !ok {
				keys = append(keys, rd.key)
				ids[rd.key] = nil
			}
			for _, v := range vals[rd] {
				k := rd.key + "\x00" + keyString(v)
				if !seen[k] {
					seen[k] = true
					ids[rd.key] = append(ids[rd.key], v)
				}
			}
		}
		for _, key := range keys {
			err := gridPages(ids[key], func(page []any) error {
				if _, err := tx.ExecContext(ctx, gridInsert(g, f.cols[i], dp, gridIn(key, len(page))), page...); err != nil {
					return fmt.Errorf("refreshing %s for the documents with %s: %w", dp+g.dest, gridIn(key, len(page)), err)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		var gone []cdc.Change
		for _, c := range f.r.changesOf(changes, g.entity) {
			if c.Op == cdc.OpDelete || c.Op == cdc.OpUpdate {
				gone = append(gone, c)
			}
		}
		del := "DELETE gr FROM " + rowio.QuoteIdent(dp+g.dest) + " AS gr LEFT JOIN " + rowio.QuoteIdent(dp+g.entity) +
			" AS d ON d.entity_id = gr.entity_id WHERE d.entity_id IS NULL AND "
		err := gridPages(changedValues(gone, "entity_id"), func(page []any) error {
			if _, err := tx.ExecContext(ctx, del+gridIn("gr.entity_id", len(page)), page...); err != nil {
				return fmt.Errorf("deleting the %s rows of documents deleted from %s: %w", dp+g.dest, dp+g.entity, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// keyString is v's form for comparing ids (as changedValues compares).
func keyString(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return fmt.Sprint(v)
}

// values are the distinct values of rd.col in the changes of rd.table.
// A row whose change does not carry the column — an OpSet that does not
// set it — is read in tx by its entity_id. A delete without it is one the
// change-log source logged by its key alone (the binlog's before image is
// whole: there the column is NULL, and the row fed no grid row): the grid
// rows it fed are not found, and a warning says so.
func (f *gridFollower) values(ctx context.Context, tx *sql.Tx, changes []cdc.Change, rd gridRead) ([]any, error) {
	mine := f.r.changesOf(changes, rd.table)
	out := changedValues(mine, rd.col)
	if strings.EqualFold(rd.col, "entity_id") {
		return out, nil
	}
	var lookup, lost []any
	for _, c := range mine {
		col, key := c.Table.ColumnIndex(rd.col), c.Table.ColumnIndex("entity_id")
		if col < 0 || key < 0 {
			continue
		}
		switch {
		case c.Op == cdc.OpSet && !slices.Contains(c.Table.Key, col) && !slices.Contains(c.Set, col):
			lookup = append(lookup, c.After[key])
		case c.Op == cdc.OpDelete && c.Before[col] == nil && f.r.cfg.Delta.Source == config.DeltaTriggers:
			lost = append(lost, c.Before[key])
		}
	}
	if len(lost) > 0 {
		f.log.Warn(fmt.Sprintf("OrderGrids step: %d row(s) of %s deleted (entity_id %v) come from the change-log triggers without their %s (a delete is logged by its key): if their orders stay, the orders' grid rows keep what those rows gave them until the next delta run starts (its refresh rebuilds every grid row)",
			len(lost), f.r.cfg.Options.DestPrefix+rd.table, lost, rd.col), "stage", "delta")
	}
	q := "SELECT DISTINCT " + rowio.QuoteIdent(rd.col) + " FROM " + rowio.QuoteIdent(f.r.cfg.Options.DestPrefix+rd.table) + " WHERE "
	err := gridPages(lookup, func(page []any) error {
		rows, err := tx.QueryContext(ctx, q+gridIn("entity_id", len(page))+" AND "+rowio.QuoteIdent(rd.col)+" IS NOT NULL", page...)
		if err != nil {
			return fmt.Errorf("reading the %s of changed %s rows: %w", rd.col, f.r.cfg.Options.DestPrefix+rd.table, err)
		}
		defer rows.Close()
		for rows.Next() {
			var v any
			if err := rows.Scan(&v); err != nil {
				return err
			}
			out = append(out, v)
		}
		return rows.Err()
	})
	return out, err
}
