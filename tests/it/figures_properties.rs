//! Property: the funder's figures kept as they happen (every write adds its change,
//! `stats::figures`) equal the same figures counted again from the rows themselves
//! (`figures::rebuild`), cell by cell, after any sequence of issuance, handing out, sessions
//! of one to three cheques at places in two départements, workshops, undos, answers, expiry
//! and days passing across months; and the funder's view reads the same either way, for the
//! whole life, periods cut inside months and whole months (closed ones read from the people
//! kept when they closed, `stats::close_months`). On both databases for a fixed sequence,
//! random ones on SQLite.

use crate::common;
use common::codes_of;

use common::{Backend, TestApp};
use jiff::SignedDuration;
use proptest::prelude::*;
use serde_json::{json, Value};
use sqlx::Row;

on_both_databases!(kept_figures_equal_a_recount_after_a_known_sequence);

#[derive(Debug, Clone)]
enum Op {
    Issue {
        ten: bool,
        active: bool,
    },
    Activate(usize),
    Session {
        pass: usize,
        first: usize,
        cheques: usize,
        place: usize,
        kind: usize,
    },
    Workshop {
        passes: [usize; 2],
    },
    Undo(usize),
    Answer(usize),
    Wait(i64),
    Expire,
    /// The daily run that keeps the people of the months past their undo window.
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (any::<bool>(), prop::bool::weighted(0.8))
            .prop_map(|(ten, active)| Op::Issue { ten, active }),
        1 => (0usize..8).prop_map(Op::Activate),
        4 => (0usize..8, 0usize..10, 1usize..4, 0usize..2, 0usize..3).prop_map(
            |(pass, first, cheques, place, kind)| Op::Session { pass, first, cheques, place, kind }
        ),
        1 => (0usize..8, 0usize..8).prop_map(|(a, b)| Op::Workshop { passes: [a, b] }),
        1 => (0usize..8).prop_map(Op::Undo),
        1 => (0usize..8).prop_map(Op::Answer),
        2 => (1i64..400).prop_map(Op::Wait),
        1 => Just(Op::Expire),
        1 => Just(Op::Close),
    ]
}

const KINDS: [(&str, &str); 3] = [
    ("individual_help", "[\"email\", \"health\"]"),
    ("administrative_procedure", "[\"admin_money\"]"),
    ("individual_help", "[]"),
];

async fn run(backend: Backend, ops: Vec<Op>) {
    // A failure shows the server's log of it.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("passnum=error")
        .try_init();
    let app = TestApp::spawn(backend).await.expect("app");
    let w = app.world(1_000_000, 200).await;
    let (dax_id, dax) = app
        .qualified_site_at("Espace numérique de Dax", "40100")
        .await;
    let sites = [w.site.clone(), dax];
    let site_ids = [w.site_id.clone(), dax_id];
    let mut passes: Vec<Value> = Vec::new();
    // Each session's redemption id and the index of its site.
    let mut sessions: Vec<(String, usize)> = Vec::new();
    for op in ops {
        match op {
            Op::Issue { ten, active } => {
                let (s, body) = app
                    .post(
                        "/api/v1/passes",
                        &w.distributor,
                        json!({"program_id": w.program_id, "cheques": if ten { 10 } else { 5 },
                               "active": active}),
                    )
                    .await;
                if s == 201 {
                    passes.push(body);
                }
            }
            Op::Activate(i) => {
                if let Some(p) = passes.get(i % passes.len().max(1)) {
                    let id = p["id"].as_str().expect("id");
                    app.post(
                        &format!("/api/v1/passes/{id}/activate"),
                        &w.distributor,
                        json!({}),
                    )
                    .await;
                }
            }
            Op::Session {
                pass,
                first,
                cheques,
                place,
                kind,
            } => {
                let Some(p) = passes.get(pass % passes.len().max(1)) else {
                    continue;
                };
                let codes = codes_of(p);
                let first = first % codes.len();
                let chosen: Vec<&String> = codes.iter().skip(first).take(cheques).collect();
                let (service, themes) = KINDS[kind];
                let themes: Value = serde_json::from_str(themes).expect("themes");
                let (s, body) = app
                    .post(
                        "/api/v1/redemptions",
                        &sites[place],
                        json!({"codes": chosen, "service": service, "minutes": 30 + 15 * kind,
                               "themes": themes}),
                    )
                    .await;
                if s == 201 {
                    sessions.push((body["id"].as_str().expect("id").into(), place));
                } else {
                    assert!([409, 410, 422].contains(&s.as_u16()), "{s} {body}");
                }
            }
            Op::Workshop { passes: [a, b] } => {
                let (Some(a), Some(b)) = (
                    passes.get(a % passes.len().max(1)),
                    passes.get(b % passes.len().max(1)),
                ) else {
                    continue;
                };
                let codes: Vec<String> = [a, b]
                    .iter()
                    .filter_map(|p| codes_of(p).into_iter().last())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let (s, body) = app
                    .post(
                        "/api/v1/workshops",
                        &sites[0],
                        json!({"codes": codes, "attendees": 4, "minutes": 90,
                               "themes": ["email"]}),
                    )
                    .await;
                assert!([201, 409, 410, 422].contains(&s.as_u16()), "{s} {body}");
            }
            Op::Undo(i) => {
                if let Some((id, site)) = sessions.get(i % sessions.len().max(1)) {
                    app.delete(&format!("/api/v1/redemptions/{id}"), &sites[*site])
                        .await;
                }
            }
            Op::Answer(i) => {
                if let Some((id, site)) = sessions.get(i % sessions.len().max(1)) {
                    answer(&app, &site_ids[*site], id, (i % 11) as i64).await;
                }
            }
            Op::Wait(hours) => app.advance(SignedDuration::from_hours(hours)),
            Op::Expire => {
                passnum::cli::jobs::expire(&app.state)
                    .await
                    .expect("expiry");
            }
            Op::Close => {
                passnum::cli::jobs::close_months(&app.state)
                    .await
                    .expect("months closed");
            }
        }
    }
    // Views of closed months read their kept people; after the rebuild (which forgets them)
    // they are counted from the redemptions.
    passnum::cli::jobs::close_months(&app.state)
        .await
        .expect("months closed");
    let periods = periods(&app);
    let kept = snapshot(&app).await;
    let views_kept = views(&app, &w.program_id, &periods).await;
    app.state
        .db
        .transact(passnum::db::Origin::platform(), |tx| {
            Box::pin(async move { passnum::stats::figures::rebuild(tx).await })
        })
        .await
        .expect("rebuild");
    let counted = snapshot(&app).await;
    for (name, (k, c)) in ["cells", "people", "carnets"]
        .iter()
        .zip(kept.iter().zip(&counted))
    {
        let missing: Vec<&String> = c.iter().filter(|r| !k.contains(r)).collect();
        let extra: Vec<&String> = k.iter().filter(|r| !c.contains(r)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{name}: counted again but not kept {missing:#?}\nkept but not counted {extra:#?}"
        );
    }
    assert_eq!(views_kept, views(&app, &w.program_id, &periods).await);
    app.assert_ledger_verifies().await;
}

/// Answers "Je donne mon avis" for a session, through the library (the page needs its link).
async fn answer(app: &TestApp, site_id: &str, redemption_id: &str, overall: i64) {
    let (site_id, id) = (site_id.to_string(), redemption_id.to_string());
    let now = passnum::clock::format_ts(app.now());
    let _ = app
        .state
        .db
        .transact(passnum::db::Origin::platform(), move |tx| {
            Box::pin(async move {
                let Some(link) =
                    passnum::voice::link_of_redemption(tx, &site_id, &id, &now).await?
                else {
                    return Ok(());
                };
                let token = link.rsplit('/').next().unwrap_or_default().to_string();
                let session = passnum::voice::session_of_link(tx, &token).await?;
                let answer = passnum::voice::Answer {
                    overall: Some(overall.to_string()),
                    ..Default::default()
                };
                passnum::voice::answer(tx, &session, &answer, &now).await
            })
        })
        .await;
}

/// The whole life, and periods cut inside months around the test's days.
fn periods(app: &TestApp) -> Vec<passnum::stats::Period> {
    let today = app.now().to_zoned(passnum::clock::paris()).date();
    let day = |d: i64| {
        today
            .checked_sub(jiff::Span::new().days(d))
            .expect("day")
            .to_string()
    };
    let p = |from: Option<String>, to: Option<String>| {
        passnum::stats::Period::parse(from.as_deref(), to.as_deref()).expect("period")
    };
    let mut periods = vec![
        p(None, None),
        p(Some(day(40)), None),
        p(Some(day(70)), Some(day(3))),
        p(None, Some(day(20))),
        p(Some(day(0)), Some(day(0))),
    ];
    // Whole months from the test's first (March 2026) to the one after today, closed or not.
    let mut month = jiff::civil::date(2026, 3, 1);
    while month <= today.last_of_month() {
        periods.push(p(
            Some(month.to_string()),
            Some(month.last_of_month().to_string()),
        ));
        month = month.last_of_month().tomorrow().expect("a month");
    }
    periods
}

async fn views(app: &TestApp, program_id: &str, periods: &[passnum::stats::Period]) -> Vec<String> {
    let mut conn = app.state.db.read().await.expect("read");
    let mut out = Vec::new();
    for period in periods {
        let o = passnum::stats::outcomes(&mut conn, program_id, *period)
            .await
            .expect("view");
        out.push(format!(
            "{:?} {:?} {:?} {:?}",
            o.whole, o.money, o.money_by_month, o.breakdowns
        ));
    }
    out
}

/// The kept tables, summed over slots, zeros left out, as sorted lines.
async fn snapshot(app: &TestApp) -> [Vec<String>; 3] {
    let mut conn = app.raw().await;
    let lines = |rows: Vec<sqlx::any::AnyRow>, columns: usize| -> Vec<String> {
        let mut out: Vec<String> = rows
            .iter()
            .map(|r| {
                (0..columns)
                    .map(|i| {
                        r.try_get::<String, _>(i)
                            .or_else(|_| r.try_get::<i64, _>(i).map(|n| n.to_string()))
                            .unwrap_or_default()
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        out.sort();
        out
    };
    let sums = "CAST(SUM(cheques) AS BIGINT), CAST(SUM(cents) AS BIGINT), \
                CAST(SUM(sessions) AS BIGINT), CAST(SUM(minutes) AS BIGINT), \
                CAST(SUM(answers) AS BIGINT), CAST(SUM(marks) AS BIGINT), \
                CAST(SUM(issued) AS BIGINT), CAST(SUM(handed_out) AS BIGINT), \
                CAST(SUM(started) AS BIGINT), CAST(SUM(finished) AS BIGINT)";
    let cells = sqlx::query(&format!(
        "SELECT program_id, axis, span, at, k1, k2, k3, {sums} FROM figure_cells \
         GROUP BY program_id, axis, span, at, k1, k2, k3 \
         HAVING ABS(SUM(cheques)) + ABS(SUM(cents)) + ABS(SUM(sessions)) + ABS(SUM(minutes)) \
                + ABS(SUM(answers)) + ABS(SUM(marks)) + ABS(SUM(issued)) \
                + ABS(SUM(handed_out)) + ABS(SUM(started)) + ABS(SUM(finished)) > 0"
    ))
    .fetch_all(&mut conn)
    .await
    .expect("cells");
    let people = sqlx::query(
        "SELECT program_id, dimension, key, CAST(SUM(people) AS BIGINT) FROM figure_people \
         GROUP BY program_id, dimension, key HAVING SUM(people) <> 0",
    )
    .fetch_all(&mut conn)
    .await
    .expect("people");
    // A carnet's marks are kept in the order its cheques were used: compared sorted.
    let carnets =
        sqlx::query("SELECT pass_id, program_id, distributor_id, cheques, uses FROM carnet_uses")
            .fetch_all(&mut conn)
            .await
            .expect("carnets");
    let mut carnets: Vec<String> = carnets
        .iter()
        .map(|r| {
            let uses: String = r.try_get(4).expect("uses");
            let mut marks: Vec<&str> = uses.split('\u{1e}').collect();
            marks.sort();
            format!(
                "{} {} {} {} {:?}",
                r.try_get::<String, _>(0).expect("pass"),
                r.try_get::<String, _>(1).expect("programme"),
                r.try_get::<String, _>(2).expect("distributor"),
                r.try_get::<i64, _>(3).expect("cheques"),
                marks
            )
        })
        .collect();
    carnets.sort();
    [lines(cells, 17), lines(people, 4), carnets]
}

async fn kept_figures_equal_a_recount_after_a_known_sequence(backend: Backend) {
    use Op::*;
    let s = |pass, first, cheques, place, kind| Session {
        pass,
        first,
        cheques,
        place,
        kind,
    };
    run(
        backend,
        vec![
            Issue {
                ten: true,
                active: true,
            },
            Issue {
                ten: false,
                active: true,
            },
            Issue {
                ten: false,
                active: false,
            },
            s(0, 0, 3, 0, 0),
            s(1, 0, 1, 1, 1),
            Wait(23),
            s(0, 3, 3, 1, 2),
            Answer(0),
            Answer(1),
            Undo(0),
            Wait(24 * 20),
            Close,
            Activate(2),
            s(2, 0, 3, 0, 0),
            s(2, 3, 2, 1, 1),
            s(0, 0, 3, 0, 1),
            s(0, 6, 3, 1, 0),
            s(0, 9, 1, 0, 0),
            Undo(5),
            Workshop { passes: [1, 0] },
            Wait(24 * 15),
            Close,
            s(1, 1, 3, 0, 2),
            Answer(3),
            Undo(7),
            Wait(24 * 400),
            Expire,
        ],
    )
    .await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn any_sequence_keeps_figures_equal_to_a_recount(ops in prop::collection::vec(op(), 1..40)) {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(run(Backend::Sqlite, ops));
    }
}
