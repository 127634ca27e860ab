package rowio

import (
	"reflect"
	"testing"

	"github.com/shiplog/shiplog/cdc"
)

// TestNormalize converts values as go-sql-driver/mysql scans them over the
// binary protocol to the canonical forms of package cdc.
func TestNormalize(t *testing.T) {
	uuid := []byte{0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0}
	cases := []struct {
		v    any
		col  cdc.Column
		want any
	}{
		{nil, cdc.Column{DataType: "int"}, nil},
		{int64(-5), cdc.Column{DataType: "int"}, int64(-5)},
		{uint64(7), cdc.Column{DataType: "int"}, int64(7)},
		{int64(7), cdc.Column{DataType: "int", Unsigned: true}, uint64(7)},
		// The driver hands BIGINT UNSIGNED values above MaxInt64 over as text.
		{[]byte("18446744073709551615"), cdc.Column{DataType: "bigint", Unsigned: true}, uint64(18446744073709551615)},
		{float64(0.5), cdc.Column{DataType: "float"}, float32(0.5)},
		{float32(0.5), cdc.Column{DataType: "double"}, float64(0.5)},
		{[]byte("2024"), cdc.Column{DataType: "year"}, int64(2024)},
		{[]byte{1, 2}, cdc.Column{DataType: "bit", ColumnType: "bit(16)"}, uint64(0x102)},
		{[]byte("-12.50"), cdc.Column{DataType: "decimal"}, "-12.50"},
		{[]byte("2024-01-02 03:04:05"), cdc.Column{DataType: "datetime"}, "2024-01-02 03:04:05"},
		{[]byte("x,y"), cdc.Column{DataType: "set"}, "x,y"},
		{"caf\xe9", cdc.Column{DataType: "varchar", Charset: "latin1"}, []byte("caf\xe9")},
		{[]byte{0, 0xff}, cdc.Column{DataType: "blob"}, []byte{0, 0xff}},
		// UUID and INET come as text; their canonical form is the native bytes.
		{[]byte("123e4567-e89b-12d3-a456-426614174000"), cdc.Column{DataType: "uuid"}, uuid},
		{"10.0.0.1", cdc.Column{DataType: "inet4"}, []byte{10, 0, 0, 1}},
	}
	for _, c := range cases {
		got, err := Normalize(c.v, &c.col)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %#v: got %#v, %v; want %#v", c.col.DataType, c.v, got, err, c.want)
		}
	}
	for _, c := range []struct {
		v   any
		col cdc.Column
	}{
		{make([]byte, 9), cdc.Column{DataType: "bit"}},
		{"text", cdc.Column{DataType: "int"}},
		{int64(1), cdc.Column{DataType: "varchar"}},
	} {
		if got, err := Normalize(c.v, &c.col); err == nil {
			t.Errorf("%s %#v: got %#v, want an error", c.col.DataType, c.v, got)
		}
	}
}

func TestQuoteIdent(t *testing.T) {
	for in, want := range map[string]string{"t": "`t`", "a`b": "`a``b`", "": "``", "x.y": "`x.y`"} {
		if got := QuoteIdent(in); got != want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
}
