//! One connection's trace: records formatted into a bounded buffer and
//! handed to the application's output.

use super::json::{millis, Obj};
use super::{QlogOutput, QlogSink, QlogTrace};

/// Records held for the output at most; past this, new records are
/// dropped (and counted) until the output takes some.
const MAX_PENDING: usize = 1 << 20;
/// Records are handed over as soon as this much waits, not only at the
/// end of a round.
const HAND_OVER_AT: usize = 64 << 10;
/// JSON-SEQ's record separator (RFC 7464).
const RS: u8 = 0x1e;

/// A connection's qlog trace.
pub(crate) struct QlogWriter {
    out: QlogOutput,
    pending: Vec<u8>,
    dropped: u64,
    /// The time of the latest record: records never go back in time
    /// (main schema §7.1).
    last_time: u64,
    /// Values last logged, per slot ([`QlogWriter::changed`]).
    last_values: [u64; VALUE_SLOTS],
    /// What each slot held before its last `changed`.
    previous: [u64; VALUE_SLOTS],
}

/// Slots of values a trace logs only when they change.
const VALUE_SLOTS: usize = 16;

impl std::fmt::Debug for QlogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QlogWriter")
            .field("pending", &self.pending.len())
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

impl QlogWriter {
    /// The trace of the connection `trace` names, if `sink` gives it an
    /// output; its header record is written first (main schema §5).
    pub(crate) fn start(sink: &QlogSink, trace: QlogTrace<'_>) -> Option<Box<Self>> {
        let out = sink(&trace)?;
        let mut w = Box::new(Self {
            out,
            pending: Vec::with_capacity(4096),
            dropped: 0,
            last_time: 0,
            last_values: [u64::MAX; VALUE_SLOTS],
            previous: [u64::MAX; VALUE_SLOTS],
        });
        w.pending.push(RS);
        {
            let mut o = Obj::new(&mut w.pending);
            o.str("file_schema", "urn:ietf:params:qlog:file:sequential")
                .str("serialization_format", "application/qlog+json-seq")
                .str("title", "libquic qlog");
            let mut t = o.obj("trace");
            {
                let mut c = t.obj("common_fields");
                c.hex("group_id", trace.odcid)
                    .str("time_format", "relative_to_epoch");
                // The caller's clock: monotonic, from no known epoch.
                c.obj("reference_time")
                    .str("clock_type", "monotonic")
                    .str("epoch", "unknown");
            }
            t.obj("vantage_point")
                .str("name", "libquic")
                .str("type", if trace.server { "server" } else { "client" });
            t.arr("event_schemas")
                .str("urn:ietf:params:qlog:events:quic");
        }
        w.pending.push(b'\n');
        Some(w)
    }

    /// Appends the event `name` (without its `quic:` namespace) at `now`
    /// (ns of the caller's clock), its data written by `data`.
    pub(crate) fn event(&mut self, now: u64, name: &str, data: impl FnOnce(&mut Obj<'_>)) {
        if self.pending.len() >= HAND_OVER_AT {
            self.hand_over();
        }
        if self.pending.len() >= MAX_PENDING {
            self.dropped = self.dropped.saturating_add(1);
            return;
        }
        self.last_time = self.last_time.max(now);
        let p = &mut self.pending;
        p.push(RS);
        p.extend_from_slice(b"{\"time\":");
        millis(p, self.last_time);
        p.extend_from_slice(b",\"name\":\"quic:");
        p.extend_from_slice(name.as_bytes());
        p.extend_from_slice(b"\",\"data\":");
        data(&mut Obj::new(p));
        p.extend_from_slice(b"}\n");
    }

    /// Hands what waits to the output (the end of a round).
    pub(crate) fn hand_over(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let taken = (self.out)(&self.pending).min(self.pending.len());
        self.pending.drain(..taken);
    }

    /// True when `v` differs from the value last given for `slot` (and
    /// remembers it): metrics are logged when they change.
    pub(crate) fn changed(&mut self, slot: usize, v: u64) -> bool {
        let Some(last) = self.last_values.get_mut(slot) else {
            return true;
        };
        let changed = *last != v;
        self.previous[slot] = *last;
        *last = v;
        changed
    }

    /// True when the last [`QlogWriter::changed`] of `slot` replaced a
    /// value (not the first one given): a change, not the start.
    pub(crate) fn last_was_set(&self, slot: usize) -> bool {
        self.previous.get(slot).is_some_and(|p| *p != u64::MAX)
    }

    /// The value last given for `slot`, if any.
    pub(crate) fn last(&self, slot: usize) -> Option<u64> {
        self.last_values
            .get(slot)
            .copied()
            .filter(|v| *v != u64::MAX)
    }

    /// Records dropped because the output fell behind.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

impl Drop for QlogWriter {
    fn drop(&mut self) {
        self.hand_over();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn sink(store: Arc<Mutex<Vec<u8>>>, take: Arc<Mutex<bool>>) -> QlogSink {
        Arc::new(move |_: &QlogTrace<'_>| {
            let (store, take) = (store.clone(), take.clone());
            let out: QlogOutput = Box::new(move |b: &[u8]| {
                if *take.lock().unwrap() {
                    store.lock().unwrap().extend_from_slice(b);
                    b.len()
                } else {
                    0
                }
            });
            Some(out)
        })
    }

    #[test]
    fn header_first_time_never_goes_back_and_a_stalled_output_costs_bounded_memory() {
        let store = Arc::new(Mutex::new(Vec::new()));
        let take = Arc::new(Mutex::new(false));
        let trace = QlogTrace {
            odcid: &[0xab, 0x01],
            server: true,
        };
        let mut w = QlogWriter::start(&sink(store.clone(), take.clone()), trace).unwrap();
        w.event(5_000_000, "packet_sent", |d| {
            d.u64("n", 1);
        });
        w.event(4_000_000, "packet_sent", |d| {
            d.u64("n", 2);
        });
        // The output refuses: records pile up to the bound, then drop.
        for i in 0..100_000 {
            w.event(6_000_000, "packet_sent", |d| {
                d.u64("n", i);
            });
        }
        assert!(w.pending.len() < MAX_PENDING + 200);
        assert!(w.dropped() > 0);
        *take.lock().unwrap() = true;
        let dropped = w.dropped();
        drop(w);
        let all = store.lock().unwrap().clone();
        let records: Vec<&[u8]> = all.split(|b| *b == RS).skip(1).collect();
        let text = |r: &[u8]| String::from_utf8(r.to_vec()).unwrap();
        assert!(text(records[0]).contains("\"group_id\":\"ab01\""));
        assert!(text(records[0]).contains("\"type\":\"server\""));
        assert_eq!(
            text(records[1]),
            "{\"time\":5,\"name\":\"quic:packet_sent\",\"data\":{\"n\":1}}\n"
        );
        assert!(text(records[2]).starts_with("{\"time\":5,"), "not earlier");
        assert_eq!(records.len() as u64 - 1, 100_002 - dropped);
        assert!(records.iter().all(|r| r.ends_with(b"}\n")));
    }

    #[test]
    fn file_names_carry_the_odcid_and_the_side() {
        let t = QlogTrace {
            odcid: &[0x0f, 0xa0],
            server: false,
        };
        assert_eq!(t.file_name(), "0fa0_client.sqlog");
    }
}
