package transform

import "testing"

func TestIgnoresSource(t *testing.T) {
	r := &Rules{SourcePrefix: "m1_", Source: Area{IgnoreDocuments: []Rule{{Name: "log_*"}, {Name: "Scratch"}}}}
	for name, want := range map[string]bool{
		"m1_log_visitor": true, "M1_LOG_x": true, "m1_scratch": true, "other_orders": true,
		"m1_orders": false, "m1_scratch2": false, "m1_m2_cl_orders": false, "log_visitor": true,
	} {
		if got := r.IgnoresSource(name); got != want {
			t.Errorf("IgnoresSource(%q) = %v, want %v", name, got, want)
		}
	}
}
