// Package pipeline runs shiplog's modes: it wires readers (snapshot, binlog)
// through the compiled plan into the sink, and answers status.
package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"

	"github.com/shiplog/shiplog/config"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
	"github.com/shiplog/shiplog/snapshot"
	"github.com/shiplog/shiplog/transform"
)

// Runtime holds the connections and state one command works with.
type Runtime struct {
	cfg   *config.Config
	log   *slog.Logger
	src   *sql.DB
	dst   *sql.DB
	state *mysqlsink.State
}

// ErrIntegrity is returned when the integrity check finds errors.
var ErrIntegrity = errors.New("integrity check failed")

// Open connects to both servers (checking the credentials now, so a wrong
// password is reported before anything else happens) and prepares the state
// tables in the destination.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Runtime, error) {
	if log == nil {
		log = slog.Default()
	}
	r := &Runtime{cfg: cfg, log: log}
	srcCfg, err := cfg.Source.DriverConfig()
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", cfg.Source.Redacted(), err)
	}
	r.src, err = openPool(ctx, srcCfg, false, usableInit(log, "source", cfg.Source.InitStatements))
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", cfg.Source.Redacted(), err)
	}
	dstCfg, err := cfg.Destination.DriverConfig()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("destination %s: %w", cfg.Destination.Redacted(), err)
	}
	r.dst, err = openPool(ctx, dstCfg, true, usableInit(log, "destination", cfg.Destination.InitStatements))
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("destination %s: %w", cfg.Destination.Redacted(), err)
	}
	r.state = mysqlsink.NewState(r.dst, cfg.Destination.Database)
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
	src, err := snapshot.LoadTables(ctx, r.src, r.cfg.Source.Database, "")
	if err != nil {
		return nil, nil, fmt.Errorf("source: %w", err)
	}
	if len(src) == 0 {
		return nil, nil, fmt.Errorf("source database %q has no tables (or does not exist)", r.cfg.Source.Database)
	}
	dst, err := snapshot.LoadTables(ctx, r.dst, r.cfg.Destination.Database, transform.StateTablePrefix)
	if err != nil {
		return nil, nil, fmt.Errorf("destination: %w", err)
	}
	rules := &transform.Rules{
		SourcePrefix:  r.cfg.Options.SourcePrefix,
		DestPrefix:    r.cfg.Options.DestPrefix,
		FullRowTables: r.cfg.Options.FullRowTables,
	}
	plan, problems := transform.Compile(rules, src, dst)
	return plan, problems, nil
}

// reportProblems logs problems and returns ErrIntegrity when errors remain
// (auto turns them into warnings, as the reference tool's --auto does).
func (r *Runtime) reportProblems(problems []transform.Problem, auto bool) error {
	var errs int
	for _, p := range problems {
		if p.Severity == transform.Error && !auto {
			errs++
			r.log.Error(p.Msg, "stage", "integrity", "table", p.Table)
		} else {
			r.log.Warn(p.Msg, "stage", "integrity", "table", p.Table)
		}
	}
	if errs > 0 {
		return fmt.Errorf("%w: %d error(s); fix the schemas or map, or pass --auto to continue with warnings", ErrIntegrity, errs)
	}
	return nil
}
