package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/shiplog/shiplog/deltalog"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/transform"
)

// The change-log delta sees row changes only (triggers do not fire on
// TRUNCATE or DDL), so it compares the logged tables' identities (see
// deltalog.Identity) with those recorded when the copy was planned: at the
// start of delta (a change made while shiplog was stopped) and as it reads
// the logs.
const (
	// flagSourceIdentities holds the logged tables' identities (JSON) the
	// stream compares with.
	flagSourceIdentities = "source_identities"
	// flagTableChangeStop holds the identities (JSON; null for a table gone)
	// of the tables the change-log delta last stopped at, for --skip-ddl.
	flagTableChangeStop = "table_change_stop"
)

// loggedNames are the source tables of specs.
func loggedNames(specs []deltalog.Spec) []string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Table.Name
	}
	return names
}

// recordIdentities records the identities of the tables logged for plan, as
// they are now, unless a copy already recorded them: data mode records them
// before the copy, so a table changed during the copy (also one interrupted
// and resumed) or after it is caught when delta starts.
func (r *Runtime) recordIdentities(ctx context.Context, plan *transform.Plan) error {
	if ids, err := r.loadIdentities(ctx); err != nil || ids != nil {
		return err
	}
	specs, _, err := r.logSpecs(ctx, plan)
	if err != nil {
		return err
	}
	ids, err := deltalog.ReadIdentities(ctx, r.src, r.cfg.Source.Database, loggedNames(specs), true)
	if err != nil {
		return err
	}
	return r.saveIdentities(ctx, ids)
}

// canReadIdentities reads the identities of the tables logged for plan, to
// find out whether the source user may (see deltalog.ErrNoProcessPrivilege).
func (r *Runtime) canReadIdentities(ctx context.Context, plan *transform.Plan) error {
	specs, _, err := r.logSpecs(ctx, plan)
	if err != nil {
		return err
	}
	_, err = deltalog.ReadIdentities(ctx, r.src, r.cfg.Source.Database, loggedNames(specs), false)
	return err
}

func (r *Runtime) saveIdentities(ctx context.Context, ids map[string]*deltalog.Identity) error {
	b, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	return r.state.SetFlag(ctx, nil, flagSourceIdentities, string(b))
}

func (r *Runtime) loadIdentities(ctx context.Context) (map[string]*deltalog.Identity, error) {
	text, err := r.state.Flag(ctx, flagSourceIdentities)
	if err != nil || text == "" {
		return nil, err
	}
	var ids map[string]*deltalog.Identity
	if err := json.Unmarshal([]byte(text), &ids); err != nil {
		return nil, fmt.Errorf("recorded source table identities: %w", err)
	}
	return ids, nil
}

// startIdentities returns the recorded identities of the logged tables
// after checking that the tables still have them. Tables with none recorded
// (a copy made by an older version, a table added to the deltalog file) are
// recorded as they are now.
func (r *Runtime) startIdentities(ctx context.Context, specs []deltalog.Spec, log *slog.Logger) (map[string]*deltalog.Identity, error) {
	ids, err := r.loadIdentities(ctx)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, n := range loggedNames(specs) {
		if ids[n] == nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		now, err := deltalog.ReadIdentities(ctx, r.src, r.cfg.Source.Database, missing, true)
		if err != nil {
			return nil, err
		}
		if ids == nil {
			ids = map[string]*deltalog.Identity{}
		}
		for _, n := range missing {
			if now[n] != nil {
				ids[n] = now[n]
			}
		}
		if err := r.saveIdentities(ctx, ids); err != nil {
			return nil, err
		}
		log.Warn("no identity recorded for logged tables (a copy made by an older version, or tables added to the deltalog file): "+
			"recorded as they are now, so a TRUNCATE or ALTER made before now is not seen (run verify)", "stage", "delta", "tables", strings.Join(missing, ","))
	}
	logged := make(map[string]*deltalog.Identity, len(specs))
	for _, n := range loggedNames(specs) {
		if ids[n] != nil {
			logged[n] = ids[n]
		}
	}
	return logged, deltalog.CompareIdentities(ctx, r.src, r.cfg.Source.Database, logged)
}

// tableChanged records the tables the change-log delta stopped at and
// returns the error delta ends with: what changed, and the commands that go
// on.
func (r *Runtime) tableChanged(ctx context.Context, ce *deltalog.ChangedError) error {
	stop := map[string]*deltalog.Identity{}
	for _, c := range ce.Changes {
		stop[c.Table] = c.Now
	}
	b, err := json.Marshal(stop)
	if err != nil {
		return errors.Join(ce, err)
	}
	if err := r.state.SetFlag(ctx, nil, flagTableChangeStop, string(b)); err != nil {
		return errors.Join(ce, err)
	}
	lost, err := r.untriggered(ctx, stop)
	if err != nil {
		return errors.Join(ce, err)
	}
	reset := r.command("migrate data --reset")
	if len(lost) > 0 {
		return fmt.Errorf("%w: %w. %s no longer logged (dropped, or another table in its place without shiplog's triggers), "+
			"so changes made to it since are lost to the change logs: copy everything again with `%s`",
			ErrTableChanged, ce, strings.Join(lost, ", "), reset)
	}
	return fmt.Errorf("%w: %w. Delta stopped before applying anything read after the change: everything before it is applied. "+
		"To go on, make the destination match by hand (for a TRUNCATE, empty the destination table; for an ALTER, apply the same change, "+
		"and to the map if columns changed; after OPTIMIZE or another rebuild that kept the rows, nothing), then run `%s`: "+
		"it checks the source schema as it is now against the map and the destination and accepts these tables as they are. "+
		"Or copy everything again: `%s`",
		ErrTableChanged, ce, r.command("migrate delta --skip-ddl"), reset)
}

// untriggered names the tables of stop that are gone or lost shiplog's
// triggers: their changes since are not in the logs.
func (r *Runtime) untriggered(ctx context.Context, stop map[string]*deltalog.Identity) ([]string, error) {
	var out []string
	for t, id := range stop {
		ok := id != nil
		if ok {
			var err error
			if ok, err = r.installer().HasTriggers(ctx, t); err != nil {
				return nil, err
			}
		}
		if !ok {
			out = append(out, rowio.QuoteIdent(r.cfg.Source.Database)+"."+rowio.QuoteIdent(t))
		}
	}
	sort.Strings(out)
	return out, nil
}

// skipTableChange is `migrate delta --skip-ddl` on the change-log delta: the
// tables it stopped at are accepted with the identities they had at the
// stop (a change made since stops it again), after the plan compiled from
// the source as it is now passed the integrity check.
func (r *Runtime) skipTableChange(ctx context.Context, plan *transform.Plan, log *slog.Logger) error {
	text, err := r.state.Flag(ctx, flagTableChangeStop)
	if err != nil {
		return err
	}
	if text == "" {
		return fmt.Errorf("%w: delta has not stopped at a changed table; run `%s` without --skip-ddl",
			ErrNoDDLToSkip, r.command("migrate delta"))
	}
	var stop map[string]*deltalog.Identity
	if err := json.Unmarshal([]byte(text), &stop); err != nil {
		return fmt.Errorf("recorded table change stop: %w", err)
	}
	lost, err := r.untriggered(ctx, stop)
	if err != nil {
		return err
	}
	if len(lost) > 0 {
		return fmt.Errorf("%w: %s no longer logged, so changes made to it since the stop are lost to the change logs: copy everything again with `%s`",
			ErrNoDDLToSkip, strings.Join(lost, ", "), r.command("migrate data --reset"))
	}
	ids, err := r.loadIdentities(ctx)
	if err != nil {
		return err
	}
	if ids == nil {
		ids = map[string]*deltalog.Identity{}
	}
	names := make([]string, 0, len(stop))
	for t, id := range stop {
		ids[t] = id
		names = append(names, t)
	}
	sort.Strings(names)
	if err := r.saveSourceSchema(ctx, plan); err != nil {
		return err
	}
	if err := r.rebaseCopied(ctx, plan, names); err != nil {
		return err
	}
	if err := r.saveIdentities(ctx, ids); err != nil {
		return err
	}
	if err := r.state.SetFlag(ctx, nil, flagTableChangeStop, ""); err != nil {
		return err
	}
	log.Warn("accepting the changed source tables as they were at the stop; the source schema as it is now is recorded", "stage", "delta",
		"tables", strings.Join(names, ","))
	return nil
}
