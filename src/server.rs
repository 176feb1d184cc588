//! Stateless server helpers: what a server does with a datagram before (or
//! without) a connection: read its header, answer an unknown version with
//! Version Negotiation, or ask the client to prove its address with Retry
//! (with a token the library mints and checks, or one of the caller's).

use std::net::SocketAddr;

use crate::cid::ConnectionId;
use crate::config::Config;
use crate::crypto::random::{RandomSource, SystemRandom};
use crate::error::{CryptoError, PacketError};
use crate::packet::header::{self, FixedBit, Header};
use crate::packet::{negotiation, retry};
use crate::shared_register::OnceKind;
use crate::token::{TokenKind, TokenUse};
use crate::version;

/// Parses the first header of a datagram for routing. The fixed bit is not
/// enforced here, because a peer that was offered grease_quic_bit may clear
/// it; the connection checks it.
pub fn parse_header(datagram: &[u8], short_dcid_len: usize) -> Result<Header<'_>, PacketError> {
    header::parse_with(datagram, short_dcid_len, FixedBit::MayBeGreased)
}

/// One random byte for the arbitrary bits of a first byte.
fn random_bits() -> u8 {
    let mut b = [0u8; 1];
    SystemRandom.fill(&mut b);
    b[0]
}

/// Appends a Version Negotiation packet answering a packet with
/// `client_dcid` and `client_scid`, listing `versions` (ours when empty).
pub fn version_negotiation(
    out: &mut Vec<u8>,
    client_dcid: &[u8],
    client_scid: &[u8],
    versions: &[u32],
) -> Result<(), PacketError> {
    let versions = if versions.is_empty() {
        &version::SUPPORTED[..]
    } else {
        versions
    };
    if negotiation::write(out, client_dcid, client_scid, versions, random_bits()) {
        Ok(())
    } else {
        Err(PacketError::ConnectionIdTooLong)
    }
}

/// Appends a Retry packet with its integrity tag (RFC 9000 §17.2.5).
pub fn retry_packet(
    out: &mut Vec<u8>,
    version: u32,
    client_dcid: &[u8],
    client_scid: &[u8],
    new_scid: &[u8],
    token: &[u8],
) -> Result<(), CryptoError> {
    retry::write(
        out,
        version,
        client_scid,
        new_scid,
        client_dcid,
        token,
        random_bits(),
    )
}

/// What the token in a client's Initial proves (RFC 9000 §8.1), checked
/// with the server configuration's token key and clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitialToken {
    /// No token.
    None,
    /// A token that does not prove anything: not ours, damaged, expired,
    /// for another address, or a Retry token sent to another connection
    /// ID. RFC 9000 §8.1.3: go on as for a client without a token.
    Invalid,
    /// Our Retry's token: the address is validated; make the connection
    /// with these (`Connection::new_server`).
    Retry {
        /// The DCID of the client's very first Initial.
        original_dcid: ConnectionId,
        /// The SCID of our Retry (the DCID of this Initial).
        retry_scid: ConnectionId,
    },
    /// A NEW_TOKEN token of an earlier connection from this address: the
    /// address is validated (`Connection::mark_address_validated`).
    ///
    /// It lifts the 3x limit outright rather than to a raised cap: the
    /// token's purpose is a large first flight (a long certificate chain)
    /// in the first round trip, and what a misused one costs is bounded
    /// otherwise. It opens once (per configuration, or per fleet with a
    /// shared register), for an hour, from the client's own IP: to use it
    /// against that IP, an attacker must see a fresh token on the path and
    /// beat the client to the server, and then gets one connection's flight
    /// and its retransmissions, which the handshake timeout ends.
    NewToken,
}

/// Checks the token of an Initial sent to `dcid` from `peer`.
pub fn check_initial_token(
    config: &Config,
    token: &[u8],
    dcid: &[u8],
    peer: SocketAddr,
) -> InitialToken {
    if token.is_empty() {
        return InitialToken::None;
    }
    let now = config.endpoint.unix_clock.unix_seconds();
    match config
        .endpoint
        .token_key
        .check(token, peer, now, config.endpoint.token_lifetime)
    {
        // RFC 9000 §8.1.2: the Initial answering a Retry goes to the
        // Retry's SCID; a token replayed towards another is not proof.
        Some(TokenKind::Retry {
            original_dcid,
            retry_scid,
        }) if *retry_scid == *dcid => InitialToken::Retry {
            original_dcid,
            retry_scid,
        },
        // RFC 9000 §8.1.4: a NEW_TOKEN token is good for one connection.
        Some(TokenKind::NewToken) if new_token_first_use(config, token, dcid, peer, now) => {
            InitialToken::NewToken
        }
        _ => InitialToken::Invalid,
    }
}

/// Records a valid NEW_TOKEN token as used by this attempt; false when
/// another attempt used it before (a replay), here or, by the shared
/// register, on another server, or when a register is full.
fn new_token_first_use(
    config: &Config,
    token: &[u8],
    dcid: &[u8],
    peer: SocketAddr,
    now: u64,
) -> bool {
    let Some(id) = crate::token::token_id(token) else {
        return false;
    };
    let used = match config.endpoint.used_tokens.lock() {
        Ok(mut used) => used.record(id, dcid, peer.port(), now, config.endpoint.token_lifetime),
        Err(_) => TokenUse::Refused,
    };
    match (used, &config.endpoint.shared_register) {
        (TokenUse::First, Some(shared)) => {
            shared.first_use(OnceKind::NewToken, &id, config.endpoint.token_lifetime)
        }
        (TokenUse::First | TokenUse::SameAttempt, _) => true,
        (TokenUse::Refused, _) => false,
    }
}

/// Appends a Retry (RFC 9000 §8.1.2) answering an Initial of `version`
/// from `peer` with `client_dcid` / `client_scid`, whose token is minted
/// with the server configuration's key; its SCID is random, as long as
/// the server's connection IDs (at least 8 bytes).
pub fn retry_with_token(
    config: &Config,
    version: u32,
    client_dcid: &[u8],
    client_scid: &[u8],
    peer: SocketAddr,
    out: &mut Vec<u8>,
) -> Result<(), CryptoError> {
    let odcid = ConnectionId::new(client_dcid)
        .ok_or_else(|| CryptoError("client DCID longer than 20 bytes".into()))?;
    let mut scid = [0u8; 20];
    let len = config.endpoint.connection_id_length.clamp(8, 20);
    for attempt in 0.. {
        // The generator's, if any (the client's next Initial goes to it,
        // and the fleet's load balancers route by it), else random; a
        // generator that keeps giving the client's DCID back is not
        // asked forever.
        config.endpoint.random.fill(&mut scid[..len]);
        match &config.endpoint.cid_generator {
            Some(generate) if config.endpoint.connection_id_length >= 8 && attempt < 4 => {
                generate(&mut scid[..len])
            }
            _ => {}
        }
        // RFC 9000 §17.2.5.1: not the client's DCID.
        if scid[..len] != *client_dcid {
            break;
        }
    }
    let scid = ConnectionId::new(&scid[..len]).expect("at most 20 bytes");
    let now = config.endpoint.unix_clock.unix_seconds();
    let token =
        config
            .endpoint
            .token_key
            .retry_token(peer, &odcid, &scid, now, &*config.endpoint.random);
    if token.is_empty() {
        return Err(CryptoError("the token could not be sealed".into()));
    }
    retry_packet(out, version, client_dcid, client_scid, &scid, &token)
}

/// Appends an Initial packet carrying CONNECTION_CLOSE with
/// CONNECTION_REFUSED (RFC 9000 §10.2.3, §20.1), answering a client's
/// Initial of `version` with `client_dcid` / `client_scid` without making
/// a connection: protected with the Initial keys of `client_dcid`, from a
/// random SCID of `scid_len` bytes (8 to 20). A few dozen bytes, well
/// under three times the 1200-byte datagram that provoked it.
pub fn connection_refused(
    out: &mut Vec<u8>,
    version: u32,
    client_dcid: &[u8],
    client_scid: &[u8],
    scid_len: usize,
    rng: &dyn RandomSource,
) -> Result<(), CryptoError> {
    use crate::crypto::{InitialKeys, TAG_LEN};
    use crate::frame::Frame;
    use crate::packet::header::LongHeader;
    use crate::packet::protect;

    let mut keys = InitialKeys::new(version, client_dcid, false)?;
    let mut scid = [0u8; 20];
    let scid = &mut scid[..scid_len.clamp(8, 20)];
    rng.fill(scid);
    let start = out.len();
    let header = LongHeader {
        ty: version::LongType::Initial,
        version,
        dcid: client_scid,
        scid,
        token: &[],
    };
    let layout = header
        .write(out, 0, 1, 1200)
        .map_err(|e| CryptoError(e.to_string()))?;
    let payload_start = out.len();
    Frame::ConnectionClose {
        app: false,
        error_code: crate::error::code::CONNECTION_REFUSED,
        frame_type: 0,
        reason: b"",
    }
    .write(out);
    // Room for the header protection sample (PADDING is zero bytes).
    let min = payload_start + protect::min_payload_len(1);
    if out.len() < min {
        out.resize(min, 0);
    }
    layout.finish(out, TAG_LEN);
    out.resize(out.len() + TAG_LEN, 0);
    protect::seal(
        &mut out[start..],
        layout.pn_offset - start,
        1,
        0,
        &mut keys.seal,
    )
}
