// Package magentogen generates the rows of a small Magento 1.9 store, for the
// real schemas of ../shared/fixtures/magento/schema (which hold no rows): the
// stores, the EAV attributes, sets and groups as Magento 1 defines them, a
// category tree, products with values in every catalog backend table,
// customers with addresses — and the EAV rows a fresh Magento 2.4 install has
// before a migration. The output is SQL statements (bulk INSERTs), the same
// for the same Options, so tests compare by value.
//
// The attribute ids are Magento's own where the two versions number an
// attribute differently (Magento 1's name is 71, Magento 2's 73): a value
// copied with its Magento 1 attribute_id lands under another attribute.
// url_path values end in the store's URL suffix (.html), as Magento 1
// writes them.
package magentogen

import (
	"fmt"
	"strings"
)

// Options size the store. Zero values take the defaults.
type Options struct {
	// Products is how many products (simple and configurable); 300.
	Products int
	// Customers is how many customers, each with one or two addresses; 50.
	Customers int
	// Orders is how many orders, with their invoices, shipments, credit
	// memos and grid rows (see sales.go); 0: none, and no sales entity
	// types or eav_entity_store rows either.
	Orders int
}

func (o Options) withDefaults() Options {
	if o.Products <= 0 {
		o.Products = 300
	}
	if o.Customers <= 0 {
		o.Customers = 50
	}
	return o
}

// Entity types, as both versions number them.
const (
	TypeCustomer = 1
	TypeAddress  = 2
	TypeCategory = 3
	TypeProduct  = 4
)

// Attribute sets of Magento 1. SetGear exists only in Magento 1 (with its
// own group, "Gear Details", and its own attributes).
const (
	SetDefaultProduct = 4
	SetGear           = 9
)

// Stores of the generated store: admin (0), and three store views on two
// websites.
var StoreIDs = []int{0, 1, 2, 3}

// attr is one attribute on both sides: its code, entity type, backend type
// and ids (m2 0: Magento 2 lacks it; the EAV step adds it).
type attr struct {
	code     string
	typ      int
	backend  string
	input    string
	m1, m2   int
	user     bool
	m2Static bool // Magento 2 keeps it in the entity table
}

// attrs are the attributes the store uses, under the ids Magento 1.9 and
// Magento 2.4 give them (a fresh install of each).
var attrs = []attr{
	// catalog_category
	{code: "name", typ: TypeCategory, backend: "varchar", input: "text", m1: 41, m2: 45},
	{code: "is_active", typ: TypeCategory, backend: "int", input: "select", m1: 42, m2: 46},
	{code: "url_key", typ: TypeCategory, backend: "varchar", input: "text", m1: 43, m2: 119},
	{code: "description", typ: TypeCategory, backend: "text", input: "textarea", m1: 44, m2: 47},
	{code: "meta_title", typ: TypeCategory, backend: "varchar", input: "text", m1: 46, m2: 49},
	{code: "url_path", typ: TypeCategory, backend: "varchar", input: "text", m1: 57, m2: 120},
	{code: "include_in_menu", typ: TypeCategory, backend: "int", input: "select", m1: 67, m2: 69},
	{code: "custom_design_from", typ: TypeCategory, backend: "datetime", input: "date", m1: 59, m2: 61},
	{code: "filter_price_range", typ: TypeCategory, backend: "decimal", input: "text", m1: 70, m2: 72},
	// catalog_product
	{code: "name", typ: TypeProduct, backend: "varchar", input: "text", m1: 71, m2: 73},
	{code: "description", typ: TypeProduct, backend: "text", input: "textarea", m1: 72, m2: 75},
	{code: "short_description", typ: TypeProduct, backend: "text", input: "textarea", m1: 73, m2: 76},
	{code: "sku", typ: TypeProduct, backend: "static", input: "text", m1: 74, m2: 74},
	{code: "price", typ: TypeProduct, backend: "decimal", input: "price", m1: 75, m2: 77},
	{code: "special_price", typ: TypeProduct, backend: "decimal", input: "price", m1: 76, m2: 78},
	{code: "special_from_date", typ: TypeProduct, backend: "datetime", input: "date", m1: 77, m2: 79},
	{code: "weight", typ: TypeProduct, backend: "decimal", input: "weight", m1: 80, m2: 82},
	{code: "meta_title", typ: TypeProduct, backend: "varchar", input: "text", m1: 82, m2: 84},
	{code: "color", typ: TypeProduct, backend: "int", input: "select", m1: 92, m2: 93},
	{code: "news_from_date", typ: TypeProduct, backend: "datetime", input: "date", m1: 93, m2: 94},
	{code: "status", typ: TypeProduct, backend: "int", input: "select", m1: 96, m2: 97},
	{code: "url_key", typ: TypeProduct, backend: "varchar", input: "text", m1: 97, m2: 121},
	{code: "url_path", typ: TypeProduct, backend: "varchar", input: "text", m1: 98, m2: 122},
	{code: "image", typ: TypeProduct, backend: "varchar", input: "media_image", m1: 85, m2: 87},
	{code: "small_image", typ: TypeProduct, backend: "varchar", input: "media_image", m1: 86, m2: 88},
	{code: "thumbnail", typ: TypeProduct, backend: "varchar", input: "media_image", m1: 87, m2: 89},
	{code: "media_gallery", typ: TypeProduct, backend: "varchar", input: "gallery", m1: 88, m2: 90, m2Static: true},
	{code: "gallery", typ: TypeProduct, backend: "varchar", input: "gallery", m1: 95, m2: 96},
	{code: "visibility", typ: TypeProduct, backend: "int", input: "select", m1: 102, m2: 99},
	{code: "tax_class_id", typ: TypeProduct, backend: "int", input: "select", m1: 121, m2: 136},
	// The Gear set's own (user-defined, one per backend type).
	{code: "gear_release", typ: TypeProduct, backend: "datetime", input: "date", m1: 960, user: true},
	{code: "gear_weight_kg", typ: TypeProduct, backend: "decimal", input: "text", m1: 961, user: true},
	{code: "gear_material", typ: TypeProduct, backend: "int", input: "select", m1: 962, user: true},
	{code: "gear_care", typ: TypeProduct, backend: "text", input: "textarea", m1: 963, user: true},
	{code: "gear_code", typ: TypeProduct, backend: "varchar", input: "text", m1: 964, user: true},
	// customer: static in Magento 2 (moved into customer_entity) ...
	{code: "created_in", typ: TypeCustomer, backend: "varchar", input: "text", m1: 3, m2: 3, m2Static: true},
	{code: "prefix", typ: TypeCustomer, backend: "varchar", input: "text", m1: 4, m2: 4, m2Static: true},
	{code: "firstname", typ: TypeCustomer, backend: "varchar", input: "text", m1: 5, m2: 5, m2Static: true},
	{code: "middlename", typ: TypeCustomer, backend: "varchar", input: "text", m1: 6, m2: 6, m2Static: true},
	{code: "lastname", typ: TypeCustomer, backend: "varchar", input: "text", m1: 7, m2: 7, m2Static: true},
	{code: "suffix", typ: TypeCustomer, backend: "varchar", input: "text", m1: 8, m2: 8, m2Static: true},
	{code: "dob", typ: TypeCustomer, backend: "datetime", input: "date", m1: 11, m2: 11, m2Static: true},
	{code: "password_hash", typ: TypeCustomer, backend: "varchar", input: "hidden", m1: 12, m2: 12, m2Static: true},
	{code: "default_billing", typ: TypeCustomer, backend: "int", input: "text", m1: 13, m2: 13, m2Static: true},
	{code: "default_shipping", typ: TypeCustomer, backend: "int", input: "text", m1: 14, m2: 14, m2Static: true},
	{code: "taxvat", typ: TypeCustomer, backend: "varchar", input: "text", m1: 15, m2: 15, m2Static: true},
	{code: "confirmation", typ: TypeCustomer, backend: "varchar", input: "text", m1: 16, m2: 16, m2Static: true},
	{code: "gender", typ: TypeCustomer, backend: "int", input: "select", m1: 18, m2: 18, m2Static: true},
	{code: "rp_token", typ: TypeCustomer, backend: "varchar", input: "hidden", m1: 33, m2: 33, m2Static: true},
	{code: "rp_token_created_at", typ: TypeCustomer, backend: "datetime", input: "date", m1: 34, m2: 34, m2Static: true},
	// ... and values in both (user-defined: one per backend type).
	{code: "loyalty_tier", typ: TypeCustomer, backend: "varchar", input: "text", m1: 980, m2: 150, user: true},
	{code: "loyalty_points", typ: TypeCustomer, backend: "int", input: "text", m1: 981, user: true},
	{code: "loyalty_balance", typ: TypeCustomer, backend: "decimal", input: "text", m1: 982, user: true},
	{code: "loyalty_note", typ: TypeCustomer, backend: "text", input: "textarea", m1: 983, user: true},
	{code: "loyalty_since", typ: TypeCustomer, backend: "datetime", input: "date", m1: 984, user: true},
	// customer_address
	{code: "prefix", typ: TypeAddress, backend: "varchar", input: "text", m1: 19, m2: 19, m2Static: true},
	{code: "firstname", typ: TypeAddress, backend: "varchar", input: "text", m1: 20, m2: 20, m2Static: true},
	{code: "middlename", typ: TypeAddress, backend: "varchar", input: "text", m1: 21, m2: 21, m2Static: true},
	{code: "lastname", typ: TypeAddress, backend: "varchar", input: "text", m1: 22, m2: 22, m2Static: true},
	{code: "suffix", typ: TypeAddress, backend: "varchar", input: "text", m1: 23, m2: 23, m2Static: true},
	{code: "company", typ: TypeAddress, backend: "varchar", input: "text", m1: 24, m2: 24, m2Static: true},
	{code: "street", typ: TypeAddress, backend: "text", input: "multiline", m1: 25, m2: 25, m2Static: true},
	{code: "city", typ: TypeAddress, backend: "varchar", input: "text", m1: 26, m2: 26, m2Static: true},
	{code: "country_id", typ: TypeAddress, backend: "varchar", input: "select", m1: 27, m2: 27, m2Static: true},
	{code: "region", typ: TypeAddress, backend: "varchar", input: "text", m1: 28, m2: 28, m2Static: true},
	{code: "region_id", typ: TypeAddress, backend: "int", input: "hidden", m1: 29, m2: 29, m2Static: true},
	{code: "postcode", typ: TypeAddress, backend: "varchar", input: "text", m1: 30, m2: 30, m2Static: true},
	{code: "telephone", typ: TypeAddress, backend: "varchar", input: "text", m1: 31, m2: 31, m2Static: true},
	{code: "fax", typ: TypeAddress, backend: "varchar", input: "text", m1: 32, m2: 32, m2Static: true},
	{code: "vat_id", typ: TypeAddress, backend: "varchar", input: "text", m1: 36, m2: 36, m2Static: true},
	{code: "vat_is_valid", typ: TypeAddress, backend: "int", input: "text", m1: 37, m2: 37, m2Static: true},
	{code: "vat_request_id", typ: TypeAddress, backend: "varchar", input: "text", m1: 38, m2: 38, m2Static: true},
	{code: "vat_request_date", typ: TypeAddress, backend: "varchar", input: "text", m1: 39, m2: 39, m2Static: true},
	{code: "vat_request_success", typ: TypeAddress, backend: "int", input: "text", m1: 40, m2: 40, m2Static: true},
	{code: "floor", typ: TypeAddress, backend: "int", input: "text", m1: 990, user: true},
	{code: "delivery_note", typ: TypeAddress, backend: "text", input: "textarea", m1: 991, user: true},
	{code: "door_code", typ: TypeAddress, backend: "varchar", input: "text", m1: 994, user: true},
	{code: "verified_at", typ: TypeAddress, backend: "datetime", input: "date", m1: 992, user: true},
	{code: "delivery_fee", typ: TypeAddress, backend: "decimal", input: "text", m1: 993, user: true},
}

// id is the Magento 1 id of the attribute code of entity type typ.
func id(typ int, code string) int {
	for _, a := range attrs {
		if a.typ == typ && a.code == code {
			return a.m1
		}
	}
	panic("magentogen: no attribute " + code) // a typo in this file
}

// Options of the select attributes (Magento 1 option ids).
var (
	colorOptions    = []string{"Red", "Blue", "Green", "Black", "White"} // option ids 1..5
	materialOptions = []string{"Cotton", "Wool", "Nylon", "Leather"}     // option ids 6..9
)

// Category tree: 1 the root catalog, 2 the default category, CategoryFirst
// to CategoryLast its children.
const (
	CategoryFirst = 3
	CategoryLast  = 8
)

// table collects the rows of one bulk INSERT.
type table struct {
	name string
	cols string
	rows []string
}

// builder keeps tables in the order they were first written to.
type builder struct {
	order  []string
	tables map[string]*table
}

func newBuilder() *builder { return &builder{tables: map[string]*table{}} }

func (b *builder) add(name, cols string, values ...any) {
	t := b.tables[name]
	if t == nil {
		t = &table{name: name, cols: cols}
		b.tables[name] = t
		b.order = append(b.order, name)
	}
	if t.cols != cols {
		panic("magentogen: two column lists for " + name) // a bug in this file
	}
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = literal(v)
	}
	t.rows = append(t.rows, "("+strings.Join(parts, ", ")+")")
}

// statements are the tables' INSERTs, at most 400 rows each.
func (b *builder) statements() []string {
	var out []string
	for _, name := range b.order {
		t := b.tables[name]
		for i := 0; i < len(t.rows); i += 400 {
			end := min(i+400, len(t.rows))
			out = append(out, fmt.Sprintf("INSERT INTO `%s` (%s) VALUES\n%s", t.name, t.cols, strings.Join(t.rows[i:end], ",\n")))
		}
	}
	return out
}

// literal is v as an SQL literal: nil is NULL, strings quoted.
func literal(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(x) + "'"
	case int:
		return fmt.Sprint(x)
	case float64:
		return fmt.Sprintf("%.4f", x)
	default:
		panic(fmt.Sprintf("magentogen: literal of %T", v))
	}
}

// Prelude are the statements to run first on the Magento 1 connection: the
// admin rows have id 0 and the generated rows reference each other in any
// order.
var Prelude = []string{
	"SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')",
	"SET FOREIGN_KEY_CHECKS = 0",
}

// Magento1 is the store's rows on the Magento 1.9 schema (run after
// Prelude, on one connection).
func Magento1(o Options) []string {
	o = o.withDefaults()
	b := newBuilder()
	stores(b)
	eav1(b)
	categories(b)
	b.add("cataloginventory_stock", "stock_id, stock_name", 1, "Default")
	for p := 1; p <= o.Products; p++ {
		product(b, p, o.Products)
	}
	for c := 1; c <= o.Customers; c++ {
		customer(b, c)
	}
	var extra []string
	if o.Orders > 0 {
		for i := 1; i <= o.Orders; i++ {
			order(b, i, o)
		}
		extra = salesTypes(b)
		entityStore(b, o.Orders)
	}
	return append(b.statements(), extra...)
}

// Magento1Chunks gives the rows of Magento1(o) to fn in slices of about
// chunk products, customers or orders each (a large store is not held in
// memory whole); the rows are Magento1's, the statements cut otherwise.
func Magento1Chunks(o Options, chunk int, fn func(stmts []string) error) error {
	o = o.withDefaults()
	chunk = max(chunk, 1)
	b := newBuilder()
	stores(b)
	eav1(b)
	categories(b)
	b.add("cataloginventory_stock", "stock_id, stock_name", 1, "Default")
	if err := fn(b.statements()); err != nil {
		return err
	}
	for p := 1; p <= o.Products; p += chunk {
		if err := fn(Products(p, min(p+chunk-1, o.Products), o.Products)); err != nil {
			return err
		}
	}
	for c := 1; c <= o.Customers; c += chunk {
		if err := fn(Customers(c, min(c+chunk-1, o.Customers))); err != nil {
			return err
		}
	}
	if o.Orders == 0 {
		return nil
	}
	for i := 1; i <= o.Orders; i += chunk {
		if err := fn(Orders(i, min(i+chunk-1, o.Orders), o)); err != nil {
			return err
		}
	}
	return fn(EntityStore(o.Orders))
}

// Products are the rows of products from to last (ids), as Magento1 writes
// them, for a test that adds products later (total is Options.Products:
// which products are configurable depends on it).
func Products(from, last, total int) []string {
	b := newBuilder()
	for p := from; p <= last; p++ {
		product(b, p, total)
	}
	return b.statements()
}

// Customers are the rows of customers from to last (ids), with their
// addresses, as Magento1 writes them, for a test that adds customers later.
func Customers(from, last int) []string {
	b := newBuilder()
	for c := from; c <= last; c++ {
		customer(b, c)
	}
	return b.statements()
}

func stores(b *builder) {
	for _, w := range [][]any{{0, "admin", "Admin", 0, 0, 0}, {1, "base", "Main Website", 1, 1, 1}, {2, "outlet", "Outlet Website", 2, 2, 0}} {
		b.add("core_website", "website_id, code, name, sort_order, default_group_id, is_default", w...)
	}
	for _, g := range [][]any{{0, 0, "Default", 0, 0}, {1, 1, "Main Website Store", 2, 1}, {2, 2, "Outlet Store", 2, 3}} {
		b.add("core_store_group", "group_id, website_id, name, root_category_id, default_store_id", g...)
	}
	for _, s := range [][]any{{0, "admin", 0, 0, "Admin", 0, 1}, {1, "default", 1, 1, "Default Store View", 0, 1},
		{2, "french", 1, 1, "French Store View", 1, 1}, {3, "outlet_en", 2, 2, "Outlet English", 0, 1}} {
		b.add("core_store", "store_id, code, website_id, group_id, name, sort_order, is_active", s...)
	}
	const cfg = "scope, scope_id, path, value"
	for _, c := range [][]any{
		{"default", 0, "general/locale/code", "en_US"}, {"default", 0, "general/store_information/name", "Shiplog Gear"},
		{"default", 0, "web/seo/use_rewrites", "1"}, {"default", 0, "catalog/seo/product_url_suffix", ".html"},
		{"default", 0, "catalog/seo/category_url_suffix", ".html"}, {"default", 0, "currency/options/base", "USD"},
		{"websites", 1, "general/store_information/phone", "555-0100"}, {"websites", 2, "general/store_information/phone", "555-0200"},
		{"websites", 2, "currency/options/base", "EUR"},
		{"stores", 1, "design/head/default_title", "Shiplog Gear"}, {"stores", 2, "general/locale/code", "fr_FR"},
		{"stores", 2, "design/head/default_title", "Shiplog Équipement"}, {"stores", 3, "design/head/default_title", "Shiplog Outlet"},
	} {
		b.add("core_config_data", cfg, c...)
	}
}

func eav1(b *builder) {
	for _, t := range [][]any{
		{TypeCustomer, "customer", "customer/customer", "customer/attribute", "customer/entity", 1, "eav/entity_increment_numeric", "customer/eav_attribute"},
		{TypeAddress, "customer_address", "customer/address", "customer/attribute", "customer/address_entity", 2, nil, "customer/eav_attribute"},
		{TypeCategory, "catalog_category", "catalog/category", "catalog/resource_eav_attribute", "catalog/category", 3, nil, "catalog/eav_attribute"},
		{TypeProduct, "catalog_product", "catalog/product", "catalog/resource_eav_attribute", "catalog/product", 4, nil, "catalog/eav_attribute"},
	} {
		b.add("eav_entity_type", "entity_type_id, entity_type_code, entity_model, attribute_model, entity_table, default_attribute_set_id, increment_model, additional_attribute_table", t...)
	}
	for _, a := range attrs {
		user := 0
		if a.user {
			user = 1
		}
		var source any
		if a.input == "select" && a.user {
			source = "eav/entity_attribute_source_table"
		}
		b.add("eav_attribute", "attribute_id, entity_type_id, attribute_code, backend_type, frontend_input, frontend_label, source_model, is_user_defined",
			a.m1, a.typ, a.code, a.backend, a.input, label(a.code), source, user)
		switch a.typ {
		case TypeCategory, TypeProduct:
			global := 0 // store-level values are allowed
			if a.code == "price" || a.code == "status" {
				global = 2
			}
			b.add("catalog_eav_attribute", "attribute_id, is_global, is_visible, is_searchable, is_filterable, used_in_product_listing", a.m1, global, 1, 0, 0, 0)
		default:
			b.add("customer_eav_attribute", "attribute_id, is_visible, is_system", a.m1, 1, 1-user)
		}
	}
	for i, v := range colorOptions {
		b.add("eav_attribute_option", "option_id, attribute_id, sort_order", i+1, id(TypeProduct, "color"), i)
		b.add("eav_attribute_option_value", "value_id, option_id, store_id, value", i+1, i+1, 0, v)
	}
	for i, v := range materialOptions {
		o := len(colorOptions) + i + 1
		b.add("eav_attribute_option", "option_id, attribute_id, sort_order", o, id(TypeProduct, "gear_material"), i)
		b.add("eav_attribute_option_value", "value_id, option_id, store_id, value", o, o, 0, v)
	}
	const set = "attribute_set_id, entity_type_id, attribute_set_name, sort_order"
	b.add("eav_attribute_set", set, 1, TypeCustomer, "Default", 1)
	b.add("eav_attribute_set", set, 2, TypeAddress, "Default", 1)
	b.add("eav_attribute_set", set, 3, TypeCategory, "Default", 1)
	b.add("eav_attribute_set", set, SetDefaultProduct, TypeProduct, "Default", 1)
	b.add("eav_attribute_set", set, SetGear, TypeProduct, "Gear", 2)
	const group = "attribute_group_id, attribute_set_id, attribute_group_name, sort_order, default_id"
	groups := [][]any{
		{1, 1, "General", 1, 1}, {2, 2, "General", 1, 1}, {3, 3, "General Information", 1, 1},
		{7, SetDefaultProduct, "General", 1, 1}, {8, SetDefaultProduct, "Prices", 2, 0}, {9, SetDefaultProduct, "Meta Information", 3, 0},
		{20, SetGear, "General", 1, 1}, {21, SetGear, "Prices", 2, 0}, {22, SetGear, "Meta Information", 3, 0}, {23, SetGear, "Gear Details", 4, 0},
	}
	for _, g := range groups {
		b.add("eav_attribute_group", group, g...)
	}
	ea := 0
	member := func(typ, set, group int, code string) {
		ea++
		b.add("eav_entity_attribute", "entity_attribute_id, entity_type_id, attribute_set_id, attribute_group_id, attribute_id, sort_order", ea, typ, set, group, id(typ, code), ea)
	}
	for _, a := range attrs {
		switch {
		case a.typ == TypeCustomer:
			member(TypeCustomer, 1, 1, a.code)
		case a.typ == TypeAddress:
			member(TypeAddress, 2, 2, a.code)
		case a.typ == TypeCategory:
			member(TypeCategory, 3, 3, a.code)
		case strings.HasPrefix(a.code, "gear_"):
			member(TypeProduct, SetGear, 23, a.code)
		default:
			g := map[string]int{"price": 8, "special_price": 8, "special_from_date": 8, "tax_class_id": 8, "meta_title": 9}[a.code]
			if g == 0 {
				g = 7
			}
			member(TypeProduct, SetDefaultProduct, g, a.code)
			member(TypeProduct, SetGear, g+13, a.code)
		}
	}
}

// label is an attribute's frontend label made from its code.
func label(code string) string {
	s := strings.ReplaceAll(code, "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

const stamp = "2020-01-02 03:04:05"

func categories(b *builder) {
	const cols = "entity_id, entity_type_id, attribute_set_id, parent_id, created_at, updated_at, path, position, level, children_count"
	n := CategoryLast - CategoryFirst + 1
	b.add("catalog_category_entity", cols, 1, TypeCategory, 3, 0, stamp, stamp, "1", 0, 0, n+1)
	b.add("catalog_category_entity", cols, 2, TypeCategory, 3, 1, stamp, stamp, "1/2", 1, 1, n)
	for c := CategoryFirst; c <= CategoryLast; c++ {
		b.add("catalog_category_entity", cols, c, TypeCategory, 3, 2, stamp, stamp, fmt.Sprintf("1/2/%d", c), c-2, 2, 0)
	}
	val := func(backend string, c, store int, code string, v any) {
		b.add("catalog_category_entity_"+backend, "entity_type_id, attribute_id, store_id, entity_id, value", TypeCategory, id(TypeCategory, code), store, c, v)
	}
	for c := 1; c <= CategoryLast; c++ {
		name := map[int]string{1: "Root Catalog", 2: "Default Category"}[c]
		if name == "" {
			name = fmt.Sprintf("Category %d", c)
		}
		val("varchar", c, 0, "name", name)
		val("int", c, 0, "is_active", 1)
		if c < CategoryFirst {
			continue
		}
		val("varchar", c, 0, "url_key", fmt.Sprintf("category-%d", c))
		val("varchar", c, 0, "url_path", fmt.Sprintf("category-%d.html", c))
		val("varchar", c, 0, "meta_title", fmt.Sprintf("Meta of category %d", c))
		val("varchar", c, 2, "name", fmt.Sprintf("Catégorie %d", c))
		val("text", c, 0, "description", fmt.Sprintf("<p>All about category %d</p>", c))
		val("int", c, 0, "include_in_menu", c%2)
		val("int", c, 3, "include_in_menu", 1)
		val("datetime", c, 0, "custom_design_from", fmt.Sprintf("2021-%02d-01 00:00:00", c))
		val("decimal", c, 0, "filter_price_range", float64(c)*10)
	}
}

// product writes product p: its entity, values, links and stock item. Every
// 25th product is configurable, its four predecessors its children.
func product(b *builder, p, total int) {
	set := SetDefaultProduct
	if p%3 == 0 {
		set = SetGear
	}
	typ := "simple"
	configurable := p%25 == 0
	if configurable {
		typ = "configurable"
	}
	child := p%25 >= 21 && p-p%25+25 <= total
	b.add("catalog_product_entity", "entity_id, entity_type_id, attribute_set_id, type_id, sku, created_at, updated_at",
		p, TypeProduct, set, typ, fmt.Sprintf("SKU-%04d", p), stamp, stamp)
	val := func(backend string, store int, code string, v any) {
		b.add("catalog_product_entity_"+backend, "entity_type_id, attribute_id, store_id, entity_id, value", TypeProduct, id(TypeProduct, code), store, p, v)
	}
	val("varchar", 0, "name", fmt.Sprintf("Product %d", p))
	val("varchar", 0, "url_key", fmt.Sprintf("product-%d", p))
	val("varchar", 0, "url_path", fmt.Sprintf("product-%d.html", p))
	val("varchar", 0, "meta_title", fmt.Sprintf("Buy product %d", p))
	if p%4 == 0 {
		val("varchar", 2, "name", fmt.Sprintf("Produit %d", p))
	}
	if p%7 == 0 {
		val("varchar", 3, "name", fmt.Sprintf("Outlet product %d", p))
	}
	val("text", 0, "description", fmt.Sprintf("<p>Description of product %d</p>", p))
	val("text", 0, "short_description", fmt.Sprintf("Product %d in short", p))
	if p%5 == 0 {
		val("text", 2, "description", fmt.Sprintf("<p>Description du produit %d</p>", p))
	}
	val("decimal", 0, "price", 10+float64(p)*1.25)
	val("decimal", 0, "weight", float64(p%17)+0.5)
	if p%6 == 0 {
		val("decimal", 0, "special_price", 8+float64(p))
		val("datetime", 0, "special_from_date", fmt.Sprintf("2022-%02d-%02d 00:00:00", 1+p%12, 1+p%28))
	}
	val("datetime", 0, "news_from_date", fmt.Sprintf("2021-%02d-%02d 00:00:00", 1+p%12, 1+p%28))
	status := 1
	if p%13 == 0 {
		status = 2
	}
	val("int", 0, "status", status)
	visibility := 4
	if child {
		visibility = 1
	}
	val("int", 0, "visibility", visibility)
	if p%11 == 0 {
		val("int", 1, "visibility", 2)
	}
	val("int", 0, "tax_class_id", 2)
	if !configurable {
		val("int", 0, "color", 1+p%len(colorOptions))
	}
	if p%5 == 1 {
		// An image: the media gallery entry (value_id = the product's id),
		// its labels, the image roles.
		img := fmt.Sprintf("/p/r/product-%d.jpg", p)
		for _, code := range []string{"image", "small_image", "thumbnail"} {
			val("varchar", 0, code, img)
		}
		b.add("catalog_product_entity_media_gallery", "value_id, attribute_id, entity_id, value", p, id(TypeProduct, "media_gallery"), p, img)
		b.add("catalog_product_entity_media_gallery_value", "value_id, store_id, label, position, disabled", p, 0, fmt.Sprintf("Product %d", p), 1, 0)
		if p%10 == 1 {
			b.add("catalog_product_entity_media_gallery_value", "value_id, store_id, label, position, disabled", p, 2, fmt.Sprintf("Produit %d", p), 1, 0)
		}
	}
	if p%50 == 7 {
		b.add("catalog_product_entity_gallery", "entity_type_id, attribute_id, store_id, entity_id, position, value", TypeProduct, id(TypeProduct, "gallery"), 0, p, 1, fmt.Sprintf("/g/product-%d.jpg", p))
	}
	if set == SetGear {
		val("datetime", 0, "gear_release", fmt.Sprintf("2019-%02d-%02d 12:00:00", 1+p%12, 1+p%28))
		val("decimal", 0, "gear_weight_kg", float64(p%9)+0.25)
		val("int", 0, "gear_material", len(colorOptions)+1+p%len(materialOptions))
		val("text", 0, "gear_care", fmt.Sprintf("Wash product %d cold", p))
		val("varchar", 0, "gear_code", fmt.Sprintf("G-%d", p))
		if p%2 == 0 {
			val("varchar", 3, "gear_code", fmt.Sprintf("OUT-G-%d", p))
		}
	}
	if configurable {
		b.add("catalog_product_super_attribute", "product_id, attribute_id, position", p, id(TypeProduct, "color"), 0)
		for c := p - 4; c < p; c++ {
			b.add("catalog_product_super_link", "product_id, parent_id", c, p)
			b.add("catalog_product_relation", "parent_id, child_id", p, c)
		}
	}
	b.add("catalog_product_website", "product_id, website_id", p, 1)
	if p%2 == 0 {
		b.add("catalog_product_website", "product_id, website_id", p, 2)
	}
	b.add("catalog_category_product", "category_id, product_id, position", CategoryFirst+p%(CategoryLast-CategoryFirst+1), p, p)
	b.add("cataloginventory_stock_item", "product_id, stock_id, qty, is_in_stock, manage_stock", p, 1, float64(p%40), boolInt(p%40 != 0), 1)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// customer writes customer c with one address (two for every third).
func customer(b *builder, c int) {
	website, store := 1, 1
	if c%4 == 0 {
		website, store = 2, 3
	}
	b.add("customer_entity", "entity_id, entity_type_id, attribute_set_id, website_id, email, group_id, store_id, created_at, updated_at, is_active",
		c, TypeCustomer, 0, website, fmt.Sprintf("customer%d@example.com", c), 1, store, stamp, stamp, 1)
	val := func(backend, code string, v any) {
		b.add("customer_entity_"+backend, "entity_type_id, attribute_id, entity_id, value", TypeCustomer, id(TypeCustomer, code), c, v)
	}
	val("varchar", "firstname", fmt.Sprintf("First%d", c))
	val("varchar", "lastname", fmt.Sprintf("Last%d", c))
	val("varchar", "password_hash", fmt.Sprintf("%032x:salt%d", c, c))
	val("varchar", "created_in", "Default Store View")
	val("datetime", "dob", fmt.Sprintf("19%02d-%02d-%02d 00:00:00", 50+c%40, 1+c%12, 1+c%28))
	val("varchar", "loyalty_tier", []string{"bronze", "silver", "gold"}[c%3])
	val("int", "loyalty_points", c*10)
	val("decimal", "loyalty_balance", float64(c)+0.75)
	val("text", "loyalty_note", fmt.Sprintf("Customer %d likes gear", c))
	val("datetime", "loyalty_since", fmt.Sprintf("2018-%02d-01 00:00:00", 1+c%12))
	addresses := 1
	if c%3 == 0 {
		addresses = 2
	}
	for i := 0; i < addresses; i++ {
		a := c*10 + i
		b.add("customer_address_entity", "entity_id, entity_type_id, attribute_set_id, parent_id, created_at, updated_at, is_active",
			a, TypeAddress, 0, c, stamp, stamp, 1)
		av := func(backend, code string, v any) {
			b.add("customer_address_entity_"+backend, "entity_type_id, attribute_id, entity_id, value", TypeAddress, id(TypeAddress, code), a, v)
		}
		av("varchar", "firstname", fmt.Sprintf("First%d", c))
		av("varchar", "lastname", fmt.Sprintf("Last%d", c))
		av("varchar", "city", []string{"London", "Paris", "Kyiv"}[c%3])
		av("varchar", "country_id", []string{"GB", "FR", "UA"}[c%3])
		av("varchar", "postcode", fmt.Sprintf("%05d", c*7))
		av("varchar", "telephone", fmt.Sprintf("555-%04d", a))
		av("text", "street", fmt.Sprintf("%d Gear Street", a))
		av("int", "region_id", 0)
		av("int", "floor", a%9)
		av("text", "delivery_note", fmt.Sprintf("Ring twice at %d", a))
		av("varchar", "door_code", fmt.Sprintf("#%d", a*3))
		av("datetime", "verified_at", fmt.Sprintf("2020-%02d-15 08:00:00", 1+a%12))
		av("decimal", "delivery_fee", float64(a%5)+0.99)
		if i == 0 {
			val("int", "default_billing", a)
		}
	}
}

// Magento2 are the EAV rows of a fresh Magento 2.4 install the steps merge
// the store's into: the entity types, the attributes under Magento 2's ids
// (the customers' static ones as static), the Default sets and their groups.
// Run with foreign key checks off.
func Magento2() []string {
	b := newBuilder()
	for _, t := range [][]any{
		{TypeCustomer, "customer", `Magento\Customer\Model\ResourceModel\Customer`, `Magento\Customer\Model\Attribute`, "customer_entity", 1, `Magento\Eav\Model\Entity\Increment\NumericValue`, "customer_eav_attribute"},
		{TypeAddress, "customer_address", `Magento\Customer\Model\ResourceModel\Address`, `Magento\Customer\Model\Attribute`, "customer_address_entity", 2, nil, "customer_eav_attribute"},
		{TypeCategory, "catalog_category", `Magento\Catalog\Model\ResourceModel\Category`, `Magento\Catalog\Model\ResourceModel\Eav\Attribute`, "catalog_category_entity", 3, nil, "catalog_eav_attribute"},
		{TypeProduct, "catalog_product", `Magento\Catalog\Model\ResourceModel\Product`, `Magento\Catalog\Model\ResourceModel\Eav\Attribute`, "catalog_product_entity", 4, nil, "catalog_eav_attribute"},
	} {
		b.add("eav_entity_type", "entity_type_id, entity_type_code, entity_model, attribute_model, entity_table, default_attribute_set_id, increment_model, additional_attribute_table", t...)
	}
	for _, a := range attrs {
		if a.m2 == 0 {
			continue
		}
		backend := a.backend
		if a.m2Static {
			backend = "static"
		}
		user := 0
		if a.user {
			user = 1
		}
		b.add("eav_attribute", "attribute_id, entity_type_id, attribute_code, backend_type, frontend_input, frontend_label, is_user_defined",
			a.m2, a.typ, a.code, backend, a.input, label(a.code), user)
		switch a.typ {
		case TypeCategory, TypeProduct:
			b.add("catalog_eav_attribute", "attribute_id, is_global, is_visible", a.m2, 0, 1)
		default:
			b.add("customer_eav_attribute", "attribute_id, is_visible, is_system", a.m2, 1, 1-user)
		}
	}
	const set = "attribute_set_id, entity_type_id, attribute_set_name, sort_order"
	b.add("eav_attribute_set", set, 1, TypeCustomer, "Default", 2)
	b.add("eav_attribute_set", set, 2, TypeAddress, "Default", 2)
	b.add("eav_attribute_set", set, 3, TypeCategory, "Default", 1)
	b.add("eav_attribute_set", set, 4, TypeProduct, "Default", 1)
	const group = "attribute_group_id, attribute_set_id, attribute_group_name, sort_order, default_id, attribute_group_code, tab_group_code"
	for _, g := range [][]any{
		{1, 1, "General", 1, 1, "general", nil}, {2, 2, "General", 1, 1, "general", nil}, {3, 3, "General Information", 1, 1, "general-information", nil},
		{7, 4, "Product Details", 10, 1, "product-details", "basic"}, {8, 4, "Advanced Pricing", 40, 0, "advanced-pricing", "advanced"},
		{9, 4, "Search Engine Optimization", 30, 0, "search-engine-optimization", "basic"},
	} {
		b.add("eav_attribute_group", group, g...)
	}
	ea := 0
	for _, a := range attrs {
		if a.m2 == 0 {
			continue
		}
		set, g := a.typ, a.typ
		if a.typ == TypeProduct {
			set, g = 4, map[string]int{"price": 8, "special_price": 8, "special_from_date": 8, "tax_class_id": 8, "meta_title": 9}[a.code]
			if g == 0 {
				g = 7
			}
		}
		ea++
		b.add("eav_entity_attribute", "entity_attribute_id, entity_type_id, attribute_set_id, attribute_group_id, attribute_id, sort_order", ea, a.typ, set, g, a.m2, ea)
	}
	return b.statements()
}
