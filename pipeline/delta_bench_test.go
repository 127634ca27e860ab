package pipeline

import (
	"reflect"
	"testing"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/benchdata"
	"github.com/shiplog/shiplog/transform"
)

// The benchmarks of this file need no server: they measure the mapper that
// turns each batch the binlog reader emits into the relay item the writer
// takes, through an identity plan and a plan with three handlers.

type benchShape struct {
	name  string
	table func() *cdc.Table
	row   func(id, k int64) []any
	// handlers is a map with two source-area handlers and a destination one
	// (SetHash there hashes the source row's field).
	handlers string
}

var benchShapes = []benchShape{
	{"sysbench", benchdata.SysbenchTable, benchdata.SysbenchRow, `
source:
  fields:
    transform:
      - {field: sbtest1.c, handler: AddPrefix, params: {prefix: "x"}} # c is 119 of char(120)
      - {field: sbtest1.k, eval: "k * 2"}
destination:
  fields:
    transform:
      - {field: sbtest1.pad, handler: SetHash, params: {baseField: c, hash: md5}}
`},
	{"wide", benchdata.WideTable, benchdata.WideRow, `
source:
  fields:
    transform:
      - {field: orders.name, handler: AddPrefix, params: {prefix: "m1-"}}
      - {field: orders.k, eval: "k * 2"}
destination:
  fields:
    transform:
      - {field: orders.note, handler: SetHash, params: {baseField: name, hash: md5}}
`},
}

// benchBatch is a batch of n changes as the reader emits them, in
// transactions of four (two updates, a delete, an insert), on tbl: the
// reader's own table value, which the mapper checks against the plan once.
func benchBatch(tbl *cdc.Table, row func(id, k int64) []any, n int) cdc.Batch {
	b := cdc.Batch{Changes: make([]cdc.Change, 0, n)}
	for i := int64(0); len(b.Changes) < n; i++ {
		pos := cdc.Position{File: "mysql-bin.000042", Pos: uint64(4096 + i*800)}
		id := 1 + (i*7919)%int64(n)
		for _, c := range []cdc.Change{
			{Op: cdc.OpUpdate, Before: row(id, 1), After: row(id, 2)},
			{Op: cdc.OpUpdate, Before: row(id+1, 3), After: row(id+1, 4)},
			{Op: cdc.OpDelete, Before: row(id+2, 5)},
			{Op: cdc.OpInsert, After: row(id+3, 6)},
		} {
			c.Table, c.Pos = tbl, pos
			b.Changes = append(b.Changes, c)
			b.Size += cdc.ValueSize(c.Before) + cdc.ValueSize(c.After)
		}
		b.Pos = pos
	}
	b.Changes = b.Changes[:n]
	return b
}

// BenchmarkMapperItem measures mapper.item on a batch of 1000 changes.
// SetBytes is the batch's value size.
func BenchmarkMapperItem(b *testing.B) {
	const n = 1000
	for _, s := range benchShapes {
		src, dst := s.table(), s.table()
		for _, p := range []struct {
			name string
			yaml string
		}{
			{"identity", ""},
			{"3-handlers", s.handlers},
		} {
			var rules *transform.Rules
			if p.yaml != "" {
				var err error
				if rules, err = transform.ParseMap("map.yaml", []byte(p.yaml), "yaml"); err != nil {
					b.Fatal(err)
				}
			}
			plan, problems := transform.Compile(rules, []*cdc.Table{src}, []*cdc.Table{dst})
			if transform.HasErrors(problems) {
				b.Fatal(problems)
			}
			batch := benchBatch(s.table(), s.row, n)
			m := &mapper{plan: plan}
			it, ok, err := m.item(batch)
			if err != nil || !ok || it.N != n || len(it.Failed) != 0 {
				b.Fatalf("item: %d changes mapped, %d failed, ok %v, %v", it.N, len(it.Failed), ok, err)
			}
			if changed := !reflect.DeepEqual(it.Changes[0].After, batch.Changes[0].After); changed != (p.yaml != "") {
				b.Fatalf("plan %s: row mapped to %q", p.name, it.Changes[0].After)
			}
			b.Run(s.name+"/"+p.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(batch.Size))
				for b.Loop() {
					if _, _, err := m.item(batch); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "changes/s")
			})
		}
	}
}
