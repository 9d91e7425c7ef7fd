//! Offline redemption, server side (issue 26): a site's console registers, reads its allowance,
//! and syncs what it recorded offline. Each record is redeemed once with the session's time;
//! a replay changes nothing; a cheque used meanwhile is a conflict with where and when; an
//! old or future session is refused; a late sync is paid once, by the next batch. And the
//! public look-up limits failed look-ups only. On both databases.

use crate::common;

use common::web::{get, signed_in};
use common::{error_code, Backend, TestApp, World};
use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_databases!(
    offline_records_are_redeemed_once_with_their_session_time,
    a_cheque_used_meanwhile_comes_back_as_a_conflict,
    sessions_too_old_or_in_the_future_are_refused,
    the_operator_sets_allowances_the_console_reads,
    a_late_sync_is_paid_once_by_the_next_batch,
    a_counter_looking_up_real_carnets_is_never_refused,
    a_revoked_device_syncs_nothing,
    a_cheque_expired_after_its_offline_session_is_still_paid,
);

async fn register(app: &TestApp, token: &str, label: &str) -> Value {
    let (status, device) = app
        .post("/api/v1/offline/devices", token, json!({ "label": label }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{device}");
    device
}

fn record(device: &Value, seq: i64, codes: &[&str], session_at: &str) -> Value {
    json!({
        "device_id": device["id"],
        "seq": seq,
        "session_at": session_at,
        "cheques": codes.iter().map(|c| json!({"code": c})).collect::<Vec<_>>(),
        "service": "individual_help",
        "minutes": 45,
        "themes": ["email"],
    })
}

async fn sync(app: &TestApp, token: &str, records: Vec<Value>) -> Vec<Value> {
    let (status, body) = app
        .post("/api/v1/offline/sync", token, json!({ "records": records }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["records"].as_array().expect("records").clone()
}

fn codes_of(pass: &Value) -> Vec<String> {
    pass["vouchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["code"].as_str().unwrap().to_string())
        .collect()
}

/// Redemptions, ledger transactions and offline records.
async fn counts(app: &TestApp) -> (i64, i64, i64) {
    (
        app.count("SELECT COUNT(*) FROM redemptions").await,
        app.count("SELECT COUNT(*) FROM ledger_transactions").await,
        app.count("SELECT COUNT(*) FROM offline_records").await,
    )
}

async fn offline_records_are_redeemed_once_with_their_session_time(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(200_000, 100).await;
    let device = register(&app, &w.site, "Tablette accueil").await;
    let pass = app.issue(&w, 5).await;
    let codes = codes_of(&pass);
    let payload = pass["vouchers"][2]["qr_payload"].as_str().unwrap();
    // The clock is at Monday 2 March, 11:00 UTC: the sessions took place the day before, in
    // Martinique (UTC-4), one with one cheque typed, one with two cheques (one scanned).
    let records = vec![
        record(&device, 1, &[&codes[0]], "2026-03-01T15:30:00-04:00"),
        record(
            &device,
            2,
            &[&codes[1], payload],
            "2026-03-01T16:45:00-04:00",
        ),
    ];
    let first = sync(&app, &w.site, records.clone()).await;
    for (answer, at) in first
        .iter()
        .zip(["2026-03-01T19:30:00.000000Z", "2026-03-01T20:45:00.000000Z"])
    {
        assert_eq!(answer["outcome"], "accepted", "{answer}");
        assert_eq!(answer["session_at"], at);
        assert_eq!(answer["replayed"], false);
    }
    // Redeemed with the session's time beside the sync's (which settlement follows).
    let (status, list) = app.get("/api/v1/redemptions", Some(&w.site)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    let first_one = list
        .iter()
        .find(|r| r["id"] == first[0]["redemption_id"])
        .expect("the first record's redemption");
    assert_eq!(first_one["session_at"], "2026-03-01T19:30:00.000000Z");
    assert_eq!(first_one["device_id"], device["id"]);
    assert_eq!(first_one["redeemed_at"], "2026-03-02T11:00:00.000000Z");
    assert_eq!(first_one["minutes"], 45);

    // Sent again (the console lost the answer): the same outcomes, nothing written.
    let before = counts(&app).await;
    app.advance(SignedDuration::from_mins(10));
    let again = sync(&app, &w.site, records.clone()).await;
    for (a, b) in again.iter().zip(&first) {
        assert_eq!(a["outcome"], "accepted", "{a}");
        assert_eq!(a["redemption_id"], b["redemption_id"]);
        assert_eq!(a["session_at"], b["session_at"]);
        assert_eq!(a["replayed"], true);
    }
    assert_eq!(counts(&app).await, before);
    assert_eq!(before.2, 2);
    // The same sequence number for another session is refused, and changes nothing.
    let reused = sync(
        &app,
        &w.site,
        vec![record(
            &device,
            1,
            &[&codes[3]],
            "2026-03-01T17:00:00-04:00",
        )],
    )
    .await;
    assert_eq!(reused[0]["outcome"], "refused");
    assert_eq!(reused[0]["reason_code"], "sequence_reused");
    assert_eq!(counts(&app).await, before);
    app.assert_ledger_verifies().await;

    // Another site cannot sync with this device, nor read it.
    let (_, other) = app.qualified_site("France Services Cenon").await;
    let foreign = sync(
        &app,
        &other,
        vec![record(
            &device,
            9,
            &[&codes[3]],
            "2026-03-01T17:00:00-04:00",
        )],
    )
    .await;
    assert_eq!(foreign[0]["reason_code"], "unknown_device");
    let (status, _) = app
        .get(
            &format!("/api/v1/offline/devices/{}", device["id"].as_str().unwrap()),
            Some(&other),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A distributor cannot sync at all.
    let (status, body) = app
        .post(
            "/api/v1/offline/sync",
            &w.distributor,
            json!({ "records": [] }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

async fn a_cheque_used_meanwhile_comes_back_as_a_conflict(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(200_000, 100).await;
    let (site2_id, site2) = app.qualified_site("France Services Cenon").await;
    let device = register(&app, &w.site, "Tablette accueil").await;
    let pass = app.issue(&w, 5).await;
    let codes = codes_of(&pass);
    // While the device was offline, the person used the same cheque at another site.
    let (status, online) = app.redeem(&site2, &codes[0]).await;
    assert_eq!(status, StatusCode::CREATED, "{online}");
    // And the site itself redeemed another one online before noting it offline too.
    app.redeem(&w.site, &codes[1]).await;
    let answers = sync(
        &app,
        &w.site,
        vec![
            record(&device, 1, &[&codes[0]], "2026-03-02T09:00:00+01:00"),
            record(&device, 2, &[&codes[1]], "2026-03-02T09:30:00+01:00"),
            record(&device, 3, &[&codes[2]], "2026-03-02T10:00:00+01:00"),
        ],
    )
    .await;
    assert_eq!(answers[0]["outcome"], "conflict", "{}", answers[0]);
    assert_eq!(answers[0]["reason_code"], "already_redeemed");
    let used = &answers[0]["used"][0];
    assert_eq!(used["site_name"], "France Services Cenon");
    assert_eq!(used["used_at"], online["redeemed_at"]);
    assert!(
        answers[0]["reason"]
            .as_str()
            .unwrap()
            .contains("France Services Cenon"),
        "{}",
        answers[0]
    );
    assert_eq!(answers[1]["outcome"], "conflict");
    assert_eq!(answers[1]["used"][0]["site_name"], "Médiathèque Mériadeck");
    assert_eq!(answers[2]["outcome"], "accepted");
    // Never paid twice: one live redemption per cheque, the first one's.
    for code in [&codes[0], &codes[1]] {
        let live = app
            .count(&format!(
                "SELECT COUNT(*) FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id \
                 WHERE v.code = '{}' AND r.undone_at IS NULL",
                code.replace('-', "")
            ))
            .await;
        assert_eq!(live, 1, "{code}");
    }
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM redemptions WHERE site_id = '{site2_id}'"
        ))
        .await,
        1
    );
    // The replay of a conflict answers the same conflict, and stores nothing more.
    let again = sync(
        &app,
        &w.site,
        vec![record(
            &device,
            1,
            &[&codes[0]],
            "2026-03-02T09:00:00+01:00",
        )],
    )
    .await;
    assert_eq!(again[0]["outcome"], "conflict");
    assert_eq!(again[0]["used"][0]["site_name"], "France Services Cenon");
    assert_eq!(app.count("SELECT COUNT(*) FROM offline_conflicts").await, 2);
    app.assert_ledger_verifies().await;

    // The site reads its conflicts (API and page); the operator reads every site's.
    let (status, mine) = app.get("/api/v1/offline/conflicts", Some(&w.site)).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine.as_array().unwrap().len(), 2);
    assert!(
        mine.as_array()
            .unwrap()
            .iter()
            .any(|c| c["code"] == codes[0].as_str()),
        "{mine}"
    );
    let (_, theirs) = app.get("/api/v1/offline/conflicts", Some(&site2)).await;
    assert!(theirs.as_array().unwrap().is_empty());
    let (_, all) = app
        .get("/api/v1/offline/conflicts", Some(&app.operator_token))
        .await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (client, _) = signed_in(&app, &w.site_id, "agent@mediatheque.example").await;
    let page = get(&client, &format!("{}/lieu/hors-ligne", app.base)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("Déjà utilisé"), "{}", page.html);
    assert!(page.html.contains("France Services Cenon"));
    assert!(page.html.contains("Tablette accueil"));
    let operator = app.operator_org().await;
    let (client, _) = signed_in(&app, &operator.id, "ops@passnum.example").await;
    let page = get(&client, &format!("{}/operateur/hors-ligne", app.base)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("Médiathèque Mériadeck"), "{}", page.html);
    assert!(page.html.contains("déjà utilisé"));
}

async fn sessions_too_old_or_in_the_future_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(200_000, 100).await;
    let device = register(&app, &w.site, "Tablette").await;
    let codes = codes_of(&app.issue(&w, 5).await);
    // Now: 2 March 11:00 UTC. The bound is 7 days.
    let answers = sync(
        &app,
        &w.site,
        vec![
            record(&device, 1, &[&codes[0]], "2026-02-23T10:59:00Z"),
            record(&device, 2, &[&codes[1]], "2026-03-02T12:30:00+01:00"),
            record(&device, 3, &[&codes[2]], "2026-03-02T13:00:00"),
            record(&device, 4, &[&codes[3]], "2026-02-23T11:01:00Z"),
        ],
    )
    .await;
    assert_eq!(answers[0]["outcome"], "refused");
    assert_eq!(answers[0]["reason_code"], "session_too_old");
    assert!(answers[0]["reason"].as_str().unwrap().contains("7 jours"));
    assert_eq!(answers[1]["reason_code"], "session_in_future");
    assert_eq!(answers[2]["reason_code"], "invalid_session_time");
    assert_eq!(answers[3]["outcome"], "accepted", "{}", answers[3]);
    // Refused cheques stay valid: they can be redeemed online.
    let (status, body) = app.redeem(&w.site, &codes[0]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // A typed code that does not exist is refused, saying it was to be confirmed.
    let mut typo = record(&device, 5, &["ABCD-EFGH-JK12"], "2026-03-02T09:00:00Z");
    typo["cheques"][0]["to_confirm"] = json!(true);
    let answers = sync(&app, &w.site, vec![typo]).await;
    assert_eq!(answers[0]["outcome"], "refused");
    assert!(
        answers[0]["reason"]
            .as_str()
            .unwrap()
            .contains("à confirmer"),
        "{}",
        answers[0]
    );
    // A cheque past its last day at the session's time is refused.
    app.assert_ledger_verifies().await;
}

async fn the_operator_sets_allowances_the_console_reads(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(200_000, 100).await;
    let device = register(&app, &w.site, "Tablette").await;
    let other = register(&app, &w.site, "Téléphone").await;
    assert_eq!(
        device["allowance"],
        json!({"max_cheques": 50, "max_days": 3})
    );
    let read = |d: &Value| format!("/api/v1/offline/devices/{}", d["id"].as_str().unwrap());
    let op = app.operator_token.clone();
    let set = |body: Value| {
        let op = op.clone();
        let app = &app;
        async move { app.put("/api/v1/offline/allowances", &op, body).await }
    };
    let (status, body) = set(json!({"site_id": w.site_id, "max_cheques": 20, "max_days": 2})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = set(json!({
        "site_id": w.site_id, "device_id": device["id"], "max_cheques": 10, "max_days": 1
    }))
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, d) = app.get(&read(&device), Some(&w.site)).await;
    assert_eq!(d["allowance"], json!({"max_cheques": 10, "max_days": 1}));
    let (_, o) = app.get(&read(&other), Some(&w.site)).await;
    assert_eq!(o["allowance"], json!({"max_cheques": 20, "max_days": 2}));
    // Never more days than a sync accepts; never set by the site itself.
    let (status, body) = set(json!({"site_id": w.site_id, "max_cheques": 10, "max_days": 8})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_allowance")
    );
    let (status, _) = app
        .put(
            "/api/v1/offline/allowances",
            &w.site,
            json!({"site_id": w.site_id, "max_cheques": 500, "max_days": 7}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Back to the site's default.
    let (status, _) = set(json!({"site_id": w.site_id, "device_id": device["id"]})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, d) = app.get(&read(&device), Some(&w.site)).await;
    assert_eq!(d["allowance"], json!({"max_cheques": 20, "max_days": 2}));
    // The site registers a device from its page too.
    let (client, csrf) = signed_in(&app, &w.site_id, "agent@mediatheque.example").await;
    let page = get(&client, &format!("{}/lieu/hors-ligne", app.base)).await;
    let sent = common::web::post(
        &client,
        &format!("{}/lieu/hors-ligne/appareils", app.base),
        &[
            ("csrf", &csrf),
            ("once", &page.once()),
            ("label", "Portable atelier"),
        ],
    )
    .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.html);
    assert!(sent.html.contains("Portable atelier"));
    assert!(
        sent.html.contains("20 chèques au plus hors ligne"),
        "{}",
        sent.html
    );
    let (_, devices) = app.get("/api/v1/offline/devices", Some(&w.site)).await;
    assert_eq!(devices.as_array().unwrap().len(), 3);
    let empty = common::web::post(
        &client,
        &format!("{}/lieu/hors-ligne/appareils", app.base),
        &[("csrf", &csrf), ("label", " ")],
    )
    .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        empty.html.contains("un nom de 1 à 80 caractères"),
        "{}",
        empty.html
    );
}

async fn a_late_sync_is_paid_once_by_the_next_batch(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w: World = app.world(200_000, 100).await;
    app.bank(&w.site_id, &w.site).await;
    let device = register(&app, &w.site, "Tablette").await;
    let codes = codes_of(&app.issue(&w, 5).await);
    let op = app.operator_token.clone();
    // Monday 2 March 11:00: one cheque online; another one used offline at 12:00.
    app.redeem(&w.site, &codes[0]).await;
    app.advance(SignedDuration::from_hours(49));
    // Wednesday 4 March: the first batch pays the online one; the device is still offline.
    let (status, first) = app
        .post("/api/v1/settlements", &op, json!({"until": "2026-03-31"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["lines"][0]["redemptions"], 1);
    // The device syncs: its session of Monday noon falls in a period already settled, but the
    // redemption enters the books now, so the next batch pays it.
    let answers = sync(
        &app,
        &w.site,
        vec![record(
            &device,
            1,
            &[&codes[1]],
            "2026-03-02T13:00:00+01:00",
        )],
    )
    .await;
    assert_eq!(answers[0]["outcome"], "accepted", "{}", answers[0]);
    app.advance(SignedDuration::from_hours(49));
    let (status, second) = app
        .post("/api/v1/settlements", &op, json!({"until": "2026-03-31"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["lines"][0]["redemptions"], 1);
    assert_eq!(
        second["lines"][0]["amount_cents"],
        first["lines"][0]["amount_cents"]
    );
    // Sent again after the second batch: nothing more to pay.
    sync(
        &app,
        &w.site,
        vec![record(
            &device,
            1,
            &[&codes[1]],
            "2026-03-02T13:00:00+01:00",
        )],
    )
    .await;
    app.advance(SignedDuration::from_hours(49));
    let (status, body) = app
        .post("/api/v1/settlements", &op, json!({"until": "2026-03-31"}))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "nothing_to_settle")
    );
    app.assert_ledger_verifies().await;
}

async fn a_counter_looking_up_real_carnets_is_never_refused(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.public_lookup_limit = 30).await else {
        return;
    };
    let w = app.world(1_000_000, 1000).await;
    let carnets: Vec<Value> = (0..200).map(|_| json!({"cheques": 5})).collect();
    let (status, issued) = app
        .post(
            "/api/v1/passes/batch",
            &w.distributor,
            json!({"program_id": w.program_id, "carnets": carnets, "active": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let carnets: Vec<String> = issued
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pass_code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(carnets.len(), 200);
    // One France Services counter, one address, 200 people in ten minutes: never refused.
    for (i, code) in carnets.iter().enumerate() {
        let (status, body) = app
            .get(&format!("/api/v1/public/passes/{code}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "carnet {i}: {body}");
        app.advance(SignedDuration::from_secs(2));
    }
    let page = app
        .client
        .get(format!("{}/solde?code={}", app.base, carnets[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    // 30 invented codes use up the window; the next look-up, even of a real carnet, is refused.
    for n in 0..30 {
        let guess = format!("{:04}-ZZZZ-ZZZZ", 1000 + n * 7);
        let (status, body) = app
            .get(&format!("/api/v1/public/passes/{guess}"), None)
            .await;
        assert!(
            matches!(
                status,
                StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY
            ),
            "guess {n}: {status} {body}"
        );
    }
    let (status, body) = app
        .get(&format!("/api/v1/public/passes/{}", carnets[1]), None)
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let page = app
        .client
        .get(format!("{}/solde?code={}", app.base, carnets[1]))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    let html = page.text().await.unwrap();
    assert!(html.contains("lang=\"fr\""), "{html}");
}

async fn a_revoked_device_syncs_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(200_000, 100).await;
    let device = register(&app, &w.site, "Tablette perdue").await;
    let spare = register(&app, &w.site, "Tablette de secours").await;
    let pass = app.issue(&w, 5).await;
    let codes = codes_of(&pass);
    let first = sync(
        &app,
        &w.site,
        vec![record(
            &device,
            1,
            &[&codes[0]],
            "2026-03-01T15:30:00-04:00",
        )],
    )
    .await;
    assert_eq!(first[0]["outcome"], "accepted", "{}", first[0]);
    let id = device["id"].as_str().unwrap();

    // Another site sees no such device; the site revokes its own, journaled, once.
    let (_, other_site) = app.qualified_site("Espace numérique de Pessac").await;
    let revoke = format!("/api/v1/offline/devices/{id}/revoke");
    let (status, _) = app.post(&revoke, &other_site, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.advance(SignedDuration::from_mins(5));
    let (status, revoked) = app.post(&revoke, &w.site, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    let at = revoked["revoked_at"]
        .as_str()
        .expect("revoked_at")
        .to_string();
    app.advance(SignedDuration::from_mins(5));
    let (status, again) = app
        .delete(&format!("/api/v1/offline/devices/{id}"), &w.site)
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["revoked_at"], at.as_str());
    let journal = app.journal(id).await;
    assert_eq!(
        journal
            .iter()
            .filter(|a| *a == "offline_device.revoked")
            .count(),
        1,
        "{journal:?}"
    );
    let (_, read) = app
        .get(&format!("/api/v1/offline/devices/{id}"), Some(&w.site))
        .await;
    assert_eq!(read["revoked_at"], at.as_str(), "{read}");

    // Its sync is refused whole, in French, and nothing of it is kept: a new session, the
    // replay of one answered before, or one sent beside another device's.
    let before = counts(&app).await;
    for records in [
        vec![record(
            &device,
            2,
            &[&codes[1]],
            "2026-03-01T16:30:00-04:00",
        )],
        vec![record(
            &device,
            1,
            &[&codes[0]],
            "2026-03-01T15:30:00-04:00",
        )],
        vec![
            record(&spare, 1, &[&codes[2]], "2026-03-01T16:30:00-04:00"),
            record(&device, 3, &[&codes[3]], "2026-03-01T16:45:00-04:00"),
        ],
    ] {
        let (status, body) = app
            .post(
                "/api/v1/offline/sync",
                &w.site,
                json!({ "records": records }),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(error_code(&body), "device_revoked");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("« Tablette perdue » a été retiré le")
                && message.contains("rien n'a été encaissé"),
            "{body}"
        );
    }
    assert_eq!(counts(&app).await, before);
    assert_eq!(app.count("SELECT COUNT(*) FROM offline_conflicts").await, 0);
    // The spare device still syncs.
    let spare_first = sync(
        &app,
        &w.site,
        vec![record(&spare, 1, &[&codes[2]], "2026-03-01T16:30:00-04:00")],
    )
    .await;
    assert_eq!(spare_first[0]["outcome"], "accepted", "{}", spare_first[0]);

    // The operator revokes any site's device, from its page after a confirmation.
    let operator_id = app.operator_org().await.id;
    let (client, csrf) = signed_in(&app, &operator_id, "exploitation@passnum.example").await;
    let page = get(&client, &format!("{}/operateur/hors-ligne", app.base)).await;
    let spare_id = spare["id"].as_str().unwrap();
    let action = format!("/operateur/hors-ligne/appareils/{spare_id}/retirer");
    assert!(page.html.contains(&action), "{}", page.html);
    assert!(!page.html.contains(&format!("/appareils/{id}/retirer")));
    let url = format!("{}{action}", app.base);
    let once = page.once();
    let asked = common::web::post(&client, &url, &[("csrf", &csrf), ("once", &once)]).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.html);
    assert!(
        asked
            .html
            .contains("« Tablette de secours » de Médiathèque Mériadeck ?"),
        "{}",
        asked.html
    );
    let (_, still) = app
        .get(
            &format!("/api/v1/offline/devices/{spare_id}"),
            Some(&w.site),
        )
        .await;
    assert!(still["revoked_at"].is_null(), "{still}");
    let done = common::web::post(
        &client,
        &url,
        &[("csrf", &csrf), ("once", &once), ("confirm", "1")],
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.html);
    assert!(done.html.contains("appareil est retiré"), "{}", done.html);
    assert!(app
        .journal(spare_id)
        .await
        .contains(&"offline_device.revoked".to_string()));
    let (status, body) = app
        .post(
            "/api/v1/offline/sync",
            &w.site,
            json!({ "records": [record(&spare, 2, &[&codes[3]], "2026-03-01T17:00:00-04:00")] }),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "device_revoked")
    );

    // The site, from its page: a new device, one small form each.
    let third = register(&app, &w.site, "Téléphone").await;
    let third_id = third["id"].as_str().unwrap();
    let (client, csrf) = signed_in(&app, &w.site_id, "agent@mediatheque.example").await;
    let page = get(&client, &format!("{}/lieu/hors-ligne", app.base)).await;
    let action = format!("/lieu/hors-ligne/appareils/{third_id}/retirer");
    assert!(page.html.contains(&action), "{}", page.html);
    let url = format!("{}{action}", app.base);
    let once = page.once();
    let asked = common::web::post(&client, &url, &[("csrf", &csrf), ("once", &once)]).await;
    assert!(asked.html.contains("Oui, retirer l"), "{}", asked.html);
    let done = common::web::post(
        &client,
        &url,
        &[("csrf", &csrf), ("once", &once), ("confirm", "1")],
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.html);
    assert!(done.html.contains("Téléphone (retiré)"), "{}", done.html);
    assert!(!done.html.contains(&action), "{}", done.html);
    app.assert_ledger_verifies().await;
}

/// A programme's reconciliation, as its funder reads it.
async fn figures_of(app: &TestApp, w: &World, program_id: &str) -> Value {
    let (status, body) = app
        .get(
            &format!("/api/v1/programs/{program_id}/reconciliation"),
            Some(&w.funder),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The status of the cheque of this code, and when it changed.
async fn cheque_state(app: &TestApp, code: &str) -> (String, Option<String>) {
    let mut conn = app.raw().await;
    sqlx::query_as("SELECT status, status_changed_at FROM vouchers WHERE code = $1")
        .bind(code.replace('-', ""))
        .fetch_one(&mut conn)
        .await
        .expect("cheque")
}

async fn a_cheque_expired_after_its_offline_session_is_still_paid(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(0, 0).await;
    // Five days from Monday 2 March: the last day is Saturday 7 March (Paris).
    let program_id = app
        .programme(&w.funder, &w.distributor_id, "Pass numérique 5 jours")
        .terms(json!({"validity_days": 5, "cheque_value_cents": 1000}))
        .funded(10_000)
        .quota(10)
        .create()
        .await;
    let (status, pass) = app
        .post(
            "/api/v1/passes",
            &w.distributor,
            json!({"program_id": program_id, "cheques": 5, "beneficiary_ref": "B-9"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{pass}");
    assert_eq!(pass["expires_on"], "2026-03-07");
    let codes = codes_of(&pass);
    let device = register(&app, &w.site, "Tablette du bus").await;

    // Monday 9 March: the daily job has expired all five; the console syncs only now the
    // session of Saturday 15:00, and one of Sunday.
    app.clock.set("2026-03-09T10:00:00Z".parse().unwrap());
    passnum::cli::jobs::expire(&app.state)
        .await
        .expect("expiry job");
    let (_, expired_at) = cheque_state(&app, &codes[2]).await;
    assert!(expired_at.is_some());
    assert_eq!(
        figures_of(&app, &w, &program_id).await["expired_cents"],
        5000
    );

    let answers = sync(
        &app,
        &w.site,
        vec![
            record(
                &device,
                1,
                &[&codes[0], &codes[1]],
                "2026-03-07T15:00:00+01:00",
            ),
            record(&device, 2, &[&codes[2]], "2026-03-08T10:00:00+01:00"),
        ],
    )
    .await;
    assert_eq!(answers[0]["outcome"], "accepted", "{}", answers[0]);
    assert_eq!(answers[1]["outcome"], "refused", "{}", answers[1]);
    assert_eq!(answers[1]["reason_code"], "expired", "{}", answers[1]);
    // The refused one is expired as it was, since the job's run.
    assert_eq!(
        cheque_state(&app, &codes[2]).await,
        ("expired".to_string(), expired_at.clone())
    );
    for code in &codes[..2] {
        assert_eq!(cheque_state(&app, code).await.0, "redeemed");
    }
    let r = figures_of(&app, &w, &program_id).await;
    assert_eq!(r["expired_cents"], 3000, "{r}");
    assert_eq!(r["redeemed_cents"], 2000, "{r}");
    assert_eq!(r["outstanding_cents"], 0, "{r}");
    assert_eq!(r["available_cents"], 3000, "{r}");
    let voucher_id: String = {
        let mut conn = app.raw().await;
        sqlx::query_scalar("SELECT id FROM vouchers WHERE code = $1")
            .bind(codes[0].replace('-', ""))
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    assert!(app
        .journal(&voucher_id)
        .await
        .contains(&"voucher.expiry_reversed".to_string()));
    // Sent again: the same answer, nothing moves.
    let before = counts(&app).await;
    let again = sync(
        &app,
        &w.site,
        vec![record(
            &device,
            1,
            &[&codes[0], &codes[1]],
            "2026-03-07T15:00:00+01:00",
        )],
    )
    .await;
    assert_eq!(again[0]["replayed"], true);
    assert_eq!(counts(&app).await, before);
    app.assert_ledger_verifies().await;

    // A session whose other cheque is refused takes none: the expired one stays expired.
    let mixed = sync(
        &app,
        &w.site,
        vec![record(
            &device,
            3,
            &[&codes[3], &codes[0]],
            "2026-03-07T16:00:00+01:00",
        )],
    )
    .await;
    assert_eq!(mixed[0]["outcome"], "conflict", "{}", mixed[0]);
    assert_eq!(cheque_state(&app, &codes[3]).await.0, "expired");
    assert_eq!(
        figures_of(&app, &w, &program_id).await["expired_cents"],
        3000
    );

    // Once the programme has given the value away (here, to its distributor's quota), an
    // expired cheque can no longer be paid: refused, nothing moves.
    let (status, body) = app
        .post(
            &format!("/api/v1/programs/{program_id}/allocations"),
            &w.funder,
            json!({"distributor_id": w.distributor_id, "cheques": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let before = counts(&app).await;
    let late = sync(
        &app,
        &w.site,
        vec![record(
            &device,
            4,
            &[&codes[4]],
            "2026-03-07T17:00:00+01:00",
        )],
    )
    .await;
    assert_eq!(late[0]["outcome"], "refused", "{}", late[0]);
    assert_eq!(late[0]["reason_code"], "expired", "{}", late[0]);
    assert!(
        late[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("attribué sa valeur ailleurs"),
        "{}",
        late[0]
    );
    assert_eq!(cheque_state(&app, &codes[4]).await.0, "expired");
    let after = counts(&app).await;
    assert_eq!((after.0, after.1), (before.0, before.1));
    app.assert_ledger_verifies().await;
}
