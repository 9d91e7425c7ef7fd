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
//! has written nothing: each of its requests is then recorded alone, and gets its own answer.
//!
//! [`Redeemer::redeem`] is the one entry point, for the API and the site's page alike: the
//! grouping, the fallback, invalid-code counting, idempotent replay and metrics are inside.

use super::limits::InvalidCodeLimits;
use super::RedemptionRow;
use super::{check, check_among, record, record_together, NewRedemption};
use crate::clock::{format_ts, SharedClock};
use crate::db::{Backend, Db, Origin, Slot};
use crate::error::{Error, Result};
use crate::idempotency::{self, Key};
use crate::orgs::{Organization, TokenPolicy};
use crate::vouchers::codes::Keyring;
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

/// Sessions recorded in one transaction at most (a bound on what one failure sends back).
const MAX_GROUP: usize = 64;

/// Requests waiting for a writer at most; the next ones wait to be queued.
const QUEUE: usize = 1024;

/// Who asks: an API token, checked with the group it is written in, or a site whose agent is
/// signed in on the pages.
#[derive(Clone, Debug)]
pub enum Caller {
    Token(String),
    Site(Organization),
}

impl Caller {
    /// What spreads requests over lanes: a site's requests share one.
    fn lane_key(&self) -> &str {
        match self {
            Caller::Token(token) => token,
            Caller::Site(site) => &site.id,
        }
    }
}

/// A redemption request as it came: who asks, from where, what, and what makes a retry of it
/// recognisable (the API's `Idempotency-Key`, or the form's one-time token), if anything.
pub struct Request {
    pub caller: Caller,
    pub client_ip: IpAddr,
    pub new: NewRedemption,
    /// The key and the request's hash; the key's owner is the site, known once checked.
    pub once: Option<(String, String)>,
    pub origin: Origin,
}

impl Request {
    fn key_of(&self, site_id: &str) -> Option<Key> {
        self.once.as_ref().map(|(key, request_hash)| Key {
            owner: site_id.to_string(),
            key: key.clone(),
            request_hash: request_hash.clone(),
        })
    }
}

/// The site that asked (once known), and what it gets from its group.
struct Answer {
    site_id: Option<String>,
    outcome: Outcome,
}

enum Outcome {
    /// Redeemed, and saved under the request's key if it has one.
    Redeemed(Box<RedemptionRow>),
    /// Refused (already redeemed, expired…): nothing of it was written.
    Refused(Error),
    /// Its group was not written: record it alone, to get its own answer.
    Alone,
}

struct Job {
    request: Arc<Request>,
    reply: oneshot::Sender<Answer>,
}

/// How the writer tasks take requests: `lanes` queues, a request going to its caller's, each
/// queue taken by `writers_per_lane` tasks.
#[derive(Clone, Copy, Debug)]
pub struct Lanes {
    pub lanes: usize,
    pub writers_per_lane: usize,
}

impl Lanes {
    /// On SQLite the single writer connection commits every group anyway: two writers on one
    /// queue let one group be prepared while the other commits, and the free one takes
    /// everything waiting (BENCHMARKS.md, run N: two lanes made smaller groups and a lower
    /// rate). On PostgreSQL a quarter of the pool, each writer in its own lane: fewer, larger
    /// groups cost less per redemption (run H: with 2 writers PostgreSQL spent 359 µs of CPU
    /// per redemption at 64 clients, with 4 writers 533 µs; run I, with the statements kept
    /// prepared: 457–498 µs against 672).
    pub fn for_backend(backend: Backend, db_connections: u32) -> Self {
        match backend {
            Backend::Sqlite => Lanes {
                lanes: 1,
                writers_per_lane: 2,
            },
            Backend::Postgres => Lanes {
                lanes: (db_connections as usize / 4).max(1),
                writers_per_lane: 1,
            },
        }
    }
}

/// What every group is checked with.
struct Checks {
    keyring: Arc<Keyring>,
    invalid_codes: InvalidCodeLimits,
    /// Days an API token may stay unused (0: forever).
    token_idle_days: i64,
}

/// Redeems cheques: the one way to, for every edge.
#[derive(Clone)]
pub struct Redeemer {
    db: Db,
    clock: SharedClock,
    checks: Arc<Checks>,
    /// One queue per lane; a request goes to its caller's.
    queues: Arc<[mpsc::Sender<Job>]>,
}

impl Redeemer {
    /// Starts the writer tasks.
    pub fn spawn(
        db: Db,
        clock: SharedClock,
        keyring: Arc<Keyring>,
        invalid_codes: InvalidCodeLimits,
        token_idle_days: i64,
        layout: Lanes,
    ) -> Self {
        let checks = Arc::new(Checks {
            keyring,
            invalid_codes,
            token_idle_days,
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
        Redeemer {
            db,
            clock,
            checks,
            queues: queues.into(),
        }
    }

    /// The invalid-code counters, which other ways of sending codes (offline sync) share.
    pub fn invalid_codes(&self) -> &InvalidCodeLimits {
        &self.checks.invalid_codes
    }

    /// Redeems the cheques of one session, with the requests asked for meanwhile; stamped when
    /// written. A retry under the same key gets the first answer; invalid codes are counted
    /// per site and per address, and too many of them are refused for a while (429).
    pub async fn redeem(&self, request: Request) -> Result<RedemptionRow> {
        let request = Arc::new(request);
        let answer = self.in_group(request.clone()).await;
        let (site_id, result) = match (answer.site_id, answer.outcome) {
            (site_id, Outcome::Redeemed(row)) => (site_id, Ok(*row)),
            (Some(site_id), Outcome::Refused(refusal)) => {
                let key = request.key_of(&site_id);
                let result = idempotency::saved_answer_or(&self.db, key.as_ref(), refusal).await;
                (Some(site_id), result)
            }
            (None, Outcome::Refused(refusal)) => (None, Err(refusal)),
            (_, Outcome::Alone) => self.alone(&request).await,
        };
        if let (Some(site_id), Err(e)) = (&site_id, &result) {
            if e.code() == "invalid_code" {
                self.checks
                    .invalid_codes
                    .record(site_id, request.client_ip, self.clock.now())
                    .await?;
            }
        }
        match &result {
            Ok(_) => crate::metrics::redeemed(),
            Err(e) => crate::metrics::refused(e.code()),
        }
        result
    }

    async fn in_group(&self, request: Arc<Request>) -> Answer {
        let alone = || Answer {
            site_id: None,
            outcome: Outcome::Alone,
        };
        let queue = &self.queues[lane_of(request.caller.lane_key(), self.queues.len())];
        let (reply, answer) = oneshot::channel();
        if queue.send(Job { request, reply }).await.is_err() {
            return alone();
        }
        answer.await.unwrap_or_else(|_| alone())
    }

    /// A redemption handled by itself, for a request whose group could not be written: the
    /// same checks, on a read connection, then its own write transaction. Gives the site, once
    /// known.
    async fn alone(&self, request: &Request) -> (Option<String>, Result<RedemptionRow>) {
        let mut conn = match self.db.read().await {
            Ok(conn) => conn,
            Err(e) => return (None, Err(e)),
        };
        let now = self.clock.now();
        let policy = TokenPolicy::new(now, self.checks.token_idle_days);
        let caller = match &request.caller {
            Caller::Site(site) => Ok((site.clone(), None)),
            Caller::Token(token) => crate::orgs::authenticate(&mut conn, token, policy)
                .await
                .map(|c| (c.org, c.touch)),
        };
        let (site, touch) = match caller {
            Ok(caller) => caller,
            Err(e) => return (None, Err(e)),
        };
        let site_id = Some(site.id.clone());
        match self
            .checks
            .invalid_codes
            .blocked(&mut conn, &site.id, request.client_ip, now)
            .await
        {
            Ok(None) => {}
            Ok(Some(retry_after_secs)) => {
                return (site_id, Err(Error::RateLimited { retry_after_secs }))
            }
            Err(e) => return (site_id, Err(e)),
        }
        let checked = check(
            &mut conn,
            &self.checks.keyring,
            &site,
            request.new.clone(),
            now,
        )
        .await;
        // Given back before the write, which takes its own.
        drop(conn);
        let session = match checked {
            Ok(session) => session,
            Err(refusal) => return (site_id, Err(refusal)),
        };
        let key = request.key_of(&site.id);
        let result = idempotency::transact_once(
            &self.db,
            request.origin.clone(),
            key,
            &format_ts(now),
            move |tx| {
                Box::pin(async move {
                    crate::orgs::note_token_use(tx, touch.as_slice(), now);
                    record(tx, &site, session, now).await
                })
            },
        )
        .await;
        (site_id, result)
    }
}

/// The lane of a caller's requests: a site's requests share one, so that two groups seldom
/// move the same site's balance rows (on PostgreSQL each would wait for the other's COMMIT).
fn lane_of(key: &str, lanes: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    key.hash(&mut hasher);
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
            .once
            .as_ref()
            .map(|(key, _)| (job.request.caller.lane_key().to_string(), key.clone()));
        if key.is_some_and(|key| !keys.insert(key)) {
            let _ = job.reply.send(Answer {
                site_id: None,
                outcome: Outcome::Alone,
            });
            continue;
        }
        replies.push(job.reply);
        requests.push(job.request);
    }
    if requests.is_empty() {
        return;
    }
    let now = clock.now();
    let checks = checks.clone();
    let written = db
        .transact(Origin::platform(), move |tx| {
            Box::pin(async move {
                tx.use_slot(Slot::Lane(lane));
                handle(tx, &checks, requests, now).await
            })
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
    tx: &mut crate::db::Tx<'_>,
    checks: &Checks,
    requests: Vec<Arc<Request>>,
    now: jiff::Timestamp,
) -> Result<Vec<Answer>> {
    let tokens: Vec<String> = requests
        .iter()
        .filter_map(|r| match &r.caller {
            Caller::Token(token) => Some(token.clone()),
            Caller::Site(_) => None,
        })
        .collect();
    let policy = TokenPolicy::new(now, checks.token_idle_days);
    let mut by_token = crate::orgs::authenticate_each(tx, &tokens, policy)
        .await?
        .into_iter();
    let mut touches = Vec::new();
    let sites: Vec<Result<Organization>> = requests
        .iter()
        .map(|r| match &r.caller {
            Caller::Site(site) => Ok(site.clone()),
            Caller::Token(_) => {
                let caller = by_token.next().unwrap_or(Err(Error::Unauthenticated))?;
                touches.extend(caller.touch);
                Ok(caller.org)
            }
        })
        .collect();
    touches.sort();
    touches.dedup();
    crate::orgs::note_token_use(tx, &touches, now);
    let askers: Vec<_> = sites
        .iter()
        .zip(&requests)
        .map(|(site, r)| site.as_ref().ok().map(|s| (s.id.as_str(), r.client_ip)))
        .collect();
    let blocked = checks.invalid_codes.blocked_each(tx, &askers, now).await?;
    let mut site_ids: Vec<String> = sites.iter().flatten().map(|s| s.id.clone()).collect();
    site_ids.sort();
    site_ids.dedup();
    let places = crate::sites::places::qualifications_of_sites(tx, &site_ids).await?;

    // Each request checked, in order: its site and session, or its refusal.
    let mut checked: Vec<(Option<Organization>, Result<super::Session>)> = Vec::new();
    for ((site, blocked), request) in sites.into_iter().zip(blocked).zip(&requests) {
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
        let new = request.new.clone();
        let session = check_among(tx, &checks.keyring, &site, new, now, of_site).await;
        checked.push((Some(site), session));
    }

    let to_record = checked
        .iter()
        .zip(&requests)
        .filter_map(|((site, session), request)| match (site, session) {
            (Some(site), Ok(session)) => Some((site, session.clone(), request.origin.clone())),
            _ => None,
        })
        .collect();
    let mut recorded = record_together(tx, to_record, now).await?.into_iter();
    let now_text = format_ts(now);
    let mut answers = Vec::with_capacity(checked.len());
    for ((site, session), request) in checked.into_iter().zip(&requests) {
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
                    if let Some(key) = site_id.as_deref().and_then(|s| request.key_of(s)) {
                        idempotency::save(tx, &key, &row, &now_text)?;
                    }
                    Outcome::Redeemed(Box::new(row))
                }
                Err(refusal) => Outcome::Refused(refusal),
            },
            site_id,
        });
    }
    Ok(answers)
}
