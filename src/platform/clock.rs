//! The one source of time. Tests move a [`MockClock`] to reach expiry dates and undo windows
//! without waiting.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use std::sync::{Arc, Mutex};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;

    /// Calendar dates of validity are those of mainland France (Europe/Paris).
    fn today(&self) -> Date {
        self.now().to_zoned(paris()).date()
    }
}

pub type SharedClock = Arc<dyn Clock>;

pub fn paris() -> TimeZone {
    // The bundled tz database makes this independent of the host's zoneinfo files; looked up
    // once, as every redemption reads its days there.
    static PARIS: std::sync::LazyLock<TimeZone> =
        std::sync::LazyLock::new(|| TimeZone::get("Europe/Paris").unwrap_or(TimeZone::UTC));
    PARIS.clone()
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that starts at the real time and only moves when told to.
pub struct MockClock {
    now: Mutex<Timestamp>,
}

impl MockClock {
    pub fn new(start: Timestamp) -> Arc<Self> {
        Arc::new(Self {
            now: Mutex::new(start),
        })
    }

    pub fn advance(&self, by: SignedDuration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now = now.saturating_add(by).unwrap_or(*now);
    }

    pub fn set(&self, to: Timestamp) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl Clock for MockClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Timestamps are stored as fixed-width UTC text (microseconds) so that text order is time order
/// on both databases.
pub fn format_ts(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub fn parse_ts(text: &str) -> Option<Timestamp> {
    text.parse().ok()
}

pub fn format_date(date: Date) -> String {
    date.to_string()
}
