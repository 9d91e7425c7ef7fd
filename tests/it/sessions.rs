//! A person sees their open sessions and their organisation's API tokens, with their last use,
//! and revokes any of them.

use crate::common;

use common::web::{get, post, signed_in};
use common::{cookie_client, Backend, TestApp};
use jiff::SignedDuration;
use reqwest::StatusCode;

on_both_databases!(sessions_and_tokens_are_listed_and_revocable);

async fn sessions_and_tokens_are_listed_and_revocable(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (distributor_id, token) = app.org("distributor", "CCAS de Bègles").await;
    let email = "direction@ccas-begles.fr";
    let (phone, _) = signed_in(&app, &distributor_id, email).await;
    app.advance(SignedDuration::from_mins(10));
    // The same person on another computer.
    let (desk, _) = {
        let client = cookie_client();
        let login = get(&client, &format!("{}/connexion", app.base)).await;
        let home = post(
            &client,
            &format!("{}/connexion", app.base),
            &[
                ("csrf", &login.csrf()),
                ("email", email),
                ("password", common::PASSWORD),
            ],
        )
        .await;
        assert!(home.url.ends_with("/distributeur"), "{}", home.url);
        (client, home)
    };
    let (status, _) = app.get("/api/v1/passes", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);

    let list = get(&desk, &format!("{}/compte/sessions", app.base)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.html);
    assert_eq!(list.html.matches("/fin\"").count(), 2, "{}", list.html);
    assert!(list.html.contains("(ce navigateur)"));
    // The token, with its last use (recorded in the background), never the token itself.
    assert!(!list.html.contains(&token));
    assert!(list.html.contains("Dernière utilisation"), "{}", list.html);

    // The other session ends: the phone is signed out at once.
    let marker = "(ce navigateur)";
    let forms: Vec<&str> = list
        .html
        .split("<tr>")
        .filter(|row| row.contains("/fin\""))
        .collect();
    let other = forms
        .iter()
        .find(|row| !row.contains(marker))
        .expect("the other session");
    let at = other.find("/compte/sessions/").unwrap() + "/compte/sessions/".len();
    let id = &other[at..at + 16];
    let done = post(
        &desk,
        &format!("{}/compte/sessions/{id}/fin", app.base),
        &[("csrf", &list.csrf())],
    )
    .await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(done.html.matches("/fin\"").count(), 1);
    let gone = get(&phone, &format!("{}/distributeur", app.base)).await;
    assert!(gone.url.ends_with("/connexion"), "{}", gone.url);

    // An administrator revokes the organisation's token: the API refuses it at once.
    let at = done
        .html
        .find("/compte/jetons/")
        .expect("a token to revoke")
        + "/compte/jetons/".len();
    let token_id = done.html[at..at + 16].to_string();
    let revoked = post(
        &desk,
        &format!("{}/compte/jetons/{token_id}/revoquer", app.base),
        &[("csrf", &done.csrf())],
    )
    .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.html);
    assert!(revoked.html.contains("Révoqué le"));
    let (status, _) = app.get("/api/v1/passes", Some(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
