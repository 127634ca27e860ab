package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/shiplog/shiplog/cdc"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
	"github.com/shiplog/shiplog/transform"
)

// Followers: the delta of a step whose destination rows are derived from
// rows the stream writes (order grids from the sales tables, MSI's source
// items from the stock items, sales sequences from the increment ids, ...).
// A step registers one when delta mode starts (its DeltaStart, before the
// Map step's Delta streams); the MySQL sink then runs it in the destination
// transaction of every batch that writes one of the tables it follows,
// after the batch's changes and before its checkpoint — the derived rows
// commit with the rows they derive from, or not at all, and cutover (which
// waits for the checkpoint) never sees them behind. Such a batch is applied
// whole (one transaction, not the apply partitions), so the follower reads
// every change of the batch.
//
// A source transaction applied in parts (delta.max_transaction_bytes) runs
// the followers once, in its one transaction before the commit, with the
// changes of every part of followed tables.
//
// The failed-row retry runs them too, with the retried row's changes. The
// Kafka sink does not: apply --from-kafka writes the sales tables without
// them (the steps say so when delta mode starts).

// follower keeps destination rows derived from streamed tables in step.
type follower interface {
	// name names the follower in errors ("OrderGrids step").
	name() string
	// follows reports whether the follower reads changes of destination
	// table (its name without the destination prefix, lower case).
	follows(table string) bool
	// follow brings the derived rows of changes (those of followed tables,
	// mapped and expanded: destination rows) up to date in tx. It may run
	// more than once for the same changes (a retried transaction): it must
	// be idempotent.
	follow(ctx context.Context, tx *sql.Tx, changes []cdc.Change) error
}

// lastFollower is a follower whose rows must be written after every other
// follower's of the batch (one of those may write the same rows from the
// source: the PostProcessing step's reads a product's value rows again).
type lastFollower interface{ followsLast() }

// follow registers f for the delta stream that starts next (see above).
// Registered followers are forgotten when delta mode starts again.
func (r *Runtime) follow(f follower) { r.followers = append(r.followers, f) }

// followed returns the changes of changes that some follower reads (nil:
// none).
func (r *Runtime) followed(changes []cdc.Change) []cdc.Change {
	if len(r.followers) == 0 {
		return nil
	}
	var out []cdc.Change
	var last *cdc.Table
	lastIn := false
	for i := range changes {
		c := &changes[i]
		if c.Table != last {
			last, lastIn = c.Table, r.isFollowed(c.Table)
		}
		if lastIn {
			out = append(out, *c)
		}
	}
	return out
}

func (r *Runtime) isFollowed(t *cdc.Table) bool {
	if t == nil {
		return false
	}
	name, ok := r.followName(t.Name)
	if !ok {
		return false
	}
	for _, f := range r.followers {
		if f.follows(name) {
			return true
		}
	}
	return false
}

// followName is destination table name as follows gets it: without the
// destination prefix, lower case; shiplog's own tables (which have no
// prefix) by their whole name.
func (r *Runtime) followName(name string) (string, bool) {
	if hasPrefixFold(name, transform.StateTablePrefix) {
		return strings.ToLower(name), true
	}
	n, ok := cutPrefixFold(name, r.cfg.Options.DestPrefix)
	return strings.ToLower(n), ok
}

// runFollowers runs, in tx, every follower with the changes of changes
// (already those of followed tables, see followed) it reads.
// Followers that are lastFollowers run after the others.
func (r *Runtime) runFollowers(ctx context.Context, tx *sql.Tx, changes []cdc.Change) error {
	ordered := make([]follower, 0, len(r.followers))
	for _, last := range []bool{false, true} {
		for _, f := range r.followers {
			if _, ok := f.(lastFollower); ok == last {
				ordered = append(ordered, f)
			}
		}
	}
	for _, f := range ordered {
		var mine []cdc.Change
		for i := range changes {
			name, ok := r.followName(changes[i].Table.Name)
			if ok && f.follows(name) {
				mine = append(mine, changes[i])
			}
		}
		if len(mine) == 0 {
			continue
		}
		if err := f.follow(ctx, tx, mine); err != nil {
			return fmt.Errorf("%s (delta): %w", f.name(), err)
		}
	}
	return nil
}

// followThen is the function that runs the followers of changes in a
// batch's transaction (mysqlsink.Writer.WriteThen), or nil when no
// follower reads any of them.
func (r *Runtime) followThen(changes []cdc.Change) func(context.Context, *sql.Tx) error {
	mine := r.followed(changes)
	if len(mine) == 0 {
		return nil
	}
	return func(ctx context.Context, tx *sql.Tx) error { return r.runFollowers(ctx, tx, mine) }
}

// followerFailed records in tx, for a follower, rows it could not derive
// (the failed-row retry tries their source rows again), and counts them for
// the run's result (followPartial).
func (r *Runtime) followerFailed(ctx context.Context, tx *sql.Tx, failures []cdc.Failure) error {
	if err := r.state.SaveFailures(ctx, tx, failures); err != nil {
		return err
	}
	r.followFailed.Add(int64(len(failures)))
	return nil
}

// followPartial is err (a stream's end), or ErrPartial when it is nil and
// followers recorded failed rows.
func (r *Runtime) followPartial(err error) error {
	if n := r.followFailed.Load(); n > 0 && err == nil {
		return fmt.Errorf("%w: %d row(s) derived by the steps' followers could not be written (see _shiplog_failed_rows; the next run retries them)", ErrPartial, n)
	}
	return err
}

// changedValues returns the distinct non-NULL values of column col (by
// name, case-insensitively) in the before and after images of changes of
// table t — the keys a follower refreshes. For a set (cdc.OpSet) only the
// table's key columns and the columns it sets have values. Values are
// compared as their string forms; the first form seen is kept.
func changedValues(changes []cdc.Change, col string) []any {
	seen := map[string]bool{}
	var out []any
	add := func(row []any, i int) {
		if i < 0 || i >= len(row) || row[i] == nil {
			return
		}
		v := row[i]
		k := fmt.Sprint(v)
		if b, ok := v.([]byte); ok {
			k = string(b)
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	var last *cdc.Table
	idx := -1
	for i := range changes {
		c := &changes[i]
		if c.Table != last {
			last, idx = c.Table, c.Table.ColumnIndex(col)
		}
		if idx < 0 {
			continue
		}
		if c.Op == cdc.OpSet && !slices.Contains(c.Table.Key, idx) && !slices.Contains(c.Set, idx) {
			continue
		}
		add(c.Before, idx)
		add(c.After, idx)
	}
	return out
}

// changesOf returns the changes of changes to destination table name
// (without the destination prefix, case-insensitively).
func (r *Runtime) changesOf(changes []cdc.Change, name string) []cdc.Change {
	var out []cdc.Change
	for i := range changes {
		n, ok := cutPrefixFold(changes[i].Table.Name, r.cfg.Options.DestPrefix)
		if ok && strings.EqualFold(n, name) {
			out = append(out, changes[i])
		}
	}
	return out
}

// applyFollowed is writer.Apply(changes, then) with the followers of
// changes run in the same transaction, after then.
func (r *Runtime) applyFollowed(ctx context.Context, writer *mysqlsink.Writer, changes []cdc.Change, then func(*sql.Tx) error) error {
	follow := r.followThen(changes)
	if follow == nil {
		return writer.Apply(ctx, changes, then)
	}
	return writer.Apply(ctx, changes, func(tx *sql.Tx) error {
		if then != nil {
			if err := then(tx); err != nil {
				return err
			}
		}
		return follow(ctx, tx)
	})
}
