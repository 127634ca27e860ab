package verify

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/shiplog/shiplog/cdc"
)

// Value is a value in its canonical text for one destination column: the
// text both sides are compared on, whatever Go type a reader or a handler
// produced it as.
type Value struct {
	Text string
	Null bool
	// Skip marks a value that is not compared (cdc.Default: the destination
	// keeps or defaults it).
	Skip bool
}

func (v Value) String() string {
	if v.Null {
		return "NULL"
	}
	return v.Text
}

// Canonical returns the canonical text of v as stored in a column c of the
// destination: integers, floats, decimals, dates, bits and years read the same
// whether a handler made them as text or the server returns them typed;
// FLOAT is compared at float32 precision, DECIMAL at the column's scale, CHAR
// without trailing spaces, JSON re-encoded compactly with sorted keys.
func Canonical(v any, c *cdc.Column) Value {
	switch x := v.(type) {
	case nil:
		return Value{Null: true}
	case cdc.DefaultValue:
		return Value{Skip: true}
	case time.Time:
		v = x.UTC().Format("2006-01-02 15:04:05.999999")
	case bool:
		if x {
			v = int64(1)
		} else {
			v = int64(0)
		}
	case int:
		v = int64(x)
	case int8:
		v = int64(x)
	case int16:
		v = int64(x)
	case int32:
		v = int64(x)
	case uint:
		v = uint64(x)
	case uint8:
		v = uint64(x)
	case uint16:
		v = uint64(x)
	case uint32:
		v = uint64(x)
	case []byte:
		if c.Kind() != cdc.KindBytes && c.Kind() != cdc.KindBit {
			v = string(x)
		}
	}
	switch c.Kind() {
	case cdc.KindInt, cdc.KindUint, cdc.KindYear:
		return Value{Text: canonInt(v)}
	case cdc.KindFloat:
		if f, ok := toFloat(v); ok {
			return Value{Text: strconv.FormatFloat(float64(float32(f)), 'g', -1, 32)}
		}
	case cdc.KindDouble:
		if f, ok := toFloat(v); ok {
			return Value{Text: strconv.FormatFloat(f, 'g', -1, 64)}
		}
	case cdc.KindDecimal:
		return Value{Text: canonDecimal(text(v), decimalScale(c.ColumnType))}
	case cdc.KindBit:
		switch x := v.(type) {
		case uint64:
			return Value{Text: strconv.FormatUint(x, 10)}
		case int64:
			return Value{Text: strconv.FormatUint(uint64(x), 10)}
		case []byte:
			var buf [8]byte
			if len(x) <= 8 {
				copy(buf[8-len(x):], x)
				return Value{Text: strconv.FormatUint(binary.BigEndian.Uint64(buf[:]), 10)}
			}
		}
	case cdc.KindTemporal:
		return Value{Text: canonTemporal(text(v), c.DataType)}
	case cdc.KindJSON:
		return Value{Text: canonJSON(text(v))}
	case cdc.KindBytes:
		if n := c.NativeLen(); n > 0 {
			return Value{Text: canonNative(v, n, c.DataType)}
		}
		s := text(v)
		if c.DataType == "char" {
			s = strings.TrimRight(s, " ")
		}
		return Value{Text: s}
	}
	return Value{Text: text(v)}
}

// canonNative is the text form of a UUID, INET6 or INET4 value: native
// bytes (n of them, the canonical form) and text (what a handler may make)
// read the same; what is neither stays as it is, and differs from every
// value the column can hold.
func canonNative(v any, n int, dataType string) string {
	b, isBytes := v.([]byte)
	if !isBytes || len(b) != n {
		parsed, err := cdc.ParseNative(dataType, []byte(text(v)))
		if err != nil {
			return text(v)
		}
		b = parsed
	}
	s, _ := cdc.FormatNative(dataType, b)
	return s
}

// text is the string form the server would read v as.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

func canonInt(v any) string {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float32, float64:
		f, _ := toFloat(x)
		return strconv.FormatFloat(math.Round(f), 'f', -1, 64)
	case string:
		s := strings.TrimSpace(x)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return strconv.FormatInt(n, 10)
		}
		if n, err := strconv.ParseUint(s, 10, 64); err == nil {
			return strconv.FormatUint(n, 10)
		}
		if r, ok := new(big.Rat).SetString(s); ok {
			return r.FloatString(0) // rounded half away from zero, as the server does
		}
		return x
	}
	return text(v)
}

// decimalScale reads the scale of "decimal(12,2) unsigned"; -1 when unknown.
func decimalScale(columnType string) int {
	i := strings.IndexByte(columnType, ',')
	j := strings.IndexByte(columnType, ')')
	if i < 0 || j < i {
		if strings.Contains(columnType, "(") {
			return 0 // decimal(10) has scale 0
		}
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(columnType[i+1 : j]))
	if err != nil {
		return -1
	}
	return n
}

// canonDecimal rounds s to scale (when known) and drops insignificant zeros:
// "012.340" and "12.34" both read "12.34".
func canonDecimal(s string, scale int) string {
	s = strings.TrimSpace(s)
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return s
	}
	if scale < 0 {
		scale = 30
	}
	out := r.FloatString(scale)
	if strings.IndexByte(out, '.') >= 0 {
		out = strings.TrimRight(strings.TrimRight(out, "0"), ".")
	}
	if out == "-0" {
		out = "0"
	}
	return out
}

// canonTemporal drops trailing zeros of fractional seconds and, for DATE,
// the time part the server drops.
func canonTemporal(s, dataType string) string {
	s = strings.TrimSpace(s)
	if dataType == "date" && len(s) > 10 && (s[10] == ' ' || s[10] == 'T') {
		return s[:10]
	}
	if len(s) > 10 && s[10] == 'T' {
		s = s[:10] + " " + s[11:]
	}
	if i := strings.LastIndexByte(s, '.'); i >= 0 && strings.IndexByte(s[i:], ':') < 0 {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// canonJSON re-encodes a JSON document compactly with sorted object keys
// (MySQL normalises JSON it stores; MariaDB keeps the text).
func canonJSON(s string) string {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil || d.More() {
		return s
	}
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return s
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// Canonicalize returns the canonical values of a destination-shaped row for
// the columns of t; columns not in compare (nil: all) are skipped.
func Canonicalize(t *cdc.Table, row []any, compare []bool) []Value {
	out := make([]Value, len(t.Columns))
	for i := range t.Columns {
		if compare != nil && !compare[i] {
			out[i] = Value{Skip: true}
			continue
		}
		out[i] = Canonical(row[i], &t.Columns[i])
	}
	return out
}

// HashRow hashes the values of a row not skipped in mask (nil: those not
// skipped in vals itself): the same values give the same hash on both sides.
func HashRow(vals, mask []Value) uint64 {
	h := fnv.New64a()
	var n [8]byte
	for i, v := range vals {
		m := v
		if mask != nil {
			m = mask[i]
		}
		if m.Skip {
			h.Write([]byte{2})
			continue
		}
		if v.Skip || v.Null {
			h.Write([]byte{0})
			continue
		}
		h.Write([]byte{1})
		binary.LittleEndian.PutUint64(n[:], uint64(len(v.Text)))
		h.Write(n[:])
		h.Write([]byte(v.Text))
	}
	return h.Sum64()
}

// keyText joins canonical key values into one comparable string.
func keyText(vals []Value) string {
	var b strings.Builder
	for _, v := range vals {
		if v.Null {
			b.WriteString("\x00N")
			continue
		}
		b.WriteString(strconv.Itoa(len(v.Text)))
		b.WriteByte(':')
		b.WriteString(v.Text)
	}
	return b.String()
}

// DiffColumns returns the indexes of the columns whose values differ, skipping
// those src skips.
func DiffColumns(src, dst []Value) []int {
	var out []int
	for i := range src {
		if src[i].Skip {
			continue
		}
		if src[i].Null != dst[i].Null || src[i].Text != dst[i].Text {
			out = append(out, i)
		}
	}
	return out
}
