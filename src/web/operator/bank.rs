//! Bank details that sites asked for, each with its RIB, for the operator to approve or
//! refuse.

use super::{require_operator, shown};
use crate::app::AppState;
use crate::clock::{paris, parse_ts};
use crate::error::Error;
use crate::fr::long_date;
use crate::sites::bank::{self, BankRequest, Decision};
use crate::web::confirm::{self, Confirmation};
use crate::web::form_errors::FormErrors;
use crate::web::session::Form;
use crate::web::{page, see_other, with_status, Layout, Visitor, WebError, WebResult};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;

pub struct Row {
    pub id: String,
    pub site_id: String,
    pub site: String,
    pub iban: String,
    pub bic: String,
    pub holder: String,
    pub asked: String,
    /// `rib.pdf (PDF, 84 Ko)`, empty without a document.
    pub document: String,
    pub sha256: String,
    /// The account paid today, masked.
    pub current: String,
    /// Its decision form: blank, or as sent when it was refused.
    pub errors: FormErrors,
    pub decision: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "operator/bank.html")]
struct BankPage {
    l: Layout,
    section: &'static str,
    rows: Vec<Row>,
    notice: Option<&'static str>,
}

/// A decision refused: on which request, why, and what was sent.
struct Refused {
    id: String,
    error: Error,
    form: DecisionForm,
}

#[derive(serde::Deserialize)]
pub(super) struct Done {
    fait: Option<String>,
}

pub(super) async fn requests(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(done): Query<Done>,
) -> WebResult {
    let notice = match done.fait.as_deref() {
        Some("accepte") => Some("Les coordonnées sont acceptées : elles seront utilisées au prochain règlement. Le lieu est prévenu."),
        Some("refuse") => Some("Les coordonnées sont refusées. Le lieu est prévenu, avec le motif."),
        _ => None,
    };
    render(&state, &visitor, notice, None).await
}

async fn render(
    state: &AppState,
    visitor: &Visitor,
    notice: Option<&'static str>,
    mut refused: Option<Refused>,
) -> WebResult {
    let operator = require_operator(visitor)?;
    let mut conn = state.db.read().await?;
    let mut rows = Vec::new();
    let mut in_error = false;
    for (index, r) in bank::pending_requests(&mut conn, &operator.org)
        .await?
        .into_iter()
        .enumerate()
    {
        let current = bank::current_bank_account(&mut conn, &r.site_id)
            .await?
            .map(|a| format!("{} ({})", bank::mask_iban(&a.iban), a.holder))
            .unwrap_or_else(|| "aucun".into());
        let mut row = row(r, current);
        if let Some(refused) = refused.take_if(|f| f.id == row.id) {
            in_error = true;
            let field = match refused.error.code() {
                "document_missing" => "accept",
                _ => "reason",
            };
            let message = refused.error.public_message();
            row.errors = FormErrors::one(format!("{field}-{}", index + 1), message);
            row.decision = refused.form.decision;
            row.reason = refused.form.reason;
        }
        rows.push(row);
    }
    let title = "Coordonnées bancaires à vérifier";
    page(BankPage {
        l: Layout::new(
            state,
            visitor,
            if in_error {
                format!("Erreur — {title}")
            } else {
                title.to_string()
            },
        ),
        section: "banque",
        rows,
        notice,
    })
}

fn row(r: BankRequest, current: String) -> Row {
    let (document, sha256) = match &r.document {
        Some(d) => {
            let kind = match d.content_type.as_str() {
                "application/pdf" => "PDF",
                "image/jpeg" => "JPEG",
                _ => "PNG",
            };
            let kib = (d.size_bytes + 1023) / 1024;
            (
                format!("{} ({kind}, {kib} Ko)", d.filename),
                d.sha256.clone(),
            )
        }
        None => (String::new(), String::new()),
    };
    Row {
        asked: parse_ts(&r.requested_at)
            .map(|t| long_date(t.to_zoned(paris()).date()))
            .unwrap_or_default(),
        id: r.id,
        site_id: r.site_id,
        site: r.site_name,
        iban: bank::grouped_iban(&r.iban),
        bic: r.bic.unwrap_or_default(),
        holder: r.holder,
        document,
        sha256,
        current,
        errors: FormErrors::none(),
        decision: String::new(),
        reason: String::new(),
    }
}

/// The RIB of a request, shown in the browser (sandboxed: it comes from outside).
pub(super) async fn document(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> WebResult {
    let operator = require_operator(&visitor)?;
    let mut conn = state.db.read().await?;
    let document = bank::document_of(&mut conn, &operator.org, &id).await?;
    Ok(crate::http::document_response(document).into_response())
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(super) struct DecisionForm {
    decision: String,
    reason: String,
}

pub(super) async fn decide(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<DecisionForm>,
) -> WebResult {
    let operator = require_operator(&form.visitor)?;
    if !form.confirmed() {
        if let Some(question) = question(&state, &form, &id).await? {
            return confirm::ask(&state, &form, question);
        }
    }
    let key = form.own_key();
    let Form { visitor, data, .. } = form;
    let approve = data.decision == "accepter";
    let decision = Decision {
        approve,
        reason: Some(data.reason.clone()),
    };
    let (org, now, letterhead) = (operator.org.clone(), state.clock.now(), state.letterhead());
    let request_id = id.clone();
    let decided = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move {
                bank::decide(tx, &org, &request_id, decision, &letterhead, now).await
            })
        })
        .await;
    match decided {
        Ok(_) if approve => see_other("/operateur/banque?fait=accepte"),
        Ok(_) => see_other("/operateur/banque?fait=refuse"),
        Err(error) if shown(&error) => {
            let status = error.status();
            let refused = Refused {
                id,
                error,
                form: data,
            };
            with_status(status, render(&state, &visitor, None, Some(refused)).await)
        }
        Err(e) => Err(e.into()),
    }
}

/// What deciding on a request asks to confirm, from the request as it is now. None when the
/// form is incomplete or the request is not waiting: the decision itself says why not.
async fn question(
    state: &AppState,
    form: &Form<DecisionForm>,
    id: &str,
) -> Result<Option<Confirmation>, WebError> {
    let operator = require_operator(&form.visitor)?;
    let mut conn = state.db.read().await?;
    let Some(r) = bank::pending_requests(&mut conn, &operator.org)
        .await?
        .into_iter()
        .find(|r| r.id == id)
    else {
        return Ok(None);
    };
    let current = bank::current_bank_account(&mut conn, &r.site_id)
        .await?
        .map(|a| format!("{} ({})", bank::mask_iban(&a.iban), a.holder));
    drop(conn);
    let r = row(r, current.unwrap_or_default());
    Ok(match form.data.decision.as_str() {
        "accepter" => Some(
            Confirmation::new(
                format!("Accepter les coordonnées bancaires de {} ?", r.site),
                "Oui, accepter ces coordonnées",
            )
            .then(format!(
                "Les prochains règlements de {} seront versés sur l'IBAN {}, au nom de {}{}.",
                r.site,
                r.iban,
                r.holder,
                if r.current.is_empty() {
                    String::new()
                } else {
                    format!(", à la place du compte {}", r.current)
                }
            ))
            .then(
                "Le lieu est prévenu par e-mail. Cette décision ne pourra pas être défaite : \
                 pour changer encore de compte, le lieu devra faire une nouvelle demande.",
            ),
        ),
        "refuser" if !form.data.reason.trim().is_empty() => Some(
            Confirmation::new(
                format!("Refuser les coordonnées bancaires de {} ?", r.site),
                "Oui, refuser ces coordonnées",
            )
            .then(format!(
                "L'IBAN {} ne sera pas utilisé. Le lieu est prévenu par e-mail, avec le motif \
                 que vous avez écrit.",
                r.iban
            ))
            .then("Cette décision ne pourra pas être défaite."),
        ),
        _ => None,
    })
}
