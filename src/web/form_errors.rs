//! One way for every form to say what went wrong (the way of the funder's programme form, made
//! common): a summary at the top of the form, titled with the number of mistakes, listing them
//! all, each a link to its field, and taking the focus as the page opens (no script needed:
//! `autofocus` on a `tabindex="-1"` block); each field in error marked `aria-invalid` and
//! described by its message (and its hint). The macros are in `templates/form/macros.html`.

use crate::error::{Error, FieldErrors};

/// A mistake, under the id of the element it is about.
pub struct Mistake {
    pub id: String,
    pub message: String,
}

/// Every mistake of one submitted form, in the order of its fields.
#[derive(Default)]
pub struct FormErrors {
    items: Vec<Mistake>,
}

impl FormErrors {
    pub fn none() -> Self {
        FormErrors::default()
    }

    /// One mistake, about the element `id`.
    pub fn one(id: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = FormErrors::none();
        errors.push(id, message);
        errors
    }

    /// A domain refusal: each field refused under the element `id_of` gives for it, a single
    /// refusal under `id_of(its code)`.
    pub fn from_error(e: &Error, id_of: impl Fn(&str) -> String) -> Self {
        match e {
            Error::Fields(fields) => FormErrors::from_fields(fields, id_of),
            other => FormErrors::one(id_of(other.code()), other.public_message()),
        }
    }

    /// Each field refused, under the element `id_of` gives for the field's name.
    pub fn from_fields(fields: &FieldErrors, id_of: impl Fn(&str) -> String) -> Self {
        let mut errors = FormErrors::none();
        for f in fields.iter() {
            errors.push(id_of(&f.field), f.message.to_string());
        }
        errors
    }

    pub fn push(&mut self, id: impl Into<String>, message: impl Into<String>) {
        self.items.push(Mistake {
            id: id.into(),
            message: message.into(),
        });
    }

    /// Only the mistakes whose element `keep` accepts.
    pub fn filter(self, keep: impl Fn(&str) -> bool) -> Self {
        FormErrors {
            items: self.items.into_iter().filter(|m| keep(&m.id)).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn items(&self) -> &[Mistake] {
        &self.items
    }

    /// Whether the element `id` is in error.
    pub fn has(&self, id: &str) -> bool {
        self.items.iter().any(|m| m.id == id)
    }

    /// What is wrong with the element `id`.
    pub fn message(&self, id: &str) -> Option<String> {
        let messages: Vec<&str> = self
            .items
            .iter()
            .filter(|m| m.id == id)
            .map(|m| m.message.as_str())
            .collect();
        (!messages.is_empty()).then(|| messages.join(" "))
    }

    /// The ids that describe the element `id`: its hint (when it has one), then its message.
    /// (Templates' macros pass their arguments by reference.)
    pub fn described_by(&self, id: &str, hint: &bool) -> String {
        let mut ids = Vec::new();
        if *hint {
            ids.push(format!("{id}-aide"));
        }
        if self.has(id) {
            ids.push(format!("{id}-erreur"));
        }
        ids.join(" ")
    }

    /// "Votre candidature n'est pas encore envoyée : 3 erreurs à corriger".
    pub fn title(&self, what: &str) -> String {
        match self.items.len() {
            1 => format!("{what} : 1 erreur à corriger"),
            n => format!("{what} : {n} erreurs à corriger"),
        }
    }

    /// A page's title, "Erreur — …" when there are mistakes, so that it is the first thing
    /// heard.
    pub fn page_title(&self, title: &str) -> String {
        if self.is_empty() {
            title.to_string()
        } else {
            format!("Erreur — {title}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_describes() {
        let mut e = FormErrors::one("siret", "Le SIRET…");
        assert_eq!(
            e.title("Pas encore envoyée"),
            "Pas encore envoyée : 1 erreur à corriger"
        );
        e.push("iban", "L'IBAN…");
        assert_eq!(
            e.title("Pas encore envoyée"),
            "Pas encore envoyée : 2 erreurs à corriger"
        );
        assert_eq!(e.described_by("siret", &true), "siret-aide siret-erreur");
        assert_eq!(e.described_by("holder", &true), "holder-aide");
        assert_eq!(e.described_by("holder", &false), "");
        assert_eq!(e.page_title("Candidater"), "Erreur — Candidater");
        let e = e.filter(|id| id == "iban");
        assert!(e.has("iban") && !e.has("siret"));
    }
}
