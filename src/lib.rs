//! passnum runs the Pass numérique: funders fund programmes, distributors issue carnets of
//! signed cheques, qualified mediation sites redeem them, and a double-entry ledger accounts for
//! every cent.
//!
//! # Map
//!
//! **Edges** parse, call one domain operation, and render; they hold no rule:
//! - [`app`]: the shared state, the top router and the server loop.
//! - [`http`]: the JSON API (`/api/v1`), its extractors and the one error-to-HTTP mapping.
//! - [`web`]: the pages in plain French (askama templates, forms safe to send twice).
//! - [`cli`]: the command line, the scheduled jobs and the demo.
//!
//! **Domain**: each module holds its rules, its operations (which take a [`db::Tx`]) and, in
//! `repo.rs`, its SQL:
//! - [`orgs`]: organisations and their API tokens.
//! - [`programs`]: programmes, fundings, allocations.
//! - [`vouchers`]: carnets (passes) and cheques, their codes and signing keys.
//! - [`redemption`]: redeeming and undoing cheques; its `writer` groups concurrent redemptions.
//! - [`offline`]: sites' consoles that redeem offline, and their sync (never paid twice).
//! - [`ledger`]: double-entry postings, verification, reconciliation.
//! - [`settlement`]: batches, the SEPA file, statements.
//! - [`treasury`]: the payer account's bank statements (camt.053) matched to fundings,
//!   batches and returned transfers; the coverage of what is owed.
//! - [`expiry`]: cheques past their last day, programme close, credit notes.
//! - [`sites`]: a site's life: its [`sites::places`] (the national data standard, opening
//!   hours, the directory), its [`sites::applications`], its [`sites::qualification`]
//!   (qualify, suspend, disqualify, reminders) and its [`sites::bank`] details.
//! - [`catalogue`]: the services a place offers.
//! - [`users`]: people's accounts, sessions, invitations, password resets.
//! - [`audit`]: the tamper-evident journal of every change.
//! - [`retention`]: personal data erased or reduced once past its period (the daily job).
//! - [`stats`]: figures for funders' dashboards.
//! - [`alerts`]: patterns against gaming, found daily, reviewed by the operator and funders.
//!
//! **Platform** (`src/platform/`, named from the crate root), used by all and knowing no
//! domain: [`db`] (both databases, the unit of work),
//! [`idempotency`] (replayed answers), [`mail`] (outbox and SMTP), [`pdf`], [`clock`],
//! [`config`], [`error`], [`fr`] (French formats and identifiers), [`metrics`], [`money`] (cents), [`ratelimit`],
//! [`report`], [`spreadsheet`] (CSV that never runs a formula), [`zones`] (local time overseas).
//!
//! # Glossary (code → what people read)
//! pass → carnet; voucher, cheque → chèque; program → programme; site → structure qualifiée
//! (an organisation); place → lieu (where help is given); funder → financeur; distributor →
//! distributeur; redemption → encaissement; settlement → règlement.

// Edges.
pub mod app;
pub mod cli;
pub mod http;
pub mod web;

// Domain.
pub mod alerts;
pub mod audit;
pub mod catalogue;
pub mod expiry;
pub mod ledger;
pub mod offline;
pub mod orgs;
pub mod outcomes;
pub mod programs;
pub mod redemption;
pub mod retention;
pub mod settlement;
pub mod sites;
pub mod stats;
pub mod treasury;
pub mod users;
pub mod voice;
pub mod vouchers;

// Platform, in `src/platform/`; named from the crate root.
pub mod platform;
pub use platform::{
    clock, config, db, error, fr, idempotency, mail, metrics, money, pdf, ratelimit, report,
    spreadsheet, zones,
};

use clock::SharedClock;
use config::Config;

/// Brings the database's schema up to date, and counts again what a migration asks to.
pub async fn migrate(db: &db::Db) -> anyhow::Result<()> {
    db.migrate().await?;
    stats::figures::rebuild_if_pending(db).await?;
    Ok(())
}

/// Connects to (and migrates) the database, loads the signing keys: everything a server needs.
pub async fn start(config: Config, clock: SharedClock) -> anyhow::Result<app::AppState> {
    let db = db::Db::connect_with_timeout(
        &config.database_url,
        config.db_connections,
        std::time::Duration::from_secs(config.db_acquire_timeout_secs.max(1)),
    )
    .await?;
    migrate(&db).await?;
    let keyring = vouchers::keys::from_config(&config)?;
    // What the public keys document says each key's dates are.
    vouchers::offline::register_keys(&db, &keyring, clock.now()).await?;
    Ok(app::AppState::new(db, clock, keyring, config))
}

#[cfg(test)]
mod tests {
    //! Checks over several modules at once.

    fn same<T: serde::Serialize + Copy>(all: &[T], text: fn(T) -> &'static str) {
        for &state in all {
            let json = serde_json::to_string(&state).expect("serialises");
            assert_eq!(json, format!("\"{}\"", text(state)));
        }
    }

    #[test]
    fn state_texts_are_their_serde_names() {
        use crate::settlement::{BatchStatus, LineStatus};
        use crate::vouchers::{ChequeStatus, PassStatus};
        same(PassStatus::ALL, PassStatus::as_str);
        same(ChequeStatus::ALL, ChequeStatus::as_str);
        same(BatchStatus::ALL, BatchStatus::as_str);
        same(LineStatus::ALL, LineStatus::as_str);
        same(
            crate::programs::ProgramStatus::ALL,
            crate::programs::ProgramStatus::as_str,
        );
        same(
            crate::sites::qualification::Status::ALL,
            crate::sites::qualification::Status::as_str,
        );
        same(
            crate::mail::OutboxStatus::ALL,
            crate::mail::OutboxStatus::as_str,
        );
        same(crate::users::Role::ALL, crate::users::Role::as_str);
        same(
            crate::users::links::Purpose::ALL,
            crate::users::links::Purpose::as_str,
        );
        same(
            crate::treasury::EntryKind::ALL,
            crate::treasury::EntryKind::as_str,
        );
        same(
            crate::programs::FundingStatus::ALL,
            crate::programs::FundingStatus::as_str,
        );
        same(
            crate::sites::bank::BankStatus::ALL,
            crate::sites::bank::BankStatus::as_str,
        );
        same(
            crate::sites::applications::Status::ALL,
            crate::sites::applications::Status::as_str,
        );
        same(
            crate::vouchers::files::FileStatus::ALL,
            crate::vouchers::files::FileStatus::as_str,
        );
    }
}
