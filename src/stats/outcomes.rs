//! What the money did, for a programme's funder: carnets issued, handed out, started and
//! finished, people helped, sessions and hours of help, kinds and themes of help, and the
//! money's flow from funded to paid, and the beneficiaries' satisfaction, over a period and
//! broken down by distributor, place, département, month, kind, level and theme.
//!
//! Rules of counting:
//! - a carnet is issued when made, handed out when activated for a beneficiary (stock carnets
//!   are not), started when its first cheque is used, finished when its last one is; each is
//!   counted where and when that happened;
//! - one carnet is one person: the people helped in a group are the carnets with a cheque used
//!   in it (a person helped in two places counts in each, and once in the whole);
//! - a session (one redemption, of one or several cheques) counts once, with its minutes;
//! - money is the ledger's transactions, so that it reconciles with it;
//! - days and months are Paris time, as periods are; every figure is kept as it happens
//!   (`super::figures`), and people over a period that does not start with the programme
//!   are counted from its redemptions;
//! - satisfaction is the answers to "Je donne mon avis" (0 to 10) given in the period, dated
//!   and placed as the answer is (by the carnet's distributor, the session's place and its
//!   département, the month of the answer), shown about 11 answers or more as in the
//!   observatory (see `suppress`).

use super::figures::Axis;
use super::labels::{every_month, finish};
pub use super::period::Period;
use super::repo;
use crate::clock::{format_ts, paris};
use crate::db::Conn;
use crate::error::{Error, Result};
use crate::money::Cents;
use jiff::civil::Date;
use std::collections::BTreeMap;

/// How the figures are broken down. Adding one is one variant and its key here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dimension {
    /// The programme as a whole: one row.
    Whole,
    Distributor,
    Place,
    /// The département of the place.
    Department,
    Month,
    /// The kind of help (`redemptions.service`).
    Kind,
    Theme,
    /// The level of help given (`redemptions.help_level`, see `crate::outcomes::HelpLevel`).
    HelpLevel,
}

impl Dimension {
    /// Every breakdown of the view, in the order it shows them.
    pub const BREAKDOWNS: [Dimension; 7] = [
        Dimension::Month,
        Dimension::Distributor,
        Dimension::Place,
        Dimension::Department,
        Dimension::Kind,
        Dimension::HelpLevel,
        Dimension::Theme,
    ];

    /// The group of a live redemption (`r`, its place `pl`), to count people in it, `month`
    /// the expression of its Paris month; none for themes (a session has several, so people
    /// are not counted by theme).
    fn people_key(self, month: &str) -> Option<String> {
        Some(
            match self {
                // A carnet has one distributor, its redemptions' own: the programme's people
                // are the distributors' added up (see `read`).
                Dimension::Whole | Dimension::Distributor => "r.distributor_id",
                Dimension::Place => "COALESCE(r.place_id, '')",
                Dimension::Department => "COALESCE(pl.department, '')",
                Dimension::Month => month,
                Dimension::Kind => "COALESCE(r.service, '')",
                Dimension::HelpLevel => "COALESCE(r.help_level, '')",
                Dimension::Theme => return None,
            }
            .to_string(),
        )
    }

    /// The group people are kept by over the programme's life (`figures`).
    pub(super) fn kept_people(self) -> Option<&'static str> {
        match self {
            Dimension::Whole | Dimension::Distributor => Some(super::figures::DISTRIBUTOR),
            Dimension::Place => Some("place"),
            Dimension::Department => Some("department"),
            Dimension::Month => Some("month"),
            Dimension::Kind => Some("kind"),
            Dimension::HelpLevel => Some("level"),
            Dimension::Theme => None,
        }
    }

    /// Whether carnets are tied to the group (they are used in places, for kinds and themes
    /// of help, and the level that counts is the session's).
    fn has_carnets(self) -> bool {
        matches!(
            self,
            Dimension::Whole | Dimension::Distributor | Dimension::Month
        )
    }

    /// Whether its sums come from the cells by distributor, place and month (else by kind,
    /// level and themes).
    fn by_place(self) -> bool {
        matches!(
            self,
            Dimension::Whole
                | Dimension::Distributor
                | Dimension::Place
                | Dimension::Department
                | Dimension::Month
        )
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Carnets {
    pub issued: i64,
    pub handed_out: i64,
    pub started: i64,
    pub finished: i64,
}

/// One group's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Row {
    /// An organisation or place id, a département code, `YYYY-MM`, a kind or theme id; empty
    /// when not recorded.
    pub key: String,
    /// What people read.
    pub label: String,
    /// None where carnets are not tied to the group (places, kinds, themes).
    pub carnets: Option<Carnets>,
    /// Carnets with a cheque used in the group; none for themes (a session has several).
    pub people: Option<i64>,
    pub sessions: i64,
    pub cheques: i64,
    pub used_cents: Cents,
    pub minutes: i64,
    /// The beneficiaries' answers given in the group (by the answer's date); none where they
    /// are not broken down (kinds, levels and themes of help).
    pub opinions: Option<Opinions>,
}

/// Answers to "Je donne mon avis" (0 to 10), published only about enough answers that no one
/// can be recognised, as in the observatory (`observatory::THRESHOLD`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Opinions {
    pub answers: i64,
    /// The sum of the marks.
    pub marks: i64,
    /// Whether the count and the average may be shown: not below the threshold, nor where
    /// the others of its breakdown would give a suppressed one away (see `suppress`).
    pub published: bool,
}

impl Opinions {
    /// The average mark in tenths (74 for 7.4), rounded half up, when published.
    pub fn average_tenths(&self) -> Option<i64> {
        (self.published && self.answers > 0)
            .then(|| (self.marks * 20 + self.answers) / (self.answers * 2))
    }

    /// The count when published.
    pub fn published_answers(&self) -> Option<i64> {
        self.published.then_some(self.answers)
    }
}

/// Publishes the opinions of a breakdown's rows about enough answers; when exactly one group
/// with answers is suppressed, the published one with the fewest answers is suppressed too,
/// or the programme's total minus the others would give it away (as the observatory does).
pub(super) fn suppress(rows: &mut [Row]) {
    use super::observatory::THRESHOLD;
    let mut suppressed = 0;
    for o in rows.iter_mut().filter_map(|r| r.opinions.as_mut()) {
        o.published = o.answers >= THRESHOLD;
        if !o.published && o.answers > 0 {
            suppressed += 1;
        }
    }
    if suppressed == 1 {
        if let Some(o) = rows
            .iter_mut()
            .filter_map(|r| r.opinions.as_mut())
            .filter(|o| o.published)
            .min_by_key(|o| o.answers)
        {
            o.published = false;
        }
    }
}

/// The money's flow over the period, from the ledger's transactions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Money {
    /// Paid in by the funder.
    pub funded: Cents,
    /// Given to distributors as quotas (net of quotas taken back).
    pub allocated: Cents,
    /// On cheques issued.
    pub issued: Cents,
    /// Cheques used in places (net of undone ones).
    pub used: Cents,
    /// Paid to places (net of transfers the bank returned).
    pub paid: Cents,
    /// Cheques expired or cancelled, back to the programme.
    pub returned: Cents,
    /// Given back to the funder at the programme's close.
    pub credited: Cents,
}

impl Money {
    fn add(&mut self, kind: &str, cents: i64) {
        use crate::ledger::Kind;
        let c = Cents::new(cents);
        match kind {
            k if k == Kind::Funding.as_str() => self.funded += c,
            k if k == Kind::Allocation.as_str() => self.allocated += c,
            k if k == Kind::Deallocation.as_str() => self.allocated -= c,
            k if k == Kind::Issuance.as_str() => self.issued += c,
            k if k == Kind::Redemption.as_str() => self.used += c,
            k if k == Kind::Undo.as_str() => self.used -= c,
            k if k == Kind::Payment.as_str() => self.paid += c,
            k if k == Kind::BankRejection.as_str() => self.paid -= c,
            k if k == Kind::Expiry.as_str() || k == Kind::Cancellation.as_str() => {
                self.returned += c
            }
            k if k == Kind::ExpiryReversal.as_str() => self.returned -= c,
            k if k == Kind::CreditNote.as_str() => self.credited += c,
            _ => {}
        }
    }
}

/// The whole view of one programme over one period.
#[derive(Clone, Debug, Default)]
pub struct Outcomes {
    pub period: Period,
    pub whole: Row,
    pub money: Money,
    /// `(YYYY-MM, flow)`, every month from the first to the last with a transaction.
    pub money_by_month: Vec<(String, Money)>,
    pub breakdowns: Vec<(Dimension, Vec<Row>)>,
}

/// The view of a programme the caller may see (check it first: `programs::get_for`).
pub async fn outcomes(conn: &mut Conn, program_id: &str, period: Period) -> Result<Outcomes> {
    let mut dimensions = vec![Dimension::Whole];
    dimensions.extend(Dimension::BREAKDOWNS);
    let Read {
        mut rows,
        money: flows,
    } = read(conn, program_id, period, &dimensions).await?;
    let whole = rows.remove(0).1.into_values().next().unwrap_or_default();
    let mut breakdowns = Vec::new();
    for (dimension, rows) in rows {
        breakdowns.push((dimension, finish(conn, dimension, rows).await?));
    }
    let mut months: BTreeMap<String, Money> = BTreeMap::new();
    let mut money = Money::default();
    for (month, kind, cents) in flows {
        months.entry(month).or_default().add(&kind, cents);
        money.add(&kind, cents);
    }
    let money_by_month = every_month(months.keys())
        .into_iter()
        .map(|m| {
            let flow = months.get(&m).copied().unwrap_or_default();
            (m, flow)
        })
        .collect();
    Ok(Outcomes {
        period,
        whole: Row {
            label: "Tout le programme".into(),
            ..whole_row(whole)
        },
        money,
        money_by_month,
        breakdowns,
    })
}

/// The figures of one breakdown, labelled and in reading order: months in time order (quiet
/// months included), other groups by cheques used, most first.
pub async fn breakdown(
    conn: &mut Conn,
    program_id: &str,
    period: Period,
    dimension: Dimension,
) -> Result<Vec<Row>> {
    let rows = read(conn, program_id, period, &[dimension])
        .await?
        .rows
        .pop()
        .map(|(_, rows)| rows)
        .unwrap_or_default();
    if dimension == Dimension::Whole {
        return Ok(vec![whole_row(
            rows.into_values().next().unwrap_or_default(),
        )]);
    }
    finish(conn, dimension, rows).await
}

fn whole_row(mut row: Row) -> Row {
    row.carnets.get_or_insert_default();
    row.people.get_or_insert(0);
    row.opinions.get_or_insert_default();
    suppress(std::slice::from_mut(&mut row));
    row
}

/// What [`read`] finds: the rows of each breakdown by key, and the money's flows as
/// `(month, ledger kind, cents)`.
struct Read {
    rows: Vec<(Dimension, BTreeMap<String, Row>)>,
    money: Vec<(String, String, i64)>,
}

/// The raw rows of these breakdowns, by key, from the figures kept as they happen (one read
/// of a few thousand cells serves them all), and people: kept for the programme's whole
/// life, counted from the period's redemptions otherwise.
async fn read(
    conn: &mut Conn,
    program_id: &str,
    period: Period,
    dimensions: &[Dimension],
) -> Result<Read> {
    let mut out: Vec<(Dimension, BTreeMap<String, Row>)> =
        dimensions.iter().map(|d| (*d, BTreeMap::new())).collect();
    let cells = repo::cells(conn, program_id, &period.spans()).await?;
    let departments: BTreeMap<String, String> = if dimensions.contains(&Dimension::Department) {
        let mut ids: Vec<&str> = cells
            .iter()
            .filter(|c| c.axis == Axis::Place)
            .map(|c| c.keys[1].as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        repo::places(conn, &ids)
            .await?
            .into_iter()
            .map(|(id, _, department)| (id, department.unwrap_or_default()))
            .collect()
    } else {
        BTreeMap::new()
    };
    let mut money = Vec::new();
    for cell in &cells {
        let f = &cell.figures;
        let [k1, k2, k3] = &cell.keys;
        if cell.axis == Axis::Money {
            money.push((cell.month.clone(), k1.clone(), f.cents));
            continue;
        }
        for (dimension, rows) in out.iter_mut() {
            let key = match (cell.axis, dimension) {
                (Axis::Place | Axis::Carnet, Dimension::Whole) => String::new(),
                (Axis::Place | Axis::Carnet, Dimension::Distributor) => k1.clone(),
                (Axis::Place | Axis::Carnet, Dimension::Month) => cell.month.clone(),
                (Axis::Place, Dimension::Place) => k2.clone(),
                (Axis::Place, Dimension::Department) => {
                    departments.get(k2).cloned().unwrap_or_default()
                }
                (Axis::Help, Dimension::Kind) => k1.clone(),
                (Axis::Help, Dimension::HelpLevel) => k2.clone(),
                (Axis::Help, Dimension::Theme) => k3.clone(),
                _ => continue,
            };
            let row = rows.entry(key).or_default();
            row.sessions += f.sessions;
            row.cheques += f.cheques;
            row.used_cents += Cents::new(if cell.axis == Axis::Carnet {
                0
            } else {
                f.cents
            });
            row.minutes += f.minutes;
            if cell.axis == Axis::Place {
                let o = row.opinions.get_or_insert_default();
                o.answers += f.answers;
                o.marks += f.marks;
            }
            if cell.axis == Axis::Carnet {
                let c = row.carnets.get_or_insert_default();
                c.issued += f.issued;
                c.handed_out += f.handed_out;
                c.started += f.started;
                c.finished += f.finished;
            }
        }
    }
    for (dimension, rows) in out.iter_mut() {
        for row in rows.values_mut() {
            if dimension.by_place() {
                row.opinions.get_or_insert_default();
                row.people.get_or_insert(0);
            }
            if dimension.has_carnets() {
                row.carnets.get_or_insert_default();
            }
        }
    }
    for (dimension, list) in people(conn, program_id, period, dimensions).await? {
        let Some((_, rows)) = out.iter_mut().find(|(d, _)| *d == dimension) else {
            continue;
        };
        for (k, n) in list {
            let k = if dimension == Dimension::Whole {
                String::new()
            } else {
                k
            };
            *rows.entry(k).or_default().people.get_or_insert(0) += n;
        }
    }
    Ok(Read { rows: out, money })
}

/// People helped in each breakdown's groups: kept for the programme's whole life (or a
/// period around all its uses) and for each closed month (`super::months`); else counted
/// from the period's redemptions, read once for every breakdown.
async fn people(
    conn: &mut Conn,
    program_id: &str,
    period: Period,
    dimensions: &[Dimension],
) -> Result<Vec<(Dimension, Vec<(String, i64)>)>> {
    if let Some(month) = period.whole_month() {
        if let Some(kept) = repo::closed_month_people(conn, program_id, &month).await? {
            return Ok(from_kept(dimensions, &kept));
        }
    }
    count_people(conn, program_id, period, dimensions).await
}

/// Each breakdown's people from kept `(group, key, people)` rows.
fn from_kept(
    dimensions: &[Dimension],
    kept: &[(String, String, i64)],
) -> Vec<(Dimension, Vec<(String, i64)>)> {
    dimensions
        .iter()
        .filter_map(|d| {
            let group = d.kept_people()?;
            let list = kept
                .iter()
                .filter(|(g, _, _)| g == group)
                .map(|(_, k, n)| (k.clone(), *n))
                .collect();
            Some((*d, list))
        })
        .collect()
}

/// People helped in each breakdown's groups, as kept for the programme's whole life when the
/// period is around all its uses, else counted from the period's redemptions.
pub(super) async fn count_people(
    conn: &mut Conn,
    program_id: &str,
    period: Period,
    dimensions: &[Dimension],
) -> Result<Vec<(Dimension, Vec<(String, i64)>)>> {
    let used = repo::used_between(conn, program_id).await?;
    let (start, end) = period.bounds();
    let around_every_use = used.as_ref().is_none_or(|(first, last)| {
        start.as_str() <= first.as_str() && last.as_str() < end.as_str()
    });
    if around_every_use {
        let kept = repo::kept_people(conn, program_id).await?;
        return Ok(from_kept(dimensions, &kept));
    }
    let month = paris_month_sql(period, used.as_ref())?;
    let mut keys: Vec<String> = Vec::new();
    for key in dimensions.iter().filter_map(|d| d.people_key(&month)) {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let counts = repo::people(conn, program_id, (&start, &end), &key_refs).await?;
    Ok(dimensions
        .iter()
        .filter_map(|d| {
            let key = d.people_key(&month)?;
            let i = keys.iter().position(|k| *k == key)?;
            Some((*d, counts.get(i).cloned().unwrap_or_default()))
        })
        .collect())
}

/// A month for no redemption: an expression, as PostgreSQL groups by no constant.
const NO_MONTH: &str = "SUBSTR(r.redeemed_at, 1, 0)";

/// The Paris month of a redemption (`r.redeemed_at`) as SQL: the month whose first Paris
/// midnight it is past, among those the period and the programme's uses span.
fn paris_month_sql(period: Period, used: Option<&(String, String)>) -> Result<String> {
    let day = |at: &str| super::figures::paris_day(at).parse::<Date>().ok();
    let first = period.from.or_else(|| used.and_then(|(f, _)| day(f)));
    let last = period.to.or_else(|| used.and_then(|(_, l)| day(l)));
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(NO_MONTH.into());
    };
    let mut sql = String::from("CASE");
    let mut month = first.first_of_month();
    while month <= last {
        let next = month
            .last_of_month()
            .tomorrow()
            .map_err(|e| Error::Internal(e.into()))?;
        let midnight = next
            .to_zoned(paris())
            .map(|z| format_ts(z.timestamp()))
            .map_err(|e| Error::Internal(e.into()))?;
        sql.push_str(&format!(
            " WHEN r.redeemed_at < '{midnight}' THEN '{:04}-{:02}'",
            month.year(),
            month.month()
        ));
        month = next;
    }
    if sql == "CASE" {
        return Ok(NO_MONTH.into());
    }
    sql.push_str(" ELSE '' END");
    Ok(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        assert_eq!(Period::parse(None, Some("")).unwrap(), Period::default());
        let p = Period::parse(Some("2026-03-01"), Some("2026-03-31")).unwrap();
        // Paris is UTC+1 in winter: the days start at 23:00 the day before.
        assert_eq!(
            p.bounds(),
            (
                "2026-02-28T23:00:00.000000Z".to_string(),
                "2026-03-31T22:00:00.000000Z".to_string()
            )
        );
        assert_eq!(Period::default().bounds(), (String::new(), "9999".into()));
        assert!(Period::parse(Some("2026-04-01"), Some("2026-03-01")).is_err());
        assert!(Period::parse(Some("31/03/2026"), None).is_err());
    }
}
