package binlog

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/shiplog/shiplog/cdc"
)

// colInfo is what converting one column's binlog value needs.
type colInfo struct {
	kind cdc.Kind
	// fsp is the fractional-second digits of TIME/DATETIME/TIMESTAMP columns.
	fsp int
	// values are the ENUM or SET members, in definition order.
	values []string
	isTime bool
	isSet  bool
	// padTo is the length of BINARY(n) columns: the binlog drops their
	// trailing zero bytes, the server returns all n.
	padTo int
}

// tableInfo is a decoded table map: the shape callers see and how to convert
// its values.
type tableInfo struct {
	table *cdc.Table
	cols  []colInfo
}

// tableCache keeps one *cdc.Table per schema.table for as long as its table
// map is unchanged, so callers may cache by pointer. Table ids can change (MySQL
// reassigns them when a table is reopened), names are stable.
type tableCache struct {
	byID   map[uint64]cachedMap
	byName map[string]*tableInfo
}

type cachedMap struct {
	tm   *replication.TableMapEvent
	info *tableInfo
}

func newTableCache() *tableCache {
	return &tableCache{byID: map[uint64]cachedMap{}, byName: map[string]*tableInfo{}}
}

// resetIDs forgets table ids; they are only valid on one connection.
func (c *tableCache) resetIDs() { c.byID = map[uint64]cachedMap{} }

// get returns the table for a table-map event. Every transaction sends the
// table maps again: one that describes the cached table the same way, field
// by field, is not decoded again.
func (c *tableCache) get(tm *replication.TableMapEvent) (*tableInfo, error) {
	if m, ok := c.byID[tm.TableID]; ok && (m.tm == tm || sameMap(m.tm, tm)) {
		if m.tm != tm {
			c.byID[tm.TableID] = cachedMap{tm: tm, info: m.info}
		}
		return m.info, nil
	}
	info, err := buildTable(tm)
	if err != nil {
		return nil, err
	}
	key := info.table.Schema + "." + info.table.Name
	if old, ok := c.byName[key]; ok && sameTable(old, info) {
		info = old
	} else {
		c.byName[key] = info
	}
	c.byID[tm.TableID] = cachedMap{tm: tm, info: info}
	return info, nil
}

// sameMap reports whether two table maps describe the same table the same
// way (the table id aside).
func sameMap(a, b *replication.TableMapEvent) bool {
	eqNested := func(x, y [][][]byte) bool {
		return slices.EqualFunc(x, y, func(p, q [][]byte) bool { return slices.EqualFunc(p, q, bytes.Equal) })
	}
	return a.Flags == b.Flags && bytes.Equal(a.Schema, b.Schema) && bytes.Equal(a.Table, b.Table) &&
		a.ColumnCount == b.ColumnCount && bytes.Equal(a.ColumnType, b.ColumnType) && slices.Equal(a.ColumnMeta, b.ColumnMeta) &&
		bytes.Equal(a.NullBitmap, b.NullBitmap) && bytes.Equal(a.SignednessBitmap, b.SignednessBitmap) &&
		slices.Equal(a.DefaultCharset, b.DefaultCharset) && slices.Equal(a.ColumnCharset, b.ColumnCharset) &&
		eqNested(a.SetStrValue, b.SetStrValue) && eqNested(a.EnumStrValue, b.EnumStrValue) &&
		slices.EqualFunc(a.ColumnName, b.ColumnName, bytes.Equal) && slices.Equal(a.GeometryType, b.GeometryType) &&
		slices.Equal(a.PrimaryKey, b.PrimaryKey) && slices.Equal(a.PrimaryKeyPrefix, b.PrimaryKeyPrefix) &&
		slices.Equal(a.EnumSetDefaultCharset, b.EnumSetDefaultCharset) && slices.Equal(a.EnumSetColumnCharset, b.EnumSetColumnCharset) &&
		bytes.Equal(a.VisibilityBitmap, b.VisibilityBitmap)
}

func sameTable(a, b *tableInfo) bool {
	return reflect.DeepEqual(a.table, b.table) && reflect.DeepEqual(a.cols, b.cols)
}

// buildTable turns a table-map event with binlog_row_metadata=FULL into a table.
func buildTable(tm *replication.TableMapEvent) (*tableInfo, error) {
	n := int(tm.ColumnCount)
	names := tm.ColumnNameString()
	if len(names) != n {
		return nil, fmt.Errorf("%w: table map of `%s`.`%s` has no column names (set binlog_row_metadata=FULL)",
			ErrRowMetadataNotFull, tm.Schema, tm.Table)
	}
	unsigned := tm.UnsignedMap()
	collations := tm.CollationMap()
	enums := tm.EnumStrValueMap()
	sets := tm.SetStrValueMap()
	geoms := tm.GeometryTypeMap()
	t := &cdc.Table{Schema: string(tm.Schema), Name: string(tm.Table), Columns: make([]cdc.Column, n)}
	cols := make([]colInfo, n)
	for i := range n {
		col := cdc.Column{Name: names[i], Unsigned: unsigned[i]}
		if ok, null := tm.Nullable(i); ok {
			col.Nullable = null
		}
		coll, hasColl := collations[i]
		var ci colInfo
		col.DataType, col.ColumnType, ci = columnType(tm.ColumnType[i], tm.ColumnMeta[i], coll, hasColl, enums[i], sets[i], geoms[i])
		if hasColl {
			col.Charset = charsetOf(coll)
		}
		if col.Unsigned {
			col.ColumnType += " unsigned"
		}
		ci.kind = col.Kind()
		t.Columns[i], cols[i] = col, ci
	}
	for _, k := range tm.PrimaryKey {
		if int(k) >= n {
			return nil, fmt.Errorf("table map of `%s`.`%s`: primary key column %d out of range", tm.Schema, tm.Table, k)
		}
		t.Key = append(t.Key, int(k))
	}
	if len(t.Key) > 0 {
		t.KeyName = "PRIMARY"
	}
	return &tableInfo{table: t, cols: cols}, nil
}

var geometryTypes = []string{"geometry", "point", "linestring", "polygon", "multipoint",
	"multilinestring", "multipolygon", "geometrycollection"}

// columnType maps a binlog column type code and its metadata to the lower-case
// MySQL data type, a best-effort full column type, and conversion details.
func columnType(typ byte, meta uint16, coll uint64, hasColl bool, enum, set []string, geom uint64) (dataType, columnType string, ci colInfo) {
	binary := hasColl && coll == 63
	switch typ {
	case mysql.MYSQL_TYPE_TINY:
		return "tinyint", "tinyint", ci
	case mysql.MYSQL_TYPE_SHORT:
		return "smallint", "smallint", ci
	case mysql.MYSQL_TYPE_INT24:
		return "mediumint", "mediumint", ci
	case mysql.MYSQL_TYPE_LONG:
		return "int", "int", ci
	case mysql.MYSQL_TYPE_LONGLONG:
		return "bigint", "bigint", ci
	case mysql.MYSQL_TYPE_FLOAT:
		return "float", "float", ci
	case mysql.MYSQL_TYPE_DOUBLE:
		return "double", "double", ci
	case mysql.MYSQL_TYPE_NEWDECIMAL, mysql.MYSQL_TYPE_DECIMAL:
		return "decimal", fmt.Sprintf("decimal(%d,%d)", meta>>8, meta&0xff), ci
	case mysql.MYSQL_TYPE_BIT:
		bits := int(meta>>8)*8 + int(meta&0xff)
		return "bit", fmt.Sprintf("bit(%d)", bits), ci
	case mysql.MYSQL_TYPE_YEAR:
		return "year", "year", ci
	case mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_NEWDATE:
		return "date", "date", ci
	case mysql.MYSQL_TYPE_TIME, mysql.MYSQL_TYPE_TIME2:
		ci.isTime = true
		return temporal("time", typ == mysql.MYSQL_TYPE_TIME2, meta, ci)
	case mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_DATETIME2:
		return temporal("datetime", typ == mysql.MYSQL_TYPE_DATETIME2, meta, ci)
	case mysql.MYSQL_TYPE_TIMESTAMP, mysql.MYSQL_TYPE_TIMESTAMP2:
		return temporal("timestamp", typ == mysql.MYSQL_TYPE_TIMESTAMP2, meta, ci)
	case mysql.MYSQL_TYPE_JSON:
		return "json", "json", ci
	case mysql.MYSQL_TYPE_GEOMETRY:
		name := "geometry"
		if int(geom) < len(geometryTypes) {
			name = geometryTypes[geom]
		}
		return name, name, ci
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING:
		if binary {
			return "varbinary", fmt.Sprintf("varbinary(%d)", meta), ci
		}
		return "varchar", withChars("varchar", int(meta), coll, hasColl), ci
	case mysql.MYSQL_TYPE_BLOB:
		prefix := map[uint16]string{1: "tiny", 2: "", 3: "medium", 4: "long"}[meta]
		if hasColl && !binary {
			return prefix + "text", prefix + "text", ci
		}
		return prefix + "blob", prefix + "blob", ci
	case mysql.MYSQL_TYPE_STRING:
		real := byte(meta >> 8)
		switch real {
		case mysql.MYSQL_TYPE_ENUM:
			ci.values = enum
			return "enum", "enum(" + quoteList(enum) + ")", ci
		case mysql.MYSQL_TYPE_SET:
			ci.values, ci.isSet = set, true
			return "set", "set(" + quoteList(set) + ")", ci
		}
		// CHAR: the byte length is split across both metadata bytes (as in
		// go-mysql's decodeValue) for lengths of 256 and more.
		length := int(meta & 0xff)
		if meta >= 256 {
			b0 := uint8(meta >> 8)
			if b0&0x30 != 0x30 {
				length = int(uint16(meta&0xff) | (uint16((b0&0x30)^0x30) << 4))
			}
		}
		if binary {
			ci.padTo = length
			return "binary", fmt.Sprintf("binary(%d)", length), ci
		}
		return "char", withChars("char", length, coll, hasColl), ci
	case mysql.MYSQL_TYPE_VECTOR:
		return "vector", "vector", ci
	}
	return fmt.Sprintf("type%d", typ), fmt.Sprintf("type%d", typ), ci
}

func temporal(name string, v2 bool, meta uint16, ci colInfo) (string, string, colInfo) {
	if v2 && meta > 0 && meta <= 6 {
		ci.fsp = int(meta)
		return name, fmt.Sprintf("%s(%d)", name, meta), ci
	}
	return name, name, ci
}

// withChars renders a character column type with its length in characters when
// the charset's maximum bytes per character is known.
func withChars(name string, bytes int, coll uint64, hasColl bool) string {
	if !hasColl {
		return name
	}
	mb := maxBytes(charsetOf(coll))
	if mb == 0 {
		return name
	}
	return name + "(" + strconv.Itoa(bytes/mb) + ")"
}

func quoteList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	return strings.Join(q, ",")
}

// charsetOf names the character set of the common collation ids of MySQL and
// MariaDB; "" when unknown.
func charsetOf(coll uint64) string {
	switch {
	case coll == 63:
		return "binary"
	case coll == 45 || coll == 46 || (coll >= 224 && coll <= 247) || (coll >= 255 && coll <= 323) ||
		(coll >= 608 && coll <= 671) || coll == 2048+45 || coll == 2048+46:
		return "utf8mb4"
	case coll == 33 || coll == 83 || (coll >= 192 && coll <= 215) || coll == 223 || coll == 76 ||
		(coll >= 576 && coll <= 607):
		return "utf8mb3"
	case coll == 5 || coll == 8 || coll == 15 || coll == 31 || coll == 47 || coll == 48 || coll == 49 || coll == 94:
		return "latin1"
	case coll == 11 || coll == 65:
		return "ascii"
	case coll == 35 || coll == 90 || (coll >= 128 && coll <= 151) || coll == 159:
		return "ucs2"
	case coll == 54 || coll == 55 || (coll >= 101 && coll <= 124) || coll == 121:
		return "utf16"
	case coll == 60 || coll == 61 || (coll >= 160 && coll <= 183):
		return "utf32"
	}
	return ""
}

func maxBytes(charset string) int {
	switch charset {
	case "binary", "latin1", "ascii":
		return 1
	case "ucs2":
		return 2
	case "utf8mb3":
		return 3
	case "utf8mb4", "utf16", "utf32":
		return 4
	}
	return 0
}

// Mismatches compares a table as a table-map event describes it (logged)
// with the same table as the copy was planned for (planned, read from
// information_schema) and returns one line per difference that changes how
// values decode or land: the column count and names, data types, lengths
// (characters for text, bytes for binary strings), precision and scale,
// fractional seconds, BIT widths, ENUM and SET members, character sets,
// signedness and nullability. What a table map does not carry (integer
// display widths, FLOAT(M,D), collations within a character set, defaults)
// is not compared, nor is a character set the event leaves out. MariaDB's
// UUID and INET6 are logged as BINARY(16), INET4 as BINARY(4).
func Mismatches(planned, logged *cdc.Table) []string {
	if len(planned.Columns) != len(logged.Columns) {
		return []string{fmt.Sprintf("%d columns (%s), planned %d (%s)",
			len(logged.Columns), logged.ColumnList(), len(planned.Columns), planned.ColumnList())}
	}
	var out []string
	for i := range planned.Columns {
		p, l := planned.Columns[i], logged.Columns[i]
		if !strings.EqualFold(p.Name, l.Name) {
			out = append(out, fmt.Sprintf("column %d is %s, planned %s", i+1, l.Name, p.Name))
			continue
		}
		if d := columnMismatch(p, l); d != "" {
			out = append(out, "column "+p.Name+": "+d)
		}
	}
	return out
}

// columnMismatch describes how logged column l differs from planned column
// p, or returns "".
func columnMismatch(p, l cdc.Column) string {
	pb, pa := plannedType(p)
	lb, la := splitType(l.ColumnType)
	lb = strings.TrimSuffix(lb, " unsigned")
	differs := func(what string) string {
		return fmt.Sprintf("%s %s, planned %s", what, describeColumn(l), describeColumn(p))
	}
	switch {
	case pb == lb:
	case lb == "geometry" && isGeometry(pb):
		// a table map without the geometry subtype
	default:
		return differs("type")
	}
	switch pb {
	case "enum", "set":
		if !sameMembers(pa, la) {
			return differs("members")
		}
	case "char", "varchar":
		// The logged length in characters is known only for known charsets.
		if la != "" && pa != la {
			return differs("length")
		}
	case "time", "datetime", "timestamp":
		if strings.TrimPrefix(pa, "0") != strings.TrimPrefix(la, "0") {
			return differs("fractional seconds")
		}
	case "decimal", "bit", "binary", "varbinary":
		if pa != la {
			return differs("length")
		}
	}
	switch pb {
	case "tinyint", "smallint", "mediumint", "int", "bigint", "decimal", "float", "double":
		if p.Unsigned != l.Unsigned {
			return differs("signedness")
		}
	}
	if pc, lc := normCharset(p.Charset), normCharset(l.Charset); pc != "" && lc != "" && pc != lc {
		return differs("character set")
	}
	if p.Nullable != l.Nullable {
		return differs("nullability")
	}
	return ""
}

// plannedType is the base type and arguments of a planned column, with
// MariaDB's UUID/INET types as the binlog logs them.
func plannedType(c cdc.Column) (base, args string) {
	switch c.DataType {
	case "uuid", "inet6":
		return "binary", "16"
	case "inet4":
		return "binary", "4"
	case "integer":
		return "int", ""
	case "numeric":
		base, args = splitType(c.ColumnType)
		return "decimal", args
	}
	base, args = splitType(c.ColumnType)
	if base == "" {
		base = c.DataType
	}
	return strings.TrimSuffix(base, " unsigned"), args
}

// splitType splits "decimal(10,2) unsigned" into "decimal unsigned" and
// "10,2"; the base is lower case, the arguments as written.
func splitType(ct string) (base, args string) {
	open := strings.IndexByte(ct, '(')
	if open < 0 {
		return strings.ToLower(strings.TrimSpace(ct)), ""
	}
	// The closing parenthesis is the last one: ENUM members may hold others.
	end := strings.LastIndexByte(ct, ')')
	if end < open {
		return strings.ToLower(strings.TrimSpace(ct)), ""
	}
	base = strings.ToLower(strings.TrimSpace(ct[:open] + " " + strings.TrimSpace(ct[end+1:])))
	for _, mod := range []string{" zerofill", " signed"} {
		base = strings.Replace(base, mod, "", 1)
	}
	return strings.TrimSpace(base), ct[open+1 : end]
}

func isGeometry(t string) bool { return slices.Contains(geometryTypes, t) }

func normCharset(c string) string {
	c = strings.ToLower(c)
	if c == "utf8" {
		return "utf8mb3"
	}
	return c
}

func describeColumn(c cdc.Column) string {
	s := c.ColumnType
	if c.Charset != "" && c.Charset != "binary" {
		s += " character set " + c.Charset
	}
	if !c.Nullable {
		s += " not null"
	}
	return s
}

// sameMembers compares ENUM/SET member lists: planned as information_schema
// writes them (MariaDB escapes backslashes there, MySQL does not), logged as
// quoteList writes them.
func sameMembers(planned, logged string) bool {
	l := splitMembers(logged, false)
	return slices.Equal(splitMembers(planned, false), l) || slices.Equal(splitMembers(planned, true), l)
}

// splitMembers reads a list of quoted members ('a','b') with doubled quotes
// for quotes; backslash also reads backslash escapes.
func splitMembers(s string, backslash bool) []string {
	var out []string
	for i := 0; i < len(s); {
		if s[i] != '\'' {
			i++
			continue
		}
		var b strings.Builder
		j := i + 1
		for ; j < len(s); j++ {
			if backslash && s[j] == '\\' && j+1 < len(s) {
				j++
				switch s[j] {
				case '0':
					b.WriteByte(0)
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				case 't':
					b.WriteByte('\t')
				case 'Z':
					b.WriteByte(0x1a)
				default:
					b.WriteByte(s[j])
				}
				continue
			}
			if s[j] == '\'' {
				if j+1 < len(s) && s[j+1] == '\'' {
					b.WriteByte('\'')
					j++
					continue
				}
				break
			}
			b.WriteByte(s[j])
		}
		out = append(out, b.String())
		i = j + 1
	}
	return out
}
