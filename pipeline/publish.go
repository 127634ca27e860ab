package pipeline

import (
	"context"
	"fmt"

	kafkasink "github.com/shiplog/shiplog/sink/kafka"
	"github.com/shiplog/shiplog/transform"
)

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
	if r.cfg.Sink != "kafka" && r.cfg.Sink != "both" {
		return nil, nil // sink: mysql
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
