//! The OpenSSL calls behind packet protection: HKDF, AEAD seal/open with
//! one reused cipher context per key and direction, and header-protection
//! masks (OPENSSL-QUIC.md §6). Nothing outside `crypto/` touches these.

use std::sync::OnceLock;

use std::ffi::c_int;
use std::ptr::{null, null_mut};

use foreign_types::ForeignType;
use openssl::cipher::Cipher;
use openssl::cipher_ctx::CipherCtx;
use openssl_sys as ffi;

use crate::crypto::{HashAlg, Suite, TAG_LEN};
use crate::error::CryptoError;

impl From<openssl::error::ErrorStack> for CryptoError {
    fn from(e: openssl::error::ErrorStack) -> Self {
        CryptoError(e.to_string())
    }
}

/// The TLS library's own version text, such as "OpenSSL 3.6.1 ...".
pub(crate) fn library_version() -> &'static str {
    openssl::version::version()
}

/// Fetches each cipher once per process: an implicit fetch on every context
/// init costs about a microsecond (OPENSSL-QUIC.md §6.4).
fn cipher(name: &'static str) -> Result<&'static Cipher, CryptoError> {
    static AES128GCM: OnceLock<Option<Cipher>> = OnceLock::new();
    static AES256GCM: OnceLock<Option<Cipher>> = OnceLock::new();
    static CHACHA: OnceLock<Option<Cipher>> = OnceLock::new();
    static AES128ECB: OnceLock<Option<Cipher>> = OnceLock::new();
    static AES256ECB: OnceLock<Option<Cipher>> = OnceLock::new();
    static CHACHA20: OnceLock<Option<Cipher>> = OnceLock::new();
    let slot = match name {
        "AES-128-GCM" => &AES128GCM,
        "AES-256-GCM" => &AES256GCM,
        "ChaCha20-Poly1305" => &CHACHA,
        "AES-128-ECB" => &AES128ECB,
        "AES-256-ECB" => &AES256ECB,
        _ => &CHACHA20,
    };
    slot.get_or_init(|| Cipher::fetch(None, name, None).ok())
        .as_ref()
        .ok_or_else(|| CryptoError(format!("OpenSSL lacks cipher {name}")))
}

/// A hash computation over the one-shot SHA functions: EVP's fetch per
/// call (the KDF, the MAC, the digest by name) costs more than the hashing
/// for the few dozen short derivations of a handshake.
#[derive(Clone)]
enum Hasher {
    Sha256(openssl::sha::Sha256),
    Sha384(openssl::sha::Sha384),
}

impl Hasher {
    fn new(hash: HashAlg) -> Self {
        match hash {
            HashAlg::Sha256 => Self::Sha256(openssl::sha::Sha256::new()),
            HashAlg::Sha384 => Self::Sha384(openssl::sha::Sha384::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(data),
            Self::Sha384(h) => h.update(data),
        }
    }

    /// The digest into `out` (48 bytes of room); returns its length.
    fn finish(self, out: &mut [u8; 48]) -> usize {
        match self {
            Self::Sha256(h) => {
                out[..32].copy_from_slice(&h.finish());
                32
            }
            Self::Sha384(h) => {
                out.copy_from_slice(&h.finish());
                48
            }
        }
    }
}

/// An HMAC key (RFC 2104) with its padded blocks already hashed, so each
/// HKDF step with the same secret costs two compressions fewer.
#[derive(Clone)]
pub(crate) struct HmacKey {
    inner: Hasher,
    outer: Hasher,
}

impl HmacKey {
    pub(crate) fn new(hash: HashAlg, key: &[u8]) -> Self {
        let block = match hash {
            HashAlg::Sha256 => 64,
            HashAlg::Sha384 => 128,
        };
        // A key longer than the block is hashed first.
        let mut k = [0u8; 128];
        if key.len() > block {
            let mut h = Hasher::new(hash);
            h.update(key);
            let mut d = [0u8; 48];
            let n = h.finish(&mut d);
            k[..n].copy_from_slice(&d[..n]);
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let mut pad = [0u8; 128];
        let mut keyed = |byte: u8| {
            for (p, b) in pad.iter_mut().zip(&k) {
                *p = b ^ byte;
            }
            let mut h = Hasher::new(hash);
            h.update(&pad[..block]);
            h
        };
        Self {
            inner: keyed(0x36),
            outer: keyed(0x5c),
        }
    }

    /// HMAC over the concatenated `parts` into `out`; returns its length.
    fn sign(&self, parts: &[&[u8]], out: &mut [u8; 48]) -> usize {
        let mut inner = self.inner.clone();
        for part in parts {
            inner.update(part);
        }
        let mut inner_digest = [0u8; 48];
        let n = inner.finish(&mut inner_digest);
        let mut outer = self.outer.clone();
        outer.update(&inner_digest[..n]);
        outer.finish(out)
    }
}

/// HKDF-Extract(salt, ikm) (RFC 5869 §2.2) into `out` (the hash length).
pub(crate) fn hkdf_extract(
    hash: HashAlg,
    salt: &[u8],
    ikm: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    let mut prk = [0u8; 48];
    let n = HmacKey::new(hash, salt).sign(&[ikm], &mut prk);
    if out.len() != n {
        return Err(CryptoError("HKDF-Extract output is the hash length".into()));
    }
    out.copy_from_slice(&prk[..n]);
    Ok(())
}

/// HKDF-Expand-Label(secret, label, "", out.len()) of TLS 1.3 (RFC 8446 §7.1),
/// as RFC 9001 §5.1 uses it: HKDF-Expand (RFC 5869 §2.3) with the
/// HkdfLabel structure as info; `secret` is the HMAC key of the secret.
pub(crate) fn hkdf_expand_label(
    secret: &HmacKey,
    label: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    const PREFIX: &[u8] = b"tls13 ";
    let mut info = [0u8; 2 + 1 + 255 + 1];
    let label_len = PREFIX.len() + label.len();
    let len = u16::try_from(out.len()).map_err(|_| CryptoError("HKDF output too long".into()))?;
    let label_len_u8 = u8::try_from(label_len).map_err(|_| CryptoError("label too long".into()))?;
    info[..2].copy_from_slice(&len.to_be_bytes());
    info[2] = label_len_u8;
    info[3..3 + PREFIX.len()].copy_from_slice(PREFIX);
    info[3 + PREFIX.len()..3 + label_len].copy_from_slice(label);
    info[3 + label_len] = 0; // empty context
    let info = &info[..4 + label_len];
    // T(i) = HMAC(PRK, T(i-1) | info | i), at most 255 blocks.
    let mut t = [0u8; 48];
    let mut t_len = 0;
    let mut written = 0;
    for counter in 1..=255u8 {
        if written == out.len() {
            return Ok(());
        }
        let prev = t;
        t_len = secret.sign(&[&prev[..t_len], info, &[counter]], &mut t);
        let n = t_len.min(out.len() - written);
        out[written..written + n].copy_from_slice(&t[..n]);
        written += n;
    }
    if written == out.len() {
        Ok(())
    } else {
        Err(CryptoError("HKDF output too long".into()))
    }
}

/// An AEAD key for one direction, with its static IV; the cipher context is
/// keyed once and only re-initialised with a nonce per packet.
pub struct PacketKey {
    ctx: CipherCtx,
    iv: [u8; 12],
    sealing: bool,
}

impl std::fmt::Debug for PacketKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketKey")
            .field("sealing", &self.sealing)
            .finish_non_exhaustive()
    }
}

impl PacketKey {
    /// Keys a context for sealing (`sealing`) or opening packets.
    pub(crate) fn new(
        suite: Suite,
        key: &[u8],
        iv: [u8; 12],
        sealing: bool,
    ) -> Result<Self, CryptoError> {
        let c = cipher(suite.aead_name())?;
        let mut ctx = CipherCtx::new()?;
        if sealing {
            ctx.encrypt_init(Some(c), Some(key), None)?;
        } else {
            ctx.decrypt_init(Some(c), Some(key), None)?;
        }
        Ok(Self { ctx, iv, sealing })
    }

    /// RFC 9001 §5.3: the nonce is the IV XORed with the packet number,
    /// left-padded to 12 bytes.
    pub(crate) fn nonce(&self, pn: u64) -> [u8; 12] {
        let mut nonce = self.iv;
        for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
            *n ^= p;
        }
        nonce
    }

    /// Encrypts `payload` in place and writes the tag into `tag`.
    ///
    /// Straight EVP calls, not the `openssl` crate's checked wrappers: per
    /// packet only the nonce, the AAD, the payload, the final step and the
    /// tag (OPENSSL-QUIC.md §6), and nothing else between them.
    pub fn seal(
        &mut self,
        pn: u64,
        aad: &[u8],
        payload: &mut [u8],
        tag: &mut [u8; TAG_LEN],
    ) -> Result<(), CryptoError> {
        self.seal_runs(pn, aad, None, payload, &[], tag)
    }

    /// [`PacketKey::seal`] out of place: encrypts `plaintext` into `out`
    /// (the same length), so a packet built in one buffer leaves from
    /// another without a copy of its own.
    pub fn seal_to(
        &mut self,
        pn: u64,
        aad: &[u8],
        plaintext: &[u8],
        out: &mut [u8],
        tag: &mut [u8; TAG_LEN],
    ) -> Result<(), CryptoError> {
        self.seal_runs(pn, aad, Some(plaintext), out, &[], tag)
    }

    /// Encrypts a payload into `out`, reading it from `plaintext` (in
    /// place when None) except for `runs`: each `(offset, bytes)` is the
    /// payload at that offset, read from where it lies (a stream's send
    /// buffer) instead. Runs are in increasing order and do not overlap.
    /// One AEAD operation, updated piece by piece.
    pub fn seal_runs(
        &mut self,
        pn: u64,
        aad: &[u8],
        plaintext: Option<&[u8]>,
        out: &mut [u8],
        runs: &[(usize, &[u8])],
        tag: &mut [u8; TAG_LEN],
    ) -> Result<(), CryptoError> {
        debug_assert!(self.sealing);
        if plaintext.is_some_and(|p| p.len() != out.len()) {
            return Err(CryptoError("output length differs from the input's".into()));
        }
        let mut end = 0;
        for (at, run) in runs {
            if *at < end || at.checked_add(run.len()).is_none_or(|e| e > out.len()) {
                return Err(CryptoError(
                    "payload runs out of order or out of range".into(),
                ));
            }
            end = at + run.len();
        }
        let (Ok(aad_len), Ok(_)) = (c_int::try_from(aad.len()), c_int::try_from(out.len())) else {
            return Err(CryptoError("packet too large".into()));
        };
        let nonce = self.nonce(pn);
        let ctx = self.ctx.as_ptr();
        let out_len = out.len();
        let base_out = out.as_mut_ptr();
        let base_in = plaintext.map_or(base_out.cast_const(), <[u8]>::as_ptr);
        let mut outl = 0;
        // SAFETY: `ctx` is this key's live context, keyed for sealing; the
        // AAD is readable for its length.
        let mut ok = unsafe {
            ffi::EVP_EncryptInit_ex(ctx, null(), null_mut(), null(), nonce.as_ptr()) == 1
                && ffi::EVP_EncryptUpdate(ctx, null_mut(), &mut outl, aad.as_ptr(), aad_len) == 1
        };
        let mut feed = BlockFeed {
            ctx,
            out: base_out,
            carry: [0; 16],
            carry_len: 0,
            carry_at: 0,
        };
        // The payload in order, each byte once: the gaps from `plaintext`
        // (or `out` itself), the runs from where they lie.
        // A run that ends the payload is fed as the last piece: its partial
        // final block goes with it instead of through the carry (one EVP
        // call fewer per packet whose stream data ends it).
        let mut pos = 0;
        for (at, run) in runs {
            let ends = at + run.len() == out_len;
            // SAFETY: `pos <= at <= out.len()` (checked above): the gap
            // `pos..at` of a buffer of `out.len()` bytes; the run is
            // readable for its length and lands within `out`.
            ok = ok
                && unsafe {
                    feed.feed(base_in.add(pos), pos, at - pos, false)
                        && feed.feed(run.as_ptr(), *at, run.len(), ends)
                };
            pos = at + run.len();
        }
        // SAFETY: `pos <= out.len()`, as above.
        ok = ok && unsafe { feed.feed(base_in.add(pos), pos, out_len - pos, true) };
        let mut last = [0u8; 16];
        // SAFETY: the live context as above; Final writes no bytes for
        // these stream-like AEADs (at most a block into `last`); GET_TAG
        // writes TAG_LEN bytes into `tag`.
        ok = ok
            && unsafe {
                ffi::EVP_EncryptFinal_ex(ctx, last.as_mut_ptr(), &mut outl) == 1
                    && ffi::EVP_CIPHER_CTX_ctrl(
                        ctx,
                        ffi::EVP_CTRL_GCM_GET_TAG,
                        TAG_LEN as c_int,
                        tag.as_mut_ptr().cast(),
                    ) == 1
            };
        if ok {
            Ok(())
        } else {
            Err(CryptoError("AEAD seal failed".into()))
        }
    }

    /// Decrypts `payload` in place; `false` when the tag does not verify.
    pub fn open(&mut self, pn: u64, aad: &[u8], payload: &mut [u8], tag: &[u8]) -> bool {
        let (input, out) = (payload.as_ptr(), payload.as_mut_ptr());
        // SAFETY: in place: `payload` is both the input and the output.
        unsafe { self.open_raw(pn, aad, input, out, payload.len(), tag) }
    }

    /// Decrypts `ciphertext` into `out` (of the same length), leaving the
    /// ciphertext as it was: a received datagram needs no copy first.
    /// `false` when the lengths differ or the tag does not verify.
    pub fn open_into(
        &mut self,
        pn: u64,
        aad: &[u8],
        ciphertext: &[u8],
        out: &mut [u8],
        tag: &[u8],
    ) -> bool {
        if ciphertext.len() != out.len() {
            return false;
        }
        // SAFETY: two distinct slices of one length (a `&` and a `&mut`
        // cannot overlap).
        unsafe {
            self.open_raw(
                pn,
                aad,
                ciphertext.as_ptr(),
                out.as_mut_ptr(),
                out.len(),
                tag,
            )
        }
    }

    /// Safety: `input` readable and `out` writable for `len` bytes, either
    /// the same range or not overlapping.
    unsafe fn open_raw(
        &mut self,
        pn: u64,
        aad: &[u8],
        input: *const u8,
        out: *mut u8,
        len: usize,
        tag: &[u8],
    ) -> bool {
        debug_assert!(!self.sealing);
        let nonce = self.nonce(pn);
        let (Ok(aad_len), Ok(len)) = (c_int::try_from(aad.len()), c_int::try_from(len)) else {
            return false;
        };
        if tag.len() != TAG_LEN {
            return false;
        }
        let mut tag_copy = [0u8; TAG_LEN];
        tag_copy.copy_from_slice(tag);
        let ctx = self.ctx.as_ptr();
        let (mut outl, mut last) = (0, [0u8; 16]);
        // SAFETY: as in `seal`, for a context keyed for opening; SET_TAG
        // reads TAG_LEN bytes from `tag_copy`; the payload ranges are as
        // this function's contract says; Final returns 1 only when the tag
        // verifies.
        unsafe {
            ffi::EVP_DecryptInit_ex(ctx, null(), null_mut(), null(), nonce.as_ptr()) == 1
                && ffi::EVP_CIPHER_CTX_ctrl(
                    ctx,
                    ffi::EVP_CTRL_GCM_SET_TAG,
                    TAG_LEN as c_int,
                    tag_copy.as_mut_ptr().cast(),
                ) == 1
                && ffi::EVP_DecryptUpdate(ctx, null_mut(), &mut outl, aad.as_ptr(), aad_len) == 1
                && ffi::EVP_DecryptUpdate(ctx, out, &mut outl, input, len) == 1
                && outl == len
                && ffi::EVP_DecryptFinal_ex(ctx, last.as_mut_ptr(), &mut outl) == 1
        }
    }
}

/// Feeds a payload to an AEAD in pieces that each start on a 16-byte
/// boundary of the payload: a piece that would start mid-block is joined
/// to the end of the one before through a small carry buffer, so the
/// cipher's bulk path (stitched AES-GCM) gets whole blocks and never
/// finishes a partial block byte by byte.
struct BlockFeed {
    ctx: *mut ffi::EVP_CIPHER_CTX,
    /// The payload's output.
    out: *mut u8,
    carry: [u8; 16],
    carry_len: usize,
    /// Where the carried bytes go in the output.
    carry_at: usize,
}

impl BlockFeed {
    /// Encrypts `len` bytes from `input`, which go to `out + at`, right
    /// after the bytes fed before. The `last` piece is encrypted whole
    /// (nothing follows it to join).
    ///
    /// Safety: `input` readable for `len` bytes, either the output range
    /// itself (in place) or not overlapping it; `out + at` writable for
    /// `len` bytes; `ctx` live and keyed for sealing; `len` fits a c_int.
    unsafe fn feed(
        &mut self,
        mut input: *const u8,
        mut at: usize,
        mut len: usize,
        last: bool,
    ) -> bool {
        if self.carry_len > 0 {
            let take = (16 - self.carry_len).min(len);
            // SAFETY: `input` has `len >= take` readable bytes; the carry
            // has room for `take` more.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    input,
                    self.carry.as_mut_ptr().add(self.carry_len),
                    take,
                );
                input = input.add(take);
            }
            self.carry_len += take;
            at += take;
            len -= take;
            if self.carry_len < 16 {
                // SAFETY: as below.
                return !last || unsafe { self.flush() };
            }
            // SAFETY: the carry's output range was writable (caller).
            if !unsafe { self.flush() } {
                return false;
            }
        }
        let whole = if last { len } else { len & !15 };
        if whole > 0 {
            let mut outl = 0;
            // SAFETY: the caller's contract for `input` and `out + at`;
            // GCM and ChaCha20-Poly1305 output every byte they are given,
            // checked by `outl == whole`.
            let ok = unsafe {
                ffi::EVP_EncryptUpdate(self.ctx, self.out.add(at), &mut outl, input, whole as c_int)
                    == 1
            };
            if !ok || outl as usize != whole {
                return false;
            }
        }
        let rest = len - whole;
        if rest > 0 {
            // SAFETY: `input + whole` has `rest` readable bytes; the carry
            // is empty here and holds 16.
            unsafe {
                std::ptr::copy_nonoverlapping(input.add(whole), self.carry.as_mut_ptr(), rest)
            };
            self.carry_len = rest;
            self.carry_at = at + whole;
        }
        true
    }

    /// Encrypts the carried bytes into their place.
    ///
    /// Safety: `out + carry_at` writable for `carry_len` bytes (they were
    /// fed under [`BlockFeed::feed`]'s contract); `ctx` as there.
    unsafe fn flush(&mut self) -> bool {
        let n = self.carry_len;
        if n == 0 {
            return true;
        }
        self.carry_len = 0;
        let (mut sealed, mut outl) = ([0u8; 16], 0);
        // SAFETY: `ctx` live and keyed; `carry` readable and `sealed`
        // writable for `n <= 16` bytes; then the output range of the
        // carried bytes, writable by the contract above.
        unsafe {
            let ok = ffi::EVP_EncryptUpdate(
                self.ctx,
                sealed.as_mut_ptr(),
                &mut outl,
                self.carry.as_ptr(),
                n as c_int,
            ) == 1
                && outl as usize == n;
            if ok {
                std::ptr::copy_nonoverlapping(sealed.as_ptr(), self.out.add(self.carry_at), n);
            }
            ok
        }
    }
}

/// The header-protection key of one direction (RFC 9001 §5.4).
pub struct HeaderKey {
    ctx: CipherCtx,
    chacha: bool,
}

impl std::fmt::Debug for HeaderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderKey")
            .field("chacha", &self.chacha)
            .finish_non_exhaustive()
    }
}

impl HeaderKey {
    /// Keys the header-protection cipher of `suite`.
    pub(crate) fn new(suite: Suite, hp: &[u8]) -> Result<Self, CryptoError> {
        let chacha = suite == Suite::ChaCha20Poly1305;
        let c = cipher(suite.hp_name())?;
        let mut ctx = CipherCtx::new()?;
        ctx.encrypt_init(Some(c), Some(hp), None)?;
        if !chacha {
            ctx.set_padding(false);
        }
        Ok(Self { ctx, chacha })
    }

    /// The 5-byte mask for a 16-byte `sample` (RFC 9001 §5.4.3, §5.4.4).
    pub fn mask(&mut self, sample: &[u8; 16]) -> Result<[u8; 5], CryptoError> {
        let ctx = self.ctx.as_ptr();
        // ECB needs room for one extra block of output.
        let mut out = [0u8; 32];
        let mut outl = 0;
        // SAFETY: `ctx` is this key's live context; `sample` is 16 bytes,
        // `out` has room for the output, and for ChaCha20 OpenSSL's 16-byte
        // IV is the 4-byte little-endian counter followed by the 12-byte
        // nonce: exactly the sample; the mask is the keystream over zeros.
        let ok = unsafe {
            if self.chacha {
                ffi::EVP_EncryptInit_ex(ctx, null(), null_mut(), null(), sample.as_ptr()) == 1
                    && ffi::EVP_EncryptUpdate(
                        ctx,
                        out.as_mut_ptr(),
                        &mut outl,
                        [0u8; 5].as_ptr(),
                        5,
                    ) == 1
            } else {
                ffi::EVP_EncryptUpdate(ctx, out.as_mut_ptr(), &mut outl, sample.as_ptr(), 16) == 1
            }
        };
        if !ok || outl < 5 {
            return Err(CryptoError("header protection failed".into()));
        }
        let mut mask = [0u8; 5];
        mask.copy_from_slice(&out[..5]);
        Ok(mask)
    }
}

/// A one-shot AES-128-GCM tag over `aad` with an empty plaintext, as the
/// Retry Integrity Tag needs (RFC 9001 §5.8).
pub(crate) fn aes128gcm_tag(
    key: &[u8; 16],
    nonce: &[u8; 12],
    aad: &[u8],
) -> Result<[u8; TAG_LEN], CryptoError> {
    let mut ctx = CipherCtx::new()?;
    ctx.encrypt_init(Some(cipher("AES-128-GCM")?), Some(key), Some(nonce))?;
    ctx.cipher_update(aad, None)?;
    ctx.cipher_final(&mut [])?;
    let mut tag = [0u8; TAG_LEN];
    ctx.tag(&mut tag)?;
    Ok(tag)
}
