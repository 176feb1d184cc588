// Package binding drives libquic through cgo: a client and a server
// connection complete a handshake in memory and echo a stream
// (binding_test.go checks it). CGO_CFLAGS / CGO_LDFLAGS point at the header
// and the built library.
package binding

/*
#cgo LDFLAGS: -lquic
#include <quic.h>
#include <stdlib.h>
*/
import "C"

import (
	"bytes"
	"fmt"
	"path/filepath"
	"unsafe"
)

type failure string

func must(rc C.quic_result, what string) C.quic_result {
	if rc != C.QUIC_RESULT_OK && rc != C.QUIC_RESULT_DONE {
		panic(failure(fmt.Sprintf("%s: %s", what, C.GoString(C.quic_result_str(rc)))))
	}
	return rc
}

func sockaddr(text string) (C.struct_sockaddr_storage, C.socklen_t) {
	var ss C.struct_sockaddr_storage
	var n C.socklen_t
	cs := C.CString(text)
	defer C.free(unsafe.Pointer(cs))
	must(C.quic_sockaddr_parse(cs, &ss, &n), "sockaddr")
	return ss, n
}

func goBytes(p *C.uint8_t, n C.size_t) []byte {
	if n == 0 {
		return nil
	}
	return C.GoBytes(unsafe.Pointer(p), C.int(n))
}

// Echo runs the handshake and sends `message` on a stream that the server
// echoes; it returns whether each side completed the handshake and what
// came back.
func Echo(certs string, message []byte) (clientDone, serverDone bool, echoed []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			if f, ok := r.(failure); ok {
				err = fmt.Errorf("%s", string(f))
				return
			}
			panic(r)
		}
	}()
	alpn := C.CString("echo")
	defer C.free(unsafe.Pointer(alpn))
	protos := (**C.char)(C.malloc(C.size_t(unsafe.Sizeof(alpn))))
	defer C.free(unsafe.Pointer(protos))
	*protos = alpn
	cstr := func(s string) *C.char { return C.CString(s) }

	var cc, sc *C.quic_config
	must(C.quic_config_new(true, &cc), "client config")
	defer C.quic_config_free(cc)
	must(C.quic_config_set_alpn_protocols(cc, protos, 1), "alpn")
	name, ca := cstr("localhost"), cstr(filepath.Join(certs, "ca.pem"))
	defer C.free(unsafe.Pointer(name))
	defer C.free(unsafe.Pointer(ca))
	must(C.quic_config_set_server_name(cc, name), "server name")
	must(C.quic_config_load_verify_locations(cc, ca, nil, nil, 0), "ca")
	must(C.quic_config_new(false, &sc), "server config")
	defer C.quic_config_free(sc)
	must(C.quic_config_set_alpn_protocols(sc, protos, 1), "alpn")
	cert, key := cstr(filepath.Join(certs, "server.pem")), cstr(filepath.Join(certs, "server.key"))
	defer C.free(unsafe.Pointer(cert))
	defer C.free(unsafe.Pointer(key))
	must(C.quic_config_load_cert_chain(sc, cert, key, nil), "cert")

	caddr, caddrLen := sockaddr("127.0.0.1:5000")
	saddr, saddrLen := sockaddr("127.0.0.1:4433")
	var client, server *C.quic_conn
	must(C.quic_conn_new(cc, nil, &client), "new client")
	defer C.quic_conn_free(client)
	must(C.quic_conn_connect(client, (*C.struct_sockaddr)(unsafe.Pointer(&saddr)), saddrLen, 0), "connect")

	buf := (*C.uint8_t)(C.malloc(65536))
	defer C.free(unsafe.Pointer(buf))
	var now C.uint64_t

	pump := func() bool {
		moved := false
		var n C.size_t
		var to C.struct_sockaddr_storage
		var tolen C.socklen_t
		for must(C.quic_conn_send(client, buf, 65536, &n, &to, &tolen, now), "send") == C.QUIC_RESULT_OK {
			if server == nil {
				var h C.quic_header_info
				h.struct_size = C.size_t(unsafe.Sizeof(h))
				must(C.quic_header_parse(buf, n, 8, &h), "header")
				params := C.quic_conn_params{
					struct_size:       C.size_t(unsafe.Sizeof(C.quic_conn_params{})),
					original_dcid:     h.dcid,
					original_dcid_len: h.dcid_len,
				}
				must(C.quic_conn_new(sc, &params, &server), "new server")
			}
			must(C.quic_conn_recv(server, buf, n, (*C.struct_sockaddr)(unsafe.Pointer(&caddr)), caddrLen, now), "recv")
			moved = true
		}
		for server != nil && must(C.quic_conn_send(server, buf, 65536, &n, &to, &tolen, now), "send") == C.QUIC_RESULT_OK {
			must(C.quic_conn_recv(client, buf, n, (*C.struct_sockaddr)(unsafe.Pointer(&saddr)), saddrLen, now), "recv")
			moved = true
		}
		var ev C.quic_event
		ev.struct_size = C.size_t(unsafe.Sizeof(ev))
		for must(C.quic_conn_poll_event(client, &ev), "poll") == C.QUIC_RESULT_OK {
			switch ev.kind {
			case C.QUIC_EVENT_TYPE_HANDSHAKE_COMPLETED:
				clientDone = true
				msg := C.CBytes(message)
				must(C.quic_conn_stream_send(client, 0, (*C.uint8_t)(msg), C.size_t(len(message)), true), "stream send")
				C.free(msg)
			case C.QUIC_EVENT_TYPE_STREAM_DATA_RECEIVED:
				echoed = append(echoed, goBytes(ev.data, ev.data_len)...)
			}
		}
		for server != nil && must(C.quic_conn_poll_event(server, &ev), "poll") == C.QUIC_RESULT_OK {
			switch ev.kind {
			case C.QUIC_EVENT_TYPE_HANDSHAKE_COMPLETED:
				serverDone = true
			case C.QUIC_EVENT_TYPE_STREAM_DATA_RECEIVED:
				must(C.quic_conn_stream_send(server, ev.stream_id, ev.data, ev.data_len, ev.end_stream), "echo")
			}
		}
		return moved
	}

	for i := 0; i < 10000 && !bytes.Equal(echoed, message); i++ {
		if !pump() {
			next := C.quic_conn_timer(client)
			if server != nil {
				if st := C.quic_conn_timer(server); st < next {
					next = st
				}
			}
			if next > now && next != C.UINT64_MAX {
				now = next
			} else {
				now += 1000
			}
			if C.quic_conn_timer(client) <= now {
				C.quic_conn_handle_timer(client, now)
			}
			if server != nil && C.quic_conn_timer(server) <= now {
				C.quic_conn_handle_timer(server, now)
			}
		}
	}
	if server != nil {
		C.quic_conn_free(server)
	}
	return clientDone, serverDone, echoed, nil
}
