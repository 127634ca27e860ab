package transform

import (
	"fmt"
	"strings"
)

// Handlers that write rows into another destination table (side handlers,
// see SideSpec).

func init() {
	RegisterSide(`Gallery\InsertValueToEntity`, newInsertValueToEntity)
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
	spec := SideSpec{Table: valueToEntityTable, Columns: []string{"value_id", col}, Owner: []string{"value_id"}}
	return spec, func(rec, _ []any, emit Emit) error {
		emit(rec[b.Index], rec[entity])
		return nil
	}, nil
}
