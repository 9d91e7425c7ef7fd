//! The SQL of places.

use super::standard::{StandardPlace, FIELDS};
use super::{fold, Area, Place, PlaceQualification};
use crate::db::{Batch, Conn, Param};
use crate::error::Result;
use crate::sites::places::QualificationStatus;
use jiff::civil::Date;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashSet;

fn select(condition: &str) -> String {
    format!(
        "SELECT {}, site_org_id, department, qualification_status, qualified_until, \
         time_zone FROM places WHERE {condition}",
        FIELDS.join(", ")
    )
}

fn from_row(row: &AnyRow) -> Result<Place> {
    let mut data = StandardPlace::new();
    for field in FIELDS {
        let value: Option<String> = row.try_get(field)?;
        data.set(field, value.as_deref());
    }
    Ok(Place {
        data,
        site_org_id: row.try_get("site_org_id")?,
        department: row.try_get("department")?,
        qualification_status: QualificationStatus::try_from(
            row.try_get::<String, _>("qualification_status")?,
        )?,
        qualified_until: row.try_get("qualified_until")?,
        time_zone: row.try_get("time_zone")?,
    })
}

pub async fn existing_ids(conn: &mut Conn) -> Result<HashSet<String>> {
    let rows = sqlx::query("SELECT id FROM places")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
}

/// Inserts places or, for an id already known, replaces their standard fields (organisation,
/// qualification and creation time stay).
pub async fn upsert(conn: &mut Conn, places: &[StandardPlace], now: &str) -> Result<()> {
    let own = ["department", "commune_key", "created_at", "updated_at"];
    let updates: Vec<String> = FIELDS
        .iter()
        .skip(1)
        .chain(["department", "commune_key", "updated_at"].iter())
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let rows = places
        .iter()
        .map(|place| {
            let mut row: Vec<Param> = place.values().map(Param::from).collect();
            row.push(
                place
                    .get("code_postal")
                    .and_then(crate::fr::department_of_postcode)
                    .into(),
            );
            row.push(place.get("commune").map(fold).into());
            row.push(now.into());
            row.push(now.into());
            row
        })
        .collect();
    let mut batch = Batch::new(conn);
    batch.push_rows(
        &format!(
            "INSERT INTO places ({}, {})",
            FIELDS.join(", "),
            own.join(", ")
        ),
        &format!("ON CONFLICT (id) DO UPDATE SET {}", updates.join(", ")),
        rows,
    );
    batch.execute(conn).await
}

pub async fn attach(conn: &mut Conn, place_id: &str, site_id: &str) -> Result<()> {
    sqlx::query("UPDATE places SET site_org_id = $1 WHERE id = $2")
        .bind(site_id)
        .bind(place_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn set_site_qualification(
    conn: &mut Conn,
    site_id: &str,
    status: &str,
    until: Option<&str>,
) -> Result<()> {
    sqlx::query(
        // A disqualified place stays out whatever happens to its site.
        "UPDATE places SET qualification_status = $1, qualified_until = $2 WHERE site_org_id = $3 \
         AND id NOT IN (SELECT subject_id FROM disqualifications)",
    )
    .bind(status)
    .bind(until)
    .bind(site_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn set_qualification(
    conn: &mut Conn,
    place_id: &str,
    status: &str,
    until: Option<&str>,
) -> Result<()> {
    sqlx::query("UPDATE places SET qualification_status = $1, qualified_until = $2 WHERE id = $3")
        .bind(status)
        .bind(until)
        .bind(place_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn set_time_zone(conn: &mut Conn, id: &str, zone: Option<&str>) -> Result<()> {
    sqlx::query("UPDATE places SET time_zone = $1 WHERE id = $2")
        .bind(zone)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn find(conn: &mut Conn, id: &str) -> Result<Option<Place>> {
    sqlx::query(&select("id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn for_site(conn: &mut Conn, site_id: &str) -> Result<Vec<Place>> {
    let rows = sqlx::query(&format!("{} ORDER BY nom, id", select("site_org_id = $1")))
        .bind(site_id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// `(site, (place, qualification_status, qualified_until))` for every place of these sites, by
/// place id: what redeeming checks.
pub async fn qualification_of_sites(
    conn: &mut Conn,
    site_ids: &[String],
) -> Result<Vec<(String, PlaceQualification)>> {
    if site_ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = (1..=site_ids.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT site_org_id, id, qualification_status, qualified_until, department, code_insee, \
         time_zone FROM places WHERE site_org_id IN ({list}) ORDER BY id"
    );
    type Row = (
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let mut query = sqlx::query_as::<_, Row>(&sql);
    for id in site_ids {
        query = query.bind(id);
    }
    query
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|(site, id, status, until, department, insee, time_zone)| {
            Ok((
                site,
                PlaceQualification {
                    id,
                    status: QualificationStatus::try_from(status)?,
                    until,
                    department,
                    insee,
                    time_zone,
                },
            ))
        })
        .collect()
}

pub async fn count(conn: &mut Conn) -> Result<i64> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM places")
        .fetch_one(&mut *conn)
        .await?
        .try_get("n")?)
}

/// Places whose qualification is current on `today`, in an area.
pub async fn qualified(conn: &mut Conn, today: Date, area: &Area) -> Result<Vec<Place>> {
    let current = "qualification_status = 'qualified' AND qualified_until >= $1";
    let (condition, key) = match area {
        Area::Postcode { department, .. } => ("department = $2", Some(department.clone())),
        Area::Department(d) => ("department = $2", Some(d.clone())),
        // "evry" finds "evry courcouronnes": the communes whose name starts with what was typed.
        Area::Commune(key) => (
            "department IN (SELECT department FROM places WHERE commune_key LIKE $2)",
            Some(format!("{}%", key.replace(['%', '_', '\\'], ""))),
        ),
        Area::Everywhere => ("1 = 1", None),
    };
    let sql = format!(
        "{} ORDER BY id",
        select(&format!("{current} AND {condition}"))
    );
    let mut query = sqlx::query(&sql).bind(today.to_string());
    if let Some(key) = key {
        query = query.bind(key);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    rows.iter().map(from_row).collect()
}
