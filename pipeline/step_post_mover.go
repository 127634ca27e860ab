package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/transform"
)

// The PostProcessing step's multiselect mover (the reference's
// EntityTypeTextToVarcharMover: after the copy, Magento 2 keeps the values
// of multiselect product attributes in catalog_product_entity_varchar, so
// the rows the copy put in _text are inserted into _varchar, on duplicate
// of its unique key updated, and deleted from _text) is an Upsert route on
// the Map step's plan of catalog_product_entity_text: a source row of a
// multiselect product attribute is never written to _text but, mapped as
// the plan maps it (its attribute_id through the EAV step's id map), into
// _varchar by the unique key (entity_id, attribute_id, store_id); deleted
// from the source, it is deleted there by that key. Copy, stream (binlog
// and change logs, whose deletes carry the key's columns) and verify agree.
//
// Its value_id: the reference lets the auto-increment give one, after the
// copy. Here the copy and the stream of _varchar's own rows (whose value_ids
// are Magento 1's, positive) go on after a row is moved, and an
// auto-incremented id could be one a later Magento 1 row brings: that
// row's upsert would overwrite the moved one. A moved row gets the negated
// value_id of its _text row instead (value_id is a signed int in Magento
// 2), which no copied row has; a row already there by the unique key keeps
// its value_id (the column is not updated on duplicate).
//
// Which attributes are multiselect is read from the source's eav_attribute
// (frontend_input, which the EAV step copies as it is).

const (
	postMultiselect  = "multiselect product values"
	postTextTable    = "catalog_product_entity_text"
	postVarcharTable = "catalog_product_entity_varchar"
)

// postMoverRoute returns text (the plan of catalog_product_entity_text)
// with the mover's route into varchar's destination table, or text itself
// when the source has no multiselect product attribute.
func (r *Runtime) postMoverRoute(ctx context.Context, text, varchar *transform.TablePlan) (*transform.TablePlan, error) {
	prefix := r.cfg.Options.SourcePrefix
	col := text.Source.ColumnIndex("attribute_id")
	reads := []int{col, text.Source.ColumnIndex("entity_id"), text.Source.ColumnIndex("store_id")}
	if slices.Contains(reads, -1) {
		return nil, fmt.Errorf("%w: PostProcessing step: source %s lacks attribute_id, entity_id or store_id: %s cannot be moved to %s; leave the PostProcessing Step out of config.xml", ErrIntegrity, text.Source.Name, postMultiselect, postVarcharTable)
	}
	ids, err := postMultiselectIDs(ctx, r.src, prefix)
	if err != nil || len(ids) == 0 {
		return text, err
	}
	if varchar == nil {
		return nil, fmt.Errorf("%w: PostProcessing step: the map does not copy %s: %s of %s have nowhere to go; copy it, or leave the PostProcessing Step out of config.xml", ErrIntegrity, postVarcharTable, postMultiselect, text.Source.Name)
	}
	moved, project, err := postMovedTable(text.Dest, varchar.Dest)
	if err != nil {
		return nil, fmt.Errorf("%w: PostProcessing step: %v; leave the PostProcessing Step out of config.xml", ErrIntegrity, err)
	}
	route := transform.Route{Kind: transform.Upsert, Table: moved, Project: project}
	isMoved := func(row []any) bool { return col < len(row) && row[col] != nil && ids[str(row[col])] }
	// verify compares the moved rows in _varchar by its unique key
	// (value_id aside); the extra rows there are those of negative value_id.
	vdest := *text.Dest
	vdest.Name, vdest.Schema = varchar.Dest.Name, varchar.Dest.Schema
	vdest.Columns = slices.Clone(text.Dest.Columns)
	vdest.Key = nil
	for _, k := range []string{"entity_id", "attribute_id", "store_id"} {
		if i := vdest.ColumnIndex(k); i >= 0 {
			vdest.Key = append(vdest.Key, i)
		}
	}
	if i := vdest.ColumnIndex("value_id"); i >= 0 {
		vdest.Columns[i].KeepExisting = true
	}
	check, err := text.AsRowsOf(&vdest)
	if err != nil {
		return nil, fmt.Errorf("%w: PostProcessing step: %v", ErrIntegrity, err)
	}
	check = check.WithRoute(func(row []any, _ bool) (transform.Route, error) {
		if isMoved(row) {
			return transform.Route{Kind: transform.Carry}, nil
		}
		return transform.Route{Kind: transform.Skip}, nil
	}, col).WithOwnRows("`value_id` < 0", func([]any) bool { return true })
	return text.WithRoute(func(row []any, _ bool) (transform.Route, error) {
		if isMoved(row) {
			return route, nil
		}
		return transform.Route{Kind: transform.Carry}, nil
	}, reads...).WithAlsoVerify(check), nil
}

// postMovedTable is varchar's destination table as the mover writes it:
// keyed by (entity_id, attribute_id, store_id), value_id not updated on
// duplicate; and the projection of a text destination row into it.
func postMovedTable(text, varchar *cdc.Table) (*cdc.Table, func([]any) []any, error) {
	t := *varchar
	t.Columns = slices.Clone(varchar.Columns)
	t.Key = nil
	for _, k := range []string{"entity_id", "attribute_id", "store_id"} {
		i := t.ColumnIndex(k)
		if i < 0 {
			return nil, nil, fmt.Errorf("destination %s has no %s column", varchar.Name, k)
		}
		t.Key = append(t.Key, i)
	}
	from := make([]int, len(t.Columns))
	id := -1
	for i := range t.Columns {
		from[i] = text.ColumnIndex(t.Columns[i].Name)
		if from[i] < 0 {
			return nil, nil, fmt.Errorf("destination %s has column %s, which %s lacks: its rows cannot be moved there", varchar.Name, t.Columns[i].Name, text.Name)
		}
		if strings.EqualFold(t.Columns[i].Name, "value_id") {
			id = i
			t.Columns[i].KeepExisting = true
		}
	}
	return &t, func(d []any) []any {
		out := make([]any, len(from))
		for i, j := range from {
			if j < len(d) {
				out[i] = d[j]
			}
		}
		if id >= 0 {
			out[id] = negateID(out[id])
		}
		return out
	}, nil
}

// postMovedRowsNotOwn tells the _varchar plan that rows of negative
// value_id are the mover's, not its own: its copy does not empty them, its
// volume check does not count them, verify does not call them extra.
func postMovedRowsNotOwn(varchar *transform.TablePlan) *transform.TablePlan {
	if len(varchar.Dest.Key) != 1 || !strings.EqualFold(varchar.Dest.Columns[varchar.Dest.Key[0]].Name, "value_id") {
		return varchar
	}
	return varchar.WithOwnRows("`value_id` >= 0", func(k []any) bool {
		return len(k) != 1 || !strings.HasPrefix(str(k[0]), "-")
	})
}

// negateID is -v for a positive integer v (nil, the auto-increment, else).
func negateID(v any) any {
	switch x := v.(type) {
	case int64:
		if x > 0 {
			return -x
		}
	case uint64:
		if x > 0 && x <= 1<<62 {
			return -int64(x)
		}
	case int32:
		if x > 0 {
			return -int64(x)
		}
	case uint32:
		if x > 0 {
			return -int64(x)
		}
	case int:
		if x > 0 {
			return -int64(x)
		}
	}
	return nil
}

// postMultiselectIDs are the source's attribute_ids of multiselect product
// attributes (none when the source has no EAV tables).
func postMultiselectIDs(ctx context.Context, src *sql.DB, prefix string) (map[string]bool, error) {
	return postProductAttributeIDs(ctx, src, prefix, "a.frontend_input = 'multiselect'", "multiselect product attributes")
}
