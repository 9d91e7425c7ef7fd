//! Personal data kept only as long as needed: a daily job (the server's, or `passnum retention`
//! from cron) erases or reduces what is past its period (`PASSNUM_RETENTION_*`, shown on the
//! personal-data page):
//! - a beneficiary's e-mail, once their carnet has ended (every cheque used, cancelled or
//!   expired) plus a grace, with the e-mails to that address still in the outbox;
//! - client addresses in the audit journal, reduced to their network (IPv4 /24, IPv6 /48) without
//!   breaking the chain (see [`crate::audit::chain`]), and the attempt counters that hold them;
//! - feedback comments, on both scales (ratings and answers are kept);
//! - accounts without a login for a long while: deactivated, then erased (a row stays, with
//!   nothing personal, since the journal and the ledger name its id);
//! - sent e-mails (or given up), with their bodies and attachments;
//! - ProConnect agents' requests to join an organisation, once decided (or left undecided).
//!
//! Periods end at midnight (Paris), so a second run the same day finds nothing more. Each run
//! that erased something writes one journal entry with the counts (never what was erased).

mod repo;

use crate::clock::{format_ts, paris};
use crate::config::Retention;
use crate::db::{Db, Origin, Tx};
use crate::error::{Error, Result};
use jiff::civil::Date;
use jiff::{Span, Timestamp};

/// The journal entry of a run that erased something.
pub const ACTION: &str = "retention.erased";

/// What one run erased or reduced, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Beneficiaries' e-mails removed from their carnet.
    pub carnet_emails: u64,
    /// E-mails removed from the outbox: sent (or given up) past the period, or to an erased
    /// carnet address.
    pub mails: u64,
    /// Audit journal entries whose client address was reduced to its network.
    pub addresses: u64,
    /// Attempt counters (which hold an address) forgotten.
    pub counters: u64,
    /// Feedback comments erased.
    pub comments: u64,
    pub accounts_deactivated: u64,
    pub accounts_erased: u64,
    /// ProConnect requests to join an organisation erased.
    pub requests: u64,
}

impl Report {
    pub fn total(&self) -> u64 {
        self.carnet_emails
            + self.mails
            + self.addresses
            + self.counters
            + self.comments
            + self.accounts_deactivated
            + self.accounts_erased
            + self.requests
    }

    /// The journal's detail: counts only.
    pub fn detail(&self) -> String {
        format!(
            "adresses e-mail de carnets : {} ; e-mails de la file d'envoi : {} ; \
             adresses IP réduites au réseau : {} ; compteurs d'essais : {} ; \
             commentaires d'avis : {} ; comptes désactivés : {} ; comptes effacés : {} ; \
             demandes d'accès ProConnect : {}",
            self.carnet_emails,
            self.mails,
            self.addresses,
            self.counters,
            self.comments,
            self.accounts_deactivated,
            self.accounts_erased,
            self.requests
        )
    }
}

/// The periods as the personal-data page writes them ("30 jours", "12 mois").
pub struct PeriodTexts {
    pub carnet_email: String,
    pub addresses: String,
    pub comments: String,
    pub idle_account: String,
    pub deactivated_account: String,
    pub sent_mail: String,
    pub requests: String,
}

impl PeriodTexts {
    pub fn of(periods: &Retention) -> PeriodTexts {
        let days = |n: u32| format!("{n} jour{}", if n > 1 { "s" } else { "" });
        let months = |n: u32| format!("{n} mois");
        PeriodTexts {
            carnet_email: days(periods.email_days),
            addresses: days(periods.address_days),
            comments: months(periods.comment_months),
            idle_account: months(periods.idle_account_months),
            deactivated_account: months(periods.deactivated_account_months),
            sent_mail: days(periods.sent_mail_days),
            requests: days(periods.request_days),
        }
    }
}

/// Midnight (Paris) starting the day `back` before `today`: what happened before it is past
/// its period.
fn cutoff(today: Date, back: Span) -> Result<Timestamp> {
    let day = today
        .checked_sub(back)
        .map_err(|e| Error::Internal(anyhow::anyhow!("retention period: {e}")))?;
    Ok(day
        .to_zoned(paris())
        .map_err(|e| Error::Internal(anyhow::anyhow!("retention period: {e}")))?
        .timestamp())
}

/// The instants before which each kind of data is past its period.
struct Cutoffs {
    carnet_ended: String,
    addresses: String,
    counters_second: i64,
    comments: String,
    last_login: String,
    deactivated: String,
    sent_mail: String,
    requests: String,
}

impl Cutoffs {
    fn of(periods: &Retention, today: Date) -> Result<Cutoffs> {
        let days = |n: u32| cutoff(today, Span::new().days(i64::from(n)));
        let months = |n: u32| cutoff(today, Span::new().months(i64::from(n)));
        let addresses = days(periods.address_days)?;
        Ok(Cutoffs {
            carnet_ended: format_ts(days(periods.email_days)?),
            addresses: format_ts(addresses),
            counters_second: addresses.as_second(),
            comments: format_ts(months(periods.comment_months)?),
            last_login: format_ts(months(periods.idle_account_months)?),
            deactivated: format_ts(months(periods.deactivated_account_months)?),
            sent_mail: format_ts(days(periods.sent_mail_days)?),
            requests: format_ts(days(periods.request_days)?),
        })
    }
}

/// Runs the retention once: seals the waiting journal entries, converts the audit rows sealed in the old chain format if needed
/// (their addresses stay whole if that chain no longer verifies), then erases, in one unit of
/// work, everything past its period and journals the counts.
pub async fn run(db: &Db, periods: Retention, today: Date, now: Timestamp) -> Result<Report> {
    let cutoffs = Cutoffs::of(&periods, today)?;
    let now = format_ts(now);
    // Entries waiting for the sealer get their commitment first: only sealed addresses are cut.
    crate::audit::seal(db).await?;
    match crate::audit::convert_v1(db, &now).await {
        Ok(_) => {}
        Err(Error::Conflict { message, .. }) => {
            tracing::warn!(%message, "audit rows of the old chain format not converted");
        }
        Err(e) => return Err(e),
    }
    db.transact(Origin::platform(), move |tx| {
        Box::pin(async move { erase(tx, &cutoffs, &now).await })
    })
    .await
}

async fn erase(tx: &mut Tx<'_>, cut: &Cutoffs, now: &str) -> Result<Report> {
    let (carnet_emails, beneficiary_mails) =
        repo::erase_carnet_emails(tx, &cut.carnet_ended).await?;
    let report = Report {
        carnet_emails,
        mails: beneficiary_mails + repo::erase_sent_mails(tx, &cut.sent_mail).await?,
        addresses: crate::audit::truncate_addresses(tx, &cut.addresses).await?,
        counters: repo::forget_counters(tx, cut.counters_second).await?,
        comments: repo::erase_comments(tx, &cut.comments).await?,
        accounts_deactivated: repo::deactivate_idle_accounts(tx, &cut.last_login, now).await?,
        accounts_erased: repo::erase_deactivated_accounts(tx, &cut.deactivated, now).await?,
        requests: repo::erase_membership_requests(tx, &cut.requests).await?,
    };
    if report.total() > 0 {
        crate::audit::record(tx, now, None, ACTION, None, &report.detail()).await?;
    }
    Ok(report)
}
