//! Logging in and out, and accepting an invitation to choose a password.

use super::session::{build_cookie, Form};
use super::{page, Layout, Visitor, WebError, WebResult, SESSION_COOKIE};
use crate::error::Error;
use crate::http::extract::ClientIp;
use crate::http::AppState;
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
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct Login {
    l: Layout,
    email: String,
    error: Option<String>,
}

async fn login_form(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    if let Some(s) = &visitor.signed {
        return Err(WebError::Redirect(
            super::session::home_of(s.org.kind).into(),
        ));
    }
    page(Login {
        l: Layout::new(&state, &visitor, "Connexion à l'espace professionnel"),
        email: String::new(),
        error: None,
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
    Form { visitor, data }: Form<LoginForm>,
) -> WebResult {
    let now = state.clock.now();
    let keys = [
        format!("ip:{ip}"),
        format!("account:{}", data.email.trim().to_lowercase()),
    ];
    for key in &keys {
        if let Some(retry_after_secs) = state.logins.blocked(key, now) {
            return Err(Error::RateLimited { retry_after_secs }.into());
        }
    }
    let mut tx = state.db.begin().await?;
    let user = match crate::users::login(&mut tx, &data.email, &data.password, now).await {
        Ok(user) => user,
        Err(e @ Error::Unprocessable { .. }) => {
            tx.commit().await?;
            for key in &keys {
                state.logins.record(key, now);
            }
            return page(Login {
                l: Layout::new(&state, &visitor, "Connexion à l'espace professionnel"),
                email: data.email,
                error: Some(e.public_message()),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let session = crate::users::start_session(&mut tx, &user.id, now).await?;
    let org = crate::orgs::find(&mut tx, &user.org_id)
        .await?
        .ok_or_else(|| Error::not_found("Votre organisation n'existe plus."))?;
    tx.commit().await?;
    let cookie = build_cookie(
        &state,
        SESSION_COOKIE,
        session.token,
        crate::users::SESSION_HOURS * 3600,
    );
    Ok((
        [(header::SET_COOKIE, cookie)],
        Redirect::to(super::session::home_of(org.kind)),
    )
        .into_response())
}

#[derive(Deserialize)]
struct Nothing {}

async fn logout(State(state): State<AppState>, Form { visitor, .. }: Form<Nothing>) -> WebResult {
    if let Some(token) = &visitor.session_token {
        let mut conn = state.db.write.acquire().await?;
        crate::users::end_session(&mut conn, token).await?;
    }
    let cookie = build_cookie(&state, SESSION_COOKIE, String::new(), 0);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response())
}

#[derive(Template)]
#[template(path = "auth/invitation.html")]
struct Invitation {
    l: Layout,
    token: String,
    valid: bool,
    error: Option<String>,
}

async fn invitation_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(token): Path<String>,
) -> WebResult {
    let mut conn = state.db.read.acquire().await?;
    let valid = crate::users::invitation_is_valid(&mut conn, &token, state.clock.now()).await?;
    page(Invitation {
        l: Layout::new(&state, &visitor, "Choisir mon mot de passe"),
        token,
        valid,
        error: None,
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
    Form { visitor, data }: Form<PasswordForm>,
) -> WebResult {
    let mut view = Invitation {
        l: Layout::new(&state, &visitor, "Choisir mon mot de passe"),
        token: token.clone(),
        valid: true,
        error: None,
    };
    if data.password != data.confirmation {
        view.error = Some("Les deux mots de passe ne sont pas identiques.".into());
        return page(view);
    }
    let mut tx = state.db.begin().await?;
    match crate::users::accept_invitation(&mut tx, &token, &data.password, state.clock.now()).await
    {
        Ok(_) => {
            tx.commit().await?;
            Err(WebError::Redirect("/connexion".into()))
        }
        Err(e @ (Error::Unprocessable { .. } | Error::Gone { .. })) => {
            view.valid = !matches!(e, Error::Gone { .. });
            view.error = Some(e.public_message());
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
        None => Err(WebError::Redirect("/connexion".into())),
    }
}
