package verify

import (
	"encoding/binary"
	"hash/fnv"
	"testing"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/benchdata"
	"github.com/shiplog/shiplog/transform"
)

// The benchmarks of this file need no server: they measure the per-row CPU
// cost of the checksum compare (canonical values, row hashes, key texts).

type benchShape struct {
	name  string
	table func() *cdc.Table
	row   func() []any
}

var benchShapes = []benchShape{
	{"sysbench", benchdata.SysbenchTable, func() []any { return benchdata.SysbenchRow(42, 5001) }},
	{"wide", benchdata.WideTable, func() []any { return benchdata.WideRow(123456789, 5001) }},
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
