package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/shiplog/shiplog/binlog"
	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/transform"
)

// deltaSource is where delta mode reads the source's changes: the binlog or
// the trigger-fed change-log tables (delta.source). It is chosen once, when
// the runtime opens; everything that differs between the two lives behind
// it, so the modes do not ask which one they have.
type deltaSource interface {
	// checkServer tells, before any work, whether the source server can feed
	// this delta (a usable binlog).
	checkServer(ctx context.Context) error
	// prepareCopy runs in data mode after the integrity check and before
	// the copy: the change logs go in (so every change made during and after
	// the copy is logged), or the foreign keys whose actions the stream
	// cannot repeat are refused and the others order the copies (parents
	// first; the order is returned).
	prepareCopy(ctx context.Context, plan *transform.Plan, auto bool, log *slog.Logger) (copyOrder map[string][]string, err error)
	// copyPositions: each table's copy records the binlog position it was
	// read at (the stream skips what the copy already holds).
	copyPositions() bool
	// skip passes what the stopped stream stopped at (--skip-ddl), after
	// the plan compiled from the source as it is now passed the integrity
	// check; for the binlog it returns the statement to pass.
	skip(ctx context.Context, plan *transform.Plan, from cdc.Position, log *slog.Logger) (*binlog.DDLError, error)
	// stream streams the changes from the checkpoint into the sinks.
	stream(ctx context.Context, run deltaRun) error
	// cutover returns why cutover cannot run on this source (nil: it can).
	cutover() error
	// lag measures the stream's lag behind the source (called by the status
	// server's goroutine, one at a time): the binlog's bytes
	// after the checkpoint, with the checkpoint's commit time; ok is false
	// when there is no such measure (no checkpoint; change logs, whose
	// backlog status reports).
	lag(ctx context.Context) (bytes int64, ckptTime time.Time, ok bool, err error)
	// status fills what Status says of the source, its head and the lag.
	status(ctx context.Context, s *Status) error
	// needs lists the privileges the source user needs for w.
	needs(srv server, w Work) []need
}

// deltaRun is what delta hands its source's stream: the options, the plan,
// the new-table guard, the checkpoint, the DDL statement --skip-ddl passes
// and the outcome of retrying the failed rows.
type deltaRun struct {
	o        DeltaOptions
	plan     *transform.Plan
	guard    *tableGuard
	from     cdc.Position
	accept   *binlog.DDLError
	retryErr error
	log      *slog.Logger
}

// newDeltaSource is the delta source of the configuration.
func newDeltaSource(r *Runtime) deltaSource {
	if r.cfg.Delta.Source == config.DeltaTriggers {
		return triggerDelta{r}
	}
	return &binlogDelta{r: r}
}

// binlogDelta streams the source's binlog.
type binlogDelta struct {
	r *Runtime
	// flavor is the source server's, once checkServer saw it.
	flavor string
	// lagFlavor is flavor for lag, which runs on the status server's
	// goroutine.
	lagFlavor string
}

func (d *binlogDelta) checkServer(ctx context.Context) error {
	flavor, err := binlog.CheckServer(ctx, d.r.src)
	if err != nil {
		return fmt.Errorf("source %s: %w", d.r.cfg.Source.Redacted(), err)
	}
	d.flavor = flavor
	return nil
}

func (d *binlogDelta) prepareCopy(ctx context.Context, plan *transform.Plan, _ bool, log *slog.Logger) (map[string][]string, error) {
	fks, err := d.r.cascades(ctx, plan, log)
	if err != nil {
		return nil, err
	}
	return fks.CopyOrder(), nil
}

func (d *binlogDelta) copyPositions() bool { return true }

func (d *binlogDelta) skip(ctx context.Context, plan *transform.Plan, from cdc.Position, log *slog.Logger) (*binlog.DDLError, error) {
	accept, err := d.r.ddlToSkip(ctx, from)
	if err != nil {
		return nil, err
	}
	if err := d.r.saveSourceSchema(ctx, plan); err != nil {
		return nil, err
	}
	if accept.Table != "" {
		if err := d.r.rebaseCopied(ctx, plan, []string{accept.Table}); err != nil {
			return nil, err
		}
	}
	log.Warn("passing the DDL statement the stream stopped at; the source schema as it is now is recorded", "stage", "delta",
		"position", accept.Pos.String(), "statement", accept.Statement)
	return accept, nil
}

func (d *binlogDelta) cutover() error { return nil }

// triggerDelta streams the change logs the source's triggers fill.
type triggerDelta struct{ r *Runtime }

func (d triggerDelta) checkServer(context.Context) error { return nil }

func (d triggerDelta) prepareCopy(ctx context.Context, plan *transform.Plan, auto bool, log *slog.Logger) (map[string][]string, error) {
	r := d.r
	// Before the triggers go in: a user who cannot read the tables'
	// identities is told now, not after logging has begun.
	if err := r.canReadIdentities(ctx, plan); err != nil {
		return nil, err
	}
	// Foreign key actions the stream cannot follow are refused before
	// anything is installed or recorded (a user who fixes the schema and
	// runs again starts afresh). A parent's copy starts before its
	// children's: triggers do not log the rows an action changes, so the
	// stream finds a grandchild of a deleted parent only through the
	// child's destination row; were the child copied after the delete (no
	// row) and the grandchild before it (its row kept), the grandchild
	// would stay on the destination for good.
	specs, _, err := r.logSpecs(ctx, plan)
	if err != nil {
		return nil, err
	}
	fks, _, err := r.triggerCascades(ctx, plan, specs, log)
	if err != nil {
		return nil, err
	}
	if err := r.installDeltalog(ctx, plan, auto); err != nil {
		return nil, err
	}
	// Triggers do not see a TRUNCATE or ALTER: delta compares the tables
	// with what they are now, before the copy reads them.
	if err := r.recordIdentities(ctx, plan); err != nil {
		return nil, err
	}
	return fks.CopyOrder(), nil
}

func (d triggerDelta) copyPositions() bool { return false }

func (d triggerDelta) skip(ctx context.Context, plan *transform.Plan, _ cdc.Position, log *slog.Logger) (*binlog.DDLError, error) {
	return nil, d.r.skipTableChange(ctx, plan, log)
}

func (d triggerDelta) cutover() error {
	return errors.New("cutover: delta.source: triggers is not supported yet (only binlog delta)")
}

func (d triggerDelta) lag(context.Context) (int64, time.Time, bool, error) {
	return 0, time.Time{}, false, nil
}

func (d triggerDelta) status(ctx context.Context, s *Status) error {
	r := d.r
	ckpt, _, ok, err := r.state.Checkpoint(ctx)
	if err != nil {
		return err
	}
	plan, _, err := r.streamPlan(ctx)
	if err == nil {
		plan, _, err = r.withStepStreams(ctx, plan, nil)
	}
	if err != nil {
		return err
	}
	specs, _, err := r.logSpecs(ctx, plan)
	if err != nil {
		return err
	}
	if s.DeltaBacklog, err = r.installer().Backlog(ctx, specs); err != nil {
		s.Warnings = append(s.Warnings, "change logs: "+err.Error())
	}
	if ok {
		s.Checkpoint = ckpt.String()
	}
	return nil
}

func (d *binlogDelta) status(ctx context.Context, s *Status) error {
	r := d.r
	ckpt, ckptTime, ok, err := r.state.Checkpoint(ctx)
	if err != nil {
		return err
	}
	flavor, err := binlog.CheckServer(ctx, r.src)
	if err != nil {
		s.Warnings = append(s.Warnings, "source: "+err.Error())
	}
	head, err := binlog.HeadPosition(ctx, r.src, flavor)
	if err != nil {
		s.Warnings = append(s.Warnings, "source head: "+err.Error())
	} else {
		s.SourceHead = head.String()
	}
	if !ok {
		return nil
	}
	s.Checkpoint = ckpt.String()
	if !ckptTime.IsZero() {
		t := ckptTime
		s.CheckpointTime = &t
	}
	if s.SourceHead != "" {
		if n, err := binlog.LagBytes(ctx, r.src, ckpt, head); err == nil {
			s.LagBytes = &n
			var secs float64
			if n > 0 && !ckptTime.IsZero() {
				secs = time.Since(ckptTime).Seconds()
			}
			if n == 0 || !ckptTime.IsZero() {
				s.LagSeconds = &secs
			}
		} else {
			s.Warnings = append(s.Warnings, "lag: "+err.Error())
		}
	}
	return nil
}

// lag is the binlog's bytes after the checkpoint and the checkpoint's commit
// time; ok is false before there is a checkpoint.
func (d *binlogDelta) lag(ctx context.Context) (n int64, ckptTime time.Time, ok bool, err error) {
	r := d.r
	if d.lagFlavor == "" {
		if d.lagFlavor, err = binlog.CheckServer(ctx, r.src); err != nil {
			return 0, ckptTime, false, err
		}
	}
	ckpt, ckptTime, ok, err := r.state.Checkpoint(ctx)
	if err != nil || !ok {
		return 0, ckptTime, false, err
	}
	head, err := binlog.HeadPosition(ctx, r.src, d.lagFlavor)
	if err != nil {
		return 0, ckptTime, false, err
	}
	n, err = binlog.LagBytes(ctx, r.src, ckpt, head)
	return n, ckptTime, err == nil, err
}
