package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/transform"
)

// Attribute options (eav_attribute_option, eav_attribute_option_value) are
// not merged by the EAV step: as in the reference, the Map step empties
// Magento 2's tables and copies Magento 1's options under Magento 1's
// option ids (attribute_id translated through the attribute map). Every
// select and multiselect value the Map step copies (catalog and customer
// _int, _varchar, _text values, sales customer_gender, super attribute
// pricing, ...) keeps its Magento 1 option id, which so names the same
// option in Magento 2: no option id map is needed, and none is kept.
//
// What the reference leaves wrong, the EAV step sets right or says:
//   - Magento 2's eav_attribute_option_swatch (Magento 1 has none; the
//     stock map ignores it) names Magento 2's own options, whose ids are
//     Magento 1's options after the copy: the swatches would show on other
//     options. They are deleted, as Magento 2's foreign key deletes the
//     swatches of a deleted option (shiplog writes with foreign_key_checks
//     off, so the copy's delete does not cascade).
//   - A Magento 2 attribute matched to a Magento 1 one keeps its row, and
//     so its default_value; where that names Magento 2's own options of the
//     attribute, it would name Magento 1's options of the same ids: it
//     becomes Magento 1's default_value, which names Magento 1's options.
//   - The options of Magento 2's own attributes (those no Magento 1
//     attribute maps to) are deleted by the copy: said in a warning naming
//     the attributes.
//   - A map that leaves eav_attribute_option or eav_attribute_option_value
//     out while Magento 1 has options would leave values naming Magento 2's
//     options (or labels on the wrong options): an integrity error.
//
// An option is Magento 1's when the destination holds it under the id,
// (translated) attribute and admin label the source has: a second run
// finds the options the first one copied, and changes nothing; a Magento 2
// option equal to Magento 1's of the same id (Magento 2's "Male" of gender
// where Magento 1 has it too) is the same option, whose swatches and
// default stay right.

// eavOptionRef is an option: its id, its attribute's id and its admin
// (store 0) label.
type eavOptionRef struct{ id, attr, label string }

// eavOptionsInput is what the option plan is made from.
type eavOptionsInput struct {
	// attrMap is the attribute id map, Magento 1 -> Magento 2.
	attrMap map[string]string
	// matched are the Magento 2 ids of the attributes matched to a Magento
	// 1 one (not added), each with its Magento 1 id.
	matched map[string]string
	// src and dst are the options of both sides.
	src, dst []eavOptionRef
	// srcDefault and dstDefault are default_value by attribute id (absent:
	// NULL).
	srcDefault, dstDefault map[string]string
	// dstCodes names Magento 2's attributes by id (entity type/code).
	dstCodes map[string]string
	// swatches are Magento 2's swatches: swatch_id -> option_id.
	swatches map[string]string
	// dstSource are Magento 2's source_model by attribute id (absent:
	// NULL).
	dstSource map[string]string
}

// eavTableSource is Magento 2's source model of options kept in
// eav_attribute_option (NULL means it too).
const eavTableSource = `Magento\Eav\Model\Entity\Attribute\Source\Table`

// eavDefaultFix is a Magento 2 attribute's default_value to be replaced.
type eavDefaultFix struct {
	attr, code string
	from, to   string
	toNull     bool
}

// eavOptionsPlan is what the EAV step does about options.
type eavOptionsPlan struct {
	// swatches are the swatch_ids to delete: every swatch not on an option
	// already copied from Magento 1.
	swatches []string
	defaults []eavDefaultFix
	// lost counts the Magento 2 options the copy deletes by attribute
	// (entity type/code), of attributes no Magento 1 attribute maps to.
	lost map[string]int
	// otherSource are the matched attributes whose Magento 1 options
	// Magento 2's source model does not read ("entity type/code (model)").
	otherSource []string
}

// planEavOptions plans what the EAV step does about options (see above).
func planEavOptions(in eavOptionsInput) eavOptionsPlan {
	fromM1 := map[eavOptionRef]bool{}
	for _, o := range in.src {
		if m2, ok := in.attrMap[o.attr]; ok {
			fromM1[eavOptionRef{o.id, m2, o.label}] = true
		}
	}
	mapped := map[string]bool{}
	for _, m2 := range in.attrMap {
		mapped[m2] = true
	}
	own := map[string]map[string]bool{} // Magento 2 attribute id -> its own option ids
	copiedIDs := map[string]bool{}
	p := eavOptionsPlan{lost: map[string]int{}}
	for _, o := range in.dst {
		if fromM1[o] {
			copiedIDs[o.id] = true
			continue
		}
		if own[o.attr] == nil {
			own[o.attr] = map[string]bool{}
		}
		own[o.attr][o.id] = true
		if !mapped[o.attr] {
			p.lost[in.dstCodes[o.attr]]++
		}
	}
	for _, id := range slices.Sorted(maps.Keys(in.swatches)) {
		if !copiedIDs[in.swatches[id]] {
			p.swatches = append(p.swatches, id)
		}
	}
	hasOptions := map[string]bool{}
	for _, o := range in.src {
		hasOptions[o.attr] = true
	}
	for _, m2 := range slices.Sorted(maps.Keys(in.matched)) {
		if model := in.dstSource[m2]; hasOptions[in.matched[m2]] && model != "" && strings.TrimLeft(model, `\`) != eavTableSource {
			p.otherSource = append(p.otherSource, fmt.Sprintf("%s (%s)", in.dstCodes[m2], model))
		}
		def, ok := in.dstDefault[m2]
		if !ok || !namesOptions(def, own[m2]) {
			continue
		}
		m1def, ok := in.srcDefault[in.matched[m2]]
		if ok && m1def == def {
			continue
		}
		p.defaults = append(p.defaults, eavDefaultFix{attr: m2, code: in.dstCodes[m2], from: def, to: m1def, toNull: !ok})
	}
	return p
}

// namesOptions reports whether a default_value (an option id, or a
// multiselect's comma-separated ids) names one of ids.
func namesOptions(def string, ids map[string]bool) bool {
	for part := range strings.SplitSeq(def, ",") {
		if ids[strings.TrimSpace(part)] {
			return true
		}
	}
	return false
}

// optionsCopied reports whether the Map step's map copies
// eav_attribute_option and eav_attribute_option_value (the Map step runs in
// every data mode), and the name of the one it leaves out.
func (s *eavStep) optionsCopied() (bool, string, error) {
	rules, err := s.r.rules()
	if err != nil {
		return false, "", err
	}
	sp := s.r.cfg.Options.SourcePrefix
	for _, t := range []string{"eav_attribute_option", "eav_attribute_option_value"} {
		if rules.IgnoresSource(sp + t) {
			return false, sp + t, nil
		}
	}
	return true, "", nil
}

// eavOptionsIn reads what planEavOptions needs from both sides (through q
// on the destination: the merge's transaction, or the pool).
func (s *eavStep) eavOptionsIn(ctx context.Context, q queryer, m *eavMerge, attrMap map[string]string) (eavOptionsInput, error) {
	r, cfg := s.r, s.r.cfg
	sp, dp := cfg.Options.SourcePrefix, cfg.Options.DestPrefix
	in := eavOptionsInput{attrMap: attrMap, matched: map[string]string{}, srcDefault: map[string]string{}, dstDefault: map[string]string{},
		dstCodes: map[string]string{}, swatches: map[string]string{}, dstSource: map[string]string{}}
	for _, a := range m.attrs {
		if a.add == nil && a.m2 != "" {
			in.matched[a.m2] = a.m1
		}
	}
	opts := func(db queryer, table string) ([]eavOptionRef, error) {
		rows, err := eavQuery(ctx, db, "SELECT o.option_id, o.attribute_id, MIN(v.value) FROM "+rowio.QuoteIdent(table)+" o LEFT JOIN "+
			rowio.QuoteIdent(table+"_value")+" v ON v.option_id = o.option_id AND v.store_id = 0 GROUP BY o.option_id, o.attribute_id")
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", table, err)
		}
		out := make([]eavOptionRef, len(rows))
		for i, row := range rows {
			out[i] = eavOptionRef{row[0], row[1], row[2]}
		}
		return out, nil
	}
	var err error
	if in.src, err = opts(r.src, sp+"eav_attribute_option"); err != nil {
		return in, fmt.Errorf("source: %w", err)
	}
	if in.dst, err = opts(q, dp+"eav_attribute_option"); err != nil {
		return in, fmt.Errorf("destination: %w", err)
	}
	defaults := func(db queryer, prefix string, into map[string]string, codes, sources map[string]string) error {
		table := prefix + "eav_attribute"
		rows, err := db.QueryContext(ctx, "SELECT a.attribute_id, a.default_value, COALESCE(t.entity_type_code, ''), a.attribute_code, a.source_model FROM "+
			rowio.QuoteIdent(table)+" a LEFT JOIN "+rowio.QuoteIdent(prefix+"eav_entity_type")+" t USING (entity_type_id)")
		if err != nil {
			return fmt.Errorf("read %s: %w", table, err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, et, code string
			var def, source sql.NullString
			if err := rows.Scan(&id, &def, &et, &code, &source); err != nil {
				return fmt.Errorf("read %s: %w", table, err)
			}
			if def.Valid {
				into[id] = def.String
			}
			if sources != nil && source.Valid {
				sources[id] = source.String
			}
			if codes != nil {
				codes[id] = et + "/" + code
			}
		}
		return rows.Err()
	}
	if err := defaults(r.src, sp, in.srcDefault, nil, nil); err != nil {
		return in, fmt.Errorf("source: %w", err)
	}
	if err := defaults(q, dp, in.dstDefault, in.dstCodes, in.dstSource); err != nil {
		return in, fmt.Errorf("destination: %w", err)
	}
	swatch := dp + "eav_attribute_option_swatch"
	found, err := q.QueryContext(ctx, "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", swatch)
	if err != nil {
		return in, fmt.Errorf("look for destination %s: %w", swatch, err)
	}
	has := found.Next()
	if err := errors.Join(found.Err(), found.Close()); err != nil {
		return in, fmt.Errorf("look for destination %s: %w", swatch, err)
	}
	if has {
		rows, err := eavQuery(ctx, q, "SELECT swatch_id, option_id FROM "+rowio.QuoteIdent(swatch))
		if err != nil {
			return in, fmt.Errorf("read destination %s: %w", swatch, err)
		}
		for _, row := range rows {
			in.swatches[row[0]] = row[1]
		}
	}
	return in, nil
}

// eavSourceHasOptions reports whether the source has options of the
// attributes in attrMap.
func eavSourceHasOptions(in eavOptionsInput) bool {
	return slices.ContainsFunc(in.src, func(o eavOptionRef) bool { _, ok := in.attrMap[o.attr]; return ok })
}

// lostOptionsWarning says which Magento 2 attributes lose their options.
func lostOptionsWarning(lost map[string]int) string {
	if len(lost) == 0 {
		return ""
	}
	var parts []string
	for _, code := range slices.Sorted(maps.Keys(lost)) {
		parts = append(parts, fmt.Sprintf("%s (%d)", code, lost[code]))
	}
	return "the Map step replaces Magento 2's attribute options by Magento 1's (under Magento 1's option ids, as the reference does); " +
		"these Magento 2 attributes, which Magento 1 lacks, lose their own options: " + strings.Join(parts, ", ") +
		"; add the options again in Magento 2's admin if the attributes need them"
}

// optionProblems are the integrity check's findings about options, from
// both sides as they are (attrMap: the attributes the merge would map).
func (s *eavStep) optionProblems(ctx context.Context, m *eavMerge, attrMap map[string]string) ([]transform.Problem, error) {
	dp := s.r.cfg.Options.DestPrefix
	copied, left, err := s.optionsCopied()
	if err != nil {
		return nil, err
	}
	in, err := s.eavOptionsIn(ctx, s.r.dst, m, attrMap)
	if err != nil {
		return nil, err
	}
	if !copied {
		if !eavSourceHasOptions(in) {
			return nil, nil
		}
		return []transform.Problem{{Severity: transform.Error, Area: "source", Table: left,
			Msg: fmt.Sprintf("the map leaves %s out, but Magento 1 has attribute options: the select and multiselect values the Map step copies name Magento 1's option ids, which would name Magento 2's own options (or carry their labels); let the map copy eav_attribute_option and eav_attribute_option_value, as the stock map.xml.dist does", left)}}, nil
	}
	p := planEavOptions(in)
	var out []transform.Problem
	if len(p.swatches) > 0 {
		out = append(out, transform.Problem{Severity: transform.Warning, Area: "destination", Table: dp + "eav_attribute_option_swatch",
			Msg: fmt.Sprintf("%d swatch(es) name Magento 2's own attribute options, which the Map step replaces by Magento 1's under the same ids: the EAV step deletes them (as Magento 2's foreign key does with a deleted option's swatches)", len(p.swatches))})
	}
	for _, f := range p.defaults {
		out = append(out, transform.Problem{Severity: transform.Warning, Area: "destination", Table: dp + "eav_attribute", Columns: []string{"default_value"},
			Msg: fmt.Sprintf("attribute %s: Magento 2's default_value %q names its own options, which the Map step replaces by Magento 1's; the EAV step sets Magento 1's default_value (%s)", f.code, f.from, f.shownTo())})
	}
	if w := lostOptionsWarning(p.lost); w != "" {
		out = append(out, transform.Problem{Severity: transform.Warning, Area: "destination", Table: dp + "eav_attribute_option", Msg: w})
	}
	if w := otherSourceWarning(p.otherSource); w != "" {
		out = append(out, transform.Problem{Severity: transform.Warning, Area: "destination", Table: dp + "eav_attribute", Columns: []string{"source_model"}, Msg: w})
	}
	return out, nil
}

func (f eavDefaultFix) shownTo() string {
	if f.toNull {
		return "NULL"
	}
	return fmt.Sprintf("%q", f.to)
}

// eavOptionsResult counts what mergeOptions did.
type eavOptionsResult struct{ SwatchesDeleted, DefaultsSet, OptionsLost int }

// mergeOptions does, in tx (the merge's transaction), what the plan says
// about options, when the Map step copies them.
func (s *eavStep) mergeOptions(ctx context.Context, tx *sql.Tx, m *eavMerge, attrMap map[string]string) (eavOptionsResult, []string, error) {
	var res eavOptionsResult
	dp := s.r.cfg.Options.DestPrefix
	copied, _, err := s.optionsCopied()
	if err != nil || !copied {
		return res, nil, err
	}
	in, err := s.eavOptionsIn(ctx, tx, m, attrMap)
	if err != nil {
		return res, nil, err
	}
	p := planEavOptions(in)
	for chunk := range slices.Chunk(p.swatches, 500) {
		q := "DELETE FROM " + rowio.QuoteIdent(dp+"eav_attribute_option_swatch") + " WHERE swatch_id IN (" + strings.Repeat("?,", len(chunk)-1) + "?)"
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		n, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return res, nil, fmt.Errorf("delete the swatches of Magento 2's own options from %s: %w", dp+"eav_attribute_option_swatch", err)
		}
		k, _ := n.RowsAffected()
		res.SwatchesDeleted += int(k)
	}
	for _, f := range p.defaults {
		var to any = f.to
		if f.toNull {
			to = nil
		}
		if _, err := tx.ExecContext(ctx, "UPDATE "+rowio.QuoteIdent(dp+"eav_attribute")+" SET default_value = ? WHERE attribute_id = ?", to, f.attr); err != nil {
			return res, nil, fmt.Errorf("set the default_value of attribute %s: %w", f.code, err)
		}
		res.DefaultsSet++
	}
	var warnings []string
	for _, n := range p.lost {
		res.OptionsLost += n
	}
	if w := lostOptionsWarning(p.lost); w != "" {
		warnings = append(warnings, w)
	}
	if w := otherSourceWarning(p.otherSource); w != "" {
		warnings = append(warnings, w)
	}
	return res, warnings, nil
}

// otherSourceWarning says which attributes' values name Magento 1's options
// that Magento 2's source model does not read.
func otherSourceWarning(attrs []string) string {
	if len(attrs) == 0 {
		return ""
	}
	return "these attributes have options in Magento 1, which the Map step copies with the values naming them, but Magento 2's attribute reads its values through another source model: " +
		strings.Join(attrs, ", ") + "; their values will not show Magento 1's option labels: check them in Magento 2's admin (source_model NULL or " + eavTableSource + " reads eav_attribute_option)"
}
