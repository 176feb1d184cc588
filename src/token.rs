//! Address-validation tokens (RFC 9000 §8.1): minted and checked by the
//! library, so a server need not invent a format.
//!
//! A token is sealed with AES-256-GCM under the server's token key (shared
//! by a fleet like ticket keys): a marker byte, a random 12-byte nonce,
//! then the sealed contents and the tag. The contents say what the token
//! is for and when it was made (Unix seconds, from the configuration's
//! clock), and bind it to the client's address: a Retry token (RFC 9000
//! §8.1.2) to the IP address and port and the connection IDs the Retry
//! was about, valid for [`RETRY_TOKEN_LIFETIME`]; a NEW_TOKEN token (§8.1.3)
//! to the IP address only (a NAT may change the port between
//! connections), valid for the configured lifetime. A token that does not
//! open, names another address, or is too old is simply not valid: the
//! server treats the client as one without a token (§8.1.3).
//!
//! A NEW_TOKEN token is good for one connection (RFC 9000 §8.1.4 has a
//! server limit its use): [`UsedTokens`] remembers the ones presented, so
//! someone behind the same NAT, or on the path, cannot present it again
//! to lift the anti-amplification limit towards that address.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use crate::cid::ConnectionId;
use crate::codec::Reader;
use crate::crypto::random::RandomSource;
use crate::crypto::{PacketKey, Suite, TAG_LEN};

/// How long a Retry token is good for: the client answers a Retry at
/// once, so seconds are plenty, and a short life limits replays.
pub const RETRY_TOKEN_LIFETIME: u64 = 10;
/// How long a NEW_TOKEN token is good for by default: an hour, enough for
/// a client that comes back soon, short enough to keep [`UsedTokens`]
/// small.
pub const DEFAULT_TOKEN_LIFETIME: u64 = 3_600;
/// NEW_TOKEN tokens a configuration remembers as used, at most; when it
/// is full, further ones are refused (the client is only not validated).
pub const USED_TOKENS_CAPACITY: usize = 65_536;

const MARKER: u8 = 0x4c;
const NONCE_LEN: usize = 12;
const RETRY: u8 = 1;
const NEW_TOKEN: u8 = 2;

/// The time in seconds since the Unix epoch: tokens made by one server
/// are checked by another, so they need a clock all of them share. Given
/// to the library like its randomness (the core reads no clock itself).
pub trait UnixClock: Send + Sync {
    /// Seconds since 1970-01-01 UTC.
    fn unix_seconds(&self) -> u64;
}

impl std::fmt::Debug for dyn UnixClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnixClock")
    }
}

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl UnixClock for SystemClock {
    fn unix_seconds(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// From our Retry: the client's first DCID, and the Retry's SCID
    /// (which the client's Initial carrying the token must be sent to).
    Retry {
        /// The DCID of the client's very first Initial.
        original_dcid: ConnectionId,
        /// The SCID of the Retry.
        retry_scid: ConnectionId,
    },
    /// From a NEW_TOKEN frame of an earlier connection.
    NewToken,
}

/// Seals and opens tokens with one key.
pub struct TokenKey {
    key: [u8; 32],
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

fn put_addr(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => {
            out.push(4);
            out.extend_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            out.push(6);
            out.extend_from_slice(&a.octets());
        }
    }
}

fn read_addr(r: &mut Reader<'_>) -> Option<IpAddr> {
    match r.u8()? {
        4 => Some(IpAddr::from(r.array::<4>()?)),
        6 => Some(IpAddr::from(r.array::<16>()?)),
        _ => None,
    }
}

/// The same client: IPv4 and IPv4-mapped IPv6 addresses compare equal, as
/// a dual-stack socket may report either.
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

impl TokenKey {
    /// A key from its 32 bytes.
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    fn aead(&self, nonce: [u8; NONCE_LEN], sealing: bool) -> Option<PacketKey> {
        PacketKey::new(Suite::Aes256Gcm, &self.key, nonce, sealing).ok()
    }

    fn seal(&self, plain: Vec<u8>, random: &dyn RandomSource) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        random.fill(&mut nonce);
        let mut body = plain;
        let mut tag = [0u8; TAG_LEN];
        let sealed = self
            .aead(nonce, true)
            .is_some_and(|mut k| k.seal(0, &[MARKER], &mut body, &mut tag).is_ok());
        if !sealed {
            // A token that never opens: the client is only not validated.
            return Vec::new();
        }
        let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len() + TAG_LEN);
        out.push(MARKER);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        out.extend_from_slice(&tag);
        out
    }

    fn open(&self, token: &[u8]) -> Option<Vec<u8>> {
        let rest = token.strip_prefix(&[MARKER])?;
        if rest.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, rest) = rest.split_at(NONCE_LEN);
        let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
        let mut body = body.to_vec();
        let mut key = self.aead(nonce.try_into().ok()?, false)?;
        key.open(0, &[MARKER], &mut body, tag).then_some(body)
    }

    /// A Retry token for a client at `peer` whose first Initial went to
    /// `original_dcid`, answered by a Retry from `retry_scid`.
    pub fn retry_token(
        &self,
        peer: SocketAddr,
        original_dcid: &ConnectionId,
        retry_scid: &ConnectionId,
        now: u64,
        random: &dyn RandomSource,
    ) -> Vec<u8> {
        let mut p = vec![RETRY];
        p.extend_from_slice(&now.to_be_bytes());
        put_addr(&mut p, peer.ip());
        p.extend_from_slice(&peer.port().to_be_bytes());
        for cid in [original_dcid, retry_scid] {
            p.push(cid.len() as u8);
            p.extend_from_slice(cid);
        }
        self.seal(p, random)
    }

    /// A NEW_TOKEN token for a client at `peer`.
    pub fn new_token(&self, peer: SocketAddr, now: u64, random: &dyn RandomSource) -> Vec<u8> {
        let mut p = vec![NEW_TOKEN];
        p.extend_from_slice(&now.to_be_bytes());
        put_addr(&mut p, peer.ip());
        self.seal(p, random)
    }

    /// What `token` proves for a client at `peer` at time `now`, if
    /// anything: sealed by this key, for this address, not older than its
    /// lifetime (`new_token_lifetime` for NEW_TOKEN tokens), and not made
    /// in the future.
    pub fn check(
        &self,
        token: &[u8],
        peer: SocketAddr,
        now: u64,
        new_token_lifetime: u64,
    ) -> Option<TokenKind> {
        let plain = self.open(token)?;
        let mut r = Reader::new(&plain);
        let kind = r.u8()?;
        let issued = u64::from_be_bytes(r.array::<8>()?);
        let ip = read_addr(&mut r)?;
        let lifetime = match kind {
            RETRY => RETRY_TOKEN_LIFETIME,
            NEW_TOKEN => new_token_lifetime,
            _ => return None,
        };
        if issued > now || now - issued > lifetime || !same_ip(ip, peer.ip()) {
            return None;
        }
        let found = match kind {
            RETRY => {
                if u16::from_be_bytes(r.array::<2>()?) != peer.port() {
                    return None;
                }
                let original_dcid = ConnectionId::new(r.u8_prefixed()?)?;
                let retry_scid = ConnectionId::new(r.u8_prefixed()?)?;
                TokenKind::Retry {
                    original_dcid,
                    retry_scid,
                }
            }
            _ => TokenKind::NewToken,
        };
        r.is_empty().then_some(found)
    }
}

/// The identity of a token: its random nonce (sent in the clear, and
/// authenticated by the token's tag).
pub fn token_id(token: &[u8]) -> Option<[u8; NONCE_LEN]> {
    token
        .strip_prefix(&[MARKER])?
        .get(..NONCE_LEN)?
        .try_into()
        .ok()
}

/// The connection attempt that first presented a token: the DCID of its
/// first Initial and the client's port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Attempt {
    dcid: ConnectionId,
    port: u16,
}

/// NEW_TOKEN tokens already presented, each for as long as it could still
/// be valid; bounded, and shared by the connections of a configuration.
#[derive(Debug)]
pub struct UsedTokens {
    seen: HashMap<[u8; NONCE_LEN], Attempt>,
    /// (forget after, Unix seconds; id), oldest first.
    order: VecDeque<(u64, [u8; NONCE_LEN])>,
    capacity: usize,
}

impl UsedTokens {
    /// An empty register of at most `capacity` tokens.
    pub fn new(capacity: usize) -> Self {
        Self {
            seen: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// A token `id` is presented by the attempt whose first Initial went to
    /// `dcid` from `port`, at `now`: its first use, the same attempt again
    /// (its other Initial datagrams carry it too), or refused (another
    /// attempt used it, or the register is full). A token is remembered for
    /// `lifetime` seconds from its first use, which outlasts its own
    /// validity.
    pub fn record(
        &mut self,
        id: [u8; NONCE_LEN],
        dcid: &[u8],
        port: u16,
        now: u64,
        lifetime: u64,
    ) -> TokenUse {
        while self.order.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, old)) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        let Some(dcid) = ConnectionId::new(dcid) else {
            return TokenUse::Refused;
        };
        let attempt = Attempt { dcid, port };
        if let Some(first) = self.seen.get(&id) {
            return if *first == attempt {
                TokenUse::SameAttempt
            } else {
                TokenUse::Refused
            };
        }
        if self.seen.len() >= self.capacity {
            return TokenUse::Refused;
        }
        self.seen.insert(id, attempt);
        self.order.push_back((now.saturating_add(lifetime), id));
        TokenUse::First
    }
}

/// What [`UsedTokens::record`] made of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    /// Not seen before: a shared register, if any, has the last word.
    First,
    /// Seen from this very attempt: good again.
    SameAttempt,
    /// Used by another attempt, or no room to remember it.
    Refused,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::random::SystemRandom;

    #[test]
    fn a_token_is_good_for_one_attempt_and_remembered_while_it_lives() {
        use TokenUse::*;
        let mut u = UsedTokens::new(2);
        assert_eq!(u.record([1; 12], &[7; 8], 4000, 100, 60), First);
        assert_eq!(u.record([1; 12], &[7; 8], 4000, 101, 60), SameAttempt);
        assert_eq!(
            u.record([1; 12], &[8; 8], 4000, 101, 60),
            Refused,
            "another DCID"
        );
        assert_eq!(
            u.record([1; 12], &[7; 8], 4001, 101, 60),
            Refused,
            "another port"
        );
        assert_eq!(u.record([2; 12], &[9; 8], 4000, 110, 60), First);
        assert_eq!(u.record([3; 12], &[9; 8], 4000, 110, 60), Refused, "full");
        // The first is forgotten once it could no longer be valid.
        assert_eq!(u.record([3; 12], &[9; 8], 4000, 160, 60), First);
        assert_eq!(u.record([2; 12], &[1; 8], 4000, 160, 60), Refused);
    }

    fn peer() -> SocketAddr {
        "192.0.2.7:5000".parse().unwrap()
    }

    fn cids() -> (ConnectionId, ConnectionId) {
        (
            ConnectionId::new(&[1; 8]).unwrap(),
            ConnectionId::new(&[2; 20]).unwrap(),
        )
    }

    #[test]
    fn a_retry_token_opens_for_its_client_only_and_briefly() {
        let key = TokenKey::new([7; 32]);
        let (odcid, scid) = cids();
        let t = key.retry_token(peer(), &odcid, &scid, 1000, &SystemRandom);
        let want = TokenKind::Retry {
            original_dcid: odcid,
            retry_scid: scid,
        };
        assert_eq!(key.check(&t, peer(), 1000, 0), Some(want.clone()));
        assert_eq!(
            key.check(&t, peer(), 1000 + RETRY_TOKEN_LIFETIME, 0),
            Some(want)
        );
        // Too old, from the future, another port or address, another key.
        assert_eq!(key.check(&t, peer(), 1001 + RETRY_TOKEN_LIFETIME, 0), None);
        assert_eq!(key.check(&t, peer(), 999, 0), None);
        assert_eq!(
            key.check(&t, "192.0.2.7:5001".parse().unwrap(), 1000, 0),
            None
        );
        assert_eq!(
            key.check(&t, "192.0.2.8:5000".parse().unwrap(), 1000, 0),
            None
        );
        assert_eq!(TokenKey::new([8; 32]).check(&t, peer(), 1000, 0), None);
    }

    #[test]
    fn a_new_token_ignores_the_port_and_expires_at_its_lifetime() {
        let key = TokenKey::new([7; 32]);
        let t = key.new_token(peer(), 50, &SystemRandom);
        let other_port = "192.0.2.7:6000".parse().unwrap();
        assert_eq!(
            key.check(&t, other_port, 150, 100),
            Some(TokenKind::NewToken)
        );
        assert_eq!(key.check(&t, other_port, 151, 100), None);
        // The same client seen through a dual-stack socket.
        let mapped = "[::ffff:192.0.2.7]:1".parse().unwrap();
        assert_eq!(key.check(&t, mapped, 60, 100), Some(TokenKind::NewToken));
    }

    #[test]
    fn every_damaged_token_is_refused() {
        let key = TokenKey::new([7; 32]);
        let (odcid, scid) = cids();
        let t = key.retry_token(peer(), &odcid, &scid, 5, &SystemRandom);
        for i in 0..t.len() {
            let mut d = t.clone();
            d[i] ^= 1;
            assert_eq!(key.check(&d, peer(), 5, 0), None, "byte {i}");
        }
        for n in 0..t.len() {
            assert_eq!(key.check(&t[..n], peer(), 5, 0), None, "cut at {n}");
        }
        // Two tokens for the same thing differ (random nonces).
        assert_ne!(t, key.retry_token(peer(), &odcid, &scid, 5, &SystemRandom));
    }
}
