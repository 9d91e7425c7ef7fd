//! Redemptions asked for at the same time are written together. A few writer tasks take the
//! checked sessions waiting for them and record each group in one transaction
//! ([`super::record_together`]): one UPDATE takes every group's cheques and one statement
//! writes all their rows, where each redemption alone costs PostgreSQL five round trips and a
//! fresh plan of a dozen inserts. A writer takes whatever waits when it is free, so one
//! request alone is written at once and groups only grow with the load.
//!
//! A group that fails as a whole (a database error, two requests with the same idempotency key)
//! has written nothing: each of its requests is told to be recorded alone, and gets its own
//! answer there.

use super::{record_together, Session};
use crate::audit::origin::Origin;
use crate::clock::{format_ts, SharedClock};
use crate::db::{Batch, Db};
use crate::error::Error;
use crate::orgs::Organization;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

/// Sessions recorded in one transaction at most (a bound on what one failure sends back).
const MAX_GROUP: usize = 64;

/// Requests waiting for a writer at most; the next ones wait to be queued.
const QUEUE: usize = 1024;

/// The HTTP status saved with the answer of a redemption, for retries.
const CREATED: u16 = 201;

/// A checked session to record, and where to save its answer for retries.
pub struct Request {
    pub site: Organization,
    pub session: Session,
    pub saved_under: Option<SavedUnder>,
}

/// The idempotency key of a request, and the hash of what it asked.
pub struct SavedUnder {
    pub org_id: String,
    pub key: String,
    pub request_hash: String,
}

/// What a request gets back.
pub enum Outcome {
    /// Redeemed: the answer (JSON), saved under the request's key if it has one.
    Redeemed(String),
    /// Refused (already redeemed, expired…): nothing of it was written.
    Refused(Error),
    /// Its group was not written: record it alone, to get its own answer.
    Alone,
}

struct Job {
    request: Request,
    /// Who asked, from where: for the journal, written in the writer's task.
    origin: Origin,
    reply: oneshot::Sender<Outcome>,
}

#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts `writers` tasks: on SQLite the single writer connection commits their groups
    /// anyway; on PostgreSQL several groups are written at once while others wait on disk.
    pub fn spawn(db: Db, clock: SharedClock, writers: usize) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..writers.max(1) {
            tokio::spawn(run(db.clone(), clock.clone(), queue.clone()));
        }
        Writer { jobs }
    }

    /// Records one checked session with those asked for meanwhile; stamped when written.
    pub async fn redeem(&self, request: Request) -> Outcome {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            request,
            origin: crate::audit::origin::current(),
            reply,
        };
        if self.jobs.send(job).await.is_err() {
            return Outcome::Alone;
        }
        answer.await.unwrap_or(Outcome::Alone)
    }
}

async fn run(db: Db, clock: SharedClock, queue: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let group = {
            let mut queue = queue.lock().await;
            let Some(first) = queue.recv().await else {
                return;
            };
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match queue.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            group
        };
        write(&db, &clock, group).await;
    }
}

async fn write(db: &Db, clock: &SharedClock, group: Vec<Job>) {
    let mut keys = HashSet::new();
    let mut replies = Vec::with_capacity(group.len());
    let mut requests = Vec::with_capacity(group.len());
    for job in group {
        // Nobody waits any more (the request timed out, the client left): nothing is written,
        // so that nothing commits long after it was asked (settlement relies on it).
        if job.reply.is_closed() {
            continue;
        }
        // A second request under the same key in one group would fail the group's statement.
        let key = job
            .request
            .saved_under
            .as_ref()
            .map(|s| (s.org_id.clone(), s.key.clone()));
        if key.is_some_and(|key| !keys.insert(key)) {
            let _ = job.reply.send(Outcome::Alone);
            continue;
        }
        replies.push(job.reply);
        requests.push((job.request, job.origin));
    }
    if requests.is_empty() {
        return;
    }
    let (now, today) = (clock.now(), clock.today());
    let written = db
        .transact(move |conn| {
            Box::pin(async move {
                let mut batch = Batch::new(conn);
                let mut sites = Vec::with_capacity(requests.len());
                let mut sessions = Vec::with_capacity(requests.len());
                for (request, origin) in requests {
                    sites.push((request.site, request.saved_under));
                    sessions.push((request.session, origin));
                }
                let sessions = sites
                    .iter()
                    .zip(sessions)
                    .map(|((site, _), (session, origin))| (site, session, origin))
                    .collect();
                let outcomes = record_together(conn, &mut batch, sessions, now, today).await?;
                let now_text = format_ts(now);
                let mut answers = Vec::with_capacity(outcomes.len());
                for (outcome, (_, saved)) in outcomes.into_iter().zip(&sites) {
                    answers.push(match outcome {
                        Ok(row) => {
                            let body = serde_json::to_string(&row).map_err(anyhow::Error::from)?;
                            if let Some(s) = saved {
                                crate::idempotency::defer(
                                    &mut batch,
                                    &s.org_id,
                                    &s.key,
                                    &s.request_hash,
                                    CREATED,
                                    body.clone(),
                                    &now_text,
                                );
                            }
                            Outcome::Redeemed(body)
                        }
                        Err(refusal) => Outcome::Refused(refusal),
                    });
                }
                batch.execute(conn).await?;
                Ok(answers)
            })
        })
        .await;
    match written {
        Ok(answers) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(answer);
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, sessions = replies.len(), "redemption group not written; each is recorded alone");
            for reply in replies {
                let _ = reply.send(Outcome::Alone);
            }
        }
    }
}
