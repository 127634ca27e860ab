package transform

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
)

// newExpression: Expression(expression) sets the field to the result of an
// expr-lang expression (https://expr-lang.org), compiled once here. The
// expression sees every field of the record by name, and `value`, the
// handled field (which wins over a field named "value"); []byte values are
// strings, NULL is nil, other values keep their canonical Go types. Only
// expr's builtins are available (no I/O); now() is in UTC. The result is
// stored as int64 (integers, and booleans as 0/1), uint64 (above int64),
// float64, string, nil, or 'Y-m-d H:i:s' UTC text for a time.
func newExpression(p Params, b Binding) (Func, error) {
	if err := hdlParams("Expression", p, []string{"expression"}, nil); err != nil {
		return nil, err
	}
	src := p["expression"]
	var names []string
	if b.Rec != nil {
		for _, c := range b.Rec.Columns {
			names = append(names, c.Name)
		}
	}
	// Every variable is typed any: values are only known per row.
	env := make(types.Map, len(names)+1)
	for _, n := range names {
		env[n] = types.Any
	}
	env["value"] = types.Any
	// Each pooled state has its own program: its measured functions charge
	// the state's budget. Compiled once here for the errors.
	compile := func(budget *exprBudget) (*vm.Program, error) {
		return expr.Compile(src, append([]expr.Option{expr.Env(env), expr.Timezone("UTC")}, budgetOptions(budget)...)...)
	}
	if _, err := compile(&exprBudget{}); err != nil {
		return nil, fmt.Errorf("handler Expression: cannot compile %q: %w", src, err)
	}
	// Plans are shared by goroutines: each run takes an env map, a VM and a
	// program from the pool and refills the map in place.
	type state struct {
		env    map[string]any
		vm     vm.VM
		budget exprBudget
		prog   *vm.Program
		err    error
	}
	pool := sync.Pool{New: func() any {
		st := &state{env: make(map[string]any, len(names)+1)}
		st.prog, st.err = compile(&st.budget)
		return st
	}}
	return func(rec, _ []any) error {
		st := pool.Get().(*state)
		defer pool.Put(st)
		if st.err != nil {
			return fmt.Errorf("handler Expression on %s.%s: %q: %w", b.Table, b.Field, src, st.err)
		}
		st.budget.used = 0
		for i, n := range names {
			var v any
			if i < len(rec) {
				v = exprValue(rec[i])
			}
			st.env[n] = v
		}
		st.env["value"] = exprValue(rec[b.Index])
		out, err := st.vm.Run(st.prog, st.env)
		var v any
		if err == nil {
			v, err = exprResult(out)
		}
		if err != nil {
			return fmt.Errorf("handler Expression on %s.%s: %q: %w", b.Table, b.Field, src, err)
		}
		rec[b.Index] = v
		return nil
	}, nil
}

func exprValue(v any) any {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v
}

func exprResult(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		if len(x) > exprMaxValue {
			return nil, fmt.Errorf("result of %d bytes is over the limit of %d bytes", len(x), exprMaxValue)
		}
		return x, nil
	case []byte:
		if len(x) > exprMaxValue {
			return nil, fmt.Errorf("result of %d bytes is over the limit of %d bytes", len(x), exprMaxValue)
		}
		return x, nil
	case bool:
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return x, nil
	case uint:
		return exprUint(uint64(x)), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		return exprUint(x), nil
	case float32:
		return float64(x), nil
	case float64:
		return x, nil
	case time.Time:
		return x.UTC().Format(hdlDateTime), nil
	}
	return nil, fmt.Errorf("result of type %T cannot be stored", v)
}

func exprUint(u uint64) any {
	if u <= math.MaxInt64 {
		return int64(u)
	}
	return u
}
