//! Speaking to the pages as a person's browser does without JavaScript: a cookie-keeping
//! client, forms with their CSRF and one-time tokens.

use super::{cookie_client, csrf_of, TestApp, PASSWORD};
use reqwest::StatusCode;

/// A page as the client ended on it (redirections followed).
pub struct Page {
    pub status: StatusCode,
    pub url: String,
    pub html: String,
}

impl Page {
    /// The CSRF token of the page's first form.
    pub fn csrf(&self) -> String {
        csrf_of(&self.html)
    }

    /// The one-time token of the page's forms.
    pub fn once(&self) -> String {
        const MARK: &str = "name=\"once\" value=\"";
        let at = self.html.find(MARK).expect("a form with a one-time token");
        let rest = &self.html[at + MARK.len()..];
        rest[..rest.find('"').expect("closing quote")].to_string()
    }
}

pub async fn get(client: &reqwest::Client, url: &str) -> Page {
    let resp = client.get(url).send().await.expect("sent");
    Page {
        status: resp.status(),
        url: resp.url().to_string(),
        html: resp.text().await.expect("body"),
    }
}

pub async fn post(client: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> Page {
    let resp = client.post(url).form(form).send().await.expect("sent");
    Page {
        status: resp.status(),
        url: resp.url().to_string(),
        html: resp.text().await.expect("body"),
    }
}

/// Someone of the organisation (an administrator), signed in: the client and the CSRF token.
pub async fn signed_in(app: &TestApp, org_id: &str, email: &str) -> (reqwest::Client, String) {
    app.user(
        org_id,
        email,
        "Camille Martin",
        passnum::users::Role::Admin,
        Some(PASSWORD),
    )
    .await;
    let client = cookie_client();
    let login = get(&client, &format!("{}/connexion", app.base)).await;
    let page = post(
        &client,
        &format!("{}/connexion", app.base),
        &[
            ("csrf", &login.csrf()),
            ("email", email),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let csrf = page.csrf();
    (client, csrf)
}
