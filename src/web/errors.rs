//! Error pages for people. Outside `/api/`, a refusal met by a page handler, an unknown address
//! (404) and a known address asked with the wrong method (405: a form's address opened after a
//! reload, a restored tab) answer a page in French in the site's layout: what happened, the
//! page the visitor probably meant, the way home and the helpline. Under `/api/` the answer
//! stays the API's JSON error. Internal details never reach the page (see
//! `Error::public_message`); the request's id does, for the helpline to find the logs.

use super::legal::PUBLIC_PAGES;
use super::session::{self, Visitor};
use super::{Layout, FORM_ONLY};
use crate::app::AppState;
use crate::error::Error;
use askama::Template;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

/// Carried from `WebError::into_response` to [`error_pages`], which has the state to render it.
#[derive(Clone)]
pub(super) struct ErrorPage(pub(super) String);

/// A link to the page the visitor probably meant.
#[derive(Debug, PartialEq, Eq)]
pub struct Correction {
    /// What comes before the link ("Vous cherchiez peut-être :").
    pub lead: &'static str,
    pub href: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate {
    l: Layout,
    status: u16,
    message: String,
    correction: Option<Correction>,
    /// The request's id, for 5xx answers: what to read out to the helpline.
    reference: Option<String>,
}

/// The page's title and heading for a status.
fn headline(status: StatusCode) -> &'static str {
    match status.as_u16() {
        403 => "Vous n'avez pas accès à cette page",
        404 => "Cette page n'existe pas",
        405 => "Cette page ne s'ouvre pas directement",
        429 => "Trop de tentatives",
        503 => "Le service est momentanément indisponible",
        500..=599 => "Une erreur s'est produite de notre côté",
        _ => "Nous ne pouvons pas afficher cette page",
    }
}

/// The `x-request-id` the hardening layer gave this request.
fn request_id(request: &Request) -> Option<String> {
    request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn render(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    message: String,
    correction: Option<Correction>,
    reference: Option<String>,
) -> Response {
    let page = ErrorTemplate {
        l: Layout::new(state, visitor, headline(status)),
        status: status.as_u16(),
        message,
        correction,
        reference: reference.filter(|_| status.is_server_error()),
    };
    let mut out = match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(_) => "Une erreur s'est produite.".into_response(),
    };
    *out.status_mut() = status;
    out
}

/// Renders the refusals of page handlers (see `WebError`) as full pages.
pub(super) async fn error_pages(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let visitor = request.extensions().get::<Visitor>().cloned();
    let reference = request_id(&request);
    let response = next.run(request).await;
    let Some(ErrorPage(message)) = response.extensions().get::<ErrorPage>().cloned() else {
        return response;
    };
    let visitor = visitor.unwrap_or_default();
    let mut out = render(
        &state,
        &visitor,
        response.status(),
        message,
        None,
        reference,
    );
    if let Some(retry) = response.headers().get(header::RETRY_AFTER) {
        out.headers_mut().insert(header::RETRY_AFTER, retry.clone());
    }
    out
}

/// The last net, around every layer: outside `/api/`, an error answered without a page (a
/// request past its time limit, a query string or a body that cannot be read, a body too
/// large) becomes one, keeping the original answer's headers (security headers, `Allow`,
/// `Retry-After`, the request id).
pub async fn bare_errors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if is_api(request.uri().path()) {
        return next.run(request).await;
    }
    let (headers, extensions) = (request.headers().clone(), request.extensions().clone());
    let response = next.run(request).await;
    let status = response.status();
    let bare = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    if !bare || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let message = match status.as_u16() {
        400 | 415 | 422 => "Ce qui a été envoyé n'a pas pu être lu. Revenez à la page précédente,                             rechargez-la et recommencez.",
        413 => "Ce qui a été envoyé est trop volumineux.",
        503 => "Le service est momentanément indisponible. Réessayez dans un instant.",
        _ => "Cette demande n'a pas pu aboutir.",
    };
    let visitor = session::visitor_of(&state, &headers, &extensions).await;
    let reference = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut out = render(&state, &visitor, status, message.into(), None, reference);
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().append(name, value.clone());
        }
    }
    out
}

fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// Every address no route knows, for the whole router (see `app::router`).
pub async fn not_found(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    if is_api(&path) {
        return Error::not_found("Cette adresse n'existe pas dans l'API.").into_response();
    }
    let visitor = session::visitor_of(&state, request.headers(), request.extensions()).await;
    let home = visitor
        .signed
        .as_ref()
        .map(|s| session::home_of(s.org.kind));
    let message = "L'adresse demandée ne mène à aucune page du Pass numérique. \
                   Elle contient peut-être une faute de frappe."
        .to_string();
    let correction = likely_page(&path, home);
    render(
        &state,
        &visitor,
        StatusCode::NOT_FOUND,
        message,
        correction,
        None,
    )
}

/// A known address asked with a method it does not take, for the whole router: most often a
/// form's address opened instead of sent (a reload, a restored tab, a bookmark).
pub async fn method_not_allowed(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    if is_api(&path) {
        return Error::MethodNotAllowed.into_response();
    }
    let visitor = session::visitor_of(&state, request.headers(), request.extensions()).await;
    let opened = matches!(*request.method(), Method::GET | Method::HEAD);
    let (message, correction) = if opened {
        (
            "Cette adresse reçoit un formulaire, qui doit être envoyé depuis sa page : elle ne \
             s'ouvre pas directement, par exemple après avoir rechargé la page ou rouvert un \
             onglet. Retournez sur la page du formulaire et vérifiez si votre demande a déjà été \
             prise en compte avant de l'envoyer de nouveau.",
            Some(Correction {
                lead: "Le formulaire se trouve sur cette page :",
                href: holding_page(&path),
                label: "Revenir à la page du formulaire".into(),
            }),
        )
    } else {
        ("Cette adresse ne reçoit pas de formulaire.", None)
    };
    render(
        &state,
        &visitor,
        StatusCode::METHOD_NOT_ALLOWED,
        message.into(),
        correction,
        None,
    )
}

/// The page that holds the form sent to `path`: from [`FORM_ONLY`], else the parent address.
pub fn holding_page(path: &str) -> String {
    FORM_ONLY
        .iter()
        .find_map(|(form, page)| fill(page, &bind(form, path)?))
        .unwrap_or_else(|| match path.trim_end_matches('/').rsplit_once('/') {
            Some((parent, _)) if !parent.is_empty() => parent.to_string(),
            _ => "/".to_string(),
        })
}

/// The values of `pattern`'s `{name}` segments in `path`, if `path` matches it.
fn bind<'a>(pattern: &'a str, path: &'a str) -> Option<Vec<(&'a str, &'a str)>> {
    let (pattern, path): (Vec<_>, Vec<_>) =
        (pattern.split('/').collect(), path.split('/').collect());
    if pattern.len() != path.len() {
        return None;
    }
    let mut values = Vec::new();
    for (p, s) in pattern.into_iter().zip(path) {
        match p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) if !s.is_empty() => values.push((name, s)),
            None if p == s => {}
            _ => return None,
        }
    }
    Some(values)
}

/// `pattern` with its `{name}` segments replaced by their values.
fn fill(pattern: &str, values: &[(&str, &str)]) -> Option<String> {
    let segments: Option<Vec<&str>> = pattern
        .split('/')
        .map(
            |p| match p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => values.iter().find(|(n, _)| *n == name).map(|(_, v)| *v),
                None => Some(p),
            },
        )
        .collect();
    segments.map(|s| s.join("/"))
}

/// Words people type for a page, by the page's address.
const ALIASES: &[(&str, &[&str])] = &[
    (
        "/lieux",
        &[
            "lieu",
            "lieus",
            "lieux",
            "trouver-un-lieu",
            "carte",
            "mediation",
        ],
    ),
    (
        "/solde",
        &[
            "carnet",
            "carnets",
            "mon-carnet",
            "cheque",
            "cheques",
            "solde",
            "soldes",
            "pass",
        ],
    ),
    (
        "/connexion",
        &[
            "pro",
            "espace-pro",
            "espace-professionnel",
            "login",
            "se-connecter",
        ],
    ),
    (
        "/candidature",
        &["candidater", "candidatures", "inscription"],
    ),
    ("/accessibilite", &["declaration-accessibilite", "a11y"]),
    ("/mentions-legales", &["mentions", "legal"]),
    (
        "/donnees-personnelles",
        &["donnees", "rgpd", "confidentialite", "vie-privee"],
    ),
    ("/plan-du-site", &["plan", "sitemap"]),
];

/// Each role's space, reached after logging in.
const SPACES: &[(&str, &str)] = &[
    ("/distributeur", "L'espace des distributeurs"),
    ("/financeur", "L'espace des financeurs"),
    ("/operateur", "L'espace de l'opérateur"),
];

/// The page an unknown address probably meant: inside the signed-in person's own space, its
/// home; else a public page by a word people type for it or within two typing mistakes of its
/// address (`/lieu/…` → `/lieux`, `/carnet` → `/solde`, `/sold` → `/solde`); else a role's space.
pub fn likely_page(path: &str, home: Option<&str>) -> Option<Correction> {
    let to = |href: &str, label: &str| {
        Some(Correction {
            lead: "Vous cherchiez peut-être :",
            href: href.into(),
            label: label.into(),
        })
    };
    let first = fold(path.trim_matches('/').split('/').next().unwrap_or_default());
    let first = first
        .trim_end_matches(".html")
        .trim_end_matches(".php")
        .trim_end_matches('s');
    if let Some(home) = home {
        if home.trim_start_matches('/') == first {
            return to(home, "Mon espace");
        }
    }
    if let Some((href, _)) = ALIASES
        .iter()
        .find(|(_, words)| words.iter().any(|w| w.trim_end_matches('s') == first))
    {
        let label = PUBLIC_PAGES.iter().find(|(p, _)| p == href);
        return to(href, label.map_or(*href, |(_, l)| *l));
    }
    if first.len() >= 4 {
        let nearest = PUBLIC_PAGES
            .iter()
            .filter(|(p, _)| *p != "/")
            .map(|(p, l)| (distance(first, p.trim_start_matches('/')), *p, *l))
            .min_by_key(|(d, _, _)| *d);
        if let Some((d, href, label)) = nearest {
            if d <= 2 {
                return to(href, label);
            }
        }
    }
    SPACES
        .iter()
        .find(|(p, _)| p.trim_start_matches('/') == first)
        .and_then(|(href, label)| to(href, label))
}

/// Lower case, without accents (the addresses have none).
fn fold(text: &str) -> String {
    let text = percent_decode(text).to_lowercase();
    text.chars()
        .map(|c| match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            ' ' | '_' => '-',
            c => c,
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Levenshtein distance: how many letters to add, remove or change.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substituted = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substituted.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn href(path: &str, home: Option<&str>) -> Option<String> {
        likely_page(path, home).map(|c| c.href)
    }

    #[test]
    fn unknown_addresses_lead_to_the_page_people_meant() {
        let cases = [
            ("/lieu/encaissements", None, Some("/lieux")),
            ("/lieu/xyz", Some("/lieu"), Some("/lieu")),
            ("/lieus", None, Some("/lieux")),
            ("/carnet", None, Some("/solde")),
            ("/mon-carnet/", None, Some("/solde")),
            ("/sold", None, Some("/solde")),
            ("/SOLDE/ABCD", None, Some("/solde")),
            ("/conexion", None, Some("/connexion")),
            ("/accessibilit%C3%A9", None, Some("/accessibilite")),
            ("/mentions-legale", None, Some("/mentions-legales")),
            ("/plan-du-site.html", None, Some("/plan-du-site")),
            ("/distributeur/nimporte", None, Some("/distributeur")),
            ("/wp-admin", None, None),
            ("/x", None, None),
        ];
        for (path, home, expected) in cases {
            assert_eq!(href(path, home).as_deref(), expected, "{path}");
        }
    }

    #[test]
    fn a_form_address_leads_back_to_its_page() {
        assert_eq!(holding_page("/lieu/encaisser"), "/lieu");
        assert_eq!(
            holding_page("/financeur/programmes/p1/cloture/annuler"),
            "/financeur/programmes/p1"
        );
        assert_eq!(
            holding_page("/operateur/organisations/o1/jetons/t1/revoquer"),
            "/operateur/organisations/o1"
        );
        assert_eq!(holding_page("/ailleurs/envoyer"), "/ailleurs");
        assert_eq!(holding_page("/deconnexion"), "/");
    }

    #[test]
    fn a_server_error_page_tells_nothing_of_the_cause() {
        let secret = "password authentication failed for user passnum at 10.0.0.7";
        let e = Error::Internal(anyhow::anyhow!(secret));
        let page = ErrorTemplate {
            l: Layout {
                title: headline(e.status()).into(),
                helpline_phone: "05 56 00 00 00".into(),
                helpline_email: "aide@passnum.example".into(),
                ..Layout::default()
            },
            status: e.status().as_u16(),
            message: e.public_message(),
            correction: None,
            reference: Some("2f1c7a52-0e8b-4c2e-9a51-5d1b1e0b9f1e".into()),
        };
        let html = page.render().expect("renders").replace("&#39;", "'");
        assert!(
            !html.contains("10.0.0.7") && !html.contains("password"),
            "{html}"
        );
        for expected in [
            "Une erreur s'est produite de notre côté",
            "05 56 00 00 00",
            "aide@passnum.example",
            "2f1c7a52-0e8b-4c2e-9a51-5d1b1e0b9f1e",
            "href=\"/\"",
        ] {
            assert!(html.contains(expected), "{expected}: {html}");
        }
    }
}
