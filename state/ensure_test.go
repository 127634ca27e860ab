package state

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckSizeRefusesWhatAColumnCannotHold: a value longer than its state
// column holds is refused (a non-strict session would cut it); a value that
// fits, and a column without a recorded bound, pass.
func TestCheckSizeRefusesWhatAColumnCannotHold(t *testing.T) {
	for _, c := range []struct {
		table, column string
		n             int
		tooLarge      bool
	}{
		{"_shiplog_checkpoint", "position", 1<<24 - 1, false},
		{"_shiplog_checkpoint", "position", 1 << 24, true},
		{"_shiplog_tables", "last_key", 1 << 24, true},
		{"_shiplog_runs", "error", 100, false},
		{"_shiplog_runs", "command", 1 << 24, false}, // bounded by its VARCHAR, not here
	} {
		err := checkSize(c.table, c.column, strings.Repeat("x", c.n))
		if got := errors.Is(err, ErrStateTooLarge); got != c.tooLarge {
			t.Errorf("%s.%s with %d bytes: %v, want too large %v", c.table, c.column, c.n, err, c.tooLarge)
		}
	}
}
