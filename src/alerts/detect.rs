//! The four patterns. Sessions are read once (each run looks at what came since the last);
//! the rates are computed again each run over their whole window.

use super::repo::{self, NewAlert};
use super::{Found, Kind, Thresholds};
use crate::clock::{format_ts, parse_ts};
use crate::db::Tx;
use crate::error::Result;
use crate::fr::long_date;
use crate::sites::places::hours;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use std::collections::{BTreeMap, HashMap};

/// Days the per-session patterns look back before the last run.
const LOOKBACK_DAYS: i64 = 8;

pub(super) async fn all(tx: &mut Tx<'_>, thresholds: Thresholds, now: Timestamp) -> Result<Found> {
    let at = format_ts(now);
    // Looked at again over a week: a session synced late from an offline device, or written
    // by a transaction that committed after the last run, carries an earlier time.
    let since = match parse_ts(&repo::scanned_until(tx).await?) {
        Some(last) => format_ts(last - SignedDuration::from_hours(24 * LOOKBACK_DAYS)),
        None => String::new(),
    };
    let mut found = Found::default();
    for alert in carnets_in_one_day(tx, &since, &at).await? {
        found.carnet_in_one_day += u64::from(repo::insert(tx, &alert, &at).await?);
    }
    for alert in outside_hours(tx, &since, &at).await? {
        found.outside_hours += u64::from(repo::insert(tx, &alert, &at).await?);
    }
    repo::set_scanned_until(tx, &at).await?;
    for alert in concentrations(tx, thresholds).await? {
        found.distributor_concentration += u64::from(repo::insert(tx, &alert, &at).await?);
    }
    for alert in rate_spikes(tx, thresholds, now).await? {
        found.rate_spike += u64::from(repo::insert(tx, &alert, &at).await?);
    }
    Ok(found)
}

/// An instant as read at the place: its days and hours are the place's.
fn local(ts: &str, zone: &TimeZone) -> Option<jiff::Zoned> {
    parse_ts(ts).map(|t| t.to_zoned(zone.clone()))
}

fn hour(ts: &str, zone: &TimeZone) -> String {
    local(ts, zone)
        .map(|z| z.strftime("%H:%M").to_string())
        .unwrap_or_default()
}

/// The end of a carnet's code: enough to find it, not enough to use it.
fn code_end(code: &str) -> String {
    let tail: String = code.chars().rev().take(4).collect();
    format!("…{}", tail.chars().rev().collect::<String>())
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n > 1 { many } else { one })
}

async fn carnets_in_one_day(tx: &mut Tx<'_>, since: &str, until: &str) -> Result<Vec<NewAlert>> {
    let mut alerts = Vec::new();
    for c in repo::used_up_at_one_site(tx, since, until).await? {
        let (Some(first), Some(last)) = (local(&c.first, &c.zone), local(&c.last, &c.zone)) else {
            continue;
        };
        if first.date() != last.date() {
            continue;
        }
        let site = repo::org_name(tx, &c.site_id).await?;
        let distributor = repo::org_name(tx, &c.distributor_id).await?;
        let place = c.place_name.clone().unwrap_or_else(|| site.clone());
        alerts.push(NewAlert {
            kind: Kind::CarnetInOneDay,
            subject: format!("pass:{}", c.pass_id),
            program_id: c.program_id.clone(),
            site_id: Some(c.site_id.clone()),
            distributor_id: Some(c.distributor_id.clone()),
            summary: format!(
                "Les {} chèques du carnet {} ont tous été utilisés le {} chez {place}, en {}.",
                c.cheques,
                code_end(&c.pass_code),
                long_date(first.date()),
                plural(c.sessions, "séance", "séances"),
            ),
            evidence: vec![
                format!("Carnet : code se terminant par {}", code_end(&c.pass_code)),
                format!("Remis par : {distributor}"),
                if place == site {
                    format!("Lieu : {place}")
                } else {
                    format!("Lieu : {place} ({site})")
                },
                format!(
                    "Première séance à {}, dernière à {}",
                    hour(&c.first, &c.zone),
                    hour(&c.last, &c.zone)
                ),
            ],
        });
    }
    Ok(alerts)
}

async fn outside_hours(tx: &mut Tx<'_>, since: &str, until: &str) -> Result<Vec<NewAlert>> {
    // Per place, programme and local day: the sessions outside the declared hours.
    type Day = (String, String, Date);
    let mut days: BTreeMap<Day, Vec<repo::PlacedSession>> = BTreeMap::new();
    for s in repo::sessions_at_places_with_hours(tx, since, until).await? {
        let (Some(at), Some(local)) = (parse_ts(&s.at), local(&s.at, &s.zone)) else {
            continue;
        };
        if hours::is_open(Some(&s.horaires), at, &s.zone) == Some(false) {
            days.entry((s.place_id.clone(), s.program_id.clone(), local.date()))
                .or_default()
                .push(s);
        }
    }
    let mut alerts = Vec::new();
    for ((place_id, program_id, date), sessions) in days {
        let Some(first) = sessions.first() else {
            continue;
        };
        let cheques: i64 = sessions.iter().map(|s| s.cheques).sum();
        let mut evidence = vec![format!(
            "Horaires déclarés : {}",
            hours::in_words(&first.horaires).join(" ; ")
        )];
        evidence.extend(sessions.iter().map(|s| {
            format!(
                "Séance à {} : {}",
                hour(&s.at, &s.zone),
                plural(s.cheques, "chèque", "chèques")
            )
        }));
        alerts.push(NewAlert {
            kind: Kind::OutsideHours,
            subject: format!("place:{place_id}:{date}:{program_id}"),
            program_id,
            site_id: Some(first.site_id.clone()),
            distributor_id: None,
            summary: format!(
                "{} ({}) à {} le {}, en dehors des horaires d'ouverture déclarés.",
                plural(sessions.len() as i64, "séance", "séances"),
                plural(cheques, "chèque", "chèques"),
                first.place_name,
                long_date(date),
            ),
            evidence,
        });
    }
    Ok(alerts)
}

async fn concentrations(tx: &mut Tx<'_>, thresholds: Thresholds) -> Result<Vec<NewAlert>> {
    let rows = repo::started_carnets(tx).await?;
    let totals: HashMap<(&str, &str), i64> = rows
        .iter()
        .filter(|(_, _, site, _)| site.is_none())
        .map(|(program, distributor, _, n)| ((program.as_str(), distributor.as_str()), *n))
        .collect();
    let (share, minimum) = (
        i64::from(thresholds.distributor_share_percent),
        i64::from(thresholds.distributor_min_carnets),
    );
    let mut alerts = Vec::new();
    for (program_id, distributor_id, site_id, carnets) in &rows {
        let Some(site_id) = site_id else { continue };
        let total = totals
            .get(&(program_id.as_str(), distributor_id.as_str()))
            .copied()
            .unwrap_or(0);
        if total < minimum || carnets * 100 < share * total {
            continue;
        }
        let percent = carnets * 100 / total;
        let site = repo::org_name(tx, site_id).await?;
        let distributor = repo::org_name(tx, distributor_id).await?;
        alerts.push(NewAlert {
            kind: Kind::DistributorConcentration,
            subject: format!("distributor:{distributor_id}:site:{site_id}:program:{program_id}"),
            program_id: program_id.clone(),
            site_id: Some(site_id.clone()),
            distributor_id: Some(distributor_id.clone()),
            summary: format!(
                "{carnets} des {total} carnets commencés remis par {distributor} ({percent} %) \
                 ont été utilisés chez {site}."
            ),
            evidence: vec![
                format!("Carnets de {distributor} dont au moins un chèque est utilisé : {total}"),
                format!("Dont utilisés chez {site} : {carnets} ({percent} %)"),
                format!("Seuil : {share} % des carnets, à partir de {minimum} carnets commencés"),
            ],
        });
    }
    Ok(alerts)
}

/// Weeks of history a site needs before its usual rate means anything.
const USUAL_WEEKS_MIN: i64 = 4;
/// Weeks its usual rate is measured over, before the last seven days.
const USUAL_WEEKS: i64 = 8;

async fn rate_spikes(
    tx: &mut Tx<'_>,
    thresholds: Thresholds,
    now: Timestamp,
) -> Result<Vec<NewAlert>> {
    let week = SignedDuration::from_hours(24 * 7);
    let recent_from = now - week;
    let usual_from = recent_from - week * USUAL_WEEKS as i32;
    let rows = repo::site_rates(
        tx,
        &format_ts(usual_from),
        &format_ts(recent_from),
        &format_ts(now),
    )
    .await?;
    let today = now.to_zoned(crate::clock::paris()).date();
    let iso = today.iso_week_date();
    let (factor, minimum) = (
        i64::from(thresholds.rate_factor),
        i64::from(thresholds.rate_min_cheques),
    );
    let mut alerts = Vec::new();
    for (site_id, program_id, recent, usual, first) in rows {
        let Some(first) = parse_ts(&first) else {
            continue;
        };
        // Whole weeks the site has been redeeming before the last seven days, at most eight.
        let weeks = (recent_from.duration_since(first).as_secs() / week.as_secs()).min(USUAL_WEEKS);
        if weeks < USUAL_WEEKS_MIN || recent < minimum || recent * weeks <= factor * usual {
            continue;
        }
        let site = repo::org_name(tx, &site_id).await?;
        let weekly = usual / weeks;
        alerts.push(NewAlert {
            kind: Kind::RateSpike,
            subject: format!(
                "site:{site_id}:program:{program_id}:week:{}-{:02}",
                iso.year(),
                iso.week()
            ),
            program_id,
            site_id: Some(site_id),
            distributor_id: None,
            summary: format!(
                "{site} a utilisé {recent} chèques en 7 jours, contre {} d'habitude.",
                if weekly == 0 {
                    "moins d'un par semaine".to_string()
                } else {
                    format!("{weekly} par semaine")
                }
            ),
            evidence: vec![
                format!("Les 7 derniers jours (jusqu'au {}) : {recent} chèques", long_date(today)),
                format!("Les {weeks} semaines d'avant : {usual} chèques, soit {weekly} par semaine"),
                format!(
                    "Seuil : plus de {factor} fois le rythme habituel, à partir de {minimum} chèques"
                ),
            ],
        });
    }
    Ok(alerts)
}
