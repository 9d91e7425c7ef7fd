//! The SQL of place services.

use super::Service;
use crate::db::Conn;
use crate::error::Result;
use sqlx::any::AnyRow;
use sqlx::Row;

const COLUMNS: &str = "id, place_id, kind, title, description, themes, minutes, price_cheques, \
                       active, created_at, updated_at";

fn from_row(row: &AnyRow) -> Result<Service> {
    Ok(Service {
        id: row.try_get("id")?,
        place_id: row.try_get("place_id")?,
        kind: row.try_get("kind")?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        themes: row.try_get::<String, _>("themes")?.into(),
        minutes: row.try_get("minutes")?,
        price_cheques: row.try_get("price_cheques")?,
        active: row.try_get::<i64, _>("active")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub async fn insert(conn: &mut Conn, s: &Service) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO place_services ({COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(&s.id)
    .bind(&s.place_id)
    .bind(&s.kind)
    .bind(&s.title)
    .bind(&s.description)
    .bind(s.themes.stored())
    .bind(s.minutes)
    .bind(s.price_cheques)
    .bind(i64::from(s.active))
    .bind(&s.created_at)
    .bind(&s.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn find(conn: &mut Conn, id: &str, place_id: &str) -> Result<Option<Service>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM place_services WHERE id = $1 AND place_id = $2"
    ))
    .bind(id)
    .bind(place_id)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub async fn for_place(conn: &mut Conn, place_id: &str, active_only: bool) -> Result<Vec<Service>> {
    let only = if active_only { " AND active = 1" } else { "" };
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM place_services WHERE place_id = $1{only} \
         ORDER BY active DESC, title, id"
    ))
    .bind(place_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn active_for_places(conn: &mut Conn, place_ids: &[&str]) -> Result<Vec<Service>> {
    if place_ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=place_ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM place_services WHERE active = 1 AND place_id IN ({}) \
         ORDER BY place_id, title, id",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for id in place_ids {
        query = query.bind(id.to_string());
    }
    let rows = query.fetch_all(&mut *conn).await?;
    rows.iter().map(from_row).collect()
}

pub async fn update(conn: &mut Conn, s: &Service) -> Result<()> {
    sqlx::query(
        "UPDATE place_services SET kind = $1, title = $2, description = $3, themes = $4, \
         minutes = $5, price_cheques = $6, updated_at = $7 WHERE id = $8",
    )
    .bind(&s.kind)
    .bind(&s.title)
    .bind(&s.description)
    .bind(s.themes.stored())
    .bind(s.minutes)
    .bind(s.price_cheques)
    .bind(&s.updated_at)
    .bind(&s.id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn deactivate(conn: &mut Conn, id: &str, now: &str) -> Result<()> {
    sqlx::query("UPDATE place_services SET active = 0, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
