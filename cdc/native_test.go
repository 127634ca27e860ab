package cdc

import (
	"bytes"
	"testing"
)

// TestNativeForms checks the text forms the server prints read back as the
// native bytes it stores, and print again as the same text.
func TestNativeForms(t *testing.T) {
	cases := []struct {
		typ, text string
		native    []byte
	}{
		{"uuid", "123e4567-e89b-12d3-a456-426614174000", []byte{0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0}},
		{"uuid", "00000000-0000-0000-0000-000000000000", make([]byte, 16)},
		{"uuid", "ffffffff-ffff-ffff-ffff-ffffffffffff", bytes.Repeat([]byte{0xff}, 16)},
		{"inet4", "0.0.0.0", []byte{0, 0, 0, 0}},
		{"inet4", "255.255.255.0", []byte{255, 255, 255, 0}},
		{"inet6", "::", make([]byte, 16)},
		{"inet6", "2001:db8::", []byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"inet6", "::ffff:1.2.3.4", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4}},
	}
	for _, c := range cases {
		b, err := ParseNative(c.typ, []byte(c.text))
		if err != nil || !bytes.Equal(b, c.native) || len(b) != NativeLen(c.typ) {
			t.Errorf("ParseNative(%s, %q) = %x, %v; want %x", c.typ, c.text, b, err, c.native)
		}
		if s, ok := FormatNative(c.typ, c.native); !ok || s != c.text {
			t.Errorf("FormatNative(%s, %x) = %q, %v; want %q", c.typ, c.native, s, ok, c.text)
		}
	}
	// Forms the server also accepts.
	for typ, texts := range map[string][]string{
		"uuid":  {"123E4567E89B12D3A456426614174000", "123e-4567-e89b-12d3-a456-4266-1417-4000"},
		"inet6": {"2001:0DB8:0000::0", "::ffff:102:304"},
	} {
		for _, text := range texts {
			if _, err := ParseNative(typ, []byte(text)); err != nil {
				t.Errorf("ParseNative(%s, %q): %v", typ, text, err)
			}
		}
	}
	for typ, texts := range map[string][]string{
		"uuid":    {"", "-123e4567e89b12d3a456426614174000", "123e4567e89b12d3a45642661417400", "123e4567e89b12d3a456426614174000-", "g23e4567e89b12d3a456426614174000"},
		"inet4":   {"", "1.2.3", "::1", "1.2.3.256"},
		"inet6":   {"", "1.2.3.4", "fe80::1%eth0", ":::"},
		"varchar": {"x"},
	} {
		for _, text := range texts {
			if b, err := ParseNative(typ, []byte(text)); err == nil {
				t.Errorf("ParseNative(%s, %q) = %x, want an error", typ, text, b)
			}
		}
	}
	if _, ok := FormatNative("inet6", []byte{1, 2, 3, 4}); ok {
		t.Error("4 bytes formatted as inet6")
	}
	if NativeLen("binary") != 0 || (Column{DataType: "inet4"}).NativeLen() != 4 {
		t.Error("NativeLen")
	}
}

func FuzzParseNative(f *testing.F) {
	for _, s := range []string{"123e4567-e89b-12d3-a456-426614174000", "::ffff:1.2.3.4", "10.0.0.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, typ := range []string{"uuid", "inet4", "inet6"} {
			b, err := ParseNative(typ, []byte(text))
			if err != nil {
				continue
			}
			s, ok := FormatNative(typ, b)
			if !ok {
				t.Fatalf("%s %q parsed to %x, which does not format", typ, text, b)
			}
			back, err := ParseNative(typ, []byte(s))
			if err != nil || !bytes.Equal(back, b) {
				t.Fatalf("%s %q -> %x -> %q -> %x, %v", typ, text, b, s, back, err)
			}
		}
	})
}
