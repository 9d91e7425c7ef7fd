//! The audit trail, in words: who did what to what, filtered by action and subject.

use super::{kind_label, require_operator, when, JOURNAL_PAGE};
use crate::app::AppState;
use crate::audit::Entry;
use crate::db::Conn;
use crate::error::Error;
use crate::fr::{long_date, long_date_text};
use crate::orgs::OrgKind;
use crate::orgs::{self, Organization};
use crate::settlement;
use crate::sites::qualification::SUSPENSION_REASON;
use crate::web::{page, Layout, Visitor, WebError, WebResult};
use askama::Template;
use axum::extract::{Query, State};
use jiff::civil::Date;
use serde::Deserialize;
use std::collections::HashMap;

pub struct JournalRow {
    pub at: String,
    pub when: String,
    pub who: String,
    pub what: String,
    pub action: String,
    pub detail: String,
    pub subject: String,
    pub subject_link: Option<String>,
    pub subject_id: Option<String>,
}

fn action_label(action: &str) -> Option<&'static str> {
    Some(match action {
        "organization.created" => "Organisation créée",
        "site.qualified" => "Lieu qualifié",
        "site.suspended" => "Lieu suspendu",
        "place.qualified" => "Adresse d'un lieu qualifiée",
        "place.suspended" => "Adresse d'un lieu suspendue",
        "places.imported" => "Lieux importés (standard national)",
        SUSPENSION_REASON => "Motif de la suspension",
        "bank_account.changed" => "Coordonnées bancaires changées",
        "user.invited" => "Personne invitée",
        "api_token.created" => "Jeton d'API créé",
        "settlement.created" => "Lot de règlement préparé",
        "settlement.approved" => "Lot approuvé",
        "settlement.exported" => "Fichier de virement produit",
        "settlement.paid" => "Lot payé",
        "settlement.line_rejected" => "Virement rejeté par la banque",
        "settlement.line_released" => "Virement rejeté renvoyé au même compte",
        "program.created" => "Programme créé",
        "funding.declared" => "Versement déclaré par le financeur",
        "allocation.created" => "Quota attribué à un distributeur",
        "program.close_scheduled" => "Fin du programme prévue",
        "program.close_cancelled" => "Fin prévue du programme annulée",
        "program.close_notice" => "Fin du programme annoncée par e-mail",
        "program.closed" => "Programme clôturé",
        "pass.issued" => "Carnet émis",
        "pass.activated" => "Carnet activé (remis au bénéficiaire)",
        "pass.cancelled" => "Carnet annulé",
        crate::vouchers::rights::EMAIL_ERASED => {
            "Adresse e-mail d'un carnet effacée (à la demande du bénéficiaire)"
        }
        crate::vouchers::rights::REFERENCE_ERASED => {
            "Référence d'un bénéficiaire effacée (à sa demande)"
        }
        "redemption.created" => "Chèque encaissé",
        "alert.reviewed" => "Alerte examinée",
        "redemption.undone" => "Encaissement annulé",
        "key.rotated" => "Nouvelle clé de signature",
        "key.retired" => "Clé de signature retirée",
        "application.submitted" => "Candidature reçue",
        "application.resubmitted" => "Candidature corrigée et renvoyée",
        "application.under_review" => "Candidature en cours d'examen",
        "application.changes_requested" => "Corrections demandées au candidat",
        "application.rejected" => "Candidature refusée",
        "application.qualified" => "Candidature acceptée : lieu qualifié",
        "question.added" => "Question d'éligibilité ajoutée",
        "question.changed" => "Question d'éligibilité modifiée",
        "site.disqualified" => "Lieu déqualifié (définitif)",
        "place.disqualified" => "Adresse d'un lieu déqualifiée (définitif)",
        "site.renewal_reminder" => "Rappel de renouvellement envoyé",
        "login.succeeded" => "Connexion",
        "login.failed" => "Connexion refusée",
        "login.locked" => "Compte verrouillé",
        "login.refused_locked" => "Connexion à un compte verrouillé",
        "password.reset_requested" => "Lien de nouveau mot de passe envoyé",
        "retention.erased" => "Données personnelles effacées (durées de conservation)",
        "audit.chain_converted" => {
            "Anciennes entrées du journal converties (adresses IP réductibles)"
        }
        _ => return None,
    })
}

/// The detail as stored, with the qualification dates and organisation kinds in French.
fn detail_text(action: &str, detail: &str) -> String {
    if action.starts_with("site.") || action.starts_with("place.") {
        if let Some(date) = detail.strip_prefix("until ") {
            let date = date.parse::<Date>().ok().map(long_date);
            return match (action, date) {
                ("site.suspended", Some(d)) => format!("La qualification courait jusqu'au {d}."),
                (_, Some(d)) => format!("jusqu'au {d}"),
                (_, None) => String::new(),
            };
        }
    }
    if action == "organization.created" {
        if let Some((kind, name)) = detail.split_once(' ') {
            if let Some(kind) = OrgKind::parse(kind) {
                return format!("{} : {name}", kind_label(kind));
            }
        }
    }
    detail.to_string()
}

/// Names the actor and subject of each entry, looking each one up once.
pub(super) async fn journal_rows(
    conn: &mut Conn,
    operator: &Organization,
    entries: &[Entry],
) -> Result<Vec<JournalRow>, WebError> {
    let mut org_names: HashMap<String, Option<String>> = HashMap::new();
    let mut subjects: HashMap<String, (String, Option<String>)> = HashMap::new();
    let mut rows = Vec::with_capacity(entries.len());
    for e in entries {
        let who = match &e.actor_org_id {
            Some(actor) => {
                if !org_names.contains_key(actor) {
                    let name = orgs::find(conn, actor).await?.map(|o| o.name);
                    org_names.insert(actor.clone(), name);
                }
                org_names[actor].clone().unwrap_or_else(|| actor.clone())
            }
            // Organisation creation does not record who did it.
            None => "Non précisé".into(),
        };
        let (subject, subject_link) = match &e.subject_id {
            None => ("—".to_string(), None),
            Some(id) => {
                if !subjects.contains_key(id) {
                    let named = name_subject(conn, operator, &e.action, id).await?;
                    subjects.insert(id.clone(), named);
                }
                subjects[id].clone()
            }
        };
        rows.push(JournalRow {
            at: e.at.clone(),
            when: when(&e.at),
            who,
            what: action_label(&e.action)
                .map(str::to_string)
                .unwrap_or_else(|| e.action.clone()),
            action: e.action.clone(),
            detail: detail_text(&e.action, &e.detail),
            subject,
            subject_link,
            subject_id: e.subject_id.clone(),
        });
    }
    Ok(rows)
}

/// `(name, link)` of what an entry is about.
async fn name_subject(
    conn: &mut Conn,
    operator: &Organization,
    action: &str,
    id: &str,
) -> Result<(String, Option<String>), WebError> {
    if action.starts_with("settlement.") {
        return Ok(match settlement::get(conn, operator, id).await {
            Ok(view) => (
                format!("Lot jusqu'au {}", long_date_text(&view.batch.until_date)),
                Some(format!("/operateur/reglements/{id}")),
            ),
            Err(Error::NotFound(_)) => (id.to_string(), None),
            Err(e) => return Err(e.into()),
        });
    }
    if ["program.", "funding.", "allocation."]
        .iter()
        .any(|p| action.starts_with(p))
    {
        return Ok(match crate::programs::find(conn, id).await? {
            Some(p) => (format!("Programme {}", p.name), None),
            None => (id.to_string(), None),
        });
    }
    Ok(match orgs::find(conn, id).await? {
        Some(o) => (o.name, Some(format!("/operateur/organisations/{id}"))),
        None => (id.to_string(), None),
    })
}

#[derive(Deserialize)]
pub(super) struct JournalQuery {
    action: Option<String>,
    sujet: Option<String>,
    page: Option<String>,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "operator/journal.html")]
struct Journal {
    l: Layout,
    section: &'static str,
    rows: Vec<JournalRow>,
    actions: Vec<Choice>,
    subject: String,
    page: i64,
    pages: i64,
    total: i64,
    previous: Option<String>,
    next: Option<String>,
    /// Entries chained so far, and waiting to be.
    sealed: i64,
    unsealed: i64,
}

const ACTION_PREFIXES: [(&str, &str); 14] = [
    ("", "Toutes les actions"),
    ("organization.", "Création d'organisations"),
    ("site.", "Qualification des lieux"),
    ("user.", "Invitations"),
    ("api_token.", "Jetons d'API"),
    ("bank_account.", "Coordonnées bancaires"),
    ("settlement.", "Règlements"),
    ("program.", "Programmes"),
    ("funding.", "Versements des financeurs"),
    ("allocation.", "Quotas des distributeurs"),
    ("pass.", "Carnets"),
    ("redemption.", "Encaissements"),
    ("login.", "Connexions"),
    ("key.", "Clés de signature"),
];

fn journal_url(action: &str, subject: &str, page: i64) -> String {
    let mut query = Vec::new();
    if !action.is_empty() {
        query.push(("action", action.to_string()));
    }
    if !subject.is_empty() {
        query.push(("sujet", subject.to_string()));
    }
    if page > 1 {
        query.push(("page", page.to_string()));
    }
    let encoded = serde_urlencoded::to_string(&query).unwrap_or_default();
    if encoded.is_empty() {
        "/operateur/journal".into()
    } else {
        format!("/operateur/journal?{encoded}")
    }
}

pub(super) async fn journal(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(q): Query<JournalQuery>,
) -> WebResult {
    let operator = require_operator(&visitor)?;
    // Actions are written in lower case: so is the prefix, to match the choices offered.
    let action = q.action.unwrap_or_default().trim().to_lowercase();
    let subject = q.sujet.unwrap_or_default().trim().to_string();
    let wanted = q
        .page
        .and_then(|p| p.trim().parse::<i64>().ok())
        .unwrap_or(1)
        .max(1);
    let mut conn = state.db.read().await?;
    let (_, total) = crate::audit::search(&mut conn, Some(&action), Some(&subject), 0, 0).await?;
    let pages = ((total + JOURNAL_PAGE - 1) / JOURNAL_PAGE).max(1);
    let page_no = wanted.min(pages);
    let (entries, _) = crate::audit::search(
        &mut conn,
        Some(&action),
        Some(&subject),
        JOURNAL_PAGE,
        (page_no - 1) * JOURNAL_PAGE,
    )
    .await?;
    let rows = journal_rows(&mut conn, &operator.org, &entries).await?;
    let (sealed, unsealed) = crate::audit::chain::status(&mut conn).await?;
    let mut actions: Vec<Choice> = ACTION_PREFIXES
        .iter()
        .map(|(value, label)| Choice {
            value: value.to_string(),
            label: label.to_string(),
            selected: *value == action,
        })
        .collect();
    if !actions.iter().any(|c| c.selected) {
        // A prefix typed in the address (e.g. from a link) stays selectable.
        actions.push(Choice {
            value: action.clone(),
            label: format!("Commençant par « {action} »"),
            selected: true,
        });
    }
    page(Journal {
        l: Layout::new(&state, &visitor, "Journal des décisions"),
        section: "journal",
        rows,
        actions,
        previous: (page_no > 1).then(|| journal_url(&action, &subject, page_no - 1)),
        next: (page_no < pages).then(|| journal_url(&action, &subject, page_no + 1)),
        subject,
        page: page_no,
        pages,
        total,
        sealed,
        unsealed,
    })
}
