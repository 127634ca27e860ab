package cdc

import (
	"encoding/hex"
	"fmt"
	"net/netip"
)

// MariaDB's UUID, INET6 and INET4 columns print as text ("…-…", "::1",
// "1.2.3.4") but are stored, sent in the binlog and accepted in a binary
// string of exactly their length as fixed-size native bytes: 16, 16 and 4. The
// native bytes are their canonical form; readers that get the text (the
// client protocol) parse it, so snapshot, stream and verify carry one form.
// (UUID's native form is the bytes in text order; the server's own
// index-friendly reordering stays inside the server.)

// NativeLen returns the length of the native form of a column of the given
// lower-case data type: 16 for uuid and inet6, 4 for inet4, 0 for every other
// type.
func NativeLen(dataType string) int {
	switch dataType {
	case "uuid", "inet6":
		return 16
	case "inet4":
		return 4
	}
	return 0
}

// NativeLen returns the length of c's native form (see the package function).
func (c Column) NativeLen() int { return NativeLen(c.DataType) }

// ParseNative converts the text form of a UUID, INET6 or INET4 value (as the
// server prints it or accepts it in a character string) to its native bytes.
func ParseNative(dataType string, text []byte) ([]byte, error) {
	switch dataType {
	case "uuid":
		return parseUUID(text)
	case "inet6", "inet4":
		a, err := netip.ParseAddr(string(text))
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("%q is not an %s value", text, dataType)
		}
		if dataType == "inet4" {
			if !a.Is4() {
				return nil, fmt.Errorf("%q is not an inet4 value", text)
			}
			b := a.As4()
			return b[:], nil
		}
		if !a.Is6() {
			return nil, fmt.Errorf("%q is not an inet6 value (IPv4 addresses are written ::ffff:a.b.c.d)", text)
		}
		b := a.As16()
		return b[:], nil
	}
	return nil, fmt.Errorf("data type %s has no native form", dataType)
}

// parseUUID reads 32 hex digits with hyphens anywhere between them (the server
// also accepts hyphens between digits, and prints them 8-4-4-4-12).
func parseUUID(text []byte) ([]byte, error) {
	out := make([]byte, 0, 16)
	digits := make([]byte, 0, 32)
	for i, c := range text {
		if c == '-' && i > 0 && i < len(text)-1 {
			continue
		}
		digits = append(digits, c)
	}
	if len(digits) != 32 {
		return nil, fmt.Errorf("%q is not a uuid value", text)
	}
	out, err := hex.AppendDecode(out, digits)
	if err != nil {
		return nil, fmt.Errorf("%q is not a uuid value", text)
	}
	return out, nil
}

// FormatNative returns the text form of a native value b of the given data
// type: UUID as lower-case 8-4-4-4-12 hex, INET4 dotted, INET6 in RFC 5952
// form. ok is false when b is not of the type's native length.
func FormatNative(dataType string, b []byte) (s string, ok bool) {
	if n := NativeLen(dataType); n == 0 || len(b) != n {
		return "", false
	}
	switch dataType {
	case "uuid":
		h := hex.EncodeToString(b)
		return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], true
	case "inet4":
		return netip.AddrFrom4([4]byte(b)).String(), true
	default:
		return netip.AddrFrom16([16]byte(b)).String(), true
	}
}
