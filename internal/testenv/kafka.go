package testenv

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Kafka is a Kafka-protocol broker (franz-go's kfake) listening on a loopback
// port; clients reach it over TCP like any broker.
type Kafka struct {
	cluster *kfake.Cluster
	// Addrs are the brokers' "host:port" addresses.
	Addrs []string
}

// StartKafka starts a one-broker cluster on a free loopback port. With
// autoCreate, producing to a missing topic creates it.
func StartKafka(autoCreate bool) (*Kafka, error) {
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(0)}
	if autoCreate {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start kfake: %w", err)
	}
	return &Kafka{cluster: c, Addrs: c.ListenAddrs()}, nil
}

// Close stops the broker.
func (k *Kafka) Close() { k.cluster.Close() }

// KafkaT starts a broker for a test and stops it when the test ends.
func KafkaT(t testing.TB, autoCreate bool) *Kafka {
	t.Helper()
	k, err := StartKafka(autoCreate)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	return k
}

// CreateTopic creates a topic directly on the broker.
func (k *Kafka) CreateTopic(topic string, partitions int32, configs map[string]string) error {
	return k.cluster.CreateTopic(topic, partitions, configs)
}

// TopicConfig returns a topic's configuration value and whether the topic
// exists and has it set.
func (k *Kafka) TopicConfig(topic, name string) (string, bool) {
	ti := k.cluster.TopicInfo(topic)
	if ti == nil {
		return "", false
	}
	v := ti.Configs[name]
	if v == nil {
		return "", false
	}
	return *v, true
}

// TopicPartitions returns the number of partitions of a topic (0 when it
// does not exist).
func (k *Kafka) TopicPartitions(topic string) int {
	return len(k.cluster.PartitionInfos(topic))
}

// Restart stops a broker of StartKafka or KafkaT and starts an empty one on
// the same port, with the same options: a broker that lost its data
// (topics, messages, consumer groups).
func (k *Kafka) Restart(autoCreate bool) error {
	_, portText, err := net.SplitHostPort(k.Addrs[0])
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return err
	}
	k.cluster.Close()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(port)}
	if autoCreate {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	// The old listener's port may take a moment to be free again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := kfake.NewCluster(opts...)
		if err == nil {
			k.cluster = c
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("restart kfake on port %d: %w", port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
