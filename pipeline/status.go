package pipeline

import (
	"context"
	"errors"
	"sort"

	"github.com/shiplog/shiplog/ops"
	"github.com/shiplog/shiplog/state"
)

// Status is what `shiplog status` prints and the HTTP server's /status
// serves (see ops.Status).
type Status = ops.Status

// Status reads the recorded state and the source's head position.
func (r *Runtime) Status(ctx context.Context) (Status, error) {
	var s Status
	var err error
	if s.Mode, err = r.state.Flag(ctx, flagMode); err != nil {
		return s, err
	}
	if s.Mode == "" {
		s.Mode = "none"
	}
	if s.DataFinishedAt, err = r.state.Flag(ctx, flagDataDone); err != nil {
		return s, err
	}
	s.DataDone = s.DataFinishedAt != ""
	progress, err := r.state.Progress(ctx)
	if err != nil {
		return s, err
	}
	s.Tables = make([]state.TableProgress, 0, len(progress))
	for _, p := range progress {
		s.Tables = append(s.Tables, p)
	}
	sort.Slice(s.Tables, func(i, j int) bool { return s.Tables[i].Table < s.Tables[j].Table })
	s.DeltaSource = r.cfg.Delta.Source
	return s, r.source.status(ctx, &s)
}

// Run is data mode when not done, then delta until ctx ends.
// Rows that fail to transform do not stop it; it ends with ErrPartial then.
func (r *Runtime) Run(ctx context.Context, o DataOptions) error {
	ctl := r.ops
	ctl.SetState(ops.StateData)
	dataErr := r.Data(ctx, o)
	if dataErr != nil && !errors.Is(dataErr, ErrPartial) {
		ctl.EndLoop(true)
	}
	if dataErr != nil && !errors.Is(dataErr, ErrPartial) {
		return dataErr
	}
	if ctx.Err() != nil {
		return dataErr
	}
	if err := r.Delta(ctx, DeltaOptions{}); err != nil {
		return err
	}
	return dataErr
}
