package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"time"

	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
)

// recordedCommands are the commands (paths below the root) that change data
// and are recorded in _shiplog_runs, with whether they serve HTTP (their
// control, and so their metrics, are set up by the recorder).
var recordedCommands = map[string]bool{
	"migrate settings": false,
	"migrate data":     false,
	"migrate delta":    true,
	"run":              true,
	"apply":            false,
	"cutover":          false,
}

// RecordedCommand reports whether command (e.g. "migrate data") is recorded
// in _shiplog_runs.
func RecordedCommand(command string) bool {
	_, ok := recordedCommands[command]
	return ok
}

// RunRecorder records one command in _shiplog_runs, as Frappe's Data
// Migration Run: a 'started' row when it begins, its outcome and counts when
// it ends.
//
// Counts: inserted/updated/deleted are the changes the stream applied (the
// shiplog_changes_applied_total metric of the command's control, by op),
// plus, as inserted, the rows the snapshot copied (growth of
// _shiplog_tables.rows_copied less the table's new failed rows; a table
// whose progress restarted counts all its rows). Retries of failed rows,
// settings merges and apply --from-kafka are not counted. failed_rows is the growth of _shiplog_failed_rows over the run
// (never negative; rows that failed again are not counted twice).
//
// A run killed without a chance to finish (SIGKILL, crash) stays 'started'.
// Each run holds a destination named lock while it lives; when a recorded
// command starts, every other 'started' run whose lock is free (its process,
// and so its connection, is gone) is marked 'failed' with error "interrupted".
// Runs of live processes (cutover while a daemon streams) are left alone.
type RunRecorder struct {
	r        *Runtime
	id       int64
	conn     *sql.Conn
	ctl      *control
	done     func()
	failed0  map[string]int64
	progress map[string]mysqlsink.TableProgress
}

// StartRun records the start of command (mode is its last word) and returns
// the context the command must run in (it carries the control whose metrics
// the run counts). Finish must be called with the command's result.
func (r *Runtime) StartRun(ctx context.Context, command, mode string) (context.Context, *RunRecorder, error) {
	rec := &RunRecorder{r: r, done: func() {}}
	var err error
	if rec.failed0, err = r.state.FailureCounts(ctx); err != nil {
		return ctx, nil, err
	}
	if rec.progress, err = r.state.Progress(ctx); err != nil {
		return ctx, nil, err
	}
	if rec.conn, err = r.dst.Conn(ctx); err != nil {
		return ctx, nil, err
	}
	if rec.id, err = r.state.StartRun(ctx, rec.conn, command, mode, time.Now()); err != nil {
		rec.conn.Close()
		return ctx, nil, err
	}
	if n, err := r.state.InterruptRuns(ctx, rec.id); err != nil {
		r.log.Warn("could not check earlier runs", "stage", "runs", "error", err.Error())
	} else if n > 0 {
		r.log.Warn("earlier runs did not finish; marked failed (interrupted)", "stage", "runs", "runs", n)
	}
	if controlFrom(ctx) == nil {
		if recordedCommands[command] {
			// Start the HTTP server now, as the command would: its control
			// is then this one.
			var done func()
			if ctx, done, err = r.serve(ctx); err != nil {
				rec.Finish(ctx, err)
				return ctx, nil, err
			}
			rec.done = done
		} else {
			ctx = withControl(ctx, newControl(r.cfg.Throttle.MaxBatchChanges))
		}
	}
	rec.ctl = controlFrom(ctx)
	return ctx, rec, nil
}

// Finish records the outcome of the run: success (nil, or stopped by
// SIGINT/SIGTERM), partial (ErrPartial) or failed. Errors recording it are
// logged, not returned: the command's own result matters more.
func (rec *RunRecorder) Finish(ctx context.Context, cmdErr error) {
	if rec == nil {
		return
	}
	rec.done()
	rec.done = func() {}
	ctx = context.WithoutCancel(ctx)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	defer rec.conn.Close()
	run := mysqlsink.Run{ID: rec.id, Status: mysqlsink.RunSuccess}
	switch {
	case cmdErr == nil:
	case errors.Is(cmdErr, ErrPartial):
		run.Status = mysqlsink.RunPartial
	case errors.Is(cmdErr, context.Canceled):
		// A clean stop by SIGINT/SIGTERM.
	default:
		run.Status = mysqlsink.RunFailed
	}
	if cmdErr != nil && run.Status != mysqlsink.RunSuccess {
		msg := cmdErr.Error()
		run.Error = &msg
	}
	run.Inserted, run.Updated, run.Deleted = rec.ctl.appliedByOp()
	failed, ferr := rec.r.state.FailureCounts(ctx)
	if ferr == nil {
		var before, after int64
		for _, n := range rec.failed0 {
			before += n
		}
		for _, n := range failed {
			after += n
		}
		run.FailedRows = max(after-before, 0)
	}
	if end, err := rec.r.state.Progress(ctx); err == nil {
		for table, p := range end {
			copied := p.Rows
			if before, ok := rec.progress[table]; ok && p.Rows >= before.Rows {
				copied -= before.Rows
			}
			if copied > 0 && ferr == nil {
				// rows_copied counts the rows read, failed ones included.
				copied = max(copied-max(failed[table]-rec.failed0[table], 0), 0)
			}
			run.Inserted += copied
		}
	}
	if err := rec.r.state.FinishRun(ctx, run); err != nil {
		rec.r.log.Warn("could not record the end of the run", "stage", "runs", "error", err.Error())
	}
}

// Runs returns the recorded runs, newest first (limit 0: all).
func (r *Runtime) Runs(ctx context.Context, limit int) ([]mysqlsink.Run, error) {
	return r.state.Runs(ctx, limit)
}

// appliedByOp sums shiplog_changes_applied_total over tables, by op.
func (c *control) appliedByOp() (inserted, updated, deleted int64) {
	if c == nil {
		return 0, 0, 0
	}
	families, err := c.reg.Gather()
	if err != nil {
		return 0, 0, 0
	}
	for _, mf := range families {
		if mf.GetName() != "shiplog_changes_applied_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			n := int64(m.GetCounter().GetValue())
			for _, l := range m.GetLabel() {
				if l.GetName() != "op" {
					continue
				}
				switch l.GetValue() {
				case "insert":
					inserted += n
				case "update":
					updated += n
				case "delete":
					deleted += n
				}
			}
		}
	}
	return inserted, updated, deleted
}
