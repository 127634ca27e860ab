package mysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"
)

func TestIsTransientClassifiesByNumberAndKind(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("destination: begin: %w", refused), true},
		{fmt.Errorf("write checkpoint: %w", gomysql.ErrInvalidConn), true},
		{driver.ErrBadConn, true},
		{io.EOF, true},
		{io.ErrUnexpectedEOF, true},
		{&gomysql.MySQLError{Number: 1053}, true},
		{fmt.Errorf("destination table t: upsert: %w", &gomysql.MySQLError{Number: 1927}), true},
		{&gomysql.MySQLError{Number: 2006}, true},
		{&gomysql.MySQLError{Number: 2013}, true},
		{&gomysql.MySQLError{Number: 1290}, false}, // read-only (after a failover): not transient
		{&gomysql.MySQLError{Number: 1836}, false}, // read-only mode
		{&gomysql.MySQLError{Number: 1045}, false}, // access denied
		{&gomysql.MySQLError{Number: 1146}, false}, // no such table
		{&gomysql.MySQLError{Number: 1213}, false}, // deadlock: retried by the writer itself
		{context.Canceled, false},
		{context.DeadlineExceeded, false},
		{errors.New("row too large"), false},
		{nil, false},
	} {
		if got := IsTransient(c.err); got != c.want {
			t.Errorf("IsTransient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
