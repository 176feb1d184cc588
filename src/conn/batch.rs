//! GSO batches (`UDP_SEGMENT`): runs of equal-size datagrams for one
//! destination, each built as a lone datagram is (`send.rs`), so a batch
//! keeps every limit one-at-a-time sending keeps; sealed in place, or
//! straight into the caller's buffer.

use super::{Batch, Connection};

impl Connection {
    /// A GSO batch (`UDP_SEGMENT`): datagrams for one destination written
    /// back to back into `out` (cleared first), all of `segment_size`
    /// bytes but the last, which may be shorter; at most `max_segments` of
    /// them and `max_len` bytes in all. Each is built as
    /// [`Connection::send_on`] builds one, so the batch stays within the
    /// congestion window, the pacer and the anti-amplification limits. A
    /// datagram shorter than the largest, or one for another path, goes
    /// alone. None when there is nothing to send now.
    pub fn send_batch(
        &mut self,
        out: &mut Vec<u8>,
        max_len: usize,
        max_segments: usize,
        now: u64,
    ) -> Option<Batch> {
        self.batch(out, max_len, max_segments, None, now)
    }

    /// [`Connection::send_batch`] into the caller's buffer `dst`: packets
    /// are built in `scratch` and sealed straight into `dst` (no copy of
    /// the datagrams afterwards); the batch is `dst[..scratch.len()]`.
    pub fn send_batch_into(
        &mut self,
        scratch: &mut Vec<u8>,
        dst: &mut [u8],
        max_segments: usize,
        now: u64,
    ) -> Option<Batch> {
        let max_len = dst.len();
        self.batch(scratch, max_len, max_segments, Some(dst), now)
    }

    /// The body of the batch calls; with `dst`, packets are sealed into it
    /// at the offsets they have in `out`.
    fn batch(
        &mut self,
        out: &mut Vec<u8>,
        max_len: usize,
        max_segments: usize,
        mut dst: Option<&mut [u8]>,
        now: u64,
    ) -> Option<Batch> {
        out.clear();
        let transmit = self.next_datagram(out, max_len, None, dst.as_deref_mut(), now)?;
        let segment_size = out.len();
        let mut segments = 1;
        let on_active = transmit.local == self.paths.active.local
            && Some(transmit.remote) == self.paths.active.peer;
        if !on_active || segment_size < self.max_datagram_size() {
            return Some(Batch {
                transmit,
                segment_size,
                segments,
            });
        }
        while segments < max_segments && max_len.saturating_sub(out.len()) >= segment_size {
            let before = out.len();
            if self
                .next_datagram(out, segment_size, Some(transmit), dst.as_deref_mut(), now)
                .is_none()
            {
                break;
            }
            segments += 1;
            if out.len() - before < segment_size {
                break;
            }
        }
        Some(Batch {
            transmit,
            segment_size,
            segments,
        })
    }
}
