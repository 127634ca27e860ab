package pipeline

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
)

// TestUpgradeCustomerHash: the reference's upgrade_customer_password_hash
// (AttributesDataToCustomerEntityRecords::upgradeCustomerHash): the
// version suffix by the hash part's length, other hashes as they are.
func TestUpgradeCustomerHash(t *testing.T) {
	md5 := strings.Repeat("a", 32)
	sha256 := strings.Repeat("b", 64)
	sha512 := strings.Repeat("c", 128)
	for _, tc := range []struct{ in, want string }{
		{md5 + ":salt", md5 + ":salt:0"},
		{md5, md5 + "::0"}, // no salt: an empty one, as the reference's explode
		{sha256 + ":NIpU4Or6", sha256 + ":NIpU4Or6:1"},
		{sha256 + ":a:b", sha256 + ":a:b:1"}, // the salt is everything after the first colon
		{sha512 + ":salt", sha512 + ":salt"},
		{"$2y$10$abcdefghijklmnopqrstuv", "$2y$10$abcdefghijklmnopqrstuv"},
		{"", ""},
		{"short:salt", "short:salt"},
	} {
		if got := upgradeCustomerHash(tc.in); got != tc.want {
			t.Errorf("upgradeCustomerHash(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestIsSha512Hash: PasswordVerifier::isSha512 — the part before the first
// colon has 128 characters.
func TestIsSha512Hash(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{strings.Repeat("c", 128), true},
		{strings.Repeat("c", 128) + ":salt", true},
		{strings.Repeat("c", 127) + ":salt", false},
		{strings.Repeat("c", 64) + ":" + strings.Repeat("d", 63), false},
		{"", false},
	} {
		if got := isSha512Hash(tc.in); got != tc.want {
			t.Errorf("isSha512Hash(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestCustomerDocSkips: value rows of static attributes are left out of
// the value tables, but a SHA-512 password_hash is kept (the reference's
// Data::skipRecordAttribute); entity documents skip nothing.
func TestCustomerDocSkips(t *testing.T) {
	static := map[string]customerAttr{"5": {id: "5", code: "firstname"}, "12": {id: "12", code: "password_hash"}}
	value := &customerDoc{static: static}
	entity := &customerDoc{static: static, entity: true}
	sha512 := strings.Repeat("c", 128) + ":salt"
	for _, tc := range []struct {
		name string
		d    *customerDoc
		row  []any
		want bool
	}{
		{"static attribute", value, []any{int64(1), int64(5), "Ada"}, true},
		{"static attribute, NULL value", value, []any{int64(1), int64(5), nil}, true},
		{"other attribute", value, []any{int64(1), int64(200), "gold"}, false},
		{"SHA-256 password hash", value, []any{int64(1), int64(12), strings.Repeat("b", 64) + ":s"}, true},
		{"SHA-512 password hash", value, []any{int64(1), int64(12), sha512}, false},
		{"NULL password hash", value, []any{int64(1), int64(12), nil}, true},
		{"entity document", entity, []any{int64(1), int64(5), "Ada"}, false},
	} {
		if got := tc.d.skips(tc.row, 1, 2); got != tc.want {
			t.Errorf("%s: skips = %v, want %v", tc.name, got, tc.want)
		}
	}
	if value.skips([]any{int64(1), "Ada"}, -1, 1) {
		t.Error("a document without attribute_id skipped a row")
	}
}

// TestReadCustomerGroups reads the stock customer groups files and finds
// each document's entity type as the reference's EntityTypeCode does; a
// broken file and an empty name are errors naming the file.
func TestReadCustomerGroups(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "fixtures", "magento", "dmt", "etc", "opensource-to-opensource")
	docs, err := readCustomerGroups(filepath.Join(dir, "customer-document-groups.xml.dist"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(docs["source_documents"]); n != 12 {
		t.Errorf("source_documents: %d documents, want 12", n)
	}
	if got := docs["source_entity_documents"]; !slices.Equal(got, []string{"customer_entity", "customer_address_entity"}) {
		t.Errorf("source_entity_documents: %q", got)
	}
	for doc, want := range map[string]string{
		"customer_entity": "customer", "customer_entity_varchar": "customer",
		"customer_address_entity_text": "customer_address", "CUSTOMER_ADDRESS_ENTITY": "customer_address",
		"catalog_product_entity": "",
	} {
		if got := docs.typeOf(doc); got != want {
			t.Errorf("typeOf(%s) = %q, want %q", doc, got, want)
		}
	}
	attrs, err := readCustomerGroups(filepath.Join(dir, "customer-attribute-groups.xml.dist"))
	if err != nil {
		t.Fatal(err)
	}
	if got := attrs["customer_entity"]; len(got) != 15 || got[0] != "created_in" || !slices.Contains(got, "password_hash") {
		t.Errorf("customer_entity attributes: %q", got)
	}
	if n := len(attrs["customer_address_entity"]); n != 19 {
		t.Errorf("customer_address_entity: %d attributes, want 19", n)
	}

	tmp := t.TempDir()
	for name, text := range map[string]string{
		"broken.xml": `<groups><group name="a"><document>x</document>`,
		"empty.xml":  `<groups><group name="a"><attribute>  </attribute></group></groups>`,
	} {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readCustomerGroups(p); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want one naming the file", name, err)
		}
	}
	if _, err := readCustomerGroups(filepath.Join(tmp, "missing.xml")); err == nil {
		t.Error("a missing file read without error")
	}
}

// TestCustomerFits: a static attribute's value longer than its text column
// is an error (the destination's non-strict session would cut it short);
// other types and lengths pass.
func TestCustomerFits(t *testing.T) {
	hash := cdc.Column{Name: "password_hash", DataType: "varchar", ColumnType: "varchar(128)"}
	sha512 := strings.Repeat("c", 128) + ":" + strings.Repeat("s", 32)
	for _, tc := range []struct {
		name string
		v    any
		c    cdc.Column
		fail bool
	}{
		{"SHA-512 hash with its salt", sha512, hash, true},
		{"SHA-256 hash upgraded", strings.Repeat("b", 64) + ":" + strings.Repeat("s", 32) + ":1", hash, false},
		{"exactly the length", strings.Repeat("é", 128), hash, false},
		{"one character more", strings.Repeat("é", 129), hash, true},
		{"NULL", nil, hash, false},
		{"char column", "abcd", cdc.Column{Name: "x", DataType: "char", ColumnType: "char(3)"}, true},
		{"text column", sha512, cdc.Column{Name: "x", DataType: "text", ColumnType: "text"}, false},
		{"int column", "12", cdc.Column{Name: "x", DataType: "int", ColumnType: "int(10) unsigned"}, false},
	} {
		err := customerFits(tc.v, &tc.c)
		if (err != nil) != tc.fail {
			t.Errorf("%s: error %v, want failure %v", tc.name, err, tc.fail)
		}
		if err != nil && !strings.Contains(err.Error(), tc.c.Name) {
			t.Errorf("%s: error %q does not name the column", tc.name, err)
		}
	}
}

// TestCustomerStaticValue: what the entity row's column gets. A SHA-512
// hash keeps its hash part (the reference's non-strict server cuts the
// 161-character value to the column's 128; the whole value stays in the
// value table, where its authentication plugin reads it).
func TestCustomerStaticValue(t *testing.T) {
	sha512 := strings.Repeat("d", 128)
	md5 := strings.Repeat("a", 32)
	for _, tc := range []struct {
		code, in string
		upgrade  bool
		want     string
	}{
		{"firstname", "Ada", true, "Ada"},
		{"firstname", sha512 + ":salt", true, sha512 + ":salt"},
		{"password_hash", md5 + ":XY", true, md5 + ":XY:0"},
		{"password_hash", md5 + ":XY", false, md5 + ":XY"},
		{"password_hash", sha512 + ":" + strings.Repeat("s", 32), true, sha512},
		{"password_hash", sha512 + ":" + strings.Repeat("s", 32), false, sha512},
		{"password_hash", sha512, false, sha512},
		{"password_hash", "$2y$10$abcdefghijklmnopqrstuv", true, "$2y$10$abcdefghijklmnopqrstuv"},
		{"password_hash", "", true, ""},
	} {
		if got := customerStaticValue(tc.code, tc.in, tc.upgrade); got != tc.want {
			t.Errorf("customerStaticValue(%q, %q, %v) = %q, want %q", tc.code, tc.in, tc.upgrade, got, tc.want)
		}
	}
}
