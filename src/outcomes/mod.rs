//! Outcomes recorded where they happen (issue 27): the level of help a person needs, the
//! anonymous facts a distributor may note at issuance, and the short needs check that suggests
//! a carnet's size. Every value comes from a fixed list, never free text, so that nothing said
//! about a person can identify them. The stored identifiers are shared with the funder's view,
//! the observatory and the exports: change a label freely, never an identifier.

mod needs;

pub use needs::{NeedsCheck, Suggestion, QUESTIONS};

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Defines a list of stored identifiers with their French labels, and how to read one.
macro_rules! choice {
    (
        $(#[$doc:meta])* $name:ident, $code:literal, $what:literal,
        { $($variant:ident = $id:literal, $label:literal;)+ }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
        pub enum $name {
            $(#[serde(rename = $id)] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The identifier stored and sent by the API.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $id,)+ }
            }

            /// What people read.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label,)+ }
            }

            pub fn from_stored(id: &str) -> Option<$name> {
                match id { $($id => Some($name::$variant),)+ _ => None }
            }

            /// An optional value as sent (API, form, file): blank is "not given"; anything
            /// off the list is refused with the list in words (422).
            pub fn parse(given: Option<&str>) -> Result<Option<$name>> {
                match given.map(str::trim).filter(|v| !v.is_empty()) {
                    None => Ok(None),
                    Some(v) => $name::from_stored(v).map(Some).ok_or_else(|| {
                        let choices: Vec<String> = $name::ALL
                            .iter()
                            .map(|c| format!("{} ({})", c.as_str(), c.label()))
                            .collect();
                        Error::invalid(
                            $code,
                            format!(concat!($what, " doit être l'une de ces valeurs : {}."),
                                    choices.join(", ")),
                        )
                    }),
                }
            }

            /// `(identifier, label)` of every choice, for forms.
            pub fn choices() -> Vec<(&'static str, &'static str)> {
                $name::ALL.iter().map(|c| (c.as_str(), c.label())).collect()
            }
        }
    };
}

choice!(
    /// The three levels of help the texts name (seeds/001): a digital emergency so as not to
    /// lose a right, inclusion towards autonomy, upskilling.
    HelpLevel, "invalid_help_level", "Le niveau d'aide",
    {
        Emergency = "emergency", "Urgence numérique : ne pas perdre un droit";
        Inclusion = "inclusion", "Inclusion : aller vers l'autonomie";
        Upskilling = "upskilling", "Montée en compétences";
    }
);

choice!(
    /// The person's age bracket, if they say.
    AgeBracket, "invalid_age_bracket", "La tranche d'âge",
    {
        Under26 = "under_26", "Moins de 26 ans";
        From26To44 = "26_44", "De 26 à 44 ans";
        From45To64 = "45_64", "De 45 à 64 ans";
        From65 = "65_plus", "65 ans et plus";
    }
);

choice!(
    /// The person's situation, if they say.
    Situation, "invalid_situation", "La situation",
    {
        JobSeeker = "job_seeker", "En recherche d'emploi";
        Employed = "employed", "En emploi";
        Retired = "retired", "Retraité ou retraitée";
        Student = "student", "En études ou en formation";
        Other = "other", "Autre situation";
    }
);

choice!(
    /// Whether the person lives in a priority neighbourhood (QPV), in a rural commune.
    YesNo, "invalid_yes_no", "La réponse",
    {
        Yes = "yes", "Oui";
        No = "no", "Non";
        Unknown = "unknown", "Ne sait pas";
    }
);

/// What a distributor may note when handing a carnet over, as sent (API, form, file): all
/// optional identifiers from the lists above.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
pub struct FactsInput {
    /// `emergency`, `inclusion` or `upskilling`.
    #[serde(default)]
    pub help_level: Option<String>,
    /// `under_26`, `26_44`, `45_64` or `65_plus`.
    #[serde(default)]
    pub age_bracket: Option<String>,
    /// `job_seeker`, `employed`, `retired`, `student` or `other`.
    #[serde(default)]
    pub situation: Option<String>,
    /// Lives in a priority neighbourhood (QPV): `yes`, `no` or `unknown`.
    #[serde(default)]
    pub priority_area: Option<String>,
    /// Lives in a rural commune: `yes`, `no` or `unknown`.
    #[serde(default)]
    pub rural: Option<String>,
}

/// The facts of a carnet, checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub help_level: Option<HelpLevel>,
    pub age_bracket: Option<AgeBracket>,
    pub situation: Option<Situation>,
    pub priority_area: Option<YesNo>,
    pub rural: Option<YesNo>,
}

impl Facts {
    /// Checks every value against its list; the first one off its list is refused (422).
    pub fn parse(input: &FactsInput) -> Result<Facts> {
        let yes_no = |v: Option<&str>, code: &'static str, what: &str| {
            YesNo::parse(v).map_err(|_| {
                Error::invalid(
                    code,
                    format!("{what} : répondez yes (oui), no (non) ou unknown (ne sait pas)."),
                )
            })
        };
        Ok(Facts {
            help_level: HelpLevel::parse(input.help_level.as_deref())?,
            age_bracket: AgeBracket::parse(input.age_bracket.as_deref())?,
            situation: Situation::parse(input.situation.as_deref())?,
            priority_area: yes_no(
                input.priority_area.as_deref(),
                "invalid_priority_area",
                "Quartier prioritaire de la ville",
            )?,
            rural: yes_no(input.rural.as_deref(), "invalid_rural", "Commune rurale")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_read_back_and_unknown_ones_are_refused() {
        for level in HelpLevel::ALL {
            assert_eq!(HelpLevel::from_stored(level.as_str()), Some(*level));
        }
        assert_eq!(HelpLevel::parse(Some(" ")).ok(), Some(None));
        let refused = HelpLevel::parse(Some("urgent")).unwrap_err();
        assert_eq!(refused.code(), "invalid_help_level");
        assert!(refused.public_message().contains("emergency"));
        let input = FactsInput {
            rural: Some("peut-être".into()),
            ..FactsInput::default()
        };
        assert_eq!(Facts::parse(&input).unwrap_err().code(), "invalid_rural");
    }
}
