//! The web journeys over plain HTTP (a cookie-keeping client, no JavaScript), on both
//! databases. The same journeys run in Chromium with axe-core in `browser_journeys.rs`.

use crate::common;

use common::{cookie_client, csrf_of};

use common::{Backend, TestApp};
use reqwest::StatusCode;

on_both_databases!(
    beneficiary_checks_balance_finds_a_site_and_gives_feedback,
    distributor_issues_prints_and_cancels_a_carnet,
    site_redeems_typed_code_and_undoes,
    forms_without_csrf_token_are_refused,
    logins_are_throttled_and_accounts_locked,
    site_sees_its_payments_and_statements,
);

async fn get(client: &reqwest::Client, url: &str) -> (StatusCode, String) {
    let resp = client.get(url).send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

async fn post(client: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let resp = client.post(url).form(form).send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

/// Creates a person in the organisation and logs them in; returns the client and its token.
pub async fn log_in(app: &TestApp, org_id: &str, email: &str) -> (reqwest::Client, String) {
    app.user(
        org_id,
        email,
        "Camille Martin",
        passnum::users::Role::Agent,
        Some("une phrase de passe assez longue"),
    )
    .await;
    let client = cookie_client();
    let (_, html) = get(&client, &format!("{}/connexion", app.base)).await;
    let csrf = csrf_of(&html);
    let (status, html) = post(
        &client,
        &format!("{}/connexion", app.base),
        &[
            ("csrf", &csrf),
            ("email", email),
            ("password", "une phrase de passe assez longue"),
        ],
    )
    .await;
    let (status, html) = match common::web::second_factor(app, &client, email, &html).await {
        Some(page) => (page.status, page.html),
        None => (status, html),
    };
    assert_eq!(status, StatusCode::OK, "{html}");
    let csrf = csrf_of(&html);
    (client, csrf)
}

async fn beneficiary_checks_balance_finds_a_site_and_gives_feedback(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let pass = app.issue(&w, 5).await;
    let code = pass["pass_code"].as_str().unwrap();
    app.redeem(&w.site, pass["vouchers"][0]["code"].as_str().unwrap())
        .await;
    let client = cookie_client();
    let (status, home) = get(&client, &app.base).await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("01 00 00 00 00"), "helpline on every page");
    assert!(!home.contains("<script"), "no JavaScript for beneficiaries");
    let (status, page) = get(
        &client,
        &format!("{}/solde?code={}", app.base, code.to_lowercase()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Il vous reste 4 chèques."), "{page}");
    assert!(page.contains("2 mars 2027"), "{page}");
    let (_, page) = get(&client, &format!("{}/solde?code=ABCD-EFGH-JK1", app.base)).await;
    assert!(page.contains("id=\"erreurs\""), "{page}");
    let (_, page) = get(&client, &format!("{}/lieux?q=33000", app.base)).await;
    assert!(page.contains("Médiathèque Mériadeck"), "{page}");
    let (_, page) = get(&client, &format!("{}/lieux?q=hello", app.base)).await;
    assert!(page.contains("code postal"), "{page}");
    let (_, form) = get(&client, &format!("{}/avis/{code}", app.base)).await;
    let csrf = csrf_of(&form);
    let (status, page) = post(
        &client,
        &format!("{}/avis/{code}", app.base),
        &[("csrf", &csrf), ("rating", "5"), ("comment", "Très bien")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Merci"), "{page}");
}

async fn distributor_issues_prints_and_cancels_a_carnet(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 12).await;
    let (client, csrf) = log_in(&app, &w.distributor_id, "agent@ccas.example").await;
    let (_, home) = get(&client, &format!("{}/distributeur", app.base)).await;
    assert!(
        home.contains("<td class=\"num\"><strong>12</strong></td>"),
        "quota shown: {home}"
    );
    let (status, carnet) = post(
        &client,
        &format!("{}/distributeur/carnets", app.base),
        &[
            ("csrf", &csrf),
            ("program_id", &w.program_id),
            ("cheques", "10"),
            ("beneficiary_ref", "CCAS-77"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{carnet}");
    assert_eq!(carnet.matches("class=\"cheque\"").count(), 10, "{carnet}");
    assert_eq!(carnet.matches("<svg role=\"img\"").count(), 10);
    assert!(carnet.contains("Valable jusqu'au 2 mars 2027"));
    // Over quota: a clear message, nothing issued.
    let (_, page) = post(
        &client,
        &format!("{}/distributeur/carnets", app.base),
        &[
            ("csrf", &csrf),
            ("program_id", &w.program_id),
            ("cheques", "5"),
        ],
    )
    .await;
    assert!(
        page.contains("Votre quota de chèques pour ce programme ne suffit pas"),
        "{page}"
    );
    // Lost: cancel it, the quota comes back.
    let at = carnet.find("/distributeur/carnets/").unwrap();
    let id = &carnet[at + 22..at + 22 + 36];
    let (_, page) = post(
        &client,
        &format!("{}/distributeur/carnets/{id}/annuler", app.base),
        &[("csrf", &csrf), ("confirm", "1")],
    )
    .await;
    assert!(page.contains("Le carnet est annulé"), "{page}");
    assert!(page.contains("Émettre un nouveau carnet pour cette personne"));
    let (_, home) = get(
        &client,
        &format!("{}/distributeur?reissue=CCAS-77", app.base),
    )
    .await;
    assert!(
        home.contains("value=\"CCAS-77\""),
        "re-issue prefilled: {home}"
    );
    assert!(
        home.contains("<td class=\"num\"><strong>12</strong></td>"),
        "quota back: {home}"
    );
    // Another distributor's carnet is not there for this agent.
    let (status, _) = get(
        &client,
        &format!(
            "{}/distributeur/carnets/{}",
            app.base,
            app.issue(&app.world(10_000, 5).await, 5).await["id"]
                .as_str()
                .unwrap()
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn site_redeems_typed_code_and_undoes(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let pass = app.issue(&w, 5).await;
    let code = pass["vouchers"][0]["code"].as_str().unwrap();
    let (client, csrf) = log_in(&app, &w.site_id, "accueil@mediatheque.example").await;
    let url = format!("{}/lieu/encaisser", app.base);
    let (_, page) = post(
        &client,
        &url,
        &[
            ("csrf", &csrf),
            ("code", &code.to_lowercase()),
            ("service", "workshop"),
            ("minutes", "120"),
        ],
    )
    .await;
    assert!(page.contains("Chèque accepté : 10,00\u{a0}€"), "{page}");
    assert!(page.contains("Atelier collectif"));
    let (_, page) = post(
        &client,
        &url,
        &[
            ("csrf", &csrf),
            ("code", code),
            ("service", "workshop"),
            ("minutes", "120"),
        ],
    )
    .await;
    assert!(
        page.contains("Ce chèque a déjà été utilisé le 2 mars 2026."),
        "{page}"
    );
    let mut typo = code.to_string().into_bytes();
    typo[1] = if typo[1] == b'7' { b'8' } else { b'7' };
    let (_, page) = post(
        &client,
        &url,
        &[
            ("csrf", &csrf),
            ("code", std::str::from_utf8(&typo).unwrap()),
        ],
    )
    .await;
    assert!(page.contains("erreur de frappe"), "{page}");
    let at = page.find("/lieu/encaissements/").unwrap();
    let id = &page[at + 20..at + 20 + 36];
    let (_, page) = post(
        &client,
        &format!("{}/lieu/encaissements/{id}/annuler", app.base),
        &[("csrf", &csrf), ("confirm", "1")],
    )
    .await;
    assert!(page.contains("peut de nouveau être utilisé"), "{page}");
    assert_eq!(app.reconciliation(&w).await["redeemed_cents"], 0);
}

async fn forms_without_csrf_token_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let (client, _) = log_in(&app, &w.site_id, "accueil@lieu.example").await;
    let (status, page) = post(
        &client,
        &format!("{}/lieu/encaisser", app.base),
        &[("code", "ABCD")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("Ce formulaire a expiré"), "{page}");
    let (status, _) = post(
        &client,
        &format!("{}/lieu/encaisser", app.base),
        &[
            ("csrf", "forged-token-forged-token-forged-token"),
            ("code", "ABCD"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A distributor page is not a site's.
    let (status, _) = get(&client, &format!("{}/distributeur", app.base)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn logins_are_throttled_and_accounts_locked(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(0, 0).await;
    app.user(
        &w.site_id,
        "cible@lieu.example",
        "Cible",
        passnum::users::Role::Admin,
        Some("le bon mot de passe long"),
    )
    .await;
    let client = cookie_client();
    let (_, html) = get(&client, &format!("{}/connexion", app.base)).await;
    let csrf = csrf_of(&html);
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let (status, _) = post(
            &client,
            &format!("{}/connexion", app.base),
            &[
                ("csrf", &csrf),
                ("email", "cible@lieu.example"),
                ("password", "mauvais mot de passe"),
            ],
        )
        .await;
        statuses.push(status);
    }
    assert_eq!(statuses[0], StatusCode::OK);
    assert_eq!(
        *statuses.last().unwrap(),
        StatusCode::TOO_MANY_REQUESTS,
        "{statuses:?}"
    );
    // Even with the right password, the account stays locked for a while.
    let (status, _) = post(
        &client,
        &format!("{}/connexion", app.base),
        &[
            ("csrf", &csrf),
            ("email", "cible@lieu.example"),
            ("password", "le bon mot de passe long"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    app.advance(jiff::SignedDuration::from_mins(16));
    let (status, page) = post(
        &client,
        &format!("{}/connexion", app.base),
        &[
            ("csrf", &csrf),
            ("email", "cible@lieu.example"),
            ("password", "le bon mot de passe long"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Encaisser un chèque"), "{page}");
}

async fn site_sees_its_payments_and_statements(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    app.bank(&w.site_id, &w.site).await;
    let pass = app.issue(&w, 5).await;
    for v in pass["vouchers"].as_array().unwrap().iter().take(3) {
        app.redeem(&w.site, v["code"].as_str().unwrap()).await;
    }
    app.advance(jiff::SignedDuration::from_hours(49));
    let op = app.operator_token.clone();
    let (_, batch) = app
        .post(
            "/api/v1/settlements",
            &op,
            serde_json::json!({"until": "2026-12-31"}),
        )
        .await;
    let id = batch["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/settlements/{id}/approve"),
        &op,
        serde_json::json!({}),
    )
    .await;
    app.sepa(id, &op).await;
    app.post(
        &format!("/api/v1/settlements/{id}/paid"),
        &op,
        serde_json::json!({}),
    )
    .await;
    // One more, not settled yet.
    app.redeem(&w.site, pass["vouchers"][3]["code"].as_str().unwrap())
        .await;
    let (client, _) = log_in(&app, &w.site_id, "compta@lieu.example").await;
    let (_, page) = get(&client, &format!("{}/lieu", app.base)).await;
    assert!(
        page.contains("Déjà payé à votre structure : <strong>30,00\u{a0}€</strong>"),
        "{page}"
    );
    assert_eq!(
        page.matches("<td>Réglé ou en cours de règlement</td>")
            .count(),
        3,
        "{page}"
    );
    assert_eq!(page.matches("<td>Encaissé</td>").count(), 1, "{page}");
    assert!(page.contains(&format!("/lieu/releves/{id}.pdf")), "{page}");
    let resp = client
        .get(format!("{}/lieu/releves/{id}.pdf", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = common::pdf::pdf_texts(&resp.bytes().await.unwrap()).join("\n");
    assert!(
        text.contains(pass["vouchers"][0]["code"].as_str().unwrap()),
        "{text}"
    );
    let (status, csv) = get(&client, &format!("{}/lieu/releves/{id}.csv", app.base)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(csv.ends_with("Total;;;;;30,00\n"), "{csv}");
    // Another site's statement is not there for this site.
    let (other_id, _) = app.qualified_site("Autre").await;
    let (status, _) = get(
        &client,
        &format!("{}/lieu/releves/{other_id}.pdf", app.base),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
