//! A small JSON text builder: objects and arrays written straight into a
//! byte buffer, closed when they go out of scope. qlog records are flat
//! and few kinds, so this is all the serialisation they need (no serde in
//! the library's dependencies).

use std::io::Write;

/// A JSON object being written; its `}` is written when it is dropped.
pub(crate) struct Obj<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

/// A JSON array being written; its `]` is written when it is dropped.
pub(crate) struct Arr<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> Obj<'a> {
    /// Starts an object at the end of `out`.
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, empty: true }
    }

    /// Keys are this crate's own names: plain ASCII, nothing to escape.
    fn key(&mut self, key: &str) {
        debug_assert!(!key.bytes().any(needs_escape));
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    pub(crate) fn u64(&mut self, key: &str, v: u64) -> &mut Self {
        self.key(key);
        integer(self.out, v);
        self
    }

    /// A duration in nanoseconds, written in milliseconds (qlog's unit).
    pub(crate) fn ms(&mut self, key: &str, ns: u64) -> &mut Self {
        self.key(key);
        millis(self.out, ns);
        self
    }

    pub(crate) fn bool(&mut self, key: &str, v: bool) -> &mut Self {
        self.key(key);
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        self
    }

    pub(crate) fn str(&mut self, key: &str, v: &str) -> &mut Self {
        self.key(key);
        string(self.out, v.as_bytes());
        self
    }

    /// Bytes meant to be text (a reason phrase): invalid UTF-8 replaced.
    pub(crate) fn text(&mut self, key: &str, v: &[u8]) -> &mut Self {
        self.key(key);
        string(self.out, String::from_utf8_lossy(v).as_bytes());
        self
    }

    /// Bytes as a lowercase hex string (qlog's hexstring).
    pub(crate) fn hex(&mut self, key: &str, v: &[u8]) -> &mut Self {
        self.key(key);
        self.out.push(b'"');
        hex(self.out, v);
        self.out.push(b'"');
        self
    }

    /// A nested object under `key`.
    pub(crate) fn obj(&mut self, key: &str) -> Obj<'_> {
        self.key(key);
        Obj::new(self.out)
    }

    /// A nested array under `key`.
    pub(crate) fn arr(&mut self, key: &str) -> Arr<'_> {
        self.key(key);
        self.out.push(b'[');
        Arr {
            out: self.out,
            empty: true,
        }
    }
}

impl Drop for Obj<'_> {
    fn drop(&mut self) {
        self.out.push(b'}');
    }
}

impl Arr<'_> {
    fn item(&mut self) {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
    }

    /// An object as the next element.
    pub(crate) fn obj(&mut self) -> Obj<'_> {
        self.item();
        Obj::new(self.out)
    }

    /// An array as the next element.
    pub(crate) fn arr(&mut self) -> Arr<'_> {
        self.item();
        self.out.push(b'[');
        Arr {
            out: self.out,
            empty: true,
        }
    }

    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.item();
        integer(self.out, v);
        self
    }

    pub(crate) fn str(&mut self, v: &str) -> &mut Self {
        self.item();
        string(self.out, v.as_bytes());
        self
    }

    pub(crate) fn hex(&mut self, v: &[u8]) -> &mut Self {
        self.item();
        self.out.push(b'"');
        hex(self.out, v);
        self.out.push(b'"');
        self
    }
}

impl Drop for Arr<'_> {
    fn drop(&mut self) {
        self.out.push(b']');
    }
}

/// `ns` nanoseconds as milliseconds with up to 6 decimals (exact, no
/// float rounding, never an exponent).
pub(crate) fn millis(out: &mut Vec<u8>, ns: u64) {
    let (whole, mut frac) = (ns / 1_000_000, ns % 1_000_000);
    integer(out, whole);
    if frac == 0 {
        return;
    }
    out.push(b'.');
    let mut digits = 6;
    while frac % 10 == 0 {
        frac /= 10;
        digits -= 1;
    }
    let mut buf = [b'0'; 6];
    for d in buf[..digits].iter_mut().rev() {
        *d = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    out.extend_from_slice(&buf[..digits]);
}

/// `v` in decimal.
fn integer(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Bytes a JSON string cannot hold as they are.
fn needs_escape(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20 || b == 0x7f
}

fn hex(out: &mut Vec<u8>, v: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in v {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 15)]);
    }
}

/// A JSON string: quotes, backslashes and control characters escaped
/// (so a record never holds a raw RS byte, which separates records).
fn string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    // Most strings need no escape: copied whole.
    let clean = s.iter().position(|b| needs_escape(*b)).unwrap_or(s.len());
    out.extend_from_slice(&s[..clean]);
    for &b in &s[clean..] {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f | 0x7f => {
                let _ = write!(out, "\\u{b:04x}");
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_values_escapes_and_times() {
        let mut out = Vec::new();
        {
            let mut o = Obj::new(&mut out);
            o.u64("n", 7).bool("b", false).str("s", "a\"b\\c\n\u{1e}");
            o.text("t", b"ok\xff")
                .hex("h", &[0, 0xab])
                .ms("ms", 1_500_000);
            {
                let mut a = o.arr("a");
                a.u64(1).str("x");
                a.arr().u64(2).u64(3);
                a.obj().u64("k", 4);
            }
            o.obj("empty");
            o.ms("whole", 3_000_000).ms("tiny", 1);
        }
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            r#"{"n":7,"b":false,"s":"a\"b\\c\n\u001e","t":"ok�","h":"00ab","ms":1.5,"a":[1,"x",[2,3],{"k":4}],"empty":{},"whole":3,"tiny":0.000001}"#
        );
    }
}
