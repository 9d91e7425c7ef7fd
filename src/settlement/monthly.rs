//! The monthly draft batch the server prepares by itself, and the e-mail that tells the
//! operator it waits for approval.

use super::{create, repo, BatchView, NewBatch};
use crate::db::{Conn, Tx};
use crate::error::Result;
use crate::orgs::Organization;
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

/// The last day the monthly draft pays, if it is due `today`: on `day` of the month (or
/// later, for a server that was down that day), the month before. None when `day` is 0.
pub fn monthly_until(today: Date, day: u8) -> Option<Date> {
    if day == 0 || today.day() < day as i8 {
        return None;
    }
    today.first_of_month().yesterday().ok()
}

/// Whether a batch already pays up to this day (the monthly draft is made once).
pub async fn exists_until(conn: &mut Conn, until: Date) -> Result<bool> {
    repo::exists_until(conn, &until.to_string()).await
}

#[derive(askama::Template)]
#[template(path = "mail/batch_ready.txt")]
struct BatchReadyMail<'a> {
    l: &'a crate::mail::Letterhead,
    id: &'a str,
    until: String,
    lines: usize,
    total: String,
}

/// The monthly draft batch, prepared by the server; the operator's people are told it waits
/// for their approval.
pub async fn prepare_monthly(
    tx: &mut Tx<'_>,
    operator: &Organization,
    until: Date,
    now: Timestamp,
    undo_window: SignedDuration,
    letterhead: &crate::mail::Letterhead,
) -> Result<BatchView> {
    let new = NewBatch {
        until: until.to_string(),
    };
    let view = create(tx, operator, new, now, undo_window).await?;
    let body = BatchReadyMail {
        l: letterhead,
        id: &view.batch.id,
        until: crate::fr::long_date(until),
        lines: view.lines.len(),
        total: view.batch.total_cents.text(),
    };
    crate::users::mail_people(
        tx,
        &operator.id,
        false,
        "Lot de règlement à approuver — Pass numérique",
        &body,
        now,
    )
    .await?;
    Ok(view)
}
