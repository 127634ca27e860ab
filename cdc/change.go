package cdc

import "time"

// Op is the kind of a row change.
type Op uint8

const (
	OpInsert Op = iota + 1
	OpUpdate
	OpDelete
	// OpRead is a row read by the snapshot (Debezium's "r").
	OpRead
	// OpCascade stands for the rows of a child table that a source foreign
	// key's ON DELETE / ON UPDATE action changed: the server writes those
	// changes neither to the binlog nor through triggers. Table is the child
	// (as written to the destination), Before holds the parent's old values
	// of the key's columns, After their new values (ON UPDATE CASCADE) or
	// nil; Cascade says what happens to the matching rows. Readers never
	// emit it: the pipeline adds it after a parent's change and replaces it
	// by the row changes it stands for before a sink sees the batch.
	OpCascade
	// OpSet sets columns of one existing destination row, found by its key:
	// After holds the key's values and, at the indexes Set names, the
	// columns' new values (cdc.Default: the column's default); the row's
	// other columns are left as they are, and a row the table does not hold
	// is left absent. Readers never emit it: a plan routes a source row into
	// another table's column with it (transform.Route).
	OpSet
)

func (o Op) String() string {
	switch o {
	case OpInsert:
		return "insert"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	case OpRead:
		return "read"
	case OpCascade:
		return "cascade"
	case OpSet:
		return "set"
	}
	return "unknown"
}

// Change is one row change. Before is set for updates and deletes, After for
// inserts, updates and reads; both are in Table's column order, in the canonical
// value forms of the package doc.
type Change struct {
	Op     Op
	Table  *Table
	Before []any
	After  []any
	// CommitTime is the source commit time of the change's transaction.
	CommitTime time.Time
	// Pos is the position at the end of the change's transaction.
	Pos Position
	// Cascade is set on OpCascade changes only.
	Cascade *Cascade
	// Set are the columns an OpSet change sets (indexes into Table.Columns).
	Set []int
	// Create, on an OpSet, creates the row when the table does not hold
	// it: its key and the columns set, the others their defaults (the row's
	// own insert, applied later, fills them and keeps what was set).
	Create bool
	// NoFKChecks: the source made the change with foreign_key_checks=0
	// (the binlog's rows event says so), so its foreign keys' actions
	// changed no child row. Readers that cannot tell leave it false.
	NoFKChecks bool
}

// Cascade is the action of one source foreign key on its child table.
type Cascade struct {
	// Constraint names the foreign key (for messages).
	Constraint string
	// Cols are the key's columns in the child table (indexes into the
	// Table.Columns of the OpCascade change).
	Cols []int
	// Delete: the matching rows are deleted (ON ... CASCADE of a delete).
	// Otherwise Cols are set to the change's After values, or to NULL when
	// After is nil (SET NULL).
	Delete bool
}

// Batch is the changes of one or more whole source transactions, in source order,
// and the position reached after them; or, marked Partial, part of one source
// transaction too large to hold whole.
type Batch struct {
	Changes []Change
	Pos     Position
	// Time is the commit time of the last transaction in the batch (zero if unknown).
	Time time.Time
	// Size is an estimate of the bytes the changes hold, for bounding buffers.
	Size int
	// Failed are changes of the batch's transactions that could not be
	// transformed; a sink records them with the batch, never drops them.
	Failed []Failure
	// Whole asks a sink that applies in parallel parts to apply the batch in
	// one transaction: it holds foreign key actions (OpCascade), whose rows
	// are found from the destination's state before the batch, and a batch
	// committed in part would leave a state they cannot be found from again.
	Whole bool
	// Partial: the batch ends inside a source transaction too large to hold
	// whole; more of it follows in the next batches, the last of which is not
	// Partial. Pos is then the position before that transaction (no
	// checkpoint lands inside it), and the changes of the transaction carry
	// positions after Pos, up to the end. A sink applies such a transaction in
	// one destination transaction that it commits with its last batch.
	Partial bool
}

// Failure is a source row that could not be transformed.
type Failure struct {
	// Table is the source table.
	Table string
	// Key is the row's key (source columns); for tables without a key, Row is
	// the whole source row instead.
	Key, Row []any
	Handler  string
	Field    string
	Reason   string
	Pos      Position
}

// ValueSize estimates the bytes a row value occupies, for buffer bounds.
func ValueSize(row []any) int {
	n := 8 * len(row)
	for _, v := range row {
		switch x := v.(type) {
		case []byte:
			n += len(x)
		case string:
			n += len(x)
		}
	}
	return n
}

// DefaultValue is the type of Default.
type DefaultValue struct{}

// Default as a row value asks the writer for the column's default (for new
// rows); columns marked KeepExisting are also left as they are on update.
var Default any = DefaultValue{}
