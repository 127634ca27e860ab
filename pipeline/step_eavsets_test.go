package pipeline

import "testing"

// TestEavSourceGroupName: Magento 1's product groups Magento 2 names
// otherwise (the reference's Data step: General, Prices and Recurring
// Profile are Product Details); other entity types' groups, and other
// product groups, keep their names; the match is exact, as the reference's.
func TestEavSourceGroupName(t *testing.T) {
	tests := []struct {
		et, name, want string
		renamed        bool
	}{
		{"catalog_product", "General", "Product Details", true},
		{"catalog_product", "Prices", "Product Details", true},
		{"catalog_product", "Recurring Profile", "Product Details", true},
		{"catalog_product", "Design", "Design", false},
		{"catalog_product", "general", "general", false},
		{"catalog_product", "", "", false},
		{"customer", "General", "General", false},
		{"catalog_category", "Prices", "Prices", false},
	}
	for _, tc := range tests {
		got, renamed := eavSourceGroupName(tc.et, tc.name)
		if got != tc.want || renamed != tc.renamed {
			t.Errorf("%s/%q: %q %v, want %q %v", tc.et, tc.name, got, renamed, tc.want, tc.renamed)
		}
	}
}
