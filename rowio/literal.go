package rowio

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/shiplog/shiplog/cdc"
)

// AppendLiteral appends v as an SQL literal for a value of column c. Strings and
// bytes carry the column's character set as an introducer (_latin1'...',
// _binary'...') so the exact bytes arrive whatever the connection charset is, and
// comparisons with key columns still use the column's collation and index.
// The literal reads the same whatever the session's sql_mode
// (NO_BACKSLASH_ESCAPES, ANSI_QUOTES): quotes are doubled, never
// backslash-escaped, and a value holding a backslash is written in hex, so
// no value can end its literal early and run as SQL. The connection charset
// must be one where a quote or backslash byte is never part of a multi-byte
// character (utf8mb4, as shiplog's sessions use).
func AppendLiteral(buf []byte, v any, c *cdc.Column) ([]byte, error) {
	if out, ok, err := AppendNumber(buf, v); ok {
		if err != nil {
			return buf, fmt.Errorf("column %s: %w", c.Name, err)
		}
		return out, nil
	}
	switch x := v.(type) {
	case nil:
		return append(buf, "NULL"...), nil
	case cdc.DefaultValue:
		return append(buf, "DEFAULT"...), nil
	case string:
		if n := c.NativeLen(); n > 0 {
			return appendNative(buf, []byte(x), false, n, c)
		}
		return appendText(buf, x, c), nil
	case []byte:
		if n := c.NativeLen(); n > 0 {
			return appendNative(buf, x, true, n, c)
		}
		return appendText(buf, x, c), nil
	case time.Time:
		buf = append(buf, '\'')
		buf = x.AppendFormat(buf, "2006-01-02 15:04:05.999999")
		return append(buf, '\''), nil
	}
	return buf, fmt.Errorf("column %s: unsupported value type %T", c.Name, v)
}

// appendNative appends a value of a UUID, INET6 or INET4 column (native
// length n) as a hex literal of its native bytes, which the server reads as
// the value itself: bytes of length n are the native form (cdc's canonical
// form); a string, or bytes of another length, is the text form, parsed
// here, so a value the column cannot hold is an error rather than the NULL or
// zero value the server's non-strict session would store.
func appendNative(buf, b []byte, binary bool, n int, c *cdc.Column) ([]byte, error) {
	if !binary || len(b) != n {
		var err error
		if b, err = cdc.ParseNative(c.DataType, b); err != nil {
			return buf, fmt.Errorf("column %s: %w", c.Name, err)
		}
	}
	buf = append(buf, "X'"...)
	buf = hex.AppendEncode(buf, b)
	return append(buf, '\''), nil
}

// AppendNumber appends v when it is a number or a bool (ok), as the decimal
// text both SQL and LOAD DATA read back exactly; NaN and infinities are an
// error.
func AppendNumber(buf []byte, v any) (out []byte, ok bool, err error) {
	switch x := v.(type) {
	case int64:
		return strconv.AppendInt(buf, x, 10), true, nil
	case uint64:
		return strconv.AppendUint(buf, x, 10), true, nil
	case int:
		return strconv.AppendInt(buf, int64(x), 10), true, nil
	case int32:
		return strconv.AppendInt(buf, int64(x), 10), true, nil
	case int16:
		return strconv.AppendInt(buf, int64(x), 10), true, nil
	case int8:
		return strconv.AppendInt(buf, int64(x), 10), true, nil
	case uint32:
		return strconv.AppendUint(buf, uint64(x), 10), true, nil
	case uint16:
		return strconv.AppendUint(buf, uint64(x), 10), true, nil
	case uint8:
		return strconv.AppendUint(buf, uint64(x), 10), true, nil
	case bool:
		if x {
			return append(buf, '1'), true, nil
		}
		return append(buf, '0'), true, nil
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return buf, true, fmt.Errorf("%v cannot be stored", x)
		}
		// The exact value of the float32 as a double: the server parses a double
		// and rounds it to the same float32. (The shortest float32 text can fall
		// outside FLOAT's range once read as a double: 3.4028235e+38.)
		return strconv.AppendFloat(buf, float64(x), 'g', -1, 64), true, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return buf, true, fmt.Errorf("%v cannot be stored", x)
		}
		return strconv.AppendFloat(buf, x, 'g', -1, 64), true, nil
	}
	return buf, false, nil
}

func appendIntroducer(buf []byte, c *cdc.Column) []byte {
	switch c.Kind() {
	case cdc.KindBytes, cdc.KindEnumSet, cdc.KindJSON:
	default:
		return buf // numbers and dates as plain ASCII literals
	}
	cs := c.Charset
	switch {
	case cs != "":
	case c.Kind() == cdc.KindJSON:
		cs = "utf8mb4" // MySQL refuses JSON from a binary string
	default:
		cs = "binary"
	}
	buf = append(buf, '_')
	return append(buf, cs...)
}

// appendText appends s, a value of column c, as its introducer and a quoted
// literal: '...' with quotes doubled, the one escape that means the same with
// and without NO_BACKSLASH_ESCAPES; every other byte, NUL and newlines
// included, stands for itself. A backslash means an escape in one mode and
// itself in the other, so a value holding one is written as a hex literal
// (with the _binary introducer when the column takes none: a bare X'...'
// reads as a number in a numeric context).
func appendText[T string | []byte](buf []byte, s T, c *cdc.Column) []byte {
	start := len(buf)
	buf = appendIntroducer(buf, c)
	intro := len(buf)
	buf = append(buf, '\'')
	for i := 0; i < len(s); i++ {
		switch b := s[i]; b {
		case '\'':
			buf = append(buf, '\'', '\'')
		case '\\':
			buf = buf[:intro]
			if intro == start {
				buf = append(buf, "_binary"...)
			}
			return appendHex(buf, s)
		default:
			buf = append(buf, b)
		}
	}
	return append(buf, '\'')
}

const hexDigits = "0123456789ABCDEF"

// appendHex appends s as the hex literal X'...'.
func appendHex[T string | []byte](buf []byte, s T) []byte {
	buf = append(buf, " X'"...)
	for i := 0; i < len(s); i++ {
		buf = append(buf, hexDigits[s[i]>>4], hexDigits[s[i]&15])
	}
	return append(buf, '\'')
}

// AppendIdent appends name quoted with backticks (a backtick in it doubled).
func AppendIdent(buf []byte, name string) []byte {
	buf = append(buf, '`')
	for i := 0; i < len(name); i++ {
		if name[i] == '`' {
			buf = append(buf, '`')
		}
		buf = append(buf, name[i])
	}
	return append(buf, '`')
}

// QuoteIdent quotes an identifier with backticks.
func QuoteIdent(name string) string { return string(AppendIdent(nil, name)) }
