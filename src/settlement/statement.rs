//! Statements of a batch: a site's (every cheque it is paid for, the fee, the total) and a
//! funder's per programme (what each site is paid). CSV for spreadsheets as used in France
//! (`;` between fields, a decimal comma) and PDF.

use super::repo::{self, BatchRow, LineRow};
use crate::db::Conn;
use crate::error::{Error, Result};
use crate::fr::{euros, long_date_text};
use crate::orgs::{OrgKind, Organization};
use crate::report::Report;

fn not_found() -> Error {
    Error::not_found("Ce relevé n'existe pas.")
}

fn batch_facts(batch: &BatchRow) -> Vec<(String, String)> {
    vec![
        (
            "Encaissements jusqu'au".into(),
            long_date_text(&batch.until_date),
        ),
        ("Lot".into(), batch.id.clone()),
        (
            "État".into(),
            match batch.status.as_str() {
                "draft" => "en préparation",
                "approved" => "approuvé",
                "exported" => "envoyé à la banque",
                _ => "payé",
            }
            .into(),
        ),
    ]
}

/// What a site is paid by a batch, cheque by cheque. The site itself or the operator.
pub async fn site_statement(
    conn: &mut Conn,
    org: &Organization,
    batch_id: &str,
    site_id: &str,
) -> Result<Report> {
    if org.kind != OrgKind::Operator && org.id != site_id {
        return Err(not_found());
    }
    build_site_statement(conn, batch_id, site_id).await
}

async fn build_site_statement(conn: &mut Conn, batch_id: &str, site_id: &str) -> Result<Report> {
    let batch = repo::find_batch(conn, batch_id)
        .await?
        .ok_or_else(not_found)?;
    let lines: Vec<LineRow> = repo::lines_of(conn, batch_id)
        .await?
        .into_iter()
        .filter(|l| l.site_id == site_id)
        .collect();
    if lines.is_empty() {
        return Err(not_found());
    }
    let site = crate::orgs::find(conn, site_id)
        .await?
        .ok_or_else(not_found)?;
    let mut rows = Vec::new();
    for (code, redeemed_at, service, minutes, program, value) in
        repo::statement_rows(conn, batch_id, site_id).await?
    {
        rows.push(vec![
            crate::vouchers::codes::display_code(&code),
            redeemed_at.get(..10).unwrap_or_default().to_string(),
            crate::redemption::service_label(service.as_deref()).to_string(),
            minutes.map(|m| m.to_string()).unwrap_or_default(),
            program,
            euros(value),
        ]);
    }
    let fee: i64 = lines.iter().map(|l| l.fee_cents).sum();
    if fee > 0 {
        rows.push(blank_row("Frais de gestion de l'opérateur", -fee));
    }
    let carried: i64 = lines.iter().map(|l| l.carried_cents).sum();
    if carried > 0 {
        rows.push(blank_row(
            "Report d'un virement rejeté par la banque",
            carried,
        ));
    }
    let total: i64 = lines.iter().map(|l| l.amount_cents).sum();
    rows.push(vec![
        "Total".into(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        euros(total),
    ]);
    let mut facts = vec![("Lieu".to_string(), site.name)];
    facts.extend(batch_facts(&batch));
    facts.push(("Montant du virement".into(), format!("{} €", euros(total))));
    Ok(Report {
        title: "Relevé de règlement".into(),
        facts,
        headers: vec![
            "Code du chèque",
            "Date",
            "Service",
            "Durée (minutes)",
            "Programme",
            "Montant (€)",
        ],
        widths: vec![0.2, 0.13, 0.22, 0.1, 0.22, 0.13],
        right: vec![false, false, false, true, false, true],
        rows,
    })
}

fn blank_row(label: &str, cents: i64) -> Vec<String> {
    vec![
        String::new(),
        String::new(),
        label.to_string(),
        String::new(),
        String::new(),
        euros(cents),
    ]
}

/// What a batch pays each site in one programme. Its funder or the operator.
pub async fn program_statement(
    conn: &mut Conn,
    org: &Organization,
    batch_id: &str,
    program_id: &str,
) -> Result<Report> {
    crate::programs::find(conn, program_id)
        .await?
        .filter(|p| org.kind == OrgKind::Operator || p.funder_id == org.id)
        .ok_or_else(not_found)?;
    build_program_statement(conn, batch_id, program_id).await
}

async fn build_program_statement(
    conn: &mut Conn,
    batch_id: &str,
    program_id: &str,
) -> Result<Report> {
    let program = crate::programs::find(conn, program_id)
        .await?
        .ok_or_else(not_found)?;
    let batch = repo::find_batch(conn, batch_id)
        .await?
        .ok_or_else(not_found)?;
    let lines: Vec<LineRow> = repo::lines_of(conn, batch_id)
        .await?
        .into_iter()
        .filter(|l| l.program_id == program.id)
        .collect();
    if lines.is_empty() {
        return Err(not_found());
    }
    let mut rows = Vec::new();
    for line in &lines {
        let site = crate::orgs::find(conn, &line.site_id).await?;
        rows.push(vec![
            site.map(|s| s.name).unwrap_or_default(),
            line.redemptions.to_string(),
            euros(line.settled_cents),
            euros(line.fee_cents),
            euros(line.carried_cents),
            euros(line.amount_cents),
            match line.status.as_str() {
                "paid" => "payé",
                "rejected" => "rejeté par la banque",
                _ => "à payer",
            }
            .into(),
        ]);
    }
    let sum = |f: fn(&LineRow) -> i64| euros(lines.iter().map(f).sum());
    rows.push(vec![
        "Total".into(),
        lines.iter().map(|l| l.redemptions).sum::<i64>().to_string(),
        sum(|l| l.settled_cents),
        sum(|l| l.fee_cents),
        sum(|l| l.carried_cents),
        sum(|l| l.amount_cents),
        String::new(),
    ]);
    let mut facts = vec![("Programme".to_string(), program.name)];
    facts.extend(batch_facts(&batch));
    Ok(Report {
        title: "Relevé de règlement du programme".into(),
        facts,
        headers: vec![
            "Lieu",
            "Chèques",
            "Réglé (€)",
            "Frais (€)",
            "Report (€)",
            "Virement (€)",
            "État",
        ],
        widths: vec![0.28, 0.09, 0.12, 0.11, 0.11, 0.13, 0.16],
        right: vec![false, true, true, true, true, true, false],
        rows,
    })
}

/// The e-mails a paid batch sends: each site its statement, each funder its programmes'.
pub async fn mail_statements(
    conn: &mut Conn,
    batch_id: &str,
    now: jiff::Timestamp,
) -> Result<usize> {
    let lines = repo::lines_of(conn, batch_id).await?;
    let mut sent = 0;
    let mut sites: Vec<&str> = lines.iter().map(|l| l.site_id.as_str()).collect();
    sites.sort_unstable();
    sites.dedup();
    for site_id in sites {
        let statement = build_site_statement(conn, batch_id, site_id).await?;
        sent += mail_to_org(conn, site_id, &statement, now).await?;
    }
    let mut programs: Vec<&str> = lines.iter().map(|l| l.program_id.as_str()).collect();
    programs.sort_unstable();
    programs.dedup();
    for program_id in programs {
        let statement = build_program_statement(conn, batch_id, program_id).await?;
        if let Some(program) = crate::programs::find(conn, program_id).await? {
            sent += mail_to_org(conn, &program.funder_id, &statement, now).await?;
        }
    }
    Ok(sent)
}

/// Sends a statement to every person of an organisation (none: nothing is sent).
async fn mail_to_org(
    conn: &mut Conn,
    org_id: &str,
    statement: &Report,
    now: jiff::Timestamp,
) -> Result<usize> {
    let people = crate::users::list_for_org(conn, org_id).await?;
    let csv = statement.csv()?;
    let pdf = statement.pdf();
    let mut sent = 0;
    for person in people.iter().filter(|p| p.disabled_at.is_none()) {
        let facts: Vec<String> = statement
            .facts
            .iter()
            .map(|(k, v)| format!("{k} : {v}"))
            .collect();
        let mail = crate::mail::Outgoing {
            to: person.email.clone(),
            subject: format!("{} — Pass numérique", statement.title),
            text_body: format!(
                "Bonjour,\n\nLe virement du Pass numérique a été effectué.\n\n{}\n\n\
                 Le détail est joint (PDF et tableur CSV).\n",
                facts.join("\n")
            ),
            html_body: None,
            attachments: vec![
                crate::mail::Attachment {
                    filename: "releve.pdf".into(),
                    content_type: "application/pdf".into(),
                    bytes: pdf.clone(),
                },
                crate::mail::Attachment {
                    filename: "releve.csv".into(),
                    content_type: "text/csv".into(),
                    bytes: csv.clone().into_bytes(),
                },
            ],
        };
        crate::mail::enqueue(conn, &mail, now).await?;
        sent += 1;
    }
    Ok(sent)
}
