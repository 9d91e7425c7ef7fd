//! passnum runs the Pass numérique: funders fund programmes, distributors issue carnets of
//! signed cheques, qualified mediation sites redeem them, and a double-entry ledger accounts for
//! every cent.
//!
//! Domain modules (`orgs`, `programs`, `vouchers`, `redemption`, `ledger`, `idempotency`) hold
//! the rules and their SQL; `http` and the command line (`main.rs`) are thin edges over them.

pub mod applications;
pub mod audit;
pub mod catalogue;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod expiry;
pub mod fr;
pub mod http;
pub mod idempotency;
pub mod jobs;
pub mod ledger;
pub mod mail;
pub mod metrics;
pub mod orgs;
pub mod pdf;
pub mod places;
pub mod programs;
pub mod qualification;
pub mod ratelimit;
pub mod redemption;
pub mod report;
pub mod settlement;
pub mod sites;
pub mod stats;
pub mod users;
pub mod vouchers;
pub mod web;

use clock::SharedClock;
use config::Config;

/// Connects to (and migrates) the database, loads the signing keys: everything a server needs.
pub async fn start(config: Config, clock: SharedClock) -> anyhow::Result<http::AppState> {
    let db = db::Db::connect_with_timeout(
        &config.database_url,
        config.db_connections,
        std::time::Duration::from_secs(config.db_acquire_timeout_secs.max(1)),
    )
    .await?;
    db.migrate().await?;
    let keyring = config.keyring()?;
    Ok(http::AppState::new(db, clock, keyring, config))
}
