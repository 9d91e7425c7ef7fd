//! The application form as drawn: what was typed, which part is shown (one of the four steps,
//! all of them when correcting, or none on the recap, where everything rides in hidden
//! fields), and its mistakes under the ids of their fields.

use crate::error::Error;
use crate::sites::applications::{Draft, PlaceDraft, Question, MAX_PLACES};
use crate::web::form_errors::FormErrors;

/// The steps, in order: their title after "Étape n sur 4 : ".
pub const STEPS: [&str; 4] = [
    "votre structure",
    "les personnes à contacter",
    "vos lieux et les questions d'éligibilité",
    "coordonnées bancaires et charte",
];

/// Every part shown at once (the correction of a sent application, or after a refused send).
pub const ALL: usize = 0;
/// No part shown: the recap, all of it in hidden fields.
pub const RECAP: usize = 5;

/// A question with the answer given so far.
pub struct QuestionView {
    pub id: String,
    pub number: usize,
    pub text: String,
    pub answer: String,
}

pub struct Fields {
    pub d: Draft,
    pub questions: Vec<QuestionView>,
    pub can_add_place: bool,
    pub errors: FormErrors,
    /// 1 to 4, [`ALL`] or [`RECAP`].
    pub step: usize,
}

impl Fields {
    pub fn new(d: Draft, questions: &[Question], errors: FormErrors, step: usize) -> Fields {
        let questions = questions
            .iter()
            .filter(|q| q.active)
            .enumerate()
            .map(|(i, q)| QuestionView {
                id: q.id.clone(),
                number: i + 1,
                text: q.text.clone(),
                answer: d.answer(&q.id).to_string(),
            })
            .collect();
        Fields {
            can_add_place: d.places.len() < MAX_PLACES,
            questions,
            errors,
            step,
            d,
        }
    }

    /// Whether step `n`'s fields are shown (otherwise they are carried hidden).
    pub fn shows(&self, n: usize) -> bool {
        self.step == ALL || self.step == n
    }

    /// "Étape 2 sur 4 : les personnes à contacter".
    pub fn step_title(&self) -> String {
        let title = STEPS.get(self.step.wrapping_sub(1)).unwrap_or(&"");
        format!("Étape {} sur {} : {title}", self.step, STEPS.len())
    }

    /// The title of step `n`, capitalised, for the recap and the one-page form.
    pub fn part_title(&self, n: usize) -> String {
        let title = STEPS.get(n.wrapping_sub(1)).unwrap_or(&"");
        let mut chars = title.chars();
        chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect())
            .unwrap_or_default()
    }

    /// A question's answer in words, for the recap.
    pub fn answer_text(answer: &str) -> &'static str {
        match answer {
            "oui" => "Oui",
            "non" => "Non",
            _ => "Pas de réponse",
        }
    }
}

/// The id of the element a refused field is about (`places[1].postcode` → `lieu-1-code_postal`),
/// or, for a single refusal, the element its code is about.
pub fn element_of(field: &str) -> String {
    if let Some(id) = field.strip_prefix("answers.") {
        return format!("q-{id}-oui");
    }
    if let Some(rest) = field.strip_prefix("places[") {
        if let Some((i, name)) = rest.split_once("].") {
            let name = match name {
                "name" => "nom",
                "address" => "adresse",
                "postcode" => "code_postal",
                _ => "commune",
            };
            return format!("lieu-{i}-{name}");
        }
    }
    match field {
        "places" | "missing_place" | "too_many_places" => "lieu-0-nom",
        "charter" | "charter_not_accepted" => "charte",
        "siret" | "invalid_siret" | "siret_registered" | "application_pending" => "siret",
        other => other,
    }
    .to_string()
}

/// The step an element belongs to.
pub fn step_of(id: &str) -> usize {
    match id {
        "org_name" | "siret" => 1,
        "contact_name" | "contact_email" | "contact_phone" | "legal_name" | "legal_role" => 2,
        "iban" | "holder" | "charte" => 4,
        _ => 3,
    }
}

/// A refusal of the domain, under the form's elements.
pub fn errors_of(e: &Error) -> FormErrors {
    FormErrors::from_error(e, element_of)
}

/// Reads the form's fields: `lieu_{i}_nom`…, `q_{question id}`, and the step it was sent from.
pub fn read(fields: &[(String, String)]) -> (Draft, usize) {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let blocks = get("lieux")
        .parse::<usize>()
        .unwrap_or(1)
        .clamp(1, MAX_PLACES);
    let places = (0..blocks)
        .map(|i| PlaceDraft {
            name: get(&format!("lieu_{i}_nom")),
            address: get(&format!("lieu_{i}_adresse")),
            postcode: get(&format!("lieu_{i}_code_postal")),
            commune: get(&format!("lieu_{i}_commune")),
        })
        .collect();
    let answers = fields
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("q_").map(|id| (id.to_string(), v.clone())))
        .collect();
    let draft = Draft {
        org_name: get("org_name"),
        siret: get("siret"),
        places,
        contact_name: get("contact_name"),
        contact_email: get("contact_email"),
        contact_phone: get("contact_phone"),
        legal_name: get("legal_name"),
        legal_role: get("legal_role"),
        iban: get("iban"),
        holder: get("holder"),
        answers,
        charter: get("charte") == "oui",
    };
    let step = get("etape").parse().unwrap_or(ALL).min(RECAP);
    (draft, step)
}

/// "Ajouter un lieu": one more empty block, nothing checked yet.
pub fn with_one_more_place(mut d: Draft) -> Draft {
    if d.places.len() < MAX_PLACES {
        d.places.push(PlaceDraft::default());
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_map_to_elements_and_steps() {
        assert_eq!(element_of("places[2].postcode"), "lieu-2-code_postal");
        assert_eq!(element_of("answers.abc"), "q-abc-oui");
        assert_eq!(element_of("charter"), "charte");
        assert_eq!(element_of("siret_registered"), "siret");
        assert_eq!(step_of("siret"), 1);
        assert_eq!(step_of("legal_role"), 2);
        assert_eq!(step_of("lieu-2-code_postal"), 3);
        assert_eq!(step_of("q-abc-oui"), 3);
        assert_eq!(step_of("charte"), 4);
    }
}
