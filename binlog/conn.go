package binlog

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"time"
)

// errStalled is the cause of a connection dropped because nothing arrived
// for Config.StallTimeout while the reader waited for an event.
var errStalled = errors.New("binlog stream stalled")

// dialer dials the server's connections for one Stream call with a deadline
// of ConnectTimeout on everything until the caller clears it (go-mysql bounds
// only the TCP dial: a server that accepts and never sends its handshake, or
// stops answering during the replica registration, would hang it forever),
// and records when each connection last read a byte.
type dialer struct {
	timeout time.Duration
	// last is the connection dialed most recently.
	last *trackedConn
}

func (d *dialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	nd := net.Dialer{Timeout: d.timeout, KeepAlive: 15 * time.Second}
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if err := c.SetDeadline(time.Now().Add(d.timeout)); err != nil {
		c.Close()
		return nil, err
	}
	t := &trackedConn{Conn: c}
	t.lastRead.Store(time.Now().UnixNano())
	d.last = t
	return t, nil
}

// trackedConn is a connection that records when it last read a byte.
type trackedConn struct {
	net.Conn
	lastRead atomic.Int64 // unix nanoseconds
}

func (c *trackedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.lastRead.Store(time.Now().UnixNano())
	}
	return n, err
}

// stallWatch cancels a stream's context, with cause errStalled, when the
// reader has waited for an event for longer than limit and the connection
// read nothing in that time. Waiting while emit runs (the writer holding the
// reader back) is not a stall: the connection is not being read then.
type stallWatch struct {
	conn      *trackedConn
	limit     time.Duration
	waitSince atomic.Int64 // unix nanoseconds; 0 while not waiting
}

// run checks until ctx ends, calling cancel on a stall.
func (w *stallWatch) run(ctx context.Context, cancel context.CancelCauseFunc) {
	t := time.NewTicker(max(w.limit/10, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			since := w.waitSince.Load()
			if since == 0 {
				continue
			}
			since = max(since, w.conn.lastRead.Load())
			if now.Sub(time.Unix(0, since)) >= w.limit {
				cancel(errStalled)
				return
			}
		}
	}
}

func (w *stallWatch) waiting()    { w.waitSince.Store(time.Now().UnixNano()) }
func (w *stallWatch) notWaiting() { w.waitSince.Store(0) }
