//! A places file in the national standard as an operator uploads it: never a panic, nothing
//! invalid let in, and an export of what was let in reads back the same.

#![no_main]

#[allow(dead_code)]
#[path = "../../src/sites/places/standard.rs"]
mod standard;

// standard.rs checks postcodes with the one French-identifiers module, at the crate root.
#[allow(dead_code)]
#[path = "../../src/platform/fr.rs"]
mod fr;

// fr.rs writes instants in Paris time with the one clock module, also at the crate root.
#[allow(dead_code)]
#[path = "../../src/platform/clock.rs"]
mod clock;

// standard.rs writes CSV through the one spreadsheet writer, also at the crate root.
#[allow(dead_code)]
#[path = "../../src/platform/spreadsheet.rs"]
mod spreadsheet;

#[path = "../checks_sites.rs"]
mod checks_sites;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks_sites::sites_csv(data));
