//! Carnets issued from a file (one line per carnet): every line is checked and the quota must
//! cover the whole file before anything is issued; then the file is a stored job, issued in
//! chunks through [`super::issue_batch`], each chunk committed with the job's progress, so a
//! restart resumes where the last commit left and never issues a line twice. Each carnet whose
//! line has an e-mail is sent to it; one PDF holds every carnet of the file.

mod parse;
mod repo;

pub use parse::{parse, Line, MAX_LINES};

use super::codes::Keyring;
use super::{NewBatch, NewCarnet, Printable};
use crate::clock::{format_ts, SharedClock};
use crate::db::{Conn, Db, Origin, Tx};
use crate::error::{Error, Result};
use crate::ledger::{self, Account};
use crate::mail::Letterhead;
use crate::orgs::{OrgKind, Organization};
use jiff::civil::Date;
use jiff::Timestamp;
use repo::FileRow;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Carnets issued per transaction: short transactions, frequent progress.
pub const CHUNK: usize = 25;

/// Files of at most this many lines are issued before the page answers; larger ones in the
/// background, the page showing their progress.
pub const SYNC_LINES: usize = 50;

crate::text_enum! {
    /// A file of carnets being issued.
    pub enum FileStatus {
        Running = "running",
        /// Every line has its carnet.
        Done = "done",
        /// Stopped by a refusal (quota used up meanwhile, programme closing): the lines
        /// before it have their carnets, the others none.
        Failed = "failed",
    }
}

/// What the upload came to: a job started, or the reasons nothing was issued.
#[derive(Debug, Serialize, Deserialize)]
pub enum Upload {
    Started { id: String, lines: usize },
    Refused(Vec<String>),
}

/// A file of carnets as its distributor follows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct FileView {
    pub id: String,
    pub program_id: String,
    pub programme: String,
    pub filename: String,
    pub lines_total: i64,
    pub lines_done: i64,
    pub status: FileStatus,
    pub error: Option<String>,
    pub created_at: String,
    /// Carnets sent by e-mail (lines with an address).
    pub emailed: i64,
}

/// Checks a file of carnets of `program_id` and, when every line is right and the quota covers
/// them all, stores it as a job to run (see [`run`]). Nothing is issued here.
#[allow(clippy::too_many_arguments)]
pub async fn start(
    tx: &mut Tx<'_>,
    distributor: &Organization,
    created_by: Option<&str>,
    program_id: &str,
    filename: &str,
    bytes: &[u8],
    now: Timestamp,
    today: Date,
) -> Result<Upload> {
    distributor.require(OrgKind::Distributor)?;
    let program = crate::programs::find(tx, program_id)
        .await?
        .ok_or_else(|| Error::invalid("unknown_program", "Ce programme n'existe pas."))?;
    program.require_issuable(today)?;
    let lines = match parse(bytes) {
        Ok(lines) => lines,
        Err(errors) => return Ok(Upload::Refused(errors)),
    };
    let quota = ledger::balance(tx, &program.id, Account::Quota(&distributor.id)).await?;
    let value = program.cheque_value_cents.get().max(1);
    let available = quota.get() / value;
    let needed: i64 = lines.iter().map(|l| l.cheques).sum();
    if needed > available {
        let mut left = available;
        let possible = lines
            .iter()
            .take_while(|l| {
                left -= l.cheques;
                left >= 0
            })
            .count();
        return Ok(Upload::Refused(vec![format!(
            "Le fichier demande {needed} chèques et il vous en reste {available} pour ce \
             programme : de quoi émettre les {possible} premiers carnets du fichier sur {}. \
             Retirez des lignes, ou demandez à votre financeur d'augmenter votre quota. Aucun \
             carnet n'a été émis.",
            lines.len()
        )]));
    }
    let file = FileRow {
        id: crate::db::new_id(),
        distributor_id: distributor.id.clone(),
        program_id: program.id.clone(),
        filename: filename.chars().take(200).collect(),
        created_by: created_by.map(str::to_string),
        lines_total: lines.len() as i64,
        lines_done: 0,
        status: FileStatus::Running,
        error: None,
        created_at: format_ts(now),
    };
    repo::insert(tx, &file, &lines).await?;
    crate::audit::record(
        tx,
        &file.created_at,
        Some(&distributor.id),
        "pass.file_uploaded",
        Some(&file.id),
        &format!(
            "{} carnet(s) à émettre, programme {}",
            lines.len(),
            program.id
        ),
    )
    .await?;
    Ok(Upload::Started {
        id: file.id,
        lines: lines.len(),
    })
}

/// What a chunk did.
enum Chunk {
    Issued,
    Finished,
}

/// What a file job needs to run beside the requests.
#[derive(Clone)]
pub struct Runner {
    pub db: Db,
    pub keyring: std::sync::Arc<Keyring>,
    pub letterhead: Letterhead,
    pub clock: SharedClock,
}

impl Runner {
    /// Issues the file's remaining lines, chunk after chunk, until done or refused. A
    /// database failure is retried a few times, then left for the next start of the server.
    pub async fn run(&self, id: &str) -> Result<()> {
        let mut failures = 0;
        loop {
            match self.chunk(id).await {
                Ok(Chunk::Issued) => failures = 0,
                Ok(Chunk::Finished) => return Ok(()),
                Err(e) if is_refusal(&e) => {
                    // A refusal (quota, programme): the file stops here, said in words.
                    let (id, message, now) = (id.to_string(), e.to_string(), self.now());
                    return self
                        .db
                        .transact(Origin::platform(), move |tx| {
                            Box::pin(async move {
                                repo::finish(tx, &id, FileStatus::Failed, Some(&message), &now)
                                    .await
                            })
                        })
                        .await;
                }
                Err(e) if failures < 3 => {
                    failures += 1;
                    tracing::warn!(file = id, error = %e, "a chunk of carnets failed; retrying");
                    tokio::time::sleep(Duration::from_secs(failures)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn now(&self) -> String {
        format_ts(self.clock.now())
    }

    /// One chunk in one transaction: its carnets issued, its lines linked to them, e-mails
    /// queued, and the file's progress, together or not at all.
    async fn chunk(&self, id: &str) -> Result<Chunk> {
        let (now, today) = (self.clock.now(), self.clock.today());
        let mut conn = self.db.read().await?;
        let Some(file) = repo::find(&mut conn, id).await? else {
            return Ok(Chunk::Finished);
        };
        drop(conn);
        let origin = Origin {
            client_addr: None,
            user_id: file.created_by.clone(),
        };
        let (runner, id) = (self.clone(), id.to_string());
        self.db
            .transact(origin, move |tx| {
                Box::pin(async move { runner.chunk_in(tx, &id, now, today).await })
            })
            .await
    }

    async fn chunk_in(
        &self,
        tx: &mut Tx<'_>,
        id: &str,
        now: Timestamp,
        today: Date,
    ) -> Result<Chunk> {
        let now_text = format_ts(now);
        if !repo::take(tx, id, &now_text).await? {
            return Ok(Chunk::Finished);
        }
        let pending = repo::pending(tx, id, CHUNK as i64).await?;
        if pending.is_empty() {
            repo::finish(tx, id, FileStatus::Done, None, &now_text).await?;
            return Ok(Chunk::Finished);
        }
        let file = repo::find(tx, id)
            .await?
            .ok_or_else(|| Error::not_found("Ce fichier n'existe pas."))?;
        let distributor = crate::orgs::find(tx, &file.distributor_id)
            .await?
            .ok_or_else(|| Error::not_found("Ce distributeur n'existe plus."))?;
        let batch = NewBatch {
            program_id: file.program_id.clone(),
            carnets: pending
                .iter()
                .map(|line| NewCarnet {
                    cheques: line.cheques,
                    beneficiary_ref: line.beneficiary_ref.clone(),
                    email: line.email.clone(),
                    help_level: line.help_level.clone(),
                    age_bracket: line.age_bracket.clone(),
                    situation: line.situation.clone(),
                    priority_area: line.priority_area.clone(),
                    rural: line.rural.clone(),
                })
                .collect(),
            active: Some(true),
        };
        let issued = super::issue_batch(tx, &self.keyring, &distributor, batch, now).await?;
        for (line, pass) in pending.iter().zip(&issued) {
            let (position, email) = (&line.position, &line.email);
            if !repo::link(tx, id, *position, &pass.id).await? {
                // Another runner got there first: this chunk is rolled back.
                return Err(Error::Internal(anyhow::anyhow!(
                    "line {position} of file {id} already issued"
                )));
            }
            if let Some(email) = email {
                super::send_by_email(
                    tx,
                    &self.keyring,
                    &distributor,
                    &pass.id,
                    email,
                    &self.letterhead,
                    today,
                    now,
                )
                .await?;
            }
        }
        repo::add_done(tx, id, issued.len() as i64).await?;
        Ok(Chunk::Issued)
    }

    /// At the server's start: the files a stop interrupted go on, one after the other.
    pub async fn resume_all(self) {
        let running = match self.db.read().await {
            Ok(mut conn) => repo::running(&mut conn).await,
            Err(e) => Err(e),
        };
        match running {
            Ok(ids) => {
                for id in ids {
                    tracing::info!(file = %id, "resuming a file of carnets");
                    if let Err(e) = self.run(&id).await {
                        tracing::error!(file = %id, error = %e, "a file of carnets failed");
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot list the files of carnets to resume"),
        }
    }
}

/// A refusal of the domain (as opposed to a failure of the database or a bug).
fn is_refusal(e: &Error) -> bool {
    matches!(
        e,
        Error::Unprocessable { .. }
            | Error::Conflict { .. }
            | Error::Gone { .. }
            | Error::Forbidden { .. }
            | Error::NotFound(_)
    )
}

/// A file as its distributor sees it; to anyone else it does not exist.
async fn file_for(conn: &mut Conn, distributor: &Organization, id: &str) -> Result<FileRow> {
    distributor.require(OrgKind::Distributor)?;
    match repo::find(conn, id).await? {
        Some(f) if f.distributor_id == distributor.id => Ok(f),
        _ => Err(Error::not_found("Ce fichier n'existe pas.")),
    }
}

async fn view(conn: &mut Conn, file: FileRow) -> Result<FileView> {
    let programme = crate::programs::find(conn, &file.program_id)
        .await?
        .map(|p| p.name)
        .unwrap_or_default();
    Ok(FileView {
        emailed: repo::emailed(conn, &file.id).await?,
        id: file.id,
        program_id: file.program_id,
        programme,
        filename: file.filename,
        lines_total: file.lines_total,
        lines_done: file.lines_done,
        status: file.status,
        error: file.error,
        created_at: file.created_at,
    })
}

pub async fn get(conn: &mut Conn, distributor: &Organization, id: &str) -> Result<FileView> {
    let file = file_for(conn, distributor, id).await?;
    view(conn, file).await
}

/// The distributor's last files, newest first.
pub async fn list(conn: &mut Conn, distributor: &Organization) -> Result<Vec<FileView>> {
    distributor.require(OrgKind::Distributor)?;
    let mut out = Vec::new();
    for file in repo::of_distributor(conn, &distributor.id, 10).await? {
        out.push(view(conn, file).await?);
    }
    Ok(out)
}

/// One PDF of every carnet issued for the file, in the file's order.
pub async fn pdf(
    conn: &mut Conn,
    keyring: &Keyring,
    distributor: &Organization,
    id: &str,
    letterhead: &Letterhead,
    today: Date,
) -> Result<Vec<u8>> {
    let file = file_for(conn, distributor, id).await?;
    let mut carnets: Vec<Printable> = Vec::new();
    for pass_id in repo::pass_ids(conn, &file.id).await? {
        carnets.push(super::printable(conn, keyring, distributor, &pass_id, today).await?);
    }
    Ok(super::print::carnets_pdf(&carnets, letterhead))
}
