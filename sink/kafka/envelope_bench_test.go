package kafka

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/benchdata"
)

// The benchmarks of this file need no broker: they measure the encoding of a
// change into its Debezium envelope and key, beside encoding/json.Marshal of
// an equivalent map as the reference.

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
	{"sysbench", benchdata.SysbenchTable, benchdata.SysbenchRow},
	{"wide", benchdata.WideTable, benchdata.WideRow},
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
