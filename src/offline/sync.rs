//! A console's records, sent when it is back online. Each goes through the one redemption door
//! ([`crate::redemption::check`] then [`crate::redemption::record`]) with the session's date for
//! every validity rule, and is answered once: its outcome is kept under (device, sequence), so
//! that the same record sent again gets the same answer and changes nothing.

use super::contract::{Outcome, RecordOutcome, SyncRecord, SyncRequest, UsedCheque};
use super::repo::{self, NewRecord, StoredRecord, Use};
use super::Settings;
use crate::clock::format_ts;
use crate::db::{Db, Origin};
use crate::error::{Error, Result};
use crate::orgs::Organization;
use crate::redemption::limits::InvalidCodeLimits;
use crate::redemption::NewRedemption;
use crate::vouchers::codes::{self, Keyring};
use jiff::{SignedDuration, Timestamp};
use std::net::IpAddr;

/// Records one sync may carry at most (a console holds 50 cheques by default); more are sent
/// by the next request.
pub const MAX_RECORDS: usize = 100;

/// How far ahead of the server's clock a device's clock may be.
const CLOCK_SKEW: SignedDuration = SignedDuration::from_mins(5);

/// What one sync needs besides its records.
pub struct Context<'a> {
    pub db: &'a Db,
    pub keyring: &'a Keyring,
    pub invalid_codes: &'a InvalidCodeLimits,
    pub settings: Settings,
    pub client_ip: IpAddr,
    pub origin: Origin,
}

/// Answers each record of `request` in order. A database failure stops the sync (the records
/// answered so far are kept; sending everything again is harmless); a refusal only answers its
/// record.
pub async fn sync(
    cx: &Context<'_>,
    site: &Organization,
    request: SyncRequest,
    now: Timestamp,
) -> Result<Vec<RecordOutcome>> {
    site.check_can_redeem(crate::zones::today_in(now, &site.zone()))?;
    if request.records.len() > MAX_RECORDS {
        return Err(Error::invalid(
            "too_many_records",
            format!("Une synchronisation envoie {MAX_RECORDS} séances au plus : envoyez le reste ensuite."),
        ));
    }
    refuse_revoked(cx, site, &request).await?;
    let mut outcomes = Vec::with_capacity(request.records.len());
    for record in request.records {
        outcomes.push(one(cx, site, record, now).await?);
    }
    Ok(outcomes)
}

/// A sync naming a revoked console is refused whole, before anything is read or kept: the
/// console learns at once that it is out of service (a 403 it cannot take for a network
/// failure to retry), and none of its records, before or after the revocation, is paid or
/// stored. Its people redeem those cheques again online or from another console.
async fn refuse_revoked(
    cx: &Context<'_>,
    site: &Organization,
    request: &SyncRequest,
) -> Result<()> {
    let mut ids: Vec<&str> = request
        .records
        .iter()
        .map(|r| r.device_id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut conn = cx.db.read().await?;
    for id in ids {
        let device = repo::device(&mut conn, id, cx.settings.default).await?;
        if let Some(device) = device.filter(|d| d.site_id == site.id) {
            if let Some(at) = &device.revoked_at {
                return Err(Error::forbidden(
                    "device_revoked",
                    format!(
                        "L'appareil « {} » a été retiré le {} : ses séances ne sont plus \
                         acceptées et rien n'a été encaissé. Encaissez ces chèques en ligne \
                         ou depuis un appareil en service.",
                        device.label,
                        crate::fr::moment_text_in(at, &site.zone())
                    ),
                ));
            }
        }
    }
    Ok(())
}

async fn one(
    cx: &Context<'_>,
    site: &Organization,
    record: SyncRecord,
    now: Timestamp,
) -> Result<RecordOutcome> {
    let hash = hash_of(&record);
    let refused = |code: &str, reason: String| RecordOutcome {
        device_id: record.device_id.clone(),
        seq: record.seq,
        outcome: Outcome::Refused,
        redemption_id: None,
        session_at: None,
        reason_code: Some(code.to_string()),
        reason: Some(reason),
        used: Vec::new(),
        replayed: false,
    };
    let mut conn = cx.db.read().await?;
    let device = repo::device(&mut conn, &record.device_id, cx.settings.default)
        .await?
        .filter(|d| d.site_id == site.id);
    let Some(device) = device else {
        return Ok(refused(
            "unknown_device",
            "Cet appareil n'est pas enregistré pour votre lieu : rien n'a été encaissé.".into(),
        ));
    };
    if device.revoked_at.is_some() {
        return Ok(refused(
            "device_revoked",
            "Cet appareil a été retiré : ses séances ne peuvent plus être encaissées.".into(),
        ));
    }
    if let Some(stored) = repo::stored_record(&mut conn, &record.device_id, record.seq).await? {
        return replay(&mut conn, &record, stored, &hash).await;
    }
    // From here on, the outcome is kept: the same record sent again answers the same.
    let keep = Keep {
        record: &record,
        hash: &hash,
        site_id: &site.id,
        now,
        zone: site.zone(),
    };
    let (session_ts, offset) = match read_session_at(&record.session_at) {
        Some(read) => read,
        None => {
            let why = Error::invalid(
                "invalid_session_time",
                "L'heure de la séance est illisible : elle s'écrit 2026-03-07T20:37:00-04:00.",
            );
            return keep.refusal(cx, &record.session_at, "", why).await;
        }
    };
    let session_text = format_ts(session_ts);
    let bound = SignedDuration::from_hours(24 * cx.settings.bound_days);
    if session_ts > now + CLOCK_SKEW {
        let why = Error::invalid(
            "session_in_future",
            "L'heure de la séance est dans le futur : vérifiez l'heure de l'appareil. Rien n'a \
             été encaissé.",
        );
        return keep.refusal(cx, &session_text, &offset, why).await;
    }
    if session_ts < now - bound {
        let why = Error::gone(
            "session_too_old",
            format!(
                "Cette séance du {} a été envoyée plus de {} jours après : elle ne peut plus \
                 être encaissée.",
                crate::fr::moment_text_in(&session_text, &site.zone()),
                cx.settings.bound_days
            ),
        );
        return keep.refusal(cx, &session_text, &offset, why).await;
    }
    if let Some(retry_after_secs) = cx
        .invalid_codes
        .blocked(&mut conn, &site.id, cx.client_ip, now)
        .await?
    {
        return Err(Error::RateLimited { retry_after_secs });
    }
    // Every validity rule (the cheque's last day, its programme's, the site's qualification)
    // is that of the day the help was given, each in its own zone.
    let typed = record.cheques.iter().any(|c| c.to_confirm);
    let new = NewRedemption {
        code: None,
        codes: record.cheques.iter().map(|c| c.code.clone()).collect(),
        place_id: record.place_id.clone(),
        service_id: record.service_id.clone(),
        service: record.service.clone(),
        minutes: record.minutes,
        themes: record.themes.clone(),
        location: record.location.clone(),
        help_level: record.help_level.clone(),
    };
    let checked = crate::redemption::check(&mut conn, cx.keyring, site, new, session_ts).await;
    drop(conn);
    let session = match checked {
        Ok(session) => session.offline(&device.id, session_text.clone()),
        Err(e) if is_refusal(&e) => {
            if e.code() == "invalid_code" {
                cx.invalid_codes.record(&site.id, cx.client_ip, now).await?;
            }
            let e = if typed {
                e.prefixed("Code tapé hors ligne, à confirmer : ")
            } else {
                e
            };
            return keep.refusal(cx, &session_text, &offset, e).await;
        }
        Err(e) => return Err(e),
    };
    let codes: Vec<String> = session.codes().to_vec();
    let written = {
        let (site, keep_record) = (site.clone(), keep.owned(&session_text, &offset));
        cx.db
            .transact(cx.origin.clone(), move |tx| {
                Box::pin(async move {
                    let row = crate::redemption::record(tx, &site, session, now).await?;
                    let mut stored = keep_record;
                    stored.outcome = Outcome::Accepted;
                    stored.redemption_id = Some(row.id.clone());
                    stored.insert(tx).await?;
                    Ok(row.id)
                })
            })
            .await
    };
    match written {
        Ok(redemption_id) => Ok(RecordOutcome {
            device_id: record.device_id.clone(),
            seq: record.seq,
            outcome: Outcome::Accepted,
            redemption_id: Some(redemption_id),
            session_at: Some(session_text),
            reason_code: None,
            reason: None,
            used: Vec::new(),
            replayed: false,
        }),
        Err(e) if e.code() == "already_redeemed" => {
            keep.conflict(cx, &session_text, &offset, &codes).await
        }
        Err(e) if is_refusal(&e) => keep.refusal(cx, &session_text, &offset, e).await,
        // Sent twice at the same moment: the other sending's answer is this one's.
        Err(e) if e.is_unique_violation() => keep.stored_answer(cx).await,
        Err(e) => Err(e),
    }
}

/// A refusal of the request as the agent asked it, not a failure of the platform.
fn is_refusal(e: &Error) -> bool {
    matches!(
        e,
        Error::BadRequest { .. }
            | Error::Forbidden { .. }
            | Error::NotFound(_)
            | Error::Conflict { .. }
            | Error::Gone { .. }
            | Error::Unprocessable { .. }
            | Error::Fields(_)
    )
}

/// The answer kept for a record sent again: the same, if it is the same record.
async fn replay(
    conn: &mut crate::db::Conn,
    record: &SyncRecord,
    stored: StoredRecord,
    hash: &str,
) -> Result<RecordOutcome> {
    if stored.request_hash != hash {
        return Ok(RecordOutcome {
            device_id: record.device_id.clone(),
            seq: record.seq,
            outcome: Outcome::Refused,
            redemption_id: None,
            session_at: None,
            reason_code: Some("sequence_reused".into()),
            reason: Some(
                "Ce numéro de séance a déjà servi pour une autre séance de cet appareil : \
                 rien n'a été encaissé."
                    .into(),
            ),
            used: Vec::new(),
            replayed: false,
        });
    }
    let outcome = Outcome::from_stored(&stored.outcome);
    let used = if outcome == Outcome::Conflict {
        repo::conflicts_of(conn, &record.device_id, record.seq)
            .await?
            .into_iter()
            .map(UsedCheque::from)
            .collect()
    } else {
        Vec::new()
    };
    Ok(RecordOutcome {
        device_id: record.device_id.clone(),
        seq: record.seq,
        outcome,
        redemption_id: stored.redemption_id,
        session_at: Some(stored.session_at).filter(|s| !s.is_empty()),
        reason_code: stored.reason_code,
        reason: stored.reason,
        used,
        replayed: true,
    })
}

/// Keeps a record's outcome (other than accepted, which is kept with its redemption).
struct Keep<'a> {
    record: &'a SyncRecord,
    hash: &'a str,
    site_id: &'a str,
    now: Timestamp,
    /// The site's, where its people read the times told.
    zone: jiff::tz::TimeZone,
}

/// A record's row, owned, to be written in a transaction.
struct KeptRecord {
    device_id: String,
    seq: i64,
    site_id: String,
    hash: String,
    session_at: String,
    offset: String,
    received_at: String,
    outcome: Outcome,
    redemption_id: Option<String>,
    reason_code: Option<String>,
    reason: Option<String>,
}

impl KeptRecord {
    async fn insert(&self, tx: &mut crate::db::Tx<'_>) -> Result<()> {
        repo::insert_record(
            tx,
            &NewRecord {
                device_id: &self.device_id,
                seq: self.seq,
                site_id: &self.site_id,
                request_hash: &self.hash,
                session_at: &self.session_at,
                session_offset: &self.offset,
                received_at: &self.received_at,
                outcome: self.outcome.as_str(),
                redemption_id: self.redemption_id.as_deref(),
                reason_code: self.reason_code.as_deref(),
                reason: self.reason.as_deref(),
            },
        )
        .await?;
        repo::touch_device(tx, &self.device_id, &self.received_at).await
    }
}

impl Keep<'_> {
    fn owned(&self, session_at: &str, offset: &str) -> KeptRecord {
        KeptRecord {
            device_id: self.record.device_id.clone(),
            seq: self.record.seq,
            site_id: self.site_id.to_string(),
            hash: self.hash.to_string(),
            session_at: session_at.to_string(),
            offset: offset.to_string(),
            received_at: format_ts(self.now),
            outcome: Outcome::Refused,
            redemption_id: None,
            reason_code: None,
            reason: None,
        }
    }

    async fn refusal(
        &self,
        cx: &Context<'_>,
        session_at: &str,
        offset: &str,
        why: Error,
    ) -> Result<RecordOutcome> {
        let mut kept = self.owned(session_at, offset);
        kept.reason_code = Some(why.code().to_string());
        kept.reason = Some(why.public_message());
        let written = cx
            .db
            .transact(cx.origin.clone(), move |tx| {
                Box::pin(async move { kept.insert(tx).await })
            })
            .await;
        match written {
            Ok(()) => {}
            Err(e) if e.is_unique_violation() => return self.stored_answer(cx).await,
            Err(e) => return Err(e),
        }
        Ok(RecordOutcome {
            device_id: self.record.device_id.clone(),
            seq: self.record.seq,
            outcome: Outcome::Refused,
            redemption_id: None,
            session_at: Some(session_at.to_string()).filter(|s| !s.is_empty()),
            reason_code: Some(why.code().to_string()),
            reason: Some(why.public_message()),
            used: Vec::new(),
            replayed: false,
        })
    }

    /// A cheque of the record was already used: say where and when, pay nothing.
    async fn conflict(
        &self,
        cx: &Context<'_>,
        session_at: &str,
        offset: &str,
        codes: &[String],
    ) -> Result<RecordOutcome> {
        let uses = {
            let mut conn = cx.db.read().await?;
            repo::uses_of(&mut conn, codes).await?
        };
        let reason = conflict_reason(&uses, &self.zone);
        let mut kept = self.owned(session_at, offset);
        kept.outcome = Outcome::Conflict;
        kept.reason_code = Some("already_redeemed".into());
        kept.reason = Some(reason.clone());
        let (stored_uses, session) = (uses.clone(), session_at.to_string());
        let written = cx
            .db
            .transact(cx.origin.clone(), move |tx| {
                Box::pin(async move {
                    kept.insert(tx).await?;
                    for used in &stored_uses {
                        repo::insert_conflict(
                            tx,
                            &kept.device_id,
                            kept.seq,
                            &kept.site_id,
                            &session,
                            used,
                            &kept.received_at,
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .await;
        match written {
            Ok(()) => {}
            Err(e) if e.is_unique_violation() => return self.stored_answer(cx).await,
            Err(e) => return Err(e),
        }
        Ok(RecordOutcome {
            device_id: self.record.device_id.clone(),
            seq: self.record.seq,
            outcome: Outcome::Conflict,
            redemption_id: None,
            session_at: Some(session_at.to_string()),
            reason_code: Some("already_redeemed".into()),
            reason: Some(reason),
            used: uses.into_iter().map(UsedCheque::from).collect(),
            replayed: false,
        })
    }

    async fn stored_answer(&self, cx: &Context<'_>) -> Result<RecordOutcome> {
        let mut conn = cx.db.read().await?;
        match repo::stored_record(&mut conn, &self.record.device_id, self.record.seq).await? {
            Some(stored) => replay(&mut conn, self.record, stored, self.hash).await,
            None => Err(Error::Internal(anyhow::anyhow!(
                "offline record {}/{} neither written nor found",
                self.record.device_id,
                self.record.seq
            ))),
        }
    }
}

/// "Chèque ABCD-EFGH-JK12 : déjà utilisé le 2 mars 2026 à 14:05 à Médiathèque (Salle 2)."
fn conflict_reason(uses: &[Use], zone: &jiff::tz::TimeZone) -> String {
    let mut out: Vec<String> = uses
        .iter()
        .map(|u| {
            let place = match &u.place_name {
                Some(place) if place != &u.site_name => format!("{} ({place})", u.site_name),
                _ => u.site_name.clone(),
            };
            format!(
                "Chèque {} : déjà utilisé le {} à {place}.",
                codes::display_code(&u.code),
                crate::fr::moment_text_in(&u.used_at, zone)
            )
        })
        .collect();
    if out.is_empty() {
        out.push("Un chèque de cette séance a déjà été utilisé.".into());
    }
    out.push("Rien n'a été encaissé pour cette séance.".into());
    out.join(" ")
}

/// The session's instant and the offset the device wrote it with ("-04:00").
fn read_session_at(text: &str) -> Option<(Timestamp, String)> {
    let text = text.trim();
    let ts: Timestamp = text.parse().ok()?;
    let offset = if text.ends_with(['Z', 'z']) {
        "+00:00".to_string()
    } else {
        let tail = text.get(text.len().saturating_sub(6)..)?;
        if tail.starts_with(['+', '-']) && tail.as_bytes().get(3) == Some(&b':') {
            tail.to_string()
        } else {
            return None;
        }
    };
    Some((ts, offset))
}

/// A digest of the record as sent: the same sequence with other content is not a replay.
fn hash_of(record: &SyncRecord) -> String {
    use sha2::{Digest, Sha256};
    let bytes = serde_json::to_vec(record).unwrap_or_default();
    data_encoding::HEXLOWER.encode(&Sha256::digest(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_time_needs_its_offset() {
        let (ts, offset) = read_session_at("2026-03-07T20:37:00-04:00").unwrap();
        assert_eq!(format_ts(ts), "2026-03-08T00:37:00.000000Z");
        assert_eq!(offset, "-04:00");
        assert_eq!(read_session_at("2026-03-07T20:37:00Z").unwrap().1, "+00:00");
        assert!(read_session_at("2026-03-07T20:37:00").is_none());
        assert!(read_session_at("hier").is_none());
    }
}
