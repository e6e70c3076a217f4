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

/// Six base-36 characters, as in `agent-proj-k3x9q2`.
pub fn base36_6() -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut n = random_u64();
    (0..6)
        .map(|_| {
            let c = ALPHABET[(n % 36) as usize];
            n /= 36;
            c as char
        })
        .collect()
}

/// A request id for `X-Request-Id` and the log lines of that request.
pub fn request_id() -> String {
    format!("{:016x}", random_u64())
}
