//! The error pages and the legal pages in a real headless Chromium, with axe-core (WCAG 2.1
//! AA), at 1280 and 320 pixels wide, and the footer's legal links on a public page and on a
//! signed-in person's page.

use crate::common;

use common::browser::Browser;
use common::{Backend, TestApp, PASSWORD};

const FOOTER_LINKS: [&str; 5] = [
    "/accessibilite",
    "/mentions-legales",
    "/donnees-personnelles",
    "/plan-du-site",
    "/glossaire",
];

/// Visits `path` at both widths: no accessibility violation, nothing wider than the screen.
async fn at_both_widths(b: &Browser, app: &TestApp, path: &str, name: &str) {
    for (width, suffix) in [(1280, ""), (320, "-320")] {
        b.set_window_size(width, 900).await;
        b.visit(&format!("{}{path}", app.base), &format!("{name}{suffix}"))
            .await;
        b.assert_no_horizontal_scroll().await;
    }
}

async fn assert_footer_links(b: &Browser, what: &str) {
    for href in FOOTER_LINKS {
        assert!(
            b.exists(&format!("footer a[href='{href}']")).await,
            "{what}: no footer link to {href}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn error_and_legal_pages_are_readable_and_accessible() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    for (path, name) in [
        ("/nimporte-quoi", "error-404"),
        ("/lieu/nimporte", "error-404-likely-page"),
        ("/lieu/encaisser", "error-405"),
        ("/lieu", "login-offers-the-finder"),
        ("/accessibilite", "legal-accessibility"),
        ("/mentions-legales", "legal-notice"),
        ("/donnees-personnelles", "legal-personal-data"),
        ("/plan-du-site", "legal-site-map"),
        ("/glossaire", "legal-glossary"),
    ] {
        at_both_widths(&b, &app, path, name).await;
    }
    b.visit(&format!("{}/lieu/encaisser", app.base), "error-405-again")
        .await;
    assert!(b.text("h1").await.contains("ne s'ouvre pas directement"));

    b.set_window_size(1280, 900).await;
    b.visit(&format!("{}/", app.base), "footer-public").await;
    assert_footer_links(&b, "home").await;

    let (distributor_id, _) = app.org("distributor", "CCAS de Bordeaux").await;
    app.user(
        &distributor_id,
        "agent@ccas.example",
        "Lou Agent",
        passnum::users::Role::Admin,
        Some(PASSWORD),
    )
    .await;
    b.visit(&format!("{}/connexion", app.base), "footer-login")
        .await;
    b.fill("#email", "agent@ccas.example").await;
    b.fill("#password", PASSWORD).await;
    b.submit_form("form[action='/connexion'] button[type=submit]")
        .await;
    assert!(b.current_url().await.ends_with("/distributeur"));
    b.check_axe("footer-signed-in").await;
    assert_footer_links(&b, "distributor's home").await;
}
