//! The login and account pages in a real Chromium at 1280 and 320 px, with axe-core: back to
//! the page asked for after login, a focus ring that shows on every background, the site's
//! payments, a password reset from its e-mail to its confirmation, and a spent reset link.

use crate::account_pages::{ask_reset, link_sent_to};
use crate::common;

use common::browser::{Browser, PHONE_WIDTH};
use common::{Backend, TestApp, PASSWORD};
use serde_json::{json, Value};

/// Focuses what `css` matches and reads its focus ring: the outline's style, width and
/// colour, the background it is drawn on (the element's own when the ring is inside it, else
/// the first opaque one behind), and their contrast ratio (WCAG's formula).
async fn ring(b: &Browser, css: &str) -> Value {
    b.client()
        .execute(
            "const el = document.querySelector(arguments[0]);
             if (!el) return null;
             el.focus();
             const cs = getComputedStyle(el);
             const rgb = c => {
               const m = c.match(/rgba?\\(([^)]+)\\)/);
               if (!m) return null;
               const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
               return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
             };
             let behind = parseFloat(cs.outlineOffset) < 0 ? el : el.parentElement;
             let bg = null;
             while (behind) {
               const c = rgb(getComputedStyle(behind).backgroundColor);
               if (c && c.a > 0) { bg = c; break; }
               behind = behind.parentElement;
             }
             bg = bg || { r: 255, g: 255, b: 255, a: 1 };
             const lum = c => {
               const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
               return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
             };
             const o = rgb(cs.outlineColor);
             const [x, y] = [lum(o), lum(bg)];
             return {
               focused: document.activeElement === el,
               style: cs.outlineStyle,
               width: parseFloat(cs.outlineWidth),
               outline: cs.outlineColor,
               background: `rgb(${bg.r}, ${bg.g}, ${bg.b})`,
               ratio: (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05),
             };",
            vec![json!(css)],
        )
        .await
        .unwrap_or_else(|e| panic!("cannot focus {css}: {e}"))
}

/// Every kind of control, on every background of the page shown now, has a focus ring of at
/// least 2 px contrasting 3:1 or more with what is behind it.
/// `also`: what this page has besides the header's, a main link and the footer's.
async fn assert_focus_rings_show(b: &Browser, page: &str, also: &[&str]) {
    let every_page = [
        ".skip",
        ".top .brand a",
        ".top nav a",
        ".top button",
        "main a",
        "footer a",
    ];
    for css in every_page.iter().chain(also) {
        let r = ring(b, css).await;
        assert!(!r.is_null(), "{page}: nothing matches {css}");
        assert_eq!(r["focused"], true, "{page}: {css} {r}");
        assert_ne!(r["style"], "none", "{page}: {css} has no ring: {r}");
        assert!(r["width"].as_f64().unwrap() >= 2.0, "{page}: {css} {r}");
        let ratio = r["ratio"].as_f64().unwrap();
        assert!(
            ratio >= 3.0,
            "{page}: {css}'s ring contrasts {ratio:.2}:1 only: {r}"
        );
    }
}

async fn password(b: &Browser, email: &str) {
    b.fill("#email", email).await;
    b.fill("#password", PASSWORD).await;
    b.submit_form("form[action='/connexion'] button[type=submit]")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_leads_back_and_focus_shows_everywhere() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let w = app.world(100_000, 10).await;
    let batch = crate::site_payments::paid_batch(&app, &w).await;
    let line_id = batch["lines"][0]["id"].as_str().unwrap();
    let email = "accueil@lieu.example";
    app.person(&w.site_id, email).await;

    // A deep link, signed out: the login, then that very page.
    let asked = format!("{}/lieu/paiements/{line_id}", app.base);
    b.visit(&asked, "compte-lien-profond-connexion").await;
    assert!(b.current_url().await.contains("/connexion?suite="));
    password(&b, email).await;
    assert_eq!(b.current_url().await, asked);
    b.check_axe("compte-paiement").await;
    assert_focus_rings_show(&b, "paiement", &["main [tabindex='0']"]).await;
    b.visit(&format!("{}/lieu", app.base), "compte-lieu").await;
    let controls = [
        "main button[type=submit]",
        "main summary",
        "main input:not([type=hidden])",
        "main select",
        "main [tabindex='0']",
    ];
    assert_focus_rings_show(&b, "lieu", &controls).await;
    b.visit(&format!("{}/lieu/paiements", app.base), "compte-paiements")
        .await;

    // On a phone.
    let (_, height) = b.window_size().await;
    b.set_window_size(PHONE_WIDTH, height).await;
    b.visit(
        &format!("{}/lieu/paiements", app.base),
        "compte-paiements-320",
    )
    .await;
    b.assert_no_horizontal_scroll().await;
    b.visit(&asked, "compte-paiement-320").await;
    b.assert_no_horizontal_scroll().await;
    assert_focus_rings_show(&b, "paiement à 320 px", &["main [tabindex='0']"]).await;
    b.submit_form("form.logout button[type=submit]").await;
    b.visit(&asked, "compte-lien-profond-connexion-320").await;
    password(&b, email).await;
    assert_eq!(b.current_url().await, asked);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_password_reset_ends_on_a_confirmation_on_a_phone() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let (_, height) = b.window_size().await;
    b.set_window_size(PHONE_WIDTH, height).await;
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let w = app.world(100_000, 10).await;
    let email = "oubli@lieu.example";
    app.person(&w.site_id, email).await;

    b.visit(
        &format!("{}/mot-de-passe-oublie", app.base),
        "reset-demande-320",
    )
    .await;
    ask_reset(&app, email).await;
    let link = link_sent_to(&app, email).await;
    b.visit(&format!("{}{link}", app.base), "reset-formulaire-320")
        .await;
    let new_password = "une toute nouvelle phrase de passe";
    b.fill("#password", new_password).await;
    b.fill("#confirmation", new_password).await;
    b.submit_form("form[action^='/invitation/'] button").await;
    b.check_axe("reset-fait-320").await;
    assert!(b
        .text("[role=status]")
        .await
        .contains("Votre mot de passe est changé"));
    b.fill("#password", new_password).await;
    b.submit_form("form[action='/connexion'] button[type=submit]")
        .await;
    assert!(b.current_url().await.ends_with("/lieu"));
    b.submit_form("form.logout button[type=submit]").await;

    // The link again: spent, and a way to ask a new one with the address filled in.
    b.visit(&format!("{}{link}", app.base), "reset-lien-use-320")
        .await;
    b.submit_form("main a.button").await;
    b.check_axe("reset-nouvelle-demande-320").await;
    assert!(b
        .current_url()
        .await
        .contains("/mot-de-passe-oublie?email="));
    let filled = b
        .client()
        .execute("return document.querySelector('#email').value;", vec![])
        .await
        .unwrap();
    assert_eq!(filled, json!(email));
    b.close().await;
}
