//go:build !unit

package state_test

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestStepProgressAndRunSteps: a step's finished stage is recorded per mode
// and forgotten per mode; run tables of older versions (no exit_code, no
// steps columns) gain the steps columns, and a run's steps ran and skipped
// read back in the order noted.
func TestStepProgressAndRunSteps(t *testing.T) {
	t.Parallel()
	db, st := testDestination(t,
		"CREATE TABLE _shiplog_runs (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, command VARCHAR(64) NOT NULL, mode VARCHAR(32) NOT NULL,"+
			" started_at DATETIME(6) NOT NULL, ended_at DATETIME(6) NULL, status ENUM('started','success','partial','failed') NOT NULL,"+
			" inserted BIGINT NOT NULL DEFAULT 0, updated BIGINT NOT NULL DEFAULT 0, deleted BIGINT NOT NULL DEFAULT 0,"+
			" failed_rows BIGINT NOT NULL DEFAULT 0, error TEXT NULL, KEY started_at (started_at)) DEFAULT CHARSET=utf8mb4",
		"INSERT INTO _shiplog_runs (command, mode, started_at, status) VALUES ('migrate data', 'data', '2025-01-01 00:00:00', 'success')")
	ctx := context.Background()
	if _, done, err := st.StepDone(ctx, "settings", "Stores", "data"); err != nil || done {
		t.Fatalf("before any record: done %v (%v)", done, err)
	}
	at := time.Date(2026, 3, 4, 5, 6, 7, 890000000, time.UTC)
	for _, mode := range []string{"settings", "data"} {
		if err := st.MarkStepDone(ctx, mode, "Stores", "data", at); err != nil {
			t.Fatal(err)
		}
	}
	// Recorded again (a step that always runs): the later time.
	if err := st.MarkStepDone(ctx, "settings", "Stores", "data", at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, done, err := st.StepDone(ctx, "settings", "Stores", "data"); err != nil || !done || !got.Equal(at.Add(time.Hour)) {
		t.Fatalf("settings Stores: %v %v (%v), want done at %v", got, done, err, at.Add(time.Hour))
	}
	if _, done, _ := st.StepDone(ctx, "settings", "Stores", "volume"); done {
		t.Fatal("another stage of a recorded step reads as done")
	}
	if err := st.ResetSteps(ctx, "data"); err != nil {
		t.Fatal(err)
	}
	if _, done, _ := st.StepDone(ctx, "data", "Stores", "data"); done {
		t.Fatal("ResetSteps(data) kept the data mode's record")
	}
	if _, done, _ := st.StepDone(ctx, "settings", "Stores", "data"); !done {
		t.Fatal("ResetSteps(data) forgot the settings mode's record")
	}

	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	id, err := st.StartRun(ctx, conn, "migrate settings", "settings", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []struct {
		step    string
		skipped bool
	}{{"Settings", false}, {"Stores", true}, {"Eav", false}} {
		if err := st.NoteRunStep(ctx, id, n.step, n.skipped); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := st.Runs(ctx, 0)
	if err != nil || len(runs) != 2 {
		t.Fatalf("runs: %+v (%v)", runs, err)
	}
	if r := runs[0]; r.ID != id || !slices.Equal(r.StepsRan, []string{"Settings", "Eav"}) || !slices.Equal(r.StepsSkipped, []string{"Stores"}) {
		t.Fatalf("run %d: ran %q skipped %q, want [Settings Eav] and [Stores]", r.ID, r.StepsRan, r.StepsSkipped)
	}
	if r := runs[1]; len(r.StepsRan) != 0 || len(r.StepsSkipped) != 0 {
		t.Fatalf("a run of an older version: ran %q skipped %q, want none", r.StepsRan, r.StepsSkipped)
	}
}
