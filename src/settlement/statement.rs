//! Statements of a batch: a site's (every cheque it is paid for, the fee, the total) and a
//! funder's per programme (what each site is paid). CSV for spreadsheets as used in France
//! (`;` between fields, a decimal comma) and PDF.

use super::repo::{self, BatchRow, LineRow, StatementRow};
use crate::db::Conn;
use crate::error::{Error, Result};
use crate::fr::{euros, long_date_text};
use crate::orgs::{OrgKind, Organization};
use crate::report::Report;
use std::collections::BTreeMap;
use std::sync::Arc;

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
    let names = program_names(conn, &lines).await?;
    let rows = repo::statement_rows(conn, batch_id, Some(site_id)).await?;
    Ok(site_report(&batch, site.name, &lines, &rows, &names))
}

/// Every site's statement of a batch, by site id, from one read of the cheques it pays. The
/// operator only.
pub async fn site_statements(
    conn: &mut Conn,
    org: &Organization,
    batch_id: &str,
) -> Result<Vec<(String, Report)>> {
    org.require(OrgKind::Operator)?;
    all_site_statements(conn, batch_id).await
}

async fn all_site_statements(conn: &mut Conn, batch_id: &str) -> Result<Vec<(String, Report)>> {
    let batch = repo::find_batch(conn, batch_id)
        .await?
        .ok_or_else(not_found)?;
    let lines = repo::lines_of(conn, batch_id).await?;
    let names = program_names(conn, &lines).await?;
    let mut by_site: BTreeMap<&str, Vec<LineRow>> = BTreeMap::new();
    for line in &lines {
        by_site
            .entry(line.site_id.as_str())
            .or_default()
            .push(line.clone());
    }
    // Grouped here rather than by the database's order, whose collation may not be Rust's.
    let mut cheques: BTreeMap<String, Vec<StatementRow>> = BTreeMap::new();
    for row in repo::statement_rows(conn, batch_id, None).await? {
        cheques.entry(row.site_id.clone()).or_default().push(row);
    }
    let mut statements = Vec::with_capacity(by_site.len());
    for (site_id, site_lines) in by_site {
        let site = crate::orgs::find(conn, site_id)
            .await?
            .map(|s| s.name)
            .unwrap_or_default();
        let site_rows = cheques.remove(site_id).unwrap_or_default();
        let report = site_report(&batch, site, &site_lines, &site_rows, &names);
        statements.push((site_id.to_string(), report));
    }
    Ok(statements)
}

async fn program_names(conn: &mut Conn, lines: &[LineRow]) -> Result<BTreeMap<String, String>> {
    let mut names = BTreeMap::new();
    for line in lines {
        if !names.contains_key(&line.program_id) {
            let name = crate::programs::find(conn, &line.program_id)
                .await?
                .map(|p| p.name)
                .unwrap_or_default();
            names.insert(line.program_id.clone(), name);
        }
    }
    Ok(names)
}

fn site_report(
    batch: &BatchRow,
    site_name: String,
    lines: &[LineRow],
    cheques: &[StatementRow],
    program_names: &BTreeMap<String, String>,
) -> Report {
    let mut rows = Vec::with_capacity(cheques.len() + 3);
    for c in cheques {
        rows.push(vec![
            crate::vouchers::codes::display_code(&c.code),
            c.redeemed_at.get(..10).unwrap_or_default().to_string(),
            crate::redemption::service_label(c.service.as_deref()).to_string(),
            c.minutes.map(|m| m.to_string()).unwrap_or_default(),
            program_names
                .get(&c.program_id)
                .cloned()
                .unwrap_or_default(),
            euros(c.value_cents),
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
    let mut facts = vec![("Lieu".to_string(), site_name)];
    facts.extend(batch_facts(batch));
    facts.push(("Montant du virement".into(), format!("{} €", euros(total))));
    Report {
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
    }
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
/// Only organisations with someone to write to get theirs rendered, on every CPU.
pub async fn mail_statements(
    conn: &mut Conn,
    batch_id: &str,
    now: jiff::Timestamp,
) -> Result<usize> {
    let mut statements = all_site_statements(conn, batch_id).await?;
    let lines = repo::lines_of(conn, batch_id).await?;
    let mut programs: Vec<&str> = lines.iter().map(|l| l.program_id.as_str()).collect();
    programs.sort_unstable();
    programs.dedup();
    for program_id in programs {
        let statement = build_program_statement(conn, batch_id, program_id).await?;
        if let Some(program) = crate::programs::find(conn, program_id).await? {
            statements.push((program.funder_id, statement));
        }
    }
    let mut recipients = Vec::new();
    let mut reports = Vec::new();
    for (org_id, statement) in statements {
        let people: Vec<String> = crate::users::list_for_org(conn, &org_id)
            .await?
            .into_iter()
            .filter(|p| p.disabled_at.is_none())
            .map(|p| p.email)
            .collect();
        if !people.is_empty() {
            recipients.push(people);
            reports.push(statement);
        }
    }
    let reports: Arc<[Report]> = reports.into();
    let pdfs = crate::report::pdfs(reports.clone()).await?;
    let mut sent = 0;
    for ((people, statement), pdf) in recipients.iter().zip(reports.iter()).zip(pdfs) {
        sent += mail_to(conn, people, statement, pdf, now).await?;
    }
    Ok(sent)
}

/// Sends a statement to each of these addresses.
async fn mail_to(
    conn: &mut Conn,
    people: &[String],
    statement: &Report,
    pdf: Vec<u8>,
    now: jiff::Timestamp,
) -> Result<usize> {
    let csv = statement.csv()?;
    let facts: Vec<String> = statement
        .facts
        .iter()
        .map(|(k, v)| format!("{k} : {v}"))
        .collect();
    for email in people {
        let mail = crate::mail::Outgoing {
            to: email.clone(),
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
    }
    Ok(people.len())
}
