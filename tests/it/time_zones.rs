//! Local time overseas (issue 26, point 1): a place's hours are read in its own zone, and a
//! cheque's last day ends at midnight where its programme is. The clock is set at the awkward
//! hours: 20:30 on a Saturday in Martinique (already Sunday in Paris), 23:30 in Nouméa and
//! 23:30 in Paris (already the next morning in Nouméa). Redemption, the expiry job and the
//! balance page agree. On both databases.

use crate::common;
use common::{error_code, Backend, TestApp, World};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_databases!(
    a_place_is_open_in_its_own_zone,
    a_last_day_ends_at_midnight_in_noumea,
    a_used_cheque_is_refused_with_the_day_where_its_programme_is,
    a_last_day_ends_at_midnight_in_martinique,
    stored_zones_are_checked_and_limited_to_who_may_set_them,
    the_pacific_collectivites_are_departements_like_the_others,
    a_carnet_and_its_printed_days_are_its_programmes,
    a_qualification_ends_at_midnight_where_the_site_is,
    expiry_warnings_count_days_where_the_programme_is,
);

/// Saturday 7 March 2026, 20:30 in Martinique (UTC−4): Sunday 01:30 in Paris.
const MARTINIQUE_SATURDAY_EVENING: &str = "2026-03-08T00:30:00Z";
/// Saturday 7 March 2026, 23:30 in Nouméa (UTC+11): 13:30 in Paris.
const NOUMEA_LATE: &str = "2026-03-07T12:30:00Z";
/// Saturday 7 March 2026, 23:30 in Paris: Sunday 09:30 in Nouméa.
const PARIS_LATE: &str = "2026-03-07T22:30:00Z";

fn set_clock(app: &TestApp, at: &str) {
    app.clock.set(at.parse().expect("timestamp"));
}

async fn set_hours(app: &TestApp, place_id: &str, hours: &str) {
    let mut conn = app.raw().await;
    sqlx::query("UPDATE places SET horaires = $1 WHERE id = $2")
        .bind(hours)
        .bind(place_id)
        .execute(&mut conn)
        .await
        .expect("hours set");
}

/// `open_now` of the first place the directory finds in a département.
async fn open_now(app: &TestApp, department: &str) -> Value {
    let (status, body) = app
        .get(
            &format!("/api/v1/public/sites?department={department}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["sites"][0]["open_now"].clone()
}

async fn a_place_is_open_in_its_own_zone(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (martinique, _) = app
        .qualified_site_at("Cyberbase de Fort-de-France", "97200")
        .await;
    let (bordeaux, _) = app
        .qualified_site_at("Médiathèque de Bordeaux", "33000")
        .await;
    for place in [&martinique, &bordeaux] {
        set_hours(&app, place, "Sa 18:00-23:00").await;
    }
    set_clock(&app, MARTINIQUE_SATURDAY_EVENING);
    assert_eq!(open_now(&app, "972").await, json!(true));
    // The same hours in Bordeaux: it is 01:30 on Sunday there.
    assert_eq!(open_now(&app, "33").await, json!(false));
    let (_, open) = app
        .get("/api/v1/public/sites?department=972&open_now=true", None)
        .await;
    assert_eq!(open["sites"].as_array().map(Vec::len), Some(1), "{open}");
    // The directory's page says so too.
    let html = reqwest::get(format!("{}/lieux/{martinique}", app.base))
        .await
        .expect("place page")
        .text()
        .await
        .expect("body");
    assert!(html.contains("Ouvert maintenant."), "{html}");
    // A stored zone overrides the département's: read in Paris time, it is closed.
    let (status, body) = app
        .put(
            &format!("/api/v1/places/{martinique}/time-zone"),
            &app.operator_token,
            json!({"time_zone": "Europe/Paris"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["zone"], "Europe/Paris");
    assert_eq!(open_now(&app, "972").await, json!(false));
    let (status, body) = app
        .put(
            &format!("/api/v1/places/{martinique}/time-zone"),
            &app.operator_token,
            json!({"time_zone": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["zone"], "America/Martinique");
    assert_eq!(body["time_zone"], Value::Null);
    assert_eq!(open_now(&app, "972").await, json!(true));
}

/// A carnet of five cheques of a new programme of `w`'s funder made with `terms`, issued on
/// the test clock's first day (Monday 2 March 2026) with five days of validity: their last day
/// is Saturday 7 March.
async fn carnet(app: &TestApp, w: &World, name: &str, terms: Value) -> (String, Value) {
    let mut all = json!({"validity_days": 5});
    if let (Some(all), Some(terms)) = (all.as_object_mut(), terms.as_object()) {
        all.extend(terms.clone());
    }
    let program_id = app
        .programme(&w.funder, &w.distributor_id, name)
        .terms(all)
        .funded(10_000)
        .quota(10)
        .create()
        .await;
    let (status, pass) = app
        .post(
            "/api/v1/passes",
            &w.distributor,
            json!({"program_id": program_id, "cheques": 5, "beneficiary_ref": "B-42"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{pass}");
    assert_eq!(pass["expires_on"], "2026-03-07", "{pass}");
    (program_id, pass)
}

fn cheque(pass: &Value, i: usize) -> String {
    pass["vouchers"][i]["code"]
        .as_str()
        .expect("code")
        .to_string()
}

async fn balance(app: &TestApp, pass: &Value) -> Value {
    let code = pass["pass_code"].as_str().expect("pass code");
    let (status, body) = app
        .get(&format!("/api/v1/public/passes/{code}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn balance_page(app: &TestApp, pass: &Value) -> String {
    let code = pass["pass_code"].as_str().expect("pass code");
    reqwest::get(format!("{}/solde?code={code}", app.base))
        .await
        .expect("balance page")
        .text()
        .await
        .expect("body")
}

/// Cheques of a programme still `valid`.
async fn still_valid(app: &TestApp, program_id: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM vouchers WHERE program_id = '{program_id}' AND status = 'valid'"
    ))
    .await
}

async fn a_last_day_ends_at_midnight_in_noumea(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(0, 0).await;
    // A zone stored for a programme of no territory.
    let (noumea_id, noumea) = carnet(
        &app,
        &w,
        "Pass numérique Nouvelle-Calédonie",
        json!({"time_zone": "Pacific/Noumea"}),
    )
    .await;
    let (paris_id, paris) = carnet(&app, &w, "Pass numérique Gironde", json!({})).await;

    // 23:30 on the last day in Nouméa: still valid there.
    set_clock(&app, NOUMEA_LATE);
    let (status, body) = app.redeem(&w.site, &cheque(&noumea, 0)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let b = balance(&app, &noumea).await;
    assert_eq!(b["remaining_cheques"], 4, "{b}");
    assert_eq!(b["used"][0]["on"], "2026-03-07", "{b}");
    passnum::cli::jobs::expire(&app.state)
        .await
        .expect("expiry job");
    assert_eq!(still_valid(&app, &noumea_id).await, 4);

    // 23:30 in Paris is Sunday morning in Nouméa: its cheques are past their last day there,
    // those of the Paris programme are not.
    set_clock(&app, PARIS_LATE);
    let (status, body) = app.redeem(&w.site, &cheque(&noumea, 1)).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert_eq!(error_code(&body), "expired");
    let b = balance(&app, &noumea).await;
    assert_eq!(b["remaining_cheques"], 0, "{b}");
    let b = balance(&app, &paris).await;
    assert_eq!(b["remaining_cheques"], 5, "{b}");
    assert!(balance_page(&app, &paris)
        .await
        .contains("Il vous reste 5 chèques"));
    let (status, body) = app.redeem(&w.site, &cheque(&paris, 0)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // The refused cheque was given back untouched, and the job agrees with the redemption.
    assert_eq!(still_valid(&app, &noumea_id).await, 4);
    passnum::cli::jobs::expire(&app.state)
        .await
        .expect("expiry job");
    assert_eq!(still_valid(&app, &noumea_id).await, 0);
    assert_eq!(still_valid(&app, &paris_id).await, 4);
    app.assert_ledger_verifies().await;
}

/// Saturday 7 March, 08:00 in Nouméa, is still Friday 6 March in UTC and in Paris: a cheque
/// used then and given again is refused with the day where its programme is.
async fn a_used_cheque_is_refused_with_the_day_where_its_programme_is(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(0, 0).await;
    let (_, noumea) = carnet(
        &app,
        &w,
        "Pass numérique Nouvelle-Calédonie",
        json!({"time_zone": "Pacific/Noumea"}),
    )
    .await;
    set_clock(&app, "2026-03-06T21:00:00Z");
    let (status, body) = app.redeem(&w.site, &cheque(&noumea, 0)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app.redeem(&w.site, &cheque(&noumea, 0)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(error_code(&body), "already_redeemed");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("7 mars 2026"), "{message}");
}

async fn a_last_day_ends_at_midnight_in_martinique(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(0, 0).await;
    let (site_id, site) = app
        .qualified_site_at("Cyberbase de Fort-de-France", "97200")
        .await;
    // Martinique's programme takes its zone from its territory.
    let (martinique_id, martinique) = carnet(
        &app,
        &w,
        "Pass numérique Martinique",
        json!({"territory": ["972"]}),
    )
    .await;
    let (paris_id, paris) = carnet(&app, &w, "Pass numérique Gironde", json!({})).await;

    // 20:30 on the last day in Fort-de-France: Paris is already on the next day.
    set_clock(&app, MARTINIQUE_SATURDAY_EVENING);
    let (status, body) = app.redeem(&site, &cheque(&martinique, 0)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app.redeem(&w.site, &cheque(&paris, 0)).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert_eq!(error_code(&body), "expired");
    let b = balance(&app, &martinique).await;
    assert_eq!(b["remaining_cheques"], 4, "{b}");
    // The day it was used, as the holder lived it.
    assert_eq!(b["used"][0]["on"], "2026-03-07", "{b}");
    assert!(balance_page(&app, &martinique)
        .await
        .contains("Le 7 mars 2026"));
    assert_eq!(balance(&app, &paris).await["remaining_cheques"], 0);
    passnum::cli::jobs::expire(&app.state)
        .await
        .expect("expiry job");
    assert_eq!(still_valid(&app, &martinique_id).await, 4);
    assert_eq!(still_valid(&app, &paris_id).await, 0);
    // The site's page shows the session on its own day.
    let (client, _) = common::web::signed_in(&app, &site_id, "accueil@fdf.example").await;
    let page = common::web::get(&client, &format!("{}/lieu", app.base)).await;
    assert!(page.html.contains("7 mars 2026"), "{}", page.html);
    assert!(!page.html.contains("8 mars 2026"), "{}", page.html);

    // Midnight in Fort-de-France: the last day is over there too.
    set_clock(&app, "2026-03-08T04:30:00Z");
    let (status, body) = app.redeem(&site, &cheque(&martinique, 1)).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    passnum::cli::jobs::expire(&app.state)
        .await
        .expect("expiry job");
    assert_eq!(still_valid(&app, &martinique_id).await, 0);
    app.assert_ledger_verifies().await;
}

async fn stored_zones_are_checked_and_limited_to_who_may_set_them(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(0, 0).await;
    let (other_funder_id, other_funder) = app.org("funder", "Région Nouvelle-Aquitaine").await;
    // An unknown zone is refused at creation and at a change, in French, never a 500.
    let (status, body) = app
        .post(
            "/api/v1/programs",
            &w.funder,
            json!({"name": "Pass", "budget_cents": 100_000, "time_zone": "Mars/Olympus"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "invalid_time_zone");
    let (status, body) = app
        .post(
            "/api/v1/organizations",
            &app.operator_token,
            json!({"kind": "site", "name": "Lieu", "time_zone": "Paris"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "invalid_time_zone");
    let path = format!("/api/v1/programs/{}/time-zone", w.program_id);
    let (status, body) = app
        .put(&path, &w.funder, json!({"time_zone": "Mars/Olympus"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "invalid_time_zone");
    // The programme's funder sets it, spelled loosely; another funder sees no such programme.
    let (status, body) = app
        .put(&path, &w.funder, json!({"time_zone": "pacific/noumea"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["time_zone"], "Pacific/Noumea");
    let (status, _) = app
        .put(&path, &other_funder, json!({"time_zone": "Europe/Paris"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, program) = app
        .get(
            &format!("/api/v1/programs/{}", w.program_id),
            Some(&w.funder),
        )
        .await;
    assert_eq!(program["time_zone"], "Pacific/Noumea", "{program}");
    // An organisation: the operator or itself, no one else.
    let path = format!("/api/v1/organizations/{other_funder_id}/time-zone");
    let (status, body) = app
        .put(
            &path,
            &other_funder,
            json!({"time_zone": "America/Cayenne"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app
        .put(&path, &w.funder, json!({"time_zone": "Europe/Paris"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A place: the operator or its own site; another site sees no such place.
    let (martinique, martinique_token) = app.qualified_site_at("Cyberbase", "97200").await;
    let path = format!("/api/v1/places/{martinique}/time-zone");
    let (status, _) = app
        .put(&path, &w.site, json!({"time_zone": "Europe/Paris"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app
        .put(&path, &martinique_token, json!({"time_zone": ""}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["zone"], "America/Martinique");
    // Every change is in the journal.
    assert!(app
        .journal(&w.program_id)
        .await
        .contains(&"program.time_zone_changed".to_string()));
    assert!(app
        .journal(&martinique)
        .await
        .contains(&"place.time_zone_changed".to_string()));
}

async fn the_pacific_collectivites_are_departements_like_the_others(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(0, 0).await;
    // An organisation in French Polynesia (987) and a site in Nouméa (988xx), through the API:
    // each reads its dates in its own zone.
    let (tahiti_id, tahiti) = app.org_at("funder", "Pays de Polynésie", "98714").await;
    let (noumea_site_id, noumea_site) = app.qualified_site_at("Cyberbase de Nouméa", "98800").await;
    for (id, zone) in [
        (&tahiti_id, "Pacific/Tahiti"),
        (&noumea_site_id, "Pacific/Noumea"),
    ] {
        let (status, body) = app
            .put(
                &format!("/api/v1/organizations/{id}/time-zone"),
                &app.operator_token,
                json!({"time_zone": null}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["zone"], zone, "{body}");
    }
    for code in ["977", "978", "986"] {
        let (status, body) = app
            .post(
                "/api/v1/organizations",
                &app.operator_token,
                json!({"kind": "distributor", "name": format!("CCAS {code}"), "department": code}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{code}: {body}");
    }
    // A programme of Polynesia by its département, one of New Caledonia by its territory.
    let (status, body) = app
        .post(
            "/api/v1/programs",
            &tahiti,
            json!({"name": "Pass numérique Polynésie", "budget_cents": 100_000, "department": "987"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["territory"], json!(["987"]), "{body}");
    let (status, body) = app
        .post(
            "/api/v1/programs",
            &tahiti,
            json!({"name": "Pass", "budget_cents": 100_000, "department": "989"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "invalid_department");
    let (program_id, pass) = carnet(
        &app,
        &w,
        "Pass numérique Nouvelle-Calédonie",
        json!({"territory": ["988"]}),
    )
    .await;
    let (status, program) = app
        .get(&format!("/api/v1/programs/{program_id}"), Some(&w.funder))
        .await;
    assert_eq!(status, StatusCode::OK, "{program}");
    assert_eq!(program["territory"], json!(["988"]), "{program}");

    // 23:30 on the last day in Nouméa: the site there redeems; a site in Bordeaux is outside
    // the territory.
    set_clock(&app, NOUMEA_LATE);
    let (status, body) = app.redeem(&noumea_site, &cheque(&pass, 0)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app.redeem(&w.site, &cheque(&pass, 1)).await;
    assert!(status.is_client_error(), "{status} {body}");
    passnum::cli::jobs::expire(&app.state)
        .await
        .expect("expiry job");
    assert_eq!(still_valid(&app, &program_id).await, 4);
    // Half an hour later it is Sunday in Nouméa (still Saturday in Paris): over.
    set_clock(&app, "2026-03-07T13:00:00Z");
    let (status, body) = app.redeem(&noumea_site, &cheque(&pass, 1)).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert_eq!(error_code(&body), "expired");
    passnum::cli::jobs::expire(&app.state)
        .await
        .expect("expiry job");
    assert_eq!(still_valid(&app, &program_id).await, 0);
    app.assert_ledger_verifies().await;
}

/// A programme of `w`'s funder for `w`'s distributor and `distributor_id`, funded and with a
/// quota for each, of cheques valid `validity_days`, with `terms` added.
async fn programme_for(
    app: &TestApp,
    w: &World,
    name: &str,
    terms: Value,
    others: &[&str],
) -> String {
    let mut all = json!({"validity_days": 5});
    if let (Some(all), Some(terms)) = (all.as_object_mut(), terms.as_object()) {
        all.extend(terms.clone());
    }
    let program_id = app
        .programme(&w.funder, &w.distributor_id, name)
        .terms(all)
        .funded(20_000)
        .quota(10)
        .create()
        .await;
    for other in others {
        let (status, body) = app
            .post(
                &format!("/api/v1/programs/{program_id}/allocations"),
                &w.funder,
                json!({"distributor_id": other, "cheques": 10}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    program_id
}

async fn issue_of(app: &TestApp, token: &str, program_id: &str) -> Value {
    let (status, pass) = app
        .post(
            "/api/v1/passes",
            token,
            json!({"program_id": program_id, "cheques": 5, "beneficiary_ref": "B-7"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{pass}");
    pass
}

async fn a_carnet_and_its_printed_days_are_its_programmes(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(0, 0).await;
    let (noumea_distributor_id, noumea_distributor) =
        app.org_at("distributor", "CCAS de Nouméa", "98800").await;
    let noumea = programme_for(
        &app,
        &w,
        "Pass numérique Nouvelle-Calédonie",
        json!({"territory": ["988"]}),
        &[&noumea_distributor_id],
    )
    .await;
    let gironde = programme_for(&app, &w, "Pass numérique Gironde", json!({}), &[]).await;

    // 23:30 on Saturday 7 March in Paris is Sunday 8 March, 09:30, in Nouméa: a carnet of
    // Nouméa's programme is of the 8th there (five days: last day the 13th), Gironde's of the
    // 7th (the 12th).
    set_clock(&app, PARIS_LATE);
    let pass = issue_of(&app, &w.distributor, &noumea).await;
    assert_eq!(pass["expires_on"], "2026-03-13", "{pass}");
    let paris = issue_of(&app, &w.distributor, &gironde).await;
    assert_eq!(paris["expires_on"], "2026-03-12", "{paris}");
    // Its printed carnet says so.
    let (client, _) =
        common::web::signed_in(&app, &w.distributor_id, "accueil@ccas-bordeaux.example").await;
    let id = pass["id"].as_str().expect("id");
    let pdf = client
        .get(format!("{}/distributeur/carnets/{id}/pdf", app.base))
        .send()
        .await
        .expect("pdf")
        .bytes()
        .await
        .expect("bytes");
    let texts = common::pdf::pdf_texts(&pdf).join(" ");
    assert!(texts.contains("13 mars 2026"), "{texts}");
    assert!(!texts.contains("12 mars 2026"), "{texts}");

    // 00:30 on Sunday 8 March in Nouméa (13:30 on Saturday in Paris, UTC): the distributor
    // in Nouméa reads its carnet issued on the 8th, as its day there.
    set_clock(&app, "2026-03-07T13:30:00Z");
    let local = issue_of(&app, &noumea_distributor, &noumea).await;
    assert_eq!(local["expires_on"], "2026-03-13", "{local}");
    let (client, _) =
        common::web::signed_in(&app, &noumea_distributor_id, "accueil@ccas-noumea.example").await;
    let home = common::web::get(&client, &format!("{}/distributeur?q=B-7", app.base)).await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.html);
    assert!(home.html.contains("8 mars 2026"), "{}", home.html);
    assert!(!home.html.contains("7 mars 2026"), "{}", home.html);
    app.assert_ledger_verifies().await;
}

async fn a_qualification_ends_at_midnight_where_the_site_is(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(0, 0).await;
    let (site_id, site) = app
        .qualified_site_at("Cyberbase du Lamentin", "97232")
        .await;
    let (status, body) = app
        .put(
            &format!("/api/v1/sites/{site_id}/qualification"),
            &app.operator_token,
            json!({"status": "qualified", "valid_until": "2026-03-07"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let program_id = programme_for(
        &app,
        &w,
        "Pass numérique Martinique",
        json!({"territory": ["972"], "validity_days": 30}),
        &[],
    )
    .await;
    let pass = issue_of(&app, &w.distributor, &program_id).await;

    // 20:30 on Saturday 7 March in Martinique, already the 8th in Paris: its last day of
    // qualification is not over there.
    set_clock(&app, MARTINIQUE_SATURDAY_EVENING);
    let (status, body) = app.redeem(&site, &cheque(&pass, 0)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Its page agrees: no warning that it cannot redeem.
    let (client, _) = common::web::signed_in(&app, &site_id, "accueil@lamentin.example").await;
    let page = common::web::get(&client, &format!("{}/lieu", app.base)).await;
    assert!(
        !page.html.contains("qualification en cours"),
        "{}",
        page.html
    );
    // Midnight in Martinique: over.
    set_clock(&app, "2026-03-08T04:30:00Z");
    let (status, body) = app.redeem(&site, &cheque(&pass, 1)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(error_code(&body), "site_not_qualified");
    app.assert_ledger_verifies().await;
}

async fn expiry_warnings_count_days_where_the_programme_is(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(0, 0).await;
    app.person(&w.distributor_id, "agent@ccas-bordeaux.example")
        .await;
    let program_id = programme_for(
        &app,
        &w,
        "Pass numérique Nouvelle-Calédonie",
        json!({"territory": ["988"], "validity_days": 8}),
        &[],
    )
    .await;
    // Issued on Monday 2 March, 22:00 in Nouméa: last day Tuesday 10 March.
    let pass = issue_of(&app, &w.distributor, &program_id).await;
    assert_eq!(pass["expires_on"], "2026-03-10", "{pass}");
    let warnings = |outbox: Vec<(String, String)>| {
        outbox
            .into_iter()
            .filter(|(to, subject)| {
                to == "agent@ccas-bordeaux.example" && subject.contains("bientôt expirer")
            })
            .count()
    };
    // 23:00 in Nouméa: eight days left there, the 30-day warning.
    set_clock(&app, "2026-03-02T12:00:00Z");
    passnum::cli::jobs::expire(&app.state)
        .await
        .expect("daily job");
    assert_eq!(warnings(app.outbox_subjects().await), 1);
    // 00:30 on Tuesday 3 March in Nouméa, still Monday afternoon in Paris: seven days left
    // where the programme is, the 7-day warning goes.
    set_clock(&app, "2026-03-02T13:30:00Z");
    passnum::cli::jobs::expire(&app.state)
        .await
        .expect("daily job");
    assert_eq!(warnings(app.outbox_subjects().await), 2);
    let mut conn = app.raw().await;
    let body: String = sqlx::query_scalar(
        "SELECT text_body FROM outbox WHERE to_address = $1 ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind("agent@ccas-bordeaux.example")
    .fetch_one(&mut conn)
    .await
    .expect("mail");
    assert!(body.contains("expireront le 10 mars 2026"), "{body}");
}
