//! `make bench`: packet protection cost, libquic against the OpenSSL ceiling.
//!
//! Both sides seal and open 1350-byte packets with AES-128-GCM: libquic
//! through its packet layer (header built, AEAD, header protection), the
//! ceiling as bare EVP calls (AEAD plus two header-protection blocks per
//! packet, as any QUIC stack must make). Runs are interleaved, repeated, and
//! measured in process CPU time; the figures are ratios within one run.
//! Connection-level workloads (bulk, streams, handshakes, other stacks) come
//! with the connection layer.

use std::time::Duration;

use openssl::cipher::Cipher;
use openssl::cipher_ctx::CipherCtx;
use quic::crypto::{DirectionalKeys, Secret, Suite, TAG_LEN};
use quic::packet::{header, number, protect};

const PACKET: usize = 1350;
const PACKETS: usize = 20_000;
const REPS: usize = 5;

fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// libquic: short header + payload sealed and then opened in place.
fn libquic_round(seal: &mut DirectionalKeys, open: &mut DirectionalKeys, buf: &mut Vec<u8>) -> u64 {
    let mut bytes = 0u64;
    for pn in 0..PACKETS as u64 {
        buf.clear();
        let layout =
            header::write_short(buf, &[7; 8], number::truncate(pn, 2), 2, false, false).unwrap();
        buf.resize(PACKET, 0xa5);
        protect::seal(buf, layout.pn_offset, 2, pn, seal).unwrap();
        let opened = protect::open(buf, layout.pn_offset, pn.checked_sub(1), open).unwrap();
        bytes += opened.payload_len as u64;
    }
    bytes
}

/// The ceiling: the same AEAD and header-protection work as bare EVP calls.
struct Ceiling {
    seal: CipherCtx,
    open: CipherCtx,
    hp: CipherCtx,
}

impl Ceiling {
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
        Self { seal, open, hp }
    }

    fn round(&mut self, buf: &mut [u8]) -> u64 {
        let mut bytes = 0u64;
        let mut mask = [0u8; 32];
        for pn in 0..PACKETS as u64 {
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&pn.to_be_bytes());
            let (hdr, rest) = buf.split_at_mut(11);
            let (payload, tag) = rest.split_at_mut(PACKET - 11 - TAG_LEN);
            self.seal.encrypt_init(None, None, Some(&nonce)).unwrap();
            self.seal.cipher_update(hdr, None).unwrap();
            let n = payload.len();
            self.seal.cipher_update_inplace(payload, n).unwrap();
            self.seal.cipher_final(&mut []).unwrap();
            self.seal.tag(tag).unwrap();
            self.hp
                .cipher_update(&payload[..16], Some(&mut mask))
                .unwrap();
            self.hp
                .cipher_update(&payload[..16], Some(&mut mask))
                .unwrap();
            self.open.decrypt_init(None, None, Some(&nonce)).unwrap();
            self.open.set_tag(tag).unwrap();
            self.open.cipher_update(hdr, None).unwrap();
            self.open.cipher_update_inplace(payload, n).unwrap();
            self.open.cipher_final(&mut []).unwrap();
            bytes += n as u64;
        }
        bytes
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let secret = Secret::new(&[3u8; 32]).unwrap();
    let mut seal = DirectionalKeys::new(Suite::Aes128Gcm, 1, &secret, true).unwrap();
    let mut open = DirectionalKeys::new(Suite::Aes128Gcm, 1, &secret, false).unwrap();
    let mut ceiling = Ceiling::new();
    let mut buf = Vec::with_capacity(PACKET + TAG_LEN);
    let mut raw = vec![0u8; PACKET];

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..REPS {
        let t = cpu_time();
        let bytes = libquic_round(&mut seal, &mut open, &mut buf);
        ours.push(bytes as f64 / 1e6 / (cpu_time() - t).as_secs_f64());
        let t = cpu_time();
        let bytes = ceiling.round(&mut raw);
        theirs.push(bytes as f64 / 1e6 / (cpu_time() - t).as_secs_f64());
    }
    let (min_o, max_o) = (
        ours.iter().cloned().fold(f64::MAX, f64::min),
        ours.iter().cloned().fold(0.0, f64::max),
    );
    let (m_ours, m_ceiling) = (median(&mut ours), median(&mut theirs));
    println!("packet protection, AES-128-GCM, {PACKET}-byte packets, seal + open, {REPS} runs");
    println!("{:<28} {:>14} {:>18}", "", "MB/CPU-s (med)", "min-max");
    println!(
        "{:<28} {:>14.0} {:>8.0}-{:<8.0}",
        "libquic packet layer", m_ours, min_o, max_o
    );
    println!("{:<28} {:>14.0}", "OpenSSL EVP ceiling", m_ceiling);
    println!("ratio libquic / ceiling: {:.2}", m_ours / m_ceiling);

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    let _ = std::fs::create_dir_all(&dir);
    let json = format!(
        "{{\"bench\":\"protection\",\"packet\":{PACKET},\"libquic_mb_per_cpu_s\":{m_ours:.1},\
         \"ceiling_mb_per_cpu_s\":{m_ceiling:.1},\"ratio\":{:.3}}}\n",
        m_ours / m_ceiling
    );
    let _ = std::fs::write(dir.join("protection.json"), json);
}
