package quic

/*
#include <quic.h>
*/
import "C"

import (
	"net/netip"
	"unsafe"
)

// Event is something that happened on a connection: one of the types
// below (the names are aioquic's). Switch on the type; ignore types you
// do not know, as newer libquic versions add some.
type Event interface{ isEvent() }

// HandshakeCompleted: the connection is established.
type HandshakeCompleted struct {
	ALPN              string
	SessionResumed    bool
	EarlyDataAccepted bool
}

// ProtocolNegotiated: ALPN agreed, before HandshakeCompleted.
type ProtocolNegotiated struct{ ALPN string }

// StreamDataReceived: bytes arrived on a stream, in order; EndStream with
// the last of them.
type StreamDataReceived struct {
	StreamID  uint64
	Data      []byte
	EndStream bool
}

// StreamReset: the peer abandoned sending on a stream (RESET_STREAM).
type StreamReset struct {
	StreamID  uint64
	ErrorCode uint64
}

// StopSendingReceived: the peer asked us to stop sending on a stream.
type StopSendingReceived struct {
	StreamID  uint64
	ErrorCode uint64
}

// DatagramFrameReceived: a DATAGRAM frame arrived (RFC 9221).
type DatagramFrameReceived struct{ Data []byte }

// PingAcknowledged: the PING sent by SendPing(UID) was acknowledged.
type PingAcknowledged struct{ UID uint64 }

// ConnectionIDIssued: a new connection ID of ours was given to the peer.
type ConnectionIDIssued struct{ ConnectionID []byte }

// ConnectionIDRetired: the peer retired one of our connection IDs.
type ConnectionIDRetired struct{ ConnectionID []byte }

// Termination says why a connection ended (quic_termination).
type Termination uint32

// The reasons a connection ends.
const (
	TerminationLocalError         Termination = C.QUIC_TERMINATION_LOCAL_ERROR
	TerminationLocalClose         Termination = C.QUIC_TERMINATION_LOCAL_CLOSE
	TerminationPeerTransport      Termination = C.QUIC_TERMINATION_PEER_TRANSPORT
	TerminationPeerApplication    Termination = C.QUIC_TERMINATION_PEER_APPLICATION
	TerminationIdleTimeout        Termination = C.QUIC_TERMINATION_IDLE_TIMEOUT
	TerminationHandshakeTimeout   Termination = C.QUIC_TERMINATION_HANDSHAKE_TIMEOUT
	TerminationStatelessReset     Termination = C.QUIC_TERMINATION_STATELESS_RESET
	TerminationVersionNegotiation Termination = C.QUIC_TERMINATION_VERSION_NEGOTIATION
	TerminationAbandoned          Termination = C.QUIC_TERMINATION_ABANDONED
)

// ConnectionTerminated: the connection ended. FrameType is meaningful
// when HasFrameType.
type ConnectionTerminated struct {
	Termination  Termination
	ErrorCode    uint64
	FrameType    uint64
	HasFrameType bool
	Reason       string
}

// KeyUpdated: both directions use a new generation of 1-RTT keys.
type KeyUpdated struct{}

// PeerMigrated: the peer moved to a new address.
type PeerMigrated struct{ Remote netip.AddrPort }

// PathValidated: a path was proven (RFC 9000 §8.2).
type PathValidated struct{ Local, Remote netip.AddrPort }

// PathFailed: a probed path got no answer.
type PathFailed struct {
	Local, Remote netip.AddrPort
	Reason        string
}

// Migrated: this client moved to a validated new path.
type Migrated struct{ Local, Remote netip.AddrPort }

// StreamsAvailable: the peer raised a stream limit that had refused us.
type StreamsAvailable struct {
	Unidirectional bool
	MaxStreams     uint64
}

// SessionTicket: the server sent a ticket to resume with later.
type SessionTicket struct{ Ticket []byte }

// NewToken: the server gave an address-validation token.
type NewToken struct{ Token []byte }

// EarlyDataRejected: the server refused this client's 0-RTT data (the
// stream bytes are sent again in 1-RTT).
type EarlyDataRejected struct{}

// StreamWritable: a stream's send buffer fell below the writable level.
type StreamWritable struct{ StreamID uint64 }

// PathMTUChanged: the largest datagram the path carries changed.
type PathMTUChanged struct {
	MTU       uint64
	BlackHole bool
}

// UnknownEvent is an event kind this package does not know yet.
type UnknownEvent struct{ Kind uint32 }

func (HandshakeCompleted) isEvent()    {}
func (ProtocolNegotiated) isEvent()    {}
func (StreamDataReceived) isEvent()    {}
func (StreamReset) isEvent()           {}
func (StopSendingReceived) isEvent()   {}
func (DatagramFrameReceived) isEvent() {}
func (PingAcknowledged) isEvent()      {}
func (ConnectionIDIssued) isEvent()    {}
func (ConnectionIDRetired) isEvent()   {}
func (ConnectionTerminated) isEvent()  {}
func (KeyUpdated) isEvent()            {}
func (PeerMigrated) isEvent()          {}
func (PathValidated) isEvent()         {}
func (PathFailed) isEvent()            {}
func (Migrated) isEvent()              {}
func (StreamsAvailable) isEvent()      {}
func (SessionTicket) isEvent()         {}
func (NewToken) isEvent()              {}
func (EarlyDataRejected) isEvent()     {}
func (StreamWritable) isEvent()        {}
func (PathMTUChanged) isEvent()        {}
func (UnknownEvent) isEvent()          {}

func goBytes(p *C.uint8_t, n C.size_t) []byte {
	if n == 0 || p == nil {
		return []byte{}
	}
	return C.GoBytes(unsafe.Pointer(p), C.int(n))
}

func goString(p *C.uint8_t, n C.size_t) string { return string(goBytes(p, n)) }

func eventAddr(ss *C.struct_sockaddr_storage, n C.socklen_t) netip.AddrPort {
	a, _ := getSockaddr(ss, n)
	return a
}

// convertEvent copies a C event (whose pointers live only until the next
// poll) into its Go type.
func convertEvent(ev *C.quic_event) Event {
	switch ev.kind {
	case C.QUIC_EVENT_TYPE_HANDSHAKE_COMPLETED:
		return HandshakeCompleted{ALPN: goString(ev.alpn, ev.alpn_len),
			SessionResumed: bool(ev.session_resumed), EarlyDataAccepted: bool(ev.early_data_accepted)}
	case C.QUIC_EVENT_TYPE_PROTOCOL_NEGOTIATED:
		return ProtocolNegotiated{ALPN: goString(ev.alpn, ev.alpn_len)}
	case C.QUIC_EVENT_TYPE_STREAM_DATA_RECEIVED:
		return StreamDataReceived{StreamID: uint64(ev.stream_id), Data: goBytes(ev.data, ev.data_len),
			EndStream: bool(ev.end_stream)}
	case C.QUIC_EVENT_TYPE_STREAM_RESET:
		return StreamReset{StreamID: uint64(ev.stream_id), ErrorCode: uint64(ev.error_code)}
	case C.QUIC_EVENT_TYPE_STOP_SENDING_RECEIVED:
		return StopSendingReceived{StreamID: uint64(ev.stream_id), ErrorCode: uint64(ev.error_code)}
	case C.QUIC_EVENT_TYPE_DATAGRAM_FRAME_RECEIVED:
		return DatagramFrameReceived{Data: goBytes(ev.data, ev.data_len)}
	case C.QUIC_EVENT_TYPE_PING_ACKNOWLEDGED:
		return PingAcknowledged{UID: uint64(ev.ping_uid)}
	case C.QUIC_EVENT_TYPE_CONNECTION_ID_ISSUED:
		return ConnectionIDIssued{ConnectionID: goBytes(ev.cid, ev.cid_len)}
	case C.QUIC_EVENT_TYPE_CONNECTION_ID_RETIRED:
		return ConnectionIDRetired{ConnectionID: goBytes(ev.cid, ev.cid_len)}
	case C.QUIC_EVENT_TYPE_CONNECTION_TERMINATED:
		return ConnectionTerminated{Termination: Termination(ev.termination), ErrorCode: uint64(ev.error_code),
			FrameType: uint64(ev.frame_type), HasFrameType: bool(ev.has_frame_type),
			Reason: goString(ev.reason, ev.reason_len)}
	case C.QUIC_EVENT_TYPE_KEY_UPDATED:
		return KeyUpdated{}
	case C.QUIC_EVENT_TYPE_PEER_MIGRATED:
		return PeerMigrated{Remote: eventAddr(&ev.remote_addr, ev.remote_addr_len)}
	case C.QUIC_EVENT_TYPE_PATH_VALIDATED:
		return PathValidated{Local: eventAddr(&ev.local_addr, ev.local_addr_len),
			Remote: eventAddr(&ev.remote_addr, ev.remote_addr_len)}
	case C.QUIC_EVENT_TYPE_PATH_FAILED:
		return PathFailed{Local: eventAddr(&ev.local_addr, ev.local_addr_len),
			Remote: eventAddr(&ev.remote_addr, ev.remote_addr_len), Reason: goString(ev.reason, ev.reason_len)}
	case C.QUIC_EVENT_TYPE_MIGRATED:
		return Migrated{Local: eventAddr(&ev.local_addr, ev.local_addr_len),
			Remote: eventAddr(&ev.remote_addr, ev.remote_addr_len)}
	case C.QUIC_EVENT_TYPE_STREAMS_AVAILABLE:
		return StreamsAvailable{Unidirectional: bool(ev.unidirectional), MaxStreams: uint64(ev.max_streams)}
	case C.QUIC_EVENT_TYPE_SESSION_TICKET:
		return SessionTicket{Ticket: goBytes(ev.data, ev.data_len)}
	case C.QUIC_EVENT_TYPE_NEW_TOKEN:
		return NewToken{Token: goBytes(ev.data, ev.data_len)}
	case C.QUIC_EVENT_TYPE_EARLY_DATA_REJECTED:
		return EarlyDataRejected{}
	case C.QUIC_EVENT_TYPE_STREAM_WRITABLE:
		return StreamWritable{StreamID: uint64(ev.stream_id)}
	case C.QUIC_EVENT_TYPE_PATH_MTU_CHANGED:
		return PathMTUChanged{MTU: uint64(ev.mtu), BlackHole: bool(ev.black_hole)}
	}
	return UnknownEvent{Kind: uint32(ev.kind)}
}
