//! SQL for files of carnets and their lines.

use super::{FileStatus, Line};
use crate::db::{Batch, Conn, Param};
use crate::error::Result;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct FileRow {
    pub id: String,
    pub distributor_id: String,
    pub program_id: String,
    pub filename: String,
    pub created_by: Option<String>,
    pub lines_total: i64,
    pub lines_done: i64,
    #[sqlx(try_from = "String")]
    pub status: FileStatus,
    pub error: Option<String>,
    pub created_at: String,
}

const FILE_COLUMNS: &str = "id, distributor_id, program_id, filename, created_by, lines_total, \
                            lines_done, status, error, created_at";

/// A line waiting for its carnet.
#[derive(sqlx::FromRow)]
pub struct Pending {
    pub position: i64,
    pub cheques: i64,
    pub beneficiary_ref: Option<String>,
    pub email: Option<String>,
    pub help_level: Option<String>,
    pub age_bracket: Option<String>,
    pub situation: Option<String>,
    pub priority_area: Option<String>,
    pub rural: Option<String>,
}

pub async fn insert(conn: &mut Conn, file: &FileRow, lines: &[Line]) -> Result<()> {
    sqlx::query(
        "INSERT INTO carnet_files (id, distributor_id, program_id, filename, created_by, \
         lines_total, lines_done, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $8)",
    )
    .bind(&file.id)
    .bind(&file.distributor_id)
    .bind(&file.program_id)
    .bind(&file.filename)
    .bind(&file.created_by)
    .bind(file.lines_total)
    .bind(file.status.as_str())
    .bind(&file.created_at)
    .execute(&mut *conn)
    .await?;
    let rows = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            vec![
                Param::from(&file.id),
                (i as i64 + 1).into(),
                (l.number as i64).into(),
                l.cheques.into(),
                (&l.beneficiary_ref).into(),
                (&l.email).into(),
                (&l.facts.help_level).into(),
                (&l.facts.age_bracket).into(),
                (&l.facts.situation).into(),
                (&l.facts.priority_area).into(),
                (&l.facts.rural).into(),
            ]
        })
        .collect();
    let mut batch = Batch::new(conn);
    batch.push_rows(
        "INSERT INTO carnet_file_lines (file_id, position, source_line, cheques, \
         beneficiary_ref, email, help_level, age_bracket, situation, priority_area, rural)",
        "",
        rows,
    );
    batch.execute(conn).await
}

pub async fn find(conn: &mut Conn, id: &str) -> Result<Option<FileRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM carnet_files WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// The distributor's files, newest first.
pub async fn of_distributor(
    conn: &mut Conn,
    distributor_id: &str,
    limit: i64,
) -> Result<Vec<FileRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM carnet_files WHERE distributor_id = $1 \
         ORDER BY created_at DESC, id LIMIT $2"
    ))
    .bind(distributor_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn running(conn: &mut Conn) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM carnet_files WHERE status = 'running' ORDER BY created_at",
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Takes the file for one chunk: the row is locked until the transaction ends, so that two
/// runners of the same file take turns (the second then sees the first one's lines done).
/// False when the file is no longer running.
pub async fn take(conn: &mut Conn, id: &str, now: &str) -> Result<bool> {
    let done =
        sqlx::query("UPDATE carnet_files SET updated_at = $1 WHERE id = $2 AND status = 'running'")
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn pending(conn: &mut Conn, id: &str, limit: i64) -> Result<Vec<Pending>> {
    Ok(sqlx::query_as(
        "SELECT position, cheques, beneficiary_ref, email, help_level, age_bracket, situation, \
         priority_area, rural FROM carnet_file_lines \
         WHERE file_id = $1 AND pass_id IS NULL ORDER BY position LIMIT $2",
    )
    .bind(id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// Links a line to its carnet; false if the line already had one.
pub async fn link(conn: &mut Conn, id: &str, position: i64, pass_id: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE carnet_file_lines SET pass_id = $1 \
         WHERE file_id = $2 AND position = $3 AND pass_id IS NULL",
    )
    .bind(pass_id)
    .bind(id)
    .bind(position)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn add_done(conn: &mut Conn, id: &str, lines: i64) -> Result<()> {
    sqlx::query("UPDATE carnet_files SET lines_done = lines_done + $1 WHERE id = $2")
        .bind(lines)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Ends a running file: done, or failed with the reason in words.
pub async fn finish(
    conn: &mut Conn,
    id: &str,
    status: FileStatus,
    error: Option<&str>,
    now: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE carnet_files SET status = $1, error = $2, updated_at = $3 \
         WHERE id = $4 AND status = 'running'",
    )
    .bind(status.as_str())
    .bind(error)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The carnets issued for a file, in the file's order.
pub async fn pass_ids(conn: &mut Conn, id: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT pass_id FROM carnet_file_lines WHERE file_id = $1 AND pass_id IS NOT NULL \
         ORDER BY position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Lines of the file that came with an e-mail (the carnet was sent to it).
pub async fn emailed(conn: &mut Conn, id: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM carnet_file_lines \
         WHERE file_id = $1 AND pass_id IS NOT NULL AND email IS NOT NULL",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?)
}
