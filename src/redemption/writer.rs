//! Redemptions asked for at the same time are handled together. A few writer tasks take the
//! requests waiting for them and handle each group in one transaction: one query reads every
//! request's token, one the invalid-code counters, one the sites' places; each request is
//! checked on what was read ([`super::check_among`]); then one UPDATE takes every cheque and
//! one statement writes all the rows ([`super::record_together`]). Handled one by one, each
//! redemption costs PostgreSQL eight round trips and a fresh plan of a dozen inserts. A writer
//! takes whatever waits when it is free, so one request alone is handled at once and groups
//! only grow with the load. Everything is read in the transaction that writes, so what a
//! request is checked against is what holds when its cheques are taken.
//!
//! On PostgreSQL each writer has a lane: a queue of its own, where a request goes by its token,
//! and its own slot rows of a distributor's `outstanding` ([`crate::ledger::Slot::Lane`]). Two
//! groups then seldom move the same balance rows, which would make one wait for the other's
//! COMMIT (BENCHMARKS.md, run N). On SQLite the single writer connection commits every group
//! anyway: one lane, whose first free writer takes everything waiting (larger groups).
//!
//! A group that fails as a whole (a database error, two requests with the same idempotency key)
//! has written nothing: each of its requests is told to be recorded alone, and gets its own
//! answer there.

use super::{check_among, invalid_code_keys, record_together, NewRedemption};
use crate::audit::origin::Origin;
use crate::clock::{format_ts, SharedClock};
use crate::db::{Batch, Db};
use crate::error::{Error, Result};
use crate::orgs::Organization;
use crate::ratelimit::RateLimiter;
use crate::vouchers::codes::Keyring;
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

/// Sessions recorded in one transaction at most (a bound on what one failure sends back).
const MAX_GROUP: usize = 64;

/// Requests waiting for a writer at most; the next ones wait to be queued.
const QUEUE: usize = 1024;

/// The HTTP status saved with the answer of a redemption, for retries.
const CREATED: u16 = 201;

/// A redemption request as it came: its token, where from, what it asks, and its
/// idempotency key and the hash of the request, if it has a key.
pub struct Request {
    pub token: String,
    pub client_ip: IpAddr,
    pub new: NewRedemption,
    pub saved_under: Option<(String, String)>,
}

/// The site that asked (once its token is known), and what it gets.
pub struct Answer {
    pub site_id: Option<String>,
    pub outcome: Outcome,
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
    reply: oneshot::Sender<Answer>,
}

#[derive(Clone)]
pub struct Writer {
    /// One queue per lane; a request goes to its token's.
    queues: Arc<[mpsc::Sender<Job>]>,
}

/// What every group is checked with.
struct Checks {
    keyring: Arc<Keyring>,
    invalid_codes: Arc<RateLimiter>,
}

/// How the writer tasks take requests: `lanes` queues, a request going to its token's, each
/// queue taken by `writers_per_lane` tasks.
#[derive(Clone, Copy, Debug)]
pub struct Lanes {
    pub lanes: usize,
    pub writers_per_lane: usize,
}

impl Writer {
    /// Starts the writer tasks.
    pub fn spawn(
        db: Db,
        clock: SharedClock,
        keyring: Arc<Keyring>,
        invalid_codes: Arc<RateLimiter>,
        layout: Lanes,
    ) -> Self {
        let checks = Arc::new(Checks {
            keyring,
            invalid_codes,
        });
        let queues: Vec<mpsc::Sender<Job>> = (0..layout.lanes.max(1))
            .map(|lane| {
                let (jobs, queue) = mpsc::channel(QUEUE);
                let queue = Arc::new(Mutex::new(queue));
                for _ in 0..layout.writers_per_lane.max(1) {
                    let (db, clock, checks) = (db.clone(), clock.clone(), checks.clone());
                    tokio::spawn(run(db, clock, checks, lane, queue.clone()));
                }
                jobs
            })
            .collect();
        Writer {
            queues: queues.into(),
        }
    }

    /// Handles one request with those asked meanwhile; stamped when written.
    pub async fn redeem(&self, request: Request) -> Answer {
        let alone = Answer {
            site_id: None,
            outcome: Outcome::Alone,
        };
        let queue = &self.queues[lane_of(&request.token, self.queues.len())];
        let (reply, answer) = oneshot::channel();
        let job = Job {
            request,
            origin: crate::audit::origin::current(),
            reply,
        };
        if queue.send(job).await.is_err() {
            return alone;
        }
        answer.await.unwrap_or(alone)
    }
}

/// The lane of a token's requests: a site's requests share one, so that two groups seldom
/// move the same site's balance rows (on PostgreSQL each would wait for the other's COMMIT).
fn lane_of(token: &str, lanes: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    token.hash(&mut hasher);
    (hasher.finish() % lanes as u64) as usize
}

/// One writer: takes whatever waits in its lane's queue when it is free, up to [`MAX_GROUP`].
async fn run(
    db: Db,
    clock: SharedClock,
    checks: Arc<Checks>,
    lane: usize,
    queue: Arc<Mutex<mpsc::Receiver<Job>>>,
) {
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
        write(&db, &clock, &checks, lane, group).await;
    }
}

async fn write(db: &Db, clock: &SharedClock, checks: &Arc<Checks>, lane: usize, group: Vec<Job>) {
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
            .map(|(key, _)| (job.request.token.clone(), key.clone()));
        if key.is_some_and(|key| !keys.insert(key)) {
            let _ = job.reply.send(Answer {
                site_id: None,
                outcome: Outcome::Alone,
            });
            continue;
        }
        replies.push(job.reply);
        requests.push((job.request, job.origin));
    }
    if requests.is_empty() {
        return;
    }
    let (now, today) = (clock.now(), clock.today());
    let checks = checks.clone();
    let written = db
        .transact(move |conn| {
            Box::pin(async move { handle(conn, &checks, lane, requests, now, today).await })
        })
        .await;
    crate::metrics::redemption_group(replies.len(), written.is_err());
    match written {
        Ok(answers) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(answer);
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, requests = replies.len(), "redemption group not written; each is handled alone");
            for reply in replies {
                let _ = reply.send(Answer {
                    site_id: None,
                    outcome: Outcome::Alone,
                });
            }
        }
    }
}

/// Checks and records a group in the caller's transaction; answers each request in order.
async fn handle(
    conn: &mut crate::db::Conn,
    checks: &Checks,
    lane: usize,
    requests: Vec<(Request, Origin)>,
    now: jiff::Timestamp,
    today: jiff::civil::Date,
) -> Result<Vec<Answer>> {
    let tokens: Vec<String> = requests.iter().map(|(r, _)| r.token.clone()).collect();
    let sites = crate::orgs::authenticate_each(conn, &tokens).await?;
    let limit_keys: Vec<Vec<String>> = sites
        .iter()
        .zip(&requests)
        .map(|(site, (r, _))| match site {
            Ok(site) => invalid_code_keys(&site.id, r.client_ip),
            Err(_) => Vec::new(),
        })
        .collect();
    let blocked = checks
        .invalid_codes
        .blocked_each(&mut *conn, &limit_keys, now)
        .await?;
    let mut site_ids: Vec<String> = sites.iter().flatten().map(|s| s.id.clone()).collect();
    site_ids.sort();
    site_ids.dedup();
    let places = crate::places::qualifications_of_sites(conn, &site_ids).await?;

    // Each request checked, in order: its site and session, or its refusal.
    let mut checked: Vec<(Option<Organization>, Result<super::Session>)> = Vec::new();
    let mut saved = Vec::with_capacity(requests.len());
    let mut origins = Vec::with_capacity(requests.len());
    for ((site, blocked), (request, origin)) in sites.into_iter().zip(blocked).zip(requests) {
        saved.push(request.saved_under);
        origins.push(origin);
        let site = match site {
            Ok(site) => site,
            Err(refusal) => {
                checked.push((None, Err(refusal)));
                continue;
            }
        };
        if let Some(retry_after_secs) = blocked {
            checked.push((Some(site), Err(Error::RateLimited { retry_after_secs })));
            continue;
        }
        let of_site = places.get(&site.id).map(Vec::as_slice).unwrap_or_default();
        let session = check_among(conn, &checks.keyring, &site, request.new, today, of_site).await;
        checked.push((Some(site), session));
    }

    let mut batch = Batch::new(conn);
    let to_record = checked
        .iter()
        .zip(&origins)
        .filter_map(|((site, session), origin)| match (site, session) {
            (Some(site), Ok(session)) => Some((site, session.clone(), origin.clone())),
            _ => None,
        })
        .collect();
    let slot = crate::ledger::Slot::Lane(lane);
    let mut recorded = record_together(conn, &mut batch, to_record, slot, now, today)
        .await?
        .into_iter();
    let now_text = format_ts(now);
    let mut answers = Vec::with_capacity(checked.len());
    for ((site, session), saved) in checked.into_iter().zip(saved) {
        let outcome = match session {
            Err(refusal) => Err(refusal),
            Ok(_) => recorded.next().unwrap_or_else(|| {
                Err(Error::Internal(anyhow::anyhow!(
                    "a checked redemption was not recorded"
                )))
            }),
        };
        let site_id = site.map(|s| s.id);
        answers.push(Answer {
            outcome: match outcome {
                Ok(row) => {
                    let body = serde_json::to_string(&row).map_err(anyhow::Error::from)?;
                    if let (Some(site_id), Some((key, request_hash))) = (&site_id, saved) {
                        crate::idempotency::defer(
                            &mut batch,
                            site_id,
                            &key,
                            &request_hash,
                            CREATED,
                            body.clone(),
                            &now_text,
                        );
                    }
                    Outcome::Redeemed(body)
                }
                Err(refusal) => Outcome::Refused(refusal),
            },
            site_id,
        });
    }
    batch.execute(conn).await?;
    Ok(answers)
}
