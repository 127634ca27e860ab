package transform

import (
	"fmt"
	"strconv"
)

// EavAttributeMapTable is the destination table in which the EAV step keeps
// its attribute id map: one row per Magento 1 attribute it matched or added,
// (m1_id, m2_id, entity_type_code, attribute_code).
const EavAttributeMapTable = StateTablePrefix + "eav_attribute_map"

// EavAttributeSetMapTable and EavAttributeGroupMapTable are the EAV step's
// attribute set and group id maps: (m1_id, m2_id, ...) per Magento 1 set or
// group it matched or added.
const (
	EavAttributeSetMapTable   = StateTablePrefix + "eav_attribute_set_map"
	EavAttributeGroupMapTable = StateTablePrefix + "eav_attribute_group_map"
)

// EavAttributeIdHandler names the handler that translates attribute_id of
// the EAV value tables through EavAttributeMapTable. No map file names it:
// the EAV step adds it to the Map step's rules (pipeline's eavValueRules).
// EavAttributeSetIdHandler and EavAttributeGroupIdHandler do the same for
// attribute_set_id and attribute_group_id through the set and group maps.
const (
	EavAttributeIdHandler      = "Shiplog\\EavAttributeId"
	EavAttributeSetIdHandler   = "Shiplog\\EavAttributeSetId"
	EavAttributeGroupIdHandler = "Shiplog\\EavAttributeGroupId"
)

func init() {
	Register(EavAttributeIdHandler, newEavAttributeID)
	Register(EavAttributeSetIdHandler, func(p Params, b Binding) (Func, error) {
		return newEavIDMap(EavAttributeSetIdHandler, EavAttributeSetMapTable, "attribute_set_id", "attribute set", true, p, b)
	})
	Register(EavAttributeGroupIdHandler, func(p Params, b Binding) (Func, error) {
		return newEavIDMap(EavAttributeGroupIdHandler, EavAttributeGroupMapTable, "attribute_group_id", "attribute group", false, p, b)
	})
}

// newEavAttributeID binds the attribute id translation: the field (a
// Magento 1 attribute_id) becomes the Magento 2 id the EAV step mapped it
// to. An id the map does not hold fails the row: copied as it is, a
// Magento 1 id names another attribute in Magento 2 (or none). NULL stays
// NULL. It takes no params.
func newEavAttributeID(p Params, b Binding) (Func, error) {
	return newEavIDMap(EavAttributeIdHandler, EavAttributeMapTable, "attribute_id", "attribute", false, p, b)
}

// newEavIDMap binds a translation of a Magento 1 id (what: attribute_id,
// attribute_set_id, ...) through one of the EAV step's id maps (table, with
// m1_id and m2_id). NULL stays NULL; with zeroStays, so does 0, which
// Magento uses for "no set" (the root category's attribute_set_id). Any
// other id the map lacks fails the row.
func newEavIDMap(handler, table, what, noun string, zeroStays bool, p Params, b Binding) (Func, error) {
	for k := range p {
		return nil, fmt.Errorf("unknown param %q (the handler takes none)", k)
	}
	l, err := b.Env.NeedLookups(handler)
	if err != nil {
		return nil, err
	}
	t := l.Table(SideDestination, table)
	unsigned := b.Column.Unsigned
	return func(rec, _ []any) error {
		v, ok := hdlString(rec[b.Index])
		if !ok || (zeroStays && v == "0") {
			return nil
		}
		rows, err := t.Rows()
		if err != nil {
			return err
		}
		m2, ok := rows.First("m1_id", v, "m2_id")
		if !ok {
			return fmt.Errorf("Magento 1 %s %s is not in the EAV step's %s map (%s), so the row is not copied (that id would name another Magento 2 %s). "+
				"If the %s was added to Magento 1 after data mode ran, run `shiplog migrate data --reset`: the EAV step adds it to Magento 2 and the copy starts again; "+
				"if the EAV step left it out (eav_attribute_groups_file's ignore group, or a failed row: see its warnings), its rows stay out, as the reference leaves them", what, v, noun, table, noun, noun)
		}
		if unsigned {
			n, err := strconv.ParseUint(m2, 10, 64)
			if err != nil {
				return fmt.Errorf("%s.m2_id %q: %w", table, m2, err)
			}
			rec[b.Index] = n
			return nil
		}
		n, err := strconv.ParseInt(m2, 10, 64)
		if err != nil {
			return fmt.Errorf("%s.m2_id %q: %w", table, m2, err)
		}
		rec[b.Index] = n
		return nil
	}, nil
}
