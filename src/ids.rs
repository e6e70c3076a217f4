//! Identifier generation. Ids are not secrets; they only need to be unique, and the store
//! guarantees that by checking every generated agent id against all ids ever issued.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// 64 unpredictable-enough bits: std's per-process random SipHash keys over a counter.
pub fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

/// `n` in base 36, most significant digit first, zero-padded to `width` (so text order is
/// numeric order), as in `agent-proj-k3x9q2`.
pub fn base36(mut n: u64, width: usize) -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut digits = vec![b'0'; width];
    for d in digits.iter_mut().rev() {
        *d = ALPHABET[(n % 36) as usize];
        n /= 36;
    }
    String::from_utf8(digits).unwrap_or_default()
}

/// `bytes` bytes from the operating system's CSPRNG, as lowercase hex: for credentials (API
/// keys, the admin token), where unpredictability matters.
pub fn secret_hex(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// A request id for `X-Request-Id` and the log lines of that request: a random per-process
/// prefix and a counter, 16 hex digits (cheap: it is made for every request).
pub fn request_id() -> String {
    static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| random_u64() << 32);
    let n = prefix ^ NEXT.fetch_add(1, Ordering::Relaxed);
    let digits: Vec<u8> =
        (0..16).rev().map(|i| b"0123456789abcdef"[((n >> (i * 4)) & 0xf) as usize]).collect();
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::base36;

    #[test]
    fn base36_is_fixed_width_and_ordered() {
        assert_eq!(base36(0, 6), "000000");
        assert_eq!(base36(35, 6), "00000z");
        assert_eq!(base36(36u64.pow(6) - 1, 6), "zzzzzz");
        assert!(base36(1295, 6) < base36(1296, 6));
    }
}
