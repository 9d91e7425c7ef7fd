//! A programme's rules are enforced at redemption, not printed only: its territory
//! (départements, communes by INSEE code) and the kinds of help it pays for. A refused cheque
//! stays valid for a place the rules allow. On both databases.

use crate::common;
use common::{error_code, Backend, TestApp, World};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_databases!(
    a_site_outside_the_territory_is_refused,
    a_commune_territory_needs_a_place_in_that_commune,
    a_programme_pays_only_the_kinds_of_help_it_names,
    unusable_rules_are_refused_when_the_programme_is_made,
    making_a_programme_funding_and_allocating_are_journaled,
);

/// A qualified site whose place is in Roubaix (Nord, 59): `(id, token)`.
async fn roubaix_site(app: &TestApp) -> (String, String) {
    app.qualified_site_at("Centre social de Roubaix", "59100")
        .await
}

/// A carnet of a programme of `w`'s funder made with `terms`.
async fn carnet(app: &TestApp, w: &World, terms: Value) -> Value {
    let program_id = app
        .programme(&w.funder, &w.distributor_id, "Pass numérique territorial")
        .terms(terms)
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
    pass
}

fn cheque(pass: &Value, i: usize) -> String {
    pass["vouchers"][i]["code"]
        .as_str()
        .expect("code")
        .to_string()
}

async fn a_site_outside_the_territory_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(0, 0).await;
    let (roubaix_id, roubaix) = roubaix_site(&app).await;
    let pass = carnet(&app, &w, json!({"department": "33"})).await;
    let (status, body) = app.redeem(&roubaix, &cheque(&pass, 0)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(error_code(&body), "outside_territory");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Gironde (33)"), "{message}");
    // Nothing moved, and the cheque is still good where the programme runs.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM redemptions").await,
        0,
        "a refused cheque leaves no redemption"
    );
    // The site's page says the same, and tells the mediator not to give the help for it.
    let (client, csrf) = common::web::signed_in(&app, &roubaix_id, "accueil@roubaix.example").await;
    let page = common::web::post(
        &client,
        &format!("{}/lieu/encaisser", app.base),
        &[
            ("csrf", &csrf),
            ("code", &cheque(&pass, 0)),
            ("service", "individual_help"),
            ("minutes", "60"),
        ],
    )
    .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.html);
    assert!(page.html.contains("Gironde (33)"), "{}", page.html);
    assert!(
        page.html.contains("Ne rendez pas le service"),
        "{}",
        page.html
    );
    let (status, body) = app.redeem(&w.site, &cheque(&pass, 0)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Two cheques asked together are refused together, naming the cheque.
    let (status, body) = app
        .post(
            "/api/v1/redemptions",
            &roubaix,
            json!({"codes": [cheque(&pass, 1), cheque(&pass, 2)], "service": "workshop"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(error_code(&body), "outside_territory");
    // The beneficiary reads where the cheques can be used.
    let code = pass["pass_code"].as_str().expect("pass code");
    let (status, balance) = app
        .get(&format!("/api/v1/public/passes/{code}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{balance}");
    assert_eq!(balance["accepted_in"], "Gironde (33)");
    assert_eq!(balance["remaining_cheques"], 4);
    let page = reqwest::get(format!("{}/solde?code={code}", app.base))
        .await
        .expect("balance page")
        .text()
        .await
        .expect("body");
    assert!(page.contains("Gironde (33)"), "{page}");
    // The directory lists only the places that accept this carnet.
    let sites_of = |body: &Value| -> Vec<String> {
        body["sites"]
            .as_array()
            .expect("sites")
            .iter()
            .map(|s| s["nom"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let (_, nord) = app.get("/api/v1/public/sites?department=59", None).await;
    assert_eq!(sites_of(&nord), ["Centre social de Roubaix"]);
    let (status, nord) = app
        .get(
            &format!("/api/v1/public/sites?department=59&carnet={code}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{nord}");
    assert!(sites_of(&nord).is_empty(), "{nord}");
    let (_, gironde) = app
        .get(
            &format!("/api/v1/public/sites?department=33&carnet={code}"),
            None,
        )
        .await;
    assert_eq!(sites_of(&gironde), ["Médiathèque Mériadeck"]);
    let finder = reqwest::get(format!("{}/lieux?q=59&carnet={code}", app.base))
        .await
        .expect("finder")
        .text()
        .await
        .expect("body");
    assert!(
        finder.contains("Aucun lieu ici n'accepte ce carnet"),
        "{finder}"
    );
    assert!(
        finder.contains("name=\"carnet\""),
        "the carnet is kept for the next search"
    );
    app.assert_ledger_verifies().await;
}

async fn a_commune_territory_needs_a_place_in_that_commune(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(0, 0).await;
    let pass = carnet(&app, &w, json!({"territory": ["33063"]})).await;
    // The Bordeaux site's place gave no INSEE code: it cannot be shown to be in Bordeaux.
    let (status, body) = app.redeem(&w.site, &cheque(&pass, 0)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(error_code(&body), "outside_territory");
    sqlx::query("UPDATE places SET code_insee = '33063' WHERE site_org_id = $1")
        .bind(&w.site_id)
        .execute(&mut app.raw().await)
        .await
        .expect("place in Bordeaux");
    let (status, body) = app.redeem(&w.site, &cheque(&pass, 0)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.assert_ledger_verifies().await;
}

async fn a_programme_pays_only_the_kinds_of_help_it_names(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(0, 0).await;
    let pass = carnet(&app, &w, json!({"services": ["workshop"]})).await;
    let code = cheque(&pass, 0);
    for asked in [
        json!({"code": code}),
        json!({"code": code, "service": "individual_help"}),
    ] {
        let (status, body) = app.post("/api/v1/redemptions", &w.site, asked).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(error_code(&body), "service_not_covered");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("atelier collectif"), "{message}");
    }
    let (status, body) = app
        .post(
            "/api/v1/redemptions",
            &w.site,
            json!({"code": code, "service": "workshop", "minutes": 120}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn unusable_rules_are_refused_when_the_programme_is_made(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(0, 0).await;
    for (terms, code) in [
        (json!({"territory": ["Gironde"]}), "invalid_territory"),
        (json!({"territory": ["20"]}), "invalid_territory"),
        (json!({"territory": ["3306"]}), "invalid_territory"),
        (json!({"services": ["cooking"]}), "invalid_services"),
    ] {
        let mut body = json!({"name": "Mal défini", "budget_cents": 100_000});
        body.as_object_mut()
            .unwrap()
            .extend(terms.as_object().unwrap().clone());
        let (status, answer) = app.post("/api/v1/programs", &w.funder, body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{terms}: {answer}"
        );
        assert_eq!(error_code(&answer), code, "{terms}");
    }
    // Given in any order and case, kept once each, in order.
    let (status, program) = app
        .post(
            "/api/v1/programs",
            &w.funder,
            json!({"name": "Deux départements", "budget_cents": 100_000,
                   "territory": ["33", "24", "2a", "33"], "services": ["workshop"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{program}");
    assert_eq!(program["territory"], json!(["24", "2A", "33"]));
    assert_eq!(program["services"], json!(["workshop"]));
}

async fn making_a_programme_funding_and_allocating_are_journaled(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(10_000, 10).await;
    let journal = app.journal(&w.program_id).await;
    for action in ["program.created", "funding.declared", "allocation.created"] {
        assert!(journal.iter().any(|a| a == action), "{action}: {journal:?}");
    }
}
