package mysql

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/benchdata"
	"github.com/shiplog/shiplog/rowio"
)

// The benchmarks of this file need no server: they measure what the writer
// does with a batch before anything reaches the connection (compaction,
// grouping, the text of the multi-row statements, literal encoding).

// benchDigits is sysbench's c/pad text: groups of 11 digits joined by '-'.
func benchDigits(r *rand.Rand, groups int) []byte {
	b := make([]byte, 0, groups*12)
	for g := range groups {
		if g > 0 {
			b = append(b, '-')
		}
		for range 11 {
			b = append(b, byte('0'+r.IntN(10)))
		}
	}
	return b
}

func benchSysbenchRow(r *rand.Rand, id int64) []any {
	return []any{id, int64(r.IntN(100000)), benchDigits(r, 10), benchDigits(r, 5)}
}

const benchJSONDoc = `{"qty":3,"sku":"A-1001","tags":["red","xl"]}`

func benchWideRow(r *rand.Rand, id int64) []any {
	payload := make([]byte, 512)
	for i := range payload {
		payload[i] = byte(r.UintN(256)) // binary: NULs, quotes and backslashes included
	}
	return []any{
		id,
		int64(r.IntN(100000)),
		strconv.Itoa(r.IntN(10000000)) + ".99",
		fmt.Sprintf("2024-05-%02d 13:45:12.%06d", 1+r.IntN(28), r.IntN(1000000)),
		[]byte("Zoë Ångström — 東京 🚀 order #" + strconv.FormatInt(id, 10)),
		payload,
		benchJSONDoc,
		nil, nil, nil,
	}
}

// benchChanges is a binlog-like batch of n changes in transactions of four:
// an update of k, an update of c, a delete of one id and an insert of
// another (sysbench oltp_write_only re-inserts the id it deleted, which
// compaction would turn into a lone upsert), on ids drawn from a small range
// so that keys repeat across transactions.
func benchChanges(t *cdc.Table, mk func(*rand.Rand, int64) []any, n int) []cdc.Change {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]cdc.Change, 0, n)
	keys := int64(n) // about one repeat per key
	for len(out) < n {
		id := 1 + r.Int64N(keys)
		before := mk(r, id)
		after := append([]any(nil), before...)
		after[1] = int64(r.IntN(100000))
		out = append(out, cdc.Change{Op: cdc.OpUpdate, Table: t, Before: before, After: after})
		id = 1 + r.Int64N(keys)
		before = mk(r, id)
		after = mk(r, id)
		out = append(out, cdc.Change{Op: cdc.OpUpdate, Table: t, Before: before, After: after})
		out = append(out,
			cdc.Change{Op: cdc.OpDelete, Table: t, Before: mk(r, 1+r.Int64N(keys))},
			cdc.Change{Op: cdc.OpInsert, Table: t, After: mk(r, 1+r.Int64N(keys))})
	}
	return out[:n]
}

type benchShape struct {
	name  string
	table func() *cdc.Table
	row   func(*rand.Rand, int64) []any
}

var benchShapes = []benchShape{
	{"sysbench", benchdata.SysbenchTable, benchSysbenchRow},
	{"wide", benchdata.WideTable, benchWideRow},
}

const benchBatch = 1000

func benchReportRate(b *testing.B, perOp int, unit string) {
	b.ReportMetric(float64(b.N)*float64(perOp)/b.Elapsed().Seconds(), unit)
}

// BenchmarkCompact measures compact on a batch of 1000 changes with repeated
// keys (the writer's first step on every batch).
func BenchmarkCompact(b *testing.B) {
	for _, s := range benchShapes {
		changes := benchChanges(s.table(), s.row, benchBatch)
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				compact(changes)
			}
			benchReportRate(b, len(changes), "changes/s")
		})
	}
}

// BenchmarkGroup measures group on the compacted batch.
func BenchmarkGroup(b *testing.B) {
	for _, s := range benchShapes {
		ops := compact(benchChanges(s.table(), s.row, benchBatch))
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				group(ops)
			}
			benchReportRate(b, len(ops), "ops/s")
		})
	}
}

// BenchmarkStatement measures the text of one multi-row statement of 1000
// rows (upsert, plain insert of a table without key, delete by key), reusing
// the buffer as apply does. SetBytes is the statement's length.
func BenchmarkStatement(b *testing.B) {
	w := &Writer{maxStmt: 4 << 20}
	for _, s := range benchShapes {
		t := s.table()
		r := rand.New(rand.NewPCG(3, 4))
		rows := make([][]any, benchBatch)
		for i := range rows {
			rows[i] = s.row(r, int64(i+1))
		}
		for _, kind := range []opKind{opUpsert, opInsert, opDelete} {
			ops := make([]op, len(rows))
			for i, row := range rows {
				ops[i] = op{kind: kind, table: t, row: row}
				if kind == opDelete {
					ops[i].row = t.KeyOf(row)
				}
			}
			buf, n, err := w.statement(nil, ops)
			if err != nil {
				b.Fatal(err)
			}
			if n != len(ops) {
				b.Fatalf("statement covered %d of %d rows", n, len(ops))
			}
			b.Run(s.name+"/"+kind.String(), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(buf)))
				for b.Loop() {
					if buf, _, err = w.statement(buf[:0], ops); err != nil {
						b.Fatal(err)
					}
				}
				benchReportRate(b, len(ops), "rows/s")
			})
		}
	}
}

// benchBuild is apply without the transaction: the statements of a batch,
// handed to exec instead of the server.
func benchBuild(w *Writer, buf []byte, changes []cdc.Change, exec func([]byte)) ([]byte, error) {
	ops := group(compact(changes))
	for i := 0; i < len(ops); {
		j := i + 1
		for j < len(ops) && ops[j].kind == ops[i].kind && ops[j].table == ops[i].table && ops[i].kind != opDeleteRow {
			j++
		}
		for i < j {
			var n int
			var err error
			if buf, n, err = w.statement(buf[:0], ops[i:j]); err != nil {
				return buf, err
			}
			exec(buf)
			i += n
		}
	}
	return buf, nil
}

// BenchmarkBuildBatch is the whole CPU side of Writer.Write for a batch of
// 1000 changes: compact, group and every statement's text. SetBytes is the
// SQL sent.
func BenchmarkBuildBatch(b *testing.B) {
	w := &Writer{maxStmt: 4 << 20}
	for _, s := range benchShapes {
		changes := benchChanges(s.table(), s.row, benchBatch)
		var sqlBytes, stmts int
		buf, err := benchBuild(w, make([]byte, 0, 64<<10), changes, func(q []byte) { sqlBytes += len(q); stmts++ })
		if err != nil {
			b.Fatal(err)
		}
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(sqlBytes))
			for b.Loop() {
				if buf, err = benchBuild(w, buf, changes, func([]byte) {}); err != nil {
					b.Fatal(err)
				}
			}
			benchReportRate(b, len(changes), "changes/s")
			b.ReportMetric(float64(stmts), "stmts/batch")
		})
	}
}

// benchNaiveLiteral is the reference for AppendLiteral: fmt's %q quoting
// (Go escapes, not SQL's, so wrong for the server, but the usual shortcut)
// and fmt for everything else.
func benchNaiveLiteral(buf []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(buf, "NULL"...)
	case string, []byte:
		return fmt.Appendf(buf, "%q", x)
	}
	return fmt.Appendf(buf, "%v", v)
}

// BenchmarkAppendLiteral measures one value per column kind of the wide row
// and whole rows, beside the fmt reference. SetBytes is the value's size.
func BenchmarkAppendLiteral(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	wt, wr := benchdata.WideTable(), benchWideRow(r, 123456789)
	st, sr := benchdata.SysbenchTable(), benchSysbenchRow(r, 42)
	type target struct {
		name string
		t    *cdc.Table
		row  []any
	}
	var targets []target
	for i, c := range wt.Columns {
		if i == 8 || i == 9 {
			continue // the NULL of column 7 stands for them
		}
		name := c.DataType
		if wr[i] == nil {
			name = "null"
		} else if c.Charset == "binary" {
			name = "blob"
		}
		targets = append(targets, target{name, &cdc.Table{Columns: []cdc.Column{c}}, []any{wr[i]}})
	}
	targets = append(targets, target{"row-sysbench", st, sr}, target{"row-wide", wt, wr})
	for _, tg := range targets {
		size := int64(cdc.ValueSize(tg.row))
		buf := make([]byte, 0, 4096)
		b.Run(tg.name+"/append", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(size)
			for b.Loop() {
				buf = buf[:0]
				for i, v := range tg.row {
					var err error
					if buf, err = rowio.AppendLiteral(buf, v, &tg.t.Columns[i]); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run(tg.name+"/fmt-q", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(size)
			for b.Loop() {
				buf = buf[:0]
				for _, v := range tg.row {
					buf = benchNaiveLiteral(buf, v)
				}
			}
		})
	}
}
