package transform

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
)

// The media gallery tables as m1-schema.sql and m2-schema.sql create them.
func sideM1Gallery() *cdc.Table {
	return &cdc.Table{Schema: "m1", Name: "catalog_product_entity_media_gallery", Key: []int{0}, KeyName: "PRIMARY", Columns: []cdc.Column{
		{Name: "value_id", DataType: "int", ColumnType: "int(10) unsigned", Unsigned: true},
		{Name: "attribute_id", DataType: "smallint", ColumnType: "smallint(5) unsigned", Unsigned: true, HasDefault: true},
		{Name: "entity_id", DataType: "int", ColumnType: "int(10) unsigned", Unsigned: true, HasDefault: true},
		{Name: "value", DataType: "varchar", ColumnType: "varchar(255)", Nullable: true, Charset: "utf8"},
	}}
}

func sideM2Gallery() *cdc.Table {
	return &cdc.Table{Schema: "m2", Name: "catalog_product_entity_media_gallery", Key: []int{0}, KeyName: "PRIMARY", Columns: []cdc.Column{
		{Name: "value_id", DataType: "int", ColumnType: "int unsigned", Unsigned: true},
		{Name: "attribute_id", DataType: "smallint", ColumnType: "smallint unsigned", Unsigned: true, HasDefault: true},
		{Name: "value", DataType: "varchar", ColumnType: "varchar(255)", Nullable: true, Charset: "utf8mb3"},
		{Name: "media_type", DataType: "varchar", ColumnType: "varchar(32)", Charset: "utf8mb3", HasDefault: true},
		{Name: "disabled", DataType: "smallint", ColumnType: "smallint unsigned", Unsigned: true, HasDefault: true},
	}}
}

// sideM2ValueToEntity is the Open Source table; entityCol "row_id" makes the
// Commerce (staging) one.
func sideM2ValueToEntity(entityCol string) *cdc.Table {
	return &cdc.Table{Schema: "m2", Name: valueToEntityTable, Key: []int{0, 1}, KeyName: "PRIMARY", Columns: []cdc.Column{
		{Name: "value_id", DataType: "int", ColumnType: "int unsigned", Unsigned: true},
		{Name: entityCol, DataType: "int", ColumnType: "int unsigned", Unsigned: true},
	}}
}

// sideStockRules reads the stock 1.9.4.5 map.xml.dist.
func sideStockRules(t *testing.T) *Rules {
	t.Helper()
	r, err := ReadMap(filepath.Join(magentoFixturesDir(t), "dmt", "etc", "opensource-to-opensource", "1.9.4.5", "map.xml.dist"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sideProblems are the problems about the gallery tables (the stock map
// names hundreds of documents these tests do not have: its rules on them
// are left out).
func sideProblems(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		if strings.Contains(p.Msg, "do not exist; skipped, as Magento's tool does") {
			continue
		}
		out = append(out, p.Severity.String()+": "+p.Msg)
	}
	return out
}

func sideCompile(t *testing.T, r *Rules, dest ...*cdc.Table) (*TablePlan, []string) {
	t.Helper()
	plan, ps := Compile(r, []*cdc.Table{sideM1Gallery()}, dest)
	return plan.Table("catalog_product_entity_media_gallery"), sideProblems(ps)
}

func TestInsertValueToEntityOnTheStockMap(t *testing.T) {
	tp, problems := sideCompile(t, sideStockRules(t), sideM2Gallery(), sideM2ValueToEntity("entity_id"))
	for _, p := range problems {
		t.Errorf("problem: %s", p)
	}
	if tp == nil {
		t.Fatal("no plan for catalog_product_entity_media_gallery")
	}
	sides := tp.SideTables()
	if len(sides) != 1 || sides[0].Name != valueToEntityTable || !sides[0].KeyGroups ||
		sides[0].ColumnList() != "value_id,entity_id" || len(sides[0].Key) != 1 || sides[0].Key[0] != 0 {
		t.Fatalf("side tables %+v, want %s (value_id,entity_id) owned by value_id", sides, valueToEntityTable)
	}
	if !tp.KeyIdentity() {
		t.Error("KeyIdentity is false: the handler on value_id only reads it, the key is copied as it is")
	}

	// The copy: the row, and its link to its product.
	src := []any{uint64(7), uint64(88), uint64(1234), "/a/b/ab.jpg"}
	out, side, err := tp.RowSide(src)
	if err != nil {
		t.Fatal(err)
	}
	if tp.Dest.ColumnList() != "value_id,attribute_id,value" || out[0] != uint64(7) || out[2] != "/a/b/ab.jpg" {
		t.Errorf("row %v into (%s)", out, tp.Dest.ColumnList())
	}
	if len(side) != 1 || side[0].Op != cdc.OpInsert || side[0].Table != sides[0] ||
		side[0].After[0] != uint64(7) || side[0].After[1] != uint64(1234) {
		t.Fatalf("side changes %+v, want an insert of (7,1234)", side)
	}
	if src[2] != uint64(1234) {
		t.Error("the source row was changed")
	}

	// The stream.
	pos := cdc.Position{File: "b.000001", Pos: 40}
	cases := []struct {
		name string
		c    cdc.Change
		want []string // op:values of the side changes
	}{
		{"insert", cdc.Change{Op: cdc.OpInsert, After: src}, []string{"insert:[7 1234]"}},
		{"update moving the entry to another product", cdc.Change{Op: cdc.OpUpdate, Before: src, After: []any{uint64(7), uint64(88), uint64(99), "x"}},
			[]string{"delete:[7 <nil>]", "insert:[7 99]"}},
		{"update changing the key", cdc.Change{Op: cdc.OpUpdate, Before: src, After: []any{uint64(8), uint64(88), uint64(1234), "x"}},
			[]string{"delete:[7 <nil>]", "insert:[8 1234]"}},
		{"delete", cdc.Change{Op: cdc.OpDelete, Before: src}, []string{"delete:[7 <nil>]"}},
		// The change-log delta knows only the key of a deleted row.
		{"delete by key only", cdc.Change{Op: cdc.OpDelete, Before: []any{uint64(7), nil, nil, nil}}, []string{"delete:[7 <nil>]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.Table, tc.c.Pos = tp.Source, pos
			d, side, f, err := tp.MapChangeSide(tc.c)
			if err != nil || f != nil {
				t.Fatalf("err %v, failure %v", err, f)
			}
			if d.Table != tp.Dest || d.Op != tc.c.Op {
				t.Errorf("main change %+v", d)
			}
			var got []string
			for _, s := range side {
				row := s.After
				op := "insert"
				if s.Op == cdc.OpDelete {
					row, op = s.Before, "delete"
				}
				if s.Table != sides[0] || s.Pos != pos {
					t.Errorf("side change %+v: not of %s at %s", s, valueToEntityTable, pos)
				}
				got = append(got, op+":"+fmt.Sprint(row))
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("side changes %v, want %v", got, tc.want)
			}
		})
	}
}

func TestInsertValueToEntityEditions(t *testing.T) {
	cases := []struct {
		name    string
		edition string
		table   *cdc.Table
		want    string // the side table's columns, or a problem's words
	}{
		{"open source", "opensource-to-opensource", sideM2ValueToEntity("entity_id"), "value_id,entity_id"},
		{"no option, open source table", "", sideM2ValueToEntity("entity_id"), "value_id,entity_id"},
		{"commerce with staging", "commerce-to-commerce", sideM2ValueToEntity("row_id"), "value_id,row_id"},
		{"open source to commerce", "opensource-to-commerce", sideM2ValueToEntity("row_id"), "value_id,row_id"},
		{"commerce without staging", "commerce-to-commerce", sideM2ValueToEntity("entity_id"), "value_id,entity_id"},
		// The reference writes entity_id whatever the table has.
		{"open source option on a staging table", "opensource-to-opensource", sideM2ValueToEntity("row_id"),
			"destination table catalog_product_entity_media_gallery_value_to_entity has no column entity_id"},
		{"table missing", "opensource-to-opensource", nil,
			"destination table catalog_product_entity_media_gallery_value_to_entity does not exist; create it"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := sideStockRules(t)
			r.Env = &HandlerEnv{Options: map[string]string{"edition_migrate": tc.edition}}
			dest := []*cdc.Table{sideM2Gallery()}
			if tc.table != nil {
				dest = append(dest, tc.table)
			}
			tp, problems := sideCompile(t, r, dest...)
			if strings.Contains(tc.want, " ") {
				joined := strings.Join(problems, "\n")
				if !strings.Contains(joined, tc.want) || !strings.Contains(joined, `InsertValueToEntity on catalog_product_entity_media_gallery.value_id cannot run`) {
					t.Errorf("problems:\n%s\nwant one naming the handler and %q", joined, tc.want)
				}
				if tp != nil && len(tp.SideTables()) != 0 {
					t.Error("a handler that cannot bind still writes its side table")
				}
				return
			}
			for _, p := range problems {
				t.Errorf("problem: %s", p)
			}
			if got := tp.SideTables(); len(got) != 1 || got[0].ColumnList() != tc.want {
				t.Errorf("side tables %v, want (%s)", got, tc.want)
			}
		})
	}
}

// A destination document only a side handler fills is not "not mapped";
// one a map fills too is an error.
func TestSideTableIsMappedByItsHandler(t *testing.T) {
	r := sideStockRules(t)
	var kept []Rule
	for _, ig := range r.Destination.IgnoreDocuments {
		if ig.Name != valueToEntityTable {
			kept = append(kept, ig)
		}
	}
	if len(kept) == len(r.Destination.IgnoreDocuments) {
		t.Fatalf("the stock map does not ignore %s any more", valueToEntityTable)
	}
	r.Destination.IgnoreDocuments = kept
	_, problems := sideCompile(t, r, sideM2Gallery(), sideM2ValueToEntity("entity_id"))
	for _, p := range problems {
		t.Errorf("problem: %s", p)
	}
	// Without the handler the same map reports the table.
	r.Source.Transforms = nil
	_, problems = sideCompile(t, r, sideM2Gallery(), sideM2ValueToEntity("entity_id"))
	if !strings.Contains(strings.Join(problems, "\n"), "Destination documents are not mapped: "+valueToEntityTable) {
		t.Errorf("without the handler: %v, want %s not mapped", problems, valueToEntityTable)
	}

	// A source table of the same name mapped onto it as well.
	r = sideStockRules(t)
	other := &cdc.Table{Schema: "m1", Name: valueToEntityTable, Key: []int{0, 1}, Columns: sideM2ValueToEntity("entity_id").Columns}
	var kept2 []Rule
	for _, ig := range r.Destination.IgnoreDocuments {
		if ig.Name != valueToEntityTable {
			kept2 = append(kept2, ig)
		}
	}
	r.Destination.IgnoreDocuments = kept2
	_, ps := Compile(r, []*cdc.Table{sideM1Gallery(), other}, []*cdc.Table{sideM2Gallery(), sideM2ValueToEntity("entity_id")})
	found := false
	for _, p := range ps {
		if p.Severity == Error && strings.Contains(p.Msg, "is written by handler") && strings.Contains(p.Msg, "also mapped from "+valueToEntityTable) {
			found = true
		}
	}
	if !found {
		t.Errorf("a side table also mapped from a source table: no error in %v", sideProblems(ps))
	}
}

// Rows the handler cannot link go to the failed rows, without side rows.
func TestInsertValueToEntityFailures(t *testing.T) {
	tp, _ := sideCompile(t, sideStockRules(t), sideM2Gallery(), sideM2ValueToEntity("entity_id"))
	_, side, err := tp.RowSide([]any{uint64(5), uint64(88), nil, "x"})
	var he *HandlerError
	if !errors.As(err, &he) || he.Handler != `\Migration\Handler\Gallery\InsertValueToEntity` || !strings.Contains(err.Error(), "NULL for entity_id") {
		t.Fatalf("entity_id NULL: err %v (side %v), want the handler's error", err, side)
	}
	d, side, f, err := tp.MapChangeSide(cdc.Change{Op: cdc.OpInsert, Table: tp.Source, After: []any{uint64(5), uint64(88), nil, "x"}})
	if err != nil || f == nil || len(side) != 0 || f.Handler != he.Handler || f.Key[0] != uint64(5) {
		t.Errorf("stream: change %+v side %v failure %+v err %v, want a failure keyed 5 and no side change", d, side, f, err)
	}
}

// The catalog rule tables of a Magento 1 Commerce shop and of Magento 2
// Commerce (staging: row_id keys the versions, created_in and updated_in
// bound them), and its sequence table.
func seqM1Rule() *cdc.Table {
	return &cdc.Table{Schema: "m1", Name: "catalogrule", Key: []int{0}, KeyName: "PRIMARY", Columns: []cdc.Column{
		{Name: "rule_id", DataType: "int", ColumnType: "int(10) unsigned", Unsigned: true},
		{Name: "name", DataType: "varchar", ColumnType: "varchar(255)", Nullable: true, Charset: "utf8"},
	}}
}

func seqM2Rule() *cdc.Table {
	return &cdc.Table{Schema: "m2", Name: "catalogrule", Key: []int{0}, KeyName: "PRIMARY", Columns: []cdc.Column{
		{Name: "row_id", DataType: "int", ColumnType: "int unsigned", Unsigned: true},
		{Name: "rule_id", DataType: "int", ColumnType: "int unsigned", Unsigned: true},
		{Name: "created_in", DataType: "bigint", ColumnType: "bigint unsigned", Unsigned: true},
		{Name: "updated_in", DataType: "bigint", ColumnType: "bigint unsigned", Unsigned: true},
		{Name: "name", DataType: "varchar", ColumnType: "varchar(255)", Nullable: true, Charset: "utf8mb3"},
	}}
}

func seqM2Sequence(name string) *cdc.Table {
	return &cdc.Table{Schema: "m2", Name: name, Key: []int{0}, KeyName: "PRIMARY", Columns: []cdc.Column{
		{Name: "sequence_value", DataType: "int", ColumnType: "int unsigned", Unsigned: true},
	}}
}

// seqMap is the catalog rule part of the reference's
// commerce-to-commerce/1.14.4.5/map.xml.dist, the Sequence transform twice
// as the reference has it for bundle options.
const seqMap = `<map><source><field_rules>
  <transform><field>catalogrule.rule_id</field>
    <handler class="\Migration\Handler\Sequence"><param name="table" value="sequence_catalogrule" /></handler></transform>
  <transform><field>catalogrule.rule_id</field>
    <handler class="\Migration\Handler\Sequence"><param name="table" value="sequence_catalogrule" /></handler></transform>
</field_rules></source>
<destination><field_rules>
  <ignore><field>catalogrule.row_id</field></ignore>
  <ignore><field>catalogrule.created_in</field></ignore>
  <ignore><field>catalogrule.updated_in</field></ignore>
  <transform><field>catalogrule.row_id</field>
    <handler class="\Migration\Handler\FieldCopy"><param name="fieldCopy" value="rule_id" /></handler></transform>
</field_rules></destination></map>`

func seqRules(t *testing.T, m string) *Rules {
	t.Helper()
	r, err := ParseMap("map.xml", []byte(m), "xml")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSequence(t *testing.T) {
	plan, ps := Compile(seqRules(t, seqMap), []*cdc.Table{seqM1Rule()}, []*cdc.Table{seqM2Rule(), seqM2Sequence("sequence_catalogrule")})
	for _, p := range ps {
		if p.Severity == Error {
			t.Errorf("problem: %s", p)
		}
	}
	tp := plan.Table("catalogrule")
	if tp == nil {
		t.Fatal("no plan")
	}
	if sides := tp.SideTables(); len(sides) != 1 || sides[0].Name != "sequence_catalogrule" || sides[0].ColumnList() != "sequence_value" {
		t.Fatalf("side tables %v, want sequence_catalogrule once (the transform is there twice)", sides)
	}
	// created_in and updated_in are ignored by the map, and set all the same.
	if got := tp.Dest.ColumnList(); got != "rule_id,name,row_id,created_in,updated_in" {
		t.Errorf("destination row (%s)", got)
	}
	cases := []struct {
		name string
		in   []any
		want string // side changes
	}{
		{"rule", []any{uint64(12), "Ten percent"}, "insert [12]"},
		{"key 0: no sequence row", []any{uint64(0), "zero"}, "delete [0]"},
	}
	for _, tc := range cases {
		out, side, err := tp.RowSide(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := fmt.Sprint(out); got != fmt.Sprintf("[%v %s %v 1 2147483647]", tc.in[0], tc.in[1], tc.in[0]) && tc.in[0] != uint64(0) {
			t.Errorf("%s: row %s", tc.name, got)
		}
		if out[3] != uint64(sequenceCreatedIn) || out[4] != uint64(sequenceUpdatedIn) {
			t.Errorf("%s: created_in, updated_in = %v, %v", tc.name, out[3], out[4])
		}
		var got []string
		for _, s := range side {
			if s.Op == cdc.OpInsert {
				got = append(got, "insert "+fmt.Sprint(s.After))
			} else {
				got = append(got, "delete "+fmt.Sprint(s.Before))
			}
		}
		if strings.Join(got, ";") != tc.want {
			t.Errorf("%s: side %v, want %s", tc.name, got, tc.want)
		}
	}
	// A delete from the change-log tables carries the source key only.
	_, side, f, err := tp.MapChangeSide(cdc.Change{Op: cdc.OpDelete, Table: tp.Source, Before: []any{uint64(12), nil}})
	if err != nil || f != nil || len(side) != 1 || side[0].Op != cdc.OpDelete || side[0].Before[0] != uint64(12) {
		t.Errorf("delete: side %+v failure %v err %v", side, f, err)
	}
	// The key is copied as it is (rule_id): a row a foreign key action
	// deletes on the destination tells its sequence row.
	d, err := tp.DestSideDeletes(cdc.Change{Op: cdc.OpDelete, Table: tp.Dest, Before: []any{uint64(12), "x", uint64(12), uint64(1), uint64(2147483647)}})
	if err != nil || len(d) != 1 || d[0].Before[0] != uint64(12) {
		t.Errorf("destination delete: %+v %v", d, err)
	}
}

func TestSequenceBindErrors(t *testing.T) {
	cases := []struct {
		name, from, to string // replaced in seqMap
		dest           []*cdc.Table
		want           string
	}{
		{"no sequence table", "", "", []*cdc.Table{seqM2Rule()},
			"destination table sequence_catalogrule does not exist; create it"},
		{"not the key", "<field>catalogrule.rule_id</field>\n    <handler class=\"\\Migration\\Handler\\Sequence\">", "<field>catalogrule.name</field>\n    <handler class=\"\\Migration\\Handler\\Sequence\">",
			[]*cdc.Table{seqM2Rule(), seqM2Sequence("sequence_catalogrule")}, "catalogrule.name is not the key (rule_id)"},
		{"no table param", `<param name="table" value="sequence_catalogrule" />`, "",
			[]*cdc.Table{seqM2Rule(), seqM2Sequence("sequence_catalogrule")}, "param 'table' is required"},
		{"empty table param", `value="sequence_catalogrule"`, `value=""`,
			[]*cdc.Table{seqM2Rule(), seqM2Sequence("sequence_catalogrule")}, "param 'table' must name the sequence table"},
		{"two handlers, one table", `<handler class="\Migration\Handler\Sequence"><param name="table" value="sequence_catalogrule" /></handler></transform>
  <transform><field>catalogrule.rule_id</field>
    <handler class="\Migration\Handler\Sequence"><param name="table" value="sequence_catalogrule" /></handler></transform>`,
			`<handler class="\Migration\Handler\Sequence"><param name="table" value="sequence_catalogrule" /></handler></transform>
  <transform><field>catalogrule.rule_id</field>
    <handler class="\Migration\Handler\Gallery\InsertValueToEntity"></handler></transform>`,
			[]*cdc.Table{seqM2Rule(), seqM2Sequence("sequence_catalogrule")}, "entity_id does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := seqMap
			if tc.from != "" {
				if !strings.Contains(m, tc.from) {
					t.Fatalf("map has no %q", tc.from)
				}
				m = strings.Replace(m, tc.from, tc.to, -1)
			}
			_, ps := Compile(seqRules(t, m), []*cdc.Table{seqM1Rule()}, tc.dest)
			var msgs []string
			found := false
			for _, p := range ps {
				msgs = append(msgs, p.Msg)
				found = found || p.Blocking && strings.Contains(p.Msg, tc.want) && strings.Contains(p.Msg, "cannot run")
			}
			if !found {
				t.Errorf("problems %q, want a blocking one with %q", msgs, tc.want)
			}
		})
	}
}

// A side table that no source row can tell on the destination: rows a
// foreign key action deletes there cannot find their side rows.
func TestSideOwnersOnDest(t *testing.T) {
	tp, _ := sideCompile(t, sideStockRules(t), sideM2Gallery(), sideM2ValueToEntity("entity_id"))
	if err := tp.SideOwnersOnDest(); err != nil {
		t.Errorf("value_id is copied as it is: %v", err)
	}
	d, err := tp.DestSideDeletes(cdc.Change{Op: cdc.OpDelete, Table: tp.Dest, Before: []any{uint64(7), uint64(88), "x"}})
	if err != nil || len(d) != 1 || fmt.Sprint(d[0].Before) != "[7 <nil>]" {
		t.Errorf("destination delete: %+v %v", d, err)
	}
	r := sideStockRules(t)
	r.Source.Transforms = append(r.Source.Transforms, Transform{Field: "catalog_product_entity_media_gallery.value_id",
		Handler: HandlerSpec{Name: "SetValue", Params: []Param{{Name: "value", Value: "+100"}}}})
	tp, _ = sideCompile(t, r, sideM2Gallery(), sideM2ValueToEntity("entity_id"))
	if err := tp.SideOwnersOnDest(); err == nil || !strings.Contains(err.Error(), "the key (value_id) is not copied to catalog_product_entity_media_gallery as it is") {
		t.Errorf("value_id changed by SetValue: %v", err)
	}
	if _, err := tp.DestSideDeletes(cdc.Change{Op: cdc.OpDelete, Table: tp.Dest, Before: []any{uint64(107), uint64(88), "x"}}); err == nil {
		t.Error("DestSideDeletes with the key changed: no error")
	}
}

// Fields a foreign key action may change under a side handler's rows.
func TestSideReadsAny(t *testing.T) {
	tp, _ := sideCompile(t, sideStockRules(t), sideM2Gallery(), sideM2ValueToEntity("entity_id"))
	for _, tc := range []struct {
		fields []string
		want   string // "" for none
	}{
		{[]string{"attribute_id"}, ""},
		{[]string{"ENTITY_ID"}, "computed from ENTITY_ID"},
		{[]string{"attribute_id", "value_id"}, "computed from value_id"},
	} {
		err := tp.SideReadsAny(tc.fields)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), valueToEntityTable)) {
			t.Errorf("%v: %v, want %q", tc.fields, err, tc.want)
		}
	}
}
