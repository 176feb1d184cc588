//! Stream bytes a packet takes straight from the send buffer when it is
//! sealed. A STREAM frame's data is not copied into the packet being built:
//! its place there is reserved, and the AEAD reads the bytes from the
//! stream's own buffer and writes the ciphertext into that place. One copy
//! of every byte sent (a memcpy of the whole payload) is saved.

use bytes::Bytes;

/// Runs shorter than this are copied as they are written: a separate AEAD
/// update costs more than copying a few bytes.
pub(crate) const MIN_DEFERRED: usize = 128;

/// Runs one packet defers at most; later runs of the packet are copied.
const MAX_RUNS: usize = 4;

/// The deferred runs of one packet, in the order they were written.
#[derive(Debug, Default)]
pub(crate) struct DeferredData {
    /// Where each run goes: its offset in the datagram being built.
    at: [usize; MAX_RUNS],
    data: [Bytes; MAX_RUNS],
    len: usize,
}

impl DeferredData {
    /// Appends `data` to `out`: deferred (its place in `out` reserved, as
    /// zeros until sealing) when it is long enough and a slot is free,
    /// copied otherwise.
    pub(crate) fn put(&mut self, out: &mut Vec<u8>, data: Bytes) {
        if data.len() < MIN_DEFERRED || self.len == MAX_RUNS {
            out.extend_from_slice(&data);
            return;
        }
        self.at[self.len] = out.len();
        out.resize(out.len() + data.len(), 0);
        self.data[self.len] = data;
        self.len += 1;
    }

    /// True when the run will be deferred by [`DeferredData::put`]; lets a
    /// caller avoid preparing a `Bytes` for a run that would be copied.
    pub(crate) fn would_defer(&self, len: usize) -> bool {
        len >= MIN_DEFERRED && self.len < MAX_RUNS
    }

    /// Every run, as (offset from `start`, bytes), in increasing order:
    /// `start` is where the packet that holds them begins. A run that is
    /// not within that packet's payload makes sealing fail.
    pub(crate) fn runs_from(&self, start: usize) -> Runs<'_> {
        let mut runs = Runs {
            items: [(0, &[]); MAX_RUNS],
            len: self.len,
        };
        for (r, (at, data)) in runs.items.iter_mut().zip(self.at.iter().zip(&self.data)) {
            *r = (at.wrapping_sub(start), data);
        }
        runs
    }

    /// Copies every run into its place in `out` (the datagram as built):
    /// the plaintext as it will be sealed.
    #[cfg(test)]
    pub(crate) fn fill(&self, out: &mut [u8]) {
        for (at, data) in self.at[..self.len].iter().zip(&self.data) {
            out[*at..at + data.len()].copy_from_slice(data);
        }
    }
}

/// Runs of one packet, relative to its start ([`DeferredData::runs_from`]).
#[derive(Debug)]
pub(crate) struct Runs<'a> {
    items: [(usize, &'a [u8]); MAX_RUNS],
    len: usize,
}

impl<'a> Runs<'a> {
    /// The runs as the sealing code takes them.
    pub(crate) fn as_slice(&self) -> &[(usize, &'a [u8])] {
        &self.items[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_runs_are_deferred_short_ones_copied_and_fill_restores_them() {
        let mut d = DeferredData::default();
        let mut out = b"hdr".to_vec();
        let long = Bytes::from(vec![7u8; MIN_DEFERRED]);
        d.put(&mut out, long.clone());
        d.put(&mut out, Bytes::from_static(b"short"));
        d.put(&mut out, Bytes::from(vec![9u8; 300]));
        assert_eq!(out.len(), 3 + MIN_DEFERRED + 5 + 300);
        assert!(out[3..3 + MIN_DEFERRED].iter().all(|b| *b == 0), "reserved");
        assert_eq!(&out[3 + MIN_DEFERRED..3 + MIN_DEFERRED + 5], b"short");
        let runs = d.runs_from(0);
        assert_eq!(runs.as_slice().len(), 2);
        assert_eq!(runs.as_slice()[1].0, 3 + MIN_DEFERRED + 5);
        let mut want = b"hdr".to_vec();
        want.extend_from_slice(&long);
        want.extend_from_slice(b"short");
        want.extend_from_slice(&[9u8; 300]);
        d.fill(&mut out);
        assert_eq!(out, want);
        // Relative to the packet's start.
        assert_eq!(d.runs_from(2).as_slice()[0].0, 1);
    }

    #[test]
    fn a_full_list_copies() {
        let mut d = DeferredData::default();
        let mut out = Vec::new();
        for i in 0..MAX_RUNS + 2 {
            d.put(&mut out, Bytes::from(vec![i as u8 + 1; MIN_DEFERRED]));
        }
        let runs = d.runs_from(0);
        assert_eq!(runs.as_slice().len(), MAX_RUNS);
        let tail = &out[MAX_RUNS * MIN_DEFERRED..];
        assert!(tail[..MIN_DEFERRED]
            .iter()
            .all(|b| *b == MAX_RUNS as u8 + 1));
        assert!(tail[MIN_DEFERRED..]
            .iter()
            .all(|b| *b == MAX_RUNS as u8 + 2));
    }
}
