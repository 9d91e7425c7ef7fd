//! Each carnet's live uses (`carnet_uses`, one row per carnet): the groups it counts among the
//! people of, and when it was started and finished, as cheques are used and given back.
//!
//! A carnet's row keeps one short mark per live cheque used (place, département, kind, level,
//! Paris day), from which its groups are counted in memory. A redemption appends its marks with
//! one upsert that answers the whole row: one row written per carnet, where a row per carnet
//! and group cost six (BENCHMARKS.md, run Y), and concurrent transactions on one carnet still
//! wait for each other on that row, so that they never both count it as new.

use super::{paris_day, Changes, Figures, Use, DISTRIBUTOR};
use crate::db::{Batch, Conn, Param, Tx};
use crate::error::{Error, Result};
use sqlx::Row;
use std::collections::BTreeMap;

/// Separates a mark's fields, and ends each mark, in `carnet_uses.uses`.
const FIELD: char = '\u{1f}';
const END: char = '\u{1e}';

/// One live cheque used, as its carnet's row keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Mark {
    place: String,
    department: String,
    kind: String,
    level: String,
    /// The Paris day of the redemption (`YYYY-MM-DD`): all the figures need of its time.
    day: String,
}

impl Mark {
    pub(super) fn of(u: &Use) -> Mark {
        Mark {
            place: u.place_id.clone(),
            department: u.department.clone(),
            kind: u.service.clone(),
            level: u.help_level.clone(),
            day: paris_day(&u.at),
        }
    }

    /// The groups it counts its carnet in, as `(dimension, key)`.
    fn groups(&self, distributor: &str) -> [(&'static str, String); 6] {
        let month = self.day.get(..7).unwrap_or(&self.day).to_string();
        [
            (DISTRIBUTOR, distributor.to_string()),
            ("place", self.place.clone()),
            ("department", self.department.clone()),
            ("month", month),
            ("kind", self.kind.clone()),
            ("level", self.level.clone()),
        ]
    }

    fn push_to(&self, out: &mut String) {
        for (i, field) in [
            &self.place,
            &self.department,
            &self.kind,
            &self.level,
            &self.day,
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                out.push(FIELD);
            }
            // Keys are identifiers and codes; a separator inside one would only blur its key.
            out.extend(field.chars().map(|c| match c {
                FIELD | END => ' ',
                c => c,
            }));
        }
        out.push(END);
    }
}

/// The text of `marks` in `carnet_uses.uses`.
pub(super) fn encode(marks: &[Mark]) -> String {
    let mut out = String::new();
    for m in marks {
        m.push_to(&mut out);
    }
    out
}

pub(super) fn decode(text: &str) -> Vec<Mark> {
    text.split(END)
        .filter(|m| !m.is_empty())
        .map(|m| {
            let mut f = m.split(FIELD).map(str::to_string);
            let mut next = || f.next().unwrap_or_default();
            Mark {
                place: next(),
                department: next(),
                kind: next(),
                level: next(),
                day: next(),
            }
        })
        .collect()
}

/// A carnet's live uses in one group: how many, the first and the last Paris day.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct GroupUse {
    live: i64,
    first_at: String,
    last_at: String,
}

impl GroupUse {
    fn with(&mut self, day: &str) {
        if self.live == 0 || day < self.first_at.as_str() {
            self.first_at = day.to_string();
        }
        if self.live == 0 || day > self.last_at.as_str() {
            self.last_at = day.to_string();
        }
        self.live += 1;
    }
}

/// Where a carnet was used: by group.
pub(super) type CarnetUses = BTreeMap<(&'static str, String), GroupUse>;

pub(super) fn carnet_uses(distributor: &str, marks: &[Mark]) -> CarnetUses {
    let mut out = CarnetUses::new();
    for m in marks {
        for group in m.groups(distributor) {
            out.entry(group).or_default().with(&m.day);
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

/// Carnets whose marks are appended together by [`used`], per statement.
const CARNETS_PER_STATEMENT: usize = 200;

/// Cheques used (the redemption rows written with them), `cheques` the size of each carnet
/// by id: adds their sums, and the people, carnets started and finished they make, to the
/// transaction's deferred writes. Each carnet's marks are appended in one statement that
/// answers its whole row, whose part before ours is what it had.
pub(crate) async fn used(
    tx: &mut Tx<'_>,
    uses: &[Use],
    cheques: &BTreeMap<String, i64>,
) -> Result<()> {
    if uses.is_empty() {
        return Ok(());
    }
    let mut changes = Changes::default();
    // By carnet: its programme, its distributor and the marks added.
    let mut by_carnet: BTreeMap<&str, (&str, &str, String)> = BTreeMap::new();
    for u in uses {
        changes.use_cells(u, 1);
        let carnet = by_carnet
            .entry(&u.pass_id)
            .or_insert_with(|| (&u.program_id, &u.distributor_id, String::new()));
        Mark::of(u).push_to(&mut carnet.2);
    }
    let carnets: Vec<(&str, (&str, &str, String))> = by_carnet.into_iter().collect();
    let postgres = crate::db::is_postgres(tx);
    for chunk in carnets.chunks(CARNETS_PER_STATEMENT) {
        // SQLite looks `$N` up by name, in time quadratic in their number: `?` there.
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let marks: Vec<String> = (1..=5)
                    .map(|k| {
                        if postgres {
                            format!("${}", i * 5 + k)
                        } else {
                            "?".to_string()
                        }
                    })
                    .collect();
                format!("({})", marks.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO carnet_uses (pass_id, program_id, distributor_id, cheques, uses) \
             VALUES {} \
             ON CONFLICT (pass_id) DO UPDATE SET uses = carnet_uses.uses || excluded.uses \
             RETURNING pass_id, program_id, distributor_id, cheques, uses",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (pass_id, (program_id, distributor_id, added)) in chunk {
            query = query
                .bind(pass_id.to_string())
                .bind(program_id.to_string())
                .bind(distributor_id.to_string())
                .bind(cheques.get(*pass_id).copied().unwrap_or(i64::MAX))
                .bind(added.clone());
        }
        let rows = query.fetch_all(&mut **tx).await?;
        let added: BTreeMap<&str, &str> = chunk
            .iter()
            .map(|(pass, (_, _, added))| (*pass, added.as_str()))
            .collect();
        for row in rows {
            let pass_id: String = row.try_get(0)?;
            let program_id: String = row.try_get(1)?;
            let distributor_id: String = row.try_get(2)?;
            let carnet: i64 = row.try_get(3)?;
            let now: String = row.try_get(4)?;
            let ours = added.get(pass_id.as_str()).copied().unwrap_or_default();
            // Ours came last: the row stays locked by this transaction until it ends.
            let Some(had) = now.strip_suffix(ours) else {
                return Err(Error::Internal(anyhow::anyhow!(
                    "carnet {pass_id}: its uses do not end with those just added"
                )));
            };
            let before = carnet_uses(&distributor_id, &decode(had));
            let after = carnet_uses(&distributor_id, &decode(&now));
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
    let mut carnets: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for u in undone {
        changes.use_cells(u, -1);
        carnets.insert(&u.pass_id, (&u.program_id, &u.distributor_id));
    }
    for (pass_id, (program_id, distributor_id)) in carnets {
        let cheques: i64 = sqlx::query_scalar("SELECT cheques FROM passes WHERE id = $1")
            .bind(pass_id)
            .fetch_one(&mut **tx)
            .await?;
        let had: Option<String> =
            sqlx::query_scalar("SELECT uses FROM carnet_uses WHERE pass_id = $1")
                .bind(pass_id)
                .fetch_optional(&mut **tx)
                .await?;
        let before = carnet_uses(distributor_id, &decode(had.as_deref().unwrap_or_default()));
        let left: Vec<Mark> = live_uses(tx, pass_id, pass_id)
            .await?
            .iter()
            .map(Mark::of)
            .collect();
        let after = carnet_uses(distributor_id, &left);
        transition(&mut changes, program_id, cheques, &before, &after);
        if left.is_empty() {
            sqlx::query("DELETE FROM carnet_uses WHERE pass_id = $1")
                .bind(pass_id)
                .execute(&mut **tx)
                .await?;
        } else {
            // An upsert, so that a carnet whose row is missing gets one rather than none.
            sqlx::query(
                "INSERT INTO carnet_uses (pass_id, program_id, distributor_id, cheques, uses) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (pass_id) DO UPDATE SET uses = excluded.uses",
            )
            .bind(pass_id)
            .bind(program_id)
            .bind(distributor_id)
            .bind(cheques)
            .bind(encode(&left))
            .execute(&mut **tx)
            .await?;
        }
    }
    let slot = tx.slot();
    changes.write(tx.deferred(), slot);
    Ok(())
}

pub(super) fn write_carnet_uses(batch: &mut Batch, rows: Vec<Vec<Param>>) {
    batch.push_rows(
        "INSERT INTO carnet_uses (pass_id, program_id, distributor_id, cheques, uses)",
        "",
        rows,
    );
}

/// A carnet's `carnet_uses` row.
pub(super) fn carnet_row(
    pass_id: &str,
    program_id: &str,
    distributor_id: &str,
    cheques: i64,
    marks: &[Mark],
) -> Vec<Param> {
    vec![
        Param::from(pass_id),
        program_id.into(),
        distributor_id.into(),
        cheques.into(),
        encode(marks).into(),
    ]
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

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(place: &str, day: &str) -> Mark {
        Mark {
            place: place.into(),
            department: "33".into(),
            kind: "atelier".into(),
            level: String::new(),
            day: day.into(),
        }
    }

    #[test]
    fn marks_round_trip_through_their_text() {
        let marks = vec![mark("p1", "2026-03-02"), mark("p2", "2026-04-30")];
        assert_eq!(decode(&encode(&marks)), marks);
        assert_eq!(decode(""), Vec::<Mark>::new());
        // A separator inside a key cannot shift the fields that follow it.
        let odd = mark("p\u{1f}1\u{1e}", "2026-03-02");
        assert_eq!(decode(&encode(&[odd]))[0].day, "2026-03-02");
    }

    #[test]
    fn groups_count_each_carnet_once_with_its_first_and_last_days() {
        let uses = carnet_uses(
            "d1",
            &[
                mark("p1", "2026-04-01"),
                mark("p1", "2026-03-02"),
                mark("p2", "2026-03-20"),
            ],
        );
        let of = |d: &'static str, k: &str| uses.get(&(d, k.to_string())).cloned();
        let distributor = of(DISTRIBUTOR, "d1").expect("the distributor's group");
        assert_eq!(
            (
                distributor.live,
                distributor.first_at.as_str(),
                distributor.last_at.as_str()
            ),
            (3, "2026-03-02", "2026-04-01")
        );
        assert_eq!(of("place", "p1").map(|g| g.live), Some(2));
        assert_eq!(of("month", "2026-03").map(|g| g.live), Some(2));
        assert_eq!(of("month", "2026-04").map(|g| g.live), Some(1));
        assert_eq!(uses.len(), 8);
    }
}
