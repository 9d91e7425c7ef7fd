//! The one input layer: text that reaches passnum holds no control character (NUL and the
//! other C0 and C1 controls, DEL), except tab, line feed and carriage return inside a body,
//! where a multi-line field (a comment, a reason) may hold them. No person types these;
//! PostgreSQL refuses NUL in text where SQLite stores it, so without this layer the two
//! databases answered the same input differently (a 500 on one).

use crate::error::{Error, Result};
use axum::extract::Request;
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

fn control_character() -> Error {
    Error::invalid(
        "control_character",
        "Le texte envoyé contient un caractère de contrôle invisible (par exemple un caractère \
         nul) : retirez-le et recommencez.",
    )
}

/// Text of a body: tab, line feed and carriage return are allowed, no other control.
pub fn check_text(text: &str) -> Result<()> {
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(control_character());
    }
    Ok(())
}

/// Every string (and key) of a JSON document, checked with [`check_text`].
pub fn check_json(value: &serde_json::Value) -> Result<()> {
    match value {
        serde_json::Value::String(s) => check_text(s),
        serde_json::Value::Array(items) => items.iter().try_for_each(check_json),
        serde_json::Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            check_text(k)?;
            check_json(v)
        }),
        _ => Ok(()),
    }
}

/// The path and the query string, percent-decoded: no control at all.
pub fn check_uri(uri: &Uri) -> Result<()> {
    let parts = [uri.path(), uri.query().unwrap_or_default()];
    for part in parts {
        let decoded = percent_decoded(part);
        if decoded.iter().any(|&b| b < 0x20 || b == 0x7f)
            || String::from_utf8_lossy(&decoded)
                .chars()
                .any(char::is_control)
        {
            return Err(control_character());
        }
    }
    Ok(())
}

/// `%XX` decoded (and `+` left as is: it is not a control either way).
fn percent_decoded(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Middleware of the JSON API: a request whose address holds a control is refused (422).
pub async fn api_guard(request: Request, next: Next) -> Response {
    match check_uri(request.uri()) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_refused_where_no_person_types_them() {
        assert!(check_text("Médiathèque\tde Cenon\r\nannexe").is_ok());
        for bad in ["a\0b", "a\u{7}", "a\u{1b}[31m", "a\u{85}", "a\u{7f}"] {
            assert!(check_text(bad).is_err(), "{bad:?}");
        }
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        assert!(check_uri(&uri("/lieux?q=%C3%89vry%2033000")).is_ok());
        assert!(check_uri(&uri("/lieux?q=a%00b")).is_err());
        assert!(check_uri(&uri("/avis/a%0Ab")).is_err());
        assert!(check_uri(&uri("/lieux?q=a%0")).is_ok());
        let json: serde_json::Value = serde_json::from_str(r#"{"a":["x","y\u0000"]}"#).unwrap();
        assert!(check_json(&json).is_err());
    }
}
