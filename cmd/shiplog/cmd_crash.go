package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// newCrashCmd crashes on purpose, so tests (and operators checking their
// supervisor) can see how a crash ends the process. Hidden.
func newCrashCmd(*app) *cobra.Command {
	return &cobra.Command{
		Use:    "crash panic|fatal",
		Short:  "crash on purpose: a panic in a goroutine, or a fatal runtime error (stack overflow)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			switch args[0] {
			case "panic":
				done := make(chan struct{})
				go func() {
					defer close(done)
					panic("shiplog crash: on purpose")
				}()
				<-done
			case "fatal":
				debug.SetMaxStack(1 << 20)
				fmt.Println(recurse(0))
			}
			return usageError{fmt.Errorf("crash %q: want panic or fatal", args[0])}
		},
	}
}

func recurse(n int) int { return recurse(n+1) + 1 }
