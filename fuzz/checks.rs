//! What each fuzz target checks, shared by the libFuzzer targets (fuzz_targets/) and by the
//! replay of saved inputs in the normal test suite (tests/fuzz_regressions.rs). Both crates have
//! the module under test at their root as `codes`.

use crate::codes::{display_code, looks_like_payload, parse_code, Keyring, SigningKey, ALPHABET};
use std::sync::OnceLock;

fn keyring() -> &'static Keyring {
    static KEYRING: OnceLock<Keyring> = OnceLock::new();
    KEYRING.get_or_init(|| {
        Keyring::new(vec![
            SigningKey::new("K1", vec![1; 32]).expect("key"),
            SigningKey::new("K2", vec![2; 32]).expect("key"),
        ])
        .expect("keyring")
    })
}

/// Target `codes`. The first byte chooses: read the rest as text a site typed or scanned, or
/// sign a code made from it and flip one character of the payload.
pub fn codes(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        read_anything(&String::from_utf8_lossy(rest));
    } else {
        tamper_with_payload(rest);
    }
}

/// As the redemption endpoint reads a code (`redemption::read_code`), and each reader alone.
fn read_anything(input: &str) {
    let keyring = keyring();
    let trimmed = input.trim();
    let read = if looks_like_payload(trimmed) {
        keyring.verify_payload(trimmed)
    } else {
        parse_code(trimmed)
    };
    for code in [read, parse_code(input), keyring.verify_payload(input)]
        .into_iter()
        .flatten()
    {
        assert_canonical(&code);
    }
}

/// A canonical code reads back as itself, typed or printed.
fn assert_canonical(code: &str) {
    assert_eq!(code.len(), 12, "{code:?}");
    assert_eq!(parse_code(code).as_deref(), Ok(code));
    assert_eq!(parse_code(&display_code(code)).as_deref(), Ok(code));
    assert_eq!(parse_code(&code.to_lowercase()).as_deref(), Ok(code));
}

fn tamper_with_payload(data: &[u8]) {
    if data.len() < 13 {
        return;
    }
    let keyring = keyring();
    // Eleven data symbols from the input, then the one check symbol that makes a valid code.
    let body: String = data[..11]
        .iter()
        .map(|b| ALPHABET[(*b % 32) as usize] as char)
        .collect();
    let code = ALPHABET
        .iter()
        .map(|&c| format!("{body}{}", c as char))
        .find(|candidate| parse_code(candidate).is_ok())
        .expect("one check symbol fits");
    let key_id = if data[11] & 1 == 0 { "K1" } else { "K2" };
    let payload = keyring.payload(key_id, &code).expect("known key");
    assert_eq!(
        keyring.verify_payload(&payload).as_deref(),
        Ok(code.as_str())
    );

    // Any other payload, however close, is refused: nothing in it can be changed.
    let mut bytes = payload.clone().into_bytes();
    let at = data[12] as usize % bytes.len();
    let by = data.get(13).copied().unwrap_or(b'A');
    bytes[at] = by;
    let tampered = String::from_utf8_lossy(&bytes).into_owned();
    if tampered != payload {
        assert!(
            keyring.verify_payload(&tampered).is_err(),
            "{tampered:?} accepted"
        );
    }
    read_anything(&tampered);
}
