//! The pages a French public service links from every page's footer: the accessibility
//! statement (RGAA model), the legal notice, personal data, the site map, and the glossary
//! (one word for one thing, whatever the role).

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
    ("/mes-donnees", "Voir les données de mon carnet"),
    ("/plan-du-site", "Plan du site"),
    ("/glossaire", "Les mots du Pass numérique"),
];

/// When the accessibility statement was last established (update it with the statement).
const STATEMENT_DATE: &str = "6 décembre 2026";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/accessibilite", get(accessibility))
        .route("/mentions-legales", get(legal_notice))
        .route("/donnees-personnelles", get(personal_data))
        .route("/plan-du-site", get(site_map))
        .route("/glossaire", get(glossary))
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
    /// The retention periods, from the settings the daily job uses.
    kept: crate::retention::PeriodTexts,
}

async fn personal_data(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    page(PersonalData {
        l: Layout::new(&state, &visitor, "Données personnelles"),
        publisher: state.config.publisher.clone(),
        attempts_minutes: state.config.rate_window_secs.div_ceil(60),
        session_hours: crate::users::SESSION_HOURS,
        kept: crate::retention::PeriodTexts::of(&state.config.retention),
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

/// Each word the pages use about cheques and money, with the one meaning it has everywhere.
pub const GLOSSARY: &[(&str, &str)] = &[
    ("Carnet", "Le Pass numérique remis à une personne : 5 ou 10 chèques de 10 €, avec un code de carnet pour voir ce qu'il reste."),
    ("Chèque", "Un bon de 10 €, pour environ deux heures d'aide au numérique dans un lieu qui l'accepte."),
    ("Budget", "L'argent qu'un financeur prévoit pour un programme."),
    ("Annoncé", "Un versement que le financeur dit avoir fait, pas encore vu sur le relevé du compte du Pass numérique."),
    ("Reçu", "Un versement vu sur le relevé de banque du compte du Pass numérique."),
    ("Attribué", "Les chèques qu'un financeur confie à un distributeur (son quota), qui pourra les remettre."),
    ("Émis", "Les chèques imprimés ou envoyés dans un carnet par un distributeur. Un chèque émis est en circulation tant qu'il n'est ni utilisé, ni expiré, ni annulé."),
    ("Utilisé", "Un chèque donné par une personne dans un lieu, en échange d'une aide ; le lieu l'a encaissé."),
    ("Expiré", "Un chèque qui n'a pas été utilisé avant la fin de sa validité : sa valeur revient au programme."),
    ("Annulé", "Un chèque d'un carnet déclaré perdu : il ne peut plus être utilisé, sa valeur revient au quota du distributeur."),
    ("Réglé", "Un chèque utilisé compté dans un lot de règlement : le lieu va être payé."),
    ("Payé", "L'argent d'un lot de règlement arrivé sur le compte du lieu."),
    ("Retenu", "Un paiement que la banque du lieu a renvoyé (compte clos, par exemple) : il attend de nouvelles coordonnées bancaires vérifiées."),
    ("Avoir", "Ce qui n'a pas servi à la fin d'un programme, rendu au financeur."),
];

#[derive(Template)]
#[template(path = "legal/glossary.html")]
struct Glossary {
    l: Layout,
    words: &'static [(&'static str, &'static str)],
}

async fn glossary(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    page(Glossary {
        l: Layout::new(&state, &visitor, "Les mots du Pass numérique"),
        words: GLOSSARY,
    })
}
