//go:build !unit

package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/shiplog/shiplog/internal/testenv"
)

// Where the broker tells a user's operations, a publisher that may not
// write and an applier that may not read its group are refused before
// anything is copied or applied, with the kafka-acls command to run; the
// same commands pass with the ACLs added.
func TestKafkaACLsCheckedBeforeTheWork(t *testing.T) {
	t.Parallel()
	prefixed := func(rt kmsg.ACLResourceType, name string, op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: rt, Name: name, Pattern: kmsg.ACLResourcePatternTypePrefixed, Operation: op, Allow: true}
	}
	topic, group := kmsg.ACLResourceTypeTopic, kmsg.ACLResourceTypeGroup
	k := testenv.KafkaWithACLs(t,
		testenv.KafkaUser{Name: "pub", Password: "pub-pw", ACLs: []kfake.ACL{
			prefixed(topic, "acl.", kmsg.ACLOperationWrite), prefixed(topic, "acl.", kmsg.ACLOperationCreate)}},
		testenv.KafkaUser{Name: "ro", Password: "ro-pw", ACLs: []kfake.ACL{prefixed(topic, "acl.", kmsg.ACLOperationRead)}},
		testenv.KafkaUser{Name: "app", Password: "app-pw", ACLs: []kfake.ACL{
			prefixed(topic, "acl.", kmsg.ACLOperationRead), prefixed(group, "shiplog-apply", kmsg.ACLOperationRead)}},
	)
	e := newEnv(t, "")
	e.both(shopDDL, itemsDDL)
	// items stays empty: its schema is published all the same, so the
	// applier's integrity check finds it mapped.
	if err := e.src.Exec(context.Background(), "shop",
		`INSERT INTO orders (customer, amount, updated) SELECT CONCAT('c', seq), seq, NOW(6) FROM seq_1_to_50`); err != nil {
		t.Fatal(err)
	}
	kafkaAs := func(user, pw string) string {
		return fmt.Sprintf("kafka: {brokers: [%s], topic_prefix: acl, sasl: {mechanism: plain, username: %s, password: %s}}\n",
			strings.Join(k.Addrs, ", "), user, pw)
	}
	for _, tp := range []string{"acl.__schema", "acl.shop.orders", "acl.shop.items"} {
		if err := k.CreateTopic(tp, 1, nil); err != nil {
			t.Fatal(err)
		}
	}

	if err := e.dst.Exec(context.Background(), "", "CREATE DATABASE pubstate"); err != nil {
		t.Fatal(err)
	}
	publisher := func(kafka string) string {
		return e.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: pubstate}\nsink: kafka\n%s", e.src.Port, e.dst.Port, kafka))
	}
	applier := func(kafka string) string {
		return e.writeConfig(fmt.Sprintf("source: {port: %d, database: shop}\ndestination: {port: %d, database: shop_new}\n%s", e.src.Port, e.dst.Port, kafka))
	}

	// A read-only user as the publisher: refused before the copy.
	r := runShiplog(t, publisher(kafkaAs("ro", "ro-pw")), nil, "migrate", "data")
	if r.code != 2 {
		t.Fatalf("publisher without Write: want exit 2, got %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"missing Kafka ACLs", "--allow-principal User:ro --operation Write --topic acl.shop.orders", "--topic acl.__schema"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("publisher without Write: stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "ro-pw") {
		t.Errorf("the password is printed:\n%s", r.stderr)
	}
	for _, tp := range []string{"acl.__schema", "acl.shop.orders"} {
		if n := k.Messages(tp); n != 0 {
			t.Errorf("the refused publisher wrote %d message(s) to %s", n, tp)
		}
	}

	// The writer publishes; an applier without Read on its group is refused.
	if r := runShiplog(t, publisher(kafkaAs("pub", "pub-pw")), nil, "migrate", "data"); r.code != 0 {
		t.Fatalf("publisher with Write: %d\n%s", r.code, r.stderr)
	}
	if n := k.Messages("acl.shop.orders"); n != 50 {
		t.Fatalf("published %d order messages, want 50", n)
	}
	r = runShiplog(t, applier(kafkaAs("ro", "ro-pw")), nil, "apply", "--from-kafka", "--exit-when-caught-up")
	if r.code != 2 || !strings.Contains(r.stderr, "--allow-principal User:ro --operation Read --group shiplog-apply") ||
		strings.Contains(r.stderr, "--topic") {
		t.Fatalf("applier without the group: want exit 2 naming only the group ACL, got %d\n%s", r.code, r.stderr)
	}
	if r := runShiplog(t, applier(kafkaAs("app", "app-pw")), nil, "apply", "--from-kafka", "--exit-when-caught-up"); r.code != 0 {
		t.Fatalf("applier with Read: %d\n%s", r.code, r.stderr)
	}
	e.assertIdentical() // orders, and items copied empty
}
