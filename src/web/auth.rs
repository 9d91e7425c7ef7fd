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
        .route("/mot-de-passe-oublie", get(forgot_form).post(forgot))
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
    if let Some(retry_after_secs) = state.logins.blocked(&state.db.read, &keys, now).await? {
        return Err(Error::RateLimited { retry_after_secs }.into());
    }
    let mut tx = state.db.begin().await?;
    let user =
        match crate::users::login(&mut tx, &state.config, &data.email, &data.password, now).await {
            Ok(user) => user,
            Err(e @ Error::Unprocessable { .. }) => {
                tx.commit().await?;
                state.logins.record(&keys, now).await?;
                return page(Login {
                    l: Layout::new(&state, &visitor, "Connexion à l'espace professionnel"),
                    email: data.email,
                    error: Some(e.public_message()),
                });
            }
            Err(e @ Error::RateLimited { .. }) => {
                // Keep the audit entry of the refused attempt.
                tx.commit().await?;
                return Err(e.into());
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

#[derive(Template)]
#[template(path = "auth/forgot.html")]
struct Forgot {
    l: Layout,
    sent: bool,
}

async fn forgot_form(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    page(Forgot {
        l: Layout::new(&state, &visitor, "Mot de passe oublié"),
        sent: false,
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
    Form { visitor, data }: Form<ForgotForm>,
) -> WebResult {
    let now = state.clock.now();
    let email = data.email.trim().to_lowercase();
    let keys = [format!("reset-ip:{ip}"), format!("reset-account:{email}")];
    if let Some(retry_after_secs) = state.logins.record(&keys, now).await? {
        return Err(Error::RateLimited { retry_after_secs }.into());
    }
    let mut tx = state.db.begin().await?;
    if let Some((user, token)) = crate::users::request_reset(&mut tx, &email, now).await? {
        crate::mail::enqueue(&mut tx, &reset_mail(&state, &user, &token), now).await?;
        crate::audit::origin::set_user(&user.id);
        crate::audit::record(
            &mut tx,
            &crate::clock::format_ts(now),
            Some(&user.org_id),
            "password.reset_requested",
            Some(&user.id),
            "lien envoyé par e-mail",
        )
        .await?;
    }
    tx.commit().await?;
    page(Forgot {
        l: Layout::new(&state, &visitor, "Mot de passe oublié"),
        sent: true,
    })
}

fn reset_mail(state: &AppState, user: &crate::users::User, token: &str) -> crate::mail::Outgoing {
    let url = state.config.public_url.trim_end_matches('/');
    crate::mail::Outgoing {
        to: user.email.clone(),
        subject: "Choisir un nouveau mot de passe pour le Pass numérique".into(),
        text_body: format!(
            "Bonjour {name},\n\n\
             Vous avez demandé à changer le mot de passe de votre compte ({email}). \
             Pour en choisir un nouveau, ouvrez ce lien. Il ne sert qu'une fois et n'est \
             valable qu'une heure :\n\
             {url}/invitation/{token}\n\n\
             Vous n'avez rien demandé ? Ignorez ce message : votre mot de passe ne change pas.\n\
             Besoin d'aide ? Appelez le {phone} ou écrivez à {help}.\n",
            name = user.name,
            email = user.email,
            phone = state.config.helpline_phone,
            help = state.config.helpline_email,
        ),
        html_body: None,
        attachments: Vec::new(),
    }
}
