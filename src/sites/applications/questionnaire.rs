//! The eligibility questionnaire: yes/no questions the operator adds, rewords and
//! (de)activates. Applications keep the text they answered, so rewording a question never
//! changes what an applicant said yes to.

use super::draft::required;
use super::{repo, Question};
use crate::clock::format_ts;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use jiff::Timestamp;

/// The questions, in order; only the active ones if `active_only`.
pub async fn questions(conn: &mut Conn, active_only: bool) -> Result<Vec<Question>> {
    repo::questions(conn, active_only).await
}

fn question_text(text: &str) -> Result<String> {
    required(
        text,
        300,
        "invalid_question",
        "Écrivez la question (300 caractères au plus), à laquelle on répond par oui ou par non.",
    )
}

/// Adds a question at the end of the questionnaire (audited).
pub async fn add_question(
    tx: &mut Tx<'_>,
    actor_id: &str,
    text: &str,
    now: Timestamp,
) -> Result<()> {
    let text = question_text(text)?;
    let id = crate::db::new_id();
    let at = format_ts(now);
    repo::insert_question(tx, &id, &text, &at).await?;
    crate::audit::record(tx, &at, Some(actor_id), "question.added", Some(&id), &text).await
}

/// Rewords a question or (de)activates it; applications keep the text they answered (audited).
pub async fn update_question(
    tx: &mut Tx<'_>,
    actor_id: &str,
    id: &str,
    text: &str,
    active: bool,
    now: Timestamp,
) -> Result<()> {
    let text = question_text(text)?;
    let at = format_ts(now);
    if !repo::update_question(tx, id, &text, active, &at).await? {
        return Err(Error::not_found("Cette question n'existe pas."));
    }
    let detail = format!("{}{text}", if active { "" } else { "(désactivée) " });
    crate::audit::record(
        tx,
        &at,
        Some(actor_id),
        "question.changed",
        Some(id),
        &detail,
    )
    .await
}
