//! Redemption tied to a place, the places' catalogues and sessions paid with several cheques,
//! over HTTP on both databases: the place's own qualification checked per request, all or
//! nothing for several cheques (bad, used and foreign-pass codes), two requests sharing a
//! cheque, idempotent retries, the typology's themes, catalogue rights, and the site's pages.

use crate::common;
use common::codes_of;

use common::{cookie_client, csrf_of};

use common::{error_code, Backend, TestApp, World};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_databases!(
    a_suspended_place_cannot_redeem_while_another_place_can,
    several_cheques_are_redeemed_all_or_none,
    two_requests_sharing_a_cheque_one_wins,
    an_idempotent_retry_gets_the_first_answer,
    themes_and_location_follow_the_typology,
    catalogue_is_managed_by_its_site_only_and_sets_the_price,
    site_pages_manage_the_catalogue_and_redeem_several_cheques,
    site_page_names_the_place_and_refuses_a_suspended_one,
);

async fn redeem_codes(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    app.post("/api/v1/redemptions", token, body).await
}

/// A second place for the site, qualified by the operator; returns its id.
async fn second_place(app: &TestApp, site_id: &str) -> String {
    let id = format!("lieu-{}", uuid::Uuid::new_v4().simple());
    sqlx::query(
        "INSERT INTO places (id, site_org_id, nom, code_postal, department, created_at, updated_at) \
         VALUES ($1, $2, 'Annexe de la médiathèque', '33000', '33', '2026-03-01T10:00:00Z', \
         '2026-03-01T10:00:00Z')",
    )
    .bind(&id)
    .bind(site_id)
    .execute(&mut app.raw().await)
    .await
    .expect("place inserted");
    qualify_place(
        app,
        &id,
        json!({"status": "qualified", "valid_until": "2027-06-30"}),
    )
    .await;
    id
}

async fn qualify_place(app: &TestApp, place_id: &str, body: Value) {
    let (status, answer) = app
        .put(
            &format!("/api/v1/places/{place_id}/qualification"),
            &app.operator_token,
            body,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

async fn cheque_status(app: &TestApp, code: &str) -> String {
    let canonical = code.replace('-', "");
    sqlx::query_scalar::<_, String>("SELECT status FROM vouchers WHERE code = $1")
        .bind(canonical)
        .fetch_one(&mut app.raw().await)
        .await
        .expect("cheque")
}

async fn count_audit(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(&mut app.raw().await)
        .await
        .expect("count")
}

async fn a_suspended_place_cannot_redeem_while_another_place_can(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let codes = codes_of(&app.issue(&w, 5).await);
    // With one place, naming it is optional.
    let (status, body) = app.redeem(&w.site, &codes[0]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["place_id"], w.site_id.as_str());
    let annexe = second_place(&app, &w.site_id).await;
    // With two, it is required.
    let (status, body) = app.redeem(&w.site, &codes[1]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "place_required");
    // The first place is suspended; the site organisation and its token stay as they were.
    qualify_place(
        &app,
        &w.site_id,
        json!({"status": "suspended", "reason": "Locaux fermés pour travaux."}),
    )
    .await;
    let (status, body) = redeem_codes(
        &app,
        &w.site,
        json!({"code": codes[1], "place_id": w.site_id}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(error_code(&body), "site_not_qualified");
    assert_eq!(cheque_status(&app, &codes[1]).await, "valid");
    let (status, body) =
        redeem_codes(&app, &w.site, json!({"code": codes[1], "place_id": annexe})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["place_id"], annexe.as_str());
    // Another site's place is not one of ours.
    let (_, other) = app.qualified_site("Espace public numérique").await;
    let (status, body) =
        redeem_codes(&app, &other, json!({"code": codes[2], "place_id": annexe})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "unknown_place");
    assert!(!body.to_string().contains("Annexe"), "{body}");
    app.assert_ledger_verifies().await;
}

async fn several_cheques_are_redeemed_all_or_none(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let codes = codes_of(&app.issue(&w, 5).await);
    let foreign = codes_of(&app.issue(&w, 5).await);
    let (status, body) = redeem_codes(
        &app,
        &w.site,
        json!({"codes": [codes[0], codes[1], codes[2]], "service": "workshop", "minutes": 120}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let cheques = body["cheques"].as_array().expect("cheques");
    assert_eq!(cheques.len(), 3);
    for code in &codes[..3] {
        assert!(cheques.iter().any(|c| c["code"] == code.as_str()), "{body}");
        assert_eq!(cheque_status(&app, code).await, "redeemed");
    }
    assert_eq!(count_audit(&app, "redemption.created").await, 3);
    assert_eq!(app.reconciliation(&w).await["redeemed_cents"], 3_000);
    let group_id = body["id"].as_str().unwrap().to_string();

    // Refused cheques: an already used one, a foreign pass's, a mistyped one, a repeated one.
    let mut typo = codes[4].clone().into_bytes();
    typo[1] = if typo[1] == b'7' { b'8' } else { b'7' };
    let typo = String::from_utf8(typo).unwrap();
    let refusals = [
        (
            json!([codes[3], codes[0]]),
            StatusCode::CONFLICT,
            "already_redeemed",
            codes[0].clone(),
        ),
        (
            json!([codes[3], foreign[0]]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "different_passes",
            String::new(),
        ),
        (
            json!([codes[3], typo]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_code",
            typo.clone(),
        ),
        (
            json!([codes[3], codes[3]]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "duplicate_code",
            codes[3].clone(),
        ),
    ];
    for (list, expected, code, named) in refusals {
        let (status, body) = redeem_codes(&app, &w.site, json!({"codes": list})).await;
        assert_eq!(status, expected, "{body}");
        assert_eq!(error_code(&body), code, "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(&named),
            "{body}"
        );
        // Nothing of the request was redeemed.
        assert_eq!(cheque_status(&app, &codes[3]).await, "valid");
        assert_eq!(cheque_status(&app, &foreign[0]).await, "valid");
    }
    assert_eq!(count_audit(&app, "redemption.created").await, 3);
    assert_eq!(app.reconciliation(&w).await["redeemed_cents"], 3_000);
    // Too many cheques at once.
    let eleven: Vec<&str> = std::iter::repeat_n(codes[3].as_str(), 11).collect();
    let (status, body) = redeem_codes(&app, &w.site, json!({"codes": eleven})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "too_many_codes");

    // Undoing any cheque of the session undoes the whole session.
    let second = cheques[1]["redemption_id"].as_str().unwrap();
    let (status, body) = app
        .delete(&format!("/api/v1/redemptions/{second}"), &w.site)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["cheques"].as_array().unwrap().len(), 3, "{body}");
    for code in &codes[..3] {
        assert_eq!(cheque_status(&app, code).await, "valid");
    }
    assert_eq!(count_audit(&app, "redemption.undone").await, 3);
    assert_eq!(app.reconciliation(&w).await["redeemed_cents"], 0);
    let (status, body) = app
        .delete(&format!("/api/v1/redemptions/{group_id}"), &w.site)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(error_code(&body), "already_undone");
    app.assert_ledger_verifies().await;
}

async fn two_requests_sharing_a_cheque_one_wins(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(1_000_000, 100).await;
    for _ in 0..4 {
        let c = codes_of(&app.issue(&w, 5).await);
        // Listed in opposite orders, so that a lock-order deadlock would show.
        let (a, b) = futures::join!(
            redeem_codes(&app, &w.site, json!({"codes": [c[0], c[1]]})),
            redeem_codes(&app, &w.site, json!({"codes": [c[2], c[1]]})),
        );
        let won = [&a, &b]
            .iter()
            .filter(|(s, _)| *s == StatusCode::CREATED)
            .count();
        assert_eq!(won, 1, "{a:?} {b:?}");
        let loser = if a.0 == StatusCode::CREATED { &b } else { &a };
        assert_eq!(loser.0, StatusCode::CONFLICT, "{loser:?}");
        assert_eq!(error_code(&loser.1), "already_redeemed");
        let (kept, lost) = if a.0 == StatusCode::CREATED {
            (&c[0], &c[2])
        } else {
            (&c[2], &c[0])
        };
        assert_eq!(cheque_status(&app, kept).await, "redeemed");
        assert_eq!(cheque_status(&app, &c[1]).await, "redeemed");
        assert_eq!(cheque_status(&app, lost).await, "valid");
    }
    app.assert_ledger_verifies().await;
}

async fn an_idempotent_retry_gets_the_first_answer(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let c = codes_of(&app.issue(&w, 5).await);
    let body = json!({"codes": [c[0], c[1]], "service": "individual_help", "minutes": 90});
    let send = |key: &'static str| {
        app.request(
            Method::POST,
            "/api/v1/redemptions",
            Some(&w.site),
            Some(body.clone()),
            Some(key),
        )
    };
    let (status, first) = send("seance-1").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, again) = send("seance-1").await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(first, again);
    let (status, other) = send("seance-2").await;
    assert_eq!(status, StatusCode::CONFLICT, "{other}");
    assert_eq!(count_audit(&app, "redemption.created").await, 2);
    assert_eq!(app.reconciliation(&w).await["redeemed_cents"], 2_000);
}

async fn themes_and_location_follow_the_typology(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let c = codes_of(&app.issue(&w, 5).await);
    for (body, code) in [
        (
            json!({"code": c[0], "themes": ["email", "cooking"]}),
            "invalid_theme",
        ),
        (
            json!({"code": c[0], "location": "moon"}),
            "invalid_location",
        ),
        (json!({"code": c[0], "themes": "email"}), "invalid_field"),
        (json!({"code": c[0], "minutes": 0}), "invalid_minutes"),
        (json!({"codes": []}), "missing_code"),
    ] {
        let (status, answer) = redeem_codes(&app, &w.site, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(error_code(&answer), code);
    }
    assert_eq!(cheque_status(&app, &c[0]).await, "valid");
    let (status, body) = redeem_codes(
        &app,
        &w.site,
        json!({"code": c[0], "service": "administrative_procedure", "minutes": 45,
               "themes": ["admin_housing", "email", "email"], "location": "at_home"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["themes"], json!(["admin_housing", "email"]));
    assert_eq!(body["location"], "at_home");
    let (status, list) = app.get("/api/v1/redemptions", Some(&w.site)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["themes"], json!(["admin_housing", "email"]));
    assert_eq!(list[0]["minutes"], 45);
    assert!(list[0].get("cheques").is_none(), "{list}");
}

async fn create_service(app: &TestApp, w: &World, price: i64) -> Value {
    let (status, body) = app
        .post(
            &format!("/api/v1/places/{}/services", w.site_id),
            &w.site,
            json!({"kind": "workshop", "title": "Atelier découverte de la tablette",
                   "description": "Deux heures en petit groupe.", "themes": ["device", "browsing"],
                   "minutes": 120, "price_cheques": price}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn catalogue_is_managed_by_its_site_only_and_sets_the_price(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let service = create_service(&app, &w, 2).await;
    assert_eq!(service["themes"], json!(["device", "browsing"]));
    assert_eq!(service["active"], true);
    let services = format!("/api/v1/places/{}/services", w.site_id);
    let one = format!("{services}/{}", service["id"].as_str().unwrap());
    let (status, list) = app.get(&services, Some(&w.site)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (status, _) = app.get(&services, Some(&app.operator_token)).await;
    assert_eq!(status, StatusCode::OK);

    // Another site cannot see nor change this place's catalogue; other roles are refused.
    let (_, other) = app.qualified_site("Espace public numérique").await;
    let new = json!({"kind": "workshop", "title": "Intrus", "minutes": 60, "price_cheques": 1});
    assert_eq!(
        app.get(&services, Some(&other)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(&services, &other, new.clone()).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.delete(&one, &other).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.post(&services, &w.distributor, new.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&services, Some(&w.funder)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.get(&services, None).await.0, StatusCode::UNAUTHORIZED);
    for (bad, code) in [
        (
            json!({"kind": "workshop", "title": "X", "minutes": 60, "price_cheques": 11}),
            "invalid_price",
        ),
        (
            json!({"kind": "workshop", "title": "X", "minutes": 60, "price_cheques": 0}),
            "invalid_price",
        ),
        (
            json!({"kind": "cooking", "title": "X", "minutes": 60, "price_cheques": 1}),
            "invalid_service",
        ),
        (
            json!({"kind": "workshop", "title": " ", "minutes": 60, "price_cheques": 1}),
            "invalid_title",
        ),
        (
            json!({"kind": "workshop", "title": "X", "minutes": 60, "price_cheques": 1, "themes": ["x"]}),
            "invalid_theme",
        ),
    ] {
        let (status, body) = app.post(&services, &w.site, bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_code(&body), code);
    }

    // Changed by its site only; the price and themes are checked again.
    let changed = json!({"kind": "workshop", "title": "Atelier découverte de la tablette",
                         "themes": ["device", "browsing"], "minutes": 120, "price_cheques": 2});
    assert_eq!(
        app.put(&one, &other, changed.clone()).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = app
        .put(
            &one,
            &w.site,
            json!({"kind": "workshop", "title": "X", "minutes": 60, "price_cheques": 20}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = app.put(&one, &w.site, changed).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["description"], "");
    assert_eq!(body["created_at"], service["created_at"]);
    assert_eq!(count_audit(&app, "service.updated").await, 1);

    // The public directory shows a qualified place's offer.
    let (status, found) = app.get("/api/v1/public/sites?postcode=33000", None).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let site = found["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == w.site_id.as_str())
        .expect("the site is listed");
    assert_eq!(
        site["passnum_services"][0]["title"],
        "Atelier découverte de la tablette"
    );

    // A catalogue service sets kind, duration and themes, and its price in cheques.
    let c = codes_of(&app.issue(&w, 5).await);
    let sid = service["id"].as_str().unwrap();
    let (status, body) =
        redeem_codes(&app, &w.site, json!({"codes": [c[0]], "service_id": sid})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "wrong_cheque_count");
    let (status, body) = redeem_codes(
        &app,
        &w.site,
        json!({"codes": [c[0], c[1]], "service_id": sid}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["service"], "workshop");
    assert_eq!(body["minutes"], 120);
    assert_eq!(body["service_id"], sid);
    assert_eq!(body["themes"], json!(["device", "browsing"]));

    // Withdrawn: kept in the list, no longer offered.
    let (status, body) = app.delete(&one, &w.site).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], false);
    let (status, body) = redeem_codes(
        &app,
        &w.site,
        json!({"codes": [c[2], c[3]], "service_id": sid}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "unknown_service");
    let (_, list) = app.get(&services, Some(&w.site)).await;
    assert_eq!(list[0]["active"], false);
    let (_, found) = app.get("/api/v1/public/sites?postcode=33000", None).await;
    assert!(!found.to_string().contains("Atelier découverte"), "{found}");
    assert_eq!(count_audit(&app, "service.created").await, 1);
    assert_eq!(count_audit(&app, "service.withdrawn").await, 1);
}

async fn post_form(
    client: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let resp = client.post(url).form(form).send().await.unwrap();
    let status = resp.status();
    (status, resp.text().await.unwrap().replace("&#39;", "'"))
}

/// A site agent signed in: the client, the CSRF token and the home page.
async fn site_agent(app: &TestApp, w: &World) -> (reqwest::Client, String, String) {
    app.person(&w.site_id, "accueil@mediatheque.example").await;
    let client = cookie_client();
    let login = client
        .get(format!("{}/connexion", app.base))
        .send()
        .await
        .unwrap();
    let login = login.text().await.unwrap();
    let (status, home) = post_form(
        &client,
        &format!("{}/connexion", app.base),
        &[
            ("csrf", &csrf_of(&login)),
            ("email", "accueil@mediatheque.example"),
            ("password", common::PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{home}");
    let csrf = csrf_of(&home);
    (client, csrf, home)
}

async fn site_pages_manage_the_catalogue_and_redeem_several_cheques(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let c = codes_of(&app.issue(&w, 5).await);
    let (client, csrf, home) = site_agent(&app, &w).await;
    assert!(
        home.contains("Thèmes abordés : démarches administratives"),
        "{home}"
    );
    assert!(home.contains("/lieu/catalogue"));

    // The catalogue page adds a service, which the redemption form then offers.
    let (status, page) = post_form(
        &client,
        &format!("{}/lieu/catalogue", app.base),
        &[
            ("csrf", &csrf),
            ("place_id", &w.site_id),
            ("title", "Faire sa déclaration de revenus"),
            ("kind", "administrative_procedure"),
            ("description", "Avec un médiateur, sur rendez-vous."),
            ("themes", "admin_money"),
            ("themes", "digital_security"),
            ("minutes", "90"),
            ("price_cheques", "2"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("Le service « Faire sa déclaration de revenus » est ajouté"),
        "{page}"
    );
    assert!(
        page.contains("Démarche : argent, impôts, Sécurité numérique"),
        "{page}"
    );
    let (status, page) = post_form(
        &client,
        &format!("{}/lieu/catalogue", app.base),
        &[
            ("csrf", &csrf),
            ("place_id", &w.site_id),
            ("title", "X"),
            ("kind", "workshop"),
            ("minutes", "60"),
            ("price_cheques", "12"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("de 1 à 10 chèques"), "{page}");
    let home = client
        .get(format!("{}/lieu", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = home
        .find("value=\"service:")
        .expect("the service is offered");
    let service = &home[at + 7..at + 7 + 8 + 36];

    // Two cheques typed in two fields for that service; the receipt lists both.
    let url = format!("{}/lieu/encaisser", app.base);
    let (_, page) = post_form(
        &client,
        &url,
        &[
            ("csrf", &csrf),
            ("code", &c[0]),
            ("code", &c[1].to_lowercase()),
            ("code", ""),
            ("service", service),
            ("minutes", "other"),
            ("minutes_other", "100"),
            ("location", "remote"),
        ],
    )
    .await;
    assert!(
        page.contains("Chèques acceptés (2) : 20,00\u{a0}€"),
        "{page}"
    );
    assert!(
        page.contains(&format!("Chèque {}", c[0])) && page.contains(&format!("Chèque {}", c[1])),
        "{page}"
    );
    assert!(page.contains("Démarche administrative, 1 h 40"), "{page}");
    assert_eq!(page.matches("séance de 2 chèques").count(), 2, "{page}");
    // One refused cheque: none redeemed, what was typed is kept.
    let (_, page) = post_form(
        &client,
        &url,
        &[
            ("csrf", &csrf),
            ("code", &c[2]),
            ("code", &c[0]),
            ("service", "individual_help"),
            ("minutes", "30"),
            ("themes", "email"),
        ],
    )
    .await;
    assert!(
        page.contains(&format!("Chèque {} : Ce chèque a déjà été utilisé", c[0])),
        "{page}"
    );
    assert!(page.contains("Aucun chèque n'a été encaissé."), "{page}");
    assert!(page.contains(&format!("value=\"{}\"", c[2])), "{page}");
    assert!(page.contains("value=\"email\" checked"), "{page}");
    assert_eq!(cheque_status(&app, &c[2]).await, "valid");
    let (_, page) = post_form(
        &client,
        &url,
        &[
            ("csrf", &csrf),
            ("code", &c[2]),
            ("minutes", "other"),
            ("minutes_other", "une heure"),
        ],
    )
    .await;
    assert!(
        page.contains("La durée doit être un nombre de minutes."),
        "{page}"
    );

    // Undoing the session gives both cheques back.
    let at = page.find("/lieu/encaissements/").unwrap();
    let id = &page[at + 20..at + 20 + 36];
    let (_, page) = post_form(
        &client,
        &format!("{}/lieu/encaissements/{id}/annuler", app.base),
        &[("csrf", &csrf), ("confirm", "1")],
    )
    .await;
    assert!(
        page.contains("ces chèques peuvent de nouveau être utilisés"),
        "{page}"
    );
    assert_eq!(cheque_status(&app, &c[0]).await, "valid");
    assert_eq!(cheque_status(&app, &c[1]).await, "valid");

    let finder = client
        .get(format!("{}/lieux?q=33000", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        finder.replace("&#39;", "'").contains(
            "Faire sa déclaration de revenus : démarche administrative, 1 h 30, 2 chèques."
        ),
        "{finder}"
    );
    // Changing it from the page: a refusal keeps what was typed.
    let catalogue = client
        .get(format!("{}/lieu/catalogue", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = catalogue
        .find("/modifier\"")
        .expect("a link to change the service");
    let start = catalogue[..at].rfind("href=\"").unwrap() + 6;
    let edit = format!("{}{}/modifier", app.base, &catalogue[start..at]);
    let page = client
        .get(&edit)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("value=\"Faire sa déclaration de revenus\""),
        "{page}"
    );
    assert!(page.contains("value=\"admin_money\" checked"), "{page}");
    let changed = [
        ("csrf", csrf.as_str()),
        ("title", "Déclarer ses revenus en ligne"),
        ("kind", "administrative_procedure"),
        ("themes", "admin_money"),
        ("minutes", "60"),
    ];
    let (_, page) = post_form(
        &client,
        &edit,
        &[&changed[..], &[("price_cheques", "0")]].concat(),
    )
    .await;
    assert!(page.contains("de 1 à 10 chèques"), "{page}");
    assert!(
        page.contains("value=\"Déclarer ses revenus en ligne\""),
        "{page}"
    );
    let (_, page) = post_form(
        &client,
        &edit,
        &[&changed[..], &[("price_cheques", "1")]].concat(),
    )
    .await;
    assert!(
        page.contains("Le service « Déclarer ses revenus en ligne » est modifié."),
        "{page}"
    );
    assert!(page.contains("1 h, 1 chèque"), "{page}");

    // Withdrawing from the page.
    let catalogue = client
        .get(format!("{}/lieu/catalogue", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = catalogue.find("/retirer").expect("a withdraw button");
    let start = catalogue[..at].rfind("action=\"").unwrap() + 8;
    let (_, page) = post_form(
        &client,
        &format!("{}{}/retirer", app.base, &catalogue[start..at]),
        &[("csrf", &csrf)],
    )
    .await;
    assert!(page.contains("est retiré du catalogue"), "{page}");
    // The public directory page shows offers of qualified places only while offered.
    let finder = client
        .get(format!("{}/lieux?q=33000", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!finder.contains("revenus"), "{finder}");
}

async fn site_page_names_the_place_and_refuses_a_suspended_one(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let c = codes_of(&app.issue(&w, 5).await);
    let annexe = second_place(&app, &w.site_id).await;
    qualify_place(
        &app,
        &w.site_id,
        json!({"status": "suspended", "reason": "Locaux fermés pour travaux."}),
    )
    .await;
    let (client, csrf, home) = site_agent(&app, &w).await;
    assert!(home.contains("Lieu où le service est rendu"), "{home}");
    assert!(
        home.contains("Médiathèque Mériadeck (ne peut pas encaisser)"),
        "{home}"
    );
    let url = format!("{}/lieu/encaisser", app.base);
    let (_, page) = post_form(
        &client,
        &url,
        &[
            ("csrf", &csrf),
            ("code", &c[0]),
            ("place_id", &w.site_id),
            ("service", "individual_help"),
        ],
    )
    .await;
    assert!(
        page.contains("Ce lieu n'a pas de qualification en cours"),
        "{page}"
    );
    assert_eq!(cheque_status(&app, &c[0]).await, "valid");
    let (_, page) = post_form(
        &client,
        &url,
        &[
            ("csrf", &csrf),
            ("code", &c[0]),
            ("place_id", &annexe),
            ("service", "individual_help"),
        ],
    )
    .await;
    assert!(page.contains("Chèque accepté : 10,00\u{a0}€"), "{page}");
    assert!(page.contains("Annexe de la médiathèque"), "{page}");
    assert!(
        page.contains("<span class=\"hint\">Annexe de la médiathèque</span>"),
        "{page}"
    );
    // Each place that cannot redeem is named, with why.
    assert!(
        page.contains("« Médiathèque Mériadeck » ne peut pas encaisser : suspendu"),
        "{page}"
    );
    // Once no place can redeem, the page says so; a disqualified place shows the reason.
    let (operator, letterhead, now) = (app.operator_org().await, app.state.letterhead(), app.now());
    let place = annexe.clone();
    app.write(move |tx| {
        Box::pin(async move {
            passnum::sites::qualification::disqualify_place(
                tx,
                &operator,
                &place,
                "locaux fermés au public depuis six mois",
                &letterhead,
                now,
            )
            .await
        })
    })
    .await
    .expect("disqualified");
    let home = client
        .get(format!("{}/lieu", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        home.replace("&#39;", "'")
            .contains("Aucun de vos lieux n'a de qualification en cours"),
        "{home}"
    );
    assert!(
        home.contains(
            "« Annexe de la médiathèque » ne peut pas encaisser : disqualifié définitivement. \
             Motif : locaux fermés au public depuis six mois"
        ),
        "{home}"
    );
}
