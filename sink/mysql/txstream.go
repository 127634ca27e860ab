package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/failpoint"
)

// TxStream is one destination transaction that applies a source transaction
// too large to hold whole, part after part (cdc.Batch.Partial), and commits
// with the checkpoint after its last part. Until Commit, destination readers
// see none of it, and a crash leaves none of it: the stream resumes from the
// checkpoint before the source transaction and reads it again.
//
// A TxStream is used from one goroutine, between the Writer's Write calls
// (never during one).
type TxStream struct {
	w  *Writer
	tx *sql.Tx
	// from is the position of the first part (before the source
	// transaction); started once a part is applied.
	from    cdc.Position
	started bool
}

// Begin opens a TxStream. The transaction lives until Commit or Rollback,
// whatever ctx does after Begin returns: each Apply and Commit takes its own
// deadline. It blocks for the BEGIN only.
func (w *Writer) Begin(ctx context.Context) (*TxStream, error) {
	// database/sql rolls a transaction back when the context given to
	// BeginTx ends; this one spans many calls, each with its own deadline.
	tx, err := w.db.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return nil, fmt.Errorf("destination: begin: %w", err)
	}
	return &TxStream{w: w, tx: tx}, nil
}

// Apply applies the changes of b, a part of the source transaction (already
// mapped; compacted within b, applied in b's order after the parts before),
// and records b's failed rows, in the transaction. It blocks until the
// statements return; on error the transaction is rolled back and the
// TxStream is done. The changes of apply partitions whose checkpoints
// (Writer.Resume) are past them are left out, as Write does.
func (s *TxStream) Apply(ctx context.Context, b cdc.Batch) error {
	w := s.w
	if !s.started {
		s.from, s.started = b.Pos, true
	}
	ops := compact(b.Changes)
	if w.skip != nil {
		kept := ops[:0]
		for _, o := range ops {
			if p := w.partOf(o); !w.skip[p].IsZero() && o.pos.Compare(w.skip[p]) <= 0 {
				continue // applied before the stream resumed
			}
			kept = append(kept, o)
		}
		ops = kept
	}
	if err := w.apply(ctx, s.tx, ops); err != nil {
		return s.fail(err)
	}
	if err := w.state.SaveFailures(ctx, s.tx, b.Failed); err != nil {
		return s.fail(err)
	}
	failpoint.Hit(failpoint.DestPartApplied)
	return nil
}

// Exec runs f in the transaction, after the parts applied so far; on error
// the transaction is rolled back and the TxStream is done.
func (s *TxStream) Exec(ctx context.Context, f func(context.Context, *sql.Tx) error) error {
	if err := f(ctx, s.tx); err != nil {
		return s.fail(err)
	}
	return nil
}

// Commit records pos (the position after the source transaction, and after
// any whole transactions applied with it) as every apply partition's
// checkpoint and commits. On error nothing of the TxStream is applied.
func (s *TxStream) Commit(ctx context.Context, pos cdc.Position, t time.Time) error {
	w := s.w
	if s.started && pos.Compare(s.from) <= 0 {
		// The parts would be checkpointed as if the source transaction had
		// not begun: a restart would apply them again.
		return s.fail(fmt.Errorf("destination: a source transaction applied in parts after %s would commit at %s, not after it", s.from, pos))
	}
	for p := range w.parts {
		if err := w.state.SavePartCheckpoint(ctx, s.tx, p, pos, t); err != nil {
			return s.fail(err)
		}
	}
	if !w.trimmed {
		if err := w.state.TrimCheckpoints(ctx, s.tx, w.parts); err != nil {
			return s.fail(err)
		}
	}
	failpoint.Hit(failpoint.DestBeforeCommit)
	if err := s.tx.Commit(); err != nil {
		return fmt.Errorf("destination: commit: %w", err)
	}
	failpoint.Hit(failpoint.DestAfterCommit)
	w.trimmed = true
	if w.skip != nil && pos.Compare(w.skipMax) >= 0 {
		w.skip = nil
	}
	return nil
}

// Rollback ends the transaction without applying anything of it. It may be
// called after Apply or Commit failed (then it does nothing).
func (s *TxStream) Rollback() error {
	err := s.tx.Rollback()
	if err == sql.ErrTxDone {
		return nil
	}
	return err
}

func (s *TxStream) fail(err error) error {
	_ = s.tx.Rollback()
	return err
}
