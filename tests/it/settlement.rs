//! Settlement, payment files, expiry and programme close, over HTTP on both databases.

use crate::common;

use common::{error_code, xmllint, Backend, TestApp, World};
use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeMap;

on_both_databases!(
    a_batch_pays_each_redemption_once_and_follows_its_steps,
    a_rejected_transfer_is_paid_by_the_next_batch,
    concurrent_settlements_never_settle_twice,
    two_batches_at_the_same_moment_pay_each_redemption_once,
    a_redemption_after_the_cutoff_goes_to_the_next_batch,
    without_undo_window_a_batch_waits_for_redemptions_in_flight,
    a_redemption_a_line_covers_cannot_be_undone,
    batches_made_before_periods_keep_what_they_claimed,
    a_paid_batch_mails_each_statement_to_its_people,
    bank_details_are_checked_and_private,
    expired_cheques_return_to_the_programme,
    closing_a_programme_credits_the_funder,
    operator_fees_never_lose_a_cent,
    distributors_and_funders_are_warned_before_expiry,
    the_example_payer_account_pays_only_in_the_demo,
    a_released_rejection_goes_to_the_same_account,
    the_server_prepares_the_monthly_batch_once,
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

    // A site sees its own line only, and a total of its own; a distributor sees nothing.
    let (status, seen) = app
        .get(&format!("/api/v1/settlements/{id}"), Some(&site2))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen["lines"].as_array().unwrap().len(), 1);
    assert_eq!(seen["total_cents"], 1_000, "not the batch's 4,000: {seen}");
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
    let (status, content_type, xml) = app.sepa(&id, &app.operator_token).await;
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

/// A site with bank details, two cheques redeemed there, and a draft batch paying them in
/// one line: `(world, batch id, line id)`.
async fn one_line_batch(app: &TestApp) -> (World, String, String) {
    let w = app.world(200_000, 100).await;
    app.bank(&w.site_id, &w.site).await;
    redeem_n(app, &w, &w.site, 2).await;
    app.advance(SignedDuration::from_hours(49));
    let (status, batch) = app
        .post(
            "/api/v1/settlements",
            &app.operator_token,
            json!({"until": "2026-12-31"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    let id = batch["id"].as_str().unwrap().to_string();
    let line_id = batch["lines"][0]["id"].as_str().unwrap().to_string();
    (w, id, line_id)
}

async fn a_rejected_transfer_is_paid_by_the_next_batch(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (w, id, line_id) = one_line_batch(&app).await;
    let op = app.operator_token.clone();
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
    let (status, _, _) = app.sepa(&id, &op).await;
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

    // Held: a batch made before the site gives new bank details does not send it again to
    // the account that returned it.
    redeem_n(&app, &w, &w.site, 1).await;
    app.advance(SignedDuration::from_hours(49));
    let (status, held) = app
        .post("/api/v1/settlements", &op, json!({"until": "2026-12-31"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{held}");
    assert_eq!(held["lines"][0]["carried_cents"], 0, "{held}");
    assert_eq!(held["lines"][0]["amount_cents"], 1_000);
    let held_id = held["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/settlements/{held_id}/approve"),
        &op,
        json!({}),
    )
    .await;
    app.sepa(held_id, &op).await;
    app.post(
        &format!("/api/v1/settlements/{held_id}/paid"),
        &op,
        json!({}),
    )
    .await;

    // New bank details; the next batch pays the rejected amount with the new redemptions.
    app.bank_account(&w.site_id, &w.site, "DE89370400440532013000")
        .await;
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
    let (_, _, xml) = app.sepa(next_id, &op).await;
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
    assert_eq!(rec["paid_cents"], 4_000);
    assert_eq!(rec["settled_unpaid_cents"], 0);
    assert_eq!(rec["redeemed_cents"], 4_000);
    app.assert_ledger_verifies().await;
}

/// A rejection records the bank's reason code in words; the operator may send the held amount
/// again to the same account (after AM04, once the payer account is provisioned), once.
async fn a_released_rejection_goes_to_the_same_account(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (w, id, line_id) = one_line_batch(&app).await;
    let op = app.operator_token.clone();
    app.post(&format!("/api/v1/settlements/{id}/approve"), &op, json!({}))
        .await;
    app.sepa(&id, &op).await;
    let reject = format!("/api/v1/settlements/{id}/lines/{line_id}/reject");
    let (status, body) = app.post(&reject, &op, json!({"reason_code": "ZZ01"})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_reason_code"),
        "{body}"
    );
    let (status, body) = app.post(&reject, &op, json!({"reason_code": "am04"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["lines"][0]["rejection_code"], "AM04");
    assert_eq!(
        body["lines"][0]["rejection_reason"],
        "Provision insuffisante sur le compte payeur (AM04)"
    );
    // A second site has redeemed a cheque but given no bank details yet.
    let (_, no_bank) = app.qualified_site("Tiers-lieu sans RIB").await;
    redeem_n(&app, &w, &no_bank, 1).await;
    app.advance(SignedDuration::from_hours(49));
    let (status, body) = app
        .post("/api/v1/settlements", &op, json!({"until": "2026-12-31"}))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "nothing_to_settle"),
        "held until released: {body}"
    );
    // The refusal says who waits, and why.
    let message = body["error"]["message"].as_str().unwrap_or_default();
    for waiting in [
        "Médiathèque Mériadeck (virement rejeté, en attente de nouvelles coordonnées bancaires)",
        "Tiers-lieu sans RIB (pas de coordonnées bancaires)",
    ] {
        assert!(message.contains(waiting), "{waiting}: {message}");
    }
    let release = format!("/api/v1/settlements/{id}/lines/{line_id}/release");
    let (status, _) = app.post(&release, &w.site, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app.post(&release, &op, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.post(&release, &op, json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "not_held"),
        "{body}"
    );
    assert!(app
        .journal(&id)
        .await
        .contains(&"settlement.line_released".to_string()));
    let (status, next) = app
        .post("/api/v1/settlements", &op, json!({"until": "2026-12-31"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{next}");
    assert_eq!(next["lines"][0]["carried_cents"], 2_000);
    let next_id = next["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/settlements/{next_id}/approve"),
        &op,
        json!({}),
    )
    .await;
    let (_, _, xml) = app.sepa(next_id, &op).await;
    xmllint(&xml);
    assert!(
        xml.contains("FR1420041010050500013M02606"),
        "the same IBAN: {xml}"
    );
    // Released once, paid once: nothing is left to carry.
    let (status, _) = app.post(&release, &op, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
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
            *status == StatusCode::CREATED
                || matches!(
                    error_code(body),
                    "nothing_to_settle" | "concurrent_settlement"
                ),
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
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["iban"], "FR14*******************2606");
    let mut conn = app.state.db.read().await.unwrap();
    let trail = passnum::audit::for_subject(&mut conn, &other_id)
        .await
        .unwrap();
    // Entries made within the same microsecond have no defined order among themselves.
    let mut actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    actions.sort_unstable();
    assert_eq!(
        actions,
        [
            "api_token.created",
            "bank_account.requested",
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
    let graced_id = app
        .programme(&w.funder, &w.distributor_id, "Avec délai de grâce")
        .terms(json!({"budget_cents": 100_000, "grace_days": 31}))
        .funded(10_000)
        .quota(10)
        .create()
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
    let report = passnum::cli::jobs::expire(&app.state).await.unwrap();
    assert_eq!(
        report.cheques, 9,
        "the graced carnet is still within its grace"
    );
    assert_eq!(report.cents, passnum::money::Cents::new(9_000));
    assert_eq!(
        passnum::cli::jobs::expire(&app.state)
            .await
            .unwrap()
            .cheques,
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
    // At once, with no notice: only the operator may force it.
    let at_once = json!({"closes_on": app.state.clock.today().to_string(), "force": true});
    let (status, body) = app.post(&close, &w.funder, at_once.clone()).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "force_reserved")
    );
    let (status, closing) = app.post(&close, &app.operator_token, at_once).await;
    assert_eq!(status, StatusCode::OK, "{closing}");
    assert_eq!(closing["status"], "closed");
    let closure = &closing["closure"];
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
    // Refused for what happened (the programme ended today), not as "expired" on the printed
    // date still to come; the beneficiary reads the same.
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::GONE, "programme_closed"),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("a pris fin le"), "{message}");
    let code = pass["pass_code"].as_str().unwrap();
    let (_, balance) = app
        .get(&format!("/api/v1/public/passes/{code}"), None)
        .await;
    assert_eq!(
        balance["programme_ended_on"],
        app.now().to_string()[..10],
        "{balance}"
    );
    let page = reqwest::get(format!("{}/solde?code={code}", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Le programme de ce carnet a pris fin le"),
        "{page}"
    );
    assert!(!page.contains("valables jusqu"), "{page}");
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
    let id = &app
        .programme(&w.funder, &w.distributor_id, "Avec frais")
        .terms(json!({"budget_cents": 100_000, "fee_rate_bp": 333, "fee_per_cheque_cents": 5}))
        .funded(100_000)
        .quota(10)
        .create()
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
    let (_, _, xml) = app.sepa(batch_id, &op).await;
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
    for (org, email) in [
        (&w.distributor_id, "agent@ccas.example"),
        (&w.funder_id, "suivi@gironde.example"),
    ] {
        app.user(org, email, "Agent", passnum::users::Role::Admin, None)
            .await;
    }
    let pass = app.issue(&w, 5).await;
    assert_eq!(pass["expires_on"], "2027-03-02");
    let pending = || async {
        let mut conn = app.state.db.read().await.unwrap();
        passnum::mail::pending_count(&mut conn).await.unwrap()
    };
    app.advance(SignedDuration::from_hours(24 * 300));
    passnum::cli::jobs::expire(&app.state).await.unwrap();
    assert_eq!(pending().await, 0, "not yet");
    app.advance(SignedDuration::from_hours(24 * 36));
    passnum::cli::jobs::expire(&app.state).await.unwrap();
    assert_eq!(
        pending().await,
        2,
        "30 days before: the distributor and the funder"
    );
    passnum::cli::jobs::expire(&app.state).await.unwrap();
    assert_eq!(pending().await, 2, "once only");
    app.advance(SignedDuration::from_hours(24 * 23));
    passnum::cli::jobs::expire(&app.state).await.unwrap();
    assert_eq!(pending().await, 4, "and again 7 days before");
}

/// The batch each of a site's redemptions is paid by, as the API shows it, by cheque code.
async fn settled_by(app: &TestApp, site: &str) -> BTreeMap<String, Option<String>> {
    let (status, list) = app.get("/api/v1/redemptions", Some(site)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["code"].as_str().unwrap().to_string(),
                r["settlement_id"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// How many lines pay each live redemption, counted from the tables (0 = not yet settled).
async fn lines_paying_each_redemption(app: &TestApp) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT CAST((SELECT COUNT(*) FROM settlement_lines l WHERE l.site_id = r.site_id \
             AND l.program_id = r.program_id AND ((r.redeemed_at >= l.period_start \
             AND r.redeemed_at < l.period_end AND r.settlement_id IS NULL) \
             OR r.settlement_id = l.settlement_id)) AS BIGINT) \
         FROM redemptions r WHERE r.undone_at IS NULL ORDER BY r.id",
    )
    .fetch_all(app.state.db.reads())
    .await
    .unwrap()
}

async fn operator(app: &TestApp) -> passnum::orgs::Organization {
    app.operator_org().await
}

/// Two batches prepared at once, in two transactions: the second one's lines start where the
/// first one's do, so it cannot be saved (PostgreSQL: the unique period start; SQLite: it
/// waits for the single writer, then finds nothing left to settle).
async fn two_batches_at_the_same_moment_pay_each_redemption_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(200_000, 100).await;
    app.bank(&w.site_id, &w.site).await;
    redeem_n(&app, &w, &w.site, 4).await;
    app.advance(SignedDuration::from_hours(49));
    let operator = operator(&app).await;
    let new = || passnum::settlement::NewBatch {
        until: "2026-03-31".into(),
    };
    let window = SignedDuration::from_hours(48);
    let prepare = |hold: std::time::Duration| {
        let (db, operator, now) = (app.state.db.clone(), operator.clone(), app.now());
        tokio::spawn(async move {
            db.transact(passnum::db::Origin::platform(), move |tx| {
                Box::pin(async move {
                    let batch =
                        passnum::settlement::create(tx, &operator, new(), now, window).await?;
                    // Still uncommitted while the other one starts.
                    tokio::time::sleep(hold).await;
                    Ok(batch)
                })
            })
            .await
        })
    };
    let first = prepare(std::time::Duration::from_millis(1_000));
    // Let the first write its batch, then start the second, which waits for the first.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let second = prepare(std::time::Duration::ZERO);
    let batch = first.await.unwrap().unwrap();
    assert_eq!(batch.batch.total_cents, passnum::money::Cents::new(4_000));
    let refused = second
        .await
        .unwrap()
        .map(|b| b.batch.id)
        .expect_err("a second batch is refused");
    let expected = match backend {
        Backend::Postgres => "concurrent_settlement",
        Backend::Sqlite => "nothing_to_settle",
    };
    assert!(
        matches!(&refused, passnum::error::Error::Conflict { code, .. } if *code == expected),
        "{refused:?}"
    );
    assert_eq!(lines_paying_each_redemption(&app).await, vec![1; 4]);
    let batches: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM settlements")
        .fetch_one(app.state.db.reads())
        .await
        .unwrap();
    assert_eq!(batches, 1);
    app.assert_ledger_verifies().await;
}

async fn a_redemption_after_the_cutoff_goes_to_the_next_batch(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(200_000, 100).await;
    app.bank(&w.site_id, &w.site).await;
    let op = app.operator_token.clone();
    let settle = |until: &'static str| {
        let op = op.clone();
        let app = &app;
        async move {
            app.post("/api/v1/settlements", &op, json!({ "until": until }))
                .await
        }
    };
    let code = |r: &Value| r["code"].as_str().unwrap().to_string();
    // Monday 2 March, 11:00 UTC.
    let a: Vec<String> = redeem_n(&app, &w, &w.site, 2)
        .await
        .iter()
        .map(code)
        .collect();
    app.advance(SignedDuration::from_hours(49));
    // Wednesday 4 March, 12:00: still within its undo window when the first batch is made.
    let b = code(&redeem_n(&app, &w, &w.site, 1).await[0]);
    let (status, first) = settle("2026-03-31").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["lines"][0]["redemptions"], 2);
    app.advance(SignedDuration::from_hours(49));
    // Friday 6 March, 13:00.
    let d = code(&redeem_n(&app, &w, &w.site, 1).await[0]);
    // Until 4 March: B, but not D, made after that day.
    let (status, second) = settle("2026-03-04").await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["lines"][0]["redemptions"], 1);
    app.advance(SignedDuration::from_hours(49));
    let (status, body) = settle("2026-03-05").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "nothing_to_settle"),
        "D was made on 6 March"
    );
    let (status, third) = settle("2026-03-31").await;
    assert_eq!(status, StatusCode::CREATED, "{third}");
    assert_eq!(third["lines"][0]["redemptions"], 1);

    let id = |batch: &Value| Some(batch["id"].as_str().unwrap().to_string());
    let settled = settled_by(&app, &w.site).await;
    for code in &a {
        assert_eq!(settled[code], id(&first), "{code}");
    }
    assert_eq!(settled[&b], id(&second));
    assert_eq!(settled[&d], id(&third));
    // Each statement lists the cheques of its own batch.
    for (batch, codes) in [(&first, a.clone()), (&second, vec![b]), (&third, vec![d])] {
        let (status, _, csv) = app
            .get_text(
                &format!(
                    "/api/v1/settlements/{}/statements/{}.csv",
                    batch["id"].as_str().unwrap(),
                    w.site_id
                ),
                &w.site,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let listed: Vec<&str> = csv
            .lines()
            .skip(1)
            .filter_map(|l| l.split(';').next())
            .filter(|c| c.len() == 14)
            .collect();
        assert_eq!(listed.len(), codes.len(), "{csv}");
        for code in &codes {
            assert!(csv.contains(code.as_str()), "{code} in {csv}");
        }
    }
    // The site's periods follow one another.
    let periods: Vec<(String, String)> =
        sqlx::query_as("SELECT period_start, period_end FROM settlement_lines ORDER BY period_end")
            .fetch_all(app.state.db.reads())
            .await
            .unwrap();
    assert_eq!(periods.len(), 3);
    assert_eq!(periods[0].0, "");
    assert_eq!(periods[1].0, periods[0].1);
    assert_eq!(periods[2].0, periods[1].1);
    assert_eq!(periods[1].1, "2026-03-04T12:59:00.000000Z");
    assert_eq!(lines_paying_each_redemption(&app).await, vec![1; 4]);
    app.assert_ledger_verifies().await;
}

/// With no undo window, what was just redeemed may still be committing: a batch leaves the
/// last minute to the next one.
async fn without_undo_window_a_batch_waits_for_redemptions_in_flight(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.undo_window_hours = 0).await else {
        return;
    };
    let w = app.world(200_000, 100).await;
    app.bank(&w.site_id, &w.site).await;
    let redeemed = redeem_n(&app, &w, &w.site, 1).await;
    app.advance(SignedDuration::from_secs(30));
    let op = app.operator_token.clone();
    let until = json!({"until": "2026-03-31"});
    let (status, body) = app.post("/api/v1/settlements", &op, until.clone()).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "nothing_to_settle")
    );
    app.advance(SignedDuration::from_secs(31));
    let (status, batch) = app.post("/api/v1/settlements", &op, until).await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    assert_eq!(batch["total_cents"], 1_000);
    let (status, body) = app
        .delete(
            &format!(
                "/api/v1/redemptions/{}",
                redeemed[0]["id"].as_str().unwrap()
            ),
            &w.site,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    app.assert_ledger_verifies().await;
}

/// A batch made with a shorter undo window than the site's server (`passnum settle` with
/// `PASSNUM_UNDO_WINDOW_HOURS=0`) covers redemptions the site could still undo: the undo is
/// refused, by the undo statement itself.
async fn a_redemption_a_line_covers_cannot_be_undone(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(200_000, 100).await;
    app.bank(&w.site_id, &w.site).await;
    let redeemed = redeem_n(&app, &w, &w.site, 2).await;
    app.advance(SignedDuration::from_mins(2));
    let operator = operator(&app).await;
    let now = app.now();
    let batch = app
        .write(move |tx| {
            Box::pin(async move {
                passnum::settlement::create(
                    tx,
                    &operator,
                    passnum::settlement::NewBatch {
                        until: "2026-03-31".into(),
                    },
                    now,
                    SignedDuration::ZERO,
                )
                .await
            })
        })
        .await
        .unwrap();
    assert_eq!(batch.lines[0].redemptions, 2);
    for r in &redeemed {
        let (status, body) = app
            .delete(
                &format!("/api/v1/redemptions/{}", r["id"].as_str().unwrap()),
                &w.site,
            )
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::CONFLICT, "already_settled"),
            "{body}"
        );
    }
    let settled = settled_by(&app, &w.site).await;
    assert!(settled
        .values()
        .all(|s| s.as_deref() == Some(batch.batch.id.as_str())));
    // A redemption made after the batch can still be undone.
    let later = redeem_n(&app, &w, &w.site, 1).await;
    let (status, body) = app
        .delete(
            &format!("/api/v1/redemptions/{}", later[0]["id"].as_str().unwrap()),
            &w.site,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.assert_ledger_verifies().await;
}

/// A database whose batches were made before periods (migration 0012): claimed redemptions
/// name their batch. One was committed after that batch's cutoff had passed it (a short undo
/// window makes that possible), so no period could stand for what the batch claimed; after
/// the migration the old batch keeps its cheques and the next batch pays the late one.
async fn batches_made_before_periods_keep_what_they_claimed(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(200_000, 100).await;
    app.bank(&w.site_id, &w.site).await;
    let claimed = redeem_n(&app, &w, &w.site, 2).await;
    app.advance(SignedDuration::from_hours(49));
    let op = app.operator_token.clone();
    let (status, old) = app
        .post("/api/v1/settlements", &op, json!({"until": "2026-03-31"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{old}");
    let old_id = old["id"].as_str().unwrap().to_string();
    let late = redeem_n(&app, &w, &w.site, 1).await;
    let late_id = late[0]["id"].as_str().unwrap();
    let late_code = late[0]["code"].as_str().unwrap();

    // Back to how the code before periods left it: the claims on the rows, lines without
    // periods, the old index, migration 0012 not applied. The late redemption is stamped
    // before the old batch's cutoff.
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.database_url)
        .await
        .unwrap();
    let stamped = claimed[0]["redeemed_at"].as_str().unwrap();
    for sql in [
        format!("UPDATE redemptions SET settlement_id = '{old_id}' WHERE id <> '{late_id}'"),
        format!("UPDATE redemptions SET redeemed_at = '{stamped}' WHERE id = '{late_id}'"),
        "DROP INDEX settlement_lines_period".to_string(),
        "DROP INDEX redemptions_settled_before_periods".to_string(),
        "ALTER TABLE settlement_lines DROP COLUMN period_start".to_string(),
        "ALTER TABLE settlement_lines DROP COLUMN period_end".to_string(),
        "CREATE INDEX redemptions_settlement ON redemptions (settlement_id, site_id)".to_string(),
        "DROP INDEX settlement_lines_batch".to_string(),
        "CREATE INDEX settlement_lines_batch ON settlement_lines (settlement_id)".to_string(),
        "DELETE FROM _sqlx_migrations WHERE version = 12".to_string(),
    ] {
        sqlx::query(&sql).execute(&mut conn).await.unwrap();
    }
    drop(conn);
    // A server of this version starts on it and migrates it.
    let app = {
        let upgraded = TestApp::spawn_on(&app.database_url, |_| {}).await;
        upgraded.clock.set(app.now());
        upgraded
    };
    let settled = settled_by(&app, &w.site).await;
    for r in &claimed {
        assert_eq!(settled[r["code"].as_str().unwrap()], Some(old_id.clone()));
    }
    assert_eq!(settled[late_code], None);
    let (status, body) = app
        .delete(
            &format!("/api/v1/redemptions/{}", claimed[0]["id"].as_str().unwrap()),
            &w.site,
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "already_settled")
    );
    let statement = |id: String| {
        let app = &app;
        let site = w.site.clone();
        let site_id = w.site_id.clone();
        async move {
            let (status, _, csv) = app
                .get_text(
                    &format!("/api/v1/settlements/{id}/statements/{site_id}.csv"),
                    &site,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{csv}");
            csv
        }
    };
    let csv = statement(old_id.clone()).await;
    assert_eq!(csv.lines().count(), 4, "two cheques and the total: {csv}");
    assert!(!csv.contains(late_code), "{csv}");
    app.assert_ledger_verifies().await;

    app.advance(SignedDuration::from_hours(49));
    let (status, next) = app
        .post(
            "/api/v1/settlements",
            &app.operator_token,
            json!({"until": "2026-03-31"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{next}");
    assert_eq!(next["lines"][0]["redemptions"], 1, "only the late one");
    let next_id = next["id"].as_str().unwrap().to_string();
    let csv = statement(next_id.clone()).await;
    assert!(csv.contains(late_code), "{csv}");
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert_eq!(settled_by(&app, &w.site).await[late_code], Some(next_id));
    assert_eq!(lines_paying_each_redemption(&app).await, vec![1; 3]);
    app.assert_ledger_verifies().await;
}

/// Paying a batch mails each site with someone to write to its own statement (PDF and CSV,
/// every cheque listed) and the funder its programme's; a site without anyone gets nothing.
async fn a_paid_batch_mails_each_statement_to_its_people(backend: Backend) {
    use base64::Engine;
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(500_000, 200).await;
    let (site2_id, site2) = app.qualified_site("France Services Cenon").await;
    let (site3_id, site3) = app.qualified_site("Sans personne").await;
    for (id, token) in [
        (&w.site_id, &w.site),
        (&site2_id, &site2),
        (&site3_id, &site3),
    ] {
        app.bank(id, token).await;
    }
    app.person(&w.site_id, "accueil@meriadeck.example").await;
    app.person(&site2_id, "compta@cenon.example").await;
    app.person(&site2_id, "direction@cenon.example").await;
    app.person(&w.funder_id, "suivi@gironde.example").await;
    let code = |r: &Value| r["code"].as_str().unwrap().to_string();
    let codes1: Vec<String> = redeem_n(&app, &w, &w.site, 3)
        .await
        .iter()
        .map(code)
        .collect();
    let codes2: Vec<String> = redeem_n(&app, &w, &site2, 2)
        .await
        .iter()
        .map(code)
        .collect();
    redeem_n(&app, &w, &site3, 1).await;
    app.advance(SignedDuration::from_hours(49));
    let op = app.operator_token.clone();
    let (_, batch) = app
        .post("/api/v1/settlements", &op, json!({"until": "2026-12-31"}))
        .await;
    let id = batch["id"].as_str().unwrap();
    app.post(&format!("/api/v1/settlements/{id}/approve"), &op, json!({}))
        .await;
    app.sepa(id, &op).await;
    let (status, body) = app
        .post(&format!("/api/v1/settlements/{id}/paid"), &op, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mails: Vec<(String, String, String)> =
        sqlx::query_as("SELECT to_address, subject, attachments FROM outbox ORDER BY to_address")
            .fetch_all(app.state.db.reads())
            .await
            .unwrap();
    let to: Vec<&str> = mails.iter().map(|(to, _, _)| to.as_str()).collect();
    assert_eq!(
        to,
        [
            "accueil@meriadeck.example",
            "compta@cenon.example",
            "direction@cenon.example",
            "suivi@gironde.example"
        ]
    );
    for (to, subject, attachments) in &mails {
        let files: Vec<Value> = serde_json::from_str(attachments).unwrap();
        let bytes = |i: usize| {
            base64::engine::general_purpose::STANDARD
                .decode(files[i]["base64"].as_str().unwrap())
                .unwrap()
        };
        assert_eq!(files[0]["filename"], "releve.pdf");
        assert_eq!(files[1]["filename"], "releve.csv");
        let pdf = common::pdf::pdf_texts(&bytes(0)).join("\n");
        let csv = String::from_utf8(bytes(1)).unwrap();
        let (mine, others): (&[String], &[String]) = match to.split('@').nth(1) {
            Some("meriadeck.example") => (&codes1, &codes2),
            Some("cenon.example") => (&codes2, &codes1),
            _ => {
                assert!(subject.starts_with("Relevé de règlement du programme"));
                assert!(csv.contains("France Services Cenon;2;20,00"), "{csv}");
                continue;
            }
        };
        assert!(subject.starts_with("Relevé de règlement —"), "{subject}");
        for code in mine {
            assert!(pdf.contains(code.as_str()), "{code} in {pdf}");
            assert!(csv.contains(code.as_str()), "{code} in {csv}");
        }
        for code in others {
            assert!(!csv.contains(code.as_str()), "{code} in {csv}");
        }
    }
}

/// The payer account left at its example value: the transfers are not taken to the bank
/// (409, naming the setting), except in the demo; `/readyz` names the setting.
async fn the_example_payer_account_pays_only_in_the_demo(backend: Backend) {
    for demo in [false, true] {
        let Some(app) = TestApp::spawn_with(backend, |c| {
            c.payer_iban = passnum::config::Config::defaults().payer_iban;
            c.demo = demo;
        })
        .await
        else {
            return;
        };
        let w = app.world(100_000, 10).await;
        app.bank(&w.site_id, &w.site).await;
        redeem_n(&app, &w, &w.site, 2).await;
        app.advance(SignedDuration::from_hours(49));
        let (status, batch) = app
            .post(
                "/api/v1/settlements",
                &app.operator_token,
                json!({"until": "2026-12-31"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{batch}");
        let id = batch["id"].as_str().unwrap();
        let (status, body) = app
            .post(
                &format!("/api/v1/settlements/{id}/approve"),
                &app.operator_token,
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = app
            .post(
                &format!("/api/v1/settlements/{id}/export"),
                &app.operator_token,
                json!({}),
            )
            .await;
        if demo {
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["status"], "exported");
        } else {
            assert_eq!(
                (status, error_code(&body)),
                (StatusCode::CONFLICT, "example_payer_account"),
                "{body}"
            );
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("PASSNUM_PAYER_IBAN"), "{message}");
        }
        let ready: Value = app
            .client
            .get(format!("{}/readyz", app.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            ready["example_settings"]
                .as_array()
                .unwrap()
                .contains(&json!("PASSNUM_PAYER_IBAN")),
            "{ready}"
        );
    }
}

/// On the configured day the server prepares the month's draft batch (once, whatever the number
/// of runs) and e-mails the operator's people; not before that day, not when switched off.
async fn the_server_prepares_the_monthly_batch_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let operator = app.operator_org().await;
    app.person(&operator.id, "tresorerie@operateur.example")
        .await;
    let w = app.world(100_000, 10).await;
    app.bank(&w.site_id, &w.site).await;
    redeem_n(&app, &w, &w.site, 2).await;
    let month = app.now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let next_month = month
        .first_of_month()
        .checked_add(jiff::Span::new().months(1))
        .unwrap();
    let at = |day: jiff::civil::Date| {
        day.at(12, 0, 0, 0)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp()
    };
    app.clock.set(at(next_month
        .checked_add(jiff::Span::new().days(3))
        .unwrap()));
    let jobs = |state| passnum::cli::jobs::prepare_monthly(state);
    assert!(jobs(&app.state).await.unwrap().is_none(), "before the 5th");
    app.clock.set(at(next_month
        .checked_add(jiff::Span::new().days(4))
        .unwrap()));
    let view = jobs(&app.state)
        .await
        .unwrap()
        .expect("prepared on the 5th");
    assert_eq!(view.batch.until_date, month.last_of_month().to_string());
    assert_eq!(view.batch.total_cents.get(), 2_000);
    assert!(jobs(&app.state).await.unwrap().is_none(), "made once");
    let mails = app.outbox_subjects().await;
    assert!(
        mails.contains(&(
            "tresorerie@operateur.example".to_string(),
            "Lot de règlement à approuver — Pass numérique".to_string()
        )),
        "{mails:?}"
    );
    // Switched off: nothing, even on the day.
    let Some(off) = TestApp::spawn_with(backend, |c| c.settlement_day = 0).await else {
        return;
    };
    off.clock.set(app.now());
    assert!(jobs(&off.state).await.unwrap().is_none());
}
