package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shiplog/shiplog/internal/mysqlerr"
	"github.com/shiplog/shiplog/rowio"
)

// kafkaOffsetsTable keeps, per consumer group and partition, the next offset
// `apply --from-kafka` applies and the source position of the last change
// applied; it is written in the transaction that applies the messages.
const kafkaOffsetsTable = "_shiplog_kafka_offsets"

// ErrFenced is returned by SaveKafkaOffset when the partition's stored offset
// is not the one the applier read from: another member of the group owns the
// partition now.
var ErrFenced = errors.New("partition offsets moved under this applier (another member of the group owns the partition now)")

// KafkaOffset is one partition's row of _shiplog_kafka_offsets.
type KafkaOffset struct {
	Topic     string
	Partition int
	// Next is the next offset to apply.
	Next int64
	// SourcePos is the source position of the last change applied, as the
	// applier wrote it ("" when none).
	SourcePos string
}

// KafkaOffsetsTable is the qualified name of _shiplog_kafka_offsets, as a
// statement names it.
func (s *State) KafkaOffsetsTable() string {
	return rowio.QuoteIdent(s.schema) + "." + kafkaOffsetsTable
}

// KafkaOffset reads the stored offset of partition part of topic applied by
// consumer group; ok is false when there is none.
func (s *State) KafkaOffset(ctx context.Context, group, topic string, part int) (o KafkaOffset, ok bool, err error) {
	o = KafkaOffset{Topic: topic, Partition: part}
	err = s.db.QueryRowContext(ctx, "SELECT next_offset, source_position FROM "+s.KafkaOffsetsTable()+" WHERE group_id = ? AND topic = ? AND `partition` = ?",
		group, topic, part).Scan(&o.Next, &o.SourcePos)
	if errors.Is(err, sql.ErrNoRows) {
		return o, false, nil
	}
	if err != nil {
		return o, false, fmt.Errorf("read offset of %s[%d]: %w", topic, part, err)
	}
	return o, true, nil
}

// KafkaOffsets reads the stored offsets of consumer group, by topic and
// partition.
func (s *State) KafkaOffsets(ctx context.Context, group string) ([]KafkaOffset, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT topic, `partition`, next_offset, source_position FROM "+s.KafkaOffsetsTable()+
		" WHERE group_id = ? ORDER BY topic, `partition`", group)
	if err != nil {
		return nil, fmt.Errorf("read the stored offsets of group %s: %w", group, err)
	}
	defer rows.Close()
	var out []KafkaOffset
	for rows.Next() {
		var o KafkaOffset
		if err := rows.Scan(&o.Topic, &o.Partition, &o.Next, &o.SourcePos); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// SaveKafkaOffset records, inside tx, the next offset and last source
// position of partition part of topic applied by consumer group, checking
// that the row still holds expect, the offset this applier read from (-1:
// no row). It returns ErrFenced when it does not (another member may own
// the partition after a rebalance this one missed).
func (s *State) SaveKafkaOffset(ctx context.Context, tx *sql.Tx, group, topic string, part int, expect, next int64, lastPos string) error {
	var cur int64
	err := tx.QueryRowContext(ctx, "SELECT next_offset FROM "+s.KafkaOffsetsTable()+" WHERE group_id = ? AND topic = ? AND `partition` = ? FOR UPDATE",
		group, topic, part).Scan(&cur)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if expect >= 0 {
			return ErrFenced
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO "+s.KafkaOffsetsTable()+" (group_id, topic, `partition`, next_offset, source_position, updated_at) VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP(6))",
			group, topic, part, next, lastPos)
		if mysqlerr.Is(err, gmysql.ER_DUP_ENTRY) {
			return ErrFenced
		}
	case err != nil:
	case cur != expect:
		return ErrFenced
	default:
		_, err = tx.ExecContext(ctx, "UPDATE "+s.KafkaOffsetsTable()+" SET next_offset = ?, source_position = ?, updated_at = UTC_TIMESTAMP(6) WHERE group_id = ? AND topic = ? AND `partition` = ?",
			next, lastPos, group, topic, part)
	}
	if err != nil {
		return fmt.Errorf("record offset of %s[%d]: %w", topic, part, err)
	}
	return nil
}
