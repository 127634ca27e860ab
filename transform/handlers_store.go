package transform

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/shiplog/shiplog/cdc"
)

// Handlers of Magento's tool that read the store structure (websites, store
// groups, stores) or other rows of the source: the product alerts, the
// multi-address quote items, the media gallery values, the store group codes,
// the default website, and two that need no other rows (the order status
// visibility and the category root setting). Rows are read through Lookups:
// whole tables, once, never per row.
func init() {
	Register(`Gallery\SetEntityId`, newGallerySetEntityID)
	Register("ProductAlertStoreId", newProductAlertStoreID)
	Register("QuoteMultiAddressStoreId", newQuoteMultiAddressStoreID)
	Register("StoreGroupCode", newStoreGroupCode)
	Register(`Settings\CategoryRootId`, newSettingsCategoryRootID)
	Register(`SalesOrderStatusState\SetVisibleOnFront`, newSetVisibleOnFront)
	Register("SetDefaultWebsiteId", newSetDefaultWebsiteID)
	RegisterSide("Synonym", func(p Params, b Binding) (SideSpec, SideFunc, error) {
		s, err := newStoreSynonym(p, b)
		if err != nil {
			return SideSpec{}, nil, err
		}
		// search_synonyms is keyed by group_id alone: the query's key owns
		// its one row.
		return SideSpec{Table: storeSynonymTable, Columns: storeSynonymColumns, Owner: []string{"group_id"},
				Reads: []string{"query_text", "store_id"}},
			func(rec, _ []any, emit Emit) error {
				row, err := s.row(rec)
				if row != nil {
					emit(row...)
				}
				return err
			}, nil
	})
}

// storeBind checks that handler has no params and finds the other fields of
// rec it reads.
func storeBind(handler string, p Params, b Binding, fields ...string) ([]int, error) {
	if err := hdlParams(handler, p, nil, nil); err != nil {
		return nil, err
	}
	idx := make([]int, len(fields))
	for i, f := range fields {
		k, err := b.IndexOf(f)
		if err != nil {
			return nil, fmt.Errorf("handler %s on %s.%s reads %s: %w", handler, b.Table, b.Field, f, err)
		}
		idx[i] = k
	}
	return idx, nil
}

// storeLookup registers the source tables handler reads.
func storeLookup(handler string, b Binding, tables ...string) ([]*LookupTable, error) {
	l, err := b.Env.NeedLookups(handler)
	if err != nil {
		return nil, err
	}
	out := make([]*LookupTable, len(tables))
	for i, t := range tables {
		out[i] = l.Table(SideSource, t)
	}
	return out, nil
}

// storeValue returns column col of row i as read (canonical form).
func storeValue(r *LookupRows, i int, col string) (any, bool) {
	k := r.Col(col)
	if k < 0 || i < 0 || i >= len(r.Rows) {
		return nil, false
	}
	return r.Rows[i][k], true
}

// storeFindOne returns the row of t whose column col is val, or an error
// naming what is missing. Ids are unique keys, so the first row is the row.
func storeFindOne(r *LookupRows, t *LookupTable, col, val string) (int, error) {
	if r.Col(col) < 0 {
		return -1, fmt.Errorf("the source table %s has no column %s", t.Ref().Table, col)
	}
	rows := r.Find([]string{col}, val)
	if len(rows) == 0 {
		return -1, fmt.Errorf("%s %s is not in the source table %s", col, val, t.Ref().Table)
	}
	return rows[0], nil
}

// storeByID returns the indexes of r's rows in the numeric order of column
// col (the primary key order a plain SELECT of Magento's tool sees); rows
// whose col is not an integer come last, in table order.
func storeByID(r *LookupRows, col string) []int {
	k := r.Col(col)
	ids := make([]int64, len(r.Rows))
	ok := make([]bool, len(r.Rows))
	out := make([]int, len(r.Rows))
	for i := range r.Rows {
		out[i] = i
		if k >= 0 {
			if s, has := hdlString(r.Rows[i][k]); has {
				n, err := strconv.ParseInt(s, 10, 64)
				ids[i], ok[i] = n, err == nil
			}
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		x, y := out[a], out[b]
		if ok[x] != ok[y] {
			return ok[x]
		}
		return ok[x] && ids[x] < ids[y]
	})
	return out
}

// storeDerived keeps what a handler computed from one read of a table; a
// new read (after the stream invalidated the table) computes it again.
type storeDerived[T any] struct {
	mu   sync.Mutex
	rows *LookupRows
	v    T
	err  error
}

func (d *storeDerived[T]) get(rows *LookupRows, build func(*LookupRows) (T, error)) (T, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rows != rows {
		d.v, d.err = build(rows)
		d.rows = rows
	}
	return d.v, d.err
}

// --- Gallery\SetEntityId ------------------------------------------------------

// newGallerySetEntityID: the field (the Magento 2 gallery value's entity_id)
// gets the entity_id of the source media gallery row whose value_id is the
// record's value_id. The reference writes 0 for a value_id the gallery lacks
// (no product has id 0); that is a failed row here.
func newGallerySetEntityID(p Params, b Binding) (Func, error) {
	const name = `Gallery\SetEntityId`
	idx, err := storeBind(name, p, b, "value_id")
	if err != nil {
		return nil, err
	}
	tbls, err := storeLookup(name, b, "catalog_product_entity_media_gallery")
	if err != nil {
		return nil, err
	}
	vi, gallery := idx[0], tbls[0]
	return func(rec, _ []any) error {
		fail := func(err error) error {
			return fmt.Errorf("handler %s on %s.%s: %w", name, b.Table, b.Field, err)
		}
		id, ok := hdlString(rec[vi])
		if !ok {
			return fail(fmt.Errorf("value_id is NULL, so no gallery row gives the entity_id"))
		}
		rows, err := gallery.Rows()
		if err != nil {
			return fail(err)
		}
		i, err := storeFindOne(rows, gallery, "value_id", id)
		if err != nil {
			return fail(fmt.Errorf("%w (the reference would write entity_id 0, which names no product)", err))
		}
		v, _ := storeValue(rows, i, "entity_id")
		if !hdlTruthy(v) {
			return fail(fmt.Errorf("the source gallery row value_id %s has entity_id %v (no product)", id, v))
		}
		rec[b.Index] = v
		return nil
	}, nil
}

// --- ProductAlertStoreId ------------------------------------------------------

// newProductAlertStoreID: a product alert's store is the default store of
// its website's default store group (Magento 1 alerts have a website, Magento
// 2 ones a store). A record whose website_id is empty (NULL, 0) keeps its
// field, as in the reference; a website or group the source lacks is a
// failed row (the reference would write an empty store id).
func newProductAlertStoreID(p Params, b Binding) (Func, error) {
	const name = "ProductAlertStoreId"
	idx, err := storeBind(name, p, b, "website_id")
	if err != nil {
		return nil, err
	}
	tbls, err := storeLookup(name, b, "core_website", "core_store_group")
	if err != nil {
		return nil, err
	}
	wi, websites, groups := idx[0], tbls[0], tbls[1]
	return func(rec, _ []any) error {
		if !hdlTruthy(rec[wi]) {
			return nil
		}
		fail := func(err error) error {
			return fmt.Errorf("handler %s on %s.%s: %w", name, b.Table, b.Field, err)
		}
		website, _ := hdlString(rec[wi])
		wrows, err := websites.Rows()
		if err != nil {
			return fail(err)
		}
		w, err := storeFindOne(wrows, websites, "website_id", website)
		if err != nil {
			return fail(err)
		}
		group, ok := wrows.Str(w, "default_group_id")
		if !ok {
			return fail(fmt.Errorf("website %s has no default_group_id", website))
		}
		grows, err := groups.Rows()
		if err != nil {
			return fail(err)
		}
		g, err := storeFindOne(grows, groups, "group_id", group)
		if err != nil {
			return fail(fmt.Errorf("website %s's default group: %w", website, err))
		}
		v, _ := storeValue(grows, g, "default_store_id")
		rec[b.Index] = v
		return nil
	}, nil
}

// --- QuoteMultiAddressStoreId -------------------------------------------------

// newQuoteMultiAddressStoreID: a multi-address quote item's store (a column
// Magento 1 does not have) is the store of its quote item in the source. A
// quote item the source lacks is a failed row (the reference would write an
// empty store id); a NULL store stays NULL, as in the reference.
func newQuoteMultiAddressStoreID(p Params, b Binding) (Func, error) {
	const name = "QuoteMultiAddressStoreId"
	idx, err := storeBind(name, p, b, "quote_item_id")
	if err != nil {
		return nil, err
	}
	tbls, err := storeLookup(name, b, "sales_flat_quote_item")
	if err != nil {
		return nil, err
	}
	qi, items := idx[0], tbls[0]
	return func(rec, _ []any) error {
		fail := func(err error) error {
			return fmt.Errorf("handler %s on %s.%s: %w", name, b.Table, b.Field, err)
		}
		id, ok := hdlString(rec[qi])
		if !ok {
			return fail(fmt.Errorf("quote_item_id is NULL, so no quote item gives the store"))
		}
		rows, err := items.Rows()
		if err != nil {
			return fail(err)
		}
		i, err := storeFindOne(rows, items, "item_id", id)
		if err != nil {
			return fail(err)
		}
		if rows.Col("store_id") < 0 {
			return fail(fmt.Errorf("the source table %s has no column store_id", items.Ref().Table))
		}
		v, _ := storeValue(rows, i, "store_id")
		rec[b.Index] = v
		return nil
	}, nil
}

// --- StoreGroupCode -----------------------------------------------------------

// newStoreGroupCode: Magento 2 store groups have a unique code (varchar 32)
// that Magento 1 lacks; it is made from the source group's name as the
// reference does: white space runs become "_", the name is lower-cased
// (ASCII), everything but a-z, 0-9, "-" and "_" is dropped, then any leading
// non-letters; an empty result is "store_group".
//
// Where the reference's codes would break the unique key it makes them
// unique its own way, differently: it appends "-" and the md5 of a random
// number to a group whose name an earlier group has (random, so two runs
// disagree, and 33 characters longer than varchar(32) allows), and nothing
// to two groups whose different names give the same code. Here the groups
// are taken in group_id order, a code is cut to 32 characters, and a code an
// earlier group already has gets "-<group_id>" (the code cut to fit; and
// "-2", "-3", ... should that be taken too): the
// same codes on every run and on every replay of the stream. A group_id the
// source lacks is a failed row (the reference would write "store_group").
func newStoreGroupCode(p Params, b Binding) (Func, error) {
	const name = "StoreGroupCode"
	idx, err := storeBind(name, p, b, "group_id")
	if err != nil {
		return nil, err
	}
	tbls, err := storeLookup(name, b, "core_store_group")
	if err != nil {
		return nil, err
	}
	gi, groups := idx[0], tbls[0]
	var codes storeDerived[map[string]string]
	return func(rec, _ []any) error {
		fail := func(err error) error {
			return fmt.Errorf("handler %s on %s.%s: %w", name, b.Table, b.Field, err)
		}
		id, ok := hdlString(rec[gi])
		if !ok {
			return fail(fmt.Errorf("group_id is NULL, so no store group gives the name"))
		}
		rows, err := groups.Rows()
		if err != nil {
			return fail(err)
		}
		m, err := codes.get(rows, storeGroupCodes)
		if err != nil {
			return fail(err)
		}
		code, ok := m[id]
		if !ok {
			return fail(fmt.Errorf("group_id %s is not in the source table %s", id, groups.Ref().Table))
		}
		rec[b.Index] = code
		return nil
	}, nil
}

// storeGroupCodeLen is the length of Magento 2's store_group.code.
const storeGroupCodeLen = 32

var (
	storeSpaceRe    = regexp.MustCompile(`[\t\n\v\f\r ]+`)
	storeNotCodeRe  = regexp.MustCompile(`[^a-z0-9_-]`)
	storeLeadCodeRe = regexp.MustCompile(`^[^a-z]+`)
)

// storeGroupCode is the code the reference makes of a store group name.
func storeGroupCode(name string) string {
	c := storeSpaceRe.ReplaceAllString(name, "_")
	c = strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, c)
	c = storeNotCodeRe.ReplaceAllString(c, "")
	c = storeLeadCodeRe.ReplaceAllString(c, "")
	if c == "" {
		c = "store_group"
	}
	return c
}

// storeGroupCodes gives every group of core_store_group its unique code, by
// group_id (see newStoreGroupCode).
func storeGroupCodes(rows *LookupRows) (map[string]string, error) {
	for _, c := range []string{"group_id", "name"} {
		if rows.Col(c) < 0 {
			return nil, fmt.Errorf("the source table core_store_group has no column %s", c)
		}
	}
	out := map[string]string{}
	used := map[string]bool{}
	for _, i := range storeByID(rows, "group_id") {
		id, ok := rows.Str(i, "group_id")
		if !ok {
			continue
		}
		n, _ := rows.Str(i, "name")
		code := storeGroupCode(n)
		if len(code) > storeGroupCodeLen {
			code = code[:storeGroupCodeLen]
		}
		for n, base := 1, code; used[code]; n++ {
			suffix := "-" + id
			if n > 1 {
				suffix += "-" + strconv.Itoa(n)
			}
			code = base
			if len(code)+len(suffix) > storeGroupCodeLen {
				code = code[:storeGroupCodeLen-len(suffix)]
			}
			code += suffix
		}
		used[code] = true
		out[id] = code
	}
	return out, nil
}

// --- Settings\CategoryRootId --------------------------------------------------

// newSettingsCategoryRootID: the setting catalog/category/root_id loses its
// value (NULL) when it names category 2, Magento 1's default root category,
// compared as PHP 8 compares a string with the integer 2 ("2", "2.0",
// " 2 " match; "2abc" does not). Other values are kept.
func newSettingsCategoryRootID(p Params, b Binding) (Func, error) {
	if err := hdlParams(`Settings\CategoryRootId`, p, nil, nil); err != nil {
		return nil, err
	}
	return func(rec, _ []any) error {
		if s, ok := hdlString(rec[b.Index]); ok && storeNumericEquals(s, 2) {
			rec[b.Index] = nil
		}
		return nil
	}, nil
}

var storeNumericRe = regexp.MustCompile(`^[ \t\n\r\v\f]*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?[ \t\n\r\v\f]*$`)

// storeNumericEquals is PHP 8's s == n for a string s and an integer n.
func storeNumericEquals(s string, n int64) bool {
	if !storeNumericRe.MatchString(s) {
		return s == strconv.FormatInt(n, 10)
	}
	f, err := strconv.ParseFloat(strings.Trim(s, " \t\n\r\v\f"), 64)
	return err == nil && f == float64(n)
}

// --- SalesOrderStatusState\SetVisibleOnFront ----------------------------------

// storeInvisibleStatusStates are the status-state pairs Magento 2 keeps
// hidden from customers; any status in the state pending_payment is hidden
// too.
var storeInvisibleStatusStates = map[string]bool{
	"pending_ogone\x00pending_payment":   true,
	"pending_payment\x00pending_payment": true,
	"processed_ogone\x00processing":      true,
}

// newSetVisibleOnFront: visible_on_front (a column Magento 1 does not have)
// is 0 for the pairs above and for the state pending_payment, else 1. A NULL
// status or state is an empty one, as in the reference.
func newSetVisibleOnFront(p Params, b Binding) (Func, error) {
	idx, err := storeBind(`SalesOrderStatusState\SetVisibleOnFront`, p, b, "status", "state", "visible_on_front")
	if err != nil {
		return nil, err
	}
	si, ti, vi := idx[0], idx[1], idx[2]
	col := b.Rec.Columns[vi]
	return func(rec, _ []any) error {
		status, _ := hdlString(rec[si])
		state, _ := hdlString(rec[ti])
		visible := int64(1)
		if storeInvisibleStatusStates[status+"\x00"+state] || state == "pending_payment" {
			visible = 0
		}
		rec[vi] = storeInt(col, visible)
		return nil
	}, nil
}

// storeInt is n in the canonical form of an integer column (a string for
// any other type, which the sink converts).
func storeInt(c cdc.Column, n int64) any {
	switch c.DataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
		if c.Unsigned {
			return uint64(n)
		}
		return n
	}
	return strconv.FormatInt(n, 10)
}

// --- SetDefaultWebsiteId ------------------------------------------------------

// newSetDefaultWebsiteID: the field gets the same-named column of the
// source's default website (the first core_website row, by website_id,
// whose is_default is 1). A source without a default website is a failed
// row (the reference would write NULL).
func newSetDefaultWebsiteID(p Params, b Binding) (Func, error) {
	const name = "SetDefaultWebsiteId"
	if _, err := storeBind(name, p, b); err != nil {
		return nil, err
	}
	tbls, err := storeLookup(name, b, "core_website")
	if err != nil {
		return nil, err
	}
	websites := tbls[0]
	var def storeDerived[int]
	return func(rec, _ []any) error {
		fail := func(err error) error {
			return fmt.Errorf("handler %s on %s.%s: %w", name, b.Table, b.Field, err)
		}
		rows, err := websites.Rows()
		if err != nil {
			return fail(err)
		}
		i, err := def.get(rows, func(r *LookupRows) (int, error) {
			if r.Col(b.Field) < 0 || r.Col("is_default") < 0 {
				return -1, fmt.Errorf("the source table core_website has no column %s or is_default", b.Field)
			}
			for _, i := range storeByID(r, "website_id") {
				if s, ok := r.Str(i, "is_default"); ok && storeNumericEquals(s, 1) {
					return i, nil
				}
			}
			return -1, fmt.Errorf("the source table core_website has no default website (is_default = 1); mark one as Magento does")
		})
		if err != nil {
			return fail(err)
		}
		v, _ := storeValue(rows, i, b.Field)
		rec[b.Index] = v
		return nil
	}, nil
}

// --- Synonym ------------------------------------------------------------------

// storeSynonymTable and storeSynonymColumns are the destination table the
// Synonym handler writes rows into and the columns of those rows.
const storeSynonymTable = "search_synonyms"

var storeSynonymColumns = []string{"group_id", "synonyms", "store_id", "website_id"}

// storeSynonym is the Synonym handler bound to catalogsearch_query's
// synonym_for (the source area): Magento 2 keeps synonyms in their own
// table, so a query with a synonym becomes a search_synonyms row of the
// query's store and that store's website. The row's synonyms are written as
// the reference writes them: synonym_for, then the query text in double
// quotes and a comma (`phone"mobile",`). A query whose synonym_for is empty
// (NULL, "", "0") has no row.
//
// The reference numbers the rows it inserts (auto-increment group_id); here
// group_id is the query's query_id, so a query owns its one row and the
// stream can replace or delete it with the query. A store the source lacks
// is a failed row (the reference would write an empty website id).
//
// It writes into another table, so it is registered as a side handler where
// that facility exists; row gives the side row of a record.
type storeSynonym struct {
	field, query, text, store int
	stores                    *LookupTable
	table                     string
}

func newStoreSynonym(p Params, b Binding) (*storeSynonym, error) {
	const name = "Synonym"
	idx, err := storeBind(name, p, b, "query_id", "query_text", "store_id")
	if err != nil {
		return nil, err
	}
	tbls, err := storeLookup(name, b, "core_store")
	if err != nil {
		return nil, err
	}
	return &storeSynonym{field: b.Index, query: idx[0], text: idx[1], store: idx[2], stores: tbls[0], table: b.Table + "." + b.Field}, nil
}

// row returns the search_synonyms row of rec (values in the order of
// storeSynonymColumns), or nil when rec has none.
func (s *storeSynonym) row(rec []any) ([]any, error) {
	if !hdlTruthy(rec[s.field]) {
		return nil, nil
	}
	fail := func(err error) error { return fmt.Errorf("handler Synonym on %s: %w", s.table, err) }
	syn, _ := hdlString(rec[s.field])
	text, _ := hdlString(rec[s.text])
	store, ok := hdlString(rec[s.store])
	if !ok {
		return nil, fail(fmt.Errorf("store_id is NULL, so no store gives the website"))
	}
	if rec[s.query] == nil {
		return nil, fail(fmt.Errorf("query_id is NULL"))
	}
	rows, err := s.stores.Rows()
	if err != nil {
		return nil, fail(err)
	}
	i, err := storeFindOne(rows, s.stores, "store_id", store)
	if err != nil {
		return nil, fail(err)
	}
	website, ok := storeValue(rows, i, "website_id")
	if !ok || website == nil {
		return nil, fail(fmt.Errorf("store %s has no website_id in the source table core_store", store))
	}
	return []any{rec[s.query], syn + `"` + text + `",`, rec[s.store], website}, nil
}
