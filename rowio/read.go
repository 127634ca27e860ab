package rowio

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/shiplog/shiplog/cdc"
)

// RawConn takes a connection of db that reads raw column bytes in UTC, as the
// snapshot does; release restores it and returns it to the pool.
func RawConn(ctx context.Context, db *sql.DB) (*sql.Conn, func(), error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	if _, err := conn.ExecContext(ctx, "SET character_set_results = NULL, time_zone = '+00:00'"); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SET character_set_results = "+Charset)
		conn.Close()
	}, nil
}

// ReadChunk reads up to limit rows of t after key `after` (nil: from the
// start) in key order over conn (see RawConn), over the binary protocol
// (exact FLOAT/DOUBLE), normalised to the canonical value forms.
// The key condition is written as literals with the key columns' charsets, so
// keys in any charset compare by the column's collation and use its index.
func ReadChunk(ctx context.Context, conn *sql.Conn, t *cdc.Table, after []any, limit int) ([][]any, error) {
	q := SelectColumns(make([]byte, 0, 256), t)
	if after != nil {
		var err error
		q = append(q, " WHERE "...)
		if q, err = AppendAfter(q, t, after); err != nil {
			return nil, err
		}
	}
	q = AppendOrderByKey(q, t)
	q = append(q, fmt.Sprintf(" LIMIT %d", limit)...)
	return QueryRows(ctx, conn, t, string(q), limit)
}

// QueryRows runs q, a SELECT of t's columns (SelectColumns), as a prepared
// statement over conn (the binary protocol, as ScanRow reads) and returns
// its rows as canonical values; limit sizes the result's capacity.
func QueryRows(ctx context.Context, conn *sql.Conn, t *cdc.Table, q string, limit int) ([][]any, error) {
	stmt, err := conn.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	rows, err := stmt.QueryContext(ctx)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([][]any, 0, limit)
	for {
		row, ok, err := ScanRow(rows, t)
		if err != nil {
			return nil, err
		}
		if !ok {
			return out, nil
		}
		out = append(out, row)
	}
}

// ScanRow reads the next row of rows (the columns of t, read over the binary
// protocol) as canonical values; ok is false at the end.
func ScanRow(rows *sql.Rows, t *cdc.Table) (row []any, ok bool, err error) {
	if !rows.Next() {
		return nil, false, rows.Err()
	}
	vals := make([]any, len(t.Columns))
	ptrs := make([]any, len(t.Columns))
	for i := range ptrs {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, false, err
	}
	for i, v := range vals {
		var err error
		if vals[i], err = Normalize(v, &t.Columns[i]); err != nil {
			return nil, false, fmt.Errorf("column %s: %w", t.Columns[i].Name, err)
		}
	}
	return vals, true, nil
}

// ReadRow reads the current row of t with the given key, in canonical form.
func ReadRow(ctx context.Context, db *sql.DB, t *cdc.Table, key []any) ([]any, bool, error) {
	conn, release, err := RawConn(ctx, db)
	if err != nil {
		return nil, false, err
	}
	defer release()
	q := SelectColumns(make([]byte, 0, 256), t)
	q = append(q, " WHERE "...)
	for i, k := range t.Key {
		if i > 0 {
			q = append(q, " AND "...)
		}
		q = append(q, QuoteIdent(t.Columns[k].Name)+" = "...)
		if q, err = AppendLiteral(q, key[i], &t.Columns[k]); err != nil {
			return nil, false, err
		}
	}
	stmt, err := conn.PrepareContext(ctx, string(q))
	if err != nil {
		return nil, false, fmt.Errorf("source table %s: %w", t.Name, err)
	}
	defer stmt.Close()
	rows, err := stmt.QueryContext(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("source table %s: %w", t.Name, err)
	}
	defer rows.Close()
	return ScanRow(rows, t)
}

// ReadTable calls fn with every row of t, in canonical form, outside any
// snapshot (for small tables such as settings).
func ReadTable(ctx context.Context, db *sql.DB, t *cdc.Table, fn func(row []any) error) error {
	conn, release, err := RawConn(ctx, db)
	if err != nil {
		return err
	}
	defer release()
	stmt, err := conn.PrepareContext(ctx, string(SelectColumns(nil, t)))
	if err != nil {
		return fmt.Errorf("table %s: %w", t.Name, err)
	}
	defer stmt.Close()
	rows, err := stmt.QueryContext(ctx)
	if err != nil {
		return fmt.Errorf("table %s: %w", t.Name, err)
	}
	defer rows.Close()
	for {
		row, ok, err := ScanRow(rows, t)
		if err != nil || !ok {
			return err
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}

// ReadRowsByKey reads the rows of t whose columns keyIdx equal one of keys,
// over conn (see RawConn), in canonical form; rows not found are left out.
func ReadRowsByKey(ctx context.Context, conn *sql.Conn, t *cdc.Table, keyIdx []int, keys [][]any) ([][]any, error) {
	var out [][]any
	const perQuery = 500
	for start := 0; start < len(keys); start += perQuery {
		part := keys[start:min(start+perQuery, len(keys))]
		q := SelectColumns(make([]byte, 0, 1024), t)
		q = append(q, " WHERE ("...)
		for i, k := range keyIdx {
			if i > 0 {
				q = append(q, ',')
			}
			q = append(q, QuoteIdent(t.Columns[k].Name)...)
		}
		q = append(q, ") IN ("...)
		var err error
		for n, key := range part {
			if n > 0 {
				q = append(q, ',')
			}
			q = append(q, '(')
			for i, k := range keyIdx {
				if i > 0 {
					q = append(q, ',')
				}
				if q, err = AppendLiteral(q, key[i], &t.Columns[k]); err != nil {
					return nil, err
				}
			}
			q = append(q, ')')
		}
		q = append(q, ')')
		rows, err := func() ([][]any, error) {
			stmt, err := conn.PrepareContext(ctx, string(q))
			if err != nil {
				return nil, fmt.Errorf("source table %s: %w", t.Name, err)
			}
			defer stmt.Close()
			rs, err := stmt.QueryContext(ctx)
			if err != nil {
				return nil, fmt.Errorf("source table %s: %w", t.Name, err)
			}
			defer rs.Close()
			var got [][]any
			for {
				row, ok, err := ScanRow(rs, t)
				if err != nil {
					return nil, err
				}
				if !ok {
					return got, nil
				}
				got = append(got, row)
			}
		}()
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}
