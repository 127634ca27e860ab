package verify

import (
	"math"
	"testing"
	"time"

	"github.com/shiplog/shiplog/cdc"
)

func col(dataType, columnType string, unsigned bool) *cdc.Column {
	return &cdc.Column{Name: "c", DataType: dataType, ColumnType: columnType, Unsigned: unsigned}
}

// TestVerifyCanonicalForms checks values a handler makes (text, other Go
// types) and values the destination returns (typed, canonical) read the same
// when they are the same stored value, and differently when they are not.
func TestVerifyCanonicalForms(t *testing.T) {
	ts := time.Date(2024, 2, 3, 4, 5, 6, 500000000, time.UTC)
	cases := []struct {
		name string
		c    *cdc.Column
		same []any
		want string
		not  []any
	}{
		{"int", col("int", "int(11)", false), []any{int64(42), uint64(42), "42", " 42", []byte("42"), 42, int32(42), float64(42)}, "42", []any{int64(43), "42x", nil}},
		{"int rounds text", col("int", "int(11)", false), []any{"41.5", float64(41.5)}, "42", nil},
		{"bool", col("tinyint", "tinyint(1)", false), []any{true, int64(1), "1"}, "1", []any{false}},
		{"uint max", col("bigint", "bigint(20) unsigned", true), []any{uint64(math.MaxUint64), "18446744073709551615"}, "18446744073709551615", []any{int64(-1)}},
		{"float at float32 precision", col("float", "float", false), []any{float32(0.1), float64(0.1), "0.1", []byte("0.1")}, "0.1", []any{float32(0.2)}},
		{"double", col("double", "double", false), []any{0.1, "0.1", "1e-1"}, "0.1", []any{float64(float32(0.1))}},
		{"decimal at scale", col("decimal", "decimal(10,2)", false), []any{"12.30", "12.3", "012.300", 12.3, "12.299"}, "12.3", []any{"12.31", "12.35"}},
		{"decimal int", col("decimal", "decimal(10,2) unsigned", true), []any{int64(7), "7.00", "7", uint64(7)}, "7", nil},
		{"decimal zero", col("decimal", "decimal(5,1)", false), []any{"-0.0", "0", "0.04", int64(0)}, "0", nil},
		{"decimal scale 0", col("decimal", "decimal(10)", false), []any{"12", "11.5", "12.4"}, "12", nil},
		{"datetime fraction", col("datetime", "datetime(6)", false), []any{"2024-02-03 04:05:06.500000", "2024-02-03 04:05:06.5", ts, "2024-02-03T04:05:06.50"}, "2024-02-03 04:05:06.5", []any{"2024-02-03 04:05:06"}},
		{"datetime whole", col("datetime", "datetime", false), []any{"2024-02-03 04:05:06", "2024-02-03 04:05:06.000000"}, "2024-02-03 04:05:06", nil},
		{"date", col("date", "date", false), []any{"2024-02-03", "2024-02-03 00:00:00", ts}, "2024-02-03", []any{"2024-02-04"}},
		{"time", col("time", "time(2)", false), []any{"-01:02:03.50", "-01:02:03.5"}, "-01:02:03.5", nil},
		{"year", col("year", "year(4)", false), []any{int64(2024), "2024", uint64(2024)}, "2024", nil},
		{"bit", col("bit", "bit(16)", false), []any{uint64(258), []byte{1, 2}, int64(258)}, "258", []any{uint64(2)}},
		{"json", col("json", "longtext", false), []any{`{"b":1, "a":[1, 2.50]}`, `{"a":[1,2.50],"b":1}`, []byte(`{ "a" : [1,2.50], "b" : 1 }`)}, `{"a":[1,2.50],"b":1}`, []any{`{"a":[1,2.5],"b":2}`}},
		{"json not json", col("json", "json", false), []any{"not json"}, "not json", nil},
		{"enum", col("enum", "enum('a','b')", false), []any{"b", []byte("b")}, "b", []any{"a"}},
		{"varchar", col("varchar", "varchar(10)", false), []any{"abc ", []byte("abc ")}, "abc ", []any{"abc", "ABC ", nil}},
		{"varchar from number", col("varchar", "varchar(10)", false), []any{int64(15), "15", []byte("15"), uint64(15)}, "15", nil},
		{"char pads", col("char", "char(5)", false), []any{"ab", "ab   ", []byte("ab ")}, "ab", []any{" ab"}},
		{"binary bytes", col("varbinary", "varbinary(4)", false), []any{[]byte{0, 1, 0xff}, "\x00\x01\xff"}, "\x00\x01\xff", []any{[]byte{0, 1}}},
		{"uuid", col("uuid", "uuid", false), []any{[]byte{0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0},
			"123E4567-E89B-12D3-A456-426614174000", []byte("123e4567e89b12d3a456426614174000")}, "123e4567-e89b-12d3-a456-426614174000",
			[]any{"123e4567-e89b-12d3-a456-426614174001", []byte{0x12, 0x3e}, "junk", nil}},
		{"inet4", col("inet4", "inet4", false), []any{[]byte{10, 0, 0, 0}, "10.0.0.0"}, "10.0.0.0", []any{[]byte{10, 0, 0}, "10.0.0.1"}},
		{"inet6", col("inet6", "inet6", false), []any{[]byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "2001:DB8:0::0", []byte("2001:db8::")},
			"2001:db8::", []any{"::ffff:32.1.13.184", "2001:db8::1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, v := range c.same {
				got := Canonical(v, c.c)
				if got.Null || got.Skip || got.Text != c.want {
					t.Errorf("Canonical(%#v) = %+v, want %q", v, got, c.want)
				}
			}
			for _, v := range c.not {
				if got := Canonical(v, c.c); !got.Null && got.Text == c.want {
					t.Errorf("Canonical(%#v) = %q: should differ from %q", v, got.Text, c.want)
				}
			}
		})
	}
	if v := Canonical(nil, col("varchar", "varchar(4)", false)); !v.Null || v.String() != "NULL" {
		t.Errorf("NULL: %+v", v)
	}
	if v := Canonical("NULL", col("varchar", "varchar(4)", false)); v.Null {
		t.Errorf("the text NULL is not NULL")
	}
	if v := Canonical(cdc.Default, col("int", "int", false)); !v.Skip {
		t.Errorf("cdc.Default is not compared: %+v", v)
	}
}

// TestVerifyRowHashes checks the row hash: equal canonical rows hash equal
// whatever types they came in, any differing column (or NULL against empty)
// changes it, and columns the source skips are not hashed on either side.
func TestVerifyRowHashes(t *testing.T) {
	table := &cdc.Table{Name: "t", Columns: []cdc.Column{
		{Name: "id", DataType: "int", ColumnType: "int(11)"},
		{Name: "amount", DataType: "decimal", ColumnType: "decimal(10,2)"},
		{Name: "note", DataType: "varchar", ColumnType: "varchar(20)"},
		{Name: "kept", DataType: "int", ColumnType: "int(11)", KeepExisting: true},
		{Name: "f", DataType: "float", ColumnType: "float"},
	}, Key: []int{0}}
	compare := []bool{true, true, true, false, true}
	// As a handler produced it, and as the destination returns it.
	src := Canonicalize(table, []any{"7", 12.5, "pfx-a", cdc.Default, float64(1.1)}, compare)
	dst := Canonicalize(table, []any{int64(7), "12.50", []byte("pfx-a"), int64(99), float32(1.1)}, compare)
	if HashRow(src, nil) != HashRow(dst, src) {
		t.Fatalf("equal rows hash differently:\n%v\n%v", src, dst)
	}
	if d := DiffColumns(src, dst); len(d) != 0 {
		t.Fatalf("equal rows differ in %v", d)
	}
	for i, change := range []any{int64(8), "12.51", []byte("pfx-b"), nil, float32(1.2)} {
		row := []any{int64(7), "12.50", []byte("pfx-a"), int64(99), float32(1.1)}
		row[i] = change
		other := Canonicalize(table, row, compare)
		if i == 3 { // the kept column is not compared
			if HashRow(other, src) != HashRow(src, nil) {
				t.Errorf("a change of the kept column changed the hash")
			}
			continue
		}
		if HashRow(other, src) == HashRow(src, nil) {
			t.Errorf("a change of column %d did not change the hash", i)
		}
		if d := DiffColumns(src, other); len(d) != 1 || d[0] != i {
			t.Errorf("change of column %d: DiffColumns = %v", i, d)
		}
	}
	// NULL and the empty string differ; so do ("a","bc") and ("ab","c").
	n := Canonicalize(table, []any{int64(1), nil, nil, nil, nil}, nil)
	e := Canonicalize(table, []any{int64(1), nil, "", nil, nil}, nil)
	if HashRow(n, nil) == HashRow(e, nil) {
		t.Errorf("NULL and '' hash the same")
	}
	a := []Value{{Text: "a"}, {Text: "bc"}}
	b := []Value{{Text: "ab"}, {Text: "c"}}
	if HashRow(a, nil) == HashRow(b, nil) || keyText(a) == keyText(b) {
		t.Errorf("column boundaries are not part of the hash or key")
	}
}

// TestVerifyReportSummary checks the counts and the one-line summary.
func TestVerifyReportSummary(t *testing.T) {
	r := Report{Tables: []TableReport{{}}, Rows: 10, Chunks: 2, Counts: map[Kind]int{}}
	if r.Differences() != 0 || r.Summary() != "1 table(s), 10 row(s) in 2 chunk(s): no differences" {
		t.Fatalf("clean: %d %q", r.Differences(), r.Summary())
	}
	r.Counts[Missing], r.Counts[Extra] = 1, 2
	if r.Differences() != 3 || r.Summary() != "1 table(s), 10 row(s) in 2 chunk(s): 1 missing, 0 different, 2 extra, 0 failed" {
		t.Fatalf("differences: %d %q", r.Differences(), r.Summary())
	}
	r.AddMissingTable("notes", "", "not replicated")
	if r.Differences() != 4 || r.Summary() != "2 table(s), 10 row(s) in 2 chunk(s): 1 missing, 0 different, 2 extra, 0 failed, 1 missing table(s): notes" {
		t.Fatalf("missing table: %d %q", r.Differences(), r.Summary())
	}
	empty := Report{}
	if empty.AddMissingTable("a", "b", "gone"); empty.Differences() != 1 || empty.Tables[0].Differences[0].Kind != MissingTable {
		t.Fatalf("missing table in an empty report: %+v", empty)
	}
	d := Difference{Kind: Different, Key: map[string]string{"b": "2", "a": "1"}}
	if s := d.KeyString([]string{"a", "b"}); s != "a=1,b=2" {
		t.Fatalf("KeyString = %q", s)
	}
}
