package verify

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/transform"
)

// VolumeRangeRows is the number of source keys in each counted range (the
// KeyRanges a copy collects are as far apart).
const VolumeRangeRows = 10_000

// KeyRanges describe a table as one consistent read of it in key order saw
// it: Bounds[i] is the key of row (i+1)*Every, Rows the rows in all. With
// Counts (a table read in several key ranges in one snapshot), Counts[i]
// is the rows after Bounds[i-1] up to Bounds[i] instead of Every.
type KeyRanges struct {
	Every  int
	Bounds [][]any
	Counts []int64
	Rows   int64
}

// maxVolumeKeys caps the keys a volume report names of each kind.
const maxVolumeKeys = 20

// VolumeReport is the result of the volume check of one table.
type VolumeReport struct {
	SourceRows, DestRows int64
	// Ranges is the number of key ranges counted on both sides (1 when only
	// whole tables could be counted: keys that the map changes, tables
	// without a key).
	Ranges int
	// RangesDiffering is the number of ranges whose counts differ.
	RangesDiffering int
	// Missing and Extra name up to 20 destination keys each ("a=1,b=x")
	// found in the ranges that differ.
	Missing, Extra []string
	// MoreMissing and MoreExtra count keys found beyond those named.
	MoreMissing, MoreExtra int
}

// Equal reports whether both sides hold the same number of rows in every
// range.
func (v VolumeReport) Equal() bool { return v.RangesDiffering == 0 && v.SourceRows == v.DestRows }

// Detail describes the differing keys for a message ("" when none are known).
func (v VolumeReport) Detail() string {
	var parts []string
	add := func(kind string, keys []string, more int) {
		if len(keys) == 0 {
			return
		}
		s := kind + " " + strings.Join(keys, "; ")
		if more > 0 {
			s += fmt.Sprintf(" and %d more", more)
		}
		parts = append(parts, s)
	}
	add("missing in the destination:", v.Missing, v.MoreMissing)
	add("extra in the destination:", v.Extra, v.MoreExtra)
	return strings.Join(parts, "; ")
}

// Volume counts the rows of one planned table on both sides with the
// machinery of Run: src is read as it is (pass the connection holding the
// copy's consistent snapshot), the destination through dst.
//
// When the destination key is the source key (TablePlan.KeyIdentity), both
// sides are counted in ranges of VolumeRangeRows source keys, and the keys
// of ranges whose counts differ are read on both sides to name the missing
// and extra rows; otherwise the whole tables are counted. known, when not
// nil, are the source's ranges as the copy read them in the same snapshot
// (VolumeRangeRows apart): the source is then not counted again.
func Volume(ctx context.Context, src *sql.Conn, dst *sql.DB, tp *transform.TablePlan, known *KeyRanges) (v VolumeReport, err error) {
	if known != nil && known.Every != VolumeRangeRows {
		known = nil
	}
	own, _ := tp.OwnRows()
	if tp.Routed() || own != "" {
		// Only the rows the Router carries are expected: the source is
		// read (in src's snapshot) and routed, the whole tables compared
		// (on the destination, the plan's own rows only).
		v.Ranges = 1
		if v.SourceRows, err = routedRows(ctx, src, tp); err != nil {
			return v, err
		}
		where := ""
		if own != "" {
			where = " WHERE " + own
		}
		if err := dst.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+tableName(tp.Dest)+where).Scan(&v.DestRows); err != nil {
			return v, fmt.Errorf("count destination table %s: %w", tp.Dest.Name, err)
		}
		if v.SourceRows != v.DestRows {
			v.RangesDiffering = 1
		}
		return v, nil
	}
	if !tp.KeyIdentity() {
		v.Ranges = 1
		if known != nil {
			v.SourceRows = known.Rows
		} else if err := src.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+tableName(tp.Source)).Scan(&v.SourceRows); err != nil {
			return v, fmt.Errorf("count source table %s: %w", tp.Source.Name, err)
		}
		if err := dst.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+tableName(tp.Dest)).Scan(&v.DestRows); err != nil {
			return v, fmt.Errorf("count destination table %s: %w", tp.Dest.Name, err)
		}
		if v.SourceRows != v.DestRows {
			v.RangesDiffering = 1
		}
		return v, nil
	}
	dconn, release, err := rowio.RawConn(ctx, dst)
	if err != nil {
		return v, fmt.Errorf("destination: %w", err)
	}
	defer release()
	sk, dk := keyTable(tp.Source), keyTable(tp.Dest)
	tr := &tableRun{tp: tp, o: &Options{ChunkRows: VolumeRangeRows}, srcConn: src, dstConn: dconn, identity: true}
	var after []any
	var boundedRows int64 // source rows up to the last bound passed
	for i := 0; ; i++ {
		// The range (after, upTo]: upTo is the VolumeRangeRows-th key after
		// `after`, so the source holds exactly that many (keys are unique);
		// none: the rest of the table, counted.
		var upTo []any
		var srcN int64 = VolumeRangeRows
		if known != nil {
			if i < len(known.Bounds) {
				upTo = known.Bounds[i]
				if known.Counts != nil {
					srcN = known.Counts[i]
				}
			} else {
				srcN = known.Rows - boundedRows
			}
			boundedRows += srcN
		} else {
			if upTo, err = nthKey(ctx, src, sk, after, VolumeRangeRows); err != nil {
				return v, fmt.Errorf("source table %s: %w", tp.Source.Name, err)
			}
			if upTo == nil {
				if srcN, err = countRange(ctx, src, sk, after, nil); err != nil {
					return v, fmt.Errorf("source table %s: %w", tp.Source.Name, err)
				}
			}
		}
		dstN, err := countRange(ctx, dconn, dk, after, upTo)
		if err != nil {
			return v, fmt.Errorf("destination table %s: %w", tp.Dest.Name, err)
		}
		v.Ranges++
		v.SourceRows += srcN
		v.DestRows += dstN
		if srcN != dstN {
			v.RangesDiffering++
			if err := tr.volumeKeys(ctx, &v, sk, dk, after, upTo); err != nil {
				return v, err
			}
		}
		if upTo == nil {
			return v, nil
		}
		after = upTo
	}
}

// volumeKeys reads the keys of (after, upTo] on both sides and names the
// missing and extra ones in v.
func (tr *tableRun) volumeKeys(ctx context.Context, v *VolumeReport, sk, dk *cdc.Table, after, upTo []any) error {
	srcKeys, err := rangeKeys(ctx, tr.srcConn, sk, after, upTo)
	if err != nil {
		return fmt.Errorf("source table %s: %w", tr.tp.Source.Name, err)
	}
	dstKeys, err := rangeKeys(ctx, tr.dstConn, dk, after, upTo)
	if err != nil {
		return fmt.Errorf("destination table %s: %w", tr.tp.Dest.Name, err)
	}
	names := tr.tp.Dest.KeyNames()
	text := func(k []any) string { return Difference{Key: tr.keyMap(k)}.KeyString(names) }
	inDst := make(map[string]struct{}, len(dstKeys))
	for _, k := range dstKeys {
		inDst[tr.dstKeyText(k)] = struct{}{}
	}
	inSrc := make(map[string]struct{}, len(srcKeys))
	for _, k := range srcKeys {
		t := tr.dstKeyText(k)
		inSrc[t] = struct{}{}
		if _, ok := inDst[t]; !ok {
			if len(v.Missing) < maxVolumeKeys {
				v.Missing = append(v.Missing, text(k))
			} else {
				v.MoreMissing++
			}
		}
	}
	for _, k := range dstKeys {
		if _, ok := inSrc[tr.dstKeyText(k)]; !ok {
			if len(v.Extra) < maxVolumeKeys {
				v.Extra = append(v.Extra, text(k))
			} else {
				v.MoreExtra++
			}
		}
	}
	return nil
}

// keyTable is t reduced to its key columns, which are its whole key.
func keyTable(t *cdc.Table) *cdc.Table {
	kt := &cdc.Table{Schema: t.Schema, Name: t.Name}
	for i, k := range t.Key {
		kt.Columns = append(kt.Columns, t.Columns[k])
		kt.Key = append(kt.Key, i)
	}
	return kt
}

func tableName(t *cdc.Table) string {
	return rowio.QuoteIdent(t.Schema) + "." + rowio.QuoteIdent(t.Name)
}

// rangeWhere appends " WHERE key > after AND NOT key > upTo" (each part only
// when its bound is set) for kt, a key table.
func rangeWhere(q []byte, kt *cdc.Table, after, upTo []any) ([]byte, error) {
	var err error
	sep := " WHERE ("
	if after != nil {
		q = append(q, sep...)
		if q, err = rowio.AppendAfter(q, kt, after); err != nil {
			return q, err
		}
		q = append(q, ')')
		sep = " AND ("
	}
	if upTo != nil {
		q = append(q, sep+"NOT ("...)
		if q, err = rowio.AppendAfter(q, kt, upTo); err != nil {
			return q, err
		}
		q = append(q, "))"...)
	}
	return q, nil
}

// nthKey is the n-th key after `after` (nil: from the start) in key order, or
// nil when there are fewer than n.
func nthKey(ctx context.Context, conn *sql.Conn, kt *cdc.Table, after []any, n int) ([]any, error) {
	q := rowio.SelectColumns(make([]byte, 0, 256), kt)
	q, err := rangeWhere(q, kt, after, nil)
	if err != nil {
		return nil, err
	}
	q = rowio.AppendOrderByKey(q, kt)
	q = append(q, fmt.Sprintf(" LIMIT 1 OFFSET %d", n-1)...)
	rows, err := queryRows(ctx, conn, kt, string(q))
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return rows[0], nil
}

// countRange counts the rows of kt's table with keys in (after, upTo].
func countRange(ctx context.Context, conn *sql.Conn, kt *cdc.Table, after, upTo []any) (int64, error) {
	q := []byte("SELECT COUNT(*) FROM " + tableName(kt))
	q, err := rangeWhere(q, kt, after, upTo)
	if err != nil {
		return 0, err
	}
	var n int64
	err = conn.QueryRowContext(ctx, string(q)).Scan(&n)
	return n, err
}

// rangeKeys reads the keys of kt's table in (after, upTo], in key order.
func rangeKeys(ctx context.Context, conn *sql.Conn, kt *cdc.Table, after, upTo []any) ([][]any, error) {
	q := rowio.SelectColumns(make([]byte, 0, 256), kt)
	q, err := rangeWhere(q, kt, after, upTo)
	if err != nil {
		return nil, err
	}
	return queryRows(ctx, conn, kt, string(rowio.AppendOrderByKey(q, kt)))
}

// routedRows counts the source rows of routed plan tp its Router keeps in
// tp's destination table (Carry, or AlsoCarry), reading them in key order.
func routedRows(ctx context.Context, src *sql.Conn, tp *transform.TablePlan) (int64, error) {
	if len(tp.Source.Key) == 0 {
		return 0, fmt.Errorf("table %s: a routed table without a key cannot be counted", tp.Source.Name)
	}
	var n int64
	var after []any
	for {
		rows, err := rowio.ReadChunk(ctx, src, tp.Source, after, VolumeRangeRows)
		if err != nil {
			return 0, fmt.Errorf("source table %s: %w", tp.Source.Name, err)
		}
		for _, r := range rows {
			rt, err := tp.RouteOf(r, false)
			if err != nil {
				return 0, err
			}
			if rt.Kind == transform.Carry || rt.AlsoCarry {
				n++
			}
		}
		if len(rows) < VolumeRangeRows {
			return n, nil
		}
		after = tp.Source.KeyOf(rows[len(rows)-1])
	}
}
