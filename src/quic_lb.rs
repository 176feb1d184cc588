//! Connection IDs a stateless load balancer routes by, after QUIC-LB
//! (draft-ietf-quic-load-balancers-21) without a key: the server ID in
//! plain text right after the first octet, then a random nonce.
//!
//! The draft's CID format (§5.2):
//!
//! ```text
//! QUIC-LB Connection ID {
//!     First Octet (8),        // Config Rotation (3), CID Len (5)
//!     Plaintext Block (40..152),
//! }
//! Plaintext Block {
//!     Server ID (8..),
//!     Nonce (32..),
//! }
//! ```
//!
//! A load balancer that knows the server ID length reads the server ID
//! from any packet's destination CID, so a connection stays on its server
//! whatever address the client moves to. Without a key an observer can
//! read the server ID too (§5.3: it "significantly increas[es] the
//! linkability of QUIC address migration"); the nonce is random, so two
//! IDs of one server are not otherwise linkable.

use crate::config::ConfigError;

/// The first-octet codepoint of servers without a configuration (§3.2):
/// never a configuration's.
pub const UNROUTABLE_CONFIG_ROTATION: u8 = 0b111;

/// The fewest nonce bytes (§5.3: "The nonce length MUST be at least 4
/// octets").
pub const MIN_NONCE_LEN: usize = 4;

/// Server ID and nonce together at most (§5.3: "the server ID and nonce
/// lengths MUST sum to 19 octets or less").
pub const MAX_PLAINTEXT_BLOCK: usize = 19;

/// One server's QUIC-LB configuration in plaintext mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuicLbConfig {
    config_rotation: u8,
    server_id: Vec<u8>,
    nonce_len: usize,
}

impl QuicLbConfig {
    /// `server_id` (at least one byte, as the fleet's configuration agent
    /// assigned it) under configuration `config_rotation` (0 to 6), with
    /// `nonce_len` random bytes after it (at least 4; the two together at
    /// most 19).
    pub fn new(
        config_rotation: u8,
        server_id: &[u8],
        nonce_len: usize,
    ) -> Result<Self, ConfigError> {
        // §3.1: "A configuration MUST NOT use the reserved identifier
        // 0b111".
        if config_rotation >= UNROUTABLE_CONFIG_ROTATION {
            return Err(ConfigError::Invalid(
                "QUIC-LB config rotation is 0 to 6 (7 means unroutable)".into(),
            ));
        }
        if server_id.is_empty() {
            return Err(ConfigError::Invalid(
                "a QUIC-LB server ID has at least one byte".into(),
            ));
        }
        if nonce_len < MIN_NONCE_LEN {
            return Err(ConfigError::Invalid(
                "a QUIC-LB nonce has at least 4 bytes".into(),
            ));
        }
        if server_id.len().saturating_add(nonce_len) > MAX_PLAINTEXT_BLOCK {
            return Err(ConfigError::Invalid(
                "a QUIC-LB server ID and nonce are 19 bytes at most together".into(),
            ));
        }
        Ok(Self {
            config_rotation,
            server_id: server_id.to_vec(),
            nonce_len,
        })
    }

    /// The length of every connection ID made with it.
    pub fn cid_len(&self) -> usize {
        1 + self.server_id.len() + self.nonce_len
    }

    /// The server ID.
    pub fn server_id(&self) -> &[u8] {
        &self.server_id
    }

    /// Turns `cid`, which arrives holding random bytes, into this
    /// server's: the first octet and the server ID are written, and the
    /// rest stays random (the nonce, §5.4: "bytes that have no observable
    /// relationship to the field in previously issued connection IDs").
    /// Bytes past the nonce, if `cid` is longer, stay random as well
    /// (§5.4 lets a server append its own).
    pub fn fill(&self, cid: &mut [u8]) {
        let sid = self.server_id.len();
        if cid.len() < 1 + sid {
            return; // not ours to shape; the length is checked when set
        }
        // §3.3: the five low bits carry the length of the CID after the
        // first octet (at most 19, which fits).
        cid[0] = (self.config_rotation << 5) | ((cid.len() - 1) as u8 & 0x1f);
        cid[1..1 + sid].copy_from_slice(&self.server_id);
    }
}

/// What a load balancer reads from a destination CID: the configuration
/// and the server ID of `server_id_len` bytes (§5.5: "the load balancer
/// extracts consecutive octets, beginning with the second octet"). None
/// for an unroutable CID (§4.1): the reserved codepoint 0b111, or too
/// short to hold a server ID and a nonce. Which configurations and
/// server IDs are active is the load balancer's to check.
pub fn decode_server_id(cid: &[u8], server_id_len: usize) -> Option<(u8, &[u8])> {
    let config_rotation = *cid.first()? >> 5;
    if config_rotation == UNROUTABLE_CONFIG_ROTATION || server_id_len == 0 {
        return None;
    }
    let needed = server_id_len.checked_add(1 + MIN_NONCE_LEN)?;
    if cid.len() < needed {
        return None;
    }
    Some((config_rotation, &cid[1..1 + server_id_len]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// draft-ietf-quic-load-balancers-21 Appendix B.1 ("Unencrypted
    /// CIDs"), the first vector: cr_bits 0, sid c4605e, nonce 4504cc4f,
    /// cid 07c4605e4504cc4f. (The second vector of that table is
    /// malformed in the draft: a nonce of nine hex digits.)
    #[test]
    fn the_drafts_plaintext_vector() {
        let lb = QuicLbConfig::new(0, &hex("c4605e"), 4).unwrap();
        assert_eq!(lb.cid_len(), 8);
        let mut cid = [0xffu8; 8];
        cid[4..].copy_from_slice(&hex("4504cc4f"));
        lb.fill(&mut cid);
        assert_eq!(cid.to_vec(), hex("07c4605e4504cc4f"));
        let want = hex("c4605e");
        assert_eq!(
            decode_server_id(&hex("07c4605e4504cc4f"), 3),
            Some((0, &want[..]))
        );
    }

    #[test]
    fn the_config_rotation_bits_and_length_lead_the_first_octet() {
        let lb = QuicLbConfig::new(5, &[0x01, 0x02], 15).unwrap();
        assert_eq!(lb.cid_len(), 18);
        let mut cid = [0u8; 18];
        lb.fill(&mut cid);
        assert_eq!(cid[0], (5 << 5) | 17);
        assert_eq!(decode_server_id(&cid, 2), Some((5, &[1u8, 2][..])));
    }

    #[test]
    fn configurations_the_draft_forbids_are_refused() {
        assert!(QuicLbConfig::new(7, &[1], 4).is_err(), "0b111 is reserved");
        assert!(QuicLbConfig::new(0, &[], 8).is_err(), "a server ID");
        assert!(QuicLbConfig::new(0, &[1], 3).is_err(), "a short nonce");
        assert!(QuicLbConfig::new(0, &[1; 15], 5).is_err(), "over 19 bytes");
        assert!(QuicLbConfig::new(0, &[1], usize::MAX).is_err(), "no wrap");
        assert!(QuicLbConfig::new(6, &[1; 15], 4).is_ok());
    }

    #[test]
    fn unroutable_cids_give_no_server_id() {
        assert_eq!(decode_server_id(&[0xe7, 1, 2, 3, 4, 5, 6, 7], 3), None);
        assert_eq!(decode_server_id(&[0x07, 1, 2, 3, 4, 5, 6], 3), None);
        assert_eq!(decode_server_id(&[], 1), None);
        assert_eq!(decode_server_id(&[0x07; 8], 0), None);
        assert_eq!(decode_server_id(&[0x07; 8], usize::MAX), None);
        assert_eq!(
            decode_server_id(&[0x07; 8], usize::MAX - 4),
            None,
            "no wrap"
        );
    }
}
