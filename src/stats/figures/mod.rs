//! The funder's view's figures, kept as they happen. Every write that changes one (a carnet
//! issued or handed out, cheques used or given back, an answer, a ledger transaction) adds its
//! change here, in its own transaction, and the view reads these few rows instead of every
//! redemption (`outcomes`). [`rebuild`] counts everything again from the rows themselves: at
//! the first start after the tables appeared, and in tests, which check that both agree.
//!
//! Days and months are Paris time, as the view's periods are: a period reads its whole
//! months, and the days of the months it only partly covers. People (carnets with a live
//! cheque used in a group) do not add up across days; they are kept for the whole life of
//! the programme, from each carnet's live uses (`carnet_uses`).

use crate::clock::{paris, parse_ts};
use crate::db::{Batch, Param, Slot};
use crate::redemption::RedemptionRow;
use std::collections::BTreeMap;

mod carnets;
mod rebuild;

pub(crate) use carnets::{given_back, used};
pub use rebuild::{rebuild, rebuild_if_pending};

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

/// The group of people by distributor, as `figure_people.dimension` names it (the others:
/// place, department, month, kind, level).
pub(super) const DISTRIBUTOR: &str = "distributor";

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
