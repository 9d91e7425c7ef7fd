//! The funder: create a programme, record the money received, give distributors quotas,
//! follow how the cheques are used (figures, breakdowns, a monthly chart, every table as CSV),
//! close the programme and download its credit note.

use super::session::{Form, SignedIn};
use super::{page, see_other, Layout, Visitor, WebError, WebResult};
use crate::app::AppState;
use crate::error::Error;
use crate::fr::euros_text;
use crate::ledger::{Figures, Reconciliation};
use crate::orgs::{OrgKind, Organization};
use crate::programs::{self, NewAllocation, NewFunding, NewProgram, Program};
use crate::report::Report;
use crate::stats::{self, Month};
use crate::users::Signed;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/financeur", get(home))
        .route("/financeur/programmes", post(create))
        .route("/financeur/programmes/{id}", get(dashboard))
        .route("/financeur/programmes/{id}/versements", post(fund))
        .route("/financeur/programmes/{id}/quotas", post(allocate))
        .route("/financeur/programmes/{id}/cloture", post(close))
        .route("/financeur/programmes/{id}/export/{file}", get(export))
        .route("/financeur/programmes/{id}/avoir.csv", get(credit_note_csv))
        .route("/financeur/programmes/{id}/avoir.pdf", get(credit_note_pdf))
}

// ---------------------------------------------------------------------------------------------
// Reading what people type.

/// An amount typed the French way, in euros ("50 000", "50000,50", "1.500", "12 €"), in
/// cents. Never rounds: a third decimal is refused rather than guessed.
fn parse_euros(text: &str) -> Result<i64, String> {
    const HELP: &str = "indiquez un montant en euros, par exemple 50 000 ou 1 250,50.";
    // Spaces of every kind (including non-breaking ones) group thousands.
    let cleaned: String = text
        .trim()
        .trim_matches('€')
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let (whole, cents) = match cleaned.split_once(',') {
        Some((w, c)) => (w, c),
        // Without a comma, a dot followed by one or two digits is a decimal point ("12.5");
        // followed by three it groups thousands ("1.500"), as French writing does.
        None => match cleaned.rsplit_once('.') {
            Some((w, c)) if c.len() <= 2 && !w.contains('.') => (w, c),
            _ => (cleaned.as_str(), ""),
        },
    };
    if cents.len() > 2 {
        return Err(
            "un montant a au plus deux chiffres après la virgule (les centimes).".to_string(),
        );
    }
    let mut groups = whole.split('.');
    let first = groups.next().unwrap_or_default();
    let rest: Vec<&str> = groups.collect();
    let grouped = rest.is_empty() || (first.len() <= 3 && rest.iter().all(|g| g.len() == 3));
    let digits: String = std::iter::once(first).chain(rest).collect();
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !grouped
        || !all_digits(&digits)
        || !all_digits(cents)
        || (digits.is_empty() && cents.is_empty())
        || digits.len() > 12
    {
        return Err(HELP.to_string());
    }
    let whole: i64 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| HELP.to_string())?
    };
    let cents: i64 = format!("{cents:0<2}")
        .parse()
        .map_err(|_| HELP.to_string())?;
    let total = whole * 100 + cents;
    if total == 0 {
        return Err("le montant doit être supérieur à zéro.".to_string());
    }
    Ok(total)
}

/// A whole number typed by a person ("1 000", " 365 ").
fn parse_count(text: &str) -> Option<i64> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A refusal shown next to the form, with the field to mark invalid.
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// Refusals the person can act on are shown on the page; anything else is an error page.
fn shown_on_page(e: &Error) -> bool {
    e.status().is_client_error()
}

// ---------------------------------------------------------------------------------------------
// Numbers as the pages and the CSV files show them.

/// `part / whole` in percent with one decimal ("26,7"), rounded half up; empty when there is
/// nothing to divide by.
fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 || part < 0 {
        return String::new();
    }
    let tenths = (part as i128 * 2000 + whole as i128) / (whole as i128 * 2);
    format!("{},{}", tenths / 10, tenths % 10)
}

fn percent_text(part: i64, whole: i64) -> String {
    match percent(part, whole) {
        p if p.is_empty() => "—".to_string(),
        p => format!("{p}\u{a0}%"),
    }
}

fn plural(n: i64, word: &str) -> String {
    if n > 1 {
        format!("{n} {word}s")
    } else {
        format!("{n} {word}")
    }
}

/// "1 chèque utilisé", "4 chèques utilisés", "15 chèques émis".
fn cheque_count(n: i64, participle: &str) -> String {
    match (n > 1, participle.ends_with('s')) {
        (true, false) => format!("{n} chèques {participle}s"),
        (true, true) => format!("{n} chèques {participle}"),
        (false, _) => format!("{n} chèque {participle}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The funder's home: its programmes and the form to create one.

pub struct ProgramLine {
    pub id: String,
    pub name: String,
    pub closed: bool,
    pub budget: String,
    pub funded: String,
    pub available: String,
    pub issued: i64,
    pub redeemed: i64,
    pub rate: String,
}

#[derive(Deserialize)]
#[serde(default)]
pub struct ProgramForm {
    pub name: String,
    pub budget: String,
    pub cheque_value: String,
    pub validity_days: String,
    pub grace_days: String,
    pub department: String,
}

impl Default for ProgramForm {
    fn default() -> Self {
        ProgramForm {
            name: String::new(),
            budget: String::new(),
            cheque_value: "10".into(),
            validity_days: programs::DEFAULT_VALIDITY_DAYS.to_string(),
            grace_days: "0".into(),
            department: String::new(),
        }
    }
}

impl ProgramForm {
    fn to_new(&self) -> Result<NewProgram, FieldError> {
        let budget_cents = parse_euros(&self.budget).map_err(|m| FieldError {
            field: "budget",
            message: format!("Budget : {m}"),
        })?;
        let cheque_value_cents = match self.cheque_value.trim() {
            "" => None,
            v => Some(parse_euros(v).map_err(|m| FieldError {
                field: "cheque_value",
                message: format!("Valeur d'un chèque : {m}"),
            })?),
        };
        let days = |text: &str, field: &'static str, what: &str| match text.trim() {
            "" => Ok(None),
            t => parse_count(t).map(Some).ok_or_else(|| FieldError {
                field,
                message: format!("{what} : indiquez un nombre de jours, par exemple 365."),
            }),
        };
        Ok(NewProgram {
            name: self.name.clone(),
            budget_cents,
            cheque_value_cents,
            validity_days: days(&self.validity_days, "validity_days", "Durée de validité")?,
            grace_days: days(&self.grace_days, "grace_days", "Délai de grâce")?,
            fee_rate_bp: None,
            fee_per_cheque_cents: None,
            department: Some(self.department.clone()),
        })
    }
}

/// The form field a programme refusal is about.
fn program_field(code: &str) -> &'static str {
    match code {
        "invalid_name" => "name",
        "invalid_budget" => "budget",
        "invalid_cheque_value" => "cheque_value",
        "invalid_validity" => "validity_days",
        "invalid_grace" => "grace_days",
        "invalid_department" => "department",
        _ => "",
    }
}

#[derive(Template)]
#[template(path = "funder/home.html")]
struct Home {
    l: Layout,
    programs: Vec<ProgramLine>,
    form: ProgramForm,
    error: Option<FieldError>,
}

impl Home {
    fn invalid(&self, field: &str) -> bool {
        self.error.as_ref().is_some_and(|e| e.field == field)
    }
}

async fn home(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Funder)?;
    render_home(&state, &visitor, &signed.org, ProgramForm::default(), None).await
}

async fn render_home(
    state: &AppState,
    visitor: &Visitor,
    funder: &Organization,
    form: ProgramForm,
    error: Option<FieldError>,
) -> WebResult {
    let mut conn = state.db.read().await?;
    let mut lines = Vec::new();
    for program in programs::list_for_funder(&mut conn, funder).await? {
        let r = crate::ledger::reconciliation(&mut conn, &program.id, program.budget_cents).await?;
        let value = program.cheque_value_cents.max(1);
        lines.push(ProgramLine {
            budget: euros_text(program.budget_cents),
            funded: euros_text(r.funded_cents),
            available: euros_text(r.available_cents),
            issued: r.figures.issued_cents / value,
            redeemed: r.figures.redeemed_cents / value,
            rate: percent_text(r.figures.redeemed_cents, r.figures.issued_cents),
            closed: program.status == "closed",
            id: program.id,
            name: program.name,
        });
    }
    page(Home {
        l: Layout::new(state, visitor, "Mes programmes"),
        programs: lines,
        form,
        error,
    })
}

async fn create(State(state): State<AppState>, form: Form<ProgramForm>) -> WebResult {
    let signed = SignedIn::require(&form.visitor, OrgKind::Funder)?;
    let key = form.key(&signed.org.id);
    let Form { visitor, data, .. } = form;
    let new = match data.to_new() {
        Ok(new) => new,
        Err(e) => return render_home(&state, &visitor, &signed.org, data, Some(e)).await,
    };
    let (org, now) = (signed.org.clone(), state.clock.now());
    let created = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move { programs::create(tx, &org, new, now).await })
        })
        .await;
    match created {
        Ok(program) => see_other(&format!(
            "/financeur/programmes/{}?fait=cree#contenu",
            program.id
        )),
        Err(e) if shown_on_page(&e) => {
            let error = FieldError {
                field: program_field(e.code()),
                message: e.public_message(),
            };
            render_home(&state, &visitor, &signed.org, data, Some(error)).await
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// A programme's figures, as tables that are both shown and exported.

/// Everything the dashboard and the exports show of one programme.
struct Tables {
    program: Program,
    r: Reconciliation,
    months: Vec<Month>,
    figures: Report,
    monthly: Report,
    distributors: Report,
    sites: Report,
    departments: Report,
    /// Distributors that may receive a quota: `(id, name)`, by name.
    distributor_choices: Vec<(String, String)>,
}

impl Tables {
    fn by_slug(self, slug: &str) -> Option<Report> {
        Some(match slug {
            "chiffres" => self.figures,
            "mois" => self.monthly,
            "distributeurs" => self.distributors,
            "lieux" => self.sites,
            "departements" => self.departments,
            _ => return None,
        })
    }
}

fn report(
    title: String,
    facts: &[(String, String)],
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
) -> Report {
    let n = headers.len().max(1);
    let first = 0.34_f32;
    let other = (1.0 - first) / (n.saturating_sub(1).max(1)) as f32;
    Report {
        title,
        facts: facts.to_vec(),
        widths: (0..n).map(|i| if i == 0 { first } else { other }).collect(),
        right: (0..n).map(|i| i > 0).collect(),
        headers,
        rows,
    }
}

/// Breakdown rows with their organisation's name, in alphabetical order.
fn by_name<'a>(
    rows: &'a [crate::ledger::BreakdownRow],
    name_of: &dyn Fn(&str) -> String,
) -> Vec<(String, &'a Figures)> {
    let mut named: Vec<(String, &Figures)> = rows
        .iter()
        .map(|row| (name_of(&row.key), &row.figures))
        .collect();
    named.sort_by_key(|(name, _)| name.to_lowercase());
    named
}

/// `(label, amount, counted in cheques)`: the programme's figures in reading order.
fn headline(r: &Reconciliation) -> Vec<(&'static str, i64, bool)> {
    let f = &r.figures;
    vec![
        ("Budget du programme", r.budget_cents, false),
        ("Versé par le financeur", r.funded_cents, false),
        ("Reste à verser", r.unfunded_cents, false),
        ("Disponible, à attribuer", r.available_cents, true),
        ("Attribué aux distributeurs", f.allocated_cents, true),
        ("Quotas pas encore émis", f.unissued_quota_cents, true),
        ("Chèques émis", f.issued_cents, true),
        ("Chèques utilisés (budget consommé)", f.redeemed_cents, true),
        (
            "Chèques en circulation, pas encore utilisés",
            f.outstanding_cents,
            true,
        ),
        ("Chèques expirés", f.expired_cents, true),
        ("Chèques annulés (carnets perdus)", f.cancelled_cents, true),
        ("Réglé aux lieux, frais compris", f.settled_cents, false),
        ("Payé aux lieux", f.paid_cents, false),
        ("Frais de gestion de l'opérateur", f.fee_cents, false),
        ("Rendu au financeur (avoir)", r.credited_cents, false),
    ]
}

async fn tables(state: &AppState, funder: &Organization, id: &str) -> Result<Tables, WebError> {
    let mut conn = state.db.read().await?;
    let program = programs::get_for(&mut conn, funder, id).await?;
    let r = crate::ledger::reconciliation(&mut conn, &program.id, program.budget_cents).await?;
    let departments = crate::orgs::departments(&mut conn).await?;
    let breakdown = crate::ledger::breakdown(&mut conn, &program.id, &departments).await?;
    let months = stats::monthly(&mut conn, &program.id).await?;
    let orgs = crate::orgs::list(&mut conn).await?;
    let names: BTreeMap<&str, &str> = orgs
        .iter()
        .map(|o| (o.id.as_str(), o.name.as_str()))
        .collect();
    let name_of = |id: &str| names.get(id).copied().unwrap_or(id).to_string();
    let value = program.cheque_value_cents.max(1);
    let cheques = |cents: i64| (cents / value).to_string();
    let facts = [
        ("Programme".to_string(), program.name.clone()),
        ("Financeur".to_string(), funder.name.clone()),
        (
            "Arrêté au".to_string(),
            crate::fr::long_date(state.clock.today()),
        ),
    ];
    let title = |what: &str| format!("{} — {what}", program.name);

    let figures = report(
        title("chiffres clés"),
        &facts,
        vec!["Poste", "Montant (€)", "Chèques", "Part du budget (%)"],
        headline(&r)
            .into_iter()
            .map(|(label, cents, counted)| {
                vec![
                    label.to_string(),
                    crate::fr::euros(cents),
                    if counted {
                        cheques(cents)
                    } else {
                        String::new()
                    },
                    percent(cents, r.budget_cents),
                ]
            })
            .collect(),
    );

    let monthly = report(
        title("chèques par mois"),
        &facts,
        vec![
            "Mois",
            "Chèques émis",
            "Montant émis (€)",
            "Chèques utilisés",
            "Montant utilisé (€)",
        ],
        months
            .iter()
            .map(|m| {
                vec![
                    stats::month_label(&m.month),
                    m.issued_cheques.to_string(),
                    crate::fr::euros(m.issued_cents),
                    m.redeemed_cheques.to_string(),
                    crate::fr::euros(m.redeemed_cents),
                ]
            })
            .collect(),
    );

    let by_name = |rows| by_name(rows, &name_of);
    let distributors = report(
        title("par distributeur"),
        &facts,
        vec![
            "Distributeur",
            "Chèques attribués",
            "Chèques émis",
            "Chèques utilisés",
            "Taux d'utilisation (%)",
            "Quota restant",
        ],
        by_name(&breakdown.distributors)
            .into_iter()
            .map(|(name, f)| {
                vec![
                    name,
                    cheques(f.allocated_cents),
                    cheques(f.issued_cents),
                    cheques(f.redeemed_cents),
                    percent(f.redeemed_cents, f.issued_cents),
                    cheques(f.unissued_quota_cents),
                ]
            })
            .collect(),
    );

    let sites = report(
        title("par lieu de médiation"),
        &facts,
        vec![
            "Lieu",
            "Chèques utilisés",
            "Montant (€)",
            "Part des utilisations (%)",
            "Réglé (€)",
            "Payé (€)",
        ],
        by_name(&breakdown.sites)
            .into_iter()
            .map(|(name, f)| {
                vec![
                    name,
                    cheques(f.redeemed_cents),
                    crate::fr::euros(f.redeemed_cents),
                    percent(f.redeemed_cents, r.figures.redeemed_cents),
                    crate::fr::euros(f.settled_cents),
                    crate::fr::euros(f.paid_cents),
                ]
            })
            .collect(),
    );

    let departments = report(
        title("par département"),
        &facts,
        vec![
            "Département",
            "Chèques émis",
            "Chèques utilisés",
            "Taux d'utilisation (%)",
        ],
        breakdown
            .departments
            .iter()
            .map(|row| {
                let f = &row.figures;
                vec![
                    if row.key == "inconnu" {
                        "Non renseigné".to_string()
                    } else {
                        row.key.clone()
                    },
                    cheques(f.issued_cents),
                    cheques(f.redeemed_cents),
                    percent(f.redeemed_cents, f.issued_cents),
                ]
            })
            .collect(),
    );

    let distributor_choices = orgs
        .iter()
        .filter(|o| o.kind == OrgKind::Distributor)
        .map(|o| (o.id.clone(), o.name.clone()))
        .collect();
    Ok(Tables {
        program,
        r,
        months,
        figures,
        monthly,
        distributors,
        sites,
        departments,
        distributor_choices,
    })
}

// ---------------------------------------------------------------------------------------------
// The chart: cheques issued and redeemed per month, drawn on the server as SVG.

pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
    pub fill: &'static str,
    pub tip: String,
}

pub struct Tick {
    pub y: i64,
    pub label: i64,
}

pub struct MonthMark {
    pub x: i64,
    pub month: &'static str,
    pub year: String,
}

pub struct Chart {
    pub width: i64,
    pub height: i64,
    /// Left and right ends of the plot, and its baseline.
    pub left: i64,
    pub right: i64,
    pub base: i64,
    pub ticks: Vec<Tick>,
    pub bars: Vec<Bar>,
    pub marks: Vec<MonthMark>,
    pub desc: String,
}

pub const ISSUED_FILL: &str = "#0b3f8a";
pub const REDEEMED_FILL: &str = "#b34000";

const SHORT_MONTHS: [&str; 12] = [
    "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
    "déc.",
];

/// The smallest of 1, 2, 5, 10, 20, 50… that is at least `target`.
fn nice_step(target: i64) -> i64 {
    let mut magnitude = 1;
    loop {
        for m in [1, 2, 5] {
            if m * magnitude >= target {
                return m * magnitude;
            }
        }
        magnitude *= 10;
    }
}

fn chart(months: &[Month]) -> Option<Chart> {
    let (first, last) = (months.first()?, months.last()?);
    // In the SVG's own units: the drawing scales down to the page's width, so each month gets
    // at least GROUP units however many there are.
    const LEFT: i64 = 56;
    const RIGHT_MARGIN: i64 = 12;
    const TOP: i64 = 14;
    const PLOT_HEIGHT: i64 = 200;
    const GROUP: i64 = 72;
    const BAR: i64 = 24;
    let n = months.len() as i64;
    // A few months still fill a chart of a readable size.
    let group = GROUP.max(360 / n);
    let width = LEFT + RIGHT_MARGIN + n * group;
    let base = TOP + PLOT_HEIGHT;
    let highest = months
        .iter()
        .map(|m| m.issued_cheques.max(m.redeemed_cheques))
        .max()
        .unwrap_or(0);
    let step = nice_step(((highest + 3) / 4).max(1));
    let top_value = step * 4;
    let y_of = |v: i64| base - v * PLOT_HEIGHT / top_value;
    let ticks = (0..=4)
        .map(|i| Tick {
            y: y_of(i * step),
            label: i * step,
        })
        .collect();
    let mut bars = Vec::new();
    let mut marks = Vec::new();
    for (i, m) in months.iter().enumerate() {
        let centre = LEFT + i as i64 * group + group / 2;
        let label = stats::month_label(&m.month);
        for (x, v, fill, what) in [
            (centre - BAR - 1, m.issued_cheques, ISSUED_FILL, "émis"),
            (centre + 1, m.redeemed_cheques, REDEEMED_FILL, "utilisé"),
        ] {
            // A small count stays visible as a sliver rather than vanishing.
            let height = if v > 0 { (base - y_of(v)).max(2) } else { 0 };
            bars.push(Bar {
                x,
                y: base - height,
                width: BAR,
                height,
                fill,
                tip: format!("{label} : {}", cheque_count(v, what)),
            });
        }
        let (year, month) = m.month.split_once('-').unwrap_or((&m.month, ""));
        marks.push(MonthMark {
            x: centre,
            month: month
                .parse::<usize>()
                .ok()
                .and_then(|i| SHORT_MONTHS.get(i.wrapping_sub(1)))
                .copied()
                .unwrap_or(""),
            year: year.to_string(),
        });
    }
    let issued: i64 = months.iter().map(|m| m.issued_cheques).sum();
    let redeemed: i64 = months.iter().map(|m| m.redeemed_cheques).sum();
    let span = if months.len() == 1 {
        format!("En {}", stats::month_label(&first.month))
    } else {
        format!(
            "De {} à {}",
            stats::month_label(&first.month),
            stats::month_label(&last.month)
        )
    };
    Some(Chart {
        width,
        height: base + 48,
        left: LEFT,
        right: width - RIGHT_MARGIN,
        base,
        ticks,
        bars,
        marks,
        desc: format!(
            "{span} : {} et {}. Le détail de chaque mois est dans le tableau qui suit.",
            cheque_count(issued, "émis"),
            cheque_count(redeemed, "utilisé"),
        ),
    })
}

// ---------------------------------------------------------------------------------------------
// The dashboard and its forms.

/// What was typed in the dashboard's forms, and what went wrong, to show them again.
#[derive(Default)]
struct Attempt {
    amount: String,
    reference: String,
    distributor_id: String,
    cheques: String,
    fund_error: Option<String>,
    allocate_error: Option<String>,
    close_error: Option<String>,
}

pub struct Card {
    pub label: &'static str,
    pub value: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "funder/program.html")]
struct Dashboard {
    l: Layout,
    program: Program,
    closed: bool,
    notice: Option<&'static str>,
    cards: Vec<Card>,
    cheque_value: String,
    available_cheques: i64,
    unfunded: String,
    credited: String,
    chart: Option<Chart>,
    issued_fill: &'static str,
    redeemed_fill: &'static str,
    figures: Report,
    monthly: Report,
    distributors: Report,
    sites: Report,
    departments: Report,
    distributor_choices: Vec<(String, String)>,
    attempt: Attempt,
}

#[derive(Deserialize)]
struct DashboardQuery {
    fait: Option<String>,
}

async fn dashboard(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(q): Query<DashboardQuery>,
) -> WebResult {
    let notice = match q.fait.as_deref() {
        Some("cree") => Some(
            "Le programme est créé. Enregistrez un premier versement pour pouvoir attribuer des chèques aux distributeurs.",
        ),
        Some("versement") => Some("Le versement est enregistré."),
        Some("quota") => Some("Le quota est attribué au distributeur."),
        Some("cloture") => {
            Some("Le programme est clos. Son avoir est prêt à télécharger, plus bas sur cette page.")
        }
        _ => None,
    };
    render_dashboard(&state, &visitor, &id, notice, Attempt::default()).await
}

async fn render_dashboard(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    notice: Option<&'static str>,
    attempt: Attempt,
) -> WebResult {
    let signed = SignedIn::require(visitor, OrgKind::Funder)?;
    let t = tables(state, &signed.org, id).await?;
    let r = &t.r;
    let f = &r.figures;
    let value = t.program.cheque_value_cents.max(1);
    let cards = vec![
        Card {
            label: "Budget consommé",
            value: euros_text(f.redeemed_cents),
            detail: format!(
                "{} du budget de {}, en chèques utilisés dans les lieux",
                percent_text(f.redeemed_cents, r.budget_cents),
                euros_text(r.budget_cents)
            ),
        },
        Card {
            label: "Versé",
            value: euros_text(r.funded_cents),
            detail: format!("Reste à verser : {}", euros_text(r.unfunded_cents)),
        },
        Card {
            label: "Disponible, à attribuer",
            value: euros_text(r.available_cents),
            detail: format!("Soit {}", plural(r.available_cents / value, "chèque")),
        },
        Card {
            label: "Taux d'utilisation",
            value: percent_text(f.redeemed_cents, f.issued_cents),
            detail: format!(
                "{} sur {} émis",
                cheque_count(f.redeemed_cents / value, "utilisé"),
                f.issued_cents / value
            ),
        },
    ];
    page(Dashboard {
        l: Layout::new(state, visitor, t.program.name.clone()),
        closed: t.program.status == "closed",
        notice,
        cards,
        cheque_value: euros_text(t.program.cheque_value_cents),
        available_cheques: r.available_cents / value,
        unfunded: euros_text(r.unfunded_cents),
        credited: euros_text(r.credited_cents),
        chart: chart(&t.months),
        issued_fill: ISSUED_FILL,
        redeemed_fill: REDEEMED_FILL,
        figures: t.figures,
        monthly: t.monthly,
        distributors: t.distributors,
        sites: t.sites,
        departments: t.departments,
        distributor_choices: t.distributor_choices,
        program: t.program,
        attempt,
    })
}

/// The signed-in funder and, when its programme is closed, why it takes no more writes.
/// Someone else's programme answers 404.
async fn writable(state: &AppState, visitor: &Visitor, id: &str) -> Result<Arc<Signed>, WebError> {
    let signed = SignedIn::require(visitor, OrgKind::Funder)?;
    let mut conn = state.db.read().await?;
    // Someone else's programme is refused (404) before the form is read.
    programs::get_for(&mut conn, &signed.org, id).await?;
    Ok(signed)
}

fn done(id: &str, what: &str) -> WebResult {
    see_other(&format!("/financeur/programmes/{id}?fait={what}#contenu"))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FundForm {
    amount: String,
    reference: String,
}

async fn fund(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<FundForm>,
) -> WebResult {
    let key = form.own_key();
    let Form { visitor, data, .. } = form;
    let signed = writable(&state, &visitor, &id).await?;
    let retry = |message: String| Attempt {
        amount: data.amount.clone(),
        reference: data.reference.clone(),
        fund_error: Some(message),
        ..Attempt::default()
    };
    let amount = parse_euros(&data.amount).map_err(|m| format!("Montant du versement : {m}"));
    let amount_cents = match amount {
        Ok(cents) => cents,
        Err(m) => return render_dashboard(&state, &visitor, &id, None, retry(m)).await,
    };
    let new = NewFunding {
        amount_cents,
        reference: data.reference.clone(),
    };
    let (org, now, program_id) = (signed.org.clone(), state.clock.now(), id.clone());
    let funded = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move { programs::record_funding(tx, &org, &program_id, new, now).await })
        })
        .await;
    match funded {
        Ok(_) => done(&id, "versement"),
        Err(e) if shown_on_page(&e) => {
            render_dashboard(&state, &visitor, &id, None, retry(e.public_message())).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AllocateForm {
    distributor_id: String,
    cheques: String,
}

async fn allocate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<AllocateForm>,
) -> WebResult {
    let key = form.own_key();
    let Form { visitor, data, .. } = form;
    let signed = writable(&state, &visitor, &id).await?;
    let retry = |message: String| Attempt {
        distributor_id: data.distributor_id.clone(),
        cheques: data.cheques.clone(),
        allocate_error: Some(message),
        ..Attempt::default()
    };
    let cheques = parse_count(&data.cheques)
        .ok_or_else(|| "Indiquez un nombre de chèques, par exemple 100.".to_string());
    let cheques = match cheques {
        Ok(n) => n,
        Err(m) => return render_dashboard(&state, &visitor, &id, None, retry(m)).await,
    };
    let new = NewAllocation {
        distributor_id: data.distributor_id.clone(),
        cheques,
    };
    let (org, now, program_id) = (signed.org.clone(), state.clock.now(), id.clone());
    let allocated = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move { programs::allocate(tx, &org, &program_id, new, now).await })
        })
        .await;
    match allocated {
        Ok(_) => done(&id, "quota"),
        Err(e) if shown_on_page(&e) => {
            render_dashboard(&state, &visitor, &id, None, retry(e.public_message())).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CloseForm {
    confirm: Option<String>,
}

async fn close(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<CloseForm>,
) -> WebResult {
    let key = form.own_key();
    let Form { visitor, data, .. } = form;
    let signed = SignedIn::require(&visitor, OrgKind::Funder)?;
    let retry = |message: String| Attempt {
        close_error: Some(message),
        ..Attempt::default()
    };
    if data.confirm.is_none() {
        let message = "Cochez la case pour confirmer la clôture du programme.".to_string();
        return render_dashboard(&state, &visitor, &id, None, retry(message)).await;
    }
    let (org, program_id) = (signed.org.clone(), id.clone());
    let (now, today) = (state.clock.now(), state.clock.today());
    let closed = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move {
                crate::expiry::close_program(tx, &org, &program_id, now, today).await
            })
        })
        .await;
    match closed {
        Ok(_) => done(&id, "cloture"),
        Err(e) if shown_on_page(&e) && !matches!(e, Error::NotFound(_)) => {
            render_dashboard(&state, &visitor, &id, None, retry(e.public_message())).await
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Downloads.

fn download(content_type: &str, file_name: String, body: Vec<u8>) -> WebResult {
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// `export/{table}.csv`: any table of the dashboard.
async fn export(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, file)): Path<(String, String)>,
) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Funder)?;
    let t = tables(&state, &signed.org, &id).await?;
    let program_id = t.program.id.clone();
    let not_found = || Error::not_found("Ce tableau n'existe pas.");
    let slug = file.strip_suffix(".csv").ok_or_else(not_found)?;
    let report = t.by_slug(slug).ok_or_else(not_found)?;
    download(
        "text/csv; charset=utf-8",
        format!("{slug}-{program_id}.csv"),
        report.csv()?.into_bytes(),
    )
}

async fn credit_note_report(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
) -> Result<Report, WebError> {
    let signed = SignedIn::require(visitor, OrgKind::Funder)?;
    let mut conn = state.db.read().await?;
    Ok(crate::expiry::credit_note(&mut conn, &signed.org, id).await?)
}

async fn credit_note_csv(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> WebResult {
    let report = credit_note_report(&state, &visitor, &id).await?;
    download(
        "text/csv; charset=utf-8",
        format!("avoir-{id}.csv"),
        report.csv()?.into_bytes(),
    )
}

async fn credit_note_pdf(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> WebResult {
    let report = credit_note_report(&state, &visitor, &id).await?;
    download("application/pdf", format!("avoir-{id}.pdf"), report.pdf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euros_typed_the_french_way() {
        for (typed, cents) in [
            ("50 000", 5_000_000),
            ("50000,50", 5_000_050),
            ("50 000,5", 5_000_050),
            ("50\u{a0}000,05 €", 5_000_005),
            ("50\u{202f}000", 5_000_000),
            ("1.500", 150_000),
            ("1.500.000,00", 150_000_000),
            ("12.5", 1_250),
            ("12.50", 1_250),
            ("10", 1_000),
            (",50", 50),
            ("0,01", 1),
        ] {
            assert_eq!(parse_euros(typed), Ok(cents), "{typed:?}");
        }
        for bad in [
            "",
            "abc",
            "12,345",
            "-5",
            "1,2,3",
            "12.34.56",
            "1.50.000",
            "0",
            "0,00",
            "5e3",
            "1234567890123",
        ] {
            assert!(parse_euros(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn counts_and_percents() {
        assert_eq!(parse_count(" 1 000 "), Some(1000));
        assert_eq!(parse_count("12a"), None);
        assert_eq!(parse_count(""), None);
        assert_eq!(percent(4, 15), "26,7");
        assert_eq!(percent(1, 3), "33,3");
        assert_eq!(percent(2, 3), "66,7");
        assert_eq!(percent(1, 0), "");
        assert_eq!(percent(15, 15), "100,0");
        assert_eq!(nice_step(1), 1);
        assert_eq!(nice_step(3), 5);
        assert_eq!(nice_step(11), 20);
        assert_eq!(nice_step(51), 100);
    }
}
