// Package mysqlerr classifies MySQL and MariaDB errors by their server error
// number, never by message text, and retries transactions that lost a lock
// conflict. The numbers are go-mysql's constants (package
// github.com/go-mysql-org/go-mysql/mysql, e.g. ER_LOCK_DEADLOCK); the few it
// lacks (MariaDB's, MySQL 8's, the client's) are named here.
package mysqlerr

import (
	"errors"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	driver "github.com/go-sql-driver/mysql"
)

// Error numbers go-mysql has no constant for.
const (
	ER_LOAD_INFILE_CAPABILITY_DISABLED = 3948 // MySQL 8: loading local data is disabled
	ER_CLIENT_INTERACTION_TIMEOUT      = 4031 // MySQL 8: the server closed an idle session
	ER_CONNECTION_KILLED               = 1927 // MariaDB
	ER_LOCAL_INFILE_DISABLED_MARIADB   = 4166 // MariaDB >= 10.5: LOAD DATA LOCAL refused (local_infile=OFF)
	CR_SERVER_GONE_ERROR               = 2006 // client: MySQL server has gone away
	CR_SERVER_LOST                     = 2013 // client: lost connection during query
)

// Number returns the error number of the server error in err's chain: a
// go-sql-driver *mysql.MySQLError or a go-mysql *mysql.MyError (the former
// if a chain held both). ok is false when err holds neither (a network
// error, a driver error, nil).
func Number(err error) (n uint16, ok bool) {
	var de *driver.MySQLError
	if errors.As(err, &de) {
		return de.Number, true
	}
	var ge *gomysql.MyError
	if errors.As(err, &ge) {
		return ge.Code, true
	}
	return 0, false
}

// Is reports whether err holds a server error (see Number) whose number is
// one of codes.
func Is(err error, codes ...uint16) bool {
	n, ok := Number(err)
	if !ok {
		return false
	}
	for _, c := range codes {
		if n == c {
			return true
		}
	}
	return false
}

// LockConflict reports whether err is the server ending a statement for a
// lock: chosen as a deadlock victim (1213, the transaction is rolled back)
// or a lock wait timeout (1205). Running the transaction again may pass.
func LockConflict(err error) bool {
	return Is(err, gomysql.ER_LOCK_DEADLOCK, gomysql.ER_LOCK_WAIT_TIMEOUT)
}
