//! The funder's pages in a real headless Chromium, with axe-core (WCAG 2.1 AA) on every page
//! and a screenshot of each under target/test-artifacts/screenshots (names `financeur-…`).

use crate::common;

use common::browser::Browser;
use common::{Backend, TestApp, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn funder_creates_funds_allocates_and_follows_a_programme_in_the_browser() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let w = app.world(100_000, 10).await;
    app.user(
        &w.funder_id,
        "claire@gironde.example",
        "Claire Dubois",
        passnum::users::Role::Agent,
        Some("une phrase de passe assez longue"),
    )
    .await;

    b.visit(&format!("{}/connexion", app.base), "financeur-connexion")
        .await;
    b.fill("#email", "claire@gironde.example").await;
    b.fill("#password", "une phrase de passe assez longue")
        .await;
    b.submit_form("form[action='/connexion'] button[type=submit]")
        .await;
    b.second_factor(&app, "claire@gironde.example").await;
    let home = b.check_axe("financeur-accueil").await;
    assert!(home.url.ends_with("/financeur"), "{}", home.url);
    assert!(b.page_source().await.contains("Pass numérique 2026"));
    b.assert_no_horizontal_scroll().await;

    // A mistake in the budget comes back on the form, then the programme is created.
    let create = "form[action='/financeur/programmes#creer'] button[type=submit]";
    b.fill("#name", "Ateliers numériques 2026").await;
    b.fill("#budget", "cinquante mille").await;
    b.fill("#department", "33").await;
    b.submit_form(create).await;
    b.check_axe("financeur-creation-erreur").await;
    assert!(b.text("#erreurs").await.contains("Budget"));
    assert!(b.exists("#budget[aria-invalid=true]").await);
    b.fill("#budget", "50 000").await;
    b.submit_form(create).await;
    let created = b.check_axe("financeur-programme-cree").await;
    assert!(b
        .text("[role=status]")
        .await
        .contains("Le programme est créé"));
    let program_id = created
        .url
        .split(['?', '#'])
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();

    b.fill("#amount", "500").await;
    b.fill("#reference", "OP-2026-42").await;
    b.submit_form("form[action$='/versements#versement'] button[type=submit]")
        .await;
    b.check_axe("financeur-versement").await;
    assert!(b
        .text("[role=status]")
        .await
        .contains("Le versement est enregistré"));

    b.select("#distributor_id", &w.distributor_id).await;
    b.fill("#cheques", "20").await;
    b.submit_form("form[action$='/quotas#quota'] button[type=submit]")
        .await;
    b.check_axe("financeur-quota").await;
    assert!(b
        .text("[role=status]")
        .await
        .contains("Le quota est attribué"));

    // Cheques issued and used, then the dashboard with its chart and tables.
    let second = World {
        program_id: program_id.clone(),
        funder_id: w.funder_id.clone(),
        funder: w.funder.clone(),
        distributor_id: w.distributor_id.clone(),
        distributor: w.distributor.clone(),
        site_id: w.site_id.clone(),
        site: w.site.clone(),
    };
    let pass = app.issue(&second, 10).await;
    for i in 0..3 {
        app.redeem(&w.site, pass["vouchers"][i]["code"].as_str().unwrap())
            .await;
    }
    let program_url = format!("{}/financeur/programmes/{program_id}", app.base);
    b.visit(&program_url, "financeur-tableau-de-bord").await;
    assert!(b.exists("svg[role=img][aria-labelledby]").await);
    assert!(b
        .text("#distributeurs ~ .scroll table")
        .await
        .contains("CCAS de Bordeaux"));
    assert!(b
        .text("#lieux ~ .scroll table")
        .await
        .contains("Médiathèque Mériadeck"));
    b.assert_no_horizontal_scroll().await;
    // How it looks on a small phone, for people reviewing the screenshots.
    let (width, height) = b.window_size().await;
    b.set_window_size(common::browser::PHONE_WIDTH, height)
        .await;
    b.screenshot("financeur-tableau-de-bord-320px").await;
    b.set_window_size(width, height).await;

    // Planning the end asks to confirm (the date left empty: in 30 days); once the
    // programme is closed (here forced at once by the operator), the credit note is offered.
    b.submit_form("form[action$='/cloture#cloture'] button[type=submit]")
        .await;
    b.check_axe("financeur-fin-confirmation").await;
    b.submit_form("form.confirm button").await;
    b.check_axe("financeur-fin-prevue").await;
    assert!(b
        .text("[role=status]")
        .await
        .contains("La fin du programme est prévue"));
    let (status, body) = app
        .post(
            &format!("/api/v1/programs/{program_id}/close"),
            &app.operator_token,
            serde_json::json!({"closes_on": app.state.clock.today().to_string(), "force": true}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    b.visit(&program_url, "financeur-programme-clos").await;
    assert!(b.page_source().await.contains("Programme clos."));
    assert!(b.exists("a[href$='/avoir.pdf']").await);
    b.assert_no_horizontal_scroll().await;
    b.visit(
        &format!("{}/financeur", app.base),
        "financeur-accueil-apres",
    )
    .await;
    assert!(b.page_source().await.contains("(clos)"));
    b.close().await;
}
