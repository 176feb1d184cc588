//! PMTU discovery (RFC 8899, RFC 9000 §14.3) over the simulated link:
//! the search finds what the path carries, a lost probe is not
//! congestion, and a path that shrinks mid-transfer (a route change) is
//! detected as a black hole and searched again.

use super::pair::{configs, Dir, Link, Pair, MS};
use super::streams::pattern;
use crate::conn::Event;

/// A pair whose links carry datagrams up to `mtu` bytes, both sides
/// probing up to `ceiling`.
fn pair(mtu: usize, ceiling: usize) -> Pair {
    let (mut c, mut s) = configs();
    c.set_max_pmtu(ceiling).unwrap();
    s.set_max_pmtu(ceiling).unwrap();
    let mut p = Pair::new(c, s);
    // No bottleneck: the only datagrams the link drops are too large.
    let link = Link {
        mtu,
        ..Link::default()
    };
    p.links = [link.clone(), link];
    p
}

fn mtu_events(events: &[Event]) -> Vec<(usize, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::PathMtuChanged { mtu, black_hole } => Some((*mtu, *black_hole)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_search_finds_what_the_path_carries() {
    for mtu in [1300, 1400, 1500, 9000] {
        let mut p = pair(mtu, 65_527);
        p.download(4 << 20, "search");
        // The client sends little but ACKs, so its probes' losses show
        // only at their timeouts: its search takes a few seconds longer.
        let settled = |c: &crate::conn::Connection| {
            let st = c.stats();
            st.pmtu <= mtu && st.pmtu + 20 > mtu
        };
        let until = p.now + 60_000 * MS;
        p.run_until(until, |p| settled(&p.client) && settled(p.server()));
        for (who, c, events) in [
            ("client", &p.client, &p.client_events),
            ("server", p.server(), &p.server_events),
        ] {
            let st = c.stats();
            assert!(
                st.pmtu <= mtu && st.pmtu + 20 > mtu,
                "{who} on a {mtu}-byte path: {}",
                st.pmtu
            );
            let events = mtu_events(events);
            assert_eq!(events.last(), Some(&(st.pmtu, false)), "{who}: {events:?}");
            // Probes of sizes the path drops were lost, and that was not
            // congestion: the link lost nothing else.
            assert!(st.pmtu_probes_lost > 0 || mtu >= 65_527, "{who}");
            assert_eq!(st.recovery.congestion_events, 0, "{who}: {:?}", st.recovery);
            assert_eq!(st.pmtu_black_holes, 0);
        }
        // The download went in datagrams of the size found.
        assert!(p.bytes_sent[1] / p.counts[1] as u64 > 1200, "{mtu}");
    }
}

/// The first two probes of the ceiling are lost: MAX_PROBES is three, so
/// the third finds it all the same.
#[test]
fn a_lost_probe_is_tried_again() {
    let mut p = pair(1500, 1452);
    let dropped = std::rc::Rc::new(std::cell::Cell::new(0));
    let d = dropped.clone();
    p.drop = Box::new(move |dir, _, datagram| {
        let drop = dir == Dir::ToClient && datagram.len() == 1452 && d.get() < 2;
        d.set(d.get() + usize::from(drop));
        drop
    });
    p.download(1 << 20, "probe loss");
    assert_eq!(dropped.get(), 2);
    let st = p.server().stats();
    assert_eq!((st.pmtu, st.pmtu_probes_lost), (1452, 2), "{st:?}");
    assert_eq!(st.recovery.congestion_events, 0);
}

/// A route change mid-transfer leaves a path that carries only 1300
/// bytes: full-size datagrams vanish, probe timeouts follow one another,
/// the sender falls back to 1200 bytes, the transfer completes, and the
/// new search settles just under 1300.
#[test]
fn a_black_hole_after_a_route_change_is_found_and_searched_again() {
    let mut p = pair(1500, 1452);
    p.handshake();
    let body = pattern(8 << 20, 3);
    p.server
        .as_mut()
        .unwrap()
        .stream_send(1, &body, true)
        .unwrap();
    let start = p.now;
    assert!(
        p.run_until(start + 30_000 * MS, |p| p.client_rx.bytes(1).len()
            > 1 << 20)
    );
    assert_eq!(p.server().stats().pmtu, 1452);
    for l in &mut p.links {
        l.mtu = 1300;
    }
    assert!(
        p.run_until(start + 300_000 * MS, |p| p.client_rx.finished.contains(&1)),
        "the transfer survived the black hole"
    );
    assert!(p.client_rx.bytes(1) == body, "intact");
    let st = p.server().stats();
    assert!(st.pmtu_black_holes >= 1, "{st:?}");
    assert!(st.pmtu > 1200 && st.pmtu <= 1300, "{}", st.pmtu);
    let events = mtu_events(&p.server_events);
    assert!(events.contains(&(1200, true)), "{events:?}");
}
