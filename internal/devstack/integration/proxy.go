package integration

import (
	"io"
	"net"
	"net/url"
	"sync/atomic"
	"testing"
)

// TCPProxy forwards TCP connections to an endpoint while up, and refuses
// them (accepts and closes at once) while down: an AWS that cannot be reached.
type TCPProxy struct {
	URL string // the endpoint's scheme, the proxy's address
	up  atomic.Bool
}

// NewTCPProxy listens on host, on a free port, for the test's duration and
// forwards to target's host and port, starting up or down.
func NewTCPProxy(t testing.TB, host, target string, up bool) *TCPProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("listen on %s: %v", host, err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &TCPProxy{URL: u.Scheme + "://" + ln.Addr().String()}
	p.up.Store(up)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !p.up.Load() {
				c.Close()
				continue
			}
			go func() {
				defer c.Close()
				to, err := net.Dial("tcp", u.Host)
				if err != nil {
					return
				}
				defer to.Close()
				go func() { _, _ = io.Copy(to, c); to.(*net.TCPConn).CloseWrite() }()
				_, _ = io.Copy(c, to)
			}()
		}
	}()
	return p
}

// Set brings the proxy up or down; connections already made stay.
func (p *TCPProxy) Set(up bool) { p.up.Store(up) }
