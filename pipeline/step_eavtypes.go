package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/transform"
)

// Entity types (eav_entity_type). The reference writes Magento 1's rows
// through the EAV map over Magento 2's of the same entity_type_code (its
// migrateEntityTypes): the class and table columns become, by the class
// map, Magento 2's own classes for Magento's types (increment_model and
// additional_attribute_table are kept as Magento 2's by GetDestinationValue);
// what Magento 1 really brings is its default attribute set and its
// increment settings. shiplog keeps Magento 2's row and id and writes those:
// default_attribute_set_id through the attribute set map, and
// increment_per_store, increment_pad_length and increment_pad_char, each
// as the EAV map makes it. Entity types only Magento 1 has are not added
// (their attributes and sets are warned about).

// eavTypeColumns are the eav_entity_type columns taken from Magento 1.
var eavTypeColumns = []string{"default_attribute_set_id", "increment_per_store", "increment_pad_length", "increment_pad_char"}

// eavTypeUpdate is what one Magento 2 entity type gets from Magento 1.
type eavTypeUpdate struct {
	code string
	cols []string
	vals []any
}

// planEavTypes plans the updates of Magento 2's entity types (dstIDs:
// entity_type_id by code) from the source's rows as the EAV map transforms
// them (rows: code -> the transformed row, whose columns are dest's), with
// setMap the attribute set id map. A Magento 1 default set the map lacks
// keeps Magento 2's, with a warning.
func planEavTypes(dest *cdc.Table, rows map[string][]any, dstIDs, setMap map[string]string) (ups map[string]eavTypeUpdate, warnings []string) {
	ups = map[string]eavTypeUpdate{}
	for _, code := range slices.Sorted(maps.Keys(rows)) {
		id, ok := dstIDs[code]
		if !ok {
			continue
		}
		out := rows[code]
		u := eavTypeUpdate{code: code}
		for _, c := range eavTypeColumns {
			i := dest.ColumnIndex(c)
			if i < 0 || out[i] == cdc.Default {
				continue
			}
			v := out[i]
			if c == "default_attribute_set_id" && v != nil {
				m2, ok := setMap[str(v)]
				if !ok {
					warnings = append(warnings, fmt.Sprintf("entity type %s: Magento 1's default attribute set %s is not migrated; Magento 2's default set is kept", code, str(v)))
					continue
				}
				v = m2
			}
			u.cols, u.vals = append(u.cols, c), append(u.vals, v)
		}
		if len(u.cols) > 0 {
			ups[id] = u
		}
	}
	return ups, warnings
}

// mergeEntityTypes writes, in tx, what Magento 2's entity types take from
// Magento 1's (after the set merge, whose map tx holds). It returns how
// many it updated.
func (s *eavStep) mergeEntityTypes(ctx context.Context, tx *sql.Tx, m *eavMerge) (int, error) {
	sp, dp := s.r.cfg.Options.SourcePrefix, s.r.cfg.Options.DestPrefix
	tp := s.plan.Table(sp + "eav_entity_type")
	if tp == nil {
		m.warnings = append(m.warnings, fmt.Sprintf("the EAV map does not map %s: Magento 2's entity types keep their default attribute sets and increment settings", sp+"eav_entity_type"))
		return 0, nil
	}
	rows, err := s.eavTypeRows(ctx, tp, m)
	if err != nil {
		return 0, err
	}
	dstIDs, err := eavPairs(ctx, s.r.dst, dp+"eav_entity_type", "entity_type_code", "entity_type_id")
	if err != nil {
		return 0, fmt.Errorf("destination: %w", err)
	}
	pairs, err := eavQuery(ctx, tx, "SELECT m1_id, m2_id FROM "+rowio.QuoteIdent(transform.EavAttributeSetMapTable))
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", transform.EavAttributeSetMapTable, err)
	}
	setMap := map[string]string{}
	for _, p := range pairs {
		setMap[p[0]] = p[1]
	}
	ups, warnings := planEavTypes(tp.Dest, rows, dstIDs, setMap)
	m.warnings = append(m.warnings, warnings...)
	for _, id := range slices.Sorted(maps.Keys(ups)) {
		u := ups[id]
		set := make([]string, len(u.cols))
		for i, c := range u.cols {
			set[i] = rowio.QuoteIdent(c) + " = ?"
		}
		if _, err := tx.ExecContext(ctx, "UPDATE "+rowio.QuoteIdent(tp.Dest.Name)+" SET "+strings.Join(set, ", ")+" WHERE entity_type_id = ?", append(u.vals, id)...); err != nil {
			return 0, fmt.Errorf("update entity type %s in destination %s: %w", u.code, tp.Dest.Name, err)
		}
	}
	return len(ups), nil
}

// eavTypeRows reads the source's entity types through the EAV map (tp):
// the transformed rows by entity_type_code; rows the map cannot transform
// are m's failures.
func (s *eavStep) eavTypeRows(ctx context.Context, tp *transform.TablePlan, m *eavMerge) (map[string][]any, error) {
	ci := tp.Source.ColumnIndex("entity_type_code")
	if ci < 0 {
		return nil, fmt.Errorf("source table %s lacks entity_type_code", tp.Source.Name)
	}
	rows := map[string][]any{}
	err := rowio.ReadTable(ctx, s.r.src, tp.Source, func(row []any) error {
		out, err := tp.Row(row)
		if err != nil {
			return m.fail(tp, row, err, fmt.Sprintf("entity type %s", str(row[ci])))
		}
		rows[str(row[ci])] = out
		return nil
	})
	return rows, err
}

// typeProblems tries the source's entity types through the EAV map, as
// Data would: rows it cannot transform are errors (--auto: failed rows).
func (s *eavStep) typeProblems(ctx context.Context) ([]transform.Problem, error) {
	tp := s.plan.Table(s.r.cfg.Options.SourcePrefix + "eav_entity_type")
	if tp == nil {
		return nil, nil
	}
	m := &eavMerge{}
	if _, err := s.eavTypeRows(ctx, tp, m); err != nil {
		return nil, err
	}
	var out []transform.Problem
	for i, f := range m.failures {
		out = append(out, transform.Problem{Severity: transform.Error, Area: "source", Table: f.Table,
			Msg: m.why[i] + "; its default attribute set and increment settings are not migrated (--auto: recorded in _shiplog_failed_rows)"})
	}
	return out, nil
}
