package pipeline

import (
	"database/sql"
	"reflect"
	"strings"
	"testing"
)

// TestIncrementNumber: Magento 1's last increment id read as the
// reference's SalesIncrement Helper reads it (substr by the prefix's length,
// then PHP's (int)), with its edge cases: NULL and empty values, a prefix
// longer than the id, a prefix the id does not start with, trailing text,
// a negative number and one past what a sequence holds.
func TestIncrementNumber(t *testing.T) {
	null := sql.NullString{}
	s := func(v string) sql.NullString { return sql.NullString{String: v, Valid: true} }
	for _, c := range []struct {
		name         string
		prefix, last sql.NullString
		want         uint64
		ok           bool
		err          string
	}{
		// The reference's sales_increment fixture: store 1's orders.
		{"order of store 1", s("1"), s("100000003"), 3, true, ""},
		{"admin store", s("0"), s("000000001"), 1, true, ""},
		{"no prefix", null, s("000000042"), 42, true, ""},
		{"empty prefix", s(""), s("17"), 17, true, ""},
		{"NULL last id: nothing numbered", s("1"), null, 0, false, ""},
		{"empty last id", s("1"), s(""), 0, false, ""},
		{"prefix longer than the id", s("ABCDEF"), s("12"), 0, false, ""},
		{"all zeros", s("1"), s("100000000"), 0, false, ""},
		// The reference cuts by length, whether or not the id starts with
		// the prefix (a prefix changed after orders were taken).
		{"prefix not at the start", s("X"), s("200000005"), 5, true, ""},
		{"text after the digits", s("1"), s("100000012-a"), 12, true, ""},
		{"text only", s("1"), s("1abc"), 0, false, ""},
		{"leading blanks", s("1"), s("1  007"), 7, true, ""},
		{"plus sign", s("1"), s("1+9"), 9, true, ""},
		{"negative", s("1"), s("1-9"), 0, false, "negative"},
		{"largest a sequence holds", s(""), s("4294967295"), 4294967295, true, ""},
		{"past what a sequence holds", s(""), s("4294967296"), 0, false, "more than a Magento 2 sequence holds"},
		{"past uint64", s(""), s("99999999999999999999999"), 0, false, "more than a Magento 2 sequence holds"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, ok, err := incrementNumber(c.prefix, c.last)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one saying %q", err, c.err)
				}
				return
			}
			if err != nil || n != c.want || ok != c.ok {
				t.Errorf("incrementNumber(%v, %v) = %d, %v, %v; want %d, %v", c.prefix, c.last, n, ok, err, c.want, c.ok)
			}
		})
	}
}

// TestSalesSequences: the tables, meta order and profile prefixes the
// reference's SalesIncrement DataTest expects on its sales_increment
// fixture (tests/integration/testsuite/Migration/Step/SalesIncrement/DataTest.php:
// meta ids 1-10 type by type, store by store — order, invoice, creditmemo,
// shipment, rma_item — and an empty prefix for store 0, "1" for store 1), with
// the fixture's numbers (source.sql's eav_entity_store: order 11 of store 1
// at 100000003, invoice 16 and shipment 19 at 100000001; its row of entity
// type 1 is no sales type; dest.sql's eav_entity_type ids).
func TestSalesSequences(t *testing.T) {
	typeIDs := map[string]int64{"order": 11, "invoice": 16, "shipment": 19, "creditmemo": 23, "rma_item": 26}
	incs := map[salesIncrementKey]uint64{{1, 0}: 1, {11, 1}: 3, {16, 1}: 1, {19, 1}: 1}
	got := salesSequences(salesSequenceTypes, []int64{0, 1}, typeIDs, incs, "")
	want := []salesSequence{
		{"order", 0, "sequence_order_0", 0, false}, {"order", 1, "sequence_order_1", 3, true},
		{"invoice", 0, "sequence_invoice_0", 0, false}, {"invoice", 1, "sequence_invoice_1", 1, true},
		{"creditmemo", 0, "sequence_creditmemo_0", 0, false}, {"creditmemo", 1, "sequence_creditmemo_1", 0, false},
		{"shipment", 0, "sequence_shipment_0", 0, false}, {"shipment", 1, "sequence_shipment_1", 1, true},
		{"rma_item", 0, "sequence_rma_item_0", 0, false}, {"rma_item", 1, "sequence_rma_item_1", 0, false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sequences:\n got %+v\nwant %+v", got, want)
	}
	if p0, p1 := salesSequencePrefix(0), salesSequencePrefix(1); p0 != "" || p1 != "1" {
		t.Errorf("prefixes %q, %q; want \"\", \"1\"", p0, p1)
	}
	// A type no eav_entity_type knows has no number, whatever
	// eav_entity_store holds; the destination prefix names the tables.
	got = salesSequences([]string{"order"}, []int64{2}, map[string]int64{}, map[salesIncrementKey]uint64{{0, 2}: 9}, "m2_")
	if len(got) != 1 || got[0].has || got[0].table != "m2_sequence_order_2" {
		t.Errorf("unknown type: %+v", got)
	}
}

// TestSalesColumnProblems: the reference's SalesIncrement Integrity
// compares the sequence documents' fields both ways.
func TestSalesColumnProblems(t *testing.T) {
	if p := salesColumnProblems("S", "destination", "sales_sequence_meta", salesSequenceMetaColumns, salesSequenceMetaColumns); len(p) != 0 {
		t.Errorf("the stock columns: %v", p)
	}
	p := salesColumnProblems("S", "destination", "sales_sequence_meta", salesSequenceMetaColumns, []string{"meta_id", "entity_type", "store_id", "extra"})
	if len(p) != 2 || !strings.Contains(p[0].Msg, "has no field sequence_table") || !strings.Contains(p[1].Msg, "has field extra") {
		t.Errorf("a missing and an extra field: %v", p)
	}
	p = salesColumnProblems("S", "destination", "sales_sequence_meta", salesSequenceMetaColumns, nil)
	if len(p) != 1 || !strings.Contains(p[0].Msg, "does not exist") {
		t.Errorf("a missing document: %v", p)
	}
}

// TestGridSelect: the grid queries join as the reference's OrderGrids Data
// does (the order grid from sales_order and its addresses; the others from
// their document, its order, and the document's own addresses), fill a
// grid column the reference does not know with NULL, and use the
// destination prefix everywhere.
func TestGridSelect(t *testing.T) {
	q := gridSelect(orderGrids[0], []string{"entity_id", "payment_method", "shipping_name", "unknown_col"}, "m2_", "o.entity_id IN (?)")
	for _, w := range []string{
		"SELECT o.entity_id AS `entity_id`, (SELECT pay.method FROM `m2_sales_order_payment` AS pay WHERE pay.parent_id = o.entity_id LIMIT 1) AS `payment_method`, TRIM(CONCAT(IFNULL(ship.firstname, ''), ' ', IFNULL(ship.lastname, ''))) AS `shipping_name`, NULL AS `unknown_col` FROM `m2_sales_order` AS o",
		"LEFT JOIN `m2_sales_order_address` AS ship ON o.shipping_address_id = ship.entity_id",
		"LEFT JOIN `m2_sales_order_address` AS bill ON o.billing_address_id = bill.entity_id WHERE o.entity_id IN (?)",
	} {
		if !strings.Contains(q, w) {
			t.Errorf("order grid query lacks %q:\n%s", w, q)
		}
	}
	if strings.Contains(q, "AS o ON") {
		t.Errorf("the order grid joins the order to itself:\n%s", q)
	}
	q = gridSelect(orderGrids[3], []string{"order_id", "billing_address"}, "", "")
	for _, w := range []string{
		"SELECT o.entity_id AS `order_id`, TRIM(CONCAT(IFNULL(bill.street, ''), ', ', IFNULL(bill.city, ''), ', ', IFNULL(bill.region, ''), ', ', IFNULL(bill.postcode, ''))) AS `billing_address` FROM `sales_creditmemo` AS d",
		"LEFT JOIN `sales_order` AS o ON d.order_id = o.entity_id",
		"AS bill ON d.billing_address_id = bill.entity_id",
	} {
		if !strings.Contains(q, w) {
			t.Errorf("credit memo grid query lacks %q:\n%s", w, q)
		}
	}
	ins := gridInsert(orderGrids[1], []string{"entity_id", "state"}, "", "d.entity_id IN (?)")
	if !strings.HasPrefix(ins, "INSERT INTO `sales_invoice_grid` (`entity_id`, `state`) SELECT d.entity_id AS `entity_id`, d.state AS `state` FROM `sales_invoice` AS d") ||
		!strings.HasSuffix(ins, "ON DUPLICATE KEY UPDATE `entity_id` = VALUES(`entity_id`), `state` = VALUES(`state`)") {
		t.Errorf("invoice grid insert:\n%s", ins)
	}
}
