package transform

import (
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
)

func tbl(name string, key []int, cols ...cdc.Column) *cdc.Table {
	return &cdc.Table{Schema: "s", Name: name, Columns: cols, Key: key}
}

func col(name, typ string) cdc.Column { return cdc.Column{Name: name, DataType: typ, ColumnType: typ} }

func TestCompileIdentityAndProblems(t *testing.T) {
	gen := col("g", "int")
	gen.Generated = true
	src := []*cdc.Table{
		tbl("a", []int{0}, col("id", "int"), col("v", "varchar"), gen, col("w", "int")),
		tbl("only_src", []int{0}, col("id", "int")),
		tbl("nokey", nil, col("x", "int")),
		tbl("typed", []int{0}, col("id", "int"), col("amount", "decimal")),
	}
	dst := []*cdc.Table{
		tbl("a", []int{0}, col("id", "int"), col("w", "int"), col("v", "varchar"), col("g", "int")),
		tbl("only_dst", []int{0}, col("id", "int")),
		tbl("nokey", nil, col("x", "int")),
		tbl("typed", []int{0}, col("id", "int"), col("amount", "int"), col("extra", "int")),
		tbl("_shiplog_checkpoint", []int{0}, col("id", "int")),
	}
	plan, problems := Compile(nil, src, dst)
	var msgs []string
	for _, p := range problems {
		msgs = append(msgs, p.Severity.String()+": "+p.Msg)
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		"error: Source documents are not mapped: only_src",
		"error: Destination documents are not mapped: only_dst",
		"error: Document nokey has no primary key",
		"warning: Mismatch of data types. Source document: typed. Fields: amount",
		"error: Destination fields are not mapped. Document: typed. Fields: extra",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing problem %q in:\n%s", want, all)
		}
	}
	if strings.Contains(all, "_shiplog_") {
		t.Errorf("state tables reported: %s", all)
	}
	a := plan.Table("a")
	if a == nil {
		t.Fatal("no plan for a")
	}
	// Generated columns are not written; columns follow the source order.
	got, err := a.Row([]any{int64(1), "v", int64(99), int64(2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != int64(1) || got[1] != "v" || got[2] != int64(2) {
		t.Fatalf("row: %#v", got)
	}
	if names := a.Dest.KeyNames(); len(names) != 1 || names[0] != "id" {
		t.Fatalf("dest key %v", names)
	}
	if plan.Table("nokey") != nil {
		t.Fatal("a table without key must not get a plan unless opted in")
	}
	plan, problems = Compile(&Rules{FullRowTables: []string{"NOKEY"}}, src[2:3], dst[2:3])
	if HasErrors(problems) || plan.Table("nokey") == nil || !plan.Table("nokey").FullRow {
		t.Fatalf("full-row opt-in: %v", problems)
	}
}

func TestCompilePrefixes(t *testing.T) {
	src := []*cdc.Table{tbl("m1_orders", []int{0}, col("id", "int")), tbl("other", []int{0}, col("id", "int"))}
	dst := []*cdc.Table{tbl("m2_orders", []int{0}, col("id", "int")), tbl("unrelated", []int{0}, col("id", "int"))}
	plan, problems := Compile(&Rules{SourcePrefix: "m1_", DestPrefix: "m2_"}, src, dst)
	if HasErrors(problems) {
		t.Fatalf("problems: %v", problems)
	}
	if tp := plan.Table("m1_orders"); tp == nil || tp.Dest.Name != "m2_orders" {
		t.Fatalf("plan: %+v", tp)
	}
	if len(plan.Tables()) != 1 {
		t.Fatalf("tables outside the prefixes were planned: %d", len(plan.Tables()))
	}
}

func TestMatchesDetectsChangedColumns(t *testing.T) {
	src := []*cdc.Table{tbl("a", []int{0}, col("id", "int"), col("v", "int"))}
	plan, _ := Compile(nil, src, []*cdc.Table{tbl("a", []int{0}, col("id", "int"), col("v", "int"))})
	tp := plan.Table("a")
	if !tp.Matches(tbl("a", nil, col("ID", "int"), col("v", "int"))) {
		t.Fatal("same columns must match")
	}
	if tp.Matches(tbl("a", nil, col("id", "int"), col("v", "int"), col("new", "int"))) {
		t.Fatal("an added column must not match")
	}
}

// TestCompileRefusesTypesWithoutCanonicalForm: a mapped column of a type
// shiplog has no canonical form for (VECTOR, anything newer) is an integrity
// error naming it, and is left out of the plan; UUID/INET columns are not.
func TestCompileRefusesTypesWithoutCanonicalForm(t *testing.T) {
	vec := cdc.Column{Name: "emb", DataType: "vector", ColumnType: "vector(3)"}
	src := []*cdc.Table{
		tbl("v", []int{0}, col("id", "uuid"), col("a", "inet6"), col("b", "inet4"), vec, col("g", "geomcollection")),
	}
	dst := []*cdc.Table{
		tbl("v", []int{0}, col("id", "uuid"), col("a", "inet6"), col("b", "inet4"), vec, col("g", "geomcollection")),
	}
	plan, problems := Compile(nil, src, dst)
	var errs []string
	for _, p := range problems {
		if p.Severity == Error {
			errs = append(errs, p.Msg)
		}
	}
	all := strings.Join(errs, "\n")
	if !strings.Contains(all, "Unsupported data type: field v.emb (vector(3)) to v.emb (vector(3))") {
		t.Fatalf("no error for the VECTOR column in:\n%s", all)
	}
	for _, ok := range []string{"v.id", "v.a", "v.b", "v.g"} {
		if strings.Contains(all, "field "+ok+" ") {
			t.Errorf("%s refused:\n%s", ok, all)
		}
	}
	if tp := plan.Table("v"); tp == nil || tp.Dest.ColumnIndex("emb") >= 0 || tp.Dest.ColumnIndex("a") < 0 {
		t.Fatalf("plan of v: %+v", tp)
	}
}
