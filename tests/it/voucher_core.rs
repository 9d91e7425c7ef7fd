//! The voucher core over HTTP: programmes, passes, redemption, ledger — on both databases.

use crate::common;

use common::{error_code, Backend, TestApp};
use jiff::SignedDuration;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_databases!(
    full_life_of_a_pass,
    budget_and_quota_are_enforced,
    concurrent_redemptions_of_one_cheque_succeed_once,
    tampered_forged_and_mistyped_codes_are_refused,
    cancelled_expired_and_inactive_cheques_are_refused,
    undo_within_the_window_only,
    idempotent_retries_return_the_first_answer,
    only_qualified_sites_redeem,
    organisations_never_see_each_others_data,
    bad_input_gets_a_clear_error,
    invalid_codes_are_rate_limited,
    batches_issue_all_or_nothing,
);

async fn full_life_of_a_pass(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 20).await;
    let pass = app.issue(&w, 10).await;
    assert_eq!(pass["status"], "active");
    assert_eq!(pass["expires_on"], "2027-03-02");
    let vouchers = pass["vouchers"].as_array().expect("vouchers");
    assert_eq!(vouchers.len(), 10);
    for v in vouchers {
        assert_eq!(v["value_cents"], 1000);
        assert!(v["qr_payload"]
            .as_str()
            .expect("payload")
            .starts_with("PN2.K2."));
    }

    // The beneficiary checks the carnet with its pass code, typed loosely.
    let pass_code = pass["pass_code"].as_str().expect("pass code");
    let loose = pass_code.replace('-', " ").to_lowercase();
    let (status, balance) = app
        .get(&format!("/api/v1/public/passes/{loose}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{balance}");
    assert_eq!(
        balance,
        json!({"status": "active", "remaining_cheques": 10, "remaining_cents": 10000,
               "expires_on": "2027-03-02", "accepted_in": "toute la France",
               "accepted_for": "tous les types d'aide", "programme_ended_on": null,
               "programme_ends_on": null, "used": []})
    );

    // One cheque by short code, one by QR payload.
    let (status, r1) = app
        .redeem(&w.site, vouchers[0]["code"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r1}");
    assert_eq!(r1["value_cents"], 1000);
    assert_eq!(r1["voucher_id"], vouchers[0]["id"]);
    assert!(r1["redeemed_at"]
        .as_str()
        .unwrap()
        .starts_with("2026-03-02T11:00:00"));
    let (status, r2) = app
        .redeem(&w.site, vouchers[1]["qr_payload"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r2}");

    // The holder sees when and where its cheques were used.
    let (_, balance) = app
        .get(&format!("/api/v1/public/passes/{loose}"), None)
        .await;
    assert_eq!(
        balance["used"],
        json!([{"on": "2026-03-02", "place": "Médiathèque Mériadeck"},
               {"on": "2026-03-02", "place": "Médiathèque Mériadeck"}])
    );
    let page = app
        .client
        .get(format!("{}/solde?code={pass_code}", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .replace("&#39;", "'");
    assert!(
        page.contains("Le 2 mars 2026, Médiathèque Mériadeck"),
        "{page}"
    );
    assert!(
        page.contains(&format!("href=\"/avis/{pass_code}\"")),
        "{page}"
    );

    let (status, again) = app
        .redeem(&w.site, vouchers[0]["code"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&again), "already_redeemed");
    assert_eq!(
        again["error"]["message"],
        "Ce chèque a déjà été utilisé le 2 mars 2026."
    );

    let (_, balance) = app
        .get(&format!("/api/v1/public/passes/{pass_code}"), None)
        .await;
    assert_eq!(balance["remaining_cheques"], 8);
    assert_eq!(balance["remaining_cents"], 8000);

    let (status, list) = app.get("/api/v1/redemptions", Some(&w.site)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 2);

    let (status, seen) = app
        .get(
            &format!("/api/v1/passes/{}", pass["id"].as_str().unwrap()),
            Some(&w.distributor),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen["vouchers"][0]["status"], "redeemed");
    assert_eq!(seen["remaining_cheques"], 8);

    let rec = app.reconciliation(&w).await;
    assert_eq!(rec["budget_cents"], 10_000_000);
    assert_eq!(rec["funded_cents"], 100_000);
    assert_eq!(rec["allocated_cents"], 20_000);
    assert_eq!(rec["issued_cents"], 10_000);
    assert_eq!(rec["redeemed_cents"], 2_000);
    assert_eq!(rec["available_cents"], 80_000);
    assert_eq!(rec["unissued_quota_cents"], 10_000);
    assert_eq!(rec["outstanding_cents"], 8_000);
    assert_eq!(rec["redeemed_unsettled_cents"], 2_000);
    for zero in [
        "cancelled_cents",
        "expired_cents",
        "settled_cents",
        "paid_cents",
    ] {
        assert_eq!(rec[zero], 0, "{zero}");
    }
    app.assert_ledger_verifies().await;
}

async fn budget_and_quota_are_enforced(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(0, 0).await;
    let allocations = format!("/api/v1/programs/{}/allocations", w.program_id);
    // Nothing funded yet: nothing can be allocated.
    let (status, body) = app
        .post(
            &allocations,
            &w.funder,
            json!({"distributor_id": w.distributor_id, "cheques": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&body), "budget_exceeded");

    let fundings = format!("/api/v1/programs/{}/fundings", w.program_id);
    let (status, body) = app
        .post(
            &fundings,
            &w.funder,
            json!({"amount_cents": 6_000, "reference": "OP-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            &fundings,
            &w.funder,
            json!({"amount_cents": 100, "reference": "OP-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&body), "duplicate_reference");
    let (status, body) = app
        .post(
            &fundings,
            &w.funder,
            json!({"amount_cents": 10_000_000, "reference": "OP-2"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&body), "budget_exceeded");

    // 6 cheques funded: 7 cannot be allocated, 6 can.
    let (status, body) = app
        .post(
            &allocations,
            &w.funder,
            json!({"distributor_id": w.distributor_id, "cheques": 7}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&body), "budget_exceeded");
    let (status, _) = app
        .post(
            &allocations,
            &w.funder,
            json!({"distributor_id": w.distributor_id, "cheques": 6}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // A quota of 6: one carnet of 5, then not another.
    app.issue(&w, 5).await;
    let (status, body) = app
        .post(
            "/api/v1/passes",
            &w.distributor,
            json!({"program_id": w.program_id, "cheques": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&body), "quota_exceeded");
    let (status, body) = app
        .post(
            "/api/v1/passes",
            &w.distributor,
            json!({"program_id": w.program_id, "cheques": 7}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&body), "invalid_cheques");
    let rec = app.reconciliation(&w).await;
    assert_eq!(rec["funded_cents"], 6_000);
    assert_eq!(rec["issued_cents"], 5_000);
    assert_eq!(rec["unissued_quota_cents"], 1_000);
    assert_eq!(rec["available_cents"], 0);
    app.assert_ledger_verifies().await;
}

async fn concurrent_redemptions_of_one_cheque_succeed_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let (_, other_site) = app.qualified_site("France Services Cenon").await;
    let pass = app.issue(&w, 5).await;
    let code = pass["vouchers"][0]["code"].as_str().unwrap().to_string();
    let payload = pass["vouchers"][0]["qr_payload"]
        .as_str()
        .unwrap()
        .to_string();
    let attempts = (0..64).map(|i| {
        let token = if i % 2 == 0 {
            w.site.clone()
        } else {
            other_site.clone()
        };
        let input = if i % 3 == 0 {
            payload.clone()
        } else {
            code.clone()
        };
        let app = &app;
        async move { app.redeem(&token, &input).await }
    });
    let results = futures::future::join_all(attempts).await;
    let created = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let conflicts = results
        .iter()
        .filter(|(s, b)| *s == StatusCode::CONFLICT && error_code(b) == "already_redeemed")
        .count();
    assert_eq!(created, 1, "{results:?}");
    assert_eq!(conflicts, 63, "{results:?}");
    assert_eq!(app.reconciliation(&w).await["redeemed_cents"], 1000);
    app.assert_ledger_verifies().await;
}

async fn tampered_forged_and_mistyped_codes_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let pass = app.issue(&w, 5).await;
    let payload = pass["vouchers"][0]["qr_payload"]
        .as_str()
        .unwrap()
        .to_string();
    let code = pass["vouchers"][0]["code"].as_str().unwrap().to_string();

    // Every byte of the payload altered, one at a time.
    for i in 0..payload.len() {
        let mut bytes = payload.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        if tampered == payload {
            continue;
        }
        let (status, body) = app.redeem(&w.site, &tampered).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{tampered}: {body}"
        );
        assert_eq!(error_code(&body), "invalid_code", "{tampered}");
    }
    // A key id this platform does not know, and a payload signed by another platform's key.
    let unknown_key = payload.replacen("PN2.K2.", "PN2.K7.", 1);
    assert_ne!(unknown_key, payload);
    let (status, body) = app.redeem(&w.site, &unknown_key).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_code")
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("n'a pas été émis"));
    let foreign =
        passnum::vouchers::codes::Keyring::new(vec![passnum::vouchers::codes::SigningKey::new(
            "K2",
            vec![42; 32],
        )
        .unwrap()])
        .unwrap();
    let forged = foreign.payload("K2", &code.replace('-', "")).unwrap();
    let (status, body) = app.redeem(&w.site, &forged).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_code")
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("faux ou a été modifié"));

    // A typo in the short code is caught by its check symbol.
    let mut typo = code.clone().into_bytes();
    typo[0] = if typo[0] == b'7' { b'8' } else { b'7' };
    let (status, body) = app
        .redeem(&w.site, std::str::from_utf8(&typo).unwrap())
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_code")
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("erreur de frappe"));
    // Well-formed, correct check symbol, but no such cheque.
    let unknown = passnum::vouchers::codes::generate_code();
    let (status, body) = app.redeem(&w.site, &unknown).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_code")
    );
    for junk in ["", "12", "PN1.", "ÉÉÉÉ-ÉÉÉÉ-ÉÉÉÉ", "PN1.K2.X.Y.Z"] {
        let (status, body) = app.redeem(&w.site, junk).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_code"),
            "{junk:?}"
        );
    }
    // None of that redeemed anything; the genuine code, typed in lower case, still works.
    let (status, body) = app.redeem(&w.site, &code.to_lowercase()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.assert_ledger_verifies().await;
}

async fn cancelled_expired_and_inactive_cheques_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 30).await;

    // A lost carnet: one cheque used, then cancelled; the rest returns to the quota.
    let lost = app.issue(&w, 5).await;
    let (status, _) = app
        .redeem(&w.site, lost["vouchers"][0]["code"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let cancel = format!("/api/v1/passes/{}/cancel", lost["id"].as_str().unwrap());
    let (status, body) = app.post(&cancel, &w.distributor, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "cancelled");
    assert_eq!(body["remaining_cheques"], 0);
    let (status, body) = app.post(&cancel, &w.distributor, json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "already_cancelled")
    );
    let (status, body) = app
        .redeem(&w.site, lost["vouchers"][1]["code"].as_str().unwrap())
        .await;
    assert_eq!((status, error_code(&body)), (StatusCode::GONE, "cancelled"));
    let rec = app.reconciliation(&w).await;
    assert_eq!(rec["cancelled_cents"], 4_000);
    assert_eq!(rec["unissued_quota_cents"], 29_000);

    // A carnet printed in stock cannot be used until it is handed over.
    let (status, stock) = app
        .post(
            "/api/v1/passes",
            &w.distributor,
            json!({"program_id": w.program_id, "cheques": 5, "active": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(stock["status"], "inactive");
    let stock_code = stock["vouchers"][0]["code"].as_str().unwrap().to_string();
    let (status, body) = app.redeem(&w.site, &stock_code).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "not_activated")
    );
    let activate = format!("/api/v1/passes/{}/activate", stock["id"].as_str().unwrap());
    let (status, body) = app
        .post(
            &activate,
            &w.distributor,
            json!({"beneficiary_ref": "CCAS-42"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "active");
    assert_eq!(body["beneficiary_ref"], "CCAS-42");
    let (status, body) = app
        .post(
            &activate,
            &w.distributor,
            json!({"beneficiary_ref": "CCAS-42"}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "already_active")
    );
    let (status, _) = app.redeem(&w.site, &stock_code).await;
    assert_eq!(status, StatusCode::CREATED);

    // A year and a day later the cheques have expired.
    let fresh = app.issue(&w, 5).await;
    app.advance(SignedDuration::from_hours(24 * 366));
    let (status, body) = app
        .redeem(&w.site, fresh["vouchers"][0]["code"].as_str().unwrap())
        .await;
    assert_eq!((status, error_code(&body)), (StatusCode::GONE, "expired"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2 mars 2027"),
        "{body}"
    );
    let (_, balance) = app
        .get(
            &format!(
                "/api/v1/public/passes/{}",
                fresh["pass_code"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(balance["status"], "expired");
    assert_eq!(balance["remaining_cheques"], 0);
    app.assert_ledger_verifies().await;
}

async fn undo_within_the_window_only(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let (_, other_site) = app.qualified_site("Association Les Connectés").await;
    let pass = app.issue(&w, 5).await;
    let code = pass["vouchers"][0]["code"].as_str().unwrap();
    let (_, r) = app.redeem(&w.site, code).await;
    let path = format!("/api/v1/redemptions/{}", r["id"].as_str().unwrap());

    // Another site cannot even see it.
    let (status, body) = app.delete(&path, &other_site).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );

    app.advance(SignedDuration::from_hours(47));
    let (status, body) = app.delete(&path, &w.site).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["undone_at"].is_string());
    let (status, body) = app.delete(&path, &w.site).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "already_undone")
    );
    assert_eq!(app.reconciliation(&w).await["redeemed_cents"], 0);
    assert_eq!(app.reconciliation(&w).await["undone_cents"], 1000);

    // The cheque is usable again; this time the window closes.
    let (status, r) = app.redeem(&other_site, code).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    app.advance(SignedDuration::from_hours(49));
    let (status, body) = app
        .delete(
            &format!("/api/v1/redemptions/{}", r["id"].as_str().unwrap()),
            &other_site,
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "undo_window_closed")
    );
    app.assert_ledger_verifies().await;
}

async fn idempotent_retries_return_the_first_answer(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 20).await;
    let body = json!({"program_id": w.program_id, "cheques": 5});
    let first = app
        .request(
            Method::POST,
            "/api/v1/passes",
            Some(&w.distributor),
            Some(body.clone()),
            Some("issue-1"),
        )
        .await;
    assert_eq!(first.0, StatusCode::CREATED);
    let again = app
        .request(
            Method::POST,
            "/api/v1/passes",
            Some(&w.distributor),
            Some(body),
            Some("issue-1"),
        )
        .await;
    assert_eq!(again, first);
    assert_eq!(app.reconciliation(&w).await["issued_cents"], 5_000);

    let code = first.1["vouchers"][0]["code"].as_str().unwrap();
    let redeem = json!({"code": code});
    let r1 = app
        .request(
            Method::POST,
            "/api/v1/redemptions",
            Some(&w.site),
            Some(redeem.clone()),
            Some("scan-1"),
        )
        .await;
    assert_eq!(r1.0, StatusCode::CREATED);
    // Concurrent retries of the same request all get the first answer.
    let retries = (0..8).map(|_| {
        app.request(
            Method::POST,
            "/api/v1/redemptions",
            Some(&w.site),
            Some(redeem.clone()),
            Some("scan-1"),
        )
    });
    for retry in futures::future::join_all(retries).await {
        assert_eq!(retry, r1);
    }
    let other = app
        .request(
            Method::POST,
            "/api/v1/redemptions",
            Some(&w.site),
            Some(json!({"code": code, "minutes": 30})),
            Some("scan-1"),
        )
        .await;
    assert_eq!(
        (other.0, error_code(&other.1)),
        (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
    );
    // Keys belong to an organisation: another may use the same one.
    let (_, other_site) = app.qualified_site("Tiers-lieu").await;
    let theirs = app
        .request(
            Method::POST,
            "/api/v1/redemptions",
            Some(&other_site),
            Some(redeem),
            Some("scan-1"),
        )
        .await;
    assert_eq!(
        (theirs.0, error_code(&theirs.1)),
        (StatusCode::CONFLICT, "already_redeemed")
    );
    assert_eq!(app.reconciliation(&w).await["redeemed_cents"], 1000);
    app.assert_ledger_verifies().await;
}

async fn only_qualified_sites_redeem(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let pass = app.issue(&w, 5).await;
    let code = pass["vouchers"][0]["code"].as_str().unwrap();
    let (_, unqualified) = app.org("site", "Café associatif").await;
    let (status, body) = app.redeem(&unqualified, code).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "site_not_qualified")
    );

    // A token issued before a suspension stops working for redemption at once.
    let (status, _) = app
        .request(
            Method::PUT,
            &format!("/api/v1/sites/{}/qualification", w.site_id),
            Some(&app.operator_token),
            Some(json!({"status": "suspended", "reason": "Locaux fermés pour travaux."})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.redeem(&w.site, code).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "site_not_qualified")
    );

    // A qualification cannot be given an end in the past; one that has lapsed is no
    // qualification.
    let (site_id, site) = app.qualified_site("Bibliothèque").await;
    let qualify_until = |until: &'static str| {
        let (app, site_id) = (&app, &site_id);
        async move {
            app.request(
                Method::PUT,
                &format!("/api/v1/sites/{site_id}/qualification"),
                Some(&app.operator_token),
                Some(json!({"status": "qualified", "valid_until": until})),
                None,
            )
            .await
        }
    };
    let (status, body) = qualify_until("2026-03-01").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_date")
    );
    let (status, _) = qualify_until("2026-03-02").await;
    assert_eq!(status, StatusCode::OK);
    app.advance(jiff::SignedDuration::from_hours(48));
    let (status, body) = app.redeem(&site, code).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "site_not_qualified")
    );

    // Distributors and funders cannot redeem at all.
    let (status, body) = app.redeem(&w.distributor, code).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    app.assert_ledger_verifies().await;
}

async fn organisations_never_see_each_others_data(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let a = app.world(100_000, 10).await;
    let b = app.world(100_000, 10).await;
    let pass = app.issue(&a, 5).await;
    let pass_id = pass["id"].as_str().unwrap();
    for path in [format!("/api/v1/passes/{pass_id}")] {
        let (status, body) = app.get(&path, Some(&b.distributor)).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::NOT_FOUND, "not_found")
        );
    }
    for path in [
        format!("/api/v1/passes/{pass_id}/cancel"),
        format!("/api/v1/passes/{pass_id}/activate"),
    ] {
        let (status, body) = app.post(&path, &b.distributor, json!({})).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    for path in [
        format!("/api/v1/programs/{}", a.program_id),
        format!("/api/v1/programs/{}/reconciliation", a.program_id),
    ] {
        let (status, body) = app.get(&path, Some(&b.funder)).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    let (status, body) = app
        .post(
            &format!("/api/v1/programs/{}/allocations", a.program_id),
            &b.funder,
            json!({"distributor_id": b.distributor_id, "cheques": 1}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    // B's distributor has no quota in A's programme.
    let (status, body) = app
        .post(
            "/api/v1/passes",
            &b.distributor,
            json!({"program_id": a.program_id, "cheques": 5}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "quota_exceeded")
    );
    // A site sees only its own redemptions.
    let (_, r) = app
        .redeem(&a.site, pass["vouchers"][0]["code"].as_str().unwrap())
        .await;
    let (_, theirs) = app.get("/api/v1/redemptions", Some(&b.site)).await;
    assert_eq!(theirs, json!([]));
    let (status, _) = app
        .delete(
            &format!("/api/v1/redemptions/{}", r["id"].as_str().unwrap()),
            &b.site,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Roles: a distributor cannot create programmes or organisations.
    let (status, body) = app
        .post(
            "/api/v1/programs",
            &a.distributor,
            json!({"name": "x", "budget_cents": 100}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let (status, _) = app
        .post(
            "/api/v1/organizations",
            &a.funder,
            json!({"kind": "site", "name": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn bad_input_gets_a_clear_error(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let url = format!("{}/api/v1/passes", app.base);
    let send = |body: &'static str| {
        app.client
            .post(&url)
            .bearer_auth(&w.distributor)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (raw, status, code) in [
        ("{not json", 400, "invalid_json"),
        ("{\"program_id\": ", 400, "invalid_json"),
        ("[1, 2]", 422, "invalid_field"),
        ("{\"program_id\": 5, \"cheques\": 5}", 422, "invalid_field"),
        (
            "{\"program_id\": \"x\", \"cheques\": \"five\"}",
            422,
            "invalid_field",
        ),
        ("{\"cheques\": 5}", 422, "invalid_field"),
        (
            "{\"program_id\": \"x\", \"cheques\": 5, \"name\": \"Jean Dupont\"}",
            422,
            "invalid_field",
        ),
        (
            "{\"program_id\": \"nope\", \"cheques\": 5}",
            422,
            "unknown_program",
        ),
        (
            "{\"program_id\": \"x\", \"cheques\": 99999999999999999999}",
            422,
            "invalid_field",
        ),
    ] {
        let resp = send(raw).await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{raw}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(error_code(&body), code, "{raw}");
        assert!(body["error"]["message"].as_str().unwrap().len() > 10);
    }
    // The reference is a file number: a name or an address is refused, and no carnet made.
    let (status, body) = app
        .post(
            "/api/v1/passes",
            &w.distributor,
            json!({"program_id": w.program_id, "cheques": 5,
                   "beneficiary_ref": "Mme Durand Josiane 12 rue des Lilas"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "personal_data_in_reference");
    assert_eq!(app.count("SELECT COUNT(*) FROM passes").await, 0);
    let invalid_utf8 = app
        .client
        .post(&url)
        .bearer_auth(&w.distributor)
        .body(vec![b'{', 0xff, 0xfe, b'}'])
        .send()
        .await
        .unwrap();
    assert_eq!(invalid_utf8.status(), StatusCode::BAD_REQUEST);
    // A fresh client: the server closes a connection whose body it did not read.
    let huge = reqwest::Client::new()
        .post(&url)
        .bearer_auth(&w.distributor)
        .body(format!(
            "{{\"program_id\": \"{}\", \"cheques\": 5}}",
            "x".repeat(200_000)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = huge.json().await.unwrap();
    assert_eq!(error_code(&body), "body_too_large");
    let (status, body) = app.post("/api/v1/passes", "pn_nope", json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    let (status, body) = app.get("/api/v1/nowhere", None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, body) = app.get("/api/v1/public/passes/ABCD", None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_code")
    );
    let (status, body) = app
        .get(
            &format!(
                "/api/v1/public/passes/{}",
                passnum::vouchers::codes::generate_code()
            ),
            None,
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    for (org, code) in [
        (json!({"kind": "bank", "name": "x"}), "invalid_kind"),
        (json!({"kind": "site", "name": "  "}), "invalid_name"),
        (
            json!({"kind": "site", "name": "x", "siret": "12345678901234"}),
            "invalid_siret",
        ),
        (
            json!({"kind": "site", "name": "x", "department": "20"}),
            "invalid_department",
        ),
        (
            json!({"kind": "site", "name": "x", "postcode": "7500"}),
            "invalid_postcode",
        ),
    ] {
        let (status, body) = app
            .post("/api/v1/organizations", &app.operator_token, org)
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, code)
        );
    }
    for (program, code) in [
        (json!({"name": "x", "budget_cents": 0}), "invalid_budget"),
        (json!({"name": "x", "budget_cents": -5}), "invalid_budget"),
        (
            json!({"name": "x", "budget_cents": 100, "cheque_value_cents": 0}),
            "invalid_cheque_value",
        ),
        (
            json!({"name": "x", "budget_cents": 100, "validity_days": 0}),
            "invalid_validity",
        ),
    ] {
        let (status, body) = app.post("/api/v1/programs", &w.funder, program).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, code)
        );
    }
    let (status, body) = app
        .post(
            "/api/v1/redemptions",
            &w.site,
            json!({"code": "ABCD", "minutes": 0}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_minutes")
    );
    // Nothing above changed any figure.
    let rec = app.reconciliation(&w).await;
    assert_eq!(rec["issued_cents"], 0);
    app.assert_ledger_verifies().await;
}

async fn invalid_codes_are_rate_limited(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.invalid_code_limit = 5;
        c.public_lookup_limit = 5;
    })
    .await
    else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let pass = app.issue(&w, 5).await;
    for _ in 0..5 {
        let (status, _) = app.redeem(&w.site, "AAAA-AAAA-AAAA").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let resp = app
        .client
        .post(format!("{}/api/v1/redemptions", app.base))
        .bearer_auth(&w.site)
        .json(&json!({"code": pass["vouchers"][0]["code"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0);
    // The window passes; the genuine cheque goes through.
    app.advance(SignedDuration::from_secs(601));
    let (status, _) = app
        .redeem(&w.site, pass["vouchers"][0]["code"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // Public look-ups: a real carnet's never count; failed ones do.
    let code = pass["pass_code"].as_str().unwrap();
    for _ in 0..10 {
        let (status, _) = app
            .get(&format!("/api/v1/public/passes/{code}"), None)
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    for n in 0..5 {
        let (status, _) = app
            .get(&format!("/api/v1/public/passes/ZZZ{n}-ZZZZ-ZZZZ"), None)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (status, body) = app
        .get(&format!("/api/v1/public/passes/{code}"), None)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_requests")
    );
}

#[tokio::test]
async fn every_response_carries_security_headers() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    for path in [
        "/",
        "/api/v1/public/passes/ABCD",
        "/healthz",
        "/connexion",
        "/nowhere",
    ] {
        let resp = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        let h = resp.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
            "{path}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "same-origin", "{path}");
        assert!(h.contains_key("x-request-id"), "{path}");
    }
}

async fn batches_issue_all_or_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 40).await;
    let carnet = |cheques: i64, r: &str| json!({"cheques": cheques, "beneficiary_ref": r});

    // A faulty carnet is named, and nothing of the batch is issued.
    let (status, body) = app
        .post(
            "/api/v1/passes/batch",
            &w.distributor,
            json!({"program_id": w.program_id, "carnets": [carnet(10, "B-1"), carnet(7, "B-2")]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "invalid_cheques");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Carnet n° 2 : "));
    // Beyond the quota: refused as a whole.
    let too_many: Vec<_> = (0..5).map(|i| carnet(10, &format!("B-{i}"))).collect();
    let (status, body) = app
        .post(
            "/api/v1/passes/batch",
            &w.distributor,
            json!({"program_id": w.program_id, "carnets": too_many}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "quota_exceeded");
    let (_, listed) = app.get("/api/v1/passes", Some(&w.distributor)).await;
    assert_eq!(listed.as_array().unwrap().len(), 0);

    let (status, issued) = app
        .post(
            "/api/v1/passes/batch",
            &w.distributor,
            json!({"program_id": w.program_id, "carnets": [carnet(10, "B-1"), carnet(5, "B-2"), carnet(10, "B-3")]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let issued = issued.as_array().unwrap();
    assert_eq!(issued.len(), 3);
    assert_eq!(issued[1]["beneficiary_ref"], "B-2");
    assert_eq!(issued[1]["vouchers"].as_array().unwrap().len(), 5);
    let code = issued[2]["vouchers"][9]["qr_payload"].as_str().unwrap();
    let (status, body) = app.redeem(&w.site, code).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let rec = app.reconciliation(&w).await;
    assert_eq!(rec["issued_cents"], 25_000);
    assert_eq!(rec["unissued_quota_cents"], 15_000);
    app.assert_ledger_verifies().await;
}
