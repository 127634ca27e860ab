package step

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/shiplog/shiplog/internal/failpoint"
	"github.com/shiplog/shiplog/transform"
)

// Run runs steps (see Registry.Select) in mode as the reference tool does.
//
// Settings and data modes: every step's Integrity first, and their problems
// reported together (Report); errors stop the mode before anything is
// written. Then, step by step, its Data and right after it its Volume (a
// later step may change what an earlier one wrote: its volume is checked
// before). With env.Progress, a step whose Data and Volume returned nil is
// recorded done, and a later run of mode skips the two stages of a step
// recorded done unless the step always runs (Rerunnable); every step's
// Integrity runs all the same (later stages need what it found). An error wrapping ErrPartial lets the mode go on and is returned
// at the end; any other error stops it and is returned as the step returned
// it.
//
// Delta mode: every DeltaStarter's DeltaStart, then step by step, its Delta,
// then its Volume. A Delta that returns
// nil once ctx has ended is a clean stop: Run returns nil without running the
// later steps.
func Run(ctx context.Context, mode Mode, steps []Planned, env *Env) error {
	log := env.Log
	if log == nil {
		log = slog.Default()
	}
	// Each step's stages log with its title (step=...), so progress lines
	// and errors name the step they come from.
	envOf := func(p Planned) *Env {
		e := *env
		e.Log = log.With("step", p.Title)
		return &e
	}
	if mode == ModeDelta {
		if err := Report(log, env.Unknown, env.Auto); err != nil {
			return err
		}
		for _, p := range steps {
			if ds, ok := p.Step.(DeltaStarter); ok {
				if err := ds.DeltaStart(ctx, envOf(p)); err != nil {
					return err
				}
			}
		}
		for _, p := range steps {
			env := envOf(p)
			log.Debug("step delta", "stage", "delta", "step", p.Title)
			if err := p.Step.Delta(ctx, env); err != nil {
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
			if err := p.Step.Volume(ctx, env); err != nil {
				return err
			}
		}
		return nil
	}
	log.Info("integrity check", "stage", "integrity", "steps", len(steps))
	problems := append([]transform.Problem(nil), env.Unknown...)
	for _, p := range steps {
		log.Debug("step integrity check", "stage", "integrity", "step", p.Title)
		found, err := p.Step.Integrity(ctx, envOf(p))
		if err != nil {
			return err
		}
		problems = append(problems, found...)
	}
	if err := Report(log, problems, env.Auto); err != nil {
		return err
	}
	var partial error
	for i, p := range steps {
		env := envOf(p)
		skip, err := skipDone(ctx, mode, p, env)
		if err != nil {
			return err
		}
		if skip {
			continue
		}
		log.Info(fmt.Sprintf("step %d of %d: %s", i+1, len(steps), p.Title), "stage", "data", "step", p.Title)
		stepErr := p.Step.Data(ctx, env)
		if stepErr != nil {
			if !errors.Is(stepErr, ErrPartial) {
				return stepErr
			}
			if partial == nil {
				partial = stepErr
			} else {
				partial = fmt.Errorf("%w; %w", partial, stepErr)
			}
		}
		log.Debug("step volume check", "stage", "volume", "step", p.Title)
		if err := p.Step.Volume(ctx, env); err != nil {
			return err
		}
		failpoint.Hit(failpoint.StepDataDone)
		// A partial data stage is not done: the next run runs it again,
		// which retries its failed rows.
		if stepErr == nil && env.Progress != nil {
			if err := env.Progress.MarkDone(ctx, mode, p.Def.Name, StageData); err != nil {
				return err
			}
			failpoint.Hit(failpoint.StepRecorded)
		}
	}
	return partial
}

// skipDone reports whether step p's data stage is to be skipped, recorded
// done by an earlier run of mode (and p does not always run), and notes in
// the run's record that p runs or is skipped.
func skipDone(ctx context.Context, mode Mode, p Planned, env *Env) (bool, error) {
	if env.Progress == nil {
		return false, nil
	}
	if r, ok := p.Step.(Rerunnable); !ok || !r.AlwaysRuns() {
		at, done, err := env.Progress.Done(ctx, mode, p.Def.Name, StageData)
		if err != nil {
			return false, err
		}
		if done {
			env.Log.Info(fmt.Sprintf("step %s: already done at %s; skipped", p.Title, at.UTC().Format(time.RFC3339)), "stage", "data")
			return true, env.Progress.Note(ctx, mode, p.Def.Name, true)
		}
	}
	return false, env.Progress.Note(ctx, mode, p.Def.Name, false)
}

// Report logs problems and returns ErrIntegrity when errors remain (auto
// turns them into warnings, as the reference tool's --auto does, except
// blocking ones: a transform that cannot run, a column that would be clipped).
func Report(log *slog.Logger, problems []transform.Problem, auto bool) error {
	var errs, others []string // blocking errors first: --auto does not help with them
	for _, p := range problems {
		if p.Severity == transform.Error && (!auto || p.Blocking) {
			if p.Blocking {
				errs = append(errs, p.Msg)
			} else {
				others = append(others, p.Msg)
			}
			log.Error(p.Msg, "stage", "integrity", "table", p.Table)
		} else {
			log.Warn(p.Msg, "stage", "integrity", "table", p.Table)
		}
	}
	blocking := len(errs)
	errs = append(errs, others...)
	if len(errs) == 0 {
		return nil
	}
	summary := strings.Join(errs[:min(len(errs), 3)], "; ")
	if len(errs) > 3 {
		summary += fmt.Sprintf("; and %d more", len(errs)-3)
	}
	if blocking == len(errs) {
		return fmt.Errorf("%w: %s (fix the schemas or map: --auto does not go past these)", ErrIntegrity, summary)
	}
	return fmt.Errorf("%w: %s (fix the schemas or map, or pass --auto to continue with warnings)", ErrIntegrity, summary)
}
