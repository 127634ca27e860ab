package transform

// This file holds the SerializeToJson variants of Magento's Data Migration
// Tool (ConvertWithConditions, ItemOption, SalesOrderItem) and
// Settings\UrlSuffix. They share SerializeToJson's conversion (serialDecode,
// serialToJSON in handlers.go).

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"

	"github.com/shiplog/shiplog/transform/phpserial"
)

func init() {
	Register(`SerializeToJson\ConvertWithConditions`, newConvertWithConditions)
	Register(`SerializeToJson\ItemOption`, newItemOption)
	Register(`SerializeToJson\SalesOrderItem`, newSalesOrderItem)
	Register(`Settings\UrlSuffix`, newURLSuffix)
}

// --- SerializeToJson\ConvertWithConditions ----------------------------------

// newConvertWithConditions: ConvertWithConditions(conditionalField,
// conditionalFieldValuesPattern, ignoreBrokenData) converts the value as
// SerializeToJson does, but only in records whose field conditionalField
// matches the PHP (PCRE) pattern conditionalFieldValuesPattern (delimiters
// and modifiers included, e.g. "/(parameters)|(info_buyRequest)/"). A NULL
// conditional field fails the row, as the reference refuses such a record.
// Broken data becomes NULL with a warning when ignoreBrokenData is true (the
// default), and fails the row otherwise.
func newConvertWithConditions(p Params, b Binding) (Func, error) {
	const name = `SerializeToJson\ConvertWithConditions`
	if err := hdlParams(name, p, []string{"conditionalField", "conditionalFieldValuesPattern"}, []string{"ignoreBrokenData"}); err != nil {
		return nil, err
	}
	ignore, err := hdlBool(name, p, "ignoreBrokenData", true)
	if err != nil {
		return nil, err
	}
	cf := p["conditionalField"]
	if cf == "" {
		return nil, fmt.Errorf("handler %s: param 'conditionalField' is empty; name the field whose value selects the records", name)
	}
	ci, err := b.IndexOf(cf)
	if err != nil {
		return nil, fmt.Errorf("handler %s: param 'conditionalField': %w", name, err)
	}
	re, err := serialPCRE(p["conditionalFieldValuesPattern"])
	if err != nil {
		return nil, fmt.Errorf("handler %s: param 'conditionalFieldValuesPattern': %w", name, err)
	}
	return func(rec, _ []any) error {
		c, ok := hdlString(rec[ci])
		if !ok {
			return fmt.Errorf("handler %s on %s.%s: conditional field %s is NULL", name, b.Table, b.Field, cf)
		}
		if rec[b.Index] == nil || !re.MatchString(c) {
			return nil
		}
		out, conv, err := serialToJSON(rec[b.Index])
		switch {
		case err == nil:
			if conv {
				rec[b.Index] = out
			}
		case !ignore:
			return fmt.Errorf("handler %s on %s.%s (%s %q): %w", name, b.Table, b.Field, cf, c, err)
		default:
			serialWarnBroken(name, b, rec, err)
			rec[b.Index] = nil
		}
		return nil
	}, nil
}

// --- SerializeToJson\ItemOption ---------------------------------------------

// serialItemOptionCode selects the custom-option rows of quote and wishlist
// item options ("option_12"); unanchored, as in the reference.
var serialItemOptionCode = regexp.MustCompile(`option_\d+`)

// newItemOption: ItemOption() converts the serialized value of an item option
// whose record's code matches /option_\d+/ to JSON. A value that does not
// unserialize (a plain text option, an option id, JSON already, "") is kept
// as it is, and so is "b:0;", as the reference cannot tell it from a failure.
// Valid serialized data shiplog cannot decode (PHP references) or that has
// no JSON form (INF, NAN, non-UTF-8 strings) fails the row: the reference
// would convert the first and store an empty value for the second.
func newItemOption(p Params, b Binding) (Func, error) {
	const name = `SerializeToJson\ItemOption`
	if err := hdlParams(name, p, nil, nil); err != nil {
		return nil, err
	}
	ci, err := b.IndexOf("code")
	if err != nil {
		return nil, fmt.Errorf("handler %s needs the record's option code: %w", name, err)
	}
	return func(rec, _ []any) error {
		code, ok := hdlString(rec[ci])
		if !ok {
			return fmt.Errorf("handler %s on %s.%s: field code is NULL", name, b.Table, b.Field)
		}
		v := rec[b.Index]
		if v == nil || !serialItemOptionCode.MatchString(code) {
			return nil
		}
		var raw []byte
		if x, ok := v.([]byte); ok {
			raw = x
		} else {
			s, _ := hdlString(v)
			raw = []byte(s)
		}
		u, err := phpserial.Unmarshal(raw)
		var syn *phpserial.SyntaxError
		if errors.As(err, &syn) || (err == nil && u == false) {
			return nil
		}
		var j []byte
		if err == nil {
			j, err = phpserial.ToJSON(u)
		}
		if err != nil {
			return fmt.Errorf("handler %s on %s.%s (code %q): %w", name, b.Table, b.Field, code, err)
		}
		rec[b.Index] = string(j)
		return nil
	}, nil
}

// --- SerializeToJson\SalesOrderItem -----------------------------------------

// newSalesOrderItem: SalesOrderItem(ignoreBrokenData) converts an order
// item's serialized product_options to JSON as Magento 2 stores them: the
// option_value of each file-type custom option (options[*].option_type
// "file") and bundle_selection_attributes are serialized values of their
// own, and become JSON strings inside the JSON (an empty or "0" one is
// encoded as it is). Values are left alone as SerializeToJson leaves them
// (NULL, "", JSON already). Outer data that does not unserialize or has no
// JSON form becomes NULL with a warning when ignoreBrokenData is true (the
// default) and fails the row otherwise;
// broken inner data, an options entry that is not an array, a file option
// without option_value, or a top-level object always fail the row (the
// reference stops there).
func newSalesOrderItem(p Params, b Binding) (Func, error) {
	const name = `SerializeToJson\SalesOrderItem`
	if err := hdlParams(name, p, nil, []string{"ignoreBrokenData"}); err != nil {
		return nil, err
	}
	ignore, err := hdlBool(name, p, "ignoreBrokenData", true)
	if err != nil {
		return nil, err
	}
	return func(rec, _ []any) error {
		u, conv, err := serialDecode(rec[b.Index])
		if err == nil && !conv {
			return nil
		}
		var out []byte
		if err == nil {
			if err = serialOrderItemInner(u); err != nil {
				return fmt.Errorf("handler %s on %s.%s: %w", name, b.Table, b.Field, err)
			}
			out, err = phpserial.ToJSON(u)
		}
		switch {
		case err == nil:
			rec[b.Index] = string(out)
		case !ignore:
			return fmt.Errorf("handler %s on %s.%s: %w", name, b.Table, b.Field, err)
		default:
			serialWarnBroken(name, b, rec, err)
			rec[b.Index] = nil
		}
		return nil
	}, nil
}

// serialOrderItemInner replaces the serialized values inside decoded
// product_options with their JSON (as strings).
func serialOrderItemInner(u any) error {
	if o, ok := u.(*phpserial.Object); ok {
		return fmt.Errorf("product options are an object of class %s, not an array", o.Class)
	}
	a, ok := u.(*phpserial.Array)
	if !ok {
		return nil
	}
	if opts := serialGet(a, "options"); opts != nil && opts.Value != nil {
		list, ok := opts.Value.(*phpserial.Array)
		if !ok {
			return fmt.Errorf("options is a %s, not an array", serialKind(opts.Value))
		}
		for _, e := range list.Entries {
			opt, ok := e.Value.(*phpserial.Array)
			if !ok {
				continue
			}
			if t := serialGet(opt, "option_type"); t == nil || t.Value != "file" {
				continue
			}
			ov := serialGet(opt, "option_value")
			if ov == nil {
				return fmt.Errorf("file option %v has no option_value", e.Key)
			}
			if err := serialInnerJSON(ov); err != nil {
				return fmt.Errorf("option_value of file option %v: %w", e.Key, err)
			}
		}
	}
	if bsa := serialGet(a, "bundle_selection_attributes"); bsa != nil && bsa.Value != nil {
		if err := serialInnerJSON(bsa); err != nil {
			return fmt.Errorf("bundle_selection_attributes: %w", err)
		}
	}
	return nil
}

// serialInnerJSON replaces e's value, a serialized string, with its JSON;
// a value false in PHP's sense is encoded as it is.
func serialInnerJSON(e *phpserial.Entry) error {
	v := e.Value
	if serialTruthy(v) {
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s value is no serialized data", serialKind(v))
		}
		var err error
		if v, err = phpserial.Unmarshal([]byte(s)); err != nil {
			return err
		}
	}
	j, err := phpserial.ToJSON(v)
	if err != nil {
		return err
	}
	e.Value = string(j)
	return nil
}

// serialGet returns the entry of a with string key k, or nil.
func serialGet(a *phpserial.Array, k string) *phpserial.Entry {
	for i := range a.Entries {
		if a.Entries[i].Key == k {
			return &a.Entries[i]
		}
	}
	return nil
}

// serialTruthy is PHP's boolean conversion of an unserialized value.
func serialTruthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != "" && x != "0"
	case *phpserial.Array:
		return len(x.Entries) > 0
	}
	return true
}

func serialKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case int64:
		return "integer"
	case float64:
		return "float"
	case string:
		return "string"
	case *phpserial.Array:
		return "array"
	case *phpserial.Object:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// --- Settings\UrlSuffix -----------------------------------------------------

// newURLSuffix: Settings\UrlSuffix() prefixes a URL suffix setting with a
// dot when it has none ("html" -> ".html"). Values false in PHP's sense
// (NULL, "", "0") are kept.
func newURLSuffix(p Params, b Binding) (Func, error) {
	if err := hdlParams(`Settings\UrlSuffix`, p, nil, nil); err != nil {
		return nil, err
	}
	return func(rec, _ []any) error {
		v := rec[b.Index]
		switch v.(type) {
		case string, []byte:
		default:
			return nil // only strings are changed, as in the reference
		}
		if s, _ := hdlString(v); hdlTruthy(s) && s[0] != '.' {
			rec[b.Index] = "." + s
		}
		return nil
	}, nil
}

// --- PHP patterns -----------------------------------------------------------

// serialPCRE compiles a PHP preg pattern ("/body/flags") for Go's regexp,
// for a true/false match as preg_match gives it. Delimiters may be any
// non-alphanumeric, non-backslash character, or a bracket pair. Modifiers
// i, m, s, U, A and D are honoured, u and S accepted; x and anything else is
// an error, as are PCRE features Go's regexp does not have (back
// references, look-around). Without D or m, '$' also matches before a
// final newline, as in PCRE.
func serialPCRE(pat string) (*regexp.Regexp, error) {
	p := strings.TrimLeft(pat, " \t\n\r\v\f")
	if p == "" {
		return nil, fmt.Errorf("empty pattern; want a PHP pattern such as /code/")
	}
	open := p[0]
	if open == 0 || open == '\\' || (open >= '0' && open <= '9') || (open|0x20 >= 'a' && open|0x20 <= 'z') {
		return nil, fmt.Errorf("pattern %q: delimiter must not be alphanumeric or a backslash", pat)
	}
	end := open
	switch open {
	case '(':
		end = ')'
	case '[':
		end = ']'
	case '{':
		end = '}'
	case '<':
		end = '>'
	}
	closeAt, depth := -1, 0
	for i := 1; i < len(p) && closeAt < 0; i++ {
		switch c := p[i]; {
		case c == '\\':
			i++
		case c == end && depth == 0:
			closeAt = i
		case c == end:
			depth--
		case c == open && end != open:
			depth++
		}
	}
	if closeAt < 0 {
		return nil, fmt.Errorf("pattern %q has no ending delimiter %q", pat, end)
	}
	body, mods := p[1:closeAt], p[closeAt+1:]
	var flags syntax.Flags = syntax.Perl
	anchored, dollarEnd := false, false
	for _, m := range mods {
		switch m {
		case 'i':
			flags |= syntax.FoldCase
		case 'm':
			flags &^= syntax.OneLine
		case 's':
			flags |= syntax.DotNL
		case 'U':
			flags |= syntax.NonGreedy
		case 'A':
			anchored = true
		case 'D':
			dollarEnd = true
		case 'u', 'S', '\n', '\r', ' ':
		default:
			return nil, fmt.Errorf("pattern %q: modifier %q is not supported", pat, m)
		}
	}
	re, err := syntax.Parse(body, flags)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pat, err)
	}
	if !dollarEnd {
		re = serialPCREDollar(re)
	}
	expr := re.String()
	if anchored {
		expr = `\A(?:` + expr + `)`
	}
	return regexp.Compile(expr)
}

// serialPCREDollar makes each end-of-text assertion of re also match before
// a final newline (PCRE's '$' without the D modifier); consuming that
// newline does not change whether the pattern matches.
func serialPCREDollar(re *syntax.Regexp) *syntax.Regexp {
	if re.Op == syntax.OpEndText && re.Flags&syntax.WasDollar != 0 {
		nl := &syntax.Regexp{Op: syntax.OpQuest, Sub: []*syntax.Regexp{{Op: syntax.OpLiteral, Rune: []rune{'\n'}}}}
		return &syntax.Regexp{Op: syntax.OpConcat, Sub: []*syntax.Regexp{nl, re}}
	}
	for i, s := range re.Sub {
		re.Sub[i] = serialPCREDollar(s)
	}
	return re
}
