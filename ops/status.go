package ops

import (
	"time"

	"github.com/shiplog/shiplog/state"
)

// Status is what `shiplog status` prints and the HTTP server's /status
// serves. pipeline reads it from the servers; the server adds the live
// fields from its Control (Paused ... DestinationRetrying).
type Status struct {
	Mode           string                `json:"mode"`
	DataDone       bool                  `json:"data_done"`
	DataFinishedAt string                `json:"data_finished_at,omitempty"`
	Tables         []state.TableProgress `json:"tables"`
	Checkpoint     string                `json:"checkpoint_position,omitempty"`
	CheckpointTime *time.Time            `json:"checkpoint_event_time,omitempty"`
	SourceHead     string                `json:"source_head_position,omitempty"`
	LagBytes       *int64                `json:"lag_bytes,omitempty"`
	LagSeconds     *float64              `json:"lag_seconds,omitempty"`
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
