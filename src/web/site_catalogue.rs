//! The site agent's catalogue: the services each of the site's places offers, added and
//! withdrawn from a page that works without JavaScript.

use super::session::{Form, SignedIn};
use super::{page, Layout, Visitor, WebResult};
use crate::catalogue::{self, NewService, Service};
use crate::error::Error;
use crate::http::AppState;
use crate::orgs::OrgKind;
use crate::redemption::{self, typology};
use askama::Template;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/lieu/catalogue", get(show).post(add))
        .route(
            "/lieu/catalogue/{place_id}/{service_id}/retirer",
            post(withdraw),
        )
}

pub struct PlaceCatalogue {
    pub id: String,
    pub name: String,
    pub services: Vec<ServiceRow>,
}

pub struct ServiceRow {
    pub id: String,
    pub title: String,
    pub kind: &'static str,
    pub description: String,
    pub themes: String,
    pub minutes: String,
    pub price: String,
    pub active: bool,
}

impl ServiceRow {
    fn of(s: &Service) -> ServiceRow {
        ServiceRow {
            id: s.id.clone(),
            title: s.title.clone(),
            kind: s.kind_label(),
            description: s.description.clone(),
            themes: s.themes.labels().join(", "),
            minutes: typology::duration_text(s.minutes),
            price: s.price_text(),
            active: s.active,
        }
    }
}

#[derive(Template)]
#[template(path = "site/catalogue.html")]
struct CataloguePage {
    l: Layout,
    error: Option<String>,
    notice: Option<String>,
    places: Vec<PlaceCatalogue>,
    kinds: Vec<(&'static str, &'static str)>,
    themes: Vec<(&'static str, &'static str)>,
    durations: Vec<(i64, String)>,
}

async fn render(
    state: &AppState,
    visitor: &Visitor,
    error: Option<String>,
    notice: Option<String>,
) -> WebResult {
    let signed = SignedIn::require(visitor, OrgKind::Site)?;
    let mut conn = state.db.read.acquire().await?;
    let mut places = Vec::new();
    for place in crate::places::for_site(&mut conn, &signed.org.id).await? {
        let services = catalogue::list(&mut conn, &signed.org, place.id()).await?;
        places.push(PlaceCatalogue {
            id: place.id().to_string(),
            name: place.data.get("nom").unwrap_or("Lieu").to_string(),
            services: services.iter().map(ServiceRow::of).collect(),
        });
    }
    page(CataloguePage {
        l: Layout::new(state, visitor, "Catalogue de mes lieux"),
        error,
        notice,
        places,
        kinds: redemption::SERVICES
            .iter()
            .map(|k| (*k, redemption::service_label(Some(k))))
            .collect(),
        themes: typology::THEMES.to_vec(),
        durations: typology::DURATIONS
            .iter()
            .map(|m| (*m, typology::duration_text(*m)))
            .collect(),
    })
}

async fn show(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    render(&state, &visitor, None, None).await
}

async fn add(
    State(state): State<AppState>,
    Form { visitor, data }: Form<Vec<(String, String)>>,
) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Site)?;
    let field = |name: &str| {
        data.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let number = |name: &str| field(name).parse::<i64>().unwrap_or(0);
    let new = NewService {
        kind: field("kind"),
        title: field("title"),
        description: field("description"),
        themes: data
            .iter()
            .filter(|(n, _)| n == "themes")
            .map(|(_, v)| v.clone())
            .collect(),
        minutes: number("minutes"),
        price_cheques: number("price_cheques"),
    };
    let mut tx = state.db.begin().await?;
    match catalogue::create(
        &mut tx,
        &signed.org,
        &field("place_id"),
        new,
        state.clock.now(),
    )
    .await
    {
        Ok(s) => {
            tx.commit().await?;
            let notice = format!("Le service « {} » est ajouté au catalogue.", s.title);
            render(&state, &visitor, None, Some(notice)).await
        }
        Err(e @ (Error::Unprocessable { .. } | Error::NotFound(_))) => {
            drop(tx);
            render(&state, &visitor, Some(e.public_message()), None).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(serde::Deserialize)]
struct Nothing {}

async fn withdraw(
    State(state): State<AppState>,
    Path((place_id, service_id)): Path<(String, String)>,
    Form { visitor, .. }: Form<Nothing>,
) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Site)?;
    let mut tx = state.db.begin().await?;
    let s = catalogue::withdraw(
        &mut tx,
        &signed.org,
        &place_id,
        &service_id,
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    let notice = format!(
        "Le service « {} » est retiré du catalogue : il n'est plus proposé.",
        s.title
    );
    render(&state, &visitor, None, Some(notice)).await
}
