//! A programme's figures, as tables that are both shown on its page and exported (CSV), so
//! that what a funder downloads is exactly what it read.

use crate::app::AppState;
use crate::fr::percent;
use crate::ledger::{Figures, Reconciliation};
use crate::money::Cents;
use crate::orgs::{OrgKind, Organization};
use crate::programs::{self, Program};
use crate::report::Report;
use crate::stats::{self, Month};
use crate::web::WebError;
use std::collections::BTreeMap;

/// Everything the dashboard and the exports show of one programme.
pub(super) struct Tables {
    pub program: Program,
    pub r: Reconciliation,
    pub months: Vec<Month>,
    pub figures: Report,
    pub monthly: Report,
    pub distributors: Report,
    pub sites: Report,
    pub departments: Report,
    /// Distributors that may receive a quota: `(id, name)`, by name.
    pub distributor_choices: Vec<(String, String)>,
}

impl Tables {
    /// The table a download's file name (`{slug}.csv`) asks for.
    pub(super) fn by_slug(self, slug: &str) -> Option<Report> {
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

/// A table laid out for the PDF as well: names in a wide first column, figures right-aligned.
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
fn headline(r: &Reconciliation) -> Vec<(&'static str, Cents, bool)> {
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

/// Every table of one of the funder's programmes; someone else's programme answers 404.
pub(super) async fn tables(
    state: &AppState,
    funder: &Organization,
    id: &str,
) -> Result<Tables, WebError> {
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
    let value = program.cheque_value_cents.max(Cents::new(1));
    let cheques = |cents: Cents| (cents / value).to_string();
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
