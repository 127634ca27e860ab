package cascade

import (
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/transform"
)

// galleryPlan compiles Magento's media gallery as map.xml.dist moves it:
// catalog_product_entity_media_gallery.entity_id is ignored and held by
// catalog_product_entity_media_gallery_value_to_entity
// (Gallery\InsertValueToEntity on value_id).
func galleryPlan(t *testing.T) (*transform.Plan, []ForeignKey) {
	t.Helper()
	const g, v2e, val = "catalog_product_entity_media_gallery", "catalog_product_entity_media_gallery_value_to_entity", "catalog_product_entity_media_gallery_value"
	src := []*cdc.Table{
		tbl("catalog_product_entity", []int{0}, col("entity_id", "int"), vcol("sku")),
		tbl(g, []int{0}, col("value_id", "int"), col("entity_id", "int"), vcol("value")),
		tbl(val, []int{0, 1}, col("value_id", "int"), col("store_id", "int"), vcol("label")),
	}
	dst := []*cdc.Table{
		tbl("catalog_product_entity", []int{0}, col("entity_id", "int"), vcol("sku")),
		tbl(g, []int{0}, col("value_id", "int"), vcol("value")),
		tbl(v2e, []int{0, 1}, col("value_id", "int"), col("entity_id", "int")),
		tbl(val, []int{0, 1}, col("value_id", "int"), col("store_id", "int"), vcol("label")),
	}
	rules := &transform.Rules{Source: transform.Area{
		IgnoreFields: ignore(g + ".entity_id"),
		Transforms:   []transform.Transform{{Field: g + ".value_id", Handler: transform.HandlerSpec{Name: `\Migration\Handler\Gallery\InsertValueToEntity`}}},
	}}
	p, problems := transform.Compile(rules, src, dst)
	if transform.HasErrors(problems) {
		t.Fatalf("plan: %v", problems)
	}
	fks := []ForeignKey{
		{Name: "FK_GALLERY_ENTITY", Child: g, Parent: "catalog_product_entity", ChildCols: []string{"entity_id"}, ParentCols: []string{"entity_id"}, OnDelete: Cascade, OnUpdate: Cascade},
		{Name: "FK_VALUE_GALLERY", Child: val, Parent: g, ChildCols: []string{"value_id"}, ParentCols: []string{"value_id"}, OnDelete: Cascade, OnUpdate: Cascade},
	}
	return p, fks
}

// TestKeyHeldByASideTableIsFollowed: a key whose child column the map moves
// into a side table compiles; a delete of its parent marks the side rows
// holding its value, whose owners (and their own children) go with them;
// an update of the referenced column, which would change the side rows,
// stops the stream; a Kafka producer, whose appliers find rows by the
// child's columns, stops at the delete.
func TestKeyHeldByASideTableIsFollowed(t *testing.T) {
	p, fks := galleryPlan(t)
	s, err := Compile(fks, p)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	side := p.Table("catalog_product_entity_media_gallery").SideTables()[0]
	if !s.closure[side][p.Table("catalog_product_entity_media_gallery").Dest] || !s.closure[side][p.Table("catalog_product_entity_media_gallery_value").Dest] {
		t.Fatalf("a cascade through %s does not reach the gallery and its labels: %v", side.Name, s.closure[side])
	}
	product := tbl("catalog_product_entity", []int{0}, col("entity_id", "int"), vcol("sku"))
	row := []any{int64(7), "SKU7"}
	g := s.Generator()
	out, err := g.Add(nil, cdc.Change{Op: cdc.OpDelete, Table: product, Before: row})
	if err != nil {
		t.Fatalf("a product's delete: %v", err)
	}
	if len(out) != 1 || out[0].Table != side || !out[0].Cascade.Delete || len(out[0].Before) != 1 || out[0].Before[0] != int64(7) ||
		side.Columns[out[0].Cascade.Cols[0]].Name != "entity_id" {
		t.Fatalf("markers of a product's delete: %+v, want one deleting the %s rows of entity_id 7", out, side.Name)
	}
	// A row the marker deletes from the side table marks its owner.
	next := (&expander{set: s}).children(nil, cdc.Change{Op: cdc.OpDelete, Table: side, Before: []any{int64(70), int64(7)}})
	if len(next) != 1 || next[0].Table != p.Table("catalog_product_entity_media_gallery").Dest || next[0].Before[0] != int64(70) || !next[0].Cascade.Delete || !s.owners[next[0].Cascade] {
		t.Fatalf("markers of a side row's delete: %+v, want the gallery row 70 deleted", next)
	}
	if _, err := g.Add(nil, cdc.Change{Op: cdc.OpUpdate, Table: product, Before: row, After: []any{int64(7), "SKU7b"}}); err != nil {
		t.Fatalf("an update of the sku: %v", err)
	}
	_, err = g.Add(nil, cdc.Change{Op: cdc.OpUpdate, Table: product, Before: row, After: []any{int64(8), "SKU7"}})
	for _, w := range []string{"FK_GALLERY_ENTITY", "ON UPDATE CASCADE", "held by catalog_product_entity_media_gallery_value_to_entity", "migrate data --reset"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Fatalf("an update of the product's entity_id: %v, want an error naming %q", err, w)
		}
	}
	if err := s.KafkaCheck(); err != nil {
		t.Fatalf("KafkaCheck: %v", err)
	}
	src := s.Generator()
	src.Source = true
	_, err = src.Add(nil, cdc.Change{Op: cdc.OpDelete, Table: product, Before: row})
	for _, w := range []string{"FK_GALLERY_ENTITY", "Kafka applier", "migrate data --reset"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Fatalf("a product's delete for Kafka: %v, want an error naming %q", err, w)
		}
	}
}

// TestChangeWithForeignKeyChecksOffCascadesNothing: a change the source
// made with foreign_key_checks=0 gets no marker, and sets off no tripwire
// (the key did nothing); the same change with the checks on does both.
func TestChangeWithForeignKeyChecksOffCascadesNothing(t *testing.T) {
	rules := base()
	rules.Source.IgnoreFields = ignore("grandchild.child_id") // gc_child: a tripwire on child
	rules.Destination.IgnoreFields = ignore("grandchild.child_id")
	s, err := Compile(shopKeys(), plan(t, rules))
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	parent := tbl("parent", []int{0}, col("id", "int"), col("code", "varchar"))
	child := tbl("child", []int{0}, col("id", "int"), col("parent_id", "int"), col("parent_code", "varchar"), col("v", "int"))
	for _, tc := range []struct {
		name string
		c    cdc.Change
	}{
		{"a parent's delete", cdc.Change{Op: cdc.OpDelete, Table: parent, Before: []any{int64(1), "c1"}}},
		{"a parent's key update", cdc.Change{Op: cdc.OpUpdate, Table: parent, Before: []any{int64(1), "c1"}, After: []any{int64(9), "c9"}}},
		{"a tripwire's delete", cdc.Change{Op: cdc.OpDelete, Table: child, Before: []any{int64(3), int64(1), "c1", int64(0)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			on, errOn := s.Generator().Add(nil, tc.c)
			if len(on) == 0 && errOn == nil {
				t.Fatalf("with the checks on: no marker and no error")
			}
			tc.c.NoFKChecks = true
			off, errOff := s.Generator().Add(nil, tc.c)
			if len(off) != 0 || errOff != nil {
				t.Fatalf("with the checks off: markers %+v, error %v; want none", off, errOff)
			}
		})
	}
}
