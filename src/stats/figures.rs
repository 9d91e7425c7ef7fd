//! The funder's view's figures, kept as they happen. Every write that changes one (a carnet
//! issued or handed out, cheques used or given back, an answer, a ledger transaction) adds its
//! change here, in its own transaction, and the view reads these few rows instead of every
//! redemption (`outcomes`). [`rebuild`] counts everything again from the rows themselves: at
//! the first start after the tables appeared, and in tests, which check that both agree.
//!
//! Days and months are Paris time, as the view's periods are: a period reads its whole
//! months, and the days of the months it only partly covers. People (carnets with a live
//! cheque used in a group) do not add up across days; they are kept for the whole life of
//! the programme, from each carnet's uses per group (`carnet_uses`).

use crate::clock::{paris, parse_ts};
use crate::db::{Batch, Conn, Param, Slot, Tx};
use crate::error::Result;
use crate::redemption::RedemptionRow;
use sqlx::Row;
use std::collections::BTreeMap;

/// Rows a hot cell is spread over, so that concurrent writers do not queue on one.
const SLOTS: u8 = 16;

/// What a cell adds up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Figures {
    pub cheques: i64,
    pub cents: i64,
    /// Sessions and their minutes are counted on a session's first cheque.
    pub sessions: i64,
    pub minutes: i64,
    /// Answers to "Je donne mon avis" and the sum of their marks.
    pub answers: i64,
    pub marks: i64,
    pub issued: i64,
    pub handed_out: i64,
    pub started: i64,
    pub finished: i64,
}

/// The columns of [`Figures`] in `figure_cells`, in its order.
pub(super) const COLUMNS: [&str; 10] = [
    "cheques",
    "cents",
    "sessions",
    "minutes",
    "answers",
    "marks",
    "issued",
    "handed_out",
    "started",
    "finished",
];

impl Figures {
    pub(super) fn values(&self) -> [i64; 10] {
        [
            self.cheques,
            self.cents,
            self.sessions,
            self.minutes,
            self.answers,
            self.marks,
            self.issued,
            self.handed_out,
            self.started,
            self.finished,
        ]
    }

    pub(super) fn from_values(v: [i64; 10]) -> Figures {
        let [cheques, cents, sessions, minutes, answers, marks, issued, handed_out, started, finished] =
            v;
        Figures {
            cheques,
            cents,
            sessions,
            minutes,
            answers,
            marks,
            issued,
            handed_out,
            started,
            finished,
        }
    }

    fn add(&mut self, other: &Figures, sign: i64) {
        let mut v = self.values();
        for (a, b) in v.iter_mut().zip(other.values()) {
            *a += sign * b;
        }
        *self = Figures::from_values(v);
    }

    fn is_zero(&self) -> bool {
        self.values().iter().all(|v| *v == 0)
    }
}

/// What a cell's three keys are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Axis {
    /// The carnet's distributor, the place: sums of help, answers.
    Place,
    /// The kind of help, its level, its themes (as stored): sums of help.
    Help,
    /// The carnet's distributor: carnets issued, handed out, started, finished.
    Carnet,
    /// The ledger transaction's kind: its amounts, in `cents`.
    Money,
}

impl Axis {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Axis::Place => "place",
            Axis::Help => "help",
            Axis::Carnet => "carnet",
            Axis::Money => "money",
        }
    }

    pub(super) fn from_stored(text: &str) -> Option<Axis> {
        [Axis::Place, Axis::Help, Axis::Carnet, Axis::Money]
            .into_iter()
            .find(|a| a.as_str() == text)
    }
}

/// The groups people are counted in, as `figure_people.dimension` names them.
pub(super) const DISTRIBUTOR: &str = "distributor";
const GROUPS: [&str; 6] = [DISTRIBUTOR, "place", "department", "month", "kind", "level"];

/// The Paris day of a stored instant (`YYYY-MM-DD`).
pub(super) fn paris_day(at: &str) -> String {
    parse_ts(at)
        .map(|ts| ts.to_zoned(paris()).date().to_string())
        .unwrap_or_else(|| at.get(..10).unwrap_or(at).to_string())
}

/// A live redemption (one cheque used), as the figures see it.
#[derive(Clone, Debug)]
pub(crate) struct Use {
    pub pass_id: String,
    pub program_id: String,
    pub distributor_id: String,
    pub place_id: String,
    pub department: String,
    pub service: String,
    pub help_level: String,
    pub themes: String,
    pub at: String,
    pub cents: i64,
    pub minutes: i64,
    /// The first cheque of its session, which carries the session and its minutes.
    pub opens_session: bool,
}

impl Use {
    pub(crate) fn of(row: &RedemptionRow, department: Option<&str>) -> Use {
        Use {
            pass_id: row.pass_id.clone(),
            program_id: row.program_id.clone(),
            distributor_id: row.distributor_id.clone(),
            place_id: row.place_id.clone().unwrap_or_default(),
            department: department.unwrap_or_default().to_string(),
            service: row.service.clone().unwrap_or_default(),
            help_level: row.help_level.clone().unwrap_or_default(),
            themes: row.themes.stored(),
            at: row.redeemed_at.clone(),
            cents: row.value_cents.get(),
            minutes: row.minutes.unwrap_or(0),
            opens_session: row.group_id.as_ref().is_none_or(|g| *g == row.id),
        }
    }

    fn cells(&self) -> [(Axis, [String; 3], Figures); 2] {
        let figures = Figures {
            cheques: 1,
            cents: self.cents,
            sessions: i64::from(self.opens_session),
            minutes: if self.opens_session { self.minutes } else { 0 },
            ..Figures::default()
        };
        [
            (
                Axis::Place,
                [
                    self.distributor_id.clone(),
                    self.place_id.clone(),
                    String::new(),
                ],
                figures,
            ),
            (
                Axis::Help,
                [
                    self.service.clone(),
                    self.help_level.clone(),
                    self.themes.clone(),
                ],
                figures,
            ),
        ]
    }

    /// The groups it counts its carnet in, as `(dimension, key)`.
    fn groups(&self) -> [(&'static str, String); 6] {
        let day = paris_day(&self.at);
        let month = day.get(..7).unwrap_or(&day).to_string();
        [
            (DISTRIBUTOR, self.distributor_id.clone()),
            ("place", self.place_id.clone()),
            ("department", self.department.clone()),
            ("month", month),
            ("kind", self.service.clone()),
            ("level", self.help_level.clone()),
        ]
    }
}

/// The changes one transaction makes to the figures, written at its end with [`Changes::write`].
#[derive(Default)]
pub(crate) struct Changes {
    /// By programme, axis, Paris day and keys.
    cells: BTreeMap<(String, Axis, String, [String; 3]), Figures>,
    /// By programme, dimension and key.
    people: BTreeMap<(String, &'static str, String), i64>,
}

impl Changes {
    fn cell(
        &mut self,
        program_id: &str,
        axis: Axis,
        at: &str,
        keys: [String; 3],
        f: Figures,
        sign: i64,
    ) {
        self.cells
            .entry((program_id.to_string(), axis, paris_day(at), keys))
            .or_default()
            .add(&f, sign);
    }

    fn use_cells(&mut self, u: &Use, sign: i64) {
        for (axis, keys, f) in u.cells() {
            self.cell(&u.program_id, axis, &u.at, keys, f, sign);
        }
    }

    fn carnet(&mut self, program_id: &str, distributor_id: &str, at: &str, f: Figures, sign: i64) {
        let keys = [distributor_id.to_string(), String::new(), String::new()];
        self.cell(program_id, Axis::Carnet, at, keys, f, sign);
    }

    /// Carnets made (handed out or kept in stock).
    pub(crate) fn issued(&mut self, program_id: &str, distributor_id: &str, at: &str, n: i64) {
        let f = Figures {
            issued: n,
            ..Figures::default()
        };
        self.carnet(program_id, distributor_id, at, f, 1);
    }

    /// Carnets handed to their beneficiary.
    pub(crate) fn handed_out(&mut self, program_id: &str, distributor_id: &str, at: &str, n: i64) {
        let f = Figures {
            handed_out: n,
            ..Figures::default()
        };
        self.carnet(program_id, distributor_id, at, f, 1);
    }

    /// An answer to "Je donne mon avis" (0 to 10) about a session at `place_id`.
    pub(crate) fn answered(
        &mut self,
        program_id: &str,
        distributor_id: &str,
        place_id: &str,
        at: &str,
        overall: i64,
    ) {
        let f = Figures {
            answers: 1,
            marks: overall,
            ..Figures::default()
        };
        let keys = [
            distributor_id.to_string(),
            place_id.to_string(),
            String::new(),
        ];
        self.cell(program_id, Axis::Place, at, keys, f, 1);
    }

    /// A ledger transaction of the programme.
    pub(crate) fn moved(&mut self, program_id: &str, kind: &str, at: &str, cents: i64) {
        let f = Figures {
            cents,
            ..Figures::default()
        };
        let keys = [kind.to_string(), String::new(), String::new()];
        self.cell(program_id, Axis::Money, at, keys, f, 1);
    }

    fn person(&mut self, program_id: &str, dimension: &'static str, key: &str, n: i64) {
        *self
            .people
            .entry((program_id.to_string(), dimension, key.to_string()))
            .or_default() += n;
    }

    /// Adds the changes to `batch`, each cell added to its day's and its month's rows, in
    /// the slot of `slot`.
    pub(crate) fn write(self, batch: &mut Batch, slot: Slot) {
        let slot = match slot {
            Slot::Any => i64::from(rand::random::<u8>() % SLOTS),
            Slot::Lane(lane) => (lane % usize::from(SLOTS)) as i64,
        };
        let mut spans: BTreeMap<(String, Axis, &'static str, String, [String; 3]), Figures> =
            BTreeMap::new();
        for ((program, axis, day, keys), f) in self.cells {
            let month = day.get(..7).unwrap_or(&day).to_string();
            spans
                .entry((program.clone(), axis, "m", month, keys.clone()))
                .or_default()
                .add(&f, 1);
            spans
                .entry((program, axis, "d", day, keys))
                .or_default()
                .add(&f, 1);
        }
        let rows: Vec<Vec<Param>> = spans
            .into_iter()
            .filter(|(_, f)| !f.is_zero())
            .map(|((program, axis, span, at, [k1, k2, k3]), f)| {
                let mut row = vec![
                    Param::from(program),
                    axis.as_str().into(),
                    span.into(),
                    at.into(),
                    k1.into(),
                    k2.into(),
                    k3.into(),
                    slot.into(),
                ];
                row.extend(f.values().map(Param::from));
                row
            })
            .collect();
        if !rows.is_empty() {
            let sums: Vec<String> = COLUMNS
                .iter()
                .map(|c| format!("{c} = figure_cells.{c} + excluded.{c}"))
                .collect();
            batch.push_rows(
                &format!(
                    "INSERT INTO figure_cells (program_id, axis, span, at, k1, k2, k3, slot, {})",
                    COLUMNS.join(", ")
                ),
                &format!(
                    "ON CONFLICT (program_id, axis, span, at, k1, k2, k3, slot) DO UPDATE SET {}",
                    sums.join(", ")
                ),
                rows,
            );
        }
        let people: Vec<Vec<Param>> = self
            .people
            .into_iter()
            .filter(|(_, n)| *n != 0)
            .map(|((program, dimension, key), n)| {
                vec![
                    Param::from(program),
                    dimension.into(),
                    key.into(),
                    slot.into(),
                    n.into(),
                ]
            })
            .collect();
        if !people.is_empty() {
            batch.push_rows(
                "INSERT INTO figure_people (program_id, dimension, key, slot, people)",
                "ON CONFLICT (program_id, dimension, key, slot) \
                 DO UPDATE SET people = figure_people.people + excluded.people",
                people,
            );
        }
    }
}

/// A carnet's live uses in one group: how many, the first and the last.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct GroupUse {
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
type CarnetUses = BTreeMap<(&'static str, String), GroupUse>;

fn carnet_uses(uses: &[Use]) -> CarnetUses {
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
fn transition(
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
        let live = live_uses(tx, Some(pass_id)).await?;
        let after = carnet_uses(&live);
        transition(&mut changes, program_id, cheques, &before, &after);
        // Now rather than deferred: PostgreSQL runs deferred writes as one statement, whose
        // parts do not see each other's rows.
        sqlx::query("DELETE FROM carnet_uses WHERE pass_id = $1")
            .bind(pass_id)
            .execute(&mut **tx)
            .await?;
        let mut batch = Batch::new(tx);
        write_carnet_uses(&mut batch, pass_id, program_id, cheques, &after);
        batch.execute(tx).await?;
    }
    let slot = tx.slot();
    changes.write(tx.deferred(), slot);
    Ok(())
}

fn write_carnet_uses(
    batch: &mut Batch,
    pass_id: &str,
    program_id: &str,
    cheques: i64,
    uses: &CarnetUses,
) {
    let rows: Vec<Vec<Param>> = uses
        .iter()
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
        .collect();
    batch.push_rows(
        "INSERT INTO carnet_uses (pass_id, dimension, key, program_id, cheques, live, first_at, \
         last_at)",
        "",
        rows,
    );
}

/// The live redemptions of one carnet, or of every carnet (ordered by carnet).
async fn live_uses(conn: &mut Conn, pass_id: Option<&str>) -> Result<Vec<Use>> {
    let sql = format!(
        "SELECT r.id, r.group_id, r.pass_id, r.program_id, r.distributor_id, \
                COALESCE(r.place_id, '') AS place_id, COALESCE(pl.department, '') AS department, \
                COALESCE(r.service, '') AS service, COALESCE(r.help_level, '') AS help_level, \
                COALESCE(r.themes, '') AS themes, r.redeemed_at, r.value_cents, \
                COALESCE(r.minutes, 0) AS minutes \
         FROM redemptions r LEFT JOIN places pl ON pl.id = r.place_id \
         WHERE r.undone_at IS NULL {}",
        if pass_id.is_some() {
            "AND r.voucher_id IN (SELECT v.id FROM vouchers v WHERE v.pass_id = $1)"
        } else {
            "ORDER BY r.pass_id"
        }
    );
    let mut query = sqlx::query(&sql);
    if let Some(pass_id) = pass_id {
        query = query.bind(pass_id);
    }
    let rows = query.fetch_all(&mut *conn).await?;
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

/// Counts every figure again from the rows themselves (carnets, redemptions, answers, ledger
/// transactions), replacing what was kept.
pub async fn rebuild(conn: &mut Conn) -> Result<()> {
    for table in ["figure_cells", "figure_people", "carnet_uses"] {
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
    let sizes: BTreeMap<String, i64> = sqlx::query("SELECT id, cheques FROM passes")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("cheques")?)))
        .collect::<Result<_>>()?;
    let uses = live_uses(conn, None).await?;
    let mut batch = Batch::new(conn);
    for carnet in uses.chunk_by(|a, b| a.pass_id == b.pass_id) {
        for u in carnet {
            changes.use_cells(u, 1);
        }
        let (pass_id, program_id) = (&carnet[0].pass_id, &carnet[0].program_id);
        let cheques = sizes.get(pass_id).copied().unwrap_or(i64::MAX);
        let after = carnet_uses(carnet);
        transition(
            &mut changes,
            program_id,
            cheques,
            &CarnetUses::new(),
            &after,
        );
        write_carnet_uses(&mut batch, pass_id, program_id, cheques, &after);
    }
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
