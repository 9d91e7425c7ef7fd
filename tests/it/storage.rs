//! The storage edge itself: concurrent write transactions (committed together on SQLite) keep
//! their own outcome, and a batch of writes goes in whole — on both databases.

use crate::common;

use common::{fresh_database, Backend};
use passnum::db::{Batch, Db, Param, P};
use passnum::error::Error;
use std::sync::Arc;

on_both_databases!(
    concurrent_transactions_keep_their_own_outcome,
    a_panicking_transaction_fails_alone_and_writing_goes_on,
    a_batch_writes_all_its_parts_or_none,
    a_transaction_nobody_waits_for_is_not_run,
    postgresql_plans_each_prepared_statement_once,
);

async fn db(backend: Backend) -> Option<Db> {
    let url = fresh_database(backend).await?;
    let db = Db::connect(&url, 8).await.expect("connects");
    db.transact(passnum::db::Origin::platform(), |tx| {
        Box::pin(async move {
            sqlx::query("CREATE TABLE t (id BIGINT PRIMARY KEY, note TEXT NOT NULL)")
                .execute(&mut **tx)
                .await?;
            Ok(())
        })
    })
    .await
    .expect("table");
    Some(db)
}

async fn ids(db: &Db) -> Vec<i64> {
    sqlx::query_scalar("SELECT id FROM t ORDER BY id")
        .fetch_all(db.reads())
        .await
        .expect("ids")
}

/// Every third transaction writes, then fails: its rows must be gone, the others' kept, even
/// when they shared a COMMIT.
async fn concurrent_transactions_keep_their_own_outcome(backend: Backend) {
    let Some(db) = db(backend).await else {
        return;
    };
    let db = Arc::new(db);
    let tasks: Vec<_> = (0..300i64)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                db.transact(passnum::db::Origin::platform(), move |conn| {
                    Box::pin(async move {
                        sqlx::query("INSERT INTO t (id, note) VALUES ($1, 'first')")
                            .bind(i)
                            .execute(&mut **conn)
                            .await?;
                        sqlx::query("INSERT INTO t (id, note) VALUES ($1, 'second')")
                            .bind(i + 10_000)
                            .execute(&mut **conn)
                            .await?;
                        if i % 3 == 0 {
                            return Err(Error::conflict("refused", "refusée"));
                        }
                        Ok(i)
                    })
                })
                .await
            })
        })
        .collect();
    let mut ok = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await.expect("task") {
            Ok(n) => {
                assert_eq!(n, i as i64);
                ok.push(n);
            }
            Err(e) => assert_eq!(e.code(), "refused", "{i}: {e}"),
        }
    }
    let expected: Vec<i64> = (0..300).filter(|i| i % 3 != 0).collect();
    assert_eq!(ok, expected);
    let mut stored: Vec<i64> = expected.clone();
    stored.extend(expected.iter().map(|i| i + 10_000));
    assert_eq!(ids(&db).await, stored);
}

/// A transaction that panics gets no answer (503), nothing of it is stored, and the writer
/// goes on serving the next ones.
async fn a_panicking_transaction_fails_alone_and_writing_goes_on(backend: Backend) {
    let Some(db) = db(backend).await else {
        return;
    };
    let db = Arc::new(db);
    let tasks: Vec<_> = (0..50i64)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                db.transact(passnum::db::Origin::platform(), move |conn| {
                    Box::pin(async move {
                        sqlx::query("INSERT INTO t (id, note) VALUES ($1, 'x')")
                            .bind(i)
                            .execute(&mut **conn)
                            .await?;
                        if i == 25 {
                            panic!("a bug in one transaction");
                        }
                        Ok(())
                    })
                })
                .await
            })
        })
        .collect();
    let mut refused = 0;
    for task in tasks {
        // On PostgreSQL the panic unwinds into the caller's task instead.
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                assert_eq!(e.status().as_u16(), 503, "{e}");
                refused += 1;
            }
            Err(join) => {
                assert!(join.is_panic());
                refused += 1;
            }
        }
    }
    assert!(refused >= 1);
    let stored = ids(&db).await;
    assert!(!stored.contains(&25));
    assert_eq!(stored.len(), 50 - refused, "{stored:?}");
    let after = db
        .transact(passnum::db::Origin::platform(), |conn| {
            Box::pin(async move {
                sqlx::query("INSERT INTO t (id, note) VALUES (1000, 'after')")
                    .execute(&mut **conn)
                    .await?;
                Ok(())
            })
        })
        .await;
    assert!(after.is_ok(), "{after:?}");
}

/// A batch's parts go in together; a part that breaks a constraint takes the others with it.
async fn a_batch_writes_all_its_parts_or_none(backend: Backend) {
    let Some(db) = db(backend).await else {
        return;
    };
    let write = |rows: Vec<(i64, &'static str)>, extra: Option<i64>| {
        db.transact(passnum::db::Origin::platform(), move |conn| {
            Box::pin(async move {
                let mut batch = Batch::new(conn);
                batch.push_rows(
                    "INSERT INTO t (id, note)",
                    "",
                    rows.into_iter()
                        .map(|(id, note)| vec![Param::from(id), note.into()])
                        .collect(),
                );
                if let Some(id) = extra {
                    batch.push(
                        format!("INSERT INTO t (id, note) VALUES ({P}, {P})"),
                        vec![id.into(), "extra".into()],
                    );
                }
                batch.execute(conn).await
            })
        })
    };
    // Large enough to be split in several parts (and statements on PostgreSQL).
    let many: Vec<(i64, &str)> = (0..20_000).map(|i| (i, "many")).collect();
    write(many, Some(50_000)).await.expect("batch");
    assert_eq!(ids(&db).await.len(), 20_001);
    // Row 7 exists: the whole batch is refused, row 60,000 is not written.
    let refused = write(vec![(60_000, "new")], Some(7)).await;
    assert!(
        refused.as_ref().is_err_and(Error::is_unique_violation),
        "{refused:?}"
    );
    assert_eq!(ids(&db).await.len(), 20_001);
}

/// A write whose caller gave up (its request timed out, its client left) while it waited for
/// the writer does not happen later behind its back.
async fn a_transaction_nobody_waits_for_is_not_run(backend: Backend) {
    // PostgreSQL runs these two writes side by side: only SQLite's writer makes one wait.
    if backend == Backend::Postgres {
        return;
    }
    let Some(db) = db(backend).await else {
        return;
    };
    let db = Arc::new(db);
    let busy = {
        let db = db.clone();
        tokio::spawn(async move {
            db.transact(passnum::db::Origin::platform(), |conn| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO t (id, note) VALUES (1, 'slow')")
                        .execute(&mut **conn)
                        .await?;
                    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
                    Ok(())
                })
            })
            .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let given_up = tokio::time::timeout(
        std::time::Duration::from_millis(50),
        db.transact(passnum::db::Origin::platform(), |conn| {
            Box::pin(async move {
                sqlx::query("INSERT INTO t (id, note) VALUES (2, 'abandoned')")
                    .execute(&mut **conn)
                    .await?;
                Ok(())
            })
        }),
    )
    .await;
    assert!(
        given_up.is_err(),
        "the second write should still be waiting"
    );
    busy.await.expect("task").expect("the first write commits");
    // Whatever the writer does next, the abandoned write must not appear.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(ids(&db).await, vec![1]);
}

/// PostgreSQL plans a kept statement once for any values (`db::POSTGRES_PLAN_CACHE_MODE`): the
/// option reaches the server (sqlx only warns of a URL parameter it does not know).
async fn postgresql_plans_each_prepared_statement_once(backend: Backend) {
    if backend != Backend::Postgres {
        return;
    }
    let Some(db) = db(backend).await else {
        return;
    };
    let mode: String = sqlx::query_scalar("SELECT current_setting('plan_cache_mode')")
        .fetch_one(db.reads())
        .await
        .expect("the setting");
    assert_eq!(mode, "force_generic_plan");
}
