package testenv

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// KafkaWithACLs starts a one-broker cluster that authenticates with SASL
// PLAIN and checks ACLs: "admin"/"admin" is a superuser, and each of users
// is a PLAIN user (name, password) with its ACLs. The broker stops when the
// test ends.
func KafkaWithACLs(t testing.TB, users ...KafkaUser) *Kafka {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(0), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("PLAIN", "admin", "admin")}
	for _, u := range users {
		opts = append(opts, kfake.User("PLAIN", u.Name, u.Password, u.ACLs...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("start kfake with ACLs: %v", err)
	}
	t.Cleanup(c.Close)
	return &Kafka{cluster: c, Addrs: c.ListenAddrs()}
}

// KafkaUser is a SASL PLAIN user of KafkaWithACLs.
type KafkaUser struct {
	Name, Password string
	ACLs           []kfake.ACL
}

// Messages returns the number of messages ever written to topic (the sum
// of its partitions' high watermarks; 0 when it does not exist).
func (k *Kafka) Messages(topic string) int64 {
	var n int64
	for _, p := range k.cluster.PartitionInfos(topic) {
		if p != nil {
			n += p.HighWatermark
		}
	}
	return n
}
