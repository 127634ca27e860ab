package pipeline

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// TestPlanEavOptions: what the EAV step does about attribute options,
// which the Map step replaces by Magento 1's under Magento 1's ids (the
// reference's Map step empties eav_attribute_option and copies Magento 1's
// rows as they are). Magento 2's gender (customer, id 20) is Magento 1's
// (18); Magento 2's color (id 30) is Magento 1's (25); Magento 2's own
// swatch_kind (40) has no Magento 1 attribute.
func TestPlanEavOptions(t *testing.T) {
	base := func() eavOptionsInput {
		return eavOptionsInput{
			attrMap: map[string]string{"18": "20", "25": "30", "26": "41"},
			matched: map[string]string{"20": "18", "30": "25"},
			src: []eavOptionRef{
				{"1", "18", "Male"}, {"2", "18", "Female"},
				{"3", "25", "Red"}, {"4", "25", "Blue"},
			},
			// Magento 2's own install: gender's options 1-3 (1 Male as
			// Magento 1's), color's 4 (Green), swatch_kind's 5 and 6.
			dst: []eavOptionRef{
				{"1", "20", "Male"}, {"2", "20", "Woman"}, {"3", "20", "Not Specified"},
				{"4", "30", "Green"}, {"5", "40", "Round"}, {"6", "40", "Square"},
			},
			srcDefault: map[string]string{"25": "3"},
			dstDefault: map[string]string{"20": "1", "30": "4", "40": "5"},
			dstCodes:   map[string]string{"20": "customer/gender", "30": "catalog_product/color", "40": "catalog_product/swatch_kind", "41": "catalog_product/fabric"},
			swatches:   map[string]string{"10": "1", "11": "2", "12": "4", "13": "99"},
			// gender reads the options (the Table model, with or without
			// a leading backslash), color by NULL.
			dstSource: map[string]string{"20": `\Magento\Eav\Model\Entity\Attribute\Source\Table`, "40": `Magento\Eav\Model\Entity\Attribute\Source\Table`},
		}
	}
	tests := []struct {
		name     string
		change   func(*eavOptionsInput)
		swatches []string
		defaults []eavDefaultFix
		lost     map[string]int
		other    []string
	}{
		{
			// Option 1 is Magento 1's Male under the same id: its swatch
			// and gender's default (1) stay right. Option 2 is another
			// option under Magento 1's Female id, 4 Green under Magento
			// 1's Blue id, 99 none: their swatches go. color's default 4
			// named Green, and would name Blue: it becomes Magento 1's 3
			// (Red). swatch_kind loses its two options.
			name:     "first run",
			swatches: []string{"11", "12", "13"},
			defaults: []eavDefaultFix{{attr: "30", code: "catalog_product/color", from: "4", to: "3"}},
			lost:     map[string]int{"catalog_product/swatch_kind": 2},
		},
		{
			// After the copy: Magento 2 holds Magento 1's options; nothing
			// to do (the lost attribute's options are gone).
			name: "second run",
			change: func(in *eavOptionsInput) {
				in.dst = []eavOptionRef{{"1", "20", "Male"}, {"2", "20", "Female"}, {"3", "30", "Red"}, {"4", "30", "Blue"}}
				in.swatches = map[string]string{"10": "1", "12": "4"}
			},
			lost: map[string]int{},
		},
		{
			// A default naming no Magento 2 option (a source model's
			// value) stays; a multiselect's list naming one is replaced,
			// by NULL when Magento 1 has none.
			name: "defaults",
			change: func(in *eavOptionsInput) {
				in.dstDefault = map[string]string{"20": "7", "30": "9, 4"}
				in.srcDefault = map[string]string{}
				in.swatches = nil
			},
			defaults: []eavDefaultFix{{attr: "30", code: "catalog_product/color", from: "9, 4", toNull: true}},
			lost:     map[string]int{"catalog_product/swatch_kind": 2},
		},
		{
			// Magento 1's default is Magento 2's: it names Magento 1's
			// option of that id after the copy, as in Magento 1.
			name:     "same default",
			change:   func(in *eavOptionsInput) { in.srcDefault["25"] = "4" },
			swatches: []string{"11", "12", "13"},
			lost:     map[string]int{"catalog_product/swatch_kind": 2},
		},
		{
			// Magento 2's color reads its values through another model:
			// Magento 1's options would not show; a model on an attribute
			// without Magento 1 options (swatch_kind, unmatched) is fine.
			name: "other source model",
			change: func(in *eavOptionsInput) {
				in.dstSource["30"] = `Acme\Color\Source`
				in.dstSource["40"] = `Acme\Kind\Source`
			},
			swatches: []string{"11", "12", "13"},
			defaults: []eavDefaultFix{{attr: "30", code: "catalog_product/color", from: "4", to: "3"}},
			lost:     map[string]int{"catalog_product/swatch_kind": 2},
			other:    []string{`catalog_product/color (Acme\Color\Source)`},
		},
		{
			// Empty sides: nothing.
			name:   "empty",
			change: func(in *eavOptionsInput) { *in = eavOptionsInput{} },
			lost:   map[string]int{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			if tc.change != nil {
				tc.change(&in)
			}
			p := planEavOptions(in)
			if !slices.Equal(p.swatches, tc.swatches) {
				t.Errorf("swatches %v, want %v", p.swatches, tc.swatches)
			}
			if !slices.Equal(p.defaults, tc.defaults) {
				t.Errorf("defaults %+v, want %+v", p.defaults, tc.defaults)
			}
			if !slices.Equal(p.otherSource, tc.other) {
				t.Errorf("other source models %v, want %v", p.otherSource, tc.other)
			}
			if !maps.Equal(p.lost, tc.lost) {
				t.Errorf("lost %v, want %v", p.lost, tc.lost)
			}
		})
	}
}

// TestLostOptionsWarning names the attributes and counts, sorted.
func TestLostOptionsWarning(t *testing.T) {
	if w := lostOptionsWarning(nil); w != "" {
		t.Errorf("no loss: %q", w)
	}
	w := lostOptionsWarning(map[string]int{"catalog_product/b": 1, "catalog_product/a": 3})
	if !strings.Contains(w, "catalog_product/a (3), catalog_product/b (1)") || !strings.Contains(w, "Magento 1's option ids") {
		t.Errorf("warning %q", w)
	}
}
