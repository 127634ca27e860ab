// Package failpoint kills the process at a named point of its work, for
// crash tests: with SHIPLOG_FAILPOINT=name (or name:N, the Nth time the
// point is reached) the process sends itself SIGKILL there, as a power cut
// or the OOM killer would, with nothing flushed or rolled back by shiplog.
// Unset, Hit costs one atomic load.
package failpoint

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Env is the environment variable that arms a failpoint.
const Env = "SHIPLOG_FAILPOINT"

// The named points.
const (
	// CopyChunkCommitted: a snapshot chunk and its progress are committed.
	CopyChunkCommitted = "copy-chunk-committed"
	// CopyIndexesDropped: a table's secondary indexes are dropped (and
	// recorded) for its copy, no row loaded yet.
	CopyIndexesDropped = "copy-indexes-dropped"
	// CopyBeforeIndexesAdded: a table's last chunk is committed, its
	// dropped indexes not yet added back.
	CopyBeforeIndexesAdded = "copy-before-indexes-added"
	// DestBeforeCommit: a destination batch (rows and checkpoint) is
	// written, its transaction not yet committed.
	DestBeforeCommit = "dest-before-commit"
	// DestAfterCommit: the batch's transaction is committed, nothing after
	// it done yet.
	DestAfterCommit = "dest-after-commit"
	// DestPartApplied: a part of a source transaction applied in parts is
	// written into its open destination transaction, not committed.
	DestPartApplied = "dest-part-applied"
	// Published: the broker acknowledged a batch, whose checkpoint is not
	// yet written.
	Published = "published"
	// StepDataDone: a migration step's Data and Volume returned, its
	// progress not yet recorded (step.Run).
	StepDataDone = "step-data-done"
	// StepRecorded: a step's finished data stage is recorded, the next step
	// not started.
	StepRecorded = "step-recorded"
)

var (
	armed atomic.Bool
	once  sync.Once
	name  string
	nth   int64
	hits  atomic.Int64
)

func init() {
	v := os.Getenv(Env)
	if v == "" {
		return
	}
	name, nth = v, 1
	if n, c, ok := strings.Cut(v, ":"); ok {
		if k, err := strconv.ParseInt(c, 10, 64); err == nil && k > 0 {
			name, nth = n, k
		}
	}
	armed.Store(true)
}

// Hit kills the process if the armed failpoint is point (and this is its
// Nth hit).
func Hit(point string) {
	if !armed.Load() || point != name {
		return
	}
	if hits.Add(1) != nth {
		return
	}
	once.Do(func() {
		os.Stderr.WriteString("shiplog: failpoint " + point + " reached: killing the process (" + Env + ")\n")
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	})
}
