package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	gomysql "github.com/go-sql-driver/mysql"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/mysqlerr"
	"github.com/shiplog/shiplog/rowio"
)

// Snapshot chunks go in with LOAD DATA LOCAL INFILE from memory when the
// server allows it: the server parses tab-separated fields instead of SQL
// literals, about 40% less destination CPU per row than multi-row INSERT
// (measured on MariaDB 10.11 with sysbench rows). The file's character set
// is binary, so every byte lands as it is, in the column's own character set,
// as the introduced literals of INSERT do. Tables whose values could not
// round-trip through the text format exactly keep INSERT.

var loadSeq atomic.Uint64

// loadBufs recycles the field buffers of loadRows (a few MiB each: zeroing
// a fresh one per chunk cost a fifth of the copy's CPU).
var loadBufs sync.Pool

// loadable reports whether rows of t can be written with LOAD DATA exactly:
// every column of a kind whose text form the server reads back as the same
// value, no column kept from the destination, and a key that compares byte
// for byte without other unique indexes (REPLACE then acts as the upsert).
func loadable(t *cdc.Table) bool {
	if !exactKey(t) {
		return false
	}
	for _, c := range t.Columns {
		if c.KeepExisting || c.Generated {
			return false
		}
		switch c.Kind() {
		case cdc.KindInt, cdc.KindUint, cdc.KindFloat, cdc.KindDouble, cdc.KindDecimal, cdc.KindYear, cdc.KindTemporal, cdc.KindEnumSet:
		case cdc.KindBytes:
			switch c.DataType {
			case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
				"geometrycollection", "geomcollection", "inet6", "inet4", "uuid":
				return false
			}
		default: // BIT, JSON (MySQL refuses JSON from binary), unknown
			return false
		}
	}
	return true
}

// errNotLoadable is a value appendField cannot write.
var errNotLoadable = errors.New("value not writable with LOAD DATA")

// appendField appends v, a value of column c, as a LOAD DATA field (FIELDS
// TERMINATED BY '\t' ESCAPED BY '\\', LINES TERMINATED BY '\n', which
// loadChunk states in hex).
func appendField(buf []byte, v any, c *cdc.Column) ([]byte, error) {
	if c.Kind() == cdc.KindYear {
		// A field is text: "0" would be the year 2000, "0000" is 0.
		if n, ok := v.(int64); ok && n == 0 {
			return append(buf, "0000"...), nil
		}
		if n, ok := v.(uint64); ok && n == 0 {
			return append(buf, "0000"...), nil
		}
	}
	if out, ok, err := rowio.AppendNumber(buf, v); ok {
		if err != nil {
			return buf, errNotLoadable
		}
		return out, nil
	}
	switch x := v.(type) {
	case nil:
		return append(buf, '\\', 'N'), nil
	case string:
		return appendEscapedField(buf, x), nil
	case []byte:
		return appendEscapedField(buf, x), nil
	case time.Time:
		return x.AppendFormat(buf, "2006-01-02 15:04:05.999999"), nil
	}
	return buf, errNotLoadable
}

func appendEscapedField[T string | []byte](buf []byte, s T) []byte {
	// Runs without a byte to escape are appended whole: appending byte by
	// byte was a quarter of the copy's CPU (pprof, 1M sysbench rows).
	start := 0
	for i := 0; i < len(s); i++ {
		var esc byte
		switch s[i] {
		case '\\':
			esc = '\\'
		case '\t':
			esc = 't'
		case '\n':
			esc = 'n'
		default:
			continue
		}
		buf = append(buf, s[start:i]...)
		buf = append(buf, '\\', esc)
		start = i + 1
	}
	return append(buf, s[start:]...)
}

// Chunk is a snapshot chunk ready to write: its rows, and when LOAD DATA
// can write them, their fields already encoded (PrepareChunk may run while
// the previous chunk is written).
type Chunk struct {
	// Side are changes of other tables the chunk's rows bring (side
	// tables, see transform.SideSpec): written in the chunk's transaction.
	Side []cdc.Change

	t       *cdc.Table
	rows    [][]any
	fullRow bool
	// tsv holds the encoded rows; cuts are the ends of the parts each LOAD
	// DATA statement sends (at most about maxStmt bytes each).
	tsv  *[]byte
	cuts []int
}

// Release gives the chunk's buffer back; WriteChunk does it.
func (ch *Chunk) Release() {
	if ch.tsv != nil {
		loadBufs.Put(ch.tsv)
		ch.tsv = nil
	}
}

// PrepareChunk prepares rows of t (destination rows) for WriteChunk.
func (w *Writer) PrepareChunk(t *cdc.Table, rows [][]any, fullRow bool) *Chunk {
	ch := &Chunk{t: t, rows: rows, fullRow: fullRow}
	if fullRow || len(rows) == 0 || w.loadOff.Load() || !loadable(t) {
		return ch
	}
	bp, ok := loadBufs.Get().(*[]byte)
	if !ok {
		b := make([]byte, 0, min(w.maxStmt+64<<10, 8<<20))
		bp = &b
	}
	buf := (*bp)[:0]
	start := 0
	var err error
	for _, row := range rows {
		for j, v := range row {
			if j > 0 {
				buf = append(buf, '\t')
			}
			if buf, err = appendField(buf, v, &t.Columns[j]); err != nil {
				*bp = buf
				loadBufs.Put(bp)
				return ch // this chunk goes with INSERT
			}
		}
		buf = append(buf, '\n')
		if len(buf)-start >= w.maxStmt {
			ch.cuts = append(ch.cuts, len(buf))
			start = len(buf)
		}
	}
	if len(buf) > start {
		ch.cuts = append(ch.cuts, len(buf))
	}
	*bp = buf
	ch.tsv = bp
	return ch
}

// loadChunk writes ch's encoded rows inside tx with LOAD DATA LOCAL INFILE
// ... REPLACE, one statement per part.
func (w *Writer) loadChunk(ctx context.Context, tx *sql.Tx, ch *Chunk) error {
	t := ch.t
	head := []byte("LOAD DATA LOCAL INFILE 'Reader::")
	name := "shiplog-" + strconv.FormatUint(loadSeq.Add(1), 10)
	head = append(head, name...)
	head = append(head, "' REPLACE INTO TABLE "...)
	head = rowio.AppendIdent(head, t.Schema)
	head = append(head, '.')
	head = rowio.AppendIdent(head, t.Name)
	// The field format is spelled out, in hex: with NO_BACKSLASH_ESCAPES the
	// default ESCAPED BY is empty (a field's \\ would land as two backslashes,
	// \N as text), and '\\' would itself read differently.
	head = append(head, " CHARACTER SET binary FIELDS TERMINATED BY 0x09 ESCAPED BY 0x5C LINES TERMINATED BY 0x0A ("...)
	for i, c := range t.Columns {
		if i > 0 {
			head = append(head, ',')
		}
		head = rowio.AppendIdent(head, c.Name)
	}
	head = append(head, ')')
	stmt := string(head)

	var part []byte
	gomysql.RegisterReaderHandler(name, func() io.Reader { return bytes.NewReader(part) })
	defer gomysql.DeregisterReaderHandler(name)
	start := 0
	for _, end := range ch.cuts {
		part = (*ch.tsv)[start:end]
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("destination table %s: load data: %w", t.Name, err)
		}
		start = end
	}
	return nil
}

// minLoadRows is the fewest upserts of one table LOAD DATA takes over from
// INSERT ... ON DUPLICATE KEY UPDATE in a stream batch.
const minLoadRows = 50

// replaceable reports whether REPLACE may stand for the upsert of t's rows:
// t is loadable, every column of the destination table is written (the row
// image is the whole row: REPLACE resets columns it does not name), and the
// table has no triggers (REPLACE fires delete and insert triggers where an
// upsert fires update triggers). Checked once per table.
func (w *Writer) replaceable(ctx context.Context, t *cdc.Table) (bool, error) {
	w.replaceMu.Lock()
	defer w.replaceMu.Unlock()
	if ok, seen := w.replace[t]; seen {
		return ok, nil
	}
	ok := loadable(t)
	if ok {
		var cols, triggers int
		err := w.db.QueryRowContext(ctx, `SELECT
			(SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
				AND EXTRA NOT LIKE '%GENERATED%' AND EXTRA NOT LIKE '%VIRTUAL%' AND EXTRA NOT LIKE '%PERSISTENT%' AND EXTRA NOT LIKE '%STORED%'),
			(SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ?)`,
			t.Schema, t.Name, t.Schema, t.Name).Scan(&cols, &triggers)
		if err != nil {
			return false, fmt.Errorf("destination table %s: read its columns and triggers: %w", t.Name, err)
		}
		ok = cols == len(t.Columns) && triggers == 0
	}
	if w.replace == nil {
		w.replace = map[*cdc.Table]bool{}
	}
	w.replace[t] = ok
	return ok, nil
}

// loadUpserts writes a run of upserts of one table with LOAD DATA ...
// REPLACE when the table is replaceable and the server takes LOAD DATA
// LOCAL: the server parses fields instead of SQL literals (about a quarter
// less destination CPU per upserted row). done is false when the run must go
// as SQL instead.
func (w *Writer) loadUpserts(ctx context.Context, tx *sql.Tx, ops []op) (done bool, err error) {
	t := ops[0].table
	if w.loadOff.Load() {
		return false, nil
	}
	if ok, err := w.replaceable(ctx, t); err != nil || !ok {
		return false, err
	}
	rows := make([][]any, len(ops))
	for i, o := range ops {
		rows[i] = o.row
	}
	ch := w.PrepareChunk(t, rows, false)
	defer ch.Release()
	if ch.tsv == nil {
		return false, nil
	}
	err = w.loadChunk(ctx, tx, ch)
	if w.refusedLoad(err) {
		return false, nil // the refused statement changed nothing: SQL goes on in tx
	}
	return err == nil, err
}

// refusedLoad reports whether err is the destination refusing LOAD DATA
// LOCAL; the first time, it turns LOAD DATA off for this writer and says so.
func (w *Writer) refusedLoad(err error) bool {
	if err == nil || !localInfileRefused(err) {
		return false
	}
	if !w.loadOff.Swap(true) {
		w.log.Info("the destination refuses LOAD DATA LOCAL INFILE (local_infile); rows go with INSERT", "error", err)
	}
	return true
}

// localInfileRefused reports whether err is the server or the driver
// refusing LOAD DATA LOCAL.
func localInfileRefused(err error) bool {
	// 1148: the used command is not allowed (local_infile=OFF); 4166:
	// the same in MariaDB >= 10.5; 3948: loading local data is disabled
	// (MySQL 8); 1227: access denied.
	return mysqlerr.Is(err, gmysql.ER_NOT_ALLOWED_COMMAND, mysqlerr.ER_LOCAL_INFILE_DISABLED_MARIADB,
		mysqlerr.ER_LOAD_INFILE_CAPABILITY_DISABLED, gmysql.ER_SPECIFIC_ACCESS_DENIED_ERROR)
}
