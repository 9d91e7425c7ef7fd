//! Short codes and QR payloads as a site sends them: never a panic, and whatever is accepted
//! is canonical and exactly what was signed.

#![no_main]

#[allow(dead_code)]
#[path = "../../src/vouchers/codes.rs"]
mod codes;

// Each target uses its own of the shared checks.
#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::codes(data));
