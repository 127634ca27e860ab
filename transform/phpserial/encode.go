package phpserial

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrJSON is wrapped by ToJSON's errors: values json_encode() refuses too
// (INF and NAN, strings that are not UTF-8).
var ErrJSON = errors.New("phpserial: value cannot be encoded as JSON")

// ToJSON encodes a value Unmarshal returned as PHP's json_encode() does with
// no flags: arrays whose keys are 0..n-1 in order become JSON arrays, other
// arrays and all objects JSON objects (object properties under their names
// with any visibility prefix stripped; unlike json_encode, private and
// protected properties are kept); '/' is escaped as "\/" and non-ASCII
// characters as \uXXXX; floats use the shortest form that reads back exactly
// (PHP's serialize_precision -1).
func ToJSON(v any) ([]byte, error) {
	var b []byte
	return appendJSON(b, v)
}

func appendJSON(b []byte, v any) ([]byte, error) {
	var err error
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fmt.Errorf("%w: %v", ErrJSON, x)
		}
		return appendFloat(b, x, 'e'), nil
	case string:
		return appendJSONString(b, x)
	case *Array:
		if x.IsList() {
			b = append(b, '[')
			for i, e := range x.Entries {
				if i > 0 {
					b = append(b, ',')
				}
				if b, err = appendJSON(b, e.Value); err != nil {
					return nil, err
				}
			}
			return append(b, ']'), nil
		}
		return appendJSONObject(b, x.Entries, false)
	case *Object:
		return appendJSONObject(b, x.Props, true)
	}
	return nil, fmt.Errorf("%w: unexpected type %T", ErrJSON, v)
}

func appendJSONObject(b []byte, entries []Entry, props bool) ([]byte, error) {
	var err error
	b = append(b, '{')
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		var k string
		switch kk := e.Key.(type) {
		case int64:
			k = strconv.FormatInt(kk, 10)
		case string:
			k = kk
			if props {
				k = PropName(kk)
			}
		default:
			return nil, fmt.Errorf("%w: unexpected key type %T", ErrJSON, e.Key)
		}
		if b, err = appendJSONString(b, k); err != nil {
			return nil, err
		}
		b = append(b, ':')
		if b, err = appendJSON(b, e.Value); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

const hexDigits = "0123456789abcdef"

func appendU(b []byte, r rune) []byte {
	return append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

func appendJSONString(b []byte, s string) ([]byte, error) {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				b = append(b, '\\', '"')
			case '\\':
				b = append(b, '\\', '\\')
			case '/':
				b = append(b, '\\', '/')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				if c < 0x20 {
					b = appendU(b, rune(c))
				} else {
					b = append(b, c)
				}
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return nil, fmt.Errorf("%w: malformed UTF-8 at byte %d of a string", ErrJSON, i)
		}
		if r >= 0x10000 {
			r -= 0x10000
			b = appendU(b, 0xd800+(r>>10))
			b = appendU(b, 0xdc00+(r&0x3ff))
		} else {
			b = appendU(b, r)
		}
		i += size
	}
	return append(b, '"'), nil
}

// appendFloat formats f as PHP does with serialize_precision -1 (php_gcvt in
// mode 0): the shortest digits that read back exactly, in exponential form
// ("1.0e+25", "1.5e-7") when the decimal exponent is below -4 or above 17.
func appendFloat(b []byte, f float64, expChar byte) []byte {
	if f < 0 || (f == 0 && math.Signbit(f)) {
		b = append(b, '-')
		f = -f
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // d[.ddd]e±XX
	mant, exp, _ := strings.Cut(s, "e")
	digits := strings.Replace(mant, ".", "", 1)
	e, _ := strconv.Atoi(exp)
	decpt := e + 1 // value = 0.digits × 10^decpt
	if f == 0 {
		return append(b, '0')
	}
	if (decpt < 0 && decpt < -3) || decpt > 17 {
		b = append(b, digits[0], '.')
		if len(digits) == 1 {
			b = append(b, '0')
		} else {
			b = append(b, digits[1:]...)
		}
		b = append(b, expChar)
		if decpt-1 < 0 {
			b = append(b, '-')
			return strconv.AppendInt(b, int64(-(decpt - 1)), 10)
		}
		b = append(b, '+')
		return strconv.AppendInt(b, int64(decpt-1), 10)
	}
	if decpt <= 0 {
		b = append(b, '0', '.')
		for ; decpt < 0; decpt++ {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
	if decpt >= len(digits) {
		b = append(b, digits...)
		for i := len(digits); i < decpt; i++ {
			b = append(b, '0')
		}
		return b
	}
	b = append(b, digits[:decpt]...)
	b = append(b, '.')
	return append(b, digits[decpt:]...)
}

// Marshal encodes a value as PHP's serialize() does. It accepts what
// Unmarshal returns (nil, bool, int64, float64, string, *Array, *Object) and,
// for convenience, int and []byte.
func Marshal(v any) ([]byte, error) {
	return appendSerial(nil, v)
}

func appendSerial(b []byte, v any) ([]byte, error) {
	var err error
	switch x := v.(type) {
	case nil:
		return append(b, "N;"...), nil
	case bool:
		if x {
			return append(b, "b:1;"...), nil
		}
		return append(b, "b:0;"...), nil
	case int:
		return appendSerial(b, int64(x))
	case int64:
		b = append(b, "i:"...)
		b = strconv.AppendInt(b, x, 10)
		return append(b, ';'), nil
	case float64:
		b = append(b, "d:"...)
		switch {
		case math.IsNaN(x):
			b = append(b, "NAN"...)
		case math.IsInf(x, 1):
			b = append(b, "INF"...)
		case math.IsInf(x, -1):
			b = append(b, "-INF"...)
		default:
			b = appendFloat(b, x, 'E')
		}
		return append(b, ';'), nil
	case []byte:
		return appendSerial(b, string(x))
	case string:
		b = appendSerialString(b, x)
		return append(b, ';'), nil
	case *Array:
		b = append(b, "a:"...)
		b = strconv.AppendInt(b, int64(len(x.Entries)), 10)
		b = append(b, ":{"...)
		if b, err = appendMembers(b, x.Entries); err != nil {
			return nil, err
		}
		return append(b, '}'), nil
	case *Object:
		b = append(b, "O:"...)
		b = strconv.AppendInt(b, int64(len(x.Class)), 10)
		b = append(b, ':', '"')
		b = append(b, x.Class...)
		b = append(b, '"')
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(len(x.Props)), 10)
		b = append(b, ":{"...)
		if b, err = appendMembers(b, x.Props); err != nil {
			return nil, err
		}
		return append(b, '}'), nil
	}
	return nil, fmt.Errorf("phpserial: cannot serialize %T", v)
}

func appendSerialString(b []byte, s string) []byte {
	b = append(b, "s:"...)
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':', '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendMembers(b []byte, entries []Entry) ([]byte, error) {
	var err error
	for _, e := range entries {
		switch e.Key.(type) {
		case int64, int, string:
		default:
			return nil, fmt.Errorf("phpserial: bad key type %T", e.Key)
		}
		if b, err = appendSerial(b, e.Key); err != nil {
			return nil, err
		}
		if b, err = appendSerial(b, e.Value); err != nil {
			return nil, err
		}
	}
	return b, nil
}
