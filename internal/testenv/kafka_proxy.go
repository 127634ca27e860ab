package testenv

import (
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// KafkaBehindProxy starts a one-broker cluster whose only way in is a Proxy:
// the broker advertises the proxy's address in its metadata, so clients
// reach it through the proxy for every request, not only the first. The
// broker and the proxy stop when the test ends.
func KafkaBehindProxy(t testing.TB, autoCreate bool) (*Kafka, *Proxy) {
	t.Helper()
	var proxy *Proxy
	listen := func(network, address string) (net.Listener, error) {
		ln, err := net.Listen(network, address)
		if err != nil {
			return nil, err
		}
		proxy = NewProxy(t, ln.Addr().String())
		return advertised{Listener: ln, addr: proxy.ln.Addr()}, nil
	}
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(0), kfake.ListenFn(listen)}
	if autoCreate {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("start kfake behind a proxy: %v", err)
	}
	t.Cleanup(c.Close)
	return &Kafka{cluster: c, Addrs: c.ListenAddrs()}, proxy
}

// advertised is a listener that names another address (the proxy's) as
// its own.
type advertised struct {
	net.Listener
	addr net.Addr
}

func (a advertised) Addr() net.Addr { return a.addr }
