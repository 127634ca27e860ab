package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/shiplog/shiplog/pipeline"
)

// newDeltalogCmd is `shiplog deltalog`: the change logs of delta.source:
// triggers.
func newDeltalogCmd(a *app) *cobra.Command {
	deltalogCmd := &cobra.Command{Use: "deltalog", Short: "manage the m2_cl_* change logs of delta.source: triggers", Args: noArgs}
	deltalogCmd.AddCommand(newDeltalogUninstallCmd(a))
	return deltalogCmd
}

// newDeltalogUninstallCmd is `shiplog deltalog uninstall`.
func newDeltalogUninstallCmd(a *app) *cobra.Command {
	return a.runtimeCmd("uninstall", "remove shiplog's triggers and m2_cl_* change-log tables from the source", pipeline.Work{},
		func(ctx context.Context, r *pipeline.Runtime) error {
			return r.UninstallDeltalog(ctx)
		})
}
