package transform

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shiplog/shiplog/cdc"
)

// storeInsertRe matches the one-row INSERTs with a column list of the
// reference's integration-test databases.
var storeInsertRe = regexp.MustCompile("^INSERT INTO `([a-z_0-9]+)` \\(([^)]*)\\) VALUES \\((.*)\\);$")

// storeFixtureRows reads the rows of table from the reference's
// integration-test database of step (resource/<step>/source.sql).
func storeFixtureRows(t *testing.T, step, table string) *LookupRows {
	t.Helper()
	path := filepath.Join(magentoFixturesDir(t), "dmt", "tests", "integration", "resource", step, "source.sql")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cols []string
	var rows [][]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m := storeInsertRe.FindStringSubmatch(sc.Text())
		if m == nil || m[1] != table {
			continue
		}
		cols = strings.Split(strings.ReplaceAll(m[2], "`", ""), ", ")
		row, err := storeSQLValues(m[3])
		if err != nil || len(row) != len(cols) {
			t.Fatalf("%s: cannot read the row %q of %s: %v", path, m[3], table, err)
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatalf("%s has no rows of %s", path, table)
	}
	return NewLookupRows(cols, rows)
}

// storeSQLValues splits a VALUES list of integers, NULL and quoted strings.
func storeSQLValues(s string) ([]any, error) {
	var out []any
	for s = strings.TrimSpace(s); s != ""; {
		if s[0] == '\'' {
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '\''; i++ {
				if s[i] == '\\' {
					i++
				}
				b.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated string")
			}
			out = append(out, b.String())
			s = s[i+1:]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			tok := strings.TrimSpace(s[:end])
			if strings.EqualFold(tok, "NULL") {
				out = append(out, nil)
			} else {
				n, err := strconv.ParseInt(tok, 10, 64)
				if err != nil {
					return nil, err
				}
				out = append(out, n)
			}
			s = s[end:]
		}
		s = strings.TrimSpace(s)
		if s != "" {
			if s[0] != ',' {
				return nil, fmt.Errorf("expected a comma at %q", s)
			}
			s = strings.TrimSpace(s[1:])
		}
	}
	return out, nil
}

// storeTable is a table of the real schemas, with the columns a test uses.
func storeTable(name string, cols ...cdc.Column) *cdc.Table {
	return &cdc.Table{Name: name, Key: []int{0}, Columns: cols}
}

func storeCol(name, typ string, unsigned bool) cdc.Column {
	return cdc.Column{Name: name, DataType: typ, Unsigned: unsigned}
}

// storeCase is one record through a handler: rec sets its columns, want
// is the handled field's value (want2 the value of column wantCol instead,
// when set), wantErr a substring of the run-time error.
type storeCase struct {
	name    string
	rec     map[string]any
	want    any
	wantErr string
	// tables replaces looked-up source tables for this case (nil: the
	// table cannot be read).
	tables map[string]*LookupRows
}

// storeRun binds handler on table.field (area destination unless the
// table is a Magento 1 one) with lookups of the given source tables, runs
// each case, and checks that each looked-up table was read once per case
// (never per row: every case handles its record three times).
func storeRun(t *testing.T, handler string, tbl *cdc.Table, field, area string, tables map[string]*LookupRows, cases []storeCase) {
	t.Helper()
	f, ok := LookupHandler(handler)
	if !ok {
		t.Fatalf("handler %s not registered", handler)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var reads atomic.Int64
			l := NewLookups(func(side, table string) (*LookupRows, error) {
				reads.Add(1)
				if side != SideSource {
					return nil, fmt.Errorf("%s looked up the %s side", handler, side)
				}
				if r, ok := tc.tables[table]; ok {
					if r == nil {
						return nil, fmt.Errorf("table %s does not exist", table)
					}
					return NewLookupRows(r.Columns, r.Rows), nil
				}
				if r, ok := tables[table]; ok {
					return NewLookupRows(r.Columns, r.Rows), nil
				}
				return nil, fmt.Errorf("table %s does not exist", table)
			})
			i := tbl.ColumnIndex(field)
			b := Binding{Area: area, Table: tbl.Name, Field: field, Index: i, Column: tbl.Columns[i], Rec: tbl,
				Other: storeTable("other", storeCol("id", "int", false)), Env: &HandlerEnv{Lookups: l}}
			fn, err := f(nil, b)
			if err != nil {
				t.Fatalf("bind: %v", err)
			}
			for range 3 {
				rec := make([]any, len(tbl.Columns))
				for k, v := range tc.rec {
					j := tbl.ColumnIndex(k)
					if j < 0 {
						t.Fatalf("no column %s in %s", k, tbl.Name)
					}
					rec[j] = v
				}
				err = fn(rec, []any{nil})
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), strings.TrimPrefix(handler, `\Migration\Handler\`)) {
						t.Fatalf("error %v, want one naming %s and %q", err, handler, tc.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if !hdlEqual(rec[i], tc.want) {
					t.Fatalf("%s = %#v, want %#v", field, rec[i], tc.want)
				}
			}
			// A failed read is retried on the next record; any other is kept.
			if n := reads.Load(); n > int64(len(l.Tables())) && !strings.Contains(tc.wantErr, "does not exist") {
				t.Fatalf("%d reads of %d looked-up tables for 3 records: a table was read per row", n, len(l.Tables()))
			}
		})
	}
}

// storeNoLookups: a handler that reads other tables fails to bind, naming
// itself, in a plan compiled without a database.
func storeNoLookups(t *testing.T, handler string, tbl *cdc.Table, field string) {
	t.Helper()
	f, _ := LookupHandler(handler)
	i := tbl.ColumnIndex(field)
	_, err := f(nil, Binding{Area: "destination", Table: tbl.Name, Field: field, Index: i, Column: tbl.Columns[i], Rec: tbl, Env: &HandlerEnv{}})
	if err == nil || !strings.Contains(err.Error(), handler) || !strings.Contains(err.Error(), "without a database") {
		t.Errorf("%s bound without lookups: %v", handler, err)
	}
	_, err = f(Params{"value": "1"}, Binding{Area: "destination", Table: tbl.Name, Field: field, Index: i, Column: tbl.Columns[i], Rec: tbl, Env: &HandlerEnv{}})
	if err == nil || !strings.Contains(err.Error(), "unknown param 'value'") {
		t.Errorf("%s took an unknown param: %v", handler, err)
	}
}

func TestGallerySetEntityId(t *testing.T) {
	// Magento 2's catalog_product_entity_media_gallery_value; the source
	// gallery rows are Magento 1 ones (value_id, attribute_id 88 = media_gallery, entity_id, value).
	tbl := storeTable("catalog_product_entity_media_gallery_value",
		storeCol("value_id", "int", true), storeCol("store_id", "smallint", true), storeCol("entity_id", "int", true),
		storeCol("label", "varchar", false), storeCol("position", "int", true), storeCol("disabled", "smallint", true),
		storeCol("record_id", "int", true))
	gallery := NewLookupRows([]string{"value_id", "attribute_id", "entity_id", "value"}, [][]any{
		{uint64(1), uint64(88), uint64(16), "/n/o/nokia-2610-phone-2.jpg"},
		{uint64(2), uint64(88), uint64(17), "/b/l/bluetooth-headset.jpg"},
		{uint64(5), uint64(88), uint64(0), "/o/r/orphan.jpg"},
	})
	tables := map[string]*LookupRows{"catalog_product_entity_media_gallery": gallery}
	storeRun(t, `\Migration\Handler\Gallery\SetEntityId`, tbl, "entity_id", "destination", tables, []storeCase{
		{name: "value 1 is product 16", rec: map[string]any{"value_id": uint64(1), "entity_id": uint64(0)}, want: uint64(16)},
		{name: "value 2 is product 17", rec: map[string]any{"value_id": uint64(2)}, want: uint64(17)},
		{name: "value id as text", rec: map[string]any{"value_id": "2"}, want: uint64(17)},
		{name: "unknown value id fails instead of 0", rec: map[string]any{"value_id": uint64(3)}, wantErr: "value_id 3 is not in the source table catalog_product_entity_media_gallery"},
		{name: "gallery row without product", rec: map[string]any{"value_id": uint64(5)}, wantErr: "has entity_id 0"},
		{name: "NULL value id", rec: map[string]any{"value_id": nil}, wantErr: "value_id is NULL"},
		{name: "gallery unreadable", rec: map[string]any{"value_id": uint64(1)}, tables: map[string]*LookupRows{"catalog_product_entity_media_gallery": nil},
			wantErr: "catalog_product_entity_media_gallery: table catalog_product_entity_media_gallery does not exist"},
	})
	storeNoLookups(t, `Gallery\SetEntityId`, tbl, "entity_id")
	_, err := newGallerySetEntityID(nil, Binding{Table: "t", Field: "f", Index: 0, Rec: storeTable("t", storeCol("f", "int", false)), Env: &HandlerEnv{}})
	if err == nil || !strings.Contains(err.Error(), "value_id") {
		t.Errorf("bound on a table without value_id: %v", err)
	}
}

func TestProductAlertStoreId(t *testing.T) {
	tbl := storeTable("product_alert_price",
		storeCol("alert_price_id", "int", true), storeCol("customer_id", "int", true), storeCol("product_id", "int", true),
		storeCol("price", "decimal", false), storeCol("website_id", "smallint", true), storeCol("store_id", "smallint", true))
	// The reference's stores test database: website 1 (base) -> group 1
	// (First Main Store) -> store 1; website 0 (admin) -> group 0 -> store 0.
	websites := storeFixtureRows(t, "stores", "core_website")
	groups := storeFixtureRows(t, "stores", "core_store_group")
	tables := map[string]*LookupRows{"core_website": websites, "core_store_group": groups}
	// A second website whose default group 7 was deleted.
	broken := NewLookupRows(websites.Columns, append(append([][]any{}, websites.Rows...),
		[]any{int64(2), "second", "Second", int64(0), int64(7), int64(0), int64(0), "", "", ""}))
	storeRun(t, "ProductAlertStoreId", tbl, "store_id", "destination", tables, []storeCase{
		{name: "main website's default store", rec: map[string]any{"website_id": int64(1), "store_id": int64(0)}, want: int64(1)},
		{name: "website id as text", rec: map[string]any{"website_id": "1"}, want: int64(1)},
		{name: "website 0 keeps the field", rec: map[string]any{"website_id": int64(0), "store_id": int64(5)}, want: int64(5)},
		{name: "NULL website keeps the field", rec: map[string]any{"website_id": nil, "store_id": nil}, want: nil},
		{name: "empty website keeps the field", rec: map[string]any{"website_id": "", "store_id": int64(3)}, want: int64(3)},
		{name: "unknown website", rec: map[string]any{"website_id": int64(9)}, wantErr: "website_id 9 is not in the source table core_website"},
		{name: "website's default group missing", rec: map[string]any{"website_id": int64(2)}, tables: map[string]*LookupRows{"core_website": broken},
			wantErr: "website 2's default group: group_id 7 is not in the source table core_store_group"},
	})
	storeNoLookups(t, "ProductAlertStoreId", tbl, "store_id")
}

func TestQuoteMultiAddressStoreId(t *testing.T) {
	tbl := storeTable("quote_address_item",
		storeCol("address_item_id", "int", true), storeCol("parent_item_id", "int", true), storeCol("quote_address_id", "int", true),
		storeCol("quote_item_id", "int", true), storeCol("store_id", "smallint", true))
	// Magento 1 sales_flat_quote_item (store_id is NULL-able there).
	items := NewLookupRows([]string{"item_id", "quote_id", "product_id", "store_id", "sku"}, [][]any{
		{uint64(10), uint64(1), uint64(16), uint64(1), "n2610"},
		{uint64(11), uint64(1), uint64(17), uint64(3), "bb8100"},
		{uint64(12), uint64(2), uint64(16), nil, "n2610"},
	})
	tables := map[string]*LookupRows{"sales_flat_quote_item": items}
	storeRun(t, "QuoteMultiAddressStoreId", tbl, "store_id", "destination", tables, []storeCase{
		{name: "item 10 in store 1", rec: map[string]any{"quote_item_id": uint64(10)}, want: uint64(1)},
		{name: "item 11 in store 3", rec: map[string]any{"quote_item_id": uint64(11), "store_id": uint64(1)}, want: uint64(3)},
		{name: "NULL store stays NULL", rec: map[string]any{"quote_item_id": uint64(12), "store_id": uint64(1)}, want: nil},
		{name: "unknown quote item", rec: map[string]any{"quote_item_id": uint64(99)}, wantErr: "item_id 99 is not in the source table sales_flat_quote_item"},
		{name: "NULL quote item", rec: map[string]any{"quote_item_id": nil}, wantErr: "quote_item_id is NULL"},
		{name: "quote items without store_id", rec: map[string]any{"quote_item_id": uint64(10)},
			tables:  map[string]*LookupRows{"sales_flat_quote_item": NewLookupRows([]string{"item_id"}, [][]any{{uint64(10)}})},
			wantErr: "has no column store_id"},
	})
	storeNoLookups(t, "QuoteMultiAddressStoreId", tbl, "store_id")
}

func TestStoreGroupCode(t *testing.T) {
	tbl := storeTable("store_group",
		storeCol("group_id", "smallint", true), storeCol("website_id", "smallint", true), storeCol("name", "varchar", false),
		storeCol("root_category_id", "int", true), storeCol("default_store_id", "smallint", true), storeCol("code", "varchar", false))
	// The reference's stores test database: 0 Default, 1 First Main Store.
	groups := storeFixtureRows(t, "stores", "core_store_group")
	// Names that test the reference's rules, in an order other than group_id's.
	names := [][]any{
		{int64(9), "Main  Store\tEU"},
		{int64(3), "First Main Store"}, // a name group 1 has: same code, made unique
		{int64(4), "123 Ünïcode Störe!"},
		{int64(5), "---"},
		{int64(6), "42"}, // nothing left either: store_group again
		{int64(7), strings.Repeat("very long name ", 4)},
		{int64(8), strings.Repeat("very long name ", 4)},
		{int64(10), "first-main-store-3"},
		{int64(11), "First Main Store!"},
	}
	rows := append([][]any{}, groups.Rows...)
	for _, n := range names {
		rows = append(rows, []any{n[0], int64(1), n[1], int64(2), int64(1)})
	}
	tables := map[string]*LookupRows{"core_store_group": NewLookupRows(groups.Columns, rows)}
	storeRun(t, "StoreGroupCode", tbl, "code", "destination", tables, []storeCase{
		{name: "Default", rec: map[string]any{"group_id": uint64(0)}, want: "default"},
		{name: "First Main Store", rec: map[string]any{"group_id": uint64(1), "code": "x"}, want: "first_main_store"},
		{name: "same name as group 1", rec: map[string]any{"group_id": uint64(3)}, want: "first_main_store-3"},
		{name: "digits, non-ASCII and punctuation dropped", rec: map[string]any{"group_id": uint64(4)}, want: "ncode_stre"},
		{name: "nothing left", rec: map[string]any{"group_id": uint64(5)}, want: "store_group"},
		{name: "nothing left again", rec: map[string]any{"group_id": uint64(6)}, want: "store_group-6"},
		{name: "cut to 32", rec: map[string]any{"group_id": uint64(7)}, want: "very_long_name_very_long_name_ve"},
		{name: "cut to 32 and made unique", rec: map[string]any{"group_id": uint64(8)}, want: "very_long_name_very_long_name_-8"},
		{name: "white space runs", rec: map[string]any{"group_id": uint64(9)}, want: "main_store_eu"},
		{name: "a name equal to a made-up code", rec: map[string]any{"group_id": uint64(10)}, want: "first-main-store-3"},
		{name: "different name, same code", rec: map[string]any{"group_id": "11"}, want: "first_main_store-11"},
		{name: "unknown group", rec: map[string]any{"group_id": uint64(12)}, wantErr: "group_id 12 is not in the source table core_store_group"},
		{name: "NULL group", rec: map[string]any{"group_id": nil}, wantErr: "group_id is NULL"},
	})
	// The codes do not depend on the order the rows were read in.
	rev := make([][]any, len(rows))
	for i, r := range rows {
		rev[len(rows)-1-i] = r
	}
	a, _ := storeGroupCodes(NewLookupRows(groups.Columns, rows))
	b, _ := storeGroupCodes(NewLookupRows(groups.Columns, rev))
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("codes depend on the read order:\n%v\n%v", a, b)
	}
	seen := map[string]string{}
	for id, c := range a {
		if other, dup := seen[c]; dup || len(c) > storeGroupCodeLen {
			t.Errorf("code %q of group %s: taken by %q, or longer than %d", c, id, other, storeGroupCodeLen)
		}
		seen[c] = id
	}
	storeNoLookups(t, "StoreGroupCode", tbl, "code")
}

func TestStoreGroupCodeCollisionWithMadeUpCode(t *testing.T) {
	// Group 1's name is the code group 3 would be given ("a-3"): group 3
	// gets another.
	rows := NewLookupRows([]string{"group_id", "name"}, [][]any{{int64(1), "a-3"}, {int64(2), "a"}, {int64(3), "A"}})
	m, err := storeGroupCodes(rows)
	if err != nil {
		t.Fatal(err)
	}
	if m["1"] != "a-3" || m["2"] != "a" || m["3"] != "a-3-2" {
		t.Fatalf("codes %v", m)
	}
	if _, err := storeGroupCodes(NewLookupRows([]string{"group_id"}, nil)); err == nil || !strings.Contains(err.Error(), "no column name") {
		t.Fatalf("a store group table without names: %v", err)
	}
}

func TestSettingsCategoryRootId(t *testing.T) {
	// The settings step binds value handlers on the built core_config_data
	// row (scope, scope_id, path, value).
	tbl := storeTable("core_config_data", storeCol("scope", "varchar", false), storeCol("scope_id", "int", false),
		storeCol("path", "varchar", false), storeCol("value", "text", false))
	cases := []struct {
		in   any
		want any
	}{
		{"2", nil}, {int64(2), nil}, {"2.0", nil}, {" 2", nil}, {"2 ", nil}, {"+2", nil}, {"0.2e1", nil},
		{"3", "3"}, {"12", "12"}, {"2abc", "2abc"}, {"", ""}, {nil, nil}, {"0x2", "0x2"}, {"two", "two"},
	}
	f, _ := LookupHandler(`Settings\CategoryRootId`)
	fn, err := f(nil, Binding{Area: "destination", Table: tbl.Name, Field: "value", Index: 3, Column: tbl.Columns[3], Rec: tbl, Env: &HandlerEnv{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		rec := []any{"default", int64(0), "catalog/category/root_id", tc.in}
		if err := fn(rec, nil); err != nil {
			t.Fatal(err)
		}
		if !hdlEqual(rec[3], tc.want) {
			t.Errorf("%#v -> %#v, want %#v", tc.in, rec[3], tc.want)
		}
	}
	if _, err := f(Params{"value": "2"}, Binding{Rec: tbl, Index: 3}); err == nil || !strings.Contains(err.Error(), "unknown param 'value'") {
		t.Errorf("took an unknown param: %v", err)
	}
}

func TestSetVisibleOnFront(t *testing.T) {
	tbl := storeTable("sales_order_status_state", storeCol("status", "varchar", false), storeCol("state", "varchar", false),
		storeCol("is_default", "smallint", true), storeCol("visible_on_front", "smallint", true))
	f, _ := LookupHandler(`\Migration\Handler\SalesOrderStatusState\SetVisibleOnFront`)
	fn, err := f(nil, Binding{Area: "destination", Table: tbl.Name, Field: "visible_on_front", Index: 3, Column: tbl.Columns[3], Rec: tbl, Env: &HandlerEnv{}})
	if err != nil {
		t.Fatal(err)
	}
	// Magento 1.9's status-state pairs, Ogone's, and the reference's test cases.
	cases := []struct {
		status, state any
		want          uint64
	}{
		{"canceled", "canceled", 1}, {"closed", "closed", 1}, {"complete", "complete", 1},
		{"fraud", "payment_review", 1}, {"holded", "holded", 1}, {"payment_review", "payment_review", 1},
		{"pending", "new", 1}, {"processing", "processing", 1},
		{"pending_payment", "pending_payment", 0}, {"pending_ogone", "pending_payment", 0},
		{"processed_ogone", "processing", 0}, {"some_my_status", "pending_payment", 0},
		{"processed_ogone", "complete", 1}, {"pending_ogone", "new", 1},
		{nil, "pending_payment", 0}, {"pending_payment", nil, 1},
	}
	for _, tc := range cases {
		rec := []any{tc.status, tc.state, uint64(0), uint64(7)}
		if err := fn(rec, nil); err != nil {
			t.Fatal(err)
		}
		if rec[3] != tc.want {
			t.Errorf("%v/%v: visible_on_front %#v, want %d", tc.status, tc.state, rec[3], tc.want)
		}
	}
	signed := storeTable("s", storeCol("status", "varchar", false), storeCol("state", "varchar", false), storeCol("visible_on_front", "tinyint", false))
	fn, _ = f(nil, Binding{Table: "s", Field: "visible_on_front", Index: 2, Column: signed.Columns[2], Rec: signed})
	rec := []any{"pending", "new", nil}
	if err := fn(rec, nil); err != nil || rec[2] != int64(1) {
		t.Errorf("signed column: %#v %v", rec[2], err)
	}
	if _, err := f(nil, Binding{Table: "t", Field: "f", Rec: storeTable("t", storeCol("status", "varchar", false))}); err == nil || !strings.Contains(err.Error(), "state") {
		t.Errorf("bound on a table without state: %v", err)
	}
}

func TestSetDefaultWebsiteId(t *testing.T) {
	tbl := storeTable("customer_entity", storeCol("entity_id", "int", true), storeCol("website_id", "smallint", true))
	websites := storeFixtureRows(t, "stores", "core_website")
	// No default; and two defaults, the lower id first by id though not by read order.
	none := NewLookupRows(websites.Columns, [][]any{websites.Rows[0]})
	two := NewLookupRows(websites.Columns, [][]any{
		{int64(5), "fifth", "Fifth", int64(0), int64(1), int64(1), int64(0), "", "", ""}, websites.Rows[0], websites.Rows[1]})
	storeRun(t, "SetDefaultWebsiteId", tbl, "website_id", "destination", map[string]*LookupRows{"core_website": websites}, []storeCase{
		{name: "the base website", rec: map[string]any{"website_id": uint64(0)}, want: int64(1)},
		{name: "NULL becomes the default", rec: map[string]any{"website_id": nil}, want: int64(1)},
		{name: "lowest default id", rec: map[string]any{}, tables: map[string]*LookupRows{"core_website": two}, want: int64(1)},
		{name: "no default website", rec: map[string]any{}, tables: map[string]*LookupRows{"core_website": none}, wantErr: "no default website"},
	})
	other := storeTable("t", storeCol("id", "int", false), storeCol("default_site", "int", false))
	storeRun(t, "SetDefaultWebsiteId", other, "default_site", "destination", map[string]*LookupRows{"core_website": websites}, []storeCase{
		{name: "field not a website column", rec: map[string]any{}, wantErr: "no column default_site"},
	})
	storeNoLookups(t, "SetDefaultWebsiteId", tbl, "website_id")
}

func TestSynonymRow(t *testing.T) {
	// Magento 1's catalogsearch_query; the source stores of the reference's
	// stores test database (store 1 in website 1, admin store 0 in website 0).
	tbl := storeTable("catalogsearch_query",
		storeCol("query_id", "int", true), storeCol("query_text", "varchar", false), storeCol("num_results", "int", true),
		storeCol("popularity", "int", true), storeCol("redirect", "varchar", false), storeCol("synonym_for", "varchar", false),
		storeCol("store_id", "smallint", true))
	stores := storeFixtureRows(t, "stores", "core_store")
	var reads atomic.Int64
	tables := map[string]*LookupRows{"core_store": stores}
	l := NewLookups(func(side, table string) (*LookupRows, error) {
		reads.Add(1)
		if r, ok := tables[table]; ok && side == SideSource {
			return r, nil
		}
		return nil, fmt.Errorf("table %s does not exist", table)
	})
	b := Binding{Area: "source", Table: tbl.Name, Field: "synonym_for", Index: 5, Column: tbl.Columns[5], Rec: tbl, Env: &HandlerEnv{Lookups: l}}
	s, err := newStoreSynonym(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	rec := func(id any, text, syn any, store any) []any {
		return []any{id, text, uint64(3), uint64(1), nil, syn, store}
	}
	cases := []struct {
		name    string
		rec     []any
		want    []any
		wantErr string
	}{
		{"store view 1", rec(uint64(7), "mobile", "phone", int64(1)), []any{uint64(7), `phone"mobile",`, int64(1), int64(1)}, ""},
		{"admin store", rec(uint64(8), "tv", "television", int64(0)), []any{uint64(8), `television"tv",`, int64(0), int64(0)}, ""},
		{"NULL query text", rec(uint64(9), nil, "phone", int64(1)), []any{uint64(9), `phone"",`, int64(1), int64(1)}, ""},
		{"no synonym", rec(uint64(10), "mobile", nil, int64(1)), nil, ""},
		{"empty synonym", rec(uint64(11), "mobile", "", int64(1)), nil, ""},
		{"synonym 0 is empty to PHP", rec(uint64(12), "mobile", "0", int64(1)), nil, ""},
		{"unknown store", rec(uint64(13), "mobile", "phone", int64(5)), nil, "store_id 5 is not in the source table core_store"},
		{"NULL store", rec(uint64(14), "mobile", "phone", nil), nil, "store_id is NULL"},
	}
	for _, tc := range cases {
		got, err := s.row(tc.rec)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "Synonym on catalogsearch_query.synonym_for") {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tc.want) {
			t.Errorf("%s: row %#v %v, want %#v", tc.name, got, err, tc.want)
		}
	}
	if reads.Load() != 1 {
		t.Errorf("core_store read %d times, want once", reads.Load())
	}
	if len(storeSynonymColumns) != len(cases[0].want) || storeSynonymTable != "search_synonyms" {
		t.Errorf("the row does not fill the columns %v", storeSynonymColumns)
	}
	if _, err := newStoreSynonym(nil, Binding{Table: tbl.Name, Field: "synonym_for", Index: 5, Rec: tbl, Env: &HandlerEnv{}}); err == nil || !strings.Contains(err.Error(), "Synonym") {
		t.Errorf("bound without lookups: %v", err)
	}
	if _, err := newStoreSynonym(nil, Binding{Table: "t", Field: "f", Rec: storeTable("t", storeCol("f", "varchar", false)), Env: &HandlerEnv{Lookups: l}}); err == nil || !strings.Contains(err.Error(), "query_id") {
		t.Errorf("bound on a table without query_id: %v", err)
	}
}
