package fromkafka

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/semaphore"

	"github.com/shiplog/shiplog/cascade"
	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/mysqlerr"
	kafkasink "github.com/shiplog/shiplog/sink/kafka"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
	"github.com/shiplog/shiplog/state"
	"github.com/shiplog/shiplog/step"
	"github.com/shiplog/shiplog/stream"
	"github.com/shiplog/shiplog/transform"
)

// ApplyOptions tune ApplyFromKafkaWith.
type ApplyOptions struct {
	// ExitWhenCaughtUp returns once every partition assigned to this applier
	// has been applied up to the high watermark it had when the applier
	// started.
	ExitWhenCaughtUp bool
	// Auto turns integrity errors of the compiled map into warnings, as
	// --auto does for data mode.
	Auto bool
	// TopicCheckEvery is how often the daemon (without ExitWhenCaughtUp)
	// looks for the publisher's topics: while it waits for the first ones,
	// and while it applies, for topics created since; 0 = 5s.
	TopicCheckEvery time.Duration
}

// defaultTopicCheckEvery is ApplyOptions.TopicCheckEvery's default.
const defaultTopicCheckEvery = 5 * time.Second

// Bounds of one apply transaction (batch by draining).
const (
	applyMaxMessages = 5000
	applyMaxWait     = 200 * time.Millisecond
	// applyMaxBytes bounds the message bytes of one apply transaction, and
	// applyBudgetBytes those held by all the partitions' batches together
	// (each partition is read and applied concurrently).
	applyMaxBytes    = 4 << 20
	applyBudgetBytes = 24 << 20
	// messageOverhead is counted per message beyond its key and value (the
	// message and its decoded change).
	messageOverhead = 256
	// readerMaxBytes bounds one fetch of a partition reader.
	readerMaxBytes = 4 << 20
	// schemaRefreshEvery bounds how often one unknown or changed table makes
	// the applier re-read the schema topic.
	schemaRefreshEvery = 10 * time.Second
)

// ApplyFromKafkaWith consumes every data topic "<prefix>.<db>.<table>" in the
// consumer group cfg.Kafka.GroupID and applies the changes through the map
// into the destination database (cfg.Destination.Database, whatever the
// source database of the topics and whatever cfg.Sink says: a configuration
// shared with the publisher works). Each partition's next offset and last
// applied source position are committed in the destination transaction that
// applies its messages (table _shiplog_kafka_offsets), so a crash or
// rebalance neither loses nor repeats a change; offsets are also committed
// to the Kafka group, best effort, for tooling. Messages a producer retry
// wrote twice are skipped; malformed messages are recorded in
// _shiplog_failed_messages with the batch and logged; rows a handler cannot
// transform go to _shiplog_failed_rows.
//
// Without ExitWhenCaughtUp it is a daemon: when the publisher has not
// created its topics yet (no data topic, or no schema topic) it waits for
// them, logging once and looking again every TopicCheckEvery; while it
// applies, it looks for data topics (or partitions) created since it joined
// the group and rejoins with them. It blocks until ctx ends (then it returns
// nil). With ExitWhenCaughtUp it returns once caught up with the topics that
// existed when it started (nil at once when there are none). An unreachable
// broker at the start is an error. When messages or rows were recorded as
// failed it returns an error wrapping ErrPartial. The first apply error stops
// it.
func (r *Env) ApplyFromKafkaWith(ctx context.Context, o ApplyOptions) error {
	log := r.Log.With("mode", "apply")
	if o.TopicCheckEvery <= 0 {
		o.TopicCheckEvery = defaultTopicCheckEvery
	}
	kc, err := r.kafkaClient()
	if err != nil {
		return err
	}
	defer kc.Close()
	// Reach the brokers first: an unreachable broker is an error, not a wait.
	listed, err := kc.DataTopics(ctx)
	if err != nil {
		return err
	}
	// Where the broker tells, the user's READ on the topics and the group
	// is checked before anything is applied (a topic the user may not even
	// describe is not listed: the schema topic, whose name is known, shows it).
	check := []string{kc.SchemaTopic()}
	for t := range listed {
		check = append(check, t)
	}
	if err := kafkasink.CheckAccess(ctx, kc.Options(), kafkasink.Access{Read: true, Group: r.Config.Kafka.GroupID, Topics: check}); err != nil {
		return err
	}
	if err := r.State.EnsureKafka(ctx); err != nil {
		return err
	}
	auto := o.Auto || r.Auto
	a := &kafkaApplier{r: r, kc: kc, log: log, auto: auto, group: r.Config.Kafka.GroupID, lastRefresh: map[string]time.Time{},
		budget: semaphore.NewWeighted(applyBudgetBytes), writer: r.Writer, retry: r.Retry}
	var (
		cause   error
		down    time.Time // since when the brokers have been lost
		backoff = 500 * time.Millisecond
	)
	for {
		started := time.Now()
		topics, err := a.awaitTopics(ctx, o)
		if err != nil {
			// A broker lost while the topics and table definitions are
			// read (a cut during a rejoin) is retried like one lost while
			// consuming; anything else ends the applier.
			var rj *rejoinError
			if cause = rejoinable(err); !errors.As(cause, &rj) || ctx.Err() != nil {
				return err
			}
		} else {
			if topics == nil {
				cause = context.Cause(ctx) // nil: nothing to apply (logged)
				break
			}
			started = time.Now()
			cause = a.consume(ctx, topics, o)
			if errors.Is(cause, errTopicsChanged) {
				continue
			}
		}
		var rj *rejoinError
		if !errors.As(cause, &rj) || ctx.Err() != nil {
			break
		}
		// The brokers were lost (a cut, a restart): join again and go on
		// from the stored offsets, with backoff, for up to kafkaRetryFor.
		if time.Since(started) > time.Minute {
			down, backoff = time.Time{}, 500*time.Millisecond
		}
		if down.IsZero() {
			down = time.Now()
		}
		if time.Since(down)+backoff > kafkaRetryFor {
			cause = fmt.Errorf("%w (retried for %s: check that the brokers %s are up and reachable, then start again; nothing is lost: the stored offsets are where it resumes)",
				rj.err, time.Since(down).Round(time.Second), kc.BrokerList())
			break
		}
		log.Warn("kafka brokers lost; joining again", "stage", "apply", "error", rj.err.Error(), "retry_in", backoff.String())
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
	switch {
	case cause == nil:
	case errors.Is(cause, errCaughtUp):
		log.Info("caught up", "stage", "apply", "changes", a.applied.Load())
	case ctx.Err() != nil && errors.Is(cause, ctx.Err()):
		log.Info("stopped", "stage", "apply", "changes", a.applied.Load())
	default:
		return cause
	}
	var partial []string
	if n := a.failedRows.Load(); n > 0 {
		partial = append(partial, fmt.Sprintf("%d change(s) could not be transformed (see _shiplog_failed_rows)", n))
	}
	if n := a.badMessages.Load(); n > 0 {
		partial = append(partial, fmt.Sprintf("%d malformed message(s) skipped (see %s)", n, state.FailedMessagesTable))
	}
	if len(partial) > 0 {
		return fmt.Errorf("%w: %s", step.ErrPartial, strings.Join(partial, "; "))
	}
	return nil
}

// kafkaRetryFor bounds how long apply --from-kafka joins again after
// losing the brokers before it gives up.
const kafkaRetryFor = 5 * time.Minute

// rejoinError ends one consume on a Kafka connection error: the applier
// joins the group again and resumes from the stored offsets.
type rejoinError struct{ err error }

func (e *rejoinError) Error() string { return e.err.Error() }
func (e *rejoinError) Unwrap() error { return e.err }

// rejoinable marks err a rejoinError when it is a lost or refused Kafka
// connection (a lost destination is retried where it happens, and ends with
// ErrDestinationDown; a gap is not retried).
func rejoinable(err error) error {
	if errors.Is(err, mysqlsink.ErrDestinationDown) || errors.Is(err, ErrGap) {
		return err
	}
	// kafka-go reports a connection lost during a request as the broker's
	// UNKNOWN_SERVER_ERROR (-1) on each partition asked about.
	if ke := kafka.Error(0); kafkasink.Transient(err) || errors.As(err, &ke) && ke == kafka.Unknown {
		return &rejoinError{err}
	}
	return err
}

// errTopicsChanged ends one consume when data topics (or partitions) were
// created since the consumer group was joined.
var errTopicsChanged = errors.New("data topics changed")

// awaitTopics returns the data topics once they and the schema topic exist,
// with the plan compiled from the schema topic. Without ExitWhenCaughtUp it
// waits for them (logging once), looking again every o.TopicCheckEvery; it
// returns nil topics when ctx ends, or at once with ExitWhenCaughtUp when
// there is no data topic.
func (a *kafkaApplier) awaitTopics(ctx context.Context, o ApplyOptions) (map[string][]int, error) {
	waiting := false
	for {
		topics, err := a.kc.DataTopics(ctx)
		if err == nil {
			// Offsets stored by an earlier run that the broker cannot
			// continue (it lost the topics) stop here, not in a silent wait.
			// The daemon goes on when the check itself failed: it is made
			// again every TopicCheckEvery.
			err = a.checkStoredOffsets(ctx, topics, true)
			if err != nil && !errors.Is(err, ErrGap) && !o.ExitWhenCaughtUp && ctx.Err() == nil {
				a.log.Warn("cannot compare the stored offsets with the broker's; looking again later", "stage", "apply", "error", err)
				err = nil
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil
			}
			return nil, err
		}
		var missing error
		if len(topics) == 0 {
			missing = fmt.Errorf("kafka brokers %s have no data topics %s.*: start the Kafka sink first", a.kc.BrokerList(), a.kc.Prefix())
		} else if err := a.refresh(ctx); err == nil {
			if waiting {
				a.log.Info("data topics found", "stage", "apply", "prefix", a.kc.Prefix(), "topics", len(topics))
			}
			return topics, nil
		} else if ctx.Err() != nil {
			return nil, nil
		} else if !errors.Is(err, kafkasink.ErrTopicMissing) {
			return nil, err
		} else {
			missing = err
		}
		if o.ExitWhenCaughtUp {
			if len(topics) == 0 {
				a.log.Info("no data topics: nothing to apply", "stage", "apply", "prefix", a.kc.Prefix())
				return nil, nil
			}
			return nil, missing
		}
		a.log.Debug("the publisher's topics are not there yet", "stage", "apply", "prefix", a.kc.Prefix(), "reason", missing.Error())
		if !waiting {
			a.log.Info("waiting for the publisher's topics", "stage", "apply", "prefix", a.kc.Prefix(), "brokers", a.kc.BrokerList(),
				"reason", missing.Error(), "check_every", o.TopicCheckEvery.String())
			waiting = true
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(o.TopicCheckEvery):
		}
	}
}

// watchTopics calls changed(errTopicsChanged) once a data topic, or a
// partition of one, exists that have lacks, and changed(an ErrGap) once the
// broker no longer holds what the group applied (checkStoredOffsets); it
// returns then, or when ctx ends. A failed look is logged and tried again.
func (a *kafkaApplier) watchTopics(ctx context.Context, have map[string][]int, every time.Duration, changed func(error)) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now, err := a.kc.DataTopics(ctx)
		if err == nil {
			// A broker that lost the topics while we apply: the partition
			// readers would wait at their offsets for messages that never
			// come.
			if err = a.checkStoredOffsets(ctx, now, false); errors.Is(err, ErrGap) {
				changed(err)
				return
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("cannot check the data topics; looking again later", "stage", "apply", "error", err)
			}
			continue
		}
		var added []string
		for name, parts := range now {
			if len(parts) > len(have[name]) {
				added = append(added, name)
			}
		}
		if len(added) > 0 {
			sort.Strings(added)
			a.log.Info("new data topics or partitions: rejoining the consumer group with them", "stage", "apply", "topics", strings.Join(added, ","))
			changed(errTopicsChanged)
			return
		}
	}
}

// consume runs the consumer group on topics until ctx ends, an apply error,
// caught up (ExitWhenCaughtUp) or new data topics (errTopicsChanged), and
// returns that cause once every partition stopped.
func (a *kafkaApplier) consume(ctx context.Context, topics map[string][]int, o ApplyOptions) error {
	log, kc := a.log, a.kc
	var bounds map[string]map[int]kafkasink.Bounds
	if o.ExitWhenCaughtUp {
		var err error
		if bounds, err = kc.Bounds(ctx, topics); err != nil {
			return rejoinable(err)
		}
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	sort.Strings(names)
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                a.group,
		Brokers:           kc.Brokers(),
		Dialer:            kc.Dialer(),
		Topics:            names,
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		JoinGroupBackoff:  time.Second,
		StartOffset:       kafka.FirstOffset,
		ErrorLogger:       kafka.LoggerFunc(func(f string, args ...any) { log.Debug(fmt.Sprintf(f, args...), "stage", "group") }),
	})
	if err != nil {
		return fmt.Errorf("kafka consumer group %s on %s: %w", a.group, kc.BrokerList(), err)
	}
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	log.Info("applying from kafka", "stage", "apply", "group", a.group, "topics", len(names), "brokers", kc.BrokerList())
	var wg sync.WaitGroup
	if !o.ExitWhenCaughtUp {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.watchTopics(runCtx, topics, o.TopicCheckEvery, stop)
		}()
	}
	failures := 0
	for runCtx.Err() == nil {
		gen, err := group.Next(runCtx)
		if err != nil {
			if runCtx.Err() != nil {
				break
			}
			failures++
			if failures > 30 {
				stop(fmt.Errorf("kafka consumer group %s on %s: %w", a.group, kc.BrokerList(), err))
				break
			}
			log.Warn("consumer group: rejoining", "stage", "group", "error", err)
			continue
		}
		failures = 0
		var assigned []kafka.PartitionAssignment
		var assignedTopics []string
		for topic, parts := range gen.Assignments {
			for _, p := range parts {
				assigned = append(assigned, p)
				assignedTopics = append(assignedTopics, topic)
			}
		}
		log.Info("generation", "stage", "group", "generation", gen.ID, "member", gen.MemberID, "partitions", len(assigned))
		pending := atomic.Int64{}
		pending.Store(int64(len(assigned)))
		if o.ExitWhenCaughtUp && len(assigned) == 0 {
			stop(errCaughtUp)
			break
		}
		for i, p := range assigned {
			topic, part := assignedTopics[i], p.ID
			var target *kafkasink.Bounds
			if o.ExitWhenCaughtUp {
				b := bounds[topic][part]
				target = &b
			}
			var once sync.Once
			caughtUp := func() {
				once.Do(func() {
					if pending.Add(-1) == 0 {
						stop(errCaughtUp)
					}
				})
			}
			wg.Add(1)
			gen.Start(func(gctx context.Context) {
				defer wg.Done()
				pctx, cancel := context.WithCancel(runCtx)
				defer cancel()
				defer context.AfterFunc(gctx, cancel)()
				log.Info("partition assigned", "stage", "apply", "topic", topic, "partition", part, "generation", gen.ID, "member", gen.MemberID)
				if err := a.partition(pctx, gen, topic, part, target, caughtUp); err != nil {
					stop(rejoinable(err))
				}
			})
		}
	}
	_ = group.Close()
	stop(nil) // ends the topic watcher whatever ended the loop
	wg.Wait()
	return context.Cause(runCtx)
}

// sourcePos orders the messages of one partition: the source position of the
// change's transaction, the row's index in it and, for the two messages the
// producer splits a key-changing update into (a delete of the old key, then a
// create of the new one, sharing the row index), the delete first. Snapshot
// reads have none.
type sourcePos struct {
	pos cdc.Position
	row int
	sub int // 0 for a delete, 1 for other ops
	set bool
}

func (p sourcePos) String() string {
	if !p.set {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d:%d", p.pos.File, p.pos.Pos, p.row, p.sub)
}

func (p sourcePos) compare(q sourcePos) int {
	if c := p.pos.Compare(q.pos); c != 0 {
		return c
	}
	switch {
	case p.row != q.row:
		return cmp.Compare(p.row, q.row)
	case p.sub != q.sub:
		return cmp.Compare(p.sub, q.sub)
	}
	return 0
}

// parseSourcePos reads what String writes: "file:pos:row:sub".
func parseSourcePos(s string) (sourcePos, error) {
	if s == "" {
		return sourcePos{}, nil
	}
	parts := strings.Split(s, ":")
	if len(parts) < 4 {
		return sourcePos{}, fmt.Errorf("source position %q: want file:pos:row:sub", s)
	}
	n := len(parts)
	pos, err1 := strconv.ParseUint(parts[n-3], 10, 64)
	row, err2 := strconv.Atoi(parts[n-2])
	sub, err3 := strconv.Atoi(parts[n-1])
	if err := errors.Join(err1, err2, err3); err != nil {
		return sourcePos{}, fmt.Errorf("source position %q: %w", s, err)
	}
	return sourcePos{pos: cdc.Position{File: strings.Join(parts[:n-3], ":"), Pos: pos}, row: row, sub: sub, set: true}, nil
}

func messagePos(m *kafkasink.Message) sourcePos {
	if m.Op == "r" || (m.Source.File == "" && m.Source.Pos == 0) {
		return sourcePos{}
	}
	sub := 1
	if m.Op == "d" {
		sub = 0
	}
	return sourcePos{pos: cdc.Position{File: m.Source.File, Pos: m.Source.Pos}, row: m.Source.Row, sub: sub, set: true}
}

// kafkaApplier is one ApplyFromKafkaWith run; partitions share its schemas
// and plan.
type kafkaApplier struct {
	r     *Env
	kc    *kafkasink.Client
	log   *slog.Logger
	auto  bool
	group string

	mu          sync.Mutex
	schemas     map[string]*cdc.Table // "db.table"
	plan        *transform.Plan
	lastRefresh map[string]time.Time // per table that made us refresh

	applied, failedRows, badMessages atomic.Int64

	// budget bounds the message bytes the partitions' batches hold together.
	budget *semaphore.Weighted
	// writer applies every partition's batches (one writer, so what it
	// learns of the destination tables is checked once, not per batch).
	writer *mysqlsink.Writer
	// retry retries a batch through a destination outage.
	retry Retrier
}

// messageWeight is what m holds in the budget.
func messageWeight(m *kafka.Message) int64 {
	return min(int64(len(m.Key)+len(m.Value)+messageOverhead), applyBudgetBytes)
}

// refresh re-reads the schema topic and recompiles the plan. Callers hold
// a.mu (or run before the partitions start).
func (a *kafkaApplier) refresh(ctx context.Context) error {
	schemas, err := a.kc.ReadSchemas(ctx)
	if err != nil {
		return err
	}
	var tables []*cdc.Table
	for _, t := range schemas {
		if a.mapsDB(t.Schema) {
			tables = append(tables, t)
		}
	}
	sort.Slice(tables, func(i, j int) bool { return tables[i].Name < tables[j].Name })
	plan, problems, err := a.r.Compile(ctx, tables)
	if err != nil {
		return err
	}
	if err := a.r.Report(problems, a.auto); err != nil {
		return err
	}
	a.schemas, a.plan = schemas, plan
	return nil
}

// mapsDB reports whether changes of source database db go through the map:
// those of the configured source database (any, when none is configured).
func (a *kafkaApplier) mapsDB(db string) bool {
	return a.r.Config.Source.Database == "" || db == a.r.Config.Source.Database
}

// table returns the source table of name "db.table" and its plan (nil when
// not mapped); when unknown, or when stale is set, the schema topic is read
// again, at most once per schemaRefreshEvery for each table.
func (a *kafkaApplier) table(ctx context.Context, name string, stale bool) (*cdc.Table, *transform.TablePlan, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.schemas[name]
	if (t == nil || stale) && time.Since(a.lastRefresh[name]) > schemaRefreshEvery {
		a.lastRefresh[name] = time.Now()
		a.log.Info("reading table definitions again", "stage", "apply", "table", name)
		if err := a.refresh(ctx); err != nil {
			return nil, nil, err
		}
		t = a.schemas[name]
	}
	if t == nil {
		return nil, nil, nil
	}
	if !a.mapsDB(t.Schema) {
		return t, nil, nil
	}
	tp := a.plan.Table(t.Name)
	if tp != nil && !tp.Matches(t) {
		return nil, nil, fmt.Errorf("table %s has columns (%s), the plan was compiled for (%s)", name, t.ColumnList(), tp.Source.ColumnList())
	}
	return t, tp, nil
}

// partitionState is what the destination records for one partition.
type partitionState struct {
	next int64 // -1: no row yet
	last sourcePos
	// seen holds the source positions applied from this partition by this
	// process (bounded, oldest forgotten first): a message at one of them is a
	// copy a producer retry wrote. Only exact copies are skipped: a position
	// merely below the last one can be a batch the producer sent out of order
	// and must be applied (replays converge, rule 2 of DESIGN.md).
	seen  map[seenPos]struct{}
	order []seenPos // a ring of the seen positions, oldest at head once full
	head  int
	// files numbers the binlog file names of the seen positions.
	files map[string]uint32
}

// maxSeen bounds partitionState.seen. A producer retry republishes at most
// one relay batch (maxBatchChanges changes, each at most two messages with a
// position), so the copies it writes are within the last maxSeen messages of
// the partition.
const maxSeen = 2*stream.DefaultMaxChanges + 10000

// seenPos is a compact sourcePos (messagePos sets only the file and
// position of pos): 16 bytes.
type seenPos struct {
	pos  uint64
	row  int32
	file uint32 // number in partitionState.files, from 1
}

// key returns p's compact form; ok is false when p has none (then it is
// never seen).
func (st *partitionState) key(p sourcePos, add bool) (k seenPos, ok bool) {
	if !p.set || p.row < 0 || p.row >= 1<<30 || p.sub < 0 || p.sub > 1 || p.pos.GTID != "" || p.pos.Logs != "" {
		return k, false
	}
	id, ok := st.files[p.pos.File]
	if !ok {
		if !add {
			return k, false
		}
		if st.files == nil {
			st.files = map[string]uint32{}
		}
		id = uint32(len(st.files) + 1)
		st.files[strings.Clone(p.pos.File)] = id
	}
	return seenPos{pos: p.pos.Pos, row: int32(p.row<<1 | p.sub), file: id}, true
}

// isSeen reports whether p was applied from this partition by this process.
func (st *partitionState) isSeen(p sourcePos) bool {
	k, ok := st.key(p, false)
	if !ok {
		return false
	}
	_, ok = st.seen[k]
	return ok
}

func (st *partitionState) remember(ps []sourcePos) {
	if st.seen == nil {
		st.seen = make(map[seenPos]struct{}, min(len(ps), maxSeen))
	}
	for _, p := range ps {
		k, ok := st.key(p, true)
		if !ok {
			continue
		}
		if _, ok := st.seen[k]; ok {
			continue
		}
		if len(st.order) < maxSeen {
			st.order = append(st.order, k)
		} else {
			delete(st.seen, st.order[st.head])
			st.order[st.head] = k
			st.head = (st.head + 1) % maxSeen
		}
		st.seen[k] = struct{}{}
	}
}

// badMessage is a message recorded in _shiplog_failed_messages.
type badMessage struct {
	m   kafka.Message
	err error
}

func (a *kafkaApplier) loadState(ctx context.Context, topic string, part int) (partitionState, error) {
	o, ok, err := a.r.State.KafkaOffset(ctx, a.group, topic, part)
	if err != nil || !ok {
		return partitionState{next: -1}, err
	}
	st := partitionState{next: o.Next}
	if st.last, err = parseSourcePos(o.SourcePos); err != nil {
		return st, fmt.Errorf("offset of %s[%d]: %w", topic, part, err)
	}
	return st, nil
}

// rememberApplied fills st's seen positions from the messages before its
// stored offset (up to maxSeen of them): they are applied, so a copy of one
// a producer retry or a restarted publisher wrote after them is skipped
// also by an applier that just started or took the partition over in a
// rebalance. Only tables without a key need it (their rows are plain
// inserts, a copy would be a second row); a copy of a keyed row is an
// upsert or delete by key, and the copies of a batch follow it in order.
func (a *kafkaApplier) rememberApplied(ctx context.Context, topic string, part int, st *partitionState) error {
	if st.next <= 0 {
		return nil
	}
	if _, tp, err := a.table(ctx, strings.TrimPrefix(topic, a.kc.Prefix()+"."), false); err != nil || tp == nil || !tp.FullRow {
		return err
	}
	bounds, err := a.kc.Bounds(ctx, map[string][]int{topic: {part}})
	if err != nil {
		return err
	}
	from := max(st.next-maxSeen, bounds[topic][part].First)
	to := min(st.next, bounds[topic][part].Last)
	var ps []sourcePos
	err = a.kc.ReadRange(ctx, topic, part, from, to, func(m kafka.Message) error {
		if len(m.Value) == 0 {
			return nil
		}
		env, err := kafkasink.Decode(m.Value)
		if err != nil {
			return nil // recorded as bad when it was applied
		}
		if p := messagePos(env); p.set {
			ps = append(ps, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("kafka %s[%d]: read the applied messages before offset %d: %w", topic, part, st.next, err)
	}
	st.remember(ps)
	return nil
}

// fatalError marks decode errors that stop the applier rather than mark the
// message as malformed (the destination or the schema topic failed).
type fatalError struct{ err error }

func (e fatalError) Error() string { return e.err.Error() }

// decode turns an envelope into a source change and finds its plan (nil when
// the table is not mapped).
func (a *kafkaApplier) decode(ctx context.Context, env *kafkasink.Message) (cdc.Change, *transform.TablePlan, error) {
	op, err := kafkasink.ParseOp(env.Op)
	if err != nil {
		return cdc.Change{}, nil, err
	}
	name := env.Source.DB + "." + env.Source.Table
	var c cdc.Change
	for attempt := 0; ; attempt++ {
		t, tp, err := a.table(ctx, name, attempt > 0)
		if err != nil {
			return c, nil, fatalError{err}
		}
		if t == nil {
			return c, nil, fmt.Errorf("unknown table %s: no definition in %s.__schema", name, a.kc.Prefix())
		}
		c, err = changeOf(t, env, op)
		if err != nil && attempt == 0 {
			continue // the table may have changed since the definitions were read
		}
		return c, tp, err
	}
}

// changeOf decodes the row images of env against t.
func changeOf(t *cdc.Table, env *kafkasink.Message, op cdc.Op) (cdc.Change, error) {
	before, err := kafkasink.DecodeRow(t, env.Before)
	if err != nil {
		return cdc.Change{}, fmt.Errorf("before: %w", err)
	}
	after, err := kafkasink.DecodeRow(t, env.After)
	if err != nil {
		return cdc.Change{}, fmt.Errorf("after: %w", err)
	}
	switch {
	case (op == cdc.OpInsert || op == cdc.OpRead) && after == nil,
		op == cdc.OpUpdate && (before == nil || after == nil),
		op == cdc.OpDelete && before == nil:
		return cdc.Change{}, fmt.Errorf("op %q without the row image it needs", env.Op)
	}
	ts := env.Source.TsMs
	if ts == 0 {
		ts = env.TsMs
	}
	return cdc.Change{Op: op, Table: t, Before: before, After: after, CommitTime: time.UnixMilli(ts).UTC(),
		Pos: cdc.Position{File: env.Source.File, Pos: env.Source.Pos}}, nil
}

// failedMessages are bad as recorded in _shiplog_failed_messages.
func failedMessages(bad []badMessage) []state.FailedMessage {
	out := make([]state.FailedMessage, len(bad))
	for i, b := range bad {
		out[i] = state.FailedMessage{Topic: b.m.Topic, Partition: b.m.Partition, Offset: b.m.Offset, Error: b.err.Error(), Value: b.m.Value}
	}
	return out
}

// kafkaLockRetry runs a partition's transaction again when the destination
// chose it as a deadlock victim or timed out a lock wait (partitions apply
// concurrently). Partitions that deadlock on the same rows (tables without a
// key are matched by scans) retry apart: a growing wait with jitter.
var kafkaLockRetry = mysqlerr.Retry{Attempts: 10, Wait: func(attempt int) time.Duration {
	return time.Duration(attempt*50+rand.IntN(50*attempt)) * time.Millisecond
}}

// kafkaClient reaches the brokers of cfg.Kafka.
func (r *Env) kafkaClient() (*kafkasink.Client, error) {
	return kafkasink.NewClient(r.Kafka)
}

// kafkaTopics connects to the brokers of cfg.Kafka and lists the data
// topics; the caller closes kc.
func (r *Env) kafkaTopics(ctx context.Context) (kc *kafkasink.Client, topics map[string][]int, err error) {
	if kc, err = r.kafkaClient(); err != nil {
		return nil, nil, err
	}
	if topics, err = kc.DataTopics(ctx); err != nil {
		kc.Close()
		return nil, nil, err
	}
	return kc, topics, nil
}

// cascadeOwner is a table cascade markers change and the number of
// partitions its topic spreads its rows over.
type cascadeOwner struct {
	tp    *transform.TablePlan
	parts int
}

// cascadeMarker turns a cascade marker message (see kafkasink.CascadeInfo)
// into the marker of the mapped child table.
func cascadeMarker(tp *transform.TablePlan, env *kafkasink.Message, c cdc.Change) (cdc.Change, error) {
	info := env.Cascade
	if info == nil || len(info.Columns) == 0 || info.Partitions <= 0 {
		return c, errors.New("cascade marker without its cascade block")
	}
	if !tp.KeyIdentity() {
		return c, fmt.Errorf("foreign key %s: the map changes the key of %s, so the rows this partition owns cannot be told: apply with a map that copies its key unchanged", info.Constraint, tp.Source.Name)
	}
	cas := &cdc.Cascade{Constraint: info.Constraint, Delete: info.Delete}
	mk := cdc.Change{Op: cdc.OpCascade, Table: tp.Dest, Cascade: cas, CommitTime: c.CommitTime, Pos: c.Pos}
	for _, name := range info.Columns {
		si := tp.Source.ColumnIndex(name)
		di := tp.CopiedTo(si)
		if si < 0 || di < 0 || c.Before == nil {
			return c, fmt.Errorf("foreign key %s: column %s.%s is not copied to the destination as it is, so the rows the key's action changed cannot be found: copy it unchanged or ignore %s in the map",
				info.Constraint, tp.Source.Name, name, tp.Source.Name)
		}
		cas.Cols = append(cas.Cols, di)
		mk.Before = append(mk.Before, c.Before[si])
		if !info.Delete {
			var v any
			if c.After != nil {
				v = c.After[si]
			}
			mk.After = append(mk.After, v)
		}
	}
	return mk, nil
}

// expandCascades replaces the cascade markers of a partition's batch by the
// row changes they stand for, limited to the rows whose source key hashes
// to the partition (the other partitions' appliers change theirs, each in
// its own order).
func expandCascades(ctx context.Context, dst *sql.DB, changes []cdc.Change, owners map[*cdc.Table]cascadeOwner, part int) ([]cdc.Change, error) {
	var tables []*cdc.Table
	seen := map[*cdc.Table]bool{}
	for _, c := range changes {
		if !seen[c.Table] {
			seen[c.Table] = true
			tables = append(tables, c.Table)
		}
	}
	keep := func(t *cdc.Table, row []any) bool {
		o, ok := owners[t]
		if !ok {
			return false
		}
		img := make([]any, len(o.tp.Source.Columns))
		for i, sk := range o.tp.Source.Key {
			img[sk] = row[t.Key[i]]
		}
		key, err := kafkasink.AppendKey(nil, o.tp.Source, img)
		if err != nil {
			return false
		}
		return kafkasink.PartitionOf(key, o.parts) == part
	}
	return cascade.Tables(tables).Expand(ctx, dst, changes, cascade.Options{Keep: keep})
}

// errCaughtUp ends the applier once every assigned partition reached the
// high watermark it had at the start.
var errCaughtUp = errors.New("caught up")
