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

use data_encoding::{Encoding, Specification};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use std::sync::LazyLock;

pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const DATA_LEN: usize = 11;
pub const CODE_LEN: usize = DATA_LEN + 1;
const PAYLOAD_VERSION: &str = "PN1";
const SIGNATURE_BYTES: usize = 16;

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
        Ok(Self { id, secret })
    }

    pub fn generate(id: impl Into<String>) -> Result<Self, String> {
        let mut secret = vec![0u8; 32];
        rand::thread_rng().fill(&mut secret[..]);
        Self::new(id, secret)
    }

    pub fn secret(&self) -> &[u8] {
        &self.secret
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

    /// Checks a scanned payload and returns the short code it carries. Strict: a machine read
    /// it, so unlike a typed code nothing is normalised.
    pub fn verify_payload(&self, payload: &str) -> Result<String, CodeError> {
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
            .is_some_and(|p| p.eq_ignore_ascii_case("PN1."))
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
        for i in 0..payload.len() {
            for bit in 0..8 {
                let mut bytes = payload.clone().into_bytes();
                bytes[i] ^= 1 << bit;
                let Ok(tampered) = String::from_utf8(bytes) else {
                    continue;
                };
                assert!(ring.verify_payload(&tampered).is_err(), "{tampered}");
            }
        }
    }

    #[test]
    fn old_keys_keep_verifying_and_unknown_keys_are_named() {
        let ring = ring();
        assert_eq!(ring.current().id, "K2");
        let code = generate_code();
        let old = ring.payload("K1", &code).unwrap();
        assert_eq!(ring.verify_payload(&old), Ok(code.clone()));
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
            prop_assert_eq!(ring.verify_payload(&payload), Ok(code));
        }

        #[test]
        fn parsers_never_panic(input in ".{0,80}") {
            let _ = parse_code(&input);
            let _ = ring().verify_payload(&input);
        }
    }
}
