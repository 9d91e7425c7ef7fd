//! Logging in with ProConnect against a real OpenID provider on loopback (`oidc-provider`):
//! an agent matched by their e-mail domain asks to join, an administrator approves, the agent
//! logs in; the provider's keys rotate; logout ends both sessions; forged ID tokens (signature,
//! audience, nonce, expiry) and a forged `state` are refused.

use crate::common;

use common::oidc::{OidcProvider, CLIENT_ID, CLIENT_SECRET};
use common::web::{get, post, signed_in, Page};
use common::{Backend, TestApp};
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;

on_both_databases!(agent_joins_then_logs_in_with_proconnect);

/// The app, with ProConnect pointing at a provider started for it.
pub async fn with_provider(backend: Backend) -> Option<(TestApp, OidcProvider)> {
    let port = OidcProvider::free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let app = TestApp::spawn_with_base(backend, |c, base| {
        c.public_url = base.to_string();
        c.proconnect_issuer = Some(issuer);
        c.proconnect_client_id = Some(CLIENT_ID.into());
        c.proconnect_client_secret = Some(CLIENT_SECRET.into());
    })
    .await?;
    let provider = OidcProvider::start(port, &app.base)?;
    // ID tokens are checked at the app's clock: bring it to the provider's (real) time.
    let late = Timestamp::now().as_second() - app.now().as_second();
    app.advance(SignedDuration::from_secs(late));
    Some((app, provider))
}

/// A browser without JavaScript: cookies, and the redirections of a login through the
/// provider (its login and consent steps each go and come back).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::limited(20))
        .build()
        .expect("client")
}

fn value_after<'a>(html: &'a str, mark: &str) -> &'a str {
    let at = html
        .find(mark)
        .unwrap_or_else(|| panic!("{mark} in {html}"))
        + mark.len();
    let rest = &html[at..];
    &rest[..rest.find('"').expect("closing quote")]
}

async fn proconnect(app: &TestApp, client: &reqwest::Client) -> Page {
    get(client, &format!("{}/connexion/proconnect", app.base)).await
}

async fn agent_joins_then_logs_in_with_proconnect(backend: Backend) {
    let Some((app, provider)) = with_provider(backend).await else {
        return;
    };
    let (distributor_id, _) = app.org("distributor", "CCAS de Bègles").await;
    let (admin, _) = signed_in(&app, &distributor_id, "direction@ccas-begles.fr").await;
    let login = get(&browser(), &format!("{}/connexion", app.base)).await;
    assert!(login.html.contains("S'identifier avec ProConnect"));

    // Unknown here, but the domain of her address is the CCAS's: offered to join it.
    provider
        .person("agent-42", "lea.dupont@ccas-begles.fr", "")
        .await;
    let agent = browser();
    let offer = proconnect(&app, &agent).await;
    assert_eq!(offer.status, StatusCode::OK, "{}", offer.html);
    assert!(
        offer.html.contains("Rejoindre CCAS de Bègles"),
        "{}",
        offer.html
    );
    let request = value_after(&offer.html, "name=\"request\" value=\"").to_string();
    let asked = post(
        &agent,
        &format!("{}/connexion/proconnect/rejoindre", app.base),
        &[("csrf", &offer.csrf()), ("request", &request)],
    )
    .await;
    assert!(asked.html.contains("Demande envoyée"), "{}", asked.html);
    let mails = app.outbox_subjects().await;
    assert!(mails
        .iter()
        .any(|(to, subject)| to == "direction@ccas-begles.fr" && subject.contains("rejoindre")));
    // Not yet approved: the next login offers again, nothing opens.
    assert!(get(&agent, &format!("{}/distributeur", app.base))
        .await
        .url
        .ends_with("/connexion"));

    // The administrator approves.
    let list = get(&admin, &format!("{}/compte/demandes", app.base)).await;
    assert!(
        list.html.contains("lea.dupont@ccas-begles.fr"),
        "{}",
        list.html
    );
    let decided = post(
        &admin,
        &format!("{}/compte/demandes/{request}", app.base),
        &[("csrf", &list.csrf()), ("decision", "accepter")],
    )
    .await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.html);
    assert!(!decided.html.contains("lea.dupont@ccas-begles.fr"));
    assert!(app
        .journal(&distributor_id)
        .await
        .contains(&"membership.approved".to_string()));

    // She logs in.
    let home = proconnect(&app, &agent).await;
    assert!(
        home.url.ends_with("/distributeur"),
        "{}: {}",
        home.url,
        home.html
    );

    // Logging out ends both sessions: passnum's, then the provider's end-session page.
    let out = post(
        &agent,
        &format!("{}/deconnexion", app.base),
        &[("csrf", &home.csrf())],
    )
    .await;
    assert!(
        out.url
            .starts_with(&format!("{}/session/end", provider.issuer)),
        "{}",
        out.url
    );
    assert!(get(&agent, &format!("{}/distributeur", app.base))
        .await
        .url
        .ends_with("/connexion"));

    // The provider's keys rotate: the old one is gone, the next login is checked with the new.
    // It started from a page asked for: it lands there.
    assert_eq!(provider.rotate_keys().await, "k2");
    let client = browser();
    let asked = get(&client, &format!("{}/compte/sessions", app.base)).await;
    assert!(
        asked.url.contains("suite=%2Fcompte%2Fsessions"),
        "{}",
        asked.url
    );
    let home = get(
        &client,
        &format!("{}/connexion/proconnect?suite=/compte/sessions", app.base),
    )
    .await;
    assert!(
        home.url.ends_with("/compte/sessions"),
        "{}: {}",
        home.url,
        home.html
    );

    // Forged ID tokens are refused, and open nothing.
    for how in ["signature", "audience", "nonce", "expired"] {
        provider.forge_next(how).await;
        let client = browser();
        let refused = proconnect(&app, &client).await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{how}: {}",
            refused.html
        );
        assert!(refused.html.contains("pas pu être vérifiée"), "{how}");
        let space = get(&client, &format!("{}/distributeur", app.base)).await;
        assert!(space.url.ends_with("/connexion"), "{how}: {}", space.url);
    }
    let refusals =
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'login.proconnect_refused'");
    assert_eq!(refusals.await, 4);
    // A callback with a state this app never sent.
    let forged = get(
        &browser(),
        &format!(
            "{}/connexion/proconnect/retour?code=abc&state=forged",
            app.base
        ),
    )
    .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST, "{}", forged.html);
}
