// Command shiplog copies a live MySQL/MariaDB database into another one and keeps
// it in step from the binlog. This package parses and wires; behaviour lives in
// the packages. Each command is built in its own file (cmd_*.go) and registered
// in newRoot; what they share (global flags, log, runtime, exit codes) is in
// app.go.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// GC tuning unless the user sets GOGC or GOMEMLIMIT: a collection at every
// 400% heap growth instead of 100% (the stream allocates a lot of short-lived
// row values; at 100% the collector took a third of its CPU), under a soft
// limit that brings collections forward as the heap nears it, so peak memory
// stays bounded.
const (
	gcPercent   = 400
	memoryLimit = 176 << 20
)

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	tuneGC()
	crashBySignal()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	a := &app{stdout: stdout, stderr: stderr}
	root := newRoot(a)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if a.stopProfiles != nil {
		a.stopProfiles()
	}
	if a.closeLog != nil {
		defer a.closeLog()
	}
	code := exitCodeOf(ctx, err)
	if code == exitOK {
		return exitOK
	}
	if a.log != nil {
		a.log.Error(err.Error())
	}
	fmt.Fprintln(stderr, "shiplog:", err)
	return code
}

// newRoot is the command tree: the global flags, and every command.
func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "shiplog",
		Short:         "Copy a live MySQL/MariaDB database into another and keep it in step from the binlog",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if err := a.setupLog(); err != nil {
				return err
			}
			return a.startProfiles()
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	a.addFlags(root.PersistentFlags())
	root.AddCommand(
		newMigrateCmd(a), // settings, data, delta
		newRunCmd(a),
		newStatusCmd(a),
		newCheckCmd(a),
		newDeltalogCmd(a), // uninstall
		newApplyCmd(a),
		newReplayCmd(a),
		newVerifyCmd(a),
		newCutoverCmd(a),
		newRunsCmd(a),
		newCrashCmd(a), // hidden
	)
	return root
}
