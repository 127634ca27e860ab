package pipeline

import (
	"context"
	"errors"
	"sort"
	"time"

	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
)

// Status is what `shiplog status` prints.
type Status struct {
	Mode           string                    `json:"mode"`
	DataDone       bool                      `json:"data_done"`
	DataFinishedAt string                    `json:"data_finished_at,omitempty"`
	Tables         []mysqlsink.TableProgress `json:"tables"`
	Checkpoint     string                    `json:"checkpoint_position,omitempty"`
	CheckpointTime *time.Time                `json:"checkpoint_event_time,omitempty"`
	SourceHead     string                    `json:"source_head_position,omitempty"`
	LagBytes       *int64                    `json:"lag_bytes,omitempty"`
	LagSeconds     *float64                  `json:"lag_seconds,omitempty"`
	// DeltaSource is "binlog" or "triggers"; with triggers, DeltaBacklog
	// counts the change-log rows not yet applied, per source table.
	DeltaSource  string           `json:"delta_source"`
	DeltaBacklog map[string]int64 `json:"delta_backlog,omitempty"`
	Warnings     []string         `json:"warnings,omitempty"`
	// Paused is set by the HTTP server's /status while POST /pause holds
	// the writer (never by `shiplog status`, another process).
	Paused bool `json:"paused,omitempty"`
	// Throttled is set by the HTTP server's /status while a destination
	// replica (throttle.replicas) lags more than throttle.max_replica_lag or
	// does not replicate, so the writer waits; ThrottleReason says which and
	// why. Replicas is the last measurement of each replica.
	Throttled      bool         `json:"throttled,omitempty"`
	ThrottleReason string       `json:"throttle_reason,omitempty"`
	Replicas       []ReplicaLag `json:"replicas,omitempty"`
	// StatusReadAt is set by the HTTP server's /status, which answers from
	// memory: when the rest was read from the servers (every second in the
	// background; a warning says when that is late).
	StatusReadAt *time.Time `json:"status_read_at,omitempty"`
	// DestinationRetrying is set by the HTTP server's /status while a
	// destination write is retried after a connection-level failure (see
	// destination.retry_for).
	DestinationRetrying *RetryStatus `json:"destination_retrying,omitempty"`
}

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
	s.DeltaSource = r.cfg.Delta.Source
	return s, r.source.status(ctx, &s)
}

// Run is data mode when not done, then delta until ctx ends.
// Rows that fail to transform do not stop it; it ends with ErrPartial then.
func (r *Runtime) Run(ctx context.Context, o DataOptions) error {
	ctx, done, err := r.serve(ctx)
	if err != nil {
		return err
	}
	defer done()
	ctl := controlFrom(ctx)
	ctl.setState(stateData)
	dataErr := r.Data(ctx, o)
	if dataErr != nil && !errors.Is(dataErr, ErrPartial) {
		ctl.endLoop(true)
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
