package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/shiplog/shiplog/cdc"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
	"github.com/shiplog/shiplog/snapshot"
)

// State flags kept in _shiplog_state.
const (
	flagDataDone = "data_done"
	flagMode     = "mode"
	flagAuto     = "auto"
	// flagSourceSchema holds the source tables (JSON) the copy was planned for.
	flagSourceSchema = "source_schema"
)

// DataOptions tune data mode.
type DataOptions struct {
	// Reset forgets all progress and copies everything again.
	Reset bool
	// Auto turns integrity errors into warnings.
	Auto bool
}

// ErrAlreadyDone is returned (and treated as success) when data mode finished
// before and no reset was asked.
var ErrAlreadyDone = errors.New("data mode already complete")

// Data runs data mode: integrity check, consistent copy of every mapped table,
// volume check, and the recorded start position for delta.
func (r *Runtime) Data(ctx context.Context, o DataOptions) error {
	log := r.log.With("mode", "data")
	if o.Reset {
		log.Info("forgetting previous progress", "stage", "reset")
		if err := r.state.Reset(ctx); err != nil {
			return err
		}
	}
	if done, err := r.state.Flag(ctx, flagDataDone); err != nil {
		return err
	} else if done != "" {
		log.Info("data mode already complete; nothing to copy (use --reset to copy again)", "stage", "data", "finished", done)
		plan, _, err := r.streamPlan(ctx)
		if err != nil {
			return err
		}
		return r.retryFailures(ctx, plan)
	}
	// Delta from the binlog needs a usable one; say so before copying for an hour.
	if err := r.source.checkServer(ctx); err != nil {
		return err
	}
	log.Info("integrity check", "stage", "integrity")
	plan, problems, err := r.Check(ctx)
	if err != nil {
		return err
	}
	if err := r.reportProblems(problems, o.Auto); err != nil {
		return err
	}
	// The broker's ACLs are checked (where it tells) before anything is
	// written.
	publisher, err := r.openPublisher(ctx, plan)
	if err != nil {
		return err
	}
	if publisher != nil {
		defer publisher.Close()
	}
	// Change logs go in before the copy, as in the reference tool, so every
	// change made during and after it is logged; foreign keys whose actions
	// the stream cannot repeat are refused now, not after the copy.
	copyOrder, err := r.source.prepareCopy(ctx, plan, o.Auto, log)
	if err != nil {
		return err
	}
	if err := r.state.SetFlag(ctx, nil, flagMode, "data"); err != nil {
		return err
	}
	if err := r.saveSourceSchema(ctx, plan); err != nil {
		return err
	}
	if o.Auto {
		if err := r.state.SetFlag(ctx, nil, flagAuto, "1"); err != nil {
			return err
		}
	}
	start := time.Now()
	copier := &snapshot.Copier{
		Source:    r.src,
		Dest:      r.dst,
		Writer:    r.writer(),
		State:     r.state,
		Plan:      plan,
		ChunkRows: r.cfg.Options.BulkSize,
		Workers:   r.cfg.Options.Workers,
		Logger:    log,
		NoBinlog:  !r.source.copyPositions(),
		Volume:    true,
		After:     copyOrder,
	}
	if publisher != nil {
		// Every table's schema, the empty ones' too (no row carries it).
		var tables []*cdc.Table
		for _, tp := range plan.Tables() {
			tables = append(tables, tp.Source)
		}
		if err := publisher.PublishSchemas(ctx, tables); err != nil {
			return err
		}
		copier.Publish = publisher.WriteSnapshot
		copier.StateOnly = r.dest.rows() != nil
	}
	progress := r.snapshotProgress(ctx, log, plan)
	copier.Progress = progress.Update
	progress.Start()
	res, err := copier.Run(ctx)
	progress.Stop()
	if err != nil {
		return r.copyFailed(ctx, err)
	}
	for _, w := range res.Warnings {
		log.Warn(w, "stage", "volume")
	}
	// Record where delta starts, unless a stream already moved past it.
	if err := r.inTx(ctx, func(tx *sql.Tx) error {
		if _, _, ok, err := r.state.Checkpoint(ctx); err != nil {
			return err
		} else if !ok {
			if err := r.state.SaveCheckpoint(ctx, tx, res.Start, time.Time{}); err != nil {
				return err
			}
		}
		return r.state.SetFlag(ctx, tx, flagDataDone, time.Now().UTC().Format(time.RFC3339))
	}); err != nil {
		return err
	}
	log.Info("data mode complete", "stage", "volume", "tables", res.Tables, "rows", res.Rows, "failed", res.Failed,
		"seconds", time.Since(start).Seconds(), "delta_start", res.Start.String())
	if res.Failed > 0 {
		return fmt.Errorf("%w: %d row(s) could not be transformed (see _shiplog_failed_rows; the next run retries them)", ErrPartial, res.Failed)
	}
	return nil
}

func (r *Runtime) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := r.dst.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// copyFailed is the error a copy that failed with err ends with: when the
// destination cannot be reached (a connection-level error, and it does not
// answer now), it says so and that the copy resumes.
func (r *Runtime) copyFailed(ctx context.Context, err error) error {
	if !mysqlsink.IsTransient(err) {
		return err
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if r.dst.PingContext(pctx) == nil {
		return err // the destination answers: the source failed, or a blip
	}
	return fmt.Errorf("%w: destination %s was lost during the copy: %w; nothing copied so far is lost: "+
		"run `%s` again when the destination is back (keyed tables resume after their last committed chunk; tables without a key are copied again)",
		ErrDestinationDown, r.cfg.Destination.Redacted(), err, r.command("migrate data"))
}
