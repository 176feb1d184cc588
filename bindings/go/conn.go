package quic

/*
#include <quic.h>
#include <stdlib.h>
*/
import "C"

import (
	"net/netip"
	"runtime"
	"time"
	"unsafe"
)

// Conn is one QUIC connection, driven by the caller: after each received
// datagram (Recv), timer (HandleTimer) or call that queues data
// (StreamSend, ...), call Send until it returns 0 and take Events; then
// wait for a datagram or for Timeout. A Conn is not safe for use by more
// than one goroutine at a time.
type Conn struct {
	c        *C.quic_conn
	borrowed bool // a Listener's: it frees the connection
	ev       C.quic_event
	to       C.struct_sockaddr_storage
}

func (c *Conn) alive(op string) error {
	if c.c == nil {
		return &Error{Op: op, Code: ResultInvalidState, Detail: "connection freed"}
	}
	return nil
}

// NewClientConn starts a client connection to remote; its first datagram
// is ready for Send.
func NewClientConn(cfg *Config, remote netip.AddrPort, now time.Time) (*Conn, error) {
	if cfg == nil || cfg.c == nil || !cfg.isClient {
		return nil, &Error{Op: "new client", Code: ResultInvalidArgument, Detail: "needs a live client Config"}
	}
	conn := &Conn{}
	if err := check("new client", C.quic_conn_new(cfg.c, nil, &conn.c)); err != nil {
		return nil, err
	}
	runtime.SetFinalizer(conn, (*Conn).Free)
	var ss C.struct_sockaddr_storage
	n := putSockaddr(&ss, remote)
	if err := check("connect", C.quic_conn_connect(conn.c, (*C.struct_sockaddr)(unsafe.Pointer(&ss)), n, nanos(now))); err != nil {
		conn.Free()
		return nil, err
	}
	return conn, nil
}

// NewServerConn makes a server connection for the client whose first
// datagram (an Initial) is given; pass that datagram to Recv next. One
// server with many clients is simpler with Listen, which routes datagrams
// to connections.
func NewServerConn(cfg *Config, first []byte) (*Conn, error) {
	if cfg == nil || cfg.c == nil || cfg.isClient {
		return nil, &Error{Op: "new server", Code: ResultInvalidArgument, Detail: "needs a live server Config"}
	}
	if len(first) == 0 {
		return nil, &Error{Op: "new server", Code: ResultInvalidArgument, Detail: "empty datagram"}
	}
	var h C.quic_header_info
	h.struct_size = C.size_t(unsafe.Sizeof(h))
	if err := check("header", C.quic_header_parse((*C.uint8_t)(&first[0]), C.size_t(len(first)), 8, &h)); err != nil {
		return nil, err
	}
	// h.dcid points into first, Go memory: cgo forbids passing it inside
	// another struct, so the ID is copied to C memory.
	dcid := C.CBytes(goBytes(h.dcid, h.dcid_len))
	defer C.free(dcid)
	params := C.quic_conn_params{original_dcid: (*C.uint8_t)(dcid), original_dcid_len: h.dcid_len}
	params.struct_size = C.size_t(unsafe.Sizeof(params))
	conn := &Conn{}
	if err := check("new server", C.quic_conn_new(cfg.c, &params, &conn.c)); err != nil {
		return nil, err
	}
	runtime.SetFinalizer(conn, (*Conn).Free)
	return conn, nil
}

// Free releases the connection. It does not tell the peer: Close first.
func (c *Conn) Free() {
	if c.c != nil && !c.borrowed {
		C.quic_conn_free(c.c)
	}
	c.c = nil
	runtime.SetFinalizer(c, nil)
}

// Recv feeds one datagram received from `from`.
func (c *Conn) Recv(datagram []byte, from netip.AddrPort, now time.Time) error {
	if err := c.alive("recv"); err != nil {
		return err
	}
	var ss C.struct_sockaddr_storage
	n := putSockaddr(&ss, from)
	var p *C.uint8_t
	if len(datagram) > 0 {
		p = (*C.uint8_t)(&datagram[0])
	}
	return check("recv", C.quic_conn_recv(c.c, p, C.size_t(len(datagram)),
		(*C.struct_sockaddr)(unsafe.Pointer(&ss)), n, nanos(now)))
}

// Send writes the next datagram to send into buf and returns its length
// and destination; 0 when there is nothing to send now. Datagrams stay
// within len(buf): give at least 1500 bytes.
func (c *Conn) Send(buf []byte, now time.Time) (int, netip.AddrPort, error) {
	if err := c.alive("send"); err != nil {
		return 0, netip.AddrPort{}, err
	}
	if len(buf) == 0 {
		return 0, netip.AddrPort{}, &Error{Op: "send", Code: ResultBufferTooSmall}
	}
	var n C.size_t
	var tolen C.socklen_t
	rc := C.quic_conn_send(c.c, (*C.uint8_t)(&buf[0]), C.size_t(len(buf)), &n, &c.to, &tolen, nanos(now))
	if rc == C.QUIC_RESULT_DONE {
		return 0, netip.AddrPort{}, nil
	}
	if err := check("send", rc); err != nil {
		return 0, netip.AddrPort{}, err
	}
	to, _ := getSockaddr(&c.to, tolen)
	return int(n), to, nil
}

// Timeout is when HandleTimer is next due; false when no timer is armed.
func (c *Conn) Timeout() (time.Time, bool) {
	if c.c == nil {
		return time.Time{}, false
	}
	return fromNanos(C.quic_conn_timer(c.c))
}

// HandleTimer runs what is due by now (early calls are harmless).
func (c *Conn) HandleTimer(now time.Time) error {
	if err := c.alive("timer"); err != nil {
		return err
	}
	return check("timer", C.quic_conn_handle_timer(c.c, nanos(now)))
}

// PollEvent takes the next event; false when there is none.
func (c *Conn) PollEvent() (Event, bool) {
	if c.c == nil {
		return nil, false
	}
	c.ev = C.quic_event{}
	c.ev.struct_size = C.size_t(unsafe.Sizeof(c.ev))
	if C.quic_conn_poll_event(c.c, &c.ev) != C.QUIC_RESULT_OK {
		return nil, false
	}
	return convertEvent(&c.ev), true
}

// Events takes every pending event. Handling one may queue data: Send
// again afterwards.
func (c *Conn) Events() []Event {
	var out []Event
	for {
		ev, ok := c.PollEvent()
		if !ok {
			return out
		}
		out = append(out, ev)
	}
}

// OpenStream opens the next stream of ours and returns its ID.
// ResultStreamLimit (errors.Is) means the peer allows no more yet: a
// StreamsAvailable event says when it does.
func (c *Conn) OpenStream(unidirectional bool) (uint64, error) {
	if err := c.alive("open stream"); err != nil {
		return 0, err
	}
	var id C.uint64_t
	if err := check("open stream", C.quic_conn_open_stream(c.c, C.bool(unidirectional), &id)); err != nil {
		return 0, err
	}
	return uint64(id), nil
}

// StreamSend queues data on a stream (opening it if it is the next of
// ours); fin ends the stream after it. The data is copied.
func (c *Conn) StreamSend(streamID uint64, data []byte, fin bool) error {
	if err := c.alive("stream send"); err != nil {
		return err
	}
	var p *C.uint8_t
	if len(data) > 0 {
		p = (*C.uint8_t)(&data[0])
	}
	return check("stream send", C.quic_conn_stream_send(c.c, C.uint64_t(streamID), p, C.size_t(len(data)), C.bool(fin)))
}

// StreamReset abandons sending on a stream (RESET_STREAM).
func (c *Conn) StreamReset(streamID, errorCode uint64) error {
	if err := c.alive("stream reset"); err != nil {
		return err
	}
	return check("stream reset", C.quic_conn_stream_reset(c.c, C.uint64_t(streamID), C.uint64_t(errorCode)))
}

// StreamStop asks the peer to stop sending on a stream (STOP_SENDING).
func (c *Conn) StreamStop(streamID, errorCode uint64) error {
	if err := c.alive("stream stop"); err != nil {
		return err
	}
	return check("stream stop", C.quic_conn_stream_stop(c.c, C.uint64_t(streamID), C.uint64_t(errorCode)))
}

// SendDatagram queues an unreliable DATAGRAM frame (both sides need
// WithDatagrams).
func (c *Conn) SendDatagram(data []byte) error {
	if err := c.alive("send datagram"); err != nil {
		return err
	}
	var p *C.uint8_t
	if len(data) > 0 {
		p = (*C.uint8_t)(&data[0])
	}
	return check("send datagram", C.quic_conn_send_datagram(c.c, p, C.size_t(len(data))))
}

// SendPing sends a PING; PingAcknowledged{uid} follows when it is
// acknowledged.
func (c *Conn) SendPing(uid uint64) error {
	if err := c.alive("ping"); err != nil {
		return err
	}
	return check("ping", C.quic_conn_send_ping(c.c, C.uint64_t(uid)))
}

// RequestKeyUpdate moves to the next generation of 1-RTT keys (RFC 9001
// §6); KeyUpdated follows.
func (c *Conn) RequestKeyUpdate() error {
	if err := c.alive("key update"); err != nil {
		return err
	}
	return check("key update", C.quic_conn_request_key_update(c.c))
}

// Close closes the connection with an application error code (0: no
// error) and reason; keep driving it until IsClosed.
func (c *Conn) Close(errorCode uint64, reason string, now time.Time) error {
	if err := c.alive("close"); err != nil {
		return err
	}
	r := []byte(reason)
	var p *C.uint8_t
	if len(r) > 0 {
		p = (*C.uint8_t)(&r[0])
	}
	return check("close", C.quic_conn_close(c.c, true, C.uint64_t(errorCode), 0, p, C.size_t(len(r)), nanos(now)))
}

// IsEstablished reports whether the handshake completed.
func (c *Conn) IsEstablished() bool { return c.c != nil && bool(C.quic_conn_is_established(c.c)) }

// IsClosed reports whether the connection is over (nothing more to send;
// it may be freed).
func (c *Conn) IsClosed() bool { return c.c == nil || bool(C.quic_conn_is_closed(c.c)) }

// Stats are a connection's counters (quic_stats).
type Stats struct {
	Version          uint32
	RTT              time.Duration
	Cwnd             uint64
	BytesInFlight    uint64
	BytesSent        uint64
	BytesReceived    uint64
	PacketsLost      uint64
	ProbeTimeouts    uint64
	PMTU             uint64
	ECNReceivedCE    uint64
	CongestionEvents uint64
}

// Stats reads the connection's counters.
func (c *Conn) Stats() (Stats, error) {
	if err := c.alive("stats"); err != nil {
		return Stats{}, err
	}
	var s C.quic_stats
	s.struct_size = C.size_t(unsafe.Sizeof(s))
	if err := check("stats", C.quic_conn_stats(c.c, &s)); err != nil {
		return Stats{}, err
	}
	return Stats{Version: uint32(s.version), RTT: time.Duration(s.rtt_ns), Cwnd: uint64(s.cwnd),
		BytesInFlight: uint64(s.bytes_in_flight), BytesSent: uint64(s.bytes_sent),
		BytesReceived: uint64(s.bytes_received), PacketsLost: uint64(s.packets_lost),
		ProbeTimeouts: uint64(s.probe_timeouts), PMTU: uint64(s.pmtu),
		ECNReceivedCE: uint64(s.ecn_received_ce), CongestionEvents: uint64(s.congestion_events)}, nil
}
