package transform

import (
	"fmt"
	"strconv"
)

// EavAttributeMapTable is the destination table in which the EAV step keeps
// its attribute id map: one row per Magento 1 attribute it matched or added,
// (m1_id, m2_id, entity_type_code, attribute_code).
const EavAttributeMapTable = StateTablePrefix + "eav_attribute_map"

// EavAttributeIdHandler names the handler that translates attribute_id of
// the EAV value tables through EavAttributeMapTable. No map file names it:
// the EAV step adds it to the Map step's rules (pipeline's eavValueRules).
const EavAttributeIdHandler = "Shiplog\\EavAttributeId"

func init() {
	Register(EavAttributeIdHandler, newEavAttributeID)
}

// newEavAttributeID binds the attribute id translation: the field (a
// Magento 1 attribute_id) becomes the Magento 2 id the EAV step mapped it
// to. An id the map does not hold fails the row: copied as it is, a
// Magento 1 id names another attribute in Magento 2 (or none). NULL stays
// NULL. It takes no params.
func newEavAttributeID(p Params, b Binding) (Func, error) {
	for k := range p {
		return nil, fmt.Errorf("unknown param %q (the handler takes none)", k)
	}
	l, err := b.Env.NeedLookups(EavAttributeIdHandler)
	if err != nil {
		return nil, err
	}
	t := l.Table(SideDestination, EavAttributeMapTable)
	unsigned := b.Column.Unsigned
	return func(rec, _ []any) error {
		v, ok := hdlString(rec[b.Index])
		if !ok {
			return nil
		}
		rows, err := t.Rows()
		if err != nil {
			return err
		}
		m2, ok := rows.First("m1_id", v, "m2_id")
		if !ok {
			return fmt.Errorf("Magento 1 attribute_id %s is not in the EAV step's attribute map (%s): the attribute is ignored (eav_attribute_groups_file) or unknown, or the EAV step has not run before the Map step; the row is not copied with an id that names another Magento 2 attribute", v, EavAttributeMapTable)
		}
		if unsigned {
			n, err := strconv.ParseUint(m2, 10, 64)
			if err != nil {
				return fmt.Errorf("%s.m2_id %q: %w", EavAttributeMapTable, m2, err)
			}
			rec[b.Index] = n
			return nil
		}
		n, err := strconv.ParseInt(m2, 10, 64)
		if err != nil {
			return fmt.Errorf("%s.m2_id %q: %w", EavAttributeMapTable, m2, err)
		}
		rec[b.Index] = n
		return nil
	}, nil
}
