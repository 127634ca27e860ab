package pipeline

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// The config.xml options the Customer Attributes step reads.
const (
	customerMapOption        = "customer_map_file"
	customerDocGroupsOption  = "customer_document_groups_file"
	customerAttrGroupsOption = "customer_attribute_groups_file"
	customerUpgradeHash      = "upgrade_customer_password_hash"
)

// customerStep is the reference's Customer Attributes step: Magento 1's
// customer and customer address entities and their attribute values
// (customer_entity_*, customer_address_entity_*) replace Magento 2's,
// through customer_map_file. Magento 2 keeps some attributes Magento 1 had
// as values (firstname, dob, password_hash, the address's city, street,
// ...: the attribute groups file's group per entity document) as columns of
// the entity tables: the step moves those values into the entity rows and
// leaves them out of the value tables, and marks the attributes static in
// Magento 2's eav_attribute, as the reference does.
//
// When config.xml runs the EAV step in data mode, attribute_id of the
// value tables is translated through its id map (eavValueRules), as the
// Map step's tables are; the attribute ids of the static attributes are
// found in the source, by code. Everything is written in one destination
// transaction: a failed run leaves Magento 2's customers as they were, and
// a run again clears and copies anew.
type customerStep struct {
	r    *Runtime
	docs []customerDoc
	// absent: the source has none of the step's documents; Data does
	// nothing (Integrity warned).
	absent bool
}

// customerDoc is one source document of the step, with its plan.
type customerDoc struct {
	tp *transform.TablePlan
	// entity: an entity document (source_entity_documents), whose rows
	// take the static attributes' values.
	entity bool
	// typeCode is the document's entity type code (eav_entities).
	typeCode string
	// static are the type's static attributes by source attribute_id.
	static map[string]customerAttr
	// cols are the destination columns written: the plan's, then (entity
	// documents) those of static attributes the map leaves unfilled.
	cols []cdc.Column
	// valueTables names, for an entity document, the source value tables
	// holding its static attributes' values, by backend type.
	valueTables map[string]string
}

// customerAttr is a source attribute the step moves into its entity table.
type customerAttr struct {
	id, code, backendType string
	// column is the attribute's index in the entity document's cols.
	column int
}

// customerGroups are the groups of a reference groups file (document or
// attribute groups), each a list of names in file order.
type customerGroups map[string][]string

// readCustomerGroups reads a reference groups file: <group name=...> of
// <document> or <attribute> elements.
func readCustomerGroups(path string) (customerGroups, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Groups []struct {
			Name  string   `xml:"name,attr"`
			Docs  []string `xml:"document"`
			Attrs []string `xml:"attribute"`
		} `xml:"group"`
	}
	if err := xml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := customerGroups{}
	for _, g := range doc.Groups {
		for _, n := range append(g.Docs, g.Attrs...) {
			if n = strings.TrimSpace(n); n == "" {
				return nil, fmt.Errorf("%s: group %q has an empty name", path, g.Name)
			}
			out[g.Name] = append(out[g.Name], n)
		}
	}
	return out, nil
}

// typeOf is the entity type code whose group (named by an eav_entities
// entry) lists doc; "" when none does.
func (g customerGroups) typeOf(doc string) string {
	for _, code := range g["eav_entities"] {
		if slices.ContainsFunc(g[code], func(d string) bool { return strings.EqualFold(d, doc) }) {
			return code
		}
	}
	return ""
}

// upgradeCustomerHash is the reference's password hash upgrade
// (upgrade_customer_password_hash): Magento 1's "hash:salt" gets Magento 2's
// version suffix, 0 (MD5) for a 32-character hash, 1 (SHA-256) for a
// 64-character one; other hashes (bcrypt, SHA-512) are left as they are.
func upgradeCustomerHash(h string) string {
	hash, salt, _ := strings.Cut(h, ":")
	switch len(hash) {
	case 32:
		return hash + ":" + salt + ":0"
	case 64:
		return hash + ":" + salt + ":1"
	}
	return h
}

// isSha512Hash: the hash part of "hash:salt" has SHA-512's 128 characters.
// The reference keeps such a password_hash value in the value table too.
func isSha512Hash(h string) bool {
	hash, _, _ := strings.Cut(h, ":")
	return len(hash) == 128
}

// customerStaticValue is what the entity table's column of a static
// attribute gets for a source value: the value, or for password_hash the
// upgraded hash (upgrade_customer_password_hash). A SHA-512 "hash:salt" (161
// characters) does not fit Magento 2's password_hash varchar(128): the
// column gets the hash part, what the reference's non-strict server leaves
// of it, and the whole value stays in customer_entity_varchar (customerDoc
// skips), where the reference's Magento 2 authentication plugin reads it and
// re-hashes the password at the customer's next login.
func customerStaticValue(code, v string, upgrade bool) string {
	if code != "password_hash" {
		return v
	}
	if isSha512Hash(v) {
		hash, _, _ := strings.Cut(v, ":")
		return hash
	}
	if upgrade {
		return upgradeCustomerHash(v)
	}
	return v
}

// customerProblem is a blocking error of the step's integrity check.
func customerProblem(area, table, msg string) transform.Problem {
	return transform.Problem{Severity: transform.Error, Blocking: true, Area: area, Table: table, Msg: "Customer Attributes step: " + msg}
}

// Integrity compiles customer_map_file over the source_documents group of
// customer_document_groups_file (and the same documents in the
// destination), and checks, as the reference does, that every attribute of
// customer_attribute_groups_file exists in the source under its entity
// type; here also that the destination entity table has its column.
func (s *customerStep) Integrity(ctx context.Context, env *step.Env) ([]transform.Problem, error) {
	r := s.r
	s.docs, s.absent = nil, false
	if err := r.dest.rows(); err != nil {
		return []transform.Problem{customerProblem("destination", "customer_entity",
			fmt.Sprintf("it writes Magento 2's customer tables itself and cannot run here: %v; run data mode with sink: mysql, or leave the Customer Attributes Step out of config.xml", err))}, nil
	}
	files := map[string]string{}
	var problems []transform.Problem
	for _, opt := range []string{customerMapOption, customerDocGroupsOption, customerAttrGroupsOption} {
		p, ok, err := r.cfg.MagentoFile(opt)
		if err != nil {
			return nil, err
		}
		if !ok {
			problems = append(problems, customerProblem("source", "",
				"config.xml sets no options/"+opt+" (the reference ships etc/opensource-to-opensource/"+strings.ReplaceAll(strings.TrimSuffix(opt, "_file"), "_", "-")+".xml.dist)"))
		}
		files[opt] = p
	}
	if len(problems) > 0 {
		return problems, nil
	}
	docGroups, err := readCustomerGroups(files[customerDocGroupsOption])
	if err != nil {
		return nil, err
	}
	attrGroups, err := readCustomerGroups(files[customerAttrGroupsOption])
	if err != nil {
		return nil, err
	}
	names := docGroups["source_documents"]
	if len(names) == 0 {
		return []transform.Problem{customerProblem("source", "", files[customerDocGroupsOption]+" has no source_documents group: nothing to migrate")}, nil
	}
	srcTables, err := rowio.LoadTables(ctx, r.src, r.cfg.Source.Database, transform.StateTablePrefix)
	if err != nil {
		return nil, fmt.Errorf("Customer Attributes step: source: %w", err)
	}
	if !slices.ContainsFunc(names, func(n string) bool {
		return slices.ContainsFunc(srcTables, func(t *cdc.Table) bool { return strings.EqualFold(t.Name, r.cfg.Options.SourcePrefix+n) })
	}) {
		// Not a Magento 1 customer schema (a partial database): nothing to
		// move, and Magento 2's customers are left as they are.
		s.absent = true
		return []transform.Problem{{Severity: transform.Warning, Area: "source", Table: r.cfg.Options.SourcePrefix + names[0],
			Msg: fmt.Sprintf("Customer Attributes step: the source has none of the documents of %s (%s, ...): no customers to migrate; Magento 2's customer tables are left as they are (the reference stops here)",
				files[customerDocGroupsOption], r.cfg.Options.SourcePrefix+names[0])}}, nil
	}
	var adjust []func(*transform.Rules, []*cdc.Table)
	if r.eavInDataMode() {
		adjust = append(adjust, r.eavValueRules)
	}
	plan, found, err := r.compileMapFile(ctx, files[customerMapOption], names, names, adjust...)
	if err != nil {
		return nil, err
	}
	problems = append(problems, found...)
	attrs, err := customerSourceAttributes(ctx, r.src, r.cfg.Options.SourcePrefix, docGroups["eav_entities"])
	if err != nil {
		return nil, err
	}
	destTables, err := rowio.LoadTables(ctx, r.dst, r.cfg.Destination.Database, transform.StateTablePrefix)
	if err != nil {
		return nil, fmt.Errorf("Customer Attributes step: destination: %w", err)
	}
	sp := r.cfg.Options.SourcePrefix
	var docs []customerDoc
	for _, n := range names {
		tp := plan.Table(sp + n)
		if tp == nil {
			problems = append(problems, customerProblem("source", sp+n,
				fmt.Sprintf("source document %s has no plan, so it cannot be migrated (see the problems above and %s)", sp+n, files[customerMapOption])))
			continue
		}
		if len(tp.SideTables()) > 0 {
			problems = append(problems, customerProblem("source", sp+n,
				fmt.Sprintf("%s gives %s a handler that writes other tables; the step copies only %s", files[customerMapOption], sp+n, tp.Dest.Name)))
			continue
		}
		d := customerDoc{tp: tp, typeCode: docGroups.typeOf(n), static: map[string]customerAttr{}, cols: slices.Clone(tp.Dest.Columns)}
		var full *cdc.Table
		for _, t := range destTables {
			if strings.EqualFold(t.Name, tp.Dest.Name) {
				full = t
			}
		}
		d.entity = slices.ContainsFunc(docGroups["source_entity_documents"], func(e string) bool { return strings.EqualFold(e, n) })
		if d.typeCode == "" {
			problems = append(problems, customerProblem("source", sp+n,
				fmt.Sprintf("%s names no entity type for %s (a group named in eav_entities that lists it)", files[customerDocGroupsOption], n)))
			continue
		}
		// The static attributes of the type: those of its entity
		// document's attribute group.
		for _, e := range docGroups["source_entity_documents"] {
			if docGroups.typeOf(e) != d.typeCode {
				continue
			}
			for _, code := range attrGroups[e] {
				a, ok := attrs[eavKey(d.typeCode, code)]
				if !ok {
					// Without the attribute the source holds no value of
					// it: nothing is lost, the column keeps its default.
					if d.entity {
						problems = append(problems, transform.Problem{Severity: transform.Warning, Area: "source", Table: sp + "eav_attribute",
							Msg: fmt.Sprintf("Customer Attributes step: Attribute %s does not exist in the type %s: the source holds no value of it, so %s.%s keeps its default (the reference stops here; remove it from %s to silence this)",
								code, d.typeCode, tp.Dest.Name, code, files[customerAttrGroupsOption])})
					}
					continue
				}
				a.column = -1
				if d.entity {
					if a.column = slices.IndexFunc(d.cols, func(c cdc.Column) bool { return strings.EqualFold(c.Name, code) }); a.column < 0 {
						i := -1
						if full != nil {
							i = full.ColumnIndex(code)
						}
						if i < 0 {
							problems = append(problems, customerProblem("destination", tp.Dest.Name,
								fmt.Sprintf("attribute %s of %s (%s) has no column in %s to move its values into", code, d.typeCode, files[customerAttrGroupsOption], tp.Dest.Name)))
							continue
						}
						a.column = len(d.cols)
						d.cols = append(d.cols, full.Columns[i])
					}
				}
				d.static[a.id] = a
			}
		}
		if d.entity {
			d.valueTables = map[string]string{}
			for _, a := range d.static {
				if a.backendType == "static" || a.backendType == "" {
					continue
				}
				vt := tp.Source.Name + "_" + a.backendType
				if !slices.ContainsFunc(names, func(x string) bool { return strings.EqualFold(sp+x, vt) }) {
					problems = append(problems, customerProblem("source", vt,
						fmt.Sprintf("attribute %s of %s keeps its values in %s, which %s does not list in source_documents", a.code, d.typeCode, vt, files[customerDocGroupsOption])))
					continue
				}
				d.valueTables[a.backendType] = vt
			}
		}
		docs = append(docs, d)
	}
	if len(docs) == len(names) {
		// Entity documents first: the reference copies them before the
		// value documents.
		slices.SortStableFunc(docs, func(a, b customerDoc) int {
			switch {
			case a.entity == b.entity:
				return 0
			case a.entity:
				return -1
			}
			return 1
		})
		s.docs = docs
		if env != nil && env.Mode == step.ModeData {
			found, err := s.overlap(ctx, files[customerMapOption])
			if err != nil {
				return nil, err
			}
			problems = append(problems, found...)
		}
	}
	return problems, nil
}

// customerSourceAttributes reads the source attributes of the entity types
// codes, by eavKey(entity type code, attribute code).
func customerSourceAttributes(ctx context.Context, db *sql.DB, prefix string, codes []string) (map[string]customerAttr, error) {
	out := map[string]customerAttr{}
	if len(codes) == 0 {
		return out, nil
	}
	args := make([]any, len(codes))
	for i, c := range codes {
		args[i] = c
	}
	q := "SELECT a.attribute_id, a.attribute_code, a.backend_type, t.entity_type_code FROM " + rowio.QuoteIdent(prefix+"eav_attribute") + " a JOIN " +
		rowio.QuoteIdent(prefix+"eav_entity_type") + " t ON t.entity_type_id = a.entity_type_id WHERE t.entity_type_code IN (?" + strings.Repeat(",?", len(codes)-1) + ")"
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("Customer Attributes step: reading the source's customer attributes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a customerAttr
		var bt sql.NullString
		var tc string
		if err := rows.Scan(&a.id, &a.code, &bt, &tc); err != nil {
			return nil, err
		}
		a.backendType = bt.String
		out[eavKey(tc, a.code)] = a
	}
	return out, rows.Err()
}

// skips reports whether a source value row of d is left out of its value
// table: its attribute is static (its value is in the entity row), unless
// it is a SHA-512 password_hash, which the reference keeps in both.
func (d *customerDoc) skips(row []any, attrCol, valueCol int) bool {
	if d.entity || attrCol < 0 {
		return false
	}
	a, ok := d.static[str(row[attrCol])]
	if !ok {
		return false
	}
	return !(a.code == "password_hash" && valueCol >= 0 && isSha512Hash(str(row[valueCol])))
}

// staticValues reads the static attributes' values of d's entities from
// the source value tables: per entity_id, destination column -> value.
func (s *customerStep) staticValues(ctx context.Context, src *sql.Conn, d *customerDoc) (map[string]map[int]any, error) {
	out := map[string]map[int]any{}
	upgrade := s.r.cfg.Options.Magento[customerUpgradeHash]
	upgrade = strings.TrimSpace(upgrade)
	doUpgrade := upgrade != "" && upgrade != "0" && !strings.EqualFold(upgrade, "false")
	for bt, table := range d.valueTables {
		var ids []any
		for _, a := range d.static {
			if a.backendType == bt {
				ids = append(ids, a.id)
			}
		}
		// The value as text in utf8mb4 (dates in their text form),
		// whatever the source column's type and charset.
		q := "SELECT entity_id, attribute_id, CAST(value AS CHAR CHARACTER SET utf8mb4) FROM " + rowio.QuoteIdent(table) +
			" WHERE attribute_id IN (?" + strings.Repeat(",?", len(ids)-1) + ")"
		rows, err := src.QueryContext(ctx, q, ids...)
		if err != nil {
			return nil, fmt.Errorf("Customer Attributes step: reading %s: %w", table, err)
		}
		for rows.Next() {
			var ent, attr string
			var v sql.NullString
			if err := rows.Scan(&ent, &attr, &v); err != nil {
				rows.Close()
				return nil, err
			}
			a := d.static[attr]
			var val any
			if v.Valid {
				val = customerStaticValue(a.code, v.String, doUpgrade)
			}
			if out[ent] == nil {
				out[ent] = map[int]any{}
			}
			out[ent][a.column] = val
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// customerReadTable calls fn with every row of t, in canonical form, read
// over src (a rowio.RawConn in the step's snapshot).
func customerReadTable(ctx context.Context, src *sql.Conn, t *cdc.Table, fn func(row []any) error) error {
	// Prepared, as rowio.ReadTable's: the binary protocol reads FLOAT and
	// DOUBLE exactly.
	stmt, err := src.PrepareContext(ctx, string(rowio.SelectColumns(nil, t)))
	if err != nil {
		return fmt.Errorf("Customer Attributes step: reading %s: %w", t.Name, err)
	}
	defer stmt.Close()
	rows, err := stmt.QueryContext(ctx)
	if err != nil {
		return fmt.Errorf("Customer Attributes step: reading %s: %w", t.Name, err)
	}
	defer rows.Close()
	for {
		row, ok, err := rowio.ScanRow(rows, t)
		if err != nil {
			return fmt.Errorf("Customer Attributes step: reading %s: %w", t.Name, err)
		}
		if !ok {
			return nil
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}

// customerFits checks that a static attribute's value fits its text
// column: the destination's sessions are not strict, so a longer value
// would be cut short without an error (the plan checks the columns it
// fills itself).
func customerFits(v any, c *cdc.Column) error {
	s, ok := v.(string)
	if !ok || (c.DataType != "varchar" && c.DataType != "char") {
		return nil
	}
	lp, rp := strings.IndexByte(c.ColumnType, '('), strings.IndexByte(c.ColumnType, ')')
	if lp < 0 || rp < lp {
		return nil
	}
	n, err := strconv.Atoi(c.ColumnType[lp+1 : rp])
	if err != nil {
		return nil
	}
	if l := utf8.RuneCountInString(s); l > n {
		return fmt.Errorf("the value of %s (%d characters) does not fit in %s", c.Name, l, c.ColumnType)
	}
	return nil
}

// customerBatchBytes bounds one multi-row INSERT.
const customerBatchBytes = 1 << 20

// Data clears the destination's customer documents and copies the source's
// through their plans, in one destination transaction: entity rows with
// their static attributes' values, value rows without them. A row a
// handler cannot transform (an attribute_id the EAV step did not map)
// stops the step with nothing written.
func (s *customerStep) Data(ctx context.Context, env *step.Env) error {
	if s.absent {
		env.Log.Info("no customers to migrate: the source has none of the customer documents", "stage", "data")
		return nil
	}
	if s.docs == nil {
		return errors.New("Customer Attributes step: no plan (its integrity stage did not run or failed)")
	}
	streams := s.r.customerStreams()
	if streams {
		if err := s.prepareStream(ctx); err != nil {
			return err
		}
	}
	// Every source document is read in one consistent snapshot: the
	// entities, their static values and their value rows agree.
	src, pos, done, err := s.r.stepSnapshot(ctx, "Customer Attributes step", streams && s.r.source.copyPositions())
	if err != nil {
		return err
	}
	defer done()
	counts := make([]int, len(s.docs))
	err = s.r.inTx(ctx, func(tx *sql.Tx) error {
		// The destination pool's sessions have foreign key checks off: the
		// DELETEs cascade to nothing (orders keep their customer_id).
		for _, d := range s.docs {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+rowio.QuoteIdent(d.tp.Dest.Schema)+"."+rowio.QuoteIdent(d.tp.Dest.Name)); err != nil {
				return fmt.Errorf("Customer Attributes step: clearing %s: %w", d.tp.Dest.Name, err)
			}
		}
		for i := range s.docs {
			n, err := s.copyDoc(ctx, src, tx, &s.docs[i])
			if err != nil {
				return err
			}
			counts[i] = n
		}
		if err := s.markStatic(ctx, tx); err != nil {
			return err
		}
		if streams {
			return s.recordStream(ctx, tx, pos, counts)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, d := range s.docs {
		env.Log.Info("customers migrated", "stage", "data", "table", d.tp.Dest.Name, "rows", counts[i])
	}
	return nil
}

// copyDoc copies d's source rows into its destination table in tx.
func (s *customerStep) copyDoc(ctx context.Context, src *sql.Conn, tx *sql.Tx, d *customerDoc) (int, error) {
	var static map[string]map[int]any
	entCol := d.tp.Source.ColumnIndex("entity_id")
	if d.entity {
		var err error
		if static, err = s.staticValues(ctx, src, d); err != nil {
			return 0, err
		}
		if entCol < 0 {
			return 0, fmt.Errorf("Customer Attributes step: source %s has no entity_id", d.tp.Source.Name)
		}
	}
	attrCol, valueCol := d.tp.Source.ColumnIndex("attribute_id"), d.tp.Source.ColumnIndex("value")
	dest := d.tp.Dest
	head := []byte("INSERT INTO " + rowio.QuoteIdent(dest.Schema) + "." + rowio.QuoteIdent(dest.Name) + " (")
	for i, c := range d.cols {
		if i > 0 {
			head = append(head, ',')
		}
		head = append(head, rowio.QuoteIdent(c.Name)...)
	}
	head = append(head, ") VALUES "...)
	q := slices.Clone(head)
	pending, n := 0, 0
	flush := func() error {
		if pending == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, string(q)); err != nil {
			return fmt.Errorf("Customer Attributes step: copying into %s: %w", dest.Name, err)
		}
		q, pending = append(q[:0], head...), 0
		return nil
	}
	err := customerReadTable(ctx, src, d.tp.Source, func(row []any) error {
		if d.skips(row, attrCol, valueCol) {
			return nil
		}
		out, err := d.tp.Row(row)
		if err != nil {
			return fmt.Errorf("Customer Attributes step: source %s row %s: %w; nothing was written: fix the row or the map and run data mode again",
				d.tp.Source.Name, keyText(d.tp.Source, row), err)
		}
		if d.entity {
			for len(out) < len(d.cols) {
				out = append(out, cdc.Default)
			}
			for col, v := range static[str(row[entCol])] {
				if err := customerFits(v, &d.cols[col]); err != nil {
					return fmt.Errorf("Customer Attributes step: source %s row %s: %w; nothing was written: widen the column or fix the value and run data mode again",
						d.tp.Source.Name, keyText(d.tp.Source, row), err)
				}
				out[col] = v
			}
		}
		if pending > 0 {
			q = append(q, ',')
		}
		q = append(q, '(')
		for i := range d.cols {
			if i > 0 {
				q = append(q, ',')
			}
			if q, err = rowio.AppendLiteral(q, out[i], &d.cols[i]); err != nil {
				return fmt.Errorf("Customer Attributes step: %s row %s: %w", dest.Name, keyText(d.tp.Source, row), err)
			}
		}
		q = append(q, ')')
		pending++
		n++
		if len(q) >= customerBatchBytes {
			return flush()
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, flush()
}

// markStatic sets backend_type static on Magento 2's attributes the step
// moved into the entity tables, as the reference does.
func (s *customerStep) markStatic(ctx context.Context, tx *sql.Tx) error {
	dp := s.r.cfg.Options.DestPrefix
	for _, d := range s.docs {
		if !d.entity || len(d.static) == 0 {
			continue
		}
		args := []any{d.typeCode}
		for _, a := range d.static {
			args = append(args, a.code)
		}
		q := "UPDATE " + rowio.QuoteIdent(dp+"eav_attribute") + " a JOIN " + rowio.QuoteIdent(dp+"eav_entity_type") +
			" t ON t.entity_type_id = a.entity_type_id SET a.backend_type = 'static' WHERE t.entity_type_code = ? AND a.attribute_code IN (?" +
			strings.Repeat(",?", len(d.static)-1) + ")"
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("Customer Attributes step: marking %s's attributes static in %s: %w", d.typeCode, dp+"eav_attribute", err)
		}
	}
	return nil
}

// Volume counts each document's rows on both sides (data mode), as the reference does:
// a value table's source rows without those of the static attributes
// (SHA-512 password hashes kept, as Data keeps them).
func (s *customerStep) Volume(ctx context.Context, env *step.Env) error {
	if env.Mode == step.ModeDelta {
		return nil // the stream runs on (the Map step's delta): counts taken meanwhile would differ
	}
	var errs []error
	for _, d := range s.docs {
		q := "SELECT COUNT(*) FROM " + rowio.QuoteIdent(d.tp.Source.Schema) + "." + rowio.QuoteIdent(d.tp.Source.Name)
		var args []any
		if !d.entity && len(d.static) > 0 && d.tp.Source.ColumnIndex("attribute_id") >= 0 {
			var keep []string
			for _, a := range d.static {
				args = append(args, a.id)
				if a.code == "password_hash" {
					keep = append(keep, a.id)
				}
			}
			q += " WHERE attribute_id NOT IN (?" + strings.Repeat(",?", len(args)-1) + ")"
			for _, id := range keep {
				q += " OR (attribute_id = ? AND CHAR_LENGTH(SUBSTRING_INDEX(value, ':', 1)) = 128)"
				args = append(args, id)
			}
		}
		var sc int64
		if err := s.r.src.QueryRowContext(ctx, q, args...).Scan(&sc); err != nil {
			return fmt.Errorf("Customer Attributes step: counting %s: %w", d.tp.Source.Name, err)
		}
		dc, err := countRows(ctx, s.r.dst, d.tp.Dest)
		if err != nil {
			return err
		}
		if sc != dc {
			errs = append(errs, fmt.Errorf("Customer Attributes step: mismatch of entities in the document %s: source %s has %d to migrate, destination %d (run data mode again with --reset)",
				d.tp.Dest.Name, d.tp.Source.Name, sc, dc))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	env.Log.Info("customer volume check passed", "stage", "volume", "tables", len(s.docs))
	return nil
}

// Delta: the step's documents are streamed by the Map step's stream, with
// its tables, in one checkpoint (see step_customer_delta.go): nothing is
// left to do here but to make sure that stream runs.
func (s *customerStep) Delta(_ context.Context, env *step.Env) error {
	if !s.r.stepInMode("Map", step.ModeDelta) {
		return errors.New("Customer Attributes step: its documents are streamed with the Map step's tables, and config.xml does not run the Map step in delta mode: add it to <steps mode=\"delta\">")
	}
	if env.Log != nil {
		env.Log.Info("customers and customer addresses are streamed with the Map step's tables", "stage", "delta")
	}
	return nil
}
