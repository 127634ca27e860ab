package deltalog

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/rowio"
)

// Reader turns the change logs into batches of changes.
type Reader struct {
	DB     *sql.DB // the source
	Schema string
	Specs  []Spec
	// Poll is how long to wait when the logs are empty (default 200ms).
	Poll time.Duration
	// BatchRows bounds the log rows read per table per round (default 5000).
	BatchRows int
	Logger    *slog.Logger
	// Identities, when set, holds the identities the logged tables had when
	// the copy was planned (ReadIdentities, with columns). A table that no
	// longer matches stops Stream with a *ChangedError: the tables a round
	// read are checked after their rows are read and before emit, so no row
	// read after a TRUNCATE or ALTER is emitted, and every table is checked
	// once every CheckEvery (default 1s) meanwhile, with its columns.
	Identities map[string]*Identity
	CheckEvery time.Duration
}

// Stream reads the logs round by round until ctx ends. Each round reads the
// oldest log rows of every table, reads the current source rows of their keys
// in one consistent snapshot, and calls emit with one batch: a delete for each
// key the source no longer has, then an upsert (OpInsert with the whole row)
// for each key it has. Reading the current row makes replays and collapsed
// changes safe: whatever happened to a key, the destination gets the source's
// state of it. emit must apply the batch before it returns (the pipeline
// writes it); only then are exactly the log rows read deleted from the logs,
// in bounded chunks, so a crash at any moment leaves them to be applied again.
// When the logs are empty, emit gets an empty batch and Stream waits Poll.
// from carries the sequences applied before (for the positions it reports).
// It returns ctx.Err() or the first error.
func (r *Reader) Stream(ctx context.Context, from cdc.Position, emit func(context.Context, cdc.Batch) error) error {
	poll := r.Poll
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	limit := r.BatchRows
	if limit <= 0 {
		limit = 5000
	}
	log := r.Logger
	if log == nil {
		log = slog.Default()
	}
	every := r.CheckEvery
	if every <= 0 {
		every = time.Second
	}
	last := parseLogs(from.Logs)
	checked := time.Now() // the caller compared every table before Stream
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		entries, err := r.readLogs(ctx, limit)
		if err != nil {
			return err
		}
		all := time.Since(checked) >= every
		if len(entries) == 0 {
			if all {
				if err := r.check(ctx, nil); err != nil {
					return err
				}
				checked = time.Now()
			}
			if err := emit(ctx, cdc.Batch{Pos: logsPosition(last)}); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(poll):
			}
			continue
		}
		b, err := r.changes(ctx, entries)
		if err != nil {
			// A table truncated or altered after the snapshot began
			// (1412), dropped (1146): say which and how.
			if ctx.Err() == nil {
				if cerr := r.check(ctx, entries); cerr != nil {
					return cerr
				}
			}
			return err
		}
		// After the rows are read, before they are emitted: the rows were
		// read before any change this does not see.
		if all {
			err = r.check(ctx, nil)
			checked = time.Now()
		} else {
			err = r.check(ctx, entries)
		}
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.maxSeq > last[e.spec.LogTable] {
				last[e.spec.LogTable] = e.maxSeq
			}
		}
		b.Pos = logsPosition(last)
		if err := emit(ctx, b); err != nil {
			return err
		}
		if err := r.purge(context.WithoutCancel(ctx), entries); err != nil {
			return err
		}
		log.Debug("change logs applied", "stage", "delta", "changes", len(b.Changes), "position", b.Pos.String())
	}
}

// check compares the identities of the tables of entries (no columns), or
// with entries nil of every logged table (with columns), with Identities.
func (r *Reader) check(ctx context.Context, entries []tableLog) error {
	if r.Identities == nil {
		return nil
	}
	if entries == nil {
		return CompareIdentities(ctx, r.DB, r.Schema, r.Identities)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.spec.Table.Name
	}
	return compare(ctx, r.DB, r.Schema, r.Identities, names, false)
}

// tableLog is what one round read from one log table.
type tableLog struct {
	spec *Spec
	seqs []uint64
	keys [][]any // distinct keys, in order of their last log row
	// carry are the Spec.Carry values of each key's last log row.
	carry  [][]any
	maxSeq uint64
}

// readLogs reads every change log in one consistent snapshot: a source
// transaction that changed several logged tables is in a round whole or
// not at all (a row whose change another table's row needs, as a routed
// customer value needs its entity row, never comes a round before it).
func (r *Reader) readLogs(ctx context.Context, limit int) ([]tableLog, error) {
	conn, release, err := rowio.RawConn(ctx, r.DB)
	if err != nil {
		return nil, err
	}
	defer release()
	if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "COMMIT")
	var out []tableLog
	for i := range r.Specs {
		s := &r.Specs[i]
		t, err := r.readLog(ctx, conn, s, limit)
		if err != nil {
			return nil, err
		}
		if len(t.seqs) > 0 {
			out = append(out, t)
		}
	}
	return out, nil
}

func (r *Reader) readLog(ctx context.Context, conn *sql.Conn, s *Spec, limit int) (tableLog, error) {
	t := tableLog{spec: s}
	var cols []string
	for _, k := range s.logged() {
		cols = append(cols, rowio.QuoteIdent(s.Table.Columns[k].Name))
	}
	keyTable := &cdc.Table{Schema: s.Table.Schema, Name: s.LogTable}
	for _, k := range s.logged() {
		keyTable.Columns = append(keyTable.Columns, s.Table.Columns[k])
	}
	stmt, err := conn.PrepareContext(ctx, "SELECT seq, "+strings.Join(cols, ", ")+" FROM "+
		rowio.QuoteIdent(r.Schema)+"."+rowio.QuoteIdent(s.LogTable)+" ORDER BY seq LIMIT "+strconv.Itoa(limit))
	if err != nil {
		return t, fmt.Errorf("read %s: %w", s.LogTable, err)
	}
	defer stmt.Close()
	rows, err := stmt.QueryContext(ctx)
	if err != nil {
		return t, fmt.Errorf("read %s: %w", s.LogTable, err)
	}
	defer rows.Close()
	at := map[string]int{}
	vals := make([]any, 1+len(s.Key)+len(s.Carry))
	ptrs := make([]any, len(vals))
	for i := range ptrs {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return t, err
		}
		seq, err := toUint(vals[0])
		if err != nil {
			return t, fmt.Errorf("read %s: seq: %w", s.LogTable, err)
		}
		logged := make([]any, len(vals)-1)
		for i := range logged {
			if logged[i], err = rowio.Normalize(vals[1+i], &keyTable.Columns[i]); err != nil {
				return t, fmt.Errorf("read %s: %w", s.LogTable, err)
			}
		}
		key := logged[:len(s.Key):len(s.Key)]
		t.seqs = append(t.seqs, seq)
		t.maxSeq = max(t.maxSeq, seq)
		enc, err := rowio.EncodeKey(key)
		if err != nil {
			return t, err
		}
		if i, ok := at[enc]; ok {
			t.keys[i] = nil // keep the key at its last position
		}
		at[enc] = len(t.keys)
		t.keys = append(t.keys, key)
		t.carry = append(t.carry, logged[len(s.Key):])
	}
	if err := rows.Err(); err != nil {
		return t, err
	}
	kept, carry := t.keys[:0], t.carry[:0]
	for i, k := range t.keys {
		if k != nil {
			kept, carry = append(kept, k), append(carry, t.carry[i])
		}
	}
	t.keys, t.carry = kept, carry
	return t, nil
}

func toUint(v any) (uint64, error) {
	switch x := v.(type) {
	case int64:
		return uint64(x), nil
	case uint64:
		return x, nil
	case []byte:
		return strconv.ParseUint(string(x), 10, 64)
	}
	return 0, fmt.Errorf("unexpected %T", v)
}

// changes reads the current rows of the logged keys, all in one consistent
// snapshot, and turns them into deletes (keys gone) and upserts.
func (r *Reader) changes(ctx context.Context, entries []tableLog) (cdc.Batch, error) {
	var b cdc.Batch
	conn, release, err := rowio.RawConn(ctx, r.DB)
	if err != nil {
		return b, err
	}
	defer release()
	if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return b, fmt.Errorf("source: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "COMMIT")
	now := time.Now()
	var upserts []cdc.Change
	for _, e := range entries {
		t := e.spec.Table
		rows, err := rowio.ReadRowsByKey(ctx, conn, t, e.spec.Key, e.keys)
		if err != nil {
			return b, err
		}
		found := map[string]bool{}
		for _, row := range rows {
			key := make([]any, len(e.spec.Key))
			for i, k := range e.spec.Key {
				key[i] = row[k]
			}
			enc, err := rowio.EncodeKey(key)
			if err != nil {
				return b, err
			}
			found[enc] = true
			upserts = append(upserts, cdc.Change{Op: cdc.OpInsert, Table: t, After: row, CommitTime: now})
			b.Size += cdc.ValueSize(row)
		}
		for n, key := range e.keys {
			enc, err := rowio.EncodeKey(key)
			if err != nil {
				return b, err
			}
			if found[enc] {
				continue
			}
			before := make([]any, len(t.Columns))
			for i, k := range e.spec.Key {
				before[k] = key[i]
			}
			for i, k := range e.spec.Carry {
				before[k] = e.carry[n][i]
			}
			b.Changes = append(b.Changes, cdc.Change{Op: cdc.OpDelete, Table: t, Before: before, CommitTime: now})
		}
	}
	// Deletes first: with keys that compare by collation ('a' logged, 'A'
	// found), the row found must be the one that stays.
	b.Changes = append(b.Changes, upserts...)
	b.Time = now
	return b, nil
}

// purge deletes exactly the log rows that were applied, a bounded chunk at a
// time (rows logged meanwhile, even with lower sequence numbers from
// transactions that committed late, stay).
func (r *Reader) purge(ctx context.Context, entries []tableLog) error {
	const chunk = 1000
	for _, e := range entries {
		for start := 0; start < len(e.seqs); start += chunk {
			part := e.seqs[start:min(start+chunk, len(e.seqs))]
			var q strings.Builder
			q.WriteString("DELETE FROM " + rowio.QuoteIdent(r.Schema) + "." + rowio.QuoteIdent(e.spec.LogTable) + " WHERE seq IN (")
			for i, s := range part {
				if i > 0 {
					q.WriteByte(',')
				}
				q.WriteString(strconv.FormatUint(s, 10))
			}
			q.WriteByte(')')
			if _, err := r.DB.ExecContext(ctx, q.String()); err != nil {
				return fmt.Errorf("purge %s: %w", e.spec.LogTable, err)
			}
		}
	}
	return nil
}

// Marks returns the highest sequence of each log now: everything up to them
// has been applied once no log row at or below them is left.
func (r *Reader) Marks(ctx context.Context) (map[string]uint64, error) {
	out := map[string]uint64{}
	for _, s := range r.Specs {
		var n sql.NullInt64
		if err := r.DB.QueryRowContext(ctx, "SELECT MAX(seq) FROM "+rowio.QuoteIdent(r.Schema)+"."+rowio.QuoteIdent(s.LogTable)).Scan(&n); err != nil {
			return nil, fmt.Errorf("read %s: %w", s.LogTable, err)
		}
		out[s.LogTable] = uint64(n.Int64)
	}
	return out, nil
}

// Pending reports whether any log row at or below marks is left.
func (r *Reader) Pending(ctx context.Context, marks map[string]uint64) (bool, error) {
	for _, s := range r.Specs {
		m := marks[s.LogTable]
		if m == 0 {
			continue
		}
		var one int
		err := r.DB.QueryRowContext(ctx, "SELECT 1 FROM "+rowio.QuoteIdent(r.Schema)+"."+rowio.QuoteIdent(s.LogTable)+" WHERE seq <= ? LIMIT 1", m).Scan(&one)
		if err == nil {
			return true, nil
		}
		if err != sql.ErrNoRows {
			return false, fmt.Errorf("read %s: %w", s.LogTable, err)
		}
	}
	return false, nil
}

func logsPosition(last map[string]uint64) cdc.Position {
	if len(last) == 0 {
		return cdc.Position{}
	}
	names := make([]string, 0, len(last))
	for n := range last {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + strconv.FormatUint(last[n], 10)
	}
	return cdc.Position{Logs: strings.Join(parts, ",")}
}

func parseLogs(s string) map[string]uint64 {
	out := map[string]uint64{}
	for _, part := range strings.Split(s, ",") {
		name, seq, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(seq, 10, 64); err == nil {
			out[name] = n
		}
	}
	return out
}
