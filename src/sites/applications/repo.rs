//! The SQL of applications and of the eligibility questionnaire.

use super::{Answer, Application, Draft, PlaceDraft, Question, Status};
use crate::db::Conn;
use crate::error::Result;
use sqlx::any::AnyRow;
use sqlx::Row;

const COLUMNS: &str = "id, status, org_name, siret, contact_name, contact_email, contact_phone, \
    legal_name, legal_role, iban, holder, operator_message, site_org_id, qualified_until, \
    submitted_at, updated_at";

fn from_row(row: &AnyRow) -> Result<Application> {
    Ok(Application {
        id: row.try_get("id")?,
        status: Status::try_from(row.try_get::<String, _>("status")?)?,
        org_name: row.try_get("org_name")?,
        siret: row.try_get("siret")?,
        contact_name: row.try_get("contact_name")?,
        contact_email: row.try_get("contact_email")?,
        contact_phone: row.try_get("contact_phone")?,
        legal_name: row.try_get("legal_name")?,
        legal_role: row.try_get("legal_role")?,
        iban: row.try_get("iban")?,
        holder: row.try_get("holder")?,
        operator_message: row.try_get("operator_message")?,
        site_org_id: row.try_get("site_org_id")?,
        qualified_until: row.try_get("qualified_until")?,
        submitted_at: row.try_get("submitted_at")?,
        updated_at: row.try_get("updated_at")?,
        places: Vec::new(),
        answers: Vec::new(),
    })
}

pub async fn insert(
    conn: &mut Conn,
    id: &str,
    d: &Draft,
    token_hash: &str,
    at: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO applications (id, status, org_name, siret, contact_name, contact_email, \
         contact_phone, legal_name, legal_role, iban, holder, charter_accepted_at, \
         follow_token_hash, submitted_at, updated_at) \
         VALUES ($1, 'received', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(id)
    .bind(&d.org_name)
    .bind(&d.siret)
    .bind(&d.contact_name)
    .bind(&d.contact_email)
    .bind(&d.contact_phone)
    .bind(&d.legal_name)
    .bind(&d.legal_role)
    .bind(&d.iban)
    .bind(&d.holder)
    .bind(at)
    .bind(token_hash)
    .bind(at)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn update_details(conn: &mut Conn, id: &str, d: &Draft, at: &str) -> Result<()> {
    sqlx::query(
        "UPDATE applications SET org_name = $1, siret = $2, contact_name = $3, \
         contact_email = $4, contact_phone = $5, legal_name = $6, legal_role = $7, iban = $8, \
         holder = $9, charter_accepted_at = $10, updated_at = $11 WHERE id = $12",
    )
    .bind(&d.org_name)
    .bind(&d.siret)
    .bind(&d.contact_name)
    .bind(&d.contact_email)
    .bind(&d.contact_phone)
    .bind(&d.legal_name)
    .bind(&d.legal_role)
    .bind(&d.iban)
    .bind(&d.holder)
    .bind(at)
    .bind(at)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Replaces an application's places and answers.
pub async fn replace_details(
    conn: &mut Conn,
    id: &str,
    places: &[PlaceDraft],
    answers: &[Answer],
) -> Result<()> {
    for table in ["application_places", "application_answers"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE application_id = $1"))
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    for (i, p) in places.iter().enumerate() {
        sqlx::query(
            "INSERT INTO application_places (application_id, position, name, address, postcode, \
             commune) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(i as i64)
        .bind(&p.name)
        .bind(&p.address)
        .bind(&p.postcode)
        .bind(&p.commune)
        .execute(&mut *conn)
        .await?;
    }
    for (i, a) in answers.iter().enumerate() {
        sqlx::query(
            "INSERT INTO application_answers (application_id, position, question_id, \
             question_text, answer) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(i as i64)
        .bind(&a.question_id)
        .bind(&a.question_text)
        .bind(&a.answer)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn set_status(
    conn: &mut Conn,
    id: &str,
    status: Status,
    message: Option<&str>,
    at: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE applications SET status = $1, operator_message = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(status.as_str())
    .bind(message)
    .bind(at)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn set_qualified(
    conn: &mut Conn,
    id: &str,
    site_id: &str,
    until: &str,
    at: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE applications SET status = 'qualified', operator_message = NULL, \
         site_org_id = $1, qualified_until = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(site_id)
    .bind(until)
    .bind(at)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether another application with this SIRET waits for the operator's decision.
pub async fn pending_with_siret(conn: &mut Conn, siret: &str, except_id: &str) -> Result<bool> {
    let found: Option<String> = sqlx::query_scalar(
        "SELECT id FROM applications WHERE siret = $1 AND id <> $2 \
         AND status IN ('received', 'under_review', 'changes_requested') LIMIT 1",
    )
    .bind(siret)
    .bind(except_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

pub async fn id_by_token_hash(conn: &mut Conn, hash: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM applications WHERE follow_token_hash = $1")
            .bind(hash)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

pub async fn find(conn: &mut Conn, id: &str) -> Result<Option<Application>> {
    let Some(row) = sqlx::query(&format!("SELECT {COLUMNS} FROM applications WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let mut app = from_row(&row)?;
    let places = sqlx::query(
        "SELECT name, address, postcode, commune FROM application_places \
         WHERE application_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    for r in places {
        app.places.push(PlaceDraft {
            name: r.try_get("name")?,
            address: r.try_get("address")?,
            postcode: r.try_get("postcode")?,
            commune: r.try_get("commune")?,
        });
    }
    let answers = sqlx::query(
        "SELECT question_id, question_text, answer FROM application_answers \
         WHERE application_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    for r in answers {
        app.answers.push(Answer {
            question_id: r.try_get("question_id")?,
            question_text: r.try_get("question_text")?,
            answer: r.try_get("answer")?,
        });
    }
    Ok(Some(app))
}

/// Every application, newest first, with its places (no answers).
pub async fn list(conn: &mut Conn) -> Result<Vec<Application>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM applications ORDER BY submitted_at DESC, id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let mut apps: Vec<Application> = rows.iter().map(from_row).collect::<Result<_>>()?;
    let places = sqlx::query(
        "SELECT application_id, name, address, postcode, commune FROM application_places \
         ORDER BY application_id, position",
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in places {
        let id: String = r.try_get("application_id")?;
        if let Some(app) = apps.iter_mut().find(|a| a.id == id) {
            app.places.push(PlaceDraft {
                name: r.try_get("name")?,
                address: r.try_get("address")?,
                postcode: r.try_get("postcode")?,
                commune: r.try_get("commune")?,
            });
        }
    }
    Ok(apps)
}

pub async fn questions(conn: &mut Conn, active_only: bool) -> Result<Vec<Question>> {
    let filter = if active_only { "WHERE active = 1" } else { "" };
    let rows = sqlx::query(&format!(
        "SELECT id, position, text, active FROM application_questions {filter} \
         ORDER BY position, id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let active: i64 = r.try_get("active")?;
            Ok(Question {
                id: r.try_get("id")?,
                position: r.try_get("position")?,
                text: r.try_get("text")?,
                active: active == 1,
            })
        })
        .collect()
}

pub async fn insert_question(conn: &mut Conn, id: &str, text: &str, at: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO application_questions (id, position, text, active, created_at, updated_at) \
         SELECT $1, COALESCE(MAX(position), 0) + 1, $2, 1, $3, $4 FROM application_questions",
    )
    .bind(id)
    .bind(text)
    .bind(at)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// False if there is no such question.
pub async fn update_question(
    conn: &mut Conn,
    id: &str,
    text: &str,
    active: bool,
    at: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE application_questions SET text = $1, active = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(text)
    .bind(active as i64)
    .bind(at)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
