package mysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	gomysql "github.com/go-sql-driver/mysql"

	"github.com/shiplog/shiplog/internal/mysqlerr"
)

// IsTransient reports whether err, from a destination statement, is a
// connection-level failure that the same statements may pass on a new
// connection: refused or reset connections, a connection the driver found
// broken (driver.ErrBadConn, "invalid connection"), EOF, network timeouts,
// and the server errors 1053 (shutdown), 1927 (connection killed), 2006/2013
// (gone, lost) and 4031. A server that refuses writes (read_only after a
// failover, 1290/1836), rejected statements, grants, and the caller's own
// deadline or cancellation are not transient. Deadlocks and lock wait
// timeouts are retried by the writer itself (see Write).
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if _, ok := mysqlerr.Number(err); ok {
		// The server went away or is shutting down, or the session was killed.
		return mysqlerr.Is(err, gmysql.ER_SERVER_SHUTDOWN, mysqlerr.ER_CONNECTION_KILLED, mysqlerr.CR_SERVER_GONE_ERROR,
			mysqlerr.CR_SERVER_LOST, mysqlerr.ER_CLIENT_INTERACTION_TIMEOUT)
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, gomysql.ErrInvalidConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}

// ErrDestinationDown is returned (wrapped) when the destination stayed
// unreachable for longer than the retry allows (destination.retry_for).
var ErrDestinationDown = errors.New("destination unreachable")
