//! `cargo bench --bench sites_import`: imports a generated file of 20,000 places in the
//! national standard (one row in ten invalid, in various ways) into a fresh SQLite database, and
//! into PostgreSQL when `PASSNUM_BENCH_POSTGRES_URL` names a server (a `passnum_bench_<random>`
//! database is created there and dropped at the end). Prints the time to read and check the
//! file, the time of the import transaction, and the same file imported again (every row an
//! update). See BENCHMARKS.md.

use passnum::clock::SystemClock;
use passnum::config::Config;
use passnum::db::Origin;
use passnum::sites::places::standard::{parse_csv, FIELDS};
use std::sync::Arc;
use std::time::Instant;

const PLACES: usize = 20_000;

/// Row `i`: valid, except every tenth row, broken in one of five ways.
fn file() -> String {
    let mut out = FIELDS.join(",");
    out.push('\n');
    for i in 0..PLACES {
        let (mut postcode, mut lat, mut hours, mut services) = (
            format!("{:05}", 1000 + (i % 95) * 1000 + i % 1000),
            format!("{:.5}", 43.0 + (i % 500) as f64 / 100.0),
            "Mo-Fr 09:00-12:00,14:00-18:30; Sa 08:30-12:00".to_string(),
            "Aide aux démarches administratives|Maîtrise des outils numériques du quotidien"
                .to_string(),
        );
        let mut name = format!("Lieu numéro {i}");
        if i % 10 == 9 {
            match (i / 10) % 5 {
                0 => postcode = "ABCDE".into(),
                1 => lat = "123.4".into(),
                2 => hours = "lundi de 9h à 12h".into(),
                3 => services = "Cuisine".into(),
                _ => name.clear(),
            }
        }
        let cells: Vec<String> = FIELDS
            .iter()
            .map(|f| match *f {
                "id" => format!("bench-{i}"),
                "pivot" => "43493312300029".into(),
                "nom" => name.clone(),
                "commune" => "Commune".into(),
                "code_postal" => postcode.clone(),
                "adresse" => format!("{} rue de la République", i % 200 + 1),
                "latitude" => lat.clone(),
                "longitude" => format!("{:.5}", 2.0 + (i % 300) as f64 / 100.0),
                "telephone" => "+33180059880".into(),
                "horaires" => hours.clone(),
                "date_maj" => "2026-01-15".into(),
                "services" => services.clone(),
                "prise_en_charge_specifique" => "Surdité|Handicaps moteurs".into(),
                _ => String::new(),
            })
            .map(|c| format!("\"{c}\""))
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

async fn run(label: &str, database_url: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let mut config = Config::defaults();
    config.database_url = database_url.to_string();
    config.signing_keys = Some("B1:QkVOQ0hCRU5DSEJFTkNIQkVOQ0hCRU5DSEJFTkNIISE=".into());
    let state = passnum::start(config, Arc::new(SystemClock)).await?;
    let started = Instant::now();
    let parsed = parse_csv(bytes);
    let checked = started.elapsed();
    let (valid, rejected) = (parsed.places.len(), parsed.rejected_rows());
    let started = Instant::now();
    let now = passnum::clock::Clock::now(&SystemClock);
    let report = state
        .db
        .transact(Origin::platform(), move |tx| {
            Box::pin(async move { passnum::sites::places::import(tx, parsed, None, now).await })
        })
        .await?;
    let stored = started.elapsed();
    assert_eq!(report.created, valid);
    // The transaction owns what it reads: the file is copied before the clock starts.
    let file = bytes.to_vec();
    let started = Instant::now();
    let now = jiff::Timestamp::now();
    let again = state
        .db
        .transact(Origin::platform(), move |tx| {
            Box::pin(async move { passnum::sites::places::import_file(tx, &file, None, now).await })
        })
        .await?;
    let reimport = started.elapsed();
    assert_eq!(again.updated, valid);
    println!(
        "{label:<10} {PLACES} rows: {valid} valid, {rejected} rejected | read and check {:>6.0} ms | \
         import transaction {:>6.0} ms | whole file again (all updates) {:>6.0} ms",
        checked.as_secs_f64() * 1000.0,
        stored.as_secs_f64() * 1000.0,
        reimport.as_secs_f64() * 1000.0,
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let file = file();
    println!("generated file: {} KiB", file.len() / 1024);
    let dir = std::env::temp_dir().join(format!("passnum-bench-sites-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let sqlite = format!("sqlite://{}", dir.join("bench.db").display());
    run("SQLite", &sqlite, file.as_bytes()).await?;
    std::fs::remove_dir_all(&dir).ok();
    if let Some(admin) = std::env::var("PASSNUM_BENCH_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        sqlx::any::install_default_drivers();
        let name = format!("passnum_bench_{}", uuid::Uuid::new_v4().simple());
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await?;
        let (base, _) = admin.rsplit_once('/').expect("URL has a database");
        let result = run("PostgreSQL", &format!("{base}/{name}"), file.as_bytes()).await;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await?;
        result?;
    }
    Ok(())
}
