package transform

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/shiplog/shiplog/cdc"
)

// FitHandler names the check of values against their destination column in
// failed rows (it is no handler of the map).
const FitHandler = "destination column type"

// errNoFit is wrapped by the errors of values a destination column cannot
// hold.
var errNoFit = errors.New("the destination column cannot hold the value")

// fit checks (and, between character sets, converts) the values of one
// destination column before they are written: the destination session is not
// strict (zero dates and ENUM error values must land as they are), so the
// server would clip a value that does not fit, with a warning nobody reads.
// A plan builds fits only for columns whose values may not fit (narrower or
// different types, handlers); identical columns cost nothing.
type fit struct {
	col   int // in the destination row
	name  string
	dst   colType
	check bool
	// conv converts text from the source column's character set (copied
	// values of another character set), nil when none is needed.
	conv func([]byte) ([]byte, error)
}

// apply returns v as the destination column takes it, or an error when the
// column cannot hold it.
func (f *fit) apply(v any, check bool) (any, error) {
	switch v.(type) {
	case nil, cdc.DefaultValue:
		return v, nil
	}
	if f.conv != nil {
		switch x := v.(type) {
		case []byte:
			b, err := f.conv(x)
			if err != nil {
				return nil, f.fail(v, err.Error())
			}
			v = b
		case string:
			b, err := f.conv([]byte(x))
			if err != nil {
				return nil, f.fail(v, err.Error())
			}
			v = string(b)
		}
	}
	if !check || !f.check {
		return v, nil
	}
	if why := f.dst.holds(v); why != "" {
		return nil, f.fail(v, why)
	}
	return v, nil
}

func (f *fit) fail(v any, why string) error {
	s := fmt.Sprint(v)
	switch x := v.(type) {
	case []byte:
		s = string(x)
	case string:
		s = x
	}
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	if f.dst.fam == famInt {
		why = fmt.Sprintf("%s %d to %d", why, f.dst.min, f.dst.max)
	}
	return fmt.Errorf("%w: %s %s: %q: %s", errNoFit, f.name, f.dst.text, s, why)
}

// valueText returns v as text when it is a string, bytes or a number.
func valueText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		// A view, not a copy: the value is only read, and not kept.
		return unsafe.String(unsafe.SliceData(x), len(x)), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case int:
		return strconv.Itoa(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), true
	case time.Time:
		return x.Format("2006-01-02 15:04:05.999999"), true
	}
	return "", false
}

// holds returns why t cannot hold v, or "".
func (t *colType) holds(v any) string {
	if x, ok := v.(int); ok && t.fam == famInt { // expressions return Go ints
		return t.holdsInt64(int64(x))
	}
	switch t.fam {
	case famInt:
		return t.holdsInt(v)
	case famDecimal:
		return t.holdsDecimal(v)
	case famFloat:
		switch x := v.(type) {
		case float64:
			if !math.IsNaN(x) && float64(float32(x)) != x {
				return "FLOAT cannot hold it exactly"
			}
		case int64:
			if float32(x) != float32(float64(x)) || int64(float32(x)) != x {
				return "FLOAT cannot hold it exactly"
			}
		case uint64:
			if uint64(float32(x)) != x {
				return "FLOAT cannot hold it exactly"
			}
		}
	case famDouble:
		switch x := v.(type) {
		case int64:
			if x != math.MinInt64 && int64(float64(x)) != x {
				return "DOUBLE cannot hold it exactly"
			}
		case uint64:
			if f := float64(x); f >= 1<<64 || uint64(f) != x {
				return "DOUBLE cannot hold it exactly"
			}
		}
	case famText:
		s, ok := valueText(v)
		if !ok {
			return ""
		}
		return t.holdsText(s)
	case famBinary:
		s, ok := valueText(v)
		if ok && int64(len(s)) > t.maxBytes {
			return fmt.Sprintf("%d bytes do not fit in %d", len(s), t.maxBytes)
		}
	case famEnum:
		s, ok := valueText(v)
		if ok && s != "" && !containsString(t.values, s) {
			if _, num := v.(int64); !num {
				return "not one of the column's values"
			}
		}
	case famSet:
		s, ok := valueText(v)
		if ok && s != "" {
			for _, e := range strings.Split(s, ",") {
				if !containsString(t.values, e) {
					return fmt.Sprintf("'%s' is not one of the column's values", e)
				}
			}
		}
	case famDate, famDatetime, famTimestamp, famTime:
		s, ok := valueText(v)
		if ok {
			return t.holdsTemporal(s)
		}
	case famYear:
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case uint64:
			n = int64(min(x, math.MaxInt32))
		default:
			s, ok := valueText(v)
			if !ok {
				return ""
			}
			var err error
			if n, err = strconv.ParseInt(strings.TrimSpace(s), 10, 64); err != nil {
				return "not a year"
			}
		}
		if n != 0 && (n < 1901 || n > 2155) {
			return "YEAR holds 1901 to 2155 (and 0)"
		}
	}
	return ""
}

func (t *colType) holdsInt(v any) string {
	out := "out of the column's range"
	switch x := v.(type) {
	case int64:
		return t.holdsInt64(x)
	case uint64:
		if x > t.max {
			return out
		}
		return ""
	case float64:
		if x != math.Trunc(x) {
			return "decimals would be rounded"
		}
		if x < float64(t.min) || x > float64(t.max) {
			return out
		}
		return ""
	case float32:
		return t.holdsInt(float64(x))
	}
	s, ok := valueText(v)
	if !ok {
		return ""
	}
	neg, ip, fp, ok := splitDecimal(s)
	if !ok {
		return "not a number"
	}
	if strings.Trim(fp, "0") != "" {
		return "decimals would be rounded"
	}
	if neg && ip != "0" {
		n, err := strconv.ParseInt("-"+ip, 10, 64)
		if err != nil || n < t.min {
			return out
		}
		return ""
	}
	n, err := strconv.ParseUint(ip, 10, 64)
	if err != nil || n > t.max {
		return out
	}
	return ""
}

func (t *colType) holdsInt64(x int64) string {
	if x < t.min || (x > 0 && uint64(x) > t.max) {
		return "out of the column's range"
	}
	return ""
}

func (t *colType) holdsDecimal(v any) string {
	s, ok := valueText(v)
	if !ok {
		return ""
	}
	neg, ip, fp, ok := splitDecimal(s)
	if !ok {
		return "not a number"
	}
	fp = strings.TrimRight(fp, "0")
	switch {
	case neg && t.unsigned && (ip != "0" || fp != ""):
		return "negative values do not fit an unsigned column"
	case ip != "0" && len(ip) > t.prec-t.scale:
		return fmt.Sprintf("%d integer digits do not fit in %d", len(ip), t.prec-t.scale)
	case len(fp) > t.scale:
		return fmt.Sprintf("%d decimals would be rounded to %d", len(fp), t.scale)
	}
	return ""
}

// splitDecimal splits "-0012.340" into its sign, integer digits without
// leading zeros ("12", or "0") and decimals ("340").
func splitDecimal(s string) (neg bool, ip, fp string, ok bool) {
	s = strings.TrimSpace(s)
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	ip, fp, _ = strings.Cut(s, ".")
	if ip == "" && fp == "" {
		return false, "", "", false
	}
	for _, part := range [...]string{ip, fp} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return false, "", "", false
			}
		}
	}
	ip = strings.TrimLeft(ip, "0")
	if ip == "" {
		ip = "0"
	}
	return neg, ip, fp, true
}

func (t *colType) holdsText(s string) string {
	if t.validate && (t.cs == "utf8mb4" || t.cs == "utf8mb3") {
		if !utf8.ValidString(s) {
			return "not valid " + t.cs + " text"
		}
		if t.cs == "utf8mb3" {
			for _, r := range s {
				if r > 0xFFFF {
					return "utf8mb3 cannot hold 4-byte characters"
				}
			}
		}
	}
	if t.maxBytes > 0 && int64(len(s)) > t.maxBytes {
		return fmt.Sprintf("%d bytes do not fit in %d", len(s), t.maxBytes)
	}
	if t.maxChars > 0 && int64(len(s)) > t.maxChars {
		n := int64(len(s))
		if mbMaxLen(t.cs) > 1 && utf8.ValidString(s) {
			n = int64(utf8.RuneCountInString(s))
		}
		if n > t.maxChars {
			return fmt.Sprintf("%d characters do not fit in %d", n, t.maxChars)
		}
	}
	return ""
}

const (
	zeroDatetime = "0000-00-00 00:00:00"
	minTimestamp = "1970-01-01 00:00:01"
	maxTimestamp = "2038-01-19 03:14:07"
)

// holdsTemporal checks a value in MySQL's text form (canonical DATE, TIME,
// DATETIME and TIMESTAMP values).
func (t *colType) holdsTemporal(s string) string {
	main, frac, _ := strings.Cut(s, ".")
	if len(strings.TrimRight(frac, "0")) > t.fsp {
		return fmt.Sprintf("%d fractional digits would be rounded to %d", len(frac), t.fsp)
	}
	switch t.fam {
	case famDate:
		if len(main) > 10 && strings.Trim(main[10:], " 0:") != "" {
			return "the time of day would be lost"
		}
	case famTime:
		if strings.Contains(main, "-") && strings.LastIndexByte(main, '-') > 0 {
			return "a date does not fit a TIME column"
		}
		h, _, _ := strings.Cut(strings.TrimPrefix(main, "-"), ":")
		if n, err := strconv.Atoi(h); err == nil && n > 838 {
			return "TIME holds -838:59:59 to 838:59:59"
		}
	case famTimestamp:
		if len(main) == 10 {
			main += " 00:00:00"
		}
		if main == zeroDatetime {
			return ""
		}
		if _, err := time.Parse("2006-01-02 15:04:05", main); err != nil {
			return "not a valid TIMESTAMP (it would become zero)"
		}
		if main < minTimestamp || main > maxTimestamp {
			return "outside TIMESTAMP's range 1970-01-01 00:00:01 to 2038-01-19 03:14:07 UTC (it would become zero)"
		}
	}
	return ""
}

// converter returns the conversion of text from charset src to dst, nil when
// the bytes stay as they are, and ok=false when shiplog cannot convert
// between the two.
func converter(src, dst string) (conv func([]byte) ([]byte, error), ok bool) {
	switch {
	case src == dst || src == "" || dst == "" || src == "binary" || dst == "binary":
		return nil, true
	case !textConvertible[src] || !textConvertible[dst]:
		return nil, false
	case src == "ascii" || (src == "utf8mb3" && dst == "utf8mb4"):
		return nil, true // the same bytes
	case src == "latin1":
		return func(b []byte) ([]byte, error) { return fromLatin1(b, dst) }, true
	}
	// utf8mb4 or utf8mb3 to a smaller set.
	return func(b []byte) ([]byte, error) { return fromUTF8(b, dst) }, true
}

// latin1High is MySQL's latin1 (Windows-1252, with its 5 holes mapped to the
// C1 controls) from 0x80 to 0x9F.
var latin1High = [32]rune{
	0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F,
	0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
}

func latin1Rune(c byte) rune {
	if c >= 0x80 && c < 0xA0 {
		return latin1High[c-0x80]
	}
	return rune(c)
}

func latin1Byte(r rune) (byte, bool) {
	if r < 0x80 || (r >= 0xA0 && r <= 0xFF) {
		return byte(r), true
	}
	for i, h := range latin1High {
		if h == r {
			return byte(0x80 + i), true
		}
	}
	return 0, false
}

func fromLatin1(b []byte, dst string) ([]byte, error) {
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return b, nil
	}
	if dst == "ascii" {
		return nil, fmt.Errorf("ascii cannot hold the latin1 text")
	}
	out := make([]byte, 0, len(b)+len(b)/2)
	for _, c := range b {
		out = utf8.AppendRune(out, latin1Rune(c))
	}
	return out, nil
}

func fromUTF8(b []byte, dst string) ([]byte, error) {
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("the source text is not valid UTF-8")
	}
	var out []byte
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case dst == "utf8mb3" || dst == "utf8mb4":
			if r > 0xFFFF && dst == "utf8mb3" {
				return nil, fmt.Errorf("utf8mb3 cannot hold the character %q", r)
			}
		default:
			c, ok := latin1Byte(r)
			if !ok || (dst == "ascii" && c >= 0x80) {
				return nil, fmt.Errorf("%s cannot hold the character %q", dst, r)
			}
			if out == nil {
				out = make([]byte, 0, len(b))
				out = append(out, b[:i]...)
			}
			out = append(out, c)
		}
		i += n
	}
	if out == nil {
		return b, nil
	}
	return out, nil
}
