//go:build !unit

package testenv

import (
	"context"
	"testing"
)

func TestStartMariaDBWithBinlog(t *testing.T) {
	m := MariaDBT(t, Options{Binlog: true})
	db, err := m.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var format, meta string
	if err := db.QueryRowContext(context.Background(), "SELECT @@binlog_format, @@binlog_row_metadata").Scan(&format, &meta); err != nil {
		t.Fatal(err)
	}
	if format != "ROW" || meta != "FULL" {
		t.Fatalf("binlog_format=%s binlog_row_metadata=%s, want ROW FULL", format, meta)
	}
}
