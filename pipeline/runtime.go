// Package pipeline runs shiplog's modes: it wires readers (snapshot, binlog)
// through the compiled plan into the sink, and answers status.
package pipeline

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/deltalog"
	"github.com/shiplog/shiplog/ops"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/state"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// Runtime holds the connections and state one command works with.
type Runtime struct {
	cfg   *config.Config
	log   *slog.Logger
	src   *sql.DB
	dst   *sql.DB
	state *state.State
	// source is where delta reads changes (delta.source).
	source deltaSource
	// dest is what the destination database receives (sink).
	dest destination
	// NoProgressBars keeps progress bars off a terminal (-q): periodic log
	// lines only, for whichever log handler takes info lines.
	NoProgressBars bool
	// relock makes sure the command's destination locks are held, taking
	// them again on a new connection after the destination was lost (set by
	// StartRun; nil without them). See destRetry.
	relock func(context.Context) error
	// running is the recorded command being run ("run", "migrate delta"),
	// for the remedies errors give; set by StartRun.
	running string
	// runID is the recorded run's id in _shiplog_runs (0: none); set by
	// StartRun.
	runID int64
	// ops is what the modes report to and are held by (pause, throttle,
	// batch bound, metrics): one of the configuration's throttle settings
	// from Open until SetOps replaces it.
	ops *ops.Control
	// env is what the handlers of every plan r compiles may use (built by
	// Open; nil: an empty one).
	env *transform.HandlerEnv
	// sourceNames are every source table's name: read by Check (and
	// recorded by data mode), or from the record when the stream compiles
	// the recorded tables; destination documents pair with them by name.
	sourceNames []string
	// followers keep the steps' derived destination rows in step with the
	// stream (follow.go); registered when delta mode starts.
	followers []follower
	// postSets, set when delta mode starts, are the destination's product
	// attribute sets the PostProcessing step's follower keeps in step with
	// the stream (step_post_asleft.go).
	postSets atomic.Pointer[postSetState]
	// followFailed counts the failed rows followers recorded (followPartial).
	followFailed atomic.Int64
}

// SetOps gives r the operations object of the command it runs: the modes
// count their batches and errors in c, set its state, and hold each batch
// while c is paused or throttled. Call it before the command starts (before
// StartRun, which serves c over HTTP when asked to). Without it, r has a
// Control of its own that nothing serves; nil reports nothing and never
// holds.
func (r *Runtime) SetOps(c *ops.Control) {
	r.ops = c
}

// ErrIntegrity is returned when the integrity check finds errors.
var ErrIntegrity = step.ErrIntegrity

// Open connects to both servers (checking the credentials now, so a wrong
// password is reported before anything else happens) and prepares the state
// tables in the destination.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Runtime, error) {
	return OpenFor(ctx, cfg, log, Work{})
}

// OpenFor is Open that first checks that both users hold every privilege w
// needs; a missing one is an error wrapping ErrPrivileges, returned before
// anything (even the state tables) is written.
func OpenFor(ctx context.Context, cfg *config.Config, log *slog.Logger, w Work) (*Runtime, error) {
	if log == nil {
		log = slog.Default()
	}
	r := &Runtime{cfg: cfg, log: log, ops: ops.NewControl(cfg.Throttle)}
	r.source = newDeltaSource(r)
	r.dest = newDestination(r)
	srcCfg, err := cfg.Source.DriverConfig()
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", cfg.Source.Redacted(), err)
	}
	srcInit, err := usableInit(log, "source", cfg.Source.InitStatements)
	if err != nil {
		return nil, err
	}
	dstInit, err := usableInit(log, "destination", cfg.Destination.InitStatements)
	if err != nil {
		return nil, err
	}
	r.src, err = openPool(ctx, srcCfg, false, srcInit)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", cfg.Source.Redacted(), err)
	}
	dstCfg, err := cfg.Destination.DriverConfig()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("destination %s: %w", cfg.Destination.Redacted(), err)
	}
	r.dst, err = openPool(ctx, dstCfg, true, dstInit)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("destination %s: %w", cfg.Destination.Redacted(), err)
	}
	if err := preflight(ctx, cfg, r.src, r.dst, w); err != nil {
		r.Close()
		return nil, err
	}
	if r.env, err = newHandlerEnv(cfg, r.src, r.dst); err != nil {
		r.Close()
		return nil, err
	}
	r.state = state.NewState(r.dst, cfg.Destination.Database)
	if err := r.state.Ensure(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Close closes the connections.
func (r *Runtime) Close() {
	if r.src != nil {
		r.src.Close()
	}
	if r.dst != nil {
		r.dst.Close()
	}
}

// Check loads both schemas and compiles the plan; its problems are the
// integrity check.
func (r *Runtime) Check(ctx context.Context) (*transform.Plan, []transform.Problem, error) {
	src, err := rowio.LoadTables(ctx, r.src, r.cfg.Source.Database, "")
	if err != nil {
		return nil, nil, fmt.Errorf("source: %w", err)
	}
	if len(src) == 0 {
		return nil, nil, fmt.Errorf("source database %q has no tables (or does not exist)", r.cfg.Source.Database)
	}
	// Change logs (ours, or the reference tool's) are never copied; a user's
	// table that merely has such a name is mapped like any other.
	logs := deltalog.ChangeLogs(src, r.cfg.Options.SourcePrefix)
	src = slices.DeleteFunc(src, func(t *cdc.Table) bool { _, ok := logs[t.Name]; return ok })
	r.sourceNames = r.sourceNames[:0]
	for _, t := range src {
		r.sourceNames = append(r.sourceNames, t.Name)
	}
	return r.compile(ctx, src)
}

// compile builds the plan of the given source tables for what the
// destination gets (see destination.plan).
func (r *Runtime) compile(ctx context.Context, src []*cdc.Table) (*transform.Plan, []transform.Problem, error) {
	plan, problems, err := r.dest.plan(ctx, src)
	if err == nil {
		plan, err = r.postRoutes(ctx, plan)
	}
	return plan, problems, err
}

// compileToDestination builds the plan of the given source tables against
// the destination database as it is now, whatever the sink: the Kafka
// applier writes there even when its configuration is the publisher's
// (sink: kafka).
func (r *Runtime) compileToDestination(ctx context.Context, src []*cdc.Table) (*transform.Plan, []transform.Problem, error) {
	return r.compileWith(ctx, src, nil)
}

// compileWith is compileToDestination with the rules adjusted by adjust.
func (r *Runtime) compileWith(ctx context.Context, src []*cdc.Table, adjust func(*transform.Rules)) (*transform.Plan, []transform.Problem, error) {
	dst, err := rowio.LoadTables(ctx, r.dst, r.cfg.Destination.Database, transform.StateTablePrefix)
	if err != nil {
		return nil, nil, fmt.Errorf("destination: %w", err)
	}
	rules, err := r.rules()
	if err != nil {
		return nil, nil, err
	}
	if adjust != nil {
		adjust(rules)
	}
	r.eavValueRules(rules, src)
	plan, problems := transform.Compile(rules, src, dst)
	return plan, problems, nil
}

// compileSeenSoFar is compileToDestination for a Kafka applier, which knows
// the source tables whose schemas the publisher has published so far.
func (r *Runtime) compileSeenSoFar(ctx context.Context, src []*cdc.Table) (*transform.Plan, []transform.Problem, error) {
	return r.compileWith(ctx, src, func(rules *transform.Rules) { rules.SourceSoFar = true })
}

// rules are the map rules of the configuration: the map file (map.xml or
// YAML) when one is set, the prefixes and the full-row tables.
func (r *Runtime) rules() (*transform.Rules, error) {
	rules := &transform.Rules{}
	if r.cfg.Options.MapFile != "" {
		m, err := transform.ReadMap(r.cfg.Options.MapFile)
		if err != nil {
			return nil, err
		}
		rules = m
	}
	rules.SourceNames = r.sourceNames
	rules.SourcePrefix = r.cfg.Options.SourcePrefix
	rules.DestPrefix = r.cfg.Options.DestPrefix
	rules.FullRowTables = r.cfg.Options.FullRowTables
	rules.Env = r.handlerEnv()
	return rules, nil
}

// handlerEnv is r's handler environment (never nil).
func (r *Runtime) handlerEnv() *transform.HandlerEnv {
	if r.env == nil {
		return &transform.HandlerEnv{}
	}
	return r.env
}

// saveSourceSchema records the source tables a copy was planned for: the
// stream resumes against them, not against a schema a later DDL changed (that
// DDL stops the stream when the stream reaches it).
func (r *Runtime) saveSourceSchema(ctx context.Context, plan *transform.Plan) error {
	var tables []*cdc.Table
	for _, tp := range plan.Tables() {
		tables = append(tables, tp.Source)
	}
	b, err := json.Marshal(tables)
	if err != nil {
		return err
	}
	if err := r.state.SetFlag(ctx, nil, flagSourceSchema, string(b)); err != nil {
		return err
	}
	if len(r.sourceNames) == 0 {
		return nil
	}
	names, err := json.Marshal(r.sourceNames)
	if err != nil {
		return err
	}
	return r.state.SetFlag(ctx, nil, flagSourceTables, string(names))
}

// streamPlan compiles the plan for delta from the recorded source schema.
func (r *Runtime) streamPlan(ctx context.Context) (*transform.Plan, []transform.Problem, error) {
	text, err := r.state.Flag(ctx, flagSourceSchema)
	if err != nil {
		return nil, nil, err
	}
	if text == "" {
		return r.Check(ctx)
	}
	var tables []*cdc.Table
	if err := json.Unmarshal([]byte(text), &tables); err != nil {
		return nil, nil, fmt.Errorf("recorded source schema: %w", err)
	}
	names, err := r.state.Flag(ctx, flagSourceTables)
	if err != nil {
		return nil, nil, err
	}
	r.sourceNames = nil
	if names != "" {
		if err := json.Unmarshal([]byte(names), &r.sourceNames); err != nil {
			return nil, nil, fmt.Errorf("recorded source table names: %w", err)
		}
	}
	return r.compile(ctx, tables)
}

// reportProblems logs problems and returns ErrIntegrity when errors remain
// (auto turns them into warnings, except blocking ones); see step.Report.
func (r *Runtime) reportProblems(problems []transform.Problem, auto bool) error {
	return step.Report(r.log, problems, auto)
}
