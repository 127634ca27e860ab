package binlog

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/shiplog/shiplog/cdc"
)

// The benchmarks of this file need no server. They build MySQL 8 binlog
// events from synthetic bytes (a format description, a table map with full
// row metadata, and v2 rows events), parse them with go-mysql's parser
// through the stream's own decodeRows, and convert the rows with
// (*stream).rows, as the reader does.

// benchCol describes one column of a synthetic table map and how its value
// is written in a row image.
type benchCol struct {
	name string
	typ  byte
	meta []byte // table-map metadata bytes
	coll uint64 // collation id of character columns, 0 for the others
	null bool
	put  func(buf []byte, v any) []byte
}

func benchLE(buf []byte, v uint64, n int) []byte {
	for i := range n {
		buf = append(buf, byte(v>>(8*i)))
	}
	return buf
}

func benchBE(buf []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		buf = append(buf, byte(v>>(8*i)))
	}
	return buf
}

// benchLenEnc appends a MySQL length-encoded integer.
func benchLenEnc(buf []byte, n uint64) []byte {
	switch {
	case n < 251:
		return append(buf, byte(n))
	case n < 1<<16:
		return benchLE(append(buf, 0xfc), n, 2)
	case n < 1<<24:
		return benchLE(append(buf, 0xfd), n, 3)
	}
	return benchLE(append(buf, 0xfe), n, 8)
}

func benchPutInt32(buf []byte, v any) []byte { return benchLE(buf, uint64(v.(int64)), 4) }
func benchPutInt64(buf []byte, v any) []byte { return benchLE(buf, uint64(v.(int64)), 8) }

// benchPutStr writes a CHAR/VARCHAR/BLOB value with a prefix of n bytes.
func benchPutStr(n int) func([]byte, any) []byte {
	return func(buf []byte, v any) []byte {
		b := v.([]byte)
		return append(benchLE(buf, uint64(len(b)), n), b...)
	}
}

// benchPutDecimal writes a non-negative DECIMAL(prec,scale) in MySQL's binary
// form: groups of nine digits in four bytes, the leftover digits in as few
// bytes as hold them, the sign in the first bit.
func benchPutDecimal(prec, scale int) func([]byte, any) []byte {
	compressed := []int{0, 1, 1, 2, 2, 3, 3, 4, 4, 4}
	return func(buf []byte, v any) []byte {
		ip, fp, _ := strings.Cut(v.(string), ".")
		integral := prec - scale
		ip = strings.Repeat("0", integral-len(ip)) + ip
		fp += strings.Repeat("0", scale-len(fp))
		start := len(buf)
		put := func(digits string, size int) {
			n, _ := strconv.ParseUint(digits, 10, 32)
			buf = benchBE(buf, n, size)
		}
		lead := integral % 9
		if lead > 0 {
			put(ip[:lead], compressed[lead])
		}
		for i := lead; i < integral; i += 9 {
			put(ip[i:i+9], 4)
		}
		for i := 0; i+9 <= scale; i += 9 {
			put(fp[i:i+9], 4)
		}
		if r := scale % 9; r > 0 {
			put(fp[scale-r:], compressed[r])
		}
		buf[start] ^= 0x80
		return buf
	}
}

// benchPutDatetime6 writes "YYYY-MM-DD hh:mm:ss.ffffff" as DATETIME2(6).
func benchPutDatetime6(buf []byte, v any) []byte {
	s := v.(string)
	n := func(from, to int) int64 { x, _ := strconv.ParseInt(s[from:to], 10, 64); return x }
	ymd := (n(0, 4)*13+n(5, 7))<<5 | n(8, 10)
	hms := n(11, 13)<<12 | n(14, 16)<<6 | n(17, 19)
	buf = benchBE(buf, uint64(ymd<<17|hms)+0x8000000000, 5)
	return benchBE(buf, uint64(n(20, 26)), 3)
}

// benchObj is a JSON object, its keys in MySQL's storage order.
type benchObj struct {
	keys []string
	vals []any
}

// benchJSONB encodes v (benchObj, []any, string or a small int) in MySQL's
// binary JSON (small containers), returning its type and data.
func benchJSONB(v any) (byte, []byte) {
	switch x := v.(type) {
	case string: // shorter than 128 bytes: a one-byte variable-length size
		return replication.JSONB_STRING, append([]byte{byte(len(x))}, x...)
	case benchObj:
		return replication.JSONB_SMALL_OBJECT, benchJSONContainer(x.keys, x.vals)
	case []any:
		return replication.JSONB_SMALL_ARRAY, benchJSONContainer(nil, x)
	}
	panic("benchJSONB: unsupported value")
}

func benchJSONContainer(keys []string, vals []any) []byte {
	n := len(vals)
	off := 4 + 3*n + 4*len(keys)
	var keyEntries, valEntries, body []byte
	for _, k := range keys {
		keyEntries = benchLE(benchLE(keyEntries, uint64(off), 2), uint64(len(k)), 2)
		body = append(body, k...)
		off += len(k)
	}
	for _, v := range vals {
		if i, ok := v.(int); ok { // int16, inlined in its entry
			valEntries = benchLE(append(valEntries, replication.JSONB_INT16), uint64(i), 2)
			continue
		}
		t, d := benchJSONB(v)
		valEntries = benchLE(append(valEntries, t), uint64(off), 2)
		body = append(body, d...)
		off += len(d)
	}
	out := benchLE(benchLE(nil, uint64(n), 2), uint64(off), 2)
	out = append(out, keyEntries...)
	out = append(out, valEntries...)
	return append(out, body...)
}

// benchDoc is {"qty":3,"sku":"A-1001","tags":["red","xl"]}.
var benchDoc = benchObj{keys: []string{"qty", "sku", "tags"}, vals: []any{3, "A-1001", []any{"red", "xl"}}}

const benchDocText = `{"qty":3,"sku":"A-1001","tags":["red","xl"]}`

func benchPutJSON(buf []byte, v any) []byte {
	t, d := benchJSONB(v)
	buf = benchLE(buf, uint64(len(d)+1), 4)
	return append(append(buf, t), d...)
}

// benchShape is a table as the binlog describes it, a row image of it
// (values for put, nil for NULL) and the canonical row it converts to.
type benchShape struct {
	name      string
	schema    string
	table     string
	cols      []benchCol
	row       func(i int) []any
	canonical func(i int) []any
}

var (
	benchC   = []byte("83868641912-28773972837-60736120486-75162659906-27563526494-20381887404-41576422241-93426793964-56405065102-33518432330")
	benchPad = []byte("67847967377-48000963322-62604785301-91415491898-96926520291")
	benchTxt = []byte("Zoë Ångström — 東京 🚀 order #123456789")
)

func benchPayload() []byte {
	p := make([]byte, 512)
	for i := range p {
		p[i] = byte(i * 7)
	}
	return p
}

var benchShapes = []benchShape{
	{
		name: "sysbench", schema: "sbtest", table: "sbtest1",
		cols: []benchCol{
			{name: "id", typ: mysql.MYSQL_TYPE_LONG, put: benchPutInt32},
			{name: "k", typ: mysql.MYSQL_TYPE_LONG, put: benchPutInt32},
			// CHAR(120) utf8mb4: 480 bytes, the high length bits folded
			// into the real-type byte (0xfe ^ 0x10).
			{name: "c", typ: mysql.MYSQL_TYPE_STRING, meta: []byte{0xee, 0xe0}, coll: 45, put: benchPutStr(2)},
			{name: "pad", typ: mysql.MYSQL_TYPE_STRING, meta: []byte{0xfe, 240}, coll: 45, put: benchPutStr(1)},
		},
		row: func(i int) []any { return []any{int64(1000000 + i), int64(5000 + i), benchC, benchPad} },
		canonical: func(i int) []any {
			return []any{int64(1000000 + i), int64(5000 + i), benchC, benchPad}
		},
	},
	{
		name: "wide", schema: "shop", table: "orders",
		cols: []benchCol{
			{name: "id", typ: mysql.MYSQL_TYPE_LONGLONG, put: benchPutInt64},
			{name: "k", typ: mysql.MYSQL_TYPE_LONG, put: benchPutInt32},
			{name: "amount", typ: mysql.MYSQL_TYPE_NEWDECIMAL, meta: []byte{12, 2}, put: benchPutDecimal(12, 2)},
			{name: "created_at", typ: mysql.MYSQL_TYPE_DATETIME2, meta: []byte{6}, put: benchPutDatetime6},
			{name: "name", typ: mysql.MYSQL_TYPE_VARCHAR, meta: []byte{0xfc, 0x03}, coll: 45, put: benchPutStr(2)}, // 1020 bytes
			{name: "payload", typ: mysql.MYSQL_TYPE_BLOB, meta: []byte{2}, coll: 63, null: true, put: benchPutStr(2)},
			{name: "doc", typ: mysql.MYSQL_TYPE_JSON, meta: []byte{4}, null: true, put: benchPutJSON},
			{name: "note", typ: mysql.MYSQL_TYPE_VARCHAR, meta: []byte{0x00, 0x01}, coll: 45, null: true, put: benchPutStr(2)},
			{name: "deleted_at", typ: mysql.MYSQL_TYPE_DATETIME2, meta: []byte{6}, null: true, put: benchPutDatetime6},
			{name: "ratio", typ: mysql.MYSQL_TYPE_DOUBLE, meta: []byte{8}, null: true},
		},
		row: func(i int) []any {
			return []any{int64(1000000 + i), int64(5000 + i), "1234567.99", "2024-05-17 13:45:12.123456", benchTxt, benchPayload(), benchDoc, nil, nil, nil}
		},
		canonical: func(i int) []any {
			return []any{int64(1000000 + i), int64(5000 + i), "1234567.99", "2024-05-17 13:45:12.123456", benchTxt, benchPayload(), benchDocText, nil, nil, nil}
		},
	},
}

const benchTableID = 108

func benchEvent(typ replication.EventType, body []byte) []byte {
	size := replication.EventHeaderSize + len(body)
	h := benchLE(nil, 1715953512, 4)
	h = append(h, byte(typ))
	h = benchLE(h, 1, 4)
	h = benchLE(h, uint64(size), 4)
	h = benchLE(h, 4096, 4)
	h = benchLE(h, 0, 2)
	return append(h, body...)
}

// benchFDE is a MySQL 8 format description with checksums off.
func benchFDE() []byte {
	body := benchLE(nil, 4, 2)
	ver := make([]byte, 50)
	copy(ver, "8.0.40")
	body = append(body, ver...)
	body = benchLE(body, 1715953512, 4)
	body = append(body, replication.EventHeaderSize)
	post := make([]byte, 41)
	post[replication.TABLE_MAP_EVENT-1] = 8
	for _, t := range []replication.EventType{replication.WRITE_ROWS_EVENTv2, replication.UPDATE_ROWS_EVENTv2, replication.DELETE_ROWS_EVENTv2} {
		post[t-1] = 10
	}
	body = append(body, post...)
	body = append(body, byte(replication.BINLOG_CHECKSUM_ALG_OFF))
	body = append(body, 0, 0, 0, 0)
	return benchEvent(replication.FORMAT_DESCRIPTION_EVENT, body)
}

// benchTableMap is the table map of s with binlog_row_metadata=FULL: column
// names, per-column charsets and the primary key.
func benchTableMap(s benchShape) []byte {
	body := benchLE(nil, benchTableID, 6)
	body = benchLE(body, 1, 2)
	body = append(append(append(body, byte(len(s.schema))), s.schema...), 0)
	body = append(append(append(body, byte(len(s.table))), s.table...), 0)
	body = benchLenEnc(body, uint64(len(s.cols)))
	var meta, nulls, names, colls []byte
	nulls = make([]byte, (len(s.cols)+7)/8)
	for i, c := range s.cols {
		body = append(body, c.typ)
		meta = append(meta, c.meta...)
		if c.null {
			nulls[i/8] |= 1 << (i % 8)
		}
		names = append(append(names, byte(len(c.name))), c.name...)
		if c.coll != 0 {
			colls = benchLenEnc(colls, c.coll)
		}
	}
	body = benchLenEnc(body, uint64(len(meta)))
	body = append(body, meta...)
	body = append(body, nulls...)
	tlv := func(t byte, v []byte) {
		body = append(benchLenEnc(append(body, t), uint64(len(v))), v...)
	}
	tlv(replication.TABLE_MAP_OPT_META_COLUMN_CHARSET, colls)
	tlv(replication.TABLE_MAP_OPT_META_COLUMN_NAME, names)
	tlv(replication.TABLE_MAP_OPT_META_SIMPLE_PRIMARY_KEY, []byte{0})
	return benchEvent(replication.TABLE_MAP_EVENT, body)
}

func benchImage(buf []byte, s benchShape, row []any) []byte {
	nulls := make([]byte, (len(s.cols)+7)/8)
	for i, v := range row {
		if v == nil {
			nulls[i/8] |= 1 << (i % 8)
		}
	}
	buf = append(buf, nulls...)
	for i, v := range row {
		if v != nil {
			buf = s.cols[i].put(buf, v)
		}
	}
	return buf
}

// benchRowsEvent is a v2 rows event of s holding n rows (update: n pairs of
// before and after images).
func benchRowsEvent(s benchShape, typ replication.EventType, n int) []byte {
	body := benchLE(nil, benchTableID, 6)
	body = benchLE(body, 0, 2) // no STMT_END flag: the parser keeps the table map
	body = benchLE(body, 2, 2) // no extra data
	body = benchLenEnc(body, uint64(len(s.cols)))
	all := make([]byte, (len(s.cols)+7)/8)
	for i := range s.cols {
		all[i/8] |= 1 << (i % 8)
	}
	body = append(body, all...)
	if typ == replication.UPDATE_ROWS_EVENTv2 {
		body = append(body, all...)
	}
	for i := range n {
		body = benchImage(body, s, s.row(i+1))
		if typ == replication.UPDATE_ROWS_EVENTv2 {
			body = benchImage(body, s, s.row(i+1))
		}
	}
	return benchEvent(typ, body)
}

// benchStream returns a stream and a parser wired as the reader wires them,
// with the format description and table map of s already read.
func benchStream(b *testing.B, s benchShape) (*stream, *replication.BinlogParser, []byte) {
	st := &stream{cfg: Config{Schema: s.schema}, tables: newTableCache()}
	p := replication.NewBinlogParser()
	p.SetFlavor(mysql.MySQLFlavor)
	p.SetParseTime(false)
	p.SetUseDecimal(false)
	p.SetRowsEventDecodeFunc(st.decodeRows)
	if _, err := p.Parse(benchFDE()); err != nil {
		b.Fatal(err)
	}
	tm := benchTableMap(s)
	if _, err := p.Parse(tm); err != nil {
		b.Fatal(err)
	}
	return st, p, tm
}

func benchParseRows(b *testing.B, p *replication.BinlogParser, data []byte) *replication.RowsEvent {
	ev, err := p.Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	re, ok := ev.Event.(*replication.RowsEvent)
	if !ok {
		b.Fatalf("parsed a %T", ev.Event)
	}
	return re
}

// BenchmarkRowsEvent measures, for a bulk insert event of 100 rows and an
// OLTP update event of one row: decode (go-mysql parsing the event through
// decodeRows), convert ((*stream).rows on the decoded event: table lookup
// and conversion to canonical values) and txn (a table map event, then the
// rows event decoded and converted: what each transaction costs, as every
// transaction carries its own table map). SetBytes is the rows event's size.
func BenchmarkRowsEvent(b *testing.B) {
	for _, s := range benchShapes {
		for _, ev := range []struct {
			name string
			typ  replication.EventType
			rows int
		}{
			{"insert-100", replication.WRITE_ROWS_EVENTv2, 100},
			{"update-1", replication.UPDATE_ROWS_EVENTv2, 1},
		} {
			st, p, tm := benchStream(b, s)
			data := benchRowsEvent(s, ev.typ, ev.rows)
			re := benchParseRows(b, p, data)
			// The synthetic bytes must decode to the rows they were made from.
			if err := st.rows(context.Background(), &replication.EventHeader{}, re); err != nil {
				b.Fatal(err)
			}
			if len(st.changes) != ev.rows {
				b.Fatalf("%d changes from %d rows", len(st.changes), ev.rows)
			}
			for i, c := range st.changes {
				got := c.After
				if ev.typ == replication.UPDATE_ROWS_EVENTv2 && !reflect.DeepEqual(c.Before, c.After) {
					b.Fatalf("update images differ: %#v, %#v", c.Before, c.After)
				}
				if want := s.canonical(i + 1); !reflect.DeepEqual(got, want) {
					b.Fatalf("row %d decoded as\n%#v\nwant\n%#v", i, got, want)
				}
			}
			name := s.name + "/" + ev.name
			b.Run(name+"/decode", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					benchParseRows(b, p, data)
				}
				benchReportRows(b, ev.rows)
			})
			b.Run(name+"/convert", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					st.changes, st.size = nil, 0
					if err := st.rows(context.Background(), &replication.EventHeader{}, re); err != nil {
						b.Fatal(err)
					}
				}
				benchReportRows(b, ev.rows)
			})
			b.Run(name+"/txn", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					if _, err := p.Parse(tm); err != nil {
						b.Fatal(err)
					}
					st.changes, st.size = nil, 0
					if err := st.rows(context.Background(), &replication.EventHeader{}, benchParseRows(b, p, data)); err != nil {
						b.Fatal(err)
					}
				}
				benchReportRows(b, ev.rows)
			})
		}
	}
}

func benchReportRows(b *testing.B, perOp int) {
	b.ReportMetric(float64(b.N)*float64(perOp)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkConvertValue measures convertValue for each column kind of the
// wide row, on the values go-mysql decoded from the synthetic event.
func BenchmarkConvertValue(b *testing.B) {
	s := benchShapes[1]
	info, raw := benchDecoded(b, s)
	for i, v := range raw {
		if i >= 8 {
			break // one NULL (column 7) stands for the others
		}
		name := info.table.Columns[i].DataType
		if v == nil {
			name = "null"
		}
		c := info.cols[i]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := convertValue(c, v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConvertRow measures convertRow on one row of each shape. SetBytes
// is the canonical row's value size.
func BenchmarkConvertRow(b *testing.B) {
	for _, s := range benchShapes {
		info, raw := benchDecoded(b, s)
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(cdc.ValueSize(s.canonical(1))))
			for b.Loop() {
				if _, err := convertRow(info, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchDecoded is the table and the first row of a one-row insert event of
// s, as go-mysql decodes them.
func benchDecoded(b *testing.B, s benchShape) (*tableInfo, []any) {
	st, p, _ := benchStream(b, s)
	re := benchParseRows(b, p, benchRowsEvent(s, replication.WRITE_ROWS_EVENTv2, 1))
	info, err := st.tables.get(re.Table)
	if err != nil {
		b.Fatal(err)
	}
	return info, re.Rows[0]
}
