//! Where the core's randomness comes from: connection IDs, stateless reset
//! tokens, PATH_CHALLENGE data. The core holds a [`RandomSource`] given to
//! it through the configuration and never reaches for OpenSSL or the OS
//! itself, so tests and embedders can supply their own.

/// A source of cryptographically secure random bytes.
pub trait RandomSource: Send + Sync {
    /// Fills `out` with random bytes. It must not fail: a source that can
    /// produce no randomness has nothing safe to return.
    fn fill(&self, out: &mut [u8]);
}

/// The default source: OpenSSL's DRBG, and the kernel's `getrandom(2)`
/// should OpenSSL ever refuse.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRandom;

impl RandomSource for SystemRandom {
    fn fill(&self, out: &mut [u8]) {
        if openssl::rand::rand_bytes(out).is_ok() {
            return;
        }
        let mut done = 0;
        while done < out.len() {
            let rest = &mut out[done..];
            // SAFETY: `rest` is valid for writing `rest.len()` bytes.
            let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
            if n > 0 {
                done += n as usize;
            } else if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                // Neither OpenSSL nor the kernel has randomness: no
                // connection ID or token made now would be safe.
                panic!("no randomness available (OpenSSL's DRBG and getrandom(2) both failed)");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_random_fills_and_differs() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        SystemRandom.fill(&mut a);
        SystemRandom.fill(&mut b);
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
    }
}
