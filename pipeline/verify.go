package pipeline

import (
	"context"
	"errors"

	"github.com/shiplog/shiplog/transform"
	"github.com/shiplog/shiplog/verify"
)

// Verify compares the transformed source with the destination, table by
// table, through the plan the copy was made with (the one delta streams
// through). It can run while delta streams: differences are read again after
// a short delay and only those that persist are reported.
func (r *Runtime) Verify(ctx context.Context, o verify.Options) (verify.Report, error) {
	plan, err := r.verifyPlan(ctx, &o)
	if err != nil {
		return verify.Report{}, err
	}
	return verify.Run(ctx, r.src, r.dst, plan, o)
}

// verifyPlan is the plan to verify through, with o's logger set.
func (r *Runtime) verifyPlan(ctx context.Context, o *verify.Options) (*transform.Plan, error) {
	if !r.appliesToMySQL() {
		return nil, errors.New("verify compares a destination database; with sink: kafka verify the applier's destination instead")
	}
	plan, problems, err := r.streamPlan(ctx)
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
