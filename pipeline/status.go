package pipeline

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/shiplog/shiplog/binlog"
	"github.com/shiplog/shiplog/ops"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
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
	s.Tables = make([]mysqlsink.TableProgress, 0, len(progress))
	for _, p := range progress {
		s.Tables = append(s.Tables, p)
	}
	sort.Slice(s.Tables, func(i, j int) bool { return s.Tables[i].Table < s.Tables[j].Table })
	ckpt, ckptTime, ok, err := r.state.Checkpoint(ctx)
	if err != nil {
		return s, err
	}
	s.DeltaSource = r.cfg.Delta.Source
	if r.triggers() {
		plan, _, err := r.streamPlan(ctx)
		if err != nil {
			return s, err
		}
		specs, _, err := r.logSpecs(plan)
		if err != nil {
			return s, err
		}
		if s.DeltaBacklog, err = r.installer().Backlog(ctx, specs); err != nil {
			s.Warnings = append(s.Warnings, "change logs: "+err.Error())
		}
		if ok {
			s.Checkpoint = ckpt.String()
		}
		return s, nil
	}
	flavor, err := binlog.CheckServer(ctx, r.src)
	if err != nil {
		s.Warnings = append(s.Warnings, "source: "+err.Error())
	}
	head, err := binlog.HeadPosition(ctx, r.src, flavor)
	if err != nil {
		s.Warnings = append(s.Warnings, "source head: "+err.Error())
	} else {
		s.SourceHead = head.String()
	}
	if !ok {
		return s, nil
	}
	s.Checkpoint = ckpt.String()
	if !ckptTime.IsZero() {
		t := ckptTime
		s.CheckpointTime = &t
	}
	if s.SourceHead != "" {
		if n, err := binlog.LagBytes(ctx, r.src, ckpt, head); err == nil {
			s.LagBytes = &n
			var secs float64
			if n > 0 && !ckptTime.IsZero() {
				secs = time.Since(ckptTime).Seconds()
			}
			if n == 0 || !ckptTime.IsZero() {
				s.LagSeconds = &secs
			}
		} else {
			s.Warnings = append(s.Warnings, "lag: "+err.Error())
		}
	}
	return s, nil
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
