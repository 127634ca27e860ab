package pipeline

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/shiplog/shiplog/cascade"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/failpoint"
	kafkasink "github.com/shiplog/shiplog/sink/kafka"
	mysqlsink "github.com/shiplog/shiplog/sink/mysql"
	"github.com/shiplog/shiplog/transform"
)

// publishes reports whether changes go to Kafka (sink: kafka or both).
func (r *Runtime) publishes() bool { return r.cfg.Sink == "kafka" || r.cfg.Sink == "both" }

// appliesToMySQL reports whether changes are written to the destination
// database (sink: mysql or both); with sink: kafka the destination database
// only keeps shiplog's state.
func (r *Runtime) appliesToMySQL() bool { return r.cfg.Sink != "kafka" }

// kafkaOptions are the producer and consumer settings of the configuration.
func (r *Runtime) kafkaOptions() (kafkasink.Options, error) {
	k := r.cfg.Kafka
	o := kafkasink.Options{
		Brokers: k.Brokers, TopicPrefix: k.TopicPrefix,
		SASLMechanism: k.SASL.Mechanism, SASLUsername: k.SASL.Username, SASLPassword: k.SASL.Password,
		Acks: k.Acks, Compression: k.Compression, Partitions: k.Partitions, ReplicationFactor: k.ReplicationFactor,
		AutoCreateTopics: k.AutoCreateTopics, Tombstones: k.Tombstones, ServerName: k.TopicPrefix,
		ServerID: r.cfg.Source.ServerID, Logger: r.log,
	}
	tlsCfg, err := k.TLSConfig()
	if err != nil {
		return o, fmt.Errorf("kafka.tls: %w", err)
	}
	o.TLS = tlsCfg
	return o, nil
}

// openPublisher connects the Kafka producer when the sink publishes, once
// the broker has said (where it tells) that the user may write every topic
// of plan's tables.
func (r *Runtime) openPublisher(ctx context.Context, plan *transform.Plan) (*kafkasink.Producer, error) {
	if !r.publishes() {
		return nil, nil
	}
	o, err := r.kafkaOptions()
	if err != nil {
		return nil, err
	}
	p, err := kafkasink.NewProducer(ctx, o)
	if err != nil {
		return nil, err
	}
	topics := []string{kafkasink.SchemaTopic(o.TopicPrefix)}
	if plan != nil {
		for _, tp := range plan.Tables() {
			topics = append(topics, kafkasink.TopicName(o.TopicPrefix, tp.Source.Schema, tp.Source.Name))
		}
	}
	if err := kafkasink.CheckAccess(ctx, o, kafkasink.Access{Write: true, Topics: topics}); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}

// deliver sends one batch to the sinks: the source changes to Kafka first
// (Write returns once the broker acknowledged them all), then the mapped
// changes to the destination database, whose transaction also records the
// checkpoint; with sink: kafka that transaction holds the checkpoint alone.
// The checkpoint therefore never passes a change the broker has not taken.
//
// The markers of foreign key actions in b are replaced by the row changes
// they stand for first (see cascade.Set.Expand).
//
// The destination's part is retried through a connection-level outage (see
// destRetry): before each new attempt the checkpoints are read back, so
// what a lost COMMIT did commit is not applied twice. A write in flight is
// not cancelled by ctx; each attempt is bounded by writeTimeout.
func (r *Runtime) deliver(ctx context.Context, retry *destRetry, w *mysqlsink.Writer, p *kafkasink.Producer, fks *cascade.Set, b cdc.Batch, src []cdc.Change) error {
	if p != nil && len(src) > 0 {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
		err := p.Write(pctx, cdc.Batch{Changes: src, Pos: b.Pos, Time: b.Time})
		cancel()
		if err != nil {
			return err
		}
		failpoint.Hit(failpoint.Published)
	}
	if r.appliesToMySQL() {
		expanded := false
		return retry.do(ctx, "apply a batch", func(ctx context.Context) error {
			if !expanded {
				// Once: the rows the markers stand for are read from the
				// destination's state before the batch.
				changes, err := fks.Expand(ctx, r.dst, b.Changes, cascade.Options{})
				if err != nil {
					return err
				}
				b.Changes, expanded = changes, true
			}
			return w.Write(ctx, b)
		}, w.Recover)
	}
	done := false
	return retry.do(ctx, "write the checkpoint", func(ctx context.Context) error {
		if done {
			return nil
		}
		return w.Apply(ctx, nil, func(tx *sql.Tx) error {
			if err := r.state.SaveFailures(ctx, tx, b.Failed); err != nil {
				return err
			}
			return r.state.SaveCheckpoint(ctx, tx, b.Pos, b.Time)
		})
	}, func(ctx context.Context) error {
		// A lost COMMIT may have committed: then it is done.
		pos, _, ok, err := r.state.Checkpoint(ctx)
		done = err == nil && ok && pos.Covers(b.Pos)
		return err
	})
}
