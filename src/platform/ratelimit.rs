//! Counts attempts per key (an address, a site, an account) over a fixed window, so that
//! guessing codes or passwords hits 429 long before it could succeed.
//!
//! On PostgreSQL the counters live in the database, so several instances behind a load
//! balancer share them (and a restart forgets nothing). SQLite serves from one process, so it
//! counts in memory and keeps its single writer for the work that matters.

use crate::db::{Backend, Db};
use crate::error::Result;
use jiff::Timestamp;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

pub struct RateLimiter {
    /// Keeps the limiters' keys apart in the shared table.
    name: &'static str,
    limit: u32,
    window_secs: i64,
    store: Store,
}

enum Store {
    Memory(Mutex<HashMap<String, (i64, i64)>>),
    Shared(Db),
}

impl RateLimiter {
    pub fn new(name: &'static str, limit: u32, window_secs: u64, db: &Db) -> Self {
        let store = match db.backend() {
            Backend::Postgres => Store::Shared(db.clone()),
            Backend::Sqlite => Store::Memory(Mutex::new(HashMap::new())),
        };
        Self {
            name,
            limit,
            window_secs: window_secs.max(1) as i64,
            store,
        }
    }

    fn window_start(&self, now: Timestamp) -> i64 {
        now.as_second() - now.as_second().rem_euclid(self.window_secs)
    }

    fn retry_after(&self, now: Timestamp) -> u64 {
        (self.window_start(now) + self.window_secs - now.as_second()).max(1) as u64
    }

    fn shared_key(&self, key: &str) -> String {
        format!("{}:{key}", self.name)
    }

    /// Refuses (429) if any of `keys` already used up its window, without counting.
    pub async fn check<'c, E>(&self, read: E, keys: &[String], now: Timestamp) -> Result<()>
    where
        E: sqlx::Executor<'c, Database = sqlx::Any>,
    {
        match self.blocked(read, keys, now).await? {
            Some(retry_after_secs) => Err(crate::error::Error::RateLimited { retry_after_secs }),
            None => Ok(()),
        }
    }

    /// Counts one attempt under each of `keys` and refuses (429) past the limit.
    pub async fn count(&self, keys: &[String], now: Timestamp) -> Result<()> {
        match self.record(keys, now).await? {
            Some(retry_after_secs) => Err(crate::error::Error::RateLimited { retry_after_secs }),
            None => Ok(()),
        }
    }

    /// Seconds to wait if any of `keys` already used up its window, without counting. The
    /// shared counters are read through `read` (the pool, or a connection the request holds).
    pub async fn blocked<'c, E>(
        &self,
        read: E,
        keys: &[String],
        now: Timestamp,
    ) -> Result<Option<u64>>
    where
        E: sqlx::Executor<'c, Database = sqlx::Any>,
    {
        let mut blocked = Self::blocked_each_of(read, &[(self, &[keys.to_vec()])], now).await?;
        Ok(blocked.pop().flatten())
    }

    /// [`RateLimiter::blocked`] for the keys of several requests, in one query.
    pub async fn blocked_each<'c, E>(
        &self,
        read: E,
        keys: &[Vec<String>],
        now: Timestamp,
    ) -> Result<Vec<Option<u64>>>
    where
        E: sqlx::Executor<'c, Database = sqlx::Any>,
    {
        Self::blocked_each_of(read, &[(self, keys)], now).await
    }

    /// [`RateLimiter::blocked_each`] for several limiters over the same requests (each
    /// limiter's `keys[i]` are the i-th request's), in one query for all: for each request, the
    /// longest wait any of them asks.
    pub async fn blocked_each_of<'c, E>(
        read: E,
        limiters: &[(&RateLimiter, &[Vec<String>])],
        now: Timestamp,
    ) -> Result<Vec<Option<u64>>>
    where
        E: sqlx::Executor<'c, Database = sqlx::Any>,
    {
        let asked: Vec<(&RateLimiter, Vec<&String>)> = limiters
            .iter()
            .map(|(limiter, keys)| (*limiter, keys.iter().flatten().collect()))
            .collect();
        let used_up = used_up(read, &asked, now).await?;
        let requests = limiters.iter().map(|(_, keys)| keys.len()).max();
        Ok((0..requests.unwrap_or(0))
            .map(|i| {
                limiters
                    .iter()
                    .zip(&used_up)
                    .filter(|((_, keys), used_up)| {
                        keys.get(i)
                            .is_some_and(|keys| keys.iter().any(|k| used_up.contains(k)))
                    })
                    .map(|((limiter, _), _)| limiter.retry_after(now))
                    .max()
            })
            .collect())
    }

    /// Counts one attempt for each of `keys`; says how long to wait if one is now over its
    /// limit. The count and the answer are one atomic step, so concurrent attempts from
    /// several instances cannot all slip under the limit.
    pub async fn record(&self, keys: &[String], now: Timestamp) -> Result<Option<u64>> {
        let start = self.window_start(now);
        let mut highest = 0;
        match &self.store {
            Store::Memory(windows) => {
                let mut windows = windows.lock().unwrap_or_else(|e| e.into_inner());
                if windows.len() > 100_000 {
                    // Old windows only matter until they end: drop them rather than grow.
                    windows.retain(|_, (s, _)| *s == start);
                }
                for key in keys {
                    let entry = windows.entry(key.clone()).or_insert((start, 0));
                    if entry.0 != start {
                        *entry = (start, 0);
                    }
                    entry.1 = entry.1.saturating_add(1);
                    highest = highest.max(entry.1);
                }
            }
            Store::Shared(db) => {
                let keys: Vec<String> = keys.iter().map(|k| self.shared_key(k)).collect();
                highest = db
                    .transact(crate::db::Origin::platform(), move |tx| {
                        Box::pin(async move {
                            let mut highest = 0;
                            for key in keys {
                                // SET reads the row's old values, so the window test sees the
                                // stored one.
                                let hits: i64 = sqlx::query_scalar(
                                    "INSERT INTO rate_limits (key, window_start, hits) \
                                     VALUES ($1, $2, 1) ON CONFLICT (key) DO UPDATE SET \
                                     hits = CASE WHEN rate_limits.window_start = \
                                     excluded.window_start THEN rate_limits.hits + 1 ELSE 1 END, \
                                     window_start = excluded.window_start RETURNING hits",
                                )
                                .bind(key)
                                .bind(start)
                                .fetch_one(&mut **tx)
                                .await?;
                                highest = highest.max(hits);
                            }
                            Ok(highest)
                        })
                    })
                    .await?;
            }
        }
        Ok((highest > i64::from(self.limit)).then(|| self.retry_after(now)))
    }

    /// Gives back one attempt [`RateLimiter::record`] counted under each of `keys` in this
    /// window: for limits on failures only, an attempt is counted before it is known to fail
    /// (so that attempts sent at once cannot pass the limit together), and given back when it
    /// succeeds.
    pub async fn give_back(&self, keys: &[String], now: Timestamp) -> Result<()> {
        let start = self.window_start(now);
        match &self.store {
            Store::Memory(windows) => {
                let mut windows = windows.lock().unwrap_or_else(|e| e.into_inner());
                for key in keys {
                    if let Some(entry) = windows.get_mut(key) {
                        if entry.0 == start && entry.1 > 0 {
                            entry.1 -= 1;
                        }
                    }
                }
            }
            Store::Shared(db) => {
                let keys: Vec<String> = keys.iter().map(|k| self.shared_key(k)).collect();
                db.transact(crate::db::Origin::platform(), move |tx| {
                    Box::pin(async move {
                        for key in keys {
                            sqlx::query(
                                "UPDATE rate_limits SET hits = hits - 1 \
                                 WHERE key = $1 AND window_start = $2 AND hits > 0",
                            )
                            .bind(key)
                            .bind(start)
                            .execute(&mut **tx)
                            .await?;
                        }
                        Ok(())
                    })
                })
                .await?;
            }
        }
        Ok(())
    }
}

/// Forgets the shared counters whose window has ended (the hourly job calls it).
pub async fn purge(db: &Db, window_secs: u64, now: Timestamp) -> Result<u64> {
    if db.backend() != Backend::Postgres {
        return Ok(0);
    }
    let before = now.as_second() - window_secs.max(1) as i64;
    db.transact(crate::db::Origin::platform(), move |tx| {
        Box::pin(async move {
            let done = sqlx::query("DELETE FROM rate_limits WHERE window_start <= $1")
                .bind(before)
                .execute(&mut **tx)
                .await?;
            Ok(done.rows_affected())
        })
    })
    .await
}

/// For each limiter, which of its keys already used up their window: the shared counters of
/// them all in one round trip, since this runs before every redemption.
async fn used_up<'c, E>(
    read: E,
    asked: &[(&RateLimiter, Vec<&String>)],
    now: Timestamp,
) -> Result<Vec<HashSet<String>>>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let mut found: Vec<HashSet<String>> = vec![HashSet::new(); asked.len()];
    // Per limiter counted in the database: its window, its limit and its keys as stored.
    let mut shared: Vec<(i64, i64, Vec<String>)> = Vec::new();
    // A stored key (it carries its limiter's name): which limiter asked, under which key.
    let mut owners: HashMap<String, (usize, &String)> = HashMap::new();
    for (i, (limiter, keys)) in asked.iter().enumerate() {
        let start = limiter.window_start(now);
        let limit = i64::from(limiter.limit);
        match &limiter.store {
            Store::Memory(windows) => {
                let windows = windows.lock().unwrap_or_else(|e| e.into_inner());
                found[i] = keys
                    .iter()
                    .filter(|k| {
                        windows
                            .get(**k)
                            .is_some_and(|&(s, n)| s == start && n >= limit)
                    })
                    .map(|k| k.to_string())
                    .collect();
            }
            Store::Shared(_) => {
                let mut stored = Vec::new();
                for key in keys {
                    let as_stored = limiter.shared_key(key);
                    if owners.insert(as_stored.clone(), (i, *key)).is_none() {
                        stored.push(as_stored);
                    }
                }
                if !stored.is_empty() {
                    shared.push((start, limit, stored));
                }
            }
        }
    }
    if shared.is_empty() {
        return Ok(found);
    }
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    let clauses: Vec<String> = shared
        .iter()
        .map(|(_, _, keys)| {
            let (start, limit) = (next(), next());
            let list: Vec<String> = keys.iter().map(|_| next()).collect();
            format!(
                "(window_start = {start} AND hits >= {limit} AND key IN ({}))",
                list.join(", ")
            )
        })
        .collect();
    let sql = format!("SELECT key FROM rate_limits WHERE {}", clauses.join(" OR "));
    let mut query = sqlx::query_scalar::<_, String>(&sql);
    for (start, limit, keys) in &shared {
        query = query.bind(*start).bind(*limit);
        for key in keys {
            query = query.bind(key.clone());
        }
    }
    for stored in query.fetch_all(read).await? {
        if let Some((i, key)) = owners.get(&stored) {
            found[*i].insert(key.to_string());
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_attempt_past_the_limit_waits_for_the_next_window() {
        let limiter = RateLimiter {
            name: "test",
            limit: 2,
            window_secs: 600,
            store: Store::Memory(Mutex::new(HashMap::new())),
        };
        let keys = ["ip:1".to_string()];
        let now: Timestamp = "2026-03-02T11:00:30Z".parse().unwrap();
        // Counting in memory reads nothing: a pool that never connects will do.
        sqlx::any::install_default_drivers();
        let db = sqlx::any::AnyPoolOptions::new()
            .connect_lazy("sqlite::memory:")
            .unwrap();
        assert_eq!(limiter.record(&keys, now).await.unwrap(), None);
        assert_eq!(limiter.blocked(&db, &keys, now).await.unwrap(), None);
        assert_eq!(limiter.record(&keys, now).await.unwrap(), None);
        assert_eq!(limiter.blocked(&db, &keys, now).await.unwrap(), Some(570));
        assert_eq!(limiter.record(&keys, now).await.unwrap(), Some(570));
        let later = now + jiff::SignedDuration::from_secs(600);
        assert_eq!(limiter.blocked(&db, &keys, later).await.unwrap(), None);
    }
}
