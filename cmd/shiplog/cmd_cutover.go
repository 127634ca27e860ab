package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog/shiplog/pipeline"
)

// newCutoverCmd is `shiplog cutover`: hand the application over to the
// destination while a delta daemon streams in another process.
func newCutoverCmd(a *app) *cobra.Command {
	var o pipeline.CutoverOptions
	var doVerify bool
	cmd := &cobra.Command{
		Use:   "cutover",
		Short: "wait for the stream to catch up, make the source read-only, verify, and run the switch-over hook; prints JSON",
		Long: `cutover hands the application over from the source to the destination while
a delta daemon (shiplog run or migrate delta) streams in another process:

 1. wait until the destination lags the source by less than --max-lag
    (checkpoint commit time within --max-lag of the source's clock, or no
    binlog bytes left), at most --timeout;
 2. with --set-source-read-only: SET GLOBAL read_only = ON on the source (needs
    SUPER or READ_ONLY ADMIN); the application's writes fail from here: the
    write downtime starts. Users with SUPER / READ_ONLY ADMIN (root) can still
    write: the application must connect as an ordinary user;
 3. take the source's head position: the final position;
 4. wait until the destination checkpoint reaches it (within --timeout,
    counted from the start);
 5. unless --verify=false, verify the rows changed in the window: the source's
    binlog is read from the destination checkpoint at the start of the
    cutover to the final position, and every row those changes touched is
    compared on both sides (its cost follows the window's changes, not the
    data size). --verify-scope full verifies every row of every table instead
    (as long as shiplog verify takes; the source stays read-only meanwhile).
    Any difference fails the cutover;
 6. run --on-ready (sh -c, with SHIPLOG_CUTOVER_POSITION set; its output goes
    to stderr); the write downtime ends after it.

On success the source stays read-only and a JSON result is printed. On any
failure after step 2 (including SIGINT/SIGTERM) read_only is restored to its
previous value, and the exit status is 1. Only delta.source: binlog with a
database destination (sink: mysql or both) is supported.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.MaxLag <= 0 {
				return usageError{fmt.Errorf("--max-lag: want a positive duration, not %s", o.MaxLag)}
			}
			if o.Timeout <= 0 {
				return usageError{fmt.Errorf("--timeout: want a positive duration, not %s", o.Timeout)}
			}
			if o.VerifyScope != "window" && o.VerifyScope != "full" {
				return usageError{fmt.Errorf("--verify-scope: want window or full, not %q", o.VerifyScope)}
			}
			o.SkipVerify = !doVerify
			o.HookStdout, o.HookStderr = cmd.ErrOrStderr(), cmd.ErrOrStderr()
			w := pipeline.Work{Cutover: true, SetSourceReadOnly: o.SetSourceReadOnly}
			return a.withRuntimeFor(cmd, w, func(ctx context.Context, r *pipeline.Runtime) error {
				res, err := r.Cutover(ctx, o)
				if err != nil {
					return err
				}
				return printJSON(a.stdout, res)
			})
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.MaxLag, "max-lag", time.Second, "start once the destination lags the source by less than this")
	f.BoolVar(&o.SetSourceReadOnly, "set-source-read-only", false, "SET GLOBAL read_only = ON on the source before taking the final position (left ON on success, restored on failure)")
	f.DurationVar(&o.Timeout, "timeout", 60*time.Second, "give up when the stream has not caught up within this (from the start)")
	f.StringVar(&o.OnReady, "on-ready", "", "shell command run once the destination holds everything (env SHIPLOG_CUTOVER_POSITION); its failure fails the cutover")
	f.BoolVar(&doVerify, "verify", true, "verify before the hook (--verify=false skips it)")
	f.StringVar(&o.VerifyScope, "verify-scope", "window", "what to verify: window (the rows changed since the cutover started) or full (every row)")
	return cmd
}
