//! Logging in and out, and accepting an invitation to choose a password.

use super::form_errors::FormErrors;
use super::session::{build_cookie, local_path, with_suite, Form};
use super::{page, see_other, Layout, Visitor, WebError, WebResult, SESSION_COOKIE};
use crate::app::AppState;
use crate::error::Error;
use crate::http::extract::ClientIp;
use crate::users::{self, links::Purpose, LogIn, Stage};
use askama::Template;
use axum::extract::{Path, Query, State};
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
    /// Said first: the password just changed.
    notice: Option<String>,
    proconnect: bool,
    /// The page asked for before login, to land on after (empty: the person's home).
    suite: String,
}

impl Login {
    /// The ProConnect way in, keeping the page asked for.
    fn proconnect_link(&self) -> String {
        with_suite("/connexion/proconnect", &self.suite)
    }
}

/// The page asked for before login (`?suite=`), kept through the login's steps.
#[derive(Deserialize, Default)]
pub(super) struct Suite {
    #[serde(default)]
    pub suite: String,
}

impl Suite {
    /// The page to land on once signed in: the one asked for if it is one of this site's,
    /// else `home`.
    pub fn or<'a>(&'a self, home: &'a str) -> &'a str {
        local_path(&self.suite).unwrap_or(home)
    }

    /// Only a page of this site is kept (the rest is dropped before reaching a form).
    pub fn kept(&self) -> String {
        local_path(&self.suite).unwrap_or_default().to_string()
    }
}

/// What the login page is opened with: the page asked for, and after a new password, the
/// link that set it (`?fait=mot-de-passe&lien=…`, to say so and fill in the address).
#[derive(Deserialize)]
struct LoginQuery {
    #[serde(flatten)]
    suite: Suite,
    #[serde(default)]
    fait: String,
    #[serde(default)]
    lien: String,
}

async fn login_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<LoginQuery>,
) -> WebResult {
    let suite = query.suite;
    if let Some(s) = &visitor.signed {
        let home = super::session::home_of(s.org.kind);
        return Err(WebError::Redirect(suite.or(home).into()));
    }
    if let Some(step) = visitor.next_step() {
        return Err(WebError::Redirect(with_suite(step, &suite.suite)));
    }
    let (mut notice, mut email) = (None, String::new());
    if query.fait == "mot-de-passe" {
        let link = match query.lien.as_str() {
            "" => None,
            token => {
                let mut conn = state.db.read().await?;
                users::links::find(&mut conn, token, state.clock.now()).await?
            }
        };
        // Only a link that has served: an unused one names nobody who set a password.
        let link = link.filter(|l| !l.usable);
        notice = Some(match &link {
            Some(l) if l.purpose == Purpose::Reset => {
                "Votre mot de passe est changé. Connectez-vous avec votre nouveau mot de passe. \
                 Nous vous avons aussi prévenu par e-mail."
            }
            _ => "Votre mot de passe est enregistré. Connectez-vous pour entrer dans votre espace.",
        }
        .to_string());
        email = link.map(|l| l.email).unwrap_or_default();
    }
    page(Login {
        l: Layout::new(&state, &visitor, "Connexion à l'espace professionnel"),
        email,
        errors: FormErrors::none(),
        notice,
        proconnect: state.proconnect.is_some(),
        suite: suite.kept(),
    })
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    #[serde(flatten)]
    suite: Suite,
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
                notice: None,
                proconnect: state.proconnect.is_some(),
                suite: data.suite.kept(),
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
        Stage::Signed => data.suite.or(super::session::home_of(org.kind)).to_string(),
        other => with_suite(super::session::step_page(other), &data.suite.suite),
    };
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response())
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
    /// A link to reset a forgotten password (not an invitation).
    reset: bool,
    /// A link never sent (or mistyped): neither kind is known.
    unknown: bool,
    /// Where to ask a new reset link, the account's address filled in.
    ask_again: String,
}

impl Invitation {
    /// The page for this link as it is now.
    async fn of(state: &AppState, visitor: &Visitor, token: String) -> Result<Self, WebError> {
        let link = {
            let mut conn = state.db.read().await?;
            users::links::find(&mut conn, &token, state.clock.now()).await?
        };
        let reset = link.as_ref().is_some_and(|l| l.purpose == Purpose::Reset);
        let title = match reset {
            true => "Choisir un nouveau mot de passe",
            false => "Choisir mon mot de passe",
        };
        let email = link.as_ref().map(|l| l.email.as_str()).unwrap_or_default();
        Ok(Invitation {
            l: Layout::new(state, visitor, title),
            valid: link.as_ref().is_some_and(|l| l.usable),
            unknown: link.is_none(),
            ask_again: forgot_link(email),
            token,
            errors: FormErrors::none(),
            reset,
        })
    }
}

/// "Mot de passe oublié", with the address filled in when known.
fn forgot_link(email: &str) -> String {
    match email {
        "" => "/mot-de-passe-oublie".to_string(),
        email => format!(
            "/mot-de-passe-oublie?{}",
            serde_urlencoded::to_string([("email", email)]).unwrap_or_default()
        ),
    }
}

async fn invitation_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(token): Path<String>,
) -> WebResult {
    page(Invitation::of(&state, &visitor, token).await?)
}

#[derive(Deserialize)]
struct PasswordForm {
    password: String,
    confirmation: String,
}

/// The password is saved: the login page says so (see [`Done`]), the address filled in.
async fn accept_invitation(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form { visitor, data, .. }: Form<PasswordForm>,
) -> WebResult {
    if data.password != data.confirmation {
        let mut view = Invitation::of(&state, &visitor, token).await?;
        view.errors = FormErrors::one(
            "confirmation",
            "Les deux mots de passe ne sont pas identiques : tapez le même deux fois.",
        );
        view.l.title = view.errors.page_title(&view.l.title);
        return page(view);
    }
    let now = state.clock.now();
    let letterhead = state.letterhead();
    let used = token.clone();
    let accepted = state
        .db
        .transact(visitor.origin(), move |tx| {
            Box::pin(async move {
                users::accept_invitation(tx, &letterhead, &used, &data.password, now).await
            })
        })
        .await;
    match accepted {
        Ok(_) => see_other(&format!("/connexion?fait=mot-de-passe&lien={token}")),
        Err(e @ (Error::Unprocessable { .. } | Error::Gone { .. })) => {
            let mut view = Invitation::of(&state, &visitor, token).await?;
            // A spent link: the page says it, and what to do, once.
            if !matches!(e, Error::Gone { .. }) {
                view.errors = FormErrors::one("password", e.public_message());
                view.l.title = view.errors.page_title(&view.l.title);
            }
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
        None => Err(WebError::Redirect(visitor.sign_in_page())),
    }
}

#[derive(Template)]
#[template(path = "auth/forgot.html")]
struct Forgot {
    l: Layout,
    sent: bool,
    /// Filled in when known (from a spent reset link), kept when refused.
    email: String,
    errors: FormErrors,
}

async fn forgot_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(asked): Query<ForgotForm>,
) -> WebResult {
    page(Forgot {
        l: Layout::new(&state, &visitor, "Mot de passe oublié"),
        sent: false,
        email: asked.email,
        errors: FormErrors::none(),
    })
}

#[derive(Deserialize)]
struct ForgotForm {
    #[serde(default)]
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
