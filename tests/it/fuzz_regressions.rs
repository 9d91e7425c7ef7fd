//! Replays every input the fuzzers ever crashed on (fuzz/regressions/<target>/*), and runs the
//! same checks over arbitrary bytes with proptest, so `cargo test` guards them without nightly
//! or libFuzzer.

#[path = "../../fuzz/checks.rs"]
mod checks;
#[path = "../../fuzz/checks_camt.rs"]
mod checks_camt;
#[path = "../../fuzz/checks_sites.rs"]
mod checks_sites;

// The checks find the modules under test at the crate root (see main.rs), as in the fuzz
// targets.
use crate::standard;

use proptest::prelude::*;
use std::path::Path;

/// What a target checks on one input.
type Check = fn(&[u8]);

/// Each target's checks, by the name of its folder of saved inputs.
const TARGETS: &[(&str, Check)] = &[
    ("codes", checks::codes),
    ("offline_payload", checks::offline_payload),
    ("sites_csv", checks_sites::sites_csv),
    ("camt", checks_camt::camt),
];

#[test]
fn the_seeds_of_the_statement_target_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/camt");
    for entry in std::fs::read_dir(root).expect("fuzz/seeds/camt") {
        let data = std::fs::read(entry.expect("entry").path()).expect("seed");
        checks_camt::camt(&data);
        assert!(passnum::treasury::camt::parse(&data).is_ok());
    }
}

#[test]
fn the_seeds_of_the_csv_target_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/sites_csv");
    for entry in std::fs::read_dir(root).expect("fuzz/seeds/sites_csv") {
        checks_sites::sites_csv(&std::fs::read(entry.expect("entry").path()).expect("seed"));
    }
}

#[test]
fn the_seeds_of_the_offline_target_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/offline_payload");
    for entry in std::fs::read_dir(root).expect("fuzz/seeds/offline_payload") {
        checks::offline_payload(&std::fs::read(entry.expect("entry").path()).expect("seed"));
    }
    // Signed by a separate implementation (Python's `cryptography`) from the documented
    // format alone: what a device does.
    let seed = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/offline_payload/pn2-k2.bin"),
    )
    .expect("seed");
    let payload = std::str::from_utf8(&seed[1..]).expect("text");
    let keyring =
        crate::codes::Keyring::new(vec![
            crate::codes::SigningKey::new("K2", vec![2; 32]).expect("key")
        ])
        .expect("keyring");
    let scanned = keyring.verify_payload(payload).expect("verifies");
    assert_eq!(scanned.code, "7K3M9QXR2TDH");
    let claims = scanned.claims.expect("PN2");
    assert_eq!(claims.value_cents, 1000);
    assert_eq!(
        claims.programme,
        crate::codes::programme_ref("0190a0b1-0000-7000-8000-000000000001")
    );
}

#[test]
fn saved_crash_inputs_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut replayed = 0;
    for (target, check) in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("entry").path();
            let data = std::fs::read(&path).expect("input");
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{target}: {} fails again", path.display());
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no saved input under {}", root.display());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn codes_never_panic_on_bytes(data in proptest::collection::vec(any::<u8>(), 0..80)) {
        checks::codes(&data);
    }

    #[test]
    fn codes_never_panic_on_text(text in "\\PC{0,40}") {
        checks::codes(&[&[0u8][..], text.as_bytes()].concat());
    }

    #[test]
    fn places_files_never_panic(lines in proptest::collection::vec(
        "[a-z0-9_ |;,\"é:.-]{0,60}", 0..6)) {
        let header = standard::FIELDS.join(",");
        let text = std::iter::once(header.as_str())
            .chain(lines.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("\n");
        checks_sites::sites_csv(text.as_bytes());
    }

    #[test]
    fn statements_never_panic(cut in 0usize..4000, byte in any::<u8>(), at in 0usize..4000) {
        // A valid statement with one byte changed, then cut: closer to the schema than noise.
        let seed = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/camt/minimal.xml"),
        )
        .expect("seed");
        let mut data = seed.clone();
        if !data.is_empty() {
            let i = at % data.len();
            data[i] = byte;
        }
        data.truncate(cut.max(1).min(data.len()));
        checks_camt::camt(&data);
    }

    #[test]
    fn offline_payloads_never_panic_on_text(text in "(PN2\\.)?[0-9A-Z.]{0,150}") {
        checks::offline_payload(&[&[0u8][..], text.as_bytes()].concat());
    }

    #[test]
    fn offline_payloads_resist_one_change(data in proptest::collection::vec(any::<u8>(), 19..22)) {
        checks::offline_payload(&[&[1u8][..], &data].concat());
    }

    #[test]
    fn signed_payloads_resist_one_change(data in proptest::collection::vec(any::<u8>(), 14..16)) {
        checks::codes(&[&[1u8][..], &data].concat());
    }
}
