// Command shiplog copies a live MySQL/MariaDB database into another one and keeps
// it in step from the binlog. This file parses and wires; behaviour lives in the
// packages.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/ops"
	"github.com/shiplog/shiplog/pipeline"
	kafkasink "github.com/shiplog/shiplog/sink/kafka"
	"github.com/shiplog/shiplog/transform"
	"github.com/shiplog/shiplog/verify"
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

// extraCommands are subcommands registered from other files' init().
var extraCommands []func(g *globals, stdout io.Writer) *cobra.Command

type globals struct {
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
}

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
	g := &globals{}
	root := newRoot(g, stdout, stderr)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if g.stopProfiles != nil {
		g.stopProfiles()
	}
	if g.closeLog != nil {
		defer g.closeLog()
	}
	code := exitCodeOf(ctx, err)
	if code == exitOK {
		return exitOK
	}
	if g.log != nil {
		g.log.Error(err.Error())
	}
	fmt.Fprintln(stderr, "shiplog:", err)
	return code
}

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

func newRoot(g *globals, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "shiplog",
		Short:         "Copy a live MySQL/MariaDB database into another and keep it in step from the binlog",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.setupLog(stderr); err != nil {
				return err
			}
			return g.startProfiles()
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.configPath, "config", "", "configuration file (YAML, TOML, or Magento config.xml)")
	pf.CountVarP(&g.verbose, "verbose", "v", "more log output (-v debug, -vv debug with source lines)")
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "errors only")
	pf.StringVar(&g.logFile, "log-file", "", "also write the log to this file")
	pf.StringVar(&g.cpuProfile, "cpuprofile", "", "write a pprof CPU profile of the command to this file")
	pf.StringVar(&g.memProfile, "memprofile", "", "write a pprof heap (allocations) profile at the end to this file")
	_ = pf.MarkHidden("cpuprofile")
	_ = pf.MarkHidden("memprofile")

	var reset, auto, exitCaughtUp, skipDDL, ignoreEmptied bool
	migrate := &cobra.Command{Use: "migrate", Short: "run a migration mode (data, delta)", Args: noArgs}
	data := &cobra.Command{
		Use:   "data",
		Short: "integrity check, consistent copy of every table, volume check; records where delta starts",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withRuntimeFor(cmd.Context(), pipeline.Work{Copy: true}, func(ctx context.Context, r *pipeline.Runtime) error {
				return r.Data(ctx, pipeline.DataOptions{Reset: reset, Auto: auto})
			})
		},
	}
	data.Flags().BoolVar(&reset, "reset", false, "forget progress and copy everything again")
	data.Flags().BoolVar(&auto, "auto", false, "continue when the integrity check finds errors (reported as warnings)")
	delta := &cobra.Command{
		Use:   "delta",
		Short: "stream changes from the recorded position until stopped (SIGINT/SIGTERM)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withRuntimeFor(cmd.Context(), pipeline.Work{Stream: true}, func(ctx context.Context, r *pipeline.Runtime) error {
				return r.Delta(ctx, pipeline.DeltaOptions{ExitWhenCaughtUp: exitCaughtUp, SkipDDL: skipDDL, IgnoreEmptiedTables: ignoreEmptied})
			})
		},
	}
	delta.Flags().BoolVar(&exitCaughtUp, "exit-when-caught-up", false, "exit 0 once everything the source had written at start is applied")
	delta.Flags().BoolVar(&ignoreEmptied, "ignore-emptied-tables", false, "start although copied tables look emptied on the destination: only when the source emptied and refilled them and the stream brings the rows")
	delta.Flags().BoolVar(&skipDDL, "skip-ddl", false, "pass the DDL statement the stream stopped at, after applying the equivalent change to the destination by hand (the new schema is checked against the map)")
	settings := &cobra.Command{
		Use:   "settings",
		Short: "merge the source's settings table (core_config_data) into the destination through settings.xml",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withRuntime(cmd.Context(), func(ctx context.Context, r *pipeline.Runtime) error {
				_, err := r.Settings(ctx)
				return err
			})
		},
	}
	migrate.AddCommand(settings, data, delta)

	runCmd := &cobra.Command{
		Use:   "run",
		Short: "data mode if not done, then delta, as one daemon",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withRuntimeFor(cmd.Context(), pipeline.Work{Copy: true, Stream: true}, func(ctx context.Context, r *pipeline.Runtime) error {
				return r.Run(ctx, pipeline.DataOptions{Auto: auto})
			})
		},
	}
	runCmd.Flags().BoolVar(&auto, "auto", false, "continue when the integrity check finds errors")

	status := &cobra.Command{
		Use:   "status",
		Short: "print mode, table progress, checkpoint, source head and lag as JSON",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withRuntime(cmd.Context(), func(ctx context.Context, r *pipeline.Runtime) error {
				s, err := r.Status(ctx)
				if err != nil {
					return err
				}
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			})
		},
	}
	check := &cobra.Command{
		Use:   "check",
		Short: "run the integrity check and print its problems; exit 1 on errors",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withRuntime(cmd.Context(), func(ctx context.Context, r *pipeline.Runtime) error {
				_, problems, err := r.Check(ctx)
				if err != nil {
					return err
				}
				return printProblems(stdout, problems)
			})
		},
	}
	deltalogCmd := &cobra.Command{Use: "deltalog", Short: "manage the m2_cl_* change logs of delta.source: triggers", Args: noArgs}
	deltalogCmd.AddCommand(&cobra.Command{
		Use:   "uninstall",
		Short: "remove shiplog's triggers and m2_cl_* change-log tables from the source",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withRuntime(cmd.Context(), func(ctx context.Context, r *pipeline.Runtime) error {
				return r.UninstallDeltalog(ctx)
			})
		},
	})
	var fromKafka, applyCaughtUp bool
	apply := &cobra.Command{
		Use:   "apply --from-kafka",
		Short: "apply changes from shiplog's Kafka topics to the destination, in a consumer group, exactly once",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !fromKafka {
				return usageError{errors.New("apply: --from-kafka is required (the only source apply reads)")}
			}
			return g.withRuntimeFor(cmd.Context(), pipeline.Work{Apply: true}, func(ctx context.Context, r *pipeline.Runtime) error {
				return r.ApplyFromKafkaWith(ctx, pipeline.ApplyOptions{ExitWhenCaughtUp: applyCaughtUp})
			})
		},
	}
	apply.Flags().BoolVar(&fromKafka, "from-kafka", false, "read the topics of kafka.topic_prefix")
	apply.Flags().BoolVar(&applyCaughtUp, "exit-when-caught-up", false, "exit 0 once every assigned partition reached its end at start")

	var ro pipeline.ReplayOptions
	var fromTime, since, until, fromOffsets string
	var tables, keys, ops []string
	replay := &cobra.Command{
		Use:   "replay",
		Short: "print (or rebuild from) the changes on shiplog's Kafka topics, for audit",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			parse := func(flag, v string) time.Time {
				if v == "" || err != nil {
					return time.Time{}
				}
				t, perr := time.Parse(time.RFC3339Nano, v)
				if perr != nil {
					err = usageError{fmt.Errorf("--%s: want an RFC 3339 time such as 2026-11-23T14:00:00Z: %w", flag, perr)}
				}
				return t
			}
			ro.FromTime, ro.Since, ro.Until = parse("from-time", fromTime), parse("since", since), parse("until", until)
			if err != nil {
				return err
			}
			if fromOffsets != "" {
				if ro.FromOffsets, err = parseOffsets(fromOffsets); err != nil {
					return usageError{err}
				}
			}
			if ro.Format != "jsonl" && ro.Format != "table" {
				return usageError{fmt.Errorf("--format: want jsonl or table, not %q", ro.Format)}
			}
			ro.Tables, ro.Keys, ro.Ops = tables, keys, ops
			if !ro.FromBeginning && ro.FromTime.IsZero() && ro.FromOffsets == nil {
				ro.FromBeginning = true
			}
			return g.withRuntime(cmd.Context(), func(ctx context.Context, r *pipeline.Runtime) error {
				return r.Replay(ctx, ro, stdout)
			})
		},
	}
	rf := replay.Flags()
	rf.BoolVar(&ro.FromBeginning, "from-beginning", false, "read the topics from their first offsets (the default)")
	rf.StringVar(&fromTime, "from-time", "", "start at the first offsets at or after this time (RFC 3339)")
	rf.StringVar(&fromOffsets, "from-offsets", "", "start at these offsets: topic:partition:offset,...")
	rf.StringSliceVar(&tables, "table", nil, "only these source tables")
	rf.StringSliceVar(&keys, "key", nil, `only these keys, as the message key JSON: {"id":5}`)
	rf.StringSliceVar(&ops, "op", nil, "only these ops: c, u, d, r")
	rf.StringVar(&since, "since", "", "only changes committed at or after this time (RFC 3339)")
	rf.StringVar(&until, "until", "", "only changes committed at or before this time (RFC 3339)")
	rf.StringVar(&ro.Format, "format", "jsonl", "jsonl (one change per line) or table (for a person)")
	rf.StringVar(&ro.ApplyTo, "apply-to", "", "also rebuild the tables into this scratch database DSN (user:pass@tcp(host:port)/db) as of --until")

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
			return g.withRuntime(cmd.Context(), func(ctx context.Context, r *pipeline.Runtime) error {
				rep, err := r.Verify(ctx, vo)
				if err != nil {
					return err
				}
				if verifyFormat == "json" {
					enc := json.NewEncoder(stdout)
					enc.SetIndent("", "  ")
					if err := enc.Encode(rep); err != nil {
						return err
					}
				} else {
					printVerify(stdout, rep)
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

	root.AddCommand(migrate, runCmd, status, check, deltalogCmd, apply, replay, verifyCmd)
	for _, f := range extraCommands {
		root.AddCommand(f(g, stdout))
	}
	return root
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s: unexpected argument %q", cmd.CommandPath(), args[0])}
	}
	return nil
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

func (g *globals) setupLog(stderr io.Writer) error {
	level := slog.LevelInfo
	switch {
	case g.quiet:
		level = slog.LevelError
	case g.verbose >= 1:
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level, AddSource: g.verbose >= 2}
	handlers := []slog.Handler{slog.NewTextHandler(stderr, opts)}
	if g.logFile != "" {
		f, err := os.OpenFile(g.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return usageError{fmt.Errorf("--log-file: %w", err)}
		}
		g.closeLog = func() { f.Close() }
		crashToFile(f)
		handlers = append(handlers, slog.NewTextHandler(f, &slog.HandlerOptions{Level: min(level, slog.LevelInfo), AddSource: g.verbose >= 2}))
	}
	g.log = slog.New(slog.NewMultiHandler(handlers...))
	slog.SetDefault(g.log)
	return nil
}

func (g *globals) withRuntime(ctx context.Context, f func(context.Context, *pipeline.Runtime) error) error {
	return g.withRuntimeFor(ctx, pipeline.Work{}, f)
}

// withRuntimeFor is withRuntime for a command doing w: the users' privileges
// for it are checked before anything is written or recorded.
func (g *globals) withRuntimeFor(ctx context.Context, w pipeline.Work, f func(context.Context, *pipeline.Runtime) error) error {
	if g.configPath == "" {
		return usageError{errors.New("--config FILE is required")}
	}
	cfg, err := config.Load(g.configPath)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		g.log.Warn(w, "stage", "config")
	}
	if cfg.Options.LogFile != "" && g.logFile == "" {
		g.logFile = cfg.Options.LogFile
		if err := g.setupLog(os.Stderr); err != nil {
			return err
		}
	}
	r, err := pipeline.OpenFor(ctx, cfg, g.log, w)
	if err != nil {
		return err
	}
	r.NoProgressBars = g.quiet // -q --log-file: errors only on the terminal, no bars either
	defer r.Close()
	// Commands that change data are recorded in _shiplog_runs.
	command := executingCommand(g)
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

// parseOffsets reads "topic:partition:offset,...".
func parseOffsets(s string) (map[string]map[int]int64, error) {
	out := map[string]map[int]int64{}
	for _, part := range strings.Split(s, ",") {
		i := strings.LastIndexByte(part, ':')
		j := strings.LastIndexByte(part[:max(i, 0)], ':')
		if i <= 0 || j <= 0 {
			return nil, fmt.Errorf("--from-offsets: %q is not topic:partition:offset", part)
		}
		p, err1 := strconv.Atoi(part[j+1 : i])
		o, err2 := strconv.ParseInt(part[i+1:], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("--from-offsets: %q is not topic:partition:offset", part)
		}
		if out[part[:j]] == nil {
			out[part[:j]] = map[int]int64{}
		}
		out[part[:j]][p] = o
	}
	return out, nil
}
