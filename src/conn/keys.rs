//! 1-RTT key generations and key update (RFC 9001 §6).
//!
//! The current 1-RTT keys live in the application space's `seal` / `open`
//! like every other space's; this file keeps what only 1-RTT has: the
//! secrets the next generation is derived from, the next read key computed
//! in advance (so a phase change costs no derivation while the packet
//! waits, §9.5), the previous read key for reordered packets, and the
//! counters behind the AEAD limits (§6.6).
//!
//! Generations are counted from 0; the key phase bit is the generation's
//! low bit. Our write generation is either equal to the read generation or
//! one ahead of it, while an update we started waits for the peer's answer.

use super::{Connection, Event};
use crate::crypto::{self, PacketKey, Secret, Suite};
use crate::error::{code, CryptoError, TransportError};
use crate::packet::{number, protect};
use crate::recovery::Space;

/// RFC 9001 §6.6: AES-GCM may protect at most 2^23 packets with one key
/// (ChaCha20-Poly1305's limit is above 2^62, never reached).
const AES_GCM_CONFIDENTIALITY_LIMIT: u64 = 1 << 23;
/// RFC 9001 §6.6: failed decryptions allowed over the connection.
const AES_GCM_INTEGRITY_LIMIT: u64 = 1 << 52;
const CHACHA20_INTEGRITY_LIMIT: u64 = 1 << 36;

/// How many packets before the confidentiality limit an update starts on
/// its own, leaving room for the peer to acknowledge the previous one.
const LIMIT_MARGIN: u64 = 1 << 20;

/// The packet key that opens a 1-RTT packet, by its key phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    Current,
    Previous,
    Next,
}

/// The previous read key, kept for reordered packets until `until`.
#[derive(Debug)]
struct PreviousKey {
    key: PacketKey,
    until: u64,
}

/// The AEAD limits of the negotiated suite (RFC 9001 §6.6), in packets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AeadLimits {
    /// Packets one key may seal.
    pub(crate) confidentiality: u64,
    /// Failed decryptions before the connection must close.
    pub(crate) integrity: u64,
}

impl AeadLimits {
    fn of(suite: Suite) -> Self {
        match suite {
            Suite::Aes128Gcm | Suite::Aes256Gcm => Self {
                confidentiality: AES_GCM_CONFIDENTIALITY_LIMIT,
                integrity: AES_GCM_INTEGRITY_LIMIT,
            },
            Suite::ChaCha20Poly1305 => Self {
                confidentiality: u64::MAX,
                integrity: CHACHA20_INTEGRITY_LIMIT,
            },
        }
    }
}

/// The 1-RTT key generations of a connection.
#[derive(Debug, Default)]
pub(crate) struct KeyGenerations {
    suite: Option<Suite>,
    version: u32,
    /// Secrets of the current generation, per direction.
    read_secret: Option<Secret>,
    write_secret: Option<Secret>,
    /// The next read generation's secret and key, derived in advance.
    next_read: Option<(Secret, PacketKey)>,
    previous_read: Option<PreviousKey>,
    read_gen: u64,
    write_gen: u64,
    /// The lowest packet number opened with the current read key: an older
    /// phase below it is the previous generation, above it the next.
    read_gen_lowest_pn: Option<u64>,
    /// The first packet number sealed with the current write key.
    write_gen_first_pn: Option<u64>,
    /// When a packet of the current write generation was first
    /// acknowledged (RFC 9001 §6.5 gates the next update on it).
    write_gen_acked_at: Option<u64>,
    /// The peer acknowledged a 1-RTT packet of ours, of any generation:
    /// a client's handshake is confirmed by it (RFC 9001 §4.1.2).
    any_acked: bool,
    /// The peer moved to the current read generation and we have not yet
    /// sent it an ACK of a packet of that generation: it may not update
    /// again until we have (RFC 9001 §6.1, §6.2).
    peer_update_unacked: bool,
    /// Packets sealed with the current write key.
    sealed: u64,
    /// Packets that failed authentication under the negotiated AEAD, all
    /// keys (Handshake, 0-RTT, every 1-RTT generation).
    failed: u64,
    /// The application asked for an update not started yet.
    requested: bool,
    /// Start an update after this many packets (0: only near the limit).
    interval: u64,
    limits: Option<AeadLimits>,
}

impl KeyGenerations {
    /// Keys start updating on their own every `interval` packets sent
    /// (0 = only before the AEAD confidentiality limit).
    pub(crate) fn new(interval: u64) -> Self {
        Self {
            interval,
            ..Default::default()
        }
    }

    /// The key phase bit our packets carry.
    pub(crate) fn write_phase(&self) -> bool {
        self.write_gen & 1 == 1
    }

    /// Our current write generation (0 before any update).
    pub(crate) fn write_generation(&self) -> u64 {
        self.write_gen
    }

    /// Keeps a 1-RTT secret TLS yielded; for the read side, derives the
    /// next generation's key at once.
    pub(crate) fn on_secret(
        &mut self,
        suite: Suite,
        version: u32,
        write: bool,
        secret: Secret,
    ) -> Result<(), CryptoError> {
        self.suite = Some(suite);
        self.version = version;
        if self.limits.is_none() {
            self.limits = Some(AeadLimits::of(suite));
        }
        if write {
            self.write_secret = Some(secret);
        } else {
            self.next_read = Some(crypto::next_packet_key(suite, version, &secret, false)?);
            self.read_secret = Some(secret);
        }
        Ok(())
    }

    /// When the previous read key is to be forgotten, if one is kept.
    pub(super) fn previous_read_until(&self) -> Option<u64> {
        self.previous_read.as_ref().map(|p| p.until)
    }

    /// Forgets the previous read key once its time is over.
    pub(super) fn expire_previous_read(&mut self, now: u64) {
        if self.previous_read.as_ref().is_some_and(|p| now >= p.until) {
            self.previous_read = None;
        }
    }

    fn limits(&self) -> AeadLimits {
        self.limits.unwrap_or(AeadLimits {
            confidentiality: u64::MAX,
            integrity: u64::MAX,
        })
    }

    /// Which key opens a packet of `phase` numbered `pn` (RFC 9001 §6.3,
    /// §6.5); forgets the previous key once its time is over.
    fn choose(&mut self, phase: bool, pn: u64, now: u64) -> Choice {
        self.expire_previous_read(now);
        if phase == (self.read_gen & 1 == 1) {
            return Choice::Current;
        }
        let older = self.read_gen_lowest_pn.is_some_and(|lowest| pn < lowest);
        if older && self.previous_read.is_some() {
            Choice::Previous
        } else {
            Choice::Next
        }
    }

    /// Records that a packet was sealed with the current write key.
    pub(crate) fn on_sealed(&mut self, pn: u64) {
        self.write_gen_first_pn.get_or_insert(pn);
        self.sealed += 1;
    }

    /// We sent an ACK in 1-RTT of packets up to `largest`: once it covers
    /// a packet of the current read generation, the peer may update again.
    pub(crate) fn on_ack_sent(&mut self, largest: u64) {
        if self
            .read_gen_lowest_pn
            .is_some_and(|lowest| largest >= lowest)
        {
            self.peer_update_unacked = false;
        }
    }

    /// The peer acknowledged a packet we protected with 1-RTT keys.
    pub(crate) fn one_rtt_acked(&self) -> bool {
        self.any_acked
    }

    /// An ACK frame in 1-RTT acknowledged packets up to `largest`.
    pub(crate) fn on_ack(&mut self, largest: u64, now: u64) {
        if self.write_gen_acked_at.is_none()
            && self.write_gen_first_pn.is_some_and(|f| largest >= f)
        {
            self.write_gen_acked_at = Some(now);
            self.any_acked = true;
        }
    }

    /// Whether we may start an update now (RFC 9001 §6.1, §6.5): our last
    /// one was answered, a packet of this generation was acknowledged, and
    /// after an update, the peer had three PTOs to drop its old keys.
    fn may_initiate(&self, confirmed: bool, pto: u64, now: u64) -> bool {
        confirmed
            && self.write_secret.is_some()
            && self.write_gen == self.read_gen
            && self.write_gen_acked_at.is_some_and(|t| {
                self.write_gen == 0 || now >= t.saturating_add(pto.saturating_mul(3))
            })
    }

    /// The next write key; the generation moves on.
    fn next_write_key(&mut self) -> Result<PacketKey, CryptoError> {
        let (suite, secret) = match (self.suite, &self.write_secret) {
            (Some(s), Some(secret)) => (s, secret),
            _ => return Err(CryptoError("no 1-RTT write secret".into())),
        };
        let (next, key) = crypto::next_packet_key(suite, self.version, secret, true)?;
        self.write_secret = Some(next);
        self.write_gen += 1;
        self.write_gen_first_pn = None;
        self.write_gen_acked_at = None;
        self.sealed = 0;
        Ok(key)
    }
}

fn derivation_failed() -> TransportError {
    TransportError::new(code::INTERNAL_ERROR, 0, "1-RTT key derivation failed")
}

impl Connection {
    /// Asks for a key update (RFC 9001 §6; aioquic's `request_key_update`).
    /// It starts with the next packet sent once the handshake is confirmed
    /// and the previous update was acknowledged.
    pub fn request_key_update(&mut self) -> Result<(), super::ApiError> {
        if !matches!(self.close, super::close::CloseState::Open) {
            return Err(super::ApiError::Closing);
        }
        if !self.hs.is_confirmed() {
            return Err(super::ApiError::InvalidState(
                "key update before the handshake is confirmed",
            ));
        }
        self.key_gens.requested = true;
        Ok(())
    }

    /// Our current 1-RTT write key generation (0 before any update).
    pub fn key_generation(&self) -> u64 {
        self.key_gens.write_generation()
    }

    /// Before a datagram is built: starts an update the application asked
    /// for, or one due by packet count, and closes when the current key may
    /// seal no more packets (RFC 9001 §6.6).
    pub(super) fn update_keys_if_due(&mut self, now: u64) {
        let kg = &self.key_gens;
        let limit = kg.limits().confidentiality;
        let due = kg.requested
            || (kg.interval > 0 && kg.sealed >= kg.interval)
            || kg.sealed >= limit - LIMIT_MARGIN.min(limit / 4);
        if due && kg.may_initiate(self.hs.is_confirmed(), self.recovery.pto(), now) {
            if let Err(e) = self.initiate_key_update() {
                return self.fail(e, now);
            }
            self.key_gens.requested = false;
        } else if self.key_gens.sealed >= limit {
            // RFC 9001 §6.6: the key may seal nothing more, not even a
            // CONNECTION_CLOSE: the connection ends silently.
            self.close_silently(
                super::CloseError {
                    is_app: false,
                    code: code::AEAD_LIMIT_REACHED,
                    frame_type: None,
                    reason: b"confidentiality limit of the 1-RTT key reached".to_vec(),
                },
                super::Termination::LocalError,
            );
        }
    }

    /// Moves our write keys to the next generation.
    pub(super) fn initiate_key_update(&mut self) -> Result<(), TransportError> {
        let key = self
            .key_gens
            .next_write_key()
            .map_err(|_| derivation_failed())?;
        if let Some(seal) = self.spaces[Space::Application as usize].seal.as_mut() {
            seal.packet = key;
        }
        let kg = &self.key_gens;
        let trigger = if kg.write_gen > kg.read_gen {
            "local_update"
        } else {
            "remote_update"
        };
        let phase = kg.write_gen;
        self.qlog_keys(true, "1rtt", Some(true), Some(phase), trigger);
        Ok(())
    }

    /// Removes protection from a 1-RTT packet with the key its phase bit
    /// names, and follows the peer into a new generation when the next key
    /// opened it (RFC 9001 §6.2, §6.3). `Ok(None)` means the packet is to
    /// be dropped; an error closes the connection. `packet` holds the
    /// received header (and header-protection sample); the payload is
    /// decrypted into it from `received`, the packet as it arrived.
    pub(super) fn open_one_rtt(
        &mut self,
        packet: &mut [u8],
        received: &[u8],
        pn_offset: usize,
        now: u64,
    ) -> Result<Option<protect::Opened>, TransportError> {
        let s = &mut self.spaces[Space::Application as usize];
        let largest = s.ack.largest();
        let Some(keys) = s.open.as_mut() else {
            return Ok(None);
        };
        let Ok(hdr) = protect::remove_header_protection(packet, pn_offset, &mut keys.header) else {
            return Ok(None);
        };
        let pn = number::decode(hdr.truncated_pn, hdr.pn_len, largest);
        let header_len = hdr.header_len(pn_offset);
        let kg = &mut self.key_gens;
        let choice = kg.choose(hdr.key_phase(), pn, now);
        let key = match choice {
            Choice::Current => &mut keys.packet,
            Choice::Previous => match kg.previous_read.as_mut() {
                Some(p) => &mut p.key,
                None => return Ok(None),
            },
            Choice::Next => match kg.next_read.as_mut() {
                Some((_, k)) => k,
                None => return Ok(None),
            },
        };
        let Ok(payload_len) = protect::decrypt_payload_from(packet, received, header_len, pn, key)
        else {
            self.on_authentication_failure()?;
            return Ok(None);
        };
        match choice {
            Choice::Current => {
                kg.read_gen_lowest_pn = Some(kg.read_gen_lowest_pn.map_or(pn, |l| l.min(pn)));
            }
            Choice::Previous => {}
            Choice::Next => self.on_peer_phase_change(pn, now)?,
        }
        Ok(Some(protect::Opened {
            pn,
            first_byte: hdr.first_byte,
            header_len,
            payload_len,
        }))
    }

    /// A packet protected with the negotiated AEAD (Handshake, 0-RTT or
    /// 1-RTT; Initial keys are public) failed authentication: RFC 9001
    /// §6.6 counts these across all keys, and past the integrity limit the
    /// connection ends.
    pub(super) fn on_authentication_failure(&mut self) -> Result<(), TransportError> {
        let kg = &mut self.key_gens;
        kg.failed = kg.failed.saturating_add(1);
        if kg.failed > kg.limits().integrity {
            return Err(TransportError::new(
                code::AEAD_LIMIT_REACHED,
                0,
                "integrity limit of the AEAD keys reached",
            ));
        }
        Ok(())
    }

    /// A packet opened with the next read key: the read side moves to that
    /// generation, and so does our write side if the peer started the
    /// update (RFC 9001 §6.2: we must answer before acknowledging).
    fn on_peer_phase_change(&mut self, pn: u64, now: u64) -> Result<(), TransportError> {
        let pto = self.recovery.pto();
        let kg = &mut self.key_gens;
        // RFC 9001 §6.2: a second update before we acknowledged a packet of
        // the first is a peer updating without awaiting confirmation; each
        // costs us two derivations, so one per packet would be a cheap
        // attack.
        if kg.peer_update_unacked {
            return Err(TransportError::new(
                code::KEY_UPDATE_ERROR,
                0,
                "the peer updated its keys twice without awaiting an acknowledgement",
            ));
        }
        kg.peer_update_unacked = true;
        let (Some(suite), Some((secret, key))) = (kg.suite, kg.next_read.take()) else {
            return Err(derivation_failed());
        };
        let Some(open) = self.spaces[Space::Application as usize].open.as_mut() else {
            return Err(derivation_failed());
        };
        let old = std::mem::replace(&mut open.packet, key);
        // RFC 9001 §6.5: old read keys are kept about three PTOs.
        kg.previous_read = Some(PreviousKey {
            key: old,
            until: now.saturating_add(pto.saturating_mul(3)),
        });
        kg.next_read = Some(
            crypto::next_packet_key(suite, kg.version, &secret, false)
                .map_err(|_| derivation_failed())?,
        );
        kg.read_secret = Some(secret);
        kg.read_gen += 1;
        kg.read_gen_lowest_pn = Some(pn);
        let read_gen = kg.read_gen;
        self.qlog_keys(true, "1rtt", Some(false), Some(read_gen), "remote_update");
        let kg = &mut self.key_gens;
        let initiated_locally = kg.write_gen == kg.read_gen;
        if kg.write_gen < kg.read_gen {
            self.initiate_key_update()?;
        }
        let generation = self.key_gens.read_gen;
        self.reports.events.push(Event::KeyUpdated {
            generation,
            initiated_locally,
        });
        Ok(())
    }

    /// Test hook: overrides the AEAD limits of the negotiated suite.
    #[cfg(test)]
    pub(crate) fn set_aead_limits(&mut self, confidentiality: u64, integrity: u64) {
        self.key_gens.limits = Some(AeadLimits {
            confidentiality,
            integrity,
        });
    }
}
