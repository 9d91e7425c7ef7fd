//! The site agent's catalogue: the services each of the site's places offers, added and
//! withdrawn from a page that works without JavaScript.

use crate::app::AppState;
use crate::catalogue::typology;
use crate::catalogue::{self, NewService, Service};
use crate::error::Error;
use crate::orgs::OrgKind;
use crate::web::session::{Form, SignedIn};
use crate::web::{page, see_other, Layout, Visitor, WebResult};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/lieu/catalogue", get(show).post(add))
        .route(
            "/lieu/catalogue/{place_id}/{service_id}/retirer",
            post(withdraw),
        )
        .route(
            "/lieu/catalogue/{place_id}/{service_id}/modifier",
            get(edit).post(save),
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
    done: Option<Done>,
) -> WebResult {
    let signed = SignedIn::require(visitor, OrgKind::Site)?;
    let mut conn = state.db.read().await?;
    let mut places = Vec::new();
    for place in crate::sites::places::for_site(&mut conn, &signed.org.id).await? {
        let services = catalogue::list(&mut conn, &signed.org, place.id()).await?;
        places.push(PlaceCatalogue {
            id: place.id().to_string(),
            name: place.data.get("nom").unwrap_or("Lieu").to_string(),
            services: services.iter().map(ServiceRow::of).collect(),
        });
    }
    let notice = done.and_then(|d| notice(&d, &places));
    page(CataloguePage {
        l: Layout::new(state, visitor, "Catalogue de mes lieux"),
        error,
        notice,
        places,
        kinds: typology::SERVICES
            .iter()
            .map(|k| (*k, typology::service_label(Some(k))))
            .collect(),
        themes: typology::THEMES.to_vec(),
        durations: typology::DURATIONS
            .iter()
            .map(|m| (*m, typology::duration_text(*m)))
            .collect(),
    })
}

/// What the last form did (`fait`: ajoute, modifie, retire) and to which service: every
/// successful form redirects here, so a reload or the back button sends nothing again.
#[derive(serde::Deserialize)]
struct Done {
    fait: Option<String>,
    service: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(done): Query<Done>,
) -> WebResult {
    render(&state, &visitor, None, Some(done)).await
}

fn notice(done: &Done, places: &[PlaceCatalogue]) -> Option<String> {
    let id = done.service.as_deref()?;
    let title = places
        .iter()
        .flat_map(|p| &p.services)
        .find(|s| s.id == id)
        .map(|s| s.title.as_str())?;
    match done.fait.as_deref()? {
        "ajoute" => Some(format!("Le service « {title} » est ajouté au catalogue.")),
        "modifie" => Some(format!("Le service « {title} » est modifié.")),
        "retire" => Some(format!(
            "Le service « {title} » est retiré du catalogue : il n'est plus proposé."
        )),
        _ => None,
    }
}

fn done(what: &str, service: &Service) -> WebResult {
    see_other(&format!(
        "/lieu/catalogue?fait={what}&service={}",
        service.id
    ))
}

async fn add(State(state): State<AppState>, form: Form<Vec<(String, String)>>) -> WebResult {
    let signed = SignedIn::require(&form.visitor, OrgKind::Site)?;
    let key = form.own_key();
    let Form { visitor, data, .. } = form;
    let place_id = field(&data, "place_id");
    let (org, now, service) = (signed.org.clone(), state.clock.now(), service_of(&data));
    let created = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move { catalogue::create(tx, &org, &place_id, service, now).await })
        })
        .await;
    match created {
        Ok(s) => done("ajoute", &s),
        Err(e @ (Error::Unprocessable { .. } | Error::NotFound(_))) => {
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
    form: Form<Nothing>,
) -> WebResult {
    let signed = SignedIn::require(&form.visitor, OrgKind::Site)?;
    let (org, now) = (signed.org.clone(), state.clock.now());
    let s = state
        .write(form.visitor.origin(), form.own_key(), move |tx| {
            Box::pin(
                async move { catalogue::withdraw(tx, &org, &place_id, &service_id, now).await },
            )
        })
        .await?;
    done("retire", &s)
}

fn field(data: &[(String, String)], name: &str) -> String {
    data.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

/// A service as the form gives it (`themes` repeated); a number left unreadable reads as 0,
/// which the domain's checks refuse.
fn service_of(data: &[(String, String)]) -> NewService {
    let number = |name: &str| field(data, name).parse::<i64>().unwrap_or(0);
    NewService {
        kind: field(data, "kind"),
        title: field(data, "title"),
        description: field(data, "description"),
        themes: data
            .iter()
            .filter(|(n, _)| n == "themes")
            .map(|(_, v)| v.clone())
            .collect(),
        minutes: number("minutes"),
        price_cheques: number("price_cheques"),
    }
}

#[derive(Template)]
#[template(path = "site/catalogue_edit.html")]
struct EditPage {
    l: Layout,
    error: Option<String>,
    place_id: String,
    service_id: String,
    title: String,
    description: String,
    price: String,
    minutes: String,
    /// `(id, label, selected)`.
    kinds: Vec<(&'static str, &'static str, bool)>,
    themes: Vec<(&'static str, &'static str, bool)>,
}

fn edit_page(
    state: &AppState,
    visitor: &Visitor,
    (place_id, service_id): (String, String),
    shown: NewService,
    error: Option<String>,
) -> WebResult {
    page(EditPage {
        l: Layout::new(state, visitor, "Modifier un service"),
        error,
        place_id,
        service_id,
        kinds: typology::SERVICES
            .iter()
            .map(|k| (*k, typology::service_label(Some(k)), *k == shown.kind))
            .collect(),
        themes: typology::THEMES
            .iter()
            .map(|(id, label)| (*id, *label, shown.themes.iter().any(|t| t == id)))
            .collect(),
        title: shown.title,
        description: shown.description,
        price: shown.price_cheques.to_string(),
        minutes: shown.minutes.to_string(),
    })
}

async fn edit(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((place_id, service_id)): Path<(String, String)>,
) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Site)?;
    let mut conn = state.db.read().await?;
    let service = catalogue::list(&mut conn, &signed.org, &place_id)
        .await?
        .into_iter()
        .find(|s| s.id == service_id)
        .ok_or_else(|| Error::not_found("Ce service n'existe pas."))?;
    let shown = NewService {
        kind: service.kind,
        title: service.title,
        description: service.description,
        themes: service.themes.0,
        minutes: service.minutes,
        price_cheques: service.price_cheques,
    };
    edit_page(&state, &visitor, (place_id, service_id), shown, None)
}

async fn save(
    State(state): State<AppState>,
    Path((place_id, service_id)): Path<(String, String)>,
    form: Form<Vec<(String, String)>>,
) -> WebResult {
    let signed = SignedIn::require(&form.visitor, OrgKind::Site)?;
    let key = form.own_key();
    let Form { visitor, data, .. } = form;
    let (org, now, new) = (signed.org.clone(), state.clock.now(), service_of(&data));
    let ids = (place_id.clone(), service_id.clone());
    let updated = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move { catalogue::update(tx, &org, &ids.0, &ids.1, new, now).await })
        })
        .await;
    match updated {
        Ok(s) => done("modifie", &s),
        Err(e @ Error::Unprocessable { .. }) => {
            let message = Some(e.public_message());
            edit_page(
                &state,
                &visitor,
                (place_id, service_id),
                service_of(&data),
                message,
            )
        }
        Err(e) => Err(e.into()),
    }
}
