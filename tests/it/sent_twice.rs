//! The other page forms sent twice (a double click, the back button and "send again"): the
//! settlement steps, the catalogue, the questionnaire, the places import and the application
//! each do their work once and show the same result. On both databases.

use crate::common;

use common::web::{get, post, signed_in};
use common::{cookie_client, Backend, TestApp};
use jiff::SignedDuration;
use reqwest::StatusCode;

on_both_databases!(
    settlement_steps_sent_twice_are_done_once,
    catalogue_and_questionnaire_forms_sent_twice_add_once,
    an_application_sent_twice_is_received_once,
    a_places_file_sent_twice_is_imported_once,
);

/// Sends the same form twice, as a double click does, and returns both answers.
async fn twice(
    client: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> (common::web::Page, common::web::Page) {
    tokio::join!(post(client, url, form), post(client, url, form))
}

async fn settlement_steps_sent_twice_are_done_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let pass = app.issue(&w, 5).await;
    let (status, body) = app
        .redeem(&w.site, pass["vouchers"][0]["code"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.bank(&w.site_id, &w.site).await;
    app.advance(SignedDuration::from_hours(49));
    let operator_id = app.operator_org().await.id;
    let (op, csrf) = signed_in(&app, &operator_id, "claire@operateur.example").await;
    let batches = format!("{}/operateur/reglements", app.base);
    let list = get(&op, &batches).await;
    let until = app
        .now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let once = list.once();
    let (first, second) = twice(
        &op,
        &batches,
        &[("csrf", &csrf), ("once", &once), ("until", &until)],
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.html);
    assert_eq!(second.status, StatusCode::OK, "{}", second.html);
    assert_eq!(first.url, second.url, "both show the same batch");
    assert_eq!(app.count("SELECT COUNT(*) FROM settlements").await, 1);
    let batch_url = first.url.split('?').next().unwrap().to_string();
    let batch_id = batch_url.rsplit('/').next().unwrap().to_string();

    for (step, action, done) in [
        ("approuver", "settlement.approved", "Le lot est approuvé"),
        (
            "sepa",
            "settlement.exported",
            "Le fichier de virement est prêt",
        ),
        ("payer", "settlement.paid", "Le lot est payé"),
    ] {
        let once = get(&op, &batch_url).await.once();
        let url = format!("{batch_url}/{step}");
        let form = [
            ("csrf", csrf.as_str()),
            ("once", once.as_str()),
            ("confirm", "1"),
        ];
        let (first, second) = twice(&op, &url, &form).await;
        // And once more later, with the back button.
        let third = post(&op, &url, &form).await;
        for page in [&first, &second, &third] {
            assert_eq!(page.status, StatusCode::OK, "{step}: {}", page.html);
            assert!(page.html.contains(done), "{step}: {}", page.html);
        }
        let times = app
            .journal(&batch_id)
            .await
            .into_iter()
            .filter(|a| a == action)
            .count();
        assert_eq!(times, 1, "{action}");
    }
    app.assert_ledger_verifies().await;
}

async fn catalogue_and_questionnaire_forms_sent_twice_add_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let (site, csrf) = signed_in(&app, &w.site_id, "agent@lieu.example").await;
    let url = format!("{}/lieu/catalogue", app.base);
    let once = get(&site, &url).await.once();
    let form = [
        ("csrf", csrf.as_str()),
        ("once", once.as_str()),
        ("place_id", w.site_id.as_str()),
        ("title", "Faire sa déclaration de revenus"),
        ("kind", "administrative_procedure"),
        ("themes", "admin_money"),
        ("minutes", "90"),
        ("price_cheques", "2"),
    ];
    let (first, second) = twice(&site, &url, &form).await;
    for page in [&first, &second] {
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert!(
            page.html
                .contains("Le service « Faire sa déclaration de revenus » est ajouté"),
            "{}",
            page.html
        );
    }
    // The result page can be reloaded: it shows the notice and adds nothing.
    let again = get(&site, &first.url).await;
    assert!(again.html.contains("est ajouté au catalogue"));
    let services =
        "SELECT COUNT(*) FROM place_services WHERE title = 'Faire sa déclaration de revenus'";
    assert_eq!(app.count(services).await, 1);

    let operator_id = app.operator_org().await.id;
    let (op, csrf) = signed_in(&app, &operator_id, "claire@operateur.example").await;
    let url = format!("{}/operateur/questionnaire", app.base);
    let once = get(&op, &url).await.once();
    let added = "Votre structure a-t-elle un accès à internet pour le public ?";
    let form = [
        ("csrf", csrf.as_str()),
        ("once", once.as_str()),
        ("text", added),
    ];
    let (first, second) = twice(&op, &url, &form).await;
    for page in [&first, &second] {
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert_eq!(page.html.matches(added).count(), 1, "{}", page.html);
    }
}

async fn an_application_sent_twice_is_received_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let client = cookie_client();
    let url = format!("{}/candidature", app.base);
    let page = get(&client, &url).await;
    let mut form = crate::applications::valid_form(&page.csrf(), "Association Clic");
    form.push(("once".to_string(), page.once()));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (first, second) = twice(&client, &url, &form).await;
    for page in [&first, &second] {
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert!(page.url.contains("/candidature/envoyee"), "{}", page.url);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 1);
    let acknowledgements = app
        .outbox_subjects()
        .await
        .into_iter()
        .filter(|(_, subject)| subject.contains("bien reçue"))
        .count();
    assert_eq!(acknowledgements, 1);
}

async fn a_places_file_sent_twice_is_imported_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let operator_id = app.operator_org().await.id;
    let (op, csrf) = signed_in(&app, &operator_id, "claire@operateur.example").await;
    let url = format!("{}/operateur/lieux", app.base);
    let once = get(&op, &url).await.once();
    let csv = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/lieux-mediation-numerique.exemple.csv"
    ))
    .expect("the fixture");
    let form = [
        ("csrf", csrf.as_str()),
        ("once", once.as_str()),
        ("csv", csv.as_str()),
    ];
    let (first, second) = twice(&op, &url, &form).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.html);
    assert_eq!(second.status, StatusCode::OK, "{}", second.html);
    // Both answers are the first import's report: what was created, not "updated".
    let report = |html: &str| {
        let at = html.find("role=\"status\"").expect("a report");
        html[at..at + html[at..].find("</").unwrap()].to_string()
    };
    assert_eq!(report(&first.html), report(&second.html));
    let imports = app
        .count("SELECT COUNT(*) FROM audit_log WHERE action = 'places.imported'")
        .await;
    assert_eq!(imports, 1);
}
