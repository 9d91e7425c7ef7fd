//! ProConnect in a real headless Chromium, with axe-core, against the loopback OpenID provider:
//! an agent's login makes a membership request, an administrator approves it, the agent logs in.

use crate::common;
use crate::proconnect::with_provider;

use common::browser::Browser;
use common::{Backend, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn agent_asks_administrator_approves_agent_logs_in() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let Some((app, provider)) = with_provider(Backend::Sqlite).await else {
        return;
    };
    let (distributor_id, _) = app.org("distributor", "CCAS de Bègles").await;
    let admin = "direction@ccas-begles.fr";
    let role = passnum::users::Role::Admin;
    app.user(&distributor_id, admin, "Nora Admin", role, Some(PASSWORD))
        .await;
    provider
        .person("agent-7", "lea.dupont@ccas-begles.fr", "")
        .await;

    // The agent goes through ProConnect and asks to join.
    b.visit(&format!("{}/connexion", app.base), "proconnect-connexion")
        .await;
    b.submit_form("a[href='/connexion/proconnect']").await;
    assert!(b
        .current_url()
        .await
        .contains("/connexion/proconnect/retour"));
    b.check_axe("proconnect-rejoindre").await;
    b.submit_form("form[action='/connexion/proconnect/rejoindre'] button")
        .await;
    assert!(b.exists("[role=status]").await);
    b.check_axe("proconnect-demande-envoyee").await;

    // The administrator approves.
    b.visit(&format!("{}/connexion", app.base), "proconnect-admin")
        .await;
    b.fill("#email", admin).await;
    b.fill("#password", PASSWORD).await;
    b.submit_form("form[action='/connexion'] button[type=submit]")
        .await;
    b.visit(
        &format!("{}/compte/demandes", app.base),
        "proconnect-demandes",
    )
    .await;
    b.submit_form("button[value=accepter]").await;
    assert!(!b.page_source().await.contains("lea.dupont@ccas-begles.fr"));
    b.submit_form("form.logout button[type=submit]").await;

    // The agent logs in.
    b.visit(&format!("{}/connexion", app.base), "proconnect-connexion-2")
        .await;
    b.submit_form("a[href='/connexion/proconnect']").await;
    assert!(b.current_url().await.ends_with("/distributeur"));
    b.check_axe("proconnect-agent-accueil").await;
}
