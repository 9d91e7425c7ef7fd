//! Why a bank returned a transfer: the ISO 20022 reason codes banks send with an
//! R-transaction, in words a site understands.

use crate::error::{Error, Result};

/// The reason codes the operator may record, each with what it means for the site.
pub const REASONS: [(&str, &str); 12] = [
    ("AC01", "Numéro de compte (IBAN) incorrect"),
    ("AC04", "Compte clôturé"),
    ("AC06", "Compte bloqué"),
    ("AG01", "Opération interdite sur ce compte"),
    ("AM04", "Provision insuffisante sur le compte payeur"),
    ("AM05", "Virement en double"),
    ("BE04", "Adresse du bénéficiaire manquante ou incorrecte"),
    ("CUST", "Virement refusé par le bénéficiaire"),
    ("MD07", "Titulaire du compte décédé"),
    ("MS02", "Motif non précisé par le bénéficiaire"),
    ("MS03", "Motif non précisé par la banque"),
    ("RC01", "Code BIC incorrect"),
];

/// A reason code as the operator gives it, checked; its meaning.
pub fn parse(code: &str) -> Result<(&'static str, &'static str)> {
    let code = code.trim().to_uppercase();
    REASONS
        .iter()
        .find(|(c, _)| *c == code)
        .copied()
        .ok_or_else(|| {
            Error::invalid(
                "invalid_reason_code",
                format!(
                    "Code de rejet inconnu. Codes possibles : {}.",
                    REASONS.map(|(c, _)| c).join(", ")
                ),
            )
        })
}

/// The meaning of a recorded code, if it is one.
pub fn label(code: &str) -> Option<&'static str> {
    REASONS.iter().find(|(c, _)| *c == code).map(|(_, l)| *l)
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_read_in_plain_french() {
        assert_eq!(super::parse(" ac04 ").unwrap(), ("AC04", "Compte clôturé"));
        assert!(super::parse("XX99").is_err());
        assert_eq!(super::label("MD07"), Some("Titulaire du compte décédé"));
    }
}
