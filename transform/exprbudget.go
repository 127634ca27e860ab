package transform

import (
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/vm/runtime"
)

// Expression memory bounds. expr's own budget counts elements of ranges and
// arrays, not bytes, and leaves most string functions out: replace() nested
// twice, or a string doubled by + in a few lets, reach gigabytes for one row.
// Every function that can build a value larger than its arguments, and +, is
// checked here before it allocates.
const (
	// exprMaxValue bounds one value an expression builds (and its result).
	exprMaxValue = 16 << 20
	// exprMaxRow bounds all values an expression builds for one row.
	exprMaxRow = 64 << 20
)

// exprBudget counts the bytes one evaluation has built. It belongs to one
// pooled state, so to one goroutine at a time.
type exprBudget struct{ used int64 }

// take accounts for a value of n bytes built by fn, or refuses it.
func (b *exprBudget) take(fn string, n int64) error {
	if n > exprMaxValue {
		return fmt.Errorf("%s would build a value of %d bytes, over the limit of %d bytes per value", fn, n, exprMaxValue)
	}
	b.used += n
	if b.used > exprMaxRow {
		return fmt.Errorf("%s: the expression built more than %d bytes for this row (the limit)", fn, exprMaxRow)
	}
	return nil
}

// exprAdd is the function + becomes.
const exprAdd = "_shiplog_add"

// addPatch turns every a + b into _shiplog_add(a, b), so string
// concatenation is measured.
type addPatch struct{}

func (addPatch) Visit(node *ast.Node) {
	if b, ok := (*node).(*ast.BinaryNode); ok && b.Operator == "+" {
		ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: exprAdd}, Arguments: []ast.Node{b.Left, b.Right}})
	}
}

// growth is how many bytes each builtin may build, at most, per byte of its
// arguments (measured by exprSize), for the builtins whose result can be
// larger than their arguments' strings; repeat, replace and join have exact
// sizes below.
var growth = map[string]int64{
	"toJSON": 6, "string": 4, "upper": 3, "lower": 3, "toBase64": 2,
	"split": 20, "splitAfter": 20, "fromJSON": 20, "concat": 1, "flatten": 1,
	"repeat": 0, "replace": 0, "join": 0,
}

// budgetOptions replaces the growing builtins and + with measured versions
// charging b.
func budgetOptions(b *exprBudget) []expr.Option {
	opts := []expr.Option{
		expr.Patch(addPatch{}),
		expr.Function(exprAdd, func(args ...any) (any, error) {
			x, y := args[0], args[1]
			if sx, ok := x.(string); ok {
				if sy, ok := y.(string); ok {
					if err := b.take("+", int64(len(sx))+int64(len(sy))); err != nil {
						return nil, err
					}
					return sx + sy, nil
				}
			}
			return runtime.Add(x, y), nil
		}),
	}
	for _, f := range builtin.Builtins {
		factor, ok := growth[f.Name]
		if !ok {
			continue
		}
		orig, name := f, f.Name
		call := func(args ...any) (any, error) {
			switch {
			case orig.Safe != nil:
				v, _, err := orig.Safe(args...)
				return v, err
			case orig.Fast != nil && len(args) == 1:
				return orig.Fast(args[0]), nil
			case orig.Func != nil:
				return orig.Func(args...)
			}
			return nil, fmt.Errorf("%s: cannot be called with %d arguments", name, len(args))
		}
		wrapped := &builtin.Function{Name: name, Types: orig.Types, Validate: orig.Validate, Deref: orig.Deref, Func: func(args ...any) (any, error) {
			n, err := builtSize(name, factor, args)
			if err != nil {
				return nil, err
			}
			if err := b.take(name+"()", n); err != nil {
				return nil, err
			}
			return call(args...)
		}}
		opts = append(opts, func(c *conf.Config) { c.Functions[name] = wrapped })
	}
	return opts
}

// builtSize is the most bytes builtin name builds from args.
func builtSize(name string, factor int64, args []any) (int64, error) {
	str := func(i int) string {
		if i < len(args) {
			s, _ := args[i].(string)
			return s
		}
		return ""
	}
	switch name {
	case "repeat":
		n, ok := args[1].(int)
		if !ok {
			n = runtime.ToInt(args[1])
		}
		if n < 0 {
			return 0, nil // repeat reports it
		}
		return sat(int64(len(str(0))), int64(n)), nil
	case "replace":
		s, old, nw := str(0), str(1), str(2)
		count := int64(strings.Count(s, old))
		if old == "" {
			count = int64(utf8.RuneCountInString(s)) + 1
		}
		if len(args) == 4 {
			if n := int64(runtime.ToInt(args[3])); n >= 0 && n < count {
				count = n
			}
		}
		return int64(len(s)) + sat(count, max(int64(len(nw))-int64(len(old)), 0)), nil
	case "join":
		return exprSize(args[0]) + sat(exprLen(args[0]), int64(len(str(1)))), nil
	}
	var n int64
	for _, a := range args {
		n += exprSize(a)
	}
	return sat(n, factor), nil
}

// sat is a*b, saturated instead of overflowing.
func sat(a, b int64) int64 {
	if a != 0 && b > (1<<62)/a {
		return 1 << 62
	}
	return a * b
}

func isList(v any) bool {
	k := reflect.ValueOf(v).Kind()
	return k == reflect.Slice || k == reflect.Array
}

func exprLen(v any) int64 {
	if isList(v) {
		return int64(reflect.ValueOf(v).Len())
	}
	return 0
}

// exprSize estimates the bytes of v: its strings' lengths, and 16 per
// element or entry. A list holding one string a million times counts it a
// million times: that is what toJSON or join would build from it.
func exprSize(v any) int64 {
	switch x := v.(type) {
	case nil:
		return 0
	case string:
		return int64(len(x))
	case []byte:
		return int64(len(x))
	case []any:
		n := int64(16 * len(x))
		for _, e := range x {
			n += exprSize(e)
			if n > 1<<40 {
				return n
			}
		}
		return n
	case map[string]any:
		n := int64(32 * len(x))
		for k, e := range x {
			n += int64(len(k)) + exprSize(e)
			if n > 1<<40 {
				return n
			}
		}
		return n
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		n := int64(16 * rv.Len())
		for i := 0; i < rv.Len() && n <= 1<<40; i++ {
			n += exprSize(rv.Index(i).Interface())
		}
		return n
	case reflect.Map:
		n := int64(32 * rv.Len())
		for it := rv.MapRange(); it.Next() && n <= 1<<40; {
			n += exprSize(it.Key().Interface()) + exprSize(it.Value().Interface())
		}
		return n
	}
	return 16
}
