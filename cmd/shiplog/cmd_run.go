package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/shiplog/shiplog/pipeline"
)

// newRunCmd is `shiplog run`: migrate data when not done, then migrate delta,
// in one process.
func newRunCmd(a *app) *cobra.Command {
	var auto bool
	runCmd := a.runtimeCmd("run", "data mode if not done, then delta, as one daemon", pipeline.Work{Copy: true, Stream: true},
		func(ctx context.Context, r *pipeline.Runtime) error {
			return r.Run(ctx, pipeline.DataOptions{Auto: auto})
		})
	runCmd.Flags().BoolVar(&auto, "auto", false, "continue when the integrity check finds errors")
	return runCmd
}
