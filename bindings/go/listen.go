package quic

/*
#include <quic.h>
*/
import "C"

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
	"unsafe"
)

// acceptBacklog is how many established connections wait for Accept;
// beyond it, new ones are closed with an error.
const acceptBacklog = 64

// Listener accepts QUIC connections on a UDP socket. One goroutine runs
// libquic's endpoint (quic_endpoint: it routes datagrams to connections,
// answers with Retry or Version Negotiation, and bounds how many
// connections a peer can start). A Session whose reader falls behind
// holds up only itself: see backlog.go.
type Listener struct {
	mu       sync.Mutex
	ep       *C.quic_endpoint
	pc       *net.UDPConn
	sessions map[uint64]*Session
	finished map[uint64]*Session // ended this round, still to be told
	accept   chan *Session
	done     chan struct{}
	stop     sync.Once
	out      []byte
}

// Listen accepts connections on address ("host:port"; port 0 picks one)
// with a server Config. Cancelling ctx closes the Listener, as Close does.
func Listen(ctx context.Context, address string, cfg *Config) (*Listener, error) {
	if cfg == nil || cfg.c == nil || cfg.isClient {
		return nil, &Error{Op: "listen", Code: ResultInvalidArgument, Detail: "needs a live server Config"}
	}
	ua, err := net.ResolveUDPAddr("udp", address)
	if err != nil {
		return nil, err
	}
	pc, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, err
	}
	l := &Listener{pc: pc, sessions: map[uint64]*Session{}, finished: map[uint64]*Session{},
		accept: make(chan *Session, acceptBacklog),
		done:   make(chan struct{}), out: make([]byte, maxDatagram)}
	if err := check("endpoint", C.quic_endpoint_new(cfg.c, nil, &l.ep)); err != nil {
		pc.Close()
		return nil, err
	}
	go l.run()
	go func() {
		select {
		case <-ctx.Done():
			l.Close()
		case <-l.done:
		}
	}()
	return l, nil
}

// Addr is the local address the Listener receives on.
func (l *Listener) Addr() net.Addr { return l.pc.LocalAddr() }

// Accept returns the next connection whose handshake completed, or an
// error once ctx ends or the Listener is closed.
func (l *Listener) Accept(ctx context.Context) (*Session, error) {
	select {
	case s := <-l.accept:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops the Listener: every connection is closed (the peers are
// told, in one datagram each), and their Sessions end.
func (l *Listener) Close() error {
	l.stop.Do(func() {
		l.mu.Lock()
		now := time.Now()
		for handle := range l.sessions {
			var c *C.quic_conn
			if C.quic_endpoint_conn(l.ep, C.uint64_t(handle), &c) == C.QUIC_RESULT_OK {
				C.quic_conn_close(c, true, 0, 0, nil, 0, nanos(now))
			}
		}
		l.flush(now)
		l.mu.Unlock()
		l.pc.Close()
	})
	<-l.done
	return nil
}

// flush sends every datagram the endpoint has and takes its events
// (under mu).
func (l *Listener) flush(now time.Time) {
	var info C.quic_datagram_info
	for {
		info = C.quic_datagram_info{}
		info.struct_size = C.size_t(unsafe.Sizeof(info))
		var n C.size_t
		rc := C.quic_endpoint_send(l.ep, (*C.uint8_t)(&l.out[0]), C.size_t(len(l.out)), &n, &info, nanos(now))
		if rc != C.QUIC_RESULT_OK {
			break
		}
		if to, ok := getSockaddr(&info.remote, info.remote_len); ok {
			_, _ = l.pc.WriteToUDPAddrPort(l.out[:n], to)
		}
	}
	var ev C.quic_endpoint_event
	var cev C.quic_event
	for {
		ev = C.quic_endpoint_event{}
		ev.struct_size = C.size_t(unsafe.Sizeof(ev))
		cev = C.quic_event{}
		cev.struct_size = C.size_t(unsafe.Sizeof(cev))
		if C.quic_endpoint_poll_event(l.ep, &ev, &cev) != C.QUIC_RESULT_OK {
			break
		}
		handle := uint64(ev.connection)
		switch ev.kind {
		case C.QUIC_ENDPOINT_EVENT_TYPE_NEW_CONNECTION:
			l.sessions[handle] = l.newSession(handle)
		case C.QUIC_ENDPOINT_EVENT_TYPE_CONNECTION:
			s := l.sessions[handle]
			if s == nil {
				continue
			}
			e := convertEvent(&cev)
			s.note(e)
			if _, ok := e.(HandshakeCompleted); ok {
				select {
				case l.accept <- s:
				default:
					// Nobody accepts fast enough: refuse rather than hold it,
					// and drop its events (nobody will read them).
					s.closeOnce.Do(func() { close(s.closing) })
					var c *C.quic_conn
					if C.quic_endpoint_conn(l.ep, ev.connection, &c) == C.QUIC_RESULT_OK {
						C.quic_conn_close(c, false, 0x2 /* CONNECTION_REFUSED */, 0, nil, 0, nanos(now))
					}
				}
			}
		case C.QUIC_ENDPOINT_EVENT_TYPE_CONNECTION_DONE:
			if s := l.sessions[handle]; s != nil {
				l.finished[handle] = s
			}
			delete(l.sessions, handle)
		}
	}
}

func (l *Listener) newSession(handle uint64) *Session {
	var remote netip.AddrPort
	var c *C.quic_conn
	if C.quic_endpoint_conn(l.ep, C.uint64_t(handle), &c) == C.QUIC_RESULT_OK {
		var ss C.struct_sockaddr_storage
		var n C.socklen_t
		if C.quic_conn_peer_address(c, &ss, &n) == C.QUIC_RESULT_OK {
			remote, _ = getSockaddr(&ss, n)
		}
	}
	s := newSession(&l.mu, remote)
	s.backlog = newBacklog()
	go s.pump(func(ids []uint64) {
		l.mu.Lock()
		defer l.mu.Unlock()
		var c *C.quic_conn
		if l.ep == nil || C.quic_endpoint_conn(l.ep, C.uint64_t(handle), &c) != C.QUIC_RESULT_OK {
			return
		}
		for _, id := range ids {
			C.quic_conn_stream_resume_reading(c, C.uint64_t(id))
		}
		now := time.Now()
		l.flush(now)
		l.rearm(now)
	})
	s.borrow = func() (*Conn, error) {
		c := &Conn{borrowed: true}
		if err := check("connection", C.quic_endpoint_conn(l.ep, C.uint64_t(handle), &c.c)); err != nil {
			return nil, err
		}
		return c, nil
	}
	s.flush = func(now time.Time) {
		l.flush(now)
		l.rearm(now)
	}
	return s
}

// rearm sets the read deadline to the endpoint's timer, or to now when
// a Session has events (or its end) waiting for the loop (under mu).
func (l *Listener) rearm(now time.Time) {
	deadline, armed := fromNanos(C.quic_endpoint_timeout(l.ep))
	for _, s := range l.sessions {
		if len(s.pending) > 0 {
			deadline, armed = now, true
		}
	}
	if len(l.finished) > 0 {
		deadline, armed = now, true
	}
	if !armed {
		deadline = time.Time{}
	}
	_ = l.pc.SetReadDeadline(deadline)
}

func (l *Listener) run() {
	buf := make([]byte, maxDatagram)
	defer close(l.done)
	for {
		l.mu.Lock()
		now := time.Now()
		l.flush(now)
		// Into each Session's backlog, without waiting for its reader.
		for handle, s := range l.sessions {
			if len(s.pending) > 0 {
				l.add(s, handle, s.pending, false)
				s.pending = nil
			}
		}
		for handle, s := range l.finished {
			l.add(s, handle, s.pending, true)
			s.pending = nil
			delete(l.finished, handle)
		}
		l.rearm(now)
		l.mu.Unlock()

		n, from, err := l.pc.ReadFromUDPAddrPort(buf)
		l.mu.Lock()
		now = time.Now()
		switch {
		case err == nil:
			var info C.quic_datagram_info
			info.struct_size = C.size_t(unsafe.Sizeof(info))
			info.remote_len = putSockaddr(&info.remote, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()))
			C.quic_endpoint_recv(l.ep, (*C.uint8_t)(&buf[0]), C.size_t(n), &info, nanos(now))
		case errors.Is(err, os.ErrDeadlineExceeded):
			C.quic_endpoint_handle_timer(l.ep, nanos(now))
		default:
			// Closed: every Session ends with the endpoint, those that
			// ended this round too (their Events must still close).
			closed := &Error{Op: "listener", Code: ResultClosing, Detail: "the listener was closed"}
			for _, sessions := range []map[uint64]*Session{l.sessions, l.finished} {
				for handle, s := range sessions {
					l.add(s, handle, s.pending, false)
					s.pending = nil
					s.closeOnce.Do(func() { close(s.closing) })
					s.backlog.ending(closed)
				}
			}
			l.sessions, l.finished = map[uint64]*Session{}, map[uint64]*Session{}
			C.quic_endpoint_free(l.ep)
			l.ep = nil
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
	}
}
