package pipeline

import (
	"log/slog"

	"github.com/shiplog/shiplog/cascade"
)

// defaultMaxTransactionBytes is delta.max_transaction_bytes when unset: the
// value bytes of one source transaction the binlog stream holds before it
// applies the transaction in parts.
const defaultMaxTransactionBytes = 8 << 20

// maxTransactionBytes is binlog.Config.MaxGroupBytes for the delta stream.
// With source foreign key actions followed it is 0 (transactions are held
// whole): the rows a cascade marker stands for are found from the
// destination's committed state, which would miss the parts of the
// transaction applied before the marker.
func (r *Runtime) maxTransactionBytes(fks *cascade.Set, log *slog.Logger) int {
	if !fks.Empty() {
		log.Info("source foreign key actions are followed: each source transaction is held whole in memory", "stage", "delta")
		return 0
	}
	if n := r.cfg.Delta.MaxTransactionBytes; n > 0 {
		return n
	}
	return defaultMaxTransactionBytes
}
