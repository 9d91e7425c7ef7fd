//! The operator's journey in a real headless Chromium, with axe-core (WCAG 2.1 AA) on every page
//! and the main pages checked at 320 pixels wide. One browser for the whole file: each Chromium
//! is heavy on a 2-core machine. The same journey runs over plain HTTP, on both databases, in
//! `web_operator.rs`.

use crate::common;

use common::browser::Browser;
use common::mime;
use common::smtp::SmtpSink;
use common::{Backend, TestApp};
use jiff::SignedDuration;
use passnum::mail::Mailer;
use reqwest::StatusCode;
use serde_json::Value;

const FROM: &str = "Pass numérique <ne-pas-repondre@passnum.example>";
const PASSWORD: &str = "une phrase de passe assez longue";
const OPERATOR_EMAIL: &str = "claire@operateur.example";

async fn create_operator(app: &TestApp) {
    let operator_id = app.operator_org().await.id;
    app.user(
        &operator_id,
        OPERATOR_EMAIL,
        "Claire Opératrice",
        passnum::users::Role::Admin,
        Some(PASSWORD),
    )
    .await;
}

async fn log_in(b: &Browser, app: &TestApp, email: &str, name: &str) {
    b.visit(&format!("{}/connexion", app.base), name).await;
    b.fill("#email", email).await;
    b.fill("#password", PASSWORD).await;
    b.submit_form("form[action='/connexion'] button[type=submit]")
        .await;
    b.second_factor(app, email).await;
}

async fn log_out(b: &Browser) {
    b.submit_form("form.logout button[type=submit]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operator_does_its_job_in_the_browser() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let sink = SmtpSink::start();
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let mailer = Mailer::new(&sink.url, FROM).expect("mailer");
    let w = app.world(100_000, 20).await;
    let pass = app.issue(&w, 5).await;
    let code = |i: usize| pass["vouchers"][i]["code"].as_str().unwrap().to_string();
    create_operator(&app).await;

    // The organisations.
    log_in(&b, &app, OPERATOR_EMAIL, "operateur-connexion").await;
    // The operator's own notice that their second factor is set up: not what this test follows.
    sqlx::query("DELETE FROM outbox")
        .execute(&mut app.raw().await)
        .await
        .unwrap();
    assert!(b.current_url().await.ends_with("/operateur"));
    b.check_axe("operateur-organisations").await;
    b.assert_no_horizontal_scroll().await;

    // A new site: a mistake first, shown with the form kept.
    b.select("#kind", "site").await;
    b.fill("#name", "Espace numérique de Talence").await;
    b.fill("#siret", "12345678901234").await;
    b.fill("#department", "33").await;
    b.fill("#postcode", "33400").await;
    b.submit_form("form[action='/operateur/organisations'] button")
        .await;
    b.check_axe("operateur-organisation-erreur").await;
    assert!(b.text("#erreurs").await.contains("SIRET"));
    b.fill("#siret", "73282932000074").await;
    b.submit_form("form[action='/operateur/organisations'] button")
        .await;
    b.check_axe("operateur-lieu").await;
    b.assert_no_horizontal_scroll().await;
    let site_url = b.current_url().await;
    let site_id = site_url.rsplit('/').next().unwrap().to_string();
    assert!(b.text("h1").await.contains("Espace numérique de Talence"));

    // Qualified for the default year, a token for its software: it redeems.
    b.submit_form("form[action$='/qualification'] button[type=submit]")
        .await;
    b.check_axe("operateur-lieu-qualifie").await;
    assert!(b
        .text("[role=status]")
        .await
        .contains("qualifié jusqu'au 2 mars 2027"));
    b.submit_form("form[action$='/jetons'] button").await;
    b.check_axe("operateur-lieu-jeton").await;
    b.assert_no_horizontal_scroll().await;
    let token = b.text(".token").await.trim().to_string();
    assert!(token.starts_with("pn_"), "{token}");
    let (status, body) = app.redeem(&token, &code(0)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Suspended with a reason: it can no longer redeem.
    b.fill("#reason", "Locaux fermés pour travaux").await;
    b.submit_form("button.danger").await;
    b.check_axe("operateur-lieu-suspendu").await;
    assert!(b.text("[role=status]").await.contains("est suspendu"));
    assert!(b.page_source().await.contains("Locaux fermés pour travaux"));
    let (status, body) = app.redeem(&token, &code(1)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // An invitation to the distributor's space.
    b.visit(
        &format!("{}/operateur/organisations/{}", app.base, w.distributor_id),
        "operateur-distributeur",
    )
    .await;
    b.fill("#name", "Lou Bernard").await;
    b.fill("#email", "lou@ccas.example").await;
    b.click("#role-admin").await;
    b.submit_form("form[action$='/invitations'] button").await;
    b.check_axe("operateur-invitation-envoyee").await;
    assert!(b
        .text("[role=status]")
        .await
        .contains("Invitation envoyée à Lou Bernard"));
    assert_eq!(
        passnum::mail::deliver_due(&app.state.db, &mailer, app.now())
            .await
            .expect("delivery"),
        1
    );
    let received = sink.wait_for(1).await;
    let text = mime::parts(&received[0].data)
        .iter()
        .find(|p| p.media_type() == "text/plain")
        .expect("text part")
        .text();
    let prefix = format!("{}/invitation/", app.state.config.public_url);
    let at = text.find(&prefix).expect("link");
    let invitation: String = text[at + prefix.len()..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    log_out(&b).await;

    // The invited person chooses a password, logs in, and is no operator.
    b.visit(
        &format!("{}/invitation/{invitation}", app.base),
        "operateur-invite-mot-de-passe",
    )
    .await;
    b.fill("#password", PASSWORD).await;
    b.fill("#confirmation", PASSWORD).await;
    b.submit_form("form[action^='/invitation/'] button").await;
    assert!(b
        .current_url()
        .await
        .contains("/connexion?fait=mot-de-passe"));
    b.fill("#email", "lou@ccas.example").await;
    b.fill("#password", PASSWORD).await;
    b.submit_form("form[action='/connexion'] button[type=submit]")
        .await;
    assert!(b.current_url().await.ends_with("/distributeur"));
    b.check_axe("operateur-invite-accueil").await;
    b.visit(&format!("{}/operateur", app.base), "operateur-refuse")
        .await;
    assert!(b.exists("[role=alert]").await);
    log_out(&b).await;

    // The audit trail, filtered on the site's qualification.
    log_in(&b, &app, OPERATOR_EMAIL, "operateur-reconnexion").await;
    b.visit(
        &format!("{}/operateur/journal", app.base),
        "operateur-journal",
    )
    .await;
    b.assert_no_horizontal_scroll().await;
    assert!(b.page_source().await.contains("Personne invitée"));
    b.select("#f-action", "site.").await;
    b.fill("#f-sujet", &site_id).await;
    b.submit_form("form.filters button[type=submit]").await;
    b.check_axe("operateur-journal-filtre").await;
    let source = b.page_source().await;
    assert!(source.contains("Lieu suspendu"));
    assert!(!source.contains("Personne invitée"));

    // Settlement: nothing yet, then a batch from preparation to payment.
    let (status, body) = app.redeem(&w.site, &code(2)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    b.visit(
        &format!("{}/operateur/reglements", app.base),
        "operateur-reglements",
    )
    .await;
    b.submit_form("form[action='/operateur/reglements'] button")
        .await;
    b.check_axe("operateur-reglements-rien").await;
    assert!(b
        .text("[role=alert]")
        .await
        .contains("Aucun encaissement à régler"));
    app.bank(&w.site_id, &w.site).await;
    app.advance(SignedDuration::from_hours(49));
    // Sessions last 12 hours.
    log_in(&b, &app, OPERATOR_EMAIL, "operateur-reconnexion-2").await;
    b.visit(
        &format!("{}/operateur/reglements", app.base),
        "operateur-reglements-2",
    )
    .await;
    b.assert_no_horizontal_scroll().await;
    b.submit_form("form[action='/operateur/reglements'] button")
        .await;
    b.check_axe("operateur-lot").await;
    b.assert_no_horizontal_scroll().await;
    let batch_url = b.current_url().await;
    assert!(b.page_source().await.contains("Médiathèque Mériadeck"));
    b.submit_form("form[action$='/approuver'] button").await;
    b.submit_form("form.confirm button").await;
    b.check_axe("operateur-lot-approuve").await;

    // The transfers go to the bank; then the file, as the link would download it (a real
    // download would leave the page).
    b.submit_form("form[action$='/sepa'] button").await;
    b.submit_form("form.confirm button").await;
    b.check_axe("operateur-lot-fichier").await;
    let answer = b
        .client()
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(document.querySelector('#sepa-file').href)
               .then(r => r.text().then(t => done([r.status, r.headers.get('content-type') || '',
                                                   r.headers.get('content-disposition') || '', t])))
               .catch(e => done([0, String(e), '', '']));",
            vec![],
        )
        .await
        .expect("download");
    let field = |i: usize| answer[i].as_str().unwrap_or_default().to_string();
    assert_eq!(answer[0], Value::from(200), "{answer}");
    assert!(field(1).starts_with("application/xml"), "{answer}");
    assert!(field(2).starts_with("attachment"), "{answer}");
    assert!(field(3).contains("pain.001.001.09"));

    b.visit(&batch_url, "operateur-lot-exporte").await;
    assert!(b.text("#batch-status").await.contains("envoyé à la banque"));
    b.submit_form("form[action$='/payer'] button").await;
    b.submit_form("form.confirm button").await;
    b.check_axe("operateur-lot-paye").await;
    assert!(b.text("#batch-status").await.contains("Payé"));
    b.fill("#reason", "Compte clos").await;
    b.submit_form("form[action$='/rejets'] button").await;
    b.submit_form("form.confirm button").await;
    b.check_axe("operateur-lot-rejet").await;
    b.assert_no_horizontal_scroll().await;
    assert!(b
        .page_source()
        .await
        .contains("Rejeté par la banque : Compte clos"));
    b.close().await;
}
