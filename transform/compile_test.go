package transform

import (
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
)

func ruleList(names ...string) []Rule {
	out := make([]Rule, len(names))
	for i, n := range names {
		out[i] = Rule{Name: n}
	}
	return out
}

func handler(name string, kv ...string) HandlerSpec {
	h := HandlerSpec{Name: name}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Params = append(h.Params, Param{Name: kv[i], Value: kv[i+1]})
	}
	return h
}

// schemas used by the rule tests: an M1-like source and an M2-like destination.
func m1m2() (src, dst []*cdc.Table) {
	src = []*cdc.Table{
		tbl("sales_flat_order", []int{0}, col("entity_id", "int"), col("status", "varchar"), col("customer_note", "text"), col("legacy", "int"), col("weight", "decimal")),
		tbl("log_visitor", []int{0}, col("id", "int")),
		tbl("log_url", []int{0}, col("id", "int")),
		tbl("logger", []int{0}, col("id", "int")),
	}
	dst = []*cdc.Table{
		tbl("sales_order", []int{0}, col("entity_id", "int"), col("status", "varchar"), col("note", "text"), col("weight", "double"), col("store", "varchar")),
		tbl("m2_new", []int{0}, col("id", "int")),
		tbl("logger", []int{0}, col("id", "int")),
	}
	return src, dst
}

func goodRules() *Rules {
	return &Rules{
		Source: Area{
			IgnoreDocuments: ruleList("log_*"),
			RenameDocuments: []Rename{{From: "sales_flat_order", To: "sales_order"}},
			IgnoreFields:    ruleList("sales_flat_order.legacy"),
			IgnoreDatatypes: ruleList("sales_flat_order.weight"),
			MoveFields:      []Rename{{From: "sales_flat_order.customer_note", To: "sales_order.note"}},
			Transforms:      []Transform{{Field: "sales_flat_order.status", Handler: handler(`\Migration\Handler\Convert`, "map", "[pending:new]")}},
		},
		Destination: Area{
			IgnoreDocuments: ruleList("m2_*"),
			Transforms:      []Transform{{Field: "sales_order.store", Handler: handler("SetValue", "value", "Main")}},
		},
	}
}

func TestCompileEveryRuleKind(t *testing.T) {
	src, dst := m1m2()
	plan, problems := Compile(goodRules(), src, dst)
	if HasErrors(problems) || len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	// log_* is a prefix wildcard: "logger" does not start with "log_" and stays.
	if plan.Table("log_visitor") != nil || plan.Table("log_url") != nil || plan.Table("logger") == nil {
		t.Fatalf("wildcard ignore: %v", plan.names)
	}
	tp := plan.Table("sales_flat_order")
	if tp.Dest.Name != "sales_order" {
		t.Fatalf("rename: %s", tp.Dest.Name)
	}
	out, err := tp.Row([]any{int64(7), "pending", []byte("hi"), int64(1), "1.5000"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for i, c := range tp.Dest.Columns {
		got[c.Name] = out[i]
	}
	if got["entity_id"] != int64(7) || got["status"] != "new" || string(got["note"].([]byte)) != "hi" || got["weight"] != "1.5000" || got["store"] != "Main" {
		t.Fatalf("row: %v", got)
	}
	if _, ok := got["legacy"]; ok {
		t.Fatal("ignored field was written")
	}
}

func TestCompileRuleProblems(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(r *Rules)
		want  string
		isErr bool
	}{
		{"rename of a missing document", func(r *Rules) {
			r.Source.RenameDocuments = append(r.Source.RenameDocuments, Rename{From: "nope", To: "sales_order"})
		}, "1 rename rule(s) name source documents or fields that do not exist; skipped, as Magento's tool does: nope", false},
		{"rename onto an ignored document", func(r *Rules) {
			r.Source.RenameDocuments[0].To = "m2_new"
		}, "Source document sales_flat_order is renamed to m2_new, which the destination's rules ignore: it is copied there all the same", false},
		{"move onto a missing field", func(r *Rules) { r.Source.MoveFields[0].To = "sales_order.nope" }, "destination field sales_order.nope does not exist", true},
		{"move into another document", func(r *Rules) { r.Source.MoveFields[0].To = "logger.id" }, "can only move within its (renamed) document", true},
		{"move of an ignored field", func(r *Rules) {
			r.Source.IgnoreFields = append(r.Source.IgnoreFields, Rule{Name: "sales_flat_order.customer_note"})
		}, "is both ignored and moved", true},
		{"ignore of a missing field", func(r *Rules) {
			r.Source.IgnoreFields = append(r.Source.IgnoreFields, Rule{Name: "sales_flat_order.nope"})
		}, "1 ignore rule(s) name source documents or fields that do not exist; skipped, as Magento's tool does: sales_flat_order.nope", false},
		{"transform of a missing document", func(r *Rules) {
			r.Source.Transforms = append(r.Source.Transforms, Transform{Field: "nope.f", Handler: handler("SetValue", "value", "1")})
		}, "1 transform rule(s) name source documents or fields that do not exist; skipped, as Magento's tool does: nope.f", false},
		{"unknown handler", func(r *Rules) { r.Source.Transforms[0].Handler.Name = "NoSuchHandler" }, `Unknown handler "NoSuchHandler"`, true},
		{"missing handler param", func(r *Rules) { r.Source.Transforms[0].Handler.Params = nil }, "Handler " + `\Migration\Handler\Convert`, true},
		{"Magento-only handler", func(r *Rules) { r.Source.Transforms[0].Handler = handler(`\Migration\Handler\ClassMap`) }, "ClassMap", true},
		{"datatype warning without ignore", func(r *Rules) { r.Source.IgnoreDatatypes = nil }, "Mismatch of data types. Source document: sales_flat_order. Fields: weight", false},
		{"unmapped destination field", func(r *Rules) { r.Destination.Transforms = nil }, "Destination fields are not mapped. Document: sales_order. Fields: store", true},
		{"unmapped source field", func(r *Rules) { r.Source.IgnoreFields = nil }, "Source fields are not mapped. Document: sales_flat_order. Fields: legacy", true},
		{"unmapped documents both ways", func(r *Rules) { r.Source.IgnoreDocuments = nil; r.Destination.IgnoreDocuments = nil }, "Source documents are not mapped: log_url,log_visitor", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, dst := m1m2()
			r := goodRules()
			c.edit(r)
			_, problems := Compile(r, src, dst)
			var found *Problem
			for i := range problems {
				if strings.Contains(problems[i].Msg, c.want) {
					found = &problems[i]
				}
			}
			if found == nil {
				t.Fatalf("no problem mentions %q: %v", c.want, problems)
			}
			if (found.Severity == Error) != c.isErr {
				t.Fatalf("severity %s for %q", found.Severity, found.Msg)
			}
		})
	}
}

func TestGetDestinationValueKeepsTheColumn(t *testing.T) {
	src := []*cdc.Table{tbl("c", []int{0}, col("id", "int"), col("pw", "varchar"))}
	dst := []*cdc.Table{tbl("c", []int{0}, col("id", "int"), col("pw", "varchar"))}
	r := &Rules{Destination: Area{Transforms: []Transform{{Field: "c.pw", Handler: handler("GetDestinationValue")}}}}
	plan, problems := Compile(r, src, dst)
	if HasErrors(problems) {
		t.Fatal(problems)
	}
	tp := plan.Table("c")
	out, err := tp.Row([]any{int64(1), "secret"})
	if err != nil {
		t.Fatal(err)
	}
	if out[1] != cdc.Default || !tp.Dest.Columns[1].KeepExisting {
		t.Fatalf("row %v, keep %v", out, tp.Dest.Columns[1].KeepExisting)
	}
}

// BenchmarkPlanRow measures plan application on a 10-column row with two
// handlers (Convert and AddPrefix) against the identity plan.
func BenchmarkPlanRow(b *testing.B) {
	cols := []cdc.Column{col("id", "int")}
	for i := 1; i < 10; i++ {
		cols = append(cols, col("c"+string(rune('0'+i)), "varchar"))
	}
	src := []*cdc.Table{tbl("t", []int{0}, cols...)}
	dst := []*cdc.Table{tbl("t", []int{0}, cols...)}
	row := []any{int64(1), "pending", "x", []byte("abc"), "d", "e", "f", "g", "h", "i"}
	for _, c := range []struct {
		name  string
		rules *Rules
	}{
		{"identity", nil},
		{"two-handlers", &Rules{Source: Area{Transforms: []Transform{
			{Field: "t.c1", Handler: handler("Convert", "map", "[pending:new;complete:done]")},
			{Field: "t.c2", Handler: handler("AddPrefix", "prefix", "M1-")},
		}}}},
	} {
		plan, problems := Compile(c.rules, src, dst)
		if HasErrors(problems) {
			b.Fatal(problems)
		}
		tp := plan.Table("t")
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tp.Row(row); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCompilePairsByNameAcrossIgnores: as Magento's tool does, a document or
// field pairs with its namesake on the other side even when that side's
// rules ignore it: a source field fills a destination field the destination
// ignores, a destination document or field whose source namesake is ignored
// is not "not mapped", a source document is copied into a destination
// document the destination ignores; rules on what does not exist are one
// grouped warning; a NOT NULL field nothing fills is a warning.
func TestCompilePairsByNameAcrossIgnores(t *testing.T) {
	notNull := col("y", "int")
	notNull.Nullable, notNull.HasDefault = false, false
	src := []*cdc.Table{
		tbl("a", []int{0}, col("id", "int"), col("x", "int"), col("y", "int")),
		tbl("b", []int{0}, col("id", "int")),
		tbl("d", []int{0}, col("id", "int")),
	}
	dst := []*cdc.Table{
		tbl("a", []int{0}, col("id", "int"), col("x", "int"), notNull),
		tbl("b", []int{0}, col("id", "int")),
		tbl("d", []int{0}, col("id", "int")),
	}
	rules := &Rules{
		Source: Area{IgnoreFields: ruleList("a.y", "a.gone", "gone.f"), IgnoreDocuments: ruleList("b", "gone_doc")},
		Destination: Area{IgnoreFields: ruleList("a.x", "d.gone"), IgnoreDocuments: ruleList("d"),
			Transforms: []Transform{{Field: "gone.f", Handler: handler("SetValue", "value", "1")}}},
	}
	plan, problems := Compile(rules, src, dst)
	var warnings []string
	for _, p := range problems {
		if p.Severity == Error {
			t.Errorf("unexpected error: %s", p.Msg)
			continue
		}
		warnings = append(warnings, p.Msg)
	}
	a := plan.Table("a")
	if a == nil || a.Dest.ColumnList() != "id,x" {
		t.Fatalf("a: want id,x copied (x into the field the destination ignores), got %v", a)
	}
	if plan.Table("d") == nil {
		t.Fatal("d: a source document is copied into the destination document the destination ignores")
	}
	if plan.Table("b") != nil {
		t.Fatal("b: an ignored source document was planned")
	}
	want := []string{
		"Destination field a.y is NOT NULL without a default and nothing fills it",
		"3 ignore rule(s) name source documents or fields that do not exist; skipped, as Magento's tool does: gone_doc, a.gone, gone.f",
		"1 ignore rule(s) name destination documents or fields that do not exist; skipped, as Magento's tool does: d.gone",
		"1 transform rule(s) name destination documents or fields that do not exist; skipped, as Magento's tool does: gone.f",
	}
	all := strings.Join(warnings, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("no warning %q in:\n%s", w, all)
		}
	}
}

// TestCompileSourceSoFar: a Kafka applier knows the source tables published
// so far; destination documents none of them maps to are a warning then.
func TestCompileSourceSoFar(t *testing.T) {
	src, dst := m1m2()
	r := goodRules()
	r.Destination.IgnoreDocuments = nil
	for _, soFar := range []bool{false, true} {
		r.SourceSoFar = soFar
		_, problems := Compile(r, src, dst)
		var found *Problem
		for i := range problems {
			if strings.HasPrefix(problems[i].Msg, "Destination documents are not mapped: m2_new") {
				found = &problems[i]
			}
		}
		if found == nil || (found.Severity == Error) == soFar {
			t.Fatalf("SourceSoFar %v: %v", soFar, problems)
		}
	}
}
