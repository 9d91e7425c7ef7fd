//! Organisations: create one, invite its people, qualify or suspend a site, issue API tokens.

use super::journal::{journal_rows, JournalRow};
use super::{find_org, kind_label, qualification_in_words, require_operator, shown};
use crate::app::AppState;
use crate::fr::long_date_text;
use crate::orgs::{self, NewOrganization, OrgKind, Organization};
use crate::sites::qualification::{self, Decision, QualificationChange, Status};
use crate::users::{self, NewUser, User};
use crate::web::account::TokenLine;
use crate::web::form_errors::FormErrors;
use crate::web::session::Form;
use crate::web::{page, see_other, with_status, Layout, Visitor, WebResult};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use jiff::ToSpan;
use serde::Deserialize;

pub struct OrgRow {
    pub id: String,
    pub name: String,
    pub place: String,
    pub siret: String,
    pub qualification: &'static str,
    pub until: String,
}

pub struct Group {
    pub title: &'static str,
    pub empty: &'static str,
    pub is_site: bool,
    pub rows: Vec<OrgRow>,
}

#[derive(Deserialize, Default)]
pub(super) struct NewOrgForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    siret: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    postcode: String,
    #[serde(default)]
    time_zone: String,
}

#[derive(Template)]
#[template(path = "operator/home.html")]
struct Home {
    l: Layout,
    section: &'static str,
    groups: Vec<Group>,
    errors: FormErrors,
    form: NewOrgForm,
}

pub(super) async fn home(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    require_operator(&visitor)?;
    render_home(&state, &visitor, FormErrors::none(), NewOrgForm::default()).await
}

async fn render_home(
    state: &AppState,
    visitor: &Visitor,
    errors: FormErrors,
    form: NewOrgForm,
) -> WebResult {
    let mut conn = state.db.read().await?;
    let all = orgs::list(&mut conn).await?;
    let today = state.clock.today();
    let groups = [
        (OrgKind::Funder, "Financeurs", "Aucun financeur."),
        (OrgKind::Distributor, "Distributeurs", "Aucun distributeur."),
        (OrgKind::Site, "Lieux de médiation", "Aucun lieu."),
        (OrgKind::Operator, "Opérateur", "Aucune organisation."),
    ]
    .into_iter()
    .map(|(kind, title, empty)| Group {
        title,
        empty,
        is_site: kind == OrgKind::Site,
        rows: all
            .iter()
            .filter(|o| o.kind == kind)
            .map(|o| {
                let (qualification, until) = qualification_in_words(o, today);
                OrgRow {
                    id: o.id.clone(),
                    name: o.name.clone(),
                    place: [o.postcode.as_deref(), o.department.as_deref()]
                        .into_iter()
                        .flatten()
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                    siret: o.siret.clone().unwrap_or_default(),
                    qualification,
                    until,
                }
            })
            .collect(),
    })
    .collect();
    page(Home {
        l: Layout::new(state, visitor, errors.page_title("Organisations")),
        section: "orgs",
        groups,
        errors,
        form,
    })
}

pub(super) async fn create_org(State(state): State<AppState>, form: Form<NewOrgForm>) -> WebResult {
    let operator = require_operator(&form.visitor)?;
    let data = &form.data;
    let new = NewOrganization {
        kind: data.kind.clone(),
        name: data.name.clone(),
        siret: Some(data.siret.clone()),
        department: Some(data.department.clone()),
        postcode: Some(data.postcode.clone()),
        time_zone: Some(data.time_zone.clone()),
    };
    let now = state.clock.now();
    let org = operator.org.clone();
    let created = state
        .write(form.visitor.origin(), form.key(&org.id), move |tx| {
            Box::pin(async move { orgs::create(tx, &org, new, now).await })
        })
        .await;
    match created {
        Ok(org) => see_other(&format!("/operateur/organisations/{}", org.id)),
        Err(e) if shown(&e) => {
            let errors = FormErrors::from_error(&e, |code| org_field(code).to_string());
            with_status(
                e.status(),
                render_home(&state, &form.visitor, errors, form.data).await,
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// The field of the organisation form a refusal is about.
fn org_field(code: &str) -> &'static str {
    match code {
        "invalid_kind" => "kind",
        c if c.contains("siret") => "siret",
        "invalid_department" => "department",
        "invalid_postcode" => "postcode",
        "invalid_time_zone" => "time_zone",
        _ => "name",
    }
}

/// The field of the organisation page's forms a refusal is about, if one.
fn org_page_field(code: &str) -> Option<&'static str> {
    match code {
        "invalid_name" => Some("name"),
        "invalid_role" => Some("role-agent"),
        "invalid_email" | "email_taken" => Some("email"),
        "invalid_date" => Some("valid_until"),
        c if c.contains("reason") => Some("reason"),
        _ => None,
    }
}

/// The form of the organisation page holding the field `id`.
fn form_of(id: &str) -> &'static str {
    match id {
        "valid_until" => "qualify",
        "reason" => "suspend",
        _ => "invite",
    }
}

pub struct Person {
    pub id: String,
    pub second_factor: bool,
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub state: &'static str,
}

impl Person {
    fn of(u: &User, enrolled: &[String]) -> Person {
        Person {
            id: u.id.clone(),
            second_factor: enrolled.contains(&u.id),
            name: u.name.clone(),
            email: u.email.clone(),
            role: u.role.label(),
            state: if u.disabled_at.is_some() {
                "Désactivé"
            } else if u.password_hash.is_none() {
                "Invité, n'a pas encore choisi son mot de passe"
            } else {
                "Actif"
            },
        }
    }
}

#[derive(Deserialize)]
pub(super) struct InviteForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

impl InviteForm {
    fn is_admin(&self) -> bool {
        crate::users::Role::from_text(&self.role) == Some(crate::users::Role::Admin)
    }
}

impl Default for InviteForm {
    fn default() -> Self {
        InviteForm {
            name: String::new(),
            email: String::new(),
            role: crate::users::Role::Agent.as_str().into(),
        }
    }
}

/// What the last action on the page did.
#[derive(Default)]
pub(super) struct OrgOutcome {
    pub(super) notice: Option<String>,
    /// A refusal about no field (a token already revoked).
    pub(super) error: Option<String>,
    pub(super) errors: FormErrors,
    /// The form `errors` are about: `invite`, `qualify`, `suspend`.
    pub(super) failed: &'static str,
    /// A new API token, shown this once.
    pub(super) token: Option<String>,
    pub(super) invite: InviteForm,
    pub(super) reason: String,
    /// The end of qualification typed, when refused.
    pub(super) valid_until: String,
}

#[derive(Template)]
#[template(path = "operator/organisation.html")]
struct OrgPage {
    l: Layout,
    section: &'static str,
    org: Organization,
    kind_label: &'static str,
    is_site: bool,
    qualification: &'static str,
    until: String,
    suspension_reason: Option<String>,
    bank: Option<String>,
    people: Vec<Person>,
    rows: Vec<JournalRow>,
    default_until: String,
    today: String,
    notice: Option<String>,
    error: Option<String>,
    errors: FormErrors,
    failed: &'static str,
    token: Option<String>,
    tokens: Vec<TokenLine>,
    invite: InviteForm,
    reason: String,
}

#[derive(Deserialize)]
pub(super) struct OrgQuery {
    /// What was just done: `qualifie`, `suspendu`; `invite`: who was invited.
    fait: Option<String>,
    invite: Option<String>,
}

pub(super) async fn org_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(q): Query<OrgQuery>,
) -> WebResult {
    require_operator(&visitor)?;
    let mut conn = state.db.read().await?;
    let org = find_org(&mut conn, &id).await?;
    drop(conn);
    let notice = match (q.fait.as_deref(), q.invite) {
        (_, Some(who)) => Some(format!(
            "Invitation envoyée à {who}. Le lien pour choisir un mot de passe est valable 7 jours."
        )),
        (Some("suspendu"), _) => Some(format!(
            "{} est suspendu : il ne peut plus encaisser de chèques. Ses membres sont prévenus par e-mail, avec le motif.",
            org.name
        )),
        (Some("revoque"), _) => Some(
            "Le jeton est révoqué : il ne fonctionne plus. Les logiciels qui l'utilisaient \
             ont besoin d'un nouveau jeton."
                .to_string(),
        ),
        (Some("2fa"), _) => Some(
            "La double authentification de cette personne est retirée et ses sessions sont \
             fermées. À sa prochaine connexion, elle en mettra une nouvelle en place."
                .to_string(),
        ),
        (Some("qualifie"), _) => Some(format!(
            "{} est qualifié jusqu'au {}.",
            org.name,
            long_date_text(org.qualified_until.as_deref().unwrap_or_default())
        )),
        _ => None,
    };
    let outcome = OrgOutcome {
        notice,
        ..Default::default()
    };
    render_org(&state, &visitor, &id, outcome).await
}

pub(super) async fn render_org(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    outcome: OrgOutcome,
) -> WebResult {
    let operator = require_operator(visitor)?;
    let mut conn = state.db.read().await?;
    let org = find_org(&mut conn, id).await?;
    let today = state.clock.today();
    let (status, until) = qualification_in_words(&org, today);
    let is_site = org.kind == OrgKind::Site;
    let suspension_reason = if is_site && org.qualification_status == Status::Suspended {
        crate::audit::latest(&mut conn, &org.id, qualification::SUSPENSION_REASON)
            .await?
            .map(|e| e.detail)
    } else {
        None
    };
    let bank = if is_site {
        crate::sites::bank::current_bank_account(&mut conn, &org.id)
            .await?
            .map(|a| format!("{} ({})", crate::sites::bank::mask_iban(&a.iban), a.holder))
    } else {
        None
    };
    let zone = operator.org.zone();
    let tokens = orgs::tokens(&mut conn, &operator.org, &org.id)
        .await?
        .into_iter()
        .map(|t| TokenLine::of(t, &zone))
        .collect();
    let enrolled = users::totp::enrolled_in_org(&mut conn, &org.id).await?;
    let people = users::list_for_org(&mut conn, &org.id)
        .await?
        .iter()
        .map(|u| Person::of(u, &enrolled))
        .collect();
    let mut entries = crate::audit::for_subject(&mut conn, &org.id).await?;
    entries.reverse();
    entries.truncate(20);
    let history = journal_rows(&mut conn, &operator.org, &entries).await?;
    let default_until = if outcome.valid_until.is_empty() {
        today.checked_add(1.year()).unwrap_or(today).to_string()
    } else {
        outcome.valid_until.clone()
    };
    let title = format!("{} — {}", org.name, kind_label(org.kind));
    let title = if outcome.error.is_some() {
        format!("Erreur — {title}")
    } else {
        outcome.errors.page_title(&title)
    };
    let page_response = page(OrgPage {
        l: Layout::new(state, visitor, title),
        section: "",
        kind_label: kind_label(org.kind),
        is_site,
        qualification: status,
        until,
        suspension_reason,
        bank,
        people,
        rows: history,
        default_until,
        today: today.to_string(),
        notice: outcome.notice,
        error: outcome.error,
        errors: outcome.errors,
        failed: outcome.failed,
        token: outcome.token.clone(),
        tokens,
        invite: outcome.invite,
        reason: outcome.reason,
        org,
    });
    if outcome.token.is_some() {
        // The token is shown once: no copy may stay in a cache.
        return page_response.map(|mut r| {
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            r
        });
    }
    page_response
}

pub(super) async fn invite(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<InviteForm>,
) -> WebResult {
    let operator = require_operator(&form.visitor)?;
    let now = state.clock.now();
    let new = NewUser {
        email: form.data.email.clone(),
        name: form.data.name.clone(),
        role: form.data.role.clone(),
    };
    let (org, letterhead, org_id) = (operator.org.clone(), state.letterhead(), id.clone());
    let inviter = operator.user.name.clone();
    let invited = state
        .write(form.visitor.origin(), form.key(&org.id), move |tx| {
            Box::pin(async move {
                let user = users::invite(tx, &org, &org_id, new, &inviter, &letterhead, now);
                let user = user.await?;
                Ok(format!("{} ({})", user.name, user.email))
            })
        })
        .await;
    match invited {
        Ok(email) => {
            let query =
                serde_urlencoded::to_string([("invite", email.as_str())]).unwrap_or_default();
            see_other(&format!("/operateur/organisations/{id}?{query}"))
        }
        Err(e) if shown(&e) => {
            let outcome = OrgOutcome {
                invite: form.data,
                ..refused(&e, "email")
            };
            with_status(
                e.status(),
                render_org(&state, &form.visitor, &id, outcome).await,
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// A refusal of one of the organisation page's forms, at its field (`fallback` when it is
/// about none).
fn refused(e: &crate::error::Error, fallback: &'static str) -> OrgOutcome {
    let field = org_page_field(e.code()).unwrap_or(fallback);
    OrgOutcome {
        errors: FormErrors::one(field, e.public_message()),
        failed: form_of(field),
        ..Default::default()
    }
}

#[derive(Deserialize)]
pub(super) struct QualifyForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    valid_until: String,
    #[serde(default)]
    reason: String,
}

pub(super) async fn qualify(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<QualifyForm>,
) -> WebResult {
    let operator = require_operator(&form.visitor)?;
    let (now, today) = (state.clock.now(), state.clock.today());
    let change = QualificationChange {
        status: form.data.status.clone(),
        valid_until: Some(form.data.valid_until.clone()),
        reason: Some(form.data.reason.clone()),
    };
    let (org, letterhead, site_id) = (operator.org.clone(), state.letterhead(), id.clone());
    let decided = match Decision::parse(change, today) {
        Ok(decision) => {
            state
                .write(form.visitor.origin(), form.key(&org.id), move |tx| {
                    Box::pin(async move {
                        qualification::decide_site(tx, &org, &site_id, decision, &letterhead, now)
                            .await
                    })
                })
                .await
        }
        Err(e) => Err(e),
    };
    match decided {
        Ok(site) => {
            let done = if site.qualification_status == Status::Suspended {
                "suspendu"
            } else {
                "qualifie"
            };
            see_other(&format!("/operateur/organisations/{id}?fait={done}"))
        }
        Err(e) if shown(&e) => {
            let fallback = if Status::from_text(&form.data.status) == Some(Status::Suspended) {
                "reason"
            } else {
                "valid_until"
            };
            let outcome = OrgOutcome {
                reason: form.data.reason.clone(),
                valid_until: form.data.valid_until.clone(),
                ..refused(&e, fallback)
            };
            with_status(
                e.status(),
                render_org(&state, &form.visitor, &id, outcome).await,
            )
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub(super) struct Nothing {}
