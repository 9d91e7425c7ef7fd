//! The site's catalogue page and the redemption of several cheques for one session, in a real
//! headless Chromium with axe-core (WCAG 2.1 AA) on every page visited, and the public directory
//! showing that offer.

use crate::common;

use common::browser::Browser;
use common::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn site_publishes_a_service_and_redeems_a_session_in_the_browser() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let w = app.world(100_000, 10).await;
    let pass = app.issue(&w, 5).await;
    let code = |i: usize| pass["vouchers"][i]["code"].as_str().unwrap().to_string();
    app.person(&w.site_id, "accueil@mediatheque.example").await;
    b.visit(&format!("{}/connexion", app.base), "catalogue-connexion")
        .await;
    b.fill("#email", "accueil@mediatheque.example").await;
    b.fill("#password", common::PASSWORD).await;
    b.submit_form("form[action='/connexion'] button[type=submit]")
        .await;

    b.visit(&format!("{}/lieu/catalogue", app.base), "lieu-catalogue")
        .await;
    b.check_axe("lieu-catalogue").await;
    b.assert_no_horizontal_scroll().await;
    b.click("details summary").await;
    b.fill("#title-1", "Atelier tablette").await;
    b.select("#kind-1", "workshop").await;
    b.fill("#description-1", "En petit groupe, tablettes prêtées.")
        .await;
    b.click("#theme-1-device").await;
    b.select("#minutes-1", "120").await;
    b.fill("#price-1", "2").await;
    b.submit_form("form[action='/lieu/catalogue'] button[type=submit]")
        .await;
    b.check_axe("lieu-catalogue-ajoute").await;
    assert!(b.text("[role=status]").await.contains("Atelier tablette"));
    b.assert_no_horizontal_scroll().await;

    let edit = b.find("a[href$='/modifier']").await;
    let edit = edit
        .attr("href")
        .await
        .unwrap()
        .expect("a link to change it");
    b.visit(&format!("{}{edit}", app.base), "lieu-catalogue-modifier")
        .await;
    b.check_axe("lieu-catalogue-modifier").await;
    b.assert_no_horizontal_scroll().await;

    // On a phone, the code field is on the first screen, under the header.
    let before = b.window_size().await;
    b.set_window_size(320, 700).await;
    b.visit(&format!("{}/lieu", app.base), "lieu-seance-320")
        .await;
    let v = b
        .client()
        .execute(
            "return [document.querySelector('#code').getBoundingClientRect().bottom, window.innerHeight];",
            vec![],
        )
        .await
        .expect("measured");
    let (bottom, height) = (v[0].as_f64().unwrap(), v[1].as_f64().unwrap());
    assert!(
        bottom <= height,
        "the code field ends at {bottom} px, the screen at {height}"
    );
    b.set_window_size(before.0, before.1).await;
    b.visit(&format!("{}/lieu", app.base), "lieu-seance").await;
    b.fill("#code", &code(0)).await;
    b.click("#redeem-form details summary").await;
    b.fill("#code-2", &code(1)).await;
    let service = b.find("#service optgroup + optgroup option").await;
    let service = service
        .attr("value")
        .await
        .unwrap()
        .expect("a catalogue service");
    b.select("#service", &service).await;
    // The themes are optional: behind a disclosure, so that the button stays near the code.
    b.click("details:has(#theme-email) > summary").await;
    b.click("#theme-email").await;
    b.submit_form("#redeem-form button[type=submit]").await;
    // The catalogue service costs 2 cheques, 2 were given; its usual duration applies.
    b.check_axe("lieu-seance-recu").await;
    let receipt = b.text("[role=status]").await;
    assert!(
        // WebDriver reads a no-break space as a space.
        receipt.contains("Chèques acceptés (2) : 20,00 €"),
        "{receipt}"
    );
    assert!(receipt.contains(&code(1)), "{receipt}");
    assert!(
        receipt.contains("Atelier collectif, 2 h, thèmes : Courriels"),
        "{receipt}"
    );
    b.assert_no_horizontal_scroll().await;

    // The public directory lists the place's offer.
    b.visit(&format!("{}/lieux?q=33000", app.base), "annuaire-catalogue")
        .await;
    b.check_axe("annuaire-catalogue").await;
    assert!(b
        .page_source()
        .await
        .contains("Atelier tablette : atelier collectif, 2 h, 2 chèques."));
    b.assert_no_horizontal_scroll().await;
    b.close().await;
}
