//! Bulk figures of issue 6 at a million cheques, each beside the storage floor it depends on:
//!
//! * issuance of 100,000 carnets of 10 through `POST /api/v1/passes/batch` (1,000 carnets per
//!   request, QR payloads signed in the answers), beside a bare multi-row INSERT of as many rows
//!   into a table shaped like `vouchers`;
//! * the PDF of 1,000 of those carnets;
//! * a settlement batch over 1,000,000 redemptions (1,000 sites): batch, approval, SEPA file and
//!   every site's PDF statement (every cheque listed);
//! * a programme's reconciliation figures over those cheques.
//!
//! `cargo bench --bench bulk` runs on SQLite (a fresh file in the temp directory);
//! `PASSNUM_BENCH_POSTGRES_URL=postgres://…/postgres` adds PostgreSQL (a database created and
//! dropped for the run). `PASSNUM_BENCH_CARNETS` scales the run (default 100000; 1000000 for
//! ten million cheques). `PASSNUM_BENCH_SNAPSHOT=/path/file.db` keeps a copy of the SQLite
//! database as settlement finds it (every cheque redeemed, nothing settled).
//!
//! The million redemptions are set up with three SQL statements and one ledger posting per site
//! rather than a million HTTP requests: the redemption path has its own bench
//! (`benches/redemption.rs`); here only settlement is measured. On PostgreSQL the set-up ends
//! with `ANALYZE`, as autovacuum would soon after such a load.

mod common;

use anyhow::Context;
use passnum::app::AppState;
use passnum::clock::SystemClock;
use passnum::config::Config;
use passnum::db::{Backend, Batch, Origin, Param, Tx};
use passnum::ledger::{Account, Kind, Transfer};
use passnum::money::Cents;
use passnum::orgs::{self, NewOrganization, Organization};
use passnum::programs::{self, NewAllocation, NewFunding, NewProgram};
use passnum::sites::bank::NewBankAccount;
use passnum::sites::qualification::Decision;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BENCH_KEYS: &str = "B1:QkVOQ0hCRU5DSEJFTkNIQkVOQ0hCRU5DSEJFTkNIISE=";
const CARNETS_PER_REQUEST: usize = 1000;
const SITES: usize = 1000;
const ISSUING_CLIENTS: usize = 2;

fn main() -> anyhow::Result<()> {
    let carnets: usize = std::env::var("PASSNUM_BENCH_CARNETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!("# bulk bench: {carnets} carnets of 10 cheques, {SITES} sites");
    println!("machine: {}", common::machine_line());
    runtime.block_on(async {
        let dir = std::env::temp_dir().join(format!("passnum-bulk-{}", uuid::Uuid::new_v4()));
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

struct World {
    operator: Organization,
    distributor_token: String,
    program_id: String,
}

async fn run(name: &str, backend: Backend, url: &str, carnets: usize) -> anyhow::Result<()> {
    let mut config = Config::defaults();
    config.database_url = url.to_string();
    config.signing_keys = Some(BENCH_KEYS.into());
    // The SEPA file is written from the example payer account, as in the demo.
    config.demo = true;
    let state = passnum::start(config, Arc::new(SystemClock)).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(passnum::app::serve(listener, state.clone()));
    let world = setup(&state, carnets).await?;
    println!("\n## {name} ({backend:?})");

    // The floor: the same number of voucher-shaped rows, multi-row INSERTs, 10,000 rows per
    // transaction (the batch path's shape).
    let cheques = carnets * 10;
    let floor = floor_insert(&state, cheques).await?;
    println!(
        "floor: {cheques} voucher-shaped rows inserted in {:.2} s ({:.0} rows/s)",
        floor.as_secs_f64(),
        cheques as f64 / floor.as_secs_f64()
    );
    let empty = database_bytes(&state).await?;

    // Issuance over HTTP.
    let started = Instant::now();
    let requests = carnets.div_ceil(CARNETS_PER_REQUEST);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..ISSUING_CLIENTS {
        let (base, token, program_id, next) = (
            base.clone(),
            world.distributor_token.clone(),
            world.program_id.clone(),
            next.clone(),
        );
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut first_ids = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= requests {
                    return anyhow::Ok(first_ids);
                }
                let size = CARNETS_PER_REQUEST.min(carnets - n * CARNETS_PER_REQUEST);
                let batch: Vec<_> = (0..size)
                    .map(|i| serde_json::json!({"cheques": 10, "beneficiary_ref": format!("B-{n}-{i}")}))
                    .collect();
                let response = client
                    .post(format!("{base}/api/v1/passes/batch"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"program_id": program_id, "carnets": batch}))
                    .send()
                    .await?;
                anyhow::ensure!(response.status() == 201, "batch {n}: {}", response.status());
                let passes: Vec<serde_json::Value> = response.json().await?;
                anyhow::ensure!(passes.len() == size, "batch {n} came back short");
                anyhow::ensure!(
                    passes[size - 1]["vouchers"][9]["qr_payload"]
                        .as_str()
                        .is_some_and(|p| p.starts_with("PN1.") || p.starts_with("PN2.")),
                    "batch {n}: cheques are not signed"
                );
                if n == 0 {
                    first_ids = passes.iter().map(|p| p["id"].as_str().unwrap_or_default().to_string()).collect();
                }
            }
        }));
    }
    let mut first_ids = Vec::new();
    for c in clients {
        first_ids.extend(c.await??);
    }
    let issuance = started.elapsed();
    println!(
        "issuance: {cheques} cheques ({carnets} carnets, {requests} requests of {CARNETS_PER_REQUEST}, {ISSUING_CLIENTS} clients) in {:.2} s ({:.0} cheques/s, {:.0} % of the floor's rate)",
        issuance.as_secs_f64(),
        cheques as f64 / issuance.as_secs_f64(),
        100.0 * floor.as_secs_f64() / issuance.as_secs_f64()
    );
    let issued_bytes = database_bytes(&state).await?;
    println!(
        "database size after issuance: {:.0} MiB, {:.0} bytes per cheque",
        issued_bytes as f64 / (1 << 20) as f64,
        (issued_bytes - empty) as f64 / cheques as f64
    );

    // PDF of 1,000 carnets.
    let mut conn = state.db.read().await?;
    let today = state.clock.today();
    let policy = orgs::TokenPolicy::new(state.clock.now(), 0);
    let distributor = orgs::authenticate(&mut conn, &world.distributor_token, policy)
        .await?
        .org;
    let mut passes = Vec::new();
    for id in first_ids.iter().take(1000) {
        passes.push(passnum::vouchers::Printable {
            pass: passnum::vouchers::get(&mut conn, &state.keyring, &distributor, id, today)
                .await?,
            programme: "Pass numérique (bench)".into(),
            distributor: "Distributeur".into(),
            accepted_in: "Gironde (33)".into(),
        });
    }
    drop(conn);
    let letterhead = state.letterhead();
    let started = Instant::now();
    let printed: Vec<_> = passes
        .iter()
        .map(|p| passnum::vouchers::print::carnet(p, &letterhead))
        .collect();
    let pdf = passnum::pdf::carnets(&printed);
    let pdf_time = started.elapsed();
    println!(
        "pdf: {} carnets in {:.2} s ({} KiB)",
        printed.len(),
        pdf_time.as_secs_f64(),
        pdf.len() / 1024
    );

    // A million redemptions, then one settlement batch over them.
    let started = Instant::now();
    redeem_everything(&state, &world).await?;
    if backend == Backend::Postgres {
        // A live database has statistics: autovacuum analyses a table within a minute of such
        // a load. Without them, PostgreSQL plans the settlement queries for a handful of rows
        // (nested loops over a million: minutes instead of seconds).
        // ANALYZE writes no rows; on PostgreSQL the readers' pool is the writers' pool too.
        sqlx::query("ANALYZE").execute(state.db.reads()).await?;
    }
    println!(
        "set-up: every cheque redeemed by SQL{} in {:.1} s",
        if backend == Backend::Postgres {
            ", then ANALYZE,"
        } else {
            ""
        },
        started.elapsed().as_secs_f64()
    );
    if let (Backend::Sqlite, Ok(copy)) = (backend, std::env::var("PASSNUM_BENCH_SNAPSHOT")) {
        // A copy of the database as settlement finds it, to time its statements one by one
        // in the `sqlite3` shell.
        database_bytes(&state).await?;
        let file = url.trim_start_matches("sqlite://");
        std::fs::copy(file, &copy)?;
        println!("snapshot: the database after set-up copied to {copy}");
    }
    let started = Instant::now();
    let now = state.clock.now();
    let operator = world.operator.clone();
    let batch = state
        .db
        .transact(Origin::platform(), move |tx| {
            Box::pin(async move {
                passnum::settlement::create(
                    tx,
                    &operator,
                    passnum::settlement::NewBatch {
                        until: today.to_string(),
                    },
                    now,
                    jiff::SignedDuration::ZERO,
                )
                .await
            })
        })
        .await?;
    let created = started.elapsed();
    let (operator, batch_id) = (world.operator.clone(), batch.batch.id.clone());
    state
        .db
        .transact(Origin::platform(), move |tx| {
            Box::pin(
                async move { passnum::settlement::approve(tx, &operator, &batch_id, now).await },
            )
        })
        .await?;
    // The transfers taken to the bank, then their SEPA file (read from the exported batch).
    let (operator, batch_id) = (world.operator.clone(), batch.batch.id.clone());
    let config = state.config.clone();
    state
        .db
        .transact(Origin::platform(), move |tx| {
            Box::pin(async move {
                passnum::settlement::export(tx, &operator, &batch_id, &config, now).await
            })
        })
        .await?;
    let mut conn = state.db.read().await?;
    let sepa =
        passnum::settlement::sepa_file(&mut conn, &world.operator, &batch.batch.id, &state.config)
            .await?;
    drop(conn);
    let exported = started.elapsed();
    // Every site's statement, as a paid batch mails them: each site's cheques read while the
    // statements already read are rendered on both CPUs.
    let mut conn = state.db.read().await?;
    let statements =
        passnum::settlement::site_statement_pdfs(&mut conn, &world.operator, &batch.batch.id)
            .await?;
    drop(conn);
    anyhow::ensure!(
        statements.len() == batch.lines.len(),
        "one statement per site"
    );
    // Every cheque has its row, plus the total.
    let cheques_listed: usize = statements.iter().map(|(_, s)| s.rows - 1).sum();
    let statement_bytes: usize = statements.iter().map(|(_, s)| s.pdf.len()).sum();
    let settled = started.elapsed();
    let redemptions: i64 = batch.lines.iter().map(|l| l.redemptions).sum();
    anyhow::ensure!(
        cheques_listed as i64 == redemptions,
        "the statements list {cheques_listed} cheques"
    );
    println!(
        "settlement: {redemptions} redemptions, {} lines: batch {:.2} s, + approval and SEPA file ({} KiB) {:.2} s, + {} PDF statements ({} cheques listed, {} KiB) {:.2} s in all",
        batch.lines.len(),
        created.as_secs_f64(),
        sepa.len() / 1024,
        exported.as_secs_f64(),
        statements.len(),
        cheques_listed,
        statement_bytes / 1024,
        settled.as_secs_f64()
    );

    // Reconciliation, read from maintained balances.
    let program = {
        let mut conn = state.db.read().await?;
        programs::find(&mut conn, &world.program_id)
            .await?
            .context("programme")?
    };
    let mut times = Vec::new();
    for _ in 0..50 {
        let mut conn = state.db.read().await?;
        let started = Instant::now();
        let r =
            passnum::ledger::reconciliation(&mut conn, &program.id, program.budget_cents).await?;
        times.push(started.elapsed());
        anyhow::ensure!(r.identity_holds(), "reconciliation identity");
    }
    times.sort();
    println!(
        "reconciliation over {cheques} cheques: p50 {:.2} ms, max {:.2} ms (50 runs)",
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    );
    let settled_bytes = database_bytes(&state).await?;
    println!(
        "database size with every cheque redeemed and settled: {:.0} MiB, {:.0} bytes per cheque",
        settled_bytes as f64 / (1 << 20) as f64,
        (settled_bytes - empty) as f64 / cheques as f64
    );
    let mut conn = state.db.read().await?;
    let mut verified = passnum::ledger::verify(&mut conn).await?;
    verified
        .problems
        .extend(passnum::settlement::verify(&mut conn).await?);
    println!(
        "ledger verify (with settlement lines): {}",
        if verified.is_ok() { "ok" } else { "PROBLEMS" }
    );
    anyhow::ensure!(verified.is_ok(), "{:?}", verified.problems);
    drop(conn);
    server.abort();
    Ok(())
}

/// The bytes the database's tables and indexes take (SQLite: pages in use, the write-ahead
/// log checkpointed first; PostgreSQL: the database's files).
async fn database_bytes(state: &AppState) -> anyhow::Result<i64> {
    let pool = state.db.bench_write_pool();
    Ok(if state.db.backend() == Backend::Postgres {
        sqlx::query_scalar("SELECT CAST(pg_database_size(current_database()) AS BIGINT)")
            .fetch_one(pool)
            .await?
    } else {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(pool)
            .await?;
        sqlx::query_scalar(
            "SELECT (c.page_count - f.freelist_count) * s.page_size \
             FROM pragma_page_count() c, pragma_freelist_count() f, pragma_page_size() s",
        )
        .fetch_one(pool)
        .await?
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn org(
    tx: &mut Tx<'_>,
    operator: &Organization,
    kind: &str,
    name: &str,
    now: jiff::Timestamp,
) -> passnum::error::Result<(Organization, String)> {
    let org = orgs::create(
        tx,
        operator,
        NewOrganization {
            kind: kind.into(),
            name: name.into(),
            siret: (kind == "site").then(|| "73282932000074".into()),
            department: Some("33".into()),
            postcode: Some("33000".into()),
            time_zone: None,
        },
        now,
    )
    .await?;
    let token = orgs::issue_token(tx, operator, &org.id, now).await?.token;
    Ok((org, token))
}

/// The operator organisation, made as at installation (the only way to make one).
async fn operator(tx: &mut Tx<'_>, now: jiff::Timestamp) -> passnum::error::Result<Organization> {
    orgs::bootstrap(tx, now).await?;
    let id = orgs::operator_exists(tx)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the operator was not created"))?;
    Ok(orgs::find(tx, &id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the operator vanished"))?)
}

async fn setup(state: &AppState, carnets: usize) -> anyhow::Result<World> {
    let now = state.clock.now();
    let until = state.clock.today().checked_add(jiff::ToSpan::year(1))?;
    let letterhead = state.letterhead();
    let world = state
        .db
        .transact(Origin::platform(), move |tx| {
            Box::pin(async move { setup_in(tx, carnets, until, &letterhead, now).await })
        })
        .await?;
    Ok(world)
}

async fn setup_in(
    tx: &mut Tx<'_>,
    carnets: usize,
    until: jiff::civil::Date,
    letterhead: &passnum::mail::Letterhead,
    now: jiff::Timestamp,
) -> passnum::error::Result<World> {
    let operator = operator(tx, now).await?;
    let (funder, _) = org(tx, &operator, "funder", "Département de la Gironde", now).await?;
    let (distributor, distributor_token) = org(tx, &operator, "distributor", "CCAS", now).await?;
    for s in 0..SITES {
        let (site, _) = org(tx, &operator, "site", &format!("Lieu {s}"), now).await?;
        passnum::sites::qualification::decide_site(
            tx,
            &operator,
            &site.id,
            Decision::Qualify { until },
            letterhead,
            now,
        )
        .await?;
        passnum::sites::bank::set_bank_account(
            tx,
            &operator,
            &site.id,
            NewBankAccount {
                iban: "FR7630006000011234567890189".into(),
                bic: None,
                holder: format!("Lieu {s}"),
            },
            None,
            letterhead,
            now,
        )
        .await?;
    }
    let cents = Cents::euros(carnets as i64 * 100);
    let program = programs::create(
        tx,
        &funder,
        NewProgram {
            name: "Pass numérique (bench)".into(),
            budget_cents: cents,
            cheque_value_cents: None,
            validity_days: None,
            grace_days: None,
            fee_rate_bp: None,
            fee_per_cheque_cents: None,
            department: Some("33".into()),
            territory: None,
            services: None,
            confirmed_funding_only: false,
            time_zone: None,
        },
        now,
    )
    .await?;
    programs::record_funding(
        tx,
        &funder,
        &program.id,
        NewFunding {
            amount_cents: cents,
            reference: "OP-BENCH-0001".into(),
        },
        now,
    )
    .await?;
    programs::allocate(
        tx,
        &funder,
        &program.id,
        NewAllocation {
            distributor_id: distributor.id.clone(),
            cheques: carnets as i64 * 10,
        },
        now,
    )
    .await?;
    Ok(World {
        operator,
        distributor_token,
        program_id: program.id,
    })
}

async fn floor_insert(state: &AppState, rows: usize) -> anyhow::Result<Duration> {
    // Bare transactions on the writers' pool: the storage alone, no unit of work around them.
    let pool = state.db.bench_write_pool();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "CREATE TABLE bench_vouchers (id TEXT PRIMARY KEY, pass_id TEXT NOT NULL, \
         program_id TEXT NOT NULL, distributor_id TEXT NOT NULL, position BIGINT NOT NULL, \
         code TEXT NOT NULL UNIQUE, key_id TEXT NOT NULL, value_cents BIGINT NOT NULL, \
         expires_on TEXT NOT NULL, redeemable_until TEXT NOT NULL, status TEXT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query("CREATE INDEX bench_vouchers_pass ON bench_vouchers (pass_id, position)")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let started = Instant::now();
    // The same statements as the application's (`db::Batch`), 10,000 rows a transaction.
    let mut done = 0;
    while done < rows {
        let mut tx = pool.begin().await?;
        let n = (rows - done).min(10_000);
        let values: Vec<Vec<Param>> = (0..n)
            .map(|i| {
                vec![
                    Param::from(passnum::db::new_id()),
                    passnum::db::new_id().into(),
                    "program".into(),
                    "distributor".into(),
                    ((i % 10 + 1) as i64).into(),
                    passnum::vouchers::codes::generate_code().into(),
                    "K1".into(),
                    1000_i64.into(),
                    "2027-11-23".into(),
                    "2027-11-23".into(),
                    "valid".into(),
                ]
            })
            .collect();
        let mut batch = Batch::new(&tx);
        batch.push_rows(
            "INSERT INTO bench_vouchers (id, pass_id, program_id, distributor_id, position, \
             code, key_id, value_cents, expires_on, redeemable_until, status)",
            "",
            values,
        );
        batch.execute(&mut tx).await?;
        tx.commit().await?;
        done += n;
    }
    let elapsed = started.elapsed();
    // Gone before the database is measured.
    sqlx::query("DROP TABLE bench_vouchers")
        .execute(pool)
        .await?;
    Ok(elapsed)
}

/// Every valid cheque redeemed yesterday by one of the sites (round robin), with one ledger
/// posting per site.
async fn redeem_everything(state: &AppState, world: &World) -> anyhow::Result<()> {
    let yesterday = state
        .clock
        .now()
        .checked_sub(jiff::SignedDuration::from_hours(24))?;
    let at = passnum::clock::format_ts(yesterday);
    let program_id = world.program_id.clone();
    state
        .db
        .transact(Origin::platform(), move |tx| {
            Box::pin(async move { redeem_everything_in(tx, &program_id, &at).await })
        })
        .await?;
    Ok(())
}

async fn redeem_everything_in(
    tx: &mut Tx<'_>,
    program_id: &str,
    at: &str,
) -> passnum::error::Result<()> {
    let sites: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM organizations WHERE kind = 'site' ORDER BY id")
            .fetch_all(&mut **tx)
            .await?;
    sqlx::query("CREATE TABLE bench_site_numbers (n BIGINT PRIMARY KEY, site_id TEXT NOT NULL)")
        .execute(&mut **tx)
        .await?;
    for (n, (site,)) in sites.iter().enumerate() {
        sqlx::query("INSERT INTO bench_site_numbers (n, site_id) VALUES ($1, $2)")
            .bind(n as i64)
            .bind(site)
            .execute(&mut **tx)
            .await?;
    }
    // Row numbers spread the cheques over the sites.
    sqlx::query(
        "INSERT INTO redemptions (id, voucher_id, site_id, program_id, distributor_id, \
         pass_id, value_cents, service, minutes, redeemed_at, code) \
         SELECT v.id, v.id, s.site_id, v.program_id, v.distributor_id, v.pass_id, v.value_cents, \
                'individual_help', 60, $1, v.code \
         FROM (SELECT id, pass_id, program_id, distributor_id, value_cents, code, \
                      ROW_NUMBER() OVER (ORDER BY id) AS rn \
               FROM vouchers WHERE status = 'valid') v \
         JOIN bench_site_numbers s ON s.n = v.rn % $2",
    )
    .bind(at)
    .bind(sites.len() as i64)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE vouchers SET status = 'redeemed' WHERE status = 'valid'")
        .execute(&mut **tx)
        .await?;
    let totals: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT site_id, distributor_id, CAST(SUM(value_cents) AS BIGINT) FROM redemptions \
         GROUP BY site_id, distributor_id",
    )
    .fetch_all(&mut **tx)
    .await?;
    for (site, distributor, cents) in totals {
        passnum::ledger::post(
            tx,
            program_id,
            Kind::Redemption,
            &format!("bench:{site}"),
            Transfer {
                from: Account::Outstanding(&distributor),
                to: Account::Redeemed(&site),
                amount_cents: Cents::new(cents),
            },
            at,
        )
        .await?;
    }
    Ok(())
}
