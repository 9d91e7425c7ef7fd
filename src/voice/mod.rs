//! "Je donne mon avis", the beneficiaries' voice: one answer per session of help (a redemption
//! group), on the State's 0-10 scale with a few questions from lists, reached from the receipt
//! the site hands over (an unguessable link per session) or from the carnet (its code: the
//! earliest session not yet answered). Seen aggregated by the site (its own), the funder (its
//! programmes) and the operator (everything, with the comments masked by [`mask::mask`]).
//! The older 1-5 ratings (`feedback`) are kept apart, as the old scale.

pub mod mask;
mod repo;

use crate::db::{Conn, Tx};
use crate::error::{Error, Result};

pub use repo::{Comment, Session};

/// `(value, label)` of the answers to "Avez-vous pu faire ce que vous vouliez ?" and "Les
/// explications étaient-elles claires ?".
pub const YES_PARTLY_NO: &[(&str, &str)] =
    &[("oui", "Oui"), ("en_partie", "En partie"), ("non", "Non")];

/// `(value, label)` of the answers to "Pourriez-vous le refaire seul ?".
pub const ALONE: &[(&str, &str)] = &[
    ("oui", "Oui, seul"),
    ("avec_aide", "Oui, avec un peu d'aide"),
    ("non", "Non, pas encore"),
];

/// Comments are cut to this many characters.
pub const COMMENT_CHARS: usize = 1000;

/// One answer as sent by the form: every field as typed.
#[derive(Clone, Debug, Default)]
pub struct Answer {
    pub overall: Option<String>,
    pub reached: Option<String>,
    pub clear: Option<String>,
    pub alone: Option<String>,
    pub comment: Option<String>,
}

/// An answer checked against the lists.
struct Checked {
    overall: i64,
    reached: Option<&'static str>,
    clear: Option<&'static str>,
    alone: Option<&'static str>,
    comment: Option<String>,
}

/// The field of the form a refusal is about (`Error::Unprocessable`'s code).
pub fn field_of(code: &str) -> &'static str {
    match code {
        "invalid_reached" => "reached",
        "invalid_clear" => "clear",
        "invalid_alone" => "alone",
        _ => "overall",
    }
}

fn from_list(
    value: Option<&str>,
    list: &[(&'static str, &'static str)],
    code: &'static str,
) -> Result<Option<&'static str>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => list
            .iter()
            .find(|(value, _)| *value == v)
            .map(|(value, _)| Some(*value))
            .ok_or_else(|| Error::invalid(code, "Choisissez une des réponses proposées.")),
    }
}

fn check(answer: &Answer) -> Result<Checked> {
    let overall = answer
        .overall
        .as_deref()
        .and_then(|r| r.trim().parse::<i64>().ok())
        .filter(|r| (0..=10).contains(r))
        .ok_or_else(|| {
            Error::invalid(
                "invalid_overall",
                "Choisissez une note de 0 (pas du tout satisfait) à 10 (très satisfait).",
            )
        })?;
    Ok(Checked {
        overall,
        reached: from_list(answer.reached.as_deref(), YES_PARTLY_NO, "invalid_reached")?,
        clear: from_list(answer.clear.as_deref(), YES_PARTLY_NO, "invalid_clear")?,
        alone: from_list(answer.alone.as_deref(), ALONE, "invalid_alone")?,
        comment: answer
            .comment
            .as_deref()
            .map(|c| c.trim().chars().take(COMMENT_CHARS).collect::<String>())
            .filter(|c| !c.is_empty()),
    })
}

fn unknown_link() -> Error {
    Error::not_found(
        "Ce lien pour donner votre avis n'existe pas : vérifiez-le, ou donnez votre avis avec le \
         code de votre carnet.",
    )
}

fn already_given() -> Error {
    Error::conflict(
        "feedback_already_given",
        "Merci : votre avis sur cette aide est déjà enregistré. Vous pourrez en donner un \
         autre après votre prochaine séance.",
    )
}

/// The session a feedback link is for, or why there is none. A session undone since is no
/// longer one.
pub async fn session_of_link(conn: &mut Conn, token: &str) -> Result<Session> {
    let Some(session_id) = repo::session_of_token(conn, token).await? else {
        return Err(unknown_link());
    };
    repo::session(conn, &session_id).await?.ok_or_else(|| {
        Error::not_found("Cette séance a été annulée : il n'y a pas d'avis à donner.")
    })
}

/// The earliest session paid with the carnet that has no answer yet, or why there is none.
pub async fn next_session_of_carnet(conn: &mut Conn, pass_id: &str) -> Result<Session> {
    if let Some(session) = repo::next_unanswered(conn, pass_id).await? {
        return Ok(session);
    }
    if repo::sessions_of_pass(conn, pass_id).await? == 0 {
        Err(Error::conflict(
            "feedback_already_given",
            "Vous pourrez donner votre avis après une séance d'aide payée avec ce carnet.",
        ))
    } else {
        Err(already_given())
    }
}

/// Sessions paid with a carnet, and how many of them still wait for an answer.
pub async fn sessions_of_carnet(conn: &mut Conn, pass_id: &str) -> Result<(i64, i64)> {
    let all = repo::sessions_of_pass(conn, pass_id).await?;
    let answered = repo::answered_of_pass(conn, pass_id).await?;
    Ok((all, (all - answered).max(0)))
}

/// Records the answer for the session; a second answer for the same session is refused
/// (`feedback_already_given`), whichever way it came.
pub async fn answer(tx: &mut Tx<'_>, session: &Session, answer: &Answer, now: &str) -> Result<()> {
    let checked = check(answer)?;
    let inserted = repo::insert(
        tx,
        session,
        checked.overall,
        [checked.reached, checked.clear, checked.alone],
        checked.comment.as_deref(),
        now,
    )
    .await?;
    if !inserted {
        return Err(already_given());
    }
    let distributor_id: String =
        sqlx::query_scalar("SELECT distributor_id FROM passes WHERE id = $1")
            .bind(&session.pass_id)
            .fetch_one(&mut **tx)
            .await?;
    let mut figures = crate::stats::figures::Changes::default();
    let place_id = session.place_id.as_deref().unwrap_or_default();
    figures.answered(
        &session.program_id,
        &distributor_id,
        place_id,
        now,
        checked.overall,
    );
    let slot = tx.slot();
    figures.write(tx.deferred(), slot);
    Ok(())
}

/// The link of a redemption's session (`/avis/seance/{token}`), made the first time it is
/// asked for; `None` for an undone redemption or one of another site.
pub async fn link_of_redemption(
    tx: &mut Tx<'_>,
    site_id: &str,
    redemption_id: &str,
    now: &str,
) -> Result<Option<String>> {
    let Some(session_id) = repo::session_of_redemption(tx, site_id, redemption_id).await? else {
        return Ok(None);
    };
    repo::link(tx, &session_id, &crate::users::random_token(), now)
        .await
        .map(Some)
}

/// Whose answers a summary counts.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    /// A site's own sessions.
    Site(&'a str),
    /// The programmes of a funder.
    Funder(&'a str),
    /// Every answer (the operator, the observatory).
    All,
}

/// Answers counted, never one of them: how many, the average, how the marks spread.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub answers: i64,
    /// Answers per mark, from 0 to 10.
    pub marks: [i64; 11],
    /// Answers per choice of [`YES_PARTLY_NO`] and [`ALONE`], in their order.
    pub reached: [i64; 3],
    pub clear: [i64; 3],
    pub alone: [i64; 3],
    /// The older 1-5 ratings (no site was recorded with them: none for a site).
    pub old_scale_answers: i64,
    pub old_scale_average_tenths: Option<i64>,
}

impl Summary {
    /// The average mark out of 10, in tenths (74 for 7.4), rounded half up.
    pub fn average_tenths(&self) -> Option<i64> {
        let sum: i64 = self.marks.iter().zip(0..).map(|(n, mark)| n * mark).sum();
        (self.answers > 0).then(|| (sum * 20 + self.answers) / (self.answers * 2))
    }

    /// "7,4 sur 10", or "aucun avis".
    pub fn average_text(&self) -> String {
        self.average_tenths()
            .map(|t| format!("{},{} sur 10", t / 10, t % 10))
            .unwrap_or_else(|| "aucun avis".into())
    }

    /// "4,2 sur 5" for the old scale.
    pub fn old_scale_text(&self) -> String {
        self.old_scale_average_tenths
            .map(|t| format!("{},{} sur 5", t / 10, t % 10))
            .unwrap_or_default()
    }
}

/// The summary of the answers in a scope given on or after `since` (a timestamp), if any.
pub async fn summary(conn: &mut Conn, scope: Scope<'_>, since: Option<&str>) -> Result<Summary> {
    repo::summary(conn, scope, since).await
}

/// The latest comments, masked, for the operator only.
pub async fn comments_for_operator(conn: &mut Conn, limit: i64) -> Result<Vec<Comment>> {
    let mut comments = repo::comments(conn, limit).await?;
    for c in &mut comments {
        c.text = mask::mask(&c.text);
    }
    Ok(comments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_round_half_up_in_tenths() {
        let mut s = Summary::default();
        assert_eq!(s.average_text(), "aucun avis");
        s.marks[7] = 2;
        s.marks[8] = 1;
        s.answers = 3;
        // 22 / 3 = 7.333…
        assert_eq!(s.average_tenths(), Some(73));
        s.marks[10] = 1;
        s.answers = 4;
        // 32 / 4 = 8.0
        assert_eq!(s.average_text(), "8,0 sur 10");
        let half = Summary {
            answers: 4,
            marks: [1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0],
            ..Default::default()
        };
        // 0 + 7 + 8 + 9 = 24, over 4 answers
        assert_eq!(half.average_tenths(), Some(60));
    }

    #[test]
    fn answers_are_checked_against_the_lists() {
        let good = Answer {
            overall: Some("0".into()),
            reached: Some("en_partie".into()),
            alone: Some("".into()),
            ..Default::default()
        };
        let c = check(&good).unwrap();
        assert_eq!(
            (c.overall, c.reached, c.alone),
            (0, Some("en_partie"), None)
        );
        for (answer, code) in [
            (Answer::default(), "invalid_overall"),
            (
                Answer {
                    overall: Some("11".into()),
                    ..Default::default()
                },
                "invalid_overall",
            ),
            (
                Answer {
                    overall: Some("5".into()),
                    clear: Some("peut-être".into()),
                    ..Default::default()
                },
                "invalid_clear",
            ),
        ] {
            assert_eq!(check(&answer).err().map(|e| e.code()), Some(code));
        }
    }
}
