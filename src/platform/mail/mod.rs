//! Outgoing e-mail through a transactional outbox. Callers [`enqueue`] a message inside the
//! transaction of the business change it reports, so it is sent if and only if that change
//! commits; a background sender ([`run_sender`]) then delivers due messages over SMTP, retrying
//! with exponential backoff.
//!
//! Several server instances may run the sender on one database: each message is claimed by a
//! conditional UPDATE (a lease) before it is sent, so only one of them sends it. Delivery stays
//! at-least-once: a crash between the SMTP hand-over and marking the row sent means it is sent
//! again once the lease expires. The Message-ID is derived from the row id so that such a
//! duplicate can be recognised downstream.

use crate::clock::{format_ts, SharedClock};
use crate::db::{Conn, Db, Origin, Tx};
use crate::error::{Error, Result};
use anyhow::Context;
use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use lettre::message::header::ContentType;
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::time::{Duration, Instant};

/// Messages picked per run: bounds how long one run holds its snapshot of due ids.
const BATCH: usize = 50;
/// After this many failed attempts a message is given up (status `failed`).
const MAX_ATTEMPTS: i64 = 10;
/// How long a claim keeps other senders off a message. Must outlast one SMTP exchange, which
/// [`SMTP_TIMEOUT`] bounds per command.
const LEASE: SignedDuration = SignedDuration::from_mins(10);
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
const FIRST_RETRY: SignedDuration = SignedDuration::from_mins(1);
const MAX_RETRY: SignedDuration = SignedDuration::from_hours(6);
/// Sender pace: idle between runs, and when a full batch suggests more are waiting.
const IDLE_PAUSE: Duration = Duration::from_secs(5);
const BUSY_PAUSE: Duration = Duration::from_millis(500);
/// SMTP error texts can be long (multi-line server replies): keep the column small.
const MAX_ERROR_CHARS: usize = 1000;
/// RFC 5321 limit on a forward path.
const MAX_ADDRESS_LEN: usize = 254;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub to: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    pub attachments: Vec<Attachment>,
}

impl Outgoing {
    /// A plain-text message whose body is an askama template (`templates/mail/*.txt`).
    pub fn text(to: &str, subject: &str, body: &impl askama::Template) -> Result<Outgoing> {
        Ok(Outgoing {
            to: to.to_string(),
            subject: subject.to_string(),
            text_body: body.render().map_err(anyhow::Error::from)?,
            html_body: None,
            attachments: Vec::new(),
        })
    }
}

crate::text_enum! {
    /// Where a message of the outbox stands (the CHECK of `outbox.status`).
    pub enum OutboxStatus {
        /// To send, now or after a failed attempt.
        Pending = "pending",
        Sent = "sent",
        /// Given up after too many attempts (or one that cannot be built).
        Failed = "failed",
    }
}

/// An e-mail address, checked once: trimmed, in lower case, at most 254 characters, with a
/// local part, a dotted domain, and a form the mailer can send to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Email> {
        let email = input.trim().to_lowercase();
        if !is_valid_address(&email) {
            return Err(Error::invalid(
                "invalid_email",
                "L'adresse e-mail n'est pas valide (exemple : prenom.nom@exemple.fr).",
            ));
        }
        Ok(Email(email))
    }

    /// An optional address: empty means none.
    pub fn parse_optional(input: Option<&str>) -> Result<Option<Email>> {
        match input.map(str::trim).filter(|e| !e.is_empty()) {
            Some(e) => Email::parse(e).map(Some),
            None => Ok(None),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl TryFrom<String> for Email {
    type Error = Error;
    fn try_from(value: String) -> Result<Email> {
        Email::parse(&value)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> String {
        email.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What every message needs to point people somewhere: the site's address, and the human
/// help (telephone and e-mail) written at the foot of each.
#[derive(Clone, Debug, Default)]
pub struct Letterhead {
    /// Without a trailing slash.
    pub public_url: String,
    pub helpline_phone: String,
    pub helpline_email: String,
}

impl Letterhead {
    pub fn of(config: &crate::config::Config) -> Letterhead {
        Letterhead {
            public_url: config.public_url.trim_end_matches('/').to_string(),
            helpline_phone: config.helpline_phone.clone(),
            helpline_email: config.helpline_email.clone(),
        }
    }
}

/// An attachment as stored in the `attachments` JSON column (TEXT on both databases, hence
/// base64 rather than a binary column).
#[derive(Serialize, Deserialize)]
struct StoredAttachment {
    filename: String,
    content_type: String,
    base64: String,
}

/// Writes a pending message in the caller's transaction. Returns its id.
pub async fn enqueue(tx: &mut Tx<'_>, mail: &Outgoing, now: Timestamp) -> Result<String> {
    if !is_valid_address(&mail.to) {
        return Err(Error::invalid(
            "invalid_email",
            "L'adresse e-mail n'est pas valide.",
        ));
    }
    let mut stored = Vec::with_capacity(mail.attachments.len());
    for a in &mail.attachments {
        // A bad content type is a bug in the calling code, not the user's fault: fail now,
        // inside the transaction, rather than when the sender builds the message.
        if a.filename.trim().is_empty() || ContentType::parse(&a.content_type).is_err() {
            return Err(Error::Internal(anyhow::anyhow!(
                "attachment {:?} has no name or an invalid content type {:?}",
                a.filename,
                a.content_type
            )));
        }
        stored.push(StoredAttachment {
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            base64: base64::engine::general_purpose::STANDARD.encode(&a.bytes),
        });
    }
    let attachments = serde_json::to_string(&stored).map_err(anyhow::Error::from)?;
    let id = crate::db::new_id();
    let now = format_ts(now);
    sqlx::query(
        "INSERT INTO outbox (id, to_address, subject, text_body, html_body, attachments, status, \
         attempts, next_attempt_at, last_error, created_at, sent_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, NULL, $8, NULL)",
    )
    .bind(&id)
    .bind(&mail.to)
    .bind(&mail.subject)
    .bind(&mail.text_body)
    .bind(&mail.html_body)
    .bind(&attachments)
    .bind(&now)
    .bind(&now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Messages still to be sent (including those waiting for a retry).
pub async fn pending_count(conn: &mut Conn) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// A rough check: something@domain.tld, no whitespace, not too long, and parseable by lettre so
/// that an accepted address can always be put in a message.
fn is_valid_address(address: &str) -> bool {
    if address.len() > MAX_ADDRESS_LEN || address.chars().any(char::is_whitespace) {
        return false;
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && address.parse::<Address>().is_ok()
}

/// The SMTP transport and the sender's mailbox.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// `smtp_url` is lettre's connection URL: `smtp://host:port` (plain),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS) or `smtps://host` (TLS).
    /// `mail_from` is a mailbox such as `Pass numérique <ne-pas-repondre@passnum.example>`.
    pub fn new(smtp_url: &str, mail_from: &str) -> anyhow::Result<Mailer> {
        // The URL may hold a password: never put it in an error message.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .context("invalid SMTP URL")?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        let from = parse_mailbox(mail_from)
            .with_context(|| format!("invalid sender address {mail_from:?}"))?;
        Ok(Mailer { transport, from })
    }

    /// From `PASSNUM_SMTP_URL` and `PASSNUM_MAIL_FROM`; None when no server is configured.
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Option<Mailer>> {
        Mailer::from_settings(config.smtp_url.as_deref(), &config.mail_from)
    }

    /// None when no SMTP server is configured: messages then wait in the outbox.
    pub fn from_settings(
        smtp_url: Option<&str>,
        mail_from: &str,
    ) -> anyhow::Result<Option<Mailer>> {
        match smtp_url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => Ok(Some(Mailer::new(url, mail_from)?)),
            None => Ok(None),
        }
    }
}

/// `Name <user@domain>` or a bare address. Lettre's parser comes first; the fallback keeps a
/// display name it would refuse (it is encoded per RFC 2047 when the message is written anyway).
fn parse_mailbox(text: &str) -> anyhow::Result<Mailbox> {
    let text = text.trim();
    if let Ok(mailbox) = text.parse::<Mailbox>() {
        return Ok(mailbox);
    }
    let (name, address) = match text.strip_suffix('>').and_then(|t| t.rsplit_once('<')) {
        Some((name, address)) => (name.trim().trim_matches('"').trim(), address.trim()),
        None => ("", text),
    };
    let address: Address = address.parse()?;
    let name = (!name.is_empty()).then(|| name.to_string());
    Ok(Mailbox::new(name, address))
}

/// One claimed row.
struct Claimed {
    id: String,
    to: String,
    subject: String,
    text_body: String,
    html_body: Option<String>,
    attachments: String,
    attempts: i64,
    /// The lease written by the claim: later updates match on it, so a sender whose lease ran
    /// out does not overwrite the state another sender has since written.
    lease: String,
}

struct RunOutcome {
    picked: usize,
    sent: usize,
}

/// Sends the due pending messages, oldest first, at most one batch. Returns how many were sent.
pub async fn deliver_due(db: &Db, mailer: &Mailer, now: Timestamp) -> Result<usize> {
    Ok(deliver_batch(db, mailer, now).await?.sent)
}

async fn deliver_batch(db: &Db, mailer: &Mailer, now: Timestamp) -> Result<RunOutcome> {
    let started = Instant::now();
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 \
         ORDER BY next_attempt_at, created_at, id LIMIT $2",
    )
    .bind(format_ts(now))
    .bind(BATCH as i64)
    .fetch_all(db.reads())
    .await?;
    let mut outcome = RunOutcome {
        picked: ids.len(),
        sent: 0,
    };
    for id in ids {
        // A batch of slow sends can take minutes: claim and stamp with the time as it is now,
        // or a late claim would get a lease already in the past.
        let at = plus(now, elapsed(started));
        let Some(claimed) = claim(db, &id, at).await? else {
            continue; // Another sender took it, or it is no longer due.
        };
        let message = match build_message(&mailer.from, &claimed, at) {
            Ok(m) => m,
            Err(e) => {
                // Building again will not help: give up on this one now.
                tracing::error!(outbox_id = %claimed.id, error = %e, "e-mail cannot be built");
                give_up(db, &claimed, &format!("{e:#}")).await?;
                continue;
            }
        };
        let result = mailer.transport.send(message).await;
        let at = plus(now, elapsed(started));
        match result {
            Ok(_) => {
                mark_sent(db, &claimed, at).await?;
                outcome.sent += 1;
            }
            Err(e) => record_failure(db, &claimed, &e.to_string(), at).await?,
        }
    }
    Ok(outcome)
}

/// Takes a message for the length of a lease, if it is still pending and due. The UPDATE is
/// atomic on both databases, so of several senders racing for a row exactly one matches it.
async fn claim(db: &Db, id: &str, at: Timestamp) -> Result<Option<Claimed>> {
    let lease = format_ts(plus(at, LEASE));
    let (id, at_text, lease_at) = (id.to_string(), format_ts(at), lease.clone());
    db.transact(Origin::platform(), move |tx| {
        Box::pin(async move {
            let row = sqlx::query(
                "UPDATE outbox SET next_attempt_at = $1 \
                 WHERE id = $2 AND status = 'pending' AND next_attempt_at <= $3 \
                 RETURNING to_address, subject, text_body, html_body, attachments, attempts",
            )
            .bind(&lease_at)
            .bind(&id)
            .bind(&at_text)
            .fetch_optional(&mut **tx)
            .await?;
            let Some(row) = row else {
                return Ok(None);
            };
            Ok(Some(Claimed {
                id,
                to: row.try_get("to_address")?,
                subject: row.try_get("subject")?,
                text_body: row.try_get("text_body")?,
                html_body: row.try_get("html_body")?,
                attachments: row.try_get("attachments")?,
                attempts: row.try_get("attempts")?,
                lease: lease_at,
            }))
        })
    })
    .await
}

/// Runs one statement of the sender's in a transaction of its own.
async fn update(db: &Db, sql: &'static str, binds: Vec<crate::db::Param>) -> Result<()> {
    db.transact(Origin::platform(), move |tx| {
        Box::pin(async move {
            let mut batch = crate::db::Batch::new(tx);
            batch.push(sql.replace('?', crate::db::P), binds);
            batch.execute(tx).await
        })
    })
    .await
}

async fn mark_sent(db: &Db, m: &Claimed, at: Timestamp) -> Result<()> {
    // Not fenced by the lease: the server has the message, so `sent` is the truth whoever
    // holds the row now.
    update(
        db,
        "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1 \
         WHERE id = ? AND status = 'pending'",
        vec![format_ts(at).into(), m.id.as_str().into()],
    )
    .await
}

async fn record_failure(db: &Db, m: &Claimed, error: &str, at: Timestamp) -> Result<()> {
    let attempts = m.attempts + 1;
    let (status, next) = if attempts >= MAX_ATTEMPTS {
        (OutboxStatus::Failed, at)
    } else {
        (OutboxStatus::Pending, plus(at, retry_delay(attempts)))
    };
    if status == OutboxStatus::Failed {
        tracing::error!(outbox_id = %m.id, attempts, error, "e-mail given up");
    } else {
        tracing::warn!(outbox_id = %m.id, attempts, error, "e-mail not sent; will retry");
    }
    update(
        db,
        "UPDATE outbox SET status = ?, attempts = ?, last_error = ?, next_attempt_at = ? \
         WHERE id = ? AND status = 'pending' AND next_attempt_at = ?",
        vec![
            status.as_str().into(),
            attempts.into(),
            truncate(error).into(),
            format_ts(next).into(),
            m.id.as_str().into(),
            m.lease.as_str().into(),
        ],
    )
    .await
}

async fn give_up(db: &Db, m: &Claimed, error: &str) -> Result<()> {
    update(
        db,
        "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ? \
         WHERE id = ? AND status = 'pending' AND next_attempt_at = ?",
        vec![
            truncate(error).into(),
            m.id.as_str().into(),
            m.lease.as_str().into(),
        ],
    )
    .await
}

/// 1 min after the first failure, then 2, 4, … capped at 6 h.
fn retry_delay(attempts: i64) -> SignedDuration {
    let doublings = attempts.saturating_sub(1).clamp(0, 30) as u32;
    let minutes = 1i64 << doublings;
    let delay = FIRST_RETRY.checked_mul(minutes as i32).unwrap_or(MAX_RETRY);
    delay.min(MAX_RETRY)
}

fn plus(ts: Timestamp, d: SignedDuration) -> Timestamp {
    ts.checked_add(d).unwrap_or(Timestamp::MAX)
}

fn elapsed(since: Instant) -> SignedDuration {
    SignedDuration::try_from(since.elapsed()).unwrap_or(SignedDuration::ZERO)
}

fn truncate(text: &str) -> String {
    text.chars().take(MAX_ERROR_CHARS).collect()
}

fn build_message(from: &Mailbox, m: &Claimed, date: Timestamp) -> anyhow::Result<Message> {
    let to: Address = m.to.parse().context("invalid recipient")?;
    let stored: Vec<StoredAttachment> =
        serde_json::from_str(&m.attachments).context("unreadable attachments")?;
    // Header injection is lettre's job, but a line break in a subject is never intended.
    let subject = m.subject.replace(['\r', '\n'], " ");
    let builder = Message::builder()
        .from(from.clone())
        .to(Mailbox::new(None, to))
        .subject(subject)
        .date(date.into())
        .message_id(Some(format!("<{}@{}>", m.id, from.email.domain())));

    let text = SinglePart::plain(m.text_body.clone());
    let content = match &m.html_body {
        Some(html) => Content::Multi(
            MultiPart::alternative()
                .singlepart(text)
                .singlepart(SinglePart::html(html.clone())),
        ),
        None => Content::Single(text),
    };
    if stored.is_empty() {
        return Ok(match content {
            Content::Multi(part) => builder.multipart(part)?,
            Content::Single(part) => builder.singlepart(part)?,
        });
    }
    let mut mixed = match content {
        Content::Multi(part) => MultiPart::mixed().multipart(part),
        Content::Single(part) => MultiPart::mixed().singlepart(part),
    };
    for a in stored {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&a.base64)
            .with_context(|| format!("attachment {:?} is not base64", a.filename))?;
        let content_type = ContentType::parse(&a.content_type)
            .with_context(|| format!("attachment {:?}: bad content type", a.filename))?;
        // Raw bytes are always written base64, whatever they look like.
        mixed = mixed.singlepart(
            lettre::message::Attachment::new(a.filename).body(Body::new(bytes), content_type),
        );
    }
    Ok(builder.multipart(mixed)?)
}

enum Content {
    Single(SinglePart),
    Multi(MultiPart),
}

/// Delivers due messages until the process ends. Errors are logged and retried on the next
/// run: a database or SMTP outage must not stop the server.
pub async fn run_sender(db: Db, mailer: Mailer, clock: SharedClock) {
    loop {
        let pause = match deliver_batch(&db, &mailer, clock.now()).await {
            Ok(run) => {
                if run.sent > 0 {
                    tracing::info!(sent = run.sent, "e-mails sent");
                }
                if run.picked >= BATCH {
                    BUSY_PAUSE
                } else {
                    IDLE_PAUSE
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "e-mail run failed; will retry");
                IDLE_PAUSE
            }
        };
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_up_to_six_hours() {
        let mins: Vec<i64> = (1..=12).map(|n| retry_delay(n).as_mins()).collect();
        assert_eq!(mins, [1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360, 360]);
        assert_eq!(retry_delay(i64::MAX), MAX_RETRY);
    }

    #[test]
    fn addresses() {
        for good in [
            "a@b.fr",
            "jean.dupont+pass@mairie-bordeaux.fr",
            "x@sub.domain.example",
        ] {
            assert!(is_valid_address(good), "{good}");
        }
        let long = format!("{}@example.fr", "a".repeat(250));
        for bad in [
            "",
            "plain",
            "@b.fr",
            "a@localhost",
            "a@.fr",
            "a@b.",
            "a b@c.fr",
            "a@b.fr\n",
            "a@@b.fr",
            long.as_str(),
        ] {
            assert!(!is_valid_address(bad), "{bad:?}");
        }
    }

    #[test]
    fn sender_with_accented_display_name() {
        let m = parse_mailbox("Pass numérique <ne-pas-repondre@passnum.example>").unwrap();
        assert_eq!(m.name.as_deref(), Some("Pass numérique"));
        assert_eq!(m.email.to_string(), "ne-pas-repondre@passnum.example");
        let bare = parse_mailbox("ne-pas-repondre@passnum.example").unwrap();
        assert_eq!(bare.name, None);
    }
}
