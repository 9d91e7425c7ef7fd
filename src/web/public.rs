//! What a beneficiary sees, with no account and no JavaScript: the balance of a carnet, the
//! qualified sites near them (the way to say how it went is in `voice.rs`).

use super::form_errors::FormErrors;
use super::{page, Layout, Visitor, WebResult};
use crate::app::AppState;
use crate::error::Error;
use crate::fr::long_date_text;
use crate::http::extract::ClientIp;
use crate::sites::places::{self, standard, Found, Search};
use crate::vouchers::PassStatus;
use crate::vouchers::PublicBalance;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/solde", get(balance))
        .route("/lieux", get(finder))
        .route("/lieux/{id}", get(place))
}

#[derive(Template)]
#[template(path = "public/home.html")]
struct Home {
    l: Layout,
}

async fn home(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    page(Home {
        l: Layout::new(&state, &visitor, "Mon carnet Pass numérique"),
    })
}

#[derive(Deserialize)]
struct CodeQuery {
    code: Option<String>,
}

#[derive(Template)]
#[template(path = "public/balance.html")]
struct Balance {
    l: Layout,
    code: String,
    errors: FormErrors,
    balance: Option<PublicBalance>,
    until: String,
    /// The day the carnet's programme ended, in words.
    ended: String,
    /// The planned last day of the carnet's programme, in words, when it comes before the date
    /// printed on the carnet (empty otherwise).
    ends: String,
    /// The carnet's sessions of help still waiting for the person's opinion.
    awaiting: i64,
}

async fn balance(
    State(state): State<AppState>,
    visitor: Visitor,
    ClientIp(ip): ClientIp,
    Query(q): Query<CodeQuery>,
) -> WebResult {
    let code = q.code.unwrap_or_default().trim().to_string();
    let mut view = Balance {
        l: Layout::new(&state, &visitor, "Ce qu'il reste sur mon carnet"),
        code: code.clone(),
        errors: FormErrors::none(),
        balance: None,
        until: String::new(),
        ended: String::new(),
        ends: String::new(),
        awaiting: 0,
    };
    if code.is_empty() {
        view.errors = FormErrors::one(
            "code",
            "Tapez le code de votre carnet : il est imprimé sur la couverture.",
        );
        return page(view);
    }
    state.public_lookup(ip, &code).await?;
    let mut conn = state.db.read().await?;
    let found = crate::vouchers::public_balance(&mut conn, &code, state.clock.now()).await;
    match state.public_lookup_done(ip, &code, found).await {
        Ok(b) => {
            view.until = long_date_text(&b.expires_on);
            view.ended = b
                .programme_ended_on
                .as_deref()
                .map(long_date_text)
                .unwrap_or_default();
            view.ends = b
                .programme_ends_on
                .as_deref()
                .filter(|&ends| ends <= b.expires_on.as_str())
                .map(long_date_text)
                .unwrap_or_default();
            if !b.used.is_empty() {
                let pass_id = crate::vouchers::pass_id_of_code(&mut conn, &code).await?;
                view.awaiting = crate::voice::sessions_of_carnet(&mut conn, &pass_id)
                    .await?
                    .1;
            }
            view.balance = Some(b);
        }
        Err(e @ (Error::Unprocessable { .. } | Error::NotFound(_))) => {
            view.errors = FormErrors::one("code", e.public_message());
            view.l.title = view.errors.page_title(&view.l.title);
        }
        Err(e) => return Err(e.into()),
    }
    page(view)
}

#[derive(Deserialize)]
struct PlaceQuery {
    q: Option<String>,
    aide: Option<String>,
    accueil: Option<String>,
    ouvert: Option<String>,
    /// A carnet code: only the places that accept its cheques.
    carnet: Option<String>,
}

#[derive(Template)]
#[template(path = "public/finder.html")]
struct Finder {
    l: Layout,
    q: String,
    /// The carnet searched for, as printed, and where its cheques are accepted.
    carnet: String,
    accepted_in: String,
    service: String,
    support: String,
    open_now: bool,
    services: &'static [&'static str],
    supports: &'static [&'static str],
    errors: FormErrors,
    sites: Vec<Found>,
    /// Each site's catalogue in words, in the order of `sites`.
    offers: Vec<Vec<String>>,
    searched: bool,
    near_first: bool,
    /// When the filters emptied the list: what they were, in words, and how many places the
    /// same search finds without them.
    filters_in_words: String,
    without_filters: usize,
}

impl Finder {
    fn any_filter(&self) -> bool {
        !self.service.is_empty() || !self.support.is_empty() || self.open_now
    }

    /// The same search, without the filters.
    fn unfiltered_url(&self) -> String {
        let mut params = vec![("q", self.q.as_str())];
        if !self.carnet.is_empty() {
            params.push(("carnet", self.carnet.as_str()));
        }
        format!(
            "/lieux?{}",
            serde_urlencoded::to_string(params).unwrap_or_default()
        )
    }
}

async fn finder(
    State(state): State<AppState>,
    visitor: Visitor,
    ClientIp(ip): ClientIp,
    Query(p): Query<PlaceQuery>,
) -> WebResult {
    let q = p.q.unwrap_or_default().trim().to_string();
    let mut search = Search {
        area: q.clone(),
        service: p.aide.filter(|s| standard::SERVICES.contains(&s.as_str())),
        support: p
            .accueil
            .filter(|s| standard::SPECIFIC_SUPPORT.contains(&s.as_str())),
        open_now: p.ouvert.is_some_and(|o| !o.is_empty()),
        near: None,
        accepting: None,
    };
    let mut view = Finder {
        l: Layout::new(&state, &visitor, "Trouver un lieu près de chez moi"),
        q: q.clone(),
        carnet: String::new(),
        accepted_in: String::new(),
        service: search.service.clone().unwrap_or_default(),
        support: search.support.clone().unwrap_or_default(),
        open_now: search.open_now,
        services: standard::SERVICES,
        supports: standard::SPECIFIC_SUPPORT,
        errors: FormErrors::none(),
        sites: Vec::new(),
        offers: Vec::new(),
        searched: !q.is_empty(),
        near_first: false,
        filters_in_words: String::new(),
        without_filters: 0,
    };
    let carnet = p.carnet.unwrap_or_default();
    if !carnet.trim().is_empty() {
        // A carnet code is looked up as on the balance page, within the same limit.
        state.public_lookup(ip, &carnet).await?;
        let mut conn = state.db.read().await?;
        let found = crate::vouchers::territory_of_pass(&mut conn, &carnet).await;
        drop(conn);
        match state.public_lookup_done(ip, &carnet, found).await {
            Ok(territory) => {
                view.carnet = crate::vouchers::codes::parse_code(&carnet)
                    .map(|c| crate::vouchers::codes::display_code(&c))
                    .unwrap_or_default();
                view.accepted_in = territory.label();
                search.accepting = Some(territory);
            }
            Err(e @ (Error::Unprocessable { .. } | Error::NotFound(_))) => {
                // The carnet's code came from the balance page: its field is the search's.
                view.errors = FormErrors::one("q", e.public_message());
                view.l.title = view.errors.page_title(&view.l.title);
                return page(view);
            }
            Err(e) => return Err(e.into()),
        }
    }
    if !q.is_empty() {
        let mut conn = state.db.read().await?;
        match places::search(&mut conn, &search, state.clock.now(), 50).await {
            Ok(sites) => {
                view.near_first = sites.iter().any(|s| s.distance_km.is_some());
                let ids: Vec<&str> = sites.iter().map(|s| s.place.id()).collect();
                let mut offered = crate::catalogue::offered_by(&mut conn, &ids).await?;
                view.offers = ids
                    .iter()
                    .map(|id| {
                        offered
                            .remove(*id)
                            .unwrap_or_default()
                            .iter()
                            .map(crate::catalogue::Service::in_words)
                            .collect()
                    })
                    .collect();
                if sites.is_empty() && view.any_filter() {
                    let mut words = Vec::new();
                    if search.open_now {
                        words.push("ouverts maintenant".to_string());
                    }
                    if let Some(s) = &search.service {
                        words.push(format!("aide « {s} »"));
                    }
                    if let Some(s) = &search.support {
                        words.push(format!("accueil « {s} »"));
                    }
                    view.filters_in_words = words.join(", ");
                    let unfiltered = Search {
                        service: None,
                        support: None,
                        open_now: false,
                        ..search.clone()
                    };
                    view.without_filters =
                        places::search(&mut conn, &unfiltered, state.clock.now(), 50)
                            .await
                            .map(|s| s.len())
                            .unwrap_or(0);
                }
                view.sites = sites
            }
            Err(e @ Error::Unprocessable { .. }) => {
                view.errors = FormErrors::one("q", e.public_message());
                view.l.title = view.errors.page_title(&view.l.title);
            }
            Err(e) => return Err(e.into()),
        }
    }
    page(view)
}

#[derive(Template)]
#[template(path = "public/place.html")]
struct PlacePage {
    l: Layout,
    s: Found,
    offer: Vec<String>,
}

/// One place of the directory, as the finder shows it, with its presentation.
async fn place(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> WebResult {
    let mut conn = state.db.read().await?;
    let s = places::public_place(&mut conn, &id, state.clock.now()).await?;
    let offer = crate::catalogue::offered_by(&mut conn, &[id.as_str()])
        .await?
        .remove(id.as_str())
        .unwrap_or_default()
        .iter()
        .map(crate::catalogue::Service::in_words)
        .collect();
    let name = s.place.data.get("nom").unwrap_or("Lieu").to_string();
    page(PlacePage {
        l: Layout::new(&state, &visitor, &name),
        s,
        offer,
    })
}
