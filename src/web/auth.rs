//! Logging in and out, and accepting an invitation to choose a password.

use super::form_errors::FormErrors;
use super::session::{build_cookie, Form};
use super::{page, Layout, Visitor, WebError, WebResult, SESSION_COOKIE};
use crate::app::AppState;
use crate::error::Error;
use crate::http::extract::ClientIp;
use crate::users::{LogIn, Stage};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/connexion", get(login_form).post(login))
        .route("/deconnexion", post(logout))
        .route(
            "/invitation/{token}",
            get(invitation_form).post(accept_invitation),
        )
        .route("/espace", get(space))
        .route("/mot-de-passe-oublie", get(forgot_form).post(forgot))
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct Login {
    l: Layout,
    email: String,
    errors: FormErrors,
    proconnect: bool,
}

async fn login_form(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    if let Some(s) = &visitor.signed {
        return Err(WebError::Redirect(
            super::session::home_of(s.org.kind).into(),
        ));
    }
    if let Some(step) = visitor.next_step() {
        return Err(WebError::Redirect(step.into()));
    }
    page(Login {
        l: Layout::new(&state, &visitor, "Connexion à l'espace professionnel"),
        email: String::new(),
        errors: FormErrors::none(),
        proconnect: state.proconnect.is_some(),
    })
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Form { visitor, data, .. }: Form<LoginForm>,
) -> WebResult {
    let now = state.clock.now();
    let keys = [
        format!("ip:{ip}"),
        format!("account:{}", data.email.trim().to_lowercase()),
    ];
    state.logins.check(state.db.reads(), &keys, now).await?;
    let letterhead = state.letterhead();
    let (email, password) = (data.email.clone(), data.password);
    let outcome = state
        .db
        .transact(visitor.origin(), move |tx| {
            Box::pin(
                async move { crate::users::log_in(tx, &letterhead, &email, &password, now).await },
            )
        })
        .await?;
    let (session, org, stage) = match outcome {
        LogIn::Opened {
            session,
            org,
            stage,
        } => (session, org, stage),
        LogIn::Refused(e @ Error::RateLimited { .. }) => return Err(e.into()),
        LogIn::Refused(e) => {
            state.logins.record(&keys, now).await?;
            let errors = FormErrors::one("email", e.public_message());
            let title = errors.page_title("Connexion à l'espace professionnel");
            return page(Login {
                l: Layout::new(&state, &visitor, title),
                email: data.email,
                errors,
                proconnect: state.proconnect.is_some(),
            });
        }
    };
    let cookie = build_cookie(
        &state,
        SESSION_COOKIE,
        session.token,
        crate::users::SESSION_HOURS * 3600,
    );
    let next = match stage {
        Stage::Signed => super::session::home_of(org.kind),
        other => super::session::step_page(other),
    };
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(next)).into_response())
}

#[derive(Deserialize)]
struct Nothing {}

/// Ends the session; one opened with ProConnect goes on to end the provider's session too.
async fn logout(State(state): State<AppState>, Form { visitor, .. }: Form<Nothing>) -> WebResult {
    let mut next = "/".to_string();
    if let Some(token) = visitor.session_token.clone() {
        let id_token = state
            .db
            .transact(visitor.origin(), move |tx| {
                Box::pin(async move { crate::users::end_session(tx, &token).await })
            })
            .await?;
        if let (Some(id_token), Some(provider)) = (id_token, &state.proconnect) {
            match provider.end_session(&id_token).await {
                Ok(Some(url)) => next = url,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "ProConnect logout skipped"),
            }
        }
    }
    let cookie = build_cookie(&state, SESSION_COOKIE, String::new(), 0);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response())
}

#[derive(Template)]
#[template(path = "auth/invitation.html")]
struct Invitation {
    l: Layout,
    token: String,
    valid: bool,
    errors: FormErrors,
}

async fn invitation_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(token): Path<String>,
) -> WebResult {
    let mut conn = state.db.read().await?;
    let valid = crate::users::invitation_is_valid(&mut conn, &token, state.clock.now()).await?;
    page(Invitation {
        l: Layout::new(&state, &visitor, "Choisir mon mot de passe"),
        token,
        valid,
        errors: FormErrors::none(),
    })
}

#[derive(Deserialize)]
struct PasswordForm {
    password: String,
    confirmation: String,
}

async fn accept_invitation(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form { visitor, data, .. }: Form<PasswordForm>,
) -> WebResult {
    let mut view = Invitation {
        l: Layout::new(&state, &visitor, "Choisir mon mot de passe"),
        token: token.clone(),
        valid: true,
        errors: FormErrors::none(),
    };
    if data.password != data.confirmation {
        view.errors = FormErrors::one(
            "confirmation",
            "Les deux mots de passe ne sont pas identiques : tapez le même deux fois.",
        );
        view.l.title = view.errors.page_title(&view.l.title);
        return page(view);
    }
    let now = state.clock.now();
    let accepted = state
        .db
        .transact(visitor.origin(), move |tx| {
            Box::pin(async move {
                crate::users::accept_invitation(tx, &token, &data.password, now).await
            })
        })
        .await;
    match accepted {
        Ok(_) => Err(WebError::Redirect("/connexion".into())),
        Err(Error::Gone { .. }) => {
            view.valid = false;
            page(view)
        }
        Err(e @ Error::Unprocessable { .. }) => {
            view.errors = FormErrors::one("password", e.public_message());
            view.l.title = view.errors.page_title(&view.l.title);
            page(view)
        }
        Err(e) => Err(e.into()),
    }
}

/// The signed-in person's home, whatever their role.
async fn space(visitor: Visitor) -> WebResult {
    match &visitor.signed {
        Some(s) => Err(WebError::Redirect(
            super::session::home_of(s.org.kind).into(),
        )),
        None => Err(WebError::Redirect(
            visitor.next_step().unwrap_or("/connexion").into(),
        )),
    }
}

#[derive(Template)]
#[template(path = "auth/forgot.html")]
struct Forgot {
    l: Layout,
    sent: bool,
    email: String,
    errors: FormErrors,
}

async fn forgot_form(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    page(Forgot {
        l: Layout::new(&state, &visitor, "Mot de passe oublié"),
        sent: false,
        email: String::new(),
        errors: FormErrors::none(),
    })
}

#[derive(Deserialize)]
struct ForgotForm {
    email: String,
}

/// Sends a one-time link if the account exists; the answer is the same page either way, so it
/// tells nobody which addresses have an account. Limited per address and per e-mail.
async fn forgot(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Form { visitor, data, .. }: Form<ForgotForm>,
) -> WebResult {
    let now = state.clock.now();
    let email = data.email.trim().to_lowercase();
    let keys = [format!("ip:{ip}"), format!("to:{email}")];
    state.mail_forms.count(&keys, now).await?;
    let letterhead = state.letterhead();
    let requested = state
        .db
        .transact(visitor.origin(), move |tx| {
            Box::pin(async move { crate::users::request_reset(tx, &letterhead, &email, now).await })
        })
        .await;
    let errors = match requested {
        Ok(()) => FormErrors::none(),
        Err(e @ Error::Unprocessable { .. }) => FormErrors::one("email", e.public_message()),
        Err(e) => return Err(e.into()),
    };
    page(Forgot {
        l: Layout::new(&state, &visitor, errors.page_title("Mot de passe oublié")),
        sent: errors.is_empty(),
        email: data.email,
        errors,
    })
}
