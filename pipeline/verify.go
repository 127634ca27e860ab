package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/shiplog/shiplog/transform"
	"github.com/shiplog/shiplog/verify"
)

// Verify compares the transformed source with the destination, table by
// table, through the plan the copy was made with (the one delta streams
// through). It can run while delta streams: differences are read again after
// a short delay and only those that persist are reported. The source's
// tables are listed too: each one that the map does not ignore and that the
// plan does not replicate (created after the copy, say) is a missing table,
// and so is a planned table the destination lacks.
func (r *Runtime) Verify(ctx context.Context, o verify.Options) (verify.Report, error) {
	plan, err := r.verifyPlan(ctx, &o)
	if err != nil {
		return verify.Report{}, err
	}
	named := o.Tables
	var planned, other []string
	for _, n := range named {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if plannedName(plan, n) {
			planned = append(planned, n)
		} else {
			other = append(other, n)
		}
	}
	rep := verify.Report{Counts: map[verify.Kind]int{}, OnlyPKs: o.OnlyPKs}
	if len(named) == 0 || len(planned) > 0 {
		o.Tables = planned
		if rep, err = verify.Run(ctx, r.src, r.dst, plan, o); err != nil {
			return rep, err
		}
	}
	// Named tables that are not planned must be unreplicated source tables.
	before := len(rep.Tables)
	if err := r.addUnreplicated(ctx, plan, &rep, named); err != nil {
		return rep, err
	}
	for _, n := range other {
		found := false
		for _, t := range rep.Tables[before:] {
			found = found || strings.EqualFold(t.Source, n)
		}
		if !found {
			return rep, fmt.Errorf("verify: table %q is not a planned table (source or destination name) nor a source table the map does not ignore", n)
		}
	}
	return rep, nil
}

// plannedName reports whether name is the source or destination name of a
// planned table.
func plannedName(plan *transform.Plan, name string) bool {
	for _, tp := range plan.Tables() {
		if strings.EqualFold(tp.Dest.Name, name) || strings.EqualFold(tp.Source.Name, name) {
			return true
		}
	}
	return false
}

// verifyPlan is the plan to verify through, with o's logger set.
func (r *Runtime) verifyPlan(ctx context.Context, o *verify.Options) (*transform.Plan, error) {
	if err := r.dest.rows(); err != nil {
		return nil, fmt.Errorf("verify compares a destination database: %w; verify the applier's destination instead", err)
	}
	if err := r.state.CheckNoDeferredIndexes(ctx); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	plan, problems, err := r.streamPlan(ctx)
	if err == nil {
		plan, problems, err = r.withStepStreams(ctx, plan, problems)
	}
	if err != nil {
		return nil, err
	}
	if plan == nil {
		if err := r.reportProblems(problems, false); err != nil {
			return nil, err
		}
		return nil, errors.New("verify: no plan")
	}
	if o.Logger == nil {
		o.Logger = r.log.With("mode", "verify")
	}
	return plan, nil
}
