package quic

/*
#include <quic.h>
#include <stdlib.h>
*/
import "C"

import (
	"runtime"
	"time"
	"unsafe"
)

// Config holds the settings connections are made with: a client's or a
// server's. Build it with NewClientConfig or NewServerConfig and options;
// a connection or listener made from it keeps its own reference, so the
// Config may be closed as soon as they exist.
type Config struct {
	c        *C.quic_config
	isClient bool
}

// Option changes one setting of a Config.
type Option func(*Config) error

// NewClientConfig makes a client's Config: it verifies the server's
// certificate against the system's CAs unless WithCAFile or
// WithVerifyPeer(false) say otherwise.
func NewClientConfig(opts ...Option) (*Config, error) { return newConfig(true, opts) }

// NewServerConfig makes a server's Config; WithCertificate is required.
func NewServerConfig(opts ...Option) (*Config, error) { return newConfig(false, opts) }

func newConfig(isClient bool, opts []Option) (*Config, error) {
	cfg := &Config{isClient: isClient}
	if err := check("config", C.quic_config_new(C.bool(isClient), &cfg.c)); err != nil {
		return nil, err
	}
	runtime.SetFinalizer(cfg, (*Config).Close)
	for _, opt := range opts {
		if err := opt(cfg); err != nil {
			cfg.Close()
			return nil, err
		}
	}
	return cfg, nil
}

// Close releases the Config. Connections made from it are unaffected.
func (cfg *Config) Close() {
	if cfg.c != nil {
		C.quic_config_free(cfg.c)
		cfg.c = nil
	}
	runtime.SetFinalizer(cfg, nil)
}

// set wraps a setter's result with the config's detailed message.
func (cfg *Config) set(op string, rc C.quic_result) error {
	if rc >= 0 {
		return nil
	}
	detail := ""
	if msg := C.quic_config_last_error(cfg.c); msg != nil {
		detail = C.GoString(msg)
	}
	return &Error{Op: op, Code: Result(rc), Detail: detail}
}

func withCString(s string, f func(*C.char) C.quic_result) C.quic_result {
	cs := C.CString(s)
	defer C.free(unsafe.Pointer(cs))
	return f(cs)
}

// WithALPN sets the application protocols offered (client) or accepted
// (server), most preferred first.
func WithALPN(protocols ...string) Option {
	return func(cfg *Config) error {
		ptrs := C.malloc(C.size_t(len(protocols)+1) * C.size_t(unsafe.Sizeof((*C.char)(nil))))
		defer C.free(ptrs)
		list := unsafe.Slice((**C.char)(ptrs), len(protocols)+1)
		for i, p := range protocols {
			list[i] = C.CString(p)
		}
		defer func() {
			for i := range protocols {
				C.free(unsafe.Pointer(list[i]))
			}
		}()
		return cfg.set("alpn", C.quic_config_set_alpn_protocols(cfg.c, (**C.char)(ptrs), C.size_t(len(protocols))))
	}
}

// WithServerName sets the name a client asks for (SNI) and verifies the
// server's certificate against.
func WithServerName(name string) Option {
	return func(cfg *Config) error {
		return cfg.set("server name", withCString(name, func(s *C.char) C.quic_result {
			return C.quic_config_set_server_name(cfg.c, s)
		}))
	}
}

// WithCAFile makes the peer's certificate be verified against the CA
// certificates in a PEM file.
func WithCAFile(path string) Option {
	return func(cfg *Config) error {
		return cfg.set("CA file", withCString(path, func(s *C.char) C.quic_result {
			return C.quic_config_load_verify_locations(cfg.c, s, nil, nil, 0)
		}))
	}
}

// WithVerifyPeer turns verification of the peer's certificate on or off
// (off only for tests: anyone can then impersonate the server).
func WithVerifyPeer(verify bool) Option {
	return func(cfg *Config) error {
		return cfg.set("verify peer", C.quic_config_set_verify_peer(cfg.c, C.bool(verify)))
	}
}

// WithCertificate loads a server's certificate chain and private key from
// PEM files.
func WithCertificate(certFile, keyFile string) Option {
	return func(cfg *Config) error {
		cert, key := C.CString(certFile), C.CString(keyFile)
		defer C.free(unsafe.Pointer(cert))
		defer C.free(unsafe.Pointer(key))
		return cfg.set("certificate", C.quic_config_load_cert_chain(cfg.c, cert, key, nil))
	}
}

// WithIdleTimeout closes a connection silently after this long without
// a packet from the peer (RFC 9000 §10.1).
func WithIdleTimeout(d time.Duration) Option {
	return func(cfg *Config) error {
		return cfg.set("idle timeout", C.quic_config_set_idle_timeout(cfg.c, C.uint64_t(d)))
	}
}

// WithHandshakeTimeout ends a handshake that has not completed after this
// long with a CONNECTION_TERMINATED event.
func WithHandshakeTimeout(d time.Duration) Option {
	return func(cfg *Config) error {
		return cfg.set("handshake timeout", C.quic_config_set_handshake_timeout(cfg.c, C.uint64_t(d)))
	}
}

// WithKeepAlive sends a PING after this long without sending anything,
// so that an idle connection stays open (0 turns it off).
func WithKeepAlive(d time.Duration) Option {
	return func(cfg *Config) error {
		return cfg.set("keep alive", C.quic_config_set_keep_alive(cfg.c, C.uint64_t(d)))
	}
}

// WithMaxData sets the connection-level flow-control limit given to the
// peer (bytes it may send on all streams together).
func WithMaxData(n uint64) Option {
	return func(cfg *Config) error {
		return cfg.set("max data", C.quic_config_set_max_data(cfg.c, C.uint64_t(n)))
	}
}

// WithMaxStreamData sets the per-stream flow-control limit given to the
// peer.
func WithMaxStreamData(n uint64) Option {
	return func(cfg *Config) error {
		return cfg.set("max stream data", C.quic_config_set_max_stream_data(cfg.c, C.uint64_t(n)))
	}
}

// WithMaxStreams sets how many bidirectional and unidirectional streams
// the peer may open.
func WithMaxStreams(bidi, uni uint64) Option {
	return func(cfg *Config) error {
		return cfg.set("max streams", C.quic_config_set_max_streams(cfg.c, C.uint64_t(bidi), C.uint64_t(uni)))
	}
}

// WithDatagrams accepts DATAGRAM frames (RFC 9221) of up to maxFrameSize
// bytes; 0 turns them off.
func WithDatagrams(maxFrameSize uint64) Option {
	return func(cfg *Config) error {
		return cfg.set("datagrams", C.quic_config_set_max_datagram_frame_size(cfg.c, C.uint64_t(maxFrameSize)))
	}
}

// WithQlogDir writes a qlog trace of every connection into dir
// (<odcid>_<client|server>.sqlog).
func WithQlogDir(dir string) Option {
	return func(cfg *Config) error {
		return cfg.set("qlog dir", withCString(dir, func(s *C.char) C.quic_result {
			return C.quic_config_set_qlog_dir(cfg.c, s)
		}))
	}
}

// WithSecretsLogFile appends the TLS secrets to a file in the NSS key log
// format, for Wireshark. Debugging only: it lets anyone with the file
// read the traffic.
func WithSecretsLogFile(path string) Option {
	return func(cfg *Config) error {
		return cfg.set("secrets log", withCString(path, func(s *C.char) C.quic_result {
			return C.quic_config_set_secrets_log_file(cfg.c, s)
		}))
	}
}
