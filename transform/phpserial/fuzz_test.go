package phpserial

import (
	"bytes"
	"testing"
)

func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{
		`N;`, `b:1;`, `i:-5;`, `d:0.5;`, `d:NAN;`, `s:3:"abc";`,
		`a:2:{i:0;s:1:"a";s:1:"k";a:1:{i:0;d:1.0E+25;}}`,
		"O:3:\"Foo\":2:{s:6:\"\x00*\x00bar\";i:1;s:8:\"\x00Foo\x00baz\";N;}",
		`a:1:{i:0;r:1;}`, `a:1:{s:1:"1";b:0;}`, `s:4:"Grüß";`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Unmarshal(data)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes, and the encoding decodes to the same
		// serialization (a fixed point).
		b, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal after Unmarshal(%q): %v", data, err)
		}
		v2, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("Unmarshal(Marshal(Unmarshal(%q))) = %q: %v", data, b, err)
		}
		b2, err := Marshal(v2)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("not a fixed point: %q -> %q -> %q (%v)", data, b, b2, err)
		}
		_, _ = ToJSON(v)
	})
}
