//! Work that runs without a request: from the command line, or by the server itself.

use crate::error::{Error, Result};
use crate::expiry::ExpiryReport;
use crate::http::AppState;
use crate::settlement::{BatchView, NewBatch};
use jiff::SignedDuration;
use std::time::Duration;

async fn operator(conn: &mut crate::db::Conn) -> Result<crate::orgs::Organization> {
    let id = crate::orgs::operator_exists(conn).await?.ok_or_else(|| {
        Error::invalid(
            "no_operator",
            "No operator organisation yet: run `passnum bootstrap` first.",
        )
    })?;
    crate::orgs::find(conn, &id)
        .await?
        .ok_or_else(|| Error::not_found("operator vanished"))
}

/// `passnum settle --until`: a draft batch, as the operator.
pub async fn settle(state: &AppState, until: String) -> Result<BatchView> {
    let mut tx = state.db.begin().await?;
    let operator = operator(&mut tx).await?;
    let window = SignedDuration::from_hours(state.config.undo_window_hours);
    let batch = crate::settlement::create(
        &mut tx,
        &operator,
        NewBatch { until },
        state.clock.now(),
        window,
    )
    .await?;
    tx.commit().await?;
    Ok(batch)
}

/// `passnum expire`, and the server's periodic run: expire what is past, warn about what
/// comes.
pub async fn expire(state: &AppState) -> Result<ExpiryReport> {
    let (today, now) = (state.clock.today(), state.clock.now());
    let mut tx = state.db.begin().await?;
    let report = crate::expiry::expire(&mut tx, today, now, None).await?;
    crate::expiry::send_warnings(&mut tx, today, now).await?;
    crate::qualification::send_reminders(&mut tx, &state.config, today, now).await?;
    tx.commit().await?;
    Ok(report)
}

/// Runs the expiry (and forgets ended rate-limit windows) once an hour: it is idempotent and cheap when nothing is due, and an hourly
/// pace means a restarted server catches up within the hour.
pub async fn run_periodic(state: AppState) {
    loop {
        match expire(&state).await {
            Ok(r) if r.cheques > 0 => {
                tracing::info!(cheques = r.cheques, cents = r.cents, "cheques expired")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "expiry run failed; will retry"),
        }
        let window = state.config.rate_window_secs;
        if let Err(e) = crate::ratelimit::purge(&state.db, window, state.clock.now()).await {
            tracing::warn!(error = %e, "rate-limit purge failed; will retry");
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

/// Starts what a serving process runs beside the requests: the expiry, and the e-mail sender
/// when an SMTP server is configured.
pub fn spawn_background(state: &AppState) -> anyhow::Result<()> {
    tokio::spawn(run_periodic(state.clone()));
    crate::audit::spawn_sealer(state.db.clone());
    match crate::mail::Mailer::from_config(&state.config)? {
        Some(mailer) => {
            tokio::spawn(crate::mail::run_sender(
                state.db.clone(),
                mailer,
                state.clock.clone(),
            ));
        }
        None => tracing::warn!("PASSNUM_SMTP_URL is not set: e-mails wait in the outbox"),
    }
    Ok(())
}
