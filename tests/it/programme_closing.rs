//! Closing a programme with notice (issue 23, point 7): a last day at least 30 days ahead (the
//! operator may force a shorter notice), no issuance in the last 15 days, e-mails at 30, 15 and
//! 7 days, cheques accepted through the last day and refused after it, the close and its credit
//! note the day after, from the daily job; on both databases.

use crate::common::web::{get, post, signed_in};
use crate::common::{error_code, Backend, TestApp, World};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_databases!(
    a_short_notice_is_refused_to_the_funder_and_forced_by_the_operator,
    a_planned_end_can_be_moved_and_cancelled,
    issuance_and_activation_stop_fifteen_days_before_the_end,
    people_are_told_once_at_30_15_and_7_days,
    a_late_plan_skips_the_notices_already_past,
    cheques_are_accepted_through_the_last_day_then_the_job_closes,
    funder_plans_and_cancels_the_end_on_the_page,
);

/// The test clock starts on Monday 2 March 2026, 12:00 in Paris.
const TODAY: &str = "2026-03-02";

fn at(app: &TestApp, when: &str) {
    app.clock.set(when.parse().expect("timestamp"));
}

async fn close(app: &TestApp, w: &World, token: &str, body: Value) -> (StatusCode, Value) {
    app.post(
        &format!("/api/v1/programs/{}/close", w.program_id),
        token,
        body,
    )
    .await
}

async fn program(app: &TestApp, w: &World) -> Value {
    let (status, body) = app
        .get(
            &format!("/api/v1/programs/{}", w.program_id),
            Some(&w.funder),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn run_job(app: &TestApp) {
    passnum::cli::jobs::expire(&app.state)
        .await
        .expect("the daily job runs");
}

/// `(to, subject, body)` of every e-mail in the outbox, oldest first.
async fn outbox(app: &TestApp) -> Vec<(String, String, String)> {
    sqlx::query_as("SELECT to_address, subject, text_body FROM outbox ORDER BY created_at, id")
        .fetch_all(app.state.db.reads())
        .await
        .expect("outbox")
}

async fn a_short_notice_is_refused_to_the_funder_and_forced_by_the_operator(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    assert_eq!(app.state.clock.today().to_string(), TODAY);
    let w = app.world(100_000, 30).await;
    let pass = app.issue(&w, 10).await;
    let ten_days = json!({"closes_on": "2026-03-12"});
    let (status, body) = close(&app, &w, &w.funder, ten_days.clone()).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "notice_too_short"),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("1er avril 2026"), "{message}");
    let (status, body) = close(
        &app,
        &w,
        &w.funder,
        json!({"closes_on": "2026-03-12", "force": true}),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "force_reserved"),
        "{body}"
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Seul l'opérateur"));
    // The operator too needs to say it forces.
    let (status, body) = close(&app, &w, &app.operator_token, ten_days).await;
    assert_eq!(error_code(&body), "notice_too_short", "{status} {body}");
    let (status, body) = close(
        &app,
        &w,
        &app.operator_token,
        json!({"closes_on": "2026-03-12", "force": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "open");
    assert_eq!(body["closes_on"], "2026-03-12");
    assert_eq!(body["issuance_until"], "2026-02-24");
    assert!(body["closure"].is_null(), "{body}");
    assert_eq!(program(&app, &w).await["closes_on"], "2026-03-12");
    // Within the last 15 days already: no more carnets.
    let (status, body) = app
        .post(
            "/api/v1/passes",
            &w.distributor,
            json!({"program_id": w.program_id, "cheques": 5}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::GONE, "issuance_ended"),
        "{body}"
    );
    // Forced for today, it closes at once, as a close always did.
    let (status, body) = close(
        &app,
        &w,
        &app.operator_token,
        json!({"closes_on": TODAY, "force": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "closed");
    assert_eq!(body["closes_on"], TODAY);
    assert_eq!(body["closure"]["expired_cheques"], 10);
    assert_eq!(body["closure"]["credited_cents"], 100_000);
    let (status, body) = app
        .redeem(&w.site, pass["vouchers"][0]["code"].as_str().unwrap())
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::GONE, "programme_closed"),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("a pris fin le 2 mars 2026"),
        "{body}"
    );
    let journal = app.journal(&w.program_id).await;
    assert!(journal.contains(&"program.close_scheduled".to_string()));
    assert!(journal.contains(&"program.closed".to_string()));
    let (status, body) = close(&app, &w, &w.funder, json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "already_closed")
    );
    app.assert_ledger_verifies().await;
}

async fn a_planned_end_can_be_moved_and_cancelled(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 30).await;
    // No body, or an empty one: in 30 days.
    let (status, body) = app
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/programs/{}/close", w.program_id),
            Some(&w.funder),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["closes_on"], "2026-04-01");
    assert_eq!(body["issuance_until"], "2026-03-16");
    for (date, expected) in [
        ("2026-05-01", StatusCode::OK),                   // later
        ("2026-04-15", StatusCode::OK),                   // earlier, still 30 days ahead
        ("2026-03-20", StatusCode::UNPROCESSABLE_ENTITY), // earlier, too close
        ("31/03/2026", StatusCode::UNPROCESSABLE_ENTITY), // not a date
    ] {
        let (status, body) = close(&app, &w, &w.funder, json!({"closes_on": date})).await;
        assert_eq!(status, expected, "{date}: {body}");
    }
    assert_eq!(program(&app, &w).await["closes_on"], "2026-04-15");
    // Twenty days on, the end may still be pushed back, even less than 30 days ahead.
    at(&app, "2026-03-22T09:00:00Z");
    let (status, body) = close(&app, &w, &w.funder, json!({"closes_on": "2026-04-20"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = close(&app, &w, &w.funder, json!({"closes_on": "2026-04-10"})).await;
    assert_eq!(error_code(&body), "notice_too_short", "{status} {body}");
    // The same day again (a form sent twice) changes nothing.
    let (status, body) = close(&app, &w, &w.funder, json!({"closes_on": "2026-04-20"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let path = format!("/api/v1/programs/{}/close", w.program_id);
    let (status, body) = app.delete(&path, &w.distributor).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app.delete(&path, &w.funder).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["closes_on"].is_null(), "{body}");
    let (status, body) = app.delete(&path, &w.funder).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "no_close_planned")
    );
    // Nothing happens on the day once planned then cancelled.
    at(&app, "2026-04-22T09:00:00Z");
    run_job(&app).await;
    assert_eq!(program(&app, &w).await["status"], "open");
    let journal = app.journal(&w.program_id).await;
    let scheduled = journal
        .iter()
        .filter(|a| *a == "program.close_scheduled")
        .count();
    assert_eq!(scheduled, 4, "{journal:?}");
    assert!(journal.contains(&"program.close_cancelled".to_string()));
    assert!(!journal.contains(&"program.closed".to_string()));
}

async fn issuance_and_activation_stop_fifteen_days_before_the_end(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 40).await;
    let (status, stock) = app
        .post(
            "/api/v1/passes",
            &w.distributor,
            json!({"program_id": w.program_id, "cheques": 5, "active": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{stock}");
    let (status, body) = close(&app, &w, &w.funder, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (client, _) = signed_in(&app, &w.distributor_id, "agent@ccas.example").await;
    let page = get(&client, &format!("{}/distributeur", app.base)).await;
    assert!(
        page.html.contains(
            "Émission possible jusqu&#39;au 16 mars 2026, fin du programme le 1er avril 2026"
        ),
        "{}",
        page.html
    );

    // J-16: still possible.
    at(&app, "2026-03-16T20:00:00Z");
    app.issue(&w, 5).await;
    // J-15: over, for one carnet, a batch, and the activation of a carnet in stock.
    at(&app, "2026-03-17T08:00:00Z");
    let (status, body) = app
        .post(
            "/api/v1/passes",
            &w.distributor,
            json!({"program_id": w.program_id, "cheques": 5}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::GONE, "issuance_ended"),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("prend fin le 1er avril 2026"), "{message}");
    let (status, body) = app
        .post(
            "/api/v1/passes/batch",
            &w.distributor,
            json!({"program_id": w.program_id, "carnets": [{"cheques": 5}]}),
        )
        .await;
    assert_eq!(error_code(&body), "issuance_ended", "{status} {body}");
    let (status, body) = app
        .post(
            &format!("/api/v1/passes/{}/activate", stock["id"].as_str().unwrap()),
            &w.distributor,
            json!({"beneficiary_ref": "B-002"}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::GONE, "issuance_ended"),
        "{body}"
    );
    let (client, _) = signed_in(&app, &w.distributor_id, "chef@ccas.example").await;
    let page = get(&client, &format!("{}/distributeur", app.base)).await;
    assert!(
        page.html
            .contains("Émission terminée : le programme prend fin le 1er avril 2026"),
        "{}",
        page.html
    );
    app.assert_ledger_verifies().await;
}

async fn people_are_told_once_at_30_15_and_7_days(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(0, 0).await;
    // A programme of the Gironde: the site in Bordeaux is told, the one in Lille is not.
    let gironde = app
        .programme(&w.funder, &w.distributor_id, "Pass numérique Gironde")
        .terms(json!({"territory": ["33"]}))
        .funded(100_000)
        .quota(30)
        .create()
        .await;
    let w = World {
        program_id: gironde,
        ..w
    };
    let (lille, _) = app
        .qualified_site_at("Centre social de Lille", "59000")
        .await;
    app.person(&lille, "accueil@lille.example").await;
    app.person(&w.distributor_id, "agent@ccas.example").await;
    app.person(&w.site_id, "mediateur@meriadeck.example").await;
    let (status, told) = app
        .post(
            "/api/v1/passes",
            &w.distributor,
            json!({"program_id": w.program_id, "cheques": 5, "email": "lea@example.org"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{told}");
    // A carnet used up and one without an e-mail: nobody to tell.
    let (_, used) = app
        .post(
            "/api/v1/passes",
            &w.distributor,
            json!({"program_id": w.program_id, "cheques": 5, "email": "sam@example.org"}),
        )
        .await;
    for v in used["vouchers"].as_array().unwrap() {
        let (status, body) = app.redeem(&w.site, v["code"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    app.issue(&w, 5).await;
    let (status, body) = close(&app, &w, &w.funder, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let notices = || async {
        outbox(&app)
            .await
            .into_iter()
            .filter(|(_, subject, _)| subject.contains("1er avril 2026"))
            .collect::<Vec<_>>()
    };
    let recipients = [
        "agent@ccas.example",
        "mediateur@meriadeck.example",
        "lea@example.org",
    ];
    for (when, expected) in [
        ("2026-03-02T13:00:00Z", 3), // J-30
        ("2026-03-10T08:00:00Z", 3),
        ("2026-03-17T08:00:00Z", 6), // J-15
        ("2026-03-20T08:00:00Z", 6),
        ("2026-03-25T08:00:00Z", 9), // J-7
        ("2026-03-31T08:00:00Z", 9),
    ] {
        at(&app, when);
        run_job(&app).await;
        run_job(&app).await;
        let sent = notices().await;
        assert_eq!(sent.len(), expected, "{when}: {sent:#?}");
        for to in recipients {
            let n = sent.iter().filter(|(address, _, _)| address == to).count();
            assert_eq!(n, expected / 3, "{when}: {to}");
        }
    }
    let sent = notices().await;
    assert!(!sent
        .iter()
        .any(|(to, _, _)| to == "accueil@lille.example" || to == "sam@example.org"));
    let (_, subject, body) = sent
        .iter()
        .find(|(to, _, _)| to == "lea@example.org")
        .unwrap();
    assert!(
        subject.contains("au plus tard le 1er avril 2026"),
        "{subject}"
    );
    let code = told["pass_code"].as_str().unwrap();
    for part in [
        code,
        "Il vous reste 5 chèques",
        "/lieux",
        "Besoin d'aide ? Appelez le",
    ] {
        assert!(body.contains(part), "{part}: {body}");
    }
    let (_, _, to_distributor) = sent
        .iter()
        .find(|(to, _, _)| to == "agent@ccas.example")
        .unwrap();
    assert!(
        to_distributor.contains("jusqu'au 16 mars 2026 inclus"),
        "{to_distributor}"
    );
    let (_, _, to_site) = sent
        .iter()
        .rfind(|(to, _, _)| to == "mediateur@meriadeck.example")
        .unwrap();
    assert!(to_site.contains("dans 7 jours"), "{to_site}");
    assert!(to_site.contains("À partir du 2 avril 2026"), "{to_site}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM programme_close_notices")
            .await,
        3
    );
    let journal = app.journal(&w.program_id).await;
    let told = journal
        .iter()
        .filter(|a| *a == "program.close_notice")
        .count();
    assert_eq!(told, 3, "{journal:?}");
}

async fn a_late_plan_skips_the_notices_already_past(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 30).await;
    app.person(&w.distributor_id, "agent@ccas.example").await;
    // Ten days ahead, forced: the 15-day notice now, the 7-day one later, never a 30-day one.
    let (status, body) = close(
        &app,
        &w,
        &app.operator_token,
        json!({"closes_on": "2026-03-12", "force": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    run_job(&app).await;
    at(&app, "2026-03-05T08:00:00Z");
    run_job(&app).await;
    run_job(&app).await;
    let days: Vec<i64> =
        sqlx::query_scalar("SELECT days_before FROM programme_close_notices ORDER BY sent_at")
            .fetch_all(app.state.db.reads())
            .await
            .unwrap();
    assert_eq!(days, [15, 7]);
    let sent: Vec<String> = outbox(&app)
        .await
        .into_iter()
        .filter(|(to, _, _)| to == "agent@ccas.example")
        .map(|(_, _, body)| body)
        .collect();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(sent[0].contains("dans 10 jours"), "{}", sent[0]);
    assert!(sent[1].contains("dans 7 jours"), "{}", sent[1]);
}

async fn cheques_are_accepted_through_the_last_day_then_the_job_closes(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 30).await;
    app.bank(&w.site_id, &w.site).await;
    let pass = app.issue(&w, 10).await;
    let code = |i: usize| pass["vouchers"][i]["code"].as_str().unwrap().to_string();
    let (status, _) = app.redeem(&w.site, &code(0)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = close(&app, &w, &w.funder, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pass_code = pass["pass_code"].as_str().unwrap();
    let balance_page = || async {
        reqwest::get(format!("{}/solde?code={pass_code}", app.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let page = balance_page().await;
    assert!(
        page.contains(
            "Ce programme prend fin le 1er avril 2026 : utilisez vos chèques avant cette date."
        ),
        "{page}"
    );
    let (_, balance) = app
        .get(&format!("/api/v1/public/passes/{pass_code}"), None)
        .await;
    assert_eq!(balance["programme_ends_on"], "2026-04-01", "{balance}");
    assert!(balance["programme_ended_on"].is_null());

    // The last day, late in the evening in Paris: still accepted, and still open.
    at(&app, "2026-04-01T21:30:00Z");
    run_job(&app).await;
    let (status, body) = app.redeem(&w.site, &code(1)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(program(&app, &w).await["status"], "open");

    // The day after, even before the job has run: refused, and said why.
    at(&app, "2026-04-02T06:00:00Z");
    let (status, body) = app.redeem(&w.site, &code(2)).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::GONE, "programme_closed"),
        "{body}"
    );
    let refusal = "Le programme de ce chèque a pris fin le 1er avril 2026";
    assert!(
        body["error"]["message"].as_str().unwrap().contains(refusal),
        "{body}"
    );
    let (status, _, csv) = app
        .get_text(
            &format!("/api/v1/programs/{}/credit-note/avoir.csv", w.program_id),
            &w.funder,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{csv}");

    run_job(&app).await;
    let closed = program(&app, &w).await;
    assert_eq!(closed["status"], "closed", "{closed}");
    assert_eq!(closed["closes_on"], "2026-04-01");
    assert!(app
        .journal(&w.program_id)
        .await
        .contains(&"program.closed".to_string()));
    let (status, body) = app.redeem(&w.site, &code(3)).await;
    assert_eq!(error_code(&body), "programme_closed", "{status} {body}");
    assert!(body["error"]["message"].as_str().unwrap().contains(refusal));
    let page = balance_page().await;
    assert!(
        page.contains("Le programme de ce carnet a pris fin le 1er avril 2026."),
        "{page}"
    );
    let (_, balance) = app
        .get(&format!("/api/v1/public/passes/{pass_code}"), None)
        .await;
    assert_eq!(balance["programme_ended_on"], "2026-04-01", "{balance}");
    assert_eq!(balance["remaining_cheques"], 0);
    let rec = app.reconciliation(&w).await;
    assert_eq!(rec["expired_cents"], 8_000, "{rec}");
    assert_eq!(rec["credited_cents"], 98_000, "{rec}");
    assert_eq!(rec["redeemed_unsettled_cents"], 2_000, "{rec}");
    let (status, _, csv) = app
        .get_text(
            &format!("/api/v1/programs/{}/credit-note/avoir.csv", w.program_id),
            &w.funder,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert!(csv.contains("Avoir rendu au financeur;980,00"), "{csv}");

    // Run again the same day: nothing more is done nor sent.
    let transactions = "SELECT COUNT(*) FROM ledger_transactions";
    let (before, mails) = (app.count(transactions).await, outbox(&app).await.len());
    run_job(&app).await;
    assert_eq!(app.count(transactions).await, before);
    assert_eq!(outbox(&app).await.len(), mails);
    // The site is still paid for what it took before the end.
    at(&app, "2026-04-05T08:00:00Z");
    let (status, batch) = app
        .post(
            "/api/v1/settlements",
            &app.operator_token,
            json!({"until": "2026-04-30"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    assert_eq!(batch["total_cents"], 2_000);
    app.assert_ledger_verifies().await;
}

/// The funder plans the end on its programme's page, sees it, and cancels it.
async fn funder_plans_and_cancels_the_end_on_the_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 30).await;
    let (client, csrf) = signed_in(&app, &w.funder_id, "claire@gironde.example").await;
    let url = format!("{}/financeur/programmes/{}", app.base, w.program_id);
    let page = get(&client, &url).await;
    assert!(
        page.html.contains("Le 1er avril 2026 au plus tôt"),
        "{}",
        page.html
    );
    assert!(page.html.contains("min=\"2026-04-01\""), "{}", page.html);
    let once = page.once();
    let form = [
        ("csrf", csrf.as_str()),
        ("once", once.as_str()),
        ("closes_on", "2026-03-20"),
        ("confirm", "1"),
    ];
    let page = post(&client, &format!("{url}/cloture"), &form).await;
    assert!(
        page.html.contains("choisissez le 1er avril 2026"),
        "{}",
        page.html
    );
    let once = get(&client, &url).await.once();
    let form = [
        ("csrf", csrf.as_str()),
        ("once", once.as_str()),
        ("closes_on", "2026-04-30"),
        ("confirm", "1"),
    ];
    let page = post(&client, &format!("{url}/cloture"), &form).await;
    assert!(
        page.html.contains("La fin du programme est prévue"),
        "{}",
        page.html
    );
    assert!(
        page.html
            .contains("Programme ouvert jusqu'au <strong>30 avril 2026</strong> inclus"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("jusqu'au 14 avril 2026 inclus"),
        "{}",
        page.html
    );
    assert_eq!(program(&app, &w).await["closes_on"], "2026-04-30");
    let home = get(&client, &format!("{}/financeur", app.base)).await;
    assert!(
        home.html.contains("(fin le 30 avril 2026)"),
        "{}",
        home.html
    );
    let once = page.once();
    let page = post(
        &client,
        &format!("{url}/cloture/annuler"),
        &[("csrf", csrf.as_str()), ("once", once.as_str())],
    )
    .await;
    assert!(
        page.html.contains("La fin prévue est annulée"),
        "{}",
        page.html
    );
    assert!(program(&app, &w).await["closes_on"].is_null());
}
