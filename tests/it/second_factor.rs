//! The second factor (TOTP): operators and funders set it up before anything else, a code serves
//! once, recovery codes serve once, codes are rate-limited, the operator removes a lost one.

use crate::common;

use common::web::{get, post, second_factor, signed_in, Page};
use common::{cookie_client, Backend, TestApp, PASSWORD};
use jiff::SignedDuration;
use reqwest::StatusCode;

on_both_databases!(
    operator_reaches_no_page_before_a_valid_code,
    a_lost_phone_is_a_recovery_code_or_the_operator,
    codes_are_rate_limited,
    anyone_may_set_it_up,
);

const EMAIL: &str = "claire@operateur.example";

async fn password(app: &TestApp, client: &reqwest::Client, email: &str) -> Page {
    let login = get(client, &format!("{}/connexion", app.base)).await;
    post(
        client,
        &format!("{}/connexion", app.base),
        &[
            ("csrf", &login.csrf()),
            ("email", email),
            ("password", PASSWORD),
        ],
    )
    .await
}

async fn send_code(app: &TestApp, client: &reqwest::Client, page: &Page, code: &str) -> Page {
    post(
        client,
        &format!("{}/connexion/code", app.base),
        &[("csrf", &page.csrf()), ("code", code)],
    )
    .await
}

async fn log_out(app: &TestApp, client: &reqwest::Client, page: &Page) {
    post(
        client,
        &format!("{}/deconnexion", app.base),
        &[("csrf", &page.csrf())],
    )
    .await;
}

async fn user_id(app: &TestApp, email: &str) -> String {
    let mut conn = app.state.db.read().await.expect("read");
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&mut *conn)
        .await
        .expect("user")
}

async fn operator_reaches_no_page_before_a_valid_code(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let operator_id = app.operator_org().await.id;
    let role = passnum::users::Role::Admin;
    app.user(&operator_id, EMAIL, "Claire", role, Some(PASSWORD))
        .await;
    let client = cookie_client();
    let settlements = format!("{}/operateur/reglements", app.base);

    // First login: the password opens nothing but the set-up of the second factor.
    let enrol = password(&app, &client, EMAIL).await;
    assert!(
        enrol.url.ends_with("/compte/double-authentification"),
        "{}",
        enrol.url
    );
    assert!(enrol.html.contains("<svg role=\"img\""), "a QR code");
    for path in [
        "/operateur/reglements",
        "/operateur",
        "/espace",
        "/connexion",
    ] {
        let page = get(&client, &format!("{}{path}", app.base)).await;
        assert!(
            page.url.ends_with("/compte/double-authentification"),
            "{path}: {}",
            page.url
        );
    }
    let wrong = post(
        &client,
        &format!("{}/compte/double-authentification", app.base),
        &[("csrf", &enrol.csrf()), ("code", "000000")],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong.html.contains("Ce code ne convient pas"),
        "{}",
        wrong.html
    );
    let home = second_factor(&app, &client, EMAIL, &enrol.html)
        .await
        .expect("enrolled");
    assert!(home.url.ends_with("/operateur"), "{}", home.url);
    assert_eq!(get(&client, &settlements).await.status, StatusCode::OK);
    log_out(&app, &client, &home).await;

    // Next login: the code, and nothing before it.
    let ask = password(&app, &client, EMAIL).await;
    assert!(ask.url.ends_with("/connexion/code"), "{}", ask.url);
    let refused = get(&client, &settlements).await;
    assert!(refused.url.ends_with("/connexion/code"), "{}", refused.url);
    // The code that confirmed the set-up was used in this window: not twice.
    let secret = app.authenticators.lock().unwrap()[EMAIL].secret.clone();
    let used = passnum::users::totp::code_at(&secret, app.now()).unwrap();
    let replay = send_code(&app, &client, &ask, &used).await;
    assert_eq!(
        replay.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        replay.html
    );
    assert!(get(&client, &settlements)
        .await
        .url
        .ends_with("/connexion/code"));
    // Thirty seconds later, the next code.
    app.advance(SignedDuration::from_secs(30));
    let next = passnum::users::totp::code_at(&secret, app.now()).unwrap();
    let home = send_code(&app, &client, &ask, &next).await;
    assert!(home.url.ends_with("/operateur"), "{}", home.url);
    assert_eq!(get(&client, &settlements).await.status, StatusCode::OK);
    // The same code from another browser, within its window: refused.
    let other = cookie_client();
    let ask = password(&app, &other, EMAIL).await;
    let replay = send_code(&app, &other, &ask, &next).await;
    assert_eq!(replay.status, StatusCode::UNPROCESSABLE_ENTITY);
    // A half-done login does not wait forever.
    app.advance(SignedDuration::from_mins(11));
    let gone = get(&other, &format!("{}/connexion/code", app.base)).await;
    assert!(gone.url.ends_with("/connexion"), "{}", gone.url);

    let journal = app.count(
        "SELECT COUNT(*) FROM audit_log WHERE action IN \
         ('second_factor.enrolled', 'login.second_factor', 'login.second_factor_failed')",
    );
    assert_eq!(journal.await, 1 + 1 + 2);
}

async fn a_lost_phone_is_a_recovery_code_or_the_operator(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (funder_id, _) = app.org("funder", "Département de la Gironde").await;
    let funder_email = "paul@gironde.example";
    let (funder, _) = signed_in(&app, &funder_id, funder_email).await;
    let codes = app.authenticators.lock().unwrap()[funder_email]
        .recovery_codes
        .clone();
    let home = get(&funder, &format!("{}/financeur", app.base)).await;
    log_out(&app, &funder, &home).await;

    // A recovery code, typed loosely, works once.
    let ask = password(&app, &funder, funder_email).await;
    let loose = codes[0].to_lowercase().replace('-', " ");
    let home = send_code(&app, &funder, &ask, &loose).await;
    assert!(home.url.ends_with("/financeur"), "{}", home.url);
    let status = get(
        &funder,
        &format!("{}/compte/double-authentification", app.base),
    )
    .await;
    assert!(
        status.html.contains("<strong>9</strong>"),
        "{}",
        status.html
    );
    log_out(&app, &funder, &home).await;
    let ask = password(&app, &funder, funder_email).await;
    let again = send_code(&app, &funder, &ask, &codes[0]).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    let home = send_code(&app, &funder, &ask, &codes[1]).await;
    assert!(home.url.ends_with("/financeur"), "{}", home.url);

    // No phone, no code: the operator removes the second factor; the funder's sessions end.
    let operator_id = app.operator_org().await.id;
    let (operator, csrf) = signed_in(&app, &operator_id, EMAIL).await;
    let funder_user = user_id(&app, funder_email).await;
    let org_page = format!("{}/operateur/organisations/{funder_id}", app.base);
    let page = get(&operator, &org_page).await;
    assert!(
        page.html.contains("Retirer la double authentification de"),
        "{}",
        page.html
    );
    let remove = format!("{org_page}/personnes/{funder_user}/double-authentification");
    let asked = post(
        &operator,
        &remove,
        &[("csrf", &csrf), ("once", &page.once())],
    )
    .await;
    assert!(
        asked
            .html
            .contains("Oui, retirer la double authentification"),
        "{}",
        asked.html
    );
    let done = post(
        &operator,
        &remove,
        &[("csrf", &csrf), ("once", &page.once()), ("confirm", "1")],
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.html);
    assert!(done
        .html
        .contains("La double authentification de cette personne est retirée"));
    assert!(app
        .journal(&funder_id)
        .await
        .contains(&"second_factor.reset".to_string()));
    let ended = get(&funder, &format!("{}/financeur", app.base)).await;
    assert!(ended.url.ends_with("/connexion"), "{}", ended.url);
    // Another organisation's person: not from this page.
    let (distributor_id, _) = app.org("distributor", "CCAS").await;
    let wrong_org = post(
        &operator,
        &format!(
            "{}/operateur/organisations/{distributor_id}/personnes/{funder_user}/double-authentification",
            app.base
        ),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(wrong_org.status, StatusCode::NOT_FOUND);
    // At the next login the funder sets up a new one.
    let enrol = password(&app, &funder, funder_email).await;
    assert!(
        enrol.url.ends_with("/compte/double-authentification"),
        "{}",
        enrol.url
    );
}

async fn codes_are_rate_limited(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.login_attempt_limit = 3).await else {
        return;
    };
    let operator_id = app.operator_org().await.id;
    let (client, _) = signed_in(&app, &operator_id, EMAIL).await;
    let home = get(&client, &format!("{}/operateur", app.base)).await;
    log_out(&app, &client, &home).await;
    let ask = password(&app, &client, EMAIL).await;
    for _ in 0..3 {
        let wrong = send_code(&app, &client, &ask, "123456").await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let limited = send_code(&app, &client, &ask, "654321").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(get(&client, &format!("{}/operateur", app.base))
        .await
        .url
        .ends_with("/connexion/code"));
}

async fn anyone_may_set_it_up(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (distributor_id, _) = app.org("distributor", "CCAS de Bègles").await;
    let email = "lou@ccas.example";
    // No second factor asked of a distributor…
    let (client, _) = signed_in(&app, &distributor_id, email).await;
    let page = get(
        &client,
        &format!("{}/compte/double-authentification", app.base),
    )
    .await;
    assert!(page.html.contains("id=\"totp-secret\""), "{}", page.html);
    // …who may set one up, and is then asked for it.
    let home = second_factor(&app, &client, email, &page.html)
        .await
        .expect("set up");
    assert!(home.url.ends_with("/distributeur"), "{}", home.url);
    log_out(&app, &client, &home).await;
    app.advance(SignedDuration::from_secs(30));
    let ask = password(&app, &client, email).await;
    assert!(ask.url.ends_with("/connexion/code"), "{}", ask.url);
    let home = second_factor(&app, &client, email, &ask.html)
        .await
        .expect("code");
    assert!(home.url.ends_with("/distributeur"), "{}", home.url);
}
