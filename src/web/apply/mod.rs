//! A mediation structure applies, with no account and no JavaScript: the application form in
//! four labelled steps (each checked before the next, places added with a submit button that
//! redraws the form, what was typed carried along in hidden fields), a recap to check before
//! sending, the charter, and the private follow-up page (`follow`) where it reads where its
//! application stands and corrects it when asked.

mod follow;
mod form;

use super::session::Form;
use super::{page, see_other, with_status, Layout, Visitor, WebResult};
use crate::app::AppState;
use crate::error::Error;
use crate::http::extract::ClientIp;
use crate::sites::applications::{self, Draft, PlaceDraft};
use crate::web::form_errors::FormErrors;
use askama::Template;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::Router;
use form::{errors_of, read, step_of, with_one_more_place, Fields, ALL, RECAP, STEPS};
use serde::{Deserialize, Serialize};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/candidature", get(new_form).post(submit))
        .route("/candidature/envoyee", get(sent))
        .route("/candidature/charte", get(charter))
        .route(
            "/candidature/suivi/{token}",
            get(follow::follow).post(follow::resubmit),
        )
}

#[derive(Template)]
#[template(path = "apply/form.html")]
struct FormPage {
    l: Layout,
    f: Fields,
}

#[derive(Template)]
#[template(path = "apply/recap.html")]
struct RecapPage {
    l: Layout,
    f: Fields,
}

/// Draws the form at `step` (or the recap), with its mistakes.
async fn render_form(
    state: &AppState,
    visitor: &Visitor,
    draft: Draft,
    errors: FormErrors,
    step: usize,
) -> WebResult {
    let mut conn = state.db.read().await?;
    let questions = applications::questions(&mut conn, true).await?;
    let f = Fields::new(draft, &questions, errors, step);
    if step == RECAP {
        return page(RecapPage {
            l: Layout::new(state, visitor, "Vérifier ma candidature"),
            f,
        });
    }
    let title = f.errors.page_title("Candidater au Pass numérique");
    page(FormPage {
        l: Layout::new(state, visitor, title),
        f,
    })
}

/// An application sends e-mails to the address it gives: a few per window, from one address
/// and to one recipient, so that the form cannot relay mail. Checked before, counted once sent.
fn mail_keys(ip: std::net::IpAddr, draft: &Draft) -> [String; 2] {
    let to = draft.contact_email.trim().to_lowercase();
    [format!("ip:{ip}"), format!("to:{to}")]
}

/// Whose one-time form tokens these are: applicants are not signed in, and the token alone,
/// random and single-use, tells one form from another.
const ANYONE: &str = "public";

async fn new_form(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    let draft = Draft {
        places: vec![PlaceDraft::default()],
        ..Default::default()
    };
    render_form(&state, &visitor, draft, FormErrors::none(), 1).await
}

/// The mistakes a draft still has (all of them, under the form's elements), and whether its
/// SIRET is already taken, which is worth knowing from the first step.
async fn mistakes(state: &AppState, draft: &Draft, siret_too: bool) -> WebResult<FormErrors> {
    let mut conn = state.db.read().await?;
    let mut errors = match applications::check_draft(&mut conn, draft).await {
        Ok(()) => FormErrors::none(),
        Err(e @ Error::Fields(_)) => errors_of(&e),
        Err(e) => return Err(e.into()),
    };
    if siret_too && !errors.has("siret") {
        match applications::check_siret_free(&mut conn, &state.config, &draft.siret, "").await {
            Ok(()) => {}
            Err(e @ Error::Conflict { .. }) => errors.push("siret", e.public_message()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(errors)
}

/// One button of the form: move between steps, add a place, see the recap, or send.
async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    form: Form<Vec<(String, String)>>,
) -> WebResult {
    let action = form
        .fields()
        .iter()
        .find(|(k, _)| k == "action")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let (draft, step) = read(form.fields());
    let visitor = &form.visitor;
    match action.as_str() {
        "ajouter_lieu" => {
            let draft = with_one_more_place(draft);
            render_form(
                &state,
                visitor,
                draft,
                FormErrors::none(),
                step.min(RECAP - 1),
            )
            .await
        }
        "precedent" => {
            let back = step.clamp(2, RECAP) - 1;
            render_form(&state, visitor, draft, FormErrors::none(), back).await
        }
        "suivant" if (1..=STEPS.len()).contains(&step) => {
            let all = mistakes(&state, &draft, step == 1).await?;
            let here = all.filter(|id| step_of(id) == step);
            if !here.is_empty() {
                let status = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
                return with_status(
                    status,
                    render_form(&state, visitor, draft, here, step).await,
                );
            }
            if step < STEPS.len() {
                return render_form(&state, visitor, draft, FormErrors::none(), step + 1).await;
            }
            recap_or_mistakes(&state, visitor, draft).await
        }
        "envoyer" => send(&state, ip, form, draft).await,
        other => match other.strip_prefix("etape_").and_then(|n| n.parse().ok()) {
            Some(n) if (1..=STEPS.len()).contains(&n) => {
                render_form(&state, visitor, draft, FormErrors::none(), n).await
            }
            _ => recap_or_mistakes(&state, visitor, draft).await,
        },
    }
}

/// The recap, when nothing is left to correct; otherwise every part on one page, with every
/// mistake.
async fn recap_or_mistakes(state: &AppState, visitor: &Visitor, draft: Draft) -> WebResult {
    let errors = mistakes(state, &draft, true).await?;
    if errors.is_empty() {
        return render_form(state, visitor, draft, errors, RECAP).await;
    }
    let status = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    with_status(
        status,
        render_form(state, visitor, draft, errors, ALL).await,
    )
}

/// What sending saves as its answer to a second click: the application's id, and its
/// follow-up token sealed with the visitor's CSRF secret (which only their browser holds), so
/// that the database never holds the token itself while the second click still shows it.
#[derive(Serialize, Deserialize)]
struct Sent {
    id: String,
    sealed: String,
}

/// XORs the token's 32 bytes with HMAC-SHA256(secret, id): sealing and opening are the same.
fn seal(secret: &str, id: &str, bytes: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key size");
    mac.update(b"passnum follow link v1:");
    mac.update(id.as_bytes());
    let stream = mac.finalize().into_bytes();
    bytes
        .iter()
        .zip(stream.iter())
        .map(|(a, b)| a ^ b)
        .collect()
}

fn seal_token(secret: &str, id: &str, token: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let raw = URL_SAFE_NO_PAD.decode(token).unwrap_or_default();
    data_encoding::HEXLOWER.encode(&seal(secret, id, &raw))
}

fn open_token(secret: &str, sent: &Sent) -> Option<String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let sealed = data_encoding::HEXLOWER
        .decode(sent.sealed.as_bytes())
        .ok()?;
    (sealed.len() == 32).then(|| URL_SAFE_NO_PAD.encode(seal(secret, &sent.id, &sealed)))
}

async fn send(
    state: &AppState,
    ip: std::net::IpAddr,
    form: Form<Vec<(String, String)>>,
    draft: Draft,
) -> WebResult {
    let key = form.key(ANYONE);
    let visitor = form.visitor;
    let keys = mail_keys(ip, &draft);
    let now = state.clock.now();
    state.mail_forms.check(state.db.reads(), &keys, now).await?;
    let (config, sent, secret) = (
        state.config.clone(),
        draft.clone(),
        visitor.csrf().to_string(),
    );
    // Sent twice (a double click), it is stored and acknowledged once.
    let submitted = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move {
                let (id, token) = applications::submit(tx, &config, &sent, now).await?;
                let sealed = seal_token(&secret, &id, &token);
                Ok(Sent { id, sealed })
            })
        })
        .await;
    match submitted {
        Ok(sent) => {
            state.mail_forms.record(&keys, now).await?;
            match open_token(visitor.csrf(), &sent) {
                Some(token) => see_other(&format!("/candidature/envoyee?suivi={token}")),
                None => see_other("/candidature/envoyee"),
            }
        }
        Err(e @ Error::Fields(_)) => with_status(
            e.status(),
            render_form(state, &visitor, draft, errors_of(&e), ALL).await,
        ),
        Err(e @ Error::Conflict { .. }) => with_status(
            e.status(),
            render_form(state, &visitor, draft, errors_of(&e), 1).await,
        ),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "apply/sent.html")]
struct SentPage {
    l: Layout,
    /// The private follow-up link's token, when this browser sent the application.
    token: Option<String>,
    public_url: String,
}

#[derive(Deserialize)]
struct SentQuery {
    suivi: Option<String>,
}

async fn sent(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(q): Query<SentQuery>,
) -> WebResult {
    let token = q.suivi.filter(|t| {
        !t.is_empty()
            && t.len() <= 100
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    page(SentPage {
        l: Layout::new(&state, &visitor, "Candidature envoyée"),
        token,
        public_url: state.config.public_url.trim_end_matches('/').to_string(),
    })
}

#[derive(Template)]
#[template(path = "apply/charter.html")]
struct CharterPage {
    l: Layout,
}

async fn charter(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    page(CharterPage {
        l: Layout::new(&state, &visitor, "Charte des lieux du Pass numérique"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_token_opens_only_with_its_secret() {
        let token = crate::users::random_token();
        let sent = Sent {
            id: "app-1".into(),
            sealed: seal_token("csrf-a", "app-1", &token),
        };
        assert!(!sent.sealed.contains(&token));
        assert_eq!(open_token("csrf-a", &sent).as_deref(), Some(token.as_str()));
        assert_ne!(open_token("csrf-b", &sent).as_deref(), Some(token.as_str()));
    }
}
