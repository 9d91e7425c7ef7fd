//! Each carnet's uses per group (`carnet_uses`): the people it counts in, and when it was
//! started and finished, as cheques are used and given back.

use super::{Changes, Figures, Use, DISTRIBUTOR, GROUPS};
use crate::db::{Batch, Conn, Param, Tx};
use crate::error::Result;
use sqlx::Row;
use std::collections::BTreeMap;

/// A carnet's live uses in one group: how many, the first and the last.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct GroupUse {
    live: i64,
    first_at: String,
    last_at: String,
}

impl GroupUse {
    fn with(&mut self, at: &str) {
        if self.live == 0 || at < self.first_at.as_str() {
            self.first_at = at.to_string();
        }
        if self.live == 0 || at > self.last_at.as_str() {
            self.last_at = at.to_string();
        }
        self.live += 1;
    }
}

/// Where a carnet was used: by group.
pub(super) type CarnetUses = BTreeMap<(&'static str, String), GroupUse>;

pub(super) fn carnet_uses(uses: &[Use]) -> CarnetUses {
    let mut out = CarnetUses::new();
    for u in uses {
        for group in u.groups() {
            out.entry(group).or_default().with(&u.at);
        }
    }
    out
}

/// The changes to people, and to carnets started and finished, when a carnet's uses go from
/// `before` to `after`: it counts in a group's people while it has a live use there, is
/// started on its first live use and finished on its last when all `cheques` are used.
pub(super) fn transition(
    changes: &mut Changes,
    program_id: &str,
    cheques: i64,
    before: &CarnetUses,
    after: &CarnetUses,
) {
    let empty = GroupUse::default();
    let mut groups: Vec<&(&'static str, String)> = before.keys().chain(after.keys()).collect();
    groups.sort();
    groups.dedup();
    for group @ (dimension, key) in groups {
        let (b, a) = (
            before.get(group).unwrap_or(&empty),
            after.get(group).unwrap_or(&empty),
        );
        match (b.live > 0, a.live > 0) {
            (false, true) => changes.person(program_id, dimension, key, 1),
            (true, false) => changes.person(program_id, dimension, key, -1),
            _ => {}
        }
        if *dimension != DISTRIBUTOR {
            continue;
        }
        for (state, sign) in [(b, -1), (a, 1)] {
            if state.live > 0 {
                let started = Figures {
                    started: 1,
                    ..Figures::default()
                };
                changes.carnet(program_id, key, &state.first_at, started, sign);
            }
            if state.live >= cheques && state.live > 0 {
                let finished = Figures {
                    finished: 1,
                    ..Figures::default()
                };
                changes.carnet(program_id, key, &state.last_at, finished, sign);
            }
        }
    }
}

/// Cheques used (the redemption rows written with them), `cheques` the size of each carnet
/// by id: adds their sums, and the people, carnets started and finished they make, to the
/// transaction's deferred writes. Each carnet's uses are counted in one statement that
/// answers the new counts, so that concurrent transactions on one carnet (which wait for each
/// other on its rows) never both count it as new.
pub(crate) async fn used(
    tx: &mut Tx<'_>,
    uses: &[Use],
    cheques: &BTreeMap<String, i64>,
) -> Result<()> {
    if uses.is_empty() {
        return Ok(());
    }
    let mut changes = Changes::default();
    let mut by_carnet: BTreeMap<&str, Vec<Use>> = BTreeMap::new();
    for u in uses {
        changes.use_cells(u, 1);
        by_carnet.entry(&u.pass_id).or_default().push(u.clone());
    }
    let mut added: Vec<(&str, &str, (&'static str, String), GroupUse)> = Vec::new();
    for (pass_id, list) in &by_carnet {
        let program_id = &list[0].program_id;
        for (group, uses) in carnet_uses(list) {
            added.push((pass_id, program_id, group, uses));
        }
    }
    let postgres = crate::db::is_postgres(tx);
    for chunk in added.chunks(200) {
        // SQLite looks `$N` up by name, in time quadratic in their number: `?` there.
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let marks: Vec<String> = (1..=8)
                    .map(|k| {
                        if postgres {
                            format!("${}", i * 8 + k)
                        } else {
                            "?".to_string()
                        }
                    })
                    .collect();
                format!("({})", marks.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO carnet_uses (pass_id, dimension, key, program_id, cheques, live, \
               first_at, last_at) VALUES {} \
             ON CONFLICT (pass_id, dimension, key) DO UPDATE SET \
               live = carnet_uses.live + excluded.live, \
               first_at = CASE WHEN carnet_uses.live <= 0 OR carnet_uses.first_at IS NULL \
                               OR excluded.first_at < carnet_uses.first_at \
                          THEN excluded.first_at ELSE carnet_uses.first_at END, \
               last_at = CASE WHEN carnet_uses.live <= 0 OR carnet_uses.last_at IS NULL \
                              OR excluded.last_at > carnet_uses.last_at \
                         THEN excluded.last_at ELSE carnet_uses.last_at END \
             RETURNING pass_id, dimension, key, program_id, cheques, live, first_at, last_at",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (pass_id, program_id, (dimension, key), group) in chunk {
            query = query
                .bind(pass_id.to_string())
                .bind(dimension.to_string())
                .bind(key.clone())
                .bind(program_id.to_string())
                .bind(cheques.get(*pass_id).copied().unwrap_or(i64::MAX))
                .bind(group.live)
                .bind(group.first_at.clone())
                .bind(group.last_at.clone());
        }
        let rows = query.fetch_all(&mut **tx).await?;
        let count: BTreeMap<(&str, &str, &str), i64> = chunk
            .iter()
            .map(|(pass, _, (dimension, key), g)| ((*pass, *dimension, key.as_str()), g.live))
            .collect();
        for row in rows {
            let (pass_id, dimension, key): (String, String, String) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            let program_id: String = row.try_get(3)?;
            let carnet: i64 = row.try_get(4)?;
            let live: i64 = row.try_get(5)?;
            let added = count
                .get(&(pass_id.as_str(), dimension.as_str(), key.as_str()))
                .copied()
                .unwrap_or(0);
            let Some(dimension) = GROUPS.iter().copied().find(|g| *g == dimension) else {
                continue;
            };
            let now = GroupUse {
                live,
                first_at: row.try_get::<Option<String>, _>(6)?.unwrap_or_default(),
                last_at: row.try_get::<Option<String>, _>(7)?.unwrap_or_default(),
            };
            // Before, as far as people and events go: as many uses fewer, with the same first
            // use unless there was none (and not finished: it had cheques left).
            let before = GroupUse {
                live: live - added,
                ..now.clone()
            };
            let group = (dimension, key);
            let before: CarnetUses = [(group.clone(), before)].into();
            let after: CarnetUses = [(group, now)].into();
            transition(&mut changes, &program_id, carnet, &before, &after);
        }
    }
    let slot = tx.slot();
    changes.write(tx.deferred(), slot);
    Ok(())
}

/// Cheques given back (their redemptions undone): takes their sums away, and counts their
/// carnets' people, starts and finishes again from the carnets' remaining uses.
pub(crate) async fn given_back(tx: &mut Tx<'_>, undone: &[Use]) -> Result<()> {
    let mut changes = Changes::default();
    let mut carnets: BTreeMap<&str, &str> = BTreeMap::new();
    for u in undone {
        changes.use_cells(u, -1);
        carnets.insert(&u.pass_id, &u.program_id);
    }
    for (pass_id, program_id) in carnets {
        let cheques: i64 = sqlx::query_scalar("SELECT cheques FROM passes WHERE id = $1")
            .bind(pass_id)
            .fetch_one(&mut **tx)
            .await?;
        let rows = sqlx::query(
            "SELECT dimension, key, live, first_at, last_at FROM carnet_uses WHERE pass_id = $1",
        )
        .bind(pass_id)
        .fetch_all(&mut **tx)
        .await?;
        let mut before = CarnetUses::new();
        for r in &rows {
            let dimension: String = r.try_get("dimension")?;
            let Some(dimension) = GROUPS.iter().copied().find(|g| *g == dimension) else {
                continue;
            };
            before.insert(
                (dimension, r.try_get("key")?),
                GroupUse {
                    live: r.try_get("live")?,
                    first_at: r
                        .try_get::<Option<String>, _>("first_at")?
                        .unwrap_or_default(),
                    last_at: r
                        .try_get::<Option<String>, _>("last_at")?
                        .unwrap_or_default(),
                },
            );
        }
        let live = live_uses(tx, pass_id, pass_id).await?;
        let after = carnet_uses(&live);
        transition(&mut changes, program_id, cheques, &before, &after);
        // Now rather than deferred: PostgreSQL runs deferred writes as one statement, whose
        // parts do not see each other's rows.
        sqlx::query("DELETE FROM carnet_uses WHERE pass_id = $1")
            .bind(pass_id)
            .execute(&mut **tx)
            .await?;
        let mut batch = Batch::new(tx);
        write_carnet_uses(
            &mut batch,
            carnet_uses_rows(pass_id, program_id, cheques, &after),
        );
        batch.execute(tx).await?;
    }
    let slot = tx.slot();
    changes.write(tx.deferred(), slot);
    Ok(())
}

pub(super) fn write_carnet_uses(batch: &mut Batch, rows: Vec<Vec<Param>>) {
    batch.push_rows(
        "INSERT INTO carnet_uses (pass_id, dimension, key, program_id, cheques, live, first_at, \
         last_at)",
        "",
        rows,
    );
}

/// A carnet's `carnet_uses` rows: one per group it has a live use in.
pub(super) fn carnet_uses_rows(
    pass_id: &str,
    program_id: &str,
    cheques: i64,
    uses: &CarnetUses,
) -> Vec<Vec<Param>> {
    uses.iter()
        .filter(|(_, g)| g.live > 0)
        .map(|((dimension, key), g)| {
            vec![
                Param::from(pass_id),
                (*dimension).into(),
                key.into(),
                program_id.into(),
                cheques.into(),
                g.live.into(),
                (&g.first_at).into(),
                (&g.last_at).into(),
            ]
        })
        .collect()
}

/// The live redemptions of the carnets whose ids lie from `first` to `last` (one carnet when
/// both are its id), ordered by carnet. Read through each carnet's cheques (`vouchers_pass`),
/// then each cheque's live redemption, so a range of carnets costs its own rows only.
pub(super) async fn live_uses(conn: &mut Conn, first: &str, last: &str) -> Result<Vec<Use>> {
    let rows = sqlx::query(
        "SELECT r.id, r.group_id, r.pass_id, r.program_id, r.distributor_id, \
                COALESCE(r.place_id, '') AS place_id, COALESCE(pl.department, '') AS department, \
                COALESCE(r.service, '') AS service, COALESCE(r.help_level, '') AS help_level, \
                COALESCE(r.themes, '') AS themes, r.redeemed_at, r.value_cents, \
                COALESCE(r.minutes, 0) AS minutes \
         FROM vouchers v \
         JOIN redemptions r ON r.voucher_id = v.id AND r.undone_at IS NULL \
         LEFT JOIN places pl ON pl.id = r.place_id \
         WHERE v.pass_id >= $1 AND v.pass_id <= $2 \
         ORDER BY v.pass_id",
    )
    .bind(first)
    .bind(last)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get("id")?;
            let group_id: Option<String> = r.try_get("group_id")?;
            Ok(Use {
                opens_session: group_id.as_ref().is_none_or(|g| *g == id),
                pass_id: r.try_get("pass_id")?,
                program_id: r.try_get("program_id")?,
                distributor_id: r.try_get("distributor_id")?,
                place_id: r.try_get("place_id")?,
                department: r.try_get("department")?,
                service: r.try_get("service")?,
                help_level: r.try_get("help_level")?,
                themes: r.try_get("themes")?,
                at: r.try_get("redeemed_at")?,
                cents: r.try_get("value_cents")?,
                minutes: r.try_get("minutes")?,
            })
        })
        .collect()
}
