package rowio

import (
	"testing"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/benchdata"
)

// The benchmarks of this file need no server: they measure the conversion of
// values as the driver hands them over (binary protocol, scanned into any)
// to canonical values, and the text of the chunk queries.

// benchSysbenchScanned is a sysbench row as go-sql-driver/mysql scans it
// into any over the binary protocol.
func benchSysbenchScanned() []any {
	return []any{int64(42), int64(5001),
		[]byte("83868641912-28773972837-60736120486-75162659906-27563526494-20381887404-41576422241-93426793964-56405065102-33518432330"),
		[]byte("67847967377-48000963322-62604785301-91415491898-96926520291")}
}

// benchWideScanned is the wide row as the driver scans it: integers as
// int64, DOUBLE as float64, DECIMAL, temporal, text, JSON and BLOB as bytes
// (no parseTime), NULL as nil.
func benchWideScanned() []any {
	payload := make([]byte, 512)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	return []any{int64(123456789), int64(5001), []byte("1234567.99"), []byte("2024-05-17 13:45:12.123456"),
		[]byte("Zoë Ångström — 東京 🚀 order #123456789"), payload,
		[]byte(`{"qty":3,"sku":"A-1001","tags":["red","xl"]}`), nil, nil, float64(0.125)}
}

// BenchmarkNormalize measures one value of each column kind of the wide
// row, then whole rows (ScanRow's loop). SetBytes is the value size.
func BenchmarkNormalize(b *testing.B) {
	wt, wr := benchdata.WideTable(), benchWideScanned()
	names := []string{"bigint", "int", "decimal", "datetime", "varchar-utf8mb4", "blob", "json", "null", "", "double"}
	for i, name := range names {
		if name == "" {
			continue
		}
		c, v := &wt.Columns[i], wr[i]
		if _, err := Normalize(v, c); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(cdc.ValueSize([]any{v})))
			for b.Loop() {
				if _, err := Normalize(v, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, s := range []struct {
		name string
		t    *cdc.Table
		row  []any
	}{
		{"row-sysbench", benchdata.SysbenchTable(), benchSysbenchScanned()},
		{"row-wide", wt, wr},
	} {
		out := make([]any, len(s.row))
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(cdc.ValueSize(s.row)))
			for b.Loop() {
				for i, v := range s.row {
					var err error
					if out[i], err = Normalize(v, &s.t.Columns[i]); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkChunkQuery measures the text of a chunk's SELECT: the column
// list and the keyset condition after the previous chunk's last key, for
// sysbench's one-column key and a two-column key.
func BenchmarkChunkQuery(b *testing.B) {
	composite := benchdata.WideTable()
	composite.Key = []int{1, 4} // (k, name)
	for _, s := range []struct {
		name  string
		t     *cdc.Table
		after []any
	}{
		{"sysbench", benchdata.SysbenchTable(), []any{int64(2000)}},
		{"wide-2col-key", composite, []any{int64(5001), []byte("Zoë Ångström")}},
	} {
		q := make([]byte, 0, 512)
		b.Run(s.name+"/SelectColumns", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				q = SelectColumns(q[:0], s.t)
			}
		})
		b.Run(s.name+"/AppendAfter", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if q, err = AppendAfter(q[:0], s.t, s.after); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
