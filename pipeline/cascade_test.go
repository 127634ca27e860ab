package pipeline

import (
	"testing"

	"github.com/shiplog/shiplog/cascade"
	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/transform"
)

// TestMapperMarksBatchesWithCascadesWhole: a batch holding a parent change
// whose foreign key action reaches a copied child must commit in one
// destination transaction (the writer's apply partitions would otherwise
// commit it in part, and a resumed stream could not find the rows the
// action changed); other batches keep their partitions.
func TestMapperMarksBatchesWithCascadesWhole(t *testing.T) {
	tables := func() []*cdc.Table {
		return []*cdc.Table{
			{Schema: "s", Name: "parent", Key: []int{0}, Columns: []cdc.Column{{Name: "id", DataType: "int"}}},
			{Schema: "s", Name: "child", Key: []int{0}, Columns: []cdc.Column{{Name: "id", DataType: "int"}, {Name: "parent_id", DataType: "int"}}},
		}
	}
	plan, problems := transform.Compile(nil, tables(), tables())
	if transform.HasErrors(problems) {
		t.Fatal(problems)
	}
	set, err := cascade.Compile([]cascade.ForeignKey{{Name: "fk", Child: "child", Parent: "parent", ChildCols: []string{"parent_id"}, ParentCols: []string{"id"}, OnDelete: cascade.Cascade}}, plan)
	if err != nil {
		t.Fatal(err)
	}
	m := &mapper{plan: plan, fks: set.Generator()}
	src := plan.Table("parent").Source
	child := plan.Table("child").Source
	at := func(n uint64) cdc.Position { return cdc.Position{File: "b.000001", Pos: n} }
	it, ok, err := m.item(cdc.Batch{Pos: at(10), Changes: []cdc.Change{
		{Op: cdc.OpInsert, Table: child, After: []any{int64(1), int64(2)}, Pos: at(10)},
		{Op: cdc.OpUpdate, Table: src, Before: []any{int64(3)}, After: []any{int64(3)}, Pos: at(10)},
	}})
	if err != nil || !ok || it.Whole {
		t.Fatalf("a batch without cascades: whole %v, %v, %v", it.Whole, ok, err)
	}
	it, ok, err = m.item(cdc.Batch{Pos: at(20), Changes: []cdc.Change{
		{Op: cdc.OpInsert, Table: child, After: []any{int64(4), int64(2)}, Pos: at(20)},
		{Op: cdc.OpDelete, Table: src, Before: []any{int64(2)}, Pos: at(20)},
	}})
	if err != nil || !ok || !it.Whole {
		t.Fatalf("a batch with a cascade: whole %v, %v, %v", it.Whole, ok, err)
	}
	if n := len(it.Changes); n != 3 || it.Changes[2].Op != cdc.OpCascade {
		t.Fatalf("changes: %+v", it.Changes)
	}
}
