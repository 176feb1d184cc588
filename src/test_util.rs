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
