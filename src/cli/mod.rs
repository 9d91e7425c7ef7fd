//! The command line: `passnum serve`, `demo`, `bootstrap`, `settle`, `expire`, `retention`, `ledger verify`,
//! `keys`, `audit verify`, `backup`, `sites import`. Each command parses its arguments and calls
//! the domain (through [`jobs`] for the scheduled work); [`demo`] fills a fresh database.

pub mod demo;
pub mod jobs;

use crate::clock::SystemClock;
use crate::config::{Config, LogFormat};
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::sync::Arc;

/// The Pass numérique platform.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API.
    Serve(Bind),
    /// Apply database migrations and exit.
    Migrate,
    /// List the settings still at their example value (payer account, helpline, public
    /// address, SMTP); exits non-zero if there is any.
    CheckConfig,
    /// Fill a fresh database with a realistic demo, print how to use it, then serve.
    Demo(Bind),
    /// Create the operator organisation if missing and print a new operator API token (last line).
    Bootstrap,
    /// Gather redeemed cheques up to a date into a settlement batch (draft).
    Settle {
        /// Last day of redemptions to settle (YYYY-MM-DD).
        #[arg(long)]
        until: String,
    },
    /// Expire cheques past their last day; their value returns to the programme.
    Expire,
    /// Erase or reduce the personal data past its retention period (PASSNUM_RETENTION_*); the
    /// server runs it daily, this is for cron.
    Retention,
    /// Look for patterns worth questioning (PASSNUM_ALERT_*): a carnet used up in one day,
    /// sessions outside opening hours, a distributor's carnets used mostly at one site, a site
    /// far above its usual rate. The server runs it daily, this is for cron.
    Alerts,
    /// Count and keep the people helped in each month past its undo window, so that the
    /// funder's view of a month reads them. The server runs it daily, this is for cron.
    CloseMonths,
    /// Ledger checks.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Audit log checks.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Copy the live SQLite database into a new file (PostgreSQL: use pg_dump, see deploy/).
    Backup {
        /// The file to create; it must not exist.
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Mediation places in the national data standard.
    Sites {
        #[command(subcommand)]
        command: SitesCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Seal pending entries, then check the hash chain of the audit log; exits non-zero if an
    /// entry was edited or deleted, or if the chain no longer passes through an anchor.
    Verify {
        /// A head printed by an earlier run, `SEQ:HASH`, kept outside the database (repeatable).
        #[arg(long = "anchor")]
        anchors: Vec<crate::audit::Anchor>,
    },
}

#[derive(Subcommand)]
enum SitesCommand {
    /// Import places from a CSV file in the national standard (v1.0.2): the valid rows go in
    /// together, upserted by `id`; rejected rows are listed (line, field, reason) and make the
    /// exit status 1.
    Import {
        /// The CSV file.
        file: std::path::PathBuf,
    },
}

#[derive(clap::Args)]
struct Bind {
    /// Address and port to listen on.
    #[arg(long, env = "PASSNUM_BIND", default_value = "127.0.0.1:8080")]
    bind: String,
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Check that every transaction balances and that balances agree with the cheques;
    /// exits non-zero otherwise.
    Verify,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new signing key to the keys file and make it current.
    Rotate,
    /// List the keys, with the cheques each still has in circulation.
    List,
    /// Remove an old key from the keys file, once no cheque it signed can still be redeemed.
    Retire {
        /// The key id, e.g. K1.
        id: String,
    },
}

/// Parses the command line and runs the command.
pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr);
    match cli.config.log_format {
        LogFormat::Json => logs.json().flatten_event(true).init(),
        LogFormat::Text => logs.init(),
    }
    let config = cli.config;
    match cli.command {
        Command::Serve(bind) => {
            for p in config.placeholders() {
                tracing::warn!(
                    setting = p.setting,
                    "{} is still the example value: {}",
                    p.setting,
                    p.consequence
                );
            }
            let state = crate::start(config, Arc::new(SystemClock)).await?;
            jobs::spawn_background(&state)?;
            serve(&bind.bind, state).await
        }
        Command::CheckConfig => {
            let placeholders = config.placeholders();
            if placeholders.is_empty() {
                println!("Every setting has a real value.");
                return Ok(());
            }
            for p in &placeholders {
                println!("{}: still the example value; {}.", p.setting, p.consequence);
            }
            anyhow::bail!(
                "{} setting(s) still at their example value",
                placeholders.len()
            )
        }
        Command::Migrate => {
            let db = crate::db::Db::connect(&config.database_url, 1).await?;
            crate::migrate(&db).await?;
            println!("Database migrated.");
            Ok(())
        }
        Command::Demo(bind) => {
            let config = Config {
                demo: true,
                ..config
            };
            let state = crate::start(config, Arc::new(SystemClock)).await?;
            let filled = demo::fill(&state).await?;
            if let Some(statement) = &filled.statement {
                std::fs::write(demo::STATEMENT_FILE, statement)?;
            }
            println!(
                "{}",
                filled
                    .guide
                    .replace(demo::GUIDE_BASE, &format!("http://{}", bind.bind))
            );
            println!("Serving on http://{}", bind.bind);
            jobs::spawn_background(&state)?;
            serve(&bind.bind, state).await
        }
        Command::Bootstrap => {
            let state = crate::start(config, Arc::new(SystemClock)).await?;
            let token = bootstrap(&state).await?;
            println!("Operator API token (shown once):");
            println!("{token}");
            Ok(())
        }
        Command::Settle { until } => {
            let state = crate::start(config, Arc::new(SystemClock)).await?;
            let batch = jobs::settle(&state, until).await?;
            println!("{}", serde_json::to_string_pretty(&batch)?);
            Ok(())
        }
        Command::Expire => {
            let state = crate::start(config, Arc::new(SystemClock)).await?;
            let report = jobs::expire(&state).await?;
            println!(
                "{} cheque(s) expired, {} cents returned to their programmes.",
                report.cheques,
                report.cents.get()
            );
            Ok(())
        }
        Command::Retention => {
            let state = crate::start(config, Arc::new(SystemClock)).await?;
            let report = jobs::retention(&state).await?;
            if report.total() == 0 {
                println!("Nothing past its retention period.");
            } else {
                println!("Erased: {}.", report.detail());
            }
            Ok(())
        }
        Command::Alerts => {
            let state = crate::start(config, Arc::new(SystemClock)).await?;
            let found = jobs::alerts(&state).await?;
            println!(
                "{} new alert(s): {} carnet(s) used up in one day, {} day(s) with sessions \
                 outside opening hours, {} distributor(s) concentrated at one site, {} site(s) \
                 above their usual rate.",
                found.total(),
                found.carnet_in_one_day,
                found.outside_hours,
                found.distributor_concentration,
                found.rate_spike
            );
            Ok(())
        }
        Command::CloseMonths => {
            let state = crate::start(config, Arc::new(SystemClock)).await?;
            let closed = jobs::close_months(&state).await?;
            println!("{closed} month(s) of programme closed: their people are kept.");
            Ok(())
        }
        Command::Ledger {
            command: LedgerCommand::Verify,
        } => {
            let db = crate::db::Db::connect(&config.database_url, 1).await?;
            crate::migrate(&db).await?;
            let mut conn = db.read().await?;
            let mut report = crate::ledger::verify(&mut conn).await?;
            report
                .problems
                .extend(crate::settlement::verify(&mut conn).await?);
            report
                .problems
                .extend(crate::treasury::verify_coverage(&mut conn).await?);
            if report.is_ok() {
                println!(
                    "Ledger verified: every transaction balances and agrees with the cheques, \
                     every settlement line with the redemptions it pays, and the payer \
                     account's last statement covers what is owed to sites."
                );
                Ok(())
            } else {
                for problem in &report.problems {
                    eprintln!("{problem}");
                }
                anyhow::bail!(
                    "ledger verification failed: {} problem(s)",
                    report.problems.len()
                )
            }
        }
        Command::Backup { to } => backup(&config, &to).await,
        Command::Keys {
            command: KeysCommand::Rotate,
        } => {
            if config.signing_keys.is_some() {
                anyhow::bail!(
                    "keys come from PASSNUM_SIGNING_KEYS: add the new key there (KEYID:base64), newest last"
                );
            }
            crate::vouchers::keys::load_or_create(&config.keys_file)?;
            let key = crate::vouchers::keys::rotate(&config.keys_file)?;
            println!(
                "Key {} added to {} and now signs new cheques; older keys keep verifying.",
                key.id,
                config.keys_file.display()
            );
            if let Err(e) = record_key_event(&config.database_url, "key.rotated", &key.id).await {
                tracing::warn!(error = %e, key = %key.id, "key rotation not written to the audit log (database unreachable)");
            }
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::List,
        } => {
            let ring = crate::vouchers::keys::from_config(&config)?;
            let live = live_cheques(&config).await?;
            for key in ring.keys() {
                let current = if key.id == ring.current().id {
                    " (signe les nouveaux chèques)"
                } else {
                    ""
                };
                match live.iter().find(|(id, _, _)| *id == key.id) {
                    Some((_, n, until)) => println!(
                        "{}{current} : {n} chèque(s) en circulation, encaissables jusqu'au {until}",
                        key.id
                    ),
                    None => println!("{}{current} : aucun chèque en circulation", key.id),
                }
            }
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Retire { id },
        } => {
            if config.signing_keys.is_some() {
                anyhow::bail!(
                    "keys come from PASSNUM_SIGNING_KEYS: remove the entry there yourself, once `passnum keys list` shows it has no cheque in circulation"
                );
            }
            if let Some((_, n, until)) = live_cheques(&config)
                .await?
                .into_iter()
                .find(|(k, _, _)| *k == id)
            {
                anyhow::bail!(
                    "key {id} still verifies {n} cheque(s) in circulation, redeemable until {until}: retire it after that date and `passnum expire`"
                );
            }
            crate::vouchers::keys::remove(&config.keys_file, &id)?;
            println!(
                "Key {id} removed from {}; restart the servers so they forget it.",
                config.keys_file.display()
            );
            if let Err(e) = record_key_event(&config.database_url, "key.retired", &id).await {
                tracing::warn!(error = %e, key = %id, "key retirement not written to the audit log (database unreachable)");
            }
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify { anchors },
        } => {
            let db = crate::db::Db::connect(&config.database_url, 1).await?;
            crate::migrate(&db).await?;
            crate::audit::seal(&db).await?;
            let mut conn = db.read().await?;
            let mut report = crate::audit::verify(&mut conn).await?;
            let anchored = crate::audit::check_anchors(&mut conn, &anchors).await?;
            report.problems.extend(anchored);
            if report.is_ok() {
                let head = crate::audit::Anchor {
                    seq: report.head_seq,
                    hash: report.head_hash.clone(),
                };
                println!(
                    "Journal d'audit vérifié : {} entrée(s) chaînée(s), aucune modifiée ni supprimée{}. \
                     Notez cet ancrage hors de la base, pour une vérification future avec \
                     --anchor : {head}",
                    report.entries,
                    if anchors.is_empty() {
                        String::new()
                    } else {
                        format!(", {} ancrage(s) retrouvé(s)", anchors.len())
                    }
                );
                Ok(())
            } else {
                for problem in &report.problems {
                    eprintln!("{problem}");
                }
                anyhow::bail!(
                    "audit log verification failed: {} problem(s)",
                    report.problems.len()
                )
            }
        }
        Command::Sites {
            command: SitesCommand::Import { file },
        } => import_sites(config, &file).await,
    }
}

async fn backup(config: &Config, to: &std::path::Path) -> anyhow::Result<()> {
    let db = crate::db::Db::connect(&config.database_url, 1).await?;
    db.backup_to(to).await?;
    println!("Backup written to {}.", to.display());
    Ok(())
}

async fn import_sites(config: Config, file: &std::path::Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let state = crate::start(config, Arc::new(SystemClock)).await?;
    let now = state.clock.now();
    let report = state
        .db
        .transact(crate::db::Origin::platform(), move |tx| {
            Box::pin(async move { crate::sites::places::import_file(tx, &bytes, None, now).await })
        })
        .await?;
    for r in &report.rejected {
        eprintln!("ligne {}, {} : {}", r.line, r.field, r.reason);
    }
    println!(
        "{} ligne(s) lue(s) : {} lieu(x) créé(s), {} mis à jour, {} ligne(s) refusée(s).",
        report.rows, report.created, report.updated, report.rejected_rows
    );
    if report.rejected_rows > 0 {
        anyhow::bail!(
            "{} ligne(s) refusée(s) : corrigez-les et importez le fichier à nouveau (les lieux valides sont déjà enregistrés)",
            report.rejected_rows
        );
    }
    Ok(())
}

async fn serve(bind: &str, state: crate::app::AppState) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    crate::app::serve(listener, state).await
}

/// Cheques still in circulation per signing key: `(key id, count, last redeemable day)`.
async fn live_cheques(config: &Config) -> anyhow::Result<Vec<(String, i64, String)>> {
    let db = crate::db::Db::connect(&config.database_url, 1).await?;
    crate::migrate(&db).await?;
    let mut conn = db.read().await?;
    Ok(crate::vouchers::live_cheques_by_key(&mut conn).await?)
}

/// Creates the operator organisation if missing; returns a new operator token.
pub async fn bootstrap(state: &crate::app::AppState) -> crate::error::Result<String> {
    let now = state.clock.now();
    state
        .db
        .transact(crate::db::Origin::platform(), move |tx| {
            Box::pin(async move { crate::orgs::bootstrap(tx, now).await })
        })
        .await
}

/// `passnum keys rotate` / `retire`: notes the key id in the audit log (never the key itself).
async fn record_key_event(database_url: &str, action: &str, key_id: &str) -> anyhow::Result<()> {
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        // Do not create an empty database just to note a key change.
        let file = path.split('?').next().unwrap_or(path);
        anyhow::ensure!(std::path::Path::new(file).exists(), "no database at {file}");
    }
    let db = crate::db::Db::connect(database_url, 1).await?;
    crate::migrate(&db).await?;
    let now = crate::clock::format_ts(jiff::Timestamp::now());
    let detail = match action {
        "key.retired" => {
            format!("clé {key_id} retirée : plus aucun chèque signé par elle n'est en circulation")
        }
        _ => format!("clé {key_id} ajoutée : elle signe les nouveaux chèques"),
    };
    let (action, key_id) = (action.to_string(), key_id.to_string());
    db.transact(crate::db::Origin::platform(), move |tx| {
        Box::pin(async move {
            let operator = crate::orgs::operator_exists(tx).await?;
            crate::audit::record(
                tx,
                &now,
                operator.as_deref(),
                &action,
                Some(&key_id),
                &detail,
            )
            .await
        })
    })
    .await?;
    Ok(())
}
