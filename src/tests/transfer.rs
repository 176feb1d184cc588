//! Bulk transfers over imperfect links: 10 MB each way at once, several
//! seeds per condition, byte-identical on arrival.

use super::pair::{Link, Pair, Rng, MS};
use super::streams::pattern;

const SIZE: usize = 10 << 20;

/// A 100 Mbit/s bottleneck with a 256 KB queue and 10 ms one way.
fn base_link() -> Link {
    Link {
        bandwidth: Some(12_500_000),
        queue: 256 * 1024,
        ..Link::default()
    }
}

/// Runs a 10 MB upload (client stream 0) and download (server stream 1)
/// together and checks both arrived intact.
fn transfer(name: &str, seed: u64, link: Link) {
    let mut p = Pair::default_pair();
    p.rng = Rng::new(seed);
    let lossy = link.loss > 0.0 || link.blackout.is_some();
    let damage = [link.corrupt, link.duplicate, link.reorder];
    p.links = [link.clone(), link];
    p.handshake();
    let up = pattern(SIZE, seed as u8);
    let down = pattern(SIZE, seed as u8 ^ 0x5a);
    p.client.stream_send(0, &up, true).unwrap();
    p.server
        .as_mut()
        .unwrap()
        .stream_send(1, &down, true)
        .unwrap();
    let start = p.now;
    let done = p.run_until(start + 300_000 * MS, |p| {
        p.server_rx.finished.contains(&0) && p.client_rx.finished.contains(&1)
    });
    assert!(
        done,
        "{name} seed {seed}: up {} down {} bytes after {} ms; client {:?}",
        p.server_rx.bytes(0).len(),
        p.client_rx.bytes(1).len(),
        (p.now - start) / MS,
        p.client_events.last()
    );
    assert!(
        p.server_rx.bytes(0) == up,
        "{name} seed {seed}: upload differs"
    );
    assert!(
        p.client_rx.bytes(1) == down,
        "{name} seed {seed}: download differs"
    );
    assert!(p.client.is_established() && p.server().is_established());
    if lossy {
        assert!(
            p.dropped.iter().sum::<usize>() > 0,
            "{name}: the link lost nothing"
        );
    }
    for (i, rate) in damage.iter().enumerate() {
        if *rate > 0.0 {
            assert!(
                p.damaged[i] > 100,
                "{name}: the link did too little: {:?}",
                p.damaged
            );
        }
    }
    // 20 MB over a 100 Mbit/s link each way cannot take less than 0.8 s.
    let elapsed = p.now - start;
    assert!(
        elapsed > 800 * MS,
        "{name}: {} ms is faster than the link",
        elapsed / MS
    );
}

fn each_seed(name: &str, link: impl Fn() -> Link) {
    for seed in 1..=3 {
        transfer(name, seed, link());
    }
}

#[test]
fn no_loss() {
    each_seed("no loss", base_link);
}

#[test]
fn two_percent_loss() {
    each_seed("2% loss", || Link {
        loss: 0.02,
        ..base_link()
    });
}

#[test]
fn thirty_percent_burst_loss_during_the_handshake() {
    for seed in 1..=3 {
        let mut p = Pair::default_pair();
        p.rng = Rng::new(seed);
        let lossy = Link {
            loss: 0.3,
            loss_burst: 3,
            loss_until: Some(3_000 * MS),
            ..base_link()
        };
        p.links = [lossy.clone(), lossy];
        p.handshake();
        assert!(
            p.dropped.iter().sum::<usize>() > 0,
            "seed {seed}: nothing was lost"
        );
        let up = pattern(SIZE, 9);
        p.client.stream_send(0, &up, true).unwrap();
        assert!(p.run_until(p.now + 300_000 * MS, |p| p.server_rx.finished.contains(&0)));
        assert!(p.server_rx.bytes(0) == up);
    }
}

#[test]
fn five_percent_reordering() {
    each_seed("reordering", || Link {
        reorder: 0.05,
        reorder_by: 15 * MS,
        ..base_link()
    });
}

#[test]
fn duplication() {
    each_seed("duplication", || Link {
        duplicate: 0.05,
        ..base_link()
    });
}

#[test]
fn two_percent_corruption() {
    each_seed("corruption", || Link {
        corrupt: 0.02,
        ..base_link()
    });
}

#[test]
fn two_second_blackout_mid_transfer() {
    // The handshake takes tens of ms; the transfer about a second; the
    // link goes dark from 300 ms to 2.3 s (the interop runner's blackhole).
    each_seed("blackout", || Link {
        blackout: Some((300 * MS, 2_300 * MS)),
        ..base_link()
    });
}
