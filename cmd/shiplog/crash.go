package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// A Go program that crashes (a panic nobody recovers, in any goroutine, or a
// fatal runtime error such as "out of memory" or a stack overflow) exits 2,
// the code shiplog gives a bad configuration. Unless the user sets
// GOTRACEBACK, shiplog asks the runtime to crash instead: it prints the trace
// and dies of SIGABRT (134 in a shell), which no configuration error does.
// The core file that SIGABRT would write is turned off (it would be as large
// as the heap); GOTRACEBACK=crash set by the user keeps the limit as it is.
func crashBySignal() {
	if os.Getenv("GOTRACEBACK") != "" {
		return
	}
	debug.SetTraceback("crash")
	noCoreFile()
}

// crashToFile also writes a crash's trace to the log file, where an operator
// reading the log looks for why the process ended.
func crashToFile(f *os.File) {
	_ = debug.SetCrashOutput(f, debug.CrashOptions{})
}

func init() { extraCommands = append(extraCommands, newCrashCmd) }

// newCrashCmd crashes on purpose, so tests (and operators checking their
// supervisor) can see how a crash ends the process. Hidden.
func newCrashCmd(_ *globals, _ io.Writer) *cobra.Command {
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
