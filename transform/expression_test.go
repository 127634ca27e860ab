package transform

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestExpression(t *testing.T) {
	e := func(s string) Params { return Params{"expression": s} }
	hdlRun(t, "Expression", []hdlCase{
		{name: "int arithmetic", params: e("value * 2 + 1"), in: int64(20), want: int64(41)},
		{name: "uint", params: e("value + 1"), in: uint64(41), want: int64(42)},
		{name: "float", params: e("value / 2"), in: float64(3), want: 1.5},
		{name: "float32", params: e("value * 2"), in: float32(0.5), want: 1.0},
		{name: "bytes are strings", params: e("upper(value) + '-' + lower(other)"), in: []byte("ab"), set: map[string]any{"other": []byte("CD")}, want: "AB-cd"},
		{name: "other columns", params: e("string(id) + ':' + trim(other)"), in: nil, set: map[string]any{"id": int64(7), "other": " x "}, want: "7:x"},
		{name: "nil check", params: e("value == nil ? 'none' : value"), in: nil, want: "none"},
		{name: "returns nil", params: e("nil"), in: "x", want: nil},
		{name: "bool true", params: e("value > 3"), in: int64(5), want: int64(1)},
		{name: "bool false", params: e("value startsWith 'z'"), in: "abc", want: int64(0)},
		{name: "builtins", params: e("len(split(value, ','))"), in: "a,b,c", want: int64(3)},
		{name: "ternary on column", params: e("frontend_input == 'date' ? 'D' : 'X'"), in: nil, set: map[string]any{"frontend_input": []byte("date")}, want: "D"},
		{name: "env access", params: e(`$env["other"] ?? "default"`), in: nil, want: "default"},
		{name: "date", params: e(`date("2024-01-02 03:04:05", "2006-01-02 15:04:05")`), in: nil, want: "2024-01-02 03:04:05"},
		{name: "runtime error", params: e("value + 1"), in: "a", wantErr: `"value + 1"`},
		{name: "unstorable result", params: e("[1, 2]"), in: nil, wantErr: "cannot be stored"},
	})
	hdlParamErrors(t, "Expression", []hdlParamCase{
		{Params{}, "", "'expression' is required"},
		{Params{"expression": "value +"}, "", `"value +"`},
		{Params{"expression": "no_such_column + 1"}, "", "no_such_column"},
		{Params{"expression": "value", "x": "1"}, "", "unknown param 'x'"},
	})
}

// The bound Func is shared by goroutines: each gets its own env.
func TestExpressionConcurrent(t *testing.T) {
	f, _ := LookupHandler("Expression")
	b := hdlBind("f")
	fn, err := f(Params{"expression": "string(id) + '/' + value"}, b)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				rec := make([]any, len(hdlTestTable.Columns))
				rec[0] = int64(g*1000 + i)
				rec[b.Index] = []byte(fmt.Sprint(i))
				if err := fn(rec, nil); err != nil {
					errs <- err
					return
				}
				if want := fmt.Sprintf("%d/%d", g*1000+i, i); rec[b.Index] != want {
					errs <- fmt.Errorf("got %v, want %s", rec[b.Index], want)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestExpressionNoIO(t *testing.T) {
	f, _ := LookupHandler("Expression")
	for _, src := range []string{`os.Exit(1)`, `exec("ls")`, `readFile("/etc/passwd")`} {
		if _, err := f(Params{"expression": src}, hdlBind("f")); err == nil || !strings.Contains(err.Error(), "compile") {
			t.Errorf("%s: %v", src, err)
		}
	}
}

// Every way an expression can grow a value is bounded before it allocates:
// the row fails with an error naming the limit, and one evaluation allocates
// far less than the value it was asked for.
func TestExpressionMemoryBound(t *testing.T) {
	kb := strings.Repeat("k", 1024)
	e := func(s string) Params { return Params{"expression": s} }
	// What the bound must not break.
	hdlRun(t, "Expression", []hdlCase{
		{name: "replace", params: e("replace(value, 'a', 'bb')"), in: "aXa", want: "bbXbb"},
		{name: "replace n", params: e("replace(value, 'a', 'bb', 1)"), in: "aXa", want: "bbXa"},
		{name: "repeat", params: e("repeat(value, 3)"), in: "ab", want: "ababab"},
		{name: "join", params: e("join(split(value, ','), '-')"), in: "a,b", want: "a-b"},
		{name: "string +", params: e("value + '!'"), in: "a", want: "a!"},
		{name: "number +", params: e("value + 1.5"), in: int64(1), want: 2.5},
		{name: "concat", params: e("len(concat([1], [2]))"), in: nil, want: int64(2)},
		{name: "toJSON", params: e("toJSON([value])"), in: "a", want: "[\n  \"a\"\n]"},
		{name: "upper", params: e("upper(value)"), in: "a", want: "A"},
		{name: "date + duration", params: e(`date("2024-01-02 03:04:05", "2006-01-02 15:04:05") + duration("1h")`), in: nil, want: "2024-01-02 04:04:05"},
	})
	grow := []hdlCase{
		{name: "repeat", params: e("repeat(value, 999999)"), in: kb},
		{name: "nested replace", params: e("replace(replace(value, 'k', value), 'k', value)"), in: kb},
		{name: "replace empty old", params: e("replace(value, '', value)"), in: strings.Repeat(kb, 8)},
		{name: "join of references", params: e("join(map(1..9000, value))"), in: strings.Repeat(kb, 4)},
		{name: "toJSON of references", params: e("toJSON(map(1..9000, value))"), in: strings.Repeat(kb, 4)},
		{name: "doubling +", params: e("let v1 = value + value; let v2 = v1 + v1; let v3 = v2 + v2; let v4 = v3 + v3; let v5 = v4 + v4; let v6 = v5 + v5; let v7 = v6 + v6; let v8 = v7 + v7; let v9 = v8 + v8; let v10 = v9 + v9; let v11 = v10 + v10; let v12 = v11 + v11; let v13 = v12 + v12; let v14 = v13 + v13; v14 + v14")},
		{name: "many small values", params: e("len(map(1..900000, value + 'x'))"), in: kb},
		{name: "upper of references", params: e("len(map(1..900, upper(repeat(value, 900))))"), in: kb},
	}
	for i := range grow {
		grow[i].wantErr = "limit"
		if grow[i].in == nil {
			grow[i].in = kb
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	hdlRun(t, "Expression", grow)
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 512<<20 {
		t.Errorf("the refused expressions allocated %d MiB", alloc>>20)
	}
}
