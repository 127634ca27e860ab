package state

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/shiplog/shiplog/rowio"
)

// Ensure creates the state tables when missing (but the Kafka applier's:
// EnsureKafka) and widens those of older versions.
func (s *State) Ensure(ctx context.Context) error {
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS ` + s.table("_shiplog_checkpoint") + ` (
			id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
			position MEDIUMTEXT NOT NULL,
			event_time DATETIME(6) NULL,
			updated_at DATETIME(6) NOT NULL
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS ` + s.table("_shiplog_tables") + ` (
			table_name VARCHAR(192) NOT NULL PRIMARY KEY,
			state VARCHAR(16) NOT NULL,
			last_key MEDIUMTEXT NULL,
			rows_copied BIGINT NOT NULL DEFAULT 0,
			snapshot_pos MEDIUMTEXT NOT NULL,
			segments INT NOT NULL DEFAULT 0,
			source_rows BIGINT NULL,
			updated_at DATETIME(6) NOT NULL
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		// The key ranges of a table copied in parallel (snapshot.Copier):
		// a range is the keys whose first column is in (lo, hi].
		`CREATE TABLE IF NOT EXISTS ` + s.table(rangesTable) + ` (
			table_name VARCHAR(192) NOT NULL,
			range_no INT NOT NULL,
			lo MEDIUMTEXT NULL,
			hi MEDIUMTEXT NULL,
			last_key MEDIUMTEXT NULL,
			rows_copied BIGINT NOT NULL DEFAULT 0,
			done TINYINT NOT NULL DEFAULT 0,
			updated_at DATETIME(6) NOT NULL,
			PRIMARY KEY (table_name, range_no)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		// Secondary indexes the copier dropped to build after its bulk
		// load, until they are back (snapshot.Copier.DeferIndexRows).
		`CREATE TABLE IF NOT EXISTS ` + s.table(indexesTable) + ` (
			table_name VARCHAR(192) NOT NULL,
			index_name VARCHAR(192) NOT NULL,
			dest_schema VARCHAR(192) NOT NULL,
			dest_table VARCHAR(192) NOT NULL,
			seq INT NOT NULL,
			definition MEDIUMTEXT NOT NULL,
			recorded_at DATETIME(6) NOT NULL,
			PRIMARY KEY (table_name, index_name)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS ` + s.table("_shiplog_failed_rows") + ` (
			table_name VARCHAR(192) NOT NULL,
			key_hash CHAR(64) NOT NULL,
			row_key LONGTEXT NOT NULL,
			full_row LONGTEXT NULL,
			handler VARCHAR(255) NOT NULL,
			field VARCHAR(192) NOT NULL,
			error MEDIUMTEXT NOT NULL,
			position MEDIUMTEXT NOT NULL,
			attempts INT NOT NULL DEFAULT 1,
			first_seen DATETIME(6) NOT NULL,
			last_seen DATETIME(6) NOT NULL,
			PRIMARY KEY (table_name, key_hash)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS ` + s.table("_shiplog_runs") + ` (
			id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
			command VARCHAR(64) NOT NULL,
			mode VARCHAR(32) NOT NULL,
			started_at DATETIME(6) NOT NULL,
			ended_at DATETIME(6) NULL,
			status ENUM('started','success','partial','failed') NOT NULL,
			inserted BIGINT NOT NULL DEFAULT 0,
			updated BIGINT NOT NULL DEFAULT 0,
			deleted BIGINT NOT NULL DEFAULT 0,
			failed_rows BIGINT NOT NULL DEFAULT 0,
			error MEDIUMTEXT NULL,
			exit_code INT NULL,
			steps_ran TEXT NULL,
			steps_skipped TEXT NULL,
			KEY started_at (started_at)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS ` + s.table("_shiplog_lock_holders") + ` (
			lock_name VARCHAR(64) NOT NULL PRIMARY KEY,
			host VARCHAR(255) NOT NULL,
			pid BIGINT NOT NULL,
			command VARCHAR(64) NOT NULL,
			started_at DATETIME(6) NOT NULL,
			connection_id BIGINT NOT NULL,
			scope VARCHAR(255) NOT NULL DEFAULT ''
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS ` + s.table(stepsTable) + ` (
			mode VARCHAR(32) NOT NULL,
			step VARCHAR(64) NOT NULL,
			stage VARCHAR(16) NOT NULL,
			done_at DATETIME(6) NOT NULL,
			PRIMARY KEY (mode, step, stage)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS ` + s.table("_shiplog_state") + ` (
			name VARCHAR(64) NOT NULL PRIMARY KEY,
			value LONGTEXT NOT NULL,
			updated_at DATETIME(6) NOT NULL
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
	}
	for _, q := range stmts {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create state tables in %s: %w", s.schema, err)
		}
	}
	return s.widen(ctx)
}

// EnsureKafka creates the tables of `apply --from-kafka` when missing:
// _shiplog_kafka_offsets and _shiplog_failed_messages.
func (s *State) EnsureKafka(ctx context.Context) error {
	db := rowio.QuoteIdent(s.schema)
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS ` + db + `.` + kafkaOffsetsTable + ` (
			group_id VARCHAR(255) NOT NULL,
			topic VARCHAR(249) NOT NULL,
			` + "`partition`" + ` INT NOT NULL,
			next_offset BIGINT NOT NULL,
			source_position VARCHAR(1024) NOT NULL DEFAULT '',
			updated_at DATETIME(6) NOT NULL,
			PRIMARY KEY (group_id, topic, ` + "`partition`" + `)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE IF NOT EXISTS ` + db + `.` + FailedMessagesTable + ` (
			topic VARCHAR(249) NOT NULL,
			` + "`partition`" + ` INT NOT NULL,
			` + "`offset`" + ` BIGINT NOT NULL,
			error TEXT NOT NULL,
			value MEDIUMBLOB NULL,
			created_at DATETIME(6) NOT NULL,
			PRIMARY KEY (topic, ` + "`partition`, `offset`" + `)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
	}
	for _, q := range stmts {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create Kafka state tables in %s: %w", s.schema, err)
		}
	}
	return nil
}

// stateColumns are the state columns whose values have no small bound, with
// the type they must have: tables made by older versions had TEXT (64 KiB),
// which cut a large recorded schema in a non-strict session. Widen alters
// them in place.
var stateColumns = []struct{ table, column, typ, def string }{
	{"_shiplog_checkpoint", "position", "mediumtext", "MEDIUMTEXT NOT NULL"},
	{"_shiplog_tables", "snapshot_pos", "mediumtext", "MEDIUMTEXT NOT NULL"},
	{"_shiplog_tables", "last_key", "mediumtext", "MEDIUMTEXT NULL"},
	{rangesTable, "last_key", "mediumtext", "MEDIUMTEXT NULL"},
	{"_shiplog_failed_rows", "row_key", "longtext", "LONGTEXT NOT NULL"},
	{"_shiplog_failed_rows", "full_row", "longtext", "LONGTEXT NULL"},
	{"_shiplog_failed_rows", "error", "mediumtext", "MEDIUMTEXT NOT NULL"},
	{"_shiplog_failed_rows", "position", "mediumtext", "MEDIUMTEXT NOT NULL"},
	{"_shiplog_runs", "error", "mediumtext", "MEDIUMTEXT NULL"},
	{"_shiplog_state", "value", "longtext", "LONGTEXT NOT NULL"},
}

// textCapacity is the bytes a column of a text type holds.
var textCapacity = map[string]int64{"tinytext": 255, "text": 65535, "mediumtext": 1<<24 - 1, "longtext": 1<<32 - 1}

// widen alters state columns narrower than stateColumns says (tables of
// older versions) to their type.
func (s *State) widen(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE '\\_shiplog\\_%'", s.schema)
	if err != nil {
		return fmt.Errorf("read state table columns in %s: %w", s.schema, err)
	}
	have := map[[2]string]string{}
	for rows.Next() {
		var t, c, typ string
		if err := rows.Scan(&t, &c, &typ); err != nil {
			rows.Close()
			return fmt.Errorf("read state table columns in %s: %w", s.schema, err)
		}
		have[[2]string{t, c}] = typ
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read state table columns in %s: %w", s.schema, err)
	}
	alters := map[string][]string{}
	var order []string
	if _, ok := have[[2]string{"_shiplog_runs", "id"}]; ok {
		if _, ok := have[[2]string{"_shiplog_runs", "exit_code"}]; !ok {
			// Tables of older versions: the exit status of a run.
			order = append(order, "_shiplog_runs")
			alters["_shiplog_runs"] = []string{"ADD COLUMN exit_code INT NULL AFTER error"}
		}
		if _, ok := have[[2]string{"_shiplog_runs", "steps_ran"}]; !ok {
			// Tables of older versions: the steps a run ran and skipped.
			if alters["_shiplog_runs"] == nil {
				order = append(order, "_shiplog_runs")
			}
			alters["_shiplog_runs"] = append(alters["_shiplog_runs"], "ADD COLUMN steps_ran TEXT NULL AFTER exit_code", "ADD COLUMN steps_skipped TEXT NULL AFTER steps_ran")
		}
	}
	for _, sc := range stateColumns {
		typ, ok := have[[2]string{sc.table, sc.column}]
		if !ok || textCapacity[typ] >= textCapacity[sc.typ] {
			continue
		}
		if alters[sc.table] == nil {
			order = append(order, sc.table)
		}
		alters[sc.table] = append(alters[sc.table], "MODIFY "+rowio.QuoteIdent(sc.column)+" "+sc.def)
	}
	for _, t := range order {
		q := "ALTER TABLE " + s.table(t) + " " + strings.Join(alters[t], ", ")
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("widen state table %s in %s: %w", t, s.schema, err)
		}
	}
	return nil
}

// ErrStateTooLarge is returned when a state value does not fit its column:
// nothing is written rather than a cut value.
var ErrStateTooLarge = errors.New("state value too large for its column")

// checkSize refuses a value of column (table.column) larger than the column
// holds, instead of letting a non-strict session cut it.
func checkSize(table, column string, v string) error {
	for _, sc := range stateColumns {
		if sc.table == table && sc.column == column {
			if int64(len(v)) > textCapacity[sc.typ] {
				return fmt.Errorf("%w: %s.%s holds %d bytes, the value has %d", ErrStateTooLarge, table, column, textCapacity[sc.typ], len(v))
			}
			return nil
		}
	}
	return nil
}
