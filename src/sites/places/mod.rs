//! Places of digital mediation. A site organisation has one or more places, each qualified
//! separately; a place holds the national standard's fields (see [`standard`]), so places move
//! in and out of passnum in that format. An imported place nobody has claimed yet has no
//! organisation and stays unqualified.
//!
//! Qualifying or suspending a site organisation does the same to all its places; the operator
//! can also qualify or suspend one place.

pub mod hours;
mod qualification_status;
mod repo;
pub mod standard;
mod zone;

use crate::clock::format_ts;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use jiff::civil::Date;
use jiff::Timestamp;
pub use qualification_status::QualificationStatus;
use serde::{Deserialize, Serialize};
pub use standard::{ParsedFile, Rejection, StandardPlace};
pub use zone::set_time_zone;

/// A place as passnum keeps it.
#[derive(Clone, Debug)]
pub struct Place {
    pub data: StandardPlace,
    pub site_org_id: Option<String>,
    pub department: Option<String>,
    pub qualification_status: QualificationStatus,
    pub qualified_until: Option<String>,
    /// The zone stored for it, overriding its département's (see `zones`).
    pub time_zone: Option<String>,
}

impl Place {
    pub fn id(&self) -> &str {
        self.data.id()
    }

    /// Where its hours and dates are read: the stored zone, or its département's.
    pub fn zone(&self) -> jiff::tz::TimeZone {
        crate::zones::zone_for(self.time_zone.as_deref(), self.codes())
    }

    fn codes(&self) -> Option<&str> {
        self.department.as_deref().or(self.data.get("code_insee"))
    }

    pub fn is_qualified_on(&self, today: Date) -> bool {
        self.qualification_status
            .is_current(self.qualified_until.as_deref(), today)
    }
}

/// Who a place belongs to: the site organisation, as places need to know it.
pub struct Owner<'a> {
    pub site_id: &'a str,
    pub siret: Option<&'a str>,
}

/// The first place of a new site organisation, from what the organisation gave.
pub async fn create_for_site(
    tx: &mut Tx<'_>,
    owner: Owner<'_>,
    name: &str,
    postcode: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    let mut data = StandardPlace::new();
    data.set("id", Some(owner.site_id));
    data.set("pivot", owner.siret);
    data.set("nom", Some(name));
    data.set("code_postal", postcode);
    data.set(
        "date_maj",
        Some(&now.to_zoned(crate::clock::paris()).date().to_string()),
    );
    repo::upsert(tx, &[data], &format_ts(now)).await?;
    repo::attach(tx, owner.site_id, owner.site_id).await
}

/// A place given in an application, attached to the site organisation it becomes.
pub async fn create_for_application(
    tx: &mut Tx<'_>,
    owner: Owner<'_>,
    name: &str,
    address: &str,
    postcode: &str,
    commune: &str,
    now: Timestamp,
) -> Result<String> {
    let id = crate::db::new_id();
    let mut data = StandardPlace::new();
    data.set("id", Some(&id));
    data.set("pivot", owner.siret);
    data.set("nom", Some(name));
    data.set("adresse", Some(address));
    data.set("code_postal", Some(postcode));
    data.set("commune", Some(commune));
    data.set(
        "date_maj",
        Some(&now.to_zoned(crate::clock::paris()).date().to_string()),
    );
    repo::upsert(tx, &[data], &format_ts(now)).await?;
    repo::attach(tx, &id, owner.site_id).await?;
    Ok(id)
}

/// A site's qualification applies to all its places.
pub async fn qualify_site_places(
    tx: &mut Tx<'_>,
    site_id: &str,
    status: &str,
    until: Option<&str>,
) -> Result<()> {
    repo::set_site_qualification(tx, site_id, status, until).await
}

/// Records one place's qualification (see `qualification`, which decides it).
pub(crate) async fn set_qualification(
    tx: &mut Tx<'_>,
    place_id: &str,
    status: &str,
    until: Option<&str>,
) -> Result<()> {
    repo::set_qualification(tx, place_id, status, until).await
}

/// A place of a site as redemption needs it: its qualification and where it is.
#[derive(Clone, Debug)]
pub struct PlaceQualification {
    pub id: String,
    pub status: QualificationStatus,
    /// Last day of the qualification.
    pub until: Option<String>,
    pub department: Option<String>,
    /// The commune's INSEE code, when the place gave it.
    pub insee: Option<String>,
    /// The zone stored for it, if any (see [`Place::zone`]).
    pub time_zone: Option<String>,
}

impl PlaceQualification {
    /// Where its qualification's last day ends: as [`Place::zone`].
    pub fn zone(&self) -> jiff::tz::TimeZone {
        let code = self.department.as_deref().or(self.insee.as_deref());
        crate::zones::zone_for(self.time_zone.as_deref(), code)
    }
}

/// The places of each of these sites, with their qualification, in one query.
pub async fn qualifications_of_sites(
    conn: &mut Conn,
    site_ids: &[String],
) -> Result<std::collections::HashMap<String, Vec<PlaceQualification>>> {
    let mut of_site: std::collections::HashMap<String, Vec<PlaceQualification>> =
        std::collections::HashMap::new();
    for (site_id, place) in repo::qualification_of_sites(conn, site_ids).await? {
        of_site.entry(site_id).or_default().push(place);
    }
    Ok(of_site)
}

/// The place a site redeems at, at `at`: the one named, or its only place. Refused unless that
/// place's own qualification is current on its own day (read for each redemption, so a
/// suspension applies at once).
pub fn choose_redeeming_place<'a>(
    places: &'a [PlaceQualification],
    place_id: Option<&str>,
    at: jiff::Timestamp,
) -> Result<&'a PlaceQualification> {
    let place = match place_id.map(str::trim).filter(|p| !p.is_empty()) {
        Some(id) => places.iter().find(|p| p.id == id).ok_or_else(|| {
            Error::invalid(
                "unknown_place",
                "Ce lieu n'est pas l'un des lieux de votre structure : choisissez-en un dans la liste de vos lieux.",
            )
        })?,
        None if places.len() == 1 => &places[0],
        None if places.is_empty() => return Err(no_current_qualification()),
        None => {
            return Err(Error::invalid(
                "place_required",
                "Votre structure a plusieurs lieux : indiquez le lieu où le service est rendu (place_id).",
            ))
        }
    };
    let today = crate::zones::today_in(at, &place.zone());
    if !place.status.is_current(place.until.as_deref(), today) {
        return Err(no_current_qualification());
    }
    Ok(place)
}

fn no_current_qualification() -> Error {
    Error::forbidden(
        "site_not_qualified",
        "Ce lieu n'a pas de qualification en cours : il ne peut pas encaisser de chèques. \
         Contactez l'opérateur du Pass numérique pour la renouveler.",
    )
}

pub async fn find(conn: &mut Conn, id: &str) -> Result<Option<Place>> {
    repo::find(conn, id).await
}

pub async fn for_site(conn: &mut Conn, site_id: &str) -> Result<Vec<Place>> {
    repo::for_site(conn, site_id).await
}

pub async fn count(conn: &mut Conn) -> Result<i64> {
    repo::count(conn).await
}

/// What an import did.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ImportReport {
    /// Data rows in the file.
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    /// Rows left out, one entry per error (line, field, reason).
    pub rejected: Vec<Rejection>,
    pub rejected_rows: usize,
}

/// Upserts the valid places of a file by the standard's `id`, in the caller's transaction:
/// an existing place gets the new details and keeps its organisation and qualification; a new
/// one is created unqualified, waiting for an application. Rows with errors are left out and
/// reported; a database error leaves nothing imported (the caller rolls back).
pub async fn import(
    tx: &mut Tx<'_>,
    parsed: ParsedFile,
    actor_id: Option<&str>,
    now: Timestamp,
) -> Result<ImportReport> {
    let existing = repo::existing_ids(tx).await?;
    let updated = parsed
        .places
        .iter()
        .filter(|p| existing.contains(p.id()))
        .count();
    let now_text = format_ts(now);
    repo::upsert(tx, &parsed.places, &now_text).await?;
    let report = ImportReport {
        rows: parsed.rows,
        created: parsed.places.len() - updated,
        updated,
        rejected_rows: parsed.rejected_rows(),
        rejected: parsed.rejections,
    };
    crate::audit::record(
        tx,
        &now_text,
        actor_id,
        "places.imported",
        None,
        &format!(
            "{} created, {} updated, {} rows rejected",
            report.created, report.updated, report.rejected_rows
        ),
    )
    .await?;
    Ok(report)
}

/// Reads a file in the standard and imports its valid rows.
pub async fn import_file(
    tx: &mut Tx<'_>,
    bytes: &[u8],
    actor_id: Option<&str>,
    now: Timestamp,
) -> Result<ImportReport> {
    let parsed = standard::parse_csv(bytes);
    import(tx, parsed, actor_id, now).await
}

/// Qualified places with every field the standard requires, for the open-data export (a place
/// made from an organisation before its address was given is left out until completed).
pub async fn exportable(conn: &mut Conn, today: Date) -> Result<Vec<StandardPlace>> {
    Ok(repo::qualified(conn, today, &Area::Everywhere)
        .await?
        .into_iter()
        .map(|p| p.data)
        .filter(StandardPlace::is_complete)
        .collect())
}

/// Where a beneficiary looks.
#[derive(Clone, Debug, PartialEq)]
pub enum Area {
    /// The postcode's département, the postcode first.
    Postcode {
        postcode: String,
        department: String,
    },
    Department(String),
    /// Folded commune name: the départements of that commune's places.
    Commune(String),
    Everywhere,
}

impl Area {
    /// A postcode, a département number or a commune name, as typed.
    pub fn parse(input: &str) -> Result<Area> {
        let input = input.trim();
        if let Some(department) = crate::fr::department_of_postcode(input) {
            return Ok(Area::Postcode {
                postcode: input.to_string(),
                department,
            });
        }
        let upper = input.to_uppercase();
        if crate::fr::is_valid_department(&upper) {
            return Ok(Area::Department(upper));
        }
        let key = fold(input);
        if key.chars().filter(|c| c.is_alphabetic()).count() >= 2 {
            return Ok(Area::Commune(key));
        }
        Err(Error::invalid(
            "invalid_place",
            "Tapez un code postal (5 chiffres, par exemple 33000), un numéro de département \
             (par exemple 33) ou le nom d'une commune.",
        ))
    }

    /// Whether a place is in the exact postcode or commune searched.
    fn is_centre(&self, place: &Place) -> bool {
        match self {
            Area::Postcode { postcode, .. } => place.data.get("code_postal") == Some(postcode),
            Area::Commune(key) => place
                .data
                .get("commune")
                .map(fold)
                .is_some_and(|c| c.starts_with(key.as_str())),
            _ => false,
        }
    }
}

/// Lower case, no accents, hyphens and apostrophes as spaces: "Saint-Étienne" = "saint etienne".
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'â' | 'ä' | 'á' => out.push('a'),
            'é' | 'è' | 'ê' | 'ë' => out.push('e'),
            'î' | 'ï' | 'í' => out.push('i'),
            'ô' | 'ö' | 'ó' => out.push('o'),
            'ù' | 'û' | 'ü' | 'ú' => out.push('u'),
            'ÿ' => out.push('y'),
            'ç' => out.push('c'),
            'œ' => out.push_str("oe"),
            'æ' => out.push_str("ae"),
            '-' | '\'' | '’' | '_' => out.push(' '),
            c => out.push(c),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A directory search.
#[derive(Clone, Debug, Default)]
pub struct Search {
    pub area: String,
    /// One of [`standard::SERVICES`].
    pub service: Option<String>,
    /// One of [`standard::SPECIFIC_SUPPORT`].
    pub support: Option<String>,
    pub open_now: bool,
    /// A reference point given by the caller; otherwise the centroid of the places with
    /// coordinates in the postcode or commune searched.
    pub near: Option<(f64, f64)>,
    /// Only the places inside this territory: those that accept a given carnet.
    pub accepting: Option<crate::programs::Territory>,
}

/// A place found, with what the directory shows about it.
#[derive(Clone, Debug)]
pub struct Found {
    pub place: Place,
    pub distance_km: Option<f64>,
    pub open_now: Option<bool>,
    pub hours: Vec<String>,
    pub address: String,
    pub phone: Option<String>,
    pub openstreetmap_url: String,
}

impl Found {
    fn of(place: Place, reference: Option<(f64, f64)>, now: Timestamp) -> Found {
        let d = &place.data;
        let distance_km = reference
            .zip(d.coordinates())
            .map(|(a, b)| haversine_km(a, b));
        let address = [
            d.get("adresse").map(str::to_string),
            d.get("complement_adresse").map(str::to_string),
            Some(
                [d.get("code_postal"), d.get("commune")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" "),
            )
            .filter(|s| !s.is_empty()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        let openstreetmap_url = match d.coordinates() {
            Some((lat, lon)) => {
                format!("https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=18/{lat}/{lon}")
            }
            None => format!(
                "https://www.openstreetmap.org/search?{}",
                serde_urlencoded::to_string([("query", &address)]).unwrap_or_default()
            ),
        };
        Found {
            distance_km,
            open_now: hours::is_open(d.get("horaires"), now, &place.zone()),
            hours: d.get("horaires").map(hours::in_words).unwrap_or_default(),
            phone: d.get("telephone").map(phone_in_words),
            address,
            openstreetmap_url,
            place,
        }
    }

    /// The standard's fields and what the search adds.
    pub fn to_json(&self) -> serde_json::Value {
        let mut json = self.place.data.to_json();
        json.insert(
            "distance_km".into(),
            self.distance_km.map(|d| (d * 10.0).round() / 10.0).into(),
        );
        json.insert("open_now".into(), self.open_now.into());
        json.insert("hours_in_words".into(), self.hours.clone().into());
        json.insert(
            "openstreetmap_url".into(),
            self.openstreetmap_url.clone().into(),
        );
        json.into()
    }

    /// "1,2 km" for the page.
    pub fn distance_text(&self) -> Option<String> {
        self.distance_km
            .map(|d| format!("{:.1} km", d).replace('.', ","))
    }
}

/// `+33180059880` → `01 80 05 98 80`; other countries' numbers stay as written.
pub fn phone_in_words(phone: &str) -> String {
    match phone.strip_prefix("+33") {
        Some(rest) if rest.len() == 9 => {
            let digits = format!("0{rest}");
            digits
                .as_bytes()
                .chunks(2)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        }
        _ => phone.to_string(),
    }
}

/// Great-circle distance between two (latitude, longitude) points, in kilometres.
pub fn haversine_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

/// The site organisations with a place qualified on `today` where a programme's cheques are
/// accepted (its territory).
pub async fn sites_within(
    conn: &mut Conn,
    territory: &crate::programs::Territory,
    today: Date,
) -> Result<Vec<String>> {
    let sites: std::collections::BTreeSet<String> = repo::qualified(conn, today, &Area::Everywhere)
        .await?
        .into_iter()
        .filter(|p| territory.includes(p.department.as_deref(), p.data.get("code_insee")))
        .filter_map(|p| p.site_org_id)
        .collect();
    Ok(sites.into_iter().collect())
}

/// One place as the directory shows it, if it currently accepts the Pass numérique.
pub async fn public_place(conn: &mut Conn, id: &str, now: Timestamp) -> Result<Found> {
    let today = now.to_zoned(crate::clock::paris()).date();
    repo::find(conn, id)
        .await?
        .filter(|p| p.is_qualified_on(today))
        .map(|p| Found::of(p, None, now))
        .ok_or_else(|| {
            Error::not_found(
                "Ce lieu n'existe pas, ou n'accepte plus le Pass numérique : cherchez un autre lieu \
                 près de chez vous.",
            )
        })
}

/// Qualified places of an area, filtered, nearest first when coordinates are known; at most
/// `limit`.
pub async fn search(
    conn: &mut Conn,
    search: &Search,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<Found>> {
    let area = Area::parse(&search.area)?;
    let today = now.to_zoned(crate::clock::paris()).date();
    let places = repo::qualified(conn, today, &area).await?;
    let reference = search.near.or_else(|| {
        let points: Vec<(f64, f64)> = places
            .iter()
            .filter(|p| area.is_centre(p))
            .filter_map(|p| p.data.coordinates())
            .collect();
        (!points.is_empty()).then(|| {
            let n = points.len() as f64;
            (
                points.iter().map(|p| p.0).sum::<f64>() / n,
                points.iter().map(|p| p.1).sum::<f64>() / n,
            )
        })
    });
    let mut found: Vec<Found> = places
        .into_iter()
        .filter(|p| {
            search
                .service
                .as_deref()
                .is_none_or(|s| p.data.list("services").contains(&s))
        })
        .filter(|p| {
            search
                .support
                .as_deref()
                .is_none_or(|s| p.data.list("prise_en_charge_specifique").contains(&s))
        })
        .filter(|p| {
            search
                .accepting
                .as_ref()
                .is_none_or(|t| t.includes(p.department.as_deref(), p.data.get("code_insee")))
        })
        .map(|p| Found::of(p, reference, now))
        .filter(|f| !search.open_now || f.open_now == Some(true))
        .collect();
    // Nearest first; places without coordinates after, the postcode or commune searched first.
    found.sort_by(|a, b| {
        let key = |f: &Found| {
            (
                f.distance_km.is_none(),
                f.distance_km.unwrap_or(0.0),
                !area.is_centre(&f.place),
                f.place.data.get("code_postal").map(str::to_string),
                f.place.data.get("nom").map(str::to_string),
            )
        };
        key(a)
            .partial_cmp(&key(b))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    found.truncate(limit);
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_and_distance() {
        assert_eq!(fold(" Saint-Étienne "), "saint etienne");
        assert_eq!(fold("L'Haÿ-les-Roses"), "l hay les roses");
        // Paris – Lyon, about 392 km.
        let d = haversine_km((48.8566, 2.3522), (45.764, 4.8357));
        assert!((d - 392.0).abs() < 3.0, "{d}");
        assert_eq!(phone_in_words("+33180059880"), "01 80 05 98 80");
    }
}
