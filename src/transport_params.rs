//! Transport parameters: the quic_transport_parameters TLS extension (0x39)
//! of RFC 9000 §18, plus max_datagram_frame_size (RFC 9221 §3),
//! version_information (RFC 9368 §3) and grease_quic_bit (RFC 9287 §3).
//!
//! Decoding validates every rule whose violation RFC 9000 §7.4 and §18.2 make
//! a TRANSPORT_PARAMETER_ERROR; unknown parameters are skipped (§18.1).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use crate::cid::ConnectionId;
use crate::codec::Reader;
use crate::error::TransportError;
use crate::frame::MAX_STREAMS_LIMIT;
use crate::side::Side;
use crate::varint;

/// Parameter identifiers.
pub mod id {
    /// original_destination_connection_id
    pub const ORIGINAL_DESTINATION_CONNECTION_ID: u64 = 0x00;
    /// max_idle_timeout
    pub const MAX_IDLE_TIMEOUT: u64 = 0x01;
    /// stateless_reset_token
    pub const STATELESS_RESET_TOKEN: u64 = 0x02;
    /// max_udp_payload_size
    pub const MAX_UDP_PAYLOAD_SIZE: u64 = 0x03;
    /// initial_max_data
    pub const INITIAL_MAX_DATA: u64 = 0x04;
    /// initial_max_stream_data_bidi_local
    pub const INITIAL_MAX_STREAM_DATA_BIDI_LOCAL: u64 = 0x05;
    /// initial_max_stream_data_bidi_remote
    pub const INITIAL_MAX_STREAM_DATA_BIDI_REMOTE: u64 = 0x06;
    /// initial_max_stream_data_uni
    pub const INITIAL_MAX_STREAM_DATA_UNI: u64 = 0x07;
    /// initial_max_streams_bidi
    pub const INITIAL_MAX_STREAMS_BIDI: u64 = 0x08;
    /// initial_max_streams_uni
    pub const INITIAL_MAX_STREAMS_UNI: u64 = 0x09;
    /// ack_delay_exponent
    pub const ACK_DELAY_EXPONENT: u64 = 0x0a;
    /// max_ack_delay
    pub const MAX_ACK_DELAY: u64 = 0x0b;
    /// disable_active_migration
    pub const DISABLE_ACTIVE_MIGRATION: u64 = 0x0c;
    /// preferred_address
    pub const PREFERRED_ADDRESS: u64 = 0x0d;
    /// active_connection_id_limit
    pub const ACTIVE_CONNECTION_ID_LIMIT: u64 = 0x0e;
    /// initial_source_connection_id
    pub const INITIAL_SOURCE_CONNECTION_ID: u64 = 0x0f;
    /// retry_source_connection_id
    pub const RETRY_SOURCE_CONNECTION_ID: u64 = 0x10;
    /// version_information (RFC 9368)
    pub const VERSION_INFORMATION: u64 = 0x11;
    /// max_datagram_frame_size (RFC 9221)
    pub const MAX_DATAGRAM_FRAME_SIZE: u64 = 0x20;
    /// grease_quic_bit (RFC 9287)
    pub const GREASE_QUIC_BIT: u64 = 0x2ab2;
}

/// The most versions we keep from a peer's Available Versions; more only
/// costs memory, and no deployment lists this many.
pub const MAX_AVAILABLE_VERSIONS: usize = 64;

/// The server's preferred address (RFC 9000 §18.2, Figure 22).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreferredAddress {
    /// IPv4 address and port (0.0.0.0:0 when absent).
    pub ipv4: SocketAddrV4,
    /// IPv6 address and port ([::]:0 when absent).
    pub ipv6: SocketAddrV6,
    /// Connection ID with sequence number 1 (never empty).
    pub cid: ConnectionId,
    /// Its stateless reset token.
    pub reset_token: [u8; 16],
}

/// The version_information parameter (RFC 9368 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInformation {
    /// The version the sender chose.
    pub chosen: u32,
    /// The versions the sender supports (client: compatible with its first
    /// flight, in preference order; server: fully deployed).
    pub available: Vec<u32>,
}

/// All transport parameters, with RFC 9000 defaults for absent ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportParameters {
    /// original_destination_connection_id (server only).
    pub original_destination_connection_id: Option<ConnectionId>,
    /// max_idle_timeout in milliseconds; 0 = none.
    pub max_idle_timeout: u64,
    /// stateless_reset_token (server only).
    pub stateless_reset_token: Option<[u8; 16]>,
    /// max_udp_payload_size; default 65527, at least 1200.
    pub max_udp_payload_size: u64,
    /// initial_max_data.
    pub initial_max_data: u64,
    /// initial_max_stream_data_bidi_local.
    pub initial_max_stream_data_bidi_local: u64,
    /// initial_max_stream_data_bidi_remote.
    pub initial_max_stream_data_bidi_remote: u64,
    /// initial_max_stream_data_uni.
    pub initial_max_stream_data_uni: u64,
    /// initial_max_streams_bidi; at most 2^60.
    pub initial_max_streams_bidi: u64,
    /// initial_max_streams_uni; at most 2^60.
    pub initial_max_streams_uni: u64,
    /// ack_delay_exponent; default 3, at most 20.
    pub ack_delay_exponent: u64,
    /// max_ack_delay in milliseconds; default 25, below 2^14.
    pub max_ack_delay: u64,
    /// disable_active_migration.
    pub disable_active_migration: bool,
    /// preferred_address (server only).
    pub preferred_address: Option<PreferredAddress>,
    /// active_connection_id_limit; default 2, at least 2.
    pub active_connection_id_limit: u64,
    /// initial_source_connection_id.
    pub initial_source_connection_id: Option<ConnectionId>,
    /// retry_source_connection_id (server only).
    pub retry_source_connection_id: Option<ConnectionId>,
    /// max_datagram_frame_size; absent = DATAGRAM not supported.
    pub max_datagram_frame_size: Option<u64>,
    /// version_information.
    pub version_information: Option<VersionInformation>,
    /// grease_quic_bit: the sender accepts packets with the fixed bit 0.
    pub grease_quic_bit: bool,
}

impl Default for TransportParameters {
    fn default() -> Self {
        Self {
            original_destination_connection_id: None,
            max_idle_timeout: 0,
            stateless_reset_token: None,
            max_udp_payload_size: 65_527,
            initial_max_data: 0,
            initial_max_stream_data_bidi_local: 0,
            initial_max_stream_data_bidi_remote: 0,
            initial_max_stream_data_uni: 0,
            initial_max_streams_bidi: 0,
            initial_max_streams_uni: 0,
            ack_delay_exponent: 3,
            max_ack_delay: 25,
            disable_active_migration: false,
            preferred_address: None,
            active_connection_id_limit: 2,
            initial_source_connection_id: None,
            retry_source_connection_id: None,
            max_datagram_frame_size: None,
            version_information: None,
            grease_quic_bit: false,
        }
    }
}

fn tp_error(reason: &'static str) -> TransportError {
    TransportError::transport_parameter(reason)
}

/// Which known parameters were seen, to refuse duplicates (RFC 9000 §7.4).
fn seen_bit(pid: u64) -> Option<u64> {
    match pid {
        0x00..=0x11 => Some(1 << pid),
        id::MAX_DATAGRAM_FRAME_SIZE => Some(1 << 20),
        id::GREASE_QUIC_BIT => Some(1 << 21),
        _ => None,
    }
}

impl TransportParameters {
    /// True when none of the limits 0-RTT relies on (RFC 9000 §7.4.1, and
    /// RFC 9221 §3 for DATAGRAM) is lower here than in `remembered`.
    pub fn keeps_zero_rtt_limits(&self, remembered: &TransportParameters) -> bool {
        let r = remembered;
        self.initial_max_data >= r.initial_max_data
            && self.initial_max_stream_data_bidi_local >= r.initial_max_stream_data_bidi_local
            && self.initial_max_stream_data_bidi_remote >= r.initial_max_stream_data_bidi_remote
            && self.initial_max_stream_data_uni >= r.initial_max_stream_data_uni
            && self.initial_max_streams_bidi >= r.initial_max_streams_bidi
            && self.initial_max_streams_uni >= r.initial_max_streams_uni
            && self.active_connection_id_limit >= r.active_connection_id_limit
            && self.max_datagram_frame_size.unwrap_or(0) >= r.max_datagram_frame_size.unwrap_or(0)
    }

    /// Decodes the parameters `sender` sent, validating each.
    pub fn decode(bytes: &[u8], sender: Side) -> Result<Self, TransportError> {
        let mut tp = TransportParameters::default();
        let mut r = Reader::new(bytes);
        let mut seen = 0u64;
        while !r.is_empty() {
            let pid = r
                .varint()
                .ok_or_else(|| tp_error("truncated parameter id"))?;
            let value = r
                .varint_prefixed()
                .ok_or_else(|| tp_error("truncated parameter value"))?;
            if let Some(bit) = seen_bit(pid) {
                if seen & bit != 0 {
                    return Err(tp_error("duplicate transport parameter"));
                }
                seen |= bit;
            }
            tp.decode_one(pid, value, sender)?;
        }
        Ok(tp)
    }

    fn decode_one(&mut self, pid: u64, value: &[u8], sender: Side) -> Result<(), TransportError> {
        let server_only = matches!(
            pid,
            id::ORIGINAL_DESTINATION_CONNECTION_ID
                | id::STATELESS_RESET_TOKEN
                | id::PREFERRED_ADDRESS
                | id::RETRY_SOURCE_CONNECTION_ID
        );
        // RFC 9000 §18.2: a server MUST treat a server-only parameter from a
        // client as a TRANSPORT_PARAMETER_ERROR.
        if server_only && sender == Side::Client {
            return Err(tp_error("server-only transport parameter sent by client"));
        }
        match pid {
            id::ORIGINAL_DESTINATION_CONNECTION_ID => {
                self.original_destination_connection_id = Some(cid(value)?)
            }
            id::MAX_IDLE_TIMEOUT => self.max_idle_timeout = int(value)?,
            id::STATELESS_RESET_TOKEN => {
                self.stateless_reset_token = Some(
                    value
                        .try_into()
                        .map_err(|_| tp_error("stateless_reset_token is not 16 bytes"))?,
                )
            }
            id::MAX_UDP_PAYLOAD_SIZE => {
                self.max_udp_payload_size = int(value)?;
                if self.max_udp_payload_size < 1200 {
                    return Err(tp_error("max_udp_payload_size below 1200"));
                }
            }
            id::INITIAL_MAX_DATA => self.initial_max_data = int(value)?,
            id::INITIAL_MAX_STREAM_DATA_BIDI_LOCAL => {
                self.initial_max_stream_data_bidi_local = int(value)?
            }
            id::INITIAL_MAX_STREAM_DATA_BIDI_REMOTE => {
                self.initial_max_stream_data_bidi_remote = int(value)?
            }
            id::INITIAL_MAX_STREAM_DATA_UNI => self.initial_max_stream_data_uni = int(value)?,
            id::INITIAL_MAX_STREAMS_BIDI | id::INITIAL_MAX_STREAMS_UNI => {
                let n = int(value)?;
                // RFC 9000 §4.6.
                if n > MAX_STREAMS_LIMIT {
                    return Err(tp_error("initial_max_streams above 2^60"));
                }
                if pid == id::INITIAL_MAX_STREAMS_BIDI {
                    self.initial_max_streams_bidi = n;
                } else {
                    self.initial_max_streams_uni = n;
                }
            }
            id::ACK_DELAY_EXPONENT => {
                self.ack_delay_exponent = int(value)?;
                if self.ack_delay_exponent > 20 {
                    return Err(tp_error("ack_delay_exponent above 20"));
                }
            }
            id::MAX_ACK_DELAY => {
                self.max_ack_delay = int(value)?;
                if self.max_ack_delay >= 1 << 14 {
                    return Err(tp_error("max_ack_delay of 2^14 or more"));
                }
            }
            id::DISABLE_ACTIVE_MIGRATION => {
                if !value.is_empty() {
                    return Err(tp_error("disable_active_migration is not empty"));
                }
                self.disable_active_migration = true;
            }
            id::PREFERRED_ADDRESS => self.preferred_address = Some(preferred_address(value)?),
            id::ACTIVE_CONNECTION_ID_LIMIT => {
                self.active_connection_id_limit = int(value)?;
                if self.active_connection_id_limit < 2 {
                    return Err(tp_error("active_connection_id_limit below 2"));
                }
            }
            id::INITIAL_SOURCE_CONNECTION_ID => {
                self.initial_source_connection_id = Some(cid(value)?)
            }
            id::RETRY_SOURCE_CONNECTION_ID => self.retry_source_connection_id = Some(cid(value)?),
            id::VERSION_INFORMATION => {
                self.version_information = Some(version_information(value, sender)?)
            }
            id::MAX_DATAGRAM_FRAME_SIZE => self.max_datagram_frame_size = Some(int(value)?),
            id::GREASE_QUIC_BIT => {
                if !value.is_empty() {
                    return Err(tp_error("grease_quic_bit is not empty"));
                }
                self.grease_quic_bit = true;
            }
            _ => {} // RFC 9000 §18.1: unknown parameters are ignored.
        }
        Ok(())
    }

    /// Encodes the parameters; values equal to the default are left out.
    /// Every value must already be valid (a local configuration is checked
    /// when it is set).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let d = TransportParameters::default();
        let put_bytes = |out: &mut Vec<u8>, pid: u64, v: &[u8]| {
            varint::write(out, pid);
            varint::write(out, v.len() as u64);
            out.extend_from_slice(v);
        };
        let put_int = |out: &mut Vec<u8>, pid: u64, v: u64, default: u64| {
            if v != default {
                varint::write(out, pid);
                varint::write(out, varint::encoded_len(v).unwrap_or(8) as u64);
                varint::write(out, v);
            }
        };
        if let Some(c) = &self.original_destination_connection_id {
            put_bytes(out, id::ORIGINAL_DESTINATION_CONNECTION_ID, c);
        }
        put_int(
            out,
            id::MAX_IDLE_TIMEOUT,
            self.max_idle_timeout,
            d.max_idle_timeout,
        );
        if let Some(t) = &self.stateless_reset_token {
            put_bytes(out, id::STATELESS_RESET_TOKEN, t);
        }
        put_int(
            out,
            id::MAX_UDP_PAYLOAD_SIZE,
            self.max_udp_payload_size,
            d.max_udp_payload_size,
        );
        put_int(out, id::INITIAL_MAX_DATA, self.initial_max_data, 0);
        put_int(
            out,
            id::INITIAL_MAX_STREAM_DATA_BIDI_LOCAL,
            self.initial_max_stream_data_bidi_local,
            0,
        );
        put_int(
            out,
            id::INITIAL_MAX_STREAM_DATA_BIDI_REMOTE,
            self.initial_max_stream_data_bidi_remote,
            0,
        );
        put_int(
            out,
            id::INITIAL_MAX_STREAM_DATA_UNI,
            self.initial_max_stream_data_uni,
            0,
        );
        put_int(
            out,
            id::INITIAL_MAX_STREAMS_BIDI,
            self.initial_max_streams_bidi,
            0,
        );
        put_int(
            out,
            id::INITIAL_MAX_STREAMS_UNI,
            self.initial_max_streams_uni,
            0,
        );
        put_int(out, id::ACK_DELAY_EXPONENT, self.ack_delay_exponent, 3);
        put_int(out, id::MAX_ACK_DELAY, self.max_ack_delay, 25);
        if self.disable_active_migration {
            put_bytes(out, id::DISABLE_ACTIVE_MIGRATION, &[]);
        }
        if let Some(pa) = &self.preferred_address {
            let mut v = Vec::with_capacity(41 + pa.cid.len());
            v.extend_from_slice(&pa.ipv4.ip().octets());
            v.extend_from_slice(&pa.ipv4.port().to_be_bytes());
            v.extend_from_slice(&pa.ipv6.ip().octets());
            v.extend_from_slice(&pa.ipv6.port().to_be_bytes());
            v.push(pa.cid.len() as u8);
            v.extend_from_slice(&pa.cid);
            v.extend_from_slice(&pa.reset_token);
            put_bytes(out, id::PREFERRED_ADDRESS, &v);
        }
        put_int(
            out,
            id::ACTIVE_CONNECTION_ID_LIMIT,
            self.active_connection_id_limit,
            2,
        );
        if let Some(c) = &self.initial_source_connection_id {
            put_bytes(out, id::INITIAL_SOURCE_CONNECTION_ID, c);
        }
        if let Some(c) = &self.retry_source_connection_id {
            put_bytes(out, id::RETRY_SOURCE_CONNECTION_ID, c);
        }
        if let Some(vi) = &self.version_information {
            let mut v = Vec::with_capacity(4 * (1 + vi.available.len()));
            v.extend_from_slice(&vi.chosen.to_be_bytes());
            for a in &vi.available {
                v.extend_from_slice(&a.to_be_bytes());
            }
            put_bytes(out, id::VERSION_INFORMATION, &v);
        }
        if let Some(m) = self.max_datagram_frame_size {
            varint::write(out, id::MAX_DATAGRAM_FRAME_SIZE);
            varint::write(out, varint::encoded_len(m).unwrap_or(8) as u64);
            varint::write(out, m);
        }
        if self.grease_quic_bit {
            put_bytes(out, id::GREASE_QUIC_BIT, &[]);
        }
    }
}

/// An integer parameter: exactly one varint filling the value.
fn int(value: &[u8]) -> Result<u64, TransportError> {
    let mut r = Reader::new(value);
    match r.varint() {
        Some(v) if r.is_empty() => Ok(v),
        _ => Err(tp_error("malformed integer parameter")),
    }
}

fn cid(value: &[u8]) -> Result<ConnectionId, TransportError> {
    ConnectionId::new(value).ok_or_else(|| tp_error("connection ID longer than 20 bytes"))
}

fn preferred_address(value: &[u8]) -> Result<PreferredAddress, TransportError> {
    let bad = || tp_error("malformed preferred_address");
    let mut r = Reader::new(value);
    let v4 = r.array::<4>().ok_or_else(bad)?;
    let v4_port = r.u16().ok_or_else(bad)?;
    let v6 = r.array::<16>().ok_or_else(bad)?;
    let v6_port = r.u16().ok_or_else(bad)?;
    let cid_bytes = r.u8_prefixed().ok_or_else(bad)?;
    let reset_token = r.array::<16>().ok_or_else(bad)?;
    if !r.is_empty() {
        return Err(bad());
    }
    // RFC 9000 §18.2: a zero-length connection ID here is an error.
    if cid_bytes.is_empty() {
        return Err(tp_error("preferred_address with an empty connection ID"));
    }
    Ok(PreferredAddress {
        ipv4: SocketAddrV4::new(Ipv4Addr::from(v4), v4_port),
        ipv6: SocketAddrV6::new(Ipv6Addr::from(v6), v6_port, 0, 0),
        cid: cid(cid_bytes)?,
        reset_token,
    })
}

/// RFC 9368 §4: too short, not a multiple of 4, a zero version, or (from a
/// client) a Chosen Version missing from Available Versions are parsing
/// failures.
fn version_information(value: &[u8], sender: Side) -> Result<VersionInformation, TransportError> {
    if value.len() < 4 || value.len() % 4 != 0 {
        return Err(tp_error("version_information length"));
    }
    let mut words = value
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    let chosen = words.next().unwrap_or(0);
    if chosen == 0 {
        return Err(tp_error("version_information chosen version is 0"));
    }
    let mut available = Vec::new();
    let mut chosen_listed = false;
    for v in words {
        if v == 0 {
            return Err(tp_error("version_information lists version 0"));
        }
        chosen_listed |= v == chosen;
        if available.len() < MAX_AVAILABLE_VERSIONS {
            available.push(v);
        }
    }
    if sender == Side::Client && !chosen_listed {
        return Err(tp_error("chosen version not among available versions"));
    }
    // A long list is kept short, but never without the chosen version it
    // listed (found by fuzzing: re-encoded, it failed the check above).
    if chosen_listed && !available.contains(&chosen) {
        available.push(chosen);
    }
    Ok(VersionInformation { chosen, available })
}

#[cfg(test)]
mod tests;
