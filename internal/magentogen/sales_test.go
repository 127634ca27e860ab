package magentogen

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// row is one parsed row: column -> value (nil for NULL).
type row map[string]any

// parseInserts reads the generator's statements back, independently of the
// builder: table -> rows. UPDATE statements are returned apart.
func parseInserts(t *testing.T, stmts []string) (map[string][]row, []string) {
	t.Helper()
	head := regexp.MustCompile("(?s)^INSERT INTO `([^`]+)` \\(([^)]*)\\) VALUES\n(.*)$")
	out := map[string][]row{}
	var other []string
	for _, s := range stmts {
		m := head.FindStringSubmatch(s)
		if m == nil {
			other = append(other, s)
			continue
		}
		cols := strings.Split(m[2], ", ")
		for _, vals := range parseTuples(t, m[3]) {
			if len(vals) != len(cols) {
				t.Fatalf("%s: %d values for %d columns", m[1], len(vals), len(cols))
			}
			r := row{}
			for i, c := range cols {
				r[c] = vals[i]
			}
			out[m[1]] = append(out[m[1]], r)
		}
	}
	return out, other
}

// parseTuples parses a VALUES list of tuples: strings unquoted (a quote
// inside doubled, a backslash escaping), numbers kept as their text, NULL
// as nil.
func parseTuples(t *testing.T, s string) [][]any {
	t.Helper()
	var rows [][]any
	var cur []any
	i := 0
	for i < len(s) {
		switch c := s[i]; {
		case c == '(' || c == ' ' || c == ',' || c == '\n':
			i++
		case c == ')':
			rows, cur = append(rows, cur), nil
			i++
		case c == '\'':
			var b strings.Builder
			i++
			for {
				if i >= len(s) {
					t.Fatalf("unterminated string in %q", s)
				}
				if s[i] == '\\' {
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			cur = append(cur, b.String())
		default:
			j := i
			for j < len(s) && s[j] != ',' && s[j] != ')' {
				j++
			}
			if v := s[i:j]; v == "NULL" {
				cur = append(cur, nil)
			} else {
				cur = append(cur, v)
			}
			i = j
		}
	}
	return rows
}

func num(t *testing.T, v any) float64 {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("not a number: %#v", v)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func str(v any) string {
	if v == nil {
		return "NULL"
	}
	return v.(string)
}

// byID indexes rows by a column.
func byID(rows []row, col string) map[string]row {
	out := map[string]row{}
	for _, r := range rows {
		out[str(r[col])] = r
	}
	return out
}

// Without Options.Orders the store has no sales rows at all (the tests that
// used it before orders existed see the same rows).
func TestNoOrdersByDefault(t *testing.T) {
	got, other := parseInserts(t, Magento1(Options{}))
	if len(other) != 0 {
		t.Errorf("statements other than INSERTs: %q", other)
	}
	for table := range got {
		if strings.HasPrefix(table, "sales_") || table == "eav_entity_store" {
			t.Errorf("%s has rows without orders", table)
		}
	}
	for _, r := range got["eav_entity_type"] {
		if id := num(t, r["entity_type_id"]); id > TypeProduct {
			t.Errorf("entity type %v (%v) without orders", id, r["entity_type_code"])
		}
	}
}

// A store of 240 orders: counts, grids against their documents, increment
// ids per store, eav_entity_store, and the references between rows.
func TestOrdersAndTheirDocumentsAreConsistent(t *testing.T) {
	opt := Options{Products: 60, Customers: 20, Orders: 240}
	tables, other := parseInserts(t, Magento1(opt))

	// Counts: 80 orders per store (k = 0..79): invoiced unless k%4 == 3
	// (60), shipped when k%4 < 2 (40), refunded when k%20 == 2 (4).
	for table, want := range map[string]int{
		"sales_flat_order": 240, "sales_flat_order_grid": 240, "sales_flat_order_payment": 240, "sales_flat_order_address": 480,
		"sales_flat_invoice": 180, "sales_flat_invoice_grid": 180, "sales_flat_shipment": 120, "sales_flat_shipment_grid": 120,
		"sales_flat_shipment_track": 120, "sales_flat_creditmemo": 12, "sales_flat_creditmemo_grid": 12, "sales_flat_creditmemo_comment": 12,
		"eav_entity_store": 12,
	} {
		if got := len(tables[table]); got != want {
			t.Errorf("%s: %d rows, want %d", table, got, want)
		}
	}
	if n := len(tables["sales_flat_order_item"]); n < 240 || n > 3*240 {
		t.Errorf("%d order items for 240 orders", n)
	}

	orders := byID(tables["sales_flat_order"], "entity_id")
	items := map[string][]row{}
	for _, it := range tables["sales_flat_order_item"] {
		items[str(it["order_id"])] = append(items[str(it["order_id"])], it)
		if p := num(t, it["product_id"]); p < 1 || p > 60 {
			t.Errorf("order item %v: product %v of 60", it["item_id"], p)
		}
	}
	addresses := byID(tables["sales_flat_order_address"], "entity_id")
	docs := map[string]map[string]row{}
	for _, d := range []string{"invoice", "shipment", "creditmemo"} {
		docs[d] = byID(tables["sales_flat_"+d], "entity_id")
	}
	for id, o := range orders {
		its := items[id]
		if len(its) == 0 {
			t.Fatalf("order %s has no items", id)
		}
		var sum float64
		for _, it := range its {
			sum += num(t, it["row_total"])
		}
		if got, want := num(t, o["grand_total"]), sum+num(t, o["shipping_amount"]); got != want {
			t.Errorf("order %s: grand_total %v, items + shipping %v", id, got, want)
		}
		if num(t, o["total_item_count"]) != float64(len(its)) {
			t.Errorf("order %s: total_item_count %v, %d items", id, o["total_item_count"], len(its))
		}
		for col, typ := range map[string]string{"billing_address_id": "billing", "shipping_address_id": "shipping"} {
			a := addresses[str(o[col])]
			if a == nil || str(a["parent_id"]) != id || str(a["address_type"]) != typ {
				t.Errorf("order %s: %s %v is not its %s address (%v)", id, col, o[col], typ, a)
			}
		}
		if c := o["customer_id"]; c != nil {
			cid := num(t, c)
			if cid < 1 || cid > 20 {
				t.Errorf("order %s: customer %v of 20", id, cid)
			}
			// A customer of the outlet website (every fourth) buys in its store 3.
			if outlet := int(cid)%4 == 0; outlet != (str(o["store_id"]) == "3") {
				t.Errorf("order %s: customer %v in store %v", id, cid, o["store_id"])
			}
		} else if str(o["customer_is_guest"]) != "1" {
			t.Errorf("order %s: no customer and not a guest", id)
		}
		_, inv := docs["invoice"][id]
		_, shp := docs["shipment"][id]
		_, ref := docs["creditmemo"][id]
		want := map[bool]string{true: "processing", false: "pending"}[inv]
		if inv && shp {
			want = "complete"
		}
		if ref {
			want = "closed"
		}
		if str(o["status"]) != want {
			t.Errorf("order %s: status %v with invoice %v, shipment %v, credit memo %v", id, o["status"], inv, shp, ref)
		}
		if ref && !inv {
			t.Errorf("order %s: refunded without an invoice", id)
		}
	}

	// Every document names an order, and its grid row repeats it.
	for _, g := range []struct {
		doc, grid string
		same      []string // columns the grid copies from the document
	}{
		{"order", "order_grid", []string{"status", "store_id", "store_name", "customer_id", "base_grand_total", "grand_total", "base_total_paid", "total_paid", "increment_id", "base_currency_code", "order_currency_code", "created_at", "updated_at"}},
		{"invoice", "invoice_grid", []string{"store_id", "base_grand_total", "grand_total", "order_id", "state", "increment_id", "store_currency_code", "order_currency_code", "base_currency_code", "global_currency_code", "created_at"}},
		{"shipment", "shipment_grid", []string{"store_id", "total_qty", "order_id", "increment_id", "created_at"}},
		{"creditmemo", "creditmemo_grid", []string{"store_id", "base_grand_total", "grand_total", "order_id", "state", "invoice_id", "increment_id", "store_currency_code", "order_currency_code", "base_currency_code", "global_currency_code", "created_at"}},
	} {
		dd := byID(tables["sales_flat_"+g.doc], "entity_id")
		grid := byID(tables["sales_flat_"+g.grid], "entity_id")
		if len(grid) != len(dd) {
			t.Errorf("%s: %d grid rows for %d documents", g.grid, len(grid), len(dd))
		}
		for id, d := range dd {
			gr := grid[id]
			if gr == nil {
				t.Errorf("%s %s has no grid row", g.doc, id)
				continue
			}
			for _, c := range g.same {
				if !reflect.DeepEqual(gr[c], d[c]) {
					t.Errorf("%s %s: grid %s = %v, document %v", g.doc, id, c, gr[c], d[c])
				}
			}
			o := orders[str(d["entity_id"])]
			if g.doc != "order" {
				if o = orders[str(d["order_id"])]; o == nil {
					t.Fatalf("%s %s: no order %v", g.doc, id, d["order_id"])
				}
				if !reflect.DeepEqual(gr["order_increment_id"], o["increment_id"]) || !reflect.DeepEqual(gr["order_created_at"], o["created_at"]) {
					t.Errorf("%s %s: grid order_increment_id %v / order_created_at %v, order's %v / %v", g.doc, id, gr["order_increment_id"], gr["order_created_at"], o["increment_id"], o["created_at"])
				}
				if str(d["store_id"]) != str(o["store_id"]) {
					t.Errorf("%s %s in store %v, its order in %v", g.doc, id, d["store_id"], o["store_id"])
				}
			}
			// The names Magento 1's grids show are the order addresses'.
			for col, addr := range map[string]string{"billing_name": "billing_address_id", "shipping_name": "shipping_address_id"} {
				if v, ok := gr[col]; ok {
					a := addresses[str(o[addr])]
					if want := str(a["firstname"]) + " " + str(a["lastname"]); str(v) != want {
						t.Errorf("%s %s: grid %s %v, address %q", g.doc, id, col, v, want)
					}
				}
			}
		}
	}

	// Increment ids: per store and type, the store id then 1, 2, ... padded
	// to 8 digits, without gaps; eav_entity_store holds the last.
	types := map[string]int{"order": TypeOrder, "invoice": TypeInvoice, "creditmemo": TypeCreditmemo, "shipment": TypeShipment}
	last := map[string]string{}
	for _, r := range tables["eav_entity_store"] {
		k := str(r["entity_type_id"]) + "/" + str(r["store_id"])
		if _, dup := last[k]; dup {
			t.Errorf("eav_entity_store: two rows for %s", k)
		}
		if str(r["increment_prefix"]) != str(r["store_id"]) {
			t.Errorf("eav_entity_store %s: prefix %v", k, r["increment_prefix"])
		}
		last[k] = str(r["increment_last_id"])
	}
	for doc, typ := range types {
		perStore := map[string][]string{}
		for _, d := range tables["sales_flat_"+doc] {
			perStore[str(d["store_id"])] = append(perStore[str(d["store_id"])], str(d["increment_id"]))
		}
		if len(perStore) != 3 {
			t.Errorf("%s: documents in %d stores, want 3", doc, len(perStore))
		}
		for store, ids := range perStore {
			sort.Strings(ids)
			for i, id := range ids {
				if want := fmt.Sprintf("%s%08d", store, i+1); id != want {
					t.Errorf("%s in store %s: increment id %s, want %s", doc, store, id, want)
					break
				}
			}
			if got := last[fmt.Sprintf("%d/%s", typ, store)]; got != ids[len(ids)-1] {
				t.Errorf("eav_entity_store %s store %s: last %q, the documents' %q", doc, store, got, ids[len(ids)-1])
			}
		}
	}
	codes := map[string]string{}
	for _, r := range tables["eav_entity_type"] {
		codes[str(r["entity_type_id"])] = str(r["entity_type_code"])
	}
	for code, typ := range types {
		if codes[fmt.Sprint(typ)] != code {
			t.Errorf("eav_entity_type %d is %q, want %q", typ, codes[fmt.Sprint(typ)], code)
		}
	}
	if len(other) != 1 || !strings.Contains(other[0], "increment_per_store = 1") {
		t.Errorf("the sales types' increment settings: %q", other)
	}
}

// Magento1Chunks writes the same rows as Magento1, in slices.
func TestChunksWriteTheSameRows(t *testing.T) {
	opt := Options{Products: 53, Customers: 11, Orders: 47}
	var chunks []string
	calls := 0
	if err := Magento1Chunks(opt, 7, func(s []string) error { calls++; chunks = append(chunks, s...); return nil }); err != nil {
		t.Fatal(err)
	}
	if calls != 1+8+2+7+1 {
		t.Errorf("%d calls for chunks of 7, want 19", calls)
	}
	whole, wo := parseInserts(t, Magento1(opt))
	parts, po := parseInserts(t, chunks)
	if !reflect.DeepEqual(wo, po) {
		t.Errorf("other statements: %q, chunked %q", wo, po)
	}
	for table, rows := range whole {
		key := func(rs []row) []string {
			var out []string
			for _, r := range rs {
				out = append(out, fmt.Sprint(r))
			}
			sort.Strings(out)
			return out
		}
		if !reflect.DeepEqual(key(rows), key(parts[table])) {
			t.Errorf("%s: %d rows whole, %d chunked, or different", table, len(rows), len(parts[table]))
		}
	}
	if len(whole) != len(parts) {
		t.Errorf("%d tables whole, %d chunked", len(whole), len(parts))
	}
}
