//! What a beneficiary does with a carnet's code, without an account: see what is left on it,
//! and say what they thought of the help ("Je donne mon avis").

use super::codes::{self, display_code, CodeError};
use super::repo;
use super::{pass_status, remaining, PassStatus};
use crate::db::Conn;
use crate::error::{Error, Result};
use crate::money::Cents;
use crate::programs::Territory;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::Serialize;

/// What a beneficiary sees when typing the pass code: nothing personal.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicBalance {
    pub status: PassStatus,
    pub remaining_cheques: i64,
    pub remaining_cents: Cents,
    pub expires_on: String,
    /// Where the cheques are accepted, in words ("Gironde (33)", "toute la France").
    pub accepted_in: String,
    /// The kinds of help they pay for, in words ("tous les types d'aide").
    pub accepted_for: String,
    /// The day the carnet's programme ended, if it did: its cheques can no longer be used,
    /// whatever the date printed on them.
    pub programme_ended_on: Option<String>,
    /// The last day of the carnet's programme, when its end is planned: its cheques are
    /// accepted until that day included, whatever the date printed on them.
    pub programme_ends_on: Option<String>,
    /// The cheques used, oldest first: when and where, so that the holder recognises them.
    pub used: Vec<UsedCheque>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsedCheque {
    /// The day in the programme's zone, `YYYY-MM-DD`.
    pub on: String,
    /// The place's name, or its structure's when the place is not known.
    pub place: String,
}

/// When and where the carnet's cheques were used, the days in `zone` (the programme's).
async fn used_cheques(conn: &mut Conn, pass_id: &str, zone: &TimeZone) -> Result<Vec<UsedCheque>> {
    let mut used = Vec::new();
    for (at, place_id, site_id) in repo::used_cheques(conn, pass_id).await? {
        let place = place_name(conn, place_id, &site_id).await?;
        let on = crate::clock::parse_ts(&at)
            .map(|t| crate::zones::today_in(t, zone).to_string())
            .unwrap_or_default();
        used.push(UsedCheque { on, place });
    }
    Ok(used)
}

/// Where a cheque was used, in words: the place's name, or its structure's when the place is
/// not known.
pub(super) async fn place_name(
    conn: &mut Conn,
    place_id: Option<String>,
    site_id: &str,
) -> Result<String> {
    let place = match place_id {
        Some(id) => crate::sites::places::find(conn, &id)
            .await?
            .and_then(|p| p.data.get("nom").map(str::to_string)),
        None => None,
    };
    Ok(match place {
        Some(name) => name,
        None => crate::orgs::find(conn, site_id)
            .await?
            .map(|o| o.name)
            .unwrap_or_default(),
    })
}

/// What is left on a carnet at `now`: its days are those of its programme's territory, where
/// its cheques' last day ends at local midnight.
pub async fn public_balance(
    conn: &mut Conn,
    pass_code: &str,
    now: Timestamp,
) -> Result<PublicBalance> {
    let pass = find_by_code(conn, pass_code).await?;
    let vouchers = repo::vouchers_of(conn, &pass.id).await?;
    let program = crate::programs::find(conn, &pass.program_id).await?;
    let zone = program
        .as_ref()
        .map_or_else(crate::clock::paris, crate::programs::Program::zone);
    let today = crate::zones::today_in(now, &zone);
    let ended_on = program.as_ref().and_then(|p| p.ended_on(today));
    // Past its programme's last day, nothing is usable any more, even before the daily job.
    let (remaining_cheques, remaining_cents) = match ended_on {
        Some(_) => (0, Cents::ZERO),
        None => remaining(&vouchers, today),
    };
    Ok(PublicBalance {
        status: pass_status(&pass, &vouchers, today),
        remaining_cheques,
        remaining_cents,
        expires_on: pass.expires_on,
        accepted_in: program
            .as_ref()
            .map_or_else(String::new, |p| p.territory.label()),
        accepted_for: program
            .as_ref()
            .map_or_else(String::new, |p| p.services.label()),
        programme_ended_on: ended_on.map(|d| d.to_string()),
        programme_ends_on: program
            .and_then(|p| p.planned_close(today))
            .map(|d| d.to_string()),
        used: used_cheques(conn, &pass.id, &zone).await?,
    })
}

/// Where a carnet's cheques are accepted, for the directory's "places that take my carnet":
/// nothing personal, and the same refusals as the balance.
pub async fn territory_of_pass(conn: &mut Conn, pass_code: &str) -> Result<Territory> {
    let pass = find_by_code(conn, pass_code).await?;
    Ok(crate::programs::find(conn, &pass.program_id)
        .await?
        .map(|p| p.territory)
        .unwrap_or_default())
}

/// A carnet by the code a person typed, loosely, or why there is none.
pub(super) async fn find_by_code(conn: &mut Conn, pass_code: &str) -> Result<repo::PassRow> {
    let code = codes::parse_code(pass_code).map_err(|e| match e {
        CodeError::BadCheck => Error::invalid(
            "invalid_code",
            "Ce code de carnet contient une erreur de frappe : vérifiez chaque caractère.",
        ),
        _ => Error::invalid(
            "invalid_code",
            "Ce code de carnet n'a pas la bonne forme : il a 12 caractères, par exemple ABCD-EFGH-JK12.",
        ),
    })?;
    repo::find_pass_by_code(conn, &code).await?.ok_or_else(|| {
        Error::not_found("Aucun carnet ne porte ce code. Vérifiez-le sur votre carnet.")
    })
}

/// The carnet code of a feedback address (`/avis/{code}`), as printed, or a refusal: only a
/// well-formed code is ever written back into a page (never the address as typed).
pub fn feedback_code(input: &str) -> Result<String> {
    codes::parse_code(input)
        .map(|code| display_code(&code))
        .map_err(|_| {
            Error::not_found("Ce code de carnet n'existe pas : vérifiez le lien sur votre carnet.")
        })
}

/// The id of the carnet a person typed the code of, or why there is none.
pub async fn pass_id_of_code(conn: &mut Conn, pass_code: &str) -> Result<String> {
    Ok(find_by_code(conn, pass_code).await?.id)
}
