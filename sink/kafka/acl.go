package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/segmentio/kafka-go/protocol/apiversions"
	"github.com/segmentio/kafka-go/protocol/describegroups"
	"github.com/segmentio/kafka-go/protocol/findcoordinator"
	meta "github.com/segmentio/kafka-go/protocol/metadata"
	"github.com/segmentio/kafka-go/protocol/saslauthenticate"
	"github.com/segmentio/kafka-go/protocol/saslhandshake"
	"github.com/segmentio/kafka-go/sasl"
)

// ErrACL is wrapped by CheckAccess's error when the broker says the user
// lacks an operation the work needs; the error names each ACL to add.
var ErrACL = errors.New("missing Kafka ACLs")

// Access is what a command will do with Kafka, for CheckAccess.
type Access struct {
	// Write: publish to Topics (sink: kafka or both).
	Write bool
	// Read: consume Topics in Group (apply --from-kafka).
	Read  bool
	Group string
	// Topics are the topics the work touches. Topics that do not exist yet
	// need CREATE when they are created by shiplog.
	Topics []string
}

// Kafka's ACL operation codes: an authorized-operations bitfield has bit
// 1<<code set for each allowed operation.
const (
	opRead  = 3
	opWrite = 4
)

// notProvided is the bitfield a broker returns when it does not tell
// (an older protocol version, or authorized operations not computed).
const notProvided = math.MinInt32

// Kafka error codes met while reading the metadata.
const (
	errTopicAuth   = 29
	errGroupAuth   = 30
	errClusterAuth = 31
)

// CheckAccess asks the broker which operations the configured user may run
// on the topics (and group), where the broker tells (Metadata v8 and
// DescribeGroups v3 carry the authorized operations), and returns an error
// wrapping ErrACL naming every missing ACL with the kafka-acls command that
// adds it. A broker that does not tell passes; the first request that is
// refused then fails with the broker's authorization error.
func CheckAccess(ctx context.Context, o Options, a Access) error {
	if err := o.normalize(); err != nil {
		return err
	}
	if !a.Write && !a.Read {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*dialTimeout)
	defer cancel()
	topics := append([]string(nil), a.Topics...)
	sort.Strings(topics)
	topics = compactStrings(topics)
	brokers := strings.Join(o.Brokers, ", ")
	// kafka-go's transport answers metadata requests from its cache, which
	// holds no authorized operations: the check asks a broker directly.
	pc, err := dialBroker(ctx, o, o.Brokers)
	if err != nil {
		return fmt.Errorf("kafka brokers %s: access check: %w", brokers, err)
	}
	defer pc.Close()
	m, err := pc.RoundTrip(&meta.Request{TopicNames: topics,
		IncludeClusterAuthorizedOperations: true, IncludeTopicAuthorizedOperations: true})
	if err != nil {
		return fmt.Errorf("kafka brokers %s: access check: %w", brokers, err)
	}
	resp, ok := m.(*meta.Response)
	if !ok {
		return fmt.Errorf("kafka brokers %s: access check: unexpected metadata response %T", brokers, m)
	}
	principal := "User:" + o.SASLUsername
	if o.SASLUsername == "" {
		principal = "User:ANONYMOUS"
	}
	bootstrap := o.Brokers[0]
	var missing []string
	add := func(ops []string, resource, name, why string) {
		args := ""
		for _, op := range ops {
			args += " --operation " + op
		}
		missing = append(missing, fmt.Sprintf("kafka-acls.sh --bootstrap-server %s --add --allow-principal %s%s --%s %s   # %s",
			bootstrap, principal, args, resource, shellQuote(name), why))
	}
	// READ and WRITE imply DESCRIBE in Kafka's ACL model: one is asked for.
	op, why := "Write", "publish the changes"
	bit := int32(1 << opWrite)
	if a.Read {
		op, why, bit = "Read", "consume the changes", 1<<opRead
	}
	for _, t := range resp.Topics {
		switch t.ErrorCode {
		case 0:
			if ops := t.TopicAuthorizedOperations; ops != notProvided && ops&bit == 0 {
				add([]string{op}, "topic", t.Name, why)
			}
		case errTopicAuth:
			add([]string{op}, "topic", t.Name, why+" (the broker refuses even to describe the topic)")
		default:
			// A topic not created yet (shiplog creates it, or waits for
			// it): whether a topic-level CREATE ACL, perhaps prefixed,
			// allows that is not told for a topic that does not exist.
			// Other errors show on first use, in the broker's words.
		}
	}
	if a.Read && a.Group != "" {
		if lacks, err := groupAccess(ctx, o, pc, a.Group); err != nil {
			return fmt.Errorf("kafka brokers %s: access check of group %q: %w", brokers, a.Group, err)
		} else if lacks {
			add([]string{"Read"}, "group", a.Group, "join the consumer group")
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%w for %s: nothing was written; add them (as a Kafka administrator), then start again:\n  %s",
		ErrACL, principal, strings.Join(missing, "\n  "))
}

// groupAccess reports whether the user lacks READ on group, where the
// broker tells (also for a group that does not exist yet). The group's
// coordinator answers; pc is a connection to any broker.
func groupAccess(ctx context.Context, o Options, pc *protocol.Conn, group string) (lacks bool, err error) {
	m, err := pc.RoundTrip(&findcoordinator.Request{Key: group, KeyType: 0})
	if err != nil {
		return false, err
	}
	fc, ok := m.(*findcoordinator.Response)
	if !ok {
		return false, fmt.Errorf("unexpected find-coordinator response %T", m)
	}
	switch int(fc.ErrorCode) {
	case 0:
	case errGroupAuth:
		return true, nil
	default:
		return false, nil // shows when the group is joined, in the broker's words
	}
	coord := net.JoinHostPort(fc.Host, strconv.Itoa(int(fc.Port)))
	if coord != pc.RemoteAddr().String() {
		cc, err := dialBroker(ctx, o, []string{coord})
		if err != nil {
			return false, fmt.Errorf("coordinator %s: %w", coord, err)
		}
		defer cc.Close()
		pc = cc
	}
	m, err = pc.RoundTrip(&describegroups.Request{Groups: []string{group}, IncludeAuthorizedOperations: true})
	if err != nil {
		return false, err
	}
	resp, ok := m.(*describegroups.Response)
	if !ok || len(resp.Groups) == 0 {
		return false, nil
	}
	g := resp.Groups[0]
	switch {
	case int(g.ErrorCode) == errGroupAuth:
		return true, nil
	case g.AuthorizedOperations == notProvided:
		return false, nil
	}
	return g.AuthorizedOperations&(1<<opRead) == 0, nil
}

// dialBroker connects to the first of addrs that answers, negotiates the
// API versions and authenticates (TLS, SASL) as o says. The connection
// keeps ctx's deadline.
func dialBroker(ctx context.Context, o Options, addrs []string) (*protocol.Conn, error) {
	var mech sasl.Mechanism
	if o.SASLMechanism != "" {
		var err error
		if mech, err = mechanism(o); err != nil {
			return nil, err
		}
	}
	var errs []error
	d := net.Dialer{Timeout: dialTimeout}
	for _, addr := range addrs {
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if o.TLS != nil {
			cfg := o.TLS.Clone()
			if cfg.ServerName == "" {
				cfg.ServerName, _, _ = net.SplitHostPort(addr)
			}
			nc = tls.Client(nc, cfg)
		}
		pc := protocol.NewConn(nc, "shiplog")
		if dl, ok := ctx.Deadline(); ok {
			_ = pc.SetDeadline(dl)
		}
		if err := negotiate(ctx, pc, mech, addr); err != nil {
			pc.Close()
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			continue
		}
		return pc, nil
	}
	return nil, errors.Join(errs...)
}

func negotiate(ctx context.Context, pc *protocol.Conn, mech sasl.Mechanism, addr string) error {
	r, err := pc.RoundTrip(new(apiversions.Request))
	if err != nil {
		return fmt.Errorf("api versions: %w", err)
	}
	res, ok := r.(*apiversions.Response)
	if !ok {
		return fmt.Errorf("unexpected api versions response %T", r)
	}
	if res.ErrorCode != 0 {
		return fmt.Errorf("api versions: %w", kafkago.Error(res.ErrorCode))
	}
	ver := make(map[protocol.ApiKey]int16, len(res.ApiKeys))
	for _, k := range res.ApiKeys {
		key := protocol.ApiKey(k.ApiKey)
		ver[key] = key.SelectVersion(k.MinVersion, k.MaxVersion)
	}
	pc.SetVersions(ver)
	if mech == nil {
		return nil
	}
	host, port, _ := net.SplitHostPort(addr)
	pn, _ := strconv.Atoi(port)
	ctx = sasl.WithMetadata(ctx, &sasl.Metadata{Host: host, Port: pn})
	hs, err := pc.RoundTrip(&saslhandshake.Request{Mechanism: mech.Name()})
	if err != nil {
		return fmt.Errorf("sasl handshake: %w", err)
	}
	if h, ok := hs.(*saslhandshake.Response); ok && h.ErrorCode != 0 {
		return fmt.Errorf("sasl handshake: %w", kafkago.Error(h.ErrorCode))
	}
	sess, state, err := mech.Start(ctx)
	if err != nil {
		return fmt.Errorf("sasl: %w", err)
	}
	for done := false; !done; {
		ar, err := pc.RoundTrip(&saslauthenticate.Request{AuthBytes: state})
		if err != nil {
			if errors.Is(err, io.EOF) {
				return kafkago.SASLAuthenticationFailed
			}
			return fmt.Errorf("sasl authenticate: %w", err)
		}
		a, ok := ar.(*saslauthenticate.Response)
		if !ok {
			return fmt.Errorf("unexpected sasl authenticate response %T", ar)
		}
		if a.ErrorCode != 0 {
			return fmt.Errorf("sasl authenticate: %w", kafkago.Error(a.ErrorCode))
		}
		if done, state, err = sess.Next(ctx, a.AuthBytes); err != nil {
			return fmt.Errorf("sasl: %w", err)
		}
	}
	return nil
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-/:", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
