//! What each fuzz target checks, shared by the libFuzzer targets (fuzz_targets/) and by the
//! replay of saved inputs in the normal test suite (tests/fuzz_regressions.rs). Both crates have
//! the module under test at their root as `codes`.

use crate::codes::{
    display_code, looks_like_payload, parse_code, programme_ref, Claims, Keyring, OfflinePayload,
    SigningKey, ALPHABET,
};
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
        keyring.verify_payload(trimmed).map(|scanned| scanned.code)
    } else {
        parse_code(trimmed)
    };
    let verified = keyring.verify_payload(input).map(|scanned| scanned.code);
    for code in [read, parse_code(input), verified].into_iter().flatten() {
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

/// Eleven data symbols from the first 11 bytes, then the one check symbol that makes a valid
/// code.
fn code_from(data: &[u8]) -> String {
    let body: String = data[..11]
        .iter()
        .map(|b| ALPHABET[(*b % 32) as usize] as char)
        .collect();
    ALPHABET
        .iter()
        .map(|&c| format!("{body}{}", c as char))
        .find(|candidate| parse_code(candidate).is_ok())
        .expect("one check symbol fits")
}

fn tamper_with_payload(data: &[u8]) {
    if data.len() < 13 {
        return;
    }
    let keyring = keyring();
    let code = code_from(data);
    let key_id = if data[11] & 1 == 0 { "K1" } else { "K2" };
    let payload = keyring.payload(key_id, &code).expect("known key");
    assert_eq!(
        keyring.verify_payload(&payload).map(|s| s.code).as_deref(),
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

/// Target `offline_payload`. The first byte chooses: read the rest as a scanned PN2 payload
/// (what parses re-encodes to the same text, what verifies says what was parsed), or sign
/// claims made from it and change one character.
pub fn offline_payload(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        read_offline(&String::from_utf8_lossy(rest));
    } else {
        tamper_with_offline_payload(rest);
    }
}

fn read_offline(input: &str) {
    let keyring = keyring();
    let parsed = OfflinePayload::parse(input);
    if let Ok(parsed) = &parsed {
        assert_eq!(parsed.encode(), input, "parsed, but spelt otherwise");
    }
    if let Ok(scanned) = keyring.verify_payload(input) {
        assert_canonical(&scanned.code);
        if input.starts_with("PN2.") {
            let parsed = parsed.expect("a verified PN2 parses");
            assert_eq!(scanned.claims.as_ref(), Some(&parsed.claims));
            assert_eq!(scanned.code, parsed.code);
        }
    }
    // The same text as a device reads it offline.
    let _ = keyring.verify_offline(input, jiff::civil::Date::constant(2026, 3, 2));
    read_anything(input);
}

fn tamper_with_offline_payload(data: &[u8]) {
    if data.len() < 19 {
        return;
    }
    let keyring = keyring();
    let code = code_from(data);
    let value = u32::from_le_bytes([data[11], data[12], data[13], data[14]]);
    let days = u16::from_le_bytes([data[15], data[16]]);
    let claims = Claims {
        programme: programme_ref(&format!("programme-{}", data[17])),
        value_cents: i64::from(value % 999_999_999) + 1,
        last_day: jiff::civil::Date::constant(2020, 1, 1)
            .checked_add(jiff::Span::new().days(i64::from(days)))
            .expect("a date"),
    };
    let key_id = if data[18] & 1 == 0 { "K1" } else { "K2" };
    let payload = keyring
        .offline_payload(key_id, &code, &claims)
        .expect("claims a payload can state");
    let scanned = keyring.verify_payload(&payload).expect("verifies");
    assert_eq!(scanned.code, code);
    assert_eq!(scanned.claims.as_ref(), Some(&claims));
    assert_eq!(
        OfflinePayload::parse(&payload)
            .map(|p| p.encode())
            .as_deref(),
        Ok(payload.as_str())
    );

    let mut bytes = payload.clone().into_bytes();
    let at = data.get(19).copied().unwrap_or(0) as usize % bytes.len();
    bytes[at] = data.get(20).copied().unwrap_or(b'A');
    let tampered = String::from_utf8_lossy(&bytes).into_owned();
    if tampered != payload {
        assert!(
            keyring.verify_payload(&tampered).is_err(),
            "{tampered:?} accepted"
        );
    }
    read_offline(&tampered);
}
