package state

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/shiplog/shiplog/rowio"
)

// FailedMessagesTable keeps the Kafka messages `apply --from-kafka` could not
// decode (malformed), recorded with the batch that skipped them.
const FailedMessagesTable = "_shiplog_failed_messages"

// failedValueMax bounds the message bytes kept in _shiplog_failed_messages.
const failedValueMax = 64 << 10

// FailedMessage is a malformed Kafka message.
type FailedMessage struct {
	Topic     string
	Partition int
	Offset    int64
	// Error says why it could not be applied.
	Error string
	// Value is the message's value; the first 64 KiB are kept.
	Value []byte
}

// SaveFailedMessages records malformed messages inside tx (a message recorded
// before gets the new error and value).
func (s *State) SaveFailedMessages(ctx context.Context, tx *sql.Tx, msgs []FailedMessage) error {
	for _, m := range msgs {
		v := m.Value
		if len(v) > failedValueMax {
			v = v[:failedValueMax]
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO "+rowio.QuoteIdent(s.schema)+"."+FailedMessagesTable+
			" (topic, `partition`, `offset`, error, value, created_at) VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP(6))"+
			" ON DUPLICATE KEY UPDATE error = VALUES(error), value = VALUES(value)",
			m.Topic, m.Partition, m.Offset, m.Error, v)
		if err != nil {
			return fmt.Errorf("record malformed message %s[%d]@%d: %w", m.Topic, m.Partition, m.Offset, err)
		}
	}
	return nil
}
