package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/shiplog/shiplog/binlog"
	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/verify"
)

// CutoverOptions of a cutover.
type CutoverOptions struct {
	// MaxLag: the cutover starts once the destination checkpoint's source
	// commit time is within MaxLag of the source's clock, or it has no binlog
	// bytes left to apply. 0 = 1s.
	MaxLag time.Duration
	// SetSourceReadOnly sets the source's global read_only ON once the lag is
	// small, so that the final position is final. It is left ON on success and
	// restored to its previous value on any failure. Users with SUPER (MySQL)
	// or READ_ONLY ADMIN (MariaDB >= 10.11; root has it) can still write: the
	// application must not connect as such a user.
	SetSourceReadOnly bool
	// Timeout bounds the two waits for the stream (lag under MaxLag, then the
	// checkpoint reaching the final position), counted from the start of the
	// cutover. Verification and the hook are not bounded by it (ctx still
	// stops them). 0 = 60s.
	Timeout time.Duration
	// OnReady is a shell command (sh -c) run once the destination holds
	// everything up to the final position (and verified): switch the
	// application to the destination here. SHIPLOG_CUTOVER_POSITION is set in
	// its environment. Its failure fails the cutover.
	OnReady string
	// HookStdout and HookStderr receive the hook's output (nil: discarded).
	HookStdout, HookStderr io.Writer
	// SkipVerify skips the verification of step 5.
	SkipVerify bool
	// VerifyScope is what step 5 verifies: "window" (default) the rows
	// changed between the checkpoint at the start of the cutover and the
	// final position, read from the source's binlog; "full" every row of
	// every planned table.
	VerifyScope string
	// MaxWindowRows bounds the rows a window verification collects; a
	// larger window is verified in full instead. 0 = 1,000,000.
	MaxWindowRows int
	// Verify are the verification options; Tables is ignored (every table
	// is verified).
	Verify verify.Options
	// Poll is the polling interval of the waits; 0 = 50ms.
	Poll time.Duration
}

// CutoverResult is what `shiplog cutover` prints.
type CutoverResult struct {
	FinalPosition        string  `json:"final_position"`
	WaitedForLagSeconds  float64 `json:"waited_for_lag_seconds"`
	WriteDowntimeSeconds float64 `json:"write_downtime_seconds"`
	Verified             bool    `json:"verified"`
	VerifyScope          string  `json:"verify_scope,omitempty"`
	WindowStart          string  `json:"window_start,omitempty"`
	RowsVerified         int64   `json:"rows_verified"`
	VerifySeconds        float64 `json:"verify_seconds"`
	SourceReadOnly       bool    `json:"source_read_only"`
}

// ErrCutoverTimeout is returned when the stream does not catch up in time.
var ErrCutoverTimeout = errors.New("cutover timed out")

// Cutover hands the application over from the source to the destination
// while a delta daemon (`run` or `migrate delta`, another process) streams:
//
//  1. it waits until the destination lags the source by less than MaxLag;
//  2. with SetSourceReadOnly, it sets the source's global read_only ON (the
//     write downtime starts: the application's writes fail from here);
//  3. it takes the source's head position: the final position;
//  4. it waits until the destination checkpoint reaches it;
//  5. unless SkipVerify, it verifies the rows changed in the last window:
//     it reads the source's binlog from the destination checkpoint at the
//     start of the cutover to the final position, and compares each row
//     those changes touched on both sides (verify.RunChanged), so its cost
//     follows the changes of the window, not the data size. VerifyScope
//     "full" verifies every row of every table instead (as long as
//     `shiplog verify` takes). The write downtime includes it, and the result
//     reports it as verify_seconds; any difference fails the cutover;
//  6. with SetSourceReadOnly, it re-reads the source's head position: if it
//     moved past the final position, a session whose user can write through
//     read_only did, the verify may be stale, and the cutover fails with
//     ErrWrittenDuringFreeze naming those sessions (also when the verify
//     found differences, before them);
//  7. it runs OnReady; the write downtime ends after it.
//
// On success the source is left read-only (the application now writes to the
// destination). On any failure after step 2, including ctx being cancelled,
// read_only is restored to its previous value before Cutover returns.
//
// Only delta.source: binlog with a MySQL destination is supported.
func (r *Runtime) Cutover(ctx context.Context, o CutoverOptions) (res CutoverResult, err error) {
	if err := r.source.cutover(); err != nil {
		return res, err
	}
	if err := r.dest.rows(); err != nil {
		return res, fmt.Errorf("cutover: %w (cutover waits for the destination database's checkpoint)", err)
	}
	if err := r.state.CheckNoDeferredIndexes(ctx); err != nil {
		return res, fmt.Errorf("cutover: %w", err)
	}
	if o.MaxLag <= 0 {
		o.MaxLag = time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 50 * time.Millisecond
	}
	switch o.VerifyScope {
	case "":
		o.VerifyScope = "window"
	case "window", "full":
	default:
		return res, fmt.Errorf("cutover: verify scope %q: want window or full", o.VerifyScope)
	}
	if o.MaxWindowRows <= 0 {
		o.MaxWindowRows = 1_000_000
	}
	log := r.log.With("mode", "cutover")
	start := time.Now()
	deadline := start.Add(o.Timeout)

	flavor, err := binlog.CheckServer(ctx, r.src)
	if err != nil {
		return res, fmt.Errorf("cutover: %w", err)
	}

	// The window to verify starts at the checkpoint of now.
	windowStart, _, haveWindow, err := r.state.Checkpoint(ctx)
	if err != nil {
		return res, fmt.Errorf("cutover: %w", err)
	}

	// 1. Lag under MaxLag.
	log.Info("waiting for the lag to drop under max-lag", "stage", "cutover", "max_lag", o.MaxLag.String())
	var lastLag string
	for {
		ok, desc, err := r.lagUnder(ctx, flavor, o.MaxLag)
		if err != nil {
			return res, fmt.Errorf("cutover: %w", err)
		}
		lastLag = desc
		if ok {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("%w: the destination did not come within %s of the source in %s (last: %s); is the delta daemon (run / migrate delta) running?",
				ErrCutoverTimeout, o.MaxLag, o.Timeout, lastLag)
		}
		if err := sleepCtx(ctx, o.Poll); err != nil {
			return res, fmt.Errorf("cutover: %w", err)
		}
	}
	res.WaitedForLagSeconds = time.Since(start).Seconds()
	log.Info("lag under max-lag", "stage", "cutover", "lag", lastLag, "waited_seconds", res.WaitedForLagSeconds)

	// 2. Stop the source's writes.
	var downtimeStart time.Time
	if o.SetSourceReadOnly {
		var prev int
		if err := r.src.QueryRowContext(ctx, "SELECT @@GLOBAL.read_only").Scan(&prev); err != nil {
			return res, fmt.Errorf("cutover: read source read_only: %w", err)
		}
		if prev == 0 {
			if _, err := r.src.ExecContext(ctx, "SET GLOBAL read_only = ON"); err != nil {
				return res, fmt.Errorf("cutover: SET GLOBAL read_only = ON on the source (needs SUPER or READ_ONLY ADMIN): %w", err)
			}
			defer func() {
				if err == nil {
					return
				}
				// Restore even when ctx is cancelled.
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				if _, rerr := r.src.ExecContext(rctx, "SET GLOBAL read_only = OFF"); rerr != nil {
					err = fmt.Errorf("%w; restoring the source's read_only = OFF failed too, run SET GLOBAL read_only = OFF yourself: %v", err, rerr)
					return
				}
				res.SourceReadOnly = false
				log.Warn("cutover failed: the source's read_only is OFF again", "stage", "cutover")
			}()
		} else {
			log.Info("the source is read-only already", "stage", "cutover")
		}
		res.SourceReadOnly = true
		downtimeStart = time.Now()
		log.Info("source read-only: write downtime starts", "stage", "cutover")
	}

	// 3. The final position.
	final, err := binlog.HeadPosition(ctx, r.src, flavor)
	if err != nil {
		return res, fmt.Errorf("cutover: %w", err)
	}
	res.FinalPosition = final.String()
	log.Info("final position", "stage", "cutover", "position", res.FinalPosition)

	// 4. The destination reaches it.
	for {
		ckpt, _, ok, err := r.state.Checkpoint(ctx)
		if err != nil {
			return res, fmt.Errorf("cutover: %w", err)
		}
		if ok && ckpt.Compare(final) >= 0 {
			break
		}
		if time.Now().After(deadline) {
			at := "none"
			if ok {
				at = ckpt.String()
			}
			return res, fmt.Errorf("%w: the destination checkpoint (%s) did not reach the final position %s within %s; is the delta daemon running?",
				ErrCutoverTimeout, at, final, o.Timeout)
		}
		if err := sleepCtx(ctx, o.Poll); err != nil {
			return res, fmt.Errorf("cutover: %w", err)
		}
	}
	log.Info("destination caught up", "stage", "cutover", "position", res.FinalPosition)

	// 5. Verify.
	if !o.SkipVerify {
		vo := o.Verify
		vo.Tables = nil
		if o.SetSourceReadOnly && vo.Recheck == 0 {
			// Nothing changes any more: a difference is real.
			vo.Recheck = -1
		}
		rep, scope, err := r.cutoverVerify(ctx, flavor, o, vo, windowStart, haveWindow, final)
		if err != nil {
			return res, fmt.Errorf("cutover: %w", err)
		}
		res.VerifyScope = scope
		if scope == "window" {
			res.WindowStart = windowStart.String()
		}
		res.RowsVerified, res.VerifySeconds = rep.Rows, rep.Seconds
		if n := rep.Differences(); n > 0 {
			diff := fmt.Errorf("%w: %s (run `shiplog verify` for the rows)", verify.ErrDifferent, rep.Summary())
			if res.SourceReadOnly {
				// A write through read_only explains the difference: say it first.
				if merr := r.checkFrozen(ctx, flavor, final); merr != nil {
					return res, fmt.Errorf("cutover: %w; %w", merr, diff)
				}
			}
			return res, fmt.Errorf("cutover: %w", diff)
		}
		res.Verified = true
		log.Info("verified", "stage", "cutover", "scope", scope, "summary", rep.Summary())
	}

	// The verify (and the final position) hold only if nothing wrote since.
	if res.SourceReadOnly {
		if err := r.checkFrozen(ctx, flavor, final); err != nil {
			return res, fmt.Errorf("cutover: %w", err)
		}
	}

	// 7. The hook.
	if o.OnReady != "" {
		cmd := exec.CommandContext(ctx, "sh", "-c", o.OnReady)
		cmd.Env = append(os.Environ(), "SHIPLOG_CUTOVER_POSITION="+res.FinalPosition)
		cmd.Stdout, cmd.Stderr = o.HookStdout, o.HookStderr
		if err := cmd.Run(); err != nil {
			return res, fmt.Errorf("cutover: --on-ready %q: %w", o.OnReady, err)
		}
		log.Info("on-ready hook done", "stage", "cutover")
	}
	if !downtimeStart.IsZero() {
		res.WriteDowntimeSeconds = time.Since(downtimeStart).Seconds()
	}
	return res, nil
}

// ErrWrittenDuringFreeze is returned when the source's binlog moved past the
// final position while it was read-only: a session whose user has SUPER,
// READ_ONLY ADMIN or CONNECTION_ADMIN wrote through read_only.
var ErrWrittenDuringFreeze = errors.New("the source was written during the freeze")

// readOnlyBypass are the privileges that let a session write through
// read_only (MariaDB >= 10.11: READ_ONLY ADMIN; older MariaDB and MySQL:
// SUPER; MySQL 8: CONNECTION_ADMIN).
var readOnlyBypass = map[string]bool{"SUPER": true, "READ_ONLY ADMIN": true, "CONNECTION_ADMIN": true}

// checkFrozen re-reads the source's head position and returns
// ErrWrittenDuringFreeze, naming the sessions that can write through
// read_only and the remedy, if it moved past final.
func (r *Runtime) checkFrozen(ctx context.Context, flavor string, final cdc.Position) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	head, err := binlog.HeadPosition(ctx, r.src, flavor)
	if err != nil {
		return fmt.Errorf("re-read the source's head position after the freeze: %w", err)
	}
	if head.Compare(final) <= 0 {
		return nil
	}
	// The binlog also moves for other databases (the destination's own on a
	// shared server, heartbeats): only changes of copied tables count.
	written, err := r.copiedTablesWritten(ctx, flavor, final, head)
	if err != nil {
		return fmt.Errorf("read the source binlog written during the freeze (%s to %s): %w", final, head, err)
	}
	if !written {
		return nil
	}
	sessions, err := r.readOnlyBypassSessions(ctx)
	if err != nil {
		sessions = fmt.Sprintf("(could not list them: %v)", err)
	}
	return fmt.Errorf("%w (binlog moved from %s to %s): sessions that can write through read_only: %s; "+
		"stop those clients, or revoke the privilege (REVOKE READ_ONLY ADMIN / SUPER ON *.* FROM user@host), then cutover again",
		ErrWrittenDuringFreeze, final, head, sessions)
}

// copiedTablesWritten reports whether the source binlog between from and to
// holds a change (or a statement) of a table the plan copies.
func (r *Runtime) copiedTablesWritten(ctx context.Context, flavor string, from, to cdc.Position) (bool, error) {
	plan, _, err := r.streamPlan(ctx)
	if err == nil {
		plan, _, err = r.withStepStreams(ctx, plan, nil)
	}
	if err != nil {
		return false, err
	}
	reader, err := r.binlogReader(flavor, plan, nil, r.log, false, nil)
	if err != nil {
		return false, err
	}
	written := false
	err = reader.Stream(ctx, from, func(_ context.Context, b cdc.Batch) error {
		if len(b.Changes) > 0 {
			written = true
			return errWindowRead
		}
		if b.Pos.Compare(to) >= 0 {
			return errWindowRead
		}
		return nil
	})
	var ddl *binlog.DDLError
	switch {
	case errors.Is(err, errWindowRead):
		return written, nil
	case errors.As(err, &ddl):
		return true, nil // a statement on a copied table
	}
	return false, err
}

// readOnlyBypassSessions describes the source's sessions (but this one and
// binlog dumps) whose user has a privilege of readOnlyBypass, as
// "user@host (id N, command, Ns)", at most 20.
func (r *Runtime) readOnlyBypassSessions(ctx context.Context) (string, error) {
	conn, err := r.src.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	// USER_PRIVILEGES lists every account to a user who can read mysql.user,
	// else only its own: then other users' sessions are missing.
	rows, err := conn.QueryContext(ctx, "SELECT GRANTEE, PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES")
	if err != nil {
		return "", fmt.Errorf("information_schema.USER_PRIVILEGES: %w", err)
	}
	users := map[string]bool{}
	for rows.Next() {
		var grantee, priv string
		if err := rows.Scan(&grantee, &priv); err != nil {
			rows.Close()
			return "", fmt.Errorf("information_schema.USER_PRIVILEGES: %w", err)
		}
		if readOnlyBypass[strings.ToUpper(priv)] {
			// GRANTEE is 'user'@'host'.
			if i := strings.LastIndex(grantee, "'@'"); i > 0 && grantee[0] == '\'' {
				users[strings.ReplaceAll(grantee[1:i], "''", "'")] = true
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("information_schema.USER_PRIVILEGES: %w", err)
	}
	rows, err = conn.QueryContext(ctx, `SELECT ID, USER, HOST, COMMAND, TIME FROM information_schema.PROCESSLIST
		WHERE ID <> CONNECTION_ID() AND COMMAND NOT IN ('Binlog Dump', 'Binlog Dump GTID', 'Daemon', 'Killed') ORDER BY ID`)
	if err != nil {
		return "", fmt.Errorf("information_schema.PROCESSLIST: %w", err)
	}
	defer rows.Close()
	var list []string
	n := 0
	for rows.Next() {
		var (
			id                  int64
			user, host, command string
			secs                sql.NullInt64
		)
		if err := rows.Scan(&id, &user, &host, &command, &secs); err != nil {
			return "", fmt.Errorf("information_schema.PROCESSLIST: %w", err)
		}
		if !users[user] {
			continue
		}
		if n++; n <= 20 {
			list = append(list, fmt.Sprintf("%s@%s (id %d, %s, %ds)", user, host, id, command, secs.Int64))
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("information_schema.PROCESSLIST: %w", err)
	}
	if n == 0 {
		return "none connected now (or the source user cannot see other users' privileges)", nil
	}
	if n > 20 {
		list = append(list, fmt.Sprintf("and %d more", n-20))
	}
	return strings.Join(list, ", "), nil
}

// errWindowRead ends the read of the window at the final position.
var errWindowRead = errors.New("window read")

// cutoverVerify is step 5: the rows changed in (windowStart, final], or, for
// scope full, without a window start, or for a window of more than
// MaxWindowRows rows, every row. It returns the scope it verified.
func (r *Runtime) cutoverVerify(ctx context.Context, flavor string, o CutoverOptions, vo verify.Options, windowStart cdc.Position, haveWindow bool, final cdc.Position) (verify.Report, string, error) {
	full := func() (verify.Report, string, error) {
		rep, err := r.Verify(ctx, vo)
		return rep, "full", err
	}
	if o.VerifyScope == "full" || !haveWindow {
		return full()
	}
	start := time.Now()
	plan, err := r.verifyPlan(ctx, &vo)
	if err != nil {
		return verify.Report{}, "", err
	}
	changed := verify.NewChanged(plan)
	// The rows foreign key actions changed are not in the binlog: the
	// children holding the old or new values of a parent changed in the
	// window are verified too, as the source and the destination have them.
	fks, err := r.cascades(ctx, plan, vo.Logger)
	if err != nil {
		return verify.Report{}, "", err
	}
	gen := fks.Generator()
	var markers []cdc.Change
	if windowStart.Compare(final) < 0 {
		reader, err := r.binlogReader(flavor, plan, fks, vo.Logger, false, nil)
		if err != nil {
			return verify.Report{}, "", err
		}
		tooMany := false
		err = reader.Stream(ctx, windowStart, func(_ context.Context, b cdc.Batch) error {
			for _, c := range b.Changes {
				changed.Add(c)
				var gerr error
				if markers, gerr = gen.Add(markers, c); gerr != nil {
					return gerr
				}
			}
			if changed.Rows() > o.MaxWindowRows {
				tooMany = true
				return errWindowRead
			}
			if b.Pos.Compare(final) >= 0 {
				return errWindowRead
			}
			return nil
		})
		if !errors.Is(err, errWindowRead) {
			return verify.Report{}, "", fmt.Errorf("read the window's changes from the source binlog (%s to %s): %w", windowStart, final, err)
		}
		if tooMany {
			vo.Logger.Warn("the window changed more rows than max; verifying every row", "stage", "cutover", "max_window_rows", o.MaxWindowRows)
			return full()
		}
		touched, err := fks.Touched(ctx, r.src, r.dst, markers)
		if err != nil {
			return verify.Report{}, "", fmt.Errorf("rows changed by foreign key actions in the window: %w", err)
		}
		for tp, rows := range touched {
			for _, row := range rows[0] {
				changed.Add(cdc.Change{Table: tp.Source, After: row})
			}
			if !tp.KeyIdentity() {
				continue // a destination row is found by its source key only
			}
			for _, row := range rows[1] {
				img := make([]any, len(tp.Source.Columns))
				for i, sk := range tp.Source.Key {
					img[sk] = row[tp.Dest.Key[i]]
				}
				changed.Add(cdc.Change{Table: tp.Source, Before: img})
			}
		}
		if changed.Rows() > o.MaxWindowRows {
			vo.Logger.Warn("the window changed more rows than max; verifying every row", "stage", "cutover", "max_window_rows", o.MaxWindowRows)
			return full()
		}
	}
	vo.Logger.Info("window read", "stage", "cutover", "from", windowStart.String(), "to", final.String(),
		"rows", changed.Rows(), "seconds", time.Since(start).Seconds())
	rep, err := verify.RunChanged(ctx, r.src, r.dst, changed, vo)
	if err == nil {
		// A table the stream does not replicate is a difference whatever
		// the window holds.
		err = r.addUnreplicated(ctx, plan, &rep, nil)
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, "window", err
}

// lagUnder reports whether the destination checkpoint is within maxLag of the
// source head: no binlog bytes left, or the checkpoint's source commit time
// within maxLag of the source's clock (binlog times are the source's). desc
// describes the lag for messages.
func (r *Runtime) lagUnder(ctx context.Context, flavor string, maxLag time.Duration) (ok bool, desc string, err error) {
	ckpt, ckptTime, have, err := r.state.Checkpoint(ctx)
	if err != nil {
		return false, "", err
	}
	if !have {
		return false, "no checkpoint yet (run migrate data first)", nil
	}
	head, err := binlog.HeadPosition(ctx, r.src, flavor)
	if err != nil {
		return false, "", err
	}
	n, err := binlog.LagBytes(ctx, r.src, ckpt, head)
	if err != nil {
		return false, "", err
	}
	if n == 0 {
		return true, "0 bytes", nil
	}
	if ckptTime.IsZero() {
		return false, fmt.Sprintf("%d bytes, checkpoint time unknown", n), nil
	}
	var nowMicros int64
	if err := r.src.QueryRowContext(ctx, "SELECT CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)").Scan(&nowMicros); err != nil {
		return false, "", fmt.Errorf("read the source's clock: %w", err)
	}
	lag := time.UnixMicro(nowMicros).Sub(ckptTime)
	return lag <= maxLag, fmt.Sprintf("%d bytes, %s", n, lag.Round(time.Millisecond)), nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
