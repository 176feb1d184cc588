//! The packets of one space awaiting acknowledgement, indexed by packet
//! number. Packet numbers only grow (RFC 9000 §12.3), so a deque whose
//! front is the oldest outstanding packet finds any packet by subtraction:
//! no tree to rebalance and no allocation per packet in steady state.

use std::collections::VecDeque;

use super::SentPacket;

/// Outstanding packets: slot `i` holds packet number `first + i`, or None
/// once it was acknowledged or declared lost. The front slot is never None.
#[derive(Debug)]
pub(crate) struct SentPackets<T> {
    slots: VecDeque<Option<SentPacket<T>>>,
    first: u64,
}

impl<T> Default for SentPackets<T> {
    fn default() -> Self {
        Self {
            slots: VecDeque::new(),
            first: 0,
        }
    }
}

impl<T> SentPackets<T> {
    /// Adds a packet numbered above every packet added before.
    pub(crate) fn insert(&mut self, pkt: SentPacket<T>) {
        if self.slots.is_empty() {
            self.first = pkt.pn;
        }
        let end = self.first + self.slots.len() as u64;
        debug_assert!(pkt.pn >= end, "packet numbers only grow");
        // Numbers we skipped (none today) leave empty slots.
        for _ in end..pkt.pn {
            self.slots.push_back(None);
        }
        self.slots.push_back(Some(pkt));
    }

    /// Removes and returns packet `pn` if it is held.
    pub(crate) fn remove(&mut self, pn: u64) -> Option<SentPacket<T>> {
        let i = usize::try_from(pn.checked_sub(self.first)?).ok()?;
        let pkt = self.slots.get_mut(i)?.take()?;
        self.trim_front();
        Some(pkt)
    }

    /// Keeps the front slot occupied.
    fn trim_front(&mut self) {
        while matches!(self.slots.front(), Some(None)) {
            self.slots.pop_front();
            self.first += 1;
        }
    }

    /// Removes the packets numbered `lo..=hi`, appending them to `out` in
    /// packet-number order.
    pub(crate) fn remove_range(&mut self, lo: u64, hi: u64, out: &mut Vec<SentPacket<T>>) {
        if self.slots.is_empty() || hi < self.first {
            return;
        }
        let end = self.first + self.slots.len() as u64;
        for pn in lo.max(self.first)..=hi.min(end - 1) {
            let i = (pn - self.first) as usize;
            if let Some(p) = self.slots[i].take() {
                out.push(p);
            }
        }
        self.trim_front();
    }

    /// The held packets numbered at most `max`, oldest first.
    pub(crate) fn up_to(&self, max: u64) -> impl Iterator<Item = &SentPacket<T>> + '_ {
        let n = match max.checked_sub(self.first) {
            Some(d) => (d.saturating_add(1)).min(self.slots.len() as u64) as usize,
            None => 0,
        };
        self.slots.range(..n).flatten()
    }

    /// Every held packet, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &SentPacket<T>> + '_ {
        self.slots.iter().flatten()
    }

    /// Removes every held packet.
    pub(crate) fn drain(&mut self) -> Vec<SentPacket<T>> {
        self.first = 0;
        self.slots.drain(..).flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(pn: u64) -> SentPacket<u64> {
        SentPacket {
            pn,
            time_sent: pn * 10,
            size: 1200,
            ack_eliciting: true,
            in_flight: true,
            ecn: false,
            data: pn,
        }
    }

    fn pns<'a>(it: impl Iterator<Item = &'a SentPacket<u64>>) -> Vec<u64> {
        it.map(|p| p.pn).collect()
    }

    #[test]
    fn finds_removes_and_ranges_by_packet_number() {
        let mut s = SentPackets::default();
        for pn in [5, 6, 7, 9, 10] {
            s.insert(pkt(pn));
        }
        assert_eq!(pns(s.iter()), [5, 6, 7, 9, 10]);
        assert_eq!(pns(s.up_to(8)), [5, 6, 7]);
        assert_eq!(pns(s.up_to(4)), Vec::<u64>::new());
        assert_eq!(pns(s.up_to(u64::MAX)), [5, 6, 7, 9, 10]);
        assert!(s.remove(8).is_none(), "skipped number");
        assert!(s.remove(4).is_none() && s.remove(11).is_none());
        assert_eq!(s.remove(6).map(|p| p.data), Some(6));
        assert!(s.remove(6).is_none(), "removed once");
        let mut out = Vec::new();
        s.remove_range(0, 9, &mut out);
        assert_eq!(pns(out.iter()), [5, 7, 9]);
        assert_eq!(pns(s.iter()), [10]);
        // The front moved past the removed packets.
        assert_eq!(s.first, 10);
        s.insert(pkt(11));
        out.clear();
        s.remove_range(11, u64::MAX, &mut out);
        assert_eq!(pns(out.iter()), [11]);
        assert_eq!(pns(s.drain().iter()), [10]);
        assert_eq!(s.iter().count(), 0);
        s.insert(pkt(100));
        assert_eq!(pns(s.up_to(100)), [100]);
    }
}
