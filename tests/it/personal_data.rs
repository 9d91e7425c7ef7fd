//! People's rights over their data (issue 28, point 2): the personal-data page, a carnet's
//! holder seeing everything kept about it and erasing its e-mail, a distributor erasing a
//! beneficiary reference (only its own carnets), the record of processing shown to the
//! operator. HTTP on both databases; the pages in Chromium with axe-core at 1280 and 320 px.

use crate::common;
use crate::confirmations::confirm_fields;

use common::browser::Browser;
use common::web::{get, post, signed_in, Page};
use common::{cookie_client, error_code, Backend, TestApp};
use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_databases!(
    a_holder_sees_everything_and_erases_the_email_once,
    a_distributor_erases_a_reference_of_its_own_carnets_only,
    a_session_unused_for_two_hours_ends,
);

async fn confirmed_twice(client: &reqwest::Client, url: &str, asked: &Page) -> (Page, Page) {
    let fields = confirm_fields(asked);
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    tokio::join!(post(client, url, &fields), post(client, url, &fields))
}

async fn issue_with(app: &TestApp, w: &common::World, extra: Value) -> Value {
    let mut body = json!({"program_id": w.program_id, "cheques": 5});
    for (k, v) in extra.as_object().expect("an object") {
        body[k] = v.clone();
    }
    let (status, pass) = app.post("/api/v1/passes", &w.distributor, body).await;
    assert_eq!(status, StatusCode::CREATED, "{pass}");
    pass
}

async fn a_holder_sees_everything_and_erases_the_email_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 20).await;
    let pass = issue_with(
        &app,
        &w,
        json!({"beneficiary_ref": "FT-2026-0042", "email": "jeanne@exemple.fr"}),
    )
    .await;
    let (pass_id, code) = (
        pass["id"].as_str().unwrap().to_string(),
        pass["pass_code"].as_str().unwrap().to_string(),
    );
    let cheque = |i: usize| pass["vouchers"][i]["code"].as_str().unwrap().to_string();
    let (status, body) = app.redeem(&w.site, &cheque(0)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // An opinion, as a holder gives it.
    let holder = cookie_client();
    let form = get(&holder, &format!("{}/avis/{code}", app.base)).await;
    let given = post(
        &holder,
        &format!("{}/avis/{code}", app.base),
        &[
            ("csrf", &form.csrf()),
            ("once", &form.once()),
            ("rating", "5"),
            ("comment", "Très patiente, merci"),
        ],
    )
    .await;
    assert_eq!(given.status, StatusCode::OK, "{}", given.html);

    // Everything kept about the carnet, the address partly hidden, never a cheque's code.
    let url = format!("{}/mes-donnees?code={code}", app.base);
    let mine = get(&holder, &url).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.html);
    for shown in [
        "FT-2026-0042",
        "j•••@exemple.fr",
        "CCAS de Bordeaux",
        "Pass numérique 2026",
        "Médiathèque Mériadeck",
        "Très patiente, merci",
        "note 5 sur 10",
        "Chèque 2 (10,00\u{a0}€) : pas encore utilisé",
        "Carnet créé par l&#39;organisme",
        "prendra fin au plus tard le",
        "Effacer mon adresse e-mail",
    ] {
        assert!(mine.html.contains(shown), "{shown}: {}", mine.html);
    }
    assert!(!mine.html.contains("jeanne@"), "{}", mine.html);
    for i in 0..5 {
        assert!(!mine.html.contains(&cheque(i)), "cheque {i}: {}", mine.html);
    }

    // A mistyped code gets the balance's message, on the field.
    let wrong = get(&holder, &format!("{}/mes-donnees?code=ABCD", app.base)).await;
    assert!(
        wrong.html.contains("n&#39;a pas la bonne forme"),
        "{}",
        wrong.html
    );
    assert!(
        wrong.html.contains("aria-invalid=\"true\""),
        "{}",
        wrong.html
    );
    let empty = get(&holder, &format!("{}/mes-donnees", app.base)).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(!empty.html.contains("aria-invalid"), "{}", empty.html);

    // Asked first: the confirmation names the address (hidden), writes nothing.
    let erase = format!("{}/mes-donnees/effacer-email", app.base);
    let journal = app.count("SELECT COUNT(*) FROM audit_log").await;
    let asked = post(
        &holder,
        &erase,
        &[
            ("csrf", &mine.csrf()),
            ("once", &mine.once()),
            ("code", &code),
        ],
    )
    .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.html);
    assert!(asked
        .html
        .contains("Effacer l&#39;adresse e-mail j•••@exemple.fr de votre carnet ?"));
    assert!(asked.html.contains("Non, revenir"), "{}", asked.html);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log").await, journal);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM passes WHERE email IS NOT NULL")
            .await,
        1
    );

    // Confirmed twice at once: erased once, journaled without the address.
    let (first, second) = confirmed_twice(&holder, &erase, &asked).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.html);
    assert_eq!(first.url, second.url);
    assert!(first.url.ends_with("fait=email-efface"), "{}", first.url);
    assert!(first.html.contains("Votre adresse e-mail est effacée"));
    assert!(first.html.contains("effacée le"), "{}", first.html);
    assert!(!first.html.contains("Effacer mon adresse e-mail"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM passes WHERE email IS NOT NULL")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'pass.email_erased'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%jeanne%'")
            .await,
        0
    );

    // Asked again later (from a tab left open): nothing more happens.
    let asked = post(
        &holder,
        &erase,
        &[
            ("csrf", &mine.csrf()),
            ("once", "another-try"),
            ("code", &code),
        ],
    )
    .await;
    assert!(asked
        .html
        .contains("Effacer l&#39;adresse e-mail de votre carnet ?"));
    let (done, _) = confirmed_twice(&holder, &erase, &asked).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.html);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'pass.email_erased'")
            .await,
        1
    );

    // The carnet keeps working; its distributor no longer has an address.
    let (status, body) = app.redeem(&w.site, &cheque(1)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, seen) = app
        .get(&format!("/api/v1/passes/{pass_id}"), Some(&w.distributor))
        .await;
    assert!(seen["email"].is_null(), "{seen}");
    assert_eq!(seen["beneficiary_ref"], "FT-2026-0042");
    app.assert_ledger_verifies().await;
}

async fn a_distributor_erases_a_reference_of_its_own_carnets_only(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 20).await;
    let pass = app.issue(&w, 5).await;
    let id = pass["id"].as_str().unwrap().to_string();
    let erase = format!("/api/v1/passes/{id}/erase-reference");

    // Least privilege: another distributor does not see it, the operator and a site may not.
    let (_, other) = app.org("distributor", "France Travail Mérignac").await;
    let (status, body) = app.post(&erase, &other, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = app.post(&erase, &w.site, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app.post(&erase, &app.operator_token, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM passes WHERE beneficiary_ref = 'B-001'")
            .await,
        1
    );

    // Its distributor: a dated mark instead, once, journaled without the reference.
    let (status, body) = app.post(&erase, &w.distributor, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mark = body["beneficiary_ref"].as_str().unwrap().to_string();
    assert!(mark.starts_with("effacée le "), "{body}");
    let (status, again) = app.post(&erase, &w.distributor, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["beneficiary_ref"], mark.as_str());
    assert_eq!(
        app.journal(&id)
            .await
            .iter()
            .filter(|a| a.as_str() == "pass.reference_erased")
            .count(),
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%B-001%'")
            .await,
        0
    );
    // The carnet and its cheques keep working.
    let (status, body) = app
        .redeem(&w.site, pass["vouchers"][0]["code"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // A carnet in stock, its reference erased, then handed over with a new one: erasable too.
    let stock = issue_with(&app, &w, json!({"beneficiary_ref": "S-1", "active": false})).await;
    let stock_id = stock["id"].as_str().unwrap();
    let stock_erase = format!("/api/v1/passes/{stock_id}/erase-reference");
    let (status, body) = app.post(&stock_erase, &w.distributor, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/v1/passes/{stock_id}/activate"),
            &w.distributor,
            json!({"beneficiary_ref": "S-2"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["beneficiary_ref"], "S-2");
    let (status, body) = app.post(&stock_erase, &w.distributor, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["beneficiary_ref"], mark.as_str());
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'pass.reference_erased'")
            .await,
        3
    );

    // A carnet without a reference: nothing to erase.
    let bare = issue_with(&app, &w, json!({})).await;
    let (status, body) = app
        .post(
            &format!(
                "/api/v1/passes/{}/erase-reference",
                bare["id"].as_str().unwrap()
            ),
            &w.distributor,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(error_code(&body), "no_beneficiary_ref");

    // The page: asked first, naming the reference; confirmed twice, erased once.
    let page_pass = issue_with(&app, &w, json!({"beneficiary_ref": "CAF-77"})).await;
    let page_id = page_pass["id"].as_str().unwrap();
    let (agent, csrf) = signed_in(&app, &w.distributor_id, "agent@ccas.example").await;
    let carnet = get(
        &agent,
        &format!("{}/distributeur/carnets/{page_id}", app.base),
    )
    .await;
    let url = format!(
        "{}/distributeur/carnets/{page_id}/effacer-reference",
        app.base
    );
    let asked = post(&agent, &url, &[("csrf", &csrf), ("once", &carnet.once())]).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.html);
    assert!(asked
        .html
        .contains("Effacer la référence « CAF-77 » du carnet"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM passes WHERE beneficiary_ref = 'CAF-77'")
            .await,
        1
    );
    let (first, second) = confirmed_twice(&agent, &url, &asked).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.html);
    assert_eq!(first.url, second.url);
    assert!(
        first.url.ends_with("?fait=reference-effacee"),
        "{}",
        first.url
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM passes WHERE beneficiary_ref = 'CAF-77'")
            .await,
        0
    );
    assert_eq!(
        app.journal(page_id)
            .await
            .iter()
            .filter(|a| a.as_str() == "pass.reference_erased")
            .count(),
        1
    );
    // The holder reads the mark.
    let code = page_pass["pass_code"].as_str().unwrap();
    let mine = get(
        &cookie_client(),
        &format!("{}/mes-donnees?code={code}", app.base),
    )
    .await;
    assert!(mine.html.contains(&mark), "{}", mine.html);
    assert!(mine.html.contains("Référence effacée à votre demande"));
    app.assert_ledger_verifies().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_data_page_counts_codes_with_the_balance() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |c| c.public_lookup_limit = 3).await
    else {
        return;
    };
    let client = cookie_client();
    for path in [
        "/solde?code=ABCD",
        "/mes-donnees?code=ABCD",
        "/solde?code=ABCD",
    ] {
        let page = get(&client, &format!("{}{path}", app.base)).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
    }
    let page = get(&client, &format!("{}/mes-donnees?code=ABCD", app.base)).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.html);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_record_of_processing_is_shown_to_the_operator_only() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let operator = app.operator_org().await;
    let (client, _) = signed_in(&app, &operator.id, "dpo@operateur.example").await;
    let record = get(&client, &format!("{}/operateur/registre", app.base)).await;
    assert_eq!(record.status, StatusCode::OK, "{}", record.html);
    for shown in [
        "<h1>Registre des activités de traitement du Pass numérique</h1>",
        "<h2>1. Remettre et suivre les carnets des bénéficiaires</h2>",
        "<strong>Base légale</strong>",
        "<code>passnum audit verify</code>",
        "aria-current=\"page\">Registre des traitements",
    ] {
        assert!(record.html.contains(shown), "{shown}: {}", record.html);
    }
    let (distributor_id, _) = app.org("distributor", "CCAS de Bordeaux").await;
    let (agent, _) = signed_in(&app, &distributor_id, "agent@ccas.example").await;
    let refused = get(&agent, &format!("{}/operateur/registre", app.base)).await;
    assert!(!refused.html.contains("Base légale"), "{}", refused.html);
    let anonymous = get(
        &cookie_client(),
        &format!("{}/operateur/registre", app.base),
    )
    .await;
    assert!(!anonymous.html.contains("Base légale"));

    let notice = get(
        &cookie_client(),
        &format!("{}/donnees-personnelles", app.base),
    )
    .await;
    for shown in [
        "href=\"/mes-donnees\">Voir les données de mon carnet",
        "article 6-1-e",
        "Les effacer",
        "www.cnil.fr/fr/plaintes",
        "<h2>Combien de temps</h2>",
    ] {
        assert!(notice.html.contains(shown), "{shown}");
    }
}

/// The personal-data page, a carnet's data and the erasure's confirmation in Chromium.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_rights_pages_are_accessible_at_both_widths() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let w = app.world(100_000, 20).await;
    let pass = issue_with(
        &app,
        &w,
        json!({"beneficiary_ref": "FT-2026-0042", "email": "jeanne.martin@exemple.fr"}),
    )
    .await;
    let (status, body) = app
        .redeem(&w.site, pass["vouchers"][0]["code"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let code = pass["pass_code"].as_str().unwrap();
    for (width, suffix) in [(1280, ""), (320, "-320")] {
        b.set_window_size(width, 900).await;
        b.visit(
            &format!("{}/donnees-personnelles", app.base),
            &format!("rights-notice{suffix}"),
        )
        .await;
        b.assert_no_horizontal_scroll().await;
        b.submit_form("main a[href='/mes-donnees']").await;
        b.check_axe(&format!("rights-ask-code{suffix}")).await;
        b.fill("#code", "ABCD").await;
        b.submit_form("main form button[type=submit]").await;
        b.check_axe(&format!("rights-wrong-code{suffix}")).await;
        assert!(b.exists("#code[aria-invalid='true']").await);
        b.fill("#code", code).await;
        b.submit_form("main form button[type=submit]").await;
        b.check_axe(&format!("rights-data{suffix}")).await;
        b.assert_no_horizontal_scroll().await;
        let main = b.text("main").await;
        assert!(
            main.contains(if width == 1280 {
                "j•••@exemple.fr"
            } else {
                "effacée le"
            }),
            "{main}"
        );
        if width == 1280 {
            b.submit_form("form[action='/mes-donnees/effacer-email'] button")
                .await;
            b.check_axe("rights-confirm").await;
            b.set_window_size(320, 900).await;
            b.check_axe("rights-confirm-320").await;
            b.assert_no_horizontal_scroll().await;
            b.set_window_size(1280, 900).await;
            b.submit_form("form.confirm button[type=submit]").await;
            b.check_axe("rights-erased").await;
            assert!(b
                .text("main")
                .await
                .contains("Votre adresse e-mail est effacée"));
        }
    }
}

/// A professional's session ends after its idle time (issue 28, point 5), however long its
/// lifetime; each use pushes the end back.
async fn a_session_unused_for_two_hours_ends(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.session_idle_minutes = 120).await else {
        return;
    };
    let (distributor_id, _) = app.org("distributor", "CCAS de Bègles").await;
    let (agent, _) = signed_in(&app, &distributor_id, "agent@ccas-begles.fr").await;
    let home = format!("{}/distributeur", app.base);
    for _ in 0..3 {
        app.advance(SignedDuration::from_mins(110));
        let page = get(&agent, &home).await;
        assert!(page.url.ends_with("/distributeur"), "{}", page.url);
    }
    app.advance(SignedDuration::from_mins(121));
    let gone = get(&agent, &home).await;
    assert!(gone.url.ends_with("/connexion"), "{}", gone.url);
}
