//! The defects an attacker's probing found (../shared/reviews/security.md), each kept fixed on
//! both databases: control characters, a path echoed into a form, tokens that could not be
//! revoked, idle connections, formulas in CSV files, password-reset links, forged anonymous
//! CSRF tokens, e-mail floods, a second operator, and what the places import lets through.

use crate::common;

use common::web::{get, post, signed_in};
use common::{cookie_client, error_code, Backend, TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_databases!(
    control_characters_are_refused_everywhere_with_a_422,
    a_feedback_address_never_puts_its_path_into_a_form,
    api_tokens_are_listed_revoked_and_expire,
    csv_cells_never_start_a_formula,
    a_new_password_voids_older_links_and_sessions,
    anonymous_forms_refuse_a_forged_token_pair,
    reset_and_application_mails_are_limited_per_recipient,
    only_the_bootstrap_makes_an_operator,
    the_places_import_refuses_unsafe_ids_urls_and_lines,
    feedback_is_one_per_session_and_bank_details_are_sepa,
);

/// Every text input, on PostgreSQL as on SQLite: a control character is a 422 that says why,
/// never a 500, and nothing is stored.
async fn control_characters_are_refused_everywhere_with_a_422(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    // Anonymous pages and API.
    let client = cookie_client();
    for url in ["/lieux?q=a%00b", "/solde?code=A%00B", "/avis/ABCD%00"] {
        let page = get(&client, &format!("{}{url}", app.base)).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        assert!(page.html.contains("caractère de contrôle"), "{url}");
    }
    let (status, body) = app.get("/api/v1/public/sites?commune=a%00b", None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "control_character")
    );
    // JSON bodies.
    for (path, token, body) in [
        (
            "/api/v1/programs",
            w.funder.as_str(),
            json!({"name": "a\u{0}b", "budget_cents": 1000}),
        ),
        (
            &*format!("/api/v1/programs/{}/fundings", w.program_id),
            w.funder.as_str(),
            json!({"amount_cents": 100, "reference": "OP\u{0}1"}),
        ),
        (
            "/api/v1/organizations",
            app.operator_token.as_str(),
            json!({"kind": "funder", "name": "x\u{1b}[31m"}),
        ),
        (
            "/api/v1/passes",
            w.distributor.as_str(),
            json!({"program_id": w.program_id, "cheques": 5, "beneficiary_ref": "a\u{0}"}),
        ),
    ] {
        let (status, answer) = app.post(path, token, body).await;
        assert_eq!(
            (status, error_code(&answer)),
            (StatusCode::UNPROCESSABLE_ENTITY, "control_character"),
            "{path}: {answer}"
        );
    }
    // Forms, anonymous and signed in.
    let login = get(&client, &format!("{}/connexion", app.base)).await;
    let page = post(
        &client,
        &format!("{}/connexion", app.base),
        &[
            ("csrf", &login.csrf()),
            ("email", "a\u{0}@b.fr"),
            ("password", "x"),
        ],
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    let operator_id = app.operator_org().await.id;
    let (op, csrf) = signed_in(&app, &operator_id, "claire@operateur.example").await;
    let page = post(
        &op,
        &format!("{}/operateur/organisations", app.base),
        &[("csrf", &csrf), ("kind", "funder"), ("name", "Ville\u{0}")],
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Nothing was stored; tabs and new lines stay welcome where a text runs over lines.
    let (status, body) = app
        .post(
            "/api/v1/programs",
            &w.funder,
            json!({"name": "Ligne\nCoupée", "budget_cents": 1000}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let programmes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM programs")
        .fetch_one(app.state.db.reads())
        .await
        .unwrap();
    assert_eq!(programmes, 1);
}

async fn a_feedback_address_never_puts_its_path_into_a_form(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let pass = app.issue(&w, 5).await;
    let pass_id = pass["id"].as_str().unwrap();
    let (distributor, _) = signed_in(&app, &w.distributor_id, "agent@ccas.example").await;
    // The link an attacker would send a signed-in distributor.
    let page = get(
        &distributor,
        &format!(
            "{}/avis/..%2Fdistributeur%2Fcarnets%2F{pass_id}%2Fannuler",
            app.base
        ),
    )
    .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.html.contains("/annuler"), "{}", page.html);
    // A real code, typed in lower case, gives a form posting to the code as printed.
    let code = pass["pass_code"].as_str().unwrap();
    let page = get(
        &cookie_client(),
        &format!("{}/avis/{}", app.base, code.to_lowercase()),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.html.contains(&format!(
            "<form method=\"post\" action=\"/avis/{code}\" novalidate>"
        )),
        "{}",
        page.html
    );
}

async fn api_tokens_are_listed_revoked_and_expire(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.token_idle_days = 180).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let works = |token: String| {
        let app = &app;
        async move { app.get("/api/v1/redemptions", Some(&token)).await.0 }
    };
    // A second token leaves the first one working until it is revoked.
    let (status, second) = app
        .post(
            &format!("/api/v1/organizations/{}/tokens", w.site_id),
            &app.operator_token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let second = second["token"].as_str().unwrap().to_string();
    assert_eq!(works(w.site.clone()).await, StatusCode::OK);
    assert_eq!(works(second.clone()).await, StatusCode::OK);
    // The site sees its tokens (never their value) and revokes the first one.
    let (status, list) = app
        .get(
            &format!("/api/v1/organizations/{}/tokens", w.site_id),
            Some(&second),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert!(!list.iter().any(|t| t.to_string().contains("pn_")));
    // A token's id is the start of its SHA-256.
    let first = {
        use sha2::Digest;
        data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(w.site.as_bytes()))[..16].to_string()
    };
    assert!(list.iter().any(|t| t["id"] == first.as_str()), "{list:?}");
    let (status, revoked) = app
        .delete(
            &format!("/api/v1/organizations/{}/tokens/{first}", w.site_id),
            &second,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert!(revoked["revoked_at"].is_string());
    assert_eq!(works(w.site.clone()).await, StatusCode::UNAUTHORIZED);
    // A leaked token cannot change the bank details any more.
    let (status, _) = app
        .put(
            &format!("/api/v1/sites/{}/bank", w.site_id),
            &w.site,
            json!({"iban": "FR14 2004 1010 0505 0001 3M02 606", "holder": "Pirate"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Another organisation's tokens are out of reach.
    let (status, _) = app
        .get(
            &format!("/api/v1/organizations/{}/tokens", w.site_id),
            Some(&w.distributor),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A holder revokes the very token it calls with.
    let (status, _) = app.delete("/api/v1/tokens/current", &second).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(works(second).await, StatusCode::UNAUTHORIZED);
    // Both revocations are in the journal.
    let mut conn = app.state.db.read().await.unwrap();
    let revocations = passnum::audit::for_subject(&mut conn, &w.site_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "api_token.revoked")
        .count();
    drop(conn);
    assert_eq!(revocations, 2);
    // The operator's page lists a distributor's token and revokes it.
    let operator_id = app.operator_org().await.id;
    let (op, csrf) = signed_in(&app, &operator_id, "claire@operateur.example").await;
    let org_url = format!("{}/operateur/organisations/{}", app.base, w.distributor_id);
    let page = get(&op, &org_url).await;
    let at = page.html.find("/jetons/").expect("a token to revoke") + "/jetons/".len();
    let token_id = page.html[at..at + 16].to_string();
    let page = post(
        &op,
        &format!("{org_url}/jetons/{token_id}/revoquer"),
        &[("csrf", &csrf), ("confirm", "1"), ("once", &page.once())],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("Révoqué le"), "{}", page.html);
    assert_eq!(works(w.distributor.clone()).await, StatusCode::UNAUTHORIZED);
    // A token unused for longer than allowed (180 days) stops working.
    app.advance(jiff::SignedDuration::from_hours(24 * 181));
    assert_eq!(works(w.funder.clone()).await, StatusCode::UNAUTHORIZED);
}

async fn csv_cells_never_start_a_formula(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // A place whose free text starts like a formula, imported then qualified.
    let (columns, mut record) = example();
    let source = columns.iter().position(|c| c == "source").unwrap();
    record[source] = "=HYPERLINK(\"http://evil.example/\",\"clic\")".into();
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(&columns).unwrap();
    out.write_record(&record).unwrap();
    let file = out.into_inner().unwrap();
    let now = app.now();
    let report = app
        .write(move |tx| {
            Box::pin(async move { passnum::sites::places::import_file(tx, &file, None, now).await })
        })
        .await
        .unwrap();
    assert_eq!(report.rejected_rows, 0, "{:?}", report.rejected);
    let (status, body) = app
        .put(
            "/api/v1/places/structure-1/qualification",
            &app.operator_token,
            json!({"status": "qualified", "valid_until": "2027-12-31"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, csv) = app
        .get_text("/api/v1/public/sites.csv", &app.operator_token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(csv.contains("'=HYPERLINK("), "{csv}");
    assert!(!csv.contains(",=HYPERLINK("), "{csv}");
}

/// The standard's example file: its columns and its one row.
fn example() -> (Vec<String>, Vec<String>) {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/lieux-mediation-numerique.exemple.csv"
    ))
    .unwrap();
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let columns = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let row = reader
        .records()
        .next()
        .unwrap()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    (columns, row)
}

/// `(subject, text)` of the e-mails waiting for one address.
async fn mails_to(app: &TestApp, to: &str) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT subject, text_body FROM outbox WHERE to_address = $1 ORDER BY created_at",
    )
    .bind(to)
    .fetch_all(app.state.db.reads())
    .await
    .unwrap()
}

fn link_in(text: &str) -> String {
    let at = text.find("/invitation/").expect("a link");
    text[at..].split_whitespace().next().unwrap().to_string()
}

async fn a_new_password_voids_older_links_and_sessions(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let email = "oubli@lieu.example";
    let (before, _) = signed_in(&app, &w.site_id, email).await;
    let ask = || async {
        let client = cookie_client();
        let form = get(&client, &format!("{}/mot-de-passe-oublie", app.base)).await;
        post(
            &client,
            &format!("{}/mot-de-passe-oublie", app.base),
            &[("csrf", &form.csrf()), ("email", email)],
        )
        .await
    };
    ask().await;
    ask().await;
    let mails = mails_to(&app, email).await;
    assert_eq!(mails.len(), 2);
    let (older, newer) = (link_in(&mails[0].1), link_in(&mails[1].1));
    // The older link is void as soon as a newer one is sent.
    let set = |link: String, password: &'static str| {
        let app = &app;
        async move {
            let client = cookie_client();
            let form = get(&client, &format!("{}{link}", app.base)).await;
            post(
                &client,
                &format!("{}{link}", app.base),
                &[
                    ("csrf", &form.csrf()),
                    ("password", password),
                    ("confirmation", password),
                ],
            )
            .await
        }
    };
    let page = get(&cookie_client(), &format!("{}{older}", app.base)).await;
    assert!(
        page.html.contains("déjà servi ou a expiré"),
        "{}",
        page.html
    );
    let page = set(newer, "un tout nouveau mot de passe").await;
    assert!(
        page.url.contains("/connexion?fait=mot-de-passe"),
        "{}",
        page.url
    );
    // The session opened with the old password is over.
    let page = get(&before, &format!("{}/lieu", app.base)).await;
    assert!(page.url.ends_with("/connexion"), "{}", page.url);
    let _ = PASSWORD;
}

async fn anonymous_forms_refuse_a_forged_token_pair(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    app.person(&w.site_id, "agent@lieu.example").await;
    // A cookie and a field both made up (planted through a sibling subdomain, say).
    let forged = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let resp = reqwest::Client::new()
        .post(format!("{}/connexion", app.base))
        .header("cookie", format!("passnum_csrf={forged}"))
        .form(&[
            ("csrf", forged),
            ("email", "agent@lieu.example"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // The server's own token still works.
    let client = cookie_client();
    let login = get(&client, &format!("{}/connexion", app.base)).await;
    let page = post(
        &client,
        &format!("{}/connexion", app.base),
        &[
            ("csrf", &login.csrf()),
            ("email", "agent@lieu.example"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert!(page.url.ends_with("/lieu"), "{}", page.url);
}

async fn reset_and_application_mails_are_limited_per_recipient(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.mail_form_limit = 3).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let email = "victime@lieu.example";
    app.person(&w.site_id, email).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let client = cookie_client();
        let form = get(&client, &format!("{}/mot-de-passe-oublie", app.base)).await;
        let page = post(
            &client,
            &format!("{}/mot-de-passe-oublie", app.base),
            &[("csrf", &form.csrf()), ("email", email)],
        )
        .await;
        statuses.push(page.status);
    }
    assert_eq!(statuses[..3], [StatusCode::OK; 3]);
    assert!(statuses[3..]
        .iter()
        .all(|s| *s == StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(mails_to(&app, email).await.len(), 3);
}

async fn only_the_bootstrap_makes_an_operator(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, body) = app
        .post(
            "/api/v1/organizations",
            &app.operator_token,
            json!({"kind": "operator", "name": "Second opérateur"}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_kind")
    );
}

async fn the_places_import_refuses_unsafe_ids_urls_and_lines(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (columns, base) = example();
    let with = |field: &str, value: &str| {
        let mut record = base.clone();
        let at = columns.iter().position(|c| c == field).unwrap();
        record[at] = value.to_string();
        record
    };
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(&columns).unwrap();
    for record in [
        with("id", "../../etc/passwd"),
        with("id", &"x".repeat(10_000)),
        with("id", "x' OR '1'='1"),
        with("site_web", "javascript:alert(1)"),
        with("prise_rdv", "data:text/html,<script>alert(1)</script>"),
        with("nom", "Première ligne\r\nDeuxième ligne"),
    ] {
        out.write_record(&record).unwrap();
    }
    let file = out.into_inner().unwrap();
    let now = app.now();
    let report = app
        .write(move |tx| {
            Box::pin(async move { passnum::sites::places::import_file(tx, &file, None, now).await })
        })
        .await
        .unwrap();
    assert_eq!(report.rejected_rows, 6, "{:?}", report.rejected);
    assert_eq!(report.created + report.updated, 0);
    let fields: Vec<&str> = report.rejected.iter().map(|r| r.field.as_str()).collect();
    for field in ["id", "site_web", "prise_rdv", "nom"] {
        assert!(fields.contains(&field), "{field}: {fields:?}");
    }
}

async fn feedback_is_one_per_session_and_bank_details_are_sepa(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let pass = app.issue(&w, 5).await;
    let code = pass["pass_code"].as_str().unwrap();
    let give = || async {
        let client = cookie_client();
        let form = get(&client, &format!("{}/avis/{code}", app.base)).await;
        post(
            &client,
            &format!("{}/avis/{code}", app.base),
            &[("csrf", &form.csrf()), ("rating", "5")],
        )
        .await
    };
    // Before any session, no opinion; after one, one.
    assert!(give().await.html.contains("après une séance"));
    app.redeem(&w.site, pass["vouchers"][0]["code"].as_str().unwrap())
        .await;
    assert!(give().await.html.contains("Merci !"));
    assert!(give().await.html.contains("déjà enregistré"));
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM opinions")
        .fetch_one(app.state.db.reads())
        .await
        .unwrap();
    assert_eq!(stored, 1);
    // An IBAN outside the SEPA zone, or a holder over two lines, is refused.
    for body in [
        json!({"iban": "BR1800360305000010009795493C1", "holder": "Associação"}),
        json!({"iban": "FR14 2004 1010 0505 0001 3M02 606", "holder": "Ligne 1\nLigne 2"}),
    ] {
        let (status, answer): (StatusCode, Value) = app
            .put(&format!("/api/v1/sites/{}/bank", w.site_id), &w.site, body)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    }
}

/// Slow or silent clients hold a connection each: past the cap the server answers 503 at
/// once instead of running out of file descriptors, and cuts the silent ones after 10 s, so
/// that `/healthz` answers throughout and soon answers 200 again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_connections_never_lock_everyone_out() {
    use std::time::{Duration, Instant};
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.max_connections = 200)
        .await
        .expect("sqlite");
    let address = app.base.trim_start_matches("http://").to_string();
    let mut idle = Vec::new();
    for _ in 0..2000 {
        match tokio::net::TcpStream::connect(&address).await {
            Ok(stream) => idle.push(stream),
            Err(e) => {
                // This machine's own limit on open files: enough to pass the cap anyway.
                eprintln!("the client stopped at {} connections: {e}", idle.len());
                break;
            }
        }
    }
    assert!(idle.len() > 400, "only {} connections opened", idle.len());
    let health = || async {
        let started = Instant::now();
        let resp = reqwest::Client::new()
            .get(format!("{}/healthz", app.base))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .expect("/healthz answers");
        (
            resp.status(),
            started.elapsed(),
            resp.text().await.unwrap_or_default(),
        )
    };
    let (status, took, body) = health().await;
    assert!(took < Duration::from_secs(3), "{took:?}");
    match status {
        StatusCode::SERVICE_UNAVAILABLE => assert!(body.contains("too_many_connections")),
        StatusCode::OK => {}
        other => panic!("/healthz answered {other}"),
    }
    let deadline = Instant::now() + Duration::from_secs(25);
    loop {
        let (status, _, _) = health().await;
        if status == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/healthz never answered 200 again"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(idle);
}
