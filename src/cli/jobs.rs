//! Work that runs without a request: from the command line, or by the server itself.

use crate::app::AppState;
use crate::db::{Origin, Tx};
use crate::error::{Error, Result};
use crate::expiry::ExpiryReport;
use crate::settlement::{BatchView, NewBatch};
use jiff::SignedDuration;
use std::time::Duration;

async fn operator(conn: &mut crate::db::Conn) -> Result<crate::orgs::Organization> {
    let id = crate::orgs::operator_exists(conn).await?.ok_or_else(|| {
        Error::invalid(
            "no_operator",
            "Aucune organisation opératrice : lancez d'abord `passnum bootstrap`.",
        )
    })?;
    crate::orgs::find(conn, &id)
        .await?
        .ok_or_else(|| Error::not_found("L'organisation opératrice n'existe plus."))
}

/// `passnum settle --until`: a draft batch, as the operator.
pub async fn settle(state: &AppState, until: String) -> Result<BatchView> {
    let window = SignedDuration::from_hours(state.config.undo_window_hours);
    let now = state.clock.now();
    state
        .db
        .transact(Origin::platform(), move |tx| {
            Box::pin(async move {
                let operator = operator(tx).await?;
                crate::settlement::create(tx, &operator, NewBatch { until }, now, window).await
            })
        })
        .await
}

/// The server's monthly draft batch, when it is due and not made yet (see
/// [`crate::settlement::monthly_until`]); nothing when there is nothing to pay.
pub async fn prepare_monthly(state: &AppState) -> Result<Option<BatchView>> {
    let Some(until) =
        crate::settlement::monthly_until(state.clock.today(), state.config.settlement_day)
    else {
        return Ok(None);
    };
    let mut conn = state.db.read().await?;
    if crate::settlement::exists_until(&mut conn, until).await? {
        return Ok(None);
    }
    drop(conn);
    let window = SignedDuration::from_hours(state.config.undo_window_hours);
    let (now, letterhead) = (state.clock.now(), state.letterhead());
    let made = state
        .db
        .transact(Origin::platform(), move |tx| {
            Box::pin(async move {
                let operator = operator(tx).await?;
                crate::settlement::prepare_monthly(tx, &operator, until, now, window, &letterhead)
                    .await
            })
        })
        .await;
    match made {
        Ok(view) => Ok(Some(view)),
        // Rolled back: tried again at the next run, in case something becomes payable.
        Err(Error::Conflict {
            code: "nothing_to_settle" | "concurrent_settlement",
            ..
        }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `passnum expire`, and the server's periodic run: expire what is past, close the programmes
/// whose last day is past, warn about what comes (cheques expiring, programmes ending,
/// qualifications ending).
pub async fn expire(state: &AppState) -> Result<ExpiryReport> {
    let (today, now) = (state.clock.today(), state.clock.now());
    let letterhead = state.letterhead();
    state
        .db
        .transact(Origin::platform(), move |tx| {
            Box::pin(async move { expire_in(tx, &letterhead, today, now).await })
        })
        .await
}

async fn expire_in(
    tx: &mut Tx<'_>,
    letterhead: &crate::mail::Letterhead,
    today: jiff::civil::Date,
    now: jiff::Timestamp,
) -> Result<ExpiryReport> {
    let report = crate::expiry::expire(tx, now, None).await?;
    for closure in crate::programs::close_due(tx, now).await? {
        tracing::info!(
            program = %closure.program_id,
            credited_cents = closure.credited_cents.get(),
            "programme closed on its planned day"
        );
    }
    crate::programs::send_close_notices(tx, letterhead, today, now).await?;
    crate::expiry::send_warnings(tx, letterhead, now).await?;
    crate::sites::qualification::send_reminders(tx, letterhead, today, now).await?;
    Ok(report)
}

/// `passnum retention`, and the server's daily run: erases or reduces the personal data past
/// its period (see [`crate::retention`]).
pub async fn retention(state: &AppState) -> Result<crate::retention::Report> {
    let (today, now) = (state.clock.today(), state.clock.now());
    crate::retention::run(&state.db, state.config.retention, today, now).await
}

/// `passnum alerts`, and the server's daily run: the patterns against gaming (see
/// [`crate::alerts`]).
pub async fn alerts(state: &AppState) -> Result<crate::alerts::Found> {
    crate::alerts::detect(&state.db, state.config.alerts, state.clock.now()).await
}

/// The server's daily run: keeps the people of the months that can no longer change, so that
/// the funder's view of one month reads them instead of the month's redemptions (see
/// [`crate::stats::close_months`]).
pub async fn close_months(state: &AppState) -> Result<usize> {
    let window = SignedDuration::from_hours(state.config.undo_window_hours);
    crate::stats::close_months(&state.db, state.clock.now(), window).await
}

/// Runs the expiry (and forgets ended rate-limit windows) once an hour: it is idempotent and cheap when nothing is due, and an hourly
/// pace means a restarted server catches up within the hour. The retention, the alerts and the
/// closing of months run once a day.
pub async fn run_periodic(state: AppState) {
    let (mut retention_day, mut alerts_day, mut months_day) = (None, None, None);
    loop {
        match expire(&state).await {
            Ok(r) if r.cheques > 0 => {
                tracing::info!(
                    cheques = r.cheques,
                    cents = r.cents.get(),
                    "cheques expired"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "expiry run failed; will retry"),
        }
        match prepare_monthly(&state).await {
            Ok(Some(view)) => tracing::info!(
                batch = %view.batch.id,
                lines = view.lines.len(),
                "monthly settlement batch prepared"
            ),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "monthly settlement failed; will retry"),
        }
        let window = state.config.rate_window_secs;
        if let Err(e) = crate::ratelimit::purge(&state.db, window, state.clock.now()).await {
            tracing::warn!(error = %e, "rate-limit purge failed; will retry");
        }
        let today = state.clock.today();
        if retention_day != Some(today) {
            match retention(&state).await {
                Ok(r) => {
                    retention_day = Some(today);
                    if r.total() > 0 {
                        tracing::info!(erased = %r.detail(), "personal data past its period erased");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "retention run failed; will retry"),
            }
        }
        if alerts_day != Some(today) {
            match alerts(&state).await {
                Ok(found) => {
                    alerts_day = Some(today);
                    if found.total() > 0 {
                        tracing::info!(alerts = found.total(), "new alerts to review");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "alerts run failed; will retry"),
            }
        }
        if months_day != Some(today) {
            match close_months(&state).await {
                Ok(n) => {
                    months_day = Some(today);
                    if n > 0 {
                        tracing::info!(months = n, "people of closed months counted");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "closing months failed; will retry"),
            }
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

/// Starts what a serving process runs beside the requests: the expiry, the files of carnets a
/// stop interrupted, and the e-mail sender when an SMTP server is configured.
pub fn spawn_background(state: &AppState) -> anyhow::Result<()> {
    tokio::spawn(run_periodic(state.clone()));
    tokio::spawn(state.file_runner().resume_all());
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
