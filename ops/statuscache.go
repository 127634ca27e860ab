package ops

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// The HTTP server's GET /status answers from memory: a background loop reads
// the status from the servers every statusEvery or slower (each read bounded
// by statusTimeout) and the handler serves the last one read, so a slow or
// stalled server delays the numbers, never the answer.
const (
	statusEvery   = time.Second
	statusTimeout = 10 * time.Second
)

// statusCache is the last status the background loop read.
type statusCache struct {
	mu     sync.Mutex
	s      Status
	readAt time.Time // when s was read; zero before the first success
	err    error     // the last read's error, nil after a success
	errAt  time.Time
}

// refreshStatus reads the status now and then again every statusEvery, or
// four times as long as the last read took (so reading, which counts
// change-log backlogs on the trigger path, never costs the servers more
// than a fifth of a connection), until ctx ends, keeping the last in sc.
func refreshStatus(ctx context.Context, sc *statusCache, read func(context.Context) (Status, error)) {
	for {
		start := time.Now()
		qctx, cancel := context.WithTimeout(ctx, statusTimeout)
		s, err := read(qctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		sc.set(s, err, now)
		t := time.NewTimer(max(statusEvery, 4*now.Sub(start)))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (sc *statusCache) set(s Status, err error, now time.Time) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if err != nil {
		sc.err, sc.errAt = err, now
		return
	}
	sc.s, sc.readAt, sc.err = s, now, nil
}

// get returns the last status read, with a warning saying how old it is
// when the last read failed or took long, or that none has been read yet.
func (sc *statusCache) get(now time.Time) Status {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	s := sc.s
	s.Tables = append(s.Tables[:0:0], s.Tables...)
	s.Warnings = append(s.Warnings[:0:0], s.Warnings...)
	if !sc.readAt.IsZero() {
		at := sc.readAt.UTC()
		s.StatusReadAt = &at
	}
	switch {
	case sc.readAt.IsZero() && sc.err == nil:
		s.Mode = "unknown"
		s.Warnings = append(s.Warnings, "status not read yet: the first read from the servers has not finished")
	case sc.readAt.IsZero():
		s.Mode = "unknown"
		s.Warnings = append(s.Warnings, fmt.Sprintf("status could not be read (%s ago): %v", age(now, sc.errAt), sc.err))
	case sc.err != nil:
		s.Warnings = append(s.Warnings, fmt.Sprintf("status is %s old: the last read failed (%s ago): %v", age(now, sc.readAt), age(now, sc.errAt), sc.err))
	case now.Sub(sc.readAt) > 5*statusEvery:
		s.Warnings = append(s.Warnings, fmt.Sprintf("status is %s old: the servers are slow to answer", age(now, sc.readAt)))
	}
	return s
}

func age(now, t time.Time) time.Duration {
	return now.Sub(t).Round(100 * time.Millisecond)
}
