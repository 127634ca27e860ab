package pipeline

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/transform"
)

// stockDMTFile is a file of the reference's etc/opensource-to-opensource
// from the shared fixtures (beside the checkout, as CI lays them out).
func stockDMTFile(t *testing.T, name string) string {
	t.Helper()
	for _, d := range []string{filepath.Join("..", "..", "shared"), "/work/shared"} {
		p := filepath.Join(d, "fixtures", "magento", "dmt", "etc", "opensource-to-opensource", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("the Magento fixtures (../shared/fixtures/magento) are missing")
	return ""
}

// TestReadLogGroups: the stock log-document-groups.xml.dist copies
// log_visitor and clears nothing (its documents to clear are commented
// out); a file listing documents to clear lists them in order; an unknown
// group or an empty document is an error naming the file.
func TestReadLogGroups(t *testing.T) {
	src, clear, err := readLogGroups(stockDMTFile(t, "log-document-groups.xml.dist"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(src, []string{"log_visitor"}) || len(clear) != 0 {
		t.Errorf("stock groups: source %q, to clear %q; want [log_visitor] and none", src, clear)
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name, xml  string
		src, clear []string
		wantErr    string
	}{
		{"clear", `<groups><group name="source_documents"><document>log_visitor</document></group>
			<group name="destination_documents_to_clear"><document>log_url</document><document>log_quote</document></group></groups>`,
			[]string{"log_visitor"}, []string{"log_url", "log_quote"}, ""},
		{"empty", `<groups><group name="source_documents"></group></groups>`, nil, nil, ""},
		{"unknown group", `<groups><group name="delta_log"><document>log_visitor</document></group></groups>`, nil, nil, `unknown group "delta_log"`},
		{"empty document", `<groups><group name="source_documents"><document> </document></group></groups>`, nil, nil, "empty <document>"},
		{"broken", `<groups><group name="source_documents">`, nil, nil, "log.xml"},
	} {
		p := filepath.Join(dir, "log.xml")
		if err := os.WriteFile(p, []byte(c.xml), 0o600); err != nil {
			t.Fatal(err)
		}
		src, clear, err := readLogGroups(p)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: error %v, want one with %q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(src, c.src) || !slices.Equal(clear, c.clear) {
			t.Errorf("%s: %q %q %v; want %q %q", c.name, src, clear, err, c.src, c.clear)
		}
	}
}

// TestLogDestName: the stock map-log.xml.dist renames log_visitor to
// customer_visitor; a document it does not rename keeps its name.
func TestLogDestName(t *testing.T) {
	rules, err := transform.ReadMap(stockDMTFile(t, "map-log.xml.dist"))
	if err != nil {
		t.Fatal(err)
	}
	for doc, want := range map[string]string{"log_visitor": "customer_visitor", "LOG_VISITOR": "customer_visitor", "log_url": "log_url"} {
		if got := logDestName(rules, doc); got != want {
			t.Errorf("logDestName(%q) = %q, want %q", doc, got, want)
		}
	}
}

// TestInventoryFieldsWithout: the Inventory step's structure check reports
// the fields one side lacks, case-insensitively, in the first list's order.
func TestInventoryFieldsWithout(t *testing.T) {
	for _, c := range []struct{ a, b, want []string }{
		{[]string{"source_item_id", "source_code", "quantity", "status", "sku"}, []string{"SKU", "quantity", "source_code", "source_item_id", "status"}, nil},
		{[]string{"source_item_id", "source_code", "quantity", "status", "sku"}, []string{"source_item_id", "sku"}, []string{"source_code", "quantity", "status"}},
		{[]string{"type", "code", "stock_id", "extra"}, []string{"type", "code", "stock_id"}, []string{"extra"}},
		{nil, []string{"x"}, nil},
	} {
		if got := without(c.a, c.b); !slices.Equal(got, c.want) {
			t.Errorf("without(%q, %q) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}
