package pipeline

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/fromkafka"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
)

// ApplyOptions tune ApplyFromKafkaWith (see fromkafka.ApplyOptions).
type ApplyOptions = fromkafka.ApplyOptions

// ReplayOptions tune Replay (see fromkafka.ReplayOptions).
type ReplayOptions = fromkafka.ReplayOptions

// ErrGap is returned when changes were lost outside shiplog (see
// fromkafka.ErrGap and checkDestinationTables).
var ErrGap = fromkafka.ErrGap

// fromKafka is what the Kafka applier and replay get from r.
func (r *Runtime) fromKafka(ctx context.Context, command string) (*fromkafka.Env, error) {
	opts, err := r.kafkaOptions()
	if err != nil {
		return nil, err
	}
	return &fromkafka.Env{Config: r.cfg, Log: r.log, Kafka: opts, Dst: r.dst, State: r.state, Writer: r.writer(),
		Retry: retrier{r.destRetry(ctx, command)}, Compile: r.compileSeenSoFar, Report: r.reportProblems,
		OpenDB: openReplayDB, Lookups: r.lookupRefresh()}, nil
}

// retrier is destRetry as fromkafka.Retrier.
type retrier struct{ d *destRetry }

func (r retrier) Do(ctx context.Context, what string, write, recover func(context.Context) error) error {
	return r.d.do(ctx, what, write, recover)
}

// ApplyFromKafka is ApplyFromKafkaWith without options: it runs until ctx
// ends.
func (r *Runtime) ApplyFromKafka(ctx context.Context) error {
	return r.ApplyFromKafkaWith(ctx, ApplyOptions{})
}

// ApplyFromKafkaWith applies the data topics into the destination database
// through the map (see fromkafka.Env.ApplyFromKafkaWith); --auto recorded by
// data mode counts as given.
func (r *Runtime) ApplyFromKafkaWith(ctx context.Context, o ApplyOptions) error {
	e, err := r.fromKafka(ctx, "apply --from-kafka")
	if err != nil {
		return err
	}
	if !o.Auto {
		flag, err := r.state.Flag(ctx, flagAuto)
		if err != nil {
			return err
		}
		e.Auto = flag != ""
	}
	return e.ApplyFromKafkaWith(ctx, o)
}

// Replay reads the topics back (see fromkafka.Env.Replay).
func (r *Runtime) Replay(ctx context.Context, o ReplayOptions, out io.Writer) error {
	e, err := r.fromKafka(ctx, "replay")
	if err != nil {
		return err
	}
	return e.Replay(ctx, o, out)
}

// openReplayDB opens the database of replay --apply-to's DSN with shiplog's
// session settings and the default connect deadline.
func openReplayDB(ctx context.Context, dsn string) (*sql.DB, string, string, error) {
	dcfg, err := config.ParseDSN(dsn)
	if err != nil {
		return nil, "", "", err
	}
	if dcfg.DBName == "" {
		return nil, "", "", errors.New("the DSN names no database")
	}
	redacted := fmt.Sprintf("%s:***@%s(%s)/%s", dcfg.User, dcfg.Net, dcfg.Addr, dcfg.DBName)
	conn, err := gomysql.NewConnector(mysqlsink.SessionConfig(dcfg))
	if err != nil {
		return nil, "", "", fmt.Errorf("%s: %w", redacted, err)
	}
	db := sql.OpenDB(initConnector{Connector: conn, connect: cmp.Or(dcfg.Timeout, config.DefaultConnectTimeout)})
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, "", "", fmt.Errorf("%s: %w", redacted, err)
	}
	return db, dcfg.DBName, redacted, nil
}
