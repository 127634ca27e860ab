package testenv

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is an in-process TCP proxy in front of one server, for fault tests:
// it forwards bytes both ways and can stall, delay or cut the connections
// passing through it. Its methods are safe for concurrent use. It closes
// itself, and every connection, when the test ends.
type Proxy struct {
	target string
	ln     net.Listener
	wg     sync.WaitGroup

	mu    sync.Mutex
	links map[*link]struct{}
	delay time.Duration
}

// NewProxy listens on a free loopback port and forwards every connection it
// accepts to target (host:port).
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy to %s: listen: %v", target, err)
	}
	p := &Proxy{target: target, ln: ln, links: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Port is the proxy's port (on 127.0.0.1).
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Stall makes the connections open now pass nothing, either way, while
// keeping them open, as a hung server or a broken middlebox does. Connections
// accepted later are not stalled, so a client that reconnects gets through.
// Bytes read meanwhile are held and delivered on Resume.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := range p.links {
		l.stall()
	}
}

// Resume lets stalled connections pass again.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := range p.links {
		l.resume()
	}
}

// Delay holds every chunk of bytes for d before passing it on, both ways, on
// every connection, open or later (0 turns it off).
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Cut closes every open connection (both ends). New connections are accepted
// as before.
func (p *Proxy) Cut() {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// Conns is the number of open connections through the proxy.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

func (p *Proxy) getDelay() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.delay
}

func (p *Proxy) close() {
	_ = p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		l := &link{p: p, down: c, up: up, done: make(chan struct{})}
		p.mu.Lock()
		p.links[l] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go l.pump(up, c)
		go l.pump(c, up)
	}
}

// link is one proxied connection: down is the client's, up the server's.
type link struct {
	p        *Proxy
	down, up net.Conn
	done     chan struct{}
	once     sync.Once

	mu      sync.Mutex
	stalled chan struct{} // non-nil while stalled; closed by resume
}

func (l *link) stall() {
	l.mu.Lock()
	if l.stalled == nil {
		l.stalled = make(chan struct{})
	}
	l.mu.Unlock()
}

func (l *link) resume() {
	l.mu.Lock()
	if l.stalled != nil {
		close(l.stalled)
		l.stalled = nil
	}
	l.mu.Unlock()
}

// pass blocks while the link is stalled, then for the proxy's delay. It
// reports false when the link closed meanwhile.
func (l *link) pass() bool {
	for {
		l.mu.Lock()
		ch := l.stalled
		l.mu.Unlock()
		if ch == nil {
			break
		}
		select {
		case <-ch:
		case <-l.done:
			return false
		}
	}
	if d := l.p.getDelay(); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-l.done:
			return false
		}
	}
	return true
}

func (l *link) pump(dst, src net.Conn) {
	defer l.p.wg.Done()
	defer l.close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !l.pass() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // either end closing closes both: MySQL and Kafka never half-close
		}
	}
}

func (l *link) close() {
	l.once.Do(func() {
		close(l.done)
		_ = l.down.Close()
		_ = l.up.Close()
		l.p.mu.Lock()
		delete(l.p.links, l)
		l.p.mu.Unlock()
	})
}

// Blackhole is a listener that accepts connections and never sends a byte,
// as a server does whose process is hung (or a port some other service
// holds): a client without a deadline waits forever for the handshake.
type Blackhole struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

// NewBlackhole listens on a free loopback port until the test ends.
func NewBlackhole(t testing.TB) *Blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("blackhole: listen: %v", err)
	}
	b := &Blackhole{ln: ln}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		b.wg.Wait()
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, c := range b.conns {
			_ = c.Close()
		}
	})
	return b
}

// Addr is the listener's host:port.
func (b *Blackhole) Addr() string { return b.ln.Addr().String() }

// Port is the listener's port (on 127.0.0.1).
func (b *Blackhole) Port() int { return b.ln.Addr().(*net.TCPAddr).Port }

// Accepted is how many connections it has accepted.
func (b *Blackhole) Accepted() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}
