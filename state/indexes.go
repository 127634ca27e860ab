package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// indexesTable records the secondary indexes the copier dropped from an
// emptied destination table to build them after the bulk load
// (snapshot.Copier.DeferIndexRows). A row is written before its index is
// dropped and deleted in the transaction that marks the table's copy done,
// after the index is back: a row left over is an index still missing.
const indexesTable = "_shiplog_deferred_indexes"

// DeferredIndex is a destination index dropped for a copy and not yet
// recorded as added back.
type DeferredIndex struct {
	// Table is the source table whose copy dropped it (its progress key).
	Table string
	// Schema and DestTable name the destination table that lacks it.
	Schema, DestTable string
	// Name is the index name; Definition its line of SHOW CREATE TABLE
	// (e.g. "KEY `k_1` (`k`)"), added back as written.
	Name, Definition string
	// Seq orders the indexes of a table as SHOW CREATE TABLE listed them.
	Seq int
}

// RecordDeferredIndexes records indexes (of one destination table) before
// they are dropped, replacing what table had recorded.
func (s *State) RecordDeferredIndexes(ctx context.Context, table string, idx []DeferredIndex) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record the deferred indexes of %s: %w", table, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+s.table(indexesTable)+" WHERE table_name = ?", table); err != nil {
		return fmt.Errorf("record the deferred indexes of %s: %w", table, err)
	}
	for _, d := range idx {
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+s.table(indexesTable)+
			" (table_name, dest_schema, dest_table, index_name, seq, definition, recorded_at) VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))",
			table, d.Schema, d.DestTable, d.Name, d.Seq, d.Definition); err != nil {
			return fmt.Errorf("record the deferred index %s of %s: %w", d.Name, table, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record the deferred indexes of %s: %w", table, err)
	}
	return nil
}

// DeferredIndexes returns the recorded indexes not yet added back, by
// table and in their order.
func (s *State) DeferredIndexes(ctx context.Context) ([]DeferredIndex, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT table_name, dest_schema, dest_table, index_name, seq, definition FROM "+s.table(indexesTable)+" ORDER BY table_name, seq")
	if err != nil {
		return nil, fmt.Errorf("read the deferred indexes: %w", err)
	}
	defer rows.Close()
	var out []DeferredIndex
	for rows.Next() {
		var d DeferredIndex
		if err := rows.Scan(&d.Table, &d.Schema, &d.DestTable, &d.Name, &d.Seq, &d.Definition); err != nil {
			return nil, fmt.Errorf("read the deferred indexes: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ForgetDeferredIndexes removes the records of table's indexes (all of
// them, or those named), inside tx when it is not nil: they are in place.
func (s *State) ForgetDeferredIndexes(ctx context.Context, tx *sql.Tx, table string, names ...string) error {
	q := "DELETE FROM " + s.table(indexesTable) + " WHERE table_name = ?"
	args := []any{table}
	if len(names) > 0 {
		q += " AND index_name IN (?" + strings.Repeat(", ?", len(names)-1) + ")"
		for _, n := range names {
			args = append(args, n)
		}
	}
	var err error
	if tx != nil {
		_, err = tx.ExecContext(ctx, q, args...)
	} else {
		_, err = s.db.ExecContext(ctx, q, args...)
	}
	if err != nil {
		return fmt.Errorf("forget the deferred indexes of %s: %w", table, err)
	}
	return nil
}

// FinishTable records p (done) and forgets table's deferred indexes in one
// transaction: the copy is done only with its indexes back.
func (s *State) FinishTable(ctx context.Context, p TableProgress) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save progress of %s: %w", p.Table, err)
	}
	defer tx.Rollback()
	if err := s.SaveProgress(ctx, tx, p); err != nil {
		return err
	}
	if err := s.ForgetDeferredIndexes(ctx, tx, p.Table); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save progress of %s: %w", p.Table, err)
	}
	return nil
}

// ErrIndexesPending is returned (wrapped, naming the tables) by
// CheckNoDeferredIndexes while a copy's dropped indexes are not back.
var ErrIndexesPending = errors.New("destination indexes dropped for the copy are not added back yet")

// CheckNoDeferredIndexes returns ErrIndexesPending, naming the destination
// tables and the remedy, when any recorded index is not added back (a copy
// was stopped between dropping and adding them): streaming, verifying or
// cutting over then would run against tables without their indexes.
func (s *State) CheckNoDeferredIndexes(ctx context.Context) error {
	idx, err := s.DeferredIndexes(ctx)
	if err != nil || len(idx) == 0 {
		return err
	}
	byTable := map[string][]string{}
	for _, d := range idx {
		t := d.Schema + "." + d.DestTable
		byTable[t] = append(byTable[t], d.Name)
	}
	var parts []string
	for t, names := range byTable {
		parts = append(parts, t+" ("+strings.Join(names, ", ")+")")
	}
	sort.Strings(parts)
	return fmt.Errorf("%w: %s; run `shiplog migrate data` again: it adds them back (and finishes the copy)", ErrIndexesPending, strings.Join(parts, "; "))
}
