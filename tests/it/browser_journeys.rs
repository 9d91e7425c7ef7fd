//! The journeys in a real headless Chromium, with axe-core (WCAG 2.1 AA) on every page visited
//! and a screenshot of each kept under target/test-artifacts/screenshots. One browser for the
//! whole file: each Chromium is heavy on a 2-core machine.

use crate::common;

use common::browser::Browser;
use common::{Backend, TestApp};

async fn log_in(b: &Browser, app: &TestApp, email: &str, name: &str) {
    b.visit(
        &format!("{}/connexion", app.base),
        &format!("{name}-connexion"),
    )
    .await;
    b.fill("#email", email).await;
    b.fill("#password", "une phrase de passe assez longue")
        .await;
    b.submit_form("form[action='/connexion'] button[type=submit]")
        .await;
    b.second_factor(app, email).await;
}

async fn log_out(b: &Browser) {
    b.submit_form("form.logout button[type=submit]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_role_does_its_job_in_the_browser() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let w = app.world(100_000, 20).await;
    let pass = app.issue(&w, 5).await;
    let pass_code = pass["pass_code"].as_str().unwrap().to_string();

    // The beneficiary, on a phone, without an account.
    b.visit(&format!("{}/", app.base), "beneficiaire-accueil")
        .await;
    b.assert_no_horizontal_scroll().await;
    b.fill("#code", &pass_code.to_lowercase()).await;
    b.submit_form("form[action='/solde'] button").await;
    b.check_axe("beneficiaire-solde").await;
    assert!(b.text(".big").await.contains("Il vous reste 5 chèques."));
    b.assert_no_horizontal_scroll().await;
    b.visit(
        &format!("{}/solde?code=ABCD-EFGH-JK12", app.base),
        "beneficiaire-solde-erreur",
    )
    .await;
    assert!(b.exists("#erreurs").await);
    b.visit(&format!("{}/lieux", app.base), "beneficiaire-lieux")
        .await;
    b.fill("#q", "33000").await;
    b.submit_form("form[action='/lieux'] button").await;
    b.check_axe("beneficiaire-lieux-resultats").await;
    assert!(b.page_source().await.contains("Médiathèque Mériadeck"));
    b.assert_no_horizontal_scroll().await;
    // After a session of help paid with the carnet, the person gives their opinion.
    app.redeem(&w.site, pass["vouchers"][4]["code"].as_str().unwrap())
        .await;
    b.visit(
        &format!("{}/avis/{pass_code}", app.base),
        "beneficiaire-avis",
    )
    .await;
    b.click("#r5").await;
    b.submit_form("form button[type=submit]").await;
    b.check_axe("beneficiaire-avis-merci").await;
    assert!(b.page_source().await.contains("Merci"));

    // The distributor agent issues a carnet of 10 and prints it.
    app.person(&w.distributor_id, "agent@ccas.example").await;
    log_in(&b, &app, "agent@ccas.example", "distributeur").await;
    b.check_axe("distributeur-accueil").await;
    b.select("#program_id", &w.program_id).await;
    b.click("#c10").await;
    b.fill("#beneficiary_ref", "CCAS-2026-118").await;
    b.submit_form("form[action='/distributeur/carnets'] button")
        .await;
    b.check_axe("distributeur-carnet").await;
    let source = b.page_source().await;
    assert_eq!(source.matches("class=\"cheque\"").count(), 10);
    b.assert_no_horizontal_scroll().await;
    let url = b.current_url().await;
    let carnet_id = url.rsplit('/').next().unwrap().to_string();
    b.submit_form("form[action$='/annuler'] button").await;
    b.check_axe("distributeur-carnet-annuler-confirmation")
        .await;
    b.submit_form("form.confirm button").await;
    b.check_axe("distributeur-carnet-annule").await;
    assert!(b.page_source().await.contains("Le carnet est annulé"));
    log_out(&b).await;

    // The site agent redeems a cheque by typing its code, then undoes it.
    app.person(&w.site_id, "accueil@mediatheque.example").await;
    log_in(&b, &app, "accueil@mediatheque.example", "lieu").await;
    b.check_axe("lieu-accueil").await;
    b.fill("#code", pass["vouchers"][0]["code"].as_str().unwrap())
        .await;
    b.select("#service", "administrative_procedure").await;
    b.select("#minutes", "90").await;
    b.submit_form("#redeem-form button[type=submit]").await;
    b.check_axe("lieu-recu").await;
    assert!(b
        .text("[role=status]")
        .await
        .contains("Chèque accepté : 10,00 €"));
    b.fill("#code", pass["vouchers"][0]["code"].as_str().unwrap())
        .await;
    b.submit_form("#redeem-form button[type=submit]").await;
    b.check_axe("lieu-deja-utilise").await;
    assert!(b
        .text("#erreurs")
        .await
        .contains("déjà été utilisé le 2 mars 2026"));
    b.submit_form("form[action$='/annuler'] button").await;
    b.check_axe("lieu-annulation-confirmation").await;
    b.submit_form("form.confirm button").await;
    b.check_axe("lieu-annulation").await;
    assert!(b
        .text("[role=status]")
        .await
        .contains("peut de nouveau être utilisé"));
    b.assert_no_horizontal_scroll().await;
    log_out(&b).await;
    assert!(!carnet_id.is_empty());
    b.close().await;
}
