package transform

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stockClassMap reads the reference tool's class map as it ships.
func stockClassMap(t testing.TB) map[string]string {
	t.Helper()
	for _, d := range []string{filepath.Join("..", "..", "shared", "fixtures", "magento"), "/work/shared/fixtures/magento"} {
		m, err := ReadClassMap(filepath.Join(d, "dmt", "etc", "opensource-to-opensource", "class-map.xml.dist"))
		if err == nil {
			return m
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	t.Fatal("the Magento fixtures (../shared/fixtures/magento beside the checkout) are missing")
	return nil
}

func TestReadClassMapStockFile(t *testing.T) {
	m := stockClassMap(t)
	// 127 <rename> elements, one class (sales/order_payment) renamed twice.
	if len(m) != 126 {
		t.Fatalf("read %d classes, want 126", len(m))
	}
	for from, want := range map[string]string{
		"catalogrule/rule_condition_combine":        `Magento\CatalogRule\Model\Rule\Condition\Combine`,
		"salesrule/rule_condition_product_found":    `Magento\SalesRule\Model\Rule\Condition\Product\Found`,
		"cms/widget_block":                          `Magento\Cms\Block\Widget\Block`,
		"sales/order_payment":                       `Magento\Sales\Model\Order\Payment`,
		"eav/entity_attribute_frontend_default":     `Magento\Eav\Model\Entity\Attribute\Frontend\DefaultFrontend`,
		"catalog/product_attribute_backend_media":   "", // <to /> : dropped
		"catalog/category_attribute_backend_urlkey": "",
	} {
		got, ok := m[from]
		if !ok || got != want {
			t.Errorf("%s -> %q (present %v), want %q", from, got, ok, want)
		}
	}
	empty := 0
	for from, to := range m {
		if to == "" {
			empty++
		}
		if strings.TrimSpace(from) != from || strings.TrimSpace(to) != to {
			t.Errorf("untrimmed entry %q -> %q", from, to)
		}
	}
	if empty != 19 {
		t.Errorf("%d classes map to nothing, want the file's 19 empty <to>", empty)
	}
}

func TestReadClassMapStructure(t *testing.T) {
	const head = `<?xml version="1.0" encoding="UTF-8"?>
<classmap xmlns:xs="http://www.w3.org/2001/XMLSchema-instance" xs:noNamespaceSchemaLocation="urn:x">
`
	cases := []struct {
		name, body string
		want       map[string]string
		wantErr    string
	}{
		{name: "to before from, CDATA, comment inside text, entity",
			body: head + "  <rename><to><![CDATA[A\\B]]></to><!-- c --><from>a/<!-- x -->b&amp;c</from></rename>\n</classmap>",
			want: map[string]string{"a/b&c": `A\B`}},
		{name: "empty and zero to drop the class; zero from is ignored; later rename wins",
			body: head + "<rename><from>x/y</from><to/></rename><rename><from>z</from><to>0</to></rename>" +
				"<rename><from>0</from><to>N</to></rename><rename><from>d</from><to>One</to></rename><rename><from>d</from><to>Two</to></rename></classmap>",
			want: map[string]string{"x/y": "", "z": "", "d": "Two"}},
		{name: "text kept as written", body: head + "<rename><from> a </from><to>\n B\n</to></rename></classmap>",
			want: map[string]string{" a ": "\n B\n"}},
		{name: "wrong root", body: `<map><rename/></map>`, wantErr: ":1: root element is <map>, want <classmap>"},
		{name: "no rename", body: head + "</classmap>", wantErr: ":2: <classmap> has no <rename>"},
		{name: "missing to", body: head + "<rename>\n<from>a</from>\n</rename></classmap>", wantErr: `:3: <rename> of "a" has no <to>`},
		{name: "missing from", body: head + "\n\n<rename><to>a</to></rename></classmap>", wantErr: ":5: <rename> has no <from>"},
		{name: "empty from", body: head + "<rename>\n<from></from><to>a</to></rename></classmap>", wantErr: ":4: <from> is empty"},
		{name: "second from", body: head + "<rename><from>a</from>\n<from>b</from><to>a</to></rename></classmap>", wantErr: ":4: <rename> has a second <from>"},
		{name: "second to", body: head + "<rename><from>a</from><to/><to>b</to></rename></classmap>", wantErr: "<rename> has a second <to>"},
		{name: "unknown element", body: head + "<rename><from>a</from><to>b</to></rename>\n<alias/></classmap>", wantErr: ":4: element <alias> in <classmap>: only <rename> is allowed"},
		{name: "element in rename", body: head + "<rename><from>a</from><to>b</to><note/></rename></classmap>", wantErr: "element <note> in <rename>"},
		{name: "element in text", body: head + "<rename><from>a<b/></from><to>b</to></rename></classmap>", wantErr: "<from> holds text only"},
		{name: "stray text", body: head + "<rename>oops<from>a</from><to>b</to></rename></classmap>", wantErr: `text "oops" in <rename>`},
		{name: "attribute", body: head + `<rename id="1"><from>a</from><to>b</to></rename></classmap>`, wantErr: `element <rename> may not have attribute "id"`},
		{name: "namespace", body: `<classmap xmlns="urn:m"><rename><from>a</from><to>b</to></rename></classmap>`, wantErr: `is in namespace "urn:m"`},
		{name: "broken XML", body: head + "<rename><from>a</to></rename></classmap>", wantErr: ":3: not well-formed XML"},
		{name: "truncated", body: head + "<rename><from>a</from><to>b</to></rename>", wantErr: "not well-formed XML"},
		{name: "second root", body: head + "<rename><from>a</from><to>b</to></rename></classmap>\n<classmap/>", wantErr: ":4: element <classmap> after the root element"},
		{name: "empty file", body: "", wantErr: "no <classmap> element"},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "class-map.xml")
			if err := os.WriteFile(path, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := ReadClassMap(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("error %v, want one naming %s and containing %q", err, path, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(m) != len(tc.want) {
				t.Fatalf("got %q, want %q", m, tc.want)
			}
			for k, v := range tc.want {
				if got, ok := m[k]; !ok || got != v {
					t.Fatalf("got %q, want %q", m, tc.want)
				}
			}
		})
	}
	if _, err := ReadClassMap(filepath.Join(dir, "missing.xml")); err == nil || !strings.Contains(err.Error(), "missing.xml") {
		t.Fatalf("missing file: %v", err)
	}
}
