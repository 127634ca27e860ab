package pipeline

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/transform"
)

// The EAV step's attribute sets, groups and their attributes
// (eav_attribute_set, eav_attribute_group, eav_entity_attribute), merged
// the way its attributes are: Magento 2's rows and ids stay; a Magento 1 set
// is Magento 2's set of the same entity type and name, a group Magento 2's
// group of the mapped set with the same name (or the group code the EAV map
// gives it); the ones Magento 2 lacks are added through the EAV map with
// new ids. The id maps (transform.EavAttributeSetMapTable and
// EavAttributeGroupMapTable) are written in the attribute merge's
// transaction, and the Map step translates attribute_set_id and
// attribute_group_id through them (eavValueRules).

// eavProductGroupRenames are the product set groups Magento 2 names
// otherwise: Magento 1's General, Prices and Recurring Profile are Magento
// 2's Product Details (as the reference's Data step maps them).
var eavProductGroupRenames = map[string]string{"General": "Product Details", "Prices": "Product Details", "Recurring Profile": "Product Details"}

// eavProductGroupSortShift is added to the sort order of a Magento 1
// attribute placed in a renamed group, so it follows Magento 2's own
// attributes there (as the reference does).
const eavProductGroupSortShift = 200

// eavSetsResult counts what the set and group merge did.
type eavSetsResult struct {
	SetsMatched, SetsAdded, GroupsMatched, GroupsAdded int
	// ProtoGroups and ProtoLinks are the groups and eav_entity_attribute
	// rows copied from Magento 2's Default product set into the product
	// sets added (step_eavsetproto.go).
	ProtoGroups, ProtoLinks int
	// Links are eav_entity_attribute rows added; LinksKept the source's
	// whose set already holds the attribute in Magento 2; LinksSkipped
	// those of an attribute, set or group not migrated.
	Links, LinksKept, LinksSkipped int
}

// eavSetRef names a set by its entity type code and name, as the set map
// and the volume check compare them.
type eavSetRef struct{ etCode, name string }

// queryer is a *sql.DB or *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// eavQuery reads query's rows as text (NULL as "").
func eavQuery(ctx context.Context, db queryer, query string) ([][]string, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// eavSetsState creates the set and group map tables.
func eavSetsState(ctx context.Context, tx *sql.Tx) error {
	for _, q := range []string{
		"CREATE TABLE IF NOT EXISTS " + rowio.QuoteIdent(transform.EavAttributeSetMapTable) + ` (
		m1_id INT UNSIGNED NOT NULL PRIMARY KEY,
		m2_id INT UNSIGNED NOT NULL,
		entity_type_code VARCHAR(50) NOT NULL,
		attribute_set_name VARCHAR(255) NOT NULL
	) COMMENT 'shiplog EAV step: Magento 1 attribute_set_id -> Magento 2 attribute_set_id'`,
		"CREATE TABLE IF NOT EXISTS " + rowio.QuoteIdent(transform.EavAttributeGroupMapTable) + ` (
		m1_id INT UNSIGNED NOT NULL PRIMARY KEY,
		m2_id INT UNSIGNED NOT NULL,
		m1_set_id INT UNSIGNED NOT NULL,
		attribute_group_name VARCHAR(255) NOT NULL
	) COMMENT 'shiplog EAV step: Magento 1 attribute_group_id -> Magento 2 attribute_group_id'`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create the EAV step's set and group maps: %w", err)
		}
	}
	return nil
}

// eavSourceGroupName is the name a Magento 1 group has in Magento 2 (and
// whether it was renamed): product sets' groups by eavProductGroupRenames.
func eavSourceGroupName(etCode, name string) (string, bool) {
	if etCode == "catalog_product" {
		if to, ok := eavProductGroupRenames[name]; ok {
			return to, true
		}
	}
	return name, false
}

// mergeSetsAndGroups merges the source's attribute sets, groups and
// eav_entity_attribute rows into the destination in tx (the attribute
// merge's), with attrIDs the attribute id map (Magento 1 -> Magento 2) tx
// holds, and records the set and group maps. Rows the EAV map cannot
// transform are m's failures; sets of an entity type Magento 2 lacks are
// m's warnings.
func (s *eavStep) mergeSetsAndGroups(ctx context.Context, tx *sql.Tx, attrIDs map[string]string, m *eavMerge) (eavSetsResult, error) {
	var res eavSetsResult
	r, cfg := s.r, s.r.cfg
	sp, dp := cfg.Options.SourcePrefix, cfg.Options.DestPrefix
	setPlan, groupPlan := s.plan.Table(sp+"eav_attribute_set"), s.plan.Table(sp+"eav_attribute_group")
	if setPlan == nil || groupPlan == nil {
		return res, fmt.Errorf("the EAV map does not map %s and %s (see the integrity check)", sp+"eav_attribute_set", sp+"eav_attribute_group")
	}
	if err := eavSetsState(ctx, tx); err != nil {
		return res, err
	}
	srcTypes, err := eavPairs(ctx, r.src, sp+"eav_entity_type", "entity_type_id", "entity_type_code")
	if err != nil {
		return res, fmt.Errorf("source: %w", err)
	}
	dstTypeIDs, err := eavPairs(ctx, r.dst, dp+"eav_entity_type", "entity_type_code", "entity_type_id")
	if err != nil {
		return res, fmt.Errorf("destination: %w", err)
	}
	fail := m.fail

	// Sets.
	dstSets, err := eavQuery(ctx, tx, "SELECT attribute_set_id, entity_type_id, attribute_set_name FROM "+rowio.QuoteIdent(dp+"eav_attribute_set"))
	if err != nil {
		return res, fmt.Errorf("read destination %s: %w", dp+"eav_attribute_set", err)
	}
	setByName := map[string]string{}
	for _, d := range dstSets {
		setByName[eavKey(d[1], d[2])] = d[0]
	}
	si := func(tp *transform.TablePlan, name string) int { return tp.Source.ColumnIndex(name) }
	sID, sType, sName := si(setPlan, "attribute_set_id"), si(setPlan, "entity_type_id"), si(setPlan, "attribute_set_name")
	if sID < 0 || sType < 0 || sName < 0 {
		return res, fmt.Errorf("source table %s lacks attribute_set_id, entity_type_id or attribute_set_name", setPlan.Source.Name)
	}
	var srcSets [][]any
	if err := rowio.ReadTable(ctx, r.src, setPlan.Source, func(row []any) error {
		srcSets = append(srcSets, row)
		return nil
	}); err != nil {
		return res, err
	}
	var proto *eavSetPrototype      // Magento 2's Default product set, read when a product set is added
	setIDs := map[string]string{}   // m1 -> m2
	setTypes := map[string]string{} // m1 -> entity type code
	for _, row := range srcSets {
		m1, name, etID := str(row[sID]), str(row[sName]), str(row[sType])
		etCode, ok := srcTypes[etID]
		m2et, ok2 := dstTypeIDs[etCode]
		if !ok || !ok2 {
			m.warnings = append(m.warnings, fmt.Sprintf("source attribute set %q (attribute_set_id %s) has entity type %s, which Magento 2 (or the source's eav_entity_type) lacks: not migrated (rows with its attribute_set_id fail in the Map step)", name, m1, cmp.Or(etCode, etID)))
			continue
		}
		m2, ok := setByName[eavKey(m2et, name)]
		if ok {
			res.SetsMatched++
		} else {
			out, err := setPlan.Row(row)
			if err != nil {
				s.failedSets[m1] = true
				if err := fail(setPlan, row, err, fmt.Sprintf("attribute set %s/%q (attribute_set_id %s)", etCode, name, m1)); err != nil {
					return res, err
				}
				continue
			}
			if i := setPlan.Dest.ColumnIndex("attribute_set_id"); i >= 0 {
				out[i] = nil
			}
			if i := setPlan.Dest.ColumnIndex("entity_type_id"); i >= 0 {
				out[i] = m2et
			}
			id, err := eavInsert(ctx, tx, setPlan.Dest, out, "ON DUPLICATE KEY UPDATE attribute_set_id = LAST_INSERT_ID(attribute_set_id)")
			if err != nil {
				return res, fmt.Errorf("add attribute set %s/%q to destination %s: %w", etCode, name, setPlan.Dest.Name, err)
			}
			m2 = strconv.FormatInt(id, 10)
			setByName[eavKey(m2et, name)] = m2
			res.SetsAdded++
			if etCode == "catalog_product" {
				if err := s.copyProductSetPrototype(ctx, tx, &proto, setPlan.Dest.Name, groupPlan.Dest, m2et, m2, name, &res, m); err != nil {
					return res, err
				}
			}
		}
		setIDs[m1], setTypes[m1] = m2, etCode
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+rowio.QuoteIdent(transform.EavAttributeSetMapTable)+
			" (m1_id, m2_id, entity_type_code, attribute_set_name) VALUES (?, ?, ?, ?)"+
			" ON DUPLICATE KEY UPDATE m2_id = VALUES(m2_id), entity_type_code = VALUES(entity_type_code), attribute_set_name = VALUES(attribute_set_name)",
			m1, m2, etCode, name); err != nil {
			return res, fmt.Errorf("record attribute set %s/%q in %s: %w", etCode, name, transform.EavAttributeSetMapTable, err)
		}
	}

	// Groups.
	codeCol := groupPlan.Dest.ColumnIndex("attribute_group_code")
	codeSel := "NULL"
	if codeCol >= 0 {
		codeSel = "attribute_group_code"
	}
	dstGroups, err := eavQuery(ctx, tx, "SELECT attribute_group_id, attribute_set_id, attribute_group_name, "+codeSel+" FROM "+rowio.QuoteIdent(dp+"eav_attribute_group"))
	if err != nil {
		return res, fmt.Errorf("read destination %s: %w", dp+"eav_attribute_group", err)
	}
	groupByName, groupByCode := map[string]string{}, map[string]string{}
	for _, d := range dstGroups {
		groupByName[eavKey(d[1], d[2])] = d[0]
		if d[3] != "" {
			groupByCode[eavKey(d[1], d[3])] = d[0]
		}
	}
	gID, gSet, gName := si(groupPlan, "attribute_group_id"), si(groupPlan, "attribute_set_id"), si(groupPlan, "attribute_group_name")
	if gID < 0 || gSet < 0 || gName < 0 {
		return res, fmt.Errorf("source table %s lacks attribute_group_id, attribute_set_id or attribute_group_name", groupPlan.Source.Name)
	}
	dgID, dgSet := groupPlan.Dest.ColumnIndex("attribute_group_id"), groupPlan.Dest.ColumnIndex("attribute_set_id")
	if dgID < 0 || dgSet < 0 {
		return res, fmt.Errorf("the EAV map does not copy attribute_group_id and attribute_set_id to destination %s", groupPlan.Dest.Name)
	}
	var srcGroups [][]any
	if err := rowio.ReadTable(ctx, r.src, groupPlan.Source, func(row []any) error {
		srcGroups = append(srcGroups, row)
		return nil
	}); err != nil {
		return res, err
	}
	groupIDs := map[string]string{}
	renamed := map[string]bool{} // m1 group ids put in a renamed group
	for _, row := range srcGroups {
		m1, m1Set := str(row[gID]), str(row[gSet])
		m2Set, ok := setIDs[m1Set]
		if !ok {
			continue // its set is not migrated (warned about or failed)
		}
		name, wasRenamed := eavSourceGroupName(setTypes[m1Set], str(row[gName]))
		m2, ok := groupByName[eavKey(m2Set, name)]
		if !ok {
			in := append([]any(nil), row...)
			in[gName] = name
			out, err := groupPlan.Row(in)
			if err != nil {
				s.failedGroups[m1] = true
				if err := fail(groupPlan, row, err, fmt.Sprintf("attribute group %q (attribute_group_id %s) of attribute set %s", name, m1, m1Set)); err != nil {
					return res, err
				}
				continue
			}
			if codeCol >= 0 {
				m2, ok = groupByCode[eavKey(m2Set, str(out[codeCol]))]
			}
			if !ok {
				out[dgID], out[dgSet] = nil, m2Set
				id, err := eavInsert(ctx, tx, groupPlan.Dest, out, "ON DUPLICATE KEY UPDATE attribute_group_id = LAST_INSERT_ID(attribute_group_id)")
				if err != nil {
					return res, fmt.Errorf("add attribute group %q of attribute set %s to destination %s: %w", name, m2Set, groupPlan.Dest.Name, err)
				}
				m2 = strconv.FormatInt(id, 10)
				groupByName[eavKey(m2Set, name)] = m2
				if codeCol >= 0 && out[codeCol] != nil {
					groupByCode[eavKey(m2Set, str(out[codeCol]))] = m2
				}
				res.GroupsAdded++
			} else {
				res.GroupsMatched++
			}
		} else {
			res.GroupsMatched++
		}
		groupIDs[m1], renamed[m1] = m2, wasRenamed
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+rowio.QuoteIdent(transform.EavAttributeGroupMapTable)+
			" (m1_id, m2_id, m1_set_id, attribute_group_name) VALUES (?, ?, ?, ?)"+
			" ON DUPLICATE KEY UPDATE m2_id = VALUES(m2_id), m1_set_id = VALUES(m1_set_id), attribute_group_name = VALUES(attribute_group_name)",
			m1, m2, m1Set, name); err != nil {
			return res, fmt.Errorf("record attribute group %q in %s: %w", name, transform.EavAttributeGroupMapTable, err)
		}
	}

	// Their attributes: a source row is added unless Magento 2's set
	// already holds the attribute (its place there is kept).
	links, err := eavQuery(ctx, r.src, "SELECT attribute_set_id, attribute_group_id, attribute_id, sort_order FROM "+rowio.QuoteIdent(sp+"eav_entity_attribute")+" ORDER BY entity_attribute_id")
	if err != nil {
		return res, fmt.Errorf("read source %s: %w", sp+"eav_entity_attribute", err)
	}
	have, err := eavQuery(ctx, tx, "SELECT attribute_set_id, attribute_group_id, attribute_id FROM "+rowio.QuoteIdent(dp+"eav_entity_attribute"))
	if err != nil {
		return res, fmt.Errorf("read destination %s: %w", dp+"eav_entity_attribute", err)
	}
	inSet, inGroup := map[string]bool{}, map[string]bool{}
	for _, h := range have {
		inSet[eavKey(h[0], h[2])], inGroup[eavKey(h[1], h[2])] = true, true
	}
	for _, l := range links {
		m2Set, ok1 := setIDs[l[0]]
		m2Group, ok2 := groupIDs[l[1]]
		m2Attr, ok3 := attrIDs[l[2]]
		if !ok1 || !ok2 || !ok3 {
			res.LinksSkipped++
			continue
		}
		if inSet[eavKey(m2Set, m2Attr)] || inGroup[eavKey(m2Group, m2Attr)] {
			res.LinksKept++
			continue
		}
		sort, err := strconv.Atoi(l[3])
		if err != nil {
			return res, fmt.Errorf("source %s: sort_order %q: %w", sp+"eav_entity_attribute", l[3], err)
		}
		if renamed[l[1]] {
			sort += eavProductGroupSortShift
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+rowio.QuoteIdent(dp+"eav_entity_attribute")+
			" (entity_type_id, attribute_set_id, attribute_group_id, attribute_id, sort_order) VALUES (?, ?, ?, ?, ?)",
			dstTypeIDs[setTypes[l[0]]], m2Set, m2Group, m2Attr, sort); err != nil {
			return res, fmt.Errorf("add attribute %s to attribute set %s (group %s) in destination %s: %w", m2Attr, m2Set, m2Group, dp+"eav_entity_attribute", err)
		}
		inSet[eavKey(m2Set, m2Attr)], inGroup[eavKey(m2Group, m2Attr)] = true, true
		res.Links++
	}
	return res, nil
}

// volumeSetsAndGroups checks the set and group maps against both sides:
// every source set of an entity type both sides have (not a failed row)
// is in the set map and names a destination set of the same entity type
// code and name; every source group of a mapped set is in the group map
// and names a group of that Magento 2 set with the name Magento 2 gives it.
func (s *eavStep) volumeSetsAndGroups(ctx context.Context) (sets, groups int, err error) {
	r, cfg := s.r, s.r.cfg
	sp, dp := cfg.Options.SourcePrefix, cfg.Options.DestPrefix
	srcSets, err := eavQuery(ctx, r.src, "SELECT s.attribute_set_id, t.entity_type_code, s.attribute_set_name FROM "+rowio.QuoteIdent(sp+"eav_attribute_set")+
		" s JOIN "+rowio.QuoteIdent(sp+"eav_entity_type")+" t USING (entity_type_id)")
	if err != nil {
		return 0, 0, fmt.Errorf("read source attribute sets: %w", err)
	}
	dstSets, err := eavQuery(ctx, r.dst, "SELECT m.m1_id, t.entity_type_code, s.attribute_set_name, s.attribute_set_id FROM "+rowio.QuoteIdent(transform.EavAttributeSetMapTable)+
		" m JOIN "+rowio.QuoteIdent(dp+"eav_attribute_set")+" s ON s.attribute_set_id = m.m2_id JOIN "+rowio.QuoteIdent(dp+"eav_entity_type")+" t ON t.entity_type_id = s.entity_type_id")
	if err != nil {
		return 0, 0, fmt.Errorf("read %s: %w", transform.EavAttributeSetMapTable, err)
	}
	dstTypes, err := eavPairs(ctx, r.dst, dp+"eav_entity_type", "entity_type_code", "entity_type_id")
	if err != nil {
		return 0, 0, err
	}
	mapped := map[string]eavSetRef{}
	m2Of := map[string]string{}
	for _, d := range dstSets {
		mapped[d[0]], m2Of[d[0]] = eavSetRef{d[1], d[2]}, d[3]
	}
	var problems []string
	setType := map[string]string{}
	for _, s1 := range srcSets {
		if _, ok := dstTypes[s1[1]]; !ok || s.failedSets[s1[0]] {
			continue
		}
		sets++
		setType[s1[0]] = s1[1]
		if got, ok := mapped[s1[0]]; !ok {
			problems = append(problems, fmt.Sprintf("attribute set %s/%q (%s) is not in %s", s1[1], s1[2], s1[0], transform.EavAttributeSetMapTable))
		} else if got != (eavSetRef{s1[1], s1[2]}) {
			problems = append(problems, fmt.Sprintf("attribute set %s/%q (%s) maps to Magento 2's %s/%q", s1[1], s1[2], s1[0], got.etCode, got.name))
		}
	}
	srcGroups, err := eavQuery(ctx, r.src, "SELECT attribute_group_id, attribute_set_id, attribute_group_name FROM "+rowio.QuoteIdent(sp+"eav_attribute_group"))
	if err != nil {
		return 0, 0, fmt.Errorf("read source attribute groups: %w", err)
	}
	dstGroups, err := eavQuery(ctx, r.dst, "SELECT m.m1_id, g.attribute_set_id, g.attribute_group_name FROM "+rowio.QuoteIdent(transform.EavAttributeGroupMapTable)+
		" m JOIN "+rowio.QuoteIdent(dp+"eav_attribute_group")+" g ON g.attribute_group_id = m.m2_id")
	if err != nil {
		return 0, 0, fmt.Errorf("read %s: %w", transform.EavAttributeGroupMapTable, err)
	}
	gotGroup := map[string][2]string{}
	for _, d := range dstGroups {
		gotGroup[d[0]] = [2]string{d[1], d[2]}
	}
	for _, g := range srcGroups {
		et, ok := setType[g[1]]
		if !ok || s.failedGroups[g[0]] {
			continue
		}
		groups++
		name, _ := eavSourceGroupName(et, g[2])
		want := [2]string{m2Of[g[1]], name}
		if got, ok := gotGroup[g[0]]; !ok {
			problems = append(problems, fmt.Sprintf("attribute group %q (%s) is not in %s", g[2], g[0], transform.EavAttributeGroupMapTable))
		} else if !strings.EqualFold(got[1], want[1]) || got[0] != want[0] {
			problems = append(problems, fmt.Sprintf("attribute group %q (%s) of set %s maps to Magento 2's group %q of set %s", g[2], g[0], g[1], got[1], got[0]))
		}
	}
	if len(problems) > 0 {
		return sets, groups, fmt.Errorf("EAV volume check: %s; run data mode again with --reset", strings.Join(problems, "; "))
	}
	return sets, groups, nil
}

// trySetsAndGroups is the integrity check's try of the set and group merge:
// the source sets and groups Magento 2 lacks (by entity type and name; by
// set and name) must go through the EAV map. Each that cannot is an error
// (--auto: a failed row when Data runs).
func (s *eavStep) trySetsAndGroups(ctx context.Context) ([]transform.Problem, error) {
	r, cfg := s.r, s.r.cfg
	sp, dp := cfg.Options.SourcePrefix, cfg.Options.DestPrefix
	setPlan, groupPlan := s.plan.Table(sp+"eav_attribute_set"), s.plan.Table(sp+"eav_attribute_group")
	if setPlan == nil || groupPlan == nil {
		return nil, nil // reported by Integrity
	}
	srcTypes, err := eavPairs(ctx, r.src, sp+"eav_entity_type", "entity_type_id", "entity_type_code")
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	dstTypeIDs, err := eavPairs(ctx, r.dst, dp+"eav_entity_type", "entity_type_code", "entity_type_id")
	if err != nil {
		return nil, fmt.Errorf("destination: %w", err)
	}
	dst, err := eavQuery(ctx, r.dst, "SELECT s.attribute_set_id, s.entity_type_id, s.attribute_set_name, g.attribute_group_name FROM "+
		rowio.QuoteIdent(dp+"eav_attribute_set")+" s LEFT JOIN "+rowio.QuoteIdent(dp+"eav_attribute_group")+" g ON g.attribute_set_id = s.attribute_set_id")
	if err != nil {
		return nil, fmt.Errorf("read destination attribute sets and groups: %w", err)
	}
	setByName, groupByName := map[string]string{}, map[string]bool{}
	for _, d := range dst {
		setByName[eavKey(d[1], d[2])] = d[0]
		groupByName[eavKey(d[0], d[3])] = true
	}
	var problems []transform.Problem
	try := func(tp *transform.TablePlan, row []any, what string) error {
		if _, err := tp.Row(row); err != nil {
			if _, ferr := tp.Failure(row, err, cdc.Position{}); ferr != nil {
				return ferr
			}
			problems = append(problems, transform.Problem{Severity: transform.Error, Area: "source", Table: tp.Source.Name,
				Msg: fmt.Sprintf("%s cannot be transformed by the EAV map: %v; it is not migrated (--auto: recorded in _shiplog_failed_rows)", what, err)})
		}
		return nil
	}
	sID, sType, sName := setPlan.Source.ColumnIndex("attribute_set_id"), setPlan.Source.ColumnIndex("entity_type_id"), setPlan.Source.ColumnIndex("attribute_set_name")
	gSet, gName := groupPlan.Source.ColumnIndex("attribute_set_id"), groupPlan.Source.ColumnIndex("attribute_group_name")
	if sID < 0 || sType < 0 || sName < 0 || gSet < 0 || gName < 0 {
		return nil, fmt.Errorf("source tables %s and %s lack the columns the EAV step matches them by", setPlan.Source.Name, groupPlan.Source.Name)
	}
	matched := map[string]string{} // m1 set id -> m2 id ("" if added)
	types := map[string]string{}
	if err := rowio.ReadTable(ctx, r.src, setPlan.Source, func(row []any) error {
		m1, name := str(row[sID]), str(row[sName])
		etCode := srcTypes[str(row[sType])]
		m2et, ok := dstTypeIDs[etCode]
		if etCode == "" || !ok {
			return nil // warned about by Data
		}
		types[m1] = etCode
		if m2, ok := setByName[eavKey(m2et, name)]; ok {
			matched[m1] = m2
			return nil
		}
		matched[m1] = ""
		return try(setPlan, row, fmt.Sprintf("attribute set %s/%q (attribute_set_id %s)", etCode, name, m1))
	}); err != nil {
		return nil, err
	}
	if err := rowio.ReadTable(ctx, r.src, groupPlan.Source, func(row []any) error {
		m1Set := str(row[gSet])
		m2Set, ok := matched[m1Set]
		if !ok {
			return nil
		}
		name, _ := eavSourceGroupName(types[m1Set], str(row[gName]))
		if m2Set != "" && groupByName[eavKey(m2Set, name)] {
			return nil
		}
		in := append([]any(nil), row...)
		in[gName] = name
		return try(groupPlan, in, fmt.Sprintf("attribute group %q of attribute set %s", name, m1Set))
	}); err != nil {
		return nil, err
	}
	return problems, nil
}
