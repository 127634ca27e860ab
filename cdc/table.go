package cdc

import "strings"

// Column describes one column of a table.
type Column struct {
	Name string
	// DataType is the lower-case base type: "int", "varchar", "decimal", "enum", ...
	DataType string
	// ColumnType is the full type as the server prints it: "int(10) unsigned".
	ColumnType string
	Unsigned   bool
	Nullable   bool
	// Generated columns are computed by the server and never written.
	Generated  bool
	HasDefault bool
	// KeepExisting columns keep the destination's value on update; new rows get
	// the column default (Magento's GetDestinationValue).
	KeepExisting bool
	// Charset is the column's character set ("utf8mb4", "latin1", "binary" for
	// binary strings); empty for non-string types or when unknown.
	Charset string
}

// Kind classifies a column by the canonical value form it carries (see package doc).
type Kind uint8

const (
	KindOther Kind = iota
	KindInt
	KindUint
	KindFloat
	KindDouble
	KindDecimal
	KindBit
	KindYear
	KindTemporal
	KindEnumSet
	KindJSON
	KindBytes
)

// Kind returns the canonical value kind of c.
func (c Column) Kind() Kind {
	switch c.DataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
		if c.Unsigned {
			return KindUint
		}
		return KindInt
	case "float":
		return KindFloat
	case "double", "real":
		return KindDouble
	case "decimal", "numeric":
		return KindDecimal
	case "bit":
		return KindBit
	case "year":
		return KindYear
	case "date", "time", "datetime", "timestamp":
		return KindTemporal
	case "enum", "set":
		return KindEnumSet
	case "json":
		return KindJSON
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext",
		"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
		"geometry", "point", "linestring", "polygon", "multipoint",
		"multilinestring", "multipolygon", "geometrycollection", "geomcollection", "inet6", "inet4", "uuid":
		return KindBytes
	}
	return KindOther
}

// Table is the shape of a table: its columns in server order and the columns that
// identify a row.
type Table struct {
	Schema  string
	Name    string
	Columns []Column
	// Key holds indexes into Columns of the primary key, or of a unique key whose
	// columns are all NOT NULL. Empty when the table has none.
	Key []int
	// KeyName is the index the key comes from ("PRIMARY" or a unique index name).
	KeyName string
	// Unique holds the other unique indexes (column indexes each), which make
	// the order of writes to different keys matter.
	Unique [][]int
	// KeyGroups: Key names groups of rows (a side table's owner columns,
	// see transform.SideSpec), not one row: a delete removes the group and
	// an upsert replaces it.
	KeyGroups bool
}

// ColumnIndex returns the index of the named column (case-insensitive), or -1.
func (t *Table) ColumnIndex(name string) int {
	for i, c := range t.Columns {
		if strings.EqualFold(c.Name, name) {
			return i
		}
	}
	return -1
}

// KeyNames returns the names of the key columns.
func (t *Table) KeyNames() []string {
	out := make([]string, len(t.Key))
	for i, k := range t.Key {
		out[i] = t.Columns[k].Name
	}
	return out
}

// KeyOf returns the key values of row.
func (t *Table) KeyOf(row []any) []any {
	out := make([]any, len(t.Key))
	for i, k := range t.Key {
		out[i] = row[k]
	}
	return out
}

// ColumnList is the table's column names, comma-separated (for messages).
func (t *Table) ColumnList() string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return strings.Join(names, ",")
}
