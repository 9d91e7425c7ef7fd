//! Reading received e-mails (RFC 5322 with CRLF line ends): headers, RFC 2047 encoded words,
//! the leaf MIME parts and their decoded bodies. Small and lenient, for tests only.

use base64::Engine as _;

/// The first header block of `data` (a whole message, or one part), unfolded: one
/// `(name, value)` per header.
pub fn top_headers(data: &str) -> Vec<(String, String)> {
    let block = data.split("\r\n\r\n").next().unwrap_or_default();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in block.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    headers
}

/// The first header of that name (case-insensitive).
pub fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

/// Decodes RFC 2047 encoded words (B and Q, UTF-8); whitespace between two encoded words is
/// dropped, as the RFC says.
pub fn decode_rfc2047(value: &str) -> String {
    let mut out = String::new();
    let mut previous_encoded = false;
    for (i, token) in value
        .split([' ', '\t'])
        .filter(|t| !t.is_empty())
        .enumerate()
    {
        let decoded = token
            .strip_prefix("=?")
            .and_then(|t| t.strip_suffix("?="))
            .and_then(|t| {
                let mut parts = t.splitn(3, '?');
                let (_charset, encoding, text) = (parts.next()?, parts.next()?, parts.next()?);
                let bytes = match encoding {
                    "b" | "B" => base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .ok()?,
                    "q" | "Q" => decode_q(text)?,
                    _ => return None,
                };
                String::from_utf8(bytes).ok()
            });
        let encoded = decoded.is_some();
        if i > 0 && !(encoded && previous_encoded) {
            out.push(' ');
        }
        out.push_str(&decoded.unwrap_or_else(|| token.to_string()));
        previous_encoded = encoded;
    }
    out
}

/// The "Q" encoding of RFC 2047: quoted-printable where '_' is a space.
pub fn decode_q(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

/// Quoted-printable bodies (RFC 2045): `=XX` escapes and soft line breaks (`=` at line end).
pub fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'=' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let rest = &bytes[i + 1..];
        if rest.starts_with(b"\r\n") {
            i += 3;
        } else if rest.starts_with(b"\n") {
            i += 2;
        } else if let Some(value) = rest
            .get(..2)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(value);
            i += 3;
        } else {
            // A stray '=': kept as is, as RFC 2045 advises readers to.
            out.push(b'=');
            i += 1;
        }
    }
    out
}

/// The leaf parts of a MIME message, each as `headers\r\n\r\nbody`, found by every boundary
/// the message declares.
pub fn mime_parts(data: &str) -> Vec<String> {
    let boundaries: Vec<String> = data
        .match_indices("boundary=\"")
        .filter_map(|(at, m)| {
            let rest = &data[at + m.len()..];
            rest.find('"').map(|end| rest[..end].to_string())
        })
        .collect();
    let mut parts = vec![data.to_string()];
    for boundary in boundaries {
        let delimiter = format!("--{boundary}");
        parts = parts
            .into_iter()
            .flat_map(|p| {
                if p.contains(&delimiter) {
                    p.split(&delimiter)
                        .skip(1)
                        .map(|s| s.trim_start_matches("\r\n").to_string())
                        .filter(|s| !s.starts_with("--"))
                        .collect()
                } else {
                    vec![p]
                }
            })
            .collect();
    }
    parts
}

/// One leaf part, its headers unfolded and its body as transmitted.
#[derive(Clone, Debug)]
pub struct Part {
    pub headers: Vec<(String, String)>,
    pub raw_body: String,
}

impl Part {
    pub fn parse(part: &str) -> Part {
        let (_, body) = part.split_once("\r\n\r\n").unwrap_or((part, ""));
        Part {
            headers: top_headers(part),
            raw_body: body.to_string(),
        }
    }

    pub fn header(&self, name: &str) -> Option<String> {
        header(&self.headers, name)
    }

    /// The media type, lower-cased, without parameters: `text/plain`, `application/pdf`.
    pub fn media_type(&self) -> String {
        let value = self.header("Content-Type").unwrap_or_default();
        let media = value.split(';').next().unwrap_or_default();
        media.trim().to_ascii_lowercase()
    }

    pub fn is_attachment(&self) -> bool {
        self.header("Content-Disposition").is_some_and(|d| {
            d.split(';')
                .next()
                .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("attachment"))
        })
    }

    /// The attachment's file name, from Content-Disposition (or Content-Type's `name`).
    pub fn filename(&self) -> Option<String> {
        self.header("Content-Disposition")
            .and_then(|d| header_parameter(&d, "filename"))
            .or_else(|| {
                self.header("Content-Type")
                    .and_then(|t| header_parameter(&t, "name"))
            })
    }

    /// The body with its Content-Transfer-Encoding undone.
    pub fn decoded(&self) -> Vec<u8> {
        let encoding = self
            .header("Content-Transfer-Encoding")
            .unwrap_or_else(|| "7bit".into())
            .to_ascii_lowercase();
        match encoding.as_str() {
            "base64" => {
                let compact: String = self
                    .raw_body
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .unwrap_or_else(|err| panic!("bad base64 body: {err}"))
            }
            "quoted-printable" => decode_quoted_printable(&self.raw_body),
            _ => self.raw_body.as_bytes().to_vec(),
        }
    }

    /// The decoded body as UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8(self.decoded()).expect("a UTF-8 body")
    }
}

/// Every leaf part of a message, parsed.
pub fn parts(data: &str) -> Vec<Part> {
    mime_parts(data).iter().map(|p| Part::parse(p)).collect()
}

/// A parameter of a structured header value (`attachment; filename="a.pdf"`): quoted or a
/// bare token, or RFC 2231 `name*=utf-8''percent%20encoded`; RFC 2047 words decoded.
pub fn header_parameter(value: &str, name: &str) -> Option<String> {
    for param in value.split(';').skip(1) {
        let Some((key, raw)) = param.split_once('=') else {
            continue;
        };
        let key = key.trim();
        let raw = raw.trim();
        if key.eq_ignore_ascii_case(name) {
            let unquoted = raw
                .strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                .unwrap_or(raw);
            return Some(decode_rfc2047(unquoted));
        }
        if key.eq_ignore_ascii_case(&format!("{name}*")) {
            let (_charset, rest) = raw.split_once('\'')?;
            let (_language, encoded) = rest.split_once('\'')?;
            return String::from_utf8(percent_decode(encoded)).ok();
        }
    }
    None
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(value) => {
                out.push(value);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}
