//! Every integration test in one binary (one link instead of one per file), each file a
//! module: they start the real app on a random port against a fresh database and speak HTTP
//! to it, on SQLite and on PostgreSQL (see `common`). `tests/faults.rs` stays a binary of its
//! own: it kills servers and cuts databases, best done without other tests around.

#[macro_use]
mod common;

// The fuzz checks (fuzz_regressions) find the modules under test at the crate root, as in the
// fuzz targets.
use passnum::sites::places::standard;
use passnum::spreadsheet;
use passnum::treasury::camt;
use passnum::vouchers::codes;

mod account_pages;
mod alerts;
mod applications;
mod audit_chain;
mod backup;
mod bank_details;
mod browser_account;
mod browser_applications;
mod browser_catalogue;
mod browser_confirm;
mod browser_console;
mod browser_distributor;
mod browser_forms;
mod browser_funder;
mod browser_journeys;
mod browser_legal;
mod browser_money;
mod browser_offline;
mod browser_operator;
mod browser_proconnect;
mod browser_second_factor;
mod browser_smoke;
mod carnet_delivery;
mod catalogue;
mod cli;
mod confirmations;
mod distributor_pages;
mod error_pages;
mod figures_properties;
mod forms;
mod funder_view;
mod fuzz_regressions;
mod hardening;
mod ledger_properties;
mod mail;
mod metrics;
mod observatory;
mod offline_codes;
mod offline_sync;
mod one_door;
mod openapi;
mod outcomes;
mod parity;
mod personal_data;
mod proconnect;
mod programme_closing;
mod programme_rules;
mod retention;
mod second_factor;
mod security;
mod sent_twice;
mod sessions;
mod settlement;
mod settlement_scenario;
mod site_payments;
mod sites_directory;
mod storage;
mod time_zones;
mod treasury;
mod voice;
mod voucher_core;
mod web;
mod web_funder;
mod web_operator;
