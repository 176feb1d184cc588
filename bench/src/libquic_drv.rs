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

    /// Sends `data` on one stream; returns the bytes the server got.
    pub fn bulk(&mut self, data: &[u8], batch: usize) -> usize {
        let (mut written, mut got, mut done) = (0, 0, false);
        while !done {
            while written < data.len()
                && self.client.stream_send_buffered(0) + PIECE as u64 <= QUEUE_CAP
            {
                let end = (written + PIECE).min(data.len());
                let fin = end == data.len();
                self.client
                    .stream_send(0, &data[written..end], fin)
                    .unwrap();
                written = end;
            }
            self.turn(batch);
            while self.client.poll_event().is_some() {}
            self.server_events(|_, e| {
                if let Event::StreamDataReceived {
                    data, end_stream, ..
                } = e
                {
                    got += data.len();
                    done |= end_stream;
                }
            });
        }
        got
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

    /// A handshake and `data` on one stream through the C ABI; returns the
    /// bytes the server got.
    pub fn bulk(certs: &str, data: &[u8], batch: usize) -> usize {
        // SAFETY (whole function): every pointer passed is valid for the
        // call, handles come from the library and are freed once.
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
            let (caddr, clen) = sockaddr("10.0.0.1:1");
            let (saddr, slen) = sockaddr("10.0.0.2:2");
            let mut client = null_mut();
            ok(quic_conn_new_client(cc, &mut client));
            ok(quic_conn_connect(
                client,
                (&saddr as *const libc::sockaddr_storage).cast(),
                slen,
                0,
            ));
            let mut server: *mut quic_conn = null_mut();
            let mut buf = vec![0u8; 2048];
            let mut to: libc::sockaddr_storage = std::mem::zeroed();
            let mut tolen = 0;
            let mut len = 0usize;
            let mut ev_slot = std::mem::MaybeUninit::<quic_event>::uninit();
            let (mut now, mut got, mut done) = (0u64, 0usize, false);
            let (mut established, mut written) = (false, 0usize);
            while !done {
                let mut queued = 0u64;
                while established
                    && written < data.len()
                    && quic_conn_stream_send_buffered(client, 0, &mut queued) == QUIC_RESULT_OK
                    && queued + super::PIECE as u64 <= super::QUEUE_CAP
                {
                    let end = (written + super::PIECE).min(data.len());
                    let piece = &data[written..end];
                    ok(quic_conn_stream_send(
                        client,
                        0,
                        piece.as_ptr(),
                        piece.len(),
                        end == data.len(),
                    ));
                    written = end;
                }
                let mut moved = false;
                for _ in 0..batch {
                    if quic_conn_send(
                        client,
                        buf.as_mut_ptr(),
                        buf.len(),
                        &mut len,
                        &mut to,
                        &mut tolen,
                        now,
                    ) != QUIC_RESULT_OK
                    {
                        break;
                    }
                    moved = true;
                    if server.is_null() {
                        let mut h_slot = std::mem::MaybeUninit::<quic_header_info>::uninit();
                        ok(quic_header_parse(buf.as_ptr(), len, 8, h_slot.as_mut_ptr()));
                        let h = h_slot.assume_init();
                        ok(quic_conn_new_server(
                            sc,
                            h.dcid,
                            h.dcid_len,
                            null(),
                            0,
                            &mut server,
                        ));
                    }
                    ok(quic_conn_recv(
                        server,
                        buf.as_ptr(),
                        len,
                        (&caddr as *const libc::sockaddr_storage).cast(),
                        clen,
                        now,
                    ));
                }
                if !server.is_null() {
                    for _ in 0..batch {
                        if quic_conn_send(
                            server,
                            buf.as_mut_ptr(),
                            buf.len(),
                            &mut len,
                            &mut to,
                            &mut tolen,
                            now,
                        ) != QUIC_RESULT_OK
                        {
                            break;
                        }
                        moved = true;
                        ok(quic_conn_recv(
                            client,
                            buf.as_ptr(),
                            len,
                            (&saddr as *const libc::sockaddr_storage).cast(),
                            slen,
                            now,
                        ));
                    }
                }
                while quic_conn_poll_event(client, ev_slot.as_mut_ptr()) == QUIC_RESULT_OK {
                    let ev = ev_slot.assume_init_ref();
                    if ev.kind == quic_event_type::HandshakeCompleted {
                        let mut st = std::mem::MaybeUninit::<quic_stats>::uninit();
                        ok(quic_conn_stats(client, st.as_mut_ptr()));
                        let st = st.assume_init();
                        assert_eq!(st.cipher_suite, 0x1301, "libquic C ABI: pinned suite");
                        assert_eq!(st.key_exchange_group, 0x001d, "libquic C ABI: pinned group");
                        established = true;
                    }
                }
                while !server.is_null()
                    && quic_conn_poll_event(server, ev_slot.as_mut_ptr()) == QUIC_RESULT_OK
                {
                    let ev = ev_slot.assume_init_ref();
                    if ev.kind == quic_event_type::StreamDataReceived {
                        got += ev.data_len;
                        done |= ev.end_stream;
                    }
                }
                if !moved {
                    let next = quic_conn_timer(client).min(if server.is_null() {
                        u64::MAX
                    } else {
                        quic_conn_timer(server)
                    });
                    now = if next == u64::MAX {
                        now + 10_000
                    } else {
                        next.max(now + 10_000)
                    };
                    if quic_conn_timer(client) <= now {
                        quic_conn_handle_timer(client, now);
                    }
                    if !server.is_null() && quic_conn_timer(server) <= now {
                        quic_conn_handle_timer(server, now);
                    }
                }
            }
            quic_conn_free(client);
            quic_conn_free(server);
            quic_config_free(cc);
            quic_config_free(sc);
            got
        }
    }
}
