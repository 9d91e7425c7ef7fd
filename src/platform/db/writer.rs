//! Group commit for SQLite's single writer: while one group of write transactions commits, the
//! next ones queue; the writer then runs every queued one in a savepoint of its own inside one
//! transaction, and answers each after the shared COMMIT. A failed one rolls back to its
//! savepoint without touching the others; a failed COMMIT fails them all (nothing of theirs
//! was stored), so an answer is only ever sent for what is durable.

use super::{BoxFuture, Conn};
use crate::error::{Error, Result};
use sqlx::AnyPool;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Transactions committed together at most (a bound on what one failure can take down).
const MAX_GROUP: usize = 64;

/// A transaction that waited longer than this for the writer is refused (503) rather than run:
/// well within the 30 s a request may last (`http::hardening`), which
/// `settlement::IN_FLIGHT_MARGIN` counts on.
const MAX_QUEUE_WAIT: Duration = Duration::from_secs(15);

/// Sends the outcome of one queued transaction once the group's COMMIT is known: its own
/// result if the group committed, else the group's failure.
type Answer = Box<dyn FnOnce(Option<&sqlx::Error>) + Send>;

/// One queued transaction: runs the work, says whether it succeeded, and how to answer.
type Job = Box<dyn for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, (bool, Answer)> + Send>;

#[derive(Clone)]
pub(super) struct GroupWriter {
    jobs: mpsc::UnboundedSender<Job>,
}

/// Told after each COMMIT that the write-ahead log grew (the background checkpoint listens).
pub(super) type Committed = std::sync::Arc<tokio::sync::Notify>;

impl GroupWriter {
    pub(super) fn spawn(pool: AnyPool, committed: Committed) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, queue, committed));
        GroupWriter { jobs }
    }

    pub(super) async fn run<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T>>();
        let queued = Instant::now();
        let job: Job = Box::new(move |conn| {
            Box::pin(async move {
                // Nobody waits any more (the request timed out, the client left): do nothing,
                // so that nothing commits long after it was stamped (settlement relies on it).
                if reply.is_closed() {
                    return (false, Box::new(|_: Option<&sqlx::Error>| {}) as Answer);
                }
                if queued.elapsed() > MAX_QUEUE_WAIT {
                    let answer: Answer = Box::new(move |_| {
                        let _ = reply.send(Err(Error::Unavailable(sqlx::Error::PoolTimedOut)));
                    });
                    return (false, answer);
                }
                let result = work(conn).await;
                let ok = result.is_ok();
                let answer: Answer = Box::new(move |commit_failure| {
                    let result = match (commit_failure, result) {
                        (Some(e), Ok(_)) => Err(failed_commit(e)),
                        (_, result) => result,
                    };
                    let _ = reply.send(result);
                });
                (ok, answer)
            })
        });
        self.jobs
            .send(job)
            .map_err(|_| Error::Unavailable(sqlx::Error::PoolClosed))?;
        // A dropped job (no connection, a panic in the group) never answers.
        answer
            .await
            .unwrap_or(Err(Error::Unavailable(sqlx::Error::PoolTimedOut)))
    }
}

/// What a transaction learns when the COMMIT it was part of failed.
fn failed_commit(e: &sqlx::Error) -> Error {
    match Error::from(clone_kind(e)) {
        Error::Unavailable(inner) => Error::Unavailable(inner),
        _ => Error::Internal(anyhow::anyhow!("group commit failed: {e}")),
    }
}

/// sqlx errors are not `Clone`: keep what decides the HTTP answer (unavailable or not).
fn clone_kind(e: &sqlx::Error) -> sqlx::Error {
    match e {
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        sqlx::Error::WorkerCrashed => sqlx::Error::WorkerCrashed,
        sqlx::Error::Io(io) => sqlx::Error::Io(std::io::Error::new(io.kind(), io.to_string())),
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

async fn run(pool: AnyPool, mut queue: mpsc::UnboundedReceiver<Job>, committed: Committed) {
    while let Some(first) = queue.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        // In a task of its own, so that a panicking job only fails its group.
        let group = tokio::spawn(commit_group(pool.clone(), jobs));
        if let Err(e) = group.await {
            tracing::error!(error = %e, "a group of write transactions panicked");
        }
        committed.notify_one();
    }
}

async fn commit_group(pool: AnyPool, jobs: Vec<Job>) {
    let mut tx = match pool.begin().await {
        Ok(tx) => tx,
        Err(e) => {
            tracing::warn!(error = %e, "no write connection for a group of transactions");
            return; // Dropping the jobs answers each with 503.
        }
    };
    let mut answers: Vec<Answer> = Vec::with_capacity(jobs.len());
    let mut broken: Option<sqlx::Error> = None;
    if jobs.len() == 1 {
        // Alone: no savepoint needed, an error rolls the whole transaction back.
        let Some(job) = jobs.into_iter().next() else {
            return;
        };
        let (ok, answer) = job(&mut tx).await;
        if !ok {
            drop(tx);
            answer(None);
            return;
        }
        answers.push(answer);
    } else {
        // One savepoint statement between two jobs: after a success, the next savepoint is
        // opened in the same hand-off that releases the last; after a failure, rolling back to
        // the savepoint keeps it open for the next job. COMMIT releases the last one.
        let mut step = Some("SAVEPOINT job");
        let last = jobs.len() - 1;
        for (i, job) in jobs.into_iter().enumerate() {
            if let Some(sql) = step.take() {
                if let Err(e) = sqlx::query(sql).execute(&mut *tx).await {
                    broken = Some(e);
                    break;
                }
            }
            let (ok, answer) = job(&mut tx).await;
            answers.push(answer);
            step = match (ok, i == last) {
                (true, false) => Some("RELEASE SAVEPOINT job; SAVEPOINT job"),
                (true, true) => None,
                (false, _) => Some("ROLLBACK TO SAVEPOINT job"),
            };
        }
        if let (Some(sql), None) = (step, &broken) {
            if let Err(e) = sqlx::query(sql).execute(&mut *tx).await {
                broken = Some(e);
            }
        }
    }
    crate::metrics::write_group(answers.len());
    let failure = match broken {
        Some(e) => Some(e),
        None => tx.commit().await.err(),
    };
    if let Some(e) = &failure {
        tracing::error!(error = %e, "a group commit failed: its transactions are refused");
    }
    for answer in answers {
        answer(failure.as_ref());
    }
}
