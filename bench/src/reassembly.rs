//! What the order of a peer's STREAM frames costs the receiver (issue 11):
//! libquic's receive half of a stream fed 1 MiB windows as 1 KB frames in
//! order, 1-byte frames in order, and 1-byte frames in reverse (the
//! attack: every byte waits for the one before it). Same bytes, same
//! frame boundaries for the two 1-byte rows; every byte must come out.

use quic::internals::StreamReceiver;

const WINDOW: usize = 1 << 20;

/// How the frames of one window are ordered and sized.
#[derive(Debug, Clone, Copy)]
pub enum Order {
    /// 1 KB frames, lowest offset first.
    InOrder1K,
    /// 1-byte frames, lowest offset first.
    InOrder1,
    /// 1-byte frames, highest offset first.
    Reversed1,
}

/// Receives `windows` windows; returns the bytes that came out in order.
pub fn run(order: Order, windows: usize, data: &[u8]) -> usize {
    let mut out = 0;
    for _ in 0..windows {
        let mut r = StreamReceiver::new(WINDOW as u64);
        let window = &data[..WINDOW];
        match order {
            Order::InOrder1K => {
                for (i, chunk) in window.chunks(1024).enumerate() {
                    assert!(r.on_data((i * 1024) as u64, chunk));
                    out += r.take_ready();
                }
            }
            Order::InOrder1 => {
                for i in 0..WINDOW {
                    assert!(r.on_data(i as u64, &window[i..i + 1]));
                    out += r.take_ready();
                }
            }
            Order::Reversed1 => {
                for i in (0..WINDOW).rev() {
                    assert!(r.on_data(i as u64, &window[i..i + 1]));
                    out += r.take_ready();
                }
            }
        }
    }
    out
}
