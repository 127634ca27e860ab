package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// stepsTable records, per mode, the stages of migration steps that finished
// (step.Run skips a step whose data stage is recorded on the next run of
// its mode).
const stepsTable = "_shiplog_steps"

// StepDone returns when stage of step finished in mode, and whether it has.
func (s *State) StepDone(ctx context.Context, mode, step, stage string) (time.Time, bool, error) {
	var at string
	err := s.db.QueryRowContext(ctx, "SELECT done_at FROM "+s.table(stepsTable)+" WHERE mode = ? AND step = ? AND stage = ?", mode, step, stage).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read progress of step %s (%s mode): %w", step, mode, err)
	}
	t, err := time.ParseInLocation(stateTime, at, time.UTC)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read progress of step %s (%s mode): done_at %q: %w", step, mode, at, err)
	}
	return t, true, nil
}

// MarkStepDone records that stage of step finished in mode at at.
func (s *State) MarkStepDone(ctx context.Context, mode, step, stage string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, "REPLACE INTO "+s.table(stepsTable)+" (mode, step, stage, done_at) VALUES (?, ?, ?, ?)",
		mode, step, stage, at.UTC().Format(stateTime))
	if err != nil {
		return fmt.Errorf("record progress of step %s (%s mode): %w", step, mode, err)
	}
	return nil
}

// ResetSteps forgets the finished stages of mode's steps: the next run of
// the mode runs every step.
func (s *State) ResetSteps(ctx context.Context, mode string) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM "+s.table(stepsTable)+" WHERE mode = ?", mode); err != nil {
		return fmt.Errorf("reset %s: %w", stepsTable, err)
	}
	return nil
}

// NoteRunStep adds step to the steps run id ran (skipped false) or skipped,
// as it happens: a run killed midway names the step it was in.
func (s *State) NoteRunStep(ctx context.Context, id int64, step string, skipped bool) error {
	col := "steps_ran"
	if skipped {
		col = "steps_skipped"
	}
	// Once per step (a retried call after a lost COMMIT adds nothing).
	if _, err := s.db.ExecContext(ctx, "UPDATE "+s.table("_shiplog_runs")+" SET "+col+" = CONCAT_WS(',', "+col+", ?) WHERE id = ? AND NOT FIND_IN_SET(?, IFNULL("+col+", ''))", step, id, step); err != nil {
		return fmt.Errorf("record step %s of run %d: %w", step, id, err)
	}
	return nil
}
