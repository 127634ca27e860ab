package magentogen

import (
	"fmt"
	"time"
)

// Sales documents: orders with their items, addresses, payment and status
// history; an invoice, a shipment and a credit memo for some of them; the
// four grids Magento 1 keeps beside them (one row per document, its columns
// copied from the document as Magento 1's grid indexer writes them); and
// eav_entity_store's last increment id per store and document type.
//
// Order o is placed in store 1 + (o-1)%3, as that store's k-th order with
// k = (o-1)/3 (from 0). Whether it has documents depends on k alone, so the
// increment ids of every store and type are counted in closed form (orders
// can be written in any slices, and the last increment ids follow from the
// order count): an order is invoiced unless k%4 == 3, shipped when
// k%4 < 2, refunded in full (a credit memo, state closed) when k%20 == 2.
// Increment ids are Magento 1's per store: the store id, then the store's
// count of that type padded to 8 digits ("100000001" is store 1's first).
// Documents share the order's entity_id; items are 4o+i.

// Entity types of the sales documents, as Magento 1.9 numbers them.
const (
	TypeOrder      = 5
	TypeInvoice    = 6
	TypeCreditmemo = 7
	TypeShipment   = 8
)

// OrderStores are the stores orders are placed in.
var OrderStores = []int{1, 2, 3}

// storeNames are the order's store_name: website, group and view, one per
// line, as Magento 1 writes it.
var storeNames = map[int]string{
	1: "Main Website\nMain Website Store\nDefault Store View",
	2: "Main Website\nMain Website Store\nFrench Store View",
	3: "Outlet Website\nOutlet Store\nOutlet English",
}

// orderPlace is where order o sits: its store and its index among that
// store's orders.
func orderPlace(o int) (store, k int) { return 1 + (o-1)%len(OrderStores), (o - 1) / len(OrderStores) }

func invoiced(k int) bool { return k%4 != 3 }
func shipped(k int) bool  { return k%4 < 2 }
func refunded(k int) bool { return k%20 == 2 }

// Counts of a store's documents among its first n orders (k = 0..n-1).
func ordersIn(n int) int      { return n }
func invoicesIn(n int) int    { return n - n/4 }
func shipmentsIn(n int) int   { return 2*(n/4) + min(n%4, 2) }
func creditmemosIn(n int) int { return n/20 + boolInt(n%20 > 2) }

// incrementID is Magento 1's increment id of the n-th (from 1) document of
// a type in store.
func incrementID(store, n int) string { return fmt.Sprintf("%d%08d", store, n) }

// storeOrders is how many of orders 1..total are placed in store.
func storeOrders(store, total int) int {
	if total < store {
		return 0
	}
	return (total-store)/len(OrderStores) + 1
}

var salesEpoch = time.Date(2019, 1, 1, 8, 0, 0, 0, time.UTC)

func at(o int, after time.Duration) string {
	return salesEpoch.Add(time.Duration(o)*137*time.Second + after).Format("2006-01-02 15:04:05")
}

// orderCustomer is order o's customer (0: a guest). Store 3 is the outlet
// website's, whose customers are every fourth (customer's website).
func orderCustomer(o, store, customers int) int {
	if o%9 == 0 {
		return 0
	}
	c := 1 + (o*7)%customers
	if store == 3 {
		if customers < 4 {
			return 0
		}
		if c%4 != 0 {
			c += 4 - c%4
		}
		if c > customers {
			c = 4
		}
	} else if c%4 == 0 {
		c--
	}
	return c
}

// Order columns (each table's column list, one per table in a builder).
const (
	orderCols = "entity_id, state, status, increment_id, store_id, store_name, customer_id, customer_is_guest, customer_group_id, customer_email, customer_firstname, customer_lastname, " +
		"base_subtotal, subtotal, base_shipping_amount, shipping_amount, base_tax_amount, tax_amount, base_grand_total, grand_total, base_total_invoiced, total_invoiced, base_total_paid, total_paid, " +
		"base_total_refunded, total_refunded, total_qty_ordered, total_item_count, weight, base_currency_code, order_currency_code, store_currency_code, global_currency_code, " +
		"base_to_global_rate, base_to_order_rate, store_to_base_rate, store_to_order_rate, shipping_method, shipping_description, billing_address_id, shipping_address_id, " +
		"protect_code, remote_ip, email_sent, created_at, updated_at"
	orderGridCols = "entity_id, status, store_id, store_name, customer_id, base_grand_total, base_total_paid, grand_total, total_paid, increment_id, base_currency_code, order_currency_code, " +
		"shipping_name, billing_name, created_at, updated_at"
	orderItemCols = "item_id, order_id, store_id, created_at, updated_at, product_id, product_type, product_options, weight, is_virtual, sku, name, qty_ordered, qty_invoiced, qty_shipped, qty_refunded, " +
		"price, base_price, original_price, base_original_price, row_total, base_row_total, row_invoiced, base_row_invoiced, amount_refunded, base_amount_refunded, price_incl_tax, base_price_incl_tax, " +
		"row_total_incl_tax, base_row_total_incl_tax, row_weight, weee_tax_applied"
	orderAddressCols = "entity_id, parent_id, customer_address_id, customer_id, region_id, region, postcode, lastname, street, city, email, telephone, country_id, firstname, address_type"
	paymentCols      = "entity_id, parent_id, method, base_amount_ordered, amount_ordered, base_amount_paid, amount_paid, base_shipping_amount, shipping_amount, base_amount_refunded, amount_refunded, additional_information"
	historyCols      = "entity_id, parent_id, is_customer_notified, is_visible_on_front, comment, status, created_at, entity_name"
	invoiceCols      = "entity_id, store_id, order_id, increment_id, state, base_grand_total, grand_total, base_subtotal, subtotal, base_subtotal_incl_tax, subtotal_incl_tax, base_shipping_amount, shipping_amount, " +
		"base_tax_amount, tax_amount, total_qty, billing_address_id, shipping_address_id, email_sent, base_currency_code, order_currency_code, store_currency_code, global_currency_code, " +
		"base_to_global_rate, base_to_order_rate, store_to_base_rate, store_to_order_rate, base_total_refunded, created_at, updated_at"
	invoiceItemCols = "entity_id, parent_id, order_item_id, product_id, sku, name, qty, price, base_price, row_total, base_row_total, price_incl_tax, base_price_incl_tax, row_total_incl_tax, base_row_total_incl_tax"
	invoiceGridCols = "entity_id, store_id, base_grand_total, grand_total, order_id, state, store_currency_code, order_currency_code, base_currency_code, global_currency_code, increment_id, " +
		"order_increment_id, created_at, order_created_at, billing_name"
	commentCols      = "entity_id, parent_id, is_customer_notified, is_visible_on_front, comment, created_at"
	shipmentCols     = "entity_id, store_id, order_id, customer_id, increment_id, total_qty, total_weight, email_sent, shipping_address_id, billing_address_id, created_at, updated_at"
	shipmentItemCols = "entity_id, parent_id, order_item_id, product_id, sku, name, qty, price, weight, row_total"
	trackCols        = "entity_id, parent_id, order_id, track_number, title, carrier_code, qty, weight, created_at, updated_at"
	shipmentGridCols = "entity_id, store_id, total_qty, order_id, increment_id, order_increment_id, created_at, order_created_at, shipping_name"
	creditmemoCols   = "entity_id, store_id, order_id, invoice_id, increment_id, state, base_grand_total, grand_total, base_subtotal, subtotal, base_shipping_amount, shipping_amount, " +
		"base_adjustment, adjustment, base_tax_amount, tax_amount, billing_address_id, shipping_address_id, email_sent, base_currency_code, order_currency_code, store_currency_code, global_currency_code, " +
		"base_to_global_rate, base_to_order_rate, store_to_base_rate, store_to_order_rate, created_at, updated_at"
	creditmemoItemCols = "entity_id, parent_id, order_item_id, product_id, sku, name, qty, price, base_price, row_total, base_row_total, price_incl_tax, base_price_incl_tax, row_total_incl_tax, base_row_total_incl_tax"
	creditmemoGridCols = "entity_id, store_id, store_to_order_rate, base_to_order_rate, grand_total, store_to_base_rate, base_to_global_rate, base_grand_total, order_id, state, invoice_id, " +
		"store_currency_code, order_currency_code, base_currency_code, global_currency_code, increment_id, order_increment_id, created_at, order_created_at, billing_name"
)

// orderItem is one line of an order.
type orderItem struct {
	id, product int
	qty         int
	price       float64
}

// order writes order o (of total, in a store of the given sizes) and its
// documents and grid rows.
func order(b *builder, o int, opt Options) {
	store, k := orderPlace(o)
	n := k + 1 // the order is its store's n-th
	c := orderCustomer(o, store, opt.Customers)
	first, last, email := fmt.Sprintf("Guest%d", o), "Buyer", fmt.Sprintf("guest%d@example.com", o)
	city, country, postcode, street, phone := "Berlin", "DE", fmt.Sprintf("1%04d", o%10000), fmt.Sprintf("%d Guest Road", o), fmt.Sprintf("555-9%04d", o%10000)
	var customerID, addressID any
	guest, group := 1, 0
	if c != 0 {
		first, last, email = fmt.Sprintf("First%d", c), fmt.Sprintf("Last%d", c), fmt.Sprintf("customer%d@example.com", c)
		a := c * 10 // the customer's first address (customer)
		city, country = []string{"London", "Paris", "Kyiv"}[c%3], []string{"GB", "FR", "UA"}[c%3]
		postcode, street, phone = fmt.Sprintf("%05d", c*7), fmt.Sprintf("%d Gear Street", a), fmt.Sprintf("555-%04d", a)
		customerID, addressID, guest, group = c, a, 0, 1
	}
	name := first + " " + last
	currency, toGlobal := "USD", 1.0
	if store == 3 {
		currency, toGlobal = "EUR", 1.25
	}

	items := make([]orderItem, 1+o%3)
	var subtotal float64
	var qty int
	for i := range items {
		p := 1 + (o*7+i*13)%opt.Products
		if p%25 == 0 && p > 1 { // a configurable product: its child is sold
			p--
		}
		items[i] = orderItem{id: 4*o + i, product: p, qty: 1 + (o+i)%2, price: 10 + float64(p)*1.25}
		subtotal += items[i].price * float64(items[i].qty)
		qty += items[i].qty
	}
	const shipping = 5.0
	total := subtotal + shipping
	inv, shp, ref := invoiced(k), shipped(k), refunded(k)
	state, status := "new", "pending"
	switch {
	case ref:
		state, status = "closed", "closed"
	case inv && shp:
		state, status = "complete", "complete"
	case inv:
		state, status = "processing", "processing"
	}
	paid, refundedAmount := 0.0, 0.0
	if inv {
		paid = total
	}
	if ref {
		refundedAmount = total
	}
	var paidOrNil, refundedOrNil any
	if inv {
		paidOrNil = paid
	}
	if ref {
		refundedOrNil = refundedAmount
	}
	created, updated := at(o, 0), at(o, 48*time.Hour)
	incr := incrementID(store, n)
	billing, shippingAddr := 2*o-1, 2*o

	b.add("sales_flat_order", orderCols,
		o, state, status, incr, store, storeNames[store], customerID, guest, group, email, first, last,
		subtotal, subtotal, shipping, shipping, 0.0, 0.0, total, total, paidOrNil, paidOrNil, paidOrNil, paidOrNil,
		refundedOrNil, refundedOrNil, float64(qty), len(items), float64(qty), currency, currency, currency, "USD",
		toGlobal, 1.0, 1.0, 1.0, "flatrate_flatrate", "Flat Rate - Fixed", billing, shippingAddr,
		fmt.Sprintf("%06x", o*2654435761%(1<<24)), fmt.Sprintf("10.%d.%d.%d", o>>16&255, o>>8&255, o&255), 1, created, updated)
	b.add("sales_flat_order_grid", orderGridCols,
		o, status, store, storeNames[store], customerID, total, paidOrNil, total, paidOrNil, incr, currency, currency, name, name, created, updated)
	for _, it := range items {
		row := it.price * float64(it.qty)
		var qtyInvoiced, qtyShipped, qtyRefunded, rowInvoiced, amountRefunded float64
		if inv {
			qtyInvoiced, rowInvoiced = float64(it.qty), row
		}
		if shp {
			qtyShipped = float64(it.qty)
		}
		if ref {
			qtyRefunded, amountRefunded = float64(it.qty), row
		}
		b.add("sales_flat_order_item", orderItemCols,
			it.id, o, store, created, created, it.product, "simple",
			fmt.Sprintf(`a:1:{s:15:"info_buyRequest";a:2:{s:7:"product";s:%d:"%d";s:3:"qty";i:%d;}}`, len(fmt.Sprint(it.product)), it.product, it.qty),
			1.0, 0, fmt.Sprintf("SKU-%04d", it.product), fmt.Sprintf("Product %d", it.product), float64(it.qty), qtyInvoiced, qtyShipped, qtyRefunded,
			it.price, it.price, it.price, it.price, row, row, rowInvoiced, rowInvoiced, amountRefunded, amountRefunded, it.price, it.price,
			row, row, float64(it.qty), "a:0:{}")
	}
	for i, typ := range []string{"billing", "shipping"} {
		b.add("sales_flat_order_address", orderAddressCols,
			2*o-1+i, o, addressID, customerID, 0, nil, postcode, last, street, city, email, phone, country, first, typ)
	}
	method := []string{"checkmo", "paypal_standard", "banktransfer"}[o%3]
	info := "a:0:{}"
	if method == "paypal_standard" {
		info = fmt.Sprintf(`a:1:{s:15:"paypal_payer_id";s:%d:"P-%d";}`, len(fmt.Sprintf("P-%d", o)), o)
	}
	b.add("sales_flat_order_payment", paymentCols, o, o, method, total, total, paidOrNil, paidOrNil, shipping, shipping, refundedOrNil, refundedOrNil, info)
	h := 4 * o
	b.add("sales_flat_order_status_history", historyCols, h, o, 1, 0, nil, "pending", created, "order")

	if inv {
		ni := invoicesIn(k + 1)
		invIncr, invAt := incrementID(store, ni), at(o, time.Hour)
		b.add("sales_flat_invoice", invoiceCols,
			o, store, o, invIncr, 2, total, total, subtotal, subtotal, subtotal, subtotal, shipping, shipping,
			0.0, 0.0, float64(qty), billing, shippingAddr, 1, currency, currency, currency, "USD",
			toGlobal, 1.0, 1.0, 1.0, refundedOrNil, invAt, invAt)
		for _, it := range items {
			row := it.price * float64(it.qty)
			b.add("sales_flat_invoice_item", invoiceItemCols, it.id, o, it.id, it.product, fmt.Sprintf("SKU-%04d", it.product), fmt.Sprintf("Product %d", it.product),
				float64(it.qty), it.price, it.price, row, row, it.price, it.price, row, row)
		}
		b.add("sales_flat_invoice_grid", invoiceGridCols, o, store, total, total, o, 2, currency, currency, currency, "USD", invIncr, incr, invAt, created, name)
		if k%10 == 0 {
			b.add("sales_flat_invoice_comment", commentCols, o, o, 0, 0, fmt.Sprintf("Paid in full (order %s)", incr), invAt)
		}
		b.add("sales_flat_order_status_history", historyCols, h+1, o, 0, 0, fmt.Sprintf("Captured amount of %.2f %s.", total, currency), "processing", invAt, "invoice")
	}
	if shp {
		ns := shipmentsIn(k + 1)
		shpIncr, shpAt := incrementID(store, ns), at(o, 24*time.Hour)
		b.add("sales_flat_shipment", shipmentCols, o, store, o, customerID, shpIncr, float64(qty), float64(qty), 1, shippingAddr, billing, shpAt, shpAt)
		for _, it := range items {
			b.add("sales_flat_shipment_item", shipmentItemCols, it.id, o, it.id, it.product, fmt.Sprintf("SKU-%04d", it.product), fmt.Sprintf("Product %d", it.product),
				float64(it.qty), it.price, 1.0, it.price*float64(it.qty))
		}
		b.add("sales_flat_shipment_track", trackCols, o, o, o, fmt.Sprintf("1Z%010d", o), "United Parcel Service", "ups", float64(qty), float64(qty), shpAt, shpAt)
		b.add("sales_flat_shipment_grid", shipmentGridCols, o, store, float64(qty), o, shpIncr, incr, shpAt, created, name)
		if k%10 == 1 {
			b.add("sales_flat_shipment_comment", commentCols, o, o, 1, 1, "Left at the door", shpAt)
		}
		b.add("sales_flat_order_status_history", historyCols, h+2, o, 1, 0, nil, "complete", shpAt, "shipment")
	}
	if ref {
		nc := creditmemosIn(k + 1)
		cmIncr, cmAt := incrementID(store, nc), at(o, 36*time.Hour)
		b.add("sales_flat_creditmemo", creditmemoCols,
			o, store, o, o, cmIncr, 2, total, total, subtotal, subtotal, shipping, shipping,
			0.0, 0.0, 0.0, 0.0, billing, shippingAddr, 1, currency, currency, currency, "USD",
			toGlobal, 1.0, 1.0, 1.0, cmAt, cmAt)
		for _, it := range items {
			row := it.price * float64(it.qty)
			b.add("sales_flat_creditmemo_item", creditmemoItemCols, it.id, o, it.id, it.product, fmt.Sprintf("SKU-%04d", it.product), fmt.Sprintf("Product %d", it.product),
				float64(it.qty), it.price, it.price, row, row, it.price, it.price, row, row)
		}
		b.add("sales_flat_creditmemo_grid", creditmemoGridCols, o, store, 1.0, 1.0, total, 1.0, toGlobal, total, o, 2, o,
			currency, currency, currency, "USD", cmIncr, incr, cmAt, created, name)
		b.add("sales_flat_creditmemo_comment", commentCols, o, o, 1, 0, "Returned unopened", cmAt)
		b.add("sales_flat_order_status_history", historyCols, h+3, o, 1, 0, fmt.Sprintf("We refunded %.2f %s offline.", total, currency), "closed", cmAt, "creditmemo")
	}
}

// salesTypes are Magento 1.9's sales entity types (eav_entity_type), with
// the column list eav1 writes, and the increment settings Magento 1 gives
// them (numbered per store, 8 digits).
func salesTypes(b *builder) []string {
	for _, t := range [][]any{
		{TypeOrder, "order", "sales/order", nil, "sales/order", 0, "eav/entity_increment_numeric", nil},
		{TypeInvoice, "invoice", "sales/order_invoice", nil, "sales/invoice", 0, "eav/entity_increment_numeric", nil},
		{TypeCreditmemo, "creditmemo", "sales/order_creditmemo", nil, "sales/creditmemo", 0, "eav/entity_increment_numeric", nil},
		{TypeShipment, "shipment", "sales/order_shipment", nil, "sales/shipment", 0, "eav/entity_increment_numeric", nil},
	} {
		b.add("eav_entity_type", "entity_type_id, entity_type_code, entity_model, attribute_model, entity_table, default_attribute_set_id, increment_model, additional_attribute_table", t...)
	}
	return []string{fmt.Sprintf("UPDATE eav_entity_type SET increment_per_store = 1, increment_pad_length = 8, increment_pad_char = '0' WHERE entity_type_id IN (%d, %d, %d, %d)",
		TypeOrder, TypeInvoice, TypeCreditmemo, TypeShipment)}
}

// LastIncrementIDs are, per sales entity type and store, the last increment
// id Magento 1 gave among orders 1..total (a store and type without one is
// absent): what eav_entity_store holds.
func LastIncrementIDs(total int) map[[2]int]string {
	out := map[[2]int]string{}
	for _, store := range OrderStores {
		n := storeOrders(store, total)
		for typ, count := range map[int]int{TypeOrder: ordersIn(n), TypeInvoice: invoicesIn(n), TypeCreditmemo: creditmemosIn(n), TypeShipment: shipmentsIn(n)} {
			if count > 0 {
				out[[2]int{typ, store}] = incrementID(store, count)
			}
		}
	}
	return out
}

// entityStore writes eav_entity_store for orders 1..total.
func entityStore(b *builder, total int) {
	last := LastIncrementIDs(total)
	id := 0
	for _, typ := range []int{TypeOrder, TypeInvoice, TypeCreditmemo, TypeShipment} {
		for _, store := range OrderStores {
			if v, ok := last[[2]int{typ, store}]; ok {
				id++
				b.add("eav_entity_store", "entity_store_id, entity_type_id, store_id, increment_prefix, increment_last_id", id, typ, store, fmt.Sprint(store), v)
			}
		}
	}
}

// Orders are the rows of orders from to last (ids) and their documents, as
// Magento1 writes them for Options o (whose Products and Customers they
// reference); eav_entity_store is not among them (see EntityStore).
func Orders(from, last int, o Options) []string {
	o = o.withDefaults()
	b := newBuilder()
	for i := from; i <= last; i++ {
		order(b, i, o)
	}
	return b.statements()
}

// EntityStore are the sales entity types and eav_entity_store rows of a
// store with orders 1..total, as Magento1 writes them.
func EntityStore(total int) []string {
	b := newBuilder()
	extra := salesTypes(b)
	entityStore(b, total)
	return append(b.statements(), extra...)
}
