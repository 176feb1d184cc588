//! Helpers shared by the unit tests.

/// Decodes hex, ignoring whitespace.
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// A test vector file from tests/data.
macro_rules! vector {
    ($name:literal) => {
        $crate::test_util::hex(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/",
            $name,
            ".hex"
        )))
    };
}
pub(crate) use vector;

/// A register shared by the servers of a test's fleet, in memory: what an
/// application would keep in a database all of its servers reach.
#[derive(Debug, Default)]
pub(crate) struct FleetRegister {
    seen: std::sync::Mutex<std::collections::HashSet<(u8, Vec<u8>)>>,
    /// How many times the library asked.
    pub(crate) asked: std::sync::atomic::AtomicUsize,
}

impl crate::shared_register::SharedRegister for FleetRegister {
    fn first_use(
        &self,
        kind: crate::shared_register::OnceKind,
        id: &[u8],
        _keep_seconds: u64,
    ) -> bool {
        self.asked
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.seen
            .lock()
            .is_ok_and(|mut s| s.insert((kind as u8, id.to_vec())))
    }
}

/// A wall clock the test moves (Unix seconds).
#[derive(Debug, Default)]
pub(crate) struct TestClock(pub(crate) std::sync::atomic::AtomicU64);

impl TestClock {
    /// A clock reading `seconds`.
    pub(crate) fn at(seconds: u64) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self(seconds.into()))
    }

    /// Moves it to `seconds`.
    pub(crate) fn set(&self, seconds: u64) {
        self.0.store(seconds, std::sync::atomic::Ordering::Relaxed);
    }
}

impl crate::token::UnixClock for TestClock {
    fn unix_seconds(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}
