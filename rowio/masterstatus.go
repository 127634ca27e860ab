package rowio

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	gomysql "github.com/go-sql-driver/mysql"
)

// erParseError is the server's ER_PARSE_ERROR, MySQL 8.4's answer to SHOW
// MASTER STATUS.
const erParseError = 1064

// MasterStatus is a server's binary log position as SHOW MASTER STATUS
// reports it.
type MasterStatus struct {
	File string
	Pos  uint64
	// ExecutedGTIDSet is MySQL's Executed_Gtid_Set column as the server
	// writes it (line breaks included); MariaDB has none ("").
	ExecutedGTIDSet string
}

// Querier runs a query: a *sql.DB, *sql.Conn or *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// ReadMasterStatus reads the current binary log position of db's server:
// SHOW MASTER STATUS, or SHOW BINARY LOG STATUS when the server refuses the
// old name as a syntax error (MySQL 8.4 removed it). Any other error (a
// missing privilege, a lost connection) is returned as it is, naming the
// statement. ok is false when the server reports no position (its binary log
// is off).
func ReadMasterStatus(ctx context.Context, db Querier) (st MasterStatus, ok bool, err error) {
	q := "SHOW MASTER STATUS"
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		var me *gomysql.MySQLError
		if !errors.As(err, &me) || me.Number != erParseError {
			return st, false, fmt.Errorf("%s: %w", q, err)
		}
		q = "SHOW BINARY LOG STATUS"
		if rows, err = db.QueryContext(ctx, q); err != nil {
			return st, false, fmt.Errorf("%s: %w", q, err)
		}
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return st, false, fmt.Errorf("%s: %w", q, err)
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return st, false, fmt.Errorf("%s: %w", q, err)
		}
		return st, false, nil
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return st, false, fmt.Errorf("%s: %w", q, err)
	}
	var pos string
	for i, c := range cols {
		switch c {
		case "File":
			st.File = vals[i].String
		case "Position":
			pos = vals[i].String
		case "Executed_Gtid_Set":
			st.ExecutedGTIDSet = vals[i].String
		}
	}
	if st.Pos, err = strconv.ParseUint(pos, 10, 64); err != nil {
		return st, false, fmt.Errorf("%s: bad Position %q: %w", q, pos, err)
	}
	return st, true, rows.Err()
}
