package verify

import (
	"encoding/binary"
	"hash/fnv"
	"testing"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/transform"
)

// The benchmarks of this file need no server: they measure the per-row CPU
// cost of the checksum compare (canonical values, row hashes, key texts).

func benchSysbenchTable() *cdc.Table {
	return &cdc.Table{Schema: "sbtest", Name: "sbtest1", Key: []int{0}, KeyName: "PRIMARY", Columns: []cdc.Column{
		{Name: "id", DataType: "int", ColumnType: "int(11)"},
		{Name: "k", DataType: "int", ColumnType: "int(11)"},
		{Name: "c", DataType: "char", ColumnType: "char(120)", Charset: "utf8mb4"},
		{Name: "pad", DataType: "char", ColumnType: "char(60)", Charset: "utf8mb4"},
	}}
}

func benchSysbenchRow() []any {
	return []any{int64(42), int64(5001),
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

func benchWideRow() []any {
	payload := make([]byte, 512)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	return []any{int64(123456789), int64(5001), "1234567.99", "2024-05-17 13:45:12.123456",
		[]byte("Zoë Ångström — 東京 🚀 order #123456789"), payload,
		`{"qty":3,"sku":"A-1001","tags":["red","xl"]}`, nil, nil, nil}
}

type benchShape struct {
	name  string
	table func() *cdc.Table
	row   func() []any
}

var benchShapes = []benchShape{
	{"sysbench", benchSysbenchTable, benchSysbenchRow},
	{"wide", benchWideTable, benchWideRow},
}

func benchAll(n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = true
	}
	return out
}

// BenchmarkCanonicalize measures the canonical values of one row. SetBytes
// is the row's value size.
func BenchmarkCanonicalize(b *testing.B) {
	for _, s := range benchShapes {
		t, row := s.table(), s.row()
		compare := benchAll(len(t.Columns))
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(cdc.ValueSize(row)))
			for b.Loop() {
				Canonicalize(t, row, compare)
			}
		})
	}
}

// BenchmarkHashRow measures the hash of one row's canonical values, without
// a mask (the source side) and with the source's values as the mask (the
// destination side).
func BenchmarkHashRow(b *testing.B) {
	for _, s := range benchShapes {
		t, row := s.table(), s.row()
		vals := Canonicalize(t, row, benchAll(len(t.Columns)))
		b.Run(s.name+"/source", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(cdc.ValueSize(row)))
			for b.Loop() {
				HashRow(vals, nil)
			}
		})
		b.Run(s.name+"/masked", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(cdc.ValueSize(row)))
			for b.Loop() {
				HashRow(vals, vals)
			}
		})
	}
}

// benchRawHash is the reference for the compare: FNV-1a straight over the
// values as they are, with no canonical form (what a byte-for-byte checksum
// would cost).
func benchRawHash(row []any) uint64 {
	h := fnv.New64a()
	var n [8]byte
	for _, v := range row {
		switch x := v.(type) {
		case nil:
			h.Write([]byte{0})
		case int64:
			binary.LittleEndian.PutUint64(n[:], uint64(x))
			h.Write(n[:])
		case []byte:
			h.Write(x)
		case string:
			h.Write([]byte(x))
		}
	}
	return h.Sum64()
}

// BenchmarkCompareRow is the per-row CPU cost of a chunk compare with an
// identity plan: the source row prepared (plan, canonical values, key
// texts), the destination row as read back canonicalised and keyed, both
// hashed into the chunk checksums. The reference hashes both raw rows.
func BenchmarkCompareRow(b *testing.B) {
	for _, s := range benchShapes {
		src, dst := s.table(), s.table()
		plan, problems := transform.Compile(nil, []*cdc.Table{src}, []*cdc.Table{dst})
		if transform.HasErrors(problems) {
			b.Fatal(problems)
		}
		tr := newTableRun(plan.Table(src.Name), &Options{}, nil, nil)
		tr.identity = true
		srcRow, dstRow := s.row(), s.row()
		b.Run(s.name+"/checksum", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(cdc.ValueSize(srcRow) + cdc.ValueSize(dstRow)))
			var sSum, dSum uint64
			for b.Loop() {
				p, err := tr.prepare(srcRow)
				if err != nil {
					b.Fatal(err)
				}
				dk := tr.dstKeyText(dst.KeyOf(dstRow))
				d := Canonicalize(dst, dstRow, tr.compare)
				sSum ^= mix(p.keyText, HashRow(p.vals, nil))
				dSum ^= mix(dk, HashRow(d, p.vals))
			}
			if sSum != dSum {
				b.Fatal("equal rows hash differently")
			}
		})
		b.Run(s.name+"/raw-fnv", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(cdc.ValueSize(srcRow) + cdc.ValueSize(dstRow)))
			var sum uint64
			for b.Loop() {
				sum ^= benchRawHash(srcRow) ^ benchRawHash(dstRow)
			}
			if sum != 0 {
				b.Fatal("equal rows hash differently")
			}
		})
	}
}
