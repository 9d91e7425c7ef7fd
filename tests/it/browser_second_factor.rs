//! The second factor in a real headless Chromium, with axe-core: an operator reaches no money
//! page before a valid code, and a recovery code works once.

use crate::common;

use common::browser::Browser;
use common::{Backend, TestApp, PASSWORD};

const EMAIL: &str = "claire@operateur.example";

async fn password(b: &Browser, app: &TestApp, name: &str) {
    b.visit(&format!("{}/connexion", app.base), name).await;
    b.fill("#email", EMAIL).await;
    b.fill("#password", PASSWORD).await;
    b.submit_form("form[action='/connexion'] button[type=submit]")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operator_enters_a_code_before_any_money_page() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let operator_id = app.operator_org().await.id;
    let role = passnum::users::Role::Admin;
    app.user(&operator_id, EMAIL, "Claire", role, Some(PASSWORD))
        .await;
    let money = format!("{}/operateur/reglements", app.base);

    // First login: set up before anything else, the page checked at both widths.
    password(&b, &app, "2fa-connexion").await;
    assert!(b
        .current_url()
        .await
        .ends_with("/compte/double-authentification"));
    b.check_axe("2fa-mise-en-place").await;
    b.set_window_size(320, 900).await;
    b.check_axe("2fa-mise-en-place-320").await;
    b.assert_no_horizontal_scroll().await;
    b.set_window_size(1280, 900).await;
    b.visit(&money, "2fa-reglements-avant").await;
    assert!(b
        .current_url()
        .await
        .ends_with("/compte/double-authentification"));
    b.second_factor(&app, EMAIL).await;
    assert!(b.current_url().await.ends_with("/operateur"));
    b.submit_form("form.logout button[type=submit]").await;

    // Next login: the code page, and still no money page before the code.
    password(&b, &app, "2fa-connexion-2").await;
    assert!(b.current_url().await.ends_with("/connexion/code"));
    b.check_axe("2fa-code").await;
    b.visit(&money, "2fa-reglements-sans-code").await;
    assert!(b.current_url().await.ends_with("/connexion/code"));
    b.fill("#code", "000000").await;
    b.submit_form("form[action='/connexion/code'] button[type=submit]")
        .await;
    assert!(b.exists("[role=alert]").await);
    b.check_axe("2fa-code-refuse").await;
    // A recovery code, once.
    let recovery = app.authenticators.lock().unwrap()[EMAIL].recovery_codes[0].clone();
    b.fill("#code", &recovery).await;
    b.submit_form("form[action='/connexion/code'] button[type=submit]")
        .await;
    b.visit(&money, "2fa-reglements").await;
    assert!(b.current_url().await.ends_with("/operateur/reglements"));
    // One's sessions and tokens, readable on a phone too.
    b.visit(&format!("{}/compte/sessions", app.base), "sessions")
        .await;
    b.set_window_size(320, 900).await;
    b.check_axe("sessions-320").await;
    b.assert_no_horizontal_scroll().await;
    b.set_window_size(1280, 900).await;
    b.submit_form("form.logout button[type=submit]").await;
    password(&b, &app, "2fa-connexion-3").await;
    b.fill("#code", &recovery).await;
    b.submit_form("form[action='/connexion/code'] button[type=submit]")
        .await;
    assert!(b.exists("[role=alert]").await);
    assert!(b.current_url().await.ends_with("/connexion/code"));
}
