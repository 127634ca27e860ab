// Package benchdata holds the tables and rows the Go benchmarks of several
// packages share: a sysbench table (id, k, c CHAR(120), pad CHAR(60)) and a
// wide one with the value kinds that cost the most (DECIMAL, DATETIME(6),
// utf8mb4 text, BLOB, JSON, NULLs), with rows in canonical form (see cdc).
package benchdata

import "github.com/shiplog/shiplog/cdc"

// SysbenchTable is sysbench's sbtest table.
func SysbenchTable() *cdc.Table {
	return &cdc.Table{Schema: "sbtest", Name: "sbtest1", Key: []int{0}, KeyName: "PRIMARY", Columns: []cdc.Column{
		{Name: "id", DataType: "int", ColumnType: "int(11)"},
		{Name: "k", DataType: "int", ColumnType: "int(11)"},
		{Name: "c", DataType: "char", ColumnType: "char(120)", Charset: "utf8mb4"},
		{Name: "pad", DataType: "char", ColumnType: "char(60)", Charset: "utf8mb4"},
	}}
}

// SysbenchRow is a sysbench row with key id and k.
func SysbenchRow(id, k int64) []any {
	return []any{id, k,
		[]byte("83868641912-28773972837-60736120486-75162659906-27563526494-20381887404-41576422241-93426793964-56405065102-33518432330"),
		[]byte("67847967377-48000963322-62604785301-91415491898-96926520291")}
}

// WideTable has the value kinds that cost the most to encode, and NULLs.
func WideTable() *cdc.Table {
	return &cdc.Table{Schema: "shop", Name: "orders", Key: []int{0}, KeyName: "PRIMARY", Columns: []cdc.Column{
		{Name: "id", DataType: "bigint", ColumnType: "bigint(20)"},
		{Name: "k", DataType: "int", ColumnType: "int(11)"},
		{Name: "amount", DataType: "decimal", ColumnType: "decimal(12,2)"},
		{Name: "created_at", DataType: "datetime", ColumnType: "datetime(6)"},
		{Name: "name", DataType: "varchar", ColumnType: "varchar(255)", Charset: "utf8mb4"},
		{Name: "payload", DataType: "blob", ColumnType: "blob", Charset: "binary", Nullable: true},
		{Name: "doc", DataType: "json", ColumnType: "json", Nullable: true},
		{Name: "note", DataType: "varchar", ColumnType: "varchar(64)", Charset: "utf8mb4", Nullable: true},
		{Name: "deleted_at", DataType: "datetime", ColumnType: "datetime(6)", Nullable: true},
		{Name: "ratio", DataType: "double", ColumnType: "double", Nullable: true},
	}}
}

// WideRow is a row of WideTable with key id and k.
func WideRow(id, k int64) []any {
	payload := make([]byte, 512)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	return []any{id, k, "1234567.99", "2024-05-17 13:45:12.123456",
		[]byte("Zoë Ångström — 東京 🚀 order #123456789"), payload,
		`{"qty":3,"sku":"A-1001","tags":["red","xl"]}`, nil, nil, nil}
}
