package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog/shiplog/pipeline"
	"github.com/shiplog/shiplog/verify"
)

// newVerifyCmd is `shiplog verify`: the transformed source compared with the
// destination.
func newVerifyCmd(a *app) *cobra.Command {
	var vo verify.Options
	var verifyFormat string
	verifyCmd := &cobra.Command{
		Use:   "verify",
		Short: "compare the transformed source with the destination, chunk by chunk; exit 1 when they differ",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if verifyFormat != "text" && verifyFormat != "json" {
				return usageError{fmt.Errorf("--format: want text or json, not %q", verifyFormat)}
			}
			if vo.ChunkRows < 0 {
				return usageError{fmt.Errorf("--chunk-rows: want a positive number, not %d", vo.ChunkRows)}
			}
			return a.withRuntime(cmd, func(ctx context.Context, r *pipeline.Runtime) error {
				rep, err := r.Verify(ctx, vo)
				if err != nil {
					return err
				}
				if verifyFormat == "json" {
					if err := printJSON(a.stdout, rep); err != nil {
						return err
					}
				} else {
					printVerify(a.stdout, rep)
				}
				if n := rep.Differences(); n > 0 {
					return fmt.Errorf("%w: %d difference(s)", verify.ErrDifferent, n)
				}
				return nil
			})
		},
	}
	vf := verifyCmd.Flags()
	vf.StringSliceVar(&vo.Tables, "tables", nil, "only these tables (source or destination names, comma-separated)")
	vf.BoolVar(&vo.OnlyPKs, "only-pks", false, "compare keys only (missing and extra rows), not column values")
	vf.IntVar(&vo.ChunkRows, "chunk-rows", 1000, "source rows per chunk")
	vf.DurationVar(&vo.Recheck, "recheck", 2*time.Second, "delay before differences are read again (up to 3 times) while delta streams; negative: no recheck")
	vf.StringVar(&verifyFormat, "format", "text", "text (for a person) or json")
	return verifyCmd
}

// printVerify prints a verify report for a person: one line per table, each
// difference, and the summary.
func printVerify(w io.Writer, rep verify.Report) {
	for _, t := range rep.Tables {
		name := t.Source
		if t.Destination != "" && t.Destination != t.Source {
			name += " -> " + t.Destination
		}
		status := "ok"
		if len(t.Differences) > 0 {
			var parts []string
			for _, k := range verify.Kinds {
				if n := t.Counts[k]; n > 0 {
					parts = append(parts, fmt.Sprintf("%d %s", n, k))
				}
			}
			status = strings.Join(parts, ", ")
		}
		fmt.Fprintf(w, "%s: %d rows, %d chunks: %s\n", name, t.Rows, t.Chunks, status)
		for _, d := range t.Differences {
			line := fmt.Sprintf("  %-9s %s", d.Kind, d.KeyString(t.KeyColumns))
			if len(d.Columns) > 0 {
				line += " (" + strings.Join(d.Columns, ", ") + ")"
			}
			if d.Reason != "" {
				line += ": " + d.Reason
			}
			fmt.Fprintln(w, line)
		}
	}
	fmt.Fprintln(w, "verify:", rep.Summary())
}
