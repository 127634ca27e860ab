package mysql

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestAppendEscapedField: the escaped field equals a byte-by-byte escape of
// every string (fixed edge cases and random bytes rich in the three escaped
// ones), and LOAD DATA's reading of it (backslash escapes) gives the input back.
func TestAppendEscapedField(t *testing.T) {
	byByte := func(s []byte) []byte {
		var out []byte
		for _, b := range s {
			switch b {
			case '\\':
				out = append(out, '\\', '\\')
			case '\t':
				out = append(out, '\\', 't')
			case '\n':
				out = append(out, '\\', 'n')
			default:
				out = append(out, b)
			}
		}
		return out
	}
	unescape := func(s []byte) []byte {
		var out []byte
		for i := 0; i < len(s); i++ {
			if s[i] != '\\' {
				out = append(out, s[i])
				continue
			}
			i++
			switch s[i] {
			case 't':
				out = append(out, '\t')
			case 'n':
				out = append(out, '\n')
			default:
				out = append(out, s[i])
			}
		}
		return out
	}
	cases := [][]byte{nil, []byte(""), []byte("abc"), []byte("\\"), []byte("\t\n\\"), []byte("a\tb\nc\\d"), []byte("\\\\x\t"), {0, 0xff, '\\', 0x80}}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab\\\t\n\x00\xff")
	for range 2000 {
		s := make([]byte, r.IntN(40))
		for i := range s {
			s[i] = alphabet[r.IntN(len(alphabet))]
		}
		cases = append(cases, s)
	}
	for _, c := range cases {
		prefix := []byte("p\t")
		got := appendEscapedField(bytes.Clone(prefix), c)
		if want := append(bytes.Clone(prefix), byByte(c)...); !bytes.Equal(got, want) {
			t.Fatalf("[]byte %q: got %q, want %q", c, got, want)
		}
		if gs := appendEscapedField(bytes.Clone(prefix), string(c)); !bytes.Equal(gs, got) {
			t.Fatalf("string %q: got %q, want %q", c, gs, got)
		}
		if back := unescape(got[len(prefix):]); !bytes.Equal(back, c) && len(c) > 0 {
			t.Fatalf("%q escaped as %q reads back as %q", c, got, back)
		}
	}
}

// BenchmarkAppendEscapedField: a sysbench c column (120 bytes, nothing to
// escape), the bulk of the copy's encoding.
func BenchmarkAppendEscapedField(b *testing.B) {
	c := []byte("68487932199-96439406143-93774651418-41631865787-96406072701-20604855487-25459966574-28203206787-41238978918-19503783441")
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(c)))
	for b.Loop() {
		buf = appendEscapedField(buf[:0], c)
	}
}
