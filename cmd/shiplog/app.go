package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/ops"
	"github.com/shiplog/shiplog/pipeline"
	kafkasink "github.com/shiplog/shiplog/sink/kafka"
	"github.com/shiplog/shiplog/transform"
)

// Exit codes. A crash is none of them: it dies of SIGABRT (see crash.go).
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	// exitPartial: the run finished, but some rows could not be transformed;
	// they are recorded and the next run retries them.
	exitPartial = 3
	// exitLocked: refused to start, another shiplog holds the destination's
	// stream lock (nothing was written).
	exitLocked = 4
)

// usageError marks errors that are the user's invocation or configuration.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// exitCodeOf is the exit status of a command that ended with err, run in
// ctx (ended by SIGINT/SIGTERM: a clean stop).
func exitCodeOf(ctx context.Context, err error) int {
	// Stopped by SIGINT/SIGTERM before or while starting up: a clean stop too.
	if err == nil || (ctx.Err() != nil && errors.Is(err, context.Canceled)) {
		return exitOK
	}
	var ue usageError
	var ce *config.Error
	var fe *transform.FileError
	switch {
	case errors.As(err, &ue) || errors.As(err, &ce) || errors.As(err, &fe) || errors.Is(err, pipeline.ErrPrivileges) || errors.Is(err, kafkasink.ErrACL):
		return exitUsage
	case errors.Is(err, pipeline.ErrPartial):
		return exitPartial
	case errors.Is(err, pipeline.ErrStreamLocked):
		return exitLocked
	}
	return exitFailure
}

// app is what every command shares: the global flags, the log, the output
// stream, and opening the runtime for the command's work.
type app struct {
	configPath string
	verbose    int
	quiet      bool
	logFile    string
	log        *slog.Logger
	closeLog   func()
	// cpuProfile and memProfile are pprof outputs (hidden flags, for
	// profiling); stopProfiles writes them.
	cpuProfile, memProfile string
	stopProfiles           func()

	stdout, stderr io.Writer
}

// addFlags registers the global flags, on the root's persistent flags.
func (a *app) addFlags(pf *pflag.FlagSet) {
	pf.StringVar(&a.configPath, "config", "", "configuration file (YAML, TOML, or Magento config.xml)")
	pf.CountVarP(&a.verbose, "verbose", "v", "more log output (-v debug, -vv debug with source lines)")
	pf.BoolVarP(&a.quiet, "quiet", "q", false, "errors only")
	pf.StringVar(&a.logFile, "log-file", "", "also write the log to this file")
	pf.StringVar(&a.cpuProfile, "cpuprofile", "", "write a pprof CPU profile of the command to this file")
	pf.StringVar(&a.memProfile, "memprofile", "", "write a pprof heap (allocations) profile at the end to this file")
	_ = pf.MarkHidden("cpuprofile")
	_ = pf.MarkHidden("memprofile")
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s: unexpected argument %q", cmd.CommandPath(), args[0])}
	}
	return nil
}

// printJSON writes v as indented JSON, the form of every command's JSON output.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (a *app) setupLog() error {
	level := slog.LevelInfo
	switch {
	case a.quiet:
		level = slog.LevelError
	case a.verbose >= 1:
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level, AddSource: a.verbose >= 2}
	handlers := []slog.Handler{slog.NewTextHandler(a.stderr, opts)}
	if a.logFile != "" {
		f, err := os.OpenFile(a.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return usageError{fmt.Errorf("--log-file: %w", err)}
		}
		a.closeLog = func() { f.Close() }
		crashToFile(f)
		handlers = append(handlers, slog.NewTextHandler(f, &slog.HandlerOptions{Level: min(level, slog.LevelInfo), AddSource: a.verbose >= 2}))
	}
	a.log = slog.New(slog.NewMultiHandler(handlers...))
	slog.SetDefault(a.log)
	return nil
}

// withRuntime runs f with the runtime of the configuration, for cmd (the
// command being executed) in cmd's context.
func (a *app) withRuntime(cmd *cobra.Command, f func(context.Context, *pipeline.Runtime) error) error {
	return a.withRuntimeFor(cmd, pipeline.Work{}, f)
}

// runtimeCmd is a command without arguments that opens the runtime for w
// (see withRuntimeFor) and runs f on it.
func (a *app) runtimeCmd(use, short string, w pipeline.Work, f func(context.Context, *pipeline.Runtime) error) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.withRuntimeFor(cmd, w, f) }}
}

// withRuntimeFor is withRuntime for a command doing w: the users' privileges
// for it are checked before anything is written or recorded.
func (a *app) withRuntimeFor(cmd *cobra.Command, w pipeline.Work, f func(context.Context, *pipeline.Runtime) error) error {
	ctx := cmd.Context()
	if a.configPath == "" {
		return usageError{errors.New("--config FILE is required")}
	}
	cfg, err := config.Load(a.configPath)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		a.log.Warn(w, "stage", "config")
	}
	if cfg.Options.LogFile != "" && a.logFile == "" {
		a.logFile = cfg.Options.LogFile
		if err := a.setupLog(); err != nil {
			return err
		}
	}
	r, err := pipeline.OpenFor(ctx, cfg, a.log, w)
	if err != nil {
		return err
	}
	r.NoProgressBars = a.quiet // -q --log-file: errors only on the terminal, no bars either
	defer r.Close()
	// Commands that change data are recorded in _shiplog_runs.
	command := commandName(cmd)
	spec, recorded := recordedRuns[command]
	if !recorded {
		return f(ctx, r)
	}
	spec.Command, spec.Mode = command, command[strings.LastIndex(command, " ")+1:]
	r.SetOps(ops.NewControl(cfg.Throttle))
	outer := ctx
	ctx, rec, err := r.StartRun(ctx, spec)
	if err != nil {
		return err
	}
	err = f(ctx, r)
	if lost := rec.LockLost(); lost != nil {
		// The command stopped because its lock was lost: that is the error,
		// whatever the stop looked like from inside (often just "canceled").
		err = lost
	}
	rec.Finish(ctx, err, exitCodeOf(outer, err))
	return err
}

// commandName is cmd's path below the root, as runs records it: "migrate data".
func commandName(cmd *cobra.Command) string {
	return strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
}
