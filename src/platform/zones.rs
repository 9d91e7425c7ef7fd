//! Local time: a place, a programme's territory or an organisation lives in the time zone of
//! its département or collectivité (a Saturday evening in Martinique is already Sunday in
//! Paris), unless a zone is stored for it. The one table of zones is [`zone_name_of`].

use crate::error::{Error, Result};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// Metropolitan France, Corsica included, and whatever is not known.
pub const PARIS: &str = "Europe/Paris";

/// The zone of a département or collectivité code ("972", "2A"), a postcode ("97200") or an
/// INSEE code ("97701"): overseas codes start with 97 or 98 and their first three digits name
/// the territory. Postcodes of Saint-Barthélemy and Saint-Martin (971xx) read as Guadeloupe,
/// whose clock they share.
pub fn zone_name_of(code: &str) -> &'static str {
    let code = code.trim();
    let territory = match code.len() {
        3 | 5 if code.starts_with("97") || code.starts_with("98") => &code[..3],
        _ => return PARIS,
    };
    match territory {
        "971" => "America/Guadeloupe",
        "972" => "America/Martinique",
        "973" => "America/Cayenne",
        "974" => "Indian/Reunion",
        "975" => "America/Miquelon",
        "976" => "Indian/Mayotte",
        "977" => "America/St_Barthelemy",
        "978" => "America/Marigot",
        "986" => "Pacific/Wallis",
        "987" => "Pacific/Tahiti",
        "988" => "Pacific/Noumea",
        _ => PARIS,
    }
}

/// A zone by its tz name, from the database bundled in the binary (hosts' zoneinfo files
/// differ); Paris when the name is unknown (names are checked when stored).
pub fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or_else(|_| crate::clock::paris())
}

/// The zone of something placed by these codes (départements, postcodes or INSEE codes), or
/// by `stored` when set: the codes' common zone, Paris when they disagree or there are none.
pub fn zone_name_for<'a>(
    stored: Option<&'a str>,
    codes: impl IntoIterator<Item = &'a str>,
) -> &'a str {
    if let Some(name) = stored.filter(|n| !n.trim().is_empty()) {
        return name;
    }
    let mut zones = codes.into_iter().map(zone_name_of);
    match zones.next() {
        Some(first) if zones.all(|z| z == first) => first,
        _ => PARIS,
    }
}

/// [`zone_name_for`] as a zone.
pub fn zone_for<'a>(stored: Option<&'a str>, codes: impl IntoIterator<Item = &'a str>) -> TimeZone {
    zone(zone_name_for(stored, codes))
}

/// The calendar day at `now` in `zone`.
pub fn today_in(now: Timestamp, zone: &TimeZone) -> Date {
    now.to_zoned(zone.clone()).date()
}

/// The earliest calendar day anywhere at `now` (UTC−12): a bound below every zone's today,
/// for a query that must not leave out any zone's cheques before they are checked one by one.
pub fn earliest_today(now: Timestamp) -> Date {
    let earlier = now
        .checked_sub(SignedDuration::from_hours(12))
        .unwrap_or(now);
    earlier.to_zoned(TimeZone::UTC).date()
}

/// The latest calendar day anywhere at `now` (UTC+14), the bound above every zone's today.
pub fn latest_today(now: Timestamp) -> Date {
    let later = now
        .checked_add(SignedDuration::from_hours(14))
        .unwrap_or(now);
    later.to_zoned(TimeZone::UTC).date()
}

/// A zone given to override the derived one: empty is none; otherwise a name of the tz
/// database ("America/Martinique"), as the bundled database spells it.
pub fn parse_stored(input: Option<&str>) -> Result<Option<String>> {
    let Some(name) = input.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    match TimeZone::get(name) {
        Ok(tz) => Ok(Some(tz.iana_name().unwrap_or(name).to_string())),
        Err(_) => Err(Error::invalid(
            "invalid_time_zone",
            "Le fuseau horaire est un nom de la base des fuseaux (par exemple America/Martinique \
             ou Pacific/Noumea) ; laissez-le vide pour celui du département.",
        )),
    }
}

/// A change of the stored zone of a place, a programme or an organisation.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneChange {
    /// A tz name ("America/Martinique"); empty or null: back to its département's zone.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// Where something's time is read after a change.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ZoneSetting {
    pub id: String,
    /// The zone stored for it, if any.
    pub time_zone: Option<String>,
    /// The zone in effect: the stored one, or its département's.
    pub zone: String,
}

impl ZoneSetting {
    pub fn new(id: &str, stored: Option<String>, zone: &TimeZone) -> ZoneSetting {
        ZoneSetting {
            id: id.to_string(),
            time_zone: stored,
            zone: zone.iana_name().unwrap_or(PARIS).to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_overseas_code_has_its_zone() {
        for (code, zone) in [
            ("971", "America/Guadeloupe"),
            ("972", "America/Martinique"),
            ("973", "America/Cayenne"),
            ("974", "Indian/Reunion"),
            ("975", "America/Miquelon"),
            ("976", "Indian/Mayotte"),
            ("977", "America/St_Barthelemy"),
            ("978", "America/Marigot"),
            ("986", "Pacific/Wallis"),
            ("987", "Pacific/Tahiti"),
            ("988", "Pacific/Noumea"),
        ] {
            assert_eq!(zone_name_of(code), zone, "{code}");
            assert!(TimeZone::get(zone).is_ok(), "{zone} is bundled");
        }
        // Postcodes and INSEE codes: their first three digits.
        assert_eq!(zone_name_of("97200"), "America/Martinique");
        assert_eq!(zone_name_of("98800"), "Pacific/Noumea");
        assert_eq!(zone_name_of("97701"), "America/St_Barthelemy");
        assert_eq!(zone_name_of("97500"), "America/Miquelon");
    }

    #[test]
    fn metropolitan_france_and_corsica_are_paris() {
        for code in [
            "2A", "2B", "20000", "20200", "33", "33063", "75001", "01", "95", "",
        ] {
            assert_eq!(zone_name_of(code), PARIS, "{code}");
        }
        // An unknown overseas code falls back to Paris rather than guessing.
        assert_eq!(zone_name_of("979"), PARIS);
    }

    #[test]
    fn stored_zone_wins_and_codes_must_agree() {
        assert_eq!(zone_name_for(None, ["972"]), "America/Martinique");
        assert_eq!(zone_name_for(None, ["972", "97209"]), "America/Martinique");
        assert_eq!(zone_name_for(None, ["972", "33"]), PARIS);
        assert_eq!(zone_name_for(None, []), PARIS);
        assert_eq!(
            zone_name_for(Some("Pacific/Noumea"), ["33"]),
            "Pacific/Noumea"
        );
        assert_eq!(zone_name_for(Some(" "), ["974"]), "Indian/Reunion");
    }

    #[test]
    fn stored_zones_are_checked() {
        assert_eq!(parse_stored(None).unwrap(), None);
        assert_eq!(parse_stored(Some("  ")).unwrap(), None);
        assert_eq!(
            parse_stored(Some(" america/martinique "))
                .unwrap()
                .as_deref(),
            Some("America/Martinique")
        );
        assert!(parse_stored(Some("Mars/Olympus")).is_err());
    }

    #[test]
    fn days_differ_by_zone() {
        // Saturday 6 June 2026, 23:30 in Nouméa (UTC+11) is 14:30 in Paris the same day;
        // 20:30 in Martinique (UTC−4) is already Sunday 02:30 in Paris.
        let noumea: Timestamp = "2026-06-06T12:30:00Z".parse().unwrap();
        assert_eq!(
            today_in(noumea, &zone("Pacific/Noumea")).to_string(),
            "2026-06-06"
        );
        let martinique: Timestamp = "2026-06-07T00:30:00Z".parse().unwrap();
        assert_eq!(
            today_in(martinique, &zone("America/Martinique")).to_string(),
            "2026-06-06"
        );
        assert_eq!(today_in(martinique, &zone(PARIS)).to_string(), "2026-06-07");
        assert!(earliest_today(martinique) <= today_in(martinique, &zone("Pacific/Tahiti")));
        assert!(latest_today(martinique) >= today_in(martinique, &zone("Pacific/Kiritimati")));
    }
}
