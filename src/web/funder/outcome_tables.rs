//! The funder's view as tables: shown under each chart, downloaded as CSV one by one and as one
//! `.ods` with a sheet each, so that what is downloaded is what was read.

use crate::fr::euros;
use crate::programs::Program;
use crate::report::Report;
use crate::stats::observatory::{cell_text, tenths_text};
use crate::stats::{Dimension, Money, Opinions, Outcomes, Row};

/// One table of the view: where it is linked from (`slug`), its sheet's name, what it shows.
pub(super) struct Table {
    pub slug: &'static str,
    pub sheet: &'static str,
    pub report: Report,
}

/// `slug`, sheet name and title of a breakdown.
pub(super) fn names(dimension: Dimension) -> (&'static str, &'static str, &'static str) {
    match dimension {
        Dimension::Whole => ("chiffres", "Chiffres", "chiffres clés"),
        Dimension::Month => ("mois", "Par mois", "par mois"),
        Dimension::Distributor => ("distributeurs", "Par distributeur", "par distributeur"),
        Dimension::Place => ("lieux", "Par lieu", "par lieu"),
        Dimension::Department => ("departements", "Par département", "par département"),
        Dimension::Kind => ("types", "Types d'aide", "par type d'aide"),
        Dimension::Theme => ("themes", "Thèmes", "par thème"),
        Dimension::HelpLevel => ("niveaux", "Niveaux d'aide", "par niveau d'aide"),
    }
}

/// Minutes as hours with two decimals, as spreadsheets read them: `90` → `1,50`.
pub(super) fn hours(minutes: i64) -> String {
    format!("{},{:02}", minutes / 60, (minutes % 60) * 100 / 60)
}

fn report(
    title: String,
    facts: &[(String, String)],
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
) -> Report {
    let n = headers.len().max(1);
    let first = 0.3_f32;
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

/// Which columns a breakdown has: carnets are not tied to places, kinds or themes, and a
/// session has several themes (so people are not counted per theme); the beneficiaries'
/// answers are broken down by who, where and when, not by what was done.
fn columns(dimension: Dimension) -> (bool, bool, bool) {
    let carnets = matches!(
        dimension,
        Dimension::Whole | Dimension::Month | Dimension::Distributor
    );
    let opinions = !matches!(
        dimension,
        Dimension::Kind | Dimension::HelpLevel | Dimension::Theme
    );
    (carnets, dimension != Dimension::Theme, opinions)
}

/// The count of answers and their average out of 10 as published: `moins de 11` about too
/// few answers.
fn opinion_cells(o: Option<Opinions>) -> [String; 2] {
    let o = o.unwrap_or_default();
    [
        cell_text(o.published_answers()),
        tenths_text(o.average_tenths(), ','),
    ]
}

fn breakdown_table(
    dimension: Dimension,
    rows: &[Row],
    facts: &[(String, String)],
    program: &Program,
) -> Table {
    let (slug, sheet, what) = names(dimension);
    let (with_carnets, with_people, with_opinions) = columns(dimension);
    let mut headers = vec![match dimension {
        Dimension::Month => "Mois",
        Dimension::Distributor => "Distributeur",
        Dimension::Place => "Lieu",
        Dimension::Department => "Département du lieu",
        Dimension::Kind => "Type d'aide",
        Dimension::Theme => "Thème",
        Dimension::HelpLevel => "Niveau d'aide",
        Dimension::Whole => "Programme",
    }];
    if with_carnets {
        headers.extend([
            "Carnets émis",
            "Carnets remis",
            "Carnets commencés",
            "Carnets terminés",
        ]);
    }
    if with_people {
        headers.push("Personnes aidées");
    }
    headers.extend([
        "Séances",
        "Heures d'accompagnement",
        "Chèques utilisés",
        "Montant utilisé (€)",
    ]);
    if with_opinions {
        headers.extend(["Avis reçus", "Satisfaction (sur 10)"]);
    }
    let lines = rows
        .iter()
        .map(|r| {
            let mut cells = vec![r.label.clone()];
            if with_carnets {
                let c = r.carnets.unwrap_or_default();
                cells
                    .extend([c.issued, c.handed_out, c.started, c.finished].map(|n| n.to_string()));
            }
            if with_people {
                cells.push(r.people.unwrap_or(0).to_string());
            }
            cells.extend([
                r.sessions.to_string(),
                hours(r.minutes),
                r.cheques.to_string(),
                euros(r.used_cents),
            ]);
            if with_opinions {
                cells.extend(opinion_cells(r.opinions));
            }
            cells
        })
        .collect();
    Table {
        slug,
        sheet,
        report: report(format!("{} — {what}", program.name), facts, headers, lines),
    }
}

/// `(label, amount)` of the money's flow, in the order money moves.
pub(super) fn money_lines(m: &Money) -> [(&'static str, crate::money::Cents); 7] {
    [
        ("Versé par le financeur", m.funded),
        ("Attribué aux distributeurs", m.allocated),
        ("Émis en chèques", m.issued),
        ("Utilisé dans les lieux", m.used),
        ("Payé aux lieux", m.paid),
        (
            "Revenu au programme (chèques expirés ou annulés)",
            m.returned,
        ),
        ("Rendu au financeur (avoir)", m.credited),
    ]
}

/// Every table of the view, in the order of the page.
pub(super) fn tables(o: &Outcomes, program: &Program, facts: &[(String, String)]) -> Vec<Table> {
    let title = |what: &str| format!("{} — {what}", program.name);
    let w = &o.whole;
    let c = w.carnets.unwrap_or_default();
    let key_figures = report(
        title("chiffres clés"),
        facts,
        vec!["Indicateur", "Valeur"],
        [
            ("Carnets émis", c.issued.to_string()),
            ("Carnets remis à un bénéficiaire", c.handed_out.to_string()),
            (
                "Carnets commencés (un chèque utilisé)",
                c.started.to_string(),
            ),
            (
                "Carnets terminés (tous les chèques utilisés)",
                c.finished.to_string(),
            ),
            ("Personnes aidées", w.people.unwrap_or(0).to_string()),
            ("Séances", w.sessions.to_string()),
            ("Heures d'accompagnement", hours(w.minutes)),
            ("Chèques utilisés", w.cheques.to_string()),
            (
                "Avis reçus (« Je donne mon avis »)",
                opinion_cells(w.opinions)[0].clone(),
            ),
            (
                "Satisfaction moyenne (sur 10)",
                opinion_cells(w.opinions)[1].clone(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| vec![k.to_string(), v])
        .collect(),
    );
    let money = report(
        title("parcours de l'argent"),
        facts,
        vec!["Poste", "Montant (€)"],
        money_lines(&o.money)
            .into_iter()
            .map(|(k, v)| vec![k.to_string(), euros(v)])
            .collect(),
    );
    let money_by_month = report(
        title("argent par mois"),
        facts,
        vec![
            "Mois",
            "Versé (€)",
            "Attribué (€)",
            "Émis (€)",
            "Utilisé (€)",
            "Payé (€)",
            "Revenu au programme (€)",
            "Rendu au financeur (€)",
        ],
        o.money_by_month
            .iter()
            .map(|(month, m)| {
                let mut cells = vec![crate::stats::month_label(month)];
                cells.extend(money_lines(m).into_iter().map(|(_, v)| euros(v)));
                cells
            })
            .collect(),
    );
    let mut out = vec![
        Table {
            slug: "chiffres",
            sheet: "Chiffres",
            report: key_figures,
        },
        Table {
            slug: "argent",
            sheet: "Argent",
            report: money,
        },
        Table {
            slug: "argent-mois",
            sheet: "Argent par mois",
            report: money_by_month,
        },
    ];
    for (dimension, rows) in &o.breakdowns {
        out.push(breakdown_table(*dimension, rows, facts, program));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_as_numbers() {
        assert_eq!(hours(0), "0,00");
        assert_eq!(hours(90), "1,50");
        assert_eq!(hours(20), "0,33");
        assert_eq!(hours(600), "10,00");
    }
}
