//! A real OpenID provider on loopback (`oidc-provider` from npm, run by Node with
//! e2e/oidc-provider.mjs), for the ProConnect login. Missing Node or the package skips a test
//! with one line, unless `PASSNUM_REQUIRE_OIDC` is set (CI), which makes it a failure.

use super::browser::root;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub const CLIENT_ID: &str = "passnum-test";
pub const CLIENT_SECRET: &str = "a-client-secret-for-tests-only";

pub struct OidcProvider {
    child: Child,
    pub issuer: String,
    http: reqwest::Client,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn required() -> bool {
    std::env::var("PASSNUM_REQUIRE_OIDC").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn skip(why: &str) -> Option<OidcProvider> {
    if required() {
        panic!("{why} (PASSNUM_REQUIRE_OIDC is set); install with `npm ci --prefix e2e`");
    }
    eprintln!("{why}: ProConnect test skipped (npm ci --prefix e2e installs it)");
    None
}

impl OidcProvider {
    /// A free loopback port for the provider, chosen before the app starts (its issuer URL is
    /// one of the app's settings).
    pub fn free_port() -> u16 {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        socket.local_addr().expect("addr").port()
    }

    /// Starts the provider on `port` for an app answering at `app_base`.
    pub fn start(port: u16, app_base: &str) -> Option<OidcProvider> {
        let script = root().join("e2e/oidc-provider.mjs");
        if !root().join("e2e/node_modules/oidc-provider").is_dir() {
            return skip("the oidc-provider package is not installed");
        }
        let child = Command::new("node")
            .arg(&script)
            .arg(port.to_string())
            .arg(CLIENT_ID)
            .arg(CLIENT_SECRET)
            .arg(format!("{app_base}/connexion/proconnect/retour"))
            .arg(format!("{app_base}/"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let Ok(mut child) = child else {
            return skip("node is not installed");
        };
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        assert_eq!(line.trim(), "ready", "the OpenID provider did not start");
        // Keep reading: a closed pipe would kill the provider at its next notice.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        Some(OidcProvider {
            child,
            issuer: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        })
    }

    async fn control(&self, path: &str) -> String {
        let resp = self
            .http
            .post(format!("{}{path}", self.issuer))
            .send()
            .await
            .expect("provider control");
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.text().await.expect("body")
    }

    /// The person the provider logs in next.
    pub async fn person(&self, sub: &str, email: &str, siret: &str) {
        let query = serde_urlencoded::to_string([("sub", sub), ("email", email), ("siret", siret)])
            .expect("query");
        self.control(&format!("/test/account?{query}")).await;
    }

    /// A new signing key replaces the old one (which is no longer published).
    pub async fn rotate_keys(&self) -> String {
        self.control("/test/rotate").await
    }

    /// The next ID token is forged: `signature`, `audience`, `nonce` or `expired`.
    pub async fn forge_next(&self, how: &str) {
        self.control(&format!("/test/forge?how={how}")).await;
    }
}
