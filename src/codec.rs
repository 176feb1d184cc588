//! A bounds-checked cursor over received bytes.
//!
//! Every read returns `None` when the input is too short, so parsers turn a
//! truncated packet into a typed error instead of a panic.

use crate::varint;

/// Reads big-endian integers, varints and byte runs from a slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when every byte was consumed.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next `n` bytes, or `None` when fewer remain.
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    /// Everything not yet consumed.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    /// Consumes the run of `byte` at the cursor; returns its length. One
    /// scan over the slice, not a call per byte (a padded Initial carries
    /// about a thousand PADDING bytes).
    pub fn skip_run(&mut self, byte: u8) -> usize {
        let rest = &self.buf[self.pos..];
        let n = rest.iter().position(|&b| b != byte).unwrap_or(rest.len());
        self.pos += n;
        n
    }

    /// The next byte without consuming it.
    pub fn peek_u8(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// One byte.
    pub fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }

    /// A big-endian 16-bit integer.
    pub fn u16(&mut self) -> Option<u16> {
        self.array::<2>().map(u16::from_be_bytes)
    }

    /// A big-endian 32-bit integer.
    pub fn u32(&mut self) -> Option<u32> {
        self.array::<4>().map(u32::from_be_bytes)
    }

    /// A fixed-size array of bytes.
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N).and_then(|b| b.try_into().ok())
    }

    /// A QUIC variable-length integer (RFC 9000 §16).
    pub fn varint(&mut self) -> Option<u64> {
        let first = *self.buf.get(self.pos)?;
        let len = varint::encoded_len_from_first_byte(first);
        let raw = self.bytes(len)?;
        Some(varint::decode_exact(raw))
    }

    /// A varint that also reports how many bytes it took (frame types must be
    /// minimally encoded, RFC 9000 §12.4).
    pub fn varint_with_len(&mut self) -> Option<(u64, usize)> {
        let start = self.pos;
        let v = self.varint()?;
        Some((v, self.pos - start))
    }

    /// A byte run preceded by its varint length.
    pub fn varint_prefixed(&mut self) -> Option<&'a [u8]> {
        let len = self.varint()?;
        self.bytes(usize::try_from(len).ok()?)
    }

    /// A byte run preceded by an 8-bit length.
    pub fn u8_prefixed(&mut self) -> Option<&'a [u8]> {
        let len = self.u8()?;
        self.bytes(usize::from(len))
    }
}

/// FNV-1a, 64 bits: a checksum that catches storage damage in blobs the
/// application keeps for us (tickets, tokens); not a defence against
/// deliberate edits, which only the application could make to its data.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A blob the application stores for us and hands back later: a 4-byte
/// magic, a format byte, the fields, then a 64-bit checksum of all before
/// it, so a blob damaged in storage reads as none.
pub(crate) struct Blob(Vec<u8>);

impl Blob {
    /// Starts a blob of this kind and format.
    pub(crate) fn new(magic: &[u8; 4], format: u8) -> Self {
        let mut v = magic.to_vec();
        v.push(format);
        Self(v)
    }

    /// Appends raw bytes.
    pub(crate) fn put(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// Appends bytes after their u8 length; None when longer than 255.
    pub(crate) fn put_u8_prefixed(&mut self, bytes: &[u8]) -> Option<()> {
        self.0.push(u8::try_from(bytes.len()).ok()?);
        self.put(bytes);
        Some(())
    }

    /// Appends bytes after their u16 length; None when too long.
    pub(crate) fn put_u16_prefixed(&mut self, bytes: &[u8]) -> Option<()> {
        self.put(&u16::try_from(bytes.len()).ok()?.to_be_bytes());
        self.put(bytes);
        Some(())
    }

    /// The blob, checksum appended.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let sum = fnv1a(&self.0);
        self.0.extend_from_slice(&sum.to_be_bytes());
        self.0
    }

    /// A reader over the fields of a blob of this kind and format; None
    /// for anything else or a damaged one.
    pub(crate) fn fields<'a>(bytes: &'a [u8], magic: &[u8; 4], format: u8) -> Option<Reader<'a>> {
        let (body, sum) = bytes.split_at_checked(bytes.len().checked_sub(8)?)?;
        if fnv1a(body).to_be_bytes() != sum {
            return None;
        }
        let mut r = Reader::new(body);
        (r.bytes(4)? == magic && r.u8()? == format).then_some(r)
    }
}

/// Reads bytes after their u16 length.
pub(crate) fn u16_prefixed<'a>(r: &mut Reader<'a>) -> Option<&'a [u8]> {
    let n = usize::from(r.u16()?);
    r.bytes(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_end() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16(), Some(0x0102));
        assert_eq!(r.u16(), None);
        assert_eq!(r.position(), 2, "a failed read consumes nothing");
        assert_eq!(r.u8(), Some(3));
        assert!(r.is_empty());
        assert_eq!(r.bytes(usize::MAX), None);
    }

    #[test]
    fn prefixed_runs() {
        let mut r = Reader::new(&[2, 0xaa, 0xbb, 0x40, 0x01, 0xcc]);
        assert_eq!(r.u8_prefixed(), Some(&[0xaa, 0xbb][..]));
        assert_eq!(r.varint_prefixed(), Some(&[0xcc][..]));
        let mut r = Reader::new(&[5, 1]);
        assert_eq!(r.u8_prefixed(), None);
    }
}
