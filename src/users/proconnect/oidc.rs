//! Speaking to the OpenID provider: discovery (at each login, so its signing keys are always
//! the ones it publishes now), the authorization address with PKCE, `state` and `nonce`, the
//! code exchange and the ID token's checks (signature against the JWKS, issuer, audience,
//! expiry, nonce), and the end-session address.

use crate::config::Config;
use crate::error::{Error, Result};
use base64::Engine;
use jiff::Timestamp;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken};
use openidconnect::{
    reqwest, AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, Scope, TokenResponse,
};
use std::str::FromStr;

/// The provider and this platform's registration with it.
pub struct Provider {
    issuer: IssuerUrl,
    client_id: ClientId,
    secret: ClientSecret,
    redirect: RedirectUrl,
    after_logout: PostLogoutRedirectUrl,
    http: reqwest::Client,
}

/// A login sent to the provider: what its callback must match.
pub struct Pending {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Who the provider vouches for, its ID token checked.
#[derive(Clone, Debug)]
pub struct Identity {
    pub subject: String,
    pub email: String,
    pub name: String,
    pub siret: Option<String>,
    pub id_token: String,
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(anyhow::anyhow!("proconnect: {e}"))
}

fn unavailable() -> Error {
    Error::invalid(
        "proconnect_unavailable",
        "ProConnect ne répond pas pour le moment. Réessayez dans quelques minutes ou connectez-vous avec votre mot de passe.",
    )
}

/// The ID token (or the answer carrying it) is not to be believed.
pub fn refused(reason: impl std::fmt::Display) -> Error {
    tracing::warn!(%reason, "ProConnect answer refused");
    Error::forbidden(
        "proconnect_refused",
        "La connexion avec ProConnect n'a pas pu être vérifiée. Recommencez ; si cela se reproduit, appelez l'assistance.",
    )
}

impl Provider {
    /// None when ProConnect is not configured (issuer, client id and secret all needed).
    pub fn from_config(config: &Config) -> Result<Option<Provider>> {
        let (Some(issuer), Some(id), Some(secret)) = (
            config
                .proconnect_issuer
                .as_deref()
                .filter(|s| !s.is_empty()),
            config.proconnect_client_id.as_deref(),
            config.proconnect_client_secret.as_deref(),
        ) else {
            return Ok(None);
        };
        let base = config.public_url.trim_end_matches('/');
        let http = reqwest::ClientBuilder::new()
            // Following redirects would let the provider's answers send us anywhere (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(internal)?;
        Ok(Some(Provider {
            issuer: IssuerUrl::new(issuer.to_string()).map_err(internal)?,
            client_id: ClientId::new(id.to_string()),
            secret: ClientSecret::new(secret.to_string()),
            redirect: RedirectUrl::new(format!("{base}/connexion/proconnect/retour"))
                .map_err(internal)?,
            after_logout: PostLogoutRedirectUrl::new(format!("{base}/")).map_err(internal)?,
            http,
        }))
    }

    async fn metadata(&self) -> Result<ProviderMetadataWithLogout> {
        ProviderMetadataWithLogout::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "ProConnect discovery failed");
                unavailable()
            })
    }

    /// Where to send the person, and what the callback must match.
    pub async fn authorization(&self) -> Result<Pending> {
        let metadata = self.metadata().await?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            self.client_id.clone(),
            Some(self.secret.clone()),
        )
        .set_redirect_uri(self.redirect.clone());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("given_name".into()))
            .add_scope(Scope::new("usual_name".into()))
            .add_scope(Scope::new("siret".into()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(Pending {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the code and checks the ID token against the provider's current keys, its
    /// issuer, this client as audience, its expiry (at `now`) and the nonce sent.
    pub async fn identity(
        &self,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
        now: Timestamp,
    ) -> Result<Identity> {
        let metadata = self.metadata().await?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            self.client_id.clone(),
            Some(self.secret.clone()),
        )
        .set_redirect_uri(self.redirect.clone());
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(internal)?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&self.http)
            .await
            .map_err(refused)?;
        let id_token = tokens.id_token().ok_or_else(|| refused("no ID token"))?;
        let at = chrono::DateTime::<chrono::Utc>::from_timestamp(now.as_second(), 0)
            .ok_or_else(|| internal("clock out of range"))?;
        let verifier = client.id_token_verifier().set_time_fn(move || at);
        let claims = id_token
            .claims(&verifier, &Nonce::new(nonce.to_string()))
            .map_err(refused)?;
        if let Some(expected) = claims.access_token_hash() {
            let algorithm = id_token.signing_alg().map_err(refused)?;
            let key = id_token.signing_key(&verifier).map_err(refused)?;
            let actual = AccessTokenHash::from_token(tokens.access_token(), algorithm, key)
                .map_err(refused)?;
            if actual != *expected {
                return Err(refused("access token hash"));
            }
        }
        let raw = id_token.to_string();
        // Checked above; ProConnect's own claims (SIRET, usual name) are read from the same token.
        let extra = extra_claims(&raw).unwrap_or_default();
        let given = claims
            .given_name()
            .and_then(|n| n.get(None))
            .map(|n| n.to_string())
            .or_else(|| extra["given_name"].as_str().map(str::to_string))
            .unwrap_or_default();
        let family = extra["usual_name"]
            .as_str()
            .map(str::to_string)
            .or_else(|| {
                claims
                    .family_name()
                    .and_then(|n| n.get(None))
                    .map(|n| n.to_string())
            })
            .unwrap_or_default();
        let email = claims
            .email()
            .map(|e| e.to_string())
            .or_else(|| extra["email"].as_str().map(str::to_string))
            .ok_or_else(|| refused("no e-mail"))?;
        Ok(Identity {
            subject: claims.subject().to_string(),
            email,
            name: format!("{given} {family}").trim().to_string(),
            siret: extra["siret"]
                .as_str()
                .map(|s| s.chars().filter(char::is_ascii_digit).collect::<String>())
                .filter(|s| s.len() == 14),
            id_token: raw,
        })
    }

    /// The provider's end-session address for this ID token, if it has one: logging out of
    /// passnum ends the ProConnect session too.
    pub async fn end_session(&self, id_token: &str) -> Result<Option<String>> {
        let metadata = self.metadata().await?;
        let Some(endpoint) = metadata.additional_metadata().end_session_endpoint.clone() else {
            return Ok(None);
        };
        let token = CoreIdToken::from_str(id_token).map_err(internal)?;
        Ok(Some(
            LogoutRequest::from(endpoint)
                .set_id_token_hint(&token)
                .set_client_id(self.client_id.clone())
                .set_post_logout_redirect_uri(self.after_logout.clone())
                .http_get_url()
                .to_string(),
        ))
    }
}

/// The payload of a compact JWT, as JSON.
fn extra_claims(jwt: &str) -> Option<serde_json::Value> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}
