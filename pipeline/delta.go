package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/shiplog/shiplog/binlog"
	"github.com/shiplog/shiplog/cascade"
	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/ops"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
	"github.com/shiplog/shiplog/state"
	"github.com/shiplog/shiplog/stream"
	"github.com/shiplog/shiplog/transform"
)

// DeltaOptions tune delta mode.
type DeltaOptions struct {
	// ExitWhenCaughtUp returns once everything the source had written when
	// Delta started is applied.
	ExitWhenCaughtUp bool
	// SkipDDL passes the DDL statement a stopped stream stopped at (the
	// checkpoint must still be there), after the user applied the equivalent
	// change to the destination: the plan is compiled again from the source
	// schema as it is now, checked against the map and the destination, and
	// recorded. Delta returns ErrNoDDLToSkip when there is none.
	SkipDDL bool
	// IgnoreEmptiedTables skips the check for copied tables emptied on
	// the destination outside shiplog (see checkDestinationTables).
	IgnoreEmptiedTables bool
}

// ErrNoSnapshot is returned by Delta when data mode has not completed.
var ErrNoSnapshot = errors.New("data mode has not completed: run `shiplog migrate data` first")

var errCaughtUp = errors.New("caught up")

// Relay bounds between the binlog reader and the writer.
const (
	relayBytes      = 16 << 20
	maxBatchChanges = 20000
	maxBatchBytes   = 16 << 20
)

// Delta streams the binlog from the checkpoint into the destination until ctx
// ends (then it returns nil: a clean stop) or, with ExitWhenCaughtUp, until the
// source's head position at start is applied. It reports to, and is paused
// and throttled by, the operations object given to SetOps.
func (r *Runtime) Delta(ctx context.Context, o DeltaOptions) error {
	return r.destRetry(ctx, "run").restart(ctx, "the stream", func(ctx context.Context) error {
		err := r.deltaSteps(ctx, o)
		// Started again, it must not look for the statement to skip: the
		// first start passed it, or stops at it again, saying so.
		o.SkipDDL = false
		return err
	})
}

func (r *Runtime) delta(ctx context.Context, o DeltaOptions) error {
	log := r.log.With("mode", "delta")
	if done, err := r.state.Flag(ctx, flagDataDone); err != nil {
		return err
	} else if done == "" {
		return ErrNoSnapshot
	}
	// A copy stopped with indexes dropped: stream into no table without them.
	if err := r.state.CheckNoDeferredIndexes(ctx); err != nil {
		return err
	}
	if err := r.source.checkServer(ctx); err != nil {
		return err
	}
	var (
		plan     *transform.Plan
		problems []transform.Problem
		err      error
	)
	if o.SkipDDL {
		// The statement changed the source: plan against it as it is now.
		plan, problems, err = r.Check(ctx)
	} else {
		plan, problems, err = r.streamPlan(ctx)
	}
	if err == nil {
		plan, problems, err = r.withStepStreams(ctx, plan, problems)
	}
	if err == nil {
		err = r.postSetLeftoverFollow(ctx, plan)
	}
	if err != nil {
		return err
	}
	auto, err := r.state.Flag(ctx, flagAuto)
	if err != nil {
		return err
	}
	if err := r.reportProblems(problems, auto != ""); err != nil {
		return err
	}
	// A source table that the map does not ignore and that the copy was not
	// planned for (created since) would be lost: stop (warn under --auto).
	guard, err := r.newTableGuard(plan, auto != "", log)
	if err != nil {
		return err
	}
	if err := guard.checkSource(ctx, "on the source at the start of delta"); err != nil {
		return err
	}
	from, _, ok, err := r.state.Checkpoint(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNoSnapshot
	}
	var accept *binlog.DDLError
	if o.SkipDDL {
		if accept, err = r.source.skip(ctx, plan, from, log); err != nil {
			return err
		}
	}
	// A copied table emptied on the destination since (TRUNCATE, DROP and
	// CREATE) would stay short while the lag shows 0. Not with --skip-ddl:
	// the user just made the destination match a source TRUNCATE by hand,
	// and the rows written since come from the stream.
	if !o.SkipDDL && !o.IgnoreEmptiedTables {
		if err := r.checkDestinationTables(ctx, plan, auto != "", log); err != nil {
			return err
		}
	}
	// Rows that failed before are tried again; those that still fail stay
	// recorded and make this run a partial success too.
	retryErr := r.retryFailures(ctx, plan)
	if retryErr != nil && !errors.Is(retryErr, ErrPartial) {
		return retryErr
	}
	return r.followPartial(r.source.stream(ctx, deltaRun{o: o, plan: plan, guard: guard, from: from, accept: accept, retryErr: retryErr, log: log}))
}

// stream is delta from the binlog.
func (d *binlogDelta) stream(ctx context.Context, run deltaRun) error {
	r, o, plan, guard, from, accept, retryErr, log := d.r, run.o, run.plan, run.guard, run.from, run.accept, run.retryErr, run.log
	flavor := d.flavor
	if err := binlog.CheckPositionAvailable(ctx, r.src, from); err != nil {
		return r.purged(from, err)
	}
	fks, err := r.cascades(ctx, plan, log)
	if err != nil {
		return err
	}
	publisher, err := r.openPublisher(ctx, plan)
	if err != nil {
		return err
	}
	if publisher != nil {
		defer publisher.Close()
		if err := fks.KafkaCheck(); err != nil {
			return fmt.Errorf("%w: source foreign keys whose actions the Kafka sink cannot carry exactly (the rows they change are published as markers on the child's topic, applied per partition):\n  %w\nstream with sink: mysql, or drop the keys' actions on the source, or ignore the child tables in the map", ErrIntegrity, err)
		}
	}
	var target cdc.Position
	if o.ExitWhenCaughtUp {
		var err error
		if target, err = binlog.HeadPosition(ctx, r.src, flavor); err != nil {
			return err
		}
		if from.Compare(target) >= 0 {
			log.Info("already caught up", "stage", "delta", "position", from.String())
			return retryErr
		}
	}
	if err := r.state.SetFlag(ctx, nil, flagMode, "delta"); err != nil {
		return err
	}
	progress, err := r.state.Progress(ctx)
	if err != nil {
		return err
	}
	skipUpTo := map[string]cdc.Position{}
	for name, p := range progress {
		if p.SnapshotPos.Compare(from) > 0 {
			skipUpTo[name] = p.SnapshotPos
		}
	}
	fks.SkipUpTo(skipUpTo)
	readerCfg, err := r.binlogConfig(flavor, plan, fks, log, true, func(ctx context.Context, table string) error {
		return guard.check(ctx, "appeared in the binlog: a row change or a CREATE, ALTER or RENAME statement", table)
	})
	if err != nil {
		return err
	}
	readerCfg.AcceptDDL = accept
	// Tables handlers read are decoded too, copied or not, to refresh them.
	planned, lookups := readerCfg.Tables, r.lookupRefresh()
	readerCfg.Tables = func(name string) bool { return planned(name) || lookups.Watches(name) }
	readerCfg.MaxGroupBytes = r.maxTransactionBytes(fks, log)
	readerCfg.MaxGroupChanges = maxBatchChanges
	reader := binlog.NewReader(readerCfg)
	log.Info("streaming", "stage", "delta", "from", from.String(), "until", target.String())

	// With sink: kafka the mapped changes are not written anywhere (only
	// counted, their failures recorded): the relay does not keep them.
	m := &mapper{plan: plan, skipUpTo: skipUpTo, last: from, keepSource: publisher != nil, dropMapped: r.dest.rows() != nil,
		binlogTables: true, reset: r.command("migrate data --reset"), fks: fks.Generator(), lookups: r.lookupRefresh()}
	if m.keepSource {
		m.srcFks = fks.Generator()
		m.srcFks.Source = true
	}
	ctl := r.ops
	ctl.SetState(ops.StateDelta)
	writer, err := r.deltaWriter(ctx, log)
	if err != nil {
		return err
	}
	ops := &loopOps{ctl: ctl, log: log, stage: "delta", withPos: true}
	skipped := accept == nil
	loop := &stream.Loop{
		Source:     &binlogSource{reader: reader, from: from, m: m},
		Sink:       r.deltaSink(writer, publisher, fks, cascade.Options{}, r.destRetry(ctx, "run"), log),
		Ops:        ops,
		RelayBytes: relayBytes, MaxChanges: maxBatchChanges, MaxBytes: maxBatchBytes,
		After: func(ctx context.Context, b *stream.Batch) error {
			log.Debug("applied", "stage", "delta", "changes", b.N, "position", b.Pos.String())
			if !skipped && b.Pos.Compare(accept.Pos) > 0 {
				// Past the statement --skip-ddl passed: nothing left to skip.
				if err := r.state.SetFlag(ctx, nil, flagDDLStop, ""); err != nil {
					return err
				}
				skipped = true
			}
			if o.ExitWhenCaughtUp && b.Pos.Compare(target) >= 0 {
				return errCaughtUp
			}
			return nil
		},
	}
	err = loop.Run(ctx)
	if errors.Is(err, binlog.ErrPositionPurged) {
		ops.ended(ctx, err)
		return r.purged(from, err)
	}
	// The reader stopped (a DDL statement, a changed table, a change it
	// cannot apply) after the loop applied everything it read before.
	var ddl *binlog.DDLError
	if errors.As(err, &ddl) {
		ops.ended(ctx, err)
		return r.ddlStopped(ctx, ddl)
	}
	if err := ops.ended(ctx, err, "position", target.String()); err != nil {
		return err
	}
	return m.partialErr(retryErr)
}

// mapper turns source batches into destination batches through the plan. It runs
// on the reader's goroutine only.
type mapper struct {
	plan     *transform.Plan
	skipUpTo map[string]cdc.Position
	checked  map[*cdc.Table]*transform.TablePlan
	last     cdc.Position
	failed   atomic.Int64
	// keepSource also returns the source changes that pass the filters (for
	// the Kafka sink, which publishes source rows).
	keepSource bool
	// dropMapped counts the mapped changes without keeping them (nothing
	// writes them: sink kafka).
	dropMapped bool
	// fks adds the markers of source foreign key actions after the changes
	// of their parents (nil: none followed).
	fks *cascade.Generator
	// srcFks adds the same markers to the source changes kept for Kafka.
	srcFks *cascade.Generator
	// binlogTables: changes carry tables as table-map events describe them,
	// compared with the planned tables column by column (types, lengths,
	// charsets, signedness, nullability), not only by name.
	binlogTables bool
	// reset is the command that copies everything again, for errors.
	reset string
	// lookups learns of the changes of tables handlers read.
	lookups lookupRefresh
}

// item maps b into a batch for the stream; ok is false when b carries
// nothing new (no changes and no position past the last one).
func (m *mapper) item(b cdc.Batch) (it *stream.Batch, ok bool, err error) {
	if b.Pos.Compare(m.last) <= 0 && len(b.Changes) == 0 {
		return nil, false, nil
	}
	if b.Pos.Compare(m.last) > 0 {
		m.last = b.Pos
	}
	if m.checked == nil {
		m.checked = map[*cdc.Table]*transform.TablePlan{}
	}
	out := cdc.Batch{Pos: b.Pos, Time: b.Time, Partial: b.Partial}
	if !m.dropMapped {
		out.Changes = make([]cdc.Change, 0, len(b.Changes))
	}
	var (
		src     []cdc.Change
		n       int
		srcSize int
	)
	// Tables handlers read are read again when next used: the whole batch
	// first, as a change-log round orders its changes by table, not by time
	// (a read shows the source as it is now, never older than the batch).
	m.lookups.SourceChanged(b.Changes)
	for _, c := range b.Changes {
		tp, ok := m.checked[c.Table]
		if !ok {
			tp = m.plan.Table(c.Table.Name)
			if tp != nil && c.Table != tp.Source {
				if err := m.checkTable(tp, c); err != nil {
					return nil, false, err
				}
			}
			m.checked[c.Table] = tp
		}
		// A parent's foreign key actions follow its change, whether the
		// parent is copied or not, and whether its own copy reflects the
		// change already or not (the children's copies decide that).
		var markers []cdc.Change
		if m.fks != nil && !m.dropMapped {
			if markers, err = m.fks.Add(nil, c); err != nil {
				return nil, false, err
			}
			// Rows a marker stands for are found from the destination's
			// state before the batch: the batch must not commit in part.
			out.Whole = out.Whole || len(markers) > 0
		}
		if m.srcFks != nil {
			n := len(src)
			if src, err = m.srcFks.Add(src, c); err != nil {
				return nil, false, err
			}
			for _, mk := range src[n:] {
				srcSize += cdc.ValueSize(mk.Before) + cdc.ValueSize(mk.After)
			}
		}
		if tp == nil {
			out.Changes = append(out.Changes, markers...)
			continue // not a mapped table (the reader filters these; belt and braces)
		}
		if skip, ok := m.skipUpTo[c.Table.Name]; ok {
			if c.Pos.Compare(skip) <= 0 {
				out.Changes = append(out.Changes, markers...)
				continue // the table's copy already reflects this change
			}
			delete(m.skipUpTo, c.Table.Name)
		}
		if m.keepSource {
			// Published with the table as the copy was planned for (full
			// column types and charsets, which consumers decode against).
			sc := c
			sc.Table = tp.Source
			src = append(src, sc)
			srcSize += cdc.ValueSize(c.Before) + cdc.ValueSize(c.After)
		}
		if tp.Routed() {
			ok, err := m.routed(&out, tp, c, markers)
			if err != nil {
				return nil, false, err
			}
			if ok {
				n++
			}
			continue
		}
		d, side, f, err := tp.MapChangeSide(c)
		if err != nil {
			return nil, false, err
		}
		if f != nil {
			out.Failed = append(out.Failed, *f)
			m.failed.Add(1)
			out.Changes = append(out.Changes, markers...)
			continue
		}
		n++
		if m.dropMapped {
			continue
		}
		out.Size += cdc.ValueSize(d.Before) + cdc.ValueSize(d.After)
		out.Changes = append(out.Changes, d)
		if len(side) > 0 {
			// Rows of side tables go in the transaction of the row that
			// owns them, not in their own key's apply partition.
			out.Whole = true
			out.Changes = append(out.Changes, side...)
		}
		out.Changes = append(out.Changes, markers...)
	}
	return &stream.Batch{Batch: out, Source: src, N: n, Weight: int64(out.Size + srcSize)}, true, nil
}

// checkTable compares the table of change c with the table tp was planned
// for.
func (m *mapper) checkTable(tp *transform.TablePlan, c cdc.Change) error {
	var diffs []string
	if m.binlogTables {
		diffs = binlog.Mismatches(tp.Source, c.Table)
	} else if !tp.Matches(c.Table) {
		diffs = []string{fmt.Sprintf("columns (%s), planned (%s)", c.Table.ColumnList(), tp.Source.ColumnList())}
	}
	if len(diffs) == 0 {
		return nil
	}
	reset := m.reset
	if reset == "" {
		reset = "shiplog migrate data --reset"
	}
	how := "the table changed"
	if m.binlogTables {
		how = "the table changed without a DDL statement in the stream (one run with binary logging off, or before the checkpoint)"
	}
	return fmt.Errorf("%w: table %s at %s is not the table the copy was planned for: %s; %s: apply the same change to the destination (and the map) and copy again with `%s`",
		ErrTableChanged, c.Table.Name, c.Pos, strings.Join(diffs, "; "), how, reset)
}

// partialErr is the result of a stream that ended cleanly: ErrPartial when
// changes could not be transformed, else retryErr (the retry of the failed
// rows recorded before).
func (m *mapper) partialErr(retryErr error) error {
	if n := m.failed.Load(); n > 0 {
		return fmt.Errorf("%w: %d change(s) could not be transformed (see _shiplog_failed_rows; the next run retries them)", ErrPartial, n)
	}
	return retryErr
}

// defaultApplyWorkers is options.apply_workers when unset.
const defaultApplyWorkers = 4

// deltaWriter is the stream's writer: options.apply_workers partitions
// applied in parallel, resumed from each partition's checkpoint when the last
// run stopped between partitions' commits (then with that run's partition
// count, which the checkpoints belong to, for this run).
func (r *Runtime) deltaWriter(ctx context.Context, log *slog.Logger) (*mysqlsink.Writer, error) {
	k := r.cfg.Options.ApplyWorkers
	if k <= 0 {
		k = defaultApplyWorkers
	}
	k = min(k, 64)
	parts, err := r.state.PartCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	uneven := false
	for _, p := range parts {
		if !p.Have || p.Pos.Compare(parts[0].Pos) != 0 {
			uneven = true
		}
	}
	if uneven && len(parts) != k {
		log.Warn("the last run stopped between its apply partitions' commits: resuming with its partition count", "stage", "delta",
			"apply_workers", len(parts), "configured", k)
		k = len(parts)
	}
	// Every partition gets its row before the first batch: a run killed
	// between the partitions' commits must leave rows that say so. (With
	// sink: kafka the writer records the checkpoint alone, in the first row.)
	if from, at, ok := state.Lowest(parts); ok && r.dest.rows() == nil {
		if err := r.state.EnsurePartCheckpoints(ctx, k, from, at); err != nil {
			return nil, err
		}
	}
	w := mysqlsink.NewWriter(r.dst, r.state, mysqlsink.Options{Logger: r.log, Parts: k})
	if uneven {
		w.Resume(parts)
	}
	return w, nil
}

func (r *Runtime) writer() *mysqlsink.Writer {
	return mysqlsink.NewWriter(r.dst, r.state, mysqlsink.Options{Logger: r.log})
}

// purged wraps err, a binlog.ErrPositionPurged from the checkpoint from, so
// that its first words are the one thing to do: the rest is cut in many log
// viewers.
func (r *Runtime) purged(from cdc.Position, err error) error {
	if err == nil || !errors.Is(err, binlog.ErrPositionPurged) {
		return err
	}
	return fmt.Errorf("run `%s` to copy again: the source no longer has the binlog from checkpoint %s, so the changes since are lost. Details: %w",
		r.command("migrate data --reset"), from, err)
}
