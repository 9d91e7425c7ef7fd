//! The end of a cheque's life: past its last day (printed expiry plus the programme's grace)
//! it expires and its value returns to the programme's available budget. At a programme's
//! close, everything not yet redeemed goes back to the funder as a credit note.

use crate::clock::format_ts;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::ledger::{self, Account, Kind, Transfer};
use crate::mail::{Letterhead, Outgoing};
use crate::money::Cents;
use crate::orgs::Organization;
use crate::programs::Program;
use askama::Template;
use jiff::civil::Date;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::BTreeMap;

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct ExpiryReport {
    pub cheques: i64,
    pub cents: Cents,
}

/// Expires every cheque whose last day is past at `now` where its programme is (a last day
/// ends at local midnight: in Nouméa ten hours before Paris), or, with `program_id`, every
/// unused cheque of that programme. Idempotent: run it as often as you like.
pub async fn expire(
    tx: &mut Tx<'_>,
    now: Timestamp,
    program_id: Option<&str>,
) -> Result<ExpiryReport> {
    let now_text = format_ts(now);
    // Programmes grouped by their local day: at most a few groups (one per day the zones are
    // in at `now`), each one statement.
    let mut by_day: BTreeMap<Date, Vec<String>> = BTreeMap::new();
    for (id, day) in crate::programs::local_days(tx, now).await? {
        if program_id.is_none_or(|p| p == id) {
            by_day.entry(day).or_default().push(id);
        }
    }
    let mut per_distributor: BTreeMap<(String, String), (i64, Date)> = BTreeMap::new();
    let mut cheques = 0;
    for (day, programs) in &by_day {
        for chunk in programs.chunks(500) {
            // A programme's close expires all it has left, whatever their last day.
            let (past, first) = match program_id {
                Some(_) => ("", 2),
                None => ("AND redeemable_until < $2 ", 3),
            };
            let list = (first..chunk.len() + first)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "UPDATE vouchers SET status = 'expired', status_changed_at = $1 \
                 WHERE status IN ('valid', 'inactive') {past}AND program_id IN ({list}) \
                 RETURNING program_id, distributor_id, value_cents"
            );
            let mut query = sqlx::query(&sql).bind(&now_text);
            if program_id.is_none() {
                query = query.bind(day.to_string());
            }
            for id in chunk {
                query = query.bind(id);
            }
            for row in query.fetch_all(&mut **tx).await? {
                let key = (row.try_get("program_id")?, row.try_get("distributor_id")?);
                per_distributor.entry(key).or_insert((0, *day)).0 +=
                    row.try_get::<i64, _>("value_cents")?;
                cheques += 1;
            }
        }
    }
    let mut report = ExpiryReport {
        cheques,
        cents: Cents::ZERO,
    };
    for ((program, distributor), (cents, day)) in per_distributor {
        ledger::post(
            tx,
            &program,
            Kind::Expiry,
            &format!("expiry:{day}"),
            Transfer {
                from: Account::Outstanding(&distributor),
                to: Account::Available,
                amount_cents: Cents::new(cents),
            },
            &now_text,
        )
        .await?;
        report.cents += Cents::new(cents);
    }
    Ok(report)
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Closure {
    pub program_id: String,
    pub expired_cheques: i64,
    pub expired_cents: Cents,
    pub returned_quota_cents: Cents,
    /// Given back to the funder as a credit note.
    pub credited_cents: Cents,
    /// Still owed to sites for cheques redeemed before the close: they will be paid.
    pub owed_to_sites_cents: Cents,
}

/// Closes a programme: no cheque of it can be issued or redeemed any more; unused cheques
/// expire, unissued quotas come back, and all that is available is credited to the funder.
/// Called by [`crate::programs::schedule_close`] for a close forced at once, and by the daily
/// job the day after a planned last day; `actor` is who asked (none for the job).
pub async fn close_program(
    tx: &mut Tx<'_>,
    actor: Option<&str>,
    program: &Program,
    now: Timestamp,
    today: Date,
) -> Result<Closure> {
    let now_text = format_ts(now);
    // The day it ended stays as planned; a programme closed without a plan ended today.
    let closed = sqlx::query(
        "UPDATE programs SET status = 'closed', closed_at = $1, closes_on = COALESCE(closes_on, $3) \
         WHERE id = $2 AND status = 'open'",
    )
    .bind(&now_text)
    .bind(&program.id)
    .bind(today.to_string())
    .execute(&mut **tx)
    .await?;
    if closed.rows_affected() != 1 {
        return Err(Error::conflict(
            "already_closed",
            "Ce programme est déjà clos.",
        ));
    }
    let expired = expire(tx, now, Some(&program.id)).await?;
    let mut returned_quota = Cents::ZERO;
    for (distributor, balance) in ledger::balances_of(tx, &program.id, "quota").await? {
        if balance.is_positive() {
            ledger::post(
                tx,
                &program.id,
                Kind::Deallocation,
                &program.id,
                Transfer {
                    from: Account::Quota(&distributor),
                    to: Account::Available,
                    amount_cents: balance,
                },
                &now_text,
            )
            .await?;
            returned_quota += balance;
        }
    }
    let available = ledger::balance(tx, &program.id, Account::Available).await?;
    if available.is_positive() {
        ledger::post(
            tx,
            &program.id,
            Kind::CreditNote,
            &program.id,
            Transfer {
                from: Account::Available,
                to: Account::Funder,
                amount_cents: available,
            },
            &now_text,
        )
        .await?;
    }
    let r = ledger::reconciliation(tx, &program.id, program.budget_cents).await?;
    crate::audit::record(
        tx,
        &now_text,
        actor,
        "program.closed",
        Some(&program.id),
        &format!("avoir de {}", available.text()),
    )
    .await?;
    Ok(Closure {
        program_id: program.id.clone(),
        expired_cheques: expired.cheques,
        expired_cents: expired.cents,
        returned_quota_cents: returned_quota,
        credited_cents: available,
        owed_to_sites_cents: r.figures.redeemed_unsettled_cents + r.figures.settled_unpaid_cents,
    })
}

/// How many days before cheques expire their distributor and funder are warned.
pub const WARNING_DAYS: [i64; 2] = [30, 7];

/// Warns distributors and funders by e-mail, 30 and then 7 days before cheques still unused
/// expire: one digest per organisation and run, each warning sent once. Days are counted from
/// today where each programme is (Nouméa's cheques are a day nearer their end in the evening,
/// Paris time). Returns the number of e-mails queued.
pub async fn send_warnings(
    tx: &mut Tx<'_>,
    letterhead: &Letterhead,
    now: Timestamp,
) -> Result<usize> {
    let local_today: BTreeMap<String, Date> = crate::programs::local_days(tx, now)
        .await?
        .into_iter()
        .collect();
    // Bounds around every zone's today; each line is checked against its programme's.
    let today = crate::zones::earliest_today(now);
    let horizon = crate::zones::latest_today(now)
        .checked_add(jiff::Span::new().days(WARNING_DAYS[0]))
        .map_err(|e| Error::Internal(e.into()))?;
    let rows = sqlx::query(
        "SELECT v.program_id, v.distributor_id, p.funder_id, p.name, v.expires_on, \
                COUNT(*) AS cheques \
         FROM vouchers v JOIN programs p ON p.id = v.program_id \
         WHERE v.status IN ('valid', 'inactive') AND v.expires_on > $1 AND v.expires_on <= $2 \
         GROUP BY v.program_id, v.distributor_id, p.funder_id, p.name, v.expires_on \
         ORDER BY v.expires_on",
    )
    .bind(today.to_string())
    .bind(horizon.to_string())
    .fetch_all(&mut **tx)
    .await?;
    let now_text = format_ts(now);
    // Per organisation, the lines of its digest.
    let mut digests: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in &rows {
        let program_id: String = row.try_get("program_id")?;
        let distributor_id: String = row.try_get("distributor_id")?;
        let funder_id: String = row.try_get("funder_id")?;
        let name: String = row.try_get("name")?;
        let expires_on: String = row.try_get("expires_on")?;
        let cheques: i64 = row.try_get("cheques")?;
        let Ok(date) = expires_on.parse::<Date>() else {
            continue;
        };
        let today = local_today.get(&program_id).copied().unwrap_or(today);
        let days_left = (date - today).get_days() as i64;
        if days_left <= 0 {
            continue;
        }
        // The tightest threshold reached: 7 days before also covers a missed 30-day warning.
        let Some(&threshold) = WARNING_DAYS.iter().rev().find(|&&d| days_left <= d) else {
            continue;
        };
        let line = format!(
            "{name} : {cheques} chèque(s) non utilisé(s) expireront le {}.",
            crate::fr::long_date(date)
        );
        for org_id in [&distributor_id, &funder_id] {
            let inserted = sqlx::query(
                "INSERT INTO expiry_warnings (program_id, org_id, expires_on, days_before, sent_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(&program_id)
            .bind(org_id)
            .bind(&expires_on)
            .bind(threshold)
            .bind(&now_text)
            .execute(&mut **tx)
            .await?;
            if inserted.rows_affected() == 1 {
                digests
                    .entry(org_id.clone())
                    .or_default()
                    .push(line.clone());
            }
        }
    }
    let mut queued = 0;
    for (org_id, lines) in digests {
        for person in crate::users::list_for_org(tx, &org_id).await? {
            if person.disabled_at.is_some() {
                continue;
            }
            let body = ExpiryWarningMail {
                l: letterhead,
                lines: &lines,
            };
            let subject = "Des chèques Pass numérique vont bientôt expirer";
            let mail = Outgoing::text(&person.email, subject, &body)?;
            crate::mail::enqueue(tx, &mail, now).await?;
            queued += 1;
        }
    }
    Ok(queued)
}

#[derive(Template)]
#[template(path = "mail/expiry_warning.txt")]
struct ExpiryWarningMail<'a> {
    l: &'a Letterhead,
    lines: &'a [String],
}

/// The end-of-programme statement: what the funder paid in, what went to sites, and the unused
/// value it gets back as a credit note. Only once the programme is closed.
pub async fn credit_note(
    conn: &mut Conn,
    org: &Organization,
    program_id: &str,
) -> Result<crate::report::Report> {
    let program = crate::programs::get_for(conn, org, program_id).await?;
    if program.status != crate::programs::ProgramStatus::Closed {
        return Err(Error::conflict(
            "program_open",
            "L'avoir n'existe qu'une fois le programme clos.",
        ));
    }
    let funder = crate::orgs::find(conn, &program.funder_id)
        .await?
        .map(|f| f.name)
        .unwrap_or_default();
    let r = ledger::reconciliation(conn, &program.id, program.budget_cents).await?;
    let f = &r.figures;
    let euro = |cents: Cents| format!("{} €", crate::fr::euros(cents));
    let rows = vec![
        ("Budget du programme", r.budget_cents),
        ("Versé par le financeur", r.funded_cents),
        ("Chèques émis", f.issued_cents),
        ("Chèques utilisés dans les lieux", f.redeemed_cents),
        ("Chèques annulés (carnets perdus)", f.cancelled_cents),
        ("Chèques expirés", f.expired_cents),
        ("Payé aux lieux", f.paid_cents),
        ("Frais de gestion de l'opérateur", f.fee_cents),
        (
            "Reste dû aux lieux (sera payé)",
            f.redeemed_unsettled_cents + f.settled_unpaid_cents,
        ),
        ("Avoir rendu au financeur", r.credited_cents),
    ];
    Ok(crate::report::Report {
        title: "Avoir de fin de programme".into(),
        facts: vec![
            ("Programme".into(), program.name),
            ("Financeur".into(), funder),
            ("Montant de l'avoir".into(), euro(r.credited_cents)),
        ],
        headers: vec!["Poste", "Montant (€)"],
        widths: vec![0.7, 0.3],
        right: vec![false, true],
        rows: rows
            .into_iter()
            .map(|(label, cents)| vec![label.to_string(), crate::fr::euros(cents)])
            .collect(),
    })
}
