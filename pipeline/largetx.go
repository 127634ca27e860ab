package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/shiplog/shiplog/cascade"
	"github.com/shiplog/shiplog/cdc"
	kafkasink "github.com/shiplog/shiplog/sink/kafka"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
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

// deliverPart delivers b, a batch of a source transaction applied in parts:
// b.Partial, or the last part when open (the destination transaction of the
// parts before) is not nil. The source changes go to Kafka as they come (at
// least once, as every batch); the mapped changes go into open, begun here
// for the first part, which commits with the checkpoint b.Pos with the last
// part. It returns the transaction still open, or nil once committed or on
// error (then rolled back: the next run reads the source transaction again
// from its start, as nothing of it is checkpointed).
func (r *Runtime) deliverPart(ctx context.Context, w *mysqlsink.Writer, p *kafkasink.Producer, open *mysqlsink.TxStream, b cdc.Batch, src []cdc.Change) (_ *mysqlsink.TxStream, err error) {
	defer func() {
		if err != nil && open != nil {
			err = errors.Join(err, open.Rollback())
		}
	}()
	if p != nil && len(src) > 0 {
		if err := p.Write(ctx, cdc.Batch{Changes: src, Pos: b.Pos, Time: b.Time}); err != nil {
			return nil, err
		}
	}
	for _, c := range b.Changes {
		if c.Op == cdc.OpCascade {
			// maxTransactionBytes keeps transactions whole when markers may come.
			return nil, fmt.Errorf("a source transaction applied in parts holds a foreign key action on %s, which needs the transaction whole", c.Table.Name)
		}
	}
	if open == nil {
		if open, err = w.Begin(ctx); err != nil {
			return nil, err
		}
	}
	if err := open.Apply(ctx, b); err != nil {
		return nil, fmt.Errorf("apply part of a large source transaction after %s (nothing of it is committed; the stream reads it again from its start): %w", b.Pos, err)
	}
	if b.Partial {
		return open, nil
	}
	if err := open.Commit(ctx, b.Pos, b.Time); err != nil {
		return nil, fmt.Errorf("commit a large source transaction at %s: %w", b.Pos, err)
	}
	return nil, nil
}
