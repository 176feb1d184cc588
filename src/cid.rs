//! Connection IDs (RFC 9000 §5.1): up to 20 bytes, stored inline.

use std::fmt;
use std::ops::Deref;

use crate::packet::MAX_CID_LEN;

/// A connection ID of 0..=20 bytes. Copyable, no allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ConnectionId {
    len: u8,
    bytes: [u8; MAX_CID_LEN],
}

impl ConnectionId {
    /// Copies `bytes`; `None` when longer than 20 bytes.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        if bytes.len() > MAX_CID_LEN {
            return None;
        }
        let mut cid = ConnectionId {
            len: bytes.len() as u8,
            bytes: [0; MAX_CID_LEN],
        };
        cid.bytes[..bytes.len()].copy_from_slice(bytes);
        Some(cid)
    }
}

impl Deref for ConnectionId {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.iter() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_up_to_twenty_bytes() {
        let c = ConnectionId::new(&[1, 2, 3]).unwrap();
        assert_eq!(&*c, &[1, 2, 3]);
        assert_eq!(format!("{c:?}"), "010203");
        assert!(ConnectionId::new(&[0; 20]).is_some());
        assert!(ConnectionId::new(&[0; 21]).is_none());
        assert!(ConnectionId::default().is_empty());
    }
}
