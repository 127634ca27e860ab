package pipeline

import (
	"testing"

	"github.com/shiplog/shiplog/transform"
)

// TestPostSkipWhen: the PostProcessing step's routes skip a row whose
// column holds one of the values (the tree root's category_id 1, as
// ProductsInRootCatalog's treeRootId; the source's url_path attribute_ids)
// in whatever canonical form the source gives it, and carry every other
// row, NULL and a short row included.
func TestPostSkipWhen(t *testing.T) {
	r := postSkipWhen(1, map[string]bool{postRootCategory: true, "98": true})
	for _, tc := range []struct {
		name string
		row  []any
		want transform.RouteKind
	}{
		{"root category, int64", []any{int64(7), int64(1), int64(0)}, transform.Skip},
		{"root category, uint64", []any{int64(7), uint64(1), int64(0)}, transform.Skip},
		{"root category, bytes", []any{int64(7), []byte("1"), int64(0)}, transform.Skip},
		{"url_path attribute, string", []any{int64(7), "98", "x"}, transform.Skip},
		{"another category", []any{int64(7), int64(2), int64(0)}, transform.Carry},
		{"an id that only starts like the root's", []any{int64(7), int64(10), int64(0)}, transform.Carry},
		{"another attribute", []any{int64(7), int64(99), "x"}, transform.Carry},
		{"NULL", []any{int64(7), nil, int64(0)}, transform.Carry},
		{"a row without the column", []any{int64(7)}, transform.Carry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, gone := range []bool{false, true} {
				got, err := r(tc.row, gone)
				if err != nil || got.Kind != tc.want {
					t.Errorf("gone=%v: %v %v, want %v", gone, got.Kind, err, tc.want)
				}
			}
		})
	}
}
