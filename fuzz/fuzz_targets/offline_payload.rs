//! Offline (PN2) QR payloads as a device or a site scans them: never a panic, what parses
//! re-encodes to exactly the same text, and whatever verifies says what was signed.

#![no_main]

#[allow(dead_code)]
#[path = "../../src/vouchers/codes.rs"]
mod codes;

// Each target uses its own of the shared checks.
#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::offline_payload(data));
