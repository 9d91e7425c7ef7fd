//! Where a programme's cheques may be used and which kinds of help they pay for: rules the
//! platform enforces at redemption, not labels. A territory is the whole country, or a list of
//! départements and communes (INSEE codes); kinds of help are the typology's services.

use crate::catalogue::typology;
use crate::error::{Error, Result};
use crate::fr;
use serde::{Deserialize, Serialize};

/// Codes a territory may list, far above any real programme's.
const MAX_CODES: usize = 200;

/// A programme's territory: empty for the whole country; otherwise départements ("33", "2A",
/// "971") and communes by INSEE code ("33063"). Stored as the codes separated by spaces.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Territory(Vec<String>);

impl Territory {
    /// The codes a funder gave, checked and put in order; none is the whole country.
    pub fn parse<S: AsRef<str>>(codes: &[S]) -> Result<Territory> {
        if codes.len() > MAX_CODES {
            return Err(invalid_territory());
        }
        let mut out: Vec<String> = Vec::with_capacity(codes.len());
        for code in codes {
            let code = code.as_ref().trim().to_uppercase();
            if !(fr::is_valid_department(&code) || fr::is_valid_insee_code(&code)) {
                return Err(invalid_territory());
            }
            out.push(code);
        }
        out.sort();
        out.dedup();
        Ok(Territory(out))
    }

    /// As stored: the codes separated by spaces, read back without checks (they were checked
    /// when the programme was made).
    pub fn from_stored(text: &str) -> Territory {
        Territory(text.split_whitespace().map(str::to_string).collect())
    }

    pub fn stored(&self) -> String {
        self.0.join(" ")
    }

    pub fn codes(&self) -> &[String] {
        &self.0
    }

    pub fn is_national(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a place in this département and commune (its INSEE code, when known) is inside.
    pub fn includes(&self, department: Option<&str>, insee: Option<&str>) -> bool {
        self.is_national()
            || self.0.iter().any(|code| {
                let wanted = if code.len() == 5 { insee } else { department };
                wanted.is_some_and(|w| w.eq_ignore_ascii_case(code))
            })
    }

    /// "Gironde (33) et Dordogne (24)", "toute la France", "la commune 33063 (INSEE)".
    pub fn label(&self) -> String {
        if self.is_national() {
            return "toute la France".to_string();
        }
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|code| match fr::department_name(code) {
                Some(name) => format!("{name} ({code})"),
                None => format!("la commune de code INSEE {code}"),
            })
            .collect();
        match parts.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} et {last}", rest.join(", ")),
            _ => parts.concat(),
        }
    }
}

impl From<String> for Territory {
    fn from(stored: String) -> Territory {
        Territory::from_stored(&stored)
    }
}

fn invalid_territory() -> Error {
    Error::invalid(
        "invalid_territory",
        format!(
            "Le territoire est une liste d'au plus {MAX_CODES} codes : des départements (33, 2A, \
             971…) ou des communes par leur code INSEE (33063…). Laissez-le vide pour toute la France."
        ),
    )
}

/// The kinds of help a programme pays for: empty for every kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Services(Vec<String>);

impl Services {
    pub fn parse<S: AsRef<str>>(services: &[S]) -> Result<Services> {
        let mut out: Vec<String> = Vec::with_capacity(services.len());
        for service in services {
            let service = service.as_ref().trim();
            if !typology::SERVICES.contains(&service) {
                return Err(Error::invalid(
                    "invalid_services",
                    "Les types d'aide payés sont à choisir parmi individual_help, \
                     administrative_procedure et workshop (aucun : tous).",
                ));
            }
            out.push(service.to_string());
        }
        out.sort();
        out.dedup();
        Ok(Services(out))
    }

    pub fn from_stored(text: &str) -> Services {
        Services(text.split_whitespace().map(str::to_string).collect())
    }

    pub fn stored(&self) -> String {
        self.0.join(" ")
    }

    pub fn kinds(&self) -> &[String] {
        &self.0
    }

    pub fn is_all(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a session of this kind is paid for; a session of no stated kind only when
    /// every kind is.
    pub fn includes(&self, service: Option<&str>) -> bool {
        self.is_all() || service.is_some_and(|s| self.0.iter().any(|k| k == s))
    }

    /// "Accompagnement individuel, Atelier collectif", or "tous les types d'aide".
    pub fn label(&self) -> String {
        if self.is_all() {
            return "tous les types d'aide".to_string();
        }
        self.0
            .iter()
            .map(|s| typology::service_label(Some(s)).to_lowercase())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl From<String> for Services {
    fn from(stored: String) -> Services {
        Services::from_stored(&stored)
    }
}

/// Why a cheque cannot pay for a session at this place (the rules of its programme), if it
/// cannot.
pub fn refusal(
    territory: &Territory,
    services: &Services,
    department: Option<&str>,
    insee: Option<&str>,
    service: Option<&str>,
) -> Option<Error> {
    if !territory.includes(department, insee) {
        return Some(Error::forbidden(
            "outside_territory",
            format!(
                "Ce chèque n'est accepté que sur le territoire de son programme : {}. Ce lieu \
                 n'en fait pas partie, il ne peut pas l'encaisser.",
                territory.label()
            ),
        ));
    }
    if !services.includes(service) {
        return Some(Error::forbidden(
            "service_not_covered",
            match service {
                Some(s) => format!(
                    "Le programme de ce chèque ne paie que ces types d'aide : {}. « {} » n'en \
                     fait pas partie.",
                    services.label(),
                    typology::service_label(Some(s))
                ),
                None => format!(
                    "Le programme de ce chèque ne paie que ces types d'aide : {}. Indiquez le \
                     type de service rendu.",
                    services.label()
                ),
            },
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn territories_are_checked_ordered_and_named() {
        let t = Territory::parse(&["33", " 24", "33063", "2a"]).unwrap();
        assert_eq!(t.stored(), "24 2A 33 33063");
        assert_eq!(Territory::from_stored(&t.stored()), t);
        assert_eq!(
            t.label(),
            "Dordogne (24), Corse-du-Sud (2A), Gironde (33) et la commune de code INSEE 33063"
        );
        assert_eq!(Territory::default().label(), "toute la France");
        for bad in ["20", "96", "3306", "330630", "Gironde", ""] {
            assert!(Territory::parse(&[bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_place_is_inside_by_its_departement_or_its_commune() {
        let gironde = Territory::parse(&["33"]).unwrap();
        assert!(gironde.includes(Some("33"), None));
        assert!(!gironde.includes(Some("59"), Some("59512")));
        assert!(!gironde.includes(None, None));
        let roubaix = Territory::parse(&["59512"]).unwrap();
        assert!(roubaix.includes(Some("59"), Some("59512")));
        assert!(!roubaix.includes(Some("59"), Some("59350")));
        assert!(!roubaix.includes(Some("59"), None));
        assert!(Territory::default().includes(None, None));
    }

    #[test]
    fn services_restrict_what_a_cheque_pays_for() {
        let s = Services::parse(&["workshop", "individual_help"]).unwrap();
        assert!(s.includes(Some("workshop")));
        assert!(!s.includes(Some("administrative_procedure")));
        assert!(!s.includes(None));
        assert!(Services::default().includes(None));
        assert!(Services::parse(&["cooking"]).is_err());
        let e = refusal(&Territory::default(), &s, None, None, None);
        assert!(matches!(
            e,
            Some(Error::Forbidden {
                code: "service_not_covered",
                ..
            })
        ));
        let e = refusal(
            &Territory::parse(&["33"]).unwrap(),
            &s,
            Some("59"),
            None,
            Some("workshop"),
        );
        assert!(matches!(
            e,
            Some(Error::Forbidden {
                code: "outside_territory",
                ..
            })
        ));
    }
}
