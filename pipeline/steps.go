package pipeline

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// modeRun is what one mode run gives its steps and gets back from them.
type modeRun struct {
	// delta are delta mode's options, for the Map step.
	delta DeltaOptions
	// settings is what the Settings step did.
	settings SettingsResult
	// unknown are the steps config.xml lists for the mode that shiplog
	// does not have, as integrity errors (modeSteps).
	unknown []transform.Problem
}

// stepRegistry holds the steps shiplog has, for one mode run. A step of
// config.xml is supported when one of these is it (step.Registry.Lookup).
func (r *Runtime) stepRegistry(run *modeRun) (*step.Registry, error) {
	var reg step.Registry
	for _, d := range []step.Def{
		{Name: "Settings", Title: "Settings Step", Class: `Migration\Step\Settings`, Default: []step.Mode{step.ModeSettings},
			New: func() step.Step { return &settingsStep{r: r, res: &run.settings} }},
		{Name: "Map", Title: "Map Step", Class: `Migration\Step\Map`, Default: []step.Mode{step.ModeData, step.ModeDelta},
			New: func() step.Step { return &mapStep{r: r, delta: run.delta} }},
		{Name: "DataIntegrity", Title: "Data Integrity Step", Class: `Migration\Step\DataIntegrity`, New: func() step.Step { return &dataIntegrityStep{} }},
		{Name: "Stores", Title: "Stores Step", Class: `Migration\Step\Stores`, New: func() step.Step { return &storesStep{r: r} }},
		{Name: "EAV", Title: "EAV Step", Class: `Migration\Step\Eav`, New: func() step.Step { return &eavStep{r: r} }},
		{Name: "Customer", Title: "Customer Attributes Step", Class: `Migration\Step\Customer`, New: func() step.Step { return &customerStep{r: r} }},
		{Name: "Log", Title: "Log Step", Class: `Migration\Step\Log`, New: func() step.Step { return &logStep{r: r} }},
		{Name: "Inventory", Title: "Inventory Step", Class: `Migration\Step\Inventory`, New: func() step.Step { return &inventoryStep{r: r} }},
		{Name: "PostProcessing", Title: "PostProcessing Step", Class: `Migration\Step\PostProcessing`, New: func() step.Step { return &postStep{r: r} }},
		{Name: "Ratings", Title: "Ratings Step", Class: `Migration\Step\Ratings`, New: func() step.Step { return &ratingsStep{r: r} }},
		{Name: "TierPrice", Title: "Tier Price Step", Class: `Migration\Step\TierPrice`, New: func() step.Step { return &tierPriceStep{r: r} }},
		{Name: "OrderGrids", Title: "OrderGrids Step", Class: `Migration\Step\OrderGrids`, New: func() step.Step { return &orderGridsStep{r: r} }},
		{Name: "SalesIncrement", Title: "SalesIncrement Step", Class: `Migration\Step\SalesIncrement`, New: func() step.Step { return &salesIncrementStep{r: r} }},
		{Name: "UrlRewrite", Title: "Url Rewrite Step", Class: `Migration\Step\UrlRewrite`, New: func() step.Step { return &urlRewriteStep{r: r} }},
		{Name: "ConfigurablePrices", Title: "ConfigurablePrices step", Class: `Migration\Step\ConfigurablePrices`, New: func() step.Step { return &configurablePricesStep{r: r} }},
	} {
		if err := reg.Register(d); err != nil {
			return nil, err
		}
	}
	return &reg, nil
}

// modeSteps are the steps mode runs: config.xml's for the mode, in its order,
// or the default ones; the listed steps shiplog does not have are left in
// run.unknown, for the mode's env (stepEnv) to report.
func (r *Runtime) modeSteps(mode step.Mode, log *slog.Logger, run *modeRun) ([]step.Planned, error) {
	reg, err := r.stepRegistry(run)
	if err != nil {
		return nil, err
	}
	steps, unknown := reg.Select(mode, r.cfg.Steps, log)
	run.unknown = unknown
	return steps, nil
}

// stepEnv is what the steps of mode work with.
func (r *Runtime) stepEnv(mode step.Mode, log *slog.Logger, auto bool, run *modeRun) *step.Env {
	// --auto is the reference's auto_resolve option, which handlers read too
	// (EavAttribute\ConvertModel: an unknown class becomes NULL).
	if auto && r.env != nil && r.env.Options != nil && r.env.Options["auto_resolve"] == "" {
		r.env.Options["auto_resolve"] = "1"
	}
	return &step.Env{
		Mode: mode, Source: r.src, Destination: r.dst,
		SourceSchema: r.cfg.Source.Database, DestSchema: r.cfg.Destination.Database,
		Config: r.cfg, State: r.state, Log: log, Auto: auto, Progress: stepProgress{r}, Unknown: run.unknown,
	}
}

// deltaSteps runs delta mode's steps: the Map step streams (Runtime.delta).
func (r *Runtime) deltaSteps(ctx context.Context, o DeltaOptions) error {
	log := r.log.With("mode", "delta")
	run := &modeRun{delta: o}
	r.followers = nil // the steps' DeltaStart register them anew
	r.followFailed.Store(0)
	r.followRatings(log)
	if err := r.followConfigurablePrices(ctx, log); err != nil {
		return err
	}
	steps, err := r.modeSteps(step.ModeDelta, log, run)
	if err != nil {
		return err
	}
	// --auto of data mode is recorded; it holds for delta too.
	auto, err := r.state.Flag(ctx, flagAuto)
	if err != nil {
		return err
	}
	return step.Run(ctx, step.ModeDelta, steps, r.stepEnv(step.ModeDelta, log, auto != "", run))
}

// CheckSteps runs, without writing anything, the integrity stage of every
// step data mode runs (config.xml's data steps, or the Map step) and, when
// settings mode has something to do (a settings map, or config.xml lists
// its steps), of settings mode's steps: `shiplog check` reports what each
// mode would. A step listed in both modes is checked once per mode.
func (r *Runtime) CheckSteps(ctx context.Context) ([]transform.Problem, error) {
	modes := []step.Mode{step.ModeData}
	settings := r.cfg.Options.SettingsMapFile != ""
	for _, s := range r.cfg.Steps {
		settings = settings || step.Mode(s.Mode) == step.ModeSettings
	}
	if settings {
		modes = append([]step.Mode{step.ModeSettings}, modes...)
	}
	var all []transform.Problem
	for _, mode := range modes {
		log := r.log.With("mode", string(mode))
		run := &modeRun{}
		steps, err := r.modeSteps(mode, log, run)
		if err != nil {
			return nil, err
		}
		all = append(all, run.unknown...)
		env := r.stepEnv(mode, log, false, run)
		for _, p := range steps {
			found, err := p.Step.Integrity(ctx, env)
			if err != nil {
				return nil, fmt.Errorf("%s (%s mode): %w", p.Title, mode, err)
			}
			all = append(all, found...)
		}
	}
	return all, nil
}
