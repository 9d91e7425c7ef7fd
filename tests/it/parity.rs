//! The same use case through the JSON API and through the pages, side by side on two twin
//! subjects: both leave the same journal entries and the same money. The
//! funder's programme from creation to closing, the distributor's carnet from issue to
//! cancellation, an organisation's creation, and a settlement batch from preparation to a
//! rejected transfer. On both databases.

use crate::common;

use common::web::{get, post, signed_in};
use common::{Backend, TestApp, World};
use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::json;

on_both_databases!(
    a_programme_is_the_same_from_the_api_and_the_page,
    a_carnet_is_the_same_from_the_api_and_the_page,
    an_organisation_is_the_same_from_the_api_and_the_page,
    a_settlement_is_the_same_from_the_api_and_the_page,
);

/// The last path segment of a page's address, without its query: the id of what it shows.
fn id_in(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or_default().to_string()
}

async fn a_programme_is_the_same_from_the_api_and_the_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(0, 0).await;
    let (client, csrf) = signed_in(&app, &w.funder_id, "suivi@gironde.example").await;
    let base = format!("{}/financeur/programmes", app.base);

    let (status, body) = app
        .post(
            "/api/v1/programs",
            &w.funder,
            json!({"name": "Ateliers 2026", "budget_cents": 5_000_000}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let by_api = body["id"].as_str().unwrap().to_string();
    let once = get(&client, &format!("{}/financeur", app.base))
        .await
        .once();
    let page = post(
        &client,
        &base,
        &[
            ("csrf", &csrf),
            ("once", &once),
            ("name", "Ateliers 2027"),
            ("budget", "50 000"),
            ("cheque_value", "10"),
            ("validity_days", "365"),
            ("grace_days", "0"),
        ],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let by_page = id_in(&page.url);
    assert_eq!(app.journal(&by_api).await, app.journal(&by_page).await);

    // A funding, then a quota for the distributor.
    let (status, body) = app
        .post(
            &format!("/api/v1/programs/{by_api}/fundings"),
            &w.funder,
            json!({"amount_cents": 20_000, "reference": "OP-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/v1/programs/{by_api}/allocations"),
            &w.funder,
            json!({"distributor_id": w.distributor_id, "cheques": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let dashboard = format!("{base}/{by_page}");
    for (path, fields) in [
        ("versements", vec![("amount", "200"), ("reference", "OP-2")]),
        (
            "quotas",
            vec![
                ("distributor_id", w.distributor_id.as_str()),
                ("cheques", "5"),
            ],
        ),
    ] {
        let once = get(&client, &dashboard).await.once();
        let mut form = vec![("csrf", csrf.as_str()), ("once", once.as_str())];
        form.extend(fields);
        let page = post(&client, &format!("{dashboard}/{path}"), &form).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.html);
    }
    assert_eq!(app.journal(&by_api).await, app.journal(&by_page).await);
    let twin = |program_id: &str| World {
        program_id: program_id.to_string(),
        ..w.clone()
    };
    let (api_figures, page_figures) = (
        app.reconciliation(&twin(&by_api)).await,
        app.reconciliation(&twin(&by_page)).await,
    );
    for figure in ["funded_cents", "allocated_cents", "available_cents"] {
        assert_eq!(api_figures[figure], page_figures[figure], "{figure}");
    }

    // The end planned by both, in 30 days; the daily job closes both the day after.
    let (status, body) = app
        .post(
            &format!("/api/v1/programs/{by_api}/close"),
            &w.funder,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let once = get(&client, &dashboard).await.once();
    let page = post(
        &client,
        &format!("{dashboard}/cloture"),
        &[("csrf", &csrf), ("once", &once), ("confirm", "1")],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let journal = app.journal(&by_api).await;
    assert_eq!(journal, app.journal(&by_page).await);
    assert!(
        journal.contains(&"program.close_scheduled".to_string()),
        "{journal:?}"
    );
    app.advance(SignedDuration::from_hours(24 * 31));
    passnum::cli::jobs::expire(&app.state).await.expect("job");
    let journal = app.journal(&by_api).await;
    assert_eq!(journal, app.journal(&by_page).await);
    assert!(
        journal.contains(&"program.closed".to_string()),
        "{journal:?}"
    );
    app.assert_ledger_verifies().await;
}

async fn a_carnet_is_the_same_from_the_api_and_the_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let by_api = app.issue(&w, 5).await;
    let by_api = by_api["id"].as_str().unwrap().to_string();
    let (client, csrf) = signed_in(&app, &w.distributor_id, "agent@ccas.example").await;
    let once = get(&client, &format!("{}/distributeur", app.base))
        .await
        .once();
    let page = post(
        &client,
        &format!("{}/distributeur/carnets", app.base),
        &[
            ("csrf", &csrf),
            ("once", &once),
            ("program_id", &w.program_id),
            ("cheques", "5"),
            ("beneficiary_ref", "B-002"),
        ],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let by_page = id_in(&page.url);
    assert_eq!(app.journal(&by_api).await, app.journal(&by_page).await);

    let (status, body) = app
        .post(
            &format!("/api/v1/passes/{by_api}/cancel"),
            &w.distributor,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let carnet = format!("{}/distributeur/carnets/{by_page}", app.base);
    let once = get(&client, &carnet).await.once();
    let page = post(
        &client,
        &format!("{carnet}/annuler"),
        &[("csrf", &csrf), ("confirm", "1"), ("once", &once)],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let journal = app.journal(&by_api).await;
    assert_eq!(journal, app.journal(&by_page).await);
    assert!(
        journal.contains(&"pass.cancelled".to_string()),
        "{journal:?}"
    );
    app.assert_ledger_verifies().await;
}

async fn an_organisation_is_the_same_from_the_api_and_the_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, body) = app
        .post(
            "/api/v1/organizations",
            &app.operator_token,
            json!({"kind": "distributor", "name": "CCAS de Bègles", "department": "33"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let by_api = body["id"].as_str().unwrap().to_string();
    let operator_id = app.operator_org().await.id;
    let (op, csrf) = signed_in(&app, &operator_id, "claire@operateur.example").await;
    let once = get(&op, &format!("{}/operateur", app.base)).await.once();
    let page = post(
        &op,
        &format!("{}/operateur/organisations", app.base),
        &[
            ("csrf", &csrf),
            ("once", &once),
            ("kind", "distributor"),
            ("name", "CCAS de Pessac"),
            ("department", "33"),
        ],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let by_page = id_in(&page.url);
    let journal = app.journal(&by_api).await;
    assert_eq!(journal, app.journal(&by_page).await);
    assert!(!journal.is_empty());
}

/// Prepares, approves, exports and pays a batch of every redemption due, through the API or
/// the pages; returns its id.
async fn settle(app: &TestApp, by_page: Option<(&reqwest::Client, &str)>) -> String {
    let until = app
        .now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let Some((op, csrf)) = by_page else {
        let token = &app.operator_token;
        let (status, body) = app
            .post("/api/v1/settlements", token, json!({"until": until}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["id"].as_str().expect("batch id").to_string();
        for step in ["approve", "export", "paid"] {
            let (status, body) = app
                .post(
                    &format!("/api/v1/settlements/{id}/{step}"),
                    token,
                    json!({}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{step}: {body}");
        }
        return id;
    };
    let batches = format!("{}/operateur/reglements", app.base);
    let once = get(op, &batches).await.once();
    let page = post(
        op,
        &batches,
        &[("csrf", csrf), ("once", &once), ("until", &until)],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let id = id_in(&page.url);
    for step in ["approuver", "sepa", "payer"] {
        let batch = format!("{batches}/{id}");
        let once = get(op, &batch).await.once();
        let page = post(
            op,
            &format!("{batch}/{step}"),
            &[("csrf", csrf), ("once", &once), ("confirm", "1")],
        )
        .await;
        assert_eq!(page.status, StatusCode::OK, "{step}: {}", page.html);
    }
    id
}

async fn first_line(app: &TestApp, batch: &str) -> String {
    let (status, body) = app
        .get(
            &format!("/api/v1/settlements/{batch}"),
            Some(&app.operator_token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["lines"][0]["id"].as_str().expect("a line").to_string()
}

async fn a_settlement_is_the_same_from_the_api_and_the_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    app.bank(&w.site_id, &w.site).await;
    let pass = app.issue(&w, 5).await;
    let code = |i: usize| pass["vouchers"][i]["code"].as_str().unwrap().to_string();
    let (status, body) = app.redeem(&w.site, &code(0)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.advance(SignedDuration::from_hours(49));
    let by_api = settle(&app, None).await;

    let (status, body) = app.redeem(&w.site, &code(1)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.advance(SignedDuration::from_hours(49));
    let operator_id = app.operator_org().await.id;
    let (op, csrf) = signed_in(&app, &operator_id, "claire@operateur.example").await;
    let by_page = settle(&app, Some((&op, &csrf))).await;
    let journal = app.journal(&by_api).await;
    assert_eq!(journal, app.journal(&by_page).await);
    for action in [
        "settlement.created",
        "settlement.approved",
        "settlement.exported",
        "settlement.paid",
    ] {
        assert!(journal.contains(&action.to_string()), "{journal:?}");
    }

    // The bank sends one transfer of each back: both record the rejection alike.
    let api_line = first_line(&app, &by_api).await;
    let page_line = first_line(&app, &by_page).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/settlements/{by_api}/lines/{api_line}/reject"),
            &app.operator_token,
            json!({"reason": "Compte clos"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let batch = format!("{}/operateur/reglements/{by_page}", app.base);
    let once = get(&op, &batch).await.once();
    let page = post(
        &op,
        &format!("{batch}/rejets"),
        &[
            ("csrf", &csrf),
            ("confirm", "1"),
            ("once", &once),
            ("line_id", &page_line),
            ("reason", "Compte clos"),
        ],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let journal = app.journal(&by_api).await;
    assert_eq!(journal, app.journal(&by_page).await);
    assert!(journal.contains(&"settlement.line_rejected".to_string()));
    app.assert_ledger_verifies().await;
}
