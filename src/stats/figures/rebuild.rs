//! Counting every figure again from the rows themselves.

use super::carnets::{
    carnet_row, carnet_uses, live_uses, transition, write_carnet_uses, CarnetUses, Mark,
};
use super::Changes;
use crate::db::{Batch, Conn, Slot};
use crate::error::Result;
use sqlx::Row;
use std::collections::BTreeMap;

/// Carnets read and written together by [`rebuild`].
const CARNETS_AT_ONCE: i64 = 2_000;

/// Counts every figure again from the rows themselves (carnets, redemptions, answers, ledger
/// transactions), replacing what was kept.
pub async fn rebuild(conn: &mut Conn) -> Result<()> {
    // Closed months are counted again by the next `super::super::close_months`.
    for table in [
        "figure_cells",
        "figure_people",
        "carnet_uses",
        "figure_closed_months",
        "figure_month_people",
    ] {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut *conn)
            .await?;
    }
    let mut changes = Changes::default();
    // Events are grouped by the hour in SQL: Paris days begin on the hour.
    let hour = |h: &str| format!("{h}:00:00Z");
    let carnets = sqlx::query(
        "SELECT program_id, distributor_id, SUBSTR(created_at, 1, 13) AS made, \
                COALESCE(SUBSTR(activated_at, 1, 13), '') AS handed, COUNT(*) AS n \
         FROM passes GROUP BY program_id, distributor_id, SUBSTR(created_at, 1, 13), \
                  COALESCE(SUBSTR(activated_at, 1, 13), '')",
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in &carnets {
        let (program, distributor): (String, String) =
            (r.try_get("program_id")?, r.try_get("distributor_id")?);
        let (made, handed, n): (String, String, i64) =
            (r.try_get("made")?, r.try_get("handed")?, r.try_get("n")?);
        changes.issued(&program, &distributor, &hour(&made), n);
        if !handed.is_empty() {
            changes.handed_out(&program, &distributor, &hour(&handed), n);
        }
    }
    let answers = sqlx::query(
        "SELECT o.program_id, p.distributor_id, COALESCE(o.place_id, '') AS place_id, \
                o.overall, o.created_at \
         FROM opinions o JOIN passes p ON p.id = o.pass_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in &answers {
        changes.answered(
            &r.try_get::<String, _>("program_id")?,
            &r.try_get::<String, _>("distributor_id")?,
            &r.try_get::<String, _>("place_id")?,
            &r.try_get::<String, _>("created_at")?,
            r.try_get("overall")?,
        );
    }
    let money = sqlx::query(
        "SELECT program_id, kind, SUBSTR(created_at, 1, 13) AS h, \
                CAST(SUM(amount_cents) AS BIGINT) AS cents \
         FROM ledger_transactions WHERE program_id IS NOT NULL \
         GROUP BY program_id, kind, SUBSTR(created_at, 1, 13)",
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in &money {
        changes.moved(
            &r.try_get::<String, _>("program_id")?,
            &r.try_get::<String, _>("kind")?,
            &hour(&r.try_get::<String, _>("h")?),
            r.try_get("cents")?,
        );
    }
    // The carnets a few thousand at a time, in the order of their ids: what is held in memory
    // and written at once stays the same whatever the number of cheques.
    let mut after_id = String::new();
    loop {
        let carnets: Vec<(String, i64)> =
            sqlx::query_as("SELECT id, cheques FROM passes WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(&after_id)
                .bind(CARNETS_AT_ONCE)
                .fetch_all(&mut *conn)
                .await?;
        let (Some((first, _)), Some((last, _))) = (carnets.first(), carnets.last()) else {
            break;
        };
        let sizes: BTreeMap<&str, i64> = carnets.iter().map(|(id, n)| (id.as_str(), *n)).collect();
        let uses = live_uses(conn, first, last).await?;
        let mut rows = Vec::new();
        for carnet in uses.chunk_by(|a, b| a.pass_id == b.pass_id) {
            for u in carnet {
                changes.use_cells(u, 1);
            }
            let (pass_id, program_id) = (&carnet[0].pass_id, &carnet[0].program_id);
            let distributor_id = &carnet[0].distributor_id;
            let cheques = sizes.get(pass_id.as_str()).copied().unwrap_or(i64::MAX);
            let marks: Vec<Mark> = carnet.iter().map(Mark::of).collect();
            let after = carnet_uses(distributor_id, &marks);
            transition(
                &mut changes,
                program_id,
                cheques,
                &CarnetUses::new(),
                &after,
            );
            rows.push(carnet_row(
                pass_id,
                program_id,
                distributor_id,
                cheques,
                &marks,
            ));
        }
        let mut batch = Batch::new(conn);
        write_carnet_uses(&mut batch, rows);
        batch.execute(conn).await?;
        after_id = last.clone();
    }
    let mut batch = Batch::new(conn);
    changes.write(&mut batch, Slot::Lane(0));
    batch.execute(conn).await
}

/// Counts the figures again if a migration asked for it (see `migrations/0037_figures.sql`).
pub async fn rebuild_if_pending(db: &crate::db::Db) -> Result<()> {
    // Read first: another process may be writing to the same database (a SQLite file).
    let pending: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM figures_rebuild")
        .fetch_one(db.reads())
        .await?;
    if pending == 0 {
        return Ok(());
    }
    db.transact(crate::db::Origin::platform(), |tx| {
        Box::pin(async move {
            let pending: i64 =
                sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM figures_rebuild")
                    .fetch_one(&mut **tx)
                    .await?;
            if pending > 0 {
                rebuild(tx).await?;
                sqlx::query("DELETE FROM figures_rebuild")
                    .execute(&mut **tx)
                    .await?;
            }
            Ok(())
        })
    })
    .await
}
