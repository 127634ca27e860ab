package mysql

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
func AppendLiteral(buf []byte, v any, c *cdc.Column) ([]byte, error) {
	if out, ok, err := appendNumber(buf, v); ok {
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
		buf = appendIntroducer(buf, c)
		return appendQuoted(buf, x), nil
	case []byte:
		if n := c.NativeLen(); n > 0 {
			return appendNative(buf, x, true, n, c)
		}
		buf = appendIntroducer(buf, c)
		return appendQuoted(buf, x), nil
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

// appendNumber appends v when it is a number or a bool (ok), as the decimal
// text both SQL and LOAD DATA read back exactly; NaN and infinities are an
// error.
func appendNumber(buf []byte, v any) (out []byte, ok bool, err error) {
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

// appendQuoted appends s in single quotes with backslash escapes (the session runs
// without NO_BACKSLASH_ESCAPES).
func appendQuoted[T string | []byte](buf []byte, s T) []byte {
	buf = append(buf, '\'')
	for i := 0; i < len(s); i++ {
		switch b := s[i]; b {
		case 0:
			buf = append(buf, '\\', '0')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\x1a':
			buf = append(buf, '\\', 'Z')
		case '\'':
			buf = append(buf, '\\', '\'')
		case '"':
			buf = append(buf, '\\', '"')
		case '\\':
			buf = append(buf, '\\', '\\')
		default:
			buf = append(buf, b)
		}
	}
	return append(buf, '\'')
}

func appendIdent(buf []byte, name string) []byte {
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
func QuoteIdent(name string) string { return string(appendIdent(nil, name)) }
