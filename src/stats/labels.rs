//! The funder's view's rows as people read them: labelled, themes split out of the lists a
//! session records, months without gaps, in reading order.

use super::outcomes::{suppress, Carnets, Dimension, Opinions, Row};
use super::repo;
use crate::db::Conn;
use crate::error::Result;
use std::collections::BTreeMap;

/// Labels a breakdown's rows and puts them in reading order.
pub(super) async fn finish(
    conn: &mut Conn,
    dimension: Dimension,
    mut rows: BTreeMap<String, Row>,
) -> Result<Vec<Row>> {
    if dimension == Dimension::Theme {
        rows = by_theme(rows);
    }
    if dimension == Dimension::Month {
        let keys: Vec<String> = rows.keys().cloned().collect();
        for month in every_month(keys.iter()) {
            rows.entry(month).or_insert_with(|| Row {
                carnets: Some(Carnets::default()),
                people: Some(0),
                opinions: Some(Opinions::default()),
                ..Row::default()
            });
        }
    }
    let places = if dimension == Dimension::Place {
        let ids: Vec<&str> = rows.keys().map(String::as_str).collect();
        repo::places(conn, &ids)
            .await?
            .into_iter()
            .map(|(id, name, _)| (id, name))
            .collect()
    } else {
        BTreeMap::new()
    };
    let orgs: BTreeMap<String, String> = if dimension == Dimension::Distributor {
        crate::orgs::list(conn)
            .await?
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect()
    } else {
        BTreeMap::new()
    };
    let mut out: Vec<Row> = rows
        .into_iter()
        .map(|(key, mut row)| {
            row.label = label_of(dimension, &key, &places, &orgs);
            row.key = key;
            row
        })
        .collect();
    suppress(&mut out);
    if dimension != Dimension::Month {
        out.sort_by(|a, b| {
            (b.cheques, b.sessions)
                .cmp(&(a.cheques, a.sessions))
                .then_with(|| a.label.to_lowercase().cmp(&b.label.to_lowercase()))
        });
    }
    Ok(out)
}

/// Rows grouped by lists of themes, as rows per theme: a session with two themes counts in
/// both (so themes do not add up to the whole, and people are not counted).
fn by_theme(rows: BTreeMap<String, Row>) -> BTreeMap<String, Row> {
    let mut out: BTreeMap<String, Row> = BTreeMap::new();
    for (themes, row) in rows {
        let list = crate::catalogue::typology::Themes::from(themes);
        let keys = if list.is_empty() {
            vec![String::new()]
        } else {
            list.0
        };
        for key in keys {
            let t = out.entry(key).or_default();
            t.sessions += row.sessions;
            t.cheques += row.cheques;
            t.used_cents += row.used_cents;
            t.minutes += row.minutes;
        }
    }
    out
}

fn label_of(
    dimension: Dimension,
    key: &str,
    places: &BTreeMap<String, String>,
    orgs: &BTreeMap<String, String>,
) -> String {
    use crate::catalogue::typology::{service_label, theme_label};
    const UNKNOWN: &str = "Non renseigné";
    if key.is_empty() && dimension != Dimension::Whole {
        return UNKNOWN.into();
    }
    match dimension {
        Dimension::Whole => "Tout le programme".into(),
        Dimension::Distributor => orgs.get(key).cloned().unwrap_or_else(|| key.into()),
        Dimension::Place => places.get(key).cloned().unwrap_or_else(|| key.into()),
        Dimension::Department => match crate::fr::department_name(key) {
            Some(name) => format!("{key} — {name}"),
            None => key.into(),
        },
        Dimension::Month => super::month_label(key),
        Dimension::Kind => service_label(Some(key)).into(),
        Dimension::Theme => theme_label(key).unwrap_or(UNKNOWN).into(),
        Dimension::HelpLevel => crate::outcomes::HelpLevel::from_stored(key)
            .map(|l| l.label())
            .unwrap_or(UNKNOWN)
            .into(),
    }
}

/// Every `YYYY-MM` from the first of these to the last, with no gaps.
pub(super) fn every_month<'a>(months: impl Iterator<Item = &'a String>) -> Vec<String> {
    let parsed: Vec<(i32, u32)> = months.filter_map(|m| super::parse_month(m).ok()).collect();
    let (Some(first), Some(last)) = (parsed.iter().min(), parsed.iter().max()) else {
        return Vec::new();
    };
    let (mut year, mut month) = *first;
    let mut out = Vec::new();
    while (year, month) <= *last {
        out.push(format!("{year:04}-{month:02}"));
        (year, month) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_without_gaps() {
        let keys = ["2026-11".to_string(), "2027-02".to_string()];
        assert_eq!(
            every_month(keys.iter()),
            ["2026-11", "2026-12", "2027-01", "2027-02"]
        );
        assert!(every_month([].iter()).is_empty());
    }

    #[test]
    fn themes_split() {
        let mut rows = BTreeMap::new();
        rows.insert(
            "email|health".to_string(),
            Row {
                sessions: 2,
                cheques: 3,
                minutes: 90,
                ..Row::default()
            },
        );
        rows.insert(
            "email".to_string(),
            Row {
                sessions: 1,
                cheques: 1,
                minutes: 30,
                ..Row::default()
            },
        );
        let t = by_theme(rows);
        assert_eq!((t["email"].sessions, t["email"].minutes), (3, 120));
        assert_eq!(t["health"].cheques, 3);
        assert_eq!(t["email"].people, None);
    }
}
