//! Rendered responses of hot read endpoints that dashboards poll (`GET /api/agents`).
//!
//! An entry is served only while the store's generation (bumped after every commit) and the
//! current whole second (the resolution of `uptime`) are the ones it was rendered at, so a
//! cached body is byte-for-byte what a fresh render would produce. The store stays the only
//! source of truth; this is a derived copy that any commit invalidates.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;

/// Entries kept at most; the map is cleared when full (entries live a second at most anyway).
const CAPACITY: usize = 256;

pub struct ResponseCache<K> {
    entries: Mutex<HashMap<K, Entry>>,
}

struct Entry {
    generation: u64,
    second: i64,
    body: Bytes,
}

impl<K> Default for ResponseCache<K> {
    fn default() -> Self {
        Self { entries: Mutex::new(HashMap::new()) }
    }
}

impl<K: Hash + Eq> ResponseCache<K> {
    /// The body cached under `key` for this generation and second, or `render`'s (then cached).
    /// `generation` must be read before `render` takes its snapshot.
    pub fn get_or_render<E>(
        &self,
        key: K,
        generation: u64,
        second: i64,
        render: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Bytes, E> {
        {
            let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(e) = entries.get(&key)
                && e.generation == generation
                && e.second == second
            {
                return Ok(e.body.clone());
            }
        }
        let body = Bytes::from(render()?);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key, Entry { generation, second, body: body.clone() });
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_only_the_same_generation_and_second() {
        let cache = ResponseCache::<&str>::default();
        let renders = std::cell::Cell::new(0);
        let get = |generation, second| {
            cache
                .get_or_render::<()>("k", generation, second, || {
                    renders.set(renders.get() + 1);
                    Ok(format!("{generation}/{second}").into_bytes())
                })
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        };
        assert_eq!(get(1, 10), Ok("1/10".into()));
        assert_eq!(get(1, 10), Ok("1/10".into()));
        assert_eq!(get(2, 10), Ok("2/10".into()));
        assert_eq!(get(2, 11), Ok("2/11".into()));
        assert_eq!(renders.get(), 3);
    }
}
