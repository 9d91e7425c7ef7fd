//! Who is visiting: a signed-in person (session cookie) or anyone (with a CSRF cookie so that
//! even anonymous forms are protected), and the form extractor that checks the token.

use super::WebError;
use crate::app::AppState;
use crate::db::Origin;
use crate::error::Error;
use crate::idempotency::Key;
use crate::orgs::OrgKind;
use crate::users::{Signed, Stage};
use crate::vouchers::codes::Keyring;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use cookie::{Cookie, SameSite};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use subtle::ConstantTimeEq;

pub const SESSION_COOKIE: &str = "passnum_session";
pub const CSRF_COOKIE: &str = "passnum_csrf";
/// The same cookie over HTTPS: browsers only accept a `__Host-` cookie set by this very host,
/// secure and for the whole site, so a sibling subdomain cannot plant one.
pub const CSRF_COOKIE_HTTPS: &str = "__Host-passnum_csrf";

fn csrf_cookie(state: &AppState) -> &'static str {
    if state.config.public_url.starts_with("https://") {
        CSRF_COOKIE_HTTPS
    } else {
        CSRF_COOKIE
    }
}

#[derive(Clone, Default)]
pub struct Visitor {
    /// Fully signed in: password and, where set up or required, the second factor.
    pub signed: Option<Arc<Signed>>,
    /// Half way through a login: it opens no space, only the next step.
    pub pending: Option<Arc<Signed>>,
    pub session_token: Option<String>,
    anonymous_csrf: String,
    client_addr: Option<String>,
    /// The page this request asks for (a GET's path and query), to come back to after login.
    asked: Option<String>,
}

impl Visitor {
    /// Who acts, for the journal: the person signed in, from the client address.
    pub fn origin(&self) -> Origin {
        Origin {
            client_addr: self.client_addr.clone(),
            user_id: self
                .signed
                .as_ref()
                .or(self.pending.as_ref())
                .map(|s| s.user.id.clone()),
        }
    }

    /// The token forms must send back.
    pub fn csrf(&self) -> &str {
        match self.signed.as_ref().or(self.pending.as_ref()) {
            Some(s) => &s.csrf_token,
            None => &self.anonymous_csrf,
        }
    }

    /// The page a login half done continues on, if any.
    pub fn next_step(&self) -> Option<&'static str> {
        self.pending.as_ref().map(|p| step_page(p.stage))
    }

    /// Where someone not (fully) signed in is sent: the login, keeping the page asked for
    /// (`?suite=`) to land on once signed in, or the next step of a login half done.
    pub fn sign_in_page(&self) -> String {
        // Half way through a login, its next step (which keeps the page first asked for).
        if let Some(step) = self.next_step() {
            return step.to_string();
        }
        // A space's home is where its people land anyway.
        let homes = ["/distributeur", "/lieu", "/financeur", "/operateur"];
        match self.asked.as_deref() {
            Some(asked) if !homes.contains(&asked) => with_suite("/connexion", asked),
            _ => "/connexion".to_string(),
        }
    }
}

/// The parameter that carries the page asked for through the login's steps.
pub const SUITE: &str = "suite";

/// `path` with `?suite=` the page asked for, if it is one to come back to.
pub fn with_suite(path: &str, suite: &str) -> String {
    match local_path(suite) {
        Some(suite) => {
            let query = serde_urlencoded::to_string([(SUITE, suite)]).unwrap_or_default();
            format!("{path}?{query}")
        }
        None => path.to_string(),
    }
}

/// The address to go to after login if it is a page of this site: a path starting with a
/// single `/`, without backslash, space or control character (a browser drops tabs and reads
/// `\` as `/`, so `/\evil.example` or `/\t/evil.example` would leave the site), and not
/// the login's own pages. Anything else (`//evil.example`, `https://…`) is not followed.
pub fn local_path(path: &str) -> Option<&str> {
    let page = path.split('?').next().unwrap_or(path);
    let login = ["/connexion", "/deconnexion", "/espace"]
        .iter()
        .any(|login| {
            page.strip_prefix(login)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        });
    let ours = !login
        && path.starts_with('/')
        && !path.starts_with("//")
        && path.len() <= 1024
        && !path
            .chars()
            .any(|c| c == '\\' || c.is_whitespace() || c.is_control());
    ours.then_some(path)
}

/// Where a session at this stage goes next.
pub fn step_page(stage: Stage) -> &'static str {
    match stage {
        Stage::Code => "/connexion/code",
        Stage::Enrol => "/compte/double-authentification",
        Stage::Signed => "/espace",
    }
}

pub fn home_of(kind: OrgKind) -> &'static str {
    match kind {
        OrgKind::Distributor => "/distributeur",
        OrgKind::Site => "/lieu",
        OrgKind::Funder => "/financeur",
        OrgKind::Operator => "/operateur",
    }
}

fn cookies(parts: &axum::http::HeaderMap) -> Vec<Cookie<'static>> {
    parts
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_string()).filter_map(Result::ok))
        .collect()
}

/// A cookie the browser sends back only to this site, never to scripts.
pub fn build_cookie(
    state: &AppState,
    name: &'static str,
    value: String,
    max_age_secs: i64,
) -> HeaderValue {
    let cookie = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.public_url.starts_with("https://"))
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build();
    HeaderValue::from_str(&cookie.to_string()).unwrap_or(HeaderValue::from_static(""))
}

/// Loads the visitor once per request and makes sure anonymous visitors have a CSRF cookie.
pub async fn load_visitor(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let (mut visitor, csrf_is_new) =
        identify(&state, request.headers(), request.extensions()).await;
    if request.method() == axum::http::Method::GET {
        visitor.asked = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string());
    }
    let anonymous_csrf = visitor.anonymous_csrf.clone();
    request.extensions_mut().insert(visitor);
    let mut response = next.run(request).await;
    if csrf_is_new {
        response.headers_mut().append(
            header::SET_COOKIE,
            build_cookie(&state, csrf_cookie(&state), anonymous_csrf, 7 * 24 * 3600),
        );
    }
    response
}

/// Who sends this request (for the pages answered outside the page router: an unknown address,
/// a wrong method), without setting any cookie.
pub async fn visitor_of(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
) -> Visitor {
    identify(state, headers, extensions).await.0
}

/// The visitor of a request, and whether its anonymous CSRF token is new (no valid cookie).
async fn identify(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
) -> (Visitor, bool) {
    let jar = cookies(headers);
    let find = |name: &str| {
        jar.iter()
            .find(|c| c.name() == name)
            .map(|c| c.value().to_string())
    };
    let session_token = find(SESSION_COOKIE);
    let (mut signed, mut pending) = (None, None);
    let now = state.clock.now();
    let mut found = None;
    if let Some(token) = &session_token {
        if let Ok(mut conn) = state.db.read().await {
            found = crate::users::session(&mut conn, token, now, state.config.session_idle_minutes)
                .await
                .ok()
                .flatten();
        }
    }
    if let (Some(s), Some(token)) = (found, &session_token) {
        match s.stage {
            Stage::Signed => {
                if crate::users::sessions::stale(&s, now) {
                    let token = token.clone();
                    // Last use, for its owner's list; a failure here costs nothing.
                    let _ = state
                        .db
                        .transact(Origin::platform(), move |tx| {
                            Box::pin(
                                async move { crate::users::sessions::touch(tx, &token, now).await },
                            )
                        })
                        .await;
                }
                signed = Some(Arc::new(s))
            }
            Stage::Code | Stage::Enrol => pending = Some(Arc::new(s)),
        }
    }
    let client_addr = Some(crate::http::extract::client_ip(extensions).to_string());
    // Only a token this server signed: a pair of cookie and field both made up by someone else
    // (planted through a sibling subdomain, say) is worth nothing.
    let existing_csrf =
        find(csrf_cookie(state)).filter(|c| anonymous_token_is_ours(&state.keyring, c));
    let csrf_is_new = existing_csrf.is_none();
    let anonymous_csrf = existing_csrf.unwrap_or_else(|| new_anonymous_token(&state.keyring));
    let visitor = Visitor {
        signed,
        pending,
        session_token,
        anonymous_csrf,
        client_addr,
        asked: None,
    };
    (visitor, csrf_is_new)
}

/// An anonymous visitor's CSRF token: a random nonce and the server's HMAC of it, so that
/// only tokens this server made are accepted.
fn new_anonymous_token(keyring: &Keyring) -> String {
    use base64::Engine;
    let mut raw = [0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut raw);
    let nonce = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let signature = csrf_signature(keyring.current().secret(), &nonce);
    format!("{nonce}.{signature}")
}

/// Whether one of the server's keys (the current one, or an older one still kept) signed it.
fn anonymous_token_is_ours(keyring: &Keyring, token: &str) -> bool {
    let Some((nonce, signature)) = token.split_once('.') else {
        return false;
    };
    token.len() <= 128
        && keyring.keys().iter().any(|key| {
            let expected = csrf_signature(key.secret(), nonce);
            bool::from(expected.as_bytes().ct_eq(signature.as_bytes()))
        })
}

/// HMAC-SHA256 of the nonce, with a key derived from a signing key for this use only.
fn csrf_signature(secret: &[u8], nonce: &str) -> String {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let derive = |key: &[u8], message: &[u8]| {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key size");
        mac.update(message);
        mac.finalize().into_bytes()
    };
    let csrf_key = derive(secret, b"passnum csrf v1");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(derive(&csrf_key, nonce.as_bytes()))
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, WebError> {
        Ok(parts
            .extensions
            .get::<Visitor>()
            .cloned()
            .unwrap_or_default())
    }
}

/// Checks that the visitor is signed in for the given kind of organisation; anyone else is
/// sent to log in.
pub struct SignedIn;

impl SignedIn {
    pub fn require(visitor: &Visitor, kind: OrgKind) -> Result<Arc<Signed>, WebError> {
        match &visitor.signed {
            Some(s) if s.org.kind == kind => Ok(s.clone()),
            Some(_) => Err(WebError::Error(Error::wrong_role())),
            None => Err(WebError::Redirect(visitor.sign_in_page())),
        }
    }
}

pub(crate) fn check_csrf(visitor: &Visitor, sent: Option<&str>) -> Result<(), WebError> {
    let ok = sent.is_some_and(|t| bool::from(t.as_bytes().ct_eq(visitor.csrf().as_bytes())));
    if !ok {
        return Err(Error::forbidden(
            "csrf",
            "Ce formulaire a expiré ou ne vient pas de ce site. Rechargez la page et recommencez.",
        )
        .into());
    }
    Ok(())
}

/// The key under which the answer to a form sent with this one-time token is kept, and the
/// hash of what was sent.
fn once_key(path: &str, once: Option<String>, bytes: &[u8]) -> Option<(String, String)> {
    once.filter(|t| (16..=64).contains(&t.len())).map(|token| {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(b"POST ");
        hasher.update(path.as_bytes());
        hasher.update(b"\n");
        hasher.update(bytes);
        // Several forms of a page (one per row) share its token: the path tells them apart.
        let key = format!("form:{path}:{token}");
        (key, data_encoding::HEXLOWER.encode(&hasher.finalize()))
    })
}

/// A submitted form whose CSRF token matches the visitor's, of at most `LIMIT_KIB` kibibytes.
/// Its one-time token (`once`, see [`super::Layout::once`]) makes a second submission of the
/// same form (a double click, a reload, the back button) get the first one's answer.
pub struct Form<T, const LIMIT_KIB: usize = 64> {
    pub visitor: Visitor,
    pub data: T,
    /// The form's key (its path and one-time token) and a hash of what was sent, if any.
    once: Option<(String, String)>,
    /// The address it was sent to.
    path: String,
    /// Every field sent, in order (to send them again from a confirmation page).
    fields: Vec<(String, String)>,
}

impl<T, const LIMIT_KIB: usize> Form<T, LIMIT_KIB> {
    /// The key under which `owner`'s answer to this form is saved.
    pub fn key(&self, owner: &str) -> Option<Key> {
        self.once.as_ref().map(|(key, request_hash)| Key {
            owner: owner.to_string(),
            key: key.clone(),
            request_hash: request_hash.clone(),
        })
    }

    /// The key of the signed-in person's organisation for this form, if any.
    pub fn own_key(&self) -> Option<Key> {
        let signed = self.visitor.signed.as_ref()?;
        self.key(&signed.org.id)
    }

    /// The form's one-time token and request hash, for the redemption writer.
    pub fn once(&self) -> Option<(String, String)> {
        self.once.clone()
    }

    /// Whether it was sent from a confirmation page (`confirm=1`, see [`super::confirm`]):
    /// only then does an irreversible action act.
    pub fn confirmed(&self) -> bool {
        self.fields.iter().any(|(n, v)| n == "confirm" && v == "1")
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }
}

#[derive(serde::Deserialize)]
struct FormControl {
    csrf: Option<String>,
    once: Option<String>,
}

impl<T: DeserializeOwned, const LIMIT_KIB: usize> FromRequest<AppState> for Form<T, LIMIT_KIB> {
    type Rejection = WebError;

    async fn from_request(req: Request, _: &AppState) -> Result<Self, WebError> {
        let visitor = req
            .extensions()
            .get::<Visitor>()
            .cloned()
            .unwrap_or_default();
        let path = req.uri().path().to_string();
        let bytes = axum::body::to_bytes(req.into_body(), LIMIT_KIB * 1024)
            .await
            .map_err(|_| Error::TooLarge {
                limit_kib: LIMIT_KIB,
            })?;
        let sent: FormControl = serde_urlencoded::from_bytes(&bytes).unwrap_or(FormControl {
            csrf: None,
            once: None,
        });
        check_csrf(&visitor, sent.csrf.as_deref())?;
        let once = once_key(&path, sent.once, &bytes);
        let fields: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
        for (name, value) in &fields {
            crate::http::input::check_text(name)?;
            crate::http::input::check_text(value)?;
        }
        let data = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            Error::bad_request(
                "invalid_form",
                format!(
                    "Le formulaire envoyé est incomplet ({e}). Rechargez la page et recommencez."
                ),
            )
        })?;
        Ok(Form {
            visitor,
            data,
            once,
            path,
            fields,
        })
    }
}

/// A `multipart/form-data` form (the only way a browser sends a file), checked as [`Form`]:
/// its text fields, and the one file it may carry, of at most `LIMIT_KIB` kibibytes in all.
pub struct FileForm<const LIMIT_KIB: usize> {
    pub visitor: Visitor,
    pub fields: Vec<(String, String)>,
    /// The file's field name, the name it had on the sender's computer, and its bytes.
    pub file: Option<(String, String, Vec<u8>)>,
    once: Option<(String, String)>,
}

impl<const LIMIT_KIB: usize> FileForm<LIMIT_KIB> {
    /// The text field of that name, trimmed; empty if absent.
    pub fn field(&self, name: &str) -> String {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    }

    /// See [`Form::own_key`].
    pub fn own_key(&self) -> Option<Key> {
        let signed = self.visitor.signed.as_ref()?;
        self.once.as_ref().map(|(key, request_hash)| Key {
            owner: signed.org.id.clone(),
            key: key.clone(),
            request_hash: request_hash.clone(),
        })
    }
}

impl<const LIMIT_KIB: usize> FromRequest<AppState> for FileForm<LIMIT_KIB> {
    type Rejection = WebError;

    async fn from_request(req: Request, _: &AppState) -> Result<Self, WebError> {
        let visitor = req
            .extensions()
            .get::<Visitor>()
            .cloned()
            .unwrap_or_default();
        let path = req.uri().path().to_string();
        let unreadable = || {
            Error::bad_request(
                "invalid_form",
                "Le formulaire envoyé n'a pas pu être lu. Rechargez la page et recommencez.",
            )
        };
        let boundary = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| multer::parse_boundary(v).ok())
            .ok_or_else(unreadable)?;
        let bytes = axum::body::to_bytes(req.into_body(), LIMIT_KIB * 1024)
            .await
            .map_err(|_| Error::TooLarge {
                limit_kib: LIMIT_KIB,
            })?;
        let body = bytes.clone();
        let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
        let mut multipart = multer::Multipart::new(stream, boundary);
        let (mut fields, mut file) = (Vec::new(), None);
        while let Some(field) = multipart.next_field().await.map_err(|_| unreadable())? {
            let name = field.name().unwrap_or_default().to_string();
            match field.file_name().map(str::to_string) {
                Some(filename) => {
                    let content = field.bytes().await.map_err(|_| unreadable())?;
                    // A file input left empty still sends a part, without a name or bytes.
                    if !(filename.is_empty() && content.is_empty()) {
                        file = Some((name, filename, content.to_vec()));
                    }
                }
                None => {
                    let value = field.text().await.map_err(|_| unreadable())?;
                    crate::http::input::check_text(&name)?;
                    crate::http::input::check_text(&value)?;
                    fields.push((name, value));
                }
            }
        }
        let text = |name: &str| {
            fields
                .iter()
                .find(|(n, _): &&(String, String)| n == name)
                .map(|(_, v)| v.clone())
        };
        check_csrf(&visitor, text("csrf").as_deref())?;
        let once = once_key(&path, text("once"), &bytes);
        Ok(FileForm {
            visitor,
            fields,
            file,
            once,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_sites_pages_are_followed_after_login() {
        assert_eq!(local_path("/lieu/banque"), Some("/lieu/banque"));
        assert_eq!(local_path("/lieux?q=33000"), Some("/lieux?q=33000"));
        for away in [
            "",
            "lieu",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "/connexion",
            "/connexion/code",
            "/deconnexion",
        ] {
            assert_eq!(local_path(away), None, "{away:?}");
        }
        assert_eq!(
            with_suite("/connexion", "/operateur/reglements/1"),
            "/connexion?suite=%2Foperateur%2Freglements%2F1"
        );
        assert_eq!(with_suite("/connexion", "//evil.example"), "/connexion");
    }
}
