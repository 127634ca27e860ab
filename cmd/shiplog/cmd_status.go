package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/shiplog/shiplog/pipeline"
)

// newStatusCmd is `shiplog status`.
func newStatusCmd(a *app) *cobra.Command {
	return a.runtimeCmd("status", "print mode, table progress, checkpoint, source head and lag as JSON", pipeline.Work{},
		func(ctx context.Context, r *pipeline.Runtime) error {
			s, err := r.Status(ctx)
			if err != nil {
				return err
			}
			return printJSON(a.stdout, s)
		})
}
