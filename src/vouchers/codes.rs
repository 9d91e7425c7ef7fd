//! Codes printed on a carnet.
//!
//! Also compiled alone by the fuzz targets (fuzz/): it uses no `crate::` path.
//!
//! * Short code: 11 random Crockford base32 symbols (55 bits, unguessable) and one Luhn mod 32
//!   check symbol, so a typo is caught before the database is asked. Shown as `XXXX-XXXX-XXXX`.
//! * QR payload: `PN1.<key id>.<short code>.<signature>`, the signature being the first 128 bits
//!   of HMAC-SHA256 over everything before it, in base32. Only upper-case letters, digits and
//!   dots, so it fits the compact alphanumeric mode of QR codes. It is verified (constant time)
//!   before any database read; the key id lets keys rotate.
//! * Offline QR payload (printed since PN1 could only be checked by the server):
//!   `PN2.<key id>.<programme ref>.<value in cents>.<last day YYYYMMDD>.<short code>.<signature>`,
//!   the signature being Ed25519 over the UTF-8 bytes of everything before the last dot, in the
//!   same base32 (103 symbols). A device holding the published public keys checks it without a
//!   connection; the server checks it too and compares what it says with the database.
//!   Each key id has both keys: the Ed25519 one is derived from the HMAC secret, so rotating or
//!   retiring a key does it for both payloads, and the keys file keeps its format.

use data_encoding::{Encoding, Specification};
use ed25519_dalek::Signer;
use hmac::{Hmac, Mac};
use jiff::civil::Date;
use rand::Rng;
use sha2::Sha256;
use std::sync::LazyLock;

pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const DATA_LEN: usize = 11;
pub const CODE_LEN: usize = DATA_LEN + 1;
const PAYLOAD_VERSION: &str = "PN1";
const SIGNATURE_BYTES: usize = 16;
const OFFLINE_VERSION: &str = "PN2";
/// Symbols of a programme reference: 40 bits of a hash of the programme's id.
pub const PROGRAMME_REF_LEN: usize = 8;
/// The largest value a payload may state, in cents (nine digits).
const MAX_VALUE_CENTS: i64 = 999_999_999;
/// Domain separation for the Ed25519 seed derived from a key's HMAC secret.
const ED25519_SEED_LABEL: &[u8] = b"passnum/offline-cheques/ed25519/v1";

type HmacSha256 = Hmac<Sha256>;

static BASE32: LazyLock<Encoding> = LazyLock::new(|| {
    let mut spec = Specification::new();
    spec.symbols
        .push_str(std::str::from_utf8(ALPHABET).unwrap_or_default());
    // Non-zero trailing bits are refused, so one signature has exactly one spelling.
    spec.check_trailing_bits = true;
    spec.encoding()
        .unwrap_or_else(|_| data_encoding::BASE32_NOPAD.clone())
});

/// Why a code was refused. Each becomes `invalid_code` with its own message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeError {
    /// Not the shape of a short code or of a QR payload.
    Malformed,
    /// The check symbol does not match: a typing mistake.
    BadCheck,
    /// Signed with a key this platform does not know (another platform, or a made-up key id).
    UnknownKey,
    /// The signature does not match: forged or altered.
    BadSignature,
    /// Its signed last day is past (said only where no database can say more: offline).
    Expired,
}

impl CodeError {
    pub fn message(self) -> &'static str {
        match self {
            CodeError::Malformed => {
                "Ce code n'a pas la bonne forme : un code de chèque a 12 caractères (lettres et chiffres), par exemple ABCD-EFGH-JK12."
            }
            CodeError::BadCheck => {
                "Ce code contient une erreur de frappe : vérifiez chaque caractère sur le chèque."
            }
            CodeError::UnknownKey => {
                "Ce QR code n'a pas été émis par le Pass numérique ou n'est plus reconnu."
            }
            CodeError::BadSignature => {
                "Ce QR code est faux ou a été modifié : il ne peut pas être accepté."
            }
            CodeError::Expired => {
                "Ce chèque a dépassé son dernier jour de validité : il ne peut plus être accepté."
            }
        }
    }
}

fn value_of(symbol: u8) -> Option<u8> {
    ALPHABET.iter().position(|&s| s == symbol).map(|i| i as u8)
}

/// Luhn mod N over the 32 symbols: catches every single substitution and most transpositions.
fn luhn_check_value(values: &[u8]) -> u8 {
    let n = ALPHABET.len() as u32;
    let mut sum = 0u32;
    for (i, &v) in values.iter().rev().enumerate() {
        let factor = if i % 2 == 0 { 2 } else { 1 };
        let addend = factor * v as u32;
        sum += addend / n + addend % n;
    }
    ((n - sum % n) % n) as u8
}

/// A new random short code in canonical form (12 symbols, no separators).
pub fn generate_code() -> String {
    let mut rng = rand::thread_rng();
    let values: Vec<u8> = (0..DATA_LEN).map(|_| rng.gen_range(0..32u8)).collect();
    encode_with_check(&values)
}

fn encode_with_check(values: &[u8]) -> String {
    let check = luhn_check_value(values);
    values
        .iter()
        .chain(std::iter::once(&check))
        .map(|&v| ALPHABET[v as usize] as char)
        .collect()
}

/// Reads a short code as a person typed it: case, spaces and dashes do not matter, and the
/// letters O, I and L are read as the digits they look like (Crockford's rule).
pub fn parse_code(input: &str) -> Result<String, CodeError> {
    let mut values = Vec::with_capacity(CODE_LEN);
    for c in input.chars() {
        let symbol = match c.to_ascii_uppercase() {
            ' ' | '-' | '\t' => continue,
            'O' => b'0',
            'I' | 'L' => b'1',
            c if c.is_ascii() => c as u8,
            _ => return Err(CodeError::Malformed),
        };
        values.push(value_of(symbol).ok_or(CodeError::Malformed)?);
        if values.len() > CODE_LEN {
            return Err(CodeError::Malformed);
        }
    }
    if values.len() != CODE_LEN {
        return Err(CodeError::Malformed);
    }
    let (data, check) = values.split_at(DATA_LEN);
    if luhn_check_value(data) != check[0] {
        return Err(CodeError::BadCheck);
    }
    Ok(values
        .iter()
        .map(|&v| ALPHABET[v as usize] as char)
        .collect())
}

/// `ABCDEFGHJK12` → `ABCD-EFGH-JK12`, as printed.
pub fn display_code(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("-")
}

/// One signing key. The secret never leaves memory except through the keys file.
#[derive(Clone)]
pub struct SigningKey {
    pub id: String,
    secret: Vec<u8>,
    /// Signs PN2 payloads and the revocation list; derived from `secret`, never stored.
    ed25519: ed25519_dalek::SigningKey,
}

impl SigningKey {
    pub fn new(id: impl Into<String>, secret: Vec<u8>) -> Result<Self, String> {
        let id = id.into();
        if id.is_empty() || id.len() > 8 || !id.bytes().all(|b| value_of(b).is_some()) {
            return Err(format!(
                "key id {id:?} must be 1 to 8 characters among {}",
                std::str::from_utf8(ALPHABET).unwrap_or_default()
            ));
        }
        if secret.len() < 32 {
            return Err(format!("key {id} must have at least 32 bytes of secret"));
        }
        let mut seed = HmacSha256::new_from_slice(&secret)
            .map_err(|_| format!("key {id}: unusable secret"))?;
        seed.update(ED25519_SEED_LABEL);
        let seed: [u8; 32] = seed.finalize().into_bytes().into();
        let ed25519 = ed25519_dalek::SigningKey::from_bytes(&seed);
        Ok(Self {
            id,
            secret,
            ed25519,
        })
    }

    pub fn generate(id: impl Into<String>) -> Result<Self, String> {
        let mut secret = vec![0u8; 32];
        rand::thread_rng().fill(&mut secret[..]);
        Self::new(id, secret)
    }

    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// The Ed25519 public key devices verify PN2 payloads and the revocation list with.
    pub fn public_key(&self) -> [u8; 32] {
        self.ed25519.verifying_key().to_bytes()
    }

    /// A detached Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.ed25519.sign(message).to_bytes()
    }

    fn mac(&self, signed_part: &str) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = HmacSha256::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(signed_part.as_bytes());
        mac
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Every key that still verifies; the last one signs new cheques.
#[derive(Clone, Debug)]
pub struct Keyring {
    keys: Vec<SigningKey>,
}

impl Keyring {
    pub fn new(keys: Vec<SigningKey>) -> Result<Self, String> {
        if keys.is_empty() {
            return Err("at least one signing key is needed".into());
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|o| o.id == k.id) {
                return Err(format!("key id {} appears twice", k.id));
            }
        }
        Ok(Self { keys })
    }

    pub fn current(&self) -> &SigningKey {
        // `new` refuses an empty ring.
        &self.keys[self.keys.len() - 1]
    }

    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    fn find(&self, id: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// The QR payload of a cheque, signed with the given key (the one recorded on the cheque).
    pub fn payload(&self, key_id: &str, code: &str) -> Option<String> {
        let key = self.find(key_id)?;
        let signed_part = format!("{PAYLOAD_VERSION}.{key_id}.{code}");
        let tag = key.mac(&signed_part).finalize().into_bytes();
        Some(format!(
            "{signed_part}.{}",
            BASE32.encode(&tag[..SIGNATURE_BYTES])
        ))
    }

    /// The offline (PN2) payload of a cheque, signed with the given key.
    /// None for an unknown key, or claims no payload can state (see [`OfflinePayload::parse`]).
    pub fn offline_payload(&self, key_id: &str, code: &str, claims: &Claims) -> Option<String> {
        let key = self.find(key_id)?;
        let year = claims.last_day.year();
        if !(1..=MAX_VALUE_CENTS).contains(&claims.value_cents)
            || !(0..=9999).contains(&year)
            || claims.programme.len() != PROGRAMME_REF_LEN
            || !claims.programme.bytes().all(|b| value_of(b).is_some())
            || parse_code(code).as_deref() != Ok(code)
        {
            return None;
        }
        let mut payload = OfflinePayload {
            key_id: key_id.to_string(),
            claims: claims.clone(),
            code: code.to_string(),
            signature: [0; 64],
        };
        payload.signature = key.sign(payload.signed_part().as_bytes());
        Some(payload.encode())
    }

    /// Checks a scanned payload of either version and returns the short code it carries, with
    /// what a PN2 states about the cheque (to compare with the database). Strict: a machine
    /// read it, so unlike a typed code nothing is normalised. The one door for every payload.
    pub fn verify_payload(&self, payload: &str) -> Result<Scanned, CodeError> {
        if payload.starts_with("PN2.") {
            let parsed = OfflinePayload::parse(payload)?;
            let key = self.find(&parsed.key_id).ok_or(CodeError::UnknownKey)?;
            let public = ed25519_dalek::VerifyingKey::from(&key.ed25519);
            let signature = ed25519_dalek::Signature::from_bytes(&parsed.signature);
            // Strict: no malleable signature is accepted, so each payload has one spelling.
            public
                .verify_strict(parsed.signed_part().as_bytes(), &signature)
                .map_err(|_| CodeError::BadSignature)?;
            return Ok(Scanned {
                code: parse_code(&parsed.code)?,
                claims: Some(parsed.claims),
            });
        }
        Ok(Scanned {
            code: self.verify_pn1(payload)?,
            claims: None,
        })
    }

    /// As a device without a connection checks a payload: only PN2 can be, and its last day
    /// must not be past.
    pub fn verify_offline(&self, payload: &str, today: Date) -> Result<Scanned, CodeError> {
        if !payload.starts_with("PN2.") {
            return Err(CodeError::Malformed);
        }
        let scanned = self.verify_payload(payload)?;
        match &scanned.claims {
            Some(c) if c.last_day < today => Err(CodeError::Expired),
            _ => Ok(scanned),
        }
    }

    fn verify_pn1(&self, payload: &str) -> Result<String, CodeError> {
        let mut parts = payload.split('.');
        let (Some(version), Some(key_id), Some(code), Some(signature), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(CodeError::Malformed);
        };
        if version != PAYLOAD_VERSION
            || code.len() != CODE_LEN
            || !code.bytes().all(|b| value_of(b).is_some())
        {
            return Err(CodeError::Malformed);
        }
        let key = self.find(key_id).ok_or(CodeError::UnknownKey)?;
        let tag = BASE32
            .decode(signature.as_bytes())
            .map_err(|_| CodeError::BadSignature)?;
        if tag.len() != SIGNATURE_BYTES {
            return Err(CodeError::BadSignature);
        }
        let signed_len = payload.len() - signature.len() - 1;
        key.mac(&payload[..signed_len])
            .verify_truncated_left(&tag)
            .map_err(|_| CodeError::BadSignature)?;
        // A valid signature over a code with a wrong check symbol cannot happen unless the key
        // leaked; check anyway so the code is canonical.
        parse_code(code)
    }
}

/// A short code or a QR payload, as sent to the redemption endpoint.
pub fn looks_like_payload(input: &str) -> bool {
    // `get`, not slicing: a multi-byte character across byte 4 must not panic.
    input.len() > 4
        && input
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("PN1.") || p.eq_ignore_ascii_case("PN2."))
}

/// What a verified payload gives: the cheque's canonical short code and, for PN2, what it
/// states about the cheque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    pub code: String,
    pub claims: Option<Claims>,
}

/// What a PN2 payload states about its cheque, under the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// [`programme_ref`] of the cheque's programme.
    pub programme: String,
    pub value_cents: i64,
    /// The last day the cheque is accepted (its printed date plus the programme's grace).
    pub last_day: Date,
}

/// The short public reference of a programme printed in PN2 payloads and published with the
/// programmes: 40 bits of SHA-256 of its id, in base32, so nothing needs storing.
pub fn programme_ref(program_id: &str) -> String {
    use sha2::Digest;
    let digest = Sha256::new()
        .chain_update(b"passnum/programme/")
        .chain_update(program_id.as_bytes())
        .finalize();
    BASE32.encode(&digest[..PROGRAMME_REF_LEN * 5 / 8])
}

/// A PN2 payload, parsed but not verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflinePayload {
    pub key_id: String,
    pub claims: Claims,
    pub code: String,
    pub signature: [u8; 64],
}

impl OfflinePayload {
    /// Reads the fields of a PN2 payload. Strict: exactly one spelling of each field is
    /// accepted, so a payload that parses re-encodes to the same text.
    pub fn parse(payload: &str) -> Result<Self, CodeError> {
        let parts: Vec<&str> = payload.split('.').collect();
        let [version, key_id, programme, value, last_day, code, signature] = parts[..] else {
            return Err(CodeError::Malformed);
        };
        let symbols = |s: &str| s.bytes().all(|b| value_of(b).is_some());
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if version != OFFLINE_VERSION
            || key_id.is_empty()
            || key_id.len() > 8
            || !symbols(key_id)
            || programme.len() != PROGRAMME_REF_LEN
            || !symbols(programme)
            || code.len() != CODE_LEN
            || !symbols(code)
            || !digits(value)
            || value.starts_with('0')
            || value.len() > 9
            || last_day.len() != 8
            || !digits(last_day)
        {
            return Err(CodeError::Malformed);
        }
        let value_cents: i64 = value.parse().map_err(|_| CodeError::Malformed)?;
        let number = |range: std::ops::Range<usize>| last_day[range].parse::<i16>().ok();
        let (Some(year), Some(month), Some(day)) = (number(0..4), number(4..6), number(6..8))
        else {
            return Err(CodeError::Malformed);
        };
        let last_day = i8::try_from(month)
            .ok()
            .zip(i8::try_from(day).ok())
            .and_then(|(m, d)| Date::new(year, m, d).ok())
            .ok_or(CodeError::Malformed)?;
        let signature: [u8; 64] = BASE32
            .decode(signature.as_bytes())
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or(CodeError::BadSignature)?;
        Ok(Self {
            key_id: key_id.to_string(),
            claims: Claims {
                programme: programme.to_string(),
                value_cents,
                last_day,
            },
            code: code.to_string(),
            signature,
        })
    }

    /// What the signature covers: everything before its dot.
    pub fn signed_part(&self) -> String {
        let c = &self.claims;
        let d = c.last_day;
        format!(
            "{OFFLINE_VERSION}.{}.{}.{}.{:04}{:02}{:02}.{}",
            self.key_id,
            c.programme,
            c.value_cents,
            d.year(),
            d.month(),
            d.day(),
            self.code
        )
    }

    pub fn encode(&self) -> String {
        format!("{}.{}", self.signed_part(), BASE32.encode(&self.signature))
    }
}

/// The QR code of a payload as inline SVG for pages, labelled for screen readers.
pub fn qr_svg(payload: &str, label: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(payload, qrcode::EcLevel::M).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(180, 180)
        .build();
    let start = svg.find("<svg")?;
    let label = label.replace(['"', '<', '>', '&'], " ");
    Some(format!(
        "<svg role=\"img\" aria-label=\"{label}\"{}",
        &svg[start + 4..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ring() -> Keyring {
        Keyring::new(vec![
            SigningKey::new("K1", vec![1; 32]).unwrap(),
            SigningKey::new("K2", vec![2; 32]).unwrap(),
        ])
        .unwrap()
    }

    fn assert_every_bit_flip_is_refused(ring: &Keyring, payload: &str) {
        for i in 0..payload.len() {
            for bit in 0..8 {
                let mut bytes = payload.as_bytes().to_vec();
                bytes[i] ^= 1 << bit;
                let Ok(tampered) = String::from_utf8(bytes) else {
                    continue;
                };
                assert!(ring.verify_payload(&tampered).is_err(), "{tampered}");
            }
        }
    }

    fn pn1(code: &str) -> Scanned {
        Scanned {
            code: code.to_string(),
            claims: None,
        }
    }

    fn claims(last_day: Date) -> Claims {
        Claims {
            programme: programme_ref("0190a0b1-0000-7000-8000-000000000001"),
            value_cents: 1000,
            last_day,
        }
    }

    #[test]
    fn offline_payloads_verify_and_refuse_every_change() {
        let ring = ring();
        let code = generate_code();
        let claims = claims(Date::constant(2026, 12, 31));
        let payload = ring.offline_payload("K2", &code, &claims).unwrap();
        // Fits the QR versions a carnet prints well (version 7-M holds 178 such symbols).
        assert!(payload.len() <= 160, "{} symbols", payload.len());
        let scanned = ring.verify_payload(&payload).unwrap();
        assert_eq!(scanned.code, code);
        assert_eq!(scanned.claims.as_ref(), Some(&claims));
        assert_every_bit_flip_is_refused(&ring, &payload);
        // A forger changing the value keeps the shape; only the signature gives it away.
        let richer = payload.replacen(".1000.", ".9000.", 1);
        assert_eq!(ring.verify_payload(&richer), Err(CodeError::BadSignature));
    }

    #[test]
    fn offline_payloads_need_the_right_key_and_say_when_they_are_expired() {
        let ring = ring();
        let code = generate_code();
        let claims = claims(Date::constant(2026, 6, 30));
        let old = ring.offline_payload("K1", &code, &claims).unwrap();
        assert_eq!(ring.verify_payload(&old).unwrap().code, code);
        let foreign = Keyring::new(vec![SigningKey::new("K9", vec![9; 32]).unwrap()]).unwrap();
        let other = foreign.offline_payload("K9", &code, &claims).unwrap();
        assert_eq!(ring.verify_payload(&other), Err(CodeError::UnknownKey));
        let same_id = Keyring::new(vec![SigningKey::new("K1", vec![7; 32]).unwrap()]).unwrap();
        let forged = same_id.offline_payload("K1", &code, &claims).unwrap();
        assert_eq!(ring.verify_payload(&forged), Err(CodeError::BadSignature));
        // Offline, the last day is the device's to check: the day itself is still good.
        assert!(ring
            .verify_offline(&old, Date::constant(2026, 6, 30))
            .is_ok());
        assert_eq!(
            ring.verify_offline(&old, Date::constant(2026, 7, 1)),
            Err(CodeError::Expired)
        );
        // A PN1 cannot be checked without the server.
        let pn1 = ring.payload("K1", &code).unwrap();
        assert_eq!(
            ring.verify_offline(&pn1, Date::constant(2026, 6, 1)),
            Err(CodeError::Malformed)
        );
    }

    #[test]
    fn payloads_refuse_what_cannot_be_stated() {
        let ring = ring();
        let code = generate_code();
        let mut c = claims(Date::constant(2026, 6, 30));
        c.value_cents = 0;
        assert_eq!(ring.offline_payload("K2", &code, &c), None);
        let c = claims(Date::constant(2026, 6, 30));
        assert_eq!(ring.offline_payload("K2", "ABC", &c), None);
        assert_eq!(ring.offline_payload("K7", &code, &c), None);
        let good = ring.offline_payload("K2", &code, &c).unwrap();
        for bad in [
            good.replacen(".1000.", ".01000.", 1),
            good.replacen(".20260630.", ".20260631.", 1),
            good.replacen(".20260630.", ".2026063.", 1),
            good.replacen("PN2.", "PN3.", 1),
            format!("{good}.X"),
        ] {
            assert_eq!(
                OfflinePayload::parse(&bad),
                Err(CodeError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn keys_have_a_stable_public_half() {
        let key = SigningKey::new("K1", vec![1; 32]).unwrap();
        let again = SigningKey::new("K1", vec![1; 32]).unwrap();
        assert_eq!(key.public_key(), again.public_key());
        let other = SigningKey::new("K1", vec![2; 32]).unwrap();
        assert_ne!(key.public_key(), other.public_key());
        let public = ed25519_dalek::VerifyingKey::from_bytes(&key.public_key()).unwrap();
        let signature = ed25519_dalek::Signature::from_bytes(&key.sign(b"liste"));
        assert!(public.verify_strict(b"liste", &signature).is_ok());
        assert_eq!(programme_ref("a").len(), PROGRAMME_REF_LEN);
        assert_ne!(programme_ref("a"), programme_ref("b"));
    }

    #[test]
    fn every_single_substitution_is_caught() {
        let code = generate_code();
        for i in 0..CODE_LEN {
            for &s in ALPHABET {
                let mut typo = code.clone().into_bytes();
                if typo[i] == s {
                    continue;
                }
                typo[i] = s;
                let typo = String::from_utf8(typo).unwrap();
                assert_eq!(parse_code(&typo), Err(CodeError::BadCheck), "{typo}");
            }
        }
    }

    #[test]
    fn every_byte_flip_of_a_payload_is_refused() {
        let ring = ring();
        let payload = ring.payload("K2", &generate_code()).unwrap();
        assert_every_bit_flip_is_refused(&ring, &payload);
    }

    #[test]
    fn old_keys_keep_verifying_and_unknown_keys_are_named() {
        let ring = ring();
        assert_eq!(ring.current().id, "K2");
        let code = generate_code();
        let old = ring.payload("K1", &code).unwrap();
        assert_eq!(ring.verify_payload(&old), Ok(pn1(&code)));
        let foreign = Keyring::new(vec![SigningKey::new("K9", vec![9; 32]).unwrap()]).unwrap();
        let other = foreign.payload("K9", &code).unwrap();
        assert_eq!(ring.verify_payload(&other), Err(CodeError::UnknownKey));
        let same_id = Keyring::new(vec![SigningKey::new("K1", vec![7; 32]).unwrap()]).unwrap();
        let forged = same_id.payload("K1", &code).unwrap();
        assert_eq!(ring.verify_payload(&forged), Err(CodeError::BadSignature));
    }

    proptest! {
        #[test]
        fn typed_codes_round_trip(values in proptest::collection::vec(0u8..32, DATA_LEN),
                                  lower in any::<bool>(), dashes in any::<bool>()) {
            let code = encode_with_check(&values);
            let mut typed = if dashes { display_code(&code) } else { code.clone() };
            if lower { typed = typed.to_lowercase(); }
            prop_assert_eq!(parse_code(&typed), Ok(code));
        }

        #[test]
        fn payloads_round_trip(values in proptest::collection::vec(0u8..32, DATA_LEN), k1 in any::<bool>()) {
            let ring = ring();
            let code = encode_with_check(&values);
            let kid = if k1 { "K1" } else { "K2" };
            let payload = ring.payload(kid, &code).unwrap();
            prop_assert!(looks_like_payload(&payload));
            prop_assert!(payload.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'.'));
            prop_assert_eq!(ring.verify_payload(&payload), Ok(pn1(&code)));
        }

        #[test]
        fn offline_payloads_round_trip(values in proptest::collection::vec(0u8..32, DATA_LEN),
                                       k1 in any::<bool>(), value_cents in 1i64..=MAX_VALUE_CENTS,
                                       days in 0i32..3_000_000) {
            let ring = ring();
            let code = encode_with_check(&values);
            let kid = if k1 { "K1" } else { "K2" };
            let last_day = Date::constant(0, 1, 1).checked_add(jiff::Span::new().days(days)).unwrap();
            let claims = Claims { programme: programme_ref("p"), value_cents, last_day };
            let payload = ring.offline_payload(kid, &code, &claims).unwrap();
            prop_assert!(looks_like_payload(&payload));
            prop_assert!(payload.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'.'));
            let parsed = OfflinePayload::parse(&payload).unwrap();
            prop_assert_eq!(parsed.encode(), payload.clone());
            prop_assert_eq!(ring.verify_payload(&payload), Ok(Scanned { code, claims: Some(claims) }));
        }

        #[test]
        fn parsers_never_panic(input in ".{0,80}") {
            let _ = parse_code(&input);
            let _ = ring().verify_payload(&input);
            let _ = ring().verify_payload(&format!("PN2.{input}"));
            if let Ok(parsed) = OfflinePayload::parse(&input) {
                prop_assert_eq!(parsed.encode(), input);
            }
        }
    }
}
