package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/transform"
)

// SettingsResult counts what settings mode did.
type SettingsResult struct {
	Ignored, Renamed, Replaced, Added, Failed int
}

// Settings runs settings mode: the source's key/value settings table
// (core_config_data) is merged into the destination's through settings.xml:
// ignored paths are left out, renamed paths renamed, values transformed by
// handlers; a destination row with the same scope and path gets the value,
// other rows are added. It runs in one destination transaction.
func (r *Runtime) Settings(ctx context.Context, o SettingsOptions) (SettingsResult, error) {
	log := r.log.With("mode", "settings")
	if o.Reset {
		log.Info("forgetting which settings steps are done", "stage", "reset")
		if err := r.state.ResetSteps(ctx, string(step.ModeSettings)); err != nil {
			return SettingsResult{}, err
		}
	}
	run := &modeRun{}
	steps, err := r.modeSteps(step.ModeSettings, log, run)
	if err != nil {
		return run.settings, err
	}
	err = step.Run(ctx, step.ModeSettings, steps, r.stepEnv(step.ModeSettings, log, o.Auto, run))
	return run.settings, err
}

// SettingsOptions tune settings mode.
type SettingsOptions struct {
	// Auto goes on past settings whose handler cannot run (an unknown
	// handler, bad params): they are warnings, and each such setting is not
	// migrated but recorded in _shiplog_failed_rows (never copied
	// untransformed), which makes the run a partial success.
	Auto bool
	// Reset runs again the steps an earlier run finished (see step.Run).
	Reset bool
}

// settingsStep is the reference tool's Settings step (settings mode).
type settingsStep struct {
	r   *Runtime
	res *SettingsResult
	// Found by Integrity, for Data: the settings.xml rules, the settings
	// tables of both sides, the row being built (the destination's scope,
	// key and value columns) and the value handlers by path.
	spec     config.Settings
	rules    *transform.SettingsRules
	st, dt   *cdc.Table
	built    *cdc.Table
	handlers map[string]transform.Func
	// unhandled are the paths whose handler cannot run (--auto), with why.
	unhandled map[string]string
}

// Integrity reads settings.xml, checks both settings tables have the
// configured columns and binds the value handlers. A handler that cannot run
// is an error --auto turns into a warning; the settings of its path are then
// recorded as failed, not migrated (see Data).
func (s *settingsStep) Integrity(ctx context.Context, _ *step.Env) ([]transform.Problem, error) {
	r := s.r
	spec := r.cfg.Settings.WithDefaults()
	rules := &transform.SettingsRules{}
	if r.cfg.Options.SettingsMapFile != "" {
		var err error
		if rules, err = transform.ReadSettings(r.cfg.Options.SettingsMapFile); err != nil {
			return nil, err
		}
	}
	st, err := r.settingsTable(ctx, r.src, r.cfg.Source.Database, r.cfg.Options.SourcePrefix+spec.Table, spec, "source")
	if err != nil {
		return nil, err
	}
	dt, err := r.settingsTable(ctx, r.dst, r.cfg.Destination.Database, r.cfg.Options.DestPrefix+spec.Table, spec, "destination")
	if err != nil {
		return nil, err
	}
	// The row being built: the destination's scope, key and value columns.
	built := &cdc.Table{Schema: dt.Schema, Name: dt.Name}
	for _, n := range append(append([]string{}, spec.ScopeColumns...), spec.KeyColumn, spec.ValueColumn) {
		built.Columns = append(built.Columns, dt.Columns[dt.ColumnIndex(n)])
	}
	valIdx := len(spec.ScopeColumns) + 1
	handlers := map[string]transform.Func{}
	unhandled := map[string]string{}
	var problems []transform.Problem
	problem := func(path, msg string) {
		problems = append(problems, transform.Problem{Severity: transform.Error, Area: "destination", Table: dt.Name, Msg: msg})
		unhandled[path] = msg
	}
	for _, tr := range rules.Transforms {
		f, ok := transform.LookupHandler(tr.Handler.Name)
		if !ok {
			problem(tr.Path, fmt.Sprintf("unknown handler %q for path %s (%s)", tr.Handler.Name, tr.Path, tr.At))
			continue
		}
		params := transform.Params{}
		for _, p := range tr.Handler.Params {
			params[p.Name] = p.Value
		}
		fn, err := f(params, transform.Binding{Area: "destination", Table: dt.Name, Field: spec.ValueColumn, Index: valIdx,
			Column: built.Columns[valIdx], Rec: built, Other: st, Env: r.handlerEnv()})
		if err != nil {
			problem(tr.Path, fmt.Sprintf("handler %s for path %s: %v (%s)", tr.Handler.Name, tr.Path, err, tr.At))
			continue
		}
		handlers[tr.Path] = fn
	}
	s.spec, s.rules, s.st, s.dt, s.built, s.handlers, s.unhandled = spec, rules, st, dt, built, handlers, unhandled
	return problems, nil
}

// Data merges the source's settings into the destination's, in one
// destination transaction.
func (s *settingsStep) Data(ctx context.Context, env *step.Env) error {
	r, res, log := s.r, s.res, env.Log
	spec, rules, st, dt, built, handlers := s.spec, s.rules, s.st, s.dt, s.built, s.handlers
	nScope := len(spec.ScopeColumns)
	keyIdx := nScope
	srcIdx := make([]int, len(built.Columns))
	for i, c := range built.Columns {
		srcIdx[i] = st.ColumnIndex(c.Name)
	}
	ignore := make([]*regexp.Regexp, len(rules.IgnorePaths))
	for i, p := range rules.IgnorePaths {
		ignore[i] = settingsPattern(p.Name)
	}
	rename := map[string]string{}
	for _, rn := range rules.RenamePaths {
		rename[rn.From] = rn.To
	}
	// Existing destination settings by scope and path.
	existing := map[string]bool{}
	scopeKey := func(row []any, idx func(i int) int) string {
		var b strings.Builder
		for i := 0; i <= nScope; i++ {
			fmt.Fprintf(&b, "%v\x00", str(row[idx(i)]))
		}
		return b.String()
	}
	dstIdx := make([]int, len(built.Columns))
	for i, c := range built.Columns {
		dstIdx[i] = dt.ColumnIndex(c.Name)
	}
	if err := rowio.ReadTable(ctx, r.dst, dt, func(row []any) error {
		existing[scopeKey(row, func(i int) int { return dstIdx[i] })] = true
		return nil
	}); err != nil {
		return err
	}
	var writes []cdc.Change
	var failures []cdc.Failure
	var updates [][]any
	if err := rowio.ReadTable(ctx, r.src, st, func(row []any) error {
		path := str(row[srcIdx[keyIdx]])
		for _, re := range ignore {
			if re.MatchString(path) {
				res.Ignored++
				return nil
			}
		}
		out := make([]any, len(built.Columns))
		for i, j := range srcIdx {
			out[i] = row[j]
		}
		if to, ok := rename[path]; ok {
			out[keyIdx] = to
			res.Renamed++
		}
		why, unhandled := s.unhandled[path]
		if !unhandled {
			why, unhandled = s.unhandled[str(out[keyIdx])]
		}
		if unhandled {
			// --auto went past its handler: recorded, never copied as it is.
			res.Failed++
			failures = append(failures, cdc.Failure{Table: st.Name, Key: out[:keyIdx+1], Handler: "settings value", Field: spec.ValueColumn, Reason: why})
			log.Warn("setting not migrated: its handler cannot run; recorded in _shiplog_failed_rows", "path", path, "reason", why)
			return nil
		}
		fn := handlers[path]
		if fn == nil {
			fn = handlers[str(out[keyIdx])]
		}
		if fn != nil {
			if err := fn(out, row); err != nil {
				res.Failed++
				failures = append(failures, cdc.Failure{Table: st.Name, Key: out[:keyIdx+1], Handler: "settings value", Field: spec.ValueColumn, Reason: err.Error()})
				log.Warn("setting could not be transformed; recorded in _shiplog_failed_rows", "path", path, "error", err)
				return nil
			}
		}
		if k := scopeKey(out, func(i int) int { return i }); existing[k] {
			updates = append(updates, out)
			res.Replaced++
		} else {
			writes = append(writes, cdc.Change{Op: cdc.OpInsert, After: out})
			existing[k] = true
			res.Added++
		}
		return nil
	}); err != nil {
		return err
	}
	err := r.inTx(ctx, func(tx *sql.Tx) error {
		if err := r.state.ForgetFailuresOf(ctx, tx, st.Name); err != nil {
			return err
		}
		for _, u := range updates {
			q, err := settingsUpdate(built, u, nScope)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("settings: %w", err)
			}
		}
		for _, w := range writes {
			q, err := settingsInsert(built, w.After)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("settings: %w", err)
			}
		}
		return r.state.SaveFailures(ctx, tx, failures)
	})
	if err != nil {
		return err
	}
	log.Info("settings migrated", "stage", "data", "table", dt.Name, "replaced", res.Replaced, "added", res.Added,
		"ignored", res.Ignored, "renamed", res.Renamed, "failed", res.Failed)
	if res.Failed > 0 {
		return fmt.Errorf("%w: %d setting(s) could not be transformed (see _shiplog_failed_rows)", ErrPartial, res.Failed)
	}
	return nil
}

// Volume: the reference's Settings step has no volume check; Data reports
// what it replaced, added, ignored and could not transform.
func (s *settingsStep) Volume(context.Context, *step.Env) error { return nil }

// Delta: settings are migrated once, in settings mode.
func (s *settingsStep) Delta(context.Context, *step.Env) error { return nil }

// settingsTable loads the settings table of one side and checks it has the
// configured columns.
func (r *Runtime) settingsTable(ctx context.Context, db *sql.DB, schema, name string, spec config.Settings, side string) (*cdc.Table, error) {
	tables, err := rowio.LoadTables(ctx, db, schema, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", side, err)
	}
	for _, t := range tables {
		if !strings.EqualFold(t.Name, name) {
			continue
		}
		var missing []string
		for _, c := range append(append([]string{}, spec.ScopeColumns...), spec.KeyColumn, spec.ValueColumn) {
			if t.ColumnIndex(c) < 0 {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%w: %s settings table %s.%s has no column(s) %s (see the settings section of the configuration)",
				ErrIntegrity, side, schema, name, strings.Join(missing, ", "))
		}
		return t, nil
	}
	return nil, fmt.Errorf("%w: %s settings table %s.%s does not exist (settings.table in the configuration)", ErrIntegrity, side, schema, name)
}

// settingsPattern compiles a settings.xml key ignore: '*' matches one or more
// characters, anchored at the start.
func settingsPattern(p string) *regexp.Regexp {
	parts := strings.Split(p, "*")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	if len(parts) == 1 {
		return regexp.MustCompile("^" + parts[0] + "$")
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".+"))
}

func str(v any) string {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case string:
		return x
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func settingsUpdate(t *cdc.Table, row []any, nScope int) (string, error) {
	var err error
	valIdx := nScope + 1
	q := []byte("UPDATE " + rowio.QuoteIdent(t.Schema) + "." + rowio.QuoteIdent(t.Name) + " SET " + rowio.QuoteIdent(t.Columns[valIdx].Name) + " = ")
	if q, err = rowio.AppendLiteral(q, row[valIdx], &t.Columns[valIdx]); err != nil {
		return "", err
	}
	q = append(q, " WHERE "...)
	for i := 0; i <= nScope; i++ {
		if i > 0 {
			q = append(q, " AND "...)
		}
		q = append(q, rowio.QuoteIdent(t.Columns[i].Name)+" = "...)
		if q, err = rowio.AppendLiteral(q, row[i], &t.Columns[i]); err != nil {
			return "", err
		}
	}
	return string(q), nil
}

func settingsInsert(t *cdc.Table, row []any) (string, error) {
	var err error
	q := []byte("INSERT INTO " + rowio.QuoteIdent(t.Schema) + "." + rowio.QuoteIdent(t.Name) + " (")
	for i, c := range t.Columns {
		if i > 0 {
			q = append(q, ',')
		}
		q = append(q, rowio.QuoteIdent(c.Name)...)
	}
	q = append(q, ") VALUES ("...)
	for i := range t.Columns {
		if i > 0 {
			q = append(q, ',')
		}
		if q, err = rowio.AppendLiteral(q, row[i], &t.Columns[i]); err != nil {
			return "", err
		}
	}
	return string(append(q, ')')), nil
}
