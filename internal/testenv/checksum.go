package testenv

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
)

// Checksum returns an order-independent checksum and the row count of the rows
// of schema.table, over the given columns (all non-generated columns when nil).
// Values are read as the server's raw bytes (character_set_results = NULL), so
// two tables match only when every byte of every row does.
func Checksum(ctx context.Context, db *sql.DB, schema, table string, columns []string) (string, int64, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", 0, err
	}
	defer conn.Close()
	if columns == nil {
		rows, err := conn.QueryContext(ctx, `SELECT COLUMN_NAME FROM information_schema.COLUMNS
			WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND EXTRA NOT LIKE '%GENERATED%' AND EXTRA NOT IN ('VIRTUAL', 'PERSISTENT', 'STORED')
			ORDER BY ORDINAL_POSITION`, schema, table)
		if err != nil {
			return "", 0, err
		}
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				rows.Close()
				return "", 0, err
			}
			columns = append(columns, c)
		}
		rows.Close()
		if len(columns) == 0 {
			return "", 0, fmt.Errorf("table %s.%s not found", schema, table)
		}
	}
	if _, err := conn.ExecContext(ctx, "SET character_set_results = NULL, time_zone = '+00:00'"); err != nil {
		return "", 0, err
	}
	quoted := make([]string, len(columns))
	for i, c := range columns {
		quoted[i] = "`" + c + "`"
	}
	rows, err := conn.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM `%s`.`%s`", strings.Join(quoted, ","), schema, table))
	if err != nil {
		return "", 0, err
	}
	defer rows.Close()
	vals := make([]sql.RawBytes, len(columns))
	ptrs := make([]any, len(columns))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var sum [4]uint64
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return "", 0, err
		}
		h := sha256.New()
		for _, v := range vals {
			if v == nil {
				h.Write([]byte{0})
				continue
			}
			var l [9]byte
			l[0] = 1
			binary.BigEndian.PutUint64(l[1:], uint64(len(v)))
			h.Write(l[:])
			h.Write(v)
		}
		d := h.Sum(nil)
		for i := range sum {
			sum[i] += binary.BigEndian.Uint64(d[8*i:])
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return "", 0, err
	}
	return fmt.Sprintf("%016x%016x%016x%016x", sum[0], sum[1], sum[2], sum[3]), n, nil
}

// CompareDatabases checksums every base table of srcSchema on src against the
// table of the same name on dst, and returns a description of each difference
// (nil when identical). Tables whose names start with "_shiplog_" are skipped.
func CompareDatabases(ctx context.Context, src *sql.DB, srcSchema string, dst *sql.DB, dstSchema string) ([]string, error) {
	rows, err := src.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'", srcSchema)
	if err != nil {
		return nil, err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return nil, err
		}
		if !strings.HasPrefix(t, "_shiplog_") {
			tables = append(tables, t)
		}
	}
	rows.Close()
	sort.Strings(tables)
	var diffs []string
	for _, t := range tables {
		a, an, err := Checksum(ctx, src, srcSchema, t, nil)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", t, err)
		}
		b, bn, err := Checksum(ctx, dst, dstSchema, t, nil)
		if err != nil {
			return nil, fmt.Errorf("destination %s: %w", t, err)
		}
		if a != b || an != bn {
			diffs = append(diffs, fmt.Sprintf("%s: source %d rows %s, destination %d rows %s", t, an, a[:12], bn, b[:12]))
		}
	}
	return diffs, nil
}
