package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shiplog/shiplog/pipeline"
	"github.com/shiplog/shiplog/transform"
)

// newCheckCmd is `shiplog check`: the integrity check alone.
func newCheckCmd(a *app) *cobra.Command {
	return a.runtimeCmd("check", "run the integrity check and print its problems; exit 1 on errors", pipeline.Work{},
		func(ctx context.Context, r *pipeline.Runtime) error {
			problems, err := r.CheckSteps(ctx)
			if err != nil {
				return err
			}
			return printProblems(a.stdout, problems)
		})
}

// printProblems prints the integrity check grouped by severity, then area,
// then document; it returns ErrIntegrity when there are errors.
func printProblems(w io.Writer, problems []transform.Problem) error {
	var errs int
	for _, sev := range []transform.Severity{transform.Error, transform.Warning} {
		var of []transform.Problem
		for _, p := range problems {
			if p.Severity == sev {
				of = append(of, p)
			}
		}
		if len(of) == 0 {
			continue
		}
		if sev == transform.Error {
			errs = len(of)
		}
		sort.SliceStable(of, func(i, j int) bool {
			if of[i].Area != of[j].Area {
				return of[i].Area > of[j].Area // source first
			}
			return of[i].Table < of[j].Table
		})
		fmt.Fprintf(w, "%ss (%d):\n", strings.ToUpper(sev.String()[:1])+sev.String()[1:], len(of))
		area := ""
		for _, p := range of {
			if p.Area != area {
				area = p.Area
				fmt.Fprintf(w, "  %s:\n", area)
			}
			fmt.Fprintf(w, "    %s\n", p.Msg)
		}
	}
	if errs > 0 {
		return fmt.Errorf("%w: %d error(s)", pipeline.ErrIntegrity, errs)
	}
	fmt.Fprintln(w, "integrity check passed")
	return nil
}
