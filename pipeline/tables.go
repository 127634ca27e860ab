package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/shiplog/shiplog/deltalog"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/transform"
	"github.com/shiplog/shiplog/verify"
)

// ErrUnreplicatedTable is wrapped by *UnreplicatedTableError.
var ErrUnreplicatedTable = errors.New("source table not replicated")

// UnreplicatedTableError stops delta when a source table that the map does
// not ignore is not replicated (it was created after the copy, say): its rows
// would be lost. It names the tables and the remedies.
type UnreplicatedTableError struct {
	Schema string
	// Tables are the source tables; Bases the same without the source prefix
	// (the names the map's rules use).
	Tables, Bases []string
	// Seen says how they were noticed.
	Seen string
}

func (e *UnreplicatedTableError) Error() string {
	names := make([]string, len(e.Tables))
	for i, t := range e.Tables {
		names[i] = e.Schema + "." + t
	}
	var docs strings.Builder
	for _, b := range e.Bases {
		docs.WriteString("<ignore><document>" + b + "</document></ignore>")
	}
	return fmt.Sprintf("source table(s) %s (%s): not replicated: the map does not ignore them and the copy was not planned for them, "+
		"so their rows would be lost; either add them to the map's source ignore list (map.xml <source><document_rules>%s, "+
		"YAML source.documents.ignore) and start delta again, or create them on the destination (and in the map) and copy again with "+
		"`shiplog migrate data --reset`", strings.Join(names, ", "), e.Seen, docs.String())
}

func (e *UnreplicatedTableError) Unwrap() error { return ErrUnreplicatedTable }

// tableGuard tells, by name, the source tables that the map does not leave
// out and that delta does not replicate: not in the plan, not ignored by the
// map (nor outside the source prefix), not shiplog's own (_shiplog_* state
// tables, change logs recognised by deltalog.ChangeLogs). A table merely named
// m2_cl_* is reported like any other. It remembers its answers per name, so
// asking again is a map lookup; it is not safe for concurrent use.
type tableGuard struct {
	r     *Runtime
	plan  *transform.Plan
	rules *transform.Rules
	// auto reports by a warning, once per table, instead of an error
	// (data mode ran with --auto).
	auto bool
	log  *slog.Logger
	// quiet holds the answers so far by lower-case name: true = not to report.
	quiet  map[string]bool
	warned map[string]bool
	// logs are the change logs (lower-case names) of the last look at the
	// source schema.
	logs map[string]bool
}

func (r *Runtime) newTableGuard(plan *transform.Plan, auto bool, log *slog.Logger) (*tableGuard, error) {
	rules, err := r.rules()
	if err != nil {
		return nil, err
	}
	return &tableGuard{r: r, plan: plan, rules: rules, auto: auto, log: log, quiet: map[string]bool{}, warned: map[string]bool{}}, nil
}

// unreplicated reports whether source table name is one the map does not
// leave out that the plan does not replicate.
func (g *tableGuard) unreplicated(ctx context.Context, name string) (bool, error) {
	key := strings.ToLower(name)
	if q, ok := g.quiet[key]; ok {
		return !q, nil
	}
	q, err := g.leftOut(ctx, name)
	if err != nil {
		return false, err
	}
	g.quiet[key] = q
	return !q, nil
}

func (g *tableGuard) leftOut(ctx context.Context, name string) (bool, error) {
	if g.plan.Table(name) != nil || hasPrefixFold(name, transform.StateTablePrefix) || g.rules.IgnoresSource(name) {
		return true, nil
	}
	if !hasPrefixFold(name[len(g.rules.SourcePrefix):], "m2_cl_") {
		return false, nil
	}
	// A change log (shiplog's or Magento's) or a user's table with such a
	// name: look at the source's tables as they are now.
	key := strings.ToLower(name)
	if !g.logs[key] {
		tables, err := rowio.LoadTables(ctx, g.r.src, g.r.cfg.Source.Database, "")
		if err != nil {
			return false, fmt.Errorf("source: %w", err)
		}
		g.logs = map[string]bool{}
		for n := range deltalog.ChangeLogs(tables, g.rules.SourcePrefix) {
			g.logs[strings.ToLower(n)] = true
		}
	}
	return g.logs[key], nil
}

// check reports the given source tables that are unreplicated: an
// *UnreplicatedTableError naming them, or under auto a warning per table
// (once) and nil. seen says how they were noticed.
func (g *tableGuard) check(ctx context.Context, seen string, names ...string) error {
	e := &UnreplicatedTableError{Schema: g.r.cfg.Source.Database, Seen: seen}
	for _, n := range names {
		bad, err := g.unreplicated(ctx, n)
		if err != nil {
			return err
		}
		if !bad {
			continue
		}
		e.Tables = append(e.Tables, n)
		e.Bases = append(e.Bases, n[len(g.rules.SourcePrefix):])
	}
	if len(e.Tables) == 0 {
		return nil
	}
	if !g.auto {
		return e
	}
	for i, n := range e.Tables {
		if g.warned[strings.ToLower(n)] {
			continue
		}
		g.warned[strings.ToLower(n)] = true
		one := &UnreplicatedTableError{Schema: e.Schema, Tables: e.Tables[i : i+1], Bases: e.Bases[i : i+1], Seen: seen}
		g.log.Warn("NOT REPLICATED (a warning, as data mode ran with --auto; verify and cutover count it as a missing table): "+one.Error(),
			"stage", "delta", "table", n)
	}
	return nil
}

// checkSource checks every table of the source database.
func (g *tableGuard) checkSource(ctx context.Context, seen string) error {
	names, err := g.r.sourceTableNames(ctx)
	if err != nil {
		return err
	}
	return g.check(ctx, seen, names...)
}

// sourceTableNames lists the base tables of the source database.
func (r *Runtime) sourceTableNames(ctx context.Context) ([]string, error) {
	rows, err := r.src.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
		r.cfg.Source.Database)
	if err != nil {
		return nil, fmt.Errorf("source: list tables: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("source: list tables: %w", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("source: list tables: %w", err)
	}
	return names, nil
}

// unreplicatedReason is a verify report's reason for an unreplicated table.
const unreplicatedReason = "source table not replicated: the map does not ignore it and the copy was not planned for it " +
	"(add it to the map's source ignore list, or create it on the destination and copy again with `shiplog migrate data --reset`)"

// addUnreplicated adds the source tables that the map does not ignore and
// that plan does not replicate to rep as missing tables; only those of
// names when names is not empty.
func (r *Runtime) addUnreplicated(ctx context.Context, plan *transform.Plan, rep *verify.Report, names []string) error {
	g, err := r.newTableGuard(plan, false, r.log)
	if err != nil {
		return err
	}
	all, err := r.sourceTableNames(ctx)
	if err != nil {
		return err
	}
	for _, n := range all {
		if len(names) > 0 && !containsFold(names, n) {
			continue
		}
		bad, err := g.unreplicated(ctx, n)
		if err != nil {
			return err
		}
		if bad {
			rep.AddMissingTable(n, "", unreplicatedReason)
		}
	}
	return nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(strings.TrimSpace(x), s) {
			return true
		}
	}
	return false
}
