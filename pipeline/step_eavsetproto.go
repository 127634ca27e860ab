package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
)

// A product attribute set only Magento 1 has starts, in Magento 2, as a copy
// of Magento 2's Default product set: its groups (Product Details, Design,
// Content, ... with their codes, tabs and sort orders) and the attributes in
// them, Magento 2's system attributes such as quantity_and_stock_status
// among them, as the reference's createProductAttributeSetStructures makes
// it for every Magento 1 product set but Default. Magento 1's own groups and
// attributes then follow (mergeSetsAndGroups): its General, Prices and
// Recurring Profile are the copy's Product Details, an attribute the copy
// already places keeps that place.

// eavDefaultProductSet is the attribute set copied: Magento 2's product set
// of this name.
const eavDefaultProductSet = "Default"

// eavSetPrototype is Magento 2's Default product set, read once per merge.
type eavSetPrototype struct {
	id string // "" if Magento 2 has none
	// groupCols are the eav_attribute_group columns copied (all but its
	// id and set).
	groupCols []string
}

// eavReadSetPrototype finds Magento 2's Default product set (productType:
// Magento 2's catalog_product entity_type_id) in tx; groups is the
// destination's eav_attribute_group table.
func eavReadSetPrototype(ctx context.Context, tx *sql.Tx, setTable string, groups *cdc.Table, productType string) (eavSetPrototype, error) {
	var p eavSetPrototype
	rows, err := tx.QueryContext(ctx, "SELECT attribute_set_id FROM "+rowio.QuoteIdent(setTable)+" WHERE entity_type_id = ? AND attribute_set_name = ?", productType, eavDefaultProductSet)
	if err != nil {
		return p, fmt.Errorf("read Magento 2's %s product set: %w", eavDefaultProductSet, err)
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&p.id); err != nil {
			return p, fmt.Errorf("read Magento 2's %s product set: %w", eavDefaultProductSet, err)
		}
	}
	if err := rows.Err(); err != nil {
		return p, err
	}
	for _, c := range groups.Columns {
		if !strings.EqualFold(c.Name, "attribute_group_id") && !strings.EqualFold(c.Name, "attribute_set_id") {
			p.groupCols = append(p.groupCols, rowio.QuoteIdent(c.Name))
		}
	}
	return p, nil
}

// copyInto gives the new set m2Set the prototype's groups and attributes,
// in tx, and returns how many of each it added. The attributes are placed
// in the copied group of the same name (a set's group names are unique;
// the reference matches the copies by their group code, which they share
// too).
func (p eavSetPrototype) copyInto(ctx context.Context, tx *sql.Tx, groupTable, linkTable, m2Set string) (groups, links int64, err error) {
	cols := strings.Join(p.groupCols, ", ")
	res, err := tx.ExecContext(ctx, "INSERT INTO "+rowio.QuoteIdent(groupTable)+" (attribute_set_id, "+cols+") SELECT ?, "+cols+
		" FROM "+rowio.QuoteIdent(groupTable)+" WHERE attribute_set_id = ? ORDER BY attribute_group_id", m2Set, p.id)
	if err != nil {
		return 0, 0, fmt.Errorf("copy the groups of Magento 2's %s product set to set %s: %w", eavDefaultProductSet, m2Set, err)
	}
	groups, _ = res.RowsAffected()
	g, l := rowio.QuoteIdent(groupTable), rowio.QuoteIdent(linkTable)
	res, err = tx.ExecContext(ctx, "INSERT INTO "+l+" (entity_type_id, attribute_set_id, attribute_group_id, attribute_id, sort_order)"+
		" SELECT ea.entity_type_id, ?, ng.attribute_group_id, ea.attribute_id, ea.sort_order FROM "+l+" ea"+
		" JOIN "+g+" og ON og.attribute_group_id = ea.attribute_group_id"+
		" JOIN "+g+" ng ON ng.attribute_set_id = ? AND ng.attribute_group_name = og.attribute_group_name"+
		" WHERE ea.attribute_set_id = ? ORDER BY ea.entity_attribute_id", m2Set, m2Set, p.id)
	if err != nil {
		return 0, 0, fmt.Errorf("copy the attributes of Magento 2's %s product set to set %s: %w", eavDefaultProductSet, m2Set, err)
	}
	links, _ = res.RowsAffected()
	return groups, links, nil
}

// copyProductSetPrototype gives the product set the merge just added (m2Set,
// Magento 1's name) Magento 2's Default product set's groups and attributes,
// reading that set first (into *proto) if not yet read.
func (s *eavStep) copyProductSetPrototype(ctx context.Context, tx *sql.Tx, proto **eavSetPrototype, setTable string, groups *cdc.Table,
	productType, m2Set, name string, res *eavSetsResult, m *eavMerge) error {
	dp := s.r.cfg.Options.DestPrefix
	if *proto == nil {
		p, err := eavReadSetPrototype(ctx, tx, setTable, groups, productType)
		if err != nil {
			return err
		}
		*proto = &p
		if p.id == "" {
			m.warnings = append(m.warnings, fmt.Sprintf("Magento 2 has no %q product attribute set: the product sets only Magento 1 has get only Magento 1's groups and attributes, not Magento 2's system attributes (quantity_and_stock_status, ...); add them in Magento 2's admin", eavDefaultProductSet))
		}
	}
	if (*proto).id == "" {
		return nil
	}
	g, l, err := (*proto).copyInto(ctx, tx, groups.Name, dp+"eav_entity_attribute", m2Set)
	if err != nil {
		return fmt.Errorf("attribute set %q: %w", name, err)
	}
	res.ProtoGroups += int(g)
	res.ProtoLinks += int(l)
	return nil
}
