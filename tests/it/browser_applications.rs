//! Applying in a real headless Chromium, with axe-core (WCAG 2.1 AA) on every page and the form
//! checked at 320 pixels wide: a mistake shown with the form kept, the four steps, a second place
//! added without JavaScript, the recap, the application sent, then the follow-up page from the e-mailed link, with the
//! operator's request for changes and the corrected application sent again. The same steps run
//! over plain HTTP, on both databases, in `applications.rs`.

use crate::common;

use common::browser::Browser;
use common::{Backend, TestApp};

async fn fill_place(
    b: &Browser,
    i: usize,
    name: &str,
    address: &str,
    postcode: &str,
    commune: &str,
) {
    b.fill(&format!("#lieu-{i}-nom"), name).await;
    b.fill(&format!("#lieu-{i}-adresse"), address).await;
    b.fill(&format!("#lieu-{i}-code_postal"), postcode).await;
    b.fill(&format!("#lieu-{i}-commune"), commune).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_structure_applies_and_follows_its_application() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");

    b.visit(&format!("{}/", app.base), "candidature-accueil")
        .await;
    b.submit_form("a[href='/candidature']").await;
    b.check_axe("candidature-formulaire").await;
    b.set_window_size(320, 800).await;
    b.assert_no_horizontal_scroll().await;
    b.set_window_size(1280, 900).await;

    // Step 1, with a wrong SIRET: refused before the next step, the form kept.
    b.fill("#org_name", "Association Clic").await;
    b.fill("#siret", "73282932000075").await; // wrong check digit
    b.submit_form("button[value='suivant']").await;
    b.check_axe("candidature-erreur").await;
    assert!(b
        .text("#erreurs")
        .await
        .contains("Le numéro SIRET doit compter 14 chiffres"));
    // The summary's link leads to the field.
    assert!(b.exists("#erreurs a[href='#siret']").await);
    b.fill("#siret", "732 829 320 00074").await;
    b.submit_form("button[value='suivant']").await;

    b.fill("#contact_name", "Léa Dupont").await;
    b.fill("#contact_email", "lea.dupont@clic.example").await;
    b.fill("#contact_phone", "05 56 00 00 00").await;
    b.fill("#legal_name", "Marc Durand").await;
    b.fill("#legal_role", "Président").await;
    b.submit_form("button[value='suivant']").await;

    fill_place(
        &b,
        0,
        "Médiathèque Jean-Moulin",
        "1 rue de la Paix",
        "33000",
        "Bordeaux",
    )
    .await;
    // A second place, without JavaScript: the form comes back with one more block.
    b.submit_form("button[value='ajouter_lieu']").await;
    b.check_axe("candidature-deux-lieux").await;
    fill_place(
        &b,
        1,
        "Espace numérique de Bègles",
        "5 place du Marché",
        "33130",
        "Bègles",
    )
    .await;
    for q in ["q-public", "q-trained", "q-open", "q-no-sale", "q-free"] {
        b.click(&format!("label[for='q-{q}-oui']")).await;
    }
    b.submit_form("button[value='suivant']").await;

    b.fill("#iban", "FR14 2004 1010 0505 0001 3M02 606").await;
    b.fill("#holder", "Association Clic").await;
    b.click("label[for='charte']").await;
    b.submit_form("button[value='suivant']").await;
    b.check_axe("candidature-recapitulatif").await;
    b.submit_form("button[value='envoyer']").await;
    let page = b.check_axe("candidature-envoyee").await;
    assert!(
        page.url.contains("/candidature/envoyee?suivi="),
        "{}",
        page.url
    );

    // The link from the e-mail.
    let mut conn = app.state.db.read().await.expect("conn");
    let text: String = sqlx::query_scalar("SELECT text_body FROM outbox")
        .fetch_one(&mut *conn)
        .await
        .expect("the acknowledgement");
    let (id, places): (String, i64) = (
        sqlx::query_scalar("SELECT id FROM applications")
            .fetch_one(&mut *conn)
            .await
            .expect("application"),
        sqlx::query_scalar("SELECT COUNT(*) FROM application_places")
            .fetch_one(&mut *conn)
            .await
            .expect("places"),
    );
    drop(conn);
    assert_eq!(places, 2);
    // The e-mail names the configured public address; the test server has its own port.
    let at = text
        .find("/candidature/suivi/")
        .expect("the follow-up link");
    let path = text[at..].split_whitespace().next().expect("path");
    let link = format!("{}{path}", app.base);
    b.visit(&link, "candidature-suivi-recue").await;
    assert!(b.text("#etat").await.contains("Candidature reçue"));

    b.visit(
        &format!("{}/candidature/charte", app.base),
        "candidature-charte",
    )
    .await;

    // The operator asks for changes (its own pages are tested elsewhere).
    let (operator, config, now) = (
        app.operator_org().await.id,
        app.state.config.clone(),
        app.now(),
    );
    let application = id.clone();
    app.write(move |tx| {
        Box::pin(async move {
            passnum::sites::applications::request_changes(
                tx,
                &config,
                &operator,
                &application,
                "Précisez l'adresse du lieu n° 2, avec le numéro.",
                now,
            )
            .await
        })
    })
    .await
    .expect("changes requested");

    b.visit(&link, "candidature-suivi-modifications").await;
    assert!(b.text("#etat").await.contains("Modifications demandées"));
    assert!(b.page_source().await.contains("Précisez l"));
    b.set_window_size(320, 800).await;
    b.assert_no_horizontal_scroll().await;
    b.set_window_size(1280, 900).await;
    b.fill("#lieu-1-adresse", "5 bis place du Marché").await;
    // The charter, accepted when the application was sent, stays ticked.
    assert!(b.exists("#charte:checked").await);
    b.submit_form("button[value='envoyer']").await;
    b.check_axe("candidature-suivi-renvoyee").await;
    assert!(b.text("#etat").await.contains("Candidature reçue"));
    assert!(b
        .page_source()
        .await
        .contains("Votre candidature corrigée est envoyée"));

    // The operator's pages: the list, the application, the questionnaire, then qualification.
    app.user(
        &app.operator_org().await.id,
        "claire@operateur.example",
        "Claire Opératrice",
        passnum::users::Role::Admin,
        Some(common::PASSWORD),
    )
    .await;
    b.visit(&format!("{}/connexion", app.base), "operateur-connexion")
        .await;
    b.fill("#email", "claire@operateur.example").await;
    b.fill("#password", common::PASSWORD).await;
    b.submit_form("form[action='/connexion'] button[type=submit]")
        .await;
    b.second_factor(&app, "claire@operateur.example").await;
    b.visit(
        &format!("{}/operateur/candidatures", app.base),
        "operateur-candidatures",
    )
    .await;
    b.submit_form(&format!("a[href='/operateur/candidatures/{id}']"))
        .await;
    b.check_axe("operateur-candidature").await;
    b.set_window_size(320, 800).await;
    b.assert_no_horizontal_scroll().await;
    b.set_window_size(1280, 900).await;
    b.submit_form("form[action$='/qualification'] button").await;
    b.check_axe("operateur-candidature-qualifiee").await;
    assert!(b.page_source().await.contains("La structure est qualifiée"));
    b.visit(
        &format!("{}/operateur/questionnaire", app.base),
        "operateur-questionnaire",
    )
    .await;
    let mut conn = app.state.db.read().await.expect("conn");
    let site: String = sqlx::query_scalar("SELECT site_org_id FROM applications")
        .fetch_one(&mut *conn)
        .await
        .expect("site");
    drop(conn);
    b.visit(
        &format!(
            "{}/operateur/organisations/{site}/disqualification",
            app.base
        ),
        "operateur-disqualification",
    )
    .await;
    b.close().await;
}
