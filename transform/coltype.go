package transform

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/shiplog/shiplog/cdc"
)

// colType is what a column can hold, read from its type: the integrity check
// compares a source column's with its destination column's, and the plan
// checks values against the destination's (see fit.go).
type colType struct {
	fam family
	// Integers: the range.
	min int64
	max uint64
	// DECIMAL: precision and scale; unsigned also for integers.
	prec, scale int
	unsigned    bool
	// Strings: maxChars for CHAR/VARCHAR (characters), maxBytes for TEXT,
	// BINARY, VARBINARY and BLOB types (bytes); cs is the character set.
	maxChars, maxBytes int64
	cs                 string
	// ENUM and SET: the values.
	values []string
	// Temporal types: fractional digits.
	fsp int
	// text is the type as the server prints it, for messages.
	text string
	// validate: values of a UTF-8 column are checked to be valid text of its
	// character set (the server would cut them at the first invalid byte);
	// off where they come from a UTF-8 column it contains.
	validate bool
}

type family uint8

const (
	famOther family = iota
	famInt
	famDecimal
	famFloat
	famDouble
	famText   // CHAR, VARCHAR, TEXT types
	famBinary // BINARY, VARBINARY, BLOB types
	famEnum
	famSet
	famDate
	famDatetime
	famTimestamp
	famTime
	famYear
)

var textBytes = map[string]int64{
	"tinytext": 255, "text": 65535, "mediumtext": 1<<24 - 1, "longtext": 1<<32 - 1,
	"tinyblob": 255, "blob": 65535, "mediumblob": 1<<24 - 1, "longblob": 1<<32 - 1,
}

var intBits = map[string]uint{"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "integer": 32, "bigint": 64}

// parseColType reads c's type; without a ColumnType (tables built by
// hand) the type is not known.
func parseColType(c *cdc.Column) colType {
	ct := strings.ToLower(c.ColumnType)
	t := colType{text: c.ColumnType, cs: normCharset(c.Charset), unsigned: c.Unsigned || strings.Contains(ct, "unsigned"), validate: true}
	if ct == "" {
		return t
	}
	args := typeArgs(ct)
	num := func(i, def int) int {
		if i < len(args) {
			if n, err := strconv.Atoi(strings.TrimSpace(args[i])); err == nil {
				return n
			}
		}
		return def
	}
	dt := strings.ToLower(c.DataType)
	switch dt {
	case "decimal", "numeric", "char", "varchar", "binary", "varbinary", "enum", "set":
		if !strings.Contains(ct, "(") { // the server always prints these with their size
			return t
		}
	}
	if bits, ok := intBits[dt]; ok {
		t.fam = famInt
		if t.unsigned {
			t.max = 1<<bits - 1
			if bits == 64 {
				t.max = math.MaxUint64
			}
		} else {
			t.min, t.max = -1<<(bits-1), 1<<(bits-1)-1
		}
		return t
	}
	switch dt {
	case "decimal", "numeric":
		t.fam, t.prec, t.scale = famDecimal, num(0, 10), num(1, 0)
	case "float", "double", "real":
		if len(args) == 0 { // FLOAT(M,D) rounds to D digits: not compared
			t.fam = famDouble
			if dt == "float" {
				t.fam = famFloat
			}
		}
	case "char", "varchar":
		t.fam, t.maxChars = famText, int64(num(0, 1))
	case "tinytext", "text", "mediumtext", "longtext":
		t.fam, t.maxBytes = famText, textBytes[dt]
	case "binary", "varbinary":
		t.fam, t.maxBytes = famBinary, int64(num(0, 1))
	case "tinyblob", "blob", "mediumblob", "longblob":
		t.fam, t.maxBytes = famBinary, textBytes[dt]
	case "enum", "set":
		t.fam = famEnum
		if dt == "set" {
			t.fam = famSet
		}
		t.values = enumValues(c.ColumnType)
	case "date":
		t.fam = famDate
	case "datetime":
		t.fam, t.fsp = famDatetime, num(0, 0)
	case "timestamp":
		t.fam, t.fsp = famTimestamp, num(0, 0)
	case "time":
		t.fam, t.fsp = famTime, num(0, 0)
	case "year":
		t.fam = famYear
	}
	return t
}

// typeArgs returns the comma-separated arguments in the parentheses of a
// column type ("decimal(10,2) unsigned" -> "10", "2"); not for ENUM and SET.
func typeArgs(ct string) []string {
	i := strings.IndexByte(ct, '(')
	j := strings.IndexByte(ct, ')')
	if i < 0 || j < i {
		return nil
	}
	return strings.Split(ct[i+1:j], ",")
}

// enumValues reads the values of "enum('a','b')" (a quote in a value is
// doubled).
func enumValues(ct string) []string {
	i := strings.IndexByte(ct, '(')
	if i < 0 {
		return nil
	}
	var out []string
	s := ct[i+1:]
	for len(s) > 0 && s[0] == '\'' {
		var b strings.Builder
		k := 1
		for k < len(s) {
			if s[k] == '\'' {
				if k+1 < len(s) && s[k+1] == '\'' {
					b.WriteByte('\'')
					k += 2
					continue
				}
				break
			}
			if s[k] == '\\' && k+1 < len(s) {
				k++
			}
			b.WriteByte(s[k])
			k++
		}
		out = append(out, b.String())
		s = strings.TrimLeft(s[min(k+1, len(s)):], ",")
	}
	return out
}

func normCharset(cs string) string {
	cs = strings.ToLower(cs)
	if cs == "utf8" {
		return "utf8mb3"
	}
	return cs
}

// mbMaxLen is the most bytes a character takes in charset cs.
func mbMaxLen(cs string) int64 {
	switch cs {
	case "utf8mb4", "utf16", "utf16le", "utf32", "gb18030", "":
		return 4
	case "utf8mb3", "ujis", "eucjpms":
		return 3
	case "ucs2", "big5", "gbk", "gb2312", "sjis", "cp932", "euckr":
		return 2
	}
	return 1
}

// unicodeAll are the character sets that hold every character.
var unicodeAll = map[string]bool{"utf8mb4": true, "utf16": true, "utf16le": true, "utf32": true, "gb18030": true}

// holdsCharset reports whether every character of charset src exists in dst.
func holdsCharset(dst, src string) bool {
	switch {
	case src == dst || src == "" || dst == "" || src == "ascii" || unicodeAll[dst]:
		return true
	case dst == "utf8mb3" || dst == "ucs2":
		return !unicodeAll[src] // every other charset is within the BMP
	}
	return false
}

// textConvertible are the character sets shiplog converts text between.
var textConvertible = map[string]bool{"utf8mb4": true, "utf8mb3": true, "latin1": true, "ascii": true}

// maxDigits is the decimal digits of the largest magnitude of an integer type.
func (t colType) intDigits() int {
	m := t.max
	if t.min < 0 && uint64(-(t.min+1))+1 > m {
		m = uint64(-(t.min + 1)) + 1
	}
	return len(strconv.FormatUint(m, 10))
}

func (t colType) intBits() int {
	m := t.max
	if t.min < 0 {
		m = uint64(-(t.min + 1)) + 1
	}
	n := 0
	for m > 0 {
		n++
		m >>= 1
	}
	return n
}

// srcChars is the most characters a value of a text type holds.
func (t colType) srcChars() int64 {
	if t.maxChars > 0 {
		return t.maxChars
	}
	return t.maxBytes
}

// narrowing compares the types of a source and a destination column. It
// returns why the destination cannot hold every value of the source ("" when
// it can), and known=false when the types are of kinds it does not compare
// (the integrity check then warns of the type mismatch, as before, and the
// plan checks the values).
func narrowing(src, dst colType) (why string, known bool) {
	signLoss := func() string {
		if !src.unsigned && dst.unsigned {
			return "negative values do not fit an unsigned column"
		}
		return ""
	}
	charset := func() string {
		if !holdsCharset(dst.cs, src.cs) {
			return fmt.Sprintf("character set %s cannot hold every %s character", dst.cs, src.cs)
		}
		return ""
	}
	switch {
	case src.fam == famInt && dst.fam == famInt:
		if src.min < dst.min || src.max > dst.max {
			if w := signLoss(); w != "" {
				return w, true
			}
			return "out of range values would be clipped", true
		}
		return "", true
	case src.fam == famInt && dst.fam == famDecimal:
		if w := signLoss(); w != "" {
			return w, true
		}
		if src.intDigits() > dst.prec-dst.scale {
			return fmt.Sprintf("%d integer digits do not fit in %d", src.intDigits(), dst.prec-dst.scale), true
		}
		return "", true
	case src.fam == famInt && (dst.fam == famFloat || dst.fam == famDouble):
		if bits := map[family]int{famFloat: 24, famDouble: 53}[dst.fam]; src.intBits() > bits {
			return "large integers would be rounded", true
		}
		return "", true
	case src.fam == famDecimal && dst.fam == famDecimal:
		if w := signLoss(); w != "" {
			return w, true
		}
		if src.prec-src.scale > dst.prec-dst.scale {
			return fmt.Sprintf("%d integer digits do not fit in %d", src.prec-src.scale, dst.prec-dst.scale), true
		}
		if src.scale > dst.scale {
			return fmt.Sprintf("%d decimals would be rounded to %d", src.scale, dst.scale), true
		}
		return "", true
	case src.fam == famDecimal && dst.fam == famInt:
		if src.scale > 0 {
			return "decimals would be rounded", true
		}
		if w := signLoss(); w != "" {
			return w, true
		}
		if src.prec >= dst.intDigits() {
			return "out of range values would be clipped", true
		}
		return "", true
	case src.fam == famDecimal && (dst.fam == famFloat || dst.fam == famDouble):
		if digits := map[family]int{famFloat: 6, famDouble: 15}[dst.fam]; src.prec > digits {
			return fmt.Sprintf("%d digits do not round-trip through %s", src.prec, dst.text), true
		}
		return "", true
	case src.fam == famFloat && dst.fam == famDouble, src.fam == dst.fam && (src.fam == famFloat || src.fam == famDouble):
		return "", true
	case src.fam == famDouble && dst.fam == famFloat:
		return "doubles would be rounded to floats", true
	case (src.fam == famFloat || src.fam == famDouble) && (dst.fam == famInt || dst.fam == famDecimal):
		return "floating-point values would be rounded", true
	case (src.fam == famText || src.fam == famEnum || src.fam == famSet) && dst.fam == famText:
		if w := charset(); w != "" {
			return w, true
		}
		chars := src.srcChars()
		if src.fam != famText {
			chars = 0
			for _, v := range src.values {
				chars = max(chars, int64(len([]rune(v))))
			}
			if src.fam == famSet {
				chars = int64(len(strings.Join(src.values, ",")))
			}
		}
		if dst.maxChars > 0 && chars > dst.maxChars {
			return fmt.Sprintf("values of up to %d characters do not fit in %d", chars, dst.maxChars), true
		}
		if dst.maxBytes > 0 && chars*mbMaxLen(dst.cs) > dst.maxBytes {
			// A TEXT holds bytes: count the source's at their most in dst's
			// character set (the same bytes when only the name changes).
			bytes := chars * mbMaxLen(dst.cs)
			if src.maxBytes > 0 && (src.cs == dst.cs || (src.cs == "utf8mb3" && dst.cs == "utf8mb4") || src.cs == "ascii") {
				bytes = src.maxBytes
			}
			if bytes > dst.maxBytes {
				return fmt.Sprintf("values of up to %d bytes do not fit in %d", bytes, dst.maxBytes), true
			}
		}
		return "", true
	case src.fam == famText && (dst.fam == famEnum || dst.fam == famSet):
		return "text other than the listed values would become ''", true
	case (src.fam == famEnum || src.fam == famSet) && dst.fam == src.fam:
		if w := charset(); w != "" {
			return w, true
		}
		for _, v := range src.values {
			if !containsString(dst.values, v) {
				return fmt.Sprintf("value '%s' is not one of the destination's", v), true
			}
		}
		return "", true
	case src.fam == famBinary && dst.fam == famBinary:
		if src.maxBytes > dst.maxBytes {
			return fmt.Sprintf("values of up to %d bytes do not fit in %d", src.maxBytes, dst.maxBytes), true
		}
		return "", true
	case src.fam == famDate && (dst.fam == famDate || dst.fam == famDatetime):
		return "", true
	case (src.fam == famDatetime || src.fam == famTimestamp) && dst.fam == famDatetime,
		src.fam == famTimestamp && dst.fam == famTimestamp, src.fam == famTime && dst.fam == famTime:
		if src.fsp > dst.fsp {
			return fmt.Sprintf("%d fractional digits would be rounded to %d", src.fsp, dst.fsp), true
		}
		return "", true
	case (src.fam == famDate || src.fam == famDatetime) && dst.fam == famTimestamp:
		return "dates outside TIMESTAMP's range (1970-2038) would become zero", true
	case (src.fam == famDatetime || src.fam == famTimestamp) && dst.fam == famDate:
		return "the time of day would be lost", true
	case src.fam == famYear && dst.fam == famYear:
		return "", true
	}
	return "", false
}

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
