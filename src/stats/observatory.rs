//! The public observatory (`/observatoire` and its open data): national and per-département
//! figures of the last twelve months, with every figure about fewer than [`THRESHOLD`] people
//! suppressed so that no one can be recognised.
//!
//! People helped = carnets with at least one cheque used in the period. A session is a
//! redemption group (`COALESCE(group_id, id)`); its hours are counted once per carnet, as the
//! longest of its cheques' durations. A redemption's département is its place's, else its
//! site's.
//! Kinds and levels of help are counted nationally, people per kind or level, with the same
//! suppression.

use crate::db::Conn;
use crate::error::Result;
use sqlx::Row;
use std::collections::BTreeMap;

/// Figures about fewer people than this are not published.
pub const THRESHOLD: i64 = 11;

/// A published count: `None` when suppressed (about fewer than [`THRESHOLD`] people).
pub type Cell = Option<i64>;

/// One territory's figures: France, or a département.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Area {
    /// `France`, or the département's code (`33`, `2A`, `971`).
    pub code: String,
    pub people: Cell,
    pub sessions: Cell,
    pub hours: Cell,
    /// Answers to "Je donne mon avis" (0-10), and their average in tenths.
    pub answers: Cell,
    pub satisfaction_tenths: Cell,
    /// Places qualified today (not people: never suppressed).
    pub places: i64,
}

/// People helped and sessions by kind (or level) of help, nationally.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kind {
    pub label: &'static str,
    pub people: Cell,
    pub sessions: Cell,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observatory {
    pub national: Area,
    /// Départements with any activity or any qualified place, by code.
    pub departments: Vec<Area>,
    pub kinds: Vec<Kind>,
    /// The same by level of help (emergency, inclusion, upskilling).
    pub levels: Vec<Kind>,
}

/// Raw counts of one territory, before suppression.
#[derive(Clone, Debug, Default)]
struct Raw {
    people: i64,
    sessions: i64,
    minutes: i64,
    answers: i64,
    marks: i64,
    places: i64,
}

/// The sessions of the period, one row per (session, carnet): the département, the kind, the
/// duration.
const SESSIONS: &str = "SELECT COALESCE(r.group_id, r.id) AS session_id, r.pass_id AS pass_id, \
       COALESCE(MIN(pl.department), MIN(o.department), '') AS dep, \
       COALESCE(MIN(r.service), '') AS service, COALESCE(MIN(r.help_level), '') AS level, \
       COALESCE(MAX(r.minutes), 0) AS minutes \
     FROM redemptions r \
     JOIN organizations o ON o.id = r.site_id LEFT JOIN places pl ON pl.id = r.place_id \
     WHERE r.undone_at IS NULL AND r.redeemed_at >= $1 \
     GROUP BY COALESCE(r.group_id, r.id), r.pass_id";

/// The observatory of the period starting at `since` (a timestamp); places are counted as
/// qualified on `today` (`YYYY-MM-DD`).
pub async fn observatory(conn: &mut Conn, since: &str, today: &str) -> Result<Observatory> {
    let mut raw: BTreeMap<String, Raw> = BTreeMap::new();
    let mut national = Raw::default();
    let by_area = sqlx::query(&format!(
        "SELECT s.dep AS dep, COUNT(DISTINCT s.pass_id) AS people, \
                COUNT(DISTINCT s.session_id) AS sessions, \
                CAST(COALESCE(SUM(s.minutes), 0) AS BIGINT) AS minutes \
         FROM ({SESSIONS}) s GROUP BY s.dep"
    ))
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    for row in &by_area {
        let r = raw.entry(row.try_get("dep")?).or_default();
        r.people = row.try_get("people")?;
        r.sessions = row.try_get("sessions")?;
        r.minutes = row.try_get("minutes")?;
        national.sessions += r.sessions;
        national.minutes += r.minutes;
    }
    // A carnet used in two départements is one person nationally.
    national.people = sqlx::query_scalar(&format!(
        "SELECT COUNT(DISTINCT s.pass_id) FROM ({SESSIONS}) s"
    ))
    .bind(since)
    .fetch_one(&mut *conn)
    .await?;
    let opinions = sqlx::query(
        "SELECT COALESCE(pl.department, o.department, '') AS dep, COUNT(*) AS answers, \
                CAST(SUM(op.overall) AS BIGINT) AS marks \
         FROM opinions op JOIN organizations o ON o.id = op.site_id \
         LEFT JOIN places pl ON pl.id = op.place_id \
         WHERE op.created_at >= $1 GROUP BY COALESCE(pl.department, o.department, '')",
    )
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    for row in &opinions {
        let r = raw.entry(row.try_get("dep")?).or_default();
        r.answers = row.try_get("answers")?;
        r.marks = row.try_get("marks")?;
        national.answers += r.answers;
        national.marks += r.marks;
    }
    let places = sqlx::query(
        "SELECT COALESCE(department, '') AS dep, COUNT(*) AS places FROM places \
         WHERE qualification_status = 'qualified' AND qualified_until >= $1 \
         GROUP BY COALESCE(department, '')",
    )
    .bind(today)
    .fetch_all(&mut *conn)
    .await?;
    for row in &places {
        let r = raw.entry(row.try_get("dep")?).or_default();
        r.places = row.try_get("places")?;
        national.places += r.places;
    }
    let kinds = by(conn, since, "service", |service| {
        crate::catalogue::typology::service_label(Some(service))
    })
    .await?;
    let levels = by(conn, since, "level", |level| {
        crate::outcomes::HelpLevel::from_stored(level)
            .map(|l| l.label())
            .unwrap_or("Non renseigné")
    })
    .await?;
    // Places or sessions with no known département count nationally only.
    raw.remove("");
    Ok(Observatory {
        national: area("France".into(), &national),
        departments: suppress_secondary(
            raw.iter()
                .map(|(code, r)| (area(code.clone(), r), r))
                .collect(),
        ),
        kinds,
        levels,
    })
}

/// People helped and sessions per value of one column of [`SESSIONS`], most people first.
async fn by(
    conn: &mut Conn,
    since: &str,
    column: &str,
    label: impl Fn(&str) -> &'static str,
) -> Result<Vec<Kind>> {
    let rows = sqlx::query(&format!(
        "SELECT s.{column} AS value, COUNT(DISTINCT s.pass_id) AS people, \
                COUNT(DISTINCT s.session_id) AS sessions \
         FROM ({SESSIONS}) s GROUP BY s.{column}"
    ))
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    let mut kinds = rows
        .iter()
        .map(|row| {
            let value: String = row.try_get("value")?;
            let people: i64 = row.try_get("people")?;
            let sessions: i64 = row.try_get("sessions")?;
            Ok(Kind {
                label: label(&value),
                people: publish(people, people),
                sessions: publish(people, sessions),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    kinds.sort_by(|a, b| b.people.cmp(&a.people).then(a.label.cmp(b.label)));
    Ok(kinds)
}

/// `value` when it is about at least [`THRESHOLD`] people.
fn publish(people: i64, value: i64) -> Cell {
    (people >= THRESHOLD).then_some(value)
}

fn area(code: String, r: &Raw) -> Area {
    Area {
        code,
        people: publish(r.people, r.people),
        sessions: publish(r.people, r.sessions),
        hours: publish(r.people, (r.minutes + 30) / 60),
        answers: publish(r.answers, r.answers),
        satisfaction_tenths: publish(r.answers, tenths(r.marks, r.answers)),
        places: r.places,
    }
}

/// The average in tenths, rounded half up.
fn tenths(sum: i64, count: i64) -> i64 {
    if count == 0 {
        0
    } else {
        (sum * 20 + count) / (count * 2)
    }
}

/// When a single département's figures are suppressed, the national total minus the others
/// would give them away: the smallest published département is then suppressed too (for the
/// people, sessions and hours; and for the answers).
fn suppress_secondary(mut areas: Vec<(Area, &Raw)>) -> Vec<Area> {
    let alone = |areas: &[(Area, &Raw)], hidden: fn(&Area) -> bool, active: fn(&Raw) -> bool| {
        let suppressed = areas.iter().filter(|(a, r)| hidden(a) && active(r)).count();
        if suppressed != 1 {
            return None;
        }
        areas
            .iter()
            .enumerate()
            .filter(|(_, (a, _))| !hidden(a))
            .min_by_key(|(_, (_, r))| (r.people, r.answers))
            .map(|(i, _)| i)
    };
    if let Some(i) = alone(&areas, |a| a.people.is_none(), |r| r.people > 0) {
        let a = &mut areas[i].0;
        (a.people, a.sessions, a.hours) = (None, None, None);
    }
    if let Some(i) = alone(&areas, |a| a.answers.is_none(), |r| r.answers > 0) {
        let a = &mut areas[i].0;
        (a.answers, a.satisfaction_tenths) = (None, None);
    }
    areas.into_iter().map(|(a, _)| a).collect()
}

/// A count as published: the number, or "moins de 11".
pub fn cell_text(cell: Cell) -> String {
    cell.map(|n| n.to_string())
        .unwrap_or_else(|| format!("moins de {THRESHOLD}"))
}

/// An average in tenths as published: `7,4` on pages (`decimal = ','`), `7.4` in files.
pub fn tenths_text(cell: Cell, decimal: char) -> String {
    cell.map(|t| format!("{}{decimal}{}", t / 10, t % 10))
        .unwrap_or_else(|| format!("moins de {THRESHOLD}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(people: i64, answers: i64) -> Raw {
        Raw {
            people,
            sessions: people,
            minutes: people * 120,
            answers,
            marks: answers * 8,
            places: 1,
        }
    }

    #[test]
    fn small_counts_are_suppressed_and_not_derivable() {
        let (a, b, c) = (raw(5, 0), raw(40, 20), raw(12, 11));
        let areas = vec![
            (area("01".into(), &a), &a),
            (area("02".into(), &b), &b),
            (area("03".into(), &c), &c),
        ];
        let out = suppress_secondary(areas);
        assert_eq!(out[0].people, None);
        assert_eq!(out[0].places, 1);
        // 01 alone would be France minus 02 and 03: the smallest of those goes too.
        assert_eq!((out[2].people, out[2].hours), (None, None));
        assert_eq!((out[1].people, out[1].hours), (Some(40), Some(80)));
        // No answers at all in 01 is nothing to protect: the answers stay.
        assert_eq!(out[2].answers, Some(11));
        assert_eq!(out[1].satisfaction_tenths, Some(80));
        assert_eq!(cell_text(out[0].people), "moins de 11");
        assert_eq!(tenths_text(Some(74), ','), "7,4");
    }

    #[test]
    fn two_suppressed_areas_protect_each_other() {
        let (a, b, c) = (raw(5, 0), raw(3, 0), raw(12, 0));
        let out = suppress_secondary(vec![
            (area("01".into(), &a), &a),
            (area("02".into(), &b), &b),
            (area("03".into(), &c), &c),
        ]);
        assert_eq!(out[2].people, Some(12));
    }
}
