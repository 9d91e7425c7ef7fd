//! The pages a French public service links from every page's footer: the accessibility
//! statement (RGAA model), the legal notice, personal data, and the site map.

use super::{page, Layout, Visitor, WebResult};
use crate::app::AppState;
use askama::Template;
use axum::extract::State;
use axum::routing::get;
use axum::Router;

/// The pages anyone can open, with what they are for: the site map lists them, and an unknown
/// address is compared with them to suggest the one probably meant.
pub const PUBLIC_PAGES: &[(&str, &str)] = &[
    ("/", "Accueil : ce qu'il reste sur mon carnet"),
    ("/solde", "Ce qu'il reste sur mon carnet"),
    ("/lieux", "Trouver un lieu près de chez vous"),
    (
        "/candidature",
        "Candidater : une structure accepte le Pass numérique",
    ),
    (
        "/candidature/charte",
        "La charte des lieux qui acceptent le Pass numérique",
    ),
    ("/connexion", "Espace professionnel : connexion"),
    ("/mot-de-passe-oublie", "Mot de passe oublié"),
    ("/accessibilite", "Accessibilité : partiellement conforme"),
    ("/mentions-legales", "Mentions légales"),
    ("/donnees-personnelles", "Données personnelles"),
    ("/plan-du-site", "Plan du site"),
];

/// When the accessibility statement was last established (update it with the statement).
const STATEMENT_DATE: &str = "6 décembre 2026";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/accessibilite", get(accessibility))
        .route("/mentions-legales", get(legal_notice))
        .route("/donnees-personnelles", get(personal_data))
        .route("/plan-du-site", get(site_map))
}

#[derive(Template)]
#[template(path = "legal/accessibility.html")]
struct Accessibility {
    l: Layout,
    public_url: String,
    date: &'static str,
}

async fn accessibility(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    page(Accessibility {
        l: Layout::new(&state, &visitor, "Déclaration d'accessibilité"),
        public_url: state.config.public_url.clone(),
        date: STATEMENT_DATE,
    })
}

#[derive(Template)]
#[template(path = "legal/notice.html")]
struct Notice {
    l: Layout,
    publisher: String,
    director: String,
    hosting: String,
    public_url: String,
}

async fn legal_notice(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    page(Notice {
        l: Layout::new(&state, &visitor, "Mentions légales"),
        publisher: state.config.publisher.clone(),
        director: state.config.publication_director.clone(),
        hosting: state.config.hosting_provider.clone(),
        public_url: state.config.public_url.clone(),
    })
}

#[derive(Template)]
#[template(path = "legal/personal_data.html")]
struct PersonalData {
    l: Layout,
    publisher: String,
    /// How long the counters of attempts (which hold the client's address) are kept.
    attempts_minutes: u64,
    session_hours: i64,
}

async fn personal_data(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    page(PersonalData {
        l: Layout::new(&state, &visitor, "Données personnelles"),
        publisher: state.config.publisher.clone(),
        attempts_minutes: state.config.rate_window_secs.div_ceil(60),
        session_hours: crate::users::SESSION_HOURS,
    })
}

#[derive(Template)]
#[template(path = "legal/site_map.html")]
struct SiteMap {
    l: Layout,
    pages: &'static [(&'static str, &'static str)],
}

async fn site_map(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    page(SiteMap {
        l: Layout::new(&state, &visitor, "Plan du site"),
        pages: PUBLIC_PAGES,
    })
}
