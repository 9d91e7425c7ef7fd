//! People's rights over what a carnet holds (GDPR articles 15 and 17): its holder, with the
//! carnet code, sees everything kept about it and may have its e-mail erased; its distributor
//! erases the beneficiary reference when the person asks. The carnet and its cheques keep
//! working; each erasure happens once and is journaled without the erased value.

mod repo;

use super::codes::display_code;
use super::public::{find_by_code, place_name};
use super::{pass_for, pass_status, status, ChequeStatus, PassStatus, PassView};
use crate::clock::{format_ts, paris, parse_ts};
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::fr::long_date;
use crate::money::Cents;
use crate::orgs::{OrgKind, Organization};
use jiff::civil::Date;
use jiff::Timestamp;
use serde::Serialize;

/// Journal action of an e-mail erased at its holder's request.
pub const EMAIL_ERASED: &str = "pass.email_erased";
/// Journal action of a beneficiary reference erased by its distributor.
pub const REFERENCE_ERASED: &str = "pass.reference_erased";

/// Everything kept about one carnet, as its holder may read it.
#[derive(Debug, Serialize)]
pub struct CarnetData {
    /// As printed: `ABCD-EFGH-JK12`.
    pub pass_code: String,
    pub status: PassStatus,
    pub programme: String,
    /// The organisation that handed the carnet over.
    pub distributor: String,
    /// Days (Paris time, `YYYY-MM-DD`).
    pub issued_on: String,
    pub handed_on: Option<String>,
    pub cancelled_on: Option<String>,
    /// The reference the distributor gave (a file number), or the mark left by its erasure.
    pub beneficiary_ref: Option<String>,
    pub beneficiary_ref_erased_on: Option<String>,
    /// The e-mail kept, partly hidden (`j•••@exemple.fr`): whoever reads the code over a
    /// shoulder does not learn the address.
    pub email: Option<String>,
    pub email_erased_on: Option<String>,
    pub cheques: Vec<ChequeData>,
    pub feedback: Vec<FeedbackData>,
    /// What happened to the carnet, oldest first: `(day, what)`.
    pub history: Vec<(String, &'static str)>,
    /// The day the carnet ended (cancelled, all used, expired or its programme closed), or
    /// will end: the retention periods of personal data run from it.
    pub ends_on: String,
    pub ended: bool,
}

#[derive(Debug, Serialize)]
pub struct ChequeData {
    pub position: i64,
    pub value_cents: Cents,
    pub status: ChequeStatus,
    /// When and where it was used (never its code: the carnet code must not give away the
    /// cheques themselves).
    pub used_on: Option<String>,
    pub used_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FeedbackData {
    pub on: String,
    pub rating: i64,
    /// 5 for the old scale, 10 for the State's.
    pub scale: i64,
    pub comment: Option<String>,
}

/// `jeanne@exemple.fr` → `j•••@exemple.fr`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".to_string(),
    }
}

/// The Paris day of a stored timestamp, `YYYY-MM-DD`.
fn day_of(at: &str) -> String {
    parse_ts(at)
        .map(|t| t.to_zoned(paris()).date().to_string())
        .unwrap_or_else(|| at.get(..10).unwrap_or(at).to_string())
}

/// The carnet's moves as its holder reads them.
fn history_label(action: &str) -> Option<&'static str> {
    Some(match action {
        "pass.issued" => "Carnet créé par l'organisme",
        a if a == status::ACTIVATE.action => "Carnet remis et activé",
        "pass.emailed" => "Carnet envoyé par e-mail",
        a if a == status::CANCEL.action => "Carnet annulé",
        EMAIL_ERASED => "Adresse e-mail effacée à votre demande",
        REFERENCE_ERASED => "Référence effacée à votre demande",
        _ => return None,
    })
}

/// Everything kept about the carnet of this code (the same refusals as the balance).
pub async fn carnet_data(conn: &mut Conn, pass_code: &str, today: Date) -> Result<CarnetData> {
    let pass = find_by_code(conn, pass_code).await?;
    let vouchers = super::repo::vouchers_of(conn, &pass.id).await?;
    let dates = repo::dates(conn, &pass.id).await?;
    let program = crate::programs::find(conn, &pass.program_id).await?;
    let distributor = crate::orgs::find(conn, &pass.distributor_id)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    let mut cheques = Vec::new();
    for (position, value, status, redeemed_at, place_id, site_id) in
        repo::cheques(conn, &pass.id).await?
    {
        let used_at = match (&redeemed_at, site_id) {
            (Some(_), Some(site_id)) => Some(place_name(conn, place_id, &site_id).await?),
            _ => None,
        };
        cheques.push(ChequeData {
            position,
            value_cents: Cents::new(value),
            status: ChequeStatus::try_from(status)?,
            used_on: redeemed_at.as_deref().map(day_of),
            used_at,
        });
    }
    let feedback = repo::feedback(conn, &pass.id)
        .await?
        .into_iter()
        .map(|(at, rating, scale, comment)| FeedbackData {
            on: day_of(&at),
            rating,
            scale,
            comment,
        })
        .collect();
    let history = crate::audit::for_subject(conn, &pass.id)
        .await?
        .into_iter()
        .filter_map(|e| history_label(&e.action).map(|what| (day_of(&e.at), what)))
        .collect();
    let status = pass_status(&pass, &vouchers, today);
    let last_used = cheques.iter().filter_map(|c| c.used_on.clone()).max();
    let all_used = !cheques.is_empty() && cheques.iter().all(|c| c.used_on.is_some());
    let ends_on = if let Some(cancelled) = &dates.cancelled_at {
        day_of(cancelled)
    } else if let (true, Some(last)) = (all_used, last_used) {
        last
    } else {
        let last_day = vouchers
            .iter()
            .map(|v| v.redeemable_until.clone())
            .max()
            .unwrap_or_else(|| pass.expires_on.clone());
        let programme_end = program
            .as_ref()
            .and_then(|p| p.ended_on(today).or_else(|| p.planned_close(today)))
            .map(|d| d.to_string());
        match programme_end {
            Some(end) if end < last_day => end,
            _ => last_day,
        }
    };
    Ok(CarnetData {
        pass_code: display_code(&pass.pass_code),
        status,
        programme: program.map(|p| p.name).unwrap_or_default(),
        distributor,
        issued_on: day_of(&pass.created_at),
        handed_on: dates.activated_at.as_deref().map(day_of),
        cancelled_on: dates.cancelled_at.as_deref().map(day_of),
        beneficiary_ref: pass.beneficiary_ref,
        beneficiary_ref_erased_on: dates.beneficiary_ref_erased_at.as_deref().map(day_of),
        email: pass.email.as_deref().map(mask_email),
        email_erased_on: dates.email_erased_at.as_deref().map(day_of),
        cheques,
        feedback,
        history,
        ended: dates.cancelled_at.is_some() || all_used || ends_on < today.to_string(),
        ends_on,
    })
}

/// Erases the e-mail of the carnet of this code, at its holder's request: no more e-mail is
/// sent for it; the carnet keeps working. Journaled as an event, without the address. Asked
/// again, nothing more happens. Returns whether an address was erased now.
pub async fn erase_email(tx: &mut Tx<'_>, pass_code: &str, now: Timestamp) -> Result<bool> {
    let pass = find_by_code(tx, pass_code).await?;
    let now = format_ts(now);
    let erased = repo::erase_email(tx, &pass.id, &now).await?;
    if erased {
        crate::audit::record(
            tx,
            &now,
            None,
            EMAIL_ERASED,
            Some(&pass.id),
            "1 adresse e-mail effacée à la demande du titulaire du carnet",
        )
        .await?;
    }
    Ok(erased)
}

/// How the mark of an erased reference begins.
const ERASED_MARK: &str = "effacée le ";

/// The mark that replaces an erased reference: "effacée le 6 décembre 2026".
pub fn erased_reference_mark(today: Date) -> String {
    format!("{ERASED_MARK}{}", long_date(today))
}

/// Whether a stored reference is the mark of an erased one (nothing to erase, nothing to copy).
pub fn is_erased_reference(reference: &str) -> bool {
    reference.starts_with(ERASED_MARK)
}

/// The issuing distributor erases the beneficiary reference of one of its carnets, when the
/// person asks: a neutral mark takes its place; the carnet and its cheques keep working.
/// Asked again, nothing more happens.
pub async fn erase_reference(
    tx: &mut Tx<'_>,
    keyring: &super::codes::Keyring,
    distributor: &Organization,
    id: &str,
    now: Timestamp,
    today: Date,
) -> Result<PassView> {
    distributor.require(OrgKind::Distributor)?;
    let pass = pass_for(tx, distributor, id).await?;
    if pass.beneficiary_ref.is_none() {
        return Err(Error::conflict(
            "no_beneficiary_ref",
            "Ce carnet n'a pas de référence de bénéficiaire : il n'y a rien à effacer.",
        ));
    }
    let now_text = format_ts(now);
    let mark = erased_reference_mark(today);
    if repo::erase_reference(tx, &pass.id, &mark, &now_text).await? {
        crate::audit::record(
            tx,
            &now_text,
            Some(&distributor.id),
            REFERENCE_ERASED,
            Some(&pass.id),
            "référence du bénéficiaire effacée à sa demande",
        )
        .await?;
    }
    super::get(tx, keyring, distributor, id, today).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_shows_its_first_letter_and_domain_only() {
        assert_eq!(mask_email("jeanne@exemple.fr"), "j•••@exemple.fr");
        assert_eq!(mask_email("@exemple.fr"), "•••@exemple.fr");
        assert_eq!(mask_email("pas-une-adresse"), "•••");
    }

    #[test]
    fn the_erasure_mark_is_dated_in_words() {
        let day: Date = "2026-12-06".parse().expect("a date");
        assert_eq!(erased_reference_mark(day), "effacée le 6 décembre 2026");
    }
}
