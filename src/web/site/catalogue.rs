//! The site agent's catalogue: the services each of the site's places offers, added and
//! withdrawn from a page that works without JavaScript.

use crate::app::AppState;
use crate::catalogue::typology;
use crate::catalogue::{self, NewService, Service};
use crate::error::Error;
use crate::orgs::OrgKind;
use crate::web::form_errors::FormErrors;
use crate::web::session::{Form, SignedIn};
use crate::web::{page, see_other, with_status, Layout, Visitor, WebResult};
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
    /// Its form to add a service: blank, or as sent when it was refused.
    pub add: AddForm,
}

/// The form adding a service to one place (its fields' ids end with the place's number).
pub struct AddForm {
    pub errors: FormErrors,
    pub title: String,
    pub kind: String,
    pub description: String,
    pub themes: Vec<String>,
    pub minutes: String,
    pub price: String,
}

impl AddForm {
    fn blank() -> AddForm {
        AddForm {
            errors: FormErrors::none(),
            title: String::new(),
            kind: String::new(),
            description: String::new(),
            themes: Vec::new(),
            minutes: "60".to_string(),
            price: "1".to_string(),
        }
    }

    fn has_theme(&self, id: &&str) -> bool {
        self.themes.iter().any(|t| t == id)
    }
}

/// A refused addition: the place whose form it was, its mistakes, what was sent.
struct Refused {
    place_id: String,
    error: Error,
    data: Vec<(String, String)>,
}

/// The id of the catalogue form's field a refusal is about (`suffix` distinguishes the forms
/// of a page that has several): the title unless it is about another field.
fn service_field(code: &str, suffix: &str) -> String {
    let field = match code {
        "invalid_service" => "kind",
        "invalid_description" => "description",
        "invalid_minutes" => "minutes",
        "invalid_price" => "price",
        "invalid_theme" => {
            let first = typology::THEMES.first().map(|(id, _)| *id).unwrap_or("");
            return format!("theme{suffix}-{first}");
        }
        _ => "title",
    };
    format!("{field}{suffix}")
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
    /// A refusal about no field (a place that is not the site's).
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
    mut refused: Option<Refused>,
    done: Option<Done>,
) -> WebResult {
    let signed = SignedIn::require(visitor, OrgKind::Site)?;
    let mut conn = state.db.read().await?;
    let mut places = Vec::new();
    let mut in_error = false;
    for (index, place) in crate::sites::places::for_site(&mut conn, &signed.org.id)
        .await?
        .into_iter()
        .enumerate()
    {
        let services = catalogue::list(&mut conn, &signed.org, place.id()).await?;
        let add = match refused.take_if(|r| r.place_id == place.id()) {
            Some(r) => {
                in_error = true;
                let suffix = format!("-{}", index + 1);
                AddForm {
                    errors: FormErrors::one(
                        service_field(r.error.code(), &suffix),
                        r.error.public_message(),
                    ),
                    title: field(&r.data, "title"),
                    kind: field(&r.data, "kind"),
                    description: field(&r.data, "description"),
                    themes: service_of(&r.data).themes,
                    minutes: field(&r.data, "minutes"),
                    price: field(&r.data, "price_cheques"),
                }
            }
            None => AddForm::blank(),
        };
        places.push(PlaceCatalogue {
            id: place.id().to_string(),
            name: place.data.get("nom").unwrap_or("Lieu").to_string(),
            services: services.iter().map(ServiceRow::of).collect(),
            add,
        });
    }
    let notice = done.and_then(|d| notice(&d, &places));
    // Refused for a place that is not on the page: said for the page.
    let error = refused.map(|r| r.error.public_message());
    let title = "Catalogue de mes lieux";
    let title = if in_error || error.is_some() {
        format!("Erreur — {title}")
    } else {
        title.to_string()
    };
    page(CataloguePage {
        l: Layout::new(state, visitor, title),
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
    let refused_place = place_id.clone();
    let created = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move { catalogue::create(tx, &org, &place_id, service, now).await })
        })
        .await;
    match created {
        Ok(s) => done("ajoute", &s),
        Err(error @ (Error::Unprocessable { .. } | Error::NotFound(_))) => {
            let status = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            let refused = Refused {
                place_id: refused_place,
                error,
                data,
            };
            with_status(status, render(&state, &visitor, Some(refused), None).await)
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
    errors: FormErrors,
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
    typed: Option<&[(String, String)]>,
    errors: FormErrors,
) -> WebResult {
    // What was typed, even when it is not a number.
    let number = |name: &str, value: i64| match typed {
        Some(data) => field(data, name),
        None => value.to_string(),
    };
    page(EditPage {
        l: Layout::new(state, visitor, errors.page_title("Modifier un service")),
        errors,
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
        price: number("price_cheques", shown.price_cheques),
        minutes: number("minutes", shown.minutes),
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
    edit_page(
        &state,
        &visitor,
        (place_id, service_id),
        shown,
        None,
        FormErrors::none(),
    )
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
            let errors = FormErrors::one(service_field(e.code(), ""), e.public_message());
            let page = edit_page(
                &state,
                &visitor,
                (place_id, service_id),
                service_of(&data),
                Some(&data),
                errors,
            );
            with_status(e.status(), page)
        }
        Err(e) => Err(e.into()),
    }
}
