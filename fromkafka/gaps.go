package fromkafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	kafkasink "github.com/shiplog/shiplog/sink/kafka"
)

// ErrGap is returned when changes were lost outside shiplog: a Kafka broker
// that lost messages the applier had not applied yet, or a destination table
// emptied after its copy. Going on would leave the destination silently
// short; the error says what to do instead.
var ErrGap = errors.New("changes lost outside shiplog")

// storedOffset is one partition's row of _shiplog_kafka_offsets.
type storedOffset struct {
	topic string
	part  int
	next  int64
	last  string
}

func (a *kafkaApplier) storedOffsets(ctx context.Context) ([]storedOffset, error) {
	rows, err := a.r.State.KafkaOffsets(ctx, a.group)
	if err != nil {
		return nil, err
	}
	out := make([]storedOffset, len(rows))
	for i, o := range rows {
		out[i] = storedOffset{topic: o.Topic, part: o.Partition, next: o.Next, last: o.SourcePos}
	}
	return out, nil
}

// checkStoredOffsets compares the offsets this group applied up to (stored in
// the destination) with what the broker holds now, and returns an error
// wrapping ErrGap naming every partition the broker cannot continue:
//   - a data topic, or a partition of one, that is gone;
//   - a stored next offset beyond the partition's end: the broker lost
//     messages (restarted empty, the topic deleted and created again); left
//     alone, kafka-go waits at that offset for messages that never come, and
//     the applier looks caught up;
//   - a stored next offset before the partition's first: messages were
//     deleted (retention) before they were applied; kafka-go would skip them;
//   - with identity, a partition whose message before the stored offset is
//     newer than the last change applied from it: the topic was created
//     again and refilled past the stored offset (reading one message per
//     partition, so done at start only).
//
// Blocks on the destination and the brokers; retries nothing.
func (a *kafkaApplier) checkStoredOffsets(ctx context.Context, topics map[string][]int, identity bool) error {
	stored, err := a.storedOffsets(ctx)
	if err != nil || len(stored) == 0 {
		return err
	}
	var problems []string
	present := map[string][]int{}
	for _, s := range stored {
		parts, ok := topics[s.topic]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: the topic is gone (applied up to offset %d of partition %d)", s.topic, s.next, s.part))
		case !containsInt(parts, s.part):
			problems = append(problems, fmt.Sprintf("%s[%d]: the partition is gone (the topic has %d; applied up to offset %d)", s.topic, s.part, len(parts), s.next))
		default:
			present[s.topic] = append(present[s.topic], s.part)
		}
	}
	if len(present) > 0 {
		bounds, err := a.kc.Bounds(ctx, present)
		if err != nil {
			return err
		}
		for _, s := range stored {
			b, ok := bounds[s.topic][s.part]
			if !ok {
				continue
			}
			switch {
			case s.next > b.Last:
				problems = append(problems, fmt.Sprintf("%s[%d]: applied up to offset %d, but the partition ends at %d: the broker lost messages (restarted empty, or the topic was deleted and created again)",
					s.topic, s.part, s.next, b.Last))
			case s.next < b.First:
				problems = append(problems, fmt.Sprintf("%s[%d]: applied up to offset %d, but the partition now starts at %d: messages %d to %d were deleted (retention) before they were applied",
					s.topic, s.part, s.next, b.First, s.next, b.First-1))
			case identity && s.next > b.First && s.last != "":
				if msg, err := a.recreated(ctx, s); err != nil {
					return err
				} else if msg != "" {
					problems = append(problems, msg)
				}
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return fmt.Errorf("%w: kafka brokers %s no longer hold what consumer group %s applied:\n  %s\n"+
		"The destination would silently miss those changes. To go on, publish a fresh copy (`shiplog migrate data --reset` "+
		"with the Kafka sink; or copy straight to this destination) and then forget this group's offsets: "+
		"DELETE FROM %s WHERE group_id = '%s'",
		ErrGap, a.kc.BrokerList(), a.group, strings.Join(problems, "\n  "), a.r.State.KafkaOffsetsTable(), strings.ReplaceAll(a.group, "'", "''"))
}

// recreated reads the message before s's stored offset and says how the
// partition changed when it is newer than the last change applied from it
// ("" when it is not, or carries no source position).
func (a *kafkaApplier) recreated(ctx context.Context, s storedOffset) (string, error) {
	last, err := parseSourcePos(s.last)
	if err != nil || !last.set {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var found string
	err = a.kc.ReadRange(ctx, s.topic, s.part, s.next-1, s.next, func(m kafka.Message) error {
		if len(m.Value) == 0 {
			return nil
		}
		env, err := kafkasink.Decode(m.Value)
		if err != nil {
			return nil // malformed: says nothing either way
		}
		if p := messagePos(env); p.set && p.compare(last) > 0 {
			found = fmt.Sprintf("%s[%d]: offset %d holds a change at %s, newer than the last one applied from the partition (%s): the topic was created again and refilled",
				s.topic, s.part, m.Offset, p, last)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("kafka %s[%d]: read offset %d: %w", s.topic, s.part, s.next-1, err)
	}
	return found, nil
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
