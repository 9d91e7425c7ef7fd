//! Error pages for people and the legal pages (issue 24, points 3 and 9): outside `/api/`, an
//! unknown address, a form's address opened, too many attempts and an unavailable database
//! answer a French page in the site's layout with the helpline and a way on; the API keeps
//! its JSON errors; the legal pages answer and are linked from every page's footer.

use crate::common;

use common::web::{post, signed_in, Page};
use common::{cookie_client, Backend, TestApp};
use passnum::web::FORM_ONLY;
use reqwest::{Method, StatusCode};

on_both_databases!(
    unknown_addresses_answer_a_page_with_the_likely_page,
    opening_a_form_address_leads_back_to_its_page,
    the_api_answers_json_for_unknown_addresses_and_wrong_methods,
    too_many_attempts_answer_a_page_with_the_delay,
    an_unavailable_database_answers_a_page_without_internals,
    an_unreadable_request_answers_a_page,
    legal_pages_answer_and_every_footer_links_them,
);

/// Public pages, HTML and style sheet together, stay under this many bytes.
const PUBLIC_PAGE_BUDGET: usize = 30 * 1024;

const LEGAL: [&str; 5] = [
    "/accessibilite",
    "/mentions-legales",
    "/donnees-personnelles",
    "/plan-du-site",
    "/glossaire",
];

/// A page in French in the site's layout, with the helpline and the way home.
fn assert_page_for_people(what: &str, app: &TestApp, page: &Page) {
    let config = &app.state.config;
    for expected in [
        "<html lang=\"fr\">",
        "<header class=\"top\">",
        "<footer>",
        "href=\"/\"",
        config.helpline_phone.as_str(),
        config.helpline_email.as_str(),
    ] {
        assert!(
            page.html.contains(expected),
            "{what}: {expected} missing in {}",
            page.html
        );
    }
}

/// The page at `url`, its apostrophes unescaped (askama writes `&#39;`).
async fn get(client: &reqwest::Client, url: &str) -> Page {
    let mut page = common::web::get(client, url).await;
    page.html = page.html.replace("&#39;", "'");
    page
}

/// Whether the page offers a link to `href` as the likely way on.
fn offers(page: &Page, href: &str) -> bool {
    page.html
        .split("<p class=\"card\">")
        .nth(1)
        .is_some_and(|card| {
            card[..card.find("</p>").unwrap_or(card.len())]
                .contains(&format!("<a href=\"{href}\"><strong>"))
        })
}

async fn unknown_addresses_answer_a_page_with_the_likely_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let client = cookie_client();
    let page = get(&client, &format!("{}/nimporte-quoi", app.base)).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.html);
    assert!(
        page.html.contains("Cette page n'existe pas"),
        "{}",
        page.html
    );
    assert_page_for_people("404", &app, &page);
    let css = get(&client, &format!("{}/static/style.css", app.base)).await;
    assert!(page.html.len() + css.html.len() <= PUBLIC_PAGE_BUDGET);
    assert!(!page.html.contains("<script"), "works without JavaScript");
    for (path, likely) in [
        ("/lieu/nimporte", "/lieux"),
        ("/lieus", "/lieux"),
        ("/carnet", "/solde"),
        ("/sold", "/solde"),
        ("/conexion", "/connexion"),
        ("/mentions-legale", "/mentions-legales"),
    ] {
        let page = get(&client, &format!("{}{path}", app.base)).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(offers(&page, likely), "{path} → {likely}: {}", page.html);
    }

    // `/lieu` (the site agent's page) typed for `/lieux`: the login page offers the finder.
    let page = get(&client, &format!("{}/lieu", app.base)).await;
    assert!(page.url.ends_with("/connexion"), "{}", page.url);
    assert!(
        page.html
            .contains("Vous cherchez un lieu près de chez vous ?")
            && page.html.contains("href=\"/lieux\">Trouver un lieu</a>"),
        "{}",
        page.html
    );

    // Someone signed in who mistypes inside their space is sent back to its home.
    let (site_id, _) = app.org("site", "Médiathèque Mériadeck").await;
    let (agent, _) = signed_in(&app, &site_id, "agent@mediatheque.example").await;
    let page = get(&agent, &format!("{}/lieu/nimporte", app.base)).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(offers(&page, "/lieu"), "{}", page.html);
    assert!(page.html.contains("Se déconnecter"), "{}", page.html);
}

/// The address of every `<form method="post">` of the templates, `{{ … }}` written `{}`.
fn post_form_actions() -> Vec<String> {
    fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("templates readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("template readable");
            for tag in text.split("<form").skip(1) {
                let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
                if !tag.contains("method=\"post\"") {
                    continue;
                }
                let action = tag
                    .split("action=\"")
                    .nth(1)
                    .expect("a post form names its action");
                let action = &action[..action.find(['"', '#']).expect("closed")];
                // The confirmation page sends again to the address of the form it confirms.
                if action == "{{ action }}" {
                    continue;
                }
                out.push(placeholders(action, "{{", "}}"));
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates"),
        &mut out,
    );
    out.sort();
    out.dedup();
    out
}

/// `text` with each `open…close` part written `{}`.
fn placeholders(text: &str, open: &str, close: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(open) {
        out.push_str(&rest[..start]);
        out.push_str("{}");
        let end = rest[start..].find(close).expect("closed placeholder") + start;
        rest = &rest[end + close.len()..];
    }
    out.push_str(rest);
    out
}

async fn opening_a_form_address_leads_back_to_its_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let client = cookie_client();
    let listed: Vec<String> = FORM_ONLY
        .iter()
        .map(|(form, _)| placeholders(form, "{", "}"))
        .collect();
    // Every post form whose address does not open as a page is listed.
    let actions = post_form_actions();
    assert!(actions.len() > 20, "{actions:?}");
    for action in &actions {
        let page = get(
            &client,
            &format!("{}{}", app.base, action.replace("{}", "x1")),
        )
        .await;
        if page.status == StatusCode::METHOD_NOT_ALLOWED {
            assert!(
                listed.contains(action),
                "{action} only receives a form: list it in web::FORM_ONLY with its page"
            );
        }
    }
    // Each listed address, opened: 405, a page that says why and leads back to the form.
    for ((form, holder), pattern) in FORM_ONLY.iter().zip(&listed) {
        assert!(actions.contains(pattern), "{form}: no template posts there");
        let path = placeholders(form, "{", "}").replace("{}", "x1");
        let page = get(&client, &format!("{}{path}", app.base)).await;
        assert_eq!(page.status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert!(
            page.html.contains("Cette page ne s'ouvre pas directement")
                && page.html.contains("doit être envoyé depuis sa page"),
            "{path}: {}",
            page.html
        );
        let holder = placeholders(holder, "{", "}").replace("{}", "x1");
        assert!(offers(&page, &holder), "{path} → {holder}: {}", page.html);
        assert_page_for_people(&path, &app, &page);
    }
    // Signed in, the page still knows who is there.
    let (site_id, _) = app.org("site", "Médiathèque Mériadeck").await;
    let (agent, _) = signed_in(&app, &site_id, "agent@mediatheque.example").await;
    let page = get(&agent, &format!("{}/lieu/encaisser", app.base)).await;
    assert_eq!(page.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(offers(&page, "/lieu") && page.html.contains("Se déconnecter"));
    // Another method than the form's on a page's address: a page too, with the allowed ones.
    let resp = client
        .delete(format!("{}/connexion", app.base))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        resp.headers().get("allow").is_some(),
        "{:?}",
        resp.headers()
    );
    let html = resp.text().await.expect("body");
    assert!(html.contains("ne reçoit pas de formulaire"), "{html}");
}

async fn the_api_answers_json_for_unknown_addresses_and_wrong_methods(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let token = app.operator_token.clone();
    for (method, path, status, code) in [
        (Method::GET, "/api/v1/nothing-here", 404, "not_found"),
        (Method::GET, "/api/nothing-here", 404, "not_found"),
        (Method::PATCH, "/api/v1/passes", 405, "method_not_allowed"),
        (
            Method::PATCH,
            "/api/v1/places/x1/services",
            405,
            "method_not_allowed",
        ),
        (
            Method::POST,
            "/api/v1/public/passes/ABCD",
            405,
            "method_not_allowed",
        ),
        (
            Method::DELETE,
            "/api/openapi.json",
            405,
            "method_not_allowed",
        ),
    ] {
        let (got, body) = app
            .request(method.clone(), path, Some(&token), None, None)
            .await;
        assert_eq!(got.as_u16(), status, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], code, "{method} {path}: {body}");
        assert!(body["error"]["message"].is_string(), "{body}");
    }
}

async fn too_many_attempts_answer_a_page_with_the_delay(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.login_attempt_limit = 2;
        c.public_lookup_limit = 2;
    })
    .await
    else {
        return;
    };
    let client = cookie_client();
    let login = get(&client, &format!("{}/connexion", app.base)).await;
    let mut page = login;
    for _ in 0..6 {
        let csrf = page.csrf();
        page = post(
            &client,
            &format!("{}/connexion", app.base),
            &[
                ("csrf", &csrf),
                ("email", "personne@example.org"),
                ("password", "pas le bon mot de passe"),
            ],
        )
        .await;
        if page.status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    page.html = page.html.replace("&#39;", "'");
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.html);
    assert!(
        page.html.contains("Trop de tentatives") && page.html.contains("Réessayez dans"),
        "{}",
        page.html
    );
    assert_page_for_people("login 429", &app, &page);

    let balance = format!("{}/solde?code=ABCD-EFGH-JK12", app.base);
    let mut resp = None;
    for _ in 0..6 {
        let r = client.get(&balance).send().await.expect("sent");
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            resp = Some(r);
            break;
        }
    }
    let resp = resp.expect("the look-ups are limited");
    assert!(resp.headers().get("retry-after").is_some());
    let page = Page {
        status: resp.status(),
        url: resp.url().to_string(),
        html: resp.text().await.expect("body").replace("&#39;", "'"),
    };
    assert!(page.html.contains("Réessayez dans"), "{}", page.html);
    assert_page_for_people("look-up 429", &app, &page);
}

async fn an_unavailable_database_answers_a_page_without_internals(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.db_connections = 2;
        c.db_acquire_timeout_secs = 1;
    })
    .await
    else {
        return;
    };
    // Every connection the pages read with is taken.
    let mut held = Vec::new();
    while let Ok(connection) = app.state.db.read().await {
        held.push(connection);
    }
    let page = get(&cookie_client(), &format!("{}/lieux?q=33000", app.base)).await;
    drop(held);
    assert_eq!(
        page.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        page.html
    );
    assert!(
        page.html
            .contains("Le service est momentanément indisponible")
            && page.html.contains("donnez cette référence"),
        "{}",
        page.html
    );
    for internal in ["sqlx", "pool", "timed out", "PoolTimedOut"] {
        assert!(!page.html.contains(internal), "{internal}: {}", page.html);
    }
    assert_page_for_people("503", &app, &page);
}

async fn legal_pages_answer_and_every_footer_links_them(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.publisher = "GIP Pass numérique, 20 avenue de Ségur, 75007 Paris".into();
        c.publication_director = "Camille Martin, directrice".into();
        c.hosting_provider = "Hébergeur SAS, 2 rue Kellermann, 59100 Roubaix".into();
    })
    .await
    else {
        return;
    };
    let client = cookie_client();
    let css = get(&client, &format!("{}/static/style.css", app.base)).await;
    let footer_links = |page: &Page| {
        LEGAL
            .iter()
            .all(|href| page.html.contains(&format!("<a href=\"{href}\">")))
    };
    for (path, expected) in [
        ("/accessibilite", "partiellement conforme"),
        ("/accessibilite", "Défenseur des droits"),
        (
            "/mentions-legales",
            "GIP Pass numérique, 20 avenue de Ségur",
        ),
        ("/mentions-legales", "Camille Martin, directrice"),
        ("/mentions-legales", "Hébergeur SAS"),
        ("/donnees-personnelles", "Vos droits"),
        ("/plan-du-site", "Espaces professionnels"),
        (
            "/glossaire",
            "Les chèques imprimés ou envoyés dans un carnet",
        ),
    ] {
        let page = get(&client, &format!("{}{path}", app.base)).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.html.contains(expected), "{path}: {expected}");
        assert_page_for_people(path, &app, &page);
        assert!(footer_links(&page), "{path}: {}", page.html);
        let weight = page.html.len() + css.html.len();
        assert!(weight <= PUBLIC_PAGE_BUDGET, "{path}: {weight} bytes");
        assert!(!page.html.contains("<script"), "{path} needs no JavaScript");
    }
    // Every link of the site map leads somewhere (a page, or the login for a space).
    let map = get(&client, &format!("{}/plan-du-site", app.base)).await;
    let main =
        &map.html[map.html.find("<main").expect("main")..map.html.find("</main>").expect("end")];
    for link in main.split("href=\"").skip(1) {
        let href = &link[..link.find('"').expect("closed")];
        if !href.starts_with('/') {
            continue;
        }
        let page = get(&client, &format!("{}{href}", app.base)).await;
        assert_eq!(page.status, StatusCode::OK, "{href}");
    }
    // The footer of a signed-in person's pages too.
    let (distributor_id, _) = app.org("distributor", "CCAS de Bordeaux").await;
    let (agent, _) = signed_in(&app, &distributor_id, "agent@ccas.example").await;
    let page = get(&agent, &format!("{}/distributeur", app.base)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(footer_links(&page), "{}", page.html);
}

async fn an_unreadable_request_answers_a_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // A query string the page cannot read (the code twice): axum's bare English answer before.
    let resp = cookie_client()
        .get(format!("{}/solde?code=ABCD&code=EFGH", app.base))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let headers = resp.headers().clone();
    assert!(
        headers.get("content-security-policy").is_some(),
        "{headers:?}"
    );
    assert!(headers.get("x-request-id").is_some(), "{headers:?}");
    let page = Page {
        status: StatusCode::BAD_REQUEST,
        url: String::new(),
        html: resp.text().await.expect("body").replace("&#39;", "'"),
    };
    assert!(page.html.contains("n'a pas pu être lu"), "{}", page.html);
    assert!(!page.html.contains("deserialize"), "{}", page.html);
    assert_page_for_people("400", &app, &page);
}
