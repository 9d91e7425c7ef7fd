//! Telling people that a programme ends: 30, 15 and 7 days before its last day, an e-mail to
//! the people of each distributor given a quota of it, of each site with a qualified place in
//! its territory, and to each beneficiary whose carnet has an e-mail and cheques still usable.

use super::{issuance_until, repo, Program};
use crate::clock::format_ts;
use crate::db::Tx;
use crate::error::Result;
use crate::fr::long_date;
use crate::mail::{Letterhead, Outgoing};
use askama::Template;
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};

/// How many days before a programme's last day people are told.
pub const NOTICE_MILESTONES: [i64; 3] = [30, 15, 7];

/// What every notice says, in words.
struct Notice {
    programme: String,
    /// The last day, and the day the cheques start being refused.
    end: String,
    day_after: String,
    /// "dans 30 jours", "demain", "aujourd'hui".
    when: String,
    /// Whether carnets may still be issued, and until when.
    issuing: bool,
    last_issue: String,
}

#[derive(Template)]
#[template(path = "mail/close_notice_distributor.txt")]
struct DistributorMail<'a> {
    l: &'a Letterhead,
    n: &'a Notice,
}

#[derive(Template)]
#[template(path = "mail/close_notice_site.txt")]
struct SiteMail<'a> {
    l: &'a Letterhead,
    n: &'a Notice,
}

#[derive(Template)]
#[template(path = "mail/close_notice_beneficiary.txt")]
struct BeneficiaryMail<'a> {
    l: &'a Letterhead,
    n: &'a Notice,
    code: &'a str,
    /// "3 chèques".
    cheques: String,
}

/// Sends the notices due on `today` for every programme whose close is planned: for each, the
/// tightest milestone reached (7 days before also covers a missed 15-day notice; a 30-day one
/// never follows a 15-day one), once per programme, last day and milestone, recorded before it
/// is queued so a rerun sends nothing more. Returns the number of e-mails queued.
pub async fn send_close_notices(
    tx: &mut Tx<'_>,
    letterhead: &Letterhead,
    today: Date,
    now: Timestamp,
) -> Result<usize> {
    let horizon = today.saturating_add(NOTICE_MILESTONES[0].days());
    let now_text = format_ts(now);
    let mut queued = 0;
    let closing = repo::closing_between(tx, &today.to_string(), &horizon.to_string()).await?;
    for program in closing {
        let Some(last_day) = program.planned_close(today) else {
            continue;
        };
        let days_left = (last_day - today).get_days() as i64;
        let Some(&milestone) = NOTICE_MILESTONES.iter().rev().find(|&&d| days_left <= d) else {
            continue;
        };
        let day = last_day.to_string();
        if !repo::record_close_notice(tx, &program.id, &day, milestone, &now_text).await? {
            continue;
        }
        let sent = notify(tx, letterhead, &program, last_day, today, now).await?;
        crate::audit::record(
            tx,
            &now_text,
            None,
            "program.close_notice",
            Some(&program.id),
            &format!("{milestone} jours avant le {day} : {sent} e-mail(s)"),
        )
        .await?;
        queued += sent;
    }
    Ok(queued)
}

/// Queues one programme's notice to everyone concerned; returns how many e-mails.
async fn notify(
    tx: &mut Tx<'_>,
    letterhead: &Letterhead,
    program: &Program,
    last_day: Date,
    today: Date,
    now: Timestamp,
) -> Result<usize> {
    let days_left = (last_day - today).get_days();
    let notice = Notice {
        programme: program.name.clone(),
        end: long_date(last_day),
        day_after: long_date(last_day.saturating_add(1.day())),
        when: match days_left {
            0 => "aujourd'hui".to_string(),
            1 => "demain".to_string(),
            n => format!("dans {n} jours"),
        },
        issuing: today <= issuance_until(last_day),
        last_issue: long_date(issuance_until(last_day)),
    };
    let subject = format!(
        "Pass numérique : le programme « {} » prend fin le {}",
        notice.programme, notice.end
    );
    let mut queued = 0;
    let to_distributors = DistributorMail {
        l: letterhead,
        n: &notice,
    };
    for distributor in repo::distributors_of(tx, &program.id).await? {
        queued +=
            crate::users::mail_people(tx, &distributor, false, &subject, &to_distributors, now)
                .await?;
    }
    let to_sites = SiteMail {
        l: letterhead,
        n: &notice,
    };
    for site in crate::sites::places::sites_within(tx, &program.territory, today).await? {
        queued += crate::users::mail_people(tx, &site, false, &subject, &to_sites, now).await?;
    }
    let subject = format!(
        "Vos chèques Pass numérique sont à utiliser au plus tard le {}",
        notice.end
    );
    for (email, code, cheques) in crate::vouchers::carnets_to_tell(tx, &program.id, today).await? {
        let body = BeneficiaryMail {
            l: letterhead,
            n: &notice,
            code: &code,
            cheques: if cheques > 1 {
                format!("{cheques} chèques")
            } else {
                format!("{cheques} chèque")
            },
        };
        let mail = Outgoing::text(&email, &subject, &body)?;
        // An address kept with a carnet that the mailer cannot use must not stop the others.
        match crate::mail::enqueue(tx, &mail, now).await {
            Ok(_) => queued += 1,
            Err(e @ crate::error::Error::Unprocessable { .. }) => {
                tracing::warn!(program = %program.id, error = %e, "close notice not queued")
            }
            Err(e) => return Err(e),
        }
    }
    Ok(queued)
}
