//! Figures over time for funders' dashboards: the dashboard's monthly series read from the
//! operational tables (passes, vouchers, redemptions), and the funder's view of what the money
//! did (`outcomes`) from figures kept as they happen (`figures`), by Paris day and month.
//!
//! Timestamps are fixed-width UTC text (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), so the dashboard's
//! (UTC) month is the first seven characters on both databases. Sums are cast to BIGINT:
//! PostgreSQL's SUM of a BIGINT is NUMERIC, which the `Any` driver cannot decode.

pub mod figures;
mod labels;
mod months;
pub mod observatory;
mod outcomes;
mod period;
mod repo;

pub use months::close_months;
pub use outcomes::{
    breakdown, outcomes, Carnets, Dimension, Money, Opinions, Outcomes, Period, Row,
};

use crate::db::Conn;
use crate::error::{Error, Result};
use crate::money::Cents;
use sqlx::Row as _;
use std::collections::BTreeMap;

/// One calendar month of a programme.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Month {
    /// `YYYY-MM`.
    pub month: String,
    /// Cheques issued that month, including ones later cancelled or expired (as the ledger
    /// counts issuance).
    pub issued_cheques: i64,
    pub issued_cents: Cents,
    /// Cheques redeemed that month and not undone.
    pub redeemed_cheques: i64,
    pub redeemed_cents: Cents,
}

/// Month by month, from the first month with any activity to the last, with no gaps: a chart
/// must show quiet months as zero, not skip them.
pub async fn monthly(conn: &mut Conn, program_id: &str) -> Result<Vec<Month>> {
    let issued = sqlx::query(
        "SELECT SUBSTR(p.created_at, 1, 7) AS month, COUNT(*) AS cheques, \
                CAST(SUM(v.value_cents) AS BIGINT) AS cents \
         FROM vouchers v JOIN passes p ON p.id = v.pass_id \
         WHERE v.program_id = $1 \
         GROUP BY SUBSTR(p.created_at, 1, 7)",
    )
    .bind(program_id)
    .fetch_all(&mut *conn)
    .await?;
    let redeemed = sqlx::query(
        "SELECT SUBSTR(redeemed_at, 1, 7) AS month, COUNT(*) AS cheques, \
                CAST(SUM(value_cents) AS BIGINT) AS cents \
         FROM redemptions \
         WHERE program_id = $1 AND undone_at IS NULL \
         GROUP BY SUBSTR(redeemed_at, 1, 7)",
    )
    .bind(program_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut months: BTreeMap<String, Month> = BTreeMap::new();
    for row in &issued {
        let month: String = row.try_get("month")?;
        let m = months.entry(month).or_default();
        m.issued_cheques = row.try_get("cheques")?;
        m.issued_cents = row.try_get("cents")?;
    }
    for row in &redeemed {
        let month: String = row.try_get("month")?;
        let m = months.entry(month).or_default();
        m.redeemed_cheques = row.try_get("cheques")?;
        m.redeemed_cents = row.try_get("cents")?;
    }
    let (Some(first), Some(last)) = (months.keys().next(), months.keys().next_back()) else {
        return Ok(Vec::new());
    };
    let (mut year, mut month) = parse_month(first)?;
    let end = parse_month(last)?;
    let mut out = Vec::new();
    while (year, month) <= end {
        let key = format!("{year:04}-{month:02}");
        let mut m = months.remove(&key).unwrap_or_default();
        m.month = key;
        out.push(m);
        (year, month) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
    }
    Ok(out)
}

fn parse_month(text: &str) -> Result<(i32, u32)> {
    let parsed = text.split_once('-').and_then(|(y, m)| {
        let (y, m) = (y.parse::<i32>().ok()?, m.parse::<u32>().ok()?);
        (1..=12).contains(&m).then_some((y, m))
    });
    parsed.ok_or_else(|| Error::Internal(anyhow::anyhow!("unexpected month {text:?}")))
}

/// `2026-03` → `mars 2026`.
pub fn month_label(month: &str) -> String {
    match parse_month(month) {
        Ok((year, m)) => match jiff::civil::Date::new(year as i16, m as i8, 1) {
            Ok(date) => {
                let long = crate::fr::long_date(date);
                // `1er mars 2026` without its day.
                long.split_once(' ')
                    .map(|(_, rest)| rest.to_string())
                    .unwrap_or(long)
            }
            Err(_) => month.to_string(),
        },
        Err(_) => month.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_labels() {
        assert_eq!(month_label("2026-03"), "mars 2026");
        assert_eq!(month_label("2026-12"), "décembre 2026");
        assert_eq!(month_label("oops"), "oops");
    }
}
