//! A collective session on the site's pages: the codes of the cheques received from several
//! carnets and the number of people present, recorded by the one door
//! (`redemption::record_workshop`); then its receipt.

use super::{choices, Entered};
use crate::app::AppState;
use crate::catalogue::typology;
use crate::fr::euros_text;
use crate::orgs::OrgKind;
use crate::redemption::{self, NewWorkshop, WorkshopRow, MAX_WORKSHOP_CHEQUES};
use crate::web::form_errors::FormErrors;
use crate::web::session::{Form, SignedIn};
use crate::web::{page, see_other, with_status, Layout, Visitor, WebResult};
use askama::Template;
use axum::extract::{Path, State};

/// The form's fields as sent (`themes` repeated, one per box ticked).
#[derive(Default, Clone)]
pub(super) struct WorkshopForm {
    codes: String,
    attendees: String,
    place_id: String,
    minutes: String,
    help_level: String,
    themes: Vec<String>,
    location: String,
}

impl WorkshopForm {
    fn read(fields: Vec<(String, String)>) -> WorkshopForm {
        let mut f = WorkshopForm::default();
        for (name, value) in fields {
            match name.as_str() {
                "codes" => f.codes = value,
                "attendees" => f.attendees = value,
                "place_id" => f.place_id = value,
                "minutes" => f.minutes = value,
                "help_level" => f.help_level = value,
                "themes" => f.themes.push(value),
                "location" => f.location = value,
                _ => {}
            }
        }
        f
    }
}

#[derive(Template)]
#[template(path = "site/workshop.html")]
struct WorkshopPage {
    l: Layout,
    errors: FormErrors,
    entered: WorkshopForm,
    places: Vec<(String, String)>,
    durations: Vec<(String, String)>,
    levels: Vec<(&'static str, &'static str)>,
    /// `(id, label, checked)`, as on the form of a single session.
    themes: Vec<(&'static str, &'static str, bool)>,
    locations: Vec<(&'static str, &'static str)>,
    location: String,
    codes_hint: String,
    /// The workshop just recorded, on its receipt.
    done: Option<Done>,
}

/// What the receipt of a workshop says.
struct Done {
    date: String,
    attendees: i64,
    carnets: i64,
    total: String,
    minutes: String,
    level: String,
    codes: Vec<String>,
}

impl Done {
    /// Its day in `zone`, the site's.
    fn of(w: &WorkshopRow, zone: &jiff::tz::TimeZone) -> Done {
        Done {
            date: crate::fr::long_date_in(&w.held_at, zone),
            attendees: w.attendees,
            carnets: w.carnets,
            total: euros_text(w.total_cents),
            minutes: w.minutes.map(typology::duration_text).unwrap_or_default(),
            level: w
                .help_level
                .as_deref()
                .and_then(crate::outcomes::HelpLevel::from_stored)
                .map(|l| l.label().to_string())
                .unwrap_or_default(),
            codes: w.cheques.iter().map(|c| c.code.clone()).collect(),
        }
    }
}

async fn render(
    state: &AppState,
    visitor: &Visitor,
    errors: FormErrors,
    entered: WorkshopForm,
    done: Option<Done>,
) -> WebResult {
    let signed = SignedIn::require(visitor, OrgKind::Site)?;
    let mut conn = state.db.read().await?;
    // The themes and locations offered, and those ticked, as on the form of a single session.
    let form = choices(
        &mut conn,
        &signed.org.id,
        Entered {
            themes: entered.themes.clone(),
            location: entered.location.clone(),
            ..Entered::default()
        },
        state.clock.today(),
    )
    .await?;
    let mut durations: Vec<(String, String)> = typology::DURATIONS
        .iter()
        .map(|m| (m.to_string(), typology::duration_text(*m)))
        .collect();
    durations.insert(0, (String::new(), "Non précisée".into()));
    let title = match done {
        Some(_) => "Atelier enregistré",
        None => "Enregistrer un atelier collectif",
    };
    page(WorkshopPage {
        l: Layout::new(state, visitor, errors.page_title(title)),
        errors,
        entered,
        places: form.places,
        durations,
        levels: crate::outcomes::HelpLevel::choices(),
        themes: form.themes,
        locations: form.locations,
        location: form.location,
        codes_hint: format!(
            "Un code par ligne, par exemple ABCD-EFGH-JK12 ; {MAX_WORKSHOP_CHEQUES} chèques au plus."
        ),
        done,
    })
}

pub(super) async fn form(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    let entered = WorkshopForm {
        minutes: "120".into(),
        ..WorkshopForm::default()
    };
    render(&state, &visitor, FormErrors::none(), entered, None).await
}

pub(super) async fn record(
    State(state): State<AppState>,
    form: Form<Vec<(String, String)>>,
) -> WebResult {
    let signed = SignedIn::require(&form.visitor, OrgKind::Site)?;
    let data = WorkshopForm::read(form.data.clone());
    let unprocessable = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    let attendees = match data.attendees.trim().parse::<i64>() {
        Ok(n) => n,
        Err(_) => {
            let errors = FormErrors::one(
                "attendees",
                "Indiquez le nombre de personnes présentes, en chiffres.",
            );
            let page = render(&state, &form.visitor, errors, data, None).await;
            return with_status(unprocessable, page);
        }
    };
    let minutes = match data.minutes.trim() {
        "" => None,
        m => m.parse::<i64>().ok(),
    };
    // One code a line; spaces, commas and semicolons separate them too.
    let codes: Vec<String> = data
        .codes
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let new = NewWorkshop {
        codes,
        attendees,
        place_id: Some(data.place_id.clone()).filter(|p| !p.is_empty()),
        minutes,
        help_level: Some(data.help_level.clone()).filter(|l| !l.is_empty()),
        themes: data.themes.clone(),
        location: Some(data.location.clone()).filter(|l| !l.is_empty()),
    };
    let now = state.clock.now();
    let (keyring, org) = (state.keyring.clone(), signed.org.clone());
    let recorded = state
        .write(form.visitor.origin(), form.key(&org.id), move |tx| {
            Box::pin(async move { redemption::record_workshop(tx, &keyring, &org, new, now).await })
        })
        .await;
    match recorded {
        Ok(w) => see_other(&format!("/lieu/ateliers/{}", w.id)),
        Err(e) if e.status().is_client_error() && e.status().as_u16() != 429 => {
            let mut errors = FormErrors::from_error(&e, field_of);
            if !matches!(e.code(), "invalid_attendees" | "attendees_below_carnets") {
                errors = FormErrors::one(
                    field_of(e.code()),
                    format!(
                        "{} Aucun chèque de l'atelier n'a été encaissé.",
                        e.public_message()
                    ),
                );
            }
            let page = render(&state, &form.visitor, errors, data, None).await;
            with_status(e.status(), page)
        }
        Err(e) => Err(e.into()),
    }
}

/// The field of the workshop form a refusal is about.
fn field_of(code: &str) -> String {
    match code {
        "invalid_attendees" | "attendees_below_carnets" => "attendees",
        c if c.contains("place") => "place_id",
        c if c.contains("minutes") => "minutes",
        "invalid_help_level" => "help_level",
        "invalid_theme" => "themes",
        "invalid_location" => "location",
        _ => "codes",
    }
    .to_string()
}

/// A workshop's receipt: where recording it leads, so that a reload does nothing again.
pub(super) async fn receipt(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Site)?;
    let mut conn = state.db.read().await?;
    let w = redemption::get_workshop(&mut conn, &signed.org, &id).await?;
    drop(conn);
    let done = Some(Done::of(&w, &signed.org.zone()));
    render(
        &state,
        &visitor,
        FormErrors::none(),
        WorkshopForm::default(),
        done,
    )
    .await
}
