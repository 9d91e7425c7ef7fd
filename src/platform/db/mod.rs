//! The storage edge: one code base over SQLite (embedded default) and PostgreSQL through sqlx's
//! `Any` driver. Columns keep to integers and text so both behave the same.

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

mod batch;
mod state;
mod tx;
mod writer;

pub use batch::{Batch, Param, P};
pub use tx::{Origin, Slot, Tx};

pub type Conn = sqlx::AnyConnection;
/// A connection taken from the readers' pool; it goes back when dropped.
pub type Reader = sqlx::pool::PoolConnection<sqlx::Any>;
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Writes go through [`Db::transact`], reads through [`Db::read`]. On SQLite the writer is a
/// single connection: SQLite has one writer at a time, and queueing in the pool is fairer and
/// faster than letting connections spin on SQLITE_BUSY. On PostgreSQL both are the same pool.
#[derive(Clone)]
pub struct Db {
    read: AnyPool,
    write: AnyPool,
    backend: Backend,
    /// SQLite only: the task that commits concurrent [`Db::transact`] calls together.
    group: Option<writer::GroupWriter>,
}

impl Db {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        Self::connect_with_timeout(url, max_connections, Duration::from_secs(5)).await
    }

    /// `acquire_timeout` bounds the wait for a connection, so an unreachable database answers
    /// 503 quickly. SQLite's single writer queues longer: there a wait means load, not outage.
    /// Connections are not pinged when taken from the pool (sqlx pings them when they come
    /// back anyway): a ping is one more round trip, or one more hand-off to SQLite's connection
    /// thread, per request; a connection the database dropped fails its first statement, which
    /// answers 503, and is closed.
    pub async fn connect_with_timeout(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite:// or postgres:// (got {url:?})");
        };
        match backend {
            Backend::Postgres => {
                let options = AnyConnectOptions::from_str(&postgres_url(url))
                    .with_context(|| format!("invalid DATABASE_URL {url:?}"))?;
                let pool = AnyPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(acquire_timeout)
                    .test_before_acquire(false)
                    .connect_with(options)
                    .await
                    .context("cannot connect to PostgreSQL")?;
                Ok(Db {
                    read: pool.clone(),
                    write: pool,
                    backend,
                    group: None,
                })
            }
            Backend::Sqlite => {
                let options = with_sqlite_create(url)
                    .with_context(|| format!("invalid DATABASE_URL {url:?}"))?;
                let write =
                    sqlite_pool(1, acquire_timeout * 6, WRITER_CACHE_KIB, 0, WRITER_PRAGMAS)
                        .connect_with(options.clone())
                        .await
                        .context("cannot open the SQLite database")?;
                let read = sqlite_pool(
                    max_connections.max(2),
                    acquire_timeout,
                    READER_CACHE_KIB,
                    READER_MMAP_BYTES,
                    "",
                )
                .connect_with(options)
                .await
                .context("cannot open the SQLite database")?;
                let committed = writer::Committed::default();
                tokio::spawn(checkpoint_in_background(read.clone(), committed.clone()));
                Ok(Db {
                    group: Some(writer::GroupWriter::spawn(write.clone(), committed)),
                    read,
                    write,
                    backend,
                })
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection for reading (never for writing: see [`Db::transact`]).
    pub async fn read(&self) -> crate::error::Result<Reader> {
        Ok(self.read.acquire().await?)
    }

    /// The readers' pool, for a single statement that reads.
    pub fn reads(&self) -> &AnyPool {
        &self.read
    }

    /// Runs `work` in a write transaction on behalf of `origin` and commits it, with the writes
    /// it deferred; an error rolls everything back. This is the one way to write.
    ///
    /// On SQLite, calls made while the single writer is busy are committed together (group
    /// commit): each runs in a savepoint of its own, and all get their answer once the shared
    /// COMMIT has succeeded. Most of a small transaction's cost there is the pages it writes
    /// at COMMIT (index pages, the ledger's balance rows), which a group writes once.
    pub async fn transact<T, F>(&self, origin: Origin, work: F) -> crate::error::Result<T>
    where
        T: Send + 'static,
        F: for<'t, 'c> FnOnce(&'t mut Tx<'c>) -> BoxFuture<'t, crate::error::Result<T>>
            + Send
            + 'static,
    {
        let job = on_connection(move |conn| {
            Box::pin(async move {
                let mut tx = Tx::new(conn, origin);
                let value = work(&mut tx).await?;
                tx.flush().await?;
                Ok(value)
            })
        });
        match &self.group {
            Some(group) => group.run(job).await,
            None => {
                let mut conn = self.write.acquire().await?;
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                let value = job(&mut tx).await?;
                tx.commit().await?;
                Ok(value)
            }
        }
    }

    /// Applies the migrations this binary holds (at start, and `passnum migrate`).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR
            .run(&self.write)
            .await
            .context("database migration failed")
    }

    /// Copies a live SQLite database into a new file, consistent and compacted (`VACUUM INTO`
    /// runs in one read transaction, so writers may go on). PostgreSQL is backed up with
    /// `pg_dump` instead (see `deploy/backup.sh`).
    pub async fn backup_to(&self, path: &std::path::Path) -> anyhow::Result<()> {
        if self.backend != Backend::Sqlite {
            anyhow::bail!("on PostgreSQL, back up with pg_dump -Fc (see deploy/backup.sh)");
        }
        if path.exists() {
            anyhow::bail!("{} already exists: choose a new file", path.display());
        }
        let target = path
            .to_str()
            .context("the backup path must be valid UTF-8")?;
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&self.read)
            .await
            .with_context(|| format!("cannot write the backup to {target}"))?;
        Ok(())
    }

    /// The writers' pool itself, for the redemption benchmark's floor only: a bare
    /// transaction with no unit of work around it, to measure what the storage alone costs.
    /// The application never writes through it (`.ci/edges` checks `src/`).
    #[doc(hidden)]
    pub fn bench_write_pool(&self) -> &AnyPool {
        &self.write
    }

    /// Closes every connection (a command or a test that is done with this database).
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    /// Whether the database answers and has every migration this binary knows.
    pub async fn ready(&self) -> bool {
        let applied: Result<i64, _> =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.read)
                .await;
        matches!(applied, Ok(n) if n as usize >= MIGRATOR.iter().count())
    }
}

/// Gives a closure over a connection the higher-ranked type the writers take.
fn on_connection<T, F>(work: F) -> F
where
    F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, crate::error::Result<T>>,
{
    work
}

/// `cache_kib`: SQLite's page cache for each connection of the pool; `mmap_bytes`: how much of
/// the file it reads through a memory map instead of a `read` call per page.
fn sqlite_pool(
    max: u32,
    acquire_timeout: Duration,
    cache_kib: u32,
    mmap_bytes: u64,
    extra: &'static str,
) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(acquire_timeout)
        .test_before_acquire(false)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                conn.execute(
                    format!(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                         PRAGMA cache_size = -{cache_kib}; PRAGMA mmap_size = {mmap_bytes}; {extra}"
                    )
                    .as_str(),
                )
                .await?;
                Ok(())
            })
        })
}

/// A reader copies the WAL back into the database file soon after each COMMIT, at most once
/// per [`CHECKPOINT_PACE`], and at least every [`CHECKPOINT_EVERY`] (writes made outside the
/// group writer: migrations, the benches' floor).
const CHECKPOINT_PACE: Duration = Duration::from_millis(2);
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// SQLite copies its write-ahead log back into the database file (a checkpoint: copies and two
/// fsyncs) in whichever transaction commits past 64,000 pages ([`WRITER_PRAGMAS`]), i.e. in
/// the writer, which holds every queued write meanwhile. Here a reader checkpoints in PASSIVE
/// mode, which waits for no one, right after the writer's commits, so that the writer's own
/// checkpoints find little left to copy. Each copy is then small: a redemption over a large
/// table writes some 37 pages to the log (random pages of the cheques and their indexes), and
/// a checkpoint every 50 ms copied and flushed 2,000 of them at once, while the writer's own
/// writes and fsyncs queued behind that flush: one redemption in a hundred waited 20–80 ms at
/// every load (issue 25). Every 2 ms, the p99 at 1, 8 and 64 clients fell from 24 / 39 / 82 ms
/// to 2.0 / 6.7 / 22.6 ms at the same rates (BENCHMARKS.md, run S). The writer keeps its own
/// checkpoints: SQLite only starts the log again from its beginning when a write transaction
/// begins with every frame copied back, and with the background checkpoints alone the WAL grew
/// without bound under a steady load (2.6 GiB after the redemption bench).
async fn checkpoint_in_background(read: AnyPool, committed: writer::Committed) {
    loop {
        let _ = tokio::time::timeout(CHECKPOINT_EVERY, committed.notified()).await;
        if read.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&read)
            .await
        {
            tracing::debug!(error = %e, "background WAL checkpoint skipped");
        }
        tokio::time::sleep(CHECKPOINT_PACE).await;
    }
}

/// The writer's page cache: inserting cheques puts each code at a random place of the codes'
/// index (30 MiB at a million cheques), which SQLite's default 2 MiB cache keeps re-reading.
/// Not larger: at each COMMIT that follows a b-tree split, SQLite walks its whole cache (the
/// split renumbers pages through the lock-byte page, past the file's end), and with 64 MiB
/// that walk cost redemption at 64 clients a quarter of its rate (BENCHMARKS.md, run M).
/// Pages beyond it are read back from the OS's page cache, which bulk issuance hardly feels.
const WRITER_CACHE_KIB: u32 = 16 * 1024;
/// The writer keeps the sub-journal of its savepoints (group commit) in memory rather than in a
/// temporary file, and checkpoints itself only past 64,000 pages (a 256 MiB log): the
/// background checkpoints do the copying, its own let the log start again from its beginning,
/// and each one holds every queued write for its fsyncs (the tail of redemption latency: at
/// 8,000 pages, 8 clients had a p99 of 23–34 ms, at 64,000 6–7 ms; BENCHMARKS.md, run J).
const WRITER_PRAGMAS: &str = "PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 64000;";
/// Readers keep SQLite's default cache, and read the file through a shared memory map (a
/// settlement's statements read a million cheques: 3.2 s instead of 6.9 s).
const READER_CACHE_KIB: u32 = 2 * 1024;
const READER_MMAP_BYTES: u64 = 256 * 1024 * 1024;

/// Statements each PostgreSQL connection keeps prepared. A group of redemptions writes its rows
/// in statements whose text depends on the group's size (1 to 64 requests), five of them per
/// size: with sqlx's default of 100, they pushed each other out and PostgreSQL parsed and
/// planned every group's statements afresh.
const POSTGRES_STATEMENT_CACHE: usize = 1024;

/// How PostgreSQL plans the statements a connection keeps prepared: once, for any values. By
/// default it plans each of a statement's first five executions for their values before
/// settling, and a redemption group's texts, one per group size, seldom run more than a few
/// times each: PostgreSQL spent 13–15 % less CPU per redemption from 8 clients on, and served
/// 7–12 % more; bulk issuance, settlement, reconciliation and the funder's view did not move
/// (BENCHMARKS.md, run AA). The one statement known to want a plan for its values (a cheque's
/// status once led to an index intersection) compares an expression no index matches
/// (`redemption::repo::STATUS`).
const POSTGRES_PLAN_CACHE_MODE: &str = "force_generic_plan";

/// The PostgreSQL URL with this file's defaults; a URL that sets one keeps its own.
fn postgres_url(url: &str) -> String {
    let mut url = url.to_string();
    for (key, param) in [
        (
            "statement-cache-capacity=",
            format!("statement-cache-capacity={POSTGRES_STATEMENT_CACHE}"),
        ),
        (
            "plan_cache_mode",
            format!("options[plan_cache_mode]={POSTGRES_PLAN_CACHE_MODE}"),
        ),
    ] {
        if !url.contains(key) {
            let sep = if url.contains('?') { '&' } else { '?' };
            url = format!("{url}{sep}{param}");
        }
    }
    url
}

/// The embedded default must work with zero set-up: create the file if it is missing.
fn with_sqlite_create(url: &str) -> anyhow::Result<AnyConnectOptions> {
    let url = if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    };
    Ok(AnyConnectOptions::from_str(&url)?)
}

pub use crate::error::is_unique_violation;

pub fn is_postgres(conn: &Conn) -> bool {
    conn.backend_name() == "PostgreSQL"
}

/// Time-ordered (UUIDv7): rows inserted together land on the same index pages, where random
/// ids spread every insert over its own page. Secrets never use these (see `users::random_token`).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The plan SQLite picks for `sql` (its `$N` bound to `binds`) on a fresh, migrated database
/// without statistics, as passnum's are: each step's `detail`.
#[cfg(test)]
pub(crate) async fn sqlite_plan(sql: &str, binds: &[&str]) -> Vec<String> {
    let path = std::env::temp_dir().join(format!("passnum-plan-{}.db", uuid::Uuid::new_v4()));
    let db = Db::connect(&format!("sqlite://{}", path.display()), 2)
        .await
        .expect("a scratch database");
    db.migrate().await.expect("migrations");
    let explain = format!("EXPLAIN QUERY PLAN {sql}");
    let mut plan = sqlx::query(&explain);
    for value in binds {
        plan = plan.bind(*value);
    }
    let details = plan
        .fetch_all(db.reads())
        .await
        .expect("a plan")
        .iter()
        .map(|row| sqlx::Row::get::<String, _>(row, "detail"))
        .collect();
    drop(db);
    let _ = std::fs::remove_file(&path);
    details
}

#[cfg(test)]
mod url_tests {
    use super::postgres_url;

    #[test]
    fn a_postgres_url_gets_the_defaults_it_does_not_set() {
        assert_eq!(
            postgres_url("postgres://u@h/db"),
            "postgres://u@h/db?statement-cache-capacity=1024\
             &options[plan_cache_mode]=force_generic_plan"
        );
        assert_eq!(
            postgres_url("postgres://u@h/db?sslmode=disable&options[plan_cache_mode]=auto"),
            "postgres://u@h/db?sslmode=disable&options[plan_cache_mode]=auto\
             &statement-cache-capacity=1024"
        );
    }
}
