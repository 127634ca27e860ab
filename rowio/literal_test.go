package rowio

import (
	"testing"

	"github.com/shiplog/shiplog/cdc"
)

func TestLiterals(t *testing.T) {
	cases := []struct {
		v    any
		col  cdc.Column
		want string
	}{
		{nil, cdc.Column{DataType: "int"}, "NULL"},
		{int64(-9223372036854775808), cdc.Column{DataType: "bigint"}, "-9223372036854775808"},
		{uint64(18446744073709551615), cdc.Column{DataType: "bigint", Unsigned: true}, "18446744073709551615"},
		{float32(0.1), cdc.Column{DataType: "float"}, "0.10000000149011612"},
		{float64(0.1), cdc.Column{DataType: "double"}, "0.1"},
		{"-12.50", cdc.Column{DataType: "decimal"}, "'-12.50'"},
		// Quotes doubled, other bytes as they are; a backslash makes the
		// value hex (it reads differently with NO_BACKSLASH_ESCAPES).
		{[]byte("a'b\"c\x00\n\x1a"), cdc.Column{DataType: "varchar", Charset: "latin1"}, "_latin1'a''b\"c\x00\n\x1a'"},
		{[]byte("a'b\\c"), cdc.Column{DataType: "varchar", Charset: "latin1"}, "_latin1 X'6127625C63'"},
		{"x', CONCAT('a', CURRENT_USER())) -- \\", cdc.Column{DataType: "text", Charset: "utf8mb4"}, "_utf8mb4 X'78272C20434F4E434154282761272C2043555252454E545F5553455228292929202D2D205C'"},
		{"1\\2", cdc.Column{DataType: "decimal"}, "_binary X'315C32'"},
		{[]byte{0xff, 0}, cdc.Column{DataType: "blob"}, "_binary'\xff\x00'"},
		{"2024-01-02 03:04:05.000001", cdc.Column{DataType: "datetime"}, "'2024-01-02 03:04:05.000001'"},
		{"x,y", cdc.Column{DataType: "set", Charset: "utf8mb4"}, "_utf8mb4'x,y'"},
		// UUID/INET: the native bytes as hex, whether they come native or as text.
		{[]byte{0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0}, cdc.Column{DataType: "uuid"}, "X'123e4567e89b12d3a456426614174000'"},
		{"123E4567-E89B-12D3-A456-426614174000", cdc.Column{DataType: "uuid"}, "X'123e4567e89b12d3a456426614174000'"},
		{[]byte("123e4567-e89b-12d3-a456-426614174000"), cdc.Column{DataType: "uuid"}, "X'123e4567e89b12d3a456426614174000'"},
		{[]byte{10, 0, 0, 0}, cdc.Column{DataType: "inet4"}, "X'0a000000'"},
		{"10.0.0.0", cdc.Column{DataType: "inet4"}, "X'0a000000'"},
		{"::ffff:1.2.3.4", cdc.Column{DataType: "inet6"}, "X'00000000000000000000ffff01020304'"},
		// 16 bytes of text are text for a string, native bytes for []byte.
		{"2001:db8::1:2:34", cdc.Column{DataType: "inet6"}, "X'20010db8000000000000000100020034'"},
		{[]byte("2001:db8::1:2:34"), cdc.Column{DataType: "inet6"}, "X'323030313a6462383a3a313a323a3334'"},
	}
	for _, c := range cases {
		got, err := AppendLiteral(nil, c.v, &c.col)
		if err != nil || string(got) != c.want {
			t.Errorf("%#v: got %q, %v; want %q", c.v, got, err, c.want)
		}
	}
	if _, err := AppendLiteral(nil, float32(0), &cdc.Column{DataType: "float"}); err != nil {
		t.Error(err)
	}
	// A value a UUID/INET column cannot hold is an error, not the NULL a
	// non-strict session would store.
	for _, c := range []struct {
		v   any
		typ string
	}{{"not-a-uuid", "uuid"}, {[]byte{1, 2, 3}, "inet4"}, {"1.2.3.4", "inet6"}, {"::1", "inet4"}, {"fe80::1%eth0", "inet6"}} {
		if got, err := AppendLiteral(nil, c.v, &cdc.Column{Name: "c", DataType: c.typ}); err == nil {
			t.Errorf("%s %#v: got %q, want an error", c.typ, c.v, got)
		}
	}
}
