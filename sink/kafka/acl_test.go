//go:build !unit

package kafka_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/shiplog/shiplog/internal/testenv"
	"github.com/shiplog/shiplog/sink/kafka"
)

// The broker tells which operations a user may run; CheckAccess names each
// missing one with the command that grants it, and passes a user who holds
// them (or a superuser).
func TestCheckAccessNamesMissingACLs(t *testing.T) {
	t.Parallel()
	allow := func(rt kmsg.ACLResourceType, name string, pat kmsg.ACLResourcePatternType, op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: rt, Name: name, Pattern: pat, Operation: op, Allow: true}
	}
	topic := kmsg.ACLResourceTypeTopic
	group := kmsg.ACLResourceTypeGroup
	lit, pre := kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed
	k := testenv.KafkaWithACLs(t,
		testenv.KafkaUser{Name: "writer", Password: "w-secret", ACLs: []kfake.ACL{allow(topic, "shop.", pre, kmsg.ACLOperationWrite)}},
		testenv.KafkaUser{Name: "halfwriter", Password: "h-secret", ACLs: []kfake.ACL{
			allow(topic, "shop.db.orders", lit, kmsg.ACLOperationWrite),
			allow(topic, "shop.db.items", lit, kmsg.ACLOperationRead)}},
		testenv.KafkaUser{Name: "reader", Password: "r-secret", ACLs: []kfake.ACL{
			allow(topic, "shop.", pre, kmsg.ACLOperationRead), allow(group, "shiplog-apply", lit, kmsg.ACLOperationRead)}},
		testenv.KafkaUser{Name: "groupless", Password: "g-secret", ACLs: []kfake.ACL{allow(topic, "shop.", pre, kmsg.ACLOperationRead)}},
	)
	for _, tp := range []string{"shop.db.orders", "shop.db.items", "shop.__schema"} {
		if err := k.CreateTopic(tp, 2, nil); err != nil {
			t.Fatal(err)
		}
	}
	topics := []string{"shop.db.orders", "shop.db.items", "shop.__schema"}
	opts := func(user, pw string) kafka.Options {
		return kafka.Options{Brokers: k.Addrs, TopicPrefix: "shop", SASLMechanism: "plain", SASLUsername: user, SASLPassword: pw}
	}
	ctx := context.Background()
	write := kafka.Access{Write: true, Topics: topics}
	read := kafka.Access{Read: true, Group: "shiplog-apply", Topics: topics}

	for _, ok := range []struct {
		user, pw string
		a        kafka.Access
	}{{"writer", "w-secret", write}, {"reader", "r-secret", read}, {"admin", "admin", write}, {"admin", "admin", read}} {
		if err := kafka.CheckAccess(ctx, opts(ok.user, ok.pw), ok.a); err != nil {
			t.Errorf("%s (write %v): want no error, got %v", ok.user, ok.a.Write, err)
		}
	}

	err := kafka.CheckAccess(ctx, opts("halfwriter", "h-secret"), write)
	if !errors.Is(err, kafka.ErrACL) {
		t.Fatalf("halfwriter: want ErrACL, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"--allow-principal User:halfwriter --operation Write --topic shop.db.items",
		"--allow-principal User:halfwriter --operation Write --topic shop.__schema",
		"--bootstrap-server " + k.Addrs[0],
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("halfwriter: error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "--topic shop.db.orders ") || strings.Contains(msg, "h-secret") {
		t.Errorf("halfwriter: error names a granted topic or the password:\n%s", msg)
	}

	// The writer may not read: consuming needs Read on every topic.
	err = kafka.CheckAccess(ctx, opts("writer", "w-secret"), read)
	if !errors.Is(err, kafka.ErrACL) || strings.Count(err.Error(), "--operation Read --topic") != 3 ||
		!strings.Contains(err.Error(), "--operation Read --group shiplog-apply") {
		t.Errorf("writer reading: want Read on 3 topics and the group, got %v", err)
	}
	// Read on the topics but not the group.
	err = kafka.CheckAccess(ctx, opts("groupless", "g-secret"), read)
	if !errors.Is(err, kafka.ErrACL) || strings.Contains(err.Error(), "--topic") ||
		!strings.Contains(err.Error(), "--operation Read --group shiplog-apply") {
		t.Errorf("groupless: want only the group named, got %v", err)
	}
}
