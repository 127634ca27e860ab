package kafka_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/sink/kafka"
)

func oneColumn(c cdc.Column) *cdc.Table {
	c.Name = "c"
	return &cdc.Table{Schema: "db", Name: "t", Columns: []cdc.Column{c}}
}

func roundTrip(t *testing.T, tbl *cdc.Table, v any) (string, any) {
	t.Helper()
	enc, err := kafka.AppendRow(nil, tbl, []any{v})
	if err != nil {
		t.Fatalf("encode %#v: %v", v, err)
	}
	row, err := kafka.DecodeRow(tbl, enc)
	if err != nil {
		t.Fatalf("decode %s: %v", enc, err)
	}
	return string(enc), row[0]
}

// JSON documents read back byte for byte: not compacted, and a JSON string
// document, text that is not JSON and the document null stay distinct.
func TestJSONColumnRoundTripsExactly(t *testing.T) {
	tbl := oneColumn(cdc.Column{DataType: "json", Charset: "utf8mb4", Nullable: true})
	cases := []struct{ doc, encoded string }{
		{`{"a": 1, "b": [true, null]}`, `{"c":{"a": 1, "b": [true, null]}}`},
		{`{"a":1}`, `{"c":{"a":1}}`},
		{"[1,\n 2]", "{\"c\":[1,\n 2]}"},
		{`123`, `{"c":123}`},
		{`"hello"`, `{"c":"\"hello\""}`},
		{`hello`, `{"c":"hello"}`},
		{`""`, `{"c":"\"\""}`},
		{``, `{"c":""}`},
		{`null`, `{"c":"null"}`},
		{` [1] `, `{"c":" [1] "}`},
		{`{"unterminated": `, `{"c":"{\"unterminated\": "}`},
	}
	for _, c := range cases {
		enc, got := roundTrip(t, tbl, c.doc)
		if enc != c.encoded {
			t.Errorf("%q encoded as %s, want %s", c.doc, enc, c.encoded)
		}
		if got != c.doc {
			t.Errorf("%q read back as %#v", c.doc, got)
		}
	}
	if _, got := roundTrip(t, tbl, nil); got != nil {
		t.Errorf("SQL NULL read back as %#v", got)
	}
	if _, err := kafka.AppendRow(nil, tbl, []any{"\xff{}"}); err == nil {
		t.Error("invalid UTF-8 JSON text: want an error, not a replacement character")
	}
}

// Every latin1 byte survives, including the five Windows-1252 leaves
// undefined (MySQL maps them to C1 controls).
func TestLatin1EveryByteRoundTrips(t *testing.T) {
	tbl := oneColumn(cdc.Column{DataType: "varchar", Charset: "latin1"})
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	enc, got := roundTrip(t, tbl, all)
	if !reflect.DeepEqual(got, all) {
		t.Errorf("read back %q from %s", got, enc)
	}
	if strings.ContainsRune(enc, '\uFFFD') {
		t.Errorf("replacement character in %s", enc)
	}
	for b, r := range map[byte]string{0x80: "€", 0x81: "\u0081", 0x9d: "\u009d", 0xe9: "é", 0x9f: "Ÿ"} {
		enc, err := kafka.AppendRow(nil, tbl, []any{[]byte{b}})
		if err != nil || string(enc) != `{"c":"`+r+`"}` {
			t.Errorf("byte %#x: %s, %v; want %s", b, enc, err, r)
		}
	}
	// Text a latin1 column cannot hold is an error on decode.
	if _, err := kafka.DecodeRow(tbl, []byte(`{"c":"日本"}`)); err == nil {
		t.Error("want an error for text outside latin1")
	}
	// ENUM and SET in latin1 are strings.
	set := oneColumn(cdc.Column{DataType: "set", Charset: "latin1"})
	if _, got := roundTrip(t, set, "a,caf\xe9,\x81"); got != "a,caf\xe9,\x81" {
		t.Errorf("latin1 set read back as %q", got)
	}
}

func TestScalarEncodings(t *testing.T) {
	cases := []struct {
		col     cdc.Column
		v       any
		encoded string
	}{
		{cdc.Column{DataType: "float"}, float32(0.1), `0.1`},
		{cdc.Column{DataType: "float"}, float32(-3.4028235e38), `-3.4028235e+38`},
		{cdc.Column{DataType: "double"}, 5e-324, `5e-324`},
		{cdc.Column{DataType: "bit"}, uint64(1<<64 - 1), `18446744073709551615`},
		{cdc.Column{DataType: "bigint", Unsigned: true}, uint64(1<<64 - 1), `18446744073709551615`},
		{cdc.Column{DataType: "bigint"}, int64(-1 << 63), `-9223372036854775808`},
		{cdc.Column{DataType: "decimal"}, "-0.001", `"-0.001"`},
		{cdc.Column{DataType: "timestamp"}, "2038-01-19 03:14:07.999999", `"2038-01-19T03:14:07.999999Z"`},
		{cdc.Column{DataType: "timestamp"}, "0000-00-00 00:00:00", `"0000-00-00T00:00:00"`},
		{cdc.Column{DataType: "datetime"}, "9999-12-31 23:59:59", `"9999-12-31T23:59:59"`},
		{cdc.Column{DataType: "time"}, "-838:59:59.000000", `"-838:59:59.000000"`},
		{cdc.Column{DataType: "varbinary", Charset: "binary"}, []byte{0xff, 0}, `"/wA="`},
		{cdc.Column{DataType: "varchar", Charset: "utf8mb4"}, []byte("<&>"), `"\u003c\u0026\u003e"`},
		// UUID/INET travel in their canonical native bytes, as binary does.
		{cdc.Column{DataType: "uuid"}, []byte{0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0}, `"Ej5FZ+ibEtOkVkJmFBdAAA=="`},
		{cdc.Column{DataType: "inet4"}, []byte{10, 0, 0, 0}, `"CgAAAA=="`},
	}
	for _, c := range cases {
		enc, got := roundTrip(t, oneColumn(c.col), c.v)
		if want := `{"c":` + c.encoded + `}`; enc != want {
			t.Errorf("%s %#v: encoded %s, want %s", c.col.DataType, c.v, enc, want)
		}
		if !reflect.DeepEqual(got, c.v) {
			t.Errorf("%s %#v: read back %#v", c.col.DataType, c.v, got)
		}
	}
	if _, err := kafka.AppendRow(nil, oneColumn(cdc.Column{DataType: "varchar", Charset: "utf8mb4"}), []any{[]byte{0xff}}); err == nil {
		t.Error("invalid UTF-8 text: want an error")
	}
}
