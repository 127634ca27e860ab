// Package kafka is the Kafka sink: row changes published as Debezium envelopes
// (schemas disabled), one topic per source table, keyed by primary key, with
// kafka-go. It also decodes those envelopes for `apply --from-kafka` and
// `replay`.
//
// Value encodings (JSON), chosen so any Debezium JSON consumer reads them and
// so shiplog reads them back exactly:
//
//	integers, YEAR, BIT        number (BIT as its unsigned value; read with a big-number-safe parser)
//	FLOAT, DOUBLE              number (shortest text that reads back to the same value)
//	DECIMAL                    string ("-12.340")
//	DATE                       "2024-01-31"
//	DATETIME                   "2024-01-31T13:45:00.123456" (ISO-8601, no zone)
//	TIMESTAMP                  "2024-01-31T13:45:00.123Z" (ISO-8601, UTC)
//	TIME                       "13:45:00.5", "-838:59:59" (MySQL's range exceeds a day)
//	zero dates                 as MySQL prints them, with 'T': "0000-00-00T00:00:00"
//	CHAR, VARCHAR, TEXT, ENUM, SET   string (UTF-8; latin1 columns are transcoded)
//	JSON                       the JSON document itself, as written (a string
//	                           document, or text that is not JSON, as a string
//	                           holding the text)
//	BINARY, VARBINARY, BLOB, GEOMETRY   base64 string
//	NULL                       null
package kafka

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/shiplog/shiplog/cdc"
)

// Source is the envelope's "source" block (Debezium's MySQL connector fields).
type Source struct {
	Version   string  `json:"version"`
	Connector string  `json:"connector"`
	Name      string  `json:"name"`
	TsMs      int64   `json:"ts_ms"`
	Snapshot  string  `json:"snapshot"` // "true" for snapshot reads, else "false"
	DB        string  `json:"db"`
	Table     string  `json:"table"`
	ServerID  uint32  `json:"server_id"`
	GTID      *string `json:"gtid"`
	File      string  `json:"file"`
	Pos       uint64  `json:"pos"`
	Row       int     `json:"row"`
}

// Version is written in source.version.
const Version = "shiplog-1"

// Message is a decoded envelope; Before and After stay raw until decoded
// against a table with DecodeRow.
type Message struct {
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
	Source Source          `json:"source"`
	Op     string          `json:"op"`
	TsMs   int64           `json:"ts_ms"`
	// Cascade is set on cascade markers (op "cascade").
	Cascade *CascadeInfo `json:"cascade,omitempty"`
}

// CascadeInfo describes a cascade marker: a source foreign key's ON DELETE
// or ON UPDATE action that changed rows of the topic's table the binlog does
// not show (see cdc.OpCascade). "before" holds the key's columns with the
// parent's old values, "after" their new values (null for a delete action).
// The marker is published to each partition of the topic; the applier of
// Partition (of Partitions) changes the matching rows whose key hashes to it.
type CascadeInfo struct {
	Constraint string   `json:"constraint"`
	Columns    []string `json:"columns"`
	Delete     bool     `json:"delete"`
	Partition  int      `json:"partition"`
	Partitions int      `json:"partitions"`
}

// OpCascadeCode is the op of cascade markers.
const OpCascadeCode = "cascade"

// AppendCascade appends the envelope of cascade marker c of table t for
// partition part of parts.
func AppendCascade(buf []byte, t *cdc.Table, c cdc.Change, src Source, tsMs int64, part, parts int) ([]byte, error) {
	img := func(vals []any) []any {
		if vals == nil {
			return nil
		}
		row := make([]any, len(t.Columns))
		for i, k := range c.Cascade.Cols {
			row[k] = vals[i]
		}
		return row
	}
	after := img(c.After)
	if after == nil && !c.Cascade.Delete {
		after = img(make([]any, len(c.Cascade.Cols)))
	}
	buf, err := AppendEnvelope(buf, t, cdc.Change{Op: cdc.OpCascade, Before: img(c.Before), After: after}, src, tsMs)
	if err != nil {
		return buf, err
	}
	info := CascadeInfo{Constraint: c.Cascade.Constraint, Delete: c.Cascade.Delete, Partition: part, Partitions: parts}
	for _, k := range c.Cascade.Cols {
		info.Columns = append(info.Columns, t.Columns[k].Name)
	}
	js, err := json.Marshal(info)
	if err != nil {
		return buf, err
	}
	buf = append(buf[:len(buf)-1], `,"cascade":`...)
	buf = append(buf, js...)
	return append(buf, '}'), nil
}

// OpCode is Debezium's op letter for a change: r (snapshot read), c, u, d.
func OpCode(op cdc.Op) string {
	switch op {
	case cdc.OpInsert:
		return "c"
	case cdc.OpUpdate:
		return "u"
	case cdc.OpDelete:
		return "d"
	case cdc.OpCascade:
		return OpCascadeCode
	}
	return "r"
}

// ParseOp is the inverse of OpCode.
func ParseOp(code string) (cdc.Op, error) {
	switch code {
	case "c":
		return cdc.OpInsert, nil
	case "u":
		return cdc.OpUpdate, nil
	case "d":
		return cdc.OpDelete, nil
	case "r":
		return cdc.OpRead, nil
	case OpCascadeCode:
		return cdc.OpCascade, nil
	}
	return 0, fmt.Errorf("unknown op %q (want c, u, d or r)", code)
}

// TopicName is "<prefix>.<database>.<table>".
func TopicName(prefix, db, table string) string { return prefix + "." + db + "." + table }

// AppendEnvelope appends the envelope of change c of table t to buf.
func AppendEnvelope(buf []byte, t *cdc.Table, c cdc.Change, src Source, tsMs int64) ([]byte, error) {
	var err error
	buf = append(buf, `{"before":`...)
	if buf, err = AppendRow(buf, t, c.Before); err != nil {
		return buf, err
	}
	buf = append(buf, `,"after":`...)
	if buf, err = AppendRow(buf, t, c.After); err != nil {
		return buf, err
	}
	s, err := json.Marshal(src)
	if err != nil {
		return buf, err
	}
	buf = append(buf, `,"source":`...)
	buf = append(buf, s...)
	buf = append(buf, `,"op":"`...)
	buf = append(buf, OpCode(c.Op)...)
	buf = append(buf, `","ts_ms":`...)
	buf = strconv.AppendInt(buf, tsMs, 10)
	return append(buf, '}'), nil
}

// AppendKey appends the message key: the key columns of row as a JSON object
// (all columns for a table without key).
func AppendKey(buf []byte, t *cdc.Table, row []any) ([]byte, error) {
	idx := t.Key
	if len(idx) == 0 {
		idx = make([]int, len(t.Columns))
		for i := range idx {
			idx[i] = i
		}
	}
	buf = append(buf, '{')
	for n, i := range idx {
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = appendString(buf, t.Columns[i].Name)
		buf = append(buf, ':')
		var err error
		if buf, err = appendValue(buf, row[i], &t.Columns[i]); err != nil {
			return buf, err
		}
	}
	return append(buf, '}'), nil
}

// AppendRow appends row as a JSON object in column order, or null.
func AppendRow(buf []byte, t *cdc.Table, row []any) ([]byte, error) {
	if row == nil {
		return append(buf, "null"...), nil
	}
	buf = append(buf, '{')
	for i := range t.Columns {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendString(buf, t.Columns[i].Name)
		buf = append(buf, ':')
		var err error
		if buf, err = appendValue(buf, row[i], &t.Columns[i]); err != nil {
			return buf, fmt.Errorf("column %s: %w", t.Columns[i].Name, err)
		}
	}
	return append(buf, '}'), nil
}

func appendValue(buf []byte, v any, c *cdc.Column) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...), nil
	case int64:
		return strconv.AppendInt(buf, x, 10), nil
	case uint64:
		return strconv.AppendUint(buf, x, 10), nil
	case int:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return buf, fmt.Errorf("%v has no JSON form", x)
		}
		return strconv.AppendFloat(buf, float64(x), 'g', -1, 32), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return buf, fmt.Errorf("%v has no JSON form", x)
		}
		return strconv.AppendFloat(buf, x, 'g', -1, 64), nil
	case string:
		return appendText(buf, []byte(x), c)
	case []byte:
		return appendText(buf, x, c)
	case cdc.DefaultValue:
		return append(buf, "null"...), nil
	}
	return buf, fmt.Errorf("unsupported value type %T", v)
}

func appendText(buf, b []byte, c *cdc.Column) ([]byte, error) {
	switch c.Kind() {
	case cdc.KindTemporal:
		s := string(b)
		if c.DataType == "datetime" || c.DataType == "timestamp" {
			s = strings.Replace(s, " ", "T", 1)
			if c.DataType == "timestamp" && !strings.HasPrefix(s, "0000-") {
				s += "Z"
			}
		}
		return appendString(buf, s), nil
	case cdc.KindJSON:
		// A document is written as itself, byte for byte (not compacted:
		// MariaDB keeps JSON as text, and a copy must equal its source).
		// Text that cannot be embedded as is (text that is not JSON, a JSON
		// string, surrounding whitespace, or the document null, which would
		// read back as SQL NULL) is written as a JSON string holding the
		// text; DecodeRow returns a string's content, so both forms read
		// back exactly. Invalid UTF-8 is an error, never replaced.
		if !utf8.Valid(b) {
			return buf, fmt.Errorf("invalid UTF-8 in JSON text")
		}
		if len(b) > 0 && b[0] != '"' && string(b) != "null" && json.Valid(b) && len(bytes.TrimSpace(b)) == len(b) {
			return append(buf, b...), nil
		}
		return appendString(buf, string(b)), nil
	case cdc.KindDecimal, cdc.KindInt, cdc.KindUint, cdc.KindYear, cdc.KindBit, cdc.KindFloat, cdc.KindDouble:
		return appendString(buf, string(b)), nil
	}
	cs := strings.ToLower(c.Charset)
	if c.Kind() == cdc.KindEnumSet && (cs == "" || cs == "binary") {
		cs = "utf8mb4" // ENUM/SET values are text, as the decoder reads them
	}
	switch {
	case cs == "" || cs == "binary":
		buf = append(buf, '"')
		buf = base64.StdEncoding.AppendEncode(buf, b)
		return append(buf, '"'), nil
	case cs == "latin1":
		return appendString(buf, latin1ToUTF8(b)), nil
	case strings.HasPrefix(cs, "utf8") || cs == "ascii":
		if !utf8.Valid(b) {
			return buf, fmt.Errorf("invalid %s text", cs)
		}
		return appendString(buf, string(b)), nil
	default:
		return buf, fmt.Errorf("character set %s is not supported on the Kafka path (utf8mb4, utf8mb3, ascii, latin1 and binary are)", cs)
	}
}

func appendString(buf []byte, s string) []byte {
	b, _ := json.Marshal(s)
	return append(buf, b...)
}

// Decode parses an envelope.
func Decode(data []byte) (*Message, error) {
	var m Message
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a Debezium envelope: %w", err)
	}
	if _, err := ParseOp(m.Op); err != nil {
		return nil, err
	}
	if m.Source.Table == "" {
		return nil, fmt.Errorf("envelope without source.table")
	}
	return &m, nil
}

// DecodeRow reads a row object (as AppendRow writes it) against t: the
// canonical values in t's column order. Columns missing from the object are
// nil; fields t lacks are an error.
func DecodeRow(t *cdc.Table, raw json.RawMessage) ([]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("row of %s: %w", t.Name, err)
	}
	row := make([]any, len(t.Columns))
	for name, v := range obj {
		i := t.ColumnIndex(name)
		if i < 0 {
			return nil, fmt.Errorf("row of %s: unknown field %q", t.Name, name)
		}
		val, err := decodeValue(v, &t.Columns[i])
		if err != nil {
			return nil, fmt.Errorf("row of %s: field %s: %w", t.Name, name, err)
		}
		row[i] = val
	}
	return row, nil
}

func decodeValue(raw json.RawMessage, c *cdc.Column) (any, error) {
	s := strings.TrimSpace(string(raw))
	if s == "null" {
		return nil, nil
	}
	switch c.Kind() {
	case cdc.KindInt, cdc.KindYear:
		return strconv.ParseInt(strings.Trim(s, `"`), 10, 64)
	case cdc.KindUint, cdc.KindBit:
		return strconv.ParseUint(strings.Trim(s, `"`), 10, 64)
	case cdc.KindFloat:
		f, err := strconv.ParseFloat(strings.Trim(s, `"`), 32)
		return float32(f), err
	case cdc.KindDouble:
		return strconv.ParseFloat(strings.Trim(s, `"`), 64)
	case cdc.KindJSON:
		if strings.HasPrefix(s, `"`) {
			var str string
			if err := json.Unmarshal(raw, &str); err != nil {
				return nil, err
			}
			return str, nil
		}
		return s, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return nil, fmt.Errorf("want a string: %w", err)
	}
	switch c.Kind() {
	case cdc.KindDecimal, cdc.KindEnumSet:
		return enc(str, c)
	case cdc.KindTemporal:
		if c.DataType == "datetime" || c.DataType == "timestamp" {
			str = strings.TrimSuffix(strings.Replace(str, "T", " ", 1), "Z")
		}
		return str, nil
	}
	switch cs := strings.ToLower(c.Charset); {
	case cs == "" || cs == "binary":
		return base64.StdEncoding.DecodeString(str)
	default:
		v, err := enc(str, c)
		if err != nil {
			return nil, err
		}
		return []byte(v.(string)), nil
	}
}

// enc turns UTF-8 text back into the column's character set.
func enc(s string, c *cdc.Column) (any, error) {
	if strings.EqualFold(c.Charset, "latin1") {
		return utf8ToLatin1(s)
	}
	return s, nil
}

// cp1252High is MySQL's latin1 (Windows-1252) for bytes 0x80-0x9F; the five
// bytes Windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) are the
// C1 controls of the same value, as in MySQL, so every byte round-trips.
// (x/text's charmap.Windows1252 turns those five into U+FFFD, losing them.)
var cp1252High = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
}

// latin1ToUTF8 transcodes MySQL latin1 bytes to UTF-8.
func latin1ToUTF8(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/4)
	for _, c := range b {
		switch {
		case c < 0x80:
			sb.WriteByte(c)
		case c < 0xA0:
			sb.WriteRune(cp1252High[c-0x80])
		default:
			sb.WriteRune(rune(c))
		}
	}
	return sb.String()
}

// utf8ToLatin1 is the inverse of latin1ToUTF8.
func utf8ToLatin1(s string) (string, error) {
	out := make([]byte, 0, len(s))
	for i, r := range s {
		switch {
		case r < 0x80 || (r >= 0xA0 && r <= 0xFF):
			out = append(out, byte(r))
		default:
			found := false
			for j, h := range cp1252High {
				if h == r {
					out = append(out, byte(0x80+j))
					found = true
					break
				}
			}
			if !found {
				return "", fmt.Errorf("text not representable in latin1: %q at byte %d", r, i)
			}
		}
	}
	return string(out), nil
}
