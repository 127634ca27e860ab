package pipeline

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/config"
)

// TestGridReadsAreTheQueriesTables: the tables the follower follows are
// derived from the grid definitions, and are exactly the tables each
// grid's query (gridSelect) reads — a join added to the query without its
// read would leave the grid behind the stream. Each read's key is a column
// of the query's document (d or o), and the document's own table is read
// by entity_id.
func TestGridReadsAreTheQueriesTables(t *testing.T) {
	table := regexp.MustCompile("(?:FROM|JOIN) `p_([a-z_]+)`")
	for _, g := range orderGrids {
		cols := []string{"entity_id", "payment_method", "billing_name", "shipping_name", "customer_name"}
		var queried []string
		for _, m := range table.FindAllStringSubmatch(gridSelect(g, cols, "p_", "1 = 0"), -1) {
			if !slices.Contains(queried, m[1]) {
				queried = append(queried, m[1])
			}
		}
		var read []string
		for _, rd := range g.reads() {
			if !slices.Contains(read, rd.table) {
				read = append(read, rd.table)
			}
			if !strings.HasPrefix(rd.key, g.alias+".") {
				t.Errorf("%s: read of %s keyed by %s, not a column of the document %s", g.dest, rd.table, rd.key, g.alias)
			}
			if rd.table == g.entity && (rd.col != "entity_id" || rd.key != g.alias+".entity_id") {
				t.Errorf("%s: its document %s is read by %s = %s, want entity_id = %s.entity_id", g.dest, rd.table, rd.col, rd.key, g.alias)
			}
		}
		slices.Sort(queried)
		slices.Sort(read)
		if !slices.Equal(queried, read) {
			t.Errorf("%s: the query reads %v, the follower follows %v", g.dest, queried, read)
		}
	}
	f := newGridFollower(&Runtime{cfg: &config.Config{}}, nil, slog.Default())
	if got, want := strings.Join(f.followedTables(), ","), "sales_creditmemo,sales_invoice,sales_order,sales_order_address,sales_order_payment,sales_shipment"; got != want {
		t.Errorf("followed tables %s, want %s", got, want)
	}
	for _, c := range []struct {
		table string
		want  bool
	}{
		{"sales_order", true}, {"sales_order_address", true}, {"sales_invoice", true},
		// Written by the follower itself, or read by no grid.
		{"sales_order_grid", false}, {"sales_order_item", false}, {"sales_invoice_item", false}, {"", false},
	} {
		if got := f.follows(c.table); got != c.want {
			t.Errorf("follows(%q) = %v, want %v", c.table, got, c.want)
		}
	}
}

// TestGridFollowerParentOfDeletes: an address or payment delete maps to
// its order by the before image's parent_id. The change-log source logs a
// delete by its key alone: the order cannot be found, and a warning says
// which rows' orders keep their old grid rows until the next delta start;
// through the binlog (whole before images) a NULL parent_id fed no grid
// row, and nothing is said. Deletes need no read of the destination (nil
// tx).
func TestGridFollowerParentOfDeletes(t *testing.T) {
	addr := &cdc.Table{Name: "m2_sales_order_address", Columns: []cdc.Column{{Name: "entity_id"}, {Name: "parent_id"}, {Name: "firstname"}}, Key: []int{0}}
	for _, c := range []struct {
		name, source string
		changes      []cdc.Change
		want         string
		warn         string
	}{
		{"binlog delete", config.DeltaBinlog, []cdc.Change{{Op: cdc.OpDelete, Table: addr, Before: []any{int64(7), int64(3), []byte("Cy")}}}, "3", ""},
		{"binlog delete of an address of no order", config.DeltaBinlog, []cdc.Change{{Op: cdc.OpDelete, Table: addr, Before: []any{int64(7), nil, nil}}}, "", ""},
		{"change-log delete by its key", config.DeltaTriggers, []cdc.Change{{Op: cdc.OpDelete, Table: addr, Before: []any{int64(7), nil, nil}}},
			"", "1 row(s) of m2_sales_order_address deleted (entity_id [7]) come from the change-log triggers without their parent_id"},
		{"change-log delete cascaded (whole, read from the destination)", config.DeltaTriggers, []cdc.Change{{Op: cdc.OpDelete, Table: addr, Before: []any{int64(7), int64(4), nil}}}, "4", ""},
		{"an update moving an address between orders feeds both", config.DeltaBinlog,
			[]cdc.Change{{Op: cdc.OpUpdate, Table: addr, Before: []any{int64(7), int64(3), nil}, After: []any{int64(7), int64(5), nil}}}, "3 5", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var log bytes.Buffer
			r := &Runtime{cfg: &config.Config{Options: config.Options{DestPrefix: "m2_"}, Delta: config.Delta{Source: c.source}}}
			f := newGridFollower(r, nil, slog.New(slog.NewTextHandler(&log, nil)))
			got, err := f.values(context.Background(), nil, c.changes, gridRead{table: gridAddresses, col: "parent_id", key: "o.entity_id"})
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, v := range got {
				s = append(s, keyString(v))
			}
			if strings.Join(s, " ") != c.want {
				t.Errorf("orders %v, want %s", s, c.want)
			}
			if c.warn == "" && log.Len() > 0 {
				t.Errorf("logged %s", log.String())
			}
			if c.warn != "" && (!strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), c.warn)) {
				t.Errorf("logged %q, want a warning with %q", log.String(), c.warn)
			}
		})
	}
}
