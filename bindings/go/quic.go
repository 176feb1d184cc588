// Package quic is the Go binding of libquic, a sans-I/O QUIC transport
// (RFC 9000, 9001, 9002; QUIC v2, DATAGRAM) with TLS by OpenSSL.
//
// Two levels:
//
//   - Conn is one connection driven by the caller's own loop: feed it every
//     received datagram (Recv), send what it produces (Send) until it has
//     nothing more, take its Events, and call HandleTimer when Timeout
//     passes. Nothing in Conn reads a clock or touches a socket.
//   - Dial and Listen run that loop over a net.UDPConn in a goroutine and
//     give a Session whose events arrive on a channel.
//
// cgo finds the C library through pkg-config (`pkg-config quic`), as
// installed by libquic's `make install` or the libquic-dev package.
package quic

/*
#cgo pkg-config: quic
#include <quic.h>
#include <stdlib.h>
*/
import "C"

import (
	"fmt"
	"time"
)

// Result is a libquic result code (quic_result). Negative values are
// errors; Result implements error so that errors.Is(err, ResultWouldBlock)
// works on what this package returns.
type Result int32

// The result codes a Go caller may want to tell apart. quic.h documents
// every code.
const (
	ResultOK                  Result = C.QUIC_RESULT_OK
	ResultDone                Result = C.QUIC_RESULT_DONE
	ResultInvalidArgument     Result = C.QUIC_RESULT_INVALID_ARGUMENT
	ResultBufferTooSmall      Result = C.QUIC_RESULT_BUFFER_TOO_SMALL
	ResultInvalidState        Result = C.QUIC_RESULT_INVALID_STATE
	ResultFileUnreadable      Result = C.QUIC_RESULT_FILE_UNREADABLE
	ResultInvalidAddress      Result = C.QUIC_RESULT_INVALID_ADDRESS
	ResultClosing             Result = C.QUIC_RESULT_CLOSING
	ResultWouldBlock          Result = C.QUIC_RESULT_WOULD_BLOCK
	ResultHandshakePending    Result = C.QUIC_RESULT_HANDSHAKE_PENDING
	ResultStreamLimit         Result = C.QUIC_RESULT_STREAM_LIMIT
	ResultInvalidStream       Result = C.QUIC_RESULT_INVALID_STREAM
	ResultStreamFinished      Result = C.QUIC_RESULT_STREAM_FINISHED
	ResultStreamReset         Result = C.QUIC_RESULT_STREAM_RESET
	ResultDatagramUnsupported Result = C.QUIC_RESULT_DATAGRAM_UNSUPPORTED
	ResultDatagramTooLarge    Result = C.QUIC_RESULT_DATAGRAM_TOO_LARGE
	ResultTLSCertificate      Result = C.QUIC_RESULT_TLS_CERTIFICATE
	ResultTLSPrivateKey       Result = C.QUIC_RESULT_TLS_PRIVATE_KEY
	ResultTLSCA               Result = C.QUIC_RESULT_TLS_CA
)

func (r Result) Error() string {
	return C.GoString(C.quic_result_str(C.quic_result(r)))
}

// Fatal reports whether the connection or endpoint that returned r is
// unusable afterwards (quic_result_is_fatal).
func (r Result) Fatal() bool {
	return bool(C.quic_result_is_fatal(C.quic_result(r)))
}

// Error is a failed libquic call: which operation, its result code, and
// for configuration calls the library's detailed message.
type Error struct {
	Op     string
	Code   Result
	Detail string
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("quic: %s: %s (%s)", e.Op, e.Code.Error(), e.Detail)
	}
	return fmt.Sprintf("quic: %s: %s", e.Op, e.Code.Error())
}

// Unwrap gives the Result, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Code }

// check turns a quic_result into nil (OK or DONE) or an *Error.
func check(op string, rc C.quic_result) error {
	if rc >= 0 {
		return nil
	}
	return &Error{Op: op, Code: Result(rc)}
}

// epoch is the origin of the nanosecond clock libquic is given: every
// time.Time passed in is measured from it, with Go's monotonic reading.
var epoch = time.Now()

func nanos(t time.Time) C.uint64_t {
	d := t.Sub(epoch)
	if d < 0 {
		return 0
	}
	return C.uint64_t(d)
}

func fromNanos(ns C.uint64_t) (time.Time, bool) {
	if ns == C.UINT64_MAX {
		return time.Time{}, false
	}
	return epoch.Add(time.Duration(ns)), true
}

// Version is the version of the C library this package was built against.
const Version = C.QUIC_VERSION_STRING
