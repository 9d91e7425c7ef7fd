//! Closing a programme with notice. The funder (or the operator) plans the last day its cheques
//! are accepted, at least [`NOTICE_DAYS`] ahead; only the operator may force a shorter notice,
//! and a forced date of today or earlier closes at once. From [`ISSUANCE_STOP_DAYS`] before that
//! day no carnet of it is issued or activated; distributors, sites and beneficiaries are told
//! 30, 15 and 7 days before (see [`super::notices`]); the day after, the daily job closes it
//! ([`crate::expiry::close_program`]: unused cheques expire, quotas return, a credit note).

use super::{repo, Program, ProgramStatus};
use crate::clock::format_ts;
use crate::db::Tx;
use crate::error::{Error, Result};
use crate::expiry::Closure;
use crate::fr::long_date;
use crate::orgs::{OrgKind, Organization};
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

/// The least notice of a close, in days, unless the operator forces it.
pub const NOTICE_DAYS: i64 = 30;
/// From this many days before its last day, a programme's carnets are no longer issued nor
/// activated.
pub const ISSUANCE_STOP_DAYS: i64 = 15;
/// The farthest a close may be planned, in days.
const MAX_DAYS_AHEAD: i64 = 3660;

/// `POST /programs/{id}/close`: when, and whether the operator forces a short notice. An empty
/// body plans the close [`NOTICE_DAYS`] ahead.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    /// The last day the cheques are accepted (`YYYY-MM-DD`), at least 30 days ahead; unset: in
    /// 30 days. A date already planned may be moved later at any time, earlier within the same
    /// rule.
    #[serde(default)]
    pub closes_on: Option<String>,
    /// Operator only: accept a notice shorter than 30 days. A forced date of today or earlier
    /// closes the programme at once.
    #[serde(default)]
    pub force: bool,
}

/// A programme's close, planned or done.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Closing {
    pub program_id: String,
    /// `open` while the close is planned, `closed` once done.
    pub status: ProgramStatus,
    /// The last day its cheques are accepted (`YYYY-MM-DD`).
    pub closes_on: String,
    /// The last day a carnet of it may be issued or activated (`YYYY-MM-DD`).
    pub issuance_until: String,
    /// What the close did, when it happened at once (a forced date of today or earlier).
    pub closure: Option<Closure>,
}

/// The nearest last day a close may be planned for on `today`, unless the operator forces it.
pub fn earliest_close(today: Date) -> Date {
    today.saturating_add(NOTICE_DAYS.days())
}

/// The last day a programme ending on `closes_on` accepts new carnets.
pub fn issuance_until(closes_on: Date) -> Date {
    closes_on
        .checked_sub((ISSUANCE_STOP_DAYS + 1).days())
        .unwrap_or(closes_on)
}

/// The day a programme ended, if it did by `today`: once closed, or once its planned last day
/// is past (the daily job then closes it). From the stored `closed_at` and `closes_on`.
pub fn ended_on(closed_at: Option<&str>, closes_on: Option<&str>, today: Date) -> Option<Date> {
    let planned = closes_on.and_then(|d| d.parse::<Date>().ok());
    match closed_at {
        Some(at) => planned.or_else(|| at.get(..10).and_then(|d| d.parse().ok())),
        None => planned.filter(|&d| d < today),
    }
}

impl Program {
    /// The day it ended, if it did by `today`.
    pub fn ended_on(&self, today: Date) -> Option<Date> {
        ended_on(self.closed_at.as_deref(), self.closes_on.as_deref(), today)
    }

    /// Its planned last day, while it is still to come (or is today).
    pub fn planned_close(&self, today: Date) -> Option<Date> {
        if self.status != ProgramStatus::Open {
            return None;
        }
        self.closes_on
            .as_deref()
            .and_then(|d| d.parse::<Date>().ok())
            .filter(|&d| d >= today)
    }

    /// The last day a carnet may be issued or activated, when a close is planned.
    pub fn issuance_until(&self, today: Date) -> Option<Date> {
        self.planned_close(today).map(issuance_until)
    }

    /// Whether a carnet of it may be issued (or activated) on `today`: not once closed
    /// (`program_closed`), nor in the last [`ISSUANCE_STOP_DAYS`] before its close
    /// (`issuance_ended`).
    pub fn require_issuable(&self, today: Date) -> Result<()> {
        if self.status != ProgramStatus::Open {
            return Err(Error::gone(
                "program_closed",
                "Ce programme est clos : il n'est plus possible d'émettre de carnet.",
            ));
        }
        let Some(last_day) = self
            .closes_on
            .as_deref()
            .and_then(|d| d.parse::<Date>().ok())
        else {
            return Ok(());
        };
        if today > issuance_until(last_day) {
            return Err(Error::gone(
                "issuance_ended",
                format!(
                    "Ce programme prend fin le {} : depuis le {}, il n'est plus possible d'émettre \
                     ni d'activer de carnet. Les chèques déjà remis restent utilisables jusqu'au {} \
                     inclus.",
                    long_date(last_day),
                    long_date(issuance_until(last_day).saturating_add(1.day())),
                    long_date(last_day)
                ),
            ));
        }
        Ok(())
    }
}

fn closing_of(program: &Program, closes_on: Date, closure: Option<Closure>) -> Closing {
    Closing {
        program_id: program.id.clone(),
        status: if closure.is_some() {
            ProgramStatus::Closed
        } else {
            program.status
        },
        closes_on: closes_on.to_string(),
        issuance_until: issuance_until(closes_on).to_string(),
        closure,
    }
}

/// The funder's or the operator's programme, still open and not past its last day.
async fn still_running(
    tx: &mut Tx<'_>,
    org: &Organization,
    program_id: &str,
    today: Date,
) -> Result<Program> {
    if !matches!(org.kind, OrgKind::Funder | OrgKind::Operator) {
        return Err(Error::wrong_role());
    }
    let program = super::get_for(tx, org, program_id).await?;
    if program.status != ProgramStatus::Open {
        return Err(Error::conflict(
            "already_closed",
            "Ce programme est déjà clos.",
        ));
    }
    if let Some(ended) = program.ended_on(today) {
        return Err(Error::conflict(
            "already_ended",
            format!(
                "Ce programme a pris fin le {} : sa clôture est en cours et ne peut plus être \
                 changée.",
                long_date(ended)
            ),
        ));
    }
    Ok(program)
}

fn parse_day(text: &str) -> Result<Date> {
    text.trim().parse::<Date>().map_err(|_| {
        Error::invalid(
            "invalid_date",
            "La date de fin s'écrit AAAA-MM-JJ, par exemple 2026-12-31.",
        )
    })
}

/// Plans (or moves) a programme's close; a forced date of today or earlier closes it at once.
/// Journaled as `program.close_scheduled` (or `program.closed`).
pub async fn schedule_close(
    tx: &mut Tx<'_>,
    org: &Organization,
    program_id: &str,
    request: CloseRequest,
    now: Timestamp,
    today: Date,
) -> Result<Closing> {
    let program = still_running(tx, org, program_id, today).await?;
    if request.force && org.kind != OrgKind::Operator {
        return Err(Error::forbidden(
            "force_reserved",
            format!(
                "Seul l'opérateur du Pass numérique peut imposer une clôture avec un préavis de \
                 moins de {NOTICE_DAYS} jours. Choisissez une date au moins {NOTICE_DAYS} jours \
                 après aujourd'hui, ou contactez l'opérateur."
            ),
        ));
    }
    let earliest = earliest_close(today);
    let closes_on = match request
        .closes_on
        .as_deref()
        .filter(|d| !d.trim().is_empty())
    {
        Some(text) => parse_day(text)?,
        None => earliest,
    };
    if closes_on > today.saturating_add(MAX_DAYS_AHEAD.days()) {
        return Err(Error::invalid(
            "invalid_date",
            "La date de fin ne peut pas être à plus de dix ans.",
        ));
    }
    let planned = program.planned_close(today);
    // The day already planned, asked again: nothing to change.
    if planned == Some(closes_on) && closes_on > today {
        return Ok(closing_of(&program, closes_on, None));
    }
    // Postponing only lengthens the notice people were given.
    let postponed = planned.is_some_and(|p| closes_on > p);
    if closes_on < earliest && !postponed && !request.force {
        let mut message = format!(
            "La fin d'un programme s'annonce au moins {NOTICE_DAYS} jours à l'avance : \
             choisissez le {} ou une date plus lointaine.",
            long_date(earliest)
        );
        if org.kind == OrgKind::Operator {
            message.push_str(" L'opérateur peut imposer une date plus proche avec « force ».");
        }
        return Err(Error::invalid("notice_too_short", message));
    }
    let now_text = format_ts(now);
    if closes_on <= today {
        // Forced, at once: it ended today, whatever day was asked for.
        repo::set_closes_on(tx, &program.id, Some(&today.to_string())).await?;
        let closure = crate::expiry::close_program(tx, Some(&org.id), &program, now, today).await?;
        return Ok(closing_of(&program, today, Some(closure)));
    }
    repo::set_closes_on(tx, &program.id, Some(&closes_on.to_string())).await?;
    let mut detail = format!(
        "last day {closes_on}, issuance until {}",
        issuance_until(closes_on)
    );
    if let Some(before) = planned {
        detail.push_str(&format!(" (was {before})"));
    }
    if closes_on < earliest && !postponed {
        detail.push_str(", short notice forced by the operator");
    }
    crate::audit::record(
        tx,
        &now_text,
        Some(&org.id),
        "program.close_scheduled",
        Some(&program.id),
        &detail,
    )
    .await?;
    Ok(closing_of(&program, closes_on, None))
}

/// Cancels a planned close while its day is still to come (journaled as
/// `program.close_cancelled`). Returns the programme, with no close planned.
pub async fn cancel_close(
    tx: &mut Tx<'_>,
    org: &Organization,
    program_id: &str,
    now: Timestamp,
    today: Date,
) -> Result<Program> {
    let mut program = still_running(tx, org, program_id, today).await?;
    let Some(planned) = program.planned_close(today) else {
        return Err(Error::conflict(
            "no_close_planned",
            "Aucune fin n'est prévue pour ce programme.",
        ));
    };
    repo::set_closes_on(tx, &program.id, None).await?;
    crate::audit::record(
        tx,
        &format_ts(now),
        Some(&org.id),
        "program.close_cancelled",
        Some(&program.id),
        &format!("dernier jour prévu le {planned} annulé"),
    )
    .await?;
    program.closes_on = None;
    Ok(program)
}

/// The daily job: closes every open programme whose last day is past. Returns what each
/// close did. A last day ends at midnight in the programme's zone: candidates are read up to the latest
/// day anywhere, and each closed once its own day is past.
pub async fn close_due(tx: &mut Tx<'_>, now: Timestamp) -> Result<Vec<Closure>> {
    let mut done = Vec::new();
    let bound = crate::zones::latest_today(now).to_string();
    for program in repo::due_to_close(tx, &bound).await? {
        let today = program.today(now);
        if program
            .closes_on
            .as_deref()
            .is_some_and(|d| d < today.to_string().as_str())
        {
            done.push(crate::expiry::close_program(tx, None, &program, now, today).await?);
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuance_stops_fifteen_days_before_the_last_day() {
        let last: Date = "2026-04-01".parse().unwrap();
        assert_eq!(issuance_until(last).to_string(), "2026-03-16");
    }

    #[test]
    fn a_programme_ends_after_its_last_day_or_when_closed() {
        let today: Date = "2026-04-02".parse().unwrap();
        assert_eq!(ended_on(None, Some("2026-04-02"), today), None);
        assert_eq!(
            ended_on(None, Some("2026-04-01"), today).map(|d| d.to_string()),
            Some("2026-04-01".into())
        );
        assert_eq!(
            ended_on(Some("2026-03-20T10:00:00.000000Z"), None, today).map(|d| d.to_string()),
            Some("2026-03-20".into())
        );
        assert_eq!(ended_on(None, None, today), None);
    }
}
