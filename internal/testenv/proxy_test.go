package testenv

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// echoServer answers every line with the same line.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line and waits up to wait for its echo.
func roundTrip(c net.Conn, r *bufio.Reader, wait time.Duration) error {
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	_, err := r.ReadString('\n')
	return err
}

func TestProxyStallDelayCut(t *testing.T) {
	p := NewProxy(t, echoServer(t))
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if err := roundTrip(c, r, 2*time.Second); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}

	p.Stall()
	if err := roundTrip(c, r, 300*time.Millisecond); err == nil {
		t.Fatal("a stalled connection passed bytes")
	}
	// A new connection is not stalled.
	c2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := roundTrip(c2, bufio.NewReader(c2), 2*time.Second); err != nil {
		t.Fatalf("a connection made after Stall: %v", err)
	}
	p.Resume()
	// The echo held by the stall arrives, then the connection works.
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatalf("after Resume: %v", err)
	}
	if err := roundTrip(c, r, 2*time.Second); err != nil {
		t.Fatalf("after Resume: %v", err)
	}

	p.Delay(200 * time.Millisecond)
	start := time.Now()
	if err := roundTrip(c, r, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Fatalf("round trip with a 200ms delay each way took %v", took)
	}
	p.Delay(0)

	p.Cut()
	if err := roundTrip(c, r, 2*time.Second); err == nil {
		t.Fatal("a cut connection still passed bytes")
	}
	if n := p.Conns(); n != 0 {
		t.Fatalf("after Cut: %d connections open, want 0", n)
	}
}

func TestBlackholeNeverAnswers(t *testing.T) {
	b := NewBlackhole(t)
	c, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	var one [1]byte
	if n, err := c.Read(one[:]); err == nil || n > 0 {
		t.Fatalf("blackhole sent %d byte(s), err %v", n, err)
	}
}
