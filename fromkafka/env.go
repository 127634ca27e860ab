// Package fromkafka applies and replays what shiplog published to Kafka:
// `apply --from-kafka` (a consumer group whose every assigned partition is a
// stream.Loop writing changes and offsets in one destination transaction)
// and `replay` (the topics read back, filtered, printed or applied to a
// database of one's own). It gets what it needs from the runtime that runs
// it through Env; it never imports pipeline.
package fromkafka

import (
	"context"
	"database/sql"
	"log/slog"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/config"
	kafkasink "github.com/shiplog/shiplog/sink/kafka"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
	"github.com/shiplog/shiplog/state"
	"github.com/shiplog/shiplog/transform"
)

// Env is what applying and replaying from Kafka need from the runtime.
type Env struct {
	Config *config.Config
	Log    *slog.Logger
	// Kafka are the consumer's settings (brokers, SASL, TLS, topic prefix).
	Kafka kafkasink.Options
	// Dst is the destination database; State its shiplog state tables;
	// Writer applies batches to it.
	Dst    *sql.DB
	State  *state.State
	Writer *mysqlsink.Writer
	// Retry retries a destination write through a connection-level outage.
	Retry Retrier
	// Compile compiles the map for the source tables the schema topic
	// holds, against the destination as it is now.
	Compile func(ctx context.Context, src []*cdc.Table) (*transform.Plan, []transform.Problem, error)
	// Report logs the problems of a compiled map and returns the integrity
	// error when errors remain (auto: as --auto does).
	Report func(problems []transform.Problem, auto bool) error
	// Auto is --auto, given or recorded by data mode.
	Auto bool
	// OpenDB opens and checks the database of a DSN (replay --apply-to),
	// with the session settings and deadlines shiplog's own connections
	// have: the pool, the DSN's database and the DSN without its password
	// (errors name that too).
	OpenDB func(ctx context.Context, dsn string) (db *sql.DB, schema, redacted string, err error)
	// Lookups, when set, learns of the changes of tables the map's
	// handlers read (see transform.Lookups).
	Lookups LookupRefresher
}

// LookupRefresher drops what handlers read of a table the stream changes.
// Its methods never block on I/O.
type LookupRefresher interface {
	// SourceChanged is told of changes (source tables) before the
	// changes after them are mapped.
	SourceChanged(changes []cdc.Change)
	// Written is told of the changes of a batch once it is committed.
	Written(changes []cdc.Change)
}

// Retrier runs a destination write, again after a connection-level failure
// (recover first, which finds out what a lost COMMIT did), until it
// succeeds, fails otherwise, or the outage lasts too long.
type Retrier interface {
	Do(ctx context.Context, what string, write, recover func(context.Context) error) error
}
