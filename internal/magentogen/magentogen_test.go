package magentogen

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestTheSameOptionsGiveTheSameStatements(t *testing.T) {
	a, b := Magento1(Options{}), Magento1(Options{})
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two runs of Magento1 differ")
	}
	if !reflect.DeepEqual(Magento2(), Magento2()) {
		t.Fatal("two runs of Magento2 differ")
	}
	if c := Magento1(Options{Products: 10, Customers: 2}); reflect.DeepEqual(a, c) {
		t.Fatal("Options change nothing")
	}
}

// The attributes are consistent: one id per side, one code per entity type.
func TestAttributeIDsAreUniquePerSide(t *testing.T) {
	m1, m2, codes := map[int]string{}, map[int]string{}, map[string]bool{}
	for _, a := range attrs {
		if prev, ok := m1[a.m1]; ok {
			t.Errorf("Magento 1 id %d: %s and %s", a.m1, prev, a.code)
		}
		m1[a.m1] = a.code
		if a.m2 != 0 {
			if prev, ok := m2[a.m2]; ok {
				t.Errorf("Magento 2 id %d: %s and %s", a.m2, prev, a.code)
			}
			m2[a.m2] = a.code
		}
		k := fmt.Sprint(a.typ, a.code)
		if codes[k] {
			t.Errorf("%s twice for entity type %d", a.code, a.typ)
		}
		codes[k] = true
	}
	// Some Magento 1 ids are, in Magento 2, other attributes: a value
	// copied untranslated lands under a wrong one.
	collide := 0
	for id, code := range m1 {
		if c2, ok := m2[id]; ok && c2 != code {
			collide++
		}
	}
	if collide < 5 {
		t.Errorf("only %d Magento 1 ids name another attribute in Magento 2", collide)
	}
}

// Every value table of every entity type gets rows, and each row's
// attribute is of that table's entity type and backend type.
func TestEveryBackendTableHasValuesOfItsOwnAttributes(t *testing.T) {
	b := newBuilder()
	eav1(b)
	categories(b)
	for p := 1; p <= 60; p++ {
		product(b, p, 60)
	}
	for c := 1; c <= 6; c++ {
		customer(b, c)
	}
	prefixes := map[string]int{"catalog_product_entity_": TypeProduct, "catalog_category_entity_": TypeCategory,
		"customer_entity_": TypeCustomer, "customer_address_entity_": TypeAddress}
	byID := map[int]attr{}
	for _, a := range attrs {
		byID[a.m1] = a
	}
	for prefix, typ := range prefixes {
		for _, backend := range []string{"datetime", "decimal", "int", "text", "varchar"} {
			name := prefix + backend
			tb := b.tables[name]
			if tb == nil || len(tb.rows) == 0 {
				t.Errorf("%s: no rows", name)
				continue
			}
			seen := map[string]bool{}
			for _, r := range tb.rows {
				f := strings.Split(strings.TrimPrefix(r, "("), ", ")
				var id int
				if _, err := fmt.Sscan(f[1], &id); err != nil {
					t.Fatalf("%s: row %s: %v", name, r, err)
				}
				a, ok := byID[id]
				if !ok || a.typ != typ || a.backend != backend {
					t.Errorf("%s: row %s has attribute %d (%+v)", name, r, id, a)
				}
				// (entity, attribute, store) is the tables' unique key.
				k := f[1] + "/" + f[2] + "/" + f[3]
				if seen[k] {
					t.Errorf("%s: two rows for %s", name, k)
				}
				seen[k] = true
			}
		}
	}
	// The Magento-1-only set has products and values of its own attributes.
	var gear int
	for _, r := range b.tables["catalog_product_entity"].rows {
		if strings.Contains(r, fmt.Sprintf(", %d, %d, ", TypeProduct, SetGear)) {
			gear++
		}
	}
	if gear != 20 {
		t.Errorf("%d products in the Gear set, want 20 of 60", gear)
	}
	if n := len(b.tables["catalog_product_super_link"].rows); n != 8 {
		t.Errorf("%d super links for 2 configurable products, want 8", n)
	}
}

func TestLiteral(t *testing.T) {
	for _, c := range []struct {
		in   any
		want string
	}{
		{nil, "NULL"}, {"it's", "'it''s'"}, {`a\b`, `'a\\b'`}, {7, "7"}, {1.5, "1.5000"},
	} {
		if got := literal(c.in); got != c.want {
			t.Errorf("literal(%#v) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestStatementsAreBatched(t *testing.T) {
	b := newBuilder()
	for i := 0; i < 401; i++ {
		b.add("t", "a", i)
	}
	s := b.statements()
	if len(s) != 2 || !strings.HasPrefix(s[0], "INSERT INTO `t` (a) VALUES") || !strings.HasSuffix(s[1], "(400)") {
		t.Fatalf("statements: %d, %q", len(s), s[len(s)-1])
	}
}
