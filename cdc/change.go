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
}

// Batch is the changes of one or more whole source transactions, in source order,
// and the position reached after them.
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
