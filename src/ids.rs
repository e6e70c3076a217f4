//! Identifiers: generation, and the typed ids of records numbered by a server-wide sequence.
//! Ids are not secrets; they only need to be unique, and the store guarantees that by checking
//! every generated agent id against all ids ever issued.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// The org that always exists: where requests without `x-org-id` write (docs/API.md §1.5).
pub const DEFAULT_ORG: &str = "default";

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

/// A ULID (26 Crockford base32 digits: 48 bits of Unix milliseconds, then 80 random bits), so
/// ids made from it sort by time: A2A task ids, `task-<ULID>` (docs/API.md §1.8).
pub fn ulid(now_ms: i64) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut random = [0u8; 10];
    if getrandom::fill(&mut random).is_err() {
        // Uniqueness, not secrecy, is what matters here (the store refuses a duplicate).
        let (a, b) = (random_u64().to_be_bytes(), random_u64().to_be_bytes());
        random[..8].copy_from_slice(&a);
        random[8..].copy_from_slice(&b[..2]);
    }
    let time = u128::from(u64::try_from(now_ms).unwrap_or(0) & 0xffff_ffff_ffff);
    let n = random.iter().fold(time, |acc, b| (acc << 8) | u128::from(*b));
    let digits: Vec<u8> = (0..26).rev().map(|i| ALPHABET[((n >> (i * 5)) & 31) as usize]).collect();
    String::from_utf8(digits).unwrap_or_default()
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

/// Declares an id that is a prefix and a server-wide sequence number (`dlv-17`, `inc-007`),
/// written and read as that text (in storage, responses and paths) and handled as its number.
macro_rules! seq_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $width:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u64);

        impl $name {
            /// Reads `<prefix><digits>`; anything else names no record.
            pub fn parse(text: &str) -> Option<Self> {
                let digits = text.strip_prefix($prefix)?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                digits.parse().ok().map(Self)
            }

            pub fn seq(self) -> u64 {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!($prefix, "{:0", $width, "}"), self.0)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(concat!("not a ", $prefix, "<number> id"))
                })
            }
        }

        impl From<$name> for serde_json::Value {
            fn from(id: $name) -> Self {
                Self::String(id.to_string())
            }
        }
    };
}

seq_id!(
    /// An outbox delivery: `dlv-<seq>`.
    DeliveryId,
    "dlv-",
    1
);
seq_id!(
    /// An incident: `inc-<seq>`, at least three digits (`inc-007`).
    IncidentId,
    "inc-",
    3
);

#[cfg(test)]
mod tests {
    use super::{DeliveryId, IncidentId, base36, ulid};

    #[test]
    fn ulids_are_26_crockford_digits_in_time_order() {
        let (a, b) = (ulid(1_700_000_000_000), ulid(1_700_000_000_001));
        assert_eq!(a.len(), 26);
        assert!(a.bytes().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()), "{a}");
        assert!(a < b, "{a} {b}");
        assert_ne!(ulid(5), ulid(5));
    }

    #[test]
    fn sequence_ids_read_back_what_they_write() {
        assert_eq!(DeliveryId(17).to_string(), "dlv-17");
        assert_eq!(IncidentId(7).to_string(), "inc-007");
        assert_eq!(IncidentId(1234).to_string(), "inc-1234");
        assert_eq!(IncidentId::parse("inc-007"), Some(IncidentId(7)));
        assert_eq!(DeliveryId::parse("dlv-17"), Some(DeliveryId(17)));
        for bad in ["dlv-", "dlv--1", "dlv-+1", "inc-7", "dlv-1x", "dlv-99999999999999999999"] {
            assert_eq!(DeliveryId::parse(bad), None, "{bad}");
        }
        let json = serde_json::to_string(&DeliveryId(3)).unwrap_or_default();
        assert_eq!(json, "\"dlv-3\"");
        assert_eq!(serde_json::from_str::<DeliveryId>(&json).ok(), Some(DeliveryId(3)));
    }

    #[test]
    fn base36_is_fixed_width_and_ordered() {
        assert_eq!(base36(0, 6), "000000");
        assert_eq!(base36(35, 6), "00000z");
        assert_eq!(base36(36u64.pow(6) - 1, 6), "zzzzzz");
        assert!(base36(1295, 6) < base36(1296, 6));
    }
}
