//! Closed months: once a Paris month can no longer change (a redemption is dated when it is
//! recorded, and undone only within the undo window), its people by group are counted once
//! from its redemptions and kept (`figure_month_people`). The funder's view of that month then
//! reads a few hundred rows instead of every redemption of the month: people do not add up
//! across days, so the figures kept by day cannot give them (about a second for a month of a
//! programme of ten million cheques on SQLite; BENCHMARKS.md, run X).

use super::outcomes::{count_people, Dimension};
use super::period::Period;
use super::repo;
use crate::clock::{format_ts, paris};
use crate::db::{Db, Origin};
use crate::error::{Error, Result};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

/// Counts and keeps the people of every month of every programme that is final at `now` (it
/// ended longer ago than `undo_window` and `settlement::IN_FLIGHT_MARGIN`) and not kept yet,
/// from the programme's first use to its last; the number of months closed.
pub async fn close_months(db: &Db, now: Timestamp, undo_window: SignedDuration) -> Result<usize> {
    let final_before = now
        .checked_sub(undo_window.saturating_add(crate::settlement::IN_FLIGHT_MARGIN))
        .unwrap_or(Timestamp::MIN);
    let now_text = format_ts(now);
    let mut conn = db.read().await?;
    let programs: Vec<String> = sqlx::query_scalar("SELECT id FROM programs ORDER BY id")
        .fetch_all(&mut *conn)
        .await?;
    let mut closed = 0;
    for program_id in programs {
        let Some((first, last)) = repo::used_between(&mut conn, &program_id).await? else {
            continue;
        };
        let kept = repo::closed_months(&mut conn, &program_id).await?;
        let (mut month, last_month) = (first_of_month(&first)?, first_of_month(&last)?);
        while month <= last_month {
            let next = month.last_of_month().tomorrow().map_err(internal)?;
            if next.to_zoned(paris()).map_err(internal)?.timestamp() > final_before {
                break;
            }
            let key = format!("{:04}-{:02}", month.year(), month.month());
            if !kept.contains(&key) {
                let counted = count_people(
                    &mut conn,
                    &program_id,
                    Period::month(month),
                    &Dimension::BREAKDOWNS,
                )
                .await?;
                let people: Vec<(&'static str, String, i64)> = counted
                    .into_iter()
                    .filter_map(|(d, list)| Some((d.kept_people()?, list)))
                    .flat_map(|(group, list)| list.into_iter().map(move |(k, n)| (group, k, n)))
                    .collect();
                let (program, now_text) = (program_id.clone(), now_text.clone());
                let done = db
                    .transact(Origin::platform(), move |tx| {
                        Box::pin(async move {
                            repo::close_month(tx, &program, &key, &people, &now_text).await
                        })
                    })
                    .await?;
                closed += usize::from(done);
            }
            month = next;
        }
    }
    Ok(closed)
}

/// The first day of the Paris month of a stored instant.
fn first_of_month(at: &str) -> Result<Date> {
    super::figures::paris_day(at)
        .parse::<Date>()
        .map(|d| d.first_of_month())
        .map_err(internal)
}

fn internal(e: jiff::Error) -> Error {
    Error::Internal(e.into())
}
