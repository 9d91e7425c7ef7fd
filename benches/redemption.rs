//! `cargo bench --bench redemption`: what sites and beneficiaries feel when cheques are redeemed
//! (issue 25), each figure beside the storage floor measured in the same run, on SQLite and
//! (when `PASSNUM_BENCH_POSTGRES_URL` names a server) on PostgreSQL; then public page weight and
//! time, resident memory, and `ledger verify`.
//!
//! The machines this runs on are small and shared, so absolute figures are noisy: every figure is
//! printed with the floor measured a few seconds earlier in the same process, and the ratio
//! between them is what to compare across runs. See BENCHMARKS.md for the method and analysis.
//!
//! Environment:
//! - `PASSNUM_BENCH_POSTGRES_URL`: an administrative URL (e.g.
//!   `postgres://postgres:postgres@127.0.0.1:5432/postgres`); a fresh `passnum_bench_<random>`
//!   database is created there and dropped at the end.
//! - `PASSNUM_BENCH_SECS`: seconds per measured step (default 5).
//! - `PASSNUM_BENCH_CHEQUES`: cheques of the main distributor issued before the loads
//!   (default 400,000; rounded up to carnets of 10).
//! - `PASSNUM_BENCH_ONLY`: `sqlite` or `postgres` to run one database only.
//!
//! Each database is measured in a child process of its own (this binary run again with
//! `PASSNUM_BENCH_CHILD`), so memory figures do not carry the other's. In it, the server runs
//! like in the integration tests: the real configuration path (`passnum::start`) and router
//! (`passnum::app::serve`) on a random local port; the HTTP clients (one kept-alive reqwest
//! client per simulated client) run on a tokio runtime of their own, like a load generator would.
//!
//! Steps, per database: organisations, one programme and 64 qualified sites through the domain
//! functions; the cheques issued through `POST /api/v1/passes/batch` (as `benches/bulk.rs`
//! does) and shuffled, so that they are redeemed in random order as beneficiaries bring them;
//! the storage floor at 1, 8 and 64 tasks and a few cheap variants; `/healthz` as the HTTP
//! floor; the redemption transaction called in process; redemption over HTTP in a closed loop
//! at 1, 2, 4, 8, 16 and 64 clients (8 sites in turn below 64 clients, one site per client at
//! 64); 64 clients over 64 sites paced at 20/s (the national peak), 200/s, 60 % of the floor's
//! rate at 64 tasks and 80 % of the closed loop's; cheques of 16 distributors; public pages;
//! memory; `ledger::verify`; and a summary of issue 25's checks. Every load runs for a fixed
//! time, as a closed loop unless it is paced.

use anyhow::Context as _;
use passnum::app::AppState;
use passnum::clock::SystemClock;
use passnum::config::Config;
use passnum::db::{Backend, Origin, Tx};
use passnum::orgs::{self, NewOrganization, Organization};
use passnum::programs::{self, NewAllocation, NewFunding, NewProgram};
use passnum::sites::qualification::Decision;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One signing key, inline, so the bench writes no keys file.
const BENCH_KEYS: &str = "B1:QkVOQ0hCRU5DSEJFTkNIQkVOQ0hCRU5DSEJFTkNIISE=";

/// Concurrency levels of the floor.
const FLOOR_LEVELS: [usize; 3] = [1, 8, 64];
/// Concurrency levels of redemption over HTTP in a closed loop.
const HTTP_LEVELS: [usize; 6] = [1, 2, 4, 8, 16, 64];

/// Sites redeeming: one per client at 64 clients and in the paced loads, so each client has
/// its own `redeemed:S` ledger account and its own writer lane's share.
const SITES: usize = 64;
/// Sites taken in turn, request by request, below 64 clients (issue 25 measured with 8).
const LOW_SITES: usize = 8;

/// Cheques of the main distributor issued before the loads, unless `PASSNUM_BENCH_CHEQUES`.
const DEFAULT_CHEQUES: usize = 400_000;
/// Carnets per `POST /api/v1/passes/batch` (the most one batch may hold) and requests in flight.
const CARNETS_PER_REQUEST: usize = passnum::vouchers::MAX_BATCH;
const ISSUING_CLIENTS: usize = 2;

/// The paced loads' rates: the national peak, ten times it, the issue's throughput target
/// (this share of the floor's rate at 64 tasks, same run), and a heavy load (this share of
/// what the 64-client closed loop reached).
const PACE_PEAK: f64 = 20.0;
const PACE_TEN_PEAKS: f64 = 200.0;
const PACE_OF_FLOOR: f64 = 0.6;
const PACE_OF_CAPACITY: f64 = 0.8;
/// Distributors and cheques each for the "spread" variant (no single hot distributor row).
const SPREAD_DISTRIBUTORS: usize = 16;
const SPREAD_CHEQUES_EACH: usize = 1_500;
/// Statements a redemption runs between BEGIN and COMMIT: idempotency claim, cheque UPDATE,
/// redemption INSERT, two ledger balance and two ledger flow updates, ledger transaction and
/// two entries, idempotency save.
const REDEMPTION_STATEMENTS: usize = 11;
/// Rows of the floor's scratch table: at least this many, and enough for every floor step at
/// `FLOOR_ROWS_PER_SEC` rows per second of step.
const FLOOR_ROWS: usize = 200_000;
const FLOOR_ROWS_PER_SEC: f64 = 70_000.0;
/// Sequential requests per public page for the server-time figure.
const PAGE_REQUESTS: usize = 1_000;

type BoxFut = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
/// One unit of work of a load: (client index, item index) → done or an error message.
type Job = Arc<dyn Fn(usize, usize) -> BoxFut + Send + Sync>;

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; this binary takes no arguments of its own.
    let secs: f64 = std::env::var("PASSNUM_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s: &f64| *s > 0.0)
        .unwrap_or(5.0);
    let cheques = cheque_count();
    let postgres = std::env::var("PASSNUM_BENCH_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if let Ok(backend) = std::env::var(CHILD) {
        // One database per process, so that memory figures of one do not carry the other's.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        return runtime.block_on(async {
            let report = match backend.as_str() {
                "sqlite" => run_backend(Backend::Sqlite, None, secs, cheques).await?,
                _ => run_backend(Backend::Postgres, postgres.as_deref(), secs, cheques).await?,
            };
            report.print();
            println!("\n### Summary: {}", report.name);
            report.summary();
            Ok(())
        });
    }

    let only = std::env::var("PASSNUM_BENCH_ONLY").unwrap_or_default();
    let started = Instant::now();
    println!("# passnum redemption bench");
    println!("{}", machine_line());
    println!("load average before: {}", loadavg());
    println!(
        "build: {}; {secs} s per measured step; {cheques} cheques redeemed in random order",
        build_profile()
    );
    if postgres.is_none() {
        println!("PASSNUM_BENCH_POSTGRES_URL is not set: PostgreSQL is skipped.");
    }
    let mut backends = Vec::new();
    if only.is_empty() || only == "sqlite" {
        backends.push("sqlite");
    }
    if postgres.is_some() && (only.is_empty() || only == "postgres") {
        backends.push("postgres");
    }
    let mut summaries = Vec::new();
    for backend in backends {
        let output = run_child(backend)?;
        if let Some(at) = output.find("\n### Summary: ") {
            summaries.push(output[at + 1..].to_string());
        }
    }
    println!("\n## Summary (issue 25's checks)");
    for s in summaries {
        print!("{s}");
    }
    println!(
        "\nload average after: {}; total bench time {:.0} s",
        loadavg(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `PASSNUM_BENCH_CHEQUES`, rounded up to carnets of 10.
fn cheque_count() -> usize {
    let n = std::env::var("PASSNUM_BENCH_CHEQUES")
        .ok()
        .and_then(|s| s.replace(['_', ','], "").parse().ok())
        .filter(|n: &usize| *n > 0)
        .unwrap_or(DEFAULT_CHEQUES);
    n.div_ceil(10) * 10
}

/// Set, with the database's name, in the child process that measures that database.
const CHILD: &str = "PASSNUM_BENCH_CHILD";

/// Runs this binary again for one database, passing its output through as it comes.
fn run_child(backend: &str) -> anyhow::Result<String> {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .env(CHILD, backend)
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut output = String::new();
    let stdout = child.stdout.take().context("child stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        output.push_str(&line);
        output.push('\n');
    }
    let status = child.wait()?;
    anyhow::ensure!(status.success(), "the {backend} bench failed ({status})");
    Ok(output)
}

// ---------------------------------------------------------------------------------------------
// One database
// ---------------------------------------------------------------------------------------------

struct Report {
    name: &'static str,
    detail: String,
    /// Organisations and programme; then the cheques issued through the batch API.
    setup_secs: f64,
    issuance_secs: f64,
    cheques_issued: usize,
    /// Of which the main distributor's, redeemed in random order.
    main_cheques: usize,
    hmac_ns: f64,
    floor: Vec<(usize, Load)>,
    floor_hot: Vec<(&'static str, Load)>,
    floor_held: Vec<(usize, Load)>,
    floor_group: Load,
    floor_padded: Vec<(usize, Load)>,
    costs: StatementCosts,
    http_floor: Load,
    domain: Vec<(usize, Load)>,
    http: Vec<(usize, Load)>,
    /// 64 clients paced: which, what the rate stands for, the rate asked, the load.
    paced: Vec<(Paced, String, f64, Load)>,
    spread: Load,
    pages: Pages,
    rss_start_kib: u64,
    rss_started_kib: u64,
    rss_idle_kib: u64,
    rss_load_max_kib: u64,
    rss_after_kib: u64,
    /// Of `rss_after_kib`: private memory, and pages of files mapped (SQLite's memory map).
    rss_anon_kib: u64,
    rss_file_kib: u64,
    hwm_kib: u64,
    ledger_ok: bool,
    ledger_secs: f64,
    /// From the start of set-up to the end of `ledger verify`.
    total_secs: f64,
    /// Seconds per measured step.
    secs: f64,
}

/// What a paced load's rate stands for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Paced {
    /// The national peak, about 20 redemptions a second.
    Peak,
    /// Ten times the peak: issue 25's latency target (p99 ≤ 10 ms).
    TenPeaks,
    /// Issue 6's throughput target: 60 % of the floor's rate at 64 tasks.
    Target,
    /// 80 % of what the closed loop reached at 64 clients.
    Heavy,
}

/// A fresh database, set up, measured, and removed.
async fn run_backend(
    backend: Backend,
    admin_url: Option<&str>,
    secs: f64,
    cheques: usize,
) -> anyhow::Result<Report> {
    let name = format!("passnum_bench_{}", uuid::Uuid::new_v4().simple());
    let (database_url, cleanup) = match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(&name);
            std::fs::create_dir_all(&dir)?;
            let url = format!("sqlite://{}", dir.join("bench.db").display());
            (url, Cleanup::Dir(dir))
        }
        Backend::Postgres => {
            let admin_url = admin_url.context("no PostgreSQL URL")?.to_string();
            sqlx::any::install_default_drivers();
            let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url)
                .await
                .context("cannot reach PASSNUM_BENCH_POSTGRES_URL")?;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await?;
            let (base, _) = admin_url
                .split('?')
                .next()
                .unwrap_or_default()
                .rsplit_once('/')
                .context("the PostgreSQL URL names no database")?;
            (
                format!("{base}/{name}"),
                Cleanup::Postgres { admin_url, name },
            )
        }
    };
    eprintln!("[{backend:?}] database {database_url}");
    let result = measure(backend, &database_url, secs, cheques).await;
    if let Err(e) = cleanup.run().await {
        eprintln!("cleanup failed: {e:#}");
    }
    result
}

enum Cleanup {
    Dir(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

impl Cleanup {
    async fn run(self) -> anyhow::Result<()> {
        match self {
            Cleanup::Dir(dir) => Ok(std::fs::remove_dir_all(dir)?),
            Cleanup::Postgres { admin_url, name } => {
                let mut admin =
                    <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                Ok(())
            }
        }
    }
}

async fn measure(
    backend: Backend,
    database_url: &str,
    secs: f64,
    cheques: usize,
) -> anyhow::Result<Report> {
    // Progress on stderr, with the time since the start (where a run's minutes go).
    let begun = Instant::now();
    let name = match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    macro_rules! progress {
        ($($arg:tt)*) => {
            eprintln!("[{name} {:>4.0} s] {}", begun.elapsed().as_secs_f64(), format_args!($($arg)*))
        };
    }
    let mut config = Config::defaults();
    config.database_url = database_url.to_string();
    config.signing_keys = Some(BENCH_KEYS.into());
    config.invalid_code_limit = 1_000_000;
    config.public_lookup_limit = 1_000_000;
    let connections = config.db_connections;
    let rss_start_kib = proc_status("VmRSS:");
    let state = passnum::start(config, Arc::new(SystemClock)).await?;
    let detail = match backend {
        Backend::Sqlite => {
            format!("one writer connection + {connections} readers, WAL, synchronous=NORMAL")
        }
        Backend::Postgres => {
            let sync: String = sqlx::query_scalar(
                "SELECT setting FROM pg_settings WHERE name = 'synchronous_commit'",
            )
            .fetch_one(state.db.reads())
            .await?;
            let version: String = sqlx::query_scalar("SHOW server_version")
                .fetch_one(state.db.reads())
                .await?;
            format!("PostgreSQL {version}, one pool of {connections} connections, synchronous_commit={sync}")
        }
    };

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(passnum::app::serve(listener, state.clone()));
    let rss_started_kib = proc_status("VmRSS:");

    progress!("setting up organisations, a programme and {cheques} cheques");
    let started = Instant::now();
    let members = setup_members(&state, cheques).await?;
    let setup_secs = started.elapsed().as_secs_f64();
    let world = issue_cheques(&base, members, cheques).await?;
    let issuance_secs = started.elapsed().as_secs_f64() - setup_secs;
    let cheques_issued = world.main.len() + world.spread.len();
    progress!("{cheques_issued} cheques issued in {issuance_secs:.1} s; preparing the floor");
    let floor_rows = FLOOR_ROWS.max((secs * FLOOR_ROWS_PER_SEC) as usize);
    prepare_floor(&state, floor_rows).await?;
    let rss_idle_kib = proc_status("VmRSS:");
    progress!("floor table ready ({floor_rows} rows)");

    // The signature check of a QR payload, in process.
    let hmac_ns = {
        let payload = &world.main[1].qr;
        let n = 100_000;
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(state.keyring.verify_payload(std::hint::black_box(payload)))
                .map_err(|e| anyhow::anyhow!("payload does not verify: {e:?}"))?;
        }
        t.elapsed().as_nanos() as f64 / n as f64
    };

    // 1. The storage floor, on the application's own write pool.
    let floor_next = Arc::new(AtomicUsize::new(0));
    let mut floor = Vec::new();
    for clients in FLOOR_LEVELS {
        progress!("floor, {clients} tasks");
        let job = floor_job(&state, Hot::No, 0, floor_next.clone());
        floor.push((
            clients,
            run_load(clients, secs, 0..floor_rows, job, None).await,
        ));
    }
    // Where the floor's time goes, and what a row every transaction shares costs.
    progress!("single statements' costs");
    let costs = statement_costs(&state).await?;
    progress!("floor on a held connection, 1 task");
    let mut floor_held = Vec::new();
    {
        let conn: HeldConnection = Arc::new(tokio::sync::Mutex::new(
            state.db.bench_write_pool().acquire().await?,
        ));
        for clients in [1] {
            let job = floor_held_job(conn.clone(), floor_next.clone());
            floor_held.push((
                clients,
                run_load(clients, secs, 0..floor_rows, job, None).await,
            ));
        }
    }
    let mut floor_hot = Vec::new();
    for (label, hot) in [("last", Hot::Last), ("first", Hot::First)] {
        progress!("floor with one shared row ({label}), 64 tasks");
        let job = floor_job(&state, hot, 0, floor_next.clone());
        floor_hot.push((label, run_load(64, secs, 0..floor_rows, job, None).await));
    }
    progress!("floor with group commit, 64 tasks");
    let floor_group = {
        let job = floor_group_job(&state, floor_next.clone());
        run_load(64, secs, 0..floor_rows, job, None).await
    };
    // As many statements as a redemption (11), none on a shared row.
    let mut floor_padded = Vec::new();
    for clients in [1, 64] {
        progress!("floor padded to {REDEMPTION_STATEMENTS} statements, {clients} tasks");
        let job = floor_job(
            &state,
            Hot::No,
            REDEMPTION_STATEMENTS - 2,
            floor_next.clone(),
        );
        floor_padded.push((
            clients,
            run_load(clients, secs, 0..floor_rows, job, None).await,
        ));
    }

    // HTTP clients run on a runtime of their own, as a load generator in another process would:
    // on the server's runtime their work would queue with the server's tasks.
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-client")
        .enable_all()
        .build()?;
    let on_clients = |load: Pin<Box<dyn Future<Output = Load> + Send>>| {
        let handle = client_rt.spawn(load);
        async move { handle.await.expect("client load") }
    };

    // The HTTP floor: the smallest JSON answer, through the same stack and clients.
    let http_clients: Vec<reqwest::Client> =
        (0..64).map(|_| http_client()).collect::<Result<_, _>>()?;
    {
        let (clients, base) = (http_clients.clone(), base.clone());
        client_rt
            .spawn(async move { warm_up(&clients, &base).await })
            .await??;
    }
    progress!("HTTP floor (/healthz), 64 clients");
    let http_floor = on_clients(Box::pin(run_load(
        64,
        secs.min(2.0),
        0..usize::MAX,
        healthz_job(&http_clients, &base),
        None,
    )))
    .await;

    // Every redemption step takes the next cheques of the shuffled list: each cheque is
    // redeemed once, in random order over the whole table.
    let world = Arc::new(world);
    let mut next = 0;

    // 2a. The same redemption transaction as the handler (check + transact_once + record),
    // without HTTP.
    let mut domain = Vec::new();
    for clients in [1, 64] {
        progress!("redemption in process, {clients} tasks");
        let load = run_load(
            clients,
            secs,
            next..world.main.len(),
            domain_job(&state, &world, clients),
            None,
        )
        .await;
        next += load.done + load.errors;
        domain.push((clients, load));
    }

    // 2b. Redemption over HTTP, with the memory sampled meanwhile.
    let sampling = Arc::new(AtomicBool::new(true));
    let rss_max = Arc::new(AtomicU64::new(0));
    let sampler = tokio::spawn({
        let (sampling, rss_max) = (sampling.clone(), rss_max.clone());
        async move {
            while sampling.load(Ordering::Relaxed) {
                rss_max.fetch_max(proc_status("VmRSS:"), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    let mut http = Vec::new();
    for clients in HTTP_LEVELS {
        progress!("redemption over HTTP, {clients} clients");
        let job = redeem_job(&http_clients, &base, &world, clients, false);
        let load = on_clients(Box::pin(run_load(
            clients,
            secs,
            next..world.main.len(),
            job,
            None,
        )))
        .await;
        next += load.done + load.errors;
        http.push((clients, load));
    }
    // 64 clients over 64 sites, paced: the latency a site sees at a given load, rather than at
    // the saturation a closed loop always reaches (where mean latency is clients / rate).
    let capacity = http.last().map_or(0.0, |(_, l)| l.rate());
    let rates = [
        (Paced::Peak, "the national peak".to_string(), PACE_PEAK),
        (
            Paced::TenPeaks,
            format!("{:.0} × the peak", PACE_TEN_PEAKS / PACE_PEAK),
            PACE_TEN_PEAKS,
        ),
        (
            Paced::Target,
            format!("{:.0} % of floor@64", 100.0 * PACE_OF_FLOOR),
            PACE_OF_FLOOR * floor_at(&floor, 64),
        ),
        (
            Paced::Heavy,
            format!("{:.0} % of capacity", 100.0 * PACE_OF_CAPACITY),
            PACE_OF_CAPACITY * capacity,
        ),
    ];
    let mut paced = Vec::new();
    for (what, share, rate) in rates {
        if !(rate.is_finite() && rate > 0.0) {
            progress!("no rate for the paced load at {share}: skipped");
            continue;
        }
        progress!("redemption over HTTP, 64 clients paced at {rate:.0}/s ({share})");
        let job = redeem_job(&http_clients, &base, &world, 64, false);
        let load = on_clients(Box::pin(run_load(
            64,
            secs,
            next..world.main.len(),
            job,
            Some(rate),
        )))
        .await;
        next += load.done + load.errors;
        paced.push((what, share, rate, load));
    }
    progress!("redemption over HTTP, 64 clients, cheques of {SPREAD_DISTRIBUTORS} distributors");
    let spread = on_clients(Box::pin(run_load(
        64,
        secs,
        0..world.spread.len(),
        redeem_job(&http_clients, &base, &world, 64, true),
        None,
    )))
    .await;
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        let wal = std::fs::metadata(format!("{path}-wal")).map_or(0, |m| m.len());
        progress!(
            "WAL file after the loads: {:.1} MiB",
            wal as f64 / 1048576.0
        );
    }
    let rss_load_max_kib = rss_max.load(Ordering::Relaxed);

    // 3. Public pages.
    progress!("public pages");
    let pages = {
        let (base, pass_code) = (base.clone(), world.pass_code.clone());
        client_rt
            .spawn(async move { pages(&base, &pass_code).await })
            .await??
    };
    drop(http_clients);
    client_rt.shutdown_background();

    // Every cent accounted for after the load.
    progress!("ledger verify");
    let t = Instant::now();
    let ledger_ok = {
        let mut conn = state.db.read().await?;
        passnum::ledger::verify(&mut conn).await?.is_ok()
    };
    let ledger_secs = t.elapsed().as_secs_f64();
    let total_secs = started.elapsed().as_secs_f64();

    let rss_after_kib = proc_status("VmRSS:");
    let rss_anon_kib = proc_status("RssAnon:");
    let rss_file_kib = proc_status("RssFile:");
    let hwm_kib = proc_status("VmHWM:");

    server.abort();
    let _ = server.await;
    state.db.close().await;

    Ok(Report {
        name,
        detail,
        setup_secs,
        issuance_secs,
        cheques_issued,
        main_cheques: world.main.len(),
        hmac_ns,
        floor,
        floor_hot,
        floor_held,
        floor_group,
        floor_padded,
        costs,
        http_floor,
        domain,
        http,
        paced,
        spread,
        pages,
        rss_start_kib,
        rss_started_kib,
        rss_idle_kib,
        rss_load_max_kib,
        rss_after_kib,
        rss_anon_kib,
        rss_file_kib,
        hwm_kib,
        ledger_ok,
        ledger_secs,
        total_secs,
        secs,
    })
}

// ---------------------------------------------------------------------------------------------
// Set-up through the domain functions, in a few transactions (as `passnum demo` does)
// ---------------------------------------------------------------------------------------------

struct Cheque {
    code: String,
    qr: String,
}

struct Site {
    org: Organization,
    token: String,
}

struct World {
    sites: Vec<Site>,
    /// Cheques of the one main distributor, shuffled: redeemed in this order.
    main: Vec<Cheque>,
    /// Cheques of SPREAD_DISTRIBUTORS other distributors, interleaved.
    spread: Vec<Cheque>,
    /// A carnet's code for the public balance page.
    pass_code: String,
}

async fn org(
    tx: &mut Tx<'_>,
    operator: &Organization,
    kind: &str,
    name: &str,
    siret: Option<&str>,
    now: jiff::Timestamp,
) -> passnum::error::Result<(Organization, String)> {
    let org = orgs::create(
        tx,
        operator,
        NewOrganization {
            kind: kind.into(),
            name: name.into(),
            siret: siret.map(Into::into),
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

/// What the first transaction of the set-up makes.
struct Members {
    /// The main distributor first, then SPREAD_DISTRIBUTORS others: their API tokens.
    distributor_tokens: Vec<String>,
    sites: Vec<Site>,
    program_id: String,
}

/// Organisations (sites qualified), the programme, its funding and the allocations.
async fn members(
    tx: &mut Tx<'_>,
    main_cheques: usize,
    until: jiff::civil::Date,
    letterhead: &passnum::mail::Letterhead,
    now: jiff::Timestamp,
) -> passnum::error::Result<Members> {
    let operator = operator(tx, now).await?;
    let (funder, _) = org(
        tx,
        &operator,
        "funder",
        "Département de la Gironde",
        None,
        now,
    )
    .await?;
    let mut distributors = Vec::new();
    for d in 0..=SPREAD_DISTRIBUTORS {
        distributors.push(
            org(
                tx,
                &operator,
                "distributor",
                &format!("Distributeur {d}"),
                None,
                now,
            )
            .await?,
        );
    }
    let mut sites = Vec::new();
    for s in 0..SITES {
        let (site, token) = org(
            tx,
            &operator,
            "site",
            &format!("Lieu de médiation {s}"),
            Some("73282932000074"),
            now,
        )
        .await?;
        let org = passnum::sites::qualification::decide_site(
            tx,
            &operator,
            &site.id,
            Decision::Qualify { until },
            letterhead,
            now,
        )
        .await?;
        sites.push(Site { org, token });
    }
    let total = (main_cheques + SPREAD_DISTRIBUTORS * SPREAD_CHEQUES_EACH) as i64;
    let budget = programs::DEFAULT_CHEQUE_VALUE * total;
    let program = programs::create(
        tx,
        &funder,
        NewProgram {
            name: "Pass numérique Gironde (bench)".into(),
            budget_cents: budget,
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
            amount_cents: program.cheque_value_cents * total,
            reference: "OP-BENCH-0001".into(),
        },
        now,
    )
    .await?;
    for (d, (distributor, _)) in distributors.iter().enumerate() {
        let cheques = if d == 0 {
            main_cheques
        } else {
            SPREAD_CHEQUES_EACH
        };
        programs::allocate(
            tx,
            &funder,
            &program.id,
            NewAllocation {
                distributor_id: distributor.id.clone(),
                cheques: cheques as i64,
            },
            now,
        )
        .await?;
    }
    Ok(Members {
        distributor_tokens: distributors.into_iter().map(|(_, t)| t).collect(),
        sites,
        program_id: program.id,
    })
}

async fn setup_members(state: &AppState, main_cheques: usize) -> anyhow::Result<Members> {
    let now = state.clock.now();
    let until = state.clock.today().checked_add(jiff::ToSpan::year(1))?;
    let letterhead = state.letterhead();
    Ok(state
        .db
        .transact(Origin::platform(), move |tx| {
            Box::pin(async move { members(tx, main_cheques, until, &letterhead, now).await })
        })
        .await?)
}

/// What the batch API answers, as far as the bench reads it.
#[derive(serde::Deserialize)]
struct IssuedPass {
    pass_code: String,
    vouchers: Vec<IssuedCheque>,
}

#[derive(serde::Deserialize)]
struct IssuedCheque {
    code: String,
    qr_payload: Option<String>,
}

/// One `POST /api/v1/passes/batch` of `carnets` active carnets of 10.
async fn issue_batch(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    program_id: &str,
    tag: &str,
    carnets: usize,
) -> anyhow::Result<Vec<IssuedPass>> {
    let batch: Vec<_> = (0..carnets)
        .map(|i| serde_json::json!({"cheques": 10, "beneficiary_ref": format!("BENCH-{tag}-{i}")}))
        .collect();
    let response = client
        .post(format!("{base}/api/v1/passes/batch"))
        .bearer_auth(token)
        .json(&serde_json::json!({"program_id": program_id, "carnets": batch, "active": true}))
        .send()
        .await?;
    let status = response.status();
    anyhow::ensure!(
        status == reqwest::StatusCode::CREATED,
        "batch {tag}: {status} {}",
        response.text().await.unwrap_or_default()
    );
    let passes: Vec<IssuedPass> = response.json().await?;
    anyhow::ensure!(passes.len() == carnets, "batch {tag} came back short");
    Ok(passes)
}

fn cheques_of(passes: Vec<IssuedPass>) -> anyhow::Result<Vec<Cheque>> {
    passes
        .into_iter()
        .flat_map(|p| p.vouchers)
        .map(|v| {
            Ok(Cheque {
                qr: v.qr_payload.context("a cheque has no QR payload")?,
                code: v.code,
            })
        })
        .collect()
}

/// The cheques, issued the fastest way the application has (as `benches/bulk.rs` does):
/// batches of 1,000 carnets through the API, two requests in flight. The main distributor's
/// are shuffled (a fixed seed, so runs redeem alike) since beneficiaries bring them in no order.
async fn issue_cheques(base: &str, members: Members, main_cheques: usize) -> anyhow::Result<World> {
    use rand::seq::SliceRandom as _;
    use rand::SeedableRng as _;
    let Members {
        distributor_tokens,
        sites,
        program_id,
    } = members;
    let carnets = main_cheques / 10;
    let requests = carnets.div_ceil(CARNETS_PER_REQUEST);
    let next_request = Arc::new(AtomicUsize::new(0));
    let mut issuers = Vec::new();
    for _ in 0..ISSUING_CLIENTS {
        let (base, token, program_id, next_request) = (
            base.to_string(),
            distributor_tokens[0].clone(),
            program_id.clone(),
            next_request.clone(),
        );
        issuers.push(tokio::spawn(async move {
            let client = http_client()?;
            let mut issued = Vec::new();
            loop {
                let n = next_request.fetch_add(1, Ordering::Relaxed);
                if n >= requests {
                    return anyhow::Ok(issued);
                }
                let size = CARNETS_PER_REQUEST.min(carnets - n * CARNETS_PER_REQUEST);
                let passes =
                    issue_batch(&client, &base, &token, &program_id, &n.to_string(), size).await?;
                issued.push((n, passes));
            }
        }));
    }
    let mut batches = Vec::new();
    for issuer in issuers {
        batches.extend(issuer.await??);
    }
    batches.sort_by_key(|(n, _)| *n);
    let pass_code = batches
        .first()
        .and_then(|(_, passes)| passes.first())
        .map(|p| p.pass_code.clone())
        .context("no carnet issued")?;
    let mut main = Vec::with_capacity(main_cheques);
    for (_, passes) in batches {
        main.extend(cheques_of(passes)?);
    }
    main.shuffle(&mut rand::rngs::StdRng::seed_from_u64(25));

    // The other distributors' cheques, one batch each, interleaved so consecutive requests hit
    // different distributors.
    let client = http_client()?;
    let mut columns = Vec::new();
    for (d, token) in distributor_tokens.iter().enumerate().skip(1) {
        let passes = issue_batch(
            &client,
            base,
            token,
            &program_id,
            &format!("spread-{d}"),
            SPREAD_CHEQUES_EACH / 10,
        )
        .await?;
        columns.push(cheques_of(passes)?.into_iter());
    }
    let mut spread = Vec::with_capacity(SPREAD_DISTRIBUTORS * SPREAD_CHEQUES_EACH);
    loop {
        let before = spread.len();
        for c in &mut columns {
            spread.extend(c.next());
        }
        if spread.len() == before {
            break;
        }
    }
    Ok(World {
        sites,
        main,
        spread,
        pass_code,
    })
}

// ---------------------------------------------------------------------------------------------
// The storage floor: a conditional UPDATE of one row and one INSERT, on tables shaped like
// `vouchers` and `redemptions` (same keys and indexes, no foreign keys)
// ---------------------------------------------------------------------------------------------

async fn prepare_floor(state: &AppState, rows: usize) -> anyhow::Result<()> {
    let pool = state.db.bench_write_pool();
    for ddl in [
        "CREATE TABLE bench_vouchers (id TEXT PRIMARY KEY, program_id TEXT NOT NULL, \
         distributor_id TEXT NOT NULL, code TEXT NOT NULL UNIQUE, value_cents BIGINT NOT NULL, \
         expires_on TEXT NOT NULL, redeemable_until TEXT NOT NULL, status TEXT NOT NULL, \
         status_changed_at TEXT)",
        "CREATE INDEX bench_vouchers_expiry ON bench_vouchers (status, redeemable_until)",
        "CREATE TABLE bench_redemptions (id TEXT PRIMARY KEY, voucher_id TEXT NOT NULL, \
         site_id TEXT NOT NULL, program_id TEXT NOT NULL, distributor_id TEXT NOT NULL, \
         value_cents BIGINT NOT NULL, service TEXT, minutes BIGINT, redeemed_at TEXT NOT NULL, \
         undone_at TEXT, settlement_id TEXT)",
        "CREATE UNIQUE INDEX bench_redemptions_live ON bench_redemptions (voucher_id) \
         WHERE undone_at IS NULL",
        "CREATE INDEX bench_redemptions_site ON bench_redemptions (site_id, redeemed_at)",
        "CREATE TABLE bench_hot (id BIGINT PRIMARY KEY, amount_cents BIGINT NOT NULL)",
        "INSERT INTO bench_hot (id, amount_cents) VALUES (1, 0)",
        "CREATE TABLE bench_log (id TEXT PRIMARY KEY, redemption_id TEXT NOT NULL, \
         line BIGINT NOT NULL, at TEXT NOT NULL)",
    ] {
        sqlx::query(ddl).execute(pool).await?;
    }
    sqlx::query(&format!(
        "INSERT INTO bench_vouchers (id, program_id, distributor_id, code, value_cents, \
         expires_on, redeemable_until, status) \
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {}) \
         SELECT 'v' || i, 'p', 'd', 'c' || i, 1000, '2099-12-01', '2099-12-31', 'valid' FROM n",
        rows - 1
    ))
    .execute(pool)
    .await?;
    // On PostgreSQL autovacuum analyses every table of a live database; passnum never analyses
    // its SQLite database, so the app's tables are measured as they run: without statistics
    // (analysing them hid a bad plan, and made SQLite, built with STAT4, prepare statements
    // again at each binding: run L). On SQLite only the floor's own tables get statistics.
    if state.db.backend() == Backend::Postgres {
        sqlx::query("ANALYZE").execute(pool).await?;
    } else {
        for table in [
            "bench_vouchers",
            "bench_redemptions",
            "bench_hot",
            "bench_log",
        ] {
            sqlx::query(&format!("ANALYZE {table}"))
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}

/// Where the floor transaction touches a row every transaction shares, if anywhere.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Hot {
    No,
    /// Before the UPDATE and INSERT: its lock is held for two more statements.
    First,
    /// Just before COMMIT.
    Last,
}

async fn floor_tx(
    conn: &mut sqlx::AnyConnection,
    i: usize,
    client: usize,
    hot: Hot,
    extra_inserts: usize,
) -> Result<(), sqlx::Error> {
    let hot_update = "UPDATE bench_hot SET amount_cents = amount_cents + 1000 WHERE id = 1";
    let now = passnum::clock::format_ts(jiff::Timestamp::now());
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    if hot == Hot::First {
        sqlx::query(hot_update).execute(&mut *tx).await?;
    }
    let id: Option<String> = sqlx::query_scalar(
        "UPDATE bench_vouchers SET status = 'redeemed', status_changed_at = $1 \
         WHERE code = $2 AND status = 'valid' AND redeemable_until >= $3 RETURNING id",
    )
    .bind(&now)
    .bind(format!("c{i}"))
    .bind("2026-01-01")
    .fetch_optional(&mut *tx)
    .await?;
    let id = id.ok_or_else(|| sqlx::Error::Protocol(format!("floor row c{i} matched nothing")))?;
    let redemption_id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO bench_redemptions (id, voucher_id, site_id, program_id, \
         distributor_id, value_cents, service, minutes, redeemed_at) \
         VALUES ($1, $2, $3, 'p', 'd', 1000, 'individual_help', 60, $4)",
    )
    .bind(&redemption_id)
    .bind(id)
    .bind(format!("site-{client}"))
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    for line in 0..extra_inserts {
        sqlx::query("INSERT INTO bench_log (id, redemption_id, line, at) VALUES ($1, $2, $3, $4)")
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(&redemption_id)
            .bind(line as i64)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
    }
    if hot == Hot::Last {
        sqlx::query(hot_update).execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// The floor as the application runs it: a connection taken from the write pool for each
/// transaction (sqlx pings it when taken and again when given back).
fn floor_job(state: &AppState, hot: Hot, extra_inserts: usize, rows: Arc<AtomicUsize>) -> Job {
    let pool = state.db.bench_write_pool().clone();
    Arc::new(move |client, _| {
        let pool = pool.clone();
        let i = rows.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move {
            let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
            floor_tx(&mut conn, i, client, hot, extra_inserts)
                .await
                .map_err(|e| e.to_string())
        })
    })
}

type HeldConnection = Arc<tokio::sync::Mutex<sqlx::pool::PoolConnection<sqlx::Any>>>;

/// The floor on one write connection kept out of the pool: no acquire, no release.
fn floor_held_job(conn: HeldConnection, rows: Arc<AtomicUsize>) -> Job {
    Arc::new(move |client, _| {
        let conn = conn.clone();
        let i = rows.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move {
            let mut guard = conn.lock_owned().await;
            floor_tx(&mut guard, i, client, Hot::No, 0)
                .await
                .map_err(|e| e.to_string())
        })
    })
}

/// One floor transaction handed to the group-commit writer.
struct GroupItem {
    i: usize,
    client: usize,
    done: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// The floor with group commit: one writer task owns a write connection, takes every item
/// waiting (up to 64), runs each in its own SAVEPOINT inside one transaction, and commits once.
/// Not what the application does: a measure of what it could gain.
fn floor_group_job(state: &AppState, rows: Arc<AtomicUsize>) -> Job {
    let (queue, mut incoming) = tokio::sync::mpsc::channel::<GroupItem>(1024);
    let pool = state.db.bench_write_pool().clone();
    tokio::spawn(async move {
        let mut conn = match pool.acquire().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("group-commit writer: {e}");
                return;
            }
        };
        let mut batch = Vec::new();
        while let Some(first) = incoming.recv().await {
            batch.push(first);
            while batch.len() < 64 {
                match incoming.try_recv() {
                    Ok(item) => batch.push(item),
                    Err(_) => break,
                }
            }
            let mut outcomes = Vec::with_capacity(batch.len());
            let committed = async {
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                for item in &batch {
                    // floor_tx's BEGIN and COMMIT become SAVEPOINT and RELEASE in here.
                    outcomes.push(
                        floor_tx(&mut tx, item.i, item.client, Hot::No, 0)
                            .await
                            .map_err(|e| e.to_string()),
                    );
                }
                tx.commit().await
            }
            .await;
            for (n, item) in batch.drain(..).enumerate() {
                let outcome = match &committed {
                    Ok(()) => outcomes.get(n).cloned().unwrap_or(Err("not run".into())),
                    Err(e) => Err(e.to_string()),
                };
                let _ = item.done.send(outcome);
            }
        }
    });
    Arc::new(move |client, _| {
        let queue = queue.clone();
        let i = rows.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move {
            let (done, answer) = tokio::sync::oneshot::channel();
            queue
                .send(GroupItem { i, client, done })
                .await
                .map_err(|_| "group-commit writer gone".to_string())?;
            answer
                .await
                .map_err(|_| "group-commit writer gone".to_string())?
        })
    })
}

/// Median cost in µs of single statements on a write connection already held: `SELECT 1`,
/// an UPDATE of one row by key and an INSERT inside a transaction, then BEGIN and COMMIT of a
/// one-INSERT transaction.
struct StatementCosts {
    select: f64,
    update: f64,
    insert: f64,
    begin: f64,
    commit: f64,
}

async fn statement_costs(state: &AppState) -> anyhow::Result<StatementCosts> {
    fn median(mut v: Vec<Duration>) -> f64 {
        v.sort_unstable();
        v[v.len() / 2].as_secs_f64() * 1e6
    }
    let n = 1_000;
    let mut conn = state.db.bench_write_pool().acquire().await?;
    let (mut select, mut update, mut insert) = (Vec::new(), Vec::new(), Vec::new());
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    for k in 0..n {
        let t = Instant::now();
        sqlx::query("SELECT 1").execute(&mut *tx).await?;
        select.push(t.elapsed());
        let t = Instant::now();
        sqlx::query("UPDATE bench_hot SET amount_cents = amount_cents + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        update.push(t.elapsed());
        let t = Instant::now();
        sqlx::query(
            "INSERT INTO bench_log (id, redemption_id, line, at) VALUES ($1, 'cost', $2, 'now')",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(k as i64)
        .execute(&mut *tx)
        .await?;
        insert.push(t.elapsed());
    }
    tx.commit().await?;
    let (mut begin, mut commit) = (Vec::new(), Vec::new());
    for k in 0..n {
        let t = Instant::now();
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        begin.push(t.elapsed());
        sqlx::query(
            "INSERT INTO bench_log (id, redemption_id, line, at) VALUES ($1, 'commit', $2, 'now')",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(k as i64)
        .execute(&mut *tx)
        .await?;
        let t = Instant::now();
        tx.commit().await?;
        commit.push(t.elapsed());
    }
    Ok(StatementCosts {
        select: median(select),
        update: median(update),
        insert: median(insert),
        begin: median(begin),
        commit: median(commit),
    })
}

// ---------------------------------------------------------------------------------------------
// Redemption: in process (the handler's transaction without HTTP), and over HTTP
// ---------------------------------------------------------------------------------------------

/// The site a request comes from: below 64 clients, LOW_SITES sites in turn, request by
/// request (so one client does not put every request in one writer lane); at 64 clients, one
/// site per client.
fn site_of(world: &World, clients: usize, client: usize, i: usize) -> &Site {
    if clients >= SITES {
        &world.sites[client % SITES]
    } else {
        &world.sites[i % LOW_SITES]
    }
}

fn domain_job(state: &AppState, world: &Arc<World>, clients: usize) -> Job {
    let (state, world) = (state.clone(), world.clone());
    Arc::new(move |client, i| {
        let (state, world) = (state.clone(), world.clone());
        Box::pin(async move {
            let site = site_of(&world, clients, client, i).org.clone();
            let cheque = &world.main[i];
            let code = if i % 2 == 0 {
                cheque.code.clone()
            } else {
                cheque.qr.clone()
            };
            let key = passnum::idempotency::Key {
                owner: site.id.clone(),
                key: uuid::Uuid::new_v4().to_string(),
                request_hash: format!("bench-{i}"),
            };
            let now = state.clock.now();
            let new = passnum::redemption::NewRedemption {
                code: Some(code),
                service: Some("individual_help".into()),
                minutes: Some(60),
                ..Default::default()
            };
            // Checks and reads on the read pool, then the write alone (the handler's path when
            // its group could not be written).
            let mut conn = state.db.read().await.map_err(|e| e.to_string())?;
            let session = passnum::redemption::check(&mut conn, &state.keyring, &site, new, now)
                .await
                .map_err(|e| e.to_string())?;
            drop(conn);
            passnum::idempotency::transact_once(
                &state.db,
                Origin::platform(),
                Some(key),
                &passnum::clock::format_ts(now),
                move |tx| {
                    Box::pin(
                        async move { passnum::redemption::record(tx, &site, session, now).await },
                    )
                },
            )
            .await
            .map_err(|e| format!("{e}"))?;
            Ok(())
        })
    })
}

/// `clients`: how many clients the load runs (which sites they redeem for: `site_of`).
fn redeem_job(
    http: &[reqwest::Client],
    base: &str,
    world: &Arc<World>,
    clients: usize,
    spread: bool,
) -> Job {
    let http: Arc<Vec<reqwest::Client>> = Arc::new(http.to_vec());
    let url = format!("{base}/api/v1/redemptions");
    let world = world.clone();
    Arc::new(move |client, i| {
        let (http, world, url) = (http.clone(), world.clone(), url.clone());
        Box::pin(async move {
            let cheques = if spread { &world.spread } else { &world.main };
            let cheque = &cheques[i];
            // Half typed short codes, half scanned QR payloads (signature checked).
            let code = if i % 2 == 0 { &cheque.code } else { &cheque.qr };
            let body = format!(r#"{{"code":"{code}","service":"individual_help","minutes":60}}"#);
            let response = http[client]
                .post(&url)
                .bearer_auth(&site_of(&world, clients, client, i).token)
                .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            let text = response.text().await.map_err(|e| e.to_string())?;
            if status != reqwest::StatusCode::CREATED {
                return Err(format!("{status} {text}"));
            }
            Ok(())
        })
    })
}

fn healthz_job(clients: &[reqwest::Client], base: &str) -> Job {
    let clients: Arc<Vec<reqwest::Client>> = Arc::new(clients.to_vec());
    let url = format!("{base}/healthz");
    Arc::new(move |client, _| {
        let (clients, url) = (clients.clone(), url.clone());
        Box::pin(async move {
            let response = clients[client]
                .get(&url)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            response.bytes().await.map_err(|e| e.to_string())?;
            if status != reqwest::StatusCode::OK {
                return Err(format!("{status}"));
            }
            Ok(())
        })
    })
}

/// One client per simulated site, each with its own kept-alive connection.
fn http_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .build()
}

/// Opens every client's connection before anything is timed.
async fn warm_up(clients: &[reqwest::Client], base: &str) -> anyhow::Result<()> {
    let url = format!("{base}/healthz");
    let answers = futures::future::join_all(clients.iter().map(|c| c.get(&url).send())).await;
    for a in answers {
        anyhow::ensure!(
            a?.status().is_success(),
            "the server does not answer /healthz"
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// A closed-loop load: `clients` tasks, each doing one job after another until the time is up or
// the items run out
// ---------------------------------------------------------------------------------------------

struct Load {
    done: usize,
    errors: usize,
    first_error: Option<String>,
    elapsed: Duration,
    /// Sorted latencies of every job, failed ones included.
    latencies: Vec<Duration>,
    /// Paced loads: how late each request left after it was due (sorted), the load
    /// generator's own delay, which its latency includes (tokio's timer ticks every ms).
    late: Vec<Duration>,
    ran_out: bool,
    /// CPU time of this process (server, clients, SQLite) per second of the load: cores used.
    process_cores: f64,
    /// Share of the whole machine's CPU time that was busy meanwhile (every process).
    machine_busy: f64,
    /// CPU seconds the PostgreSQL server's processes used meanwhile (0 on SQLite).
    server_cpu_secs: f64,
    /// Bytes this process sent to storage meanwhile (`write_bytes` of /proc/self/io): the
    /// SQLite WAL and checkpoints; nothing for PostgreSQL, whose server process writes.
    disk_bytes: u64,
    /// Redemption groups and the requests in them, SQLite commits and the transactions in
    /// them, meanwhile (`passnum::metrics::group_counts`).
    groups: (u64, f64, u64, f64),
}

impl Load {
    /// `groups of mean size` for the redemption writers, then for SQLite's writer.
    fn groups_text(&self) -> String {
        let (groups, requests, commits, transactions) = self.groups;
        let mean = |n: u64, sum: f64| if n == 0 { 0.0 } else { sum / n as f64 };
        let mut text = format!(
            "{groups} redemption groups of {:.1} requests on average",
            mean(groups, requests)
        );
        if commits > 0 {
            text.push_str(&format!(
                ", {commits} SQLite commits of {:.1} transactions",
                mean(commits, transactions)
            ));
        }
        text
    }

    fn rate(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64()
    }

    fn mean_ms(&self) -> f64 {
        let total: Duration = self.latencies.iter().sum();
        total.as_secs_f64() * 1000.0 / self.latencies.len().max(1) as f64
    }

    fn ms(&self, q: f64) -> f64 {
        quantile_ms(&self.latencies, q)
    }

    /// How late the paced requests left (see [`Load::late`]), in ms.
    fn late_ms(&self, q: f64) -> f64 {
        quantile_ms(&self.late, q)
    }
}

/// The `q` quantile of sorted durations, in ms.
fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

/// A load of `clients` tasks for `secs`. Closed loop (`pace` None): each task sends its next
/// request when the last is answered. Paced: the tasks together send `pace` requests a second
/// on a fixed schedule, and each latency runs from the time its request was due, so that a
/// stall counts for every request it held back (no "coordinated omission").
async fn run_load(
    clients: usize,
    secs: f64,
    items: Range<usize>,
    job: Job,
    pace: Option<f64>,
) -> Load {
    let cursor = Arc::new(AtomicUsize::new(items.start));
    let end = items.end;
    let barrier = Arc::new(tokio::sync::Barrier::new(clients + 1));
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (cursor, barrier, job) = (cursor.clone(), barrier.clone(), job.clone());
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut late) = (Vec::new(), Vec::new());
            let (mut done, mut errors, mut first_error, mut ran_out) = (0, 0, None, false);
            barrier.wait().await;
            let start = Instant::now();
            let deadline = start + Duration::from_secs_f64(secs);
            // Each task's requests are due every `clients / pace` seconds, the tasks staggered.
            let every = pace.map(|rate| Duration::from_secs_f64(clients as f64 / rate));
            let mut due = start
                + every.map_or(Duration::ZERO, |e| {
                    e.mul_f64(client as f64 / clients as f64)
                });
            while Instant::now() < deadline {
                if let Some(every) = every {
                    if due >= deadline {
                        break;
                    }
                    tokio::time::sleep_until(due.into()).await;
                    late.push(due.elapsed());
                    due += every;
                }
                let i = cursor.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    ran_out = true;
                    break;
                }
                let t = match every {
                    Some(every) => due - every,
                    None => Instant::now(),
                };
                let result = job(client, i).await;
                latencies.push(t.elapsed());
                match result {
                    Ok(()) => done += 1,
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (done, errors, first_error, ran_out, latencies, late)
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    let (cpu_before, machine_before) = (process_cpu_secs(), machine_cpu());
    let server_before = postgres_cpu_secs();
    let disk_before = proc_io("write_bytes:");
    let groups_before = passnum::metrics::group_counts();
    let mut load = Load {
        done: 0,
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        late: Vec::new(),
        ran_out: false,
        process_cores: 0.0,
        machine_busy: 0.0,
        server_cpu_secs: 0.0,
        disk_bytes: 0,
        groups: (0, 0.0, 0, 0.0),
    };
    for t in tasks {
        let (done, errors, first_error, ran_out, latencies, late) = t.await.expect("load task");
        load.done += done;
        load.errors += errors;
        load.ran_out |= ran_out;
        if load.first_error.is_none() {
            load.first_error = first_error;
        }
        load.latencies.extend(latencies);
        load.late.extend(late);
    }
    load.elapsed = started.elapsed();
    load.process_cores = (process_cpu_secs() - cpu_before) / load.elapsed.as_secs_f64();
    load.server_cpu_secs = postgres_cpu_secs() - server_before;
    load.disk_bytes = proc_io("write_bytes:").saturating_sub(disk_before);
    let groups_after = passnum::metrics::group_counts();
    load.groups = (
        groups_after.0 - groups_before.0,
        groups_after.1 - groups_before.1,
        groups_after.2 - groups_before.2,
        groups_after.3 - groups_before.3,
    );
    let machine_after = machine_cpu();
    let total = machine_after.1.saturating_sub(machine_before.1);
    if total > 0 {
        load.machine_busy = machine_after.0.saturating_sub(machine_before.0) as f64 / total as f64;
    }
    load.latencies.sort_unstable();
    load.late.sort_unstable();
    load
}

/// User + system CPU seconds of this process so far (`/proc/self/stat`, 100 ticks a second).
fn process_cpu_secs() -> f64 {
    stat_cpu_secs("/proc/self/stat").unwrap_or(0.0)
}

/// User + system CPU seconds of a process's `stat` file.
fn stat_cpu_secs(path: &str) -> Option<f64> {
    let s = std::fs::read_to_string(path).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// CPU seconds used so far by every process named `postgres` on this machine: the server's
/// share of an operation, which varies less than its rate on a shared box. A backend that
/// exits during the load takes its time with it, so loads keep their connections open.
fn postgres_cpu_secs() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "postgres")
        })
        .filter_map(|e| stat_cpu_secs(&e.path().join("stat").to_string_lossy()))
        .sum()
}

/// A counter of `/proc/self/io` (0 where there is none).
fn proc_io(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// (busy, total) jiffies of all CPUs since boot (`/proc/stat`).
fn machine_cpu() -> (u64, u64) {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let line = s.lines().next()?;
            let v: Vec<u64> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            // user nice system idle iowait irq softirq steal (guest time is inside user)
            let total: u64 = v.iter().take(8).sum();
            let idle = v.get(3)? + v.get(4)?;
            Some((total - idle, total))
        })
        .unwrap_or((0, 0))
}

// ---------------------------------------------------------------------------------------------
// Public pages
// ---------------------------------------------------------------------------------------------

struct Page {
    path: String,
    status: u16,
    header_bytes: usize,
    body_bytes: usize,
}

struct Pages {
    pages: Vec<Page>,
    /// Assets the pages link to (stylesheets, scripts, images), fetched once each.
    assets: Vec<Page>,
    finder_results: usize,
    solde: Load,
    finder: Load,
    healthz: Load,
}

async fn fetch(client: &reqwest::Client, base: &str, path: &str) -> anyhow::Result<(Page, String)> {
    let response = client.get(format!("{base}{path}")).send().await?;
    let status = response.status().as_u16();
    // Status line and headers as they travel (HTTP/1.1, uncompressed: no compression layer).
    let header_bytes = 17
        + response
            .headers()
            .iter()
            .map(|(k, v)| k.as_str().len() + v.as_bytes().len() + 4)
            .sum::<usize>()
        + 2;
    let body = response.bytes().await?;
    Ok((
        Page {
            path: path.to_string(),
            status,
            header_bytes,
            body_bytes: body.len(),
        },
        String::from_utf8_lossy(&body).into_owned(),
    ))
}

/// Local URLs of stylesheets, scripts and images a page loads.
fn subresources(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for (at, _) in html.match_indices(attr) {
            let rest = &html[at + attr.len()..];
            let Some(end) = rest.find('"') else { continue };
            let url = &rest[..end];
            let tag_start = html[..at].rfind('<').unwrap_or(0);
            let tag = &html[tag_start..at];
            let loaded =
                attr == "src=\"" || tag.starts_with("<link") && !tag.contains("rel=\"canonical\"");
            if loaded && url.starts_with('/') && !found.iter().any(|f| f == url) {
                found.push(url.to_string());
            }
        }
    }
    found
}

async fn pages(base: &str, pass_code: &str) -> anyhow::Result<Pages> {
    let client = http_client()?;
    let paths = [
        "/".to_string(),
        format!("/solde?code={pass_code}"),
        "/lieux?q=33000".to_string(),
    ];
    let mut pages = Vec::new();
    let mut asset_paths: Vec<String> = Vec::new();
    let mut finder_results = 0;
    for path in &paths {
        let (page, html) = fetch(&client, base, path).await?;
        anyhow::ensure!(page.status == 200, "{path} answered {}", page.status);
        if path.starts_with("/solde") {
            anyhow::ensure!(
                html.contains("Il vous reste"),
                "/solde does not show the carnet's balance"
            );
        }
        if path.starts_with("/lieux") {
            finder_results = html.matches("<li class=\"card\"").count();
        }
        for a in subresources(&html) {
            if !asset_paths.contains(&a) {
                asset_paths.push(a);
            }
        }
        pages.push(page);
    }
    if !asset_paths.iter().any(|a| a == "/static/style.css") {
        asset_paths.push("/static/style.css".into());
    }
    let mut assets = Vec::new();
    for a in &asset_paths {
        assets.push(fetch(&client, base, a).await?.0);
    }

    let client = Arc::new(client);
    let sequential = |path: String| {
        let client = client.clone();
        let url = format!("{base}{path}");
        let job: Job = Arc::new(move |_, _| {
            let (client, url) = (client.clone(), url.clone());
            Box::pin(async move {
                let r = client.get(&url).send().await.map_err(|e| e.to_string())?;
                let status = r.status();
                r.bytes().await.map_err(|e| e.to_string())?;
                if status != reqwest::StatusCode::OK {
                    return Err(status.to_string());
                }
                Ok(())
            })
        });
        run_load(1, 60.0, 0..PAGE_REQUESTS, job, None)
    };
    let healthz = sequential("/healthz".into()).await;
    let solde = sequential(format!("/solde?code={pass_code}")).await;
    let finder = sequential("/lieux?q=33000".into()).await;
    Ok(Pages {
        pages,
        assets,
        finder_results,
        solde,
        finder,
        healthz,
    })
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

/// The floor's rate at this concurrency.
fn floor_at(floor: &[(usize, Load)], clients: usize) -> f64 {
    floor
        .iter()
        .find(|(c, _)| *c == clients)
        .map(|(_, l)| l.rate())
        .unwrap_or(f64::NAN)
}

/// The floor level nearest to a concurrency, on a log scale (2 → 1, 4 and 16 → 8).
fn nearest_floor_level(clients: usize) -> usize {
    let log = |n: usize| (n.max(1) as f64).log2();
    FLOOR_LEVELS
        .into_iter()
        .min_by(|a, b| {
            (log(*a) - log(clients))
                .abs()
                .total_cmp(&(log(*b) - log(clients)).abs())
        })
        .unwrap_or(1)
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

/// `1,234` for a count or a rate.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (n, c) in digits.chars().enumerate() {
        if n > 0 && (digits.len() - n) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Report {
    fn floor_at(&self, clients: usize) -> f64 {
        floor_at(&self.floor, clients)
    }

    /// This load's rate against the floor at the nearest concurrency: (percent, that level).
    fn vs_floor(&self, clients: usize, l: &Load) -> (f64, usize) {
        let level = nearest_floor_level(clients);
        (100.0 * l.rate() / self.floor_at(level), level)
    }

    fn http_at(&self, clients: usize) -> Option<&Load> {
        self.http
            .iter()
            .find(|(c, _)| *c == clients)
            .map(|(_, l)| l)
    }

    fn paced_at(&self, what: Paced) -> Option<(f64, &Load)> {
        self.paced
            .iter()
            .find(|(w, ..)| *w == what)
            .map(|(_, _, rate, l)| (*rate, l))
    }

    /// One row of the table; `vs_floor` false for rows no floor stands for.
    fn line(&self, label: &str, clients: usize, l: &Load, vs_floor: bool) {
        let vs_floor = if vs_floor {
            let (percent, level) = self.vs_floor(clients, l);
            format!("{percent:.0}% @{level}")
        } else {
            "-".to_string()
        };
        println!(
            "{:<46} {:>7} {:>8.0} {:>8.2} {:>8.2} {:>8.2} {:>10} {:>13} {:>6.2} {:>4.0}% {:>6.1} {:>6.0} {:>6.0}{}",
            label,
            clients,
            l.rate(),
            l.ms(0.5),
            l.ms(0.99),
            l.mean_ms(),
            vs_floor,
            format!("{}/{}", l.done, l.done + l.errors),
            l.process_cores,
            100.0 * l.machine_busy,
            l.disk_bytes as f64 / 1024.0 / (l.done + l.errors).max(1) as f64,
            l.process_cores * l.elapsed.as_secs_f64() * 1e6 / (l.done + l.errors).max(1) as f64,
            l.server_cpu_secs * 1e6 / (l.done + l.errors).max(1) as f64,
            if l.ran_out { " (items ran out)" } else { "" }
        );
        if let Some(e) = &l.first_error {
            println!("    first error: {}", truncate(e, 300));
        }
    }

    fn print(&self) {
        println!("\n## {} ({})", self.name, self.detail);
        println!(
            "set-up: organisations, 64 qualified sites and the programme in {:.1} s; {} cheques \
             issued through POST /api/v1/passes/batch ({CARNETS_PER_REQUEST} carnets of 10 a \
             request, {ISSUING_CLIENTS} in flight) in {:.1} s ({:.0} cheques/s); whole database \
             (set-up, every step, ledger verify) {:.0} s; HMAC-SHA256 payload verify {:.0} ns",
            self.setup_secs,
            self.cheques_issued,
            self.issuance_secs,
            self.cheques_issued as f64 / self.issuance_secs,
            self.total_secs,
            self.hmac_ns
        );
        let c = &self.costs;
        println!(
            "median µs per statement on a held write connection: SELECT 1 {:.0}, UPDATE by key {:.0}, \
             INSERT {:.0} (inside a transaction); BEGIN {:.0}, COMMIT {:.0}",
            c.select, c.update, c.insert, c.begin, c.commit
        );
        println!(
            "\n{:<46} {:>7} {:>8} {:>8} {:>8} {:>8} {:>10} {:>13} {:>6} {:>5} {:>6} {:>6} {:>6}",
            "",
            "clients",
            "per s",
            "p50 ms",
            "p99 ms",
            "mean ms",
            "vs floor",
            "ok/total",
            "cores",
            "box",
            "KB/op",
            "app µs",
            "db µs"
        );
        println!("Storage floor: conditional UPDATE of one row + one INSERT");
        for (c, l) in &self.floor {
            self.line("floor, app's write pool", *c, l, true);
        }
        for (c, l) in &self.floor_held {
            self.line("floor, one connection held (no pool)", *c, l, true);
        }
        self.line(
            "floor, group commit (<= 64 per COMMIT)",
            64,
            &self.floor_group,
            true,
        );
        for (c, l) in &self.floor_padded {
            self.line(
                &format!(
                    "floor + {} INSERTs ({REDEMPTION_STATEMENTS} statements)",
                    REDEMPTION_STATEMENTS - 2
                ),
                *c,
                l,
                true,
            );
        }
        for (where_, l) in &self.floor_hot {
            self.line(&format!("floor + shared-row UPDATE {where_}"), 64, l, true);
        }
        self.line("HTTP floor: GET /healthz", 64, &self.http_floor, false);
        println!(
            "Redemption: POST /api/v1/redemptions (token, code or signed QR, idempotency key, \
             ledger), cheques in random order"
        );
        for (c, l) in &self.domain {
            self.line("in process: check + transact_once + record", *c, l, true);
        }
        for (c, l) in &self.http {
            let sites = if *c >= SITES {
                format!("{SITES} sites")
            } else {
                format!("{LOW_SITES} sites in turn")
            };
            self.line(&format!("closed loop, {sites}"), *c, l, true);
        }
        for (_, share, rate, l) in &self.paced {
            self.line(&format!("paced at {rate:.0}/s ({share})"), 64, l, false);
        }
        self.line(
            &format!("closed loop, {SPREAD_DISTRIBUTORS} distributors' cheques"),
            64,
            &self.spread,
            true,
        );
        println!(
            "(mean: measured, clients / rate in a closed loop (Little's law); paced: 64 clients of \
             64 sites sending on a fixed schedule, latency counted from when each request was due; \
             vs floor: rate / the floor on the app's pool at the nearest concurrency measured \
             (@1, @8, @64); cores: CPU this process used; box: share of the machine's CPU busy, \
             every process included; KB/op: bytes this process sent to storage per operation, \
             i.e. SQLite's WAL and checkpoints; app µs: CPU this process used per operation \
             (server, clients and SQLite); db µs: CPU PostgreSQL's processes used per operation, \
             at 10 ms resolution)"
        );
        println!("Groups during the redemption steps:");
        for (label, c, l) in self
            .domain
            .iter()
            .map(|(c, l)| ("in process".to_string(), *c, l))
            .chain(
                self.http
                    .iter()
                    .map(|(c, l)| ("closed loop".to_string(), *c, l)),
            )
            .chain(
                self.paced
                    .iter()
                    .map(|(_, _, rate, l)| (format!("paced at {rate:.0}/s"), 64, l)),
            )
            .chain(std::iter::once(("spread".to_string(), 64, &self.spread)))
        {
            println!("  {label}, {c} clients: {}", l.groups_text());
        }

        println!("\n### Public pages (uncompressed: the server has no compression layer)");
        println!(
            "{:<40} {:>6} {:>9} {:>9}",
            "path", "status", "headers", "body"
        );
        for p in self.pages.pages.iter().chain(&self.pages.assets) {
            println!(
                "{:<40} {:>6} {:>9} {:>9}",
                truncate(&p.path, 40),
                p.status,
                p.header_bytes,
                p.body_bytes
            );
        }
        for p in &self.pages.pages {
            println!(
                "first visit of {:<28} {:>6} bytes (page + {} asset(s))",
                truncate(&p.path, 28),
                p.header_bytes + p.body_bytes + self.asset_bytes(),
                self.pages.assets.len()
            );
        }
        println!("/lieux?q=33000 lists {} site(s)", self.pages.finder_results);
        for (label, l) in [
            ("GET /healthz (HTTP floor)", &self.pages.healthz),
            ("GET /solde?code=…", &self.pages.solde),
            ("GET /lieux?q=33000", &self.pages.finder),
        ] {
            println!(
                "{:<28} {} sequential: p50 {:.3} ms, p99 {:.3} ms, errors {}",
                label,
                l.done + l.errors,
                l.ms(0.5),
                l.ms(0.99),
                l.errors
            );
        }

        println!("\n### Memory of the bench process (server + clients + set-up data)");
        println!(
            "VmRSS at process start {:.1} MiB; app started (migrated, listening) {:.1} MiB; \
             idle after set-up {:.1} MiB; max under redemption load {:.1} MiB; after the page \
             requests {:.1} MiB (private {:.1}, mapped files {:.1}); VmHWM {:.1} MiB",
            mib(self.rss_start_kib),
            mib(self.rss_started_kib),
            mib(self.rss_idle_kib),
            mib(self.rss_load_max_kib),
            mib(self.rss_after_kib),
            mib(self.rss_anon_kib),
            mib(self.rss_file_kib),
            mib(self.hwm_kib)
        );
        println!(
            "ledger verify after the load: {} ({:.2} s)",
            if self.ledger_ok { "ok" } else { "PROBLEMS" },
            self.ledger_secs
        );
    }

    fn asset_bytes(&self) -> usize {
        self.pages
            .assets
            .iter()
            .map(|a| a.header_bytes + a.body_bytes)
            .sum()
    }

    /// Issue 25's checks, then the other figures a run is compared on.
    fn summary(&self) {
        let row = |check: &str, target: &str, figures: String, verdict: &str| {
            println!("| {check} | {target} | {figures} | {verdict} |");
        };
        println!(
            "{} cheques in random order (one distributor), {} s steps, set-up {:.0} s ({:.0} s issuing), whole \
             database {:.0} s",
            thousands(self.main_cheques as f64),
            self.secs,
            self.setup_secs + self.issuance_secs,
            self.issuance_secs,
            self.total_secs
        );
        println!("\n| check (issue 25) | target | figures | |");
        println!("|---|---|---|---|");

        let rates: Vec<f64> = self.http.iter().map(|(_, l)| l.rate()).collect();
        let falls: Vec<String> = self
            .http
            .windows(2)
            .filter(|w| w[1].1.rate() < w[0].1.rate())
            .map(|w| {
                format!(
                    "{}→{} ({:+.0} %)",
                    w[0].0,
                    w[1].0,
                    100.0 * (w[1].1.rate() / w[0].1.rate() - 1.0)
                )
            })
            .collect();
        row(
            "closed-loop rate from 1 to 64 clients",
            "never falls",
            format!(
                "{} per s at {} clients{}",
                rates
                    .iter()
                    .map(|r| thousands(*r))
                    .collect::<Vec<_>>()
                    .join(" / "),
                HTTP_LEVELS.map(|c| c.to_string()).join(" / "),
                if falls.is_empty() {
                    String::new()
                } else {
                    format!("; falls {}", falls.join(", "))
                }
            ),
            mark(falls.is_empty() && rates.len() == HTTP_LEVELS.len()),
        );
        if let Some(l) = self.http_at(8) {
            row(
                "p50 at 8 clients",
                "≤ 3 ms",
                format!("{:.2} ms (p99 {:.1} ms)", l.ms(0.5), l.ms(0.99)),
                mark(l.ms(0.5) <= 3.0),
            );
        }
        if let Some((rate, l)) = self.paced_at(Paced::TenPeaks) {
            row(
                &format!("p99 paced at {rate:.0}/s, 64 clients of 64 sites"),
                "≤ 10 ms",
                format!(
                    "{:.1} ms (p50 {:.2} ms, {:.0}/s served)",
                    l.ms(0.99),
                    l.ms(0.5),
                    l.rate()
                ),
                mark(l.ms(0.99) <= 10.0),
            );
        }
        if self.name == "SQLite" {
            if let Some(l) = self.http_at(1) {
                row(
                    "p99 at 1 client (SQLite)",
                    "≤ 5 ms",
                    format!("{:.2} ms (p50 {:.2} ms)", l.ms(0.99), l.ms(0.5)),
                    mark(l.ms(0.99) <= 5.0),
                );
            }
        }
        if let Some(l) = self.http_at(64) {
            let ratio = 100.0 * l.rate() / self.floor_at(64);
            row(
                "closed-loop rate at 64 clients / floor at 64 tasks",
                "≥ 60 %",
                format!(
                    "{:.0} % ({}/s vs {}/s)",
                    ratio,
                    thousands(l.rate()),
                    thousands(self.floor_at(64))
                ),
                mark(ratio >= 60.0),
            );
        }
        let http_loads = self
            .http
            .iter()
            .map(|(_, l)| l)
            .chain(self.paced.iter().map(|(.., l)| l))
            .chain(std::iter::once(&self.spread));
        let (mut answers, mut not_201) = (0, 0);
        for l in http_loads {
            answers += l.done + l.errors;
            not_201 += l.errors;
        }
        row(
            "every answer 201; ledger verify after the loads",
            "all; ok",
            format!(
                "{} of {} answers 201; ledger {}",
                answers - not_201,
                answers,
                if self.ledger_ok { "ok" } else { "PROBLEMS" }
            ),
            mark(not_201 == 0 && self.ledger_ok),
        );

        println!("\nclosed loop (rate, p50, p99, vs the floor at the nearest concurrency):");
        for (c, l) in &self.http {
            let (percent, level) = self.vs_floor(*c, l);
            println!(
                "  {c:>2} client(s): {:>6}/s, p50 {:.2} ms, p99 {:.2} ms, {percent:.0} % of floor@{level} ({}/s)",
                thousands(l.rate()),
                l.ms(0.5),
                l.ms(0.99),
                thousands(self.floor_at(level))
            );
        }
        println!("paced, 64 clients of 64 sites (latency from when each request was due):");
        for (_, share, rate, l) in &self.paced {
            println!(
                "  {:>6}/s asked ({share}): {}/s served, p50 {:.2} ms, p99 {:.1} ms; \
                 sent late by p50 {:.2} ms, p99 {:.1} ms",
                thousands(*rate),
                thousands(l.rate()),
                l.ms(0.5),
                l.ms(0.99),
                l.late_ms(0.5),
                l.late_ms(0.99)
            );
        }
        let heaviest = self
            .pages
            .pages
            .iter()
            .filter(|p| p.path != "/")
            .map(|p| p.header_bytes + p.body_bytes + self.asset_bytes())
            .max()
            .unwrap_or(0);
        println!(
            "public pages: heaviest first visit (balance or finder page + CSS) {heaviest} bytes \
             [issue 6: <= 30 KB: {}]; /solde p50 {:.2} ms (HTTP floor {:.2} ms) [issue 6: <= 2 ms: {}]",
            mark(heaviest <= 30 * 1024),
            self.pages.solde.ms(0.5),
            self.pages.healthz.ms(0.5),
            mark(self.pages.solde.ms(0.5) <= 2.0)
        );
        println!(
            "memory: {:.1} MiB idle, {:.1} MiB max under load",
            mib(self.rss_idle_kib),
            mib(self.rss_load_max_kib)
        );
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A `/proc/self/status` field in KiB (0 where there is no /proc).
fn proc_status(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn machine_line() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown memory".into());
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("machine: {cpus} CPU(s), {memory}, {cpu}")
}

fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "DEBUG (figures meaningless: use cargo bench)"
    } else {
        "optimised"
    }
}
