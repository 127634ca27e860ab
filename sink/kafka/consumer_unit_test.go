package kafka

import (
	"strings"
	"testing"
)

// TestNewClientOptions: NewClient checks the options without connecting;
// SASL is set up as for the producer.
func TestNewClientOptions(t *testing.T) {
	if _, err := NewClient(Options{}); err == nil || !strings.Contains(err.Error(), "kafka.brokers") {
		t.Errorf("no brokers: got %v, want an error naming kafka.brokers", err)
	}
	if _, err := NewClient(Options{Brokers: []string{"127.0.0.1:1"}, SASLMechanism: "gssapi"}); err == nil || !strings.Contains(err.Error(), "gssapi") {
		t.Errorf("unknown SASL mechanism: got %v, want an error naming it", err)
	}
	kc, err := NewClient(Options{Brokers: []string{"b1:9092", "b2:9092"}, SASLMechanism: "SCRAM-SHA-512", SASLUsername: "u", SASLPassword: "p"})
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	if kc.Prefix() != "shiplog" || kc.SchemaTopic() != "shiplog.__schema" || kc.BrokerList() != "b1:9092,b2:9092" {
		t.Errorf("prefix %q, schema topic %q, brokers %q", kc.Prefix(), kc.SchemaTopic(), kc.BrokerList())
	}
	if kc.Dialer().SASLMechanism == nil || kc.Dialer().SASLMechanism.Name() != "SCRAM-SHA-512" || kc.transport.SASL == nil {
		t.Errorf("SASL not set on the dialer and the transport")
	}
}
