//! libquic driven through its Rust API and through its C ABI, on the same
//! in-memory link: at most BATCH datagrams cross per turn.

use std::net::SocketAddr;
use std::sync::Arc;

use quic::config::Config;
use quic::conn::{Connection, Event};
use quic::crypto::Suite;
use quic::packet::header;
use quic::side::Side;
use quic::tls::TlsContext;

pub const MDS: usize = 1350;

/// The sender queues at most this much (the connection window: more could
/// not be in flight anyway), topping up in PIECE-sized writes, as an
/// application with backpressure does; quinn-proto's `write` does the same
/// by itself.
pub const QUEUE_CAP: u64 = 16 << 20;
pub const PIECE: usize = 1 << 20;

/// The pinned configuration: AES-128-GCM, X25519, 1350-byte datagrams,
/// 8 MB stream and 16 MB connection windows, the P-256 test certificate
/// verified by the client.
pub fn configs(certs: &str) -> (Config, Config) {
    let mut c = Config::new(Side::Client);
    let mut s = Config::new(Side::Server);
    for cfg in [&mut c, &mut s] {
        cfg.set_alpn_protocols(vec![b"bench".to_vec()]).unwrap();
        cfg.set_cipher_suites(vec![Suite::Aes128Gcm]).unwrap();
        cfg.groups = Some("X25519".into());
        cfg.set_max_datagram_size(MDS).unwrap();
        cfg.set_windows(16 << 20, 8 << 20).unwrap();
        cfg.max_stream_window = 8 << 20;
        cfg.max_connection_window = 16 << 20;
        cfg.max_streams_bidi = 1000;
    }
    c.set_server_name("localhost").unwrap();
    c.load_verify_locations(Some(&format!("{certs}/ca.pem")), None, None)
        .unwrap();
    s.load_cert_chain(
        &format!("{certs}/server.pem"),
        Some(&format!("{certs}/server.key")),
        None,
    )
    .unwrap();
    (c, s)
}

fn addrs() -> (SocketAddr, SocketAddr) {
    ("10.0.0.1:1".parse().unwrap(), "10.0.0.2:2".parse().unwrap())
}

/// A client/server pair through the Rust API.
pub struct Pair {
    client: Connection,
    server: Option<Connection>,
    sconf: Arc<Config>,
    stls: Arc<TlsContext>,
    now: u64,
    buf: Vec<u8>,
}

impl Pair {
    /// A pair sharing the configurations and TLS contexts, as an
    /// application's connections do.
    pub fn new(
        c: &Arc<Config>,
        s: &Arc<Config>,
        ctls: &Arc<TlsContext>,
        stls: &Arc<TlsContext>,
    ) -> Self {
        let mut client = Connection::new_client(c.clone(), ctls.clone()).unwrap();
        client.connect(addrs().1, 0).unwrap();
        Self {
            client,
            server: None,
            sconf: s.clone(),
            stls: stls.clone(),
            now: 0,
            buf: Vec::with_capacity(2048),
        }
    }

    /// One turn: each side sends at most `batch` datagrams, the other
    /// receives them; timers fire when nothing moved.
    fn turn(&mut self, batch: usize) -> bool {
        let (ca, sa) = addrs();
        let mut moved = false;
        for _ in 0..batch {
            if self.client.send(&mut self.buf, self.now).is_none() {
                break;
            }
            moved = true;
            let (sconf, stls) = (&self.sconf, &self.stls);
            let buf = &self.buf;
            let srv = self.server.get_or_insert_with(|| {
                let h = header::parse(buf, 8).unwrap();
                Connection::new_server(sconf.clone(), stls.clone(), h.dcid, None).unwrap()
            });
            srv.recv(&self.buf, ca, self.now);
        }
        if let Some(srv) = &mut self.server {
            for _ in 0..batch {
                if srv.send(&mut self.buf, self.now).is_none() {
                    break;
                }
                moved = true;
                self.client.recv(&self.buf, sa, self.now);
            }
        }
        if !moved {
            let next = [
                self.client.timer(),
                self.server.as_ref().and_then(|s| s.timer()),
            ]
            .into_iter()
            .flatten()
            .min();
            // No delay on the link: let time pass so RTT and pacing stay
            // finite.
            self.now = next.unwrap_or(self.now).max(self.now + 10_000);
            if self.client.timer().is_some_and(|t| t <= self.now) {
                self.client.handle_timer(self.now);
            }
            if let Some(srv) = &mut self.server {
                if srv.timer().is_some_and(|t| t <= self.now) {
                    srv.handle_timer(self.now);
                }
            }
        }
        moved
    }

    fn server_events(&mut self, mut f: impl FnMut(&mut Connection, Event)) {
        if let Some(srv) = &mut self.server {
            while let Some(e) = srv.poll_event() {
                f(srv, e);
            }
        }
    }

    /// Runs the handshake to completion on both sides.
    pub fn handshake(&mut self, batch: usize) {
        let (mut c, mut s) = (false, false);
        while !(c && s) {
            self.turn(batch);
            while let Some(e) = self.client.poll_event() {
                c |= matches!(e, Event::HandshakeCompleted { .. });
            }
            self.server_events(|_, e| s |= matches!(e, Event::HandshakeCompleted { .. }));
        }
        for st in [self.client.stats(), self.server.as_ref().unwrap().stats()] {
            assert_eq!(st.cipher_suite, 0x1301, "libquic: pinned suite");
            assert_eq!(st.key_exchange_group, 0x001d, "libquic: pinned group");
        }
    }
}

/// A bulk transfer on one stream through the Rust API, advanced in steps.
pub struct Bulk {
    pair: Pair,
    batch: usize,
    written: usize,
    got: usize,
    done: bool,
}

impl Bulk {
    /// A pair with its handshake done.
    pub fn start(
        c: &Arc<Config>,
        s: &Arc<Config>,
        ctls: &Arc<TlsContext>,
        stls: &Arc<TlsContext>,
        batch: usize,
    ) -> Self {
        let mut pair = Pair::new(c, s, ctls, stls);
        pair.handshake(batch);
        Self {
            pair,
            batch,
            written: 0,
            got: 0,
            done: false,
        }
    }
}

impl crate::BulkRun for Bulk {
    fn pump(&mut self, data: &[u8], target: usize) -> usize {
        let p = &mut self.pair;
        while !self.done && self.got < target {
            while self.written < data.len()
                && p.client.stream_send_buffered(0) + PIECE as u64 <= QUEUE_CAP
            {
                let end = (self.written + PIECE).min(data.len());
                let fin = end == data.len();
                p.client
                    .stream_send(0, &data[self.written..end], fin)
                    .unwrap();
                self.written = end;
            }
            p.turn(self.batch);
            while p.client.poll_event().is_some() {}
            let (got, done) = (&mut self.got, &mut self.done);
            p.server_events(|_, e| {
                if let Event::StreamDataReceived {
                    data, end_stream, ..
                } = e
                {
                    *got += data.len();
                    *done |= end_stream;
                }
            });
        }
        self.got
    }
}

impl Pair {
    /// `n` request/response streams of `size` bytes each way (at most the
    /// server's stream limit open at once); returns the streams completed.
    pub fn streams(&mut self, n: u64, size: usize, batch: usize) -> u64 {
        let body = vec![7u8; size];
        let (mut next, mut finished) = (0u64, 0u64);
        while finished < n {
            while next < n && self.client.stream_send(next * 4, &body, true).is_ok() {
                next += 1;
            }
            self.turn(batch);
            while let Some(e) = self.client.poll_event() {
                if let Event::StreamDataReceived {
                    end_stream: true, ..
                } = e
                {
                    finished += 1;
                }
            }
            self.server_events(|srv, e| {
                if let Event::StreamDataReceived {
                    stream_id,
                    end_stream: true,
                    ..
                } = e
                {
                    srv.stream_send(stream_id, &body, true).unwrap();
                }
            });
        }
        finished
    }
}

/// The same bulk transfer through the exported C functions.
pub mod cabi {
    use std::ffi::CString;
    use std::ptr::{null, null_mut};

    use quic::ffi::*;

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

    /// A bulk transfer on one stream through the C ABI, advanced in steps.
    pub struct Bulk {
        cc: *mut quic_config,
        sc: *mut quic_config,
        client: *mut quic_conn,
        server: *mut quic_conn,
        caddr: (libc::sockaddr_storage, libc::socklen_t),
        saddr: (libc::sockaddr_storage, libc::socklen_t),
        buf: Vec<u8>,
        now: u64,
        batch: usize,
        established: bool,
        written: usize,
        got: usize,
        done: bool,
    }

    impl Bulk {
        /// Configurations, a client, and the handshake through the C ABI.
        pub fn start(certs: &str, batch: usize) -> Self {
            // SAFETY (whole function): every pointer passed is valid for the
            // call; handles come from the library and are freed in Drop.
            unsafe {
                let alpn = CString::new("bench").unwrap();
                let protos = [alpn.as_ptr()];
                let suite = 0x1301u16;
                let groups = CString::new("X25519").unwrap();
                let file = |n: &str| CString::new(format!("{certs}/{n}")).unwrap();
                let (ca, cert, key) = (file("ca.pem"), file("server.pem"), file("server.key"));
                let name = CString::new("localhost").unwrap();
                let mut cc = null_mut();
                let mut sc = null_mut();
                for (cfg, client) in [(&mut cc, true), (&mut sc, false)] {
                    ok(quic_config_new(client, cfg));
                    ok(quic_config_set_alpn_protocols(*cfg, protos.as_ptr(), 1));
                    ok(quic_config_set_cipher_suites(*cfg, &suite, 1));
                    ok(quic_config_set_groups(*cfg, groups.as_ptr()));
                    ok(quic_config_set_max_datagram_size(*cfg, super::MDS));
                    ok(quic_config_set_max_data(*cfg, 16 << 20));
                    ok(quic_config_set_max_stream_data(*cfg, 8 << 20));
                    ok(quic_config_set_max_windows(*cfg, 8 << 20, 16 << 20));
                }
                ok(quic_config_set_server_name(cc, name.as_ptr()));
                ok(quic_config_load_verify_locations(
                    cc,
                    ca.as_ptr(),
                    null(),
                    null(),
                    0,
                ));
                ok(quic_config_load_cert_chain(
                    sc,
                    cert.as_ptr(),
                    key.as_ptr(),
                    null(),
                ));
                let mut client = null_mut();
                ok(quic_conn_new_client(cc, &mut client));
                let mut b = Bulk {
                    cc,
                    sc,
                    client,
                    server: null_mut(),
                    caddr: sockaddr("10.0.0.1:1"),
                    saddr: sockaddr("10.0.0.2:2"),
                    buf: vec![0u8; 2048],
                    now: 0,
                    batch,
                    established: false,
                    written: 0,
                    got: 0,
                    done: false,
                };
                ok(quic_conn_connect(
                    client,
                    (&b.saddr.0 as *const libc::sockaddr_storage).cast(),
                    b.saddr.1,
                    0,
                ));
                while !b.established {
                    b.turn();
                    b.events();
                }
                b
            }
        }

        /// One turn of the link: BATCH datagrams each way, or the clock.
        fn turn(&mut self) {
            let mut to: libc::sockaddr_storage =
                // SAFETY: all-zero is a valid sockaddr_storage.
                unsafe { std::mem::zeroed() };
            let (mut tolen, mut len) = (0, 0usize);
            let mut moved = false;
            // SAFETY: the handles are live; buffers and addresses are valid
            // for each call.
            unsafe {
                for _ in 0..self.batch {
                    if quic_conn_send(
                        self.client,
                        self.buf.as_mut_ptr(),
                        self.buf.len(),
                        &mut len,
                        &mut to,
                        &mut tolen,
                        self.now,
                    ) != QUIC_RESULT_OK
                    {
                        break;
                    }
                    moved = true;
                    if self.server.is_null() {
                        let mut h = std::mem::MaybeUninit::<quic_header_info>::uninit();
                        ok(quic_header_parse(self.buf.as_ptr(), len, 8, h.as_mut_ptr()));
                        let h = h.assume_init();
                        ok(quic_conn_new_server(
                            self.sc,
                            h.dcid,
                            h.dcid_len,
                            null(),
                            0,
                            &mut self.server,
                        ));
                    }
                    ok(quic_conn_recv(
                        self.server,
                        self.buf.as_ptr(),
                        len,
                        (&self.caddr.0 as *const libc::sockaddr_storage).cast(),
                        self.caddr.1,
                        self.now,
                    ));
                }
                for _ in 0..self.batch {
                    if self.server.is_null()
                        || quic_conn_send(
                            self.server,
                            self.buf.as_mut_ptr(),
                            self.buf.len(),
                            &mut len,
                            &mut to,
                            &mut tolen,
                            self.now,
                        ) != QUIC_RESULT_OK
                    {
                        break;
                    }
                    moved = true;
                    ok(quic_conn_recv(
                        self.client,
                        self.buf.as_ptr(),
                        len,
                        (&self.saddr.0 as *const libc::sockaddr_storage).cast(),
                        self.saddr.1,
                        self.now,
                    ));
                }
                if !moved {
                    let server_timer = if self.server.is_null() {
                        u64::MAX
                    } else {
                        quic_conn_timer(self.server)
                    };
                    let next = quic_conn_timer(self.client).min(server_timer);
                    // No delay on the link: let time pass so RTT and pacing
                    // stay finite.
                    self.now = if next == u64::MAX {
                        self.now + 10_000
                    } else {
                        next.max(self.now + 10_000)
                    };
                    if quic_conn_timer(self.client) <= self.now {
                        quic_conn_handle_timer(self.client, self.now);
                    }
                    if !self.server.is_null() && quic_conn_timer(self.server) <= self.now {
                        quic_conn_handle_timer(self.server, self.now);
                    }
                }
            }
        }

        /// Polls both sides' events: the client's completion (with the
        /// pinned suite and group checked), the server's stream data.
        fn events(&mut self) {
            let mut ev = std::mem::MaybeUninit::<quic_event>::uninit();
            // SAFETY: live handles; an event is read only after OK.
            unsafe {
                while quic_conn_poll_event(self.client, ev.as_mut_ptr()) == QUIC_RESULT_OK {
                    if ev.assume_init_ref().kind == quic_event_type::HandshakeCompleted {
                        let mut st = std::mem::MaybeUninit::<quic_stats>::uninit();
                        ok(quic_conn_stats(self.client, st.as_mut_ptr()));
                        let st = st.assume_init();
                        assert_eq!(st.cipher_suite, 0x1301, "libquic C ABI: pinned suite");
                        assert_eq!(st.key_exchange_group, 0x001d, "libquic C ABI: pinned group");
                        self.established = true;
                    }
                }
                while !self.server.is_null()
                    && quic_conn_poll_event(self.server, ev.as_mut_ptr()) == QUIC_RESULT_OK
                {
                    let e = ev.assume_init_ref();
                    if e.kind == quic_event_type::StreamDataReceived {
                        self.got += e.data_len;
                        self.done |= e.end_stream;
                    }
                }
            }
        }
    }

    impl crate::BulkRun for Bulk {
        fn pump(&mut self, data: &[u8], target: usize) -> usize {
            while !self.done && self.got < target {
                let mut queued = 0u64;
                // SAFETY: live client; `data` outlives the call.
                unsafe {
                    while self.written < data.len()
                        && quic_conn_stream_send_buffered(self.client, 0, &mut queued)
                            == QUIC_RESULT_OK
                        && queued + super::PIECE as u64 <= super::QUEUE_CAP
                    {
                        let end = (self.written + super::PIECE).min(data.len());
                        let piece = &data[self.written..end];
                        ok(quic_conn_stream_send(
                            self.client,
                            0,
                            piece.as_ptr(),
                            piece.len(),
                            end == data.len(),
                        ));
                        self.written = end;
                    }
                }
                self.turn();
                self.events();
            }
            self.got
        }
    }

    impl Drop for Bulk {
        fn drop(&mut self) {
            // SAFETY: each handle came from the library and is freed once
            // (quic_*_free accept NULL).
            unsafe {
                quic_conn_free(self.client);
                quic_conn_free(self.server);
                quic_config_free(self.cc);
                quic_config_free(self.sc);
            }
        }
    }
}
