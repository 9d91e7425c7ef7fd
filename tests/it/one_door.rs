//! One door for every rule: each use case run through the JSON API and through the pages
//! leaves the same journal entry and sends the same e-mail; a page form sent twice (a double
//! click, the back button) does the work once; a result page reloaded or reopened changes
//! nothing. On both databases.

use crate::common;

use common::web::{get, post, signed_in};
use common::{csrf_of, Backend, TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::json;

on_both_databases!(
    a_double_click_on_issue_makes_one_carnet,
    a_redemption_receipt_can_be_reloaded_and_reopened,
    a_form_sent_twice_redeems_once,
    undo_cancel_fund_and_allocate_sent_twice_do_it_once,
    suspending_a_site_is_the_same_from_the_api_and_the_page,
    issuing_a_token_is_the_same_from_the_api_and_the_page,
    redeeming_and_undoing_are_the_same_from_the_api_and_the_page,
);

async fn a_double_click_on_issue_makes_one_carnet(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let (client, csrf) = signed_in(&app, &w.distributor_id, "agent@ccas.example").await;
    let home = get(&client, &format!("{}/distributeur", app.base)).await;
    let once = home.once();
    let form = [
        ("csrf", csrf.as_str()),
        ("once", once.as_str()),
        ("program_id", w.program_id.as_str()),
        ("cheques", "5"),
        ("beneficiary_ref", "CCAS-1"),
    ];
    let url = format!("{}/distributeur/carnets", app.base);
    // Both clicks leave before either is answered.
    let (first, second) = tokio::join!(post(&client, &url, &form), post(&client, &url, &form));
    assert_eq!(first.status, StatusCode::OK, "{}", first.html);
    assert_eq!(second.status, StatusCode::OK, "{}", second.html);
    assert_eq!(first.url, second.url, "both show the same carnet");
    assert!(
        first.url.contains("/distributeur/carnets/"),
        "{}",
        first.url
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM passes").await, 1);
    // The quota was used once: 5 of 10 cheques left.
    let home = get(&client, &format!("{}/distributeur", app.base)).await;
    assert!(
        home.html
            .contains("<td class=\"num\"><strong>5</strong></td>"),
        "{}",
        home.html
    );
    // Reloading the carnet's page shows it again, and issues nothing.
    let again = get(&client, &first.url).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(app.count("SELECT COUNT(*) FROM passes").await, 1);
    app.assert_ledger_verifies().await;
}

async fn a_redemption_receipt_can_be_reloaded_and_reopened(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let pass = app.issue(&w, 5).await;
    let code = pass["vouchers"][0]["code"].as_str().unwrap().to_string();
    app.user(
        &w.site_id,
        "agent@lieu.example",
        "Sam",
        passnum::users::Role::Agent,
        Some(PASSWORD),
    )
    .await;
    // A client that shows the 303s themselves.
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let login = get(&client, &format!("{}/connexion", app.base)).await;
    let resp = client
        .post(format!("{}/connexion", app.base))
        .form(&[
            ("csrf", csrf_of(&login.html).as_str()),
            ("email", "agent@lieu.example"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let home = get(&client, &format!("{}/lieu", app.base)).await;
    let resp = client
        .post(format!("{}/lieu/encaisser", app.base))
        .form(&[
            ("csrf", csrf_of(&home.html).as_str()),
            ("once", home.once().as_str()),
            ("code", code.as_str()),
            ("service", "individual_help"),
            ("minutes", "60"),
        ])
        .send()
        .await
        .expect("sent");
    // The form is answered by "see the receipt there", not by the receipt itself.
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let receipt_path = resp
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .expect("a location")
        .to_string();
    assert!(
        receipt_path.starts_with("/lieu/encaissements/"),
        "{receipt_path}"
    );
    // Reloading the receipt, or opening its address again later, shows the receipt.
    let receipt_url = format!("{}{receipt_path}", app.base);
    for _ in 0..2 {
        let page = get(&client, &receipt_url).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert!(page.html.contains(&code), "{}", page.html);
        assert!(!page.html.contains("déjà été utilisé"), "{}", page.html);
        assert!(!page.html.contains("Ne rendez pas le service"));
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM redemptions").await, 1);
    // Another site's agent cannot open it.
    let (other_site, _) = app.qualified_site("Espace numérique de Talence").await;
    let (other, _) = signed_in(&app, &other_site, "agent@talence.example").await;
    let page = get(&other, &receipt_url).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
}

async fn a_form_sent_twice_redeems_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let pass = app.issue(&w, 5).await;
    let code = pass["vouchers"][0]["code"].as_str().unwrap().to_string();
    let (client, csrf) = signed_in(&app, &w.site_id, "agent@lieu.example").await;
    let home = get(&client, &format!("{}/lieu", app.base)).await;
    let once = home.once();
    let form = [
        ("csrf", csrf.as_str()),
        ("once", once.as_str()),
        ("code", code.as_str()),
        ("service", "individual_help"),
        ("minutes", "60"),
    ];
    let url = format!("{}/lieu/encaisser", app.base);
    let (first, second) = tokio::join!(post(&client, &url, &form), post(&client, &url, &form));
    for page in [&first, &second] {
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert!(page.url.contains("/lieu/encaissements/"), "{}", page.url);
        assert!(!page.html.contains("déjà été utilisé"), "{}", page.html);
    }
    assert_eq!(first.url, second.url);
    // And once more later (the back button): the same receipt.
    let third = post(&client, &url, &form).await;
    assert_eq!(third.url, first.url);
    assert_eq!(app.count("SELECT COUNT(*) FROM redemptions").await, 1);
    app.assert_ledger_verifies().await;
}

async fn undo_cancel_fund_and_allocate_sent_twice_do_it_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    // The site undoes a redemption: twice the same form, one undo.
    let pass = app.issue(&w, 5).await;
    let (_, redeemed) = app
        .redeem(&w.site, pass["vouchers"][0]["code"].as_str().unwrap())
        .await;
    let redemption_id = redeemed["id"].as_str().unwrap().to_string();
    let (site, csrf) = signed_in(&app, &w.site_id, "agent@lieu.example").await;
    let home = get(&site, &format!("{}/lieu", app.base)).await;
    let once = home.once();
    let url = format!("{}/lieu/encaissements/{redemption_id}/annuler", app.base);
    let form = [
        ("csrf", csrf.as_str()),
        ("confirm", "1"),
        ("once", once.as_str()),
    ];
    let first = post(&site, &url, &form).await;
    let second = post(&site, &url, &form).await;
    for page in [&first, &second] {
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert!(page.html.contains("est annulé"), "{}", page.html);
    }
    let undos = app
        .journal(&redemption_id)
        .await
        .into_iter()
        .filter(|a| a == "redemption.undone")
        .count();
    assert_eq!(undos, 1);

    // The distributor cancels a carnet: twice the same form, one cancellation.
    let (distributor, csrf) = signed_in(&app, &w.distributor_id, "agent@ccas.example").await;
    let pass_id = pass["id"].as_str().unwrap();
    let carnet = get(
        &distributor,
        &format!("{}/distributeur/carnets/{pass_id}", app.base),
    )
    .await;
    let once = carnet.once();
    let url = format!("{}/distributeur/carnets/{pass_id}/annuler", app.base);
    let form = [
        ("csrf", csrf.as_str()),
        ("confirm", "1"),
        ("once", once.as_str()),
    ];
    for _ in 0..2 {
        let page = post(&distributor, &url, &form).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert!(page.url.ends_with("?fait=annule"), "{}", page.url);
    }
    let cancellations = app
        .journal(pass_id)
        .await
        .into_iter()
        .filter(|a| a == "pass.cancelled")
        .count();
    assert_eq!(cancellations, 1);

    // The funder records a funding and allocates a quota: each once, whatever the clicks.
    let (funder, csrf) = signed_in(&app, &w.funder_id, "suivi@gironde.example").await;
    let programme = format!("{}/financeur/programmes/{}", app.base, w.program_id);
    let page = get(&funder, &programme).await;
    let once = page.once();
    let fund = [
        ("csrf", csrf.as_str()),
        ("once", once.as_str()),
        ("amount", "100"),
        ("reference", "OP-2026-0002"),
    ];
    for _ in 0..2 {
        let page = post(&funder, &format!("{programme}/versements"), &fund).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM fundings").await, 2);
    let page = get(&funder, &programme).await;
    let once = page.once();
    let allocate = [
        ("csrf", csrf.as_str()),
        ("once", once.as_str()),
        ("distributor_id", w.distributor_id.as_str()),
        ("cheques", "3"),
    ];
    for _ in 0..2 {
        let page = post(&funder, &format!("{programme}/quotas"), &allocate).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM allocations").await, 2);
    app.assert_ledger_verifies().await;
}

async fn suspending_a_site_is_the_same_from_the_api_and_the_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (by_api, _) = app.qualified_site("Médiathèque Mériadeck").await;
    let (by_page, _) = app.qualified_site("Espace numérique de Talence").await;
    for (site, email) in [
        (&by_api, "agent@meriadeck.example"),
        (&by_page, "agent@talence.example"),
    ] {
        app.user(site, email, "Sam", passnum::users::Role::Agent, None)
            .await;
    }
    let reason = "Locaux fermés pour travaux jusqu'en juin.";
    // Without a reason, both refuse.
    let (status, body) = app
        .put(
            &format!("/api/v1/sites/{by_api}/qualification"),
            &app.operator_token,
            json!({"status": "suspended"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let operator_id = app.operator_org().await.id;
    let (op, csrf) = signed_in(&app, &operator_id, "claire@operateur.example").await;
    let url = format!(
        "{}/operateur/organisations/{by_page}/qualification",
        app.base
    );
    let page = post(
        &op,
        &url,
        &[("csrf", &csrf), ("status", "suspended"), ("reason", "")],
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    // With one, both record the same entries and tell the site's people.
    let (status, body) = app
        .put(
            &format!("/api/v1/sites/{by_api}/qualification"),
            &app.operator_token,
            json!({"status": "suspended", "reason": reason}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page = post(
        &op,
        &url,
        &[("csrf", &csrf), ("status", "suspended"), ("reason", reason)],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert_eq!(app.journal(&by_api).await, app.journal(&by_page).await);
    assert!(app
        .journal(&by_api)
        .await
        .contains(&"site.suspension_reason".to_string()));
    let mails = app.outbox_subjects().await;
    for email in ["agent@meriadeck.example", "agent@talence.example"] {
        let theirs: Vec<&String> = mails
            .iter()
            .filter(|(to, _)| to == email)
            .map(|(_, subject)| subject)
            .collect();
        assert_eq!(
            theirs,
            ["Pass numérique : votre lieu ne peut plus encaisser de chèques"],
            "{email}"
        );
    }
    // A qualification ending in the past is refused by both.
    let (status, _) = app
        .put(
            &format!("/api/v1/sites/{by_api}/qualification"),
            &app.operator_token,
            json!({"status": "qualified", "valid_until": "2020-01-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = post(
        &op,
        &url,
        &[
            ("csrf", &csrf),
            ("status", "qualified"),
            ("valid_until", "2020-01-01"),
        ],
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn issuing_a_token_is_the_same_from_the_api_and_the_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (by_api, _) = app.org("distributor", "CCAS de Bordeaux").await;
    let (by_page, _) = app.org("distributor", "CCAS de Talence").await;
    let (status, body) = app
        .post(
            &format!("/api/v1/organizations/{by_api}/tokens"),
            &app.operator_token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let operator_id = app.operator_org().await.id;
    let (op, csrf) = signed_in(&app, &operator_id, "claire@operateur.example").await;
    let page = post(
        &op,
        &format!("{}/operateur/organisations/{by_page}/jetons", app.base),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("pn_"), "the token is shown once");
    assert_eq!(app.journal(&by_api).await, app.journal(&by_page).await);
    assert!(app
        .journal(&by_api)
        .await
        .contains(&"api_token.created".to_string()));
}

async fn redeeming_and_undoing_are_the_same_from_the_api_and_the_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let pass = app.issue(&w, 5).await;
    let (_, by_api) = app
        .redeem(&w.site, pass["vouchers"][0]["code"].as_str().unwrap())
        .await;
    let by_api_id = by_api["id"].as_str().unwrap().to_string();
    let (client, csrf) = signed_in(&app, &w.site_id, "agent@lieu.example").await;
    let home = get(&client, &format!("{}/lieu", app.base)).await;
    let page = post(
        &client,
        &format!("{}/lieu/encaisser", app.base),
        &[
            ("csrf", csrf.as_str()),
            ("once", home.once().as_str()),
            ("code", pass["vouchers"][1]["code"].as_str().unwrap()),
            ("service", "individual_help"),
            ("minutes", "60"),
        ],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let by_page_id = page
        .url
        .rsplit('/')
        .next()
        .expect("the receipt's id")
        .to_string();
    assert_eq!(
        app.journal(&by_api_id).await,
        ["redemption.created".to_string()]
    );
    assert_eq!(
        app.journal(&by_api_id).await,
        app.journal(&by_page_id).await
    );
    // Undone, by the API and by the page.
    let (status, body) = app
        .delete(&format!("/api/v1/redemptions/{by_api_id}"), &w.site)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page = post(
        &client,
        &format!("{}/lieu/encaissements/{by_page_id}/annuler", app.base),
        &[("csrf", csrf.as_str()), ("confirm", "1")],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert_eq!(
        app.journal(&by_api_id).await,
        app.journal(&by_page_id).await
    );
    // The same ledger: both cheques back in circulation, nothing owed to the site.
    let balance = |i: usize| {
        let code = pass["vouchers"][i]["code"].as_str().unwrap().to_string();
        let app = &app;
        async move {
            sqlx::query_scalar::<_, String>("SELECT status FROM vouchers WHERE code = $1")
                .bind(code.replace('-', ""))
                .fetch_one(app.state.db.reads())
                .await
                .expect("status")
        }
    };
    assert_eq!(balance(0).await, balance(1).await);
    app.assert_ledger_verifies().await;
}
