//! Statements of a batch: a site's (every cheque it is paid for, the fee, the total) and a
//! funder's per programme (what each site is paid). CSV for spreadsheets as used in France
//! (`;` between fields, a decimal comma) and PDF.

use super::repo::{self, BatchRow, LineRow};
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::fr::{euros, long_date_text};
use crate::money::Cents;
use crate::orgs::{OrgKind, Organization};
use crate::report::{Rendered, Renderer, Report};
use futures_util::TryStreamExt;
use std::collections::{BTreeMap, HashMap};
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
        ("État".into(), batch.status.label().into()),
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
    let cheques = repo::cheques_by_line(conn, batch_id, Some(site_id))
        .map_ok(|(_, line_id, packed)| (line_id, packed))
        .try_collect()
        .await?;
    let zone = site.zone();
    Ok(SiteStatement {
        batch,
        site_name: site.name,
        zone,
        lines,
        cheques,
        program_names: Arc::new(names),
    }
    .report())
}

/// Every site's statement of a batch, as PDF, by site id. The operator only.
pub async fn site_statement_pdfs(
    conn: &mut Conn,
    org: &Organization,
    batch_id: &str,
) -> Result<Vec<(String, Rendered)>> {
    org.require(OrgKind::Operator)?;
    let mut renderer = Renderer::new(false);
    render_site_statements(conn, batch_id, &mut renderer, |_| true).await?;
    renderer.finish().await
}

/// Reads the statements of a batch's sites (those `wanted`) as the database produces them,
/// while `renderer` builds and renders those already read.
async fn render_site_statements(
    conn: &mut Conn,
    batch_id: &str,
    renderer: &mut Renderer<String>,
    wanted: impl Fn(&str) -> bool,
) -> Result<()> {
    let batch = repo::find_batch(conn, batch_id)
        .await?
        .ok_or_else(not_found)?;
    let lines = repo::lines_of(conn, batch_id).await?;
    let names = Arc::new(program_names(conn, &lines).await?);
    let mut site_names = repo::site_names(conn, batch_id).await?;
    // Per site: its lines, and how many of them pay cheques (each comes as one row).
    let mut sites: HashMap<String, (Vec<LineRow>, usize)> = HashMap::new();
    let mut order = Vec::new();
    for line in lines {
        let site = sites.entry(line.site_id.clone()).or_insert_with(|| {
            order.push(line.site_id.clone());
            (Vec::new(), 0)
        });
        site.1 += usize::from(line.redemptions > 0);
        site.0.push(line);
    }
    let statement = |(lines, _): (Vec<LineRow>, usize), (site_name, zone), cheques| SiteStatement {
        batch: batch.clone(),
        site_name,
        zone,
        lines,
        cheques,
        program_names: names.clone(),
    };
    let mut received: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let mut rows = repo::cheques_by_line(conn, batch_id, None);
    while let Some((site_id, line_id, packed)) = rows.try_next().await? {
        let expected = sites.get(&site_id).map(|(_, n)| *n).ok_or_else(|| {
            anyhow::anyhow!("cheques of site {site_id} after its statement was made")
        })?;
        let got = received.entry(site_id.clone()).or_default();
        got.push((line_id, packed));
        if got.len() < expected {
            continue;
        }
        let cheques = received.remove(&site_id).unwrap_or_default();
        let site = sites.remove(&site_id).unwrap_or_default();
        if wanted(&site_id) {
            let name = site_names
                .remove(&site_id)
                .unwrap_or_else(|| (String::new(), crate::clock::paris()));
            let s = statement(site, name, cheques);
            renderer.push(site_id, move || s.report()).await?;
        }
    }
    drop(rows);
    // Sites whose lines pay no cheque (only a rejected transfer carried over).
    for site_id in order {
        let Some(site) = sites.remove(&site_id) else {
            continue;
        };
        if wanted(&site_id) {
            let cheques = received.remove(&site_id).unwrap_or_default();
            let name = site_names
                .remove(&site_id)
                .unwrap_or_else(|| (String::new(), crate::clock::paris()));
            let s = statement(site, name, cheques);
            renderer.push(site_id, move || s.report()).await?;
        }
    }
    Ok(())
}

async fn program_names(conn: &mut Conn, lines: &[LineRow]) -> Result<ProgramNames> {
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

type ProgramNames = BTreeMap<String, String>;

/// What a site's statement is made of, as read from the database.
struct SiteStatement {
    batch: BatchRow,
    site_name: String,
    /// The site's, where its sessions' days are read.
    zone: jiff::tz::TimeZone,
    /// The site's lines in the batch.
    lines: Vec<LineRow>,
    /// `(line id, packed cheques)`, see `repo::cheques_by_line`.
    cheques: Vec<(String, String)>,
    program_names: Arc<ProgramNames>,
}

impl SiteStatement {
    fn report(self) -> Report {
        let program_of = |line_id: &str| {
            self.lines
                .iter()
                .find(|l| l.id == line_id)
                .and_then(|l| self.program_names.get(&l.program_id))
                .map_or("", String::as_str)
        };
        // (redeemed_at, code, minutes, cents, service, programme)
        let mut cheques: Vec<[&str; 6]> = Vec::new();
        for (line_id, packed) in &self.cheques {
            let program = program_of(line_id);
            for cheque in packed.split('\n').filter(|c| !c.is_empty()) {
                let mut fields = cheque.splitn(5, '\t');
                let mut next = || fields.next().unwrap_or_default();
                let (code, at, minutes, cents, service) = (next(), next(), next(), next(), next());
                cheques.push([at, code, minutes, cents, service, program]);
            }
        }
        cheques.sort_unstable_by(|a, b| (a[0], a[1]).cmp(&(b[0], b[1])));
        let mut rows = Vec::with_capacity(cheques.len() + 3);
        for [at, code, minutes, cents, service, program] in cheques {
            let service = (!service.is_empty()).then_some(service);
            rows.push(vec![
                crate::vouchers::codes::display_code(code),
                session_date(at, &self.zone),
                crate::catalogue::typology::service_label(service).to_string(),
                minutes
                    .parse()
                    .map(crate::catalogue::typology::duration_text)
                    .unwrap_or_default(),
                program.to_string(),
                euros(cents.parse::<i64>().unwrap_or_default()),
            ]);
        }
        let lines = &self.lines;
        let fee: Cents = lines.iter().map(|l| l.fee_cents).sum();
        if fee.is_positive() {
            rows.push(blank_row("Frais de gestion de l'opérateur", -fee));
        }
        let carried: Cents = lines.iter().map(|l| l.carried_cents).sum();
        if carried.is_positive() {
            rows.push(blank_row(
                "Report d'un virement rejeté par la banque",
                carried,
            ));
        }
        let total: Cents = lines.iter().map(|l| l.amount_cents).sum();
        rows.push(vec![
            "Total".into(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            euros(total),
        ]);
        let mut facts = vec![("Lieu".to_string(), self.site_name)];
        facts.extend(batch_facts(&self.batch));
        facts.push(("Montant du virement".into(), format!("{} €", euros(total))));
        // What the site reads on its bank statement: one transfer per programme.
        let references: Vec<&str> = lines.iter().map(|l| l.end_to_end_id.as_str()).collect();
        let label = match references.len() {
            1 => "Référence du virement",
            _ => "Références des virements",
        };
        facts.push((label.into(), references.join(", ")));
        if let Some(paid) = &self.batch.paid_at {
            facts.push(("Payé le".into(), crate::fr::long_date_in(paid, &self.zone)));
        }
        Report {
            title: "Relevé de règlement".into(),
            facts,
            headers: vec![
                "Code du chèque",
                "Date",
                "Service",
                "Durée",
                "Programme",
                "Montant (€)",
            ],
            widths: vec![0.19, 0.17, 0.21, 0.09, 0.2, 0.14],
            right: vec![false, false, false, true, false, true],
            rows,
        }
    }
}

/// The day of a session where the site is, as people write it: "6 décembre 2026".
fn session_date(at: &str, zone: &jiff::tz::TimeZone) -> String {
    crate::fr::long_date_in(at, zone)
}

fn blank_row(label: &str, cents: Cents) -> Vec<String> {
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
            line.status.label().into(),
        ]);
    }
    let sum = |f: fn(&LineRow) -> Cents| euros(lines.iter().map(f).sum::<Cents>());
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
/// Only organisations with someone to write to get theirs rendered, on every CPU while the
/// next ones are read.
pub async fn mail_statements(
    tx: &mut Tx<'_>,
    batch_id: &str,
    now: jiff::Timestamp,
) -> Result<usize> {
    let lines = repo::lines_of(tx, batch_id).await?;
    let mut orgs: Vec<String> = lines.iter().map(|l| l.site_id.clone()).collect();
    let mut programs: Vec<&str> = lines.iter().map(|l| l.program_id.as_str()).collect();
    programs.sort_unstable();
    programs.dedup();
    let mut funders = Vec::new();
    for program_id in programs {
        if let Some(program) = crate::programs::find(tx, program_id).await? {
            funders.push((program_id.to_string(), program.funder_id));
        }
    }
    orgs.extend(funders.iter().map(|(_, funder)| funder.clone()));
    let mut people: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for org_id in orgs {
        if people.contains_key(&org_id) {
            continue;
        }
        let emails: Vec<String> = crate::users::list_for_org(tx, &org_id)
            .await?
            .into_iter()
            .filter(|p| p.disabled_at.is_none())
            .map(|p| p.email)
            .collect();
        people.insert(org_id, emails);
    }
    let has_people = |org_id: &str| people.get(org_id).is_some_and(|p| !p.is_empty());
    let mut renderer = Renderer::new(true);
    render_site_statements(tx, batch_id, &mut renderer, has_people).await?;
    for (program_id, funder_id) in funders {
        if has_people(&funder_id) {
            let statement = build_program_statement(tx, batch_id, &program_id).await?;
            renderer.push(funder_id, move || statement).await?;
        }
    }
    let mut sent = 0;
    for (org_id, statement) in renderer.finish().await? {
        let to = people.get(&org_id).map_or(&[][..], Vec::as_slice);
        sent += mail_to(tx, to, &statement, now).await?;
    }
    Ok(sent)
}

#[derive(askama::Template)]
#[template(path = "mail/statement.txt")]
struct StatementMail<'a> {
    facts: &'a [(String, String)],
}

/// Sends a statement to each of these addresses.
async fn mail_to(
    tx: &mut Tx<'_>,
    people: &[String],
    statement: &Rendered,
    now: jiff::Timestamp,
) -> Result<usize> {
    let csv = statement.csv.clone().unwrap_or_default();
    let body = StatementMail {
        facts: &statement.facts,
    };
    let subject = format!("{} — Pass numérique", statement.title);
    for email in people {
        let mut mail = crate::mail::Outgoing::text(email, &subject, &body)?;
        mail.attachments = vec![
            crate::mail::Attachment {
                filename: "releve.pdf".into(),
                content_type: "application/pdf".into(),
                bytes: statement.pdf.clone(),
            },
            crate::mail::Attachment {
                filename: "releve.csv".into(),
                content_type: "text/csv".into(),
                bytes: csv.clone().into_bytes(),
            },
        ];
        crate::mail::enqueue(tx, &mail, now).await?;
    }
    Ok(people.len())
}
