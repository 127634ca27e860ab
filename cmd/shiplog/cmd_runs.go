package main

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog/shiplog/pipeline"
)

// recordedRuns are the commands (paths below the root) that change data and
// are recorded in _shiplog_runs: the destination lock each holds while it
// runs, and whether it serves status and control over HTTP (run, migrate
// delta). The stream commands hold the stream lock for their lifetime: one
// writer per destination database. Cutover runs beside a streaming daemon,
// so it takes none; apply --from-kafka takes an applier lock instead, shared
// by the members of one consumer group (see State.TakeApplyLock).
// Read-only commands are not recorded at all.
var recordedRuns = map[string]pipeline.RunSpec{
	"migrate settings": {Lock: pipeline.StreamLock},
	"migrate data":     {Lock: pipeline.StreamLock},
	"migrate delta":    {Lock: pipeline.StreamLock, Serve: true},
	"run":              {Lock: pipeline.StreamLock, Serve: true},
	"apply":            {Lock: pipeline.ApplyLock, Line: "apply --from-kafka"},
	"cutover":          {},
}

// newRunsCmd is `shiplog runs`: the recorded runs of the commands that change
// data, newest first.
func newRunsCmd(a *app) *cobra.Command {
	var limit int
	var format string
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "list the recorded runs (migrate settings/data/delta, run, apply, cutover), newest first",
		Long: `runs lists _shiplog_runs of the destination: one row per command that
changes data, with its status (started, success, partial, failed), times and
counts, exit status, the migration steps it ran (and skipped, as done by an
earlier run) and the error it ended with. A run still 'started' is
live, or was killed; the next recorded command marks killed ones failed with
error "interrupted". A run that ended while the destination was unreachable
keeps its end in a local file (the user's cache folder, shiplog/runs) until
the next recorded command writes it; runs shows it meanwhile.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return usageError{fmt.Errorf("--format: want table or json, not %q", format)}
			}
			if limit < 0 {
				return usageError{fmt.Errorf("--limit: want 0 (all) or more, not %d", limit)}
			}
			return a.withRuntime(cmd, func(ctx context.Context, r *pipeline.Runtime) error {
				runs, err := r.Runs(ctx, limit)
				if err != nil {
					return err
				}
				if format == "json" {
					return printJSON(a.stdout, runs)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tCOMMAND\tSTATUS\tEXIT\tSTARTED\tDURATION\tINSERTED\tUPDATED\tDELETED\tFAILED ROWS\tSTEPS\tERROR")
				for _, run := range runs {
					dur := "-"
					if run.EndedAt != nil {
						dur = run.EndedAt.Sub(run.StartedAt).Round(time.Millisecond).String()
					}
					msg := ""
					if run.Error != nil {
						msg = strings.Join(strings.Fields(*run.Error), " ")
						if len(msg) > 80 {
							msg = msg[:77] + "..."
						}
					}
					exit := "-"
					if run.ExitCode != nil {
						exit = strconv.Itoa(*run.ExitCode)
					}
					steps := strings.Join(run.StepsRan, ",")
					if len(run.StepsSkipped) > 0 {
						steps = strings.TrimPrefix(steps+" skipped:"+strings.Join(run.StepsSkipped, ","), " ")
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", run.ID, run.Command, run.Status, exit,
						run.StartedAt.Format("2006-01-02 15:04:05Z"), dur, run.Inserted, run.Updated, run.Deleted, run.FailedRows, cmp.Or(steps, "-"), msg)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "at most this many runs (0: all)")
	cmd.Flags().StringVar(&format, "format", "table", "table (for a person) or json")
	return cmd
}
