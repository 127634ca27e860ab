package kafka

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
)

// The benchmarks of this file need no broker: they measure the encoding of a
// change into its Debezium envelope and key, beside encoding/json.Marshal of
// an equivalent map as the reference.

func benchSysbenchTable() *cdc.Table {
	return &cdc.Table{Schema: "sbtest", Name: "sbtest1", Key: []int{0}, KeyName: "PRIMARY", Columns: []cdc.Column{
		{Name: "id", DataType: "int", ColumnType: "int(11)"},
		{Name: "k", DataType: "int", ColumnType: "int(11)"},
		{Name: "c", DataType: "char", ColumnType: "char(120)", Charset: "utf8mb4"},
		{Name: "pad", DataType: "char", ColumnType: "char(60)", Charset: "utf8mb4"},
	}}
}

func benchSysbenchRow(id, k int64) []any {
	return []any{id, k,
		[]byte("83868641912-28773972837-60736120486-75162659906-27563526494-20381887404-41576422241-93426793964-56405065102-33518432330"),
		[]byte("67847967377-48000963322-62604785301-91415491898-96926520291")}
}

func benchWideTable() *cdc.Table {
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

func benchWideRow(id, k int64) []any {
	payload := make([]byte, 512)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	return []any{id, k, "1234567.99", "2024-05-17 13:45:12.123456",
		[]byte("Zoë Ångström — 東京 🚀 order #123456789"), payload,
		`{"qty":3,"sku":"A-1001","tags":["red","xl"]}`, nil, nil, nil}
}

// benchNaiveRow is the row as a map encoding/json renders in the envelope's
// value encodings.
func benchNaiveRow(t *cdc.Table, row []any) map[string]any {
	if row == nil {
		return nil
	}
	m := make(map[string]any, len(row))
	for i := range t.Columns {
		c := &t.Columns[i]
		switch x := row[i].(type) {
		case []byte:
			if c.Charset == "binary" {
				m[c.Name] = x // base64
			} else {
				m[c.Name] = string(x)
			}
		case string:
			switch c.Kind() {
			case cdc.KindJSON:
				m[c.Name] = json.RawMessage(x)
			case cdc.KindTemporal:
				m[c.Name] = strings.Replace(x, " ", "T", 1)
			default:
				m[c.Name] = x
			}
		default:
			m[c.Name] = x
		}
	}
	return m
}

func benchSource(t *cdc.Table) Source {
	gtid := "0-1-123456"
	return Source{Version: Version, Connector: "mysql", Name: "shiplog", TsMs: 1715953512000, Snapshot: "false",
		DB: t.Schema, Table: t.Name, ServerID: 1, GTID: &gtid, File: "mysql-bin.000042", Pos: 123456789}
}

type benchShape struct {
	name  string
	table func() *cdc.Table
	row   func(id, k int64) []any
}

var benchShapes = []benchShape{
	{"sysbench", benchSysbenchTable, benchSysbenchRow},
	{"wide", benchWideTable, benchWideRow},
}

// BenchmarkAppendEnvelope measures the envelope of one change (insert: after
// only; update: before and after). SetBytes is the envelope's length.
func BenchmarkAppendEnvelope(b *testing.B) {
	for _, s := range benchShapes {
		t := s.table()
		src := benchSource(t)
		for _, c := range []cdc.Change{
			{Op: cdc.OpInsert, Table: t, After: s.row(42, 5001)},
			{Op: cdc.OpUpdate, Table: t, Before: s.row(42, 5001), After: s.row(42, 5002)},
		} {
			buf, err := AppendEnvelope(nil, t, c, src, 1715953512345)
			if err != nil {
				b.Fatal(err)
			}
			if !json.Valid(buf) {
				b.Fatalf("invalid envelope: %s", buf)
			}
			name := s.name + "/" + c.Op.String()
			b.Run(name+"/append", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(buf)))
				for b.Loop() {
					if buf, err = AppendEnvelope(buf[:0], t, c, src, 1715953512345); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(name+"/json.Marshal", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(buf)))
				for b.Loop() {
					env := map[string]any{
						"before": benchNaiveRow(t, c.Before),
						"after":  benchNaiveRow(t, c.After),
						"source": src,
						"op":     OpCode(c.Op),
						"ts_ms":  int64(1715953512345),
					}
					if _, err := json.Marshal(env); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkAppendKey measures the message key (the primary key as JSON).
func BenchmarkAppendKey(b *testing.B) {
	for _, s := range benchShapes {
		t := s.table()
		row := s.row(42, 5001)
		buf := make([]byte, 0, 64)
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = AppendKey(buf[:0], t, row); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
