//! The login and account pages as people meet them: back to the page asked for after login
//! (and never to another site), an expired reset link that leads to asking a new one, a
//! confirmation and an e-mail after a password change or a change of second factor.

use crate::common;

use common::web::{get, post, Page};
use common::{cookie_client, Backend, TestApp, PASSWORD};
use reqwest::StatusCode;

on_both_databases!(
    login_leads_back_to_the_page_asked_for,
    the_second_factor_keeps_the_page_asked_for,
    only_this_sites_pages_are_followed,
    a_spent_reset_link_offers_a_new_one,
    a_new_password_is_confirmed_and_told,
    second_factor_changes_are_told,
);

/// The password step of the login, from the login page reached by `from` (its hidden
/// `suite` sent back as the browser would), with `suite` instead when given.
async fn log_in(
    app: &TestApp,
    client: &reqwest::Client,
    from: &Page,
    email: &str,
    suite: Option<&str>,
) -> Page {
    let kept = hidden(&from.html, "suite");
    let suite = suite.map(str::to_string).or(kept).unwrap_or_default();
    post(
        client,
        &format!("{}/connexion", app.base),
        &[
            ("csrf", &from.csrf()),
            ("email", email),
            ("password", PASSWORD),
            ("suite", &suite),
        ],
    )
    .await
}

/// The value of a page's hidden field, if it has one.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let mark = format!("name=\"{name}\" value=\"");
    let at = html.find(&mark)? + mark.len();
    let value = &html[at..at + html[at..].find('"')?];
    Some(value.replace("&#x2f;", "/").replace("&amp;", "&"))
}

/// A code sent from the page of that step (`path`), with the page asked for it kept.
async fn send_code(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    from: &Page,
    code: &str,
) -> Page {
    let suite = hidden(&from.html, "suite").expect("the page asked for, kept");
    post(
        client,
        &format!("{}{path}", app.base),
        &[("csrf", &from.csrf()), ("code", code), ("suite", &suite)],
    )
    .await
}

async fn login_leads_back_to_the_page_asked_for(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let email = "agent@lieu.example";
    app.person(&w.site_id, email).await;
    let client = cookie_client();

    let asked = get(&client, &format!("{}/lieu/banque", app.base)).await;
    assert!(
        asked.url.ends_with("/connexion?suite=%2Flieu%2Fbanque"),
        "{}",
        asked.url
    );
    assert_eq!(
        hidden(&asked.html, "suite").as_deref(),
        Some("/lieu/banque")
    );
    let landed = log_in(&app, &client, &asked, email, None).await;
    assert_eq!(landed.status, StatusCode::OK, "{}", landed.html);
    assert!(landed.url.ends_with("/lieu/banque"), "{}", landed.url);

    // Signed in already: the login page goes straight to the page asked for.
    let again = get(
        &client,
        &format!("{}/connexion?suite=/lieu/catalogue", app.base),
    )
    .await;
    assert!(again.url.ends_with("/lieu/catalogue"), "{}", again.url);

    // A wrong password keeps the page asked for on the form sent again.
    let other = cookie_client();
    let asked = get(&other, &format!("{}/lieu/catalogue", app.base)).await;
    let wrong = post(
        &other,
        &format!("{}/connexion", app.base),
        &[
            ("csrf", &asked.csrf()),
            ("email", email),
            ("password", "pas le bon mot de passe"),
            ("suite", "/lieu/catalogue"),
        ],
    )
    .await;
    assert_eq!(
        hidden(&wrong.html, "suite").as_deref(),
        Some("/lieu/catalogue")
    );
    let landed = log_in(&app, &other, &wrong, email, None).await;
    assert!(landed.url.ends_with("/lieu/catalogue"), "{}", landed.url);

    // A space's home asks for nothing more than the login.
    let home = get(&cookie_client(), &format!("{}/lieu", app.base)).await;
    assert!(home.url.ends_with("/connexion"), "{}", home.url);
}

async fn the_second_factor_keeps_the_page_asked_for(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let operator_id = app.operator_org().await.id;
    let email = "claire@operateur.example";
    let role = passnum::users::Role::Admin;
    app.user(&operator_id, email, "Claire", role, Some(PASSWORD))
        .await;
    let client = cookie_client();
    let journal = "/operateur/journal?action=user.invited";

    // First login: the set-up of the second factor comes between, then the page asked for.
    let asked = get(&client, &format!("{}{journal}", app.base)).await;
    assert!(
        asked.url.contains("suite=%2Foperateur%2Fjournal"),
        "{}",
        asked.url
    );
    let enrol = log_in(&app, &client, &asked, email, None).await;
    assert!(
        enrol.url.ends_with(
            "/compte/double-authentification?suite=%2Foperateur%2Fjournal%3Faction%3Duser.invited"
        ),
        "{}",
        enrol.url
    );
    let secret: String = enrol
        .html
        .split("id=\"totp-secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the key to type")
        .split_whitespace()
        .collect();
    let code = passnum::users::totp::code_at(&secret, app.now()).expect("code");
    let done = send_code(
        &app,
        &client,
        "/compte/double-authentification",
        &enrol,
        &code,
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.html);
    assert!(
        done.html
            .contains("id=\"continuer\" href=\"/operateur/journal?action=user.invited\""),
        "{}",
        done.html
    );
    post(
        &client,
        &format!("{}/deconnexion", app.base),
        &[("csrf", &enrol.csrf())],
    )
    .await;

    // Next login: the code, then the page asked for.
    app.advance(jiff::SignedDuration::from_secs(30));
    let asked = get(
        &client,
        &format!("{}/operateur/reglements/inconnu", app.base),
    )
    .await;
    let ask = log_in(&app, &client, &asked, email, None).await;
    assert!(
        ask.url
            .ends_with("/connexion/code?suite=%2Foperateur%2Freglements%2Finconnu"),
        "{}",
        ask.url
    );
    let code = passnum::users::totp::code_at(&secret, app.now()).expect("code");
    let landed = send_code(&app, &client, "/connexion/code", &ask, &code).await;
    assert!(
        landed.url.ends_with("/operateur/reglements/inconnu"),
        "{}",
        landed.url
    );
}

async fn only_this_sites_pages_are_followed(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let email = "agent@lieu.example";
    app.person(&w.site_id, email).await;
    for away in [
        "//evil.example/lieu",
        "https://evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "lieu/banque",
    ] {
        let client = cookie_client();
        let query = serde_urlencoded::to_string([("suite", away)]).unwrap();
        let asked = get(&client, &format!("{}/connexion?{query}", app.base)).await;
        // (An address holding a control character is refused before any page.)
        assert_eq!(hidden(&asked.html, "suite"), None, "{away:?}");
        let login = get(&client, &format!("{}/connexion", app.base)).await;
        let landed = log_in(&app, &client, &login, email, Some(away)).await;
        assert_eq!(landed.status, StatusCode::OK, "{away:?}");
        assert_eq!(
            landed.url,
            format!("{}/lieu", app.base),
            "{away:?} is not followed"
        );
    }
}

/// `(subject, text)` of the e-mails waiting for one address.
pub async fn mails_to(app: &TestApp, to: &str) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT subject, text_body FROM outbox WHERE to_address = $1 ORDER BY created_at, id",
    )
    .bind(to)
    .fetch_all(app.state.db.reads())
    .await
    .unwrap()
}

/// The one-time link of the last e-mail to this address (`/invitation/…`).
pub async fn link_sent_to(app: &TestApp, to: &str) -> String {
    let mails = mails_to(app, to).await;
    let (_, text) = mails.last().expect("an e-mail");
    let at = text.find("/invitation/").expect("a link");
    text[at..].split_whitespace().next().unwrap().to_string()
}

/// "Mot de passe oublié" for this address.
pub async fn ask_reset(app: &TestApp, email: &str) {
    let client = cookie_client();
    let form = get(&client, &format!("{}/mot-de-passe-oublie", app.base)).await;
    post(
        &client,
        &format!("{}/mot-de-passe-oublie", app.base),
        &[("csrf", &form.csrf()), ("email", email)],
    )
    .await;
}

/// Chooses a password from a link; the page it ends on.
async fn choose(app: &TestApp, client: &reqwest::Client, link: &str, password: &str) -> Page {
    let form = get(client, &format!("{}{link}", app.base)).await;
    post(
        client,
        &format!("{}{link}", app.base),
        &[
            ("csrf", &form.csrf()),
            ("once", &form.once()),
            ("password", password),
            ("confirmation", password),
        ],
    )
    .await
}

async fn a_spent_reset_link_offers_a_new_one(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let email = "oubli@lieu.example";
    app.person(&w.site_id, email).await;
    let client = cookie_client();
    let ask_again = "href=\"/mot-de-passe-oublie?email=oubli%40lieu.example\"";

    // Used once: the page says so and offers a new link, the address filled in.
    ask_reset(&app, email).await;
    let link = link_sent_to(&app, email).await;
    let form = get(&client, &format!("{}{link}", app.base)).await;
    assert!(
        form.html
            .contains("<h1>Choisir un nouveau mot de passe</h1>"),
        "{}",
        form.html
    );
    choose(&app, &client, &link, "un tout nouveau mot de passe").await;
    let spent = get(&client, &format!("{}{link}", app.base)).await;
    assert_eq!(spent.status, StatusCode::OK);
    assert!(
        spent.html.contains("a déjà servi ou a expiré"),
        "{}",
        spent.html
    );
    assert!(
        spent.html.contains("Recevoir un nouveau lien"),
        "{}",
        spent.html
    );
    assert!(spent.html.contains(ask_again), "{}", spent.html);
    assert!(!spent.html.contains("invitation"), "{}", spent.html);
    // Sent again from a tab left open: the same page, not an invitation's advice.
    let again = post(
        &client,
        &format!("{}{link}", app.base),
        &[
            ("csrf", &form.csrf()),
            ("password", "encore un autre mot de passe"),
            ("confirmation", "encore un autre mot de passe"),
        ],
    )
    .await;
    assert!(again.html.contains(ask_again), "{}", again.html);
    assert!(!again.html.contains("invitation"), "{}", again.html);
    let forgot = get(
        &client,
        &format!(
            "{}/mot-de-passe-oublie?email=oubli%40lieu.example",
            app.base
        ),
    )
    .await;
    assert!(
        forgot.html.contains("value=\"oubli@lieu.example\""),
        "{}",
        forgot.html
    );

    // Expired unused: the same.
    ask_reset(&app, email).await;
    let link = link_sent_to(&app, email).await;
    app.advance(jiff::SignedDuration::from_mins(61));
    let expired = get(&client, &format!("{}{link}", app.base)).await;
    assert!(expired.html.contains(ask_again), "{}", expired.html);

    // An invitation keeps its own advice.
    let operator = app.operator_org().await;
    let (site_id, letterhead, now) = (w.site_id.clone(), app.state.letterhead(), app.now());
    app.write(move |tx| {
        Box::pin(async move {
            let new = passnum::users::NewUser {
                email: "nouveau@lieu.example".into(),
                name: "Lou".into(),
                role: "agent".into(),
            };
            passnum::users::invite(tx, &operator, &site_id, new, "Claire", &letterhead, now).await
        })
    })
    .await
    .unwrap();
    let invitation = link_sent_to(&app, "nouveau@lieu.example").await;
    let form = get(&client, &format!("{}{invitation}", app.base)).await;
    assert!(
        form.html.contains("<h1>Choisir mon mot de passe</h1>"),
        "{}",
        form.html
    );
    choose(&app, &client, &invitation, "mon tout premier mot de passe").await;
    let spent = get(&client, &format!("{}{invitation}", app.base)).await;
    assert!(
        spent.html.contains("Demandez une nouvelle invitation"),
        "{}",
        spent.html
    );
    assert!(
        !spent.html.contains("Recevoir un nouveau lien"),
        "{}",
        spent.html
    );
    // A link never sent (mistyped): both ways out.
    let unknown = get(&client, &format!("{}/invitation/inconnu", app.base)).await;
    assert!(unknown.html.contains("Demandez une nouvelle invitation"));
    assert!(unknown.html.contains("href=\"/mot-de-passe-oublie\""));
}

async fn a_new_password_is_confirmed_and_told(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let email = "oubli@lieu.example";
    app.person(&w.site_id, email).await;
    let client = cookie_client();
    ask_reset(&app, email).await;
    let link = link_sent_to(&app, email).await;
    let done = choose(&app, &client, &link, "un tout nouveau mot de passe").await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(
        done.url.contains("/connexion?fait=mot-de-passe"),
        "{}",
        done.url
    );
    assert!(
        done.html.contains("Votre mot de passe est changé"),
        "{}",
        done.html
    );
    assert!(
        done.html.contains("value=\"oubli@lieu.example\""),
        "{}",
        done.html
    );
    let mails = mails_to(&app, email).await;
    let (subject, text) = mails.last().unwrap();
    assert_eq!(subject, "Votre mot de passe du Pass numérique est changé");
    assert!(
        text.contains("Le mot de passe de votre compte (oubli@lieu.example) a été changé"),
        "{text}"
    );
    assert!(text.contains("Si ce n'est pas vous, appelez"), "{text}");
    assert!(text.contains(&app.state.config.helpline_phone), "{text}");
    // The new password opens the space from that page.
    let page = post(
        &client,
        &format!("{}/connexion", app.base),
        &[
            ("csrf", &done.csrf()),
            ("email", email),
            ("password", "un tout nouveau mot de passe"),
        ],
    )
    .await;
    assert!(page.url.ends_with("/lieu"), "{}", page.url);
    // A login page asked with an unused or made-up link names nobody.
    ask_reset(&app, email).await;
    let unused = link_sent_to(&app, email).await;
    let token = unused.trim_start_matches("/invitation/");
    let page = get(
        &cookie_client(),
        &format!("{}/connexion?fait=mot-de-passe&lien={token}", app.base),
    )
    .await;
    assert!(!page.html.contains("oubli@lieu.example"), "{}", page.html);
}

async fn second_factor_changes_are_told(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let email = "tresorier@financeur.example";
    common::web::signed_in(&app, &w.funder_id, email).await;
    let mails = mails_to(&app, email).await;
    let (subject, text) = mails.last().expect("an e-mail");
    assert_eq!(
        subject,
        "La double authentification est en place sur votre compte Pass numérique"
    );
    assert!(text.contains("Si ce n'est pas vous, appelez"), "{text}");
    let operator = app.operator_org().await;
    let person: String = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(app.state.db.reads())
        .await
        .unwrap();
    let (funder_id, letterhead, now) = (w.funder_id.clone(), app.state.letterhead(), app.now());
    app.write(move |tx| {
        Box::pin(async move {
            passnum::users::totp::reset(tx, &letterhead, &operator, &funder_id, &person, now).await
        })
    })
    .await
    .unwrap();
    let mails = mails_to(&app, email).await;
    let (subject, text) = mails.last().unwrap();
    assert_eq!(
        subject,
        "La double authentification de votre compte Pass numérique est retirée"
    );
    assert!(
        text.contains("L'opérateur du Pass numérique a retiré"),
        "{text}"
    );
    assert!(text.contains(&app.state.config.helpline_phone), "{text}");
}
