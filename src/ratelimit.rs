//! Counts attempts per key (an address, a site) over a fixed window, so that guessing codes hits
//! 429 long before it could succeed. In memory: each instance counts its own share.

use jiff::Timestamp;
use std::collections::HashMap;
use std::sync::Mutex;

pub struct RateLimiter {
    limit: u32,
    window_secs: i64,
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl RateLimiter {
    pub fn new(limit: u32, window_secs: u64) -> Self {
        Self {
            limit,
            window_secs: window_secs.max(1) as i64,
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn window_start(&self, now: Timestamp) -> i64 {
        now.as_second() - now.as_second().rem_euclid(self.window_secs)
    }

    /// Seconds to wait if `key` already used up its window, without counting an attempt.
    pub fn blocked(&self, key: &str, now: Timestamp) -> Option<u64> {
        let start = self.window_start(now);
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        match windows.get(key) {
            Some(&(s, n)) if s == start && n >= self.limit => {
                Some((start + self.window_secs - now.as_second()).max(1) as u64)
            }
            _ => None,
        }
    }

    /// Counts one attempt for `key`.
    pub fn record(&self, key: &str, now: Timestamp) {
        let start = self.window_start(now);
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > 100_000 {
            // Old windows only matter until they end: drop them rather than grow without bound.
            windows.retain(|_, (s, _)| *s == start);
        }
        let entry = windows.entry(key.to_string()).or_insert((start, 0));
        if entry.0 != start {
            *entry = (start, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// Counts an attempt and says whether it is still within the limit.
    pub fn check_and_record(&self, key: &str, now: Timestamp) -> Option<u64> {
        if let Some(wait) = self.blocked(key, now) {
            return Some(wait);
        }
        self.record(key, now);
        None
    }
}
