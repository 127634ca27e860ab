// Package state owns shiplog's own tables in the destination database, the
// `_shiplog_*` tables, and every statement that reads or writes them: one
// file per table.
//
//   - checkpoint.go: _shiplog_checkpoint, the stream position of each apply
//     partition, written in the transaction of the data it covers; also the
//     raw row the replica-lag monitor compares between the destination and
//     its replicas.
//   - tables.go: _shiplog_tables, the snapshot progress of each source table.
//   - indexes.go: _shiplog_deferred_indexes, destination indexes the copy
//     dropped to build after its bulk load, until they are back.
//   - flags.go: _shiplog_state, named values (the recorded source schema,
//     phase flags), read back so a value is stored whole or refused.
//   - failed_rows.go: _shiplog_failed_rows, rows a handler could not
//     transform, retried by the next run.
//   - runs.go: _shiplog_runs, one row per command that changes data, with a
//     liveness lock per live run.
//   - locks.go: _shiplog_lock_holders and the destination named locks that
//     keep one writer per stream (and Kafka appliers of one group only).
//   - kafka_offsets.go: _shiplog_kafka_offsets, each partition's next offset
//     of `apply --from-kafka`, fenced against a member that lost it.
//   - failed_messages.go: _shiplog_failed_messages, malformed Kafka messages.
//   - ensure.go: creating the tables and widening those of older versions;
//     the bounds that refuse a value a column cannot hold (ErrStateTooLarge).
//
// Writes that must agree with data take a *sql.Tx and commit with it; the
// MySQL sink's Writer calls them inside its transactions.
//
// It imports cdc, rowio, internal/mysqlerr and the drivers only: never a
// sink, a source, transform or pipeline (the layers above it).
package state
