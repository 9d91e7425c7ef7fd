//! Applications of mediation structures to join the Pass numérique, and the eligibility
//! questionnaire the operator edits. An applicant follows its application through a private
//! link (only the token's hash is kept) and corrects it when the operator asks; qualifying it
//! creates the site organisation, its places, its bank account and its administrator's access
//! in the operator's transaction.
//!
//! Here: the types and the states an application goes through. `draft` checks what the form
//! sends, `decisions` moves an application from state to state (and e-mails the applicant),
//! `questionnaire` is the operator's list of questions, `repo` the SQL.

mod decisions;
mod draft;
mod questionnaire;
mod repo;
mod status;

pub use decisions::{
    check_siret_free, qualify, reject, request_changes, resubmit, start_review, submit,
};
pub use questionnaire::{add_question, questions, update_question};
pub use status::{Move, Status, MOVES};

use crate::db::Conn;
use crate::error::{Error, Result};
use crate::users::token_hash;

/// More places than this is a network: it applies with the operator's help.
pub const MAX_PLACES: usize = 20;

/// A yes/no question of the eligibility questionnaire.
#[derive(Clone, Debug)]
pub struct Question {
    pub id: String,
    pub position: i64,
    pub text: String,
    pub active: bool,
}

/// One place as the applicant gives it.
#[derive(Clone, Debug, Default)]
pub struct PlaceDraft {
    pub name: String,
    pub address: String,
    pub postcode: String,
    pub commune: String,
}

impl PlaceDraft {
    fn is_blank(&self) -> bool {
        [&self.name, &self.address, &self.postcode, &self.commune]
            .iter()
            .all(|v| v.trim().is_empty())
    }
}

/// An answer, with the question's text as it was when answered.
#[derive(Clone, Debug)]
pub struct Answer {
    pub question_id: String,
    pub question_text: String,
    pub answer: String,
}

/// What the form sends. Answers are keyed by question id.
#[derive(Clone, Debug, Default)]
pub struct Draft {
    pub org_name: String,
    pub siret: String,
    pub places: Vec<PlaceDraft>,
    pub contact_name: String,
    pub contact_email: String,
    pub contact_phone: String,
    pub legal_name: String,
    pub legal_role: String,
    pub iban: String,
    pub holder: String,
    pub answers: Vec<(String, String)>,
    pub charter: bool,
}

impl Draft {
    pub fn answer(&self, question_id: &str) -> &str {
        self.answers
            .iter()
            .find(|(q, _)| q == question_id)
            .map(|(_, a)| a.as_str())
            .unwrap_or_default()
    }
}

#[derive(Clone, Debug)]
pub struct Application {
    pub id: String,
    pub status: Status,
    pub org_name: String,
    pub siret: String,
    pub contact_name: String,
    pub contact_email: String,
    pub contact_phone: String,
    pub legal_name: String,
    pub legal_role: String,
    pub iban: String,
    pub holder: String,
    pub operator_message: Option<String>,
    pub site_org_id: Option<String>,
    pub qualified_until: Option<String>,
    pub submitted_at: String,
    pub updated_at: String,
    pub places: Vec<PlaceDraft>,
    pub answers: Vec<Answer>,
}

impl Application {
    /// The form as it was sent, to correct it.
    pub fn to_draft(&self) -> Draft {
        Draft {
            org_name: self.org_name.clone(),
            siret: self.siret.clone(),
            places: self.places.clone(),
            contact_name: self.contact_name.clone(),
            contact_email: self.contact_email.clone(),
            contact_phone: self.contact_phone.clone(),
            legal_name: self.legal_name.clone(),
            legal_role: self.legal_role.clone(),
            iban: self.iban.clone(),
            holder: self.holder.clone(),
            answers: self
                .answers
                .iter()
                .map(|a| (a.question_id.clone(), a.answer.clone()))
                .collect(),
            // It was sent with the charter accepted: correcting it does not take that back.
            charter: true,
        }
    }
}

/// Checks a draft as sending it would (every field refused at once, `Error::Fields`), without
/// storing anything: the form checks each of its steps with it before the next one.
pub async fn check_draft(conn: &mut Conn, draft: &Draft) -> Result<()> {
    let questions = repo::questions(conn, true).await?;
    draft::check(draft, &questions).map(|_| ())
}

/// The application a follow-up link points to.
pub async fn by_token(conn: &mut Conn, token: &str) -> Result<Application> {
    let not_found = || {
        Error::not_found(
            "Ce lien de suivi ne correspond à aucune candidature. Vérifiez qu'il est complet, tel que dans l'e-mail reçu.",
        )
    };
    if token.is_empty() || token.len() > 100 {
        return Err(not_found());
    }
    let id = repo::id_by_token_hash(conn, &token_hash(token))
        .await?
        .ok_or_else(not_found)?;
    find(conn, &id).await?.ok_or_else(not_found)
}

/// One application, by its id (the operator's pages).
pub async fn find(conn: &mut Conn, id: &str) -> Result<Option<Application>> {
    repo::find(conn, id).await
}

/// Every application, newest first.
pub async fn list(conn: &mut Conn) -> Result<Vec<Application>> {
    repo::list(conn).await
}
