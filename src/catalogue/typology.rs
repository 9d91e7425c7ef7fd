//! The national typology of digital-mediation sessions (../shared/DOMAIN.md): kinds of help,
//! themes, usual durations and where a session takes place. Identifiers are stored and sent by the API; the
//! French labels are what people read. Defined here once, for redemptions and catalogues alike.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The kinds of help of the national typology of mediation sessions.
pub const SERVICES: [&str; 3] = ["individual_help", "administrative_procedure", "workshop"];

/// How a service is named to people.
pub fn service_label(service: Option<&str>) -> &'static str {
    match service {
        Some("individual_help") => "Accompagnement individuel",
        Some("administrative_procedure") => "Démarche administrative",
        Some("workshop") => "Atelier collectif",
        _ => "Non précisé",
    }
}

pub fn invalid_service() -> Error {
    Error::invalid(
        "invalid_service",
        "Le service doit être individual_help (accompagnement individuel), \
         administrative_procedure (démarche administrative) ou workshop (atelier collectif).",
    )
}

pub fn invalid_minutes() -> Error {
    Error::invalid(
        "invalid_minutes",
        "La durée doit être comprise entre 1 et 600 minutes.",
    )
}

/// `(identifier, label)` of every theme: digital themes first, then administrative ones.
pub const THEMES: [(&str, &str); 24] = [
    ("device", "Prendre en main un équipement"),
    ("browsing", "Naviguer sur internet"),
    ("email", "Courriels"),
    ("office_software", "Bureautique"),
    ("social_networks", "Réseaux sociaux"),
    ("health", "Santé"),
    ("banking_shopping", "Banque et achats en ligne"),
    ("entrepreneurship", "Entrepreneuriat"),
    ("job_seeking", "Recherche d'emploi"),
    ("digital_security", "Sécurité numérique"),
    ("parenting", "Parentalité"),
    ("school", "Scolarité"),
    ("digital_creation", "Créer avec le numérique"),
    ("digital_culture", "Culture numérique"),
    ("admin_papers", "Démarche : papiers, élections, citoyenneté"),
    ("admin_family", "Démarche : famille, scolarité"),
    ("admin_social_health", "Démarche : social, santé"),
    ("admin_work", "Démarche : travail, formation"),
    ("admin_housing", "Démarche : logement"),
    ("admin_transport", "Démarche : transports, mobilité"),
    ("admin_money", "Démarche : argent, impôts"),
    ("admin_justice", "Démarche : justice"),
    ("admin_foreigners", "Démarche : étrangers"),
    ("admin_leisure", "Démarche : loisirs, sports, culture"),
];

/// Durations offered as choices, in minutes (any other is typed).
pub const DURATIONS: [i64; 6] = [15, 30, 45, 60, 90, 120];

/// `(identifier, label)` of where a session takes place.
pub const LOCATIONS: [(&str, &str); 3] = [
    ("at_site", "Dans le lieu"),
    ("at_home", "À domicile"),
    ("remote", "À distance"),
];

/// "45 min", "1 h", "1 h 30".
pub fn duration_text(minutes: i64) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m:02}"),
    }
}

pub fn theme_label(id: &str) -> Option<&'static str> {
    THEMES.iter().find(|(t, _)| *t == id).map(|(_, l)| *l)
}

pub fn location_label(id: &str) -> Option<&'static str> {
    LOCATIONS.iter().find(|(t, _)| *t == id).map(|(_, l)| *l)
}

/// A list of theme identifiers, stored `|`-joined and sent as a JSON list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Themes(pub Vec<String>);

impl From<String> for Themes {
    fn from(stored: String) -> Self {
        Themes(
            stored
                .split('|')
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }
}

impl Themes {
    /// Checks every identifier against the typology; repeats are dropped, order kept.
    pub fn parse(given: &[String]) -> Result<Themes> {
        let mut out: Vec<String> = Vec::new();
        for theme in given {
            let theme = theme.trim();
            if theme_label(theme).is_none() {
                return Err(Error::invalid(
                    "invalid_theme",
                    "Un thème n'existe pas dans la typologie nationale : choisissez parmi les \
                     thèmes proposés (liste dans la documentation de l'API).",
                ));
            }
            if !out.iter().any(|t| t == theme) {
                out.push(theme.to_string());
            }
        }
        Ok(Themes(out))
    }

    pub fn stored(&self) -> String {
        self.0.join("|")
    }

    pub fn labels(&self) -> Vec<&'static str> {
        self.0.iter().filter_map(|t| theme_label(t)).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Checks where a session took place.
pub fn parse_location(given: Option<&str>) -> Result<Option<String>> {
    match given.map(str::trim).filter(|l| !l.is_empty()) {
        None => Ok(None),
        Some(l) if location_label(l).is_some() => Ok(Some(l.to_string())),
        Some(_) => Err(Error::invalid(
            "invalid_location",
            "Le lieu de la séance doit être at_site (dans le lieu), at_home (à domicile) ou \
             remote (à distance).",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn themes_round_trip_and_refuse_unknown() {
        let t = Themes::parse(&["email".into(), "admin_housing".into(), "email".into()])
            .expect("valid");
        assert_eq!(t.stored(), "email|admin_housing");
        assert_eq!(Themes::from(t.stored()), t);
        assert_eq!(Themes::from(String::new()), Themes::default());
        assert!(Themes::parse(&["cooking".into()]).is_err());
        assert_eq!(
            parse_location(Some("remote")).unwrap().as_deref(),
            Some("remote")
        );
        assert!(parse_location(Some("moon")).is_err());
    }

    #[test]
    fn the_api_documentation_lists_every_theme() {
        let ids: Vec<&str> = THEMES.iter().map(|(id, _)| *id).collect();
        let listed = format!("national typology: {}.", ids.join(", "));
        assert!(include_str!("mod.rs").contains(&listed));
        assert!(include_str!("../catalogue/mod.rs").contains(&listed));
    }
}
