//! The bank-details document (RIB) a site sends with new details: checked by what its bytes
//! are, not by the name or type the sender gave, and fingerprinted.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};

/// A scan or a bank's PDF of a RIB is well under this; anything larger is not one.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024 * 1024;

/// A document as sent: its name (as the sender's computer called it) and its bytes.
#[derive(Debug, Clone)]
pub struct Document {
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// A document that passed the checks, ready to store.
#[derive(Debug, Clone)]
pub struct StoredDocument {
    pub filename: String,
    pub content_type: &'static str,
    pub sha256: String,
    pub bytes: Vec<u8>,
}

impl Document {
    /// PDF, JPEG or PNG, recognised by their first bytes, of at most [`MAX_DOCUMENT_BYTES`].
    pub fn check(self) -> Result<StoredDocument> {
        if self.bytes.is_empty() {
            return Err(Error::invalid(
                "document_missing",
                "Joignez votre relevé d'identité bancaire (RIB), en PDF, JPEG ou PNG.",
            ));
        }
        if self.bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(Error::invalid(
                "document_too_large",
                "Ce document dépasse 5 Mo : envoyez un PDF ou une photo plus légère de votre RIB.",
            ));
        }
        let content_type = sniff(&self.bytes).ok_or_else(|| {
            Error::invalid(
                "document_type",
                "Ce document n'est ni un PDF, ni une image JPEG ou PNG : envoyez votre RIB dans \
                 l'un de ces formats.",
            )
        })?;
        let sha256 = data_encoding::HEXLOWER.encode(&Sha256::digest(&self.bytes));
        Ok(StoredDocument {
            filename: clean_filename(&self.filename, content_type),
            content_type,
            sha256,
            bytes: self.bytes,
        })
    }
}

fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else {
        None
    }
}

/// A name safe to show and to send back in a header: letters, digits, `.-_` and spaces, at
/// most 100 characters, with the extension of what the document really is.
fn clean_filename(sent: &str, content_type: &str) -> String {
    let base = sent.rsplit(['/', '\\']).next().unwrap_or_default();
    let stem = base.rsplit_once('.').map_or(base, |(stem, _)| stem);
    let mut clean: String = stem
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .take(90)
        .collect();
    if clean.trim().is_empty() {
        clean = "rib".into();
    }
    let extension = match content_type {
        "application/pdf" => "pdf",
        "image/jpeg" => "jpg",
        _ => "png",
    };
    format!("{}.{extension}", clean.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(name: &str, bytes: &[u8]) -> Result<StoredDocument> {
        Document {
            filename: name.into(),
            bytes: bytes.to_vec(),
        }
        .check()
    }

    #[test]
    fn recognised_by_content_not_name() {
        let pdf = doc("RIB banque.exe", b"%PDF-1.7 ...").unwrap();
        assert_eq!(pdf.content_type, "application/pdf");
        assert_eq!(pdf.filename, "RIB banque.pdf");
        assert_eq!(pdf.sha256.len(), 64);
        let png = doc("../../etc/passwd", b"\x89PNG\r\n\x1a\nrest").unwrap();
        assert_eq!(png.filename, "passwd.png");
        assert!(doc("rib.pdf", b"<html>").is_err());
        assert!(doc("rib.pdf", b"").is_err());
        assert!(doc("rib.pdf", &vec![b'%'; MAX_DOCUMENT_BYTES + 1]).is_err());
        assert_eq!(doc("", b"\xFF\xD8\xFF\xE0").unwrap().filename, "rib.jpg");
    }
}
