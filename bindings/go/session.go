package quic

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// eventBacklog is the capacity of a Session's Events channel. When it is
// full, a Dial session's loop waits for the reader (so a peer can make us
// hold no more than this, plus what flow control lets libquic buffer); a
// Listener's Session keeps a backlog instead, bounded as backlog.go says.
const eventBacklog = 256

// maxDatagram is the size of the loops' send and receive buffers: the
// largest UDP payload.
const maxDatagram = 65535

// Session is a connection driven by a goroutine over a UDP socket: a
// client's from Dial, a server's from Listener.Accept. Its methods may be
// called from any goroutine. Read Events until it is closed.
type Session struct {
	mu     *sync.Mutex           // the driving loop's lock
	borrow func() (*Conn, error) // the connection, under mu
	flush  func(time.Time)       // sends what the connection has, under mu

	events    chan Event
	pending   []Event // taken from the connection, not yet delivered
	closing   chan struct{}
	closeOnce sync.Once
	done      chan struct{}
	doneOnce  sync.Once
	result    error // set before done is closed

	established     chan struct{}
	establishedOnce sync.Once
	remote          netip.AddrPort

	backlog *backlog // a Listener's Session: events waiting for the reader
}

func newSession(mu *sync.Mutex, remote netip.AddrPort) *Session {
	return &Session{
		mu:          mu,
		events:      make(chan Event, eventBacklog),
		closing:     make(chan struct{}),
		done:        make(chan struct{}),
		established: make(chan struct{}),
		remote:      remote,
	}
}

// Events delivers the connection's events in order; the channel is
// closed once the connection is over (after ConnectionTerminated).
func (s *Session) Events() <-chan Event { return s.events }

// Done is closed once the connection is over.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err says how the connection ended, once Done is closed: nil for a
// close without error by either side, else a *CloseError.
func (s *Session) Err() error {
	select {
	case <-s.done:
		return s.result
	default:
		return nil
	}
}

// RemoteAddr is the peer's address when the connection started.
func (s *Session) RemoteAddr() netip.AddrPort { return s.remote }

// CloseError is a connection that ended with an error or a timeout.
type CloseError struct{ ConnectionTerminated }

func (e *CloseError) Error() string {
	what := map[Termination]string{
		TerminationLocalError: "closed by us with an error", TerminationLocalClose: "closed by us",
		TerminationPeerTransport: "closed by the peer (transport error)", TerminationPeerApplication: "closed by the peer",
		TerminationIdleTimeout: "idle timeout", TerminationHandshakeTimeout: "handshake timeout",
		TerminationStatelessReset: "stateless reset by the peer", TerminationVersionNegotiation: "no QUIC version in common",
		TerminationAbandoned: "abandoned",
	}[e.Termination]
	if what == "" {
		what = fmt.Sprintf("termination %d", e.Termination)
	}
	if e.Reason != "" {
		return fmt.Sprintf("quic: connection %s: error 0x%x: %s", what, e.ErrorCode, e.Reason)
	}
	return fmt.Sprintf("quic: connection %s: error 0x%x", what, e.ErrorCode)
}

// errorOf turns the terminating event into the Session's result.
func errorOf(t ConnectionTerminated) error {
	clean := (t.Termination == TerminationLocalClose || t.Termination == TerminationPeerApplication ||
		t.Termination == TerminationPeerTransport) && t.ErrorCode == 0
	if clean {
		return nil
	}
	return &CloseError{t}
}

// errClosed is what a Session's calls return once the connection is over.
var errClosed = &Error{Op: "session", Code: ResultClosing, Detail: "the connection is over"}

// with runs f on the connection under the loop's lock, then sends what f
// queued.
func (s *Session) with(f func(c *Conn) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return errClosed
	default:
	}
	c, err := s.borrow()
	if err != nil {
		return err
	}
	if err := f(c); err != nil {
		return err
	}
	s.flush(time.Now())
	return nil
}

// OpenStream opens the next stream of ours.
func (s *Session) OpenStream(unidirectional bool) (id uint64, err error) {
	err = s.with(func(c *Conn) error { id, err = c.OpenStream(unidirectional); return err })
	return id, err
}

// StreamSend queues data on a stream (copied); fin ends the stream.
func (s *Session) StreamSend(streamID uint64, data []byte, fin bool) error {
	return s.with(func(c *Conn) error { return c.StreamSend(streamID, data, fin) })
}

// StreamReset abandons sending on a stream.
func (s *Session) StreamReset(streamID, errorCode uint64) error {
	return s.with(func(c *Conn) error { return c.StreamReset(streamID, errorCode) })
}

// StreamStop asks the peer to stop sending on a stream.
func (s *Session) StreamStop(streamID, errorCode uint64) error {
	return s.with(func(c *Conn) error { return c.StreamStop(streamID, errorCode) })
}

// SendDatagram sends an unreliable DATAGRAM frame.
func (s *Session) SendDatagram(data []byte) error {
	return s.with(func(c *Conn) error { return c.SendDatagram(data) })
}

// SendPing sends a PING; PingAcknowledged{uid} follows.
func (s *Session) SendPing(uid uint64) error {
	return s.with(func(c *Conn) error { return c.SendPing(uid) })
}

// RequestKeyUpdate moves to new 1-RTT keys; KeyUpdated follows.
func (s *Session) RequestKeyUpdate() error {
	return s.with(func(c *Conn) error { return c.RequestKeyUpdate() })
}

// Stats reads the connection's counters.
func (s *Session) Stats() (st Stats, err error) {
	err = s.with(func(c *Conn) error { st, err = c.Stats(); return err })
	return st, err
}

// Close closes the connection with an application error code (0: no
// error) and waits, at most until ctx ends, for the closing period to
// finish. Events not yet read are dropped from then on.
func (s *Session) Close(ctx context.Context, errorCode uint64, reason string) error {
	s.closeOnce.Do(func() { close(s.closing) })
	err := s.with(func(c *Conn) error { return c.Close(errorCode, reason, time.Now()) })
	if err != nil && !errors.Is(err, ResultClosing) && err != errClosed {
		return err
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// take moves the connection's events into pending (under mu).
func (s *Session) take(c *Conn) {
	for {
		ev, ok := c.PollEvent()
		if !ok {
			return
		}
		s.note(ev)
	}
}

// note queues one event in pending (under mu) and notes the handshake
// and the end.
func (s *Session) note(ev Event) {
	s.pending = append(s.pending, ev)
	switch e := ev.(type) {
	case HandshakeCompleted:
		s.establishedOnce.Do(func() { close(s.established) })
	case ConnectionTerminated:
		s.result = errorOf(e)
	}
}

// deliver hands pending events to the reader (not under mu): it waits
// for the reader unless the Session is being closed.
func (s *Session) deliver(evs []Event) {
	for _, ev := range evs {
		select {
		case s.events <- ev:
		case <-s.closing:
		}
	}
}

// finish ends the Session: Events and Done close.
func (s *Session) finish(result error) {
	s.doneOnce.Do(func() {
		if s.result == nil {
			s.result = result
		}
		close(s.events)
		close(s.done)
	})
}

// resolve turns "host:port" into an address for libquic.
func resolve(address string) (netip.AddrPort, error) {
	ua, err := net.ResolveUDPAddr("udp", address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ap := ua.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}
