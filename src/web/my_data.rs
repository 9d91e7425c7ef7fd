//! "Voir les données de mon carnet": with the carnet code, its holder sees everything kept
//! about it (GDPR right of access) and may have its e-mail erased, after a confirmation.
//! The code is checked and counted as on the balance page.

use super::confirm::{self, Confirmation};
use super::session::Form;
use super::{page, see_other, Layout, Visitor, WebResult};
use crate::app::AppState;
use crate::error::Error;
use crate::fr::{euros_text, long_date_text};
use crate::http::extract::ClientIp;
use crate::vouchers::rights::{self, CarnetData};
use crate::vouchers::{ChequeStatus, PassStatus};
use askama::Template;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/mes-donnees", get(my_data))
        .route("/mes-donnees/effacer-email", post(erase_email))
}

#[derive(Deserialize)]
struct DataQuery {
    code: Option<String>,
    /// What was just done: `email-efface`.
    fait: Option<String>,
}

#[derive(Template)]
#[template(path = "public/my_data.html")]
struct MyData {
    l: Layout,
    code: String,
    error: Option<String>,
    data: Option<CarnetData>,
    email_erased_now: bool,
}

impl MyData {
    fn cheque_line(&self, c: &rights::ChequeData) -> String {
        let value = euros_text(c.value_cents);
        let what = match (&c.used_on, &c.used_at) {
            (Some(on), Some(at)) => format!("utilisé le {}, {at}", long_date_text(on)),
            _ => match c.status {
                ChequeStatus::Inactive => "pas encore activé".to_string(),
                ChequeStatus::Valid => "pas encore utilisé".to_string(),
                ChequeStatus::Redeemed => "utilisé".to_string(),
                ChequeStatus::Cancelled => "annulé".to_string(),
                ChequeStatus::Expired => "expiré sans avoir été utilisé".to_string(),
            },
        };
        format!("Chèque {} ({value}) : {what}", c.position)
    }
}

async fn my_data(
    State(state): State<AppState>,
    visitor: Visitor,
    ClientIp(ip): ClientIp,
    Query(q): Query<DataQuery>,
) -> WebResult {
    let code = q.code.unwrap_or_default().trim().to_string();
    let mut view = MyData {
        l: Layout::new(&state, &visitor, "Les données de mon carnet"),
        code: code.clone(),
        error: None,
        data: None,
        email_erased_now: q.fait.as_deref() == Some("email-efface"),
    };
    if code.is_empty() {
        return page(view);
    }
    state.public_lookup(ip, &code).await?;
    let mut conn = state.db.read().await?;
    let found = rights::carnet_data(&mut conn, &code, state.clock.today()).await;
    drop(conn);
    match state.public_lookup_done(ip, &code, found).await {
        Ok(data) => {
            view.l.title = format!("Les données du carnet {}", data.pass_code);
            view.code = data.pass_code.clone();
            view.data = Some(data);
        }
        Err(e @ (Error::Unprocessable { .. } | Error::NotFound(_))) => {
            view.l.title = format!("Erreur : {}", view.l.title);
            view.error = Some(e.public_message())
        }
        Err(e) => return Err(e.into()),
    }
    page(view)
}

#[derive(Deserialize)]
struct EraseForm {
    code: String,
}

/// "Effacer mon adresse e-mail": asks first, then erases once and shows the carnet's data.
async fn erase_email(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    form: Form<EraseForm>,
) -> WebResult {
    let code = form.data.code.trim().to_string();
    state.public_lookup(ip, &code).await?;
    let back = format!(
        "/mes-donnees?{}",
        serde_urlencoded::to_string([("code", code.as_str())]).unwrap_or_default()
    );
    if !form.confirmed() {
        // Built from the carnet as it is now: an unknown code answers its error here.
        let data = {
            let mut conn = state.db.read().await?;
            rights::carnet_data(&mut conn, &code, state.clock.today()).await
        };
        let data = state.public_lookup_done(ip, &code, data).await?;
        let question = match &data.email {
            Some(masked) => format!("Effacer l'adresse e-mail {masked} de votre carnet ?"),
            None => "Effacer l'adresse e-mail de votre carnet ?".to_string(),
        };
        return confirm::ask(
            &state,
            &form,
            Confirmation::new(question, "Oui, effacer mon adresse e-mail")
                .then(
                    "Vous ne recevrez plus d'e-mail pour ce carnet, par exemple pour vous \
                     prévenir de la fin de ses chèques.",
                )
                .then(
                    "Votre carnet et ses chèques restent utilisables. L'effacement est \
                     définitif : pour recevoir à nouveau des e-mails, demandez-le à \
                     l'organisme qui vous a remis le carnet.",
                )
                .back_to(back),
        );
    }
    let now = state.clock.now();
    let erasing = code.clone();
    let erased = state
        .write(form.visitor.origin(), form.key("public"), move |tx| {
            Box::pin(async move { rights::erase_email(tx, &erasing, now).await })
        })
        .await;
    state.public_lookup_done(ip, &code, erased).await?;
    see_other(&format!("{back}&fait=email-efface"))
}
