//! Settlement, payment files, expiry and programme close, over HTTP on both databases.

mod common;

use common::{error_code, xmllint, Backend, TestApp, World};
use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_databases!(
    a_batch_pays_each_redemption_once_and_follows_its_steps,
    a_rejected_transfer_is_paid_by_the_next_batch,
    concurrent_settlements_never_settle_twice,
    bank_details_are_checked_and_private,
    expired_cheques_return_to_the_programme,
    closing_a_programme_credits_the_funder,
    operator_fees_never_lose_a_cent,
    distributors_and_funders_are_warned_before_expiry,
);

/// Redeems the first `n` cheques of a new carnet of 10 at `site`.
async fn redeem_n(app: &TestApp, w: &World, site: &str, n: usize) -> Vec<Value> {
    let pass = app.issue(w, 10).await;
    let mut out = Vec::new();
    for v in pass["vouchers"].as_array().unwrap().iter().take(n) {
        let (status, body) = app.redeem(site, v["code"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        out.push(body);
    }
    out
}

async fn a_batch_pays_each_redemption_once_and_follows_its_steps(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(200_000, 100).await;
    let (site2_id, site2) = app.qualified_site("France Services Cenon").await;
    let (_, no_bank_site) = app.qualified_site("Sans RIB").await;
    app.bank(&w.site_id, &w.site).await;
    app.bank(&site2_id, &app.operator_token).await;
    redeem_n(&app, &w, &w.site, 3).await;
    let undone = redeem_n(&app, &w, &site2, 2).await;
    redeem_n(&app, &w, &no_bank_site, 1).await;

    // Within the undo window nothing can be settled yet.
    let (status, body) = app
        .post(
            "/api/v1/settlements",
            &app.operator_token,
            json!({"until": "2026-03-31"}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "nothing_to_settle")
    );
    let (status, _) = app
        .delete(
            &format!("/api/v1/redemptions/{}", undone[1]["id"].as_str().unwrap()),
            &site2,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.advance(SignedDuration::from_hours(49));
    // Only the operator settles.
    let (status, _) = app
        .post(
            "/api/v1/settlements",
            &w.funder,
            json!({"until": "2026-03-31"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, batch) = app
        .post(
            "/api/v1/settlements",
            &app.operator_token,
            json!({"until": "2026-03-31"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    assert_eq!(batch["status"], "draft");
    assert_eq!(batch["total_cents"], 4_000);
    let lines = batch["lines"].as_array().unwrap();
    assert_eq!(
        lines.len(),
        2,
        "the site without bank details waits: {batch}"
    );
    let line = |site: &str| lines.iter().find(|l| l["site_id"] == site).unwrap().clone();
    assert_eq!(line(&w.site_id)["redemptions"], 3);
    assert_eq!(line(&w.site_id)["amount_cents"], 3_000);
    assert_eq!(line(&site2_id)["amount_cents"], 1_000);
    let id = batch["id"].as_str().unwrap().to_string();

    // Running it again settles nothing more; settled redemptions cannot be undone.
    let (status, _) = app
        .post(
            "/api/v1/settlements",
            &app.operator_token,
            json!({"until": "2026-03-31"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = app
        .delete(
            &format!("/api/v1/redemptions/{}", undone[0]["id"].as_str().unwrap()),
            &site2,
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "already_settled")
    );

    // A site sees its own line only; a distributor sees nothing.
    let (status, seen) = app
        .get(&format!("/api/v1/settlements/{id}"), Some(&site2))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen["lines"].as_array().unwrap().len(), 1);
    let (status, _) = app
        .get(&format!("/api/v1/settlements/{id}"), Some(&w.distributor))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let sepa = format!("/api/v1/settlements/{id}/sepa.xml");
    let (status, _, body) = app.get_text(&sepa, &app.operator_token).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/v1/settlements/{id}/paid"),
            &app.operator_token,
            json!({}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "invalid_transition")
    );
    let (status, body) = app
        .post(
            &format!("/api/v1/settlements/{id}/approve"),
            &app.operator_token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "approved");
    let (status, content_type, xml) = app.get_text(&sepa, &app.operator_token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("application/xml"));
    xmllint(&xml);
    assert!(xml.contains("<NbOfTxs>2</NbOfTxs>"), "{xml}");
    assert!(xml.contains("<CtrlSum>40.00</CtrlSum>"), "{xml}");
    assert!(
        xml.contains("<Nm>Departement de la Gironde</Nm>"),
        "funder as ultimate debtor: {xml}"
    );
    for l in lines {
        assert!(xml.contains(l["end_to_end_id"].as_str().unwrap()));
    }
    let (_, batch) = app
        .get(
            &format!("/api/v1/settlements/{id}"),
            Some(&app.operator_token),
        )
        .await;
    assert_eq!(batch["status"], "exported");

    let rec = app.reconciliation(&w).await;
    assert_eq!(rec["settled_cents"], 4_000);
    assert_eq!(rec["settled_unpaid_cents"], 4_000);
    assert_eq!(
        rec["redeemed_unsettled_cents"], 1_000,
        "the site without bank details"
    );
    let (status, body) = app
        .post(
            &format!("/api/v1/settlements/{id}/paid"),
            &app.operator_token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["status"] == "paid"));
    let rec = app.reconciliation(&w).await;
    assert_eq!(rec["paid_cents"], 4_000);
    assert_eq!(rec["settled_unpaid_cents"], 0);

    // The site's statement lists every cheque and the total.
    let (status, content_type, csv) = app
        .get_text(
            &format!("/api/v1/settlements/{id}/statements/{}.csv", w.site_id),
            &w.site,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/csv"));
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 5, "{csv}");
    assert!(rows[0].starts_with("Code du chèque;Date;Service"));
    assert!(
        rows[1].contains("Accompagnement individuel") && rows[1].ends_with(";10,00"),
        "{csv}"
    );
    assert_eq!(rows[4], "Total;;;;;30,00");
    let (status, _, _) = app
        .get_text(
            &format!("/api/v1/settlements/{id}/statements/{}.csv", w.site_id),
            &site2,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Breakdown per site and distributor.
    let (status, breakdown) = app
        .get(
            &format!("/api/v1/programs/{}/reconciliation/breakdown", w.program_id),
            Some(&w.funder),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let site_row = breakdown["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == w.site_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(site_row["paid_cents"], 3_000);
    assert_eq!(site_row["redeemed_cents"], 3_000);
    let dist = &breakdown["distributors"][0];
    assert_eq!(dist["issued_cents"], 30_000);
    assert_eq!(dist["redeemed_cents"], 5_000);
    assert_eq!(breakdown["departments"][0]["key"], "33");
    assert_eq!(breakdown["departments"][0]["redeemed_cents"], 5_000);
    app.assert_ledger_verifies().await;
}

async fn a_rejected_transfer_is_paid_by_the_next_batch(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(200_000, 100).await;
    app.bank(&w.site_id, &w.site).await;
    redeem_n(&app, &w, &w.site, 2).await;
    app.advance(SignedDuration::from_hours(49));
    let op = app.operator_token.clone();
    let (_, batch) = app
        .post("/api/v1/settlements", &op, json!({"until": "2026-12-31"}))
        .await;
    let id = batch["id"].as_str().unwrap().to_string();
    let line_id = batch["lines"][0]["id"].as_str().unwrap().to_string();
    let reject = format!("/api/v1/settlements/{id}/lines/{line_id}/reject");
    let (status, body) = app
        .post(&reject, &op, json!({"reason": "Compte clos"}))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "not_exported")
    );
    app.post(&format!("/api/v1/settlements/{id}/approve"), &op, json!({}))
        .await;
    let (status, _, _) = app
        .get_text(&format!("/api/v1/settlements/{id}/sepa.xml"), &op)
        .await;
    assert_eq!(status, StatusCode::OK);
    app.post(&format!("/api/v1/settlements/{id}/paid"), &op, json!({}))
        .await;
    assert_eq!(app.reconciliation(&w).await["paid_cents"], 2_000);

    // The bank returns the transfer after it was marked paid.
    let (status, body) = app
        .post(&reject, &op, json!({"reason": "Compte clos"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["lines"][0]["status"], "rejected");
    let rec = app.reconciliation(&w).await;
    assert_eq!(rec["paid_cents"], 0);
    assert_eq!(rec["settled_unpaid_cents"], 2_000);
    let (status, _) = app.post(&reject, &op, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // New bank details; the next batch pays the rejected amount with the new redemptions.
    let (status, _) = app
        .put(&format!("/api/v1/sites/{}/bank", w.site_id), &w.site,
             json!({"iban": "DE89370400440532013000", "bic": "COBADEFFXXX", "holder": "Mediatheque"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    redeem_n(&app, &w, &w.site, 1).await;
    app.advance(SignedDuration::from_hours(49));
    let (status, next) = app
        .post("/api/v1/settlements", &op, json!({"until": "2026-12-31"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{next}");
    assert_eq!(next["lines"][0]["settled_cents"], 1_000);
    assert_eq!(next["lines"][0]["carried_cents"], 2_000);
    assert_eq!(next["lines"][0]["amount_cents"], 3_000);
    let next_id = next["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/settlements/{next_id}/approve"),
        &op,
        json!({}),
    )
    .await;
    let (_, _, xml) = app
        .get_text(&format!("/api/v1/settlements/{next_id}/sepa.xml"), &op)
        .await;
    xmllint(&xml);
    assert!(
        xml.contains("DE89370400440532013000"),
        "the new IBAN: {xml}"
    );
    app.post(
        &format!("/api/v1/settlements/{next_id}/paid"),
        &op,
        json!({}),
    )
    .await;
    let rec = app.reconciliation(&w).await;
    assert_eq!(rec["paid_cents"], 3_000);
    assert_eq!(rec["settled_unpaid_cents"], 0);
    assert_eq!(rec["redeemed_cents"], 3_000);
    app.assert_ledger_verifies().await;
}

async fn concurrent_settlements_never_settle_twice(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // A second server process on the same database.
    let other = TestApp::spawn_on(&app.database_url, |_| {}).await;
    other.clock.set(app.now());
    let w = app.world(500_000, 200).await;
    app.bank(&w.site_id, &w.site).await;
    for _ in 0..4 {
        redeem_n(&app, &w, &w.site, 10).await;
    }
    app.advance(SignedDuration::from_hours(49));
    other.advance(SignedDuration::from_hours(49));
    let attempts = (0..6).map(|i| {
        let server = if i % 2 == 0 { &app } else { &other };
        let token = app.operator_token.clone();
        async move {
            server
                .post(
                    "/api/v1/settlements",
                    &token,
                    json!({"until": "2026-12-31"}),
                )
                .await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let settled: i64 = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .map(|(_, b)| b["total_cents"].as_i64().unwrap())
        .sum();
    for (status, body) in &results {
        assert!(
            *status == StatusCode::CREATED || error_code(body) == "nothing_to_settle",
            "{status} {body}"
        );
    }
    assert_eq!(settled, 40_000);
    assert_eq!(app.reconciliation(&w).await["settled_cents"], 40_000);
    app.assert_ledger_verifies().await;
}

async fn bank_details_are_checked_and_private(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(10_000, 5).await;
    let (other_id, other) = app.qualified_site("Autre lieu").await;
    for (iban, code) in [
        ("FR14 2004 1010 0505 0001 3M02 607", "invalid_iban"),
        ("not an iban", "invalid_iban"),
        ("", "invalid_iban"),
    ] {
        let (status, body) = app
            .put(
                &format!("/api/v1/sites/{}/bank", w.site_id),
                &w.site,
                json!({"iban": iban, "holder": "x"}),
            )
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, code),
            "{iban}"
        );
    }
    let (status, body) = app
        .put(
            &format!("/api/v1/sites/{}/bank", w.site_id),
            &w.site,
            json!({"iban": "FR1420041010050500013M02606", "bic": "XX", "holder": "x"}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_bic")
    );
    // A site cannot change another site's account.
    let (status, _) = app
        .put(
            &format!("/api/v1/sites/{other_id}/bank"),
            &w.site,
            json!({"iban": "FR1420041010050500013M02606", "holder": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app
        .put(
            &format!("/api/v1/sites/{other_id}/bank"),
            &other,
            json!({"iban": "fr14 2004 1010 0505 0001 3m02 606", "holder": "Autre lieu"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["iban"], "FR14*******************2606");
    let mut conn = app.state.db.read.acquire().await.unwrap();
    let trail = passnum::audit::for_subject(&mut conn, &other_id)
        .await
        .unwrap();
    // Entries made within the same microsecond have no defined order among themselves.
    let mut actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    actions.sort_unstable();
    assert_eq!(
        actions,
        [
            "bank_account.changed",
            "organization.created",
            "site.qualified"
        ]
    );
}

async fn expired_cheques_return_to_the_programme(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 20).await;
    // A programme with a month of grace after the printed date.
    let (_, graced) = app
        .post(
            "/api/v1/programs",
            &w.funder,
            json!({"name": "Avec délai de grâce", "budget_cents": 100_000, "grace_days": 31}),
        )
        .await;
    let graced_id = graced["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/api/v1/programs/{graced_id}/fundings"),
        &w.funder,
        json!({"amount_cents": 10_000, "reference": "G-1"}),
    )
    .await;
    app.post(
        &format!("/api/v1/programs/{graced_id}/allocations"),
        &w.funder,
        json!({"distributor_id": w.distributor_id, "cheques": 10}),
    )
    .await;
    let (_, graced_pass) = app
        .post(
            "/api/v1/passes",
            &w.distributor,
            json!({"program_id": graced_id, "cheques": 5}),
        )
        .await;
    let pass = app.issue(&w, 10).await;
    let (status, _) = app
        .redeem(&w.site, pass["vouchers"][0]["code"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::CREATED);

    app.advance(SignedDuration::from_hours(24 * 375));
    let report = passnum::jobs::expire(&app.state).await.unwrap();
    assert_eq!(
        report.cheques, 9,
        "the graced carnet is still within its grace"
    );
    assert_eq!(report.cents, 9_000);
    assert_eq!(
        passnum::jobs::expire(&app.state).await.unwrap().cheques,
        0,
        "idempotent"
    );
    let rec = app.reconciliation(&w).await;
    assert_eq!(rec["expired_cents"], 9_000);
    assert_eq!(rec["outstanding_cents"], 0);
    assert_eq!(rec["available_cents"], 80_000 + 9_000);
    let (_, balance) = app
        .get(
            &format!(
                "/api/v1/public/passes/{}",
                pass["pass_code"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(balance["status"], "expired");
    let (status, body) = app
        .redeem(&w.site, pass["vouchers"][1]["code"].as_str().unwrap())
        .await;
    assert_eq!((status, error_code(&body)), (StatusCode::GONE, "expired"));
    // Nine days past its printed date, the graced cheque is still accepted.
    let (status, body) = app
        .redeem(
            &w.site,
            graced_pass["vouchers"][0]["code"].as_str().unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.assert_ledger_verifies().await;
}

async fn closing_a_programme_credits_the_funder(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 30).await;
    app.bank(&w.site_id, &w.site).await;
    let pass = app.issue(&w, 10).await;
    for v in pass["vouchers"].as_array().unwrap().iter().take(4) {
        app.redeem(&w.site, v["code"].as_str().unwrap()).await;
    }
    let close = format!("/api/v1/programs/{}/close", w.program_id);
    let (status, _) = app.post(&close, &w.distributor, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, closure) = app.post(&close, &w.funder, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{closure}");
    assert_eq!(closure["expired_cheques"], 6);
    assert_eq!(closure["returned_quota_cents"], 20_000);
    assert_eq!(closure["credited_cents"], 96_000);
    assert_eq!(closure["owed_to_sites_cents"], 4_000);
    let (status, body) = app.post(&close, &w.funder, json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "already_closed")
    );
    let (status, body) = app
        .redeem(&w.site, pass["vouchers"][5]["code"].as_str().unwrap())
        .await;
    assert_eq!((status, error_code(&body)), (StatusCode::GONE, "expired"));
    let (status, body) = app
        .post(
            "/api/v1/passes",
            &w.distributor,
            json!({"program_id": w.program_id, "cheques": 5}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::GONE, "program_closed")
    );
    let rec = app.reconciliation(&w).await;
    assert_eq!(rec["credited_cents"], 96_000);
    let (status, _, csv) = app
        .get_text(
            &format!("/api/v1/programs/{}/credit-note/avoir.csv", w.program_id),
            &w.funder,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert!(csv.contains("Avoir rendu au financeur;960,00"), "{csv}");
    assert!(
        csv.contains("Reste dû aux lieux (sera payé);40,00"),
        "{csv}"
    );
    let (status, content_type, _) = app
        .get_text(
            &format!("/api/v1/programs/{}/credit-note/avoir.pdf", w.program_id),
            &w.funder,
        )
        .await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "application/pdf")
    );
    assert_eq!(rec["available_cents"], 0);
    assert_eq!(rec["redeemed_unsettled_cents"], 4_000);
    // Sites are still paid for what they redeemed before the close.
    app.advance(SignedDuration::from_hours(49));
    let (status, batch) = app
        .post(
            "/api/v1/settlements",
            &app.operator_token,
            json!({"until": "2026-12-31"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(batch["total_cents"], 4_000);
    app.assert_ledger_verifies().await;
}

async fn operator_fees_never_lose_a_cent(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(0, 0).await;
    app.bank(&w.site_id, &w.site).await;
    // 3.33 % plus 5 cents a cheque, on 7 cheques of 10 €: 233.1 → 233 cents + 35 cents.
    let (status, program) = app
        .post(
            "/api/v1/programs",
            &w.funder,
            json!({"name": "Avec frais", "budget_cents": 100_000,
               "fee_rate_bp": 333, "fee_per_cheque_cents": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{program}");
    let id = program["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/programs/{id}/fundings"),
        &w.funder,
        json!({"amount_cents": 100_000, "reference": "F"}),
    )
    .await;
    app.post(
        &format!("/api/v1/programs/{id}/allocations"),
        &w.funder,
        json!({"distributor_id": w.distributor_id, "cheques": 10}),
    )
    .await;
    let (_, pass) = app
        .post(
            "/api/v1/passes",
            &w.distributor,
            json!({"program_id": id, "cheques": 10}),
        )
        .await;
    for v in pass["vouchers"].as_array().unwrap().iter().take(7) {
        let (status, _) = app.redeem(&w.site, v["code"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    app.advance(SignedDuration::from_hours(49));
    let op = app.operator_token.clone();
    let (_, batch) = app
        .post("/api/v1/settlements", &op, json!({"until": "2026-12-31"}))
        .await;
    let line = &batch["lines"][0];
    assert_eq!(line["settled_cents"], 7_000);
    assert_eq!(line["fee_cents"], 233 + 35);
    assert_eq!(line["amount_cents"], 7_000 - 268);
    let batch_id = batch["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/settlements/{batch_id}/approve"),
        &op,
        json!({}),
    )
    .await;
    let (_, _, xml) = app
        .get_text(&format!("/api/v1/settlements/{batch_id}/sepa.xml"), &op)
        .await;
    xmllint(&xml);
    assert!(xml.contains(">67.32</InstdAmt>"), "{xml}");
    app.post(
        &format!("/api/v1/settlements/{batch_id}/paid"),
        &op,
        json!({}),
    )
    .await;
    let (_, rec) = app
        .get(
            &format!("/api/v1/programs/{id}/reconciliation"),
            Some(&w.funder),
        )
        .await;
    assert_eq!(rec["settled_cents"], 7_000);
    assert_eq!(rec["fee_cents"], 268);
    assert_eq!(rec["paid_cents"], 6_732);
    let (_, _, csv) = app
        .get_text(
            &format!(
                "/api/v1/settlements/{batch_id}/statements/{}.csv",
                w.site_id
            ),
            &w.site,
        )
        .await;
    assert!(
        csv.contains("Frais de gestion de l'opérateur;;;-2,68"),
        "{csv}"
    );
    assert!(csv.ends_with("Total;;;;;67,32\n"), "{csv}");
    app.assert_ledger_verifies().await;
}

async fn distributors_and_funders_are_warned_before_expiry(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 20).await;
    let mut tx = app.state.db.begin().await.unwrap();
    for (org, email) in [
        (&w.distributor_id, "agent@ccas.example"),
        (&w.funder_id, "suivi@gironde.example"),
    ] {
        passnum::users::create(
            &mut tx,
            org,
            email,
            "Agent",
            passnum::users::Role::Admin,
            None,
            app.now(),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let pass = app.issue(&w, 5).await;
    assert_eq!(pass["expires_on"], "2027-03-02");
    let pending = || async {
        let mut conn = app.state.db.read.acquire().await.unwrap();
        passnum::mail::pending_count(&mut conn).await.unwrap()
    };
    app.advance(SignedDuration::from_hours(24 * 300));
    passnum::jobs::expire(&app.state).await.unwrap();
    assert_eq!(pending().await, 0, "not yet");
    app.advance(SignedDuration::from_hours(24 * 36));
    passnum::jobs::expire(&app.state).await.unwrap();
    assert_eq!(
        pending().await,
        2,
        "30 days before: the distributor and the funder"
    );
    passnum::jobs::expire(&app.state).await.unwrap();
    assert_eq!(pending().await, 2, "once only");
    app.advance(SignedDuration::from_hours(24 * 23));
    passnum::jobs::expire(&app.state).await.unwrap();
    assert_eq!(pending().await, 4, "and again 7 days before");
}
