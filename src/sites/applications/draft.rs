//! Checking what the application form sends: every field the operator and the payments need,
//! normalised (SIRET without spaces, e-mail in lower case, IBAN), and a yes or no to each
//! active question. Nothing is stored until all of it holds.

use super::{Answer, Draft, PlaceDraft, Question, MAX_PLACES};
use crate::error::{Error, FieldErrors, Result};

/// A checked draft, normalised, ready to store.
pub(super) struct Checked {
    pub draft: Draft,
    pub answers: Vec<Answer>,
}

/// A text the applicant must give: trimmed, not empty, at most `max` characters.
pub(super) fn required(
    value: &str,
    max: usize,
    code: &'static str,
    message: &'static str,
) -> Result<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(Error::invalid(code, message));
    }
    Ok(value.to_string())
}

/// Checks a draft against the active questions. Every problem is found in one pass
/// (`Error::Fields`, each under its field's name, in the order of the form), in French.
pub(super) fn check(draft: &Draft, questions: &[Question]) -> Result<Checked> {
    let mut errors = FieldErrors::default();
    let org_name = errors.take(
        "org_name",
        required(
            &draft.org_name,
            200,
            "invalid_org_name",
            "Indiquez le nom de votre structure (200 caractères au plus).",
        ),
    )?;
    let siret = crate::fr::Siret::parse(&draft.siret).map(|s| s.into_string());
    if siret.is_none() {
        errors.push(
            "siret",
            "invalid_siret",
            "Le numéro SIRET doit compter 14 chiffres et être valide : vérifiez-le sur votre avis de situation Insee ou sur le site « Annuaire des entreprises ».",
        );
    }
    let places = check_places(&draft.places, &mut errors);
    let contact_name = errors.take(
        "contact_name",
        required(
            &draft.contact_name,
            100,
            "invalid_contact_name",
            "Indiquez le nom de la personne à contacter (100 caractères au plus).",
        ),
    )?;
    let contact_email = errors
        .take(
            "contact_email",
            crate::mail::Email::parse(&draft.contact_email),
        )?
        .map(|e| e.into_string());
    let phone: String = draft
        .contact_phone
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '.' | '-'))
        .collect();
    let digits = phone.trim_start_matches('+');
    if !(10..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(
            "contact_phone",
            "invalid_phone",
            "Le numéro de téléphone doit compter 10 chiffres (exemple : 05 56 00 00 00).",
        );
    }
    let legal_name = errors.take(
        "legal_name",
        required(
            &draft.legal_name,
            100,
            "invalid_legal_name",
            "Indiquez le nom du représentant légal de la structure (100 caractères au plus).",
        ),
    )?;
    let legal_role = errors.take(
        "legal_role",
        required(
            &draft.legal_role,
            100,
            "invalid_legal_role",
            "Indiquez la fonction du représentant légal (exemple : présidente, directeur).",
        ),
    )?;
    let mut answers = Vec::with_capacity(questions.len());
    for (i, q) in questions.iter().filter(|q| q.active).enumerate() {
        let answer = draft.answer(&q.id);
        if !matches!(answer, "oui" | "non") {
            errors.push(
                format!("answers.{}", q.id),
                "missing_answer",
                format!(
                    "Répondez par oui ou par non à la question d'éligibilité n° {} : « {} »",
                    i + 1,
                    q.text
                ),
            );
            continue;
        }
        answers.push(Answer {
            question_id: q.id.clone(),
            question_text: q.text.clone(),
            answer: answer.to_string(),
        });
    }
    let iban = errors
        .take("iban", crate::sites::bank::Iban::parse(&draft.iban))?
        .map(|i| i.into_string());
    let holder = errors.take(
        "holder",
        required(
            &draft.holder,
            70,
            "invalid_holder",
            "Indiquez le titulaire du compte bancaire (70 caractères au plus).",
        ),
    )?;
    if !draft.charter {
        errors.push(
            "charter",
            "charter_not_accepted",
            "Pour candidater, lisez la charte du Pass numérique et cochez la case qui dit que vous l'acceptez.",
        );
    }
    errors.into_result()?;
    let missing = || Error::Internal(anyhow::anyhow!("a checked field has no value"));
    Ok(Checked {
        draft: Draft {
            org_name: org_name.ok_or_else(missing)?,
            siret: siret.ok_or_else(missing)?,
            places,
            contact_name: contact_name.ok_or_else(missing)?,
            contact_email: contact_email.ok_or_else(missing)?,
            contact_phone: phone,
            legal_name: legal_name.ok_or_else(missing)?,
            legal_role: legal_role.ok_or_else(missing)?,
            iban: iban.ok_or_else(missing)?,
            holder: holder.ok_or_else(missing)?,
            answers: Vec::new(),
            charter: true,
        },
        answers,
    })
}

/// The places given (blank blocks ignored), each field checked on its own so that every
/// missing one is named: `places[{i}].name`, `.address`, `.postcode`, `.commune`, where `i` is
/// the block's position in the form.
fn check_places(drafts: &[PlaceDraft], errors: &mut FieldErrors) -> Vec<PlaceDraft> {
    let given: Vec<(usize, &PlaceDraft)> = drafts
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.is_blank())
        .collect();
    if given.is_empty() {
        errors.push(
            "places",
            "missing_place",
            "Indiquez au moins un lieu où vous accueillez le public : son nom, son adresse, son code postal et sa commune.",
        );
        return Vec::new();
    }
    if given.len() > MAX_PLACES {
        errors.push(
            "places",
            "too_many_places",
            format!("Une candidature compte {MAX_PLACES} lieux au plus : pour un réseau plus grand, contactez l'opérateur."),
        );
        return Vec::new();
    }
    let mut places = Vec::with_capacity(given.len());
    for (i, p) in given {
        let n = i + 1;
        let field = |errors: &mut FieldErrors, name: &str, value: &str, max: usize, what: &str| {
            let value = value.trim();
            if value.is_empty() || value.chars().count() > max {
                errors.push(
                    format!("places[{i}].{name}"),
                    "incomplete_place",
                    format!("Lieu n° {n} : indiquez {what} ({max} caractères au plus)."),
                );
            }
            value.to_string()
        };
        let name = field(errors, "name", &p.name, 200, "son nom");
        let address = field(errors, "address", &p.address, 300, "son adresse");
        let postcode = p.postcode.trim().to_string();
        if !crate::fr::is_valid_postcode(&postcode) {
            errors.push(
                format!("places[{i}].postcode"),
                "invalid_postcode",
                format!("Lieu n° {n} : le code postal doit compter 5 chiffres (exemple : 33000)."),
            );
        }
        let commune = field(errors, "commune", &p.commune, 100, "sa commune");
        places.push(PlaceDraft {
            name,
            address,
            postcode,
            commune,
        });
    }
    places
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Draft {
        Draft {
            org_name: "Association Clic".into(),
            siret: "732 829 320 00074".into(),
            places: vec![PlaceDraft {
                name: "Médiathèque".into(),
                address: "1 rue de la Paix".into(),
                postcode: "33000".into(),
                commune: "Bordeaux".into(),
            }],
            contact_name: "Léa Dupont".into(),
            contact_email: "Lea@Clic.example".into(),
            contact_phone: "05 56 00 00 00".into(),
            legal_name: "Marc Durand".into(),
            legal_role: "Président".into(),
            iban: "FR14 2004 1010 0505 0001 3M02 606".into(),
            holder: "Association Clic".into(),
            answers: vec![("q".into(), "oui".into())],
            charter: true,
        }
    }

    fn questions() -> Vec<Question> {
        vec![Question {
            id: "q".into(),
            position: 1,
            text: "Question ?".into(),
            active: true,
        }]
    }

    #[test]
    fn checks_and_normalises() {
        let checked = check(&valid(), &questions()).expect("valid");
        assert_eq!(checked.draft.siret, "73282932000074");
        assert_eq!(checked.draft.contact_email, "lea@clic.example");
        assert_eq!(checked.answers.len(), 1);
        let code = |d: Draft| match check(&d, &questions()) {
            Err(Error::Fields(f)) => f.iter().map(|e| e.code).collect::<Vec<_>>().join(","),
            _ => "ok".to_string(),
        };
        let mut d = valid();
        d.siret = "73282932000075".into();
        assert_eq!(code(d), "invalid_siret");
        let mut d = valid();
        d.places = vec![PlaceDraft::default()];
        assert_eq!(code(d), "missing_place");
        let mut d = valid();
        d.answers.clear();
        assert_eq!(code(d), "missing_answer");
        let mut d = valid();
        d.charter = false;
        assert_eq!(code(d), "charter_not_accepted");
    }

    #[test]
    fn every_mistake_is_named_at_once() {
        let d = Draft {
            places: vec![PlaceDraft {
                name: "Médiathèque".into(),
                postcode: "3300".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let Err(Error::Fields(f)) = check(&d, &questions()) else {
            panic!("refused");
        };
        let fields: Vec<&str> = f.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "org_name",
                "siret",
                "places[0].address",
                "places[0].postcode",
                "places[0].commune",
                "contact_name",
                "contact_email",
                "contact_phone",
                "legal_name",
                "legal_role",
                "answers.q",
                "iban",
                "holder",
                "charter"
            ]
        );
    }
}
