//! The site's bank details: what batches pay into, a request waiting for the operator's check,
//! and the form to ask for new details with the RIB.

use crate::app::AppState;
use crate::clock::parse_ts;
use crate::error::Error;
use crate::orgs::OrgKind;
use crate::sites::bank::{self, BankRequest, Document, NewBankAccount, MAX_DOCUMENT_BYTES};
use crate::web::form_errors::FormErrors;
use crate::web::session::{FileForm, SignedIn};
use crate::web::{page, see_other, with_status, Layout, Visitor, WebResult};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

/// The form's fields and the RIB, with room for the form's own bytes.
const FORM_KIB: usize = MAX_DOCUMENT_BYTES / 1024 + 64;

pub fn router() -> Router<AppState> {
    Router::new().route("/lieu/banque", get(show).post(ask))
}

pub struct Shown {
    pub iban: String,
    pub holder: String,
    pub date: String,
    pub document: String,
    pub reason: String,
}

impl Shown {
    /// Its day in `zone`, the site's.
    fn of(r: &BankRequest, decided: bool, zone: &jiff::tz::TimeZone) -> Shown {
        let at = if decided {
            r.decided_at.as_deref().unwrap_or(&r.requested_at)
        } else {
            &r.requested_at
        };
        Shown {
            iban: r.iban.clone(),
            holder: r.holder.clone(),
            date: parse_ts(at)
                .map(|t| crate::fr::long_date(t.to_zoned(zone.clone()).date()))
                .unwrap_or_default(),
            document: r
                .document
                .as_ref()
                .map(|d| d.filename.clone())
                .unwrap_or_default(),
            reason: r.decision_reason.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "site/bank.html")]
struct BankPage {
    l: Layout,
    errors: FormErrors,
    notice: bool,
    current: Option<Shown>,
    pending: Option<Shown>,
    rejected: Option<Shown>,
    iban: String,
    bic: String,
    holder: String,
}

#[derive(serde::Deserialize)]
struct Done {
    fait: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(done): Query<Done>,
) -> WebResult {
    render(
        &state,
        &visitor,
        FormErrors::none(),
        done.fait.is_some(),
        Typed::default(),
    )
    .await
}

#[derive(Default)]
struct Typed {
    iban: String,
    bic: String,
    holder: String,
}

async fn render(
    state: &AppState,
    visitor: &Visitor,
    errors: FormErrors,
    notice: bool,
    typed: Typed,
) -> WebResult {
    let signed = SignedIn::require(visitor, OrgKind::Site)?;
    let mut conn = state.db.read().await?;
    let view = bank::details_of(&mut conn, &signed.org, &signed.org.id).await?;
    let zone = signed.org.zone();
    page(BankPage {
        l: Layout::new(state, visitor, errors.page_title("Coordonnées bancaires")),
        errors,
        notice,
        current: view.current.as_ref().map(|r| Shown::of(r, true, &zone)),
        pending: view.pending.as_ref().map(|r| Shown::of(r, false, &zone)),
        rejected: view.rejected.as_ref().map(|r| Shown::of(r, true, &zone)),
        iban: typed.iban,
        bic: typed.bic,
        holder: typed.holder,
    })
}

async fn ask(State(state): State<AppState>, form: FileForm<FORM_KIB>) -> WebResult {
    let signed = SignedIn::require(&form.visitor, OrgKind::Site)?;
    let key = form.own_key();
    let typed = Typed {
        iban: form.field("iban"),
        bic: form.field("bic"),
        holder: form.field("holder"),
    };
    let new = NewBankAccount {
        iban: typed.iban.clone(),
        bic: Some(typed.bic.clone()),
        holder: typed.holder.clone(),
    };
    // The page always sends the RIB with the request: without one, the domain says so.
    let document = Some(match form.file.clone() {
        Some((_, filename, bytes)) => Document { filename, bytes },
        None => Document {
            filename: String::new(),
            bytes: Vec::new(),
        },
    });
    let (org, now, letterhead) = (signed.org.clone(), state.clock.now(), state.letterhead());
    let visitor = form.visitor;
    let asked = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move {
                let site_id = org.id.clone();
                bank::set_bank_account(tx, &org, &site_id, new, document, &letterhead, now)
                    .await
                    .map(|a| a.id)
            })
        })
        .await;
    match asked {
        Ok(_) => see_other("/lieu/banque?fait=demande"),
        Err(e @ Error::Unprocessable { .. }) => {
            let errors = FormErrors::from_error(&e, bank_field);
            with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                render(&state, &visitor, errors, false, typed).await,
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// The field of the bank form a refusal is about: the RIB unless it is about a typed field.
fn bank_field(code: &str) -> String {
    match code {
        "invalid_iban" => "iban",
        "invalid_bic" => "bic",
        "invalid_holder" => "holder",
        _ => "document",
    }
    .to_string()
}
