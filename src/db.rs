//! The storage edge: one code base over SQLite (embedded default) and PostgreSQL through sqlx's
//! `Any` driver. Columns keep to integers and text so both behave the same.

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;
pub type Conn = sqlx::AnyConnection;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Writes go through `write`, reads through `read`. On SQLite `write` holds a single connection:
/// SQLite has one writer at a time, and queueing in the pool is fairer and faster than letting
/// connections spin on SQLITE_BUSY. On PostgreSQL both are the same pool.
#[derive(Clone)]
pub struct Db {
    pub read: AnyPool,
    pub write: AnyPool,
    pub backend: Backend,
}

impl Db {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite:// or postgres:// (got {url:?})");
        };
        let options = AnyConnectOptions::from_str(url)
            .with_context(|| format!("invalid DATABASE_URL {url:?}"))?;
        let acquire_timeout = Duration::from_secs(5);
        match backend {
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(acquire_timeout)
                    .connect_with(options)
                    .await
                    .context("cannot connect to PostgreSQL")?;
                Ok(Db {
                    read: pool.clone(),
                    write: pool,
                    backend,
                })
            }
            Backend::Sqlite => {
                let options = with_sqlite_create(url)?;
                let write = sqlite_pool(1, acquire_timeout * 6)
                    .connect_with(options.clone())
                    .await
                    .context("cannot open the SQLite database")?;
                let read = sqlite_pool(max_connections.max(2), acquire_timeout)
                    .connect_with(options)
                    .await
                    .context("cannot open the SQLite database")?;
                Ok(Db {
                    read,
                    write,
                    backend,
                })
            }
        }
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR
            .run(&self.write)
            .await
            .context("database migration failed")
    }

    pub async fn begin(&self) -> crate::error::Result<Tx> {
        Ok(self.write.begin().await?)
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

fn sqlite_pool(max: u32, acquire_timeout: Duration) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(acquire_timeout)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                )
                .await?;
                Ok(())
            })
        })
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

/// Whether a failed statement broke a UNIQUE constraint, so callers can turn it into a 409.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation)
                || matches!(db.code().as_deref(), Some("23505" | "2067" | "1555"))
        }
        _ => false,
    }
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
