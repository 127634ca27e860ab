package pipeline

import (
	"context"

	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// CheckSteps is data mode's integrity check alone (`shiplog check`): the
// Integrity stage of every step data mode runs (config.xml's, or the Map
// step), their problems together, nothing written. It returns the problems
// unreported; the error is a check that could not run.
func (r *Runtime) CheckSteps(ctx context.Context) ([]transform.Problem, error) {
	log := r.log.With("mode", "data")
	steps, err := r.modeSteps(step.ModeData, log, &modeRun{})
	if err != nil {
		return nil, err
	}
	env := r.stepEnv(step.ModeData, log, false)
	var problems []transform.Problem
	for _, p := range steps {
		found, err := p.Step.Integrity(ctx, env)
		if err != nil {
			return nil, err
		}
		problems = append(problems, found...)
	}
	return problems, nil
}
