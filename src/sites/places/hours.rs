//! Opening hours in OpenStreetMap's `opening_hours` syntax (the standard's `horaires`): whether a
//! place is open at a given time (in the place's zone), and the hours in words for the directory.

use jiff::tz::TimeZone;
use jiff::Timestamp;
use opening_hours::OpeningHours;

/// Open at `now`, its hours read in the place's `zone`; None when the hours are missing or
/// unreadable.
pub fn is_open(horaires: Option<&str>, now: Timestamp, zone: &TimeZone) -> Option<bool> {
    let hours: OpeningHours = horaires?.parse().ok()?;
    let local = now.to_zoned(zone.clone()).datetime();
    let date = chrono::NaiveDate::from_ymd_opt(
        local.year().into(),
        local.month() as u32,
        local.day() as u32,
    )?;
    let time = chrono::NaiveTime::from_hms_opt(
        local.hour() as u32,
        local.minute() as u32,
        local.second() as u32,
    )?;
    Some(hours.is_open(date.and_time(time)))
}

const DAYS: [(&str, &str); 8] = [
    ("Mo", "lundi"),
    ("Tu", "mardi"),
    ("We", "mercredi"),
    ("Th", "jeudi"),
    ("Fr", "vendredi"),
    ("Sa", "samedi"),
    ("Su", "dimanche"),
    ("PH", "jours fériés"),
];

fn day(code: &str) -> Option<&'static str> {
    DAYS.iter().find(|(c, _)| *c == code).map(|(_, d)| *d)
}

/// `Mo-Fr 09:00-12:00,14:00-18:30; Sa 08:30-12:00` → one line per rule:
/// `du lundi au vendredi : de 9 h à 12 h et de 14 h à 18 h 30`, `samedi : de 8 h 30 à 12 h`.
/// What it does not know how to say is left as written.
pub fn in_words(horaires: &str) -> Vec<String> {
    horaires
        .split(';')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(rule_in_words)
        .collect()
}

fn rule_in_words(rule: &str) -> String {
    if rule == "24/7" {
        return "tous les jours, 24 h sur 24".into();
    }
    let mut days = Vec::new();
    let mut rest = Vec::new();
    for token in rule.split_whitespace() {
        if let Some(d) = days_in_words(token) {
            days.push(d);
        } else if let Some(t) = times_in_words(token) {
            rest.push(t);
        } else if matches!(token, "off" | "closed") {
            rest.push("fermé".into());
        } else {
            rest.push(token.to_string());
        }
    }
    match (days.is_empty(), rest.is_empty()) {
        (true, _) => rest.join(" "),
        (false, true) => days.join(", "),
        (false, false) => format!("{} : {}", days.join(", "), rest.join(" ")),
    }
}

fn days_in_words(token: &str) -> Option<String> {
    let parts: Option<Vec<String>> = token
        .split(',')
        .map(|part| match part.split_once('-') {
            Some((from, to)) => Some(format!("du {} au {}", day(from)?, day(to)?)),
            None => day(part).map(str::to_string),
        })
        .collect();
    parts.map(|p| p.join(", "))
}

fn times_in_words(token: &str) -> Option<String> {
    let parts: Option<Vec<String>> = token
        .split(',')
        .map(|range| {
            let (from, to) = range.split_once('-')?;
            Some(format!("de {} à {}", time(from)?, time(to)?))
        })
        .collect();
    parts.map(|p| p.join(" et "))
}

/// `09:00` → `9 h`, `18:30` → `18 h 30`.
fn time(hhmm: &str) -> Option<String> {
    let (h, m) = hhmm.split_once(':')?;
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    Some(if m == 0 {
        format!("{h} h")
    } else {
        format!("{h} h {m:02}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_in_words() {
        assert_eq!(
            in_words("Mo-Fr 09:00-12:00,14:00-18:30; Sa 08:30-12:00"),
            vec![
                "du lundi au vendredi : de 9 h à 12 h et de 14 h à 18 h 30",
                "samedi : de 8 h 30 à 12 h"
            ]
        );
        assert_eq!(
            in_words("Tu,Th 10:00-17:00; PH off")[1],
            "jours fériés : fermé"
        );
    }

    #[test]
    fn open_in_paris_time() {
        let hours = Some("Mo-Fr 09:00-12:00,14:00-18:30");
        // Monday 2 March 2026, 10:30 in Paris (UTC+1).
        let paris = crate::clock::paris();
        let at = |utc: &str| is_open(hours, utc.parse().unwrap(), &paris);
        assert_eq!(at("2026-03-02T09:30:00Z"), Some(true));
        assert_eq!(at("2026-03-02T11:30:00Z"), Some(false));
        assert_eq!(at("2026-03-07T10:00:00Z"), Some(false));
        assert_eq!(
            is_open(Some("n'importe quoi"), Timestamp::now(), &paris),
            None
        );
    }

    #[test]
    fn open_in_the_place_zone() {
        // Saturday 6 June 2026, 20:30 in Martinique (UTC−4) is Sunday 02:30 in Paris.
        let hours = Some("Sa 18:00-23:00");
        let at: Timestamp = "2026-06-07T00:30:00Z".parse().unwrap();
        let martinique = crate::zones::zone("America/Martinique");
        assert_eq!(is_open(hours, at, &martinique), Some(true));
        assert_eq!(is_open(hours, at, &crate::clock::paris()), Some(false));
    }
}
