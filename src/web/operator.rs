//! The operator: organisations (create, invite their people, qualify or suspend sites, API
//! tokens), the audit trail, and settlement batches from preparation to payment.

use super::distributor::euros;
use super::session::{Form, SignedIn};
use super::{page, with_status, Layout, Visitor, WebError, WebResult};
use crate::audit::Entry;
use crate::clock::{format_ts, paris, parse_ts};
use crate::db::{Conn, Tx};
use crate::error::Error;
use crate::fr::{long_date, long_date_text};
use crate::http::AppState;
use crate::orgs::SUSPENSION_REASON;
use crate::orgs::{self, NewOrganization, OrgKind, Organization, QualificationChange};
use crate::settlement::{self, BatchRow, NewBatch, Rejection};
use crate::users::{self, Role, Signed, User};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use jiff::civil::Date;
use jiff::{SignedDuration, ToSpan};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/operateur", get(home))
        .route("/operateur/organisations", post(create_org))
        .route("/operateur/organisations/{id}", get(org_page))
        .route("/operateur/organisations/{id}/invitations", post(invite))
        .route("/operateur/organisations/{id}/qualification", post(qualify))
        .route("/operateur/organisations/{id}/jetons", post(new_token))
        .route("/operateur/journal", get(journal))
        .route("/operateur/lieux", get(places_page).post(import_places))
        .route("/operateur/reglements", get(batches).post(prepare))
        .route("/operateur/reglements/{id}", get(batch))
        .route("/operateur/reglements/{id}/approuver", post(approve))
        .route("/operateur/reglements/{id}/sepa", post(sepa))
        .route("/operateur/reglements/{id}/payer", post(paid))
        .route("/operateur/reglements/{id}/rejets", post(reject))
}

const JOURNAL_PAGE: i64 = 50;

// ---------------------------------------------------------------- places

#[derive(Template)]
#[template(path = "operator/places.html")]
struct PlacesPage {
    l: Layout,
    section: &'static str,
    total: i64,
    report: Option<crate::places::ImportReport>,
}

async fn render_places(
    state: &AppState,
    visitor: &Visitor,
    report: Option<crate::places::ImportReport>,
) -> WebResult {
    let mut conn = state.db.read.acquire().await?;
    page(PlacesPage {
        l: Layout::new(state, visitor, "Lieux de médiation"),
        section: "lieux",
        total: crate::places::count(&mut conn).await?,
        report,
    })
}

async fn places_page(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    require_operator(&visitor)?;
    render_places(&state, &visitor, None).await
}

#[derive(Deserialize)]
struct ImportForm {
    #[serde(default)]
    csv: String,
}

/// Imports pasted CSV in the national standard: valid rows in, rejected rows listed.
async fn import_places(
    State(state): State<AppState>,
    Form { visitor, data }: Form<ImportForm, 2048>,
) -> WebResult {
    let operator = require_operator(&visitor)?;
    let report = crate::places::import_file(
        &state.db,
        data.csv.as_bytes(),
        Some(&operator.org.id),
        state.clock.now(),
    )
    .await?;
    // Partly valid files are a normal outcome: the page says what went in and what did not.
    render_places(&state, &visitor, Some(report)).await
}

pub(super) fn require_operator(visitor: &Visitor) -> Result<Arc<Signed>, WebError> {
    SignedIn::require(visitor, OrgKind::Operator)
}

/// Refusals the person can act on: shown on the page with their form, not as an error page.
pub(super) fn shown(e: &Error) -> bool {
    matches!(
        e,
        Error::Unprocessable { .. } | Error::Conflict { .. } | Error::Gone { .. }
    )
}

fn kind_label(kind: OrgKind) -> &'static str {
    match kind {
        OrgKind::Operator => "Opérateur",
        OrgKind::Funder => "Financeur",
        OrgKind::Distributor => "Distributeur",
        OrgKind::Site => "Lieu de médiation",
    }
}

/// `(state, end date)` of a site's qualification, in words.
fn qualification(org: &Organization, today: Date) -> (&'static str, String) {
    let until = org
        .qualified_until
        .as_deref()
        .and_then(|d| d.parse::<Date>().ok());
    let state = match (org.qualification_status.as_str(), until) {
        ("qualified", Some(u)) if u >= today => "Qualifié",
        ("qualified", _) => "Qualification expirée",
        ("suspended", _) => "Suspendu",
        _ => "Non qualifié",
    };
    (state, until.map(long_date).unwrap_or_default())
}

/// "12 mars 2026 à 14:05", Paris time.
fn when(ts: &str) -> String {
    match parse_ts(ts) {
        Some(t) => {
            let zoned = t.to_zoned(paris());
            format!("{} à {}", long_date(zoned.date()), zoned.strftime("%H:%M"))
        }
        None => ts.to_string(),
    }
}

async fn find_org(conn: &mut Conn, id: &str) -> Result<Organization, WebError> {
    orgs::find(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("Cette organisation n'existe pas.").into())
}

// ---------------------------------------------------------------- organisations

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
struct NewOrgForm {
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
}

#[derive(Template)]
#[template(path = "operator/home.html")]
struct Home {
    l: Layout,
    section: &'static str,
    groups: Vec<Group>,
    error: Option<String>,
    form: NewOrgForm,
}

async fn home(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    require_operator(&visitor)?;
    render_home(&state, &visitor, None, NewOrgForm::default()).await
}

async fn render_home(
    state: &AppState,
    visitor: &Visitor,
    error: Option<String>,
    form: NewOrgForm,
) -> WebResult {
    let mut conn = state.db.read.acquire().await?;
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
                let (qualification, until) = qualification(o, today);
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
        l: Layout::new(state, visitor, "Organisations"),
        section: "orgs",
        groups,
        error,
        form,
    })
}

async fn create_org(
    State(state): State<AppState>,
    Form { visitor, data }: Form<NewOrgForm>,
) -> WebResult {
    require_operator(&visitor)?;
    // The platform has one operator: another would hold every right.
    if !matches!(data.kind.as_str(), "funder" | "distributor" | "site") {
        let e = Error::invalid(
            "invalid_kind",
            "Choisissez le type d'organisation : financeur, distributeur ou lieu de médiation.",
        );
        return with_status(
            e.status(),
            render_home(&state, &visitor, Some(e.public_message()), data).await,
        );
    }
    let new = NewOrganization {
        kind: data.kind.clone(),
        name: data.name.clone(),
        siret: Some(data.siret.clone()),
        department: Some(data.department.clone()),
        postcode: Some(data.postcode.clone()),
    };
    let mut tx = state.db.begin().await?;
    match orgs::create(&mut tx, new, state.clock.now()).await {
        Ok(id) => {
            tx.commit().await?;
            Err(WebError::Redirect(format!("/operateur/organisations/{id}")))
        }
        Err(e) if shown(&e) => {
            drop(tx);
            with_status(
                e.status(),
                render_home(&state, &visitor, Some(e.public_message()), data).await,
            )
        }
        Err(e) => Err(e.into()),
    }
}

pub struct Person {
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub state: &'static str,
}

impl Person {
    fn of(u: &User) -> Person {
        Person {
            name: u.name.clone(),
            email: u.email.clone(),
            role: if u.role == "admin" {
                "Administrateur"
            } else {
                "Agent"
            },
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
struct InviteForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

impl Default for InviteForm {
    fn default() -> Self {
        InviteForm {
            name: String::new(),
            email: String::new(),
            role: "agent".into(),
        }
    }
}

/// What the last action on the page did.
#[derive(Default)]
struct OrgOutcome {
    notice: Option<String>,
    error: Option<String>,
    /// A new API token, shown this once.
    token: Option<String>,
    invite: InviteForm,
    reason: String,
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
    token: Option<String>,
    invite: InviteForm,
    reason: String,
}

async fn org_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> WebResult {
    require_operator(&visitor)?;
    render_org(&state, &visitor, &id, OrgOutcome::default()).await
}

async fn render_org(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    outcome: OrgOutcome,
) -> WebResult {
    let operator = require_operator(visitor)?;
    let mut conn = state.db.read.acquire().await?;
    let org = find_org(&mut conn, id).await?;
    let today = state.clock.today();
    let (qualification, until) = qualification(&org, today);
    let is_site = org.kind == OrgKind::Site;
    let suspension_reason = if is_site && org.qualification_status == "suspended" {
        crate::audit::latest(&mut conn, &org.id, SUSPENSION_REASON)
            .await?
            .map(|e| e.detail)
    } else {
        None
    };
    let bank = if is_site {
        crate::sites::current_bank_account(&mut conn, &org.id)
            .await?
            .map(|a| format!("{} ({})", crate::sites::mask_iban(&a.iban), a.holder))
    } else {
        None
    };
    let people = users::list_for_org(&mut conn, &org.id)
        .await?
        .iter()
        .map(Person::of)
        .collect();
    let mut entries = crate::audit::for_subject(&mut conn, &org.id).await?;
    entries.reverse();
    entries.truncate(20);
    let history = journal_rows(&mut conn, &operator.org, &entries).await?;
    let default_until = today.checked_add(1.year()).unwrap_or(today).to_string();
    let title = format!("{} — {}", org.name, kind_label(org.kind));
    let page_response = page(OrgPage {
        l: Layout::new(state, visitor, title),
        section: "",
        kind_label: kind_label(org.kind),
        is_site,
        qualification,
        until,
        suspension_reason,
        bank,
        people,
        rows: history,
        default_until,
        today: today.to_string(),
        notice: outcome.notice,
        error: outcome.error,
        token: outcome.token.clone(),
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

fn invitation_mail(
    state: &AppState,
    org: &Organization,
    user: &User,
    token: &str,
    inviter: &str,
) -> crate::mail::Outgoing {
    let url = state.config.public_url.trim_end_matches('/');
    crate::mail::Outgoing {
        to: user.email.clone(),
        subject: "Votre accès à l'espace professionnel du Pass numérique".into(),
        text_body: format!(
            "Bonjour {name},\n\n\
             {inviter} vous ouvre un accès à l'espace professionnel du Pass numérique, \
             pour {org}.\n\n\
             Pour choisir votre mot de passe, ouvrez ce lien. Il ne sert qu'une fois et \
             n'est valable que 7 jours :\n\
             {url}/invitation/{token}\n\n\
             Ensuite, connectez-vous sur {url}/connexion avec votre adresse e-mail ({email}).\n\n\
             Vous n'attendiez pas ce message ? Ignorez-le : sans mot de passe choisi, \
             aucun accès n'est ouvert.\n\
             Besoin d'aide ? Appelez le {phone} ou écrivez à {help}.\n",
            name = user.name,
            org = org.name,
            email = user.email,
            phone = state.config.helpline_phone,
            help = state.config.helpline_email,
        ),
        html_body: None,
        attachments: Vec::new(),
    }
}

async fn invite(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form { visitor, data }: Form<InviteForm>,
) -> WebResult {
    let operator = require_operator(&visitor)?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let org = find_org(&mut tx, &id).await?;
    let result: Result<User, Error> = async {
        let role = Role::parse(&data.role)?;
        let (user, token) =
            users::invite(&mut tx, &org.id, &data.email, &data.name, role, now).await?;
        let mail = invitation_mail(&state, &org, &user, &token, &operator.user.name);
        crate::mail::enqueue(&mut tx, &mail, now).await?;
        crate::audit::record(
            &mut tx,
            &format_ts(now),
            Some(&operator.org.id),
            "user.invited",
            Some(&org.id),
            &format!(
                "{} <{}> ({}), invité par {}",
                user.name, user.email, user.role, operator.user.name
            ),
        )
        .await?;
        Ok(user)
    }
    .await;
    match result {
        Ok(user) => {
            tx.commit().await?;
            let notice = format!(
                "Invitation envoyée à {} ({}). Le lien pour choisir un mot de passe est valable 7 jours.",
                user.name, user.email
            );
            render_org(
                &state,
                &visitor,
                &id,
                OrgOutcome {
                    notice: Some(notice),
                    ..Default::default()
                },
            )
            .await
        }
        Err(e) if shown(&e) => {
            drop(tx);
            let outcome = OrgOutcome {
                error: Some(format!(
                    "L'invitation n'est pas partie : {}",
                    e.public_message()
                )),
                invite: data,
                ..Default::default()
            };
            with_status(e.status(), render_org(&state, &visitor, &id, outcome).await)
        }
        Err(e) => Err(e.into()),
    }
}

/// The audit action that keeps why a site was suspended (the qualification entry itself only
/// holds the dates).

#[derive(Deserialize)]
struct QualifyForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    valid_until: String,
    #[serde(default)]
    reason: String,
}

fn suspension_mail(
    state: &AppState,
    site: &Organization,
    to: &str,
    reason: &str,
) -> crate::mail::Outgoing {
    crate::mail::Outgoing {
        to: to.to_string(),
        subject: "Pass numérique : votre lieu ne peut plus encaisser de chèques".into(),
        text_body: format!(
            "Bonjour,\n\n\
             L'opérateur du Pass numérique a suspendu la qualification de {site}. \
             Tant qu'elle est suspendue, votre lieu ne peut plus encaisser de chèques. \
             Les chèques déjà encaissés vous seront payés normalement.\n\n\
             Motif : {reason}\n\n\
             Pour en parler ou demander la levée de la suspension, appelez le {phone} \
             ou écrivez à {help}.\n",
            site = site.name,
            phone = state.config.helpline_phone,
            help = state.config.helpline_email,
        ),
        html_body: None,
        attachments: Vec::new(),
    }
}

async fn qualify(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form { visitor, data }: Form<QualifyForm>,
) -> WebResult {
    let operator = require_operator(&visitor)?;
    let now = state.clock.now();
    let today = state.clock.today();
    let reason: String = data.reason.trim().chars().take(500).collect();
    let refuse = |e: Error, reason: String| {
        let outcome = OrgOutcome {
            error: Some(e.public_message()),
            reason,
            ..Default::default()
        };
        let (state, visitor, id) = (&state, &visitor, &id);
        async move { with_status(e.status(), render_org(state, visitor, id, outcome).await) }
    };
    let change = match data.status.as_str() {
        "qualified" => {
            let until = data.valid_until.trim();
            if until.parse::<Date>().is_ok_and(|d| d < today) {
                return refuse(
                    Error::invalid(
                        "invalid_date",
                        "La date de fin de qualification doit être aujourd'hui ou plus tard.",
                    ),
                    reason,
                )
                .await;
            }
            QualificationChange {
                status: "qualified".into(),
                valid_until: (!until.is_empty()).then(|| until.to_string()),
            }
        }
        "suspended" => {
            if reason.is_empty() {
                return refuse(
                    Error::invalid(
                        "missing_reason",
                        "Indiquez le motif de la suspension : il est communiqué au lieu.",
                    ),
                    reason,
                )
                .await;
            }
            QualificationChange {
                status: "suspended".into(),
                valid_until: None,
            }
        }
        _ => {
            return refuse(
                Error::invalid(
                    "invalid_status",
                    "Choisissez de qualifier ou de suspendre le lieu.",
                ),
                reason,
            )
            .await
        }
    };
    let suspending = change.status == "suspended";
    let mut tx = state.db.begin().await?;
    let result: Result<Organization, Error> = async {
        let site = orgs::set_qualification(&mut tx, &operator.org.id, &id, change, now).await?;
        if suspending {
            crate::audit::record(
                &mut tx,
                &format_ts(now),
                Some(&operator.org.id),
                SUSPENSION_REASON,
                Some(&site.id),
                &reason,
            )
            .await?;
            // The site learns why at once, through the outbox of this same change.
            for person in users::list_for_org(&mut tx, &site.id).await? {
                if person.disabled_at.is_none() {
                    let mail = suspension_mail(&state, &site, &person.email, &reason);
                    crate::mail::enqueue(&mut tx, &mail, now).await?;
                }
            }
        }
        Ok(site)
    }
    .await;
    match result {
        Ok(site) => {
            tx.commit().await?;
            let notice = if suspending {
                format!(
                    "{} est suspendu : il ne peut plus encaisser de chèques. Ses membres sont prévenus par e-mail, avec le motif.",
                    site.name
                )
            } else {
                format!(
                    "{} est qualifié jusqu'au {}.",
                    site.name,
                    long_date_text(site.qualified_until.as_deref().unwrap_or_default())
                )
            };
            render_org(
                &state,
                &visitor,
                &id,
                OrgOutcome {
                    notice: Some(notice),
                    ..Default::default()
                },
            )
            .await
        }
        Err(e) if shown(&e) => {
            drop(tx);
            refuse(e, reason).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct Nothing {}

async fn new_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form { visitor, .. }: Form<Nothing>,
) -> WebResult {
    let operator = require_operator(&visitor)?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let org = find_org(&mut tx, &id).await?;
    let token = orgs::create_token(&mut tx, &org.id, now).await?;
    crate::audit::record(
        &mut tx,
        &format_ts(now),
        Some(&operator.org.id),
        "api_token.created",
        Some(&org.id),
        &format!("créé par {}", operator.user.name),
    )
    .await?;
    tx.commit().await?;
    let outcome = OrgOutcome {
        token: Some(token),
        ..Default::default()
    };
    render_org(&state, &visitor, &id, outcome).await
}

// ---------------------------------------------------------------- audit trail

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
        "program.closed" => "Programme clôturé",
        "pass.issued" => "Carnet émis",
        "pass.cancelled" => "Carnet annulé",
        "redemption.created" => "Chèque encaissé",
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
async fn journal_rows(
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
    if action.starts_with("program.") {
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
struct JournalQuery {
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

const ACTION_PREFIXES: [(&str, &str); 12] = [
    ("", "Toutes les actions"),
    ("organization.", "Création d'organisations"),
    ("site.", "Qualification des lieux"),
    ("user.", "Invitations"),
    ("api_token.", "Jetons d'API"),
    ("bank_account.", "Coordonnées bancaires"),
    ("settlement.", "Règlements"),
    ("program.", "Programmes"),
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

async fn journal(
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
    let mut conn = state.db.read.acquire().await?;
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

// ---------------------------------------------------------------- settlement

fn batch_status(status: &str) -> &'static str {
    match status {
        "draft" => "À approuver",
        "approved" => "Approuvé, fichier de virement à télécharger",
        "exported" => "Fichier de virement envoyé à la banque, paiement à confirmer",
        "paid" => "Payé",
        _ => "État inconnu",
    }
}

fn line_status(status: &str) -> &'static str {
    match status {
        "pending" => "À payer",
        "paid" => "Payé",
        "rejected" => "Rejeté par la banque",
        _ => "État inconnu",
    }
}

pub struct BatchListRow {
    pub id: String,
    pub until: String,
    pub status: &'static str,
    pub total: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "operator/settlements.html")]
struct Batches {
    l: Layout,
    section: &'static str,
    rows: Vec<BatchListRow>,
    error: Option<String>,
    until: String,
    undo_hours: i64,
}

async fn batches(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    require_operator(&visitor)?;
    let until = state.clock.today().to_string();
    render_batches(&state, &visitor, None, until).await
}

async fn render_batches(
    state: &AppState,
    visitor: &Visitor,
    error: Option<String>,
    until: String,
) -> WebResult {
    let mut conn = state.db.read.acquire().await?;
    let rows = settlement::list_batches(&mut conn)
        .await?
        .into_iter()
        .map(|b| BatchListRow {
            until: long_date_text(&b.until_date),
            status: batch_status(&b.status),
            total: euros(b.total_cents),
            created: when(&b.created_at),
            id: b.id,
        })
        .collect();
    page(Batches {
        l: Layout::new(state, visitor, "Règlements des lieux"),
        section: "reglements",
        rows,
        error,
        until,
        undo_hours: state.config.undo_window_hours,
    })
}

#[derive(Deserialize)]
struct PrepareForm {
    #[serde(default)]
    until: String,
}

async fn prepare(
    State(state): State<AppState>,
    Form { visitor, data }: Form<PrepareForm>,
) -> WebResult {
    let operator = require_operator(&visitor)?;
    let window = SignedDuration::from_hours(state.config.undo_window_hours);
    let new = NewBatch {
        until: data.until.clone(),
    };
    let mut tx = state.db.begin().await?;
    match settlement::create(&mut tx, &operator.org, new, state.clock.now(), window).await {
        Ok(view) => {
            tx.commit().await?;
            Err(WebError::Redirect(format!(
                "/operateur/reglements/{}",
                view.batch.id
            )))
        }
        Err(e) if shown(&e) => {
            drop(tx);
            let message = format!("Le lot n'a pas été préparé : {}", e.public_message());
            with_status(
                e.status(),
                render_batches(&state, &visitor, Some(message), data.until).await,
            )
        }
        Err(e) => Err(e.into()),
    }
}

pub struct LineView {
    pub id: String,
    pub site_id: String,
    pub site: String,
    pub program: String,
    pub redemptions: i64,
    pub settled: String,
    pub fee: String,
    pub carried: String,
    pub amount: String,
    pub reference: String,
    pub status: &'static str,
    pub reason: Option<String>,
    pub rejectable: bool,
}

#[derive(Template)]
#[template(path = "operator/settlement.html")]
struct BatchPage {
    l: Layout,
    section: &'static str,
    batch: BatchRow,
    until: String,
    status: &'static str,
    total: String,
    steps: Vec<(&'static str, String)>,
    lines: Vec<LineView>,
    can_reject: bool,
    notice: Option<String>,
    error: Option<String>,
}

async fn batch(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> WebResult {
    render_batch(&state, &visitor, &id, None, None).await
}

async fn render_batch(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    notice: Option<String>,
    error: Option<String>,
) -> WebResult {
    let operator = require_operator(visitor)?;
    let mut conn = state.db.read.acquire().await?;
    let view = settlement::get(&mut conn, &operator.org, id).await?;
    let mut names: HashMap<String, String> = HashMap::new();
    let mut lines = Vec::with_capacity(view.lines.len());
    for line in &view.lines {
        if !names.contains_key(&line.site_id) {
            let name = orgs::find(&mut conn, &line.site_id)
                .await?
                .map(|o| o.name)
                .unwrap_or_else(|| line.site_id.clone());
            names.insert(line.site_id.clone(), name);
        }
        if !names.contains_key(&line.program_id) {
            let name = crate::programs::find(&mut conn, &line.program_id)
                .await?
                .map(|p| p.name)
                .unwrap_or_else(|| line.program_id.clone());
            names.insert(line.program_id.clone(), name);
        }
        lines.push(LineView {
            id: line.id.clone(),
            site_id: line.site_id.clone(),
            site: names[&line.site_id].clone(),
            program: names[&line.program_id].clone(),
            redemptions: line.redemptions,
            settled: euros(line.settled_cents),
            fee: euros(line.fee_cents),
            carried: euros(line.carried_cents),
            amount: euros(line.amount_cents),
            reference: line.end_to_end_id.clone(),
            status: line_status(&line.status),
            reason: line.rejection_reason.clone(),
            rejectable: line.status != "rejected",
        });
    }
    let b = &view.batch;
    let steps = [
        ("Préparé", Some(&b.created_at)),
        ("Approuvé", b.approved_at.as_ref()),
        ("Fichier de virement produit", b.exported_at.as_ref()),
        ("Payé", b.paid_at.as_ref()),
    ]
    .into_iter()
    .filter_map(|(label, at)| at.map(|at| (label, when(at))))
    .collect();
    let can_reject =
        matches!(b.status.as_str(), "exported" | "paid") && lines.iter().any(|l| l.rejectable);
    page(BatchPage {
        l: Layout::new(
            state,
            visitor,
            format!(
                "Lot de règlement jusqu'au {}",
                long_date_text(&b.until_date)
            ),
        ),
        section: "",
        until: long_date_text(&b.until_date),
        status: batch_status(&b.status),
        total: euros(b.total_cents),
        steps,
        lines,
        can_reject,
        notice,
        error,
        batch: view.batch,
    })
}

/// Commits a batch step and shows the batch, or shows why it was refused.
async fn step_done(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    tx: Tx,
    result: Result<(), Error>,
    notice: &str,
) -> WebResult {
    match result {
        Ok(()) => {
            tx.commit().await?;
            render_batch(state, visitor, id, Some(notice.to_string()), None).await
        }
        Err(e) if shown(&e) => {
            drop(tx);
            let message = if e.code() == "invalid_transition" {
                // The domain's message names states in English; say it in words here.
                let mut conn = state.db.read.acquire().await?;
                let operator = require_operator(visitor)?;
                let now = settlement::get(&mut conn, &operator.org, id).await?;
                format!(
                    "Cette étape n'est pas possible maintenant : le lot est « {} ». \
                     Quelqu'un l'a peut-être déjà faite ; la page montre l'état actuel du lot.",
                    batch_status(&now.batch.status)
                )
            } else {
                e.public_message()
            };
            with_status(
                e.status(),
                render_batch(state, visitor, id, None, Some(message)).await,
            )
        }
        Err(e) => Err(e.into()),
    }
}

async fn approve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form { visitor, .. }: Form<Nothing>,
) -> WebResult {
    let operator = require_operator(&visitor)?;
    let mut tx = state.db.begin().await?;
    let result = settlement::approve(&mut tx, &operator.org, &id, state.clock.now())
        .await
        .map(|_| ());
    step_done(
        &state,
        &visitor,
        &id,
        tx,
        result,
        "Le lot est approuvé. Téléchargez maintenant le fichier de virement pour la banque.",
    )
    .await
}

/// The SEPA file as a download. A POST with the CSRF token: the first download moves the batch
/// on, which a link followed from another site must not be able to do.
async fn sepa(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form { visitor, .. }: Form<Nothing>,
) -> WebResult {
    let operator = require_operator(&visitor)?;
    let mut tx = state.db.begin().await?;
    match settlement::export_sepa(
        &mut tx,
        &operator.org,
        &id,
        state.clock.now(),
        &state.config,
    )
    .await
    {
        Ok(xml) => {
            tx.commit().await?;
            Ok((
                [
                    (
                        header::CONTENT_TYPE,
                        "application/xml; charset=utf-8".to_string(),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"passnum-virements-{id}.xml\""),
                    ),
                    (header::CACHE_CONTROL, "no-store".to_string()),
                ],
                xml,
            )
                .into_response())
        }
        Err(e) => step_done(&state, &visitor, &id, tx, Err(e), "").await,
    }
}

async fn paid(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form { visitor, .. }: Form<Nothing>,
) -> WebResult {
    let operator = require_operator(&visitor)?;
    let mut tx = state.db.begin().await?;
    let result = settlement::mark_paid(&mut tx, &operator.org, &id, state.clock.now())
        .await
        .map(|_| ());
    step_done(
        &state,
        &visitor,
        &id,
        tx,
        result,
        "Le lot est payé. Chaque lieu reçoit son relevé par e-mail.",
    )
    .await
}

#[derive(Deserialize)]
struct RejectForm {
    #[serde(default)]
    line_id: String,
    #[serde(default)]
    reason: String,
}

async fn reject(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form { visitor, data }: Form<RejectForm>,
) -> WebResult {
    let operator = require_operator(&visitor)?;
    let mut tx = state.db.begin().await?;
    let rejection = Rejection {
        reason: Some(data.reason),
    };
    let result = settlement::reject_line(
        &mut tx,
        &operator.org,
        &id,
        &data.line_id,
        rejection,
        state.clock.now(),
    )
    .await
    .map(|_| ());
    step_done(
        &state,
        &visitor,
        &id,
        tx,
        result,
        "Le virement est marqué rejeté. Son montant sera repris dans le prochain lot.",
    )
    .await
}
