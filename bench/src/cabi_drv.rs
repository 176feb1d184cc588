//! libquic through its exported C functions, on the same in-memory link as
//! the Rust driver: what the C boundary costs.

use std::ffi::CString;
use std::ptr::{null, null_mut};

use quic::ffi::*;

use crate::libquic_drv::{MDS, PIECE, QUEUE_CAP};

fn ok(rc: quic_result) {
    assert!(
        rc == QUIC_RESULT_OK || rc == QUIC_RESULT_DONE,
        "libquic: {rc}"
    );
}

fn sockaddr(text: &str) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = 0;
    let t = CString::new(text).unwrap();
    // SAFETY: valid string and out-pointers.
    ok(unsafe { quic_sockaddr_parse(t.as_ptr(), &mut ss, &mut len) });
    (ss, len)
}

/// An output struct under quic.h's growth rule, with only `struct_size`
/// set (to the whole struct): the library fills the rest.
fn sized<T>() -> std::mem::MaybeUninit<T> {
    let mut v = std::mem::MaybeUninit::<T>::uninit();
    // SAFETY: every such struct starts with a size_t `struct_size`, and T
    // is at least that large.
    unsafe {
        v.as_mut_ptr()
            .cast::<usize>()
            .write(std::mem::size_of::<T>())
    };
    v
}

/// The pinned client and server configurations (as the Rust driver's),
/// and the two addresses.
pub struct Configs {
    client: *mut quic_config,
    server: *mut quic_config,
    caddr: (libc::sockaddr_storage, libc::socklen_t),
    saddr: (libc::sockaddr_storage, libc::socklen_t),
}

impl Configs {
    pub fn new(certs: &str) -> Self {
        // SAFETY (whole function): every pointer passed is valid for the
        // call; the handles are freed in Drop.
        unsafe {
            let alpn = CString::new("bench").unwrap();
            let protos = [alpn.as_ptr()];
            let suite = 0x1301u16;
            let groups = CString::new("X25519").unwrap();
            let file = |n: &str| CString::new(format!("{certs}/{n}")).unwrap();
            let (ca, cert, key) = (file("ca.pem"), file("server.pem"), file("server.key"));
            let name = CString::new("localhost").unwrap();
            let mut c = Configs {
                client: null_mut(),
                server: null_mut(),
                caddr: sockaddr("10.0.0.1:1"),
                saddr: sockaddr("10.0.0.2:2"),
            };
            for (cfg, client) in [(&mut c.client, true), (&mut c.server, false)] {
                ok(quic_config_new(client, cfg));
                ok(quic_config_set_alpn_protocols(*cfg, protos.as_ptr(), 1));
                ok(quic_config_set_cipher_suites(*cfg, &suite, 1));
                ok(quic_config_set_groups(*cfg, groups.as_ptr()));
                ok(quic_config_set_max_datagram_size(*cfg, MDS));
                ok(quic_config_set_max_pmtu(*cfg, MDS));
                ok(quic_config_set_max_data(*cfg, 16 << 20));
                ok(quic_config_set_max_stream_data(*cfg, 8 << 20));
                ok(quic_config_set_max_windows(*cfg, 8 << 20, 16 << 20));
                ok(quic_config_set_max_streams(*cfg, 1000, 1000));
            }
            ok(quic_config_set_server_name(c.client, name.as_ptr()));
            ok(quic_config_load_verify_locations(
                c.client,
                ca.as_ptr(),
                null(),
                null(),
                0,
            ));
            ok(quic_config_load_cert_chain(
                c.server,
                cert.as_ptr(),
                key.as_ptr(),
                null(),
            ));
            c
        }
    }
}

impl Drop for Configs {
    fn drop(&mut self) {
        // SAFETY: each handle came from quic_config_new and is freed once.
        unsafe {
            quic_config_free(self.client);
            quic_config_free(self.server);
        }
    }
}

/// A client and a server connection through the C ABI.
pub struct Pair<'a> {
    cfg: &'a Configs,
    client: *mut quic_conn,
    server: *mut quic_conn,
    link: crate::util::Link,
    now: u64,
    batch: usize,
}

impl<'a> Pair<'a> {
    /// A connecting client (the server appears with its first datagram).
    pub fn new(cfg: &'a Configs, batch: usize) -> Self {
        let mut client = null_mut();
        // SAFETY: a live configuration and a writable out-pointer.
        ok(unsafe { quic_conn_new(cfg.client, null(), &mut client) });
        let p = Pair {
            cfg,
            client,
            server: null_mut(),
            link: crate::util::Link::default(),
            now: 0,
            batch,
        };
        // SAFETY: live client; the address is valid for the call.
        ok(unsafe {
            quic_conn_connect(
                client,
                (&cfg.saddr.0 as *const libc::sockaddr_storage).cast(),
                cfg.saddr.1,
                0,
            )
        });
        p
    }

    /// Queues every datagram the client (`true`) or the server has.
    fn queue_all(&mut self, from_client: bool) {
        let src = if from_client {
            self.client
        } else {
            self.server
        };
        if src.is_null() {
            return;
        }
        let mut to_addr: libc::sockaddr_storage =
            // SAFETY: all-zero is a valid sockaddr_storage.
            unsafe { std::mem::zeroed() };
        let (mut to_len, mut len) = (0, 0usize);
        loop {
            let mut b = self.link.buffer();
            b.resize(2048, 0);
            // SAFETY: a live handle; the buffer and address are valid for
            // the call.
            let rc = unsafe {
                quic_conn_send(
                    src,
                    b.as_mut_ptr(),
                    b.len(),
                    &mut len,
                    &mut to_addr,
                    &mut to_len,
                    self.now,
                )
            };
            if rc != QUIC_RESULT_OK {
                self.link.recycle(b);
                return;
            }
            b.truncate(len);
            self.link.push(usize::from(!from_client), b);
        }
    }

    /// Delivers up to BATCH queued datagrams towards the server (`true`)
    /// or the client, creating the server on the first; true when any
    /// moved.
    fn deliver(&mut self, to_server: bool) -> bool {
        let mut moved = false;
        for _ in 0..self.batch {
            let Some(d) = self.link.pop(usize::from(!to_server)) else {
                break;
            };
            let peer = if to_server {
                &self.cfg.caddr
            } else {
                &self.cfg.saddr
            };
            // SAFETY: live handles; the datagram and address are valid for
            // each call; a header is read only after OK.
            unsafe {
                if to_server && self.server.is_null() {
                    let mut h = sized::<quic_header_info>();
                    ok(quic_header_parse(d.as_ptr(), d.len(), 8, h.as_mut_ptr()));
                    let h = h.assume_init();
                    let params = quic_conn_params {
                        struct_size: std::mem::size_of::<quic_conn_params>(),
                        original_dcid: h.dcid,
                        original_dcid_len: h.dcid_len,
                        retry_scid: null(),
                        retry_scid_len: 0,
                        session_ticket: null(),
                        session_ticket_len: 0,
                        address_token: null(),
                        address_token_len: 0,
                        address_validated: false,
                    };
                    ok(quic_conn_new(self.cfg.server, &params, &mut self.server));
                }
                let dst = if to_server { self.server } else { self.client };
                ok(quic_conn_recv(
                    dst,
                    d.as_ptr(),
                    d.len(),
                    (&peer.0 as *const libc::sockaddr_storage).cast(),
                    peer.1,
                    self.now,
                ));
            }
            self.link.recycle(d);
            moved = true;
        }
        moved
    }

    /// One turn of the link: BATCH datagrams each way, or else the clock
    /// moves to the next timer.
    fn turn(&mut self) {
        self.queue_all(true);
        self.queue_all(false);
        let moved = self.deliver(true) | self.deliver(false);
        if moved {
            return;
        }
        // SAFETY: live handles (the server may be NULL, checked).
        unsafe {
            let server_timer = if self.server.is_null() {
                u64::MAX
            } else {
                quic_conn_timer(self.server)
            };
            let next = quic_conn_timer(self.client).min(server_timer);
            // No delay on the link: let time pass so RTT and pacing stay
            // finite.
            self.now = if next == u64::MAX {
                self.now + 10_000
            } else {
                next.max(self.now + 10_000)
            };
            for c in [self.client, self.server] {
                if !c.is_null() && quic_conn_timer(c) <= self.now {
                    quic_conn_handle_timer(c, self.now);
                }
            }
        }
    }

    /// Exchanges datagrams until neither side has anything to send (acks,
    /// HANDSHAKE_DONE), without moving the clock, then lets the link's
    /// spare buffers go: what is left is the connections' own state.
    pub fn settle(&mut self) {
        loop {
            self.queue_all(true);
            self.queue_all(false);
            let mut moved = false;
            while self.deliver(true) | self.deliver(false) {
                moved = true;
            }
            if !moved {
                break;
            }
        }
        self.link = crate::util::Link::default();
    }

    /// Hands every pending event of the client (`true`) or server to `f`.
    fn events(&mut self, client: bool, mut f: impl FnMut(*mut quic_conn, &quic_event)) {
        let conn = if client { self.client } else { self.server };
        if conn.is_null() {
            return;
        }
        let mut ev = sized::<quic_event>();
        // SAFETY: a live handle; the event is read only after OK and used
        // before the next poll.
        unsafe {
            while quic_conn_poll_event(conn, ev.as_mut_ptr()) == QUIC_RESULT_OK {
                f(conn, ev.assume_init_ref());
            }
        }
    }

    /// Runs the handshake until both sides completed; checks the pinned
    /// suite and group.
    pub fn handshake(&mut self) {
        let (mut c, mut s) = (false, false);
        let done = |e: &quic_event| e.kind == quic_event_type::HandshakeCompleted;
        while !(c && s) {
            self.turn();
            self.events(true, |_, e| c |= done(e));
            self.events(false, |_, e| s |= done(e));
        }
        for conn in [self.client, self.server] {
            let mut st = sized::<quic_stats>();
            // SAFETY: a live handle and a writable out-pointer.
            let st = unsafe {
                ok(quic_conn_stats(conn, st.as_mut_ptr()));
                st.assume_init()
            };
            assert_eq!(st.cipher_suite, 0x1301, "libquic C ABI: pinned suite");
            assert_eq!(st.key_exchange_group, 0x001d, "libquic C ABI: pinned group");
        }
    }

    /// `n` request/response streams of `size` bytes each way (at most the
    /// server's stream limit open at once); returns the streams completed.
    pub fn streams(&mut self, n: u64, size: usize) -> u64 {
        let body = vec![7u8; size];
        let (mut next, mut finished) = (0u64, 0u64);
        while finished < n {
            // SAFETY: a live client; `body` outlives the call.
            while next < n
                && unsafe {
                    quic_conn_stream_send(self.client, next * 4, body.as_ptr(), size, true)
                } == QUIC_RESULT_OK
            {
                next += 1;
            }
            self.turn();
            self.events(true, |_, e| {
                if e.kind == quic_event_type::StreamDataReceived && e.end_stream {
                    finished += 1;
                }
            });
            self.events(false, |conn, e| {
                if e.kind == quic_event_type::StreamDataReceived && e.end_stream {
                    // SAFETY: the server handle is live; `body` outlives it.
                    ok(unsafe {
                        quic_conn_stream_send(conn, e.stream_id, body.as_ptr(), size, true)
                    });
                }
            });
        }
        finished
    }
}

impl Drop for Pair<'_> {
    fn drop(&mut self) {
        // SAFETY: each handle came from the library and is freed once
        // (quic_conn_free accepts NULL).
        unsafe {
            quic_conn_free(self.client);
            quic_conn_free(self.server);
        }
    }
}

/// A bulk transfer on one stream through the C ABI, advanced in steps.
pub struct Bulk<'a> {
    pair: Pair<'a>,
    /// Pieces go through `quic_conn_stream_send_owned` (no copy; each
    /// holds a `Bytes` of the data until libquic releases it) instead of
    /// `quic_conn_stream_send`.
    owned: bool,
    written: usize,
    got: usize,
    done: bool,
}

impl<'a> Bulk<'a> {
    /// A pair with its handshake done.
    pub fn start(cfg: &'a Configs, batch: usize) -> Self {
        let mut pair = Pair::new(cfg, batch);
        pair.handshake();
        Self {
            pair,
            owned: false,
            written: 0,
            got: 0,
            done: false,
        }
    }

    /// Like [`Bulk::start`], handing the pieces over without a copy.
    pub fn start_owned(cfg: &'a Configs, batch: usize) -> Self {
        Self {
            owned: true,
            ..Self::start(cfg, batch)
        }
    }
}

/// Drops the `Bytes` a piece handed to `quic_conn_stream_send_owned` held.
unsafe extern "C" fn release_piece(ctx: *mut std::ffi::c_void, _data: *const u8, _len: usize) {
    // SAFETY: `ctx` is the Box made for this piece in `pump`, released once.
    drop(unsafe { Box::from_raw(ctx.cast::<bytes::Bytes>()) });
}

impl crate::BulkRun for Bulk<'_> {
    fn pump(&mut self, data: &bytes::Bytes, target: usize) -> usize {
        let client = self.pair.client;
        while !self.done && self.got < target {
            let mut queued = 0u64;
            // SAFETY: a live client; `data` outlives the calls.
            unsafe {
                while self.written < data.len()
                    && quic_conn_stream_send_buffered(client, 0, &mut queued) == QUIC_RESULT_OK
                    && queued + PIECE as u64 <= QUEUE_CAP
                {
                    let end = (self.written + PIECE).min(data.len());
                    let piece = data.slice(self.written..end);
                    let fin = end == data.len();
                    if self.owned {
                        let (ptr, len) = (piece.as_ptr(), piece.len());
                        let holder = Box::into_raw(Box::new(piece));
                        ok(quic_conn_stream_send_owned(
                            client,
                            0,
                            ptr,
                            len,
                            fin,
                            Some(release_piece),
                            holder.cast(),
                        ));
                    } else {
                        ok(quic_conn_stream_send(
                            client,
                            0,
                            piece.as_ptr(),
                            piece.len(),
                            fin,
                        ));
                    }
                    self.written = end;
                }
            }
            self.pair.turn();
            self.pair.events(true, |_, _| {});
            let (got, done) = (&mut self.got, &mut self.done);
            self.pair.events(false, |_, e| {
                if e.kind == quic_event_type::StreamDataReceived {
                    *got += e.data_len;
                    *done |= e.end_stream;
                }
            });
        }
        self.got
    }
}
