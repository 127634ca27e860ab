package snapshot

import (
	"context"
	"database/sql"

	"github.com/shiplog/shiplog/cdc"
)

// This file exports the snapshot's reading pieces for other readers of whole
// tables (verify); they behave exactly as the copy's own.

// SelectColumns appends "SELECT cols FROM schema.t" for every column of t.
func SelectColumns(q []byte, t *cdc.Table) []byte { return selectColumns(q, t) }

// ScanRow reads the next row of rows (the columns of t, read over the binary
// protocol) as canonical values; ok is false at the end.
func ScanRow(rows *sql.Rows, t *cdc.Table) (row []any, ok bool, err error) { return scanRow(rows, t) }

// AppendAfter appends the keyset condition "key of t > after" (after holds the
// key values in t.Key order), written so the range optimiser uses the key.
func AppendAfter(q []byte, t *cdc.Table, after []any) ([]byte, error) {
	return appendAfter(q, t, after)
}

// AppendOrderByKey appends " ORDER BY" the key columns of t.
func AppendOrderByKey(q []byte, t *cdc.Table) []byte { return appendOrderByKey(q, t) }

// ReadChunk reads up to limit rows of t after key `after` (nil: from the
// start) in key order over conn (see RawConn), in canonical form.
func ReadChunk(ctx context.Context, conn *sql.Conn, t *cdc.Table, after []any, limit int) ([][]any, error) {
	return readChunk(ctx, conn, t, after, limit)
}
