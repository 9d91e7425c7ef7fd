//! The confirmation step of an irreversible action, without JavaScript: the action's form,
//! posted without `confirm=1`, answers a page that names the action and its object and says
//! what will happen, with a form that posts the same fields again plus `confirm=1` (the only
//! post that acts) and a link back. Nothing is written before that second post; its one-time
//! token still makes a form confirmed twice act once.

use super::errors::holding_page;
use super::session::Form;
use super::{page, Layout, WebResult};
use crate::app::AppState;
use askama::Template;

/// What a confirmation page says. Handlers build it from a read of the object (its name, the
/// domain's figures), never from what the form sent.
pub struct Confirmation {
    /// The heading, naming the action and the object: "Annuler le carnet FT-2026-0042 ?".
    pub question: String,
    /// What will happen, in plain words, one paragraph each.
    pub consequences: Vec<String>,
    /// The button that acts: "Oui, annuler le carnet".
    pub yes: String,
    /// Where "Non, revenir" leads; by default the page that holds the form.
    pub back: Option<String>,
}

impl Confirmation {
    pub fn new(question: impl Into<String>, yes: impl Into<String>) -> Self {
        Confirmation {
            question: question.into(),
            consequences: Vec::new(),
            yes: yes.into(),
            back: None,
        }
    }

    /// Adds one sentence of what will happen.
    pub fn then(mut self, consequence: impl Into<String>) -> Self {
        self.consequences.push(consequence.into());
        self
    }

    pub fn back_to(mut self, back: impl Into<String>) -> Self {
        self.back = Some(back.into());
        self
    }
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage {
    l: Layout,
    question: String,
    consequences: Vec<String>,
    yes: String,
    back: String,
    action: String,
    /// The fields sent, to send again (the CSRF and one-time tokens among them).
    fields: Vec<(String, String)>,
}

/// The confirmation page for this form (200, writes nothing).
pub fn ask<T, const LIMIT_KIB: usize>(
    state: &AppState,
    form: &Form<T, LIMIT_KIB>,
    confirmation: Confirmation,
) -> WebResult {
    let action = form.path().to_string();
    let back = confirmation.back.unwrap_or_else(|| holding_page(&action));
    page(ConfirmPage {
        l: Layout::new(state, &form.visitor, confirmation.question.clone()),
        question: confirmation.question,
        consequences: confirmation.consequences,
        yes: confirmation.yes,
        back,
        action,
        fields: form
            .fields()
            .iter()
            .filter(|(name, _)| name != "confirm")
            .cloned()
            .collect(),
    })
}
