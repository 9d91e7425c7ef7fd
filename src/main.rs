use anyhow::Context;
use clap::{Parser, Subcommand};
use passnum::clock::SystemClock;
use passnum::config::Config;
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let config = cli.config;
    match cli.command {
        Command::Serve(bind) => {
            let state = passnum::start(config, Arc::new(SystemClock)).await?;
            passnum::jobs::spawn_background(&state)?;
            serve(&bind.bind, state).await
        }
        Command::Migrate => {
            let db = passnum::db::Db::connect(&config.database_url, 1).await?;
            db.migrate().await?;
            println!("Database migrated.");
            Ok(())
        }
        Command::Demo(bind) => {
            let state = passnum::start(config, Arc::new(SystemClock)).await?;
            let guide = passnum::demo::fill(&state).await?;
            println!("{guide}");
            println!("Serving on http://{}", bind.bind);
            passnum::jobs::spawn_background(&state)?;
            serve(&bind.bind, state).await
        }
        Command::Bootstrap => {
            let state = passnum::start(config, Arc::new(SystemClock)).await?;
            let token = passnum::demo::bootstrap(&state).await?;
            println!("Operator API token (shown once):");
            println!("{token}");
            Ok(())
        }
        Command::Settle { until } => {
            let state = passnum::start(config, Arc::new(SystemClock)).await?;
            let batch = passnum::jobs::settle(&state, until).await?;
            println!("{}", serde_json::to_string_pretty(&batch)?);
            Ok(())
        }
        Command::Expire => {
            let state = passnum::start(config, Arc::new(SystemClock)).await?;
            let report = passnum::jobs::expire(&state).await?;
            println!(
                "{} cheque(s) expired, {} cents returned to their programmes.",
                report.cheques, report.cents
            );
            Ok(())
        }
        Command::Ledger {
            command: LedgerCommand::Verify,
        } => {
            let db = passnum::db::Db::connect(&config.database_url, 1).await?;
            db.migrate().await?;
            let mut conn = db.read.acquire().await?;
            let report = passnum::ledger::verify(&mut conn).await?;
            if report.is_ok() {
                println!(
                    "Ledger verified: every transaction balances and agrees with the cheques."
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
        Command::Keys {
            command: KeysCommand::Rotate,
        } => {
            if config.signing_keys.is_some() {
                anyhow::bail!(
                    "keys come from PASSNUM_SIGNING_KEYS: add the new key there (KEYID:base64), newest last"
                );
            }
            passnum::vouchers::keys::load_or_create(&config.keys_file)?;
            let key = passnum::vouchers::keys::rotate(&config.keys_file)?;
            println!(
                "Key {} added to {} and now signs new cheques; older keys keep verifying.",
                key.id,
                config.keys_file.display()
            );
            Ok(())
        }
    }
}

async fn serve(bind: &str, state: passnum::http::AppState) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    passnum::http::serve(listener, state).await
}
