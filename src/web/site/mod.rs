//! The mediation site agent: redeem a cheque by typing its code (or scanning it where the
//! browser can), pick the service and duration, see a receipt, undo a mistake, see the
//! redemptions and what has been paid.

mod actions;
mod bank;
pub(super) mod catalogue;
mod console;
pub(super) mod offline;
pub(super) mod offline_revoke;
mod payments;
mod workshop;

use super::form_errors::FormErrors;
use super::session::SignedIn;
use super::{page, Layout, Visitor, WebResult};
use crate::app::AppState;
use crate::catalogue::typology;
use crate::fr::{euros_text, long_date_text};
use crate::money::Cents;
use crate::orgs::OrgKind;
use crate::redemption::{self, RedemptionRow};
use crate::settlement::{BatchStatus, LineStatus};
use crate::sites::places::QualificationStatus;
use askama::Template;
use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use jiff::SignedDuration;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/lieu", get(home))
        .route("/lieu/encaisser", post(actions::redeem))
        .route("/lieu/encaissements/{id}", get(actions::receipt_page))
        .route("/lieu/encaissements/{id}/annuler", post(actions::undo))
        .route("/lieu/releves/{file}", get(actions::statement))
        .route("/lieu/atelier", get(workshop::form).post(workshop::record))
        .route("/lieu/ateliers/{id}", get(workshop::receipt))
        .merge(catalogue::router())
        .merge(bank::router())
        .merge(payments::router())
        .merge(offline::router())
        .merge(console::router())
        .merge(offline_revoke::router())
}

pub struct Payment {
    pub batch_id: String,
    pub until: String,
    pub amount: String,
    pub state: String,
}

pub struct Row {
    pub id: String,
    pub code: String,
    pub date: String,
    pub service: &'static str,
    pub minutes: String,
    /// "Annexe, séance de 2 chèques": what tells sessions and places apart, if anything.
    pub session: String,
    pub value: String,
    pub state: &'static str,
    pub undoable: bool,
}

#[derive(Template)]
#[template(path = "site/home.html")]
struct Home {
    l: Layout,
    /// A refusal no field of the form can correct (an undo too late).
    error: Option<String>,
    /// The redemption form's mistakes, under its fields.
    errors: FormErrors,
    receipt: Option<Receipt>,
    notice: Option<String>,
    form: RedeemChoices,
    rows: Vec<Row>,
    paid: String,
    owed: String,
    undo_hours: i64,
    /// Why the site cannot redeem right now, if so.
    not_qualified: Option<String>,
    payments: Vec<Payment>,
}

/// What the receipt shows of a session: every cheque redeemed.
pub struct Receipt {
    pub total: String,
    pub codes: Vec<String>,
    pub date: String,
    pub service: String,
    pub minutes: String,
    pub themes: String,
    pub place: String,
    /// The session's "Je donne mon avis" page, to hand to the person (address and QR code as
    /// SVG), when there is one.
    pub feedback_url: String,
    pub feedback_qr: String,
}

/// What the redemption form offers, with what was typed kept after a refusal.
#[derive(Default)]
pub struct RedeemChoices {
    /// `(id, name)` of the site's places, when there are several.
    pub places: Vec<(String, String)>,
    pub any_place_qualified: bool,
    /// Why each place that cannot redeem cannot, in words (with the operator's reason when
    /// it disqualified the place).
    pub place_notices: Vec<String>,
    /// `(id, name)` of the site's places, when there are several, for the history.
    pub place_names: Vec<(String, String)>,
    pub place_id: String,
    /// `(value, label)` of the kinds of help.
    pub kinds: Vec<(String, String)>,
    /// `(service:ID, label)` of the places' catalogue services.
    pub catalogue: Vec<(String, String)>,
    pub service: String,
    pub durations: Vec<(String, String)>,
    pub minutes: String,
    pub minutes_other: String,
    /// `(id, label, checked)`.
    pub themes: Vec<(&'static str, &'static str, bool)>,
    pub locations: Vec<(&'static str, &'static str)>,
    pub location: String,
    /// Ten code fields: `(number, value)`.
    pub codes: Vec<(usize, String)>,
    /// `(identifier, label)` of the levels of help, and the one chosen ("": the carnet's).
    pub levels: Vec<(&'static str, &'static str)>,
    pub help_level: String,
}

impl RedeemChoices {
    /// Whether the optional details (themes, where the session took place) were filled in, so
    /// that their disclosure shows them open again after a refusal.
    pub fn details_given(&self) -> bool {
        self.themes.iter().any(|(_, _, checked)| *checked)
            || !self.help_level.is_empty()
            || self
                .locations
                .first()
                .is_some_and(|(default, _)| *default != self.location)
    }
}

/// The form's fields as sent: repeated names (`code`, `themes`) are kept in order.
#[derive(Default)]
pub(super) struct Entered {
    codes: Vec<String>,
    place_id: String,
    service: String,
    minutes: String,
    minutes_other: String,
    themes: Vec<String>,
    location: String,
    help_level: String,
}

impl Entered {
    fn read(fields: Vec<(String, String)>) -> Entered {
        let mut e = Entered::default();
        for (name, value) in fields {
            match name.as_str() {
                "code" => e.codes.push(value),
                "themes" => e.themes.push(value),
                "place_id" => e.place_id = value,
                "service" => e.service = value,
                "minutes" => e.minutes = value,
                "minutes_other" => e.minutes_other = value,
                "location" => e.location = value,
                "help_level" => e.help_level = value,
                _ => {}
            }
        }
        e
    }
}

async fn choices(
    conn: &mut crate::db::Conn,
    site_id: &str,
    entered: Entered,
    today: jiff::civil::Date,
) -> crate::error::Result<RedeemChoices> {
    let places = crate::sites::places::for_site(conn, site_id).await?;
    let ids: Vec<&str> = places.iter().map(|p| p.id()).collect();
    let offered = crate::catalogue::offered_by(conn, &ids).await?;
    let several = places.len() > 1;
    let name_of = |p: &crate::sites::places::Place| p.data.get("nom").unwrap_or("Lieu").to_string();
    let mut catalogue = Vec::new();
    for place in &places {
        for s in offered.get(place.id()).into_iter().flatten() {
            let at = if several {
                format!(" — {}", name_of(place))
            } else {
                String::new()
            };
            catalogue.push((
                format!("service:{}", s.id),
                format!(
                    "{} ({}, {} min, {}){at}",
                    s.title,
                    s.kind_label(),
                    s.minutes,
                    s.price_text()
                ),
            ));
        }
    }
    let kinds = typology::SERVICES
        .iter()
        .map(|k| (k.to_string(), typology::service_label(Some(k)).to_string()))
        .collect();
    // With a catalogue, the duration left empty is the chosen service's usual one.
    let mut durations: Vec<(String, String)> = Vec::new();
    if !catalogue.is_empty() {
        durations.push((String::new(), "Durée habituelle du service choisi".into()));
    }
    durations.extend(
        typology::DURATIONS
            .iter()
            .map(|m| (m.to_string(), typology::duration_text(*m))),
    );
    durations.push(("other".into(), "Autre durée".into()));
    let mut codes: Vec<(usize, String)> = entered
        .codes
        .into_iter()
        .enumerate()
        .map(|(i, c)| (i + 1, c))
        .collect();
    codes.truncate(redemption::MAX_CHEQUES);
    while codes.len() < redemption::MAX_CHEQUES {
        codes.push((codes.len() + 1, String::new()));
    }
    let mut place_notices = Vec::new();
    for place in places.iter().filter(|p| !p.is_qualified_on(today)) {
        let why = match crate::sites::qualification::disqualification(conn, place.id()).await? {
            Some(d) => format!("disqualifié définitivement. Motif : {}", d.reason),
            None if place.qualification_status == QualificationStatus::Suspended => {
                "suspendu par l'opérateur du Pass numérique.".to_string()
            }
            None => match place.qualified_until.as_deref() {
                Some(until) if place.qualification_status == QualificationStatus::Qualified => {
                    format!(
                        "sa qualification a pris fin le {} : demandez son renouvellement.",
                        crate::fr::long_date_text(until)
                    )
                }
                _ => "pas encore qualifié.".to_string(),
            },
        };
        place_notices.push(format!(
            "« {} » ne peut pas encaisser : {why}",
            name_of(place)
        ));
    }
    Ok(RedeemChoices {
        place_notices,
        places: if several {
            places
                .iter()
                .map(|p| match p.is_qualified_on(today) {
                    true => (p.id().to_string(), name_of(p)),
                    false => (
                        p.id().to_string(),
                        format!("{} (ne peut pas encaisser)", name_of(p)),
                    ),
                })
                .collect()
        } else {
            Vec::new()
        },
        any_place_qualified: places.iter().any(|p| p.is_qualified_on(today)),
        place_names: match several {
            true => places
                .iter()
                .map(|p| (p.id().to_string(), name_of(p)))
                .collect(),
            false => Vec::new(),
        },
        place_id: entered.place_id,
        minutes: match entered.minutes.is_empty() && catalogue.is_empty() {
            true => "60".into(),
            false => entered.minutes,
        },
        kinds,
        catalogue,
        service: entered.service,
        durations,
        minutes_other: entered.minutes_other,
        themes: typology::THEMES
            .iter()
            .map(|(id, label)| (*id, *label, entered.themes.iter().any(|t| t == id)))
            .collect(),
        locations: typology::LOCATIONS.to_vec(),
        location: if entered.location.is_empty() {
            "at_site".into()
        } else {
            entered.location
        },
        codes,
        levels: crate::outcomes::HelpLevel::choices(),
        help_level: entered.help_level,
    })
}

/// A session just recorded, its day in the place's zone (`zone`).
pub(super) fn receipt(r: &RedemptionRow, place: String, zone: &jiff::tz::TimeZone) -> Receipt {
    let total: Cents = r.cheques.iter().map(|c| c.value_cents).sum();
    Receipt {
        total: euros_text(total),
        codes: r.cheques.iter().map(|c| c.code.clone()).collect(),
        date: crate::fr::long_date_in(&r.redeemed_at, zone),
        service: typology::service_label(r.service.as_deref()).to_string(),
        minutes: r.minutes.map(typology::duration_text).unwrap_or_default(),
        themes: r.themes.labels().join(", "),
        place,
        feedback_url: String::new(),
        feedback_qr: String::new(),
    }
}

fn row(
    r: &RedemptionRow,
    now: jiff::Timestamp,
    window: SignedDuration,
    form: &RedeemChoices,
    all: &[RedemptionRow],
    zone: &jiff::tz::TimeZone,
) -> Row {
    let cutoff = crate::clock::format_ts(now.checked_sub(window).unwrap_or(now));
    let place = r
        .place_id
        .as_deref()
        .and_then(|id| form.place_names.iter().find(|(p, _)| p == id))
        .map(|(_, name)| name.clone());
    let together = match &r.group_id {
        Some(g) => all
            .iter()
            .filter(|o| o.group_id.as_ref() == Some(g))
            .count(),
        None => 1,
    };
    let session = (together > 1).then(|| format!("séance de {together} chèques"));
    Row {
        session: place
            .into_iter()
            .chain(session)
            .collect::<Vec<_>>()
            .join(", "),
        id: r.id.clone(),
        code: r.code.clone(),
        date: crate::fr::long_date_in(&r.redeemed_at, zone),
        service: typology::service_label(r.service.as_deref()),
        minutes: r.minutes.map(|m| format!("{m} min")).unwrap_or_default(),
        value: euros_text(r.value_cents),
        state: if r.undone_at.is_some() {
            "Annulé"
        } else if r.settlement_id.is_some() {
            "Réglé ou en cours de règlement"
        } else {
            "Encaissé"
        },
        undoable: r.undone_at.is_none() && r.settlement_id.is_none() && r.redeemed_at >= cutoff,
    }
}

pub(super) async fn render(
    state: &AppState,
    visitor: &Visitor,
    error: Option<String>,
    receipt: Option<Receipt>,
    notice: Option<String>,
    entered: Entered,
) -> WebResult {
    let errors = FormErrors::none();
    render_with(state, visitor, error, errors, receipt, notice, entered).await
}

/// The page, with the redemption form's mistakes.
pub(super) async fn render_with(
    state: &AppState,
    visitor: &Visitor,
    error: Option<String>,
    errors: FormErrors,
    receipt: Option<Receipt>,
    notice: Option<String>,
    entered: Entered,
) -> WebResult {
    let signed = SignedIn::require(visitor, OrgKind::Site)?;
    let mut conn = state.db.read().await?;
    let now = state.clock.now();
    // The site's own day: a qualification ends at midnight where the site is.
    let today = crate::zones::today_in(now, &signed.org.zone());
    let mut form = choices(&mut conn, &signed.org.id, entered, today).await?;
    let window = SignedDuration::from_hours(state.config.undo_window_hours);
    let list = redemption::list(&mut conn, &signed.org).await?;
    // Read afresh: the session's copy may predate the operator's decision.
    let org = crate::orgs::find(&mut conn, &signed.org.id)
        .await?
        .unwrap_or_else(|| signed.org.clone());
    let not_qualified = match org.check_can_redeem(today) {
        Ok(()) if form.any_place_qualified => None,
        Ok(()) => Some(
            "Aucun de vos lieux n'a de qualification en cours : ils ne peuvent pas encaisser de \
             chèques. Contactez l'opérateur du Pass numérique."
                .to_string(),
        ),
        Err(e) => {
            // The whole site is refused: that says it all, place by place would repeat it.
            form.place_notices.clear();
            let reason = crate::audit::latest(
                &mut conn,
                &org.id,
                crate::sites::qualification::SUSPENSION_REASON,
            )
            .await?
            .filter(|_| org.qualification_status == QualificationStatus::Suspended)
            .map(|entry| format!(" Motif : {}", entry.detail))
            .unwrap_or_default();
            Some(format!("{}{reason}", e.public_message()))
        }
    };
    let figures = crate::ledger::figures_of_org(&mut conn, &signed.org.id, false).await?;
    let paid: Cents = figures.values().map(|f| f.paid_cents).sum();
    let owed: Cents = figures
        .values()
        .map(|f| f.redeemed_unsettled_cents + f.settled_unpaid_cents)
        .sum();
    let payments = crate::settlement::lines_of_site(&mut conn, &signed.org.id)
        .await?
        .into_iter()
        .map(|(batch, line)| Payment {
            until: long_date_text(&batch.until_date),
            amount: euros_text(line.amount_cents),
            state: match (batch.status, line.status) {
                (_, LineStatus::Rejected) => {
                    let why = line.rejection_reason.as_deref().unwrap_or("sans motif");
                    if line.carried_into.is_some() {
                        format!("Virement rejeté par la banque ({why}), refait dans un lot suivant")
                    } else if line.released_at.is_some() {
                        format!(
                            "Virement rejeté par la banque ({why}) : il sera refait vers le même \
                             compte"
                        )
                    } else {
                        format!(
                            "Virement rejeté par la banque ({why}) : il sera refait quand vous \
                             aurez donné de nouvelles coordonnées bancaires"
                        )
                    }
                }
                (BatchStatus::Paid, _) => "Payé".to_string(),
                _ => "En cours de paiement".to_string(),
            },
            batch_id: batch.id,
        })
        .collect();
    // The site's days, in its zone (Fort-de-France's evening is Paris's next morning).
    let zone = org.zone();
    let rows = list
        .iter()
        .map(|r| row(r, now, window, &form, &list, &zone))
        .collect();
    page(Home {
        l: Layout::new(state, visitor, errors.page_title("Encaisser un chèque")),
        payments,
        error,
        errors,
        receipt,
        notice,
        form,
        rows,
        paid: euros_text(paid),
        owed: euros_text(owed),
        undo_hours: state.config.undo_window_hours,
        not_qualified,
    })
}

async fn home(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    render(&state, &visitor, None, None, None, Entered::default()).await
}
