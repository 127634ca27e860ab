package transform

import (
	"fmt"
	"strings"
)

// Handlers that write rows into another destination table (side handlers,
// see SideSpec).

func init() {
	RegisterSide(`Gallery\InsertValueToEntity`, newInsertValueToEntity)
	RegisterSide("Sequence", newSequence)
}

// valueToEntityTable is the Magento 2 table linking media gallery entries
// to products.
const valueToEntityTable = "catalog_product_entity_media_gallery_value_to_entity"

// newInsertValueToEntity links each media gallery entry (its field, the
// entry's value_id) to the product of its Magento 1 row (entity_id) in
// catalog_product_entity_media_gallery_value_to_entity: as entity_id, or as
// row_id where the destination keeps product rows by version (Commerce with
// staging: edition_migrate is not opensource-to-opensource and the table has
// row_id).
func newInsertValueToEntity(p Params, b Binding) (SideSpec, SideFunc, error) {
	const name = `Gallery\InsertValueToEntity`
	if err := hdlParams(name, p, nil, nil); err != nil {
		return SideSpec{}, nil, err
	}
	entity, err := b.IndexOf("entity_id")
	if err != nil {
		return SideSpec{}, nil, fmt.Errorf("handler %s reads the product of the row: %w", name, err)
	}
	col := "entity_id"
	if dt := b.DestTable(valueToEntityTable); dt != nil && dt.ColumnIndex("row_id") >= 0 &&
		!strings.EqualFold(b.Env.Option("edition_migrate"), "opensource-to-opensource") {
		col = "row_id"
	}
	spec := SideSpec{Table: valueToEntityTable, Columns: []string{"value_id", col}, Owner: []string{"value_id"}, Reads: []string{"entity_id"},
		Holds: map[string]string{col: "entity_id"}}
	return spec, func(rec, _ []any, emit Emit) error {
		emit(rec[b.Index], rec[entity])
		return nil
	}, nil
}

// Staging versions Sequence gives the rows it handles, where the
// destination table has them (Commerce): the first version, and the last.
const (
	sequenceCreatedIn = 1
	sequenceUpdatedIn = 2147483647
)

// newSequence gives each row of an entity table (its field, the table's
// key) its row in a Magento 2 sequence table (param table, e.g.
// sequence_product: sequence_value = the key; none when the key is 0 or
// empty), and sets created_in and updated_in of the destination row to the
// first and last staging version where the destination table has both (the
// map may ignore them: the handler sets them all the same).
func newSequence(p Params, b Binding) (SideSpec, SideFunc, error) {
	if err := hdlParams("Sequence", p, []string{"table"}, nil); err != nil {
		return SideSpec{}, nil, err
	}
	table := strings.TrimSpace(p["table"])
	if table == "" {
		return SideSpec{}, nil, fmt.Errorf("handler Sequence: param 'table' must name the sequence table")
	}
	if b.Area != "source" {
		return SideSpec{}, nil, fmt.Errorf("handler Sequence runs on a source field")
	}
	if len(b.Rec.Key) != 1 || b.Rec.Key[0] != b.Index {
		return SideSpec{}, nil, fmt.Errorf("handler Sequence: the sequence rows are kept with the rows that own them by their key, and %s.%s is not the key (%s) of %s",
			b.Table, b.Field, strings.Join(b.Rec.KeyNames(), ","), b.Table)
	}
	spec := SideSpec{Table: table, Columns: []string{"sequence_value"}, Owner: []string{"sequence_value"}}
	if dt := b.DestTable(b.Other.Name); dt != nil && dt.ColumnIndex("created_in") >= 0 && dt.ColumnIndex("updated_in") >= 0 {
		spec.Fill = []string{"created_in", "updated_in"}
	}
	ci, ui := b.Other.ColumnIndex("created_in"), b.Other.ColumnIndex("updated_in")
	version := func(i int, v int64) any {
		if b.Other.Columns[i].Unsigned {
			return uint64(v)
		}
		return v
	}
	return spec, func(rec, other []any, emit Emit) error {
		if id := rec[b.Index]; hdlTruthy(id) {
			emit(id)
		}
		if ci >= 0 && ui >= 0 {
			other[ci], other[ui] = version(ci, sequenceCreatedIn), version(ui, sequenceUpdatedIn)
		}
		return nil
	}, nil
}
