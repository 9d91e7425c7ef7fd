//! Checking what the application form sends: every field the operator and the payments need,
//! normalised (SIRET without spaces, e-mail in lower case, IBAN), and a yes or no to each
//! active question. Nothing is stored until all of it holds.

use super::{Answer, Draft, PlaceDraft, Question, MAX_PLACES};
use crate::error::{Error, Result};

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

/// Checks a draft against the active questions; the first problem is returned, in French.
pub(super) fn check(draft: &Draft, questions: &[Question]) -> Result<Checked> {
    let org_name = required(
        &draft.org_name,
        200,
        "invalid_org_name",
        "Indiquez le nom de votre structure (200 caractères au plus).",
    )?;
    let siret = crate::fr::Siret::parse(&draft.siret)
        .ok_or_else(|| {
            Error::invalid(
                "invalid_siret",
                "Le numéro SIRET doit compter 14 chiffres et être valide : vérifiez-le sur un avis de situation Insee ou sur annuaire-entreprises.data.gouv.fr.",
            )
        })?
        .into_string();
    let given: Vec<&PlaceDraft> = draft.places.iter().filter(|p| !p.is_blank()).collect();
    if given.is_empty() {
        return Err(Error::invalid(
            "missing_place",
            "Indiquez au moins un lieu où vous accueillez le public : son nom, son adresse, son code postal et sa commune.",
        ));
    }
    if given.len() > MAX_PLACES {
        return Err(Error::invalid(
            "too_many_places",
            format!("Une candidature compte {MAX_PLACES} lieux au plus : pour un réseau plus grand, contactez l'opérateur."),
        ));
    }
    let mut places = Vec::with_capacity(given.len());
    for (i, p) in given.iter().enumerate() {
        let n = i + 1;
        let incomplete = || {
            Error::invalid(
                "incomplete_place",
                format!(
                    "Lieu n° {n} : indiquez son nom, son adresse, son code postal et sa commune."
                ),
            )
        };
        let field = |v: &str, max: usize| {
            let v = v.trim();
            (!v.is_empty() && v.chars().count() <= max)
                .then(|| v.to_string())
                .ok_or_else(incomplete)
        };
        let postcode = p.postcode.trim().to_string();
        if !postcode.is_empty() && !crate::fr::is_valid_postcode(&postcode) {
            return Err(Error::invalid(
                "invalid_postcode",
                format!("Lieu n° {n} : le code postal doit compter 5 chiffres (exemple : 33000)."),
            ));
        }
        places.push(PlaceDraft {
            name: field(&p.name, 200)?,
            address: field(&p.address, 300)?,
            postcode: field(&postcode, 5)?,
            commune: field(&p.commune, 100)?,
        });
    }
    let contact_name = required(
        &draft.contact_name,
        100,
        "invalid_contact_name",
        "Indiquez le nom de la personne à contacter (100 caractères au plus).",
    )?;
    let contact_email = crate::mail::Email::parse(&draft.contact_email)?.into_string();
    let phone: String = draft
        .contact_phone
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '.' | '-'))
        .collect();
    let digits = phone.trim_start_matches('+');
    if !(10..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            "invalid_phone",
            "Le numéro de téléphone doit compter 10 chiffres (exemple : 05 56 00 00 00).",
        ));
    }
    let legal_name = required(
        &draft.legal_name,
        100,
        "invalid_legal_name",
        "Indiquez le nom du représentant légal de la structure (100 caractères au plus).",
    )?;
    let legal_role = required(
        &draft.legal_role,
        100,
        "invalid_legal_role",
        "Indiquez la fonction du représentant légal (exemple : présidente, directeur).",
    )?;
    let iban = crate::sites::bank::Iban::parse(&draft.iban)?.into_string();
    let holder = required(
        &draft.holder,
        70,
        "invalid_holder",
        "Indiquez le titulaire du compte bancaire (70 caractères au plus).",
    )?;
    let mut answers = Vec::with_capacity(questions.len());
    for (i, q) in questions.iter().filter(|q| q.active).enumerate() {
        let answer = draft.answer(&q.id);
        if !matches!(answer, "oui" | "non") {
            return Err(Error::invalid(
                "missing_answer",
                format!(
                    "Répondez par oui ou par non à la question d'éligibilité n° {} : « {} »",
                    i + 1,
                    q.text
                ),
            ));
        }
        answers.push(Answer {
            question_id: q.id.clone(),
            question_text: q.text.clone(),
            answer: answer.to_string(),
        });
    }
    if !draft.charter {
        return Err(Error::invalid(
            "charter_not_accepted",
            "Pour candidater, lisez la charte du Pass numérique et cochez la case qui dit que vous l'acceptez.",
        ));
    }
    Ok(Checked {
        draft: Draft {
            org_name,
            siret,
            places,
            contact_name,
            contact_email,
            contact_phone: phone,
            legal_name,
            legal_role,
            iban,
            holder,
            answers: Vec::new(),
            charter: true,
        },
        answers,
    })
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
            Err(Error::Unprocessable { code, .. }) => code,
            _ => "ok",
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
}
