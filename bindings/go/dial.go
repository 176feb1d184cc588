package quic

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// Dial connects to a QUIC server at address ("host:port") from a new UDP
// socket and returns once the handshake completed. ctx bounds the
// handshake: when it ends first, the attempt is abandoned and ctx.Err()
// returned. The Session's goroutine runs until the connection is over.
func Dial(ctx context.Context, address string, cfg *Config) (*Session, error) {
	remote, err := resolve(address)
	if err != nil {
		return nil, err
	}
	network := "udp4"
	if remote.Addr().Is6() {
		network = "udp6"
	}
	pc, err := net.ListenUDP(network, nil)
	if err != nil {
		return nil, err
	}
	conn, err := NewClientConn(cfg, remote, time.Now())
	if err != nil {
		pc.Close()
		return nil, err
	}
	d := &dialer{pc: pc, conn: conn, out: make([]byte, maxDatagram)}
	s := newSession(&d.mu, remote)
	d.s = s
	s.borrow = func() (*Conn, error) { return d.conn, nil }
	s.flush = d.flush
	go d.run()
	select {
	case <-s.established:
		return s, nil
	case <-s.done:
		if s.result != nil {
			return nil, s.result
		}
		return nil, &Error{Op: "dial", Code: ResultClosing, Detail: "the connection ended during the handshake"}
	case <-ctx.Done():
		d.abandon()
		return nil, ctx.Err()
	}
}

// dialer is a client Session's loop: one connection on its own socket.
type dialer struct {
	mu   sync.Mutex
	pc   *net.UDPConn
	conn *Conn
	s    *Session
	out  []byte
}

// flush sends every datagram the connection has, takes its events, and
// re-arms the socket's read deadline to the connection's timer (under
// mu). If events wait, the deadline is now, so that the loop delivers
// them.
func (d *dialer) flush(now time.Time) {
	for {
		n, to, err := d.conn.Send(d.out, now)
		if err != nil || n == 0 {
			break
		}
		// A datagram the socket refuses is as good as lost on the path:
		// recovery sends its contents again.
		_, _ = d.pc.WriteToUDPAddrPort(d.out[:n], to)
	}
	d.s.take(d.conn)
	deadline, armed := d.conn.Timeout()
	if len(d.s.pending) > 0 || d.conn.IsClosed() {
		deadline, armed = now, true
	}
	if !armed {
		deadline = time.Time{}
	}
	_ = d.pc.SetReadDeadline(deadline)
}

// abandon ends the connection at once, without telling the peer (the
// handshake was given up).
func (d *dialer) abandon() {
	d.s.closeOnce.Do(func() { close(d.s.closing) })
	d.pc.Close()
}

func (d *dialer) run() {
	buf := make([]byte, maxDatagram)
	defer func() {
		d.mu.Lock()
		d.conn.Free()
		d.mu.Unlock()
		d.pc.Close()
	}()
	d.mu.Lock()
	d.flush(time.Now())
	for {
		evs := d.s.pending
		d.s.pending = nil
		closed := d.conn.IsClosed()
		d.mu.Unlock()
		d.s.deliver(evs)
		if closed {
			d.s.finish(nil)
			return
		}
		n, from, err := d.pc.ReadFromUDPAddrPort(buf)
		d.mu.Lock()
		now := time.Now()
		switch {
		case err == nil:
			from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
			// A datagram libquic rejects (garbage, another connection's)
			// changes nothing; the connection goes on.
			_ = d.conn.Recv(buf[:n], from, now)
		case errors.Is(err, os.ErrDeadlineExceeded):
			_ = d.conn.HandleTimer(now)
		default:
			// The socket is gone (abandon, or an error): so is the
			// connection.
			d.mu.Unlock()
			d.s.finish(&Error{Op: "dial", Code: ResultClosing, Detail: err.Error()})
			return
		}
		d.flush(now)
	}
}
