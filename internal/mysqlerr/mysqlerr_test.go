package mysqlerr

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	driver "github.com/go-sql-driver/mysql"
)

func TestNumber(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		n    uint16
		ok   bool
	}{
		{"nil", nil, 0, false},
		{"plain", errors.New("x"), 0, false},
		{"driver", &driver.MySQLError{Number: 1213}, 1213, true},
		{"driver wrapped", fmt.Errorf("apply: %w", &driver.MySQLError{Number: 1205}), 1205, true},
		{"go-mysql", &gomysql.MyError{Code: 1236}, 1236, true},
		{"joined", errors.Join(errors.New("x"), fmt.Errorf("y: %w", &gomysql.MyError{Code: 1045})), 1045, true},
	} {
		n, ok := Number(c.err)
		if n != c.n || ok != c.ok {
			t.Errorf("%s: Number = %d, %v; want %d, %v", c.name, n, ok, c.n, c.ok)
		}
	}
	if !Is(fmt.Errorf("w: %w", &driver.MySQLError{Number: gomysql.ER_NO_SUCH_TABLE}), gomysql.ER_BAD_DB_ERROR, gomysql.ER_NO_SUCH_TABLE) {
		t.Error("Is: 1146 not found among 1049, 1146")
	}
	if Is(&driver.MySQLError{Number: 1062}, gomysql.ER_LOCK_DEADLOCK) || Is(errors.New("1213")) {
		t.Error("Is matched a number not asked for")
	}
	if !LockConflict(&driver.MySQLError{Number: 1213}) || !LockConflict(&driver.MySQLError{Number: 1205}) || LockConflict(&driver.MySQLError{Number: 1062}) {
		t.Error("LockConflict: wrong answer for 1213, 1205 or 1062")
	}
}

func TestRetry(t *testing.T) {
	deadlock := fmt.Errorf("tx: %w", &driver.MySQLError{Number: gomysql.ER_LOCK_DEADLOCK})
	var waits []int
	r := Retry{Attempts: 3, Wait: func(a int) time.Duration { waits = append(waits, a); return time.Millisecond }}

	runs := 0
	err := r.Do(context.Background(), func() error { runs++; return deadlock })
	if !errors.Is(err, deadlock) || runs != 3 || fmt.Sprint(waits) != "[1 2]" {
		t.Errorf("always deadlocked: err %v, runs %d, waits %v; want the deadlock, 3 runs, waits [1 2]", err, runs, waits)
	}

	runs = 0
	err = r.Do(context.Background(), func() error {
		if runs++; runs < 2 {
			return deadlock
		}
		return nil
	})
	if err != nil || runs != 2 {
		t.Errorf("deadlocked once: err %v, runs %d; want nil, 2", err, runs)
	}

	runs = 0
	dup := &driver.MySQLError{Number: gomysql.ER_DUP_ENTRY}
	if err := r.Do(context.Background(), func() error { runs++; return dup }); err != dup || runs != 1 {
		t.Errorf("duplicate key: err %v, runs %d; want it returned after 1 run", err, runs)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	runs = 0
	slow := Retry{Attempts: 5, Wait: func(int) time.Duration { return time.Hour }}
	if err := slow.Do(ctx, func() error { runs++; return deadlock }); !errors.Is(err, deadlock) || runs != 1 {
		t.Errorf("cancelled: err %v, runs %d; want the deadlock after 1 run", err, runs)
	}
}
