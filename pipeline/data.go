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
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// State flags kept in _shiplog_state.
const (
	flagDataDone = "data_done"
	flagMode     = "mode"
	flagAuto     = "auto"
	// flagSourceSchema holds the source tables (JSON) the copy was planned for.
	flagSourceSchema = "source_schema"
	// flagSourceTables holds the names of every source table (JSON) when
	// the copy was planned: destination documents pair with them by name.
	flagSourceTables = "source_tables"
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
		if err := r.state.ResetSteps(ctx, string(step.ModeData)); err != nil {
			return err
		}
	}
	if done, err := r.state.Flag(ctx, flagDataDone); err != nil {
		return err
	} else if done != "" {
		log.Info("data mode already complete; nothing to copy (use --reset to copy again)", "stage", "data", "finished", done)
		if r.dest.rows() == nil {
			if err := snapshot.RestoreIndexes(ctx, r.dst, r.state, log); err != nil {
				return err
			}
		}
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
	start := time.Now()
	run := &modeRun{}
	steps, err := r.modeSteps(step.ModeData, log, run)
	if err != nil {
		return err
	}
	err = step.Run(ctx, step.ModeData, steps, r.stepEnv(step.ModeData, log, o.Auto, run))
	if err != nil && !errors.Is(err, ErrPartial) {
		return err
	}
	// Retried through a destination outage, as the copy's writes are.
	if ferr := r.destRetry(ctx, "migrate data").do(ctx, "record data mode done", func(ctx context.Context) error {
		return r.state.SetFlag(ctx, nil, flagDataDone, time.Now().UTC().Format(time.RFC3339))
	}, nil); ferr != nil {
		return ferr
	}
	log.Info("data mode complete", "stage", "volume", "steps", len(steps), "seconds", time.Since(start).Seconds())
	return err
}

// mapStep is the reference tool's Map step: the tables map.xml (or shiplog's
// map) maps, checked, copied in one consistent snapshot per table, volume
// checked, then streamed.
type mapStep struct {
	r *Runtime
	// plan is what Integrity compiled, for Data.
	plan *transform.Plan
	// delta are delta mode's options.
	delta DeltaOptions
}

// Integrity loads both schemas and compiles the plan (Runtime.Check).
func (m *mapStep) Integrity(ctx context.Context, _ *step.Env) ([]transform.Problem, error) {
	plan, problems, err := m.r.Check(ctx)
	m.plan = plan
	return problems, err
}

// Data puts the change logs in (delta.source: triggers), copies every mapped
// table and records where delta starts.
func (m *mapStep) Data(ctx context.Context, env *step.Env) error {
	r, plan, log, o := m.r, m.plan, env.Log, DataOptions{Auto: env.Auto}
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
	// With the documents other steps stream (their change logs, identities
	// and foreign keys).
	streamed, _, err := r.withStepStreams(ctx, plan, nil)
	if err != nil {
		return err
	}
	copyOrder, err := r.source.prepareCopy(ctx, streamed, o.Auto, log)
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
	copier.DeferIndexRows = int64(r.cfg.Options.DeferIndexRows)
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
			return r.state.SaveCheckpoint(ctx, tx, res.Start, time.Time{})
		}
		return nil
	}); err != nil {
		return err
	}
	log.Info("mapped tables copied", "stage", "volume", "tables", res.Tables, "rows", res.Rows, "failed", res.Failed,
		"seconds", time.Since(start).Seconds(), "delta_start", res.Start.String())
	if res.Failed > 0 {
		return fmt.Errorf("%w: %d row(s) could not be transformed (see _shiplog_failed_rows; the next run retries them)", ErrPartial, res.Failed)
	}
	return nil
}

// Volume has nothing left to do: the copier checks each table's volume right
// after copying it (snapshot.Copier.Volume), in the snapshot the table was
// copied in; counted later, the rows delta streams meanwhile would differ.
// In delta mode there is no volume check, as before steps.
func (m *mapStep) Volume(context.Context, *step.Env) error { return nil }

// Delta streams changes through the plan recorded by data mode until ctx
// ends (see Runtime.Delta).
func (m *mapStep) Delta(ctx context.Context, _ *step.Env) error { return m.r.delta(ctx, m.delta) }

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
