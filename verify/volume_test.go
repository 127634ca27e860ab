//go:build !unit

package verify

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/internal/testenv"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/transform"
)

// TestVolumeCountsKeyRanges counts a composite-key table on a real server:
// ranges of VolumeRangeRows keys on both sides, and the keys of the ranges
// that differ named; a map that changes the key falls back to whole-table
// counts.
func TestVolumeCountsKeyRanges(t *testing.T) {
	t.Parallel()
	m := testenv.MariaDBT(t, testenv.Options{})
	ctx := context.Background()
	if err := m.Exec(ctx, "", "CREATE DATABASE a", "CREATE DATABASE b"); err != nil {
		t.Fatal(err)
	}
	const ddl = "CREATE TABLE t (k1 INT NOT NULL, k2 VARCHAR(8) NOT NULL, v INT, PRIMARY KEY (k1, k2))"
	fill := "INSERT INTO t SELECT seq DIV 2, IF(seq % 2 = 0, 'x', 'y'), seq FROM seq_0_to_22999"
	if err := m.Exec(ctx, "a", ddl, fill); err != nil {
		t.Fatal(err)
	}
	if err := m.Exec(ctx, "b", ddl, fill,
		"DELETE FROM t WHERE (k1, k2) IN ((100, 'y'), (7000, 'x'))", // missing
		"INSERT INTO t VALUES (11000, 'z', 0)",                      // extra, in the last range
	); err != nil {
		t.Fatal(err)
	}
	src, err := m.Open("a")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := m.Open("b")
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	st, err := rowio.LoadTables(ctx, src, "a", "")
	if err != nil {
		t.Fatal(err)
	}
	dt, err := rowio.LoadTables(ctx, dst, "b", "")
	if err != nil {
		t.Fatal(err)
	}
	plan := func(yaml string) *transform.TablePlan {
		t.Helper()
		rules, err := transform.ParseMap("map.yaml", []byte(yaml), "yaml")
		if err != nil {
			t.Fatal(err)
		}
		p, problems := transform.Compile(rules, st, dt)
		for _, pr := range problems {
			if pr.Severity == transform.Error {
				t.Fatalf("compile: %s", pr)
			}
		}
		return p.Table("t")
	}
	conn, release, err := rowio.RawConn(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	defer release()

	// known are the ranges a copy would note while reading the source.
	keys, err := rangeKeys(ctx, conn, keyTable(st[0]), nil, nil)
	if err != nil || len(keys) != 23000 {
		t.Fatalf("source keys: %d, %v", len(keys), err)
	}
	known := &KeyRanges{Every: VolumeRangeRows, Rows: int64(len(keys))}
	for i := VolumeRangeRows - 1; i < len(keys); i += VolumeRangeRows {
		known.Bounds = append(known.Bounds, keys[i])
	}
	// volume checks that counting the source and taking the known ranges
	// give the same report.
	volume := func(tp *transform.TablePlan) (VolumeReport, error) {
		t.Helper()
		a, err := Volume(ctx, conn, dst, tp, nil)
		if err != nil {
			return a, err
		}
		b, err := Volume(ctx, conn, dst, tp, known)
		if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) {
			t.Fatalf("counted source %+v, known ranges %+v", a, b)
		}
		return b, err
	}
	identity := plan("source: {}\n")
	if !identity.KeyIdentity() {
		t.Fatal("an empty map does not keep the key")
	}
	v, err := volume(identity)
	if err != nil {
		t.Fatal(err)
	}
	if v.Ranges != 3 || v.RangesDiffering != 3 || v.SourceRows != 23000 || v.DestRows != 22999 || v.Equal() {
		t.Fatalf("report %+v: want 3 ranges, all differing, 23000 vs 22999 rows", v)
	}
	if got, want := strings.Join(v.Missing, " | "), "k1=100,k2=y | k1=7000,k2=x"; got != want {
		t.Errorf("missing %q, want %q", got, want)
	}
	if got, want := strings.Join(v.Extra, " | "), "k1=11000,k2=z"; got != want {
		t.Errorf("extra %q, want %q", got, want)
	}
	if d := v.Detail(); !strings.Contains(d, "missing in the destination: k1=100,k2=y; k1=7000,k2=x; extra in the destination: k1=11000,k2=z") {
		t.Errorf("detail %q", d)
	}

	// The same number of rows, one of them under another key: COUNT(*)
	// agrees, the ranges do not. (A row missing and another extra in the
	// same range cancel out: counts cannot see that; Run can.)
	if err := m.Exec(ctx, "b", "INSERT INTO t VALUES (100, 'y', 201)", "DELETE FROM t WHERE k1 = 11000 AND k2 = 'z'", "INSERT INTO t VALUES (999999, 'x', 0)"); err != nil {
		t.Fatal(err)
	}
	if v, err = volume(identity); err != nil {
		t.Fatal(err)
	}
	if v.SourceRows != v.DestRows || v.Equal() || strings.Join(v.Missing, "|") != "k1=7000,k2=x" || strings.Join(v.Extra, "|") != "k1=999999,k2=x" {
		t.Fatalf("misplaced row not found: %+v", v)
	}
	if err := m.Exec(ctx, "b", "DELETE FROM t WHERE k1 = 999999", "INSERT INTO t VALUES (7000, 'x', 14000)"); err != nil {
		t.Fatal(err)
	}
	if v, err = volume(identity); err != nil || !v.Equal() || v.Ranges != 3 || len(v.Missing)+len(v.Extra) != 0 {
		t.Fatalf("identical tables: %+v, %v", v, err)
	}

	// A handler on a key column: the destination key is not the source's.
	keyed := plan("source:\n  fields:\n    transform:\n      - {field: t.k2, eval: \"upper(k2)\"}\n")
	if keyed.KeyIdentity() {
		t.Fatal("a handler on a key column keeps the key")
	}
	if v, err = volume(keyed); err != nil || v.Ranges != 1 || !v.Equal() {
		t.Fatalf("whole-table counts: %+v, %v", v, err)
	}
}

// TestVolumeCountsNativeKeyRanges counts a table keyed by INET6 and UUID
// (MariaDB types the server prints as text and compares as native bytes) in
// ranges of VolumeRangeRows keys, counted and as a copy notes them, and names
// the missing and extra keys by their text.
func TestVolumeCountsNativeKeyRanges(t *testing.T) {
	t.Parallel()
	m := testenv.MariaDBT(t, testenv.Options{})
	ctx := context.Background()
	if err := m.Exec(ctx, "", "CREATE DATABASE a", "CREATE DATABASE b"); err != nil {
		t.Fatal(err)
	}
	const ddl = "CREATE TABLE t (a INET6 NOT NULL, u UUID NOT NULL, v INT, PRIMARY KEY (a, u))"
	// UUIDs of versions 1, 4 and 7 and several variants, three per address.
	fill := `INSERT INTO t SELECT CONCAT('2001:db8::', HEX(seq DIV 3)),
	  CONCAT(LPAD(HEX((seq * 7919) % 65536), 8, '0'), '-0000-', ELT(1 + seq % 3, '1', '4', '7'), '000-',
	    ELT(1 + seq % 4, '8', '0', 'c', 'a'), '000-', LPAD(HEX(seq), 12, '0')), seq FROM seq_0_to_22999`
	if err := m.Exec(ctx, "a", ddl, fill); err != nil {
		t.Fatal(err)
	}
	if err := m.Exec(ctx, "b", ddl, fill,
		"DELETE FROM t WHERE a = '2001:db8::64' AND u = '00004014-0000-1000-8000-00000000012c'", // missing, first range
		"INSERT INTO t VALUES ('2001:db8::ffff', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 0)",    // extra, last range
	); err != nil {
		t.Fatal(err)
	}
	src, err := m.Open("a")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := m.Open("b")
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	st, err := rowio.LoadTables(ctx, src, "a", "")
	if err != nil {
		t.Fatal(err)
	}
	dt, err := rowio.LoadTables(ctx, dst, "b", "")
	if err != nil {
		t.Fatal(err)
	}
	p, problems := transform.Compile(nil, st, dt)
	if transform.HasErrors(problems) {
		t.Fatalf("compile: %v", problems)
	}
	tp := p.Table("t")
	conn, release, err := rowio.RawConn(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	defer release()

	keys, err := rangeKeys(ctx, conn, keyTable(st[0]), nil, nil)
	if err != nil || len(keys) != 23000 {
		t.Fatalf("source keys read in pages: %d, %v", len(keys), err)
	}
	known := &KeyRanges{Every: VolumeRangeRows, Rows: int64(len(keys))}
	for i := VolumeRangeRows - 1; i < len(keys); i += VolumeRangeRows {
		known.Bounds = append(known.Bounds, keys[i])
	}
	for _, ranges := range []*KeyRanges{nil, known} {
		v, err := Volume(ctx, conn, dst, tp, ranges)
		if err != nil {
			t.Fatal(err)
		}
		if v.Ranges != 3 || v.RangesDiffering != 2 || v.SourceRows != 23000 || v.DestRows != 23000 || v.Equal() {
			t.Fatalf("known ranges %v: report %+v: want 3 ranges, 2 differing, 23000 rows each", ranges != nil, v)
		}
		if got, want := strings.Join(v.Missing, " | "), "a=2001:db8::64,u=00004014-0000-1000-8000-00000000012c"; got != want {
			t.Errorf("missing %q, want %q", got, want)
		}
		if got, want := strings.Join(v.Extra, " | "), "a=2001:db8::ffff,u=ffffffff-ffff-ffff-ffff-ffffffffffff"; got != want {
			t.Errorf("extra %q, want %q", got, want)
		}
	}
	if err := m.Exec(ctx, "b", "DELETE FROM t WHERE v = 0 AND a = '2001:db8::ffff'",
		"INSERT INTO t VALUES ('2001:db8::64', '00004014-0000-1000-8000-00000000012c', 300)"); err != nil {
		t.Fatal(err)
	}
	if v, err := Volume(ctx, conn, dst, tp, known); err != nil || !v.Equal() || v.Ranges != 3 {
		t.Fatalf("identical tables: %+v, %v", v, err)
	}
}
