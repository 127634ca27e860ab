package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ExecFile runs the statements of a SQL file (the examples' schema and seed
// files): split on ";\n", with "--" comment lines removed.
func ExecFile(ctx context.Context, db *sql.DB, path string) error {
	text, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for _, stmt := range strings.Split(string(text), ";\n") {
		var lines []string
		for _, l := range strings.Split(stmt, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "--") {
				lines = append(lines, l)
			}
		}
		if q := strings.TrimSpace(strings.Join(lines, "\n")); q != "" {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w\n%s", filepath.Base(path), err, q)
			}
		}
	}
	return nil
}

// MagentoLikeExpected is the destination that examples/magento-like/map.xml
// must make, computed from the source independently, in SQL: for each
// destination table a query on the source and the matching query on the
// destination, to compare as sorted text rows (in a UTC session).
var MagentoLikeExpected = []struct{ Name, Source, Dest string }{
	{"sales_order",
		`SELECT entity_id, CONCAT('M1-', increment_id),
		   CASE status WHEN 'pending' THEN 'new' WHEN 'processing' THEN 'processing' WHEN 'complete' THEN 'complete' WHEN 'canceled' THEN 'canceled' ELSE 'new' END,
		   LOWER(customer_email), grand_total, IFNULL(INET_ATON(remote_ip), 0),
		   FROM_UNIXTIME(created_at), customer_note,
		   CASE payment_info WHEN 'a:2:{s:6:"method";s:6:"checkm";s:4:"paid";b:1;}' THEN '{"method":"checkm","paid":true}'
		                     WHEN 'a:1:{i:0;s:3:"one";}' THEN '["one"]' END,
		   'Main Website Store', 1
		 FROM sales_flat_order`,
		`SELECT entity_id, increment_id, status, customer_email, grand_total, remote_ip, created_at, note, payment_info, store_name, send_email FROM sales_order`},
	{"customer_entity",
		`SELECT entity_id, email, firstname, lastname, created_at - INTERVAL 2 HOUR, 'reset-required', NULL FROM customer_entity`,
		`SELECT entity_id, email, firstname, lastname, created_at, password_hash, rp_token FROM customer_entity`},
	{"catalog_product_entity",
		`SELECT entity_id, sku, price, weight + 0e0 FROM catalog_product`,
		`SELECT entity_id, sku, price, weight FROM catalog_product_entity`},
}

// ModuleRoot finds the folder holding shiplog's go.mod, from the working
// folder upwards (the demo and the benchmark run from anywhere inside it).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("run this from inside the shiplog repository (go.mod not found above %s)", dir)
		}
		dir = parent
	}
}

// SortedRows returns the rows of a query as sorted text lines ('v' or NULL,
// comma-joined), read in a UTC session: two result sets compare as slices.
func SortedRows(ctx context.Context, db *sql.DB, q string) ([]string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET time_zone = '+00:00'"); err != nil {
		return nil, err
	}
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals, ptrs := scanStrings(len(cols))
	var out []string
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = "NULL"
			if v.Valid {
				parts[i] = "'" + v.String + "'"
			}
		}
		out = append(out, strings.Join(parts, ","))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

// scanStrings returns the values of a row of n columns and the Scan targets
// that fill them.
func scanStrings(n int) ([]sql.NullString, []any) {
	vals := make([]sql.NullString, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	return vals, ptrs
}

// FirstRow returns the first row of q (SHOW ... STATUS and the like) by
// column name, NULL as ""; ok is false when q returns no row.
func FirstRow(ctx context.Context, db *sql.DB, q string) (row map[string]string, ok bool, err error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, false, err
	}
	if !rows.Next() {
		return nil, false, rows.Err()
	}
	vals, ptrs := scanStrings(len(cols))
	if err := rows.Scan(ptrs...); err != nil {
		return nil, false, err
	}
	row = make(map[string]string, len(cols))
	for i, c := range cols {
		row[c] = vals[i].String
	}
	return row, true, rows.Err()
}
