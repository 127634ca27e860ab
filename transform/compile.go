package transform

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/shiplog/shiplog/cdc"
)

// Compile builds the plan of every source table from the rules and checks the
// rules and both schemas against each other, in both directions, as Magento's
// integrity check does: documents and fields with no counterpart that no rule
// ignores are errors (a namesake the other side's rules ignore is a
// counterpart, and is filled), type differences no rule covers are warnings,
// ambiguous rules are errors, rules on missing documents or fields are
// skipped with one grouped warning, and what shiplog finds beyond the
// reference (narrower columns, NOT NULL fields nothing fills) is a warning
// whose rows fail loudly at run time. Tables whose plan
// cannot be built (no usable key, key not copied) are left out; tables with
// unmapped fields keep a plan without them, so `--auto` can go on.
func Compile(rules *Rules, source, dest []*cdc.Table) (*Plan, []Problem) {
	if rules == nil {
		rules = &Rules{}
	}
	c := &compiler{r: rules, plan: &Plan{tables: map[string]*TablePlan{}}, env: rules.Env}
	if c.env == nil {
		c.env = &HandlerEnv{}
	}
	c.index(source, dest)
	c.checkRules()
	for _, st := range source {
		c.table(st)
	}
	c.checkSides()
	c.unmappedDest()
	sort.Strings(c.plan.names)
	return c.plan, c.problems
}

type compiler struct {
	r        *Rules
	env      *HandlerEnv
	plan     *Plan
	problems []Problem
	// base name (without prefix, lower case) -> table
	srcByBase, dstByBase map[string]*cdc.Table
	usedDest             map[string]bool
	unmappedSrc          []string
	srcIgnore, dstIgnore []pattern
	// sideUsers: destination tables side handlers write (lower case).
	sideUsers map[string]*sideOut
}

// pattern is a document name or wildcard: '*' matches any run of characters,
// anchored at the start only.
type pattern struct {
	rule Rule
	re   *regexp.Regexp // nil for plain names
}

func newPattern(r Rule) pattern {
	if !strings.Contains(r.Name, "*") {
		return pattern{rule: r}
	}
	parts := strings.Split(r.Name, "*")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return pattern{rule: r, re: regexp.MustCompile("(?i)^" + strings.Join(parts, ".*"))}
}

func (p pattern) match(name string) bool {
	if p.re != nil {
		return p.re.MatchString(name)
	}
	return strings.EqualFold(p.rule.Name, name)
}

func matchAny(ps []pattern, name string) bool {
	for _, p := range ps {
		if p.match(name) {
			return true
		}
	}
	return false
}

func (c *compiler) errorf(area, table string, at Origin, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if at.Element != "" || at.File != "" {
		msg += " (" + at.String() + ")"
	}
	c.problems = append(c.problems, Problem{Severity: Error, Area: area, Table: table, Msg: msg})
}

func (c *compiler) warnf(area, table string, at Origin, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if at.Element != "" || at.File != "" {
		msg += " (" + at.String() + ")"
	}
	c.problems = append(c.problems, Problem{Severity: Warning, Area: area, Table: table, Msg: msg})
}

// blockingf records an error --auto does not turn into a warning: going on
// would copy field untransformed, or clip its values.
func (c *compiler) blockingf(area, table string, at Origin, field, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if at.Element != "" || at.File != "" {
		msg += " (" + at.String() + ")"
	}
	c.problems = append(c.problems, Problem{Severity: Error, Area: area, Table: table, Columns: []string{field}, Msg: msg, Blocking: true})
}

// handlerRemedy says what to do about a handler that cannot run on ref.
func handlerRemedy(area, ref string) string {
	return fmt.Sprintf("--auto does not copy the field untransformed: ignore it in the map (<%s><field_rules><ignore><field>%s</field></ignore>) or replace the handler with one shiplog runs (see README, Handlers)", area, ref)
}

func (c *compiler) index(source, dest []*cdc.Table) {
	c.srcByBase, c.dstByBase, c.usedDest = map[string]*cdc.Table{}, map[string]*cdc.Table{}, map[string]bool{}
	for _, t := range source {
		if b, ok := cutPrefix(t.Name, c.r.SourcePrefix); ok {
			c.srcByBase[strings.ToLower(b)] = t
		}
	}
	for _, t := range dest {
		if strings.HasPrefix(strings.ToLower(t.Name), StateTablePrefix) {
			continue
		}
		if b, ok := cutPrefix(t.Name, c.r.DestPrefix); ok {
			c.dstByBase[strings.ToLower(b)] = t
		}
	}
	for _, r := range c.r.Source.IgnoreDocuments {
		c.srcIgnore = append(c.srcIgnore, newPattern(r))
	}
	for _, r := range c.r.Destination.IgnoreDocuments {
		c.dstIgnore = append(c.dstIgnore, newPattern(r))
	}
	for _, n := range c.r.IgnoreDestTables {
		c.dstIgnore = append(c.dstIgnore, newPattern(Rule{Name: n}))
	}
}

func cutPrefix(name, prefix string) (string, bool) {
	if prefix == "" {
		return name, true
	}
	if len(name) >= len(prefix) && strings.EqualFold(name[:len(prefix)], prefix) {
		return name[len(prefix):], true
	}
	return "", false
}

// splitRef splits "document.field".
func splitRef(ref string) (doc, field string, ok bool) {
	i := strings.LastIndexByte(ref, '.')
	if i <= 0 || i == len(ref)-1 {
		return "", "", false
	}
	return ref[:i], ref[i+1:], true
}

// checkRules reports rules that name documents or fields that do not exist,
// and rules that contradict each other.
func (c *compiler) checkRules() {
	src, dst := &c.r.Source, &c.r.Destination
	// Rules on documents or fields a schema does not have are skipped, as
	// Magento's tool skips them (its stock maps name extension columns,
	// Commerce-only tables and other versions' columns): one warning per
	// area and kind lists them.
	absent := map[[2]string][]string{}
	skip := func(area, kind, ref string) {
		k := [2]string{area, kind}
		absent[k] = append(absent[k], ref)
	}
	defer func() {
		keys := make([][2]string, 0, len(absent))
		for k := range absent {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
		for _, k := range keys {
			refs := absent[k]
			c.problems = append(c.problems, Problem{Severity: Warning, Area: k[0], Columns: refs,
				Msg: fmt.Sprintf("%d %s rule(s) name %s documents or fields that do not exist; skipped, as Magento's tool does: %s", len(refs), k[1], k[0], strings.Join(refs, ", "))})
		}
	}()
	for _, r := range src.IgnoreDocuments {
		if !strings.Contains(r.Name, "*") && c.srcByBase[strings.ToLower(r.Name)] == nil {
			skip("source", "ignore", r.Name)
		}
	}
	for _, r := range dst.IgnoreDocuments {
		if !strings.Contains(r.Name, "*") && c.dstByBase[strings.ToLower(r.Name)] == nil {
			skip("destination", "ignore", r.Name)
		}
	}
	renamedFrom, renamedTo := map[string]Rename{}, map[string]Rename{}
	for _, r := range src.RenameDocuments {
		from, to := strings.ToLower(r.From), strings.ToLower(r.To)
		switch {
		case c.srcByBase[from] == nil:
			skip("source", "rename", r.From)
		case matchAny(c.srcIgnore, r.From):
			c.warnf("source", r.From, r.At, "Source document %s is both ignored and renamed: it is ignored, as Magento's tool does", r.From)
		case c.dstByBase[to] == nil:
			c.errorf("source", r.From, r.At, "Rename of source document %s to %s: the destination document does not exist", r.From, r.To)
		case matchAny(c.dstIgnore, r.To):
			c.warnf("source", r.From, r.At, "Source document %s is renamed to %s, which the destination's rules ignore: it is copied there all the same, as Magento's tool does", r.From, r.To)
		}
		if prev, ok := renamedFrom[from]; ok {
			c.errorf("source", r.From, r.At, "Ambiguous configuration: source document %s is renamed twice (to %s and %s)", r.From, prev.To, r.To)
		}
		if prev, ok := renamedTo[to]; ok {
			c.errorf("source", r.From, r.At, "Ambiguous configuration: source documents %s and %s are both renamed to %s", prev.From, r.From, r.To)
		}
		renamedFrom[from], renamedTo[to] = r, r
	}
	fieldRule := func(area, what string, ref string, at Origin) {
		doc, field, ok := splitRef(ref)
		if !ok {
			c.errorf(area, ref, at, "%s rule: %q is not document.field", what, ref)
			return
		}
		tables := c.srcByBase
		if area == "destination" {
			tables = c.dstByBase
		}
		if t := tables[strings.ToLower(doc)]; t == nil || t.ColumnIndex(field) < 0 {
			skip(area, strings.ToLower(what), ref)
		}
	}
	for _, r := range src.IgnoreFields {
		fieldRule("source", "Ignore", r.Name, r.At)
	}
	for _, r := range src.IgnoreDatatypes {
		fieldRule("source", "Datatype ignore", r.Name, r.At)
	}
	for _, r := range dst.IgnoreFields {
		fieldRule("destination", "Ignore", r.Name, r.At)
	}
	for _, r := range dst.IgnoreDatatypes {
		fieldRule("destination", "Datatype ignore", r.Name, r.At)
	}
	movedFrom := map[string]bool{}
	for _, r := range src.MoveFields {
		fieldRule("source", "Move", r.From, r.At)
		if movedFrom[strings.ToLower(r.From)] {
			c.errorf("source", r.From, r.At, "Ambiguous configuration: field %s is moved twice", r.From)
		}
		movedFrom[strings.ToLower(r.From)] = true
		if matchAnyRule(src.IgnoreFields, r.From) {
			c.errorf("source", r.From, r.At, "Ambiguous configuration: field %s is both ignored and moved", r.From)
		}
	}
	for _, r := range src.Transforms {
		fieldRule("source", "Transform", r.Field, r.At)
	}
	for _, r := range dst.Transforms {
		fieldRule("destination", "Transform", r.Field, r.At)
	}
}

func matchAnyRule(rules []Rule, name string) bool {
	for _, r := range rules {
		if strings.EqualFold(r.Name, name) {
			return true
		}
	}
	return false
}

// sourceName is the source document destination document base pairs
// with: the other side of a rename naming it, else its own name.
func (c *compiler) sourceName(base string) string {
	for _, r := range c.r.Source.RenameDocuments {
		if strings.EqualFold(r.To, base) {
			return r.From
		}
		if strings.EqualFold(r.From, base) {
			return r.To
		}
	}
	return base
}

// knownSource reports whether base (lower case, without prefix) is one of
// Rules.SourceNames.
func (c *compiler) knownSource(base string) bool {
	for _, n := range c.r.SourceNames {
		if b, ok := cutPrefix(n, c.r.SourcePrefix); ok && strings.EqualFold(b, base) {
			return true
		}
	}
	return false
}

// movedOnto reports whether a move rule targets destination field ref.
func (c *compiler) movedOnto(ref string) bool {
	for _, m := range c.r.Source.MoveFields {
		if strings.EqualFold(m.To, ref) {
			return true
		}
	}
	return false
}

// ownIgnore reports whether destination document base is ignored by
// shiplog's own list (IgnoreDestTables: nothing may be written there)
// rather than only by the map's destination rules.
func (c *compiler) ownIgnore(base string) bool {
	for _, n := range c.r.IgnoreDestTables {
		if newPattern(Rule{Name: n}).match(base) {
			return true
		}
	}
	return false
}

// destName is the destination document a source document maps to.
func (c *compiler) destName(base string) (string, Origin) {
	for _, r := range c.r.Source.RenameDocuments {
		if strings.EqualFold(r.From, base) {
			return r.To, r.At
		}
	}
	return base, Origin{}
}

func (c *compiler) table(st *cdc.Table) {
	base, ok := cutPrefix(st.Name, c.r.SourcePrefix)
	if !ok || matchAny(c.srcIgnore, base) {
		return
	}
	dbase, renameAt := c.destName(base)
	dt := c.dstByBase[strings.ToLower(dbase)]
	// A destination document the destination's rules ignore is filled all
	// the same when a source document maps to it, as Magento's tool does.
	if dt == nil || matchAny(c.dstIgnore, dbase) && c.ownIgnore(dbase) {
		if renameAt.Element == "" && renameAt.File == "" { // bad renames are reported by checkRules
			c.unmappedSrc = append(c.unmappedSrc, st.Name)
		}
		return
	}
	c.usedDest[strings.ToLower(dt.Name)] = true
	src, dst := &c.r.Source, &c.r.Destination
	tp := &TablePlan{Source: st}
	out := &cdc.Table{Schema: dt.Schema, Name: dt.Name}
	filledBy := map[int]string{} // dest column -> source field filling it
	destPos := map[int]int{}     // dest column index in dt -> index in out
	var unmappedSrc []string
	var types []fieldTypes // of the copied fields, in out's order
	for si, sc := range st.Columns {
		if sc.Generated {
			continue
		}
		ref := base + "." + sc.Name
		if matchAnyRule(src.IgnoreFields, ref) {
			continue
		}
		dname, moved := sc.Name, false
		var moveAt Origin
		for _, m := range src.MoveFields {
			if !strings.EqualFold(m.From, ref) {
				continue
			}
			tdoc, tfield, ok := splitRef(m.To)
			if !ok {
				c.errorf("source", st.Name, m.At, "Move of %s: target %q is not document.field", m.From, m.To)
				break
			}
			if !strings.EqualFold(tdoc, dbase) && !strings.EqualFold(tdoc, base) {
				c.errorf("source", st.Name, m.At, "Move of %s to %s: a field can only move within its (renamed) document %s", m.From, m.To, dbase)
				break
			}
			dname, moved, moveAt = tfield, true, m.At
		}
		di := dt.ColumnIndex(dname)
		dref := dbase + "." + dname
		if di < 0 {
			if moved {
				c.errorf("source", st.Name, moveAt, "Move of %s: destination field %s does not exist", ref, dref)
			} else {
				unmappedSrc = append(unmappedSrc, sc.Name)
			}
			continue
		}
		// A field the destination's rules ignore is filled all the same
		// by its namesake, as Magento's tool does; a move onto it is
		// ambiguous (the tool stops there too).
		if moved && matchAnyRule(dst.IgnoreFields, dref) {
			c.errorf("source", st.Name, moveAt, "Ambiguous configuration: field %s is moved to %s, which is ignored in the destination", ref, dref)
			continue
		}
		dc := dt.Columns[di]
		if dc.Generated {
			continue // the destination computes it
		}
		if sc.Kind() == cdc.KindOther || dc.Kind() == cdc.KindOther {
			// No canonical form (VECTOR, types newer than shiplog): no
			// reader or writer can promise the same value on both sides.
			c.errorf("source", st.Name, Origin{}, "Unsupported data type: field %s (%s) to %s (%s) cannot be copied exactly; ignore the field in the map",
				ref, sc.ColumnType, dref, dc.ColumnType)
			continue
		}
		if prev, ok := filledBy[di]; ok {
			c.errorf("source", st.Name, moveAt, "Ambiguous configuration: destination field %s is filled by both %s and %s", dref, prev, sc.Name)
			continue
		}
		filledBy[di] = sc.Name
		ruled := matchAnyRule(src.IgnoreDatatypes, ref) || matchAnyRule(dst.IgnoreDatatypes, dref)
		handled := hasTransform(src.Transforms, ref) || hasTransform(dst.Transforms, dref)
		fs := fieldTypes{src: parseColType(&sc), dst: parseColType(&dc), handled: handled}
		fs.why, fs.known = narrowing(fs.src, fs.dst)
		switch {
		case fs.why != "":
			c.narrowed(st.Name, ref, dref, sc, dc, fs.why, ruled || handled)
		case !strings.EqualFold(sc.DataType, dc.DataType) && !ruled && !handled:
			c.problems = append(c.problems, Problem{Severity: Warning, Area: "source", Table: st.Name, Columns: []string{sc.Name},
				Msg: fmt.Sprintf("Mismatch of data types. Source document: %s. Fields: %s (%s vs destination %s)", st.Name, sc.Name, sc.ColumnType, dc.ColumnType)})
		}
		if fs.src.fam != fs.dst.fam || fs.src.cs == fs.dst.cs || handled || !isText(fs.src.fam) {
		} else if _, ok := converter(fs.src.cs, fs.dst.cs); !ok {
			c.unconvertible(st.Name, ref, dref, sc, dc, ruled)
		}
		types = append(types, fs)
		destPos[di] = len(out.Columns)
		tp.proj = append(tp.proj, si)
		out.Columns = append(out.Columns, dc)
	}
	// Destination fields only destination handlers fill.
	for _, tr := range dst.Transforms {
		doc, field, _ := splitRef(tr.Field)
		if !strings.EqualFold(doc, dbase) {
			continue
		}
		di := dt.ColumnIndex(field)
		if di < 0 || dt.Columns[di].Generated {
			continue
		}
		if _, ok := destPos[di]; !ok {
			destPos[di] = len(out.Columns)
			tp.proj = append(tp.proj, -1)
			out.Columns = append(out.Columns, dt.Columns[di])
		}
	}
	var unmappedDst []string
	for di, dc := range dt.Columns {
		if _, ok := destPos[di]; ok || dc.Generated {
			continue
		}
		// Paired by name with a source field the source's rules ignore,
		// it is mapped for Magento's tool, and is left to its default.
		paired := st.ColumnIndex(dc.Name) >= 0 || c.movedOnto(dbase+"."+dc.Name)
		ignored := matchAnyRule(dst.IgnoreFields, dbase+"."+dc.Name)
		if !ignored && !paired {
			unmappedDst = append(unmappedDst, dc.Name)
		} else if !dc.Nullable && !dc.HasDefault {
			c.warnf("destination", dt.Name, Origin{}, "Destination field %s.%s is NOT NULL without a default and nothing fills it: inserts of new rows will fail and be recorded as failed rows", dt.Name, dc.Name)
		}
	}
	if len(unmappedSrc) > 0 {
		c.problems = append(c.problems, Problem{Severity: Error, Area: "source", Table: st.Name, Columns: unmappedSrc,
			Msg: fmt.Sprintf("Source fields are not mapped. Document: %s. Fields: %s", st.Name, strings.Join(unmappedSrc, ","))})
	}
	if len(unmappedDst) > 0 {
		c.problems = append(c.problems, Problem{Severity: Error, Area: "destination", Table: dt.Name, Columns: unmappedDst,
			Msg: fmt.Sprintf("Destination fields are not mapped. Document: %s. Fields: %s", dt.Name, strings.Join(unmappedDst, ","))})
	}
	fullRow := false
	for _, n := range c.r.FullRowTables {
		if strings.EqualFold(n, st.Name) || strings.EqualFold(n, base) {
			fullRow = true
		}
	}
	switch {
	case len(st.Key) > 0 && !fullRow:
		for _, k := range st.Key {
			name := st.Columns[k].Name
			i := indexOf(tp.proj, k)
			if i < 0 {
				c.errorf("source", st.Name, Origin{}, "Key column %s.%s is not copied to the destination, so changes cannot find their rows", st.Name, name)
				return
			}
			out.Key = append(out.Key, i)
		}
		out.KeyName = st.KeyName
		if !sameColumns(dt.KeyNames(), out.KeyNames()) {
			c.warnf("destination", dt.Name, Origin{}, "Destination document %s is keyed by (%s), the copy matches rows by (%s): upserts match on the destination's unique keys",
				dt.Name, strings.Join(dt.KeyNames(), ","), strings.Join(out.KeyNames(), ","))
		}
		// Other unique indexes of the destination, in out's positions.
		for _, u := range dt.Unique {
			var cols []int
			for _, di := range u {
				if i, ok := destPos[di]; ok {
					cols = append(cols, i)
				}
			}
			out.Unique = append(out.Unique, cols)
		}
	case fullRow:
		tp.FullRow = true
	default:
		c.errorf("source", st.Name, Origin{}, "Document %s has no primary key or unique NOT NULL key; add one, or list it in options.full_row_tables to copy it matching rows by all columns", st.Name)
		return
	}
	tp.Dest = out
	c.bindHandlers(tp, base, dbase)
	tp.fits = buildFits(tp, types)
	tp.keyOnlyBefore = tp.KeyIdentity()
	c.plan.tables[st.Name] = tp
	c.plan.names = append(c.plan.names, st.Name)
}

func indexOf(xs []int, v int) int {
	for i, x := range xs {
		if x == v {
			return i
		}
	}
	return -1
}

func hasTransform(ts []Transform, ref string) bool {
	for _, t := range ts {
		if strings.EqualFold(t.Field, ref) {
			return true
		}
	}
	return false
}

// getDestinationValue is handled by the compiler: the column keeps the
// destination's value (and new rows get its default).
const getDestinationValue = "getdestinationvalue"

func (c *compiler) bindHandlers(tp *TablePlan, base, dbase string) {
	bind := func(area string, tr Transform, rec, other *cdc.Table, doc string) {
		d, field, ok := splitRef(tr.Field)
		if !ok || !strings.EqualFold(d, doc) {
			return
		}
		idx := rec.ColumnIndex(field)
		if idx < 0 {
			return // a rule on a field that does not exist (see checkRules)
		}
		params := Params{}
		for _, p := range tr.Handler.Params {
			params[p.Name] = p.Value
		}
		name := canonicalHandlerName(tr.Handler.Name)
		if name == getDestinationValue {
			di := idx
			if area == "source" {
				di = indexOf(tp.proj, idx)
			}
			if di < 0 {
				c.errorf(area, tp.Source.Name, tr.At, "GetDestinationValue on %s: the field is not copied", tr.Field)
				return
			}
			for p := range params {
				if p != "setNullIfEmpty" {
					c.blockingf(area, tp.Source.Name, tr.At, field, "Handler GetDestinationValue on %s cannot run (unknown param %q); %s", tr.Field, p, handlerRemedy(area, tr.Field))
				}
			}
			if tp.keep == nil {
				tp.keep = make([]bool, len(tp.proj))
			}
			tp.keep[di] = true
			tp.Dest.Columns[di].KeepExisting = true
			return
		}
		f, ok := LookupHandler(tr.Handler.Name)
		if !ok {
			c.blockingf(area, tp.Source.Name, tr.Handler.At, field, "Unknown handler \"%s\" on %s: the field cannot be transformed; %s",
				tr.Handler.Name, tr.Field, handlerRemedy(area, tr.Field))
			return
		}
		b := Binding{Area: area, Table: d, Field: field, Index: idx, Column: rec.Columns[idx], Rec: rec, Other: other, Env: c.env, dest: c.destTable}
		if sf := lookupSide(tr.Handler.Name); sf != nil {
			c.bindSide(tp, area, tr, field, sf, params, b)
			return
		}
		fn, err := f(params, b)
		if err != nil {
			c.blockingf(area, tp.Source.Name, tr.Handler.At, field, "Handler %s on %s cannot run (%v); %s",
				tr.Handler.Name, tr.Field, err, handlerRemedy(area, tr.Field))
			return
		}
		bf := boundFunc{fn: fn, handler: tr.Handler.Name, field: field}
		if area == "source" {
			tp.srcFuncs = append(tp.srcFuncs, bf)
		} else {
			tp.dstFuncs = append(tp.dstFuncs, bf)
		}
	}
	for _, tr := range c.r.Source.Transforms {
		bind("source", tr, tp.Source, tp.Dest, base)
	}
	for _, tr := range c.r.Destination.Transforms {
		bind("destination", tr, tp.Dest, tp.Source, dbase)
	}
}

// unmappedDest reports source documents that map to nothing and destination
// documents nothing fills.
func (c *compiler) unmappedDest() {
	if len(c.unmappedSrc) > 0 {
		sort.Strings(c.unmappedSrc)
		c.problems = append(c.problems, Problem{Severity: Error, Area: "source", Columns: c.unmappedSrc,
			Msg: "Source documents are not mapped: " + strings.Join(c.unmappedSrc, ",")})
	}
	var names []string
	for b, dt := range c.dstByBase {
		if c.usedDest[strings.ToLower(dt.Name)] || matchAny(c.dstIgnore, b) {
			continue
		}
		// Paired by name (or a rename) with a source document the
		// source's rules ignore, it is mapped for Magento's tool.
		if sn := strings.ToLower(c.sourceName(b)); c.srcByBase[sn] != nil || c.knownSource(sn) {
			continue
		}
		names = append(names, dt.Name)
	}
	if len(names) > 0 {
		sort.Strings(names)
		sev, msg := Error, "Destination documents are not mapped: "+strings.Join(names, ",")
		if c.r.SourceSoFar {
			sev, msg = Warning, msg+" (no source table seen so far maps to them)"
		}
		c.problems = append(c.problems, Problem{Severity: sev, Area: "destination", Columns: names, Msg: msg})
	}
}

// fieldTypes are the types of a copied field on both sides.
type fieldTypes struct {
	src, dst colType
	// why the destination cannot hold every source value ("" if it can);
	// known: the types were compared.
	why   string
	known bool
	// handled: a rule transforms the field.
	handled bool
}

func isText(f family) bool { return f == famText || f == famEnum || f == famSet }

// narrowed reports a destination field that cannot hold every value of its
// source field. Values that do not fit would be clipped: it is an error
// --auto does not go past, unless the map says so (a datatype ignore rule or
// a handler on the field): then it is a warning, and values that do not fit
// are failed rows.
func (c *compiler) narrowed(table, ref, dref string, sc, dc cdc.Column, why string, ruled bool) {
	msg := fmt.Sprintf("Destination field %s (%s) is narrower than source field %s (%s): %s", dref, dc.ColumnType, ref, sc.ColumnType, why)
	if ruled {
		msg += "; the map ignores its datatype or transforms it: values that do not fit are recorded as failed rows"
	} else {
		// Magento's tool accepts it (its server clips); shiplog never
		// clips: a warning, and each value that does not fit is a failed
		// row (exit 3), so nothing diverges unseen.
		msg += fmt.Sprintf("; values that fit are copied exactly, values that do not are recorded as failed rows, never clipped (widen the destination column to copy them, or add <ignore><datatype>%s</datatype></ignore> to silence this)", ref)
	}
	c.problems = append(c.problems, Problem{Severity: Warning, Area: "source", Table: table, Columns: []string{sc.Name}, Msg: msg})
}

// unconvertible reports text between character sets shiplog does not
// convert: the bytes would be written as they are.
func (c *compiler) unconvertible(table, ref, dref string, sc, dc cdc.Column, ruled bool) {
	msg := fmt.Sprintf("Destination field %s (%s, %s) has another character set than source field %s (%s, %s), and shiplog converts text only between utf8mb4, utf8mb3, latin1 and ascii",
		dref, dc.ColumnType, dc.Charset, ref, sc.ColumnType, sc.Charset)
	if ruled {
		msg += "; the map ignores its datatype: the bytes are copied as they are"
		c.problems = append(c.problems, Problem{Severity: Warning, Area: "source", Table: table, Columns: []string{sc.Name}, Msg: msg})
		return
	}
	msg += fmt.Sprintf("; change the destination column's character set, or transform the field with a handler, or add <ignore><datatype>%s</datatype></ignore> to copy the bytes as they are", ref)
	c.problems = append(c.problems, Problem{Severity: Error, Area: "source", Table: table, Columns: []string{sc.Name}, Msg: msg, Blocking: true})
}

// buildFits returns the value checks of tp's destination columns: columns a
// handler fills or touches, and copied columns whose destination type is
// narrower than, or not comparable with, the source's, or needs another
// character set. Identical and wider columns get none.
func buildFits(tp *TablePlan, types []fieldTypes) []fit {
	touched := func(i int) bool {
		for _, f := range tp.dstFuncs {
			if strings.EqualFold(f.field, tp.Dest.Columns[i].Name) {
				return true
			}
		}
		if j := tp.proj[i]; j >= 0 {
			for _, f := range tp.srcFuncs {
				if strings.EqualFold(f.field, tp.Source.Columns[j].Name) {
					return true
				}
			}
		}
		return false
	}
	// Text from UTF-8 (or ASCII) columns a UTF-8 destination column contains
	// is valid there; handlers keep it so unless the table has text of other
	// character sets they could pass on.
	utf8Only := true
	for _, c := range tp.Source.Columns {
		if c.Kind() == cdc.KindBytes || c.Kind() == cdc.KindEnumSet {
			switch normCharset(c.Charset) {
			case "", "binary", "utf8mb4", "utf8mb3", "ascii":
			default:
				utf8Only = false
			}
		}
	}
	validText := func(src, dst string) bool {
		return utf8Only && (src == dst || src == "ascii" || (src == "utf8mb3" && dst == "utf8mb4") || (src == "" && dst == "utf8mb4"))
	}
	var fits []fit
	for i := range tp.Dest.Columns {
		dc := &tp.Dest.Columns[i]
		if dc.KeepExisting {
			continue
		}
		f := fit{col: i, name: tp.Dest.Name + "." + dc.Name}
		if i >= len(types) || tp.proj[i] < 0 {
			f.dst, f.check = parseColType(dc), true // handlers fill it
			f.dst.validate = !validText("", f.dst.cs)
		} else {
			ft := types[i]
			f.dst = ft.dst
			f.dst.validate = !validText(ft.src.cs, ft.dst.cs)
			h := ft.handled || touched(i)
			same := strings.EqualFold(tp.Source.Columns[tp.proj[i]].ColumnType, dc.ColumnType) && ft.src.cs == ft.dst.cs
			f.check = h || ft.why != "" || (!ft.known && !same)
			if !h && ft.src.cs != ft.dst.cs && isText(ft.src.fam) && isText(ft.dst.fam) {
				f.conv, _ = converter(ft.src.cs, ft.dst.cs)
			}
		}
		if f.dst.fam == famOther {
			f.check = false
		}
		if f.check || f.conv != nil {
			fits = append(fits, f)
		}
	}
	return fits
}
