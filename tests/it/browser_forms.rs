//! Forms that help, in a real headless Chromium at 320 and 1280 pixels, with axe-core on every
//! page: a refused form opens with the focus on its error summary (no script: `autofocus`), the
//! application form walked step by step to its recap and sent, the follow-up link shown; the
//! same summary on the balance and login pages. Over plain HTTP: `forms.rs`.

use crate::common;

use common::browser::Browser;
use common::{Backend, TestApp};
use serde_json::Value;
use std::time::Duration;

/// The id of the element that has the focus, once the page has applied `autofocus`.
async fn focused(b: &Browser) -> String {
    let mut id = String::new();
    for _ in 0..40 {
        let answer = b
            .client()
            .execute(
                "return document.activeElement && document.activeElement.id;",
                vec![],
            )
            .await
            .expect("script");
        id = match answer {
            Value::String(s) => s,
            _ => String::new(),
        };
        if id == "erreurs" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    id
}

async fn walk_to_the_recap(b: &Browser, app: &TestApp, width: u32, org: &str, siret: &str) {
    b.set_window_size(width, 900).await;
    b.visit(
        &format!("{}/candidature", app.base),
        &format!("formulaire-etape-1-{width}"),
    )
    .await;
    // Sent empty: the summary takes the focus and lists both mistakes.
    b.submit_form("button[value='suivant']").await;
    b.check_axe(&format!("formulaire-etape-1-erreurs-{width}"))
        .await;
    assert_eq!(focused(b).await, "erreurs");
    assert!(b.text("#erreurs").await.contains("2 erreurs à corriger"));
    assert!(b.exists("#siret[aria-invalid='true']").await);

    b.fill("#org_name", org).await;
    b.fill("#siret", siret).await;
    b.submit_form("button[value='suivant']").await;
    b.check_axe(&format!("formulaire-etape-2-{width}")).await;
    assert!(b.page_source().await.contains("Étape 2 sur 4"));
    b.fill("#contact_name", "Léa Dupont").await;
    b.fill("#contact_email", "lea.dupont@clic.example").await;
    b.fill("#contact_phone", "05 56 00 00 00").await;
    b.fill("#legal_name", "Marc Durand").await;
    b.fill("#legal_role", "Président").await;
    b.submit_form("button[value='suivant']").await;
    b.check_axe(&format!("formulaire-etape-3-{width}")).await;
    b.fill("#lieu-0-nom", "Médiathèque Jean-Moulin").await;
    b.fill("#lieu-0-adresse", "1 rue de la Paix").await;
    b.fill("#lieu-0-code_postal", "3300").await; // one digit short
    b.fill("#lieu-0-commune", "Bordeaux").await;
    b.submit_form("button[value='suivant']").await;
    // Every mistake of the step at once: the postcode and the five unanswered questions.
    b.check_axe(&format!("formulaire-etape-3-erreurs-{width}"))
        .await;
    assert_eq!(focused(b).await, "erreurs");
    assert!(b.text("#erreurs").await.contains("6 erreurs à corriger"));
    assert!(b.exists("#lieu-0-code_postal[aria-invalid='true']").await);
    b.fill("#lieu-0-code_postal", "33000").await;
    for q in ["q-public", "q-trained", "q-open", "q-no-sale", "q-free"] {
        b.click(&format!("label[for='q-{q}-oui']")).await;
    }
    b.submit_form("button[value='suivant']").await;
    b.check_axe(&format!("formulaire-etape-4-{width}")).await;
    b.fill("#iban", "FR14 2004 1010 0505 0001 3M02 606").await;
    b.fill("#holder", org).await;
    b.click("label[for='charte']").await;
    b.submit_form("button[value='suivant']").await;
    b.check_axe(&format!("formulaire-recapitulatif-{width}"))
        .await;
    assert!(b.page_source().await.contains("Vérifiez votre candidature"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forms_take_the_focus_to_their_mistakes_and_the_application_walks_its_steps() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");

    walk_to_the_recap(&b, &app, 320, "Association Clic", "732 829 320 00074").await;
    // "Modifier" goes back to the step, everything kept; then the recap again, and send.
    b.submit_form("button[value='etape_1']").await;
    assert!(b.page_source().await.contains("Association Clic"));
    for _ in 0..4 {
        b.submit_form("button[value='suivant']").await;
    }
    b.submit_form("button[value='envoyer']").await;
    b.check_axe("formulaire-envoye-320").await;
    assert!(b
        .current_url()
        .await
        .contains("/candidature/envoyee?suivi="));
    b.submit_form("#lien-suivi").await;
    b.check_axe("formulaire-suivi-320").await;
    assert!(b.text("#etat").await.contains("Candidature reçue"));

    // The same SIRET again, at 1280: refused from the first step, with what to do.
    b.set_window_size(1280, 900).await;
    b.visit(&format!("{}/candidature", app.base), "formulaire-doublon")
        .await;
    b.fill("#org_name", "Clic bis").await;
    b.fill("#siret", "73282932000074").await;
    b.submit_form("button[value='suivant']").await;
    b.check_axe("formulaire-doublon-erreur-1280").await;
    assert_eq!(focused(&b).await, "erreurs");
    assert!(b.text("#erreurs").await.contains("déjà en cours d'examen"));
    walk_to_the_recap(&b, &app, 1280, "Espace Bègles", "552 032 534 00646").await;

    // The balance and the login: the same summary, focused.
    for width in [320, 1280] {
        b.set_window_size(width, 900).await;
        b.visit(
            &format!("{}/solde?code=XXXX", app.base),
            &format!("solde-erreur-{width}"),
        )
        .await;
        assert_eq!(focused(&b).await, "erreurs");
        assert!(b.exists("#code[aria-invalid='true']").await);
        b.visit(
            &format!("{}/connexion", app.base),
            &format!("connexion-{width}"),
        )
        .await;
        b.fill("#email", "personne@exemple.fr").await;
        b.fill("#password", "pas le bon mot de passe").await;
        b.submit_form("form[action='/connexion'] button[type=submit]")
            .await;
        b.check_axe(&format!("connexion-erreur-{width}")).await;
        assert_eq!(focused(&b).await, "erreurs");
        assert!(b.exists("#email[aria-invalid='true']").await);
    }
    b.close().await;
}
