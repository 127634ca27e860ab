package state

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/shiplog/shiplog/rowio"
)

// State is shiplog's own state in the destination database: the stream
// checkpoint, per-table snapshot progress and named flags, in `_shiplog_*` tables.
// Writes that must agree with data take a *sql.Tx so they commit with it.
type State struct {
	db     *sql.DB
	schema string
}

// NewState returns the state kept in schema on db.
func NewState(db *sql.DB, schema string) *State { return &State{db: db, schema: schema} }

func (s *State) table(name string) string {
	return rowio.QuoteIdent(s.schema) + "." + rowio.QuoteIdent(name)
}

// Reset forgets all progress: checkpoint, table progress and flags.
func (s *State) Reset(ctx context.Context) error {
	for _, t := range []string{"_shiplog_checkpoint", "_shiplog_tables", rangesTable, "_shiplog_state", "_shiplog_failed_rows"} {
		if _, err := s.db.ExecContext(ctx, "DELETE FROM "+s.table(t)); err != nil {
			return fmt.Errorf("reset %s: %w", t, err)
		}
	}
	return nil
}
