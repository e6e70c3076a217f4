//! Per-client-IP token buckets (docs/API.md §1.6), with bounded memory.
//!
//! A bucket holds up to `limit` tokens and refills at `limit` per minute. A bucket that has
//! refilled completely carries no information, so the sweep drops it. The table never holds
//! more than `cap` buckets: at the cap, the least recently used tenth is evicted in one pass,
//! which keeps eviction O(1) amortised even under a flood of distinct addresses.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SHARDS: usize = 16;
pub const DEFAULT_CAP: usize = 100_000;

pub struct RateLimiter {
    limit: u32,
    refill_per_sec: f64,
    shard_cap: usize,
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<IpAddr, Bucket>>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The limiter's answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed { limit: u32, remaining: u32 },
    Limited { limit: u32, retry_after_secs: u64 },
}

impl RateLimiter {
    /// `limit` requests per minute per IP; `None` when `limit` is 0 (limiting off).
    pub fn per_minute(limit: u32, cap: usize) -> Option<Self> {
        (limit > 0).then(|| Self {
            limit,
            refill_per_sec: f64::from(limit) / 60.0,
            shard_cap: (cap / SHARDS).max(1),
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        })
    }

    pub fn check(&self, ip: IpAddr) -> Decision {
        self.check_at(ip, Instant::now())
    }

    fn check_at(&self, ip: IpAddr, now: Instant) -> Decision {
        let shard = &self.shards[self.hasher.hash_one(ip) as usize % SHARDS];
        // A poisoned shard only means another request panicked mid-update; the map is still sound.
        let mut buckets = shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= self.shard_cap && !buckets.contains_key(&ip) {
            self.evict(&mut buckets, now);
        }
        let full = f64::from(self.limit);
        let bucket = buckets.entry(ip).or_insert(Bucket { tokens: full, updated: now });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.refill_per_sec).min(full);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Decision::Allowed { limit: self.limit, remaining: bucket.tokens as u32 }
        } else {
            let wait = (1.0 - bucket.tokens) / self.refill_per_sec;
            Decision::Limited { limit: self.limit, retry_after_secs: (wait.ceil() as u64).max(1) }
        }
    }

    /// Drops full buckets, then (if still at the cap) the least recently used tenth.
    fn evict(&self, buckets: &mut HashMap<IpAddr, Bucket>, now: Instant) {
        let refill = Duration::from_secs_f64(60.0);
        buckets.retain(|_, b| now.saturating_duration_since(b.updated) < refill);
        if buckets.len() < self.shard_cap {
            return;
        }
        let mut ages: Vec<Instant> = buckets.values().map(|b| b.updated).collect();
        let cut = (ages.len() / 10).max(1);
        let (_, nth, _) = ages.select_nth_unstable(cut - 1);
        let threshold = *nth;
        buckets.retain(|_, b| b.updated > threshold);
    }

    /// Periodic sweep of buckets idle long enough to be full again.
    pub fn sweep(&self) {
        let now = Instant::now();
        let refill = Duration::from_secs(60);
        for shard in &self.shards {
            let mut buckets = shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            buckets.retain(|_, b| now.saturating_duration_since(b.updated) < refill);
        }
    }

    /// Buckets currently held.
    pub fn tracked(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(n))
    }

    #[test]
    fn sixth_request_in_a_minute_is_limited_then_refills() {
        let rl = RateLimiter::per_minute(5, DEFAULT_CAP).expect("limit on");
        let t0 = Instant::now();
        for i in 0..5 {
            assert_eq!(rl.check_at(ip(1), t0), Decision::Allowed { limit: 5, remaining: 4 - i });
        }
        assert_eq!(rl.check_at(ip(1), t0), Decision::Limited { limit: 5, retry_after_secs: 12 });
        // Another IP has its own bucket.
        assert!(matches!(rl.check_at(ip(2), t0), Decision::Allowed { .. }));
        // One token comes back every 12 s.
        assert!(matches!(
            rl.check_at(ip(1), t0 + Duration::from_secs(12)),
            Decision::Allowed { .. }
        ));
        assert!(matches!(
            rl.check_at(ip(1), t0 + Duration::from_secs(13)),
            Decision::Limited { .. }
        ));
    }

    #[test]
    fn zero_turns_limiting_off() {
        assert!(RateLimiter::per_minute(0, DEFAULT_CAP).is_none());
    }

    #[test]
    fn a_flood_of_distinct_ips_stays_within_the_cap() {
        let rl = RateLimiter::per_minute(100, DEFAULT_CAP).expect("limit on");
        let t0 = Instant::now();
        for n in 0..100_000u32 {
            rl.check_at(ip(n), t0 + Duration::from_micros(u64::from(n)));
            rl.check_at(ip(n), t0 + Duration::from_micros(u64::from(n)));
        }
        for n in 100_000..300_000u32 {
            rl.check_at(ip(n), t0 + Duration::from_micros(u64::from(n)));
        }
        assert!(rl.tracked() <= DEFAULT_CAP, "table grew to {}", rl.tracked());
        // The most recent client is still tracked (its bucket was not reset by eviction).
        let last = t0 + Duration::from_micros(299_999);
        assert!(matches!(rl.check_at(ip(299_999), last), Decision::Allowed { remaining: 98, .. }));
    }

    #[test]
    fn sweep_drops_idle_buckets() {
        let rl = RateLimiter::per_minute(10, DEFAULT_CAP).expect("limit on");
        rl.check_at(ip(7), Instant::now() - Duration::from_secs(120));
        assert_eq!(rl.tracked(), 1);
        rl.sweep();
        assert_eq!(rl.tracked(), 0);
    }
}
