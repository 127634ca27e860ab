package pipeline

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/xml"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/deltalog"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// The EAV step (the reference's Migration\Step\Eav) merges Magento 1's
// attributes into Magento 2's. Unlike the reference, which empties
// eav_attribute and writes it again with Magento 1's ids (renumbering
// Magento 2's own attributes), shiplog keeps every Magento 2 attribute and
// its id, adds the Magento 1 attributes Magento 2 lacks with new ids, and
// keeps the id map in the destination (transform.EavAttributeMapTable). The
// Map step then translates attribute_id of the tables it copies (values,
// options, labels, ...) through that map (eavValueRules), so no Magento 2
// row is rewritten.
//
// Attribute sets and groups are merged the same way (step_eavsets.go, with
// step_eavsetproto.go for product sets only Magento 1 has); entity types
// keep Magento 2's rows with Magento 1's default set and increment settings
// (step_eavtypes.go); options stay Magento 1's, ids included, as the
// reference leaves them (step_eavoptions.go).

// eavDefaultDocuments are the tables the EAV map is compiled for when no
// eav_document_groups_file names them (its "documents" group).
var eavDefaultDocuments = []string{"eav_attribute_group", "eav_attribute_set", "eav_attribute", "eav_entity_attribute",
	"catalog_eav_attribute", "customer_eav_attribute", "eav_entity_type"}

// eavDefaultExtended are the attribute extension tables and their attribute
// key (the groups file's "documents_attribute_extended").
var eavDefaultExtended = map[string]string{"catalog_eav_attribute": "attribute_id", "customer_eav_attribute": "attribute_id"}

// eavResult counts what the EAV step did.
type eavResult struct {
	Matched, Added, Ignored, Failed int
	Extended                        int
	// Unmapped are source attributes of an entity type Magento 2 (or the
	// source's eav_entity_type) lacks.
	Unmapped int
}

// eavStep is the EAV step (data mode).
type eavStep struct {
	r *Runtime
	// Found by Integrity, for Data and Volume.
	plan     *transform.Plan
	extended map[string]string
	// ignore holds "entity_type_code\x00attribute_code" of the attributes
	// the attribute groups file's "ignore" group leaves out.
	ignore map[string]bool
	res    eavResult
	// failed are the Magento 1 ids of the attributes Data recorded as
	// failed rows, for Volume.
	failed map[string]bool
	// failedSets and failedGroups are the Magento 1 ids of the attribute
	// sets and groups Data recorded as failed rows.
	failedSets, failedGroups map[string]bool
}

func eavKey(a, b string) string { return a + "\x00" + b }

// Integrity reads the EAV map (eav_map_file) and groups files and compiles
// the map over the EAV documents of both sides: its problems are the
// step's, reported as the Map step's are.
func (s *eavStep) Integrity(ctx context.Context, _ *step.Env) ([]transform.Problem, error) {
	r := s.r
	cfg := r.cfg
	if err := r.dest.rows(); err != nil {
		// The step writes eav_attribute itself; a Kafka consumer would
		// never see those rows.
		return []transform.Problem{{Severity: transform.Error, Area: "destination", Table: "eav_attribute", Blocking: true,
			Msg: fmt.Sprintf("the EAV step writes Magento 2's eav_attribute itself and cannot run here: %v; run data mode with sink: mysql, or leave the EAV Step out of config.xml", err)}}, nil
	}
	mapPath, ok, err := cfg.MagentoFile("eav_map_file")
	if err != nil {
		return nil, err
	}
	if !ok {
		return []transform.Problem{{Severity: transform.Error, Area: "source", Table: "eav_attribute",
			Msg: "the EAV step needs its map: set options/eav_map_file (the reference ships etc/opensource-to-opensource/map-eav.xml.dist)", Blocking: true}}, nil
	}
	rules, err := transform.ReadMap(mapPath)
	if err != nil {
		return nil, err
	}
	docs := slices.Clone(eavDefaultDocuments)
	s.extended = eavDefaultExtended
	if p, ok, err := cfg.MagentoFile("eav_document_groups_file"); err != nil {
		return nil, err
	} else if ok {
		groups, err := deltalog.ReadGroups(p)
		if err != nil {
			return nil, fmt.Errorf("options/eav_document_groups_file: %w", err)
		}
		docs = nil
		s.extended = map[string]string{}
		for _, g := range groups {
			switch g.Group {
			case "documents":
				docs = append(docs, strings.ToLower(g.Table))
			case "documents_attribute_extended":
				s.extended[strings.ToLower(g.Table)] = cmp.Or(strings.Join(g.Key, ","), "attribute_id")
			}
		}
	}
	s.ignore = map[string]bool{}
	emptyInputAllowed := map[string]bool{}
	if p, ok, err := cfg.MagentoFile("eav_attribute_groups_file"); err != nil {
		return nil, err
	} else if ok {
		groups, err := readAttributeGroups(p)
		if err != nil {
			return nil, fmt.Errorf("options/eav_attribute_groups_file: %w", err)
		}
		for _, a := range groups["ignore"] {
			s.ignore[eavKey(a.Type, a.Code)] = true
		}
		for _, a := range groups["frontend_input_empty_allowed"] {
			emptyInputAllowed[eavKey(a.Type, a.Code)] = true
		}
	}
	// The step reads these whatever the groups file lists.
	for _, d := range append(slices.Clone(eavNeeded), slices.Sorted(maps.Keys(s.extended))...) {
		if !slices.Contains(docs, d) {
			docs = append(docs, d)
		}
	}
	pick := func(all []*cdc.Table, prefix string) []*cdc.Table {
		var out []*cdc.Table
		for _, t := range all {
			if base, ok := cutPrefixFold(t.Name, prefix); ok && slices.Contains(docs, strings.ToLower(base)) {
				out = append(out, t)
			}
		}
		return out
	}
	srcAll, err := rowio.LoadTables(ctx, r.src, cfg.Source.Database, "")
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	dstAll, err := rowio.LoadTables(ctx, r.dst, cfg.Destination.Database, transform.StateTablePrefix)
	if err != nil {
		return nil, fmt.Errorf("destination: %w", err)
	}
	src, dst := pick(srcAll, cfg.Options.SourcePrefix), pick(dstAll, cfg.Options.DestPrefix)
	for _, t := range src {
		rules.SourceNames = append(rules.SourceNames, t.Name)
	}
	rules.SourcePrefix, rules.DestPrefix, rules.Env = cfg.Options.SourcePrefix, cfg.Options.DestPrefix, r.handlerEnv()
	plan, problems := transform.Compile(rules, src, dst)
	missing := map[string]bool{}
	for _, need := range eavNeeded {
		for _, side := range []struct {
			name, prefix string
			tables       []*cdc.Table
		}{{"source", cfg.Options.SourcePrefix, src}, {"destination", cfg.Options.DestPrefix, dst}} {
			if !slices.ContainsFunc(side.tables, func(t *cdc.Table) bool { return strings.EqualFold(t.Name, side.prefix+need) }) {
				missing[side.name] = true
				problems = append(problems, transform.Problem{Severity: transform.Error, Area: side.name, Table: side.prefix + need, Blocking: true,
					Msg: fmt.Sprintf("the EAV step needs %s table %s: check the %s database (and its prefix option)", side.name, side.prefix+need, side.name)})
			}
		}
	}
	for _, doc := range []string{"eav_attribute", "eav_attribute_set", "eav_attribute_group"} {
		if len(missing) == 0 && (plan == nil || plan.Table(cfg.Options.SourcePrefix+doc) == nil) {
			problems = append(problems, transform.Problem{Severity: transform.Error, Area: "source", Table: cfg.Options.SourcePrefix + doc, Blocking: true,
				Msg: fmt.Sprintf("the EAV map %s does not map %s to the destination: the EAV step cannot add rows through it", mapPath, doc)})
		}
	}
	if !missing["source"] {
		attrs, err := eavSourceAttributes(ctx, r.src, cfg.Options.SourcePrefix)
		if err != nil {
			return nil, err
		}
		problems = append(problems, eavEmptyFrontendInput(cfg.Options.SourcePrefix+"eav_attribute", attrs, s.ignore, emptyInputAllowed)...)
	}
	s.plan = plan
	// What Data would do, tried now: rows the map cannot transform (a
	// class the class map does not know, say) are errors, as the
	// reference's class map check makes them; --auto records them as
	// failed rows and migrates the rest.
	if len(missing) == 0 && plan != nil && plan.Table(cfg.Options.SourcePrefix+"eav_attribute") != nil && !slices.ContainsFunc(problems, func(p transform.Problem) bool { return p.Blocking }) {
		m, err := s.mergeAttributes(ctx)
		if err != nil {
			return nil, err
		}
		for i, f := range m.failures {
			problems = append(problems, transform.Problem{Severity: transform.Error, Area: "source", Table: f.Table,
				Msg: m.why[i] + "; it is not migrated (--auto: recorded in _shiplog_failed_rows)"})
		}
		for _, w := range m.warnings {
			problems = append(problems, transform.Problem{Severity: transform.Warning, Area: "source", Table: cfg.Options.SourcePrefix + "eav_attribute", Msg: w})
		}
		setProblems, err := s.trySetsAndGroups(ctx)
		if err != nil {
			return nil, err
		}
		problems = append(problems, setProblems...)
		attrMap := map[string]string{}
		for _, a := range m.attrs {
			attrMap[a.m1] = a.m2 // "" for one to be added: it has no options in Magento 2 yet
		}
		optProblems, err := s.optionProblems(ctx, m, attrMap)
		if err != nil {
			return nil, err
		}
		problems = append(problems, optProblems...)
		typeProblems, err := s.typeProblems(ctx)
		if err != nil {
			return nil, err
		}
		problems = append(problems, typeProblems...)
	}
	return problems, nil
}

// eavAttribute is a source attribute as the integrity check reads it.
type eavAttribute struct {
	ID, EntityType, Code string
	// FrontendInput is "" for NULL.
	FrontendInput string
}

// eavSourceAttributes reads the source's attributes with their entity type
// codes (entity types the source lacks give "").
func eavSourceAttributes(ctx context.Context, db *sql.DB, prefix string) ([]eavAttribute, error) {
	q := "SELECT a.attribute_id, COALESCE(t.entity_type_code, ''), a.attribute_code, COALESCE(a.frontend_input, '') FROM " +
		rowio.QuoteIdent(prefix+"eav_attribute") + " a LEFT JOIN " + rowio.QuoteIdent(prefix+"eav_entity_type") +
		" t ON t.entity_type_id = a.entity_type_id ORDER BY a.attribute_id"
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read source attributes: %w", err)
	}
	defer rows.Close()
	var out []eavAttribute
	for rows.Next() {
		var a eavAttribute
		if err := rows.Scan(&a.ID, &a.EntityType, &a.Code, &a.FrontendInput); err != nil {
			return nil, fmt.Errorf("read source attributes: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// eavEmptyFrontendInput is the reference's check of frontend_input: an
// attribute the step migrates (not ignored) must have one, unless the
// attribute groups file's "frontend_input_empty_allowed" group names it
// for its entity type. Empty is PHP's: NULL, "" or "0". The problems are
// errors --auto turns into warnings (the attribute is migrated as it is).
func eavEmptyFrontendInput(table string, attrs []eavAttribute, ignore, allowed map[string]bool) []transform.Problem {
	var out []transform.Problem
	for _, a := range attrs {
		k := eavKey(a.EntityType, a.Code)
		if ignore[k] || allowed[k] || (a.FrontendInput != "" && a.FrontendInput != "0") {
			continue
		}
		out = append(out, transform.Problem{Severity: transform.Error, Area: "source", Table: table, Columns: []string{"frontend_input"},
			Msg: fmt.Sprintf("attribute %s/%s (attribute_id %s) has an empty frontend_input: Magento 2 cannot show it; give it one in the source, or list it in the eav_attribute_groups_file's frontend_input_empty_allowed group", a.EntityType, a.Code, a.ID)})
	}
	return out
}

// attributeRef is one <attribute type="entity type code">code</attribute>
// of an attribute groups file.
type attributeRef struct{ Type, Code string }

// readAttributeGroups reads the reference's eav-attribute-groups.xml:
// groups of attributes, each named by its entity type code and code.
func readAttributeGroups(path string) (map[string][]attributeRef, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Groups []struct {
			Name  string `xml:"name,attr"`
			Attrs []struct {
				Type string `xml:"type,attr"`
				Code string `xml:",chardata"`
			} `xml:"attribute"`
		} `xml:"group"`
	}
	if err := xml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string][]attributeRef{}
	for _, g := range doc.Groups {
		for _, a := range g.Attrs {
			ref := attributeRef{Type: strings.TrimSpace(a.Type), Code: strings.TrimSpace(a.Code)}
			if ref.Type == "" || ref.Code == "" {
				return nil, fmt.Errorf("%s: group %q has an <attribute> without type or code", path, g.Name)
			}
			out[g.Name] = append(out[g.Name], ref)
		}
	}
	return out, nil
}

// eavAttrPlan is what the step does with one source attribute.
type eavAttrPlan struct {
	m1, etCode, code string
	// m2 is the id of the Magento 2 attribute of the same entity type code
	// and code; "" when Magento 2 lacks it and add is its row.
	m2  string
	add []any
	// ext are its extension rows (by table plan), for an attribute added.
	ext []eavExtRow
}

type eavExtRow struct {
	tp  *transform.TablePlan
	row []any
	key int // the attribute key's index in row
}

// eavMerge is the step's plan for the source's attributes, made from both
// sides as they are: Integrity reports what it cannot do, Data does it.
type eavMerge struct {
	attrs []eavAttrPlan
	// failures are source rows the EAV map cannot transform, why says why.
	failures []cdc.Failure
	why      []string
	// failedIDs are the Magento 1 ids of the attributes among failures.
	failedIDs map[string]bool
	// warnings are the attributes not migrated for want of an entity type.
	warnings []string
	ignored  int
}

// fail records a source row of tp the EAV map cannot transform (what names
// it) as a failed row.
func (m *eavMerge) fail(tp *transform.TablePlan, row []any, err error, what string) error {
	f, ferr := tp.Failure(row, err, cdc.Position{})
	if ferr != nil {
		return ferr
	}
	m.failures = append(m.failures, f)
	m.why = append(m.why, fmt.Sprintf("%s cannot be transformed by the EAV map: %v", what, err))
	return nil
}

// mergeAttributes plans the merge: each source attribute not ignored is
// Magento 2's attribute of the same entity type code and attribute code,
// or a new one, transformed through the EAV map, with the extension rows
// (catalog_eav_attribute, customer_eav_attribute) the source has for it;
// Magento 2's own attributes keep their rows.
func (s *eavStep) mergeAttributes(ctx context.Context) (*eavMerge, error) {
	r, cfg := s.r, s.r.cfg
	sp, dp := cfg.Options.SourcePrefix, cfg.Options.DestPrefix
	tp := s.plan.Table(sp + "eav_attribute")
	if tp == nil {
		return nil, fmt.Errorf("the EAV map does not map source table %s (see the integrity check)", sp+"eav_attribute")
	}
	si := func(name string) int { return tp.Source.ColumnIndex(name) }
	idCol, typeCol, codeCol := si("attribute_id"), si("entity_type_id"), si("attribute_code")
	if idCol < 0 || typeCol < 0 || codeCol < 0 {
		return nil, fmt.Errorf("source table %s lacks attribute_id, entity_type_id or attribute_code", tp.Source.Name)
	}
	srcTypes, err := eavPairs(ctx, r.src, sp+"eav_entity_type", "entity_type_id", "entity_type_code")
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	dstTypeIDs, err := eavPairs(ctx, r.dst, dp+"eav_entity_type", "entity_type_code", "entity_type_id")
	if err != nil {
		return nil, fmt.Errorf("destination: %w", err)
	}
	dstAttrs, err := eavDestAttributes(ctx, r.dst, dp+"eav_attribute")
	if err != nil {
		return nil, err
	}
	m := &eavMerge{failedIDs: map[string]bool{}}
	fail := m.fail
	adding := map[string]int{} // m1 id -> index in m.attrs
	err = rowio.ReadTable(ctx, r.src, tp.Source, func(row []any) error {
		a := eavAttrPlan{m1: str(row[idCol]), code: str(row[codeCol])}
		etID := str(row[typeCol])
		var ok bool
		if a.etCode, ok = srcTypes[etID]; !ok {
			m.warnings = append(m.warnings, fmt.Sprintf("source attribute %s (attribute_id %s) has entity_type_id %s, which source eav_entity_type lacks: not migrated (its values fail in the Map step)", a.code, a.m1, etID))
			return nil
		}
		if s.ignore[eavKey(a.etCode, a.code)] {
			m.ignored++
			return nil
		}
		m2et, ok := dstTypeIDs[a.etCode]
		if !ok {
			m.warnings = append(m.warnings, fmt.Sprintf("source attribute %s/%s (attribute_id %s): Magento 2 has no entity type %s: not migrated (its values fail in the Map step)", a.etCode, a.code, a.m1, a.etCode))
			return nil
		}
		if a.m2, ok = dstAttrs[eavKey(m2et, a.code)]; !ok {
			out, err := tp.Row(row)
			if err != nil {
				m.failedIDs[a.m1] = true
				return fail(tp, row, err, fmt.Sprintf("attribute %s/%s (attribute_id %s)", a.etCode, a.code, a.m1))
			}
			if i := tp.Dest.ColumnIndex("attribute_id"); i >= 0 {
				out[i] = nil // a new id
			}
			if i := tp.Dest.ColumnIndex("entity_type_id"); i >= 0 {
				out[i] = m2et
			}
			a.add = out
			adding[a.m1] = len(m.attrs)
		}
		m.attrs = append(m.attrs, a)
		return nil
	})
	if err != nil || len(adding) == 0 {
		return m, err
	}
	for _, doc := range slices.Sorted(maps.Keys(s.extended)) {
		key := s.extended[doc]
		etp := s.plan.Table(sp + doc)
		if etp == nil {
			continue
		}
		ki, di := etp.Source.ColumnIndex(key), etp.Dest.ColumnIndex(key)
		if ki < 0 || di < 0 {
			return nil, fmt.Errorf("%s: its key %s is not copied by the EAV map", doc, key)
		}
		if err := rowio.ReadTable(ctx, r.src, etp.Source, func(row []any) error {
			i, ok := adding[str(row[ki])]
			if !ok {
				return nil
			}
			a := &m.attrs[i]
			out, err := etp.Row(row)
			if err != nil {
				return fail(etp, row, err, fmt.Sprintf("%s row of attribute %s/%s (attribute_id %s)", doc, a.etCode, a.code, a.m1))
			}
			a.ext = append(a.ext, eavExtRow{tp: etp, row: out, key: di})
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Data merges the source's attributes into the destination's and records
// the id map, in one destination transaction: a killed run leaves nothing
// half done, and a run again finds the attributes it added by their
// (entity type, code) and maps them to the same ids. Rows the EAV map
// cannot transform (--auto went past them) are recorded as failed rows of
// their tables, replacing those of an earlier run.
func (s *eavStep) Data(ctx context.Context, env *step.Env) error {
	r, log := s.r, env.Log
	m, err := s.mergeAttributes(ctx)
	if err != nil {
		return err
	}
	// Said every run until it is done: what this step does not migrate yet
	// means other things in Magento 2.
	s.failedSets, s.failedGroups = map[string]bool{}, map[string]bool{}
	tx, err := r.dst.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	if _, err := tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+rowio.QuoteIdent(transform.EavAttributeMapTable)+` (
		m1_id INT UNSIGNED NOT NULL PRIMARY KEY,
		m2_id INT UNSIGNED NOT NULL,
		entity_type_code VARCHAR(50) NOT NULL,
		attribute_code VARCHAR(255) NOT NULL
	) COMMENT 'shiplog EAV step: Magento 1 attribute_id -> Magento 2 attribute_id'`); err != nil {
		return fmt.Errorf("create %s: %w", transform.EavAttributeMapTable, err)
	}
	res := eavResult{Ignored: m.ignored, Unmapped: len(m.warnings), Failed: len(m.failures)}
	attrTable := s.plan.Table(s.r.cfg.Options.SourcePrefix + "eav_attribute")
	attrIDs := map[string]string{}
	for _, a := range m.attrs {
		m2 := a.m2
		if a.add == nil {
			res.Matched++
		} else {
			// The destination's unique key (entity_type_id, attribute_code)
			// makes a second insert of the same attribute its first one.
			id, err := eavInsert(ctx, tx, attrTable.Dest, a.add, "ON DUPLICATE KEY UPDATE attribute_id = LAST_INSERT_ID(attribute_id)")
			if err != nil {
				return fmt.Errorf("add attribute %s/%s to destination %s: %w", a.etCode, a.code, attrTable.Dest.Name, err)
			}
			m2 = strconv.FormatInt(id, 10)
			res.Added++
			for _, e := range a.ext {
				e.row[e.key] = id
				if _, err := eavInsert(ctx, tx, e.tp.Dest, e.row, ""); err != nil {
					return fmt.Errorf("add the %s row of attribute %s/%s: %w", e.tp.Dest.Name, a.etCode, a.code, err)
				}
				res.Extended++
			}
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+rowio.QuoteIdent(transform.EavAttributeMapTable)+
			" (m1_id, m2_id, entity_type_code, attribute_code) VALUES (?, ?, ?, ?)"+
			" ON DUPLICATE KEY UPDATE m2_id = VALUES(m2_id), entity_type_code = VALUES(entity_type_code), attribute_code = VALUES(attribute_code)",
			a.m1, m2, a.etCode, a.code); err != nil {
			return fmt.Errorf("record attribute %s/%s in %s: %w", a.etCode, a.code, transform.EavAttributeMapTable, err)
		}
		attrIDs[a.m1] = m2
	}
	sets, err := s.mergeSetsAndGroups(ctx, tx, attrIDs, m)
	if err != nil {
		return err
	}
	opts, optWarnings, err := s.mergeOptions(ctx, tx, m, attrIDs)
	if err != nil {
		return err
	}
	m.warnings = append(m.warnings, optWarnings...)
	types, err := s.mergeEntityTypes(ctx, tx, m)
	if err != nil {
		return err
	}
	res.Failed = len(m.failures)
	for _, w := range m.warnings {
		log.Warn(w, "stage", "eav")
	}
	sp := s.r.cfg.Options.SourcePrefix
	for _, doc := range append([]string{"eav_attribute", "eav_attribute_set", "eav_attribute_group", "eav_entity_type"}, slices.Sorted(maps.Keys(s.extended))...) {
		if err := r.state.ForgetFailuresOf(ctx, tx, sp+doc); err != nil {
			return err
		}
	}
	if err := r.state.SaveFailures(ctx, tx, m.failures); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.res, s.failed = res, m.failedIDs
	log.Info("EAV attributes migrated", "stage", "eav", "matched", res.Matched, "added", res.Added, "extension_rows", res.Extended,
		"ignored", res.Ignored, "unmapped", res.Unmapped, "failed", res.Failed)
	log.Info("EAV attribute sets and groups migrated", "stage", "eav", "sets_matched", sets.SetsMatched, "sets_added", sets.SetsAdded,
		"groups_matched", sets.GroupsMatched, "groups_added", sets.GroupsAdded, "entity_attributes_added", sets.Links,
		"entity_attributes_kept", sets.LinksKept, "entity_attributes_skipped", sets.LinksSkipped,
		"default_product_set_groups_copied", sets.ProtoGroups, "default_product_set_attributes_copied", sets.ProtoLinks)
	log.Info("EAV entity types: Magento 1's default attribute sets and increment settings written", "stage", "eav", "entity_types", types)
	log.Info("EAV attribute options: Magento 1's are copied by the Map step under their ids", "stage", "eav", "swatches_deleted", opts.SwatchesDeleted,
		"default_values_set", opts.DefaultsSet, "magento2_options_replaced_of_attributes_magento1_lacks", opts.OptionsLost)
	if res.Failed > 0 {
		return fmt.Errorf("%w: %d EAV row(s) (attributes, sets, groups) could not be transformed and are not migrated (see _shiplog_failed_rows; fix them in the source or the EAV map and run data mode again with --reset)", ErrPartial, res.Failed)
	}
	return nil
}

// eavInsert inserts row (values cdc.Default left to the column's default)
// into t and returns the insert id.
func eavInsert(ctx context.Context, tx *sql.Tx, t *cdc.Table, row []any, tail string) (int64, error) {
	q := []byte("INSERT INTO ")
	q = rowio.AppendIdent(q, t.Name)
	var cols, vals []byte
	for i, v := range row {
		if v == cdc.Default {
			continue
		}
		if len(cols) > 0 {
			cols, vals = append(cols, ", "...), append(vals, ", "...)
		}
		cols = rowio.AppendIdent(cols, t.Columns[i].Name)
		var err error
		if vals, err = rowio.AppendLiteral(vals, v, &t.Columns[i]); err != nil {
			return 0, fmt.Errorf("%s.%s: %w", t.Name, t.Columns[i].Name, err)
		}
	}
	q = append(append(append(append(append(q, " ("...), cols...), ") VALUES ("...), vals...), ')')
	if tail != "" {
		q = append(append(q, ' '), tail...)
	}
	res, err := tx.ExecContext(ctx, string(q))
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// eavPairs reads two columns of table as a map from the first to the second.
func eavPairs(ctx context.Context, db *sql.DB, table, from, to string) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT "+rowio.QuoteIdent(from)+", "+rowio.QuoteIdent(to)+" FROM "+rowio.QuoteIdent(table))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v sql.NullString
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("read %s: %w", table, err)
		}
		if k.Valid && v.Valid {
			out[k.String] = v.String
		}
	}
	return out, rows.Err()
}

// eavDestAttributes reads the destination's attributes: their ids by
// entity_type_id and attribute_code (eavKey).
func eavDestAttributes(ctx context.Context, db *sql.DB, table string) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT attribute_id, entity_type_id, attribute_code FROM "+rowio.QuoteIdent(table))
	if err != nil {
		return nil, fmt.Errorf("read destination %s: %w", table, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, et string
		var code sql.NullString
		if err := rows.Scan(&id, &et, &code); err != nil {
			return nil, fmt.Errorf("read destination %s: %w", table, err)
		}
		if code.Valid {
			out[eavKey(et, code.String)] = id
		}
	}
	return out, rows.Err()
}

// Volume checks the id map against both sides: every source attribute the
// step migrates (not ignored, of an entity type both sides have, not a
// failed row of this run's Data) is in the map, and names a destination
// attribute of the same entity type code and attribute code (the
// reference's Volume compares codes by id, its ids being Magento 1's).
func (s *eavStep) Volume(ctx context.Context, env *step.Env) error {
	r, cfg := s.r, s.r.cfg
	sp, dp := cfg.Options.SourcePrefix, cfg.Options.DestPrefix
	srcTypes, err := eavPairs(ctx, r.src, sp+"eav_entity_type", "entity_type_id", "entity_type_code")
	if err != nil {
		return err
	}
	dstTypes, err := eavPairs(ctx, r.dst, dp+"eav_entity_type", "entity_type_id", "entity_type_code")
	if err != nil {
		return err
	}
	dstTypeIDs := map[string]string{}
	for id, code := range dstTypes {
		dstTypeIDs[code] = id
	}
	srcAttrs, err := eavDestAttributes(ctx, r.src, sp+"eav_attribute")
	if err != nil {
		return err
	}
	dstAttrs, err := eavDestAttributes(ctx, r.dst, dp+"eav_attribute")
	if err != nil {
		return err
	}
	dstByID := map[string]string{}
	for k, id := range dstAttrs {
		et, code, _ := strings.Cut(k, "\x00")
		dstByID[id] = eavKey(dstTypes[et], code)
	}
	mapped := map[string]string{}
	rows, err := r.dst.QueryContext(ctx, "SELECT m1_id, m2_id FROM "+rowio.QuoteIdent(transform.EavAttributeMapTable))
	if err != nil {
		return fmt.Errorf("read %s: %w", transform.EavAttributeMapTable, err)
	}
	defer rows.Close()
	for rows.Next() {
		var m1, m2 string
		if err := rows.Scan(&m1, &m2); err != nil {
			return err
		}
		mapped[m1] = m2
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var missing, wrong []string
	want := 0
	for k, m1 := range srcAttrs {
		et, code, _ := strings.Cut(k, "\x00")
		etCode, ok := srcTypes[et]
		if !ok || s.ignore[eavKey(etCode, code)] {
			continue
		}
		if _, ok := dstTypeIDs[etCode]; !ok || s.failed[m1] {
			continue // warned about, or a failed row
		}
		want++
		m2, ok := mapped[m1]
		switch {
		case !ok:
			missing = append(missing, etCode+"/"+code)
		case dstByID[m2] != eavKey(etCode, code):
			wrong = append(wrong, fmt.Sprintf("%s/%s -> %s", etCode, code, m2))
		}
	}
	slices.Sort(missing)
	slices.Sort(wrong)
	if len(missing) > 0 || len(wrong) > 0 {
		return fmt.Errorf("EAV volume check: of %d source attributes, %d are not in %s (%s) and %d map to a destination attribute of another code or entity type (%s); run data mode again with --reset",
			want, len(missing), transform.EavAttributeMapTable, strings.Join(missing, ", "), len(wrong), strings.Join(wrong, ", "))
	}
	sets, groups, err := s.volumeSetsAndGroups(ctx)
	if err != nil {
		return err
	}
	env.Log.Info("EAV volume check passed", "stage", "volume", "attributes", want, "attribute_sets", sets, "attribute_groups", groups)
	return nil
}

// Delta: the EAV step has no delta stage (the reference's has none either).
func (s *eavStep) Delta(context.Context, *step.Env) error { return nil }

// eavOwnTables are the tables the EAV step writes itself: their
// attribute_id is the attribute's own key, never translated.
var eavOwnTables = []string{"eav_attribute", "catalog_eav_attribute", "customer_eav_attribute",
	"eav_attribute_set", "eav_attribute_group", "eav_entity_attribute"}

// eavNeeded are the tables the EAV step needs on both sides.
var eavNeeded = []string{"eav_entity_type", "eav_attribute", "eav_attribute_set", "eav_attribute_group", "eav_entity_attribute"}

// eavIDColumns are the id columns eavValueRules translates, with their
// handlers.
var eavIDColumns = []struct{ column, handler string }{
	{"attribute_id", transform.EavAttributeIdHandler},
	{"attribute_set_id", transform.EavAttributeSetIdHandler},
	{"attribute_group_id", transform.EavAttributeGroupIdHandler},
}

// eavValueRules makes the Map step translate attribute_id through the EAV
// step's attribute id map in every source table it copies that has one
// (the catalog and customer value tables, eav_attribute_option,
// eav_attribute_label, catalog_product_super_attribute, weee_tax, ...):
// the reference keeps Magento 1's ids in eav_attribute, so its map.xml
// needs no rule; shiplog keeps Magento 2's, so the Map step must. When
// config.xml runs the EAV step in data mode, it adds a source-area
// EavAttributeIdHandler transform on each such table's attribute_id, after
// the map's own transforms (which look attributes up by their Magento 1
// ids, as they expect). It is called wherever the Map step's plan is
// compiled against the destination (Runtime.compileToDestination), so the
// copy, the stream of delta and the Kafka applier translate alike.
func (r *Runtime) eavValueRules(rules *transform.Rules, src []*cdc.Table) {
	if !r.eavInDataMode() {
		return
	}
	for _, t := range src {
		base, ok := cutPrefixFold(t.Name, rules.SourcePrefix)
		if !ok || rules.IgnoresSource(t.Name) || slices.Contains(eavOwnTables, strings.ToLower(base)) {
			continue
		}
		for _, id := range eavIDColumns {
			if t.ColumnIndex(id.column) < 0 {
				continue
			}
			field := base + "." + id.column
			if slices.ContainsFunc(rules.Source.Transforms, func(t transform.Transform) bool {
				return strings.EqualFold(t.Field, field) && strings.EqualFold(t.Handler.Name, id.handler)
			}) {
				continue
			}
			at := transform.Origin{Element: "EAV step: " + id.column + " through the EAV step's id map"}
			rules.Source.Transforms = append(rules.Source.Transforms, transform.Transform{Field: field,
				Handler: transform.HandlerSpec{Name: id.handler, At: at}, At: at})
		}
	}
}

// eavInDataMode reports whether config.xml runs the EAV step in data mode.
func (r *Runtime) eavInDataMode() bool {
	reg, err := r.stepRegistry(&modeRun{})
	if err != nil {
		return false
	}
	for _, s := range r.cfg.Steps {
		if step.Mode(s.Mode) != step.ModeData {
			continue
		}
		if d, ok := reg.Lookup(s); ok && d.Name == "EAV" {
			return true
		}
	}
	return false
}
