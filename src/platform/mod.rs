//! What every domain uses and that knows no domain: the two databases and the unit of work,
//! replayed answers, e-mail, money, PDF, time, configuration, the domain's error type, French formats,
//! metrics, rate limits, reports and spreadsheets. Re-exported at the crate root
//! (`crate::db`, `crate::mail`…), where the domains name them.

pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod fr;
pub mod idempotency;
pub mod mail;
pub mod metrics;
pub mod money;
pub mod ods;
pub mod pdf;
pub mod ratelimit;
pub mod report;
pub mod spreadsheet;
pub mod zones;
