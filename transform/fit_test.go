package transform

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
)

func typedCol(name, dataType, columnType, charset string) cdc.Column {
	return cdc.Column{Name: name, DataType: dataType, ColumnType: columnType, Charset: charset,
		Unsigned: strings.Contains(columnType, "unsigned"), Nullable: true}
}

// TestNarrowingTypes: narrower destination types are found, with the
// reason; equal and wider ones are not.
func TestNarrowingTypes(t *testing.T) {
	cases := []struct {
		src, dst cdc.Column
		narrow   string // part of the reason; "" for none
	}{
		{typedCol("a", "decimal", "decimal(10,2)", ""), typedCol("a", "decimal", "decimal(5,2)", ""), "integer digits"},
		{typedCol("a", "decimal", "decimal(10,4)", ""), typedCol("a", "decimal", "decimal(12,2)", ""), "decimals would be rounded"},
		{typedCol("a", "decimal", "decimal(10,2)", ""), typedCol("a", "decimal", "decimal(12,4)", ""), ""},
		{typedCol("a", "varchar", "varchar(20)", "utf8mb4"), typedCol("a", "varchar", "varchar(5)", "utf8mb4"), "20 characters do not fit in 5"},
		{typedCol("a", "varchar", "varchar(20)", "utf8mb3"), typedCol("a", "varchar", "varchar(20)", "utf8mb4"), ""},
		{typedCol("a", "varchar", "varchar(20)", "utf8mb4"), typedCol("a", "varchar", "varchar(20)", "latin1"), "character set latin1"},
		{typedCol("a", "varchar", "varchar(255)", "utf8mb3"), typedCol("a", "text", "text", "utf8mb4"), ""},
		{typedCol("a", "text", "text", "utf8mb4"), typedCol("a", "varchar", "varchar(255)", "utf8mb4"), "do not fit in 255"},
		{typedCol("a", "mediumtext", "mediumtext", "utf8mb4"), typedCol("a", "text", "text", "utf8mb4"), "bytes do not fit"},
		{typedCol("a", "int", "int(11)", ""), typedCol("a", "int", "int(10) unsigned", ""), "negative values"},
		{typedCol("a", "int", "int(10) unsigned", ""), typedCol("a", "bigint", "bigint(20)", ""), ""},
		{typedCol("a", "int", "int(11)", ""), typedCol("a", "smallint", "smallint(6)", ""), "clipped"},
		{typedCol("a", "smallint", "smallint(5) unsigned", ""), typedCol("a", "int", "int(11)", ""), ""},
		{typedCol("a", "int", "int(11)", ""), typedCol("a", "decimal", "decimal(12,2)", ""), ""},
		{typedCol("a", "bigint", "bigint(20)", ""), typedCol("a", "double", "double", ""), "rounded"},
		{typedCol("a", "double", "double", ""), typedCol("a", "float", "float", ""), "rounded"},
		{typedCol("a", "datetime", "datetime(6)", ""), typedCol("a", "datetime", "datetime", ""), "fractional"},
		{typedCol("a", "timestamp", "timestamp", ""), typedCol("a", "datetime", "datetime", ""), ""},
		{typedCol("a", "datetime", "datetime", ""), typedCol("a", "timestamp", "timestamp", ""), "range"},
		{typedCol("a", "enum", "enum('a','b','c')", "utf8mb4"), typedCol("a", "enum", "enum('a','b')", "utf8mb4"), "'c'"},
		{typedCol("a", "enum", "enum('a','b')", "utf8mb4"), typedCol("a", "enum", "enum('a','b','c')", "utf8mb4"), ""},
		{typedCol("a", "varbinary", "varbinary(16)", "binary"), typedCol("a", "binary", "binary(8)", "binary"), "16 bytes"},
	}
	for _, c := range cases {
		why, _ := narrowing(parseColType(&c.src), parseColType(&c.dst))
		if (why == "") != (c.narrow == "") || !strings.Contains(why, c.narrow) {
			t.Errorf("%s -> %s %s: %q, want %q", c.src.ColumnType+" "+c.src.Charset, c.dst.ColumnType, c.dst.Charset, why, c.narrow)
		}
	}
}

// TestNarrowColumnsInThePlan: the integrity check names the field and both
// types, blocking unless a datatype ignore rule covers it; the plan then
// copies values that fit exactly and returns the others as failed rows.
func TestNarrowColumnsInThePlan(t *testing.T) {
	src := &cdc.Table{Name: "t", Key: []int{0}, Columns: []cdc.Column{typedCol("id", "int", "int(11)", ""),
		typedCol("price", "decimal", "decimal(10,2)", ""), typedCol("code", "varchar", "varchar(20)", "utf8mb4"),
		typedCol("note", "varchar", "varchar(20)", "utf8mb4"), typedCol("d", "date", "date", ""), typedCol("e", "enum", "enum('a','b')", "utf8mb4")}}
	dst := &cdc.Table{Name: "t", Key: []int{0}, Columns: []cdc.Column{typedCol("id", "int", "int(11)", ""),
		typedCol("price", "decimal", "decimal(5,2)", ""), typedCol("code", "varchar", "varchar(5)", "utf8mb4"),
		typedCol("note", "varchar", "varchar(20)", "latin1"), typedCol("d", "date", "date", ""), typedCol("e", "enum", "enum('a','b')", "utf8mb4")}}
	_, problems := Compile(nil, []*cdc.Table{src}, []*cdc.Table{dst})
	var blocking []string
	for _, p := range problems {
		if p.Blocking {
			blocking = append(blocking, p.Msg)
		}
	}
	// Narrowing is a warning, as Magento's tool accepts it: values that do
	// not fit are failed rows (below), never clipped.
	if len(blocking) != 0 || HasErrors(problems) {
		t.Fatalf("narrowing is not an error: %q", blocking)
	}
	for _, f := range []string{"t.price (decimal(5,2)) is narrower than source field t.price (decimal(10,2)): 8 integer digits do not fit in 3; values that fit are copied exactly", "t.code (varchar(5))", "t.note (varchar(20))"} {
		if !strings.Contains(fmt.Sprint(problems), f) {
			t.Fatalf("no narrowing warning for %s: %v", f, problems)
		}
	}
	rules := &Rules{Source: Area{IgnoreDatatypes: []Rule{{Name: "t.price"}, {Name: "t.code"}, {Name: "t.note"}}}}
	plan, problems := Compile(rules, []*cdc.Table{src}, []*cdc.Table{dst})
	if HasErrors(problems) {
		t.Fatalf("errors despite the datatype ignore: %v", problems)
	}
	tp := plan.Table("t")
	out, err := tp.Row([]any{int64(1), "999.99", []byte("abcde"), []byte("caf\xc3\xa9 \xe2\x82\xac"), "0000-00-00", ""})
	if err != nil {
		t.Fatal(err)
	}
	if out[1] != "999.99" || string(out[2].([]byte)) != "abcde" || string(out[3].([]byte)) != "caf\xe9 \x80" || out[4] != "0000-00-00" || out[5] != "" {
		t.Fatalf("row: %q", out)
	}
	for _, bad := range [][]any{
		{int64(2), "1000.00", []byte("a"), []byte("a"), nil, "a"},
		{int64(3), "1.00", []byte("abcdef"), []byte("a"), nil, "a"},
		{int64(4), "1.00", []byte("a"), []byte("\xe2\x82\xbd"), nil, "a"}, // the rouble sign is not in latin1
	} {
		_, err := tp.Row(bad)
		var he *HandlerError
		if !errors.As(err, &he) || he.Handler != FitHandler || !errors.Is(err, errNoFit) {
			t.Errorf("row %v: %v, want a failed row", bad, err)
		}
	}
	// A delete's before image is matched by key only: no check.
	if _, err := tp.Change(cdc.Change{Op: cdc.OpDelete, Before: []any{int64(2), "1000.00", []byte("a"), []byte("a"), nil, "a"}}); err != nil {
		t.Fatal(err)
	}
}

func TestValueChecks(t *testing.T) {
	cases := []struct {
		typ cdc.Column
		v   any
		ok  bool
	}{
		{typedCol("a", "tinyint", "tinyint(3) unsigned", ""), int64(255), true},
		{typedCol("a", "tinyint", "tinyint(3) unsigned", ""), int64(256), false},
		{typedCol("a", "tinyint", "tinyint(3) unsigned", ""), int64(-1), false},
		{typedCol("a", "int", "int(11)", ""), "12.00", true},
		{typedCol("a", "int", "int(11)", ""), "12.50", false},
		{typedCol("a", "decimal", "decimal(5,2) unsigned", ""), "-1.00", false},
		{typedCol("a", "decimal", "decimal(5,2)", ""), "-0.00", true},
		{typedCol("a", "decimal", "decimal(5,2)", ""), "1.2300", true},
		{typedCol("a", "decimal", "decimal(5,2)", ""), "1.234", false},
		{typedCol("a", "datetime", "datetime", ""), "2020-01-02 03:04:05.000000", true},
		{typedCol("a", "datetime", "datetime", ""), "2020-01-02 03:04:05.5", false},
		{typedCol("a", "timestamp", "timestamp", ""), "0000-00-00 00:00:00", true},
		{typedCol("a", "timestamp", "timestamp", ""), "1969-12-31 23:59:59", false},
		{typedCol("a", "date", "date", ""), "2020-01-02 00:00:00", true},
		{typedCol("a", "date", "date", ""), "2020-01-02 10:00:00", false},
		{typedCol("a", "enum", "enum('a','b')", "utf8mb4"), "", true},
		{typedCol("a", "enum", "enum('a','b')", "utf8mb4"), "c", false},
		{typedCol("a", "set", "set('a','b')", "utf8mb4"), "a,b", true},
		{typedCol("a", "varchar", "varchar(3)", "utf8mb4"), []byte("\xc3\xa9\xc3\xa9\xc3\xa9"), true},
		{typedCol("a", "varchar", "varchar(3)", "utf8mb4"), []byte("abcd"), false},
		{typedCol("a", "varchar", "varchar(3)", "utf8mb4"), []byte("a\xff"), false},
		{typedCol("a", "varchar", "varchar(3)", "utf8mb3"), []byte("\xf0\x9f\x98\x80"), false},
		{typedCol("a", "float", "float", ""), float64(0.5), true},
		{typedCol("a", "float", "float", ""), float64(0.1), false},
		{typedCol("a", "year", "year(4)", ""), int64(0), true},
		{typedCol("a", "year", "year(4)", ""), int64(1900), false},
	}
	for _, c := range cases {
		ct := parseColType(&c.typ)
		why := ct.holds(c.v)
		if (why == "") != c.ok {
			t.Errorf("%s holds %q: %q, want ok=%v", c.typ.ColumnType, c.v, why, c.ok)
		}
	}
}
