package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shiplog/shiplog/cascade"
	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/deltalog"
	"github.com/shiplog/shiplog/ops"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/stream"
	"github.com/shiplog/shiplog/transform"
)

// logSpecs are the tables delta logs with triggers: those of the deltalog
// file, or every copied table. Tables that cannot be logged come back with the
// reason.
func (r *Runtime) logSpecs(ctx context.Context, plan *transform.Plan) ([]deltalog.Spec, map[string]error, error) {
	problems := map[string]error{}
	var specs []deltalog.Spec
	prefix := r.cfg.Options.SourcePrefix
	spec := func(tp *transform.TablePlan, keyNames []string) {
		base := strings.TrimPrefix(tp.Source.Name, prefix)
		s := deltalog.Spec{Table: tp.Source, LogTable: deltalog.LogTableName(prefix, base), Carry: tp.RouteReads()}
		if len(keyNames) == 0 {
			if !tp.FullRow {
				s.Key = tp.Source.Key
			}
		} else {
			for _, k := range keyNames {
				i := tp.Source.ColumnIndex(k)
				if i < 0 {
					problems[tp.Source.Name] = fmt.Errorf("key column %s does not exist", k)
					return
				}
				s.Key = append(s.Key, i)
			}
		}
		if len(s.Key) == 0 {
			problems[tp.Source.Name] = errors.New("no key to log changes by (a table in full-row mode needs a key attribute in the deltalog file)")
			return
		}
		specs = append(specs, s)
	}
	if r.cfg.Options.DeltalogFile == "" {
		for _, tp := range plan.Tables() {
			spec(tp, nil)
		}
	} else {
		docs, err := deltalog.ReadGroups(r.cfg.Options.DeltalogFile)
		if err != nil {
			return nil, nil, err
		}
		for _, d := range docs {
			tp := plan.Table(prefix + d.Table)
			if tp == nil {
				problems[d.Table] = fmt.Errorf("%w (group %s of %s)", errLoggedNotCopied, d.Group, r.cfg.Options.DeltalogFile)
				continue
			}
			spec(tp, d.Key)
		}
		listed := func(t string) bool {
			return slices.ContainsFunc(docs, func(d deltalog.Document) bool { return strings.EqualFold(prefix+d.Table, t) })
		}
		for _, tp := range append(r.logUnlisted(plan, listed), r.urlRewriteUnlisted(plan, listed)...) {
			spec(tp, nil)
		}
	}
	watch, err := r.watchSpecs(ctx, plan, specs)
	if err != nil {
		return nil, nil, err
	}
	return append(specs, watch...), problems, nil
}

// watchSpecs are the change logs the foreign key actions the stream follows
// need besides specs: every parent whose actions reach a logged child, and
// every table whose change must stop the stream (cascade.Set.TripTables),
// logged by its primary key whether the map copies it or not (triggers do
// not fire for the rows an action changes: the parent's own change is all
// the change logs can show). A parent the map does not copy is only
// watched: its changes are read for the actions they carry, not copied.
func (r *Runtime) watchSpecs(ctx context.Context, plan *transform.Plan, specs []deltalog.Spec) ([]deltalog.Spec, error) {
	fks, err := cascade.Load(ctx, r.src, r.cfg.Source.Database)
	if err != nil {
		return nil, err
	}
	set, err := cascade.Compile(fks, plan)
	if err != nil || set.Empty() && len(set.TripTables()) == 0 {
		return nil, nil // refused (triggerCascades says why), or nothing to follow
	}
	logged := map[string]bool{}
	for _, s := range specs {
		logged[s.Table.Name] = true
	}
	// A parent logged for a logged child is streamed too, so its own
	// parents are needed in turn.
	var want []string
	for changed := true; changed; {
		changed = false
		for _, parent := range set.Parents() {
			if logged[parent] {
				continue
			}
			for _, child := range set.ChildrenOf(parent) {
				if logged[child] {
					logged[parent], changed = true, true
					want = append(want, parent)
					break
				}
			}
		}
	}
	for _, t := range set.TripTables() {
		if !logged[t] && !slices.Contains(want, t) {
			want = append(want, t)
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	var uncopied []*cdc.Table
	if slices.ContainsFunc(want, func(t string) bool { return plan.Table(t) == nil }) {
		all, err := rowio.LoadTables(ctx, r.src, r.cfg.Source.Database, "")
		if err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		uncopied = all
	}
	prefix := r.cfg.Options.SourcePrefix
	var out []deltalog.Spec
	for _, name := range want {
		t := (*cdc.Table)(nil)
		if tp := plan.Table(name); tp != nil {
			t = tp.Source
		} else if i := slices.IndexFunc(uncopied, func(u *cdc.Table) bool { return u.Name == name }); i >= 0 {
			t = uncopied[i]
		}
		if t == nil || len(t.Key) == 0 {
			continue // no key to log by: triggerCascades names it
		}
		out = append(out, deltalog.Spec{Table: t, Key: t.Key, LogTable: deltalog.LogTableName(prefix, strings.TrimPrefix(name, prefix))})
	}
	return out, nil
}

// errLoggedNotCopied: a table the deltalog file lists that the map does not
// copy. The reference's file lists the tables of every step (customers,
// EAV, URL rewrites, ...); the steps shiplog does not run copy nothing, so
// nothing of theirs can diverge: one warning names them, and they get no
// change log.
var errLoggedNotCopied = errors.New("listed in the deltalog file but not copied by the map")

// notCopied takes the tables the deltalog file lists but the map does not
// copy out of problems, and returns their names, sorted.
func notCopied(problems map[string]error) []string {
	var out []string
	for t, e := range problems {
		if errors.Is(e, errLoggedNotCopied) {
			out = append(out, t)
			delete(problems, t)
		}
	}
	sort.Strings(out)
	return out
}

func (r *Runtime) installer() *deltalog.Installer {
	return &deltalog.Installer{DB: r.src, Schema: r.cfg.Source.Database}
}

// installDeltalog sets up the change logs before the copy (so every change
// made during and after it is logged). Tables that cannot be set up are an
// error unless auto.
func (r *Runtime) installDeltalog(ctx context.Context, plan *transform.Plan, auto bool) error {
	specs, problems, err := r.logSpecs(ctx, plan)
	if err != nil {
		return err
	}
	if skipped := notCopied(problems); len(skipped) > 0 {
		r.log.Warn(fmt.Sprintf("%d table(s) the deltalog file lists are not copied by the map (they belong to steps shiplog does not run, or the map ignores them): no change log for them: %s",
			len(skipped), strings.Join(skipped, ", ")), "stage", "deltalog")
	}
	r.warnUnlogged(plan, specs, r.log, "deltalog")
	failed, err := r.installer().Install(ctx, specs)
	if err != nil {
		return err
	}
	for t, e := range failed {
		problems[t] = e
	}
	if len(problems) == 0 {
		r.log.Info("change logs and triggers in place", "mode", "data", "stage", "deltalog", "tables", len(specs))
		return nil
	}
	names := make([]string, 0, len(problems))
	for t := range problems {
		names = append(names, t)
	}
	sort.Strings(names)
	var msgs []string
	for _, t := range names {
		msg := fmt.Sprintf("%s: %v", t, problems[t])
		msgs = append(msgs, msg)
		if auto {
			r.log.Warn("table not set up for delta: its changes will not be streamed", "stage", "deltalog", "table", t, "reason", problems[t].Error())
		} else {
			r.log.Error("table could not be set up for delta", "stage", "deltalog", "table", t, "reason", problems[t].Error())
		}
	}
	if auto {
		return nil
	}
	return fmt.Errorf("%w: change logs could not be set up for %s", ErrIntegrity, strings.Join(msgs, "; "))
}

// warnUnlogged warns when the deltalog file leaves copied tables of plan
// out of specs (the change logs): their changes after the copy are not
// streamed. Data mode says it when it installs the logs, and every delta
// start again, so that a daemon's log shows it.
func (r *Runtime) warnUnlogged(plan *transform.Plan, specs []deltalog.Spec, log *slog.Logger, stage string) {
	if r.cfg.Options.DeltalogFile == "" {
		return
	}
	logged := map[string]bool{}
	for _, s := range specs {
		logged[s.Table.Name] = true
	}
	var static []string
	for _, tp := range plan.Tables() {
		if !logged[tp.Source.Name] {
			static = append(static, tp.Source.Name)
		}
	}
	if len(static) > 0 {
		sort.Strings(static)
		log.Warn(fmt.Sprintf("%d copied table(s) are not in the deltalog file: changes made to them after the copy are not streamed, as with Magento's tool (add them to the file and run `migrate data --reset` to stream them; verify compares them): %s",
			len(static), strings.Join(static, ", ")), "stage", stage)
	}
}

// UninstallDeltalog removes shiplog's triggers and change-log tables.
func (r *Runtime) UninstallDeltalog(ctx context.Context) error {
	plan, _, err := r.Check(ctx)
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
	if err := r.installer().Uninstall(ctx, specs); err != nil {
		return err
	}
	r.log.Info("change logs and triggers removed", "stage", "deltalog", "tables", len(specs))
	return nil
}

// deltaTriggers streams the change logs into the destination. It stops
// with ErrTableChanged when a logged table is not the table the copy was
// planned for (a TRUNCATE or ALTER, which no trigger logs).
// guard is asked about the source's tables at most once a second, at the
// next poll: a new table has no change log, so nothing else would show it.
func (d triggerDelta) stream(ctx context.Context, run deltaRun) error {
	r, o, plan, guard, from, retryErr, log := d.r, run.o, run.plan, run.guard, run.from, run.retryErr, run.log
	if err := r.state.SetFlag(ctx, nil, flagMode, "delta"); err != nil {
		return err
	}
	specs, problems, err := r.logSpecs(ctx, plan)
	if err != nil {
		return err
	}
	notCopied(problems) // warned about by data mode; nothing of theirs is copied
	for t, e := range problems {
		log.Warn("table has no change log; its changes are not streamed", "stage", "delta", "table", t, "reason", e.Error())
	}
	r.warnUnlogged(plan, specs, log, "delta")
	fks, refresh, err := r.triggerCascades(ctx, plan, specs, log)
	if err != nil {
		return err
	}
	// Children whose key a parent's ON UPDATE CASCADE moved are read from
	// the source by the parent's new values.
	find := fks.SourceFinder(r.src)
	// A TRUNCATE or ALTER made while shiplog was stopped (or during the
	// copy) stops it here; one made while it streams, in Stream.
	ids, err := r.startIdentities(ctx, specs, log)
	var changed *deltalog.ChangedError
	if errors.As(err, &changed) {
		return r.tableChanged(ctx, changed)
	}
	if err != nil {
		return err
	}
	reader := &deltalog.Reader{DB: r.src, Schema: r.cfg.Source.Database, Specs: specs, Logger: log, Identities: ids}
	src := &triggerSource{reader: reader, from: from, every: time.Second,
		m: &mapper{plan: plan, last: from, fks: fks.Generator(), lookups: r.lookupRefresh()},
		check: func(ctx context.Context) error {
			return guard.checkSource(ctx, "found on the source")
		}}
	src.m.fks.Refresh = true
	if o.ExitWhenCaughtUp {
		marks, err := reader.Marks(ctx)
		if err != nil {
			return err
		}
		src.caughtUp = func(ctx context.Context) (bool, error) {
			pending, err := reader.Pending(ctx, marks)
			return !pending, err
		}
	}
	ctl := r.ops
	ctl.SetState(ops.StateDelta)
	ops := &loopOps{ctl: ctl, log: log, stage: "delta"}
	// Retried through a destination outage (see destRetry); the
	// checkpoints read back tell what a lost COMMIT committed.
	sink := r.deltaSink(r.writer(), nil, fks, cascade.Options{Refresh: refresh, Find: find}, r.destRetry(ctx, "run"), log)
	log.Info("streaming change logs", "stage", "delta", "tables", len(specs))
	start := time.Now()
	err = (&stream.Loop{Source: src, Sink: sink, Ops: ops}).Run(ctx)
	rate := float64(ops.applied.Load()) / max(time.Since(start).Seconds(), 1e-9)
	if errors.As(err, &changed) {
		ops.ended(ctx, err)
		return r.tableChanged(context.WithoutCancel(ctx), changed)
	}
	if err := ops.ended(ctx, err, "changes_per_second", int64(rate)); err != nil {
		return err
	}
	return src.m.partialErr(retryErr)
}

// triggerCascades compiles the source's foreign key actions for the
// change-log delta. Triggers do not fire for the rows an action changes, so
// the children of a parent whose key the log shows gone are read again from
// the source (refresh) and upserted or deleted. That needs the parent logged
// (with the referenced columns in its log key) wherever a logged child has
// a key action from it, and children whose destination key is their source
// key.
func (r *Runtime) triggerCascades(ctx context.Context, plan *transform.Plan, specs []deltalog.Spec, log *slog.Logger) (*cascade.Set, cascade.Refresher, error) {
	fks, err := r.cascades(ctx, plan, log)
	if err != nil || fks.Empty() {
		return fks, nil, err
	}
	logged := map[string]*deltalog.Spec{}
	for i := range specs {
		logged[specs[i].Table.Name] = &specs[i]
	}
	var errs []string
	for _, parent := range fks.Parents() {
		if logged[parent] != nil {
			continue
		}
		for _, child := range fks.ChildrenOf(parent) {
			if logged[child] != nil {
				errs = append(errs, fmt.Sprintf("%s: its rows change by foreign key actions of %s, which has no change log, so those changes cannot be seen; add %s to the deltalog file (or stream from the binlog)", child, parent, parent))
			}
		}
	}
	if err := fks.ParentKeyOnly(func(parent string) []string {
		s := logged[parent]
		if s == nil {
			return nil
		}
		var names []string
		for _, k := range s.Key {
			names = append(names, s.Table.Columns[k].Name)
		}
		return names
	}, func(child string) bool { return logged[child] != nil }); err != nil {
		errs = append(errs, err.Error())
	}
	byDest := map[*cdc.Table]*transform.TablePlan{}
	for _, tp := range plan.Tables() {
		byDest[tp.Dest] = tp
	}
	for _, parent := range fks.Parents() {
		for _, child := range fks.ChildrenOf(parent) {
			if tp := plan.Table(child); tp != nil && logged[child] != nil && !tp.KeyIdentity() {
				errs = append(errs, fmt.Sprintf("%s: its rows change by foreign key actions of %s and must be read again by key from the source, but the map changes its key; copy the key unchanged or stream from the binlog", child, parent))
			}
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, nil, fmt.Errorf("%w: source foreign keys the change-log delta cannot follow:\n  %s", ErrIntegrity, strings.Join(errs, "\n  "))
	}
	refresh := func(ctx context.Context, t *cdc.Table, rows [][]any) ([][]any, error) {
		tp := byDest[t]
		keys := make([][]any, len(rows))
		for i, row := range rows {
			keys[i] = t.KeyOf(row)
		}
		conn, release, err := rowio.RawConn(ctx, r.src)
		if err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		defer release()
		found, err := rowio.ReadRowsByKey(ctx, conn, tp.Source, tp.Source.Key, keys)
		if err != nil {
			return nil, err
		}
		at := make(map[string][]any, len(found))
		for _, row := range found {
			d, err := tp.Row(row)
			if err != nil {
				return nil, fmt.Errorf("table %s: a row changed by a foreign key action: %w", tp.Source.Name, err)
			}
			at[string(rowio.AppendKey(nil, t.KeyOf(d)))] = d
		}
		out := make([][]any, len(rows))
		for i, k := range keys {
			out[i] = at[string(rowio.AppendKey(nil, k))]
		}
		return out, nil
	}
	return fks, refresh, nil
}
