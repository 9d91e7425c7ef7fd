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
    let page = second_factor(app, &client, email, &page.html)
        .await
        .unwrap_or(page);
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let csrf = page.csrf();
    (client, csrf)
}

/// Text between `start` and the next `end`, from `from` on.
fn between<'a>(html: &'a str, start: &str, end: &str, from: usize) -> Option<(&'a str, usize)> {
    let at = html[from..].find(start)? + from + start.len();
    let stop = html[at..].find(end)? + at;
    Some((&html[at..stop], stop))
}

/// After the password: sets up the second factor when the login asks for it (as an operator or
/// a funder does at first login: the key read from the page, the code typed, the recovery codes
/// kept), or types the code; then the person's space. None when the page reached after the
/// password (its HTML) asks for neither.
pub async fn second_factor(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    html: &str,
) -> Option<Page> {
    if let Some((secret, _)) = between(html, "id=\"totp-secret\">", "<", 0) {
        let secret: String = secret.split_whitespace().collect();
        let code = passnum::users::totp::code_at(&secret, app.now()).expect("code");
        let done = post(
            client,
            &format!("{}/compte/double-authentification", app.base),
            &[("csrf", &super::csrf_of(html)), ("code", &code)],
        )
        .await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.html);
        let mut codes = Vec::new();
        let mut from = 0;
        while let Some((code, next)) = between(&done.html, "class=\"code-print\">", "<", from) {
            codes.push(code.to_string());
            from = next;
        }
        assert_eq!(codes.len(), 10, "{}", done.html);
        app.remember_authenticator(email, &secret, codes);
        return Some(get(client, &format!("{}/espace", app.base)).await);
    }
    if html.contains("action=\"/connexion/code\"") {
        let code = app.second_factor_code(email);
        let page = post(
            client,
            &format!("{}/connexion/code", app.base),
            &[("csrf", &super::csrf_of(html)), ("code", &code)],
        )
        .await;
        return Some(page);
    }
    None
}
