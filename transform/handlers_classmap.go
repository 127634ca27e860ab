package transform

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/shiplog/shiplog/transform/phpserial"
)

// The handlers of Magento's tool that rename Magento 1 class names with the
// class map (Env.ClassMap, read from class-map.xml by ReadClassMap). In the
// class map, a class mapped to "" is one Magento 2 has no counterpart for.
func init() {
	Register("ClassMap", newClassMapHandler)
	Register(`EavAttribute\ConvertModel`, newConvertModel)
	Register("Placeholder", newPlaceholder)
	Register(`Rule\SerializedData`, newRuleSerializedData)
}

// hdlNeedClassMap returns the class map, or the bind error telling the user
// how to give one.
func hdlNeedClassMap(handler string, b Binding) (map[string]string, error) {
	if b.Env == nil || b.Env.ClassMap == nil {
		return nil, fmt.Errorf("handler %s renames Magento 1 classes and no class map was read: set the class_map option in config.xml (<class_map>etc/opensource-to-opensource/class-map.xml.dist</class_map>)", handler)
	}
	return b.Env.ClassMap, nil
}

// hdlOnceMax bounds the subjects one bound handler logs (and remembers).
const hdlOnceMax = 100

// hdlOnce logs a warning once per distinct subject (a class name, a widget
// type) for one bound handler: rows repeat the same few names. Past
// hdlOnceMax subjects it says so once and logs no more.
type hdlOnce struct {
	mu   sync.Mutex
	seen map[string]bool
	full bool
}

func (o *hdlOnce) warn(subject, msg string, args ...any) {
	o.mu.Lock()
	first := !o.seen[subject] && !o.full
	if first {
		if o.seen == nil {
			o.seen = map[string]bool{}
		}
		if len(o.seen) == hdlOnceMax {
			o.full = true
			msg += " (the last such warning of this handler)"
		}
		o.seen[subject] = true
	}
	o.mu.Unlock()
	if first {
		hdlWarn(msg, args...)
	}
}

// --- ClassMap ---------------------------------------------------------------

// newClassMapHandler: ClassMap (no params) replaces a Magento 1 class name
// with its Magento 2 one. As in Magento's tool, a class the map drops, a
// class it does not know, "" and NULL all become NULL; shiplog logs each
// unknown class once.
func newClassMapHandler(p Params, b Binding) (Func, error) {
	const name = "ClassMap"
	if err := hdlParams(name, p, nil, nil); err != nil {
		return nil, err
	}
	cm, err := hdlNeedClassMap(name, b)
	if err != nil {
		return nil, err
	}
	var once hdlOnce
	return func(rec, _ []any) error {
		s, ok := hdlString(rec[b.Index])
		to, known := cm[s]
		if ok && s != "" && !known {
			once.warn(s, "class is not in the class map; migrating NULL, as Magento's tool does",
				"table", b.Table, "field", b.Field, "class", s)
		}
		if !known || !hdlTruthy(to) {
			rec[b.Index] = nil
			return nil
		}
		rec[b.Index] = to
		return nil
	}, nil
}

// --- EavAttribute\ConvertModel ------------------------------------------------

// newConvertModel: EavAttribute\ConvertModel (no params) converts the model
// class of an EAV attribute or entity type. When this record's value is
// empty in PHP's sense (NULL, "", "0"), the opposite record's value of the
// same field is kept if it has one, and NULL is written otherwise; a class
// the map drops becomes NULL; a known class becomes its Magento 2 name.
//
// A class the map does not know is where shiplog is stricter than the
// handler: Magento's EAV integrity check refuses such classes unless it runs
// with --auto, which then writes NULL. So the row fails, naming the class,
// unless the auto_resolve option is set (Magento's name for --auto): then
// NULL is written and the class logged once.
func newConvertModel(p Params, b Binding) (Func, error) {
	const name = `EavAttribute\ConvertModel`
	if err := hdlParams(name, p, nil, nil); err != nil {
		return nil, err
	}
	cm, err := hdlNeedClassMap(name, b)
	if err != nil {
		return nil, err
	}
	oi := -1
	if b.Other != nil {
		oi = b.Other.ColumnIndex(b.Field)
	}
	auto := hdlTruthy(b.Env.Option("auto_resolve"))
	var once hdlOnce
	return func(rec, other []any) error {
		v := rec[b.Index]
		if !hdlTruthy(v) {
			rec[b.Index] = nil
			if oi >= 0 && oi < len(other) && hdlTruthy(other[oi]) {
				rec[b.Index] = other[oi]
			}
			return nil
		}
		s, _ := hdlString(v)
		to, known := cm[s]
		if !known {
			if !auto {
				return fmt.Errorf("class %q is not in the class map: add a <rename> of it to class-map.xml (an empty <to/> migrates NULL), or set the auto_resolve option to migrate NULL as Magento's tool does with --auto", s)
			}
			once.warn(s, "class is not in the class map; migrating NULL (auto_resolve)",
				"table", b.Table, "field", b.Field, "class", s)
			rec[b.Index] = nil
			return nil
		}
		if !hdlTruthy(to) {
			rec[b.Index] = nil
			return nil
		}
		rec[b.Index] = to
		return nil
	}, nil
}

// --- Placeholder ------------------------------------------------------------

// Magento's Placeholder works on CMS directives on one line ('.' does not
// cross a newline) with lazy repetition; Go's leftmost-first matching picks
// the same matches as PCRE's backtracking.
var (
	// hdlPlaceholderAny finds a {{widget ...}} or {{block ...}} directive.
	hdlPlaceholderAny = regexp.MustCompile(`(\{\{widget|\{\{block).*?\}\}`)
	// hdlPlaceholderTemplate cuts the first path segment (the Magento 1
	// module's folder) off a directive's template="...".
	hdlPlaceholderTemplate = regexp.MustCompile(`(\{\{widget|\{\{block)(.*?template=")(.*?/)(.*?".*?\}\})`)
	// hdlPlaceholderOldWidget is a widget whose type is still a Magento 1
	// alias ("group/name"): the class map did not know it.
	hdlPlaceholderOldWidget = regexp.MustCompile(`\{\{widget type="([\w\-_]+/[\w\-_]+)".+?\}\}`)
)

// newPlaceholder: Placeholder (no params) rewrites the CMS directives of a
// page, block or template for Magento 2, as Magento's tool does, when the
// text has a {{widget ...}} or {{block ...}} directive: every type="class"
// of a class in the map becomes type="Magento\\Class\\Name" (backslashes
// doubled, as directives escape them; a class the map drops becomes
// type=""), the first folder of a directive's template="..." path is cut
// off, and {{widget}} directives whose type is still a Magento 1 alias are
// removed (shiplog logs each such type once). Other text, NULL included, is
// left alone.
func newPlaceholder(p Params, b Binding) (Func, error) {
	const name = "Placeholder"
	if err := hdlParams(name, p, nil, nil); err != nil {
		return nil, err
	}
	cm, err := hdlNeedClassMap(name, b)
	if err != nil {
		return nil, err
	}
	types, err := hdlPlaceholderTypes(cm)
	if err != nil {
		return nil, fmt.Errorf("handler %s: %w", name, err)
	}
	var once hdlOnce
	return func(rec, _ []any) error {
		var s string
		switch x := rec[b.Index].(type) {
		case string:
			s = x
		case []byte:
			s = string(x)
		default:
			return nil // NULL; numbers have no directives
		}
		if !hdlPlaceholderAny.MatchString(s) {
			return nil
		}
		out := types.Replace(s)
		out = hdlPlaceholderTemplate.ReplaceAllString(out, "${1}${2}${4}")
		for _, m := range hdlPlaceholderOldWidget.FindAllStringSubmatch(out, -1) {
			once.warn(m[1], "CMS widget type is not in the class map; its directive is removed, as Magento's tool does",
				"table", b.Table, "field", b.Field, "type", m[1])
		}
		out = hdlPlaceholderOldWidget.ReplaceAllString(out, "")
		if out != s {
			rec[b.Index] = out
		}
		return nil
	}, nil
}

// hdlPlaceholderTypes returns the replacer of type="class" attributes.
// Magento replaces the classes one after the other in the class map's
// order; that equals replacing them all at once, which the replacer does,
// as long as no class name has a quote and no replacement is itself a
// class of the map. A map breaking that is refused (its result would depend
// on the file's order, which the map does not keep).
func hdlPlaceholderTypes(cm map[string]string) (*strings.Replacer, error) {
	froms := make([]string, 0, len(cm))
	for from := range cm {
		froms = append(froms, from)
	}
	sort.Strings(froms)
	pairs := make([]string, 0, 2*len(froms))
	for _, from := range froms {
		to := strings.ReplaceAll(cm[from], `\`, `\\`)
		if strings.Contains(from, `"`) || strings.Contains(to, `"`) {
			return nil, fmt.Errorf("class map entry %q -> %q has a double quote, which a directive's type=\"...\" cannot hold", from, cm[from])
		}
		if _, ok := cm[to]; ok && to != from {
			return nil, fmt.Errorf("class map entry %q -> %q: the directive type %q it writes is itself a class of the map, so the result would depend on the order of the file's entries", from, cm[from], to)
		}
		pairs = append(pairs, `type="`+from+`"`, `type="`+to+`"`)
	}
	return strings.NewReplacer(pairs...), nil
}

// --- Rule\SerializedData ----------------------------------------------------

// newRuleSerializedData: Rule\SerializedData (no params) renames the classes
// in a serialized catalog or cart price rule (conditions_serialized,
// actions_serialized): the value is unserialized and, when it is an array,
// every string in it (at any depth; keys and other values untouched) that
// the class map renames to a non-empty class is replaced, and the array is
// serialized again with PHP's serialize(). The result stays PHP-serialized,
// as Magento's tool writes it: the stock map converts it to JSON with
// SerializeToJson on the destination side. NULL, "" and values that are no
// array (false, a string, an object) are left alone. Data that does not
// unserialize fails the row, where Magento's tool stops the migration.
func newRuleSerializedData(p Params, b Binding) (Func, error) {
	const name = `Rule\SerializedData`
	if err := hdlParams(name, p, nil, nil); err != nil {
		return nil, err
	}
	cm, err := hdlNeedClassMap(name, b)
	if err != nil {
		return nil, err
	}
	return func(rec, _ []any) error {
		var raw []byte
		switch x := rec[b.Index].(type) {
		case nil:
			return nil
		case []byte:
			raw = x
		default:
			s, _ := hdlString(x)
			raw = []byte(s)
		}
		if len(raw) == 0 {
			return nil
		}
		v, err := phpserial.Unmarshal(raw)
		if err != nil {
			if errors.Is(err, phpserial.ErrUnsupported) {
				return fmt.Errorf("the serialized rule uses a form shiplog does not decode: %w", err)
			}
			return fmt.Errorf("the serialized rule is broken (re-save the rule in Magento 1's admin, or fix the value): %w", err)
		}
		a, ok := v.(*phpserial.Array)
		if !ok {
			return nil
		}
		hdlRenameClasses(a, cm)
		out, err := phpserial.Marshal(a)
		if err != nil {
			return fmt.Errorf("serialize the rule again: %w", err)
		}
		rec[b.Index] = string(out)
		return nil
	}, nil
}

// hdlRenameClasses replaces, in place, the strings of a (and of its arrays)
// that the class map renames to a non-empty class.
func hdlRenameClasses(a *phpserial.Array, cm map[string]string) {
	for i := range a.Entries {
		switch x := a.Entries[i].Value.(type) {
		case *phpserial.Array:
			hdlRenameClasses(x, cm)
		case string:
			if to := cm[x]; to != "" {
				a.Entries[i].Value = to
			}
		}
	}
}
