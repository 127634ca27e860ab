package pipeline

import (
	"context"
	"errors"
	"log/slog"

	"github.com/shiplog/shiplog/cascade"
	"github.com/shiplog/shiplog/cdc"
	kafkasink "github.com/shiplog/shiplog/sink/kafka"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
	"github.com/shiplog/shiplog/stream"
	"github.com/shiplog/shiplog/transform"
)

// destination is what the destination database receives, by the
// configuration's sink: the mapped rows with shiplog's state (mysql, both),
// or shiplog's state alone (kafka: the source rows are published and an
// applier maps them into its own destination). Chosen once, when the
// runtime opens; whether changes are also published to Kafka is whether a
// producer is open (openPublisher).
type destination interface {
	// plan compiles the plan of the source tables for what is written.
	plan(ctx context.Context, src []*cdc.Table) (*transform.Plan, []transform.Problem, error)
	// rows is nil when the destination database holds the mapped rows;
	// otherwise it says why not (verify and cutover refuse with it, checks
	// of the destination's rows are skipped).
	rows() error
	// sink writes a stream batch there with its checkpoint.
	sink(w *mysqlsink.Writer, fks *cascade.Set, expand cascade.Options, retry *destRetry, log *slog.Logger) stream.Sink
}

// newDestination is the destination of the configuration's sink.
func newDestination(r *Runtime) destination {
	if r.cfg.Sink == "kafka" {
		return stateOnly{r}
	}
	return mappedRows{r}
}

// mappedRows: the destination database gets the mapped rows (sink: mysql,
// both).
type mappedRows struct{ r *Runtime }

func (d mappedRows) plan(ctx context.Context, src []*cdc.Table) (*transform.Plan, []transform.Problem, error) {
	return d.r.compileToDestination(ctx, src)
}

func (d mappedRows) rows() error { return nil }

func (d mappedRows) sink(w *mysqlsink.Writer, fks *cascade.Set, expand cascade.Options, retry *destRetry, log *slog.Logger) stream.Sink {
	return &mysqlSink{r: d.r, w: w, fks: fks, expand: expand, retry: retry, log: log}
}

// errStateOnly is destination.rows of sink: kafka.
var errStateOnly = errors.New("with sink: kafka the destination database holds shiplog's state only (the rows go to Kafka)")

// stateOnly: the destination database keeps shiplog's state alone (sink:
// kafka).
type stateOnly struct{ r *Runtime }

// plan is the map's ignores alone: the source rows are published as they
// are, and `apply --from-kafka` applies the map against its destination.
func (d stateOnly) plan(_ context.Context, src []*cdc.Table) (*transform.Plan, []transform.Problem, error) {
	rules, err := d.r.rules()
	if err != nil {
		return nil, nil, err
	}
	publish := &transform.Rules{Source: transform.Area{IgnoreDocuments: rules.Source.IgnoreDocuments},
		SourcePrefix: rules.SourcePrefix, DestPrefix: rules.SourcePrefix, FullRowTables: rules.FullRowTables}
	plan, problems := transform.Compile(publish, src, src)
	return plan, problems, nil
}

func (d stateOnly) rows() error { return errStateOnly }

func (d stateOnly) sink(w *mysqlsink.Writer, fks *cascade.Set, expand cascade.Options, retry *destRetry, log *slog.Logger) stream.Sink {
	return &mysqlSink{r: d.r, w: w, fks: fks, expand: expand, retry: retry, log: log, checkpointOnly: true}
}

// deltaSink is the stream's sink: Kafka first when a producer is open, so
// that the checkpoint never passes a change the broker has not taken, then
// the destination.
func (r *Runtime) deltaSink(w *mysqlsink.Writer, p *kafkasink.Producer, fks *cascade.Set, expand cascade.Options, retry *destRetry, log *slog.Logger) stream.Sink {
	dest := r.dest.sink(w, fks, expand, retry, log)
	if p == nil {
		return dest
	}
	return fanout{&kafkaSink{p: p}, dest}
}
