//! The ceilings: what OpenSSL alone costs for the same work.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use openssl::cipher::Cipher;
use openssl::cipher_ctx::CipherCtx;
use openssl::ssl::{
    HandshakeError, SslAcceptor, SslConnector, SslFiletype, SslMethod, SslSession,
    SslSessionCacheMode, SslVersion,
};

/// Payload bytes of each 1350-byte packet the packet-layer rows protect:
/// an 11-byte short header and the 16-byte tag come off.
pub const PAYLOAD: usize = 1350 - 11 - 16;

/// AES-128-GCM seal + open + 2 header-protection blocks for `packets`
/// packets of 1350 bytes, as a QUIC stack calls EVP at the least: one
/// context per key and direction, and per packet only the nonce, the AAD,
/// the payload in place, the final step and the tag; returns bytes.
pub fn aead(packets: usize) -> usize {
    AeadLoop::new().run(packets, None)
}

/// The work of [`aead`] with each packet's payload sealed from `src` in
/// order, starting at `*pos` (wrapping at its end), into the packet, as a
/// sender seals stream data from the application's bytes; the open stays
/// in place, in the packet just sealed, as a receiver opens a datagram it
/// just received. With a source much larger than the caches, the
/// difference to [`aead`] is what reading the payload from memory costs.
pub fn aead_from(packets: usize, src: &[u8], pos: &mut usize) -> usize {
    AeadLoop::new().run(packets, Some((src, pos)))
}

/// The work of [`aead_from`] with each payload also opened out of place,
/// into the next place of `ring` (wrapping at its end), as a receiver's
/// in-order stream buffer keeps the bytes it opened. With a ring of the
/// size a stack keeps (64 KiB), the difference to [`aead`] is what moving
/// the bytes costs: reading the sender's data, writing the receiver's
/// buffer. A diagnostic, not the ceiling the rows are set against.
pub fn aead_moving(
    packets: usize,
    src: &[u8],
    pos: &mut usize,
    ring: &mut [u8],
    ring_at: &mut usize,
) -> usize {
    AeadLoop::new().run_into(packets, Some((src, pos)), Some((ring, ring_at)))
}

/// The ceiling as a bulk row: [`aead`]'s packets until the payload they
/// carried reaches the target, so that it takes turns with the stacks'
/// transfers (every twentieth of the data) and a slow spell of the shared
/// machine hits it as it hits them.
pub struct AeadBulk {
    aead: AeadLoop,
    got: usize,
}

impl AeadBulk {
    pub fn start() -> Self {
        Self {
            aead: AeadLoop::new(),
            got: 0,
        }
    }
}

impl crate::BulkRun for AeadBulk {
    fn pump(&mut self, data: &bytes::Bytes, target: usize) -> usize {
        let target = target.min(data.len());
        if self.got < target {
            let packets = (target - self.got).div_ceil(PAYLOAD);
            let bytes = self.aead.run(packets, None);
            assert_eq!(bytes, packets * PAYLOAD, "every packet opened");
            self.got = (self.got + bytes).min(data.len());
        }
        self.got
    }
}

/// The contexts and the packet of the AEAD ceiling.
struct AeadLoop {
    seal: CipherCtx,
    open: CipherCtx,
    hp: CipherCtx,
    pkt: Vec<u8>,
    pn: u64,
}

impl AeadLoop {
    fn new() -> Self {
        let key = [1u8; 16];
        let gcm = Cipher::fetch(None, "AES-128-GCM", None).unwrap();
        let ecb = Cipher::fetch(None, "AES-128-ECB", None).unwrap();
        let mut seal = CipherCtx::new().unwrap();
        seal.encrypt_init(Some(&gcm), Some(&key), None).unwrap();
        let mut open = CipherCtx::new().unwrap();
        open.decrypt_init(Some(&gcm), Some(&key), None).unwrap();
        let mut hp = CipherCtx::new().unwrap();
        hp.encrypt_init(Some(&ecb), Some(&key), None).unwrap();
        hp.set_padding(false);
        Self {
            seal,
            open,
            hp,
            pkt: vec![0xa5u8; 1350],
            pn: 0,
        }
    }

    /// Seals, masks, opens and masks `packets` packets, the payload sealed
    /// from the packet itself or from `src` (see [`aead_from`]); returns the
    /// payload bytes.
    fn run(&mut self, packets: usize, src: Option<(&[u8], &mut usize)>) -> usize {
        self.run_into(packets, src, None)
    }

    /// [`AeadLoop::run`], each payload opened into the next place of the
    /// ring in `sink` (see [`aead_moving`]) instead of in place.
    fn run_into(
        &mut self,
        packets: usize,
        mut src: Option<(&[u8], &mut usize)>,
        mut sink: Option<(&mut [u8], &mut usize)>,
    ) -> usize {
        use foreign_types::ForeignType;
        use openssl_sys as ffi;
        use std::ptr::{null, null_mut};
        let (seal, open, hp) = (self.seal.as_ptr(), self.open.as_ptr(), self.hp.as_ptr());
        let mut mask = [0u8; 32];
        let mut bytes = 0;
        for _ in 0..packets {
            let pn = self.pn;
            self.pn += 1;
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&pn.to_be_bytes());
            let (hdr, rest) = self.pkt.split_at_mut(11);
            let (payload, tag) = rest.split_at_mut(1350 - 11 - 16);
            let n = payload.len() as i32;
            let input = match &mut src {
                None => payload.as_ptr(),
                Some((src, pos)) => {
                    let place = next_place(pos, payload.len(), src.len());
                    src[place..place + payload.len()].as_ptr()
                }
            };
            let opened = match &mut sink {
                None => payload.as_mut_ptr(),
                Some((ring, at)) => {
                    let place = next_place(at, payload.len(), ring.len());
                    ring[place..place + payload.len()].as_mut_ptr()
                }
            };
            let (mut outl, mut last) = (0, [0u8; 16]);
            // SAFETY: live contexts keyed above; every pointer is valid for the
            // length passed (`input`: `n` bytes of the packet or of `src`;
            // `opened`: `n` bytes of the packet or of the ring); in-place
            // update is allowed by EVP.
            let ok = unsafe {
                ffi::EVP_EncryptInit_ex(seal, null(), null_mut(), null(), nonce.as_ptr()) == 1
                    && ffi::EVP_EncryptUpdate(seal, null_mut(), &mut outl, hdr.as_ptr(), 11) == 1
                    && ffi::EVP_EncryptUpdate(seal, payload.as_mut_ptr(), &mut outl, input, n) == 1
                    && ffi::EVP_EncryptFinal_ex(seal, last.as_mut_ptr(), &mut outl) == 1
                    && ffi::EVP_CIPHER_CTX_ctrl(
                        seal,
                        ffi::EVP_CTRL_GCM_GET_TAG,
                        16,
                        tag.as_mut_ptr().cast(),
                    ) == 1
                    && hp_mask(hp, &mut mask, payload.as_ptr())
                    && ffi::EVP_DecryptInit_ex(open, null(), null_mut(), null(), nonce.as_ptr())
                        == 1
                    && ffi::EVP_CIPHER_CTX_ctrl(
                        open,
                        ffi::EVP_CTRL_GCM_SET_TAG,
                        16,
                        tag.as_mut_ptr().cast(),
                    ) == 1
                    && ffi::EVP_DecryptUpdate(open, null_mut(), &mut outl, hdr.as_ptr(), 11) == 1
                    && ffi::EVP_DecryptUpdate(open, opened, &mut outl, payload.as_ptr(), n) == 1
                    && ffi::EVP_DecryptFinal_ex(open, last.as_mut_ptr(), &mut outl) == 1
                    && hp_mask(hp, &mut mask, payload.as_ptr())
            };
            assert!(ok, "the ceiling's AEAD failed");
            bytes += n as usize;
        }
        bytes
    }
}

/// Where the next `len` bytes go in a buffer of `size` read or written in
/// order from `*at`, starting over at its beginning when they would not
/// fit; moves `*at` past them. Callers slice `len` bytes at the place, so
/// a `len` above `size` panics there rather than reaching the cipher.
fn next_place(at: &mut usize, len: usize, size: usize) -> usize {
    if *at + len > size {
        *at = 0;
    }
    let place = *at;
    *at += len;
    place
}

/// One header-protection mask from the 16-byte sample at `sample`.
///
/// # Safety
/// `hp` is a live AES-128-ECB encryption context; `sample` points at 16
/// readable bytes.
unsafe fn hp_mask(
    hp: *mut openssl_sys::EVP_CIPHER_CTX,
    mask: &mut [u8; 32],
    sample: *const u8,
) -> bool {
    let mut outl = 0;
    // SAFETY: as the caller promises; `mask` has room for the block.
    unsafe { openssl_sys::EVP_EncryptUpdate(hp, mask.as_mut_ptr(), &mut outl, sample, 16) == 1 }
}

/// One direction of an in-memory pipe.
#[derive(Clone, Default, Debug)]
struct Pipe(Arc<Mutex<Vec<u8>>>);

#[derive(Debug)]
struct Duplex {
    rx: Pipe,
    tx: Pipe,
}

impl Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut q = self.rx.0.lock().unwrap();
        if q.is_empty() {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(q.len());
        buf[..n].copy_from_slice(&q[..n]);
        q.drain(..n);
        Ok(n)
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Full TLS 1.3 handshakes (AES-128-GCM, X25519, the P-256 certificate
/// verified) over in-memory pipes, OpenSSL alone.
pub struct Handshakes {
    connector: SslConnector,
    acceptor: SslAcceptor,
}

impl Handshakes {
    pub fn new(certs: &str) -> Self {
        Self::with_tickets(certs, 0, None)
    }

    /// The server issuing `tickets` per handshake; the client handing each
    /// session it gets to `keep`.
    fn with_tickets(certs: &str, tickets: usize, keep: Option<SessionSlot>) -> Self {
        let mut c = SslConnector::builder(SslMethod::tls_client()).unwrap();
        c.set_min_proto_version(Some(SslVersion::TLS1_3)).unwrap();
        c.set_ciphersuites("TLS_AES_128_GCM_SHA256").unwrap();
        c.set_groups_list("X25519").unwrap();
        c.set_ca_file(format!("{certs}/ca.pem")).unwrap();
        if let Some(slot) = keep {
            c.set_session_cache_mode(
                SslSessionCacheMode::CLIENT | SslSessionCacheMode::NO_INTERNAL,
            );
            c.set_new_session_callback(move |_, session| {
                *slot.lock().unwrap() = Some(session);
            });
        }
        let mut a = SslAcceptor::mozilla_modern_v5(SslMethod::tls_server()).unwrap();
        a.set_ciphersuites("TLS_AES_128_GCM_SHA256").unwrap();
        a.set_groups_list("X25519").unwrap();
        a.set_certificate_chain_file(format!("{certs}/server.pem"))
            .unwrap();
        a.set_private_key_file(format!("{certs}/server.key"), SslFiletype::PEM)
            .unwrap();
        a.set_num_tickets(tickets).unwrap();
        Self {
            connector: c.build(),
            acceptor: a.build(),
        }
    }

    pub fn one(&self) {
        self.run(None, false);
    }

    /// A handshake, resuming `session` if given (and then checking it was
    /// resumed); with `want_ticket`, the client then reads the server's
    /// tickets (they reach its new-session callback).
    fn run(&self, session: Option<&SslSession>, want_ticket: bool) {
        let (a, b) = (Pipe::default(), Pipe::default());
        let client_io = Duplex {
            rx: a.clone(),
            tx: b.clone(),
        };
        let server_io = Duplex { rx: b, tx: a };
        let mut conf = self.connector.configure().unwrap();
        if let Some(s) = session {
            // SAFETY: the session came from this connector's own handshake.
            unsafe { conf.set_session(s).unwrap() };
        }
        let mut client = match conf.connect("localhost", client_io) {
            Err(HandshakeError::WouldBlock(m)) => Some(m),
            _ => panic!("client handshake did not start"),
        };
        let mut server = match self.acceptor.accept(server_io) {
            Err(HandshakeError::WouldBlock(m)) => Some(m),
            _ => panic!("server handshake did not start"),
        };
        let (mut c_done, mut s_done) = (None, None);
        while c_done.is_none() || s_done.is_none() {
            if let Some(m) = server.take() {
                match m.handshake() {
                    Ok(stream) => s_done = Some(stream),
                    Err(HandshakeError::WouldBlock(m)) => server = Some(m),
                    Err(e) => panic!("server: {e}"),
                }
            }
            if let Some(m) = client.take() {
                match m.handshake() {
                    Ok(stream) => {
                        check_pinned(stream.ssl());
                        c_done = Some(stream);
                    }
                    Err(HandshakeError::WouldBlock(m)) => client = Some(m),
                    Err(e) => panic!("client: {e}"),
                }
            }
        }
        let (mut client, mut server) = (c_done.expect("done"), s_done.expect("done"));
        if session.is_some() {
            assert!(client.ssl().session_reused(), "ceiling: not resumed");
        }
        if want_ticket {
            // The server's tickets go out before its first application
            // data: one byte, and the client has read them.
            let mut buf = [0u8; 1];
            std::io::Write::write_all(&mut server, b"x").unwrap();
            std::io::Read::read_exact(&mut client, &mut buf).unwrap();
        }
        // Freed without being marked shut down, OpenSSL would drop the
        // session its tickets refer to (as libquic marks its own, no I/O).
        for ssl in [client.ssl(), server.ssl()] {
            // SAFETY: a live SSL; this only sets its shutdown flags.
            unsafe { openssl_sys::SSL_set_shutdown(foreign_types::ForeignTypeRef::as_ptr(ssl), 3) };
        }
    }
}

/// Where the client's new-session callback puts the session it got.
type SessionSlot = std::sync::Arc<std::sync::Mutex<Option<SslSession>>>;

/// Resumed TLS 1.3 handshakes (PSK with X25519 key exchange, AES-128-GCM),
/// OpenSSL alone: the ceiling for libquic's resumed handshakes. The server
/// issues two tickets per handshake, as libquic's does; neither client
/// reads them within the measured handshake; one ticket (kept as DER) is
/// resumed every time (stateless tickets allow it, as libquic's row does).
pub struct ResumedHandshakes {
    full: Handshakes,
    session: Vec<u8>,
}

impl ResumedHandshakes {
    pub fn new(certs: &str) -> Self {
        let slot = SessionSlot::default();
        let full = Handshakes::with_tickets(certs, 2, Some(slot.clone()));
        full.run(None, true);
        let session = slot.lock().unwrap().take().expect("a ticket");
        Self {
            full,
            session: session.to_der().unwrap(),
        }
    }

    pub fn one(&self) {
        // A client marks a session it offered as used; each handshake reads
        // the stored ticket afresh, as libquic's client does with its bytes.
        let session = SslSession::from_der(&self.session).unwrap();
        self.full.run(Some(&session), false);
    }
}

/// The ceiling negotiated what every stack is pinned to: AES-128-GCM and
/// X25519.
fn check_pinned(ssl: &openssl::ssl::SslRef) {
    use foreign_types::ForeignTypeRef;
    let suite = ssl.current_cipher().map(|c| c.name());
    assert_eq!(
        suite,
        Some("TLS_AES_128_GCM_SHA256"),
        "ceiling: pinned suite"
    );
    const SSL_CTRL_GET_NEGOTIATED_GROUP: libc::c_int = 134;
    const NID_X25519: libc::c_long = 1034;
    // SAFETY: a live SSL; the control only reads the handshake's group.
    let group = unsafe {
        openssl_sys::SSL_ctrl(
            ssl.as_ptr(),
            SSL_CTRL_GET_NEGOTIATED_GROUP,
            0,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(group, NID_X25519, "ceiling: pinned group");
}

/// libquic's packet layer doing the same work as [`aead`]: a short header,
/// seal with header protection, then open, per 1350-byte packet.
pub fn libquic_packets(packets: usize) -> usize {
    use quic::crypto::{DirectionalKeys, Secret, Suite};
    use quic::packet::{header, number, protect};
    let secret = Secret::new(&[3u8; 32]).unwrap();
    let mut seal = DirectionalKeys::new(Suite::Aes128Gcm, 1, &secret, true).unwrap();
    let mut open = DirectionalKeys::new(Suite::Aes128Gcm, 1, &secret, false).unwrap();
    let mut buf = Vec::with_capacity(1400);
    let mut bytes = 0;
    for pn in 0..packets as u64 {
        buf.clear();
        let layout =
            header::write_short(&mut buf, &[7; 8], number::truncate(pn, 2), 2, false, false)
                .unwrap();
        buf.resize(1350, 0xa5);
        protect::seal(&mut buf, layout.pn_offset, 2, pn, &mut seal).unwrap();
        let opened =
            protect::open(&mut buf, layout.pn_offset, pn.checked_sub(1), &mut open).unwrap();
        bytes += opened.payload_len;
    }
    bytes
}

/// The same AEAD work as [`aead`] through ring, the crypto quinn-proto
/// uses here: AES-128-GCM seal + open + 2 header-protection masks per
/// 1350-byte packet; returns bytes. It shows how much of the gap to
/// quinn-proto is the AES-GCM implementation rather than the stack.
pub fn ring_aead(packets: usize) -> usize {
    use ring::aead::{quic, Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &[1u8; 16]).unwrap());
    let hp = quic::HeaderProtectionKey::new(&quic::AES_128, &[2u8; 16]).unwrap();
    let mut pkt = vec![0xa5u8; 1350];
    let mut bytes = 0;
    for pn in 0..packets as u64 {
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&pn.to_be_bytes());
        let (hdr, rest) = pkt.split_at_mut(11);
        let (payload, tag_out) = rest.split_at_mut(1350 - 11 - 16);
        let n = payload.len();
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&*hdr),
                payload,
            )
            .unwrap();
        tag_out.copy_from_slice(tag.as_ref());
        let _ = hp.new_mask(&payload[..16]).unwrap();
        let opened = key
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(&*hdr), rest)
            .unwrap();
        assert_eq!(opened.len(), n);
        let _ = hp.new_mask(&rest[..16]).unwrap();
        bytes += n;
    }
    bytes
}
