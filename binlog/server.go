package binlog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/mysqlerr"
	"github.com/shiplog/shiplog/rowio"
)

// CheckServer verifies that db's server writes a binary log a Reader can use:
// log_bin ON, binlog_format ROW, binlog_row_image FULL and binlog_row_metadata
// FULL (MariaDB >= 10.5, MySQL >= 8.0.1). It returns the flavor ("mariadb" or
// "mysql"). Errors wrap ErrBinlogOff, ErrNotRowFormat, ErrRowImageNotFull or
// ErrRowMetadataNotFull and name the setting, its value and the fix.
func CheckServer(ctx context.Context, db *sql.DB) (flavor string, err error) {
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return "", fmt.Errorf("check binlog settings: SELECT VERSION(): %w", err)
	}
	flavor = flavorOf(version)
	var logBin string
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.log_bin").Scan(&logBin); err != nil {
		return flavor, fmt.Errorf("check binlog settings: read log_bin: %w", err)
	}
	if !isOn(logBin) {
		return flavor, fmt.Errorf("%w: log_bin=%s on %s; start the server with --log-bin (and --server-id)", ErrBinlogOff, logBin, version)
	}
	checks := []struct {
		name, want, fix string
		sentinel        error
	}{
		{"binlog_format", "ROW", "--binlog-format=ROW", ErrNotRowFormat},
		{"binlog_row_image", "FULL", "--binlog-row-image=FULL", ErrRowImageNotFull},
		{"binlog_row_metadata", "FULL", "--binlog-row-metadata=FULL", ErrRowMetadataNotFull},
	}
	for _, c := range checks {
		var val string
		err := db.QueryRowContext(ctx, "SELECT @@GLOBAL."+c.name).Scan(&val)
		if err != nil {
			if mysqlerr.Is(err, gmysql.ER_UNKNOWN_SYSTEM_VARIABLE) {
				return flavor, fmt.Errorf("%w: server %s has no %s; shiplog needs MariaDB >= 10.5 or MySQL >= 8.0.1 started with %s",
					c.sentinel, version, c.name, c.fix)
			}
			return flavor, fmt.Errorf("check binlog settings: read %s: %w", c.name, err)
		}
		if !strings.EqualFold(val, c.want) {
			return flavor, fmt.Errorf("%w: %s=%s, want %s; set it with SET GLOBAL %s=%s (new sessions) or start the server with %s",
				c.sentinel, c.name, val, c.want, c.name, c.want, c.fix)
		}
	}
	return flavor, nil
}

func flavorOf(version string) string {
	if strings.Contains(strings.ToLower(version), "mariadb") {
		return "mariadb"
	}
	return "mysql"
}

func isOn(v string) bool {
	return strings.EqualFold(v, "ON") || v == "1"
}

// HeadPosition returns the server's current binlog position (SHOW MASTER
// STATUS, or SHOW BINARY LOG STATUS on MySQL 8.4+) with the GTID state at
// exactly that position: MariaDB BINLOG_GTID_POS(file, pos), MySQL
// Executed_Gtid_Set. flavor is CheckServer's result ("" detects it). It wraps
// ErrBinlogOff when the server has no binary log.
func HeadPosition(ctx context.Context, db *sql.DB, flavor string) (cdc.Position, error) {
	if flavor == "" {
		var version string
		if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
			return cdc.Position{}, fmt.Errorf("head position: SELECT VERSION(): %w", err)
		}
		flavor = flavorOf(version)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return cdc.Position{}, fmt.Errorf("head position: %w", err)
	}
	defer conn.Close()
	st, ok, err := rowio.ReadMasterStatus(ctx, conn)
	if err != nil {
		return cdc.Position{}, fmt.Errorf("head position: %w", err)
	}
	if !ok {
		return cdc.Position{}, fmt.Errorf("%w: SHOW MASTER STATUS is empty; start the server with --log-bin", ErrBinlogOff)
	}
	p := cdc.Position{File: st.File, Pos: st.Pos}
	if flavor == "mariadb" {
		var g sql.NullString
		if err := conn.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", p.File, p.Pos).Scan(&g); err != nil {
			return cdc.Position{}, fmt.Errorf("head position: BINLOG_GTID_POS: %w", err)
		}
		p.GTID = g.String
	} else {
		p.GTID = strings.ReplaceAll(strings.ReplaceAll(st.ExecutedGTIDSet, "\n", ""), " ", "")
	}
	return p, nil
}

// scanMaps reads all rows as column name -> text value.
func scanMaps(rows *sql.Rows) ([]map[string]string, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []map[string]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		m := make(map[string]string, len(cols))
		for i, c := range cols {
			m[c] = vals[i].String
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

type binlogFile struct {
	name string
	size uint64
}

func binaryLogs(ctx context.Context, db *sql.DB) ([]binlogFile, error) {
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		if mysqlerr.Is(err, gmysql.ER_NO_BINARY_LOGGING) {
			return nil, fmt.Errorf("%w: SHOW BINARY LOGS: %w", ErrBinlogOff, err)
		}
		return nil, fmt.Errorf("SHOW BINARY LOGS: %w", err)
	}
	recs, err := scanMaps(rows)
	if err != nil {
		return nil, fmt.Errorf("SHOW BINARY LOGS: %w", err)
	}
	files := make([]binlogFile, len(recs))
	for i, r := range recs {
		files[i].name = r["Log_name"]
		if _, err := fmt.Sscan(r["File_size"], &files[i].size); err != nil {
			return nil, fmt.Errorf("SHOW BINARY LOGS: bad File_size %q: %w", r["File_size"], err)
		}
	}
	return files, nil
}

// CheckPositionAvailable verifies that the binlog file of p is still on the
// server (SHOW BINARY LOGS). It wraps ErrPositionPurged naming the file and the
// oldest one left. A position without a file (GTID only) is not checked here;
// Stream reports a purged GTID position when it connects.
func CheckPositionAvailable(ctx context.Context, db *sql.DB, p cdc.Position) error {
	if p.File == "" {
		return nil
	}
	files, err := binaryLogs(ctx, db)
	if err != nil {
		return fmt.Errorf("check position %s: %w", p, err)
	}
	for _, f := range files {
		if f.name == p.File {
			if p.Pos > f.size {
				return fmt.Errorf("check position %s: offset %d is past the end of %s (%d bytes)", p, p.Pos, f.name, f.size)
			}
			return nil
		}
	}
	if len(files) > 0 && (cdc.Position{File: p.File}).Compare(cdc.Position{File: files[len(files)-1].name}) > 0 {
		return fmt.Errorf("check position %s: binlog file %s is newer than the newest on the server (%s)", p, p.File, files[len(files)-1].name)
	}
	oldest := "none"
	if len(files) > 0 {
		oldest = files[0].name
	}
	return fmt.Errorf("%w: binlog file %s of position %s was purged (oldest on the server: %s); "+
		"keep binlogs longer (binlog_expire_logs_seconds / expire_logs_days)", ErrPositionPurged, p.File, p, oldest)
}

// LagBytes returns how many binlog bytes lie between from and head, summing the
// sizes of the files between them (SHOW BINARY LOGS). It is 0 when from is at
// or past head, and wraps ErrPositionPurged when from's file is gone.
func LagBytes(ctx context.Context, db *sql.DB, from, head cdc.Position) (int64, error) {
	if from.File == "" || head.File == "" {
		return 0, fmt.Errorf("binlog lag: positions %s and %s need binlog file names", from, head)
	}
	if from.Compare(head) >= 0 {
		return 0, nil
	}
	if from.File == head.File {
		return int64(head.Pos - from.Pos), nil
	}
	files, err := binaryLogs(ctx, db)
	if err != nil {
		return 0, fmt.Errorf("binlog lag: %w", err)
	}
	var lag int64
	counting := false
	for _, f := range files {
		switch {
		case f.name == from.File:
			counting = true
			if f.size > from.Pos {
				lag += int64(f.size - from.Pos)
			}
		case f.name == head.File:
			if !counting {
				return 0, fmt.Errorf("binlog lag: %w: binlog file %s of position %s is not on the server", ErrPositionPurged, from.File, from)
			}
			return lag + int64(head.Pos), nil
		case counting:
			lag += int64(f.size)
		}
	}
	if !counting {
		return 0, fmt.Errorf("binlog lag: %w: binlog file %s of position %s is not on the server", ErrPositionPurged, from.File, from)
	}
	return lag + int64(head.Pos), nil
}
