//! Every irreversible action of the pages, on a 320-pixel phone in a real Chromium: its button
//! leads to a confirmation page (axe-core, words not split), "Non, revenir" leads back to the
//! form, and the confirmation's button acts.

use crate::common;

use common::browser::{Browser, PHONE_WIDTH};
use common::{Backend, TestApp, PASSWORD};
use jiff::SignedDuration;

async fn log_in(b: &Browser, app: &TestApp, org_id: &str, email: &str, name: &str) {
    app.person(org_id, email).await;
    b.visit(
        &format!("{}/connexion", app.base),
        &format!("confirmer-{name}-connexion"),
    )
    .await;
    b.fill("#email", email).await;
    b.fill("#password", PASSWORD).await;
    b.submit_form("form[action='/connexion'] button[type=submit]")
        .await;
    b.second_factor(app, email).await;
}

async fn log_out(b: &Browser) {
    b.submit_form("form.logout button[type=submit]").await;
}

/// Clicks `button` (after filling `fields`): the confirmation page; "Non, revenir" goes back
/// to `back`; clicked again, the confirmation's own button acts.
async fn ask_back_then_confirm(b: &Browser, button: &str, fields: &[(&str, &str)], name: &str) {
    for (css, value) in fields {
        b.fill(css, value).await;
    }
    let back = b.current_url().await;
    b.submit_form(button).await;
    b.check_axe(&format!("confirmer-{name}")).await;
    assert!(b.text("h1").await.ends_with('?'), "{name}");
    b.submit_form("form.confirm a").await;
    let returned = b.current_url().await;
    assert_eq!(
        returned.split(['?', '#']).next(),
        back.split(['?', '#']).next(),
        "{name}: « Non, revenir » leads back to the form"
    );
    for (css, value) in fields {
        b.fill(css, value).await;
    }
    b.submit_form(button).await;
    b.submit_form("form.confirm button").await;
    b.check_axe(&format!("confirmer-{name}-fait")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_irreversible_action_asks_first_on_a_phone() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let (_, height) = b.window_size().await;
    b.set_window_size(PHONE_WIDTH, height).await;
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let w = app.world(100_000, 20).await;
    let pass = app.issue(&w, 5).await;
    let code = |i: usize| pass["vouchers"][i]["code"].as_str().unwrap().to_string();
    for i in 0..2 {
        let (status, body) = app.redeem(&w.site, &code(i)).await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    }
    app.bank(&w.site_id, &w.site).await;

    // The distributor cancels a carnet.
    let lost = app.issue(&w, 5).await;
    log_in(
        &b,
        &app,
        &w.distributor_id,
        "agent@distributeur.example",
        "distributeur",
    )
    .await;
    b.visit(
        &format!(
            "{}/distributeur/carnets/{}",
            app.base,
            lost["id"].as_str().unwrap()
        ),
        "confirmer-carnet",
    )
    .await;
    ask_back_then_confirm(&b, "form[action$='/annuler'] button", &[], "carnet-annuler").await;
    assert!(b.page_source().await.contains("Le carnet est annulé"));
    log_out(&b).await;

    // The site undoes the last redemption.
    log_in(&b, &app, &w.site_id, "accueil@lieu.example", "lieu").await;
    ask_back_then_confirm(
        &b,
        "form[action$='/annuler'] button",
        &[],
        "encaissement-annuler",
    )
    .await;
    assert!(b.page_source().await.contains("de nouveau être utilisé"));
    log_out(&b).await;

    // A funder's agent with a second factor (set up at first login), to lose their phone.
    common::web::signed_in(&app, &w.funder_id, "tresorier@financeur.example").await;

    // The operator: a batch approved, paid, a line rejected then sent again.
    app.advance(SignedDuration::from_hours(49));
    let operator_id = app.operator_org().await.id;
    log_in(
        &b,
        &app,
        &operator_id,
        "claire@operateur.example",
        "operateur",
    )
    .await;
    b.visit(
        &format!("{}/operateur/reglements", app.base),
        "confirmer-reglements",
    )
    .await;
    b.submit_form("form[action='/operateur/reglements'] button")
        .await;
    b.check_axe("confirmer-lot").await;
    ask_back_then_confirm(
        &b,
        "form[action$='/approuver'] button",
        &[],
        "lot-approuver",
    )
    .await;
    ask_back_then_confirm(&b, "form[action$='/sepa'] button", &[], "lot-fichier").await;
    assert!(b
        .page_source()
        .await
        .contains("Le fichier de virement est prêt"));
    ask_back_then_confirm(&b, "form[action$='/payer'] button", &[], "lot-payer").await;
    ask_back_then_confirm(
        &b,
        "form[action$='/rejets'] button",
        &[("#reason", "Compte clos")],
        "lot-rejet",
    )
    .await;
    assert!(b
        .page_source()
        .await
        .contains("Rejeté par la banque : Compte clos"));
    ask_back_then_confirm(&b, "form[action$='/renvois'] button", &[], "lot-renvoi").await;

    // The funder's agent lost their phone: the second factor removed.
    b.visit(
        &format!("{}/operateur/organisations/{}", app.base, w.funder_id),
        "confirmer-financeur",
    )
    .await;
    ask_back_then_confirm(
        &b,
        "form[action$='/double-authentification'] button",
        &[],
        "double-authentification-retirer",
    )
    .await;
    assert!(b
        .page_source()
        .await
        .contains("La double authentification de cette personne est retirée"));

    // A distributor's API token revoked; the site disqualified, for good.
    b.visit(
        &format!("{}/operateur/organisations/{}", app.base, w.distributor_id),
        "confirmer-organisation",
    )
    .await;
    ask_back_then_confirm(
        &b,
        "form[action$='/revoquer'] button",
        &[],
        "jeton-revoquer",
    )
    .await;
    assert!(b.page_source().await.contains("Révoqué le"));
    b.visit(
        &format!(
            "{}/operateur/organisations/{}/disqualification",
            app.base, w.site_id
        ),
        "confirmer-disqualification",
    )
    .await;
    ask_back_then_confirm(
        &b,
        "form[action$='/disqualification'] button",
        &[("#reason", "Des chèques encaissés sans accompagnement.")],
        "disqualifier",
    )
    .await;
    assert!(b
        .page_source()
        .await
        .contains("La disqualification est enregistrée"));
    log_out(&b).await;

    // The funder plans the programme's end.
    log_in(
        &b,
        &app,
        &w.funder_id,
        "claire@financeur.example",
        "financeur",
    )
    .await;
    b.visit(
        &format!("{}/financeur/programmes/{}", app.base, w.program_id),
        "confirmer-programme",
    )
    .await;
    ask_back_then_confirm(
        &b,
        "form[action$='/cloture#cloture'] button[type=submit]",
        &[],
        "programme-fin",
    )
    .await;
    assert!(b
        .page_source()
        .await
        .contains("La fin du programme est prévue"));
    b.close().await;
}
