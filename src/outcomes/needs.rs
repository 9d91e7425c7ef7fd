//! The short needs check a distributor runs before handing a carnet over (DOMAIN.md: "after a
//! short needs check"): a few yes/no questions whose answers suggest 5 or 10 cheques and a level
//! of help, with the reason in words. Only a suggestion: the distributor decides, and the
//! answers themselves are not kept.

use super::HelpLevel;

/// `(name, question)` of each yes/no question, in the order asked.
pub const QUESTIONS: [(&str, &str); 5] = [
    (
        "urgent_right",
        "La personne risque-t-elle de perdre un droit ou une aide faute d'une démarche en ligne à faire bientôt ?",
    ),
    (
        "no_device",
        "N'a-t-elle pas d'ordinateur, de tablette ou de smartphone dont elle sait se servir ?",
    ),
    (
        "never_alone",
        "N'a-t-elle jamais fait seule une démarche en ligne ni envoyé un courriel ?",
    ),
    (
        "reading",
        "A-t-elle du mal à lire ou à écrire le français ?",
    ),
    (
        "several_needs",
        "A-t-elle plusieurs démarches ou besoins différents à mener ?",
    ),
];

/// The answers: `true` for "yes"; an unanswered question counts as "no".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NeedsCheck {
    pub urgent_right: bool,
    pub no_device: bool,
    pub never_alone: bool,
    pub reading: bool,
    pub several_needs: bool,
}

/// What the answers suggest, and why in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suggestion {
    pub cheques: i64,
    pub level: HelpLevel,
    pub reason: String,
}

impl NeedsCheck {
    /// Reads the answers of a form: a question is answered yes by `oui` (or `yes`, `1`).
    pub fn from_answers<'a>(answers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut check = NeedsCheck::default();
        for (name, value) in answers {
            let yes = matches!(value.trim(), "oui" | "yes" | "1" | "true");
            match name {
                "urgent_right" => check.urgent_right = yes,
                "no_device" => check.no_device = yes,
                "never_alone" => check.never_alone = yes,
                "reading" => check.reading = yes,
                "several_needs" => check.several_needs = yes,
                _ => {}
            }
        }
        check
    }

    /// Whether a question of [`QUESTIONS`] was answered yes.
    pub fn answered_yes(&self, name: &str) -> bool {
        match name {
            "urgent_right" => self.urgent_right,
            "no_device" => self.no_device,
            "never_alone" => self.never_alone,
            "reading" => self.reading,
            "several_needs" => self.several_needs,
            _ => false,
        }
    }

    /// Ten cheques (about 20 hours) when two needs or more add up to a long way to autonomy;
    /// five (about 10 hours) otherwise. The level: an emergency first, then the way to
    /// autonomy for a person starting from nothing, else upskilling.
    pub fn suggest(&self) -> Suggestion {
        let heavy: Vec<&str> = [
            (self.no_device, "pas d'équipement dont elle sait se servir"),
            (self.never_alone, "aucune démarche en ligne faite seule"),
            (self.reading, "des difficultés à lire ou écrire"),
            (self.several_needs, "plusieurs démarches ou besoins"),
        ]
        .into_iter()
        .filter_map(|(yes, words)| yes.then_some(words))
        .collect();
        let level = if self.urgent_right {
            HelpLevel::Emergency
        } else if self.no_device || self.never_alone || self.reading {
            HelpLevel::Inclusion
        } else {
            HelpLevel::Upskilling
        };
        let (cheques, why) = match heavy.len() {
            0 => (
                5,
                "aucun besoin lourd n'est signalé : quelques séances suffisent en général"
                    .to_string(),
            ),
            1 => (
                5,
                format!(
                    "un seul besoin lourd ({}) : quelques séances suffisent en général",
                    heavy[0]
                ),
            ),
            _ => (
                10,
                format!(
                    "plusieurs besoins s'ajoutent ({}) : le chemin vers l'autonomie est plus long",
                    heavy.join(", ")
                ),
            ),
        };
        let urgent = if self.urgent_right {
            " Un droit est en jeu : commencez par la démarche urgente."
        } else {
            ""
        };
        Suggestion {
            cheques,
            level,
            reason: format!(
                "{cheques} chèques suggérés, niveau « {} » : {why}.{urgent}",
                level.label()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_heavy_needs_suggest_ten_cheques_one_suggests_five() {
        let light = NeedsCheck::from_answers([("no_device", "oui"), ("reading", "non")]);
        let s = light.suggest();
        assert_eq!((s.cheques, s.level), (5, HelpLevel::Inclusion));
        let heavy = NeedsCheck::from_answers([("never_alone", "oui"), ("reading", "oui")]);
        let s = heavy.suggest();
        assert_eq!(s.cheques, 10);
        assert!(s.reason.contains("difficultés à lire"), "{}", s.reason);
        let urgent = NeedsCheck::from_answers([("urgent_right", "oui")]).suggest();
        assert_eq!((urgent.cheques, urgent.level), (5, HelpLevel::Emergency));
        assert_eq!(NeedsCheck::default().suggest().level, HelpLevel::Upskilling);
    }
}
