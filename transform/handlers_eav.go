package transform

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// The handlers of Magento's tool that read EAV metadata (and bundle
// relations) of the Magento 1 source. They look tables up through
// HandlerEnv.Lookups: registered when they bind, read once, and read again
// only after the stream sees the table change. The reference reads them once
// per process (some into static caches) and never again; shiplog's refresh
// differs only when the source's EAV metadata changes during a run, where it
// follows the new rows. The attribute_id of the records they handle is
// Magento 1's (the Map step copies catalog_*_entity_* rows with their ids),
// so it is looked up in the source, as the reference does.
//
// Magento's ConvertEavValue and EavAttributeGroup\SetGroupCode do nothing
// unless the source is a database (DMT can also read from files); shiplog's
// source always is one, so they always run.
func init() {
	Register("SetValueAttributeCondition", newSetValueAttributeCondition)
	Register("CleanMultiselect", newCleanMultiselect)
	Register("ConvertEavValue", newConvertEavValue)
	Register(`EavAttribute\ApplyTo`, newEavApplyTo)
	Register(`EavAttribute\BackendTypeForMultiselect`, newEavBackendTypeForMultiselect)
	Register(`EavAttributeGroup\SetGroupCode`, newEavSetGroupCode)
	Register("BundleParentProduct", newBundleParentProduct)
}

// eavRows returns the rows of t after checking they have cols: a table
// without one is a schema the handler does not know, and carrying on would
// write wrong values.
func eavRows(t *LookupTable, cols ...string) (*LookupRows, error) {
	rows, err := t.Rows()
	if err != nil {
		return nil, err
	}
	for _, c := range cols {
		if rows.Col(c) < 0 {
			ref := t.Ref()
			return nil, fmt.Errorf("%s table %s has no column %s", ref.Side, ref.Table, c)
		}
	}
	return rows, nil
}

// eavAttributes binds the source eav_attribute table and the record's
// attribute_id field, which every attribute-conditional handler needs.
func eavAttributes(handler string, b Binding) (attrs *LookupTable, idIndex int, err error) {
	idIndex, err = b.IndexOf("attribute_id")
	if err != nil {
		return nil, -1, fmt.Errorf("handler %s needs the record's attribute_id: %w", handler, err)
	}
	l, err := b.Env.NeedLookups(handler)
	if err != nil {
		return nil, -1, err
	}
	return l.Table(SideSource, "eav_attribute"), idIndex, nil
}

// eavAttributeIs reports whether the Magento 1 attribute whose id is the
// record value id has code code. A NULL id is no attribute.
func eavAttributeIs(attrs *LookupTable, id any, code string) (bool, error) {
	s, ok := hdlString(id)
	if !ok {
		return false, nil
	}
	rows, err := eavRows(attrs, "attribute_id", "attribute_code")
	if err != nil {
		return false, err
	}
	return len(rows.Find([]string{"attribute_id", "attribute_code"}, s, code)) > 0, nil
}

// --- SetValueAttributeCondition -------------------------------------------

// newSetValueAttributeCondition: SetValueAttributeCondition(attributeCode,
// value) sets the field to value ("NULL", any case, is NULL) on rows whose
// attribute_id is the Magento 1 attribute attributeCode (looked up in the
// source eav_attribute); other rows, rows of unknown attributes and rows
// with a NULL attribute_id are left alone.
func newSetValueAttributeCondition(p Params, b Binding) (Func, error) {
	const name = "SetValueAttributeCondition"
	if err := hdlParams(name, p, []string{"attributeCode", "value"}, nil); err != nil {
		return nil, err
	}
	attrs, ai, err := eavAttributes(name, b)
	if err != nil {
		return nil, err
	}
	code := p["attributeCode"]
	var value any = p["value"]
	if strings.EqualFold(p["value"], "NULL") {
		value = nil
	}
	return func(rec, _ []any) error {
		is, err := eavAttributeIs(attrs, rec[ai], code)
		if err != nil {
			return fmt.Errorf("handler %s on %s.%s: %w", name, b.Table, b.Field, err)
		}
		if is {
			rec[b.Index] = value
		}
		return nil
	}, nil
}

// --- CleanMultiselect -------------------------------------------------------

// newCleanMultiselect: on rows of Magento 1 product attributes whose
// frontend_input is multiselect (source eav_attribute joined with
// eav_entity_type 'catalog_product'), the comma-separated option list loses
// its empty items and "0" items (PHP's array_filter): "24,,,41,," becomes
// "24,41". As in the reference, NULL, "" and "0" become "" there. Rows of
// other attributes are left alone.
func newCleanMultiselect(p Params, b Binding) (Func, error) {
	const name = "CleanMultiselect"
	if err := hdlParams(name, p, nil, nil); err != nil {
		return nil, err
	}
	attrs, ai, err := eavAttributes(name, b)
	if err != nil {
		return nil, err
	}
	l, _ := b.Env.NeedLookups(name)
	types := l.Table(SideSource, "eav_entity_type")
	return func(rec, _ []any) error {
		multi, err := eavProductMultiselect(attrs, types, rec[ai])
		if err != nil {
			return fmt.Errorf("handler %s on %s.%s: %w", name, b.Table, b.Field, err)
		}
		if !multi {
			return nil
		}
		s, _ := hdlString(rec[b.Index])
		items := strings.Split(s, ",")
		kept := items[:0]
		for _, it := range items {
			if it != "" && it != "0" {
				kept = append(kept, it)
			}
		}
		rec[b.Index] = strings.Join(kept, ",")
		return nil
	}, nil
}

// eavProductMultiselect reports whether the Magento 1 attribute with id is a
// multiselect attribute of catalog_product.
func eavProductMultiselect(attrs, types *LookupTable, id any) (bool, error) {
	s, ok := hdlString(id)
	if !ok {
		return false, nil
	}
	rows, err := eavRows(attrs, "attribute_id", "entity_type_id", "frontend_input")
	if err != nil {
		return false, err
	}
	found := rows.Find([]string{"attribute_id"}, s)
	if len(found) == 0 {
		return false, nil
	}
	if in, _ := rows.Str(found[0], "frontend_input"); in != "multiselect" {
		return false, nil
	}
	typeID, ok := rows.Str(found[0], "entity_type_id")
	if !ok {
		return false, nil
	}
	trows, err := eavRows(types, "entity_type_id", "entity_type_code")
	if err != nil {
		return false, err
	}
	return len(trows.Find([]string{"entity_type_id", "entity_type_code"}, typeID, "catalog_product")) > 0, nil
}

// --- ConvertEavValue --------------------------------------------------------

// newConvertEavValue: ConvertEavValue(map "[a:b;c:d]", attributeCode) maps
// the value through map (parsed as Convert's: each record trimmed, exactly
// one ':' in each) on rows whose attribute_id is the Magento 1 attribute
// attributeCode (every entity type's attribute of that code). A value not in
// the map is left as it is; NULL looks up the empty key, as PHP's isset does.
func newConvertEavValue(p Params, b Binding) (Func, error) {
	const name = "ConvertEavValue"
	if err := hdlParams(name, p, []string{"map", "attributeCode"}, nil); err != nil {
		return nil, err
	}
	m, err := hdlParseMap(p["map"])
	if err != nil {
		return nil, fmt.Errorf("handler %s: param 'map': %w", name, err)
	}
	attrs, ai, err := eavAttributes(name, b)
	if err != nil {
		return nil, err
	}
	code := p["attributeCode"]
	return func(rec, _ []any) error {
		is, err := eavAttributeIs(attrs, rec[ai], code)
		if err != nil {
			return fmt.Errorf("handler %s on %s.%s: %w", name, b.Table, b.Field, err)
		}
		if !is {
			return nil
		}
		s, _ := hdlString(rec[b.Index])
		if to, ok := m[s]; ok {
			rec[b.Index] = to
		}
		return nil
	}, nil
}

// --- EavAttribute\ApplyTo ---------------------------------------------------

// newEavApplyTo: EavAttribute\ApplyTo on catalog_eav_attribute.apply_to, in
// the source area. When the opposite (Magento 2) row has no attribute_id and
// the Magento 1 attribute is user-defined (source eav_attribute
// is_user_defined), apply_to becomes NULL; otherwise it takes the opposite
// row's apply_to.
//
// The reference runs this only inside its EAV step, and only for attributes
// Magento 2 does not have: attributes it has keep their Magento 2 row and
// skip the handlers. The opposite row it passes is the Magento 2 table's
// column defaults (attribute_id empty, apply_to NULL). shiplog's opposite
// row in the source area is the destination row before the copy, all NULL,
// so the result is the reference's for every row the reference transforms:
// NULL. Keeping Magento 2's own row for shared attributes belongs to the EAV
// step, which shiplog does not run yet.
func newEavApplyTo(p Params, b Binding) (Func, error) {
	const name = `EavAttribute\ApplyTo`
	if err := hdlParams(name, p, nil, nil); err != nil {
		return nil, err
	}
	if b.Area != "source" {
		return nil, fmt.Errorf("handler %s works in the source area only (it reads the Magento 2 row being built as its opposite record)", name)
	}
	attrs, ai, err := eavAttributes(name, b)
	if err != nil {
		return nil, err
	}
	oid, of := -1, -1
	if b.Other != nil {
		oid, of = b.Other.ColumnIndex("attribute_id"), b.Other.ColumnIndex(b.Field)
	}
	return func(rec, other []any) error {
		var otherID, otherVal any
		if oid >= 0 && oid < len(other) {
			otherID = other[oid]
		}
		if of >= 0 && of < len(other) {
			otherVal = other[of]
		}
		if !hdlTruthy(otherID) {
			user, err := eavUserDefined(attrs, rec[ai])
			if err != nil {
				return fmt.Errorf("handler %s on %s.%s: %w", name, b.Table, b.Field, err)
			}
			if user {
				rec[b.Index] = nil
				return nil
			}
		}
		rec[b.Index] = otherVal
		return nil
	}, nil
}

// eavUserDefined reports whether the Magento 1 attribute with id is
// user-defined.
func eavUserDefined(attrs *LookupTable, id any) (bool, error) {
	s, ok := hdlString(id)
	if !ok {
		return false, nil
	}
	rows, err := eavRows(attrs, "attribute_id", "is_user_defined")
	if err != nil {
		return false, err
	}
	for _, i := range rows.Find([]string{"attribute_id"}, s) {
		if hdlTruthy(rows.Rows[i][rows.Col("is_user_defined")]) {
			return true, nil
		}
	}
	return false, nil
}

// --- EavAttribute\BackendTypeForMultiselect -------------------------------

// newEavBackendTypeForMultiselect: on eav_attribute rows of multiselect
// product attributes (frontend_input 'multiselect' and entity_type_id the
// source's catalog_product entity type), backend_type becomes 'varchar'.
// Other rows are left alone, all rows when the source has no catalog_product
// entity type.
func newEavBackendTypeForMultiselect(p Params, b Binding) (Func, error) {
	const name = `EavAttribute\BackendTypeForMultiselect`
	if err := hdlParams(name, p, nil, nil); err != nil {
		return nil, err
	}
	fi, err := b.IndexOf("frontend_input")
	if err != nil {
		return nil, fmt.Errorf("handler %s: %w", name, err)
	}
	ti, err := b.IndexOf("entity_type_id")
	if err != nil {
		return nil, fmt.Errorf("handler %s: %w", name, err)
	}
	l, err := b.Env.NeedLookups(name)
	if err != nil {
		return nil, err
	}
	types := l.Table(SideSource, "eav_entity_type")
	return func(rec, _ []any) error {
		if in, _ := hdlString(rec[fi]); in != "multiselect" {
			return nil
		}
		typeID, ok := hdlString(rec[ti])
		if !ok {
			return nil
		}
		trows, err := eavRows(types, "entity_type_id", "entity_type_code")
		if err != nil {
			return fmt.Errorf("handler %s on %s.%s: %w", name, b.Table, b.Field, err)
		}
		if product, ok := trows.First("entity_type_code", "catalog_product", "entity_type_id"); ok && product == typeID {
			rec[b.Index] = "varchar"
		}
		return nil
	}, nil
}

// --- EavAttributeGroup\SetGroupCode ---------------------------------------

// newEavSetGroupCode: EavAttributeGroup\SetGroupCode sets the field
// (attribute_group_code) from the record's attribute_group_name as Magento 2
// makes group codes: ASCII letters lower-cased, the name transliterated with
// Magento's table (eavTranslit), every run of characters other than a-z and
// 0-9 turned into '-', '-' trimmed from both ends. A code that comes out
// empty (or "0", which PHP also counts as empty) is replaced by its MD5 in
// hex, so every group named without any Latin letter or digit gets
// d41d8cd98f00b204e9800998ecf8427e, as in the reference. It reads no other
// table.
func newEavSetGroupCode(p Params, b Binding) (Func, error) {
	const name = `EavAttributeGroup\SetGroupCode`
	if err := hdlParams(name, p, nil, nil); err != nil {
		return nil, err
	}
	ni, err := b.IndexOf("attribute_group_name")
	if err != nil {
		return nil, fmt.Errorf("handler %s: %w", name, err)
	}
	return func(rec, _ []any) error {
		n, _ := hdlString(rec[ni])
		rec[b.Index] = eavGroupCode(n)
		return nil
	}, nil
}

func eavGroupCode(name string) string {
	lower := []byte(name)
	for i, c := range lower {
		if 'A' <= c && c <= 'Z' {
			lower[i] = c + ('a' - 'A')
		}
	}
	t := eavTranslitReplacer.Replace(string(lower))
	var out strings.Builder
	dash := false
	for i := 0; i < len(t); i++ {
		c := t[i]
		if ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') {
			if dash && out.Len() > 0 {
				out.WriteByte('-')
			}
			dash = false
			out.WriteByte(c)
			continue
		}
		dash = true
	}
	code := out.String()
	if code == "" || code == "0" {
		sum := md5.Sum([]byte(code))
		return hex.EncodeToString(sum[:])
	}
	return code
}

// eavTranslit is Magento 2's transliteration table
// (Magento\Framework\Filter\Translit) as (replacement, characters) groups;
// the entries of several characters are listed one by one. It runs on bytes
// after ASCII lower-casing, so upper-case non-ASCII letters are listed too,
// and the few upper-case replacements ("Y", "A", "C") are later dropped as
// non [a-z0-9]. Magento runs iconv's transliteration after the table only
// where PHP uses libiconv; shiplog follows glibc builds (the usual Linux PHP),
// where characters missing from the table (ã, Ê, Ð, ...) become '-'.
// Magento also adds the url/convert entries of its configuration, which
// stock installs do not have.
var eavTranslit = []struct{ to, chars string }{
	{"at", "@"}, {"c", "©ÇçĆćĈĉĊċČčЦцצ"}, {"r", "®ŔŕŖŗŘřРрרঋΡρ"},
	{"a", "ÀÁÂÄÅàáâäåĀāĂăĄąǍǎǺǻАаъאαάΆΑঅ"},
	{"ae", "ÆæǼǽ"}, {"e", "ÈÉËèéêëĒēĔĕĖėĘęĚěƏəЄЕеєעεέΕΈএ"},
	{"i", "ÌÍÎÏìíîïĨĩĪīĬĭĮįİıІЇИиіїיηήΗιίϊΐΙΊই"},
	{"o", "ÒÓÔÕÖØòóôõöøŌōŎŏŐőƠơǑǒǾǿОоοόΟΌωώΩΏও"},
	{"u", "ÙÚÛÜùúûüŨũŪūŬŭŮůŰűŲųƯưǓǔǕǖǗǘǙǚǛǜУуυύউূ"},
	{"y", "ÝýÿŶŷŸЫыйьΥΎ"}, {"ss", "ß"}, {"p", "þПпףפπΠ"},
	{"d", "ĎďĐđДдדδΔ"}, {"g", "ĜĝĞğĠġĢģГгҐґגγΓ"}, {"h", "ĤĥĦħХхהח"}, {"oh", "ঃ"},
	{"ij", "Ĳĳ"}, {"j", "Ĵĵ"}, {"k", "ĶķĸКкךכκΚ"}, {"l", "ĹĺĻļĽľĿŀŁłЛлלλΛ"},
	{"n", "ŃńŅņŇňŉŊŋНнןנνΝñÑঁৢ"}, {"oe", "Œœ"}, {"s", "ŚśŜŝŞşŠšСсסσςΣ"},
	{"t", "ŢţŤťŦŧТтטתτΤৎ"}, {"w", "Ŵŵש"}, {"z", "ŹźŻżŽžſЗзזζΖ"}, {"f", "ƒФфφΦ"},
	{"jo", "Ёё"}, {"b", "БбבβΒ"}, {"v", "Ввו"}, {"zh", "Жж"}, {"Y", "ЙЬ"},
	{"m", "МмםמμΜ"}, {"ch", "ЧчχΧ"}, {"sh", "Шш"}, {"sch", "Щщ"}, {"A", "Ъ"},
	{"je", "Ээ"}, {"ju", "Юю"}, {"ja", "Яя"}, {"C", "ץ"}, {"q", "ק"}, {"tm", "™"},
	{"th", "θΘ"}, {"x", "ξΞ"}, {"ps", "ψΨ"},
	// Bengali.
	{"aa", "আ"}, {"ii", "ঈ"}, {"uu", "ঊ"}, {"ri", "ৠৃ"}, {"ai", "ঐৈ"}, {"ou", "ঔ"},
	{"ka", "ক"}, {"kha", "খ"}, {"ga", "গ"}, {"gha", "ঘ"}, {"na", "ঙঞণন"}, {"ca", "চ"},
	{"cha", "ছ"}, {"ja", "জ"}, {"jha", "ঝ"}, {"ta", "টত"}, {"tha", "ঠথ"}, {"da", "ডদ"},
	{"ra", "\u09dcর"}, {"dha", "ঢধ"}, {"rha", "\u09dd"}, {"pa", "প"}, {"pha", "ফ"}, {"ba", "ব"},
	{"bha", "ভ"}, {"ma", "ম"}, {"ya", "য\u09df"}, {"la", "ল"}, {"sa", "শস"}, {"sha", "ষ"},
	{"ha", "হ"}, {"0", "০"}, {"1", "১"}, {"2", "২"}, {"3", "৩"}, {"4", "৪"}, {"5", "৫"},
	{"6", "৬"}, {"7", "৭"}, {"8", "৮"}, {"9", "৯"}, {"ee", "ী"}, {"rii", "ৄ"}, {"ow", "ৌ"},
	{"ng", "ং"}, {"nn", "ৣ"},
}

// eavTranslitMulti are the table's entries of more than one character.
var eavTranslitMulti = [][2]string{
	{"&amp;", "and"},
	{"ক্ষ", "kso"}, {"ষ্ণ", "sno"}, {"জ্ঞ", "jno"}, {"ঞ্জ", "nchho"}, {"হ্ম", "hmo"},
	{"ঞ্চ", "ncho"}, {"ঙ্ক", "ngko"}, {"ট্ট", "tto"}, {"ক্ষ্ম", "ksmo"}, {"হ্ন", "hno"},
	{"হ্ণ", "hno"}, {"ক্র", "kro"}, {"গ্ধ", "gdho"}, {"ত্র", "tro"}, {"ক্ত", "kto"},
	{"ক্স", "kso"}, {"ত্ত", "tto"}, {"ত্ম", "tmo"}, {"ক্ক", "kko"}, {"ক্ম", "kmo"},
	{"ক্ল", "klo"}, {"্য", "a"}, {"্র", "r"},
	// The nukta letters in their decomposed forms too.
	{"ড\u09bc", "ra"}, {"ঢ\u09bc", "rha"}, {"য\u09bc", "ya"},
}

// eavTranslitSigns are Bengali signs whose replacement is shared with
// letters above but listed apart to keep the groups readable.
var eavTranslitSigns = [][2]string{
	{"া", "a"}, {"ে", "a"}, {"ি", "i"}, {"ু", "o"}, {"ো", "o"}, {"়", "o"}, {"্", "h"},
}

// eavTranslitReplacer replaces like PHP's strtr with an array: at each
// position the longest key wins, and replaced text is not scanned again.
var eavTranslitReplacer = func() *strings.Replacer {
	var pairs [][2]string
	for _, g := range eavTranslit {
		for _, r := range g.chars {
			pairs = append(pairs, [2]string{string(r), g.to})
		}
	}
	pairs = append(pairs, eavTranslitMulti...)
	pairs = append(pairs, eavTranslitSigns...)
	sort.SliceStable(pairs, func(i, j int) bool { return len(pairs[i][0]) > len(pairs[j][0]) })
	args := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		args = append(args, p[0], p[1])
	}
	return strings.NewReplacer(args...)
}()

// --- BundleParentProduct ----------------------------------------------------

// newBundleParentProduct: BundleParentProduct(parentField,
// documentWithProductId, fieldWithProductId) sets the field to the product
// id of the record's bundle parent: the fieldWithProductId of the Magento 1
// (source) documentWithProductId row whose parentField equals the record's
// parentField (the first such row). No such row, a NULL parentField or an
// empty or 0 product id give 0, as in the reference.
//
// The parent rows come from the looked-up source table, so a parent written
// in the same transaction as its child is seen once the stream has
// refreshed that table; a child handled before its parent's row is read
// gets 0, as the reference would querying at that moment.
func newBundleParentProduct(p Params, b Binding) (Func, error) {
	const name = "BundleParentProduct"
	if err := hdlParams(name, p, []string{"parentField", "documentWithProductId", "fieldWithProductId"}, nil); err != nil {
		return nil, err
	}
	parent, doc, want := p["parentField"], p["documentWithProductId"], p["fieldWithProductId"]
	for _, k := range []string{"parentField", "documentWithProductId", "fieldWithProductId"} {
		if strings.TrimSpace(p[k]) == "" {
			return nil, fmt.Errorf("handler %s: param '%s' is empty", name, k)
		}
	}
	pi, err := b.IndexOf(parent)
	if err != nil {
		return nil, fmt.Errorf("handler %s: param 'parentField': %w", name, err)
	}
	l, err := b.Env.NeedLookups(name)
	if err != nil {
		return nil, err
	}
	tbl := l.Table(SideSource, doc)
	return func(rec, _ []any) error {
		var id any = int64(0)
		if s, ok := hdlString(rec[pi]); ok {
			rows, err := eavRows(tbl, parent, want)
			if err != nil {
				return fmt.Errorf("handler %s on %s.%s: %w", name, b.Table, b.Field, err)
			}
			if found := rows.Find([]string{parent}, s); len(found) > 0 {
				if v := rows.Rows[found[0]][rows.Col(want)]; hdlTruthy(v) {
					id = v
				}
			}
		}
		rec[b.Index] = id
		return nil
	}, nil
}
