//! The funder's view of what the money did (issue 27) over a programme of 1,000,000 cheques:
//! 100,000 carnets of 10 issued over twelve months (one in twenty kept in stock), about half
//! of the cheques used in sessions of two, over 200 places and the months after issuance,
//! with varied kinds, minutes and themes, an answer to "Je donne mon avis" for each carnet's
//! first session, and the ledger's issuance and redemption transactions. Times `stats::outcomes` (every figure and breakdown of the page) over the
//! programme's whole life and over one month, before and after the months are closed
//! (`stats::close_months`, timed too).
//!
//! `cargo bench --bench funder_view` runs on SQLite (a fresh file in the temp directory);
//! `PASSNUM_BENCH_POSTGRES_URL=postgres://…/postgres` adds PostgreSQL (a database created and
//! dropped for the run). `PASSNUM_BENCH_CARNETS` scales the run (default 100000; 1000000 for
//! ten million cheques).
//!
//! The rows are set up with a few SQL statements rather than through issuance and redemption
//! (each has its own bench): only the view's reads are measured. The figures the writes keep
//! as they happen (`stats::figures`) are then counted from those rows by `figures::rebuild`,
//! as the first start after the migration does (timed too). The ledger rows are its
//! transactions only (the view reads nothing else of it), so `ledger verify` is not run.

mod common;

use anyhow::Context;
use passnum::clock::SystemClock;
use passnum::config::Config;
use passnum::db::{Backend, Origin, Tx};
use passnum::money::Cents;
use passnum::orgs::{self, NewOrganization, Organization};
use passnum::programs::{self, NewProgram};
use passnum::stats::Period;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BENCH_KEYS: &str = "B1:QkVOQ0hCRU5DSEJFTkNIQkVOQ0hCRU5DSEJFTkNIISE=";
const SITES: usize = 200;
const RUNS: usize = 10;

fn main() -> anyhow::Result<()> {
    let carnets: usize = std::env::var("PASSNUM_BENCH_CARNETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!("# funder view bench: {carnets} carnets of 10 cheques, {SITES} places");
    println!("machine: {}", common::machine_line());
    runtime.block_on(async {
        let dir = std::env::temp_dir().join(format!("passnum-view-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let url = format!("sqlite://{}", dir.join("bench.db").display());
        let result = run("SQLite", Backend::Sqlite, &url, carnets).await;
        std::fs::remove_dir_all(&dir).ok();
        result?;
        if let Ok(admin) = std::env::var("PASSNUM_BENCH_POSTGRES_URL") {
            let name = format!(
                "passnum_bench_{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            );
            let admin_pool = sqlx::PgPool::connect(&admin).await?;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin_pool)
                .await?;
            let (base, _) = admin
                .rsplit_once('/')
                .context("PostgreSQL URL without a database")?;
            let result = run(
                "PostgreSQL",
                Backend::Postgres,
                &format!("{base}/{name}"),
                carnets,
            )
            .await;
            sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .execute(&admin_pool)
                .await?;
            result?;
        }
        anyhow::Ok(())
    })
}

async fn run(name: &str, backend: Backend, url: &str, carnets: usize) -> anyhow::Result<()> {
    let mut config = Config::defaults();
    config.database_url = url.to_string();
    config.signing_keys = Some(BENCH_KEYS.into());
    let state = passnum::start(config, Arc::new(SystemClock)).await?;
    println!("\n## {name} ({backend:?})");
    let started = Instant::now();
    let now = state.clock.now();
    let program_id = state
        .db
        .transact(Origin::platform(), move |tx| {
            Box::pin(async move { setup_in(tx, carnets, now).await })
        })
        .await?;
    if backend == Backend::Postgres {
        // As autovacuum would within a minute of such a load (see benches/bulk.rs).
        sqlx::query("ANALYZE").execute(state.db.reads()).await?;
    }
    let cheques: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM vouchers")
        .fetch_one(state.db.reads())
        .await?;
    let used: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM redemptions")
        .fetch_one(state.db.reads())
        .await?;
    println!(
        "set-up: {cheques} cheques, {used} used, by SQL in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The set-up wrote the rows by SQL, past the figures kept as they happen: count them
    // as a migration would.
    let started = Instant::now();
    state
        .db
        .transact(Origin::platform(), |tx| {
            Box::pin(async move { passnum::stats::figures::rebuild(tx).await })
        })
        .await?;
    println!(
        "figures counted again from the rows in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let june = Period::parse(Some("2026-06-01"), Some("2026-06-30"))?;
    for (what, period) in [
        ("whole life", Period::default()),
        ("one month (June), counted from its redemptions", june),
    ] {
        time_view(&state, &program_id, what, period, used).await?;
    }
    // The months past the undo window, their people kept once (the server's daily run): the
    // view of one month then reads them.
    let started = Instant::now();
    let closed = passnum::stats::close_months(
        &state.db,
        state.clock.now(),
        jiff::SignedDuration::from_hours(state.config.undo_window_hours),
    )
    .await?;
    println!(
        "months closed: {closed}, their people counted and kept in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    time_view(&state, &program_id, "one month (June), closed", june, used).await?;
    // Each part of the view alone, once, to show where the time goes.
    for dimension in [
        passnum::stats::Dimension::Whole,
        passnum::stats::Dimension::Month,
        passnum::stats::Dimension::Distributor,
        passnum::stats::Dimension::Place,
        passnum::stats::Dimension::Department,
        passnum::stats::Dimension::Kind,
        passnum::stats::Dimension::Theme,
        passnum::stats::Dimension::HelpLevel,
    ] {
        let mut conn = state.db.read().await?;
        let started = Instant::now();
        passnum::stats::breakdown(&mut conn, &program_id, Period::default(), dimension).await?;
        println!("  {dimension:?}: {:.0} ms", ms(started.elapsed()));
    }
    Ok(())
}

/// Times the whole view over `period`, `RUNS` times.
async fn time_view(
    state: &passnum::app::AppState,
    program_id: &str,
    what: &str,
    period: Period,
    used: i64,
) -> anyhow::Result<()> {
    let mut times = Vec::new();
    let mut people = 0;
    for _ in 0..RUNS {
        let mut conn = state.db.read().await?;
        let started = Instant::now();
        let o = passnum::stats::outcomes(&mut conn, program_id, period).await?;
        times.push(started.elapsed());
        people = o.whole.people.unwrap_or(0);
        anyhow::ensure!(
            period != Period::default() || o.whole.cheques == used,
            "the view counts {} cheques used, the table {used}",
            o.whole.cheques
        );
    }
    times.sort();
    println!(
        "funder view, {what}: p50 {:.0} ms, max {:.0} ms ({RUNS} runs; {people} people helped)",
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn org(
    tx: &mut Tx<'_>,
    operator: &Organization,
    kind: &str,
    name: &str,
    postcode: &str,
    now: jiff::Timestamp,
) -> passnum::error::Result<Organization> {
    orgs::create(
        tx,
        operator,
        NewOrganization {
            kind: kind.into(),
            name: name.into(),
            siret: (kind == "site").then(|| "73282932000074".into()),
            department: passnum::fr::department_of_postcode(postcode),
            postcode: Some(postcode.into()),
            time_zone: None,
        },
        now,
    )
    .await
}

async fn exec(
    tx: &mut Tx<'_>,
    sql: &str,
    program_id: &str,
    distributor_id: &str,
) -> passnum::error::Result<()> {
    sqlx::query(sql)
        .bind(program_id)
        .bind(distributor_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The organisations and programme through the domain, then the carnets, cheques, sessions
/// and ledger transactions by SQL; returns the programme's id.
async fn setup_in(
    tx: &mut Tx<'_>,
    carnets: usize,
    now: jiff::Timestamp,
) -> passnum::error::Result<String> {
    orgs::bootstrap(tx, now).await?;
    let operator_id = orgs::operator_exists(tx)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no operator"))?;
    let operator = orgs::find(tx, &operator_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no operator"))?;
    let funder = org(tx, &operator, "funder", "Département", "33000", now).await?;
    let distributor = org(tx, &operator, "distributor", "CCAS", "33000", now).await?;
    // Places in ten départements.
    for s in 0..SITES {
        let postcode = format!("{:02}100", 10 + s % 10);
        org(tx, &operator, "site", &format!("Lieu {s}"), &postcode, now).await?;
    }
    let program = programs::create(
        tx,
        &funder,
        NewProgram {
            name: "Pass numérique (bench)".into(),
            budget_cents: Cents::euros(carnets as i64 * 100),
            cheque_value_cents: None,
            validity_days: None,
            grace_days: None,
            fee_rate_bp: None,
            fee_per_cheque_cents: None,
            department: None,
            territory: None,
            services: None,
            confirmed_funding_only: false,
            time_zone: None,
        },
        now,
    )
    .await?;
    let (p, d) = (program.id.as_str(), distributor.id.as_str());
    for sql in [
        "CREATE TABLE bench_n (n BIGINT PRIMARY KEY)",
        "CREATE TABLE bench_months (m BIGINT PRIMARY KEY, at TEXT NOT NULL)",
        "CREATE TABLE bench_places (n BIGINT PRIMARY KEY, site_id TEXT NOT NULL, \
         place_id TEXT NOT NULL)",
    ] {
        sqlx::query(sql).execute(&mut **tx).await?;
    }
    sqlx::query(&format!(
        "INSERT INTO bench_n (n) WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL \
         SELECT n + 1 FROM c WHERE n < {}) SELECT n FROM c",
        carnets.max(10) - 1
    ))
    .execute(&mut **tx)
    .await?;
    for m in 0..12 {
        sqlx::query("INSERT INTO bench_months (m, at) VALUES ($1, $2)")
            .bind(m as i64)
            .bind(format!("2026-{:02}-10T09:00:00.000000Z", m + 1))
            .execute(&mut **tx)
            .await?;
    }
    let places: Vec<(String, String)> = sqlx::query_as(
        "SELECT site_org_id, id FROM places WHERE site_org_id IS NOT NULL ORDER BY id",
    )
    .fetch_all(&mut **tx)
    .await?;
    for (n, (site, place)) in places.iter().enumerate() {
        sqlx::query("INSERT INTO bench_places (n, site_id, place_id) VALUES ($1, $2, $3)")
            .bind(n as i64)
            .bind(site)
            .bind(place)
            .execute(&mut **tx)
            .await?;
    }
    let n_places = places.len().max(1);
    // Carnet n: issued in month n % 12, one in twenty kept in stock; n % 11 of its cheques
    // used (none for stock), two a session, in the months after its issuance, at one place or
    // two.
    let used = "(CASE WHEN b.n % 20 = 0 THEN 0 ELSE b.n % 11 END)";
    exec(
        tx,
        "INSERT INTO passes (id, program_id, distributor_id, pass_code, status, cheques, \
         expires_on, created_at, activated_at) \
         SELECT 'p' || b.n, $1, $2, 'PC' || b.n, \
                CASE WHEN b.n % 20 = 0 THEN 'inactive' ELSE 'active' END, 10, '2027-12-31', \
                m.at, CASE WHEN b.n % 20 = 0 THEN NULL ELSE m.at END \
         FROM bench_n b JOIN bench_months m ON m.m = b.n % 12",
        p,
        d,
    )
    .await?;
    exec(
        tx,
        &format!(
            "INSERT INTO vouchers (id, pass_id, program_id, distributor_id, position, code, \
             key_id, value_cents, expires_on, redeemable_until, status) \
             SELECT 'v' || b.n || '-' || k.n, 'p' || b.n, $1, $2, k.n + 1, \
                    'C' || b.n || '-' || k.n, 'B1', 1000, '2027-12-31', '2027-12-31', \
                    CASE WHEN k.n < {used} THEN 'redeemed' \
                         WHEN b.n % 20 = 0 THEN 'inactive' ELSE 'valid' END \
             FROM bench_n b JOIN bench_n k ON k.n < 10"
        ),
        p,
        d,
    )
    .await?;
    exec(
        tx,
        &format!(
            "INSERT INTO redemptions (id, voucher_id, site_id, program_id, distributor_id, \
             pass_id, value_cents, service, minutes, redeemed_at, place_id, themes, group_id, \
             code) \
             SELECT 'r' || b.n || '-' || k.n, 'v' || b.n || '-' || k.n, pl.site_id, $1, $2, \
                    'p' || b.n, 1000, \
                    CASE b.n % 3 WHEN 0 THEN 'individual_help' \
                         WHEN 1 THEN 'administrative_procedure' ELSE 'workshop' END, \
                    30 * (1 + b.n % 4), m.at, pl.place_id, \
                    CASE (k.n / 2) % 4 WHEN 0 THEN 'email' WHEN 1 THEN 'email|health' \
                         WHEN 2 THEN 'admin_money' ELSE '' END, \
                    'r' || b.n || '-' || (k.n - k.n % 2), 'C' || b.n || '-' || k.n \
             FROM bench_n b JOIN bench_n k ON k.n < {used} \
             JOIN bench_months m ON m.m = (CASE WHEN b.n % 12 + k.n / 4 > 11 THEN 11 \
                                           ELSE b.n % 12 + k.n / 4 END) \
             JOIN bench_places pl ON pl.n = (b.n + k.n / 6) % {n_places}"
        ),
        p,
        d,
    )
    .await?;
    // An answer to "Je donne mon avis" for each carnet's first session, the day it was given.
    sqlx::query(
        "INSERT INTO opinions (session_id, pass_id, program_id, site_id, place_id, overall, \
         created_at) \
         SELECT r.id, r.pass_id, $1, r.site_id, r.place_id, 3 + LENGTH(r.pass_id), \
                r.redeemed_at \
         FROM redemptions r WHERE r.id LIKE '%-0'",
    )
    .bind(p)
    .execute(&mut **tx)
    .await?;
    exec(
        tx,
        "INSERT INTO ledger_transactions (id, program_id, kind, reference, amount_cents, \
         created_at) \
         SELECT 'ti' || b.n, $1, 'issuance', 'p' || b.n || $2, 10000, m.at \
         FROM bench_n b JOIN bench_months m ON m.m = b.n % 12",
        p,
        d,
    )
    .await?;
    exec(
        tx,
        "INSERT INTO ledger_transactions (id, program_id, kind, reference, amount_cents, \
         created_at) \
         SELECT 't' || group_id, $1, 'redemption', group_id || $2, \
                CAST(SUM(value_cents) AS BIGINT), MIN(redeemed_at) \
         FROM redemptions GROUP BY group_id",
        p,
        d,
    )
    .await?;
    Ok(program.id)
}
