package pipeline

import (
	"context"
	"time"

	"github.com/shiplog/shiplog/step"
)

// stepProgress keeps step.Run's progress in the destination's state:
// _shiplog_steps, and the steps of the current run in _shiplog_runs.
type stepProgress struct {
	r *Runtime
}

// Each call is retried through a destination outage (destRetry), as the
// copy's and the stream's writes are: all three are idempotent.

// Done reads the record of stage of step in mode.
func (p stepProgress) Done(ctx context.Context, mode step.Mode, name, stage string) (at time.Time, done bool, err error) {
	err = p.r.destRetry(ctx, "migrate "+string(mode)).do(ctx, "read the steps done", func(ctx context.Context) error {
		var err error
		at, done, err = p.r.state.StepDone(ctx, string(mode), name, stage)
		return err
	}, nil)
	return at, done, err
}

// MarkDone records stage of step in mode as done now.
func (p stepProgress) MarkDone(ctx context.Context, mode step.Mode, name, stage string) error {
	return p.r.destRetry(ctx, "migrate "+string(mode)).do(ctx, "record a step done", func(ctx context.Context) error {
		return p.r.state.MarkStepDone(ctx, string(mode), name, stage, time.Now())
	}, nil)
}

// Note adds step to the current run's record (none without a recorded run:
// a test's Runtime).
func (p stepProgress) Note(ctx context.Context, mode step.Mode, name string, skipped bool) error {
	if p.r.runID == 0 {
		return nil
	}
	return p.r.destRetry(ctx, "migrate "+string(mode)).do(ctx, "record the run's steps", func(ctx context.Context) error {
		return p.r.state.NoteRunStep(ctx, p.r.runID, name, skipped)
	}, nil)
}

// AlwaysRuns: the Map step resumes per table by itself and records where
// delta starts, so its Data runs on every data mode run.
func (*mapStep) AlwaysRuns() bool { return true }

// AlwaysRuns: merging the settings again is idempotent and cheap, and picks
// up an edited settings.xml.
func (*settingsStep) AlwaysRuns() bool { return true }
