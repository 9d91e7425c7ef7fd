//! A bank statement (camt.053.001.08) as the treasury imports it: see `checks_camt.rs`.

#![no_main]

#[allow(dead_code)]
#[path = "../../src/treasury/camt/mod.rs"]
mod camt;

#[path = "../checks_camt.rs"]
mod checks_camt;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks_camt::camt(data));
