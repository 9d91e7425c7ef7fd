//! Starts the real app on a random port against a fresh database, and speaks HTTP to it.
//! Every test runs on SQLite, and on PostgreSQL when `PASSNUM_TEST_POSTGRES_URL` names a server
//! (e.g. `postgres://postgres@127.0.0.1:5432/postgres`): each test gets its own database there.

#![allow(dead_code)]
pub mod browser;
pub mod camt;
pub mod faults;
pub mod mime;
pub mod oidc;
pub mod pdf;
pub mod smtp;
pub mod web;

use jiff::{SignedDuration, Timestamp};
use passnum::app::AppState;
use passnum::clock::MockClock;
use passnum::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Inline keys: K1 is old, K2 signs new cheques.
pub const TEST_KEYS: &str = "K1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=,K2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub clock: Arc<MockClock>,
    pub state: AppState,
    pub database_url: String,
    pub operator_token: String,
    /// The authenticator "app" of each person who set up a second factor, by e-mail.
    pub authenticators: Arc<std::sync::Mutex<std::collections::HashMap<String, Authenticator>>>,
}

/// What a person keeps after setting up their second factor: the secret in their phone and
/// the recovery codes on paper.
#[derive(Clone, Debug, Default)]
pub struct Authenticator {
    pub secret: String,
    pub recovery_codes: Vec<String>,
    last_step: Option<i64>,
}

/// The PostgreSQL server to test against, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("PASSNUM_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// A fresh, empty database URL for one test.
pub async fn fresh_database(backend: Backend) -> Option<String> {
    let name = format!("passnum_test_{}", uuid::Uuid::new_v4().simple());
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join("passnum-tests");
            std::fs::create_dir_all(&dir).ok()?;
            Some(format!(
                "sqlite://{}",
                dir.join(format!("{name}.db")).display()
            ))
        }
        Backend::Postgres => {
            let admin_url = postgres_url()?;
            sqlx::any::install_default_drivers();
            let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url)
                .await
                .expect("cannot reach the test PostgreSQL server");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .expect("cannot create a test database");
            let (base, _) = admin_url.rsplit_once('/').expect("URL has a database");
            Some(format!("{base}/{name}"))
        }
    }
}

pub fn test_config(database_url: &str) -> Config {
    let mut config = Config::defaults();
    config.database_url = database_url.to_string();
    config.signing_keys = Some(TEST_KEYS.into());
    config.invalid_code_limit = 10_000;
    // Tests move the clock by months at a time: tokens do not expire unless a test says so.
    config.token_idle_days = 0;
    config.session_idle_minutes = 0;
    config.public_lookup_limit = 10_000;
    config.db_connections = 8;
    // The operator's own account (the example one is refused outside the demo).
    config.payer_iban = "FR76 3000 4000 0312 3456 7890 143".into();
    config
}

impl TestApp {
    /// None when the backend is not available here (PostgreSQL without a test URL).
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tune: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let database_url = fresh_database(backend).await?;
        Some(Self::spawn_on(&database_url, tune).await)
    }

    /// Another instance on an existing database, like a second server process.
    pub async fn spawn_on(database_url: &str, tune: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_on_base(database_url, |config, _| tune(config)).await
    }

    /// As [`TestApp::spawn_with`], with the address the app will answer at known to `tune`
    /// (for settings that name it, such as an OpenID provider's redirect address).
    pub async fn spawn_with_base(
        backend: Backend,
        tune: impl FnOnce(&mut Config, &str),
    ) -> Option<TestApp> {
        let database_url = fresh_database(backend).await?;
        Some(Self::spawn_on_base(&database_url, tune).await)
    }

    async fn spawn_on_base(database_url: &str, tune: impl FnOnce(&mut Config, &str)) -> TestApp {
        let database_url = database_url.to_string();
        let mut config = test_config(&database_url);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tune(&mut config, &base);
        // A fixed midday start keeps day arithmetic away from midnight.
        let clock = MockClock::new("2026-03-02T11:00:00Z".parse().expect("timestamp"));
        let state = passnum::start(config, clock.clone())
            .await
            .expect("app starts");
        let operator_token = passnum::cli::bootstrap(&state).await.expect("bootstrap");
        let serving = state.clone();
        tokio::spawn(async move { passnum::app::serve(listener, serving).await });
        TestApp {
            base,
            client: reqwest::Client::new(),
            clock,
            state,
            database_url,
            operator_token,
            authenticators: Default::default(),
        }
    }

    /// Keeps what a person got when setting up their second factor.
    pub fn remember_authenticator(&self, email: &str, secret: &str, recovery_codes: Vec<String>) {
        let step = self.now().as_second() / passnum::users::totp::STEP_SECS as i64;
        self.authenticators.lock().expect("lock").insert(
            email.to_lowercase(),
            Authenticator {
                secret: secret.to_string(),
                recovery_codes,
                last_step: Some(step),
            },
        );
    }

    /// The code this person types now: their app's, or, when that one was used already in
    /// this 30-second window (a code serves once), one of their recovery codes.
    pub fn second_factor_code(&self, email: &str) -> String {
        let mut all = self.authenticators.lock().expect("lock");
        let a = all
            .get_mut(&email.to_lowercase())
            .expect("this person set up a second factor");
        let step = self.now().as_second() / passnum::users::totp::STEP_SECS as i64;
        if a.last_step == Some(step) {
            return a.recovery_codes.pop().expect("a recovery code left");
        }
        a.last_step = Some(step);
        passnum::users::totp::code_at(&a.secret, self.now()).expect("code")
    }

    pub fn advance(&self, by: SignedDuration) {
        self.clock.advance(by);
    }

    pub fn now(&self) -> Timestamp {
        passnum::clock::Clock::now(&*self.clock)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        idempotency_key: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(k) = idempotency_key {
            req = req.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.request(Method::GET, path, token, None, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::POST, path, Some(token), Some(body), None)
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.request(Method::DELETE, path, Some(token), None, None)
            .await
    }

    /// Creates an organisation in Bordeaux and a token for it: `(id, token)`.
    pub async fn org(&self, kind: &str, name: &str) -> (String, String) {
        self.org_at(kind, name, "33000").await
    }

    /// The same at a postcode (a site's place is there).
    pub async fn org_at(&self, kind: &str, name: &str, postcode: &str) -> (String, String) {
        let department = passnum::fr::department_of_postcode(postcode).expect("a postcode");
        let (status, body) = self
            .post(
                "/api/v1/organizations",
                &self.operator_token,
                json!({"kind": kind, "name": name, "department": department, "postcode": postcode}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["id"].as_str().expect("id").to_string();
        let (status, body) = self
            .post(
                &format!("/api/v1/organizations/{id}/tokens"),
                &self.operator_token,
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (id, body["token"].as_str().expect("token").to_string())
    }

    /// A site in Bordeaux qualified for a year.
    pub async fn qualified_site(&self, name: &str) -> (String, String) {
        self.qualified_site_at(name, "33000").await
    }

    /// The same at a postcode.
    pub async fn qualified_site_at(&self, name: &str, postcode: &str) -> (String, String) {
        let (id, token) = self.org_at("site", name, postcode).await;
        let (status, body) = self
            .request(
                Method::PUT,
                &format!("/api/v1/sites/{id}/qualification"),
                Some(&self.operator_token),
                Some(json!({"status": "qualified", "valid_until": "2027-12-31"})),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (id, token)
    }

    /// A funder with a programme funded `funded_cents`, and a distributor holding `quota`
    /// cheques of it.
    pub async fn world(&self, funded_cents: i64, quota: i64) -> World {
        let (funder_id, funder) = self.org("funder", "Département de la Gironde").await;
        let (distributor_id, distributor) = self.org("distributor", "CCAS de Bordeaux").await;
        let (site_id, site) = self.qualified_site("Médiathèque Mériadeck").await;
        let program_id = self
            .programme(&funder, &distributor_id, "Pass numérique 2026")
            .terms(json!({"budget_cents": 10_000_000}))
            .funded(funded_cents)
            .quota(quota)
            .create()
            .await;
        World {
            funder_id,
            funder,
            distributor_id,
            distributor,
            site_id,
            site,
            program_id,
        }
    }

    /// A programme of `funder`, to be funded and to give `distributor_id` a quota: see
    /// [`ProgrammeBuilder`].
    pub fn programme(
        &self,
        funder: &str,
        distributor_id: &str,
        name: &str,
    ) -> ProgrammeBuilder<'_> {
        ProgrammeBuilder {
            app: self,
            funder: funder.to_string(),
            distributor_id: distributor_id.to_string(),
            terms: json!({"name": name, "budget_cents": 1_000_000}),
            funded_cents: 0,
            quota: 0,
        }
    }

    /// Issues an active pass and returns its JSON.
    pub async fn issue(&self, world: &World, cheques: i64) -> Value {
        let (status, body) = self
            .post(
                "/api/v1/passes",
                &world.distributor,
                json!({"program_id": world.program_id, "cheques": cheques, "beneficiary_ref": "B-001"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    pub async fn redeem(&self, token: &str, code: &str) -> (StatusCode, Value) {
        self.post(
            "/api/v1/redemptions",
            token,
            json!({"code": code, "service": "individual_help", "minutes": 60}),
        )
        .await
    }

    pub async fn reconciliation(&self, world: &World) -> Value {
        let (status, body) = self
            .get(
                &format!("/api/v1/programs/{}/reconciliation", world.program_id),
                Some(&world.funder),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// One number a query counts.
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.state.db.reads())
            .await
            .expect("count")
    }

    /// The actions of the journal about one subject, oldest first.
    pub async fn journal(&self, subject_id: &str) -> Vec<String> {
        let mut conn = self.state.db.read().await.expect("read");
        passnum::audit::for_subject(&mut conn, subject_id)
            .await
            .expect("journal")
            .into_iter()
            .map(|e| e.action)
            .collect()
    }

    /// `(to, subject)` of every e-mail waiting in the outbox.
    pub async fn outbox_subjects(&self) -> Vec<(String, String)> {
        sqlx::query_as("SELECT to_address, subject FROM outbox ORDER BY created_at, id")
            .fetch_all(self.state.db.reads())
            .await
            .expect("outbox")
    }

    /// `passnum ledger verify`'s check, run in process.
    pub async fn assert_ledger_verifies(&self) {
        let mut conn = self.state.db.read().await.expect("conn");
        let report = passnum::ledger::verify(&mut conn)
            .await
            .expect("verify runs");
        assert!(report.is_ok(), "ledger problems: {:#?}", report.problems);
        let settlement = passnum::settlement::verify(&mut conn)
            .await
            .expect("settlement verify runs");
        assert!(
            settlement.is_empty(),
            "settlement problems: {settlement:#?}"
        );
    }
}

/// A programme created through the API, funded, with a quota for one distributor; each step
/// asserted. `terms` adds or replaces fields of the creation request (validity, grace, fees…).
pub struct ProgrammeBuilder<'a> {
    app: &'a TestApp,
    funder: String,
    distributor_id: String,
    terms: Value,
    funded_cents: i64,
    quota: i64,
}

impl ProgrammeBuilder<'_> {
    pub fn terms(mut self, extra: Value) -> Self {
        if let (Some(terms), Some(extra)) = (self.terms.as_object_mut(), extra.as_object()) {
            terms.extend(extra.clone());
        }
        self
    }

    pub fn funded(mut self, cents: i64) -> Self {
        self.funded_cents = cents;
        self
    }

    /// Cheques allocated to the distributor.
    pub fn quota(mut self, cheques: i64) -> Self {
        self.quota = cheques;
        self
    }

    /// Creates it; returns its id.
    pub async fn create(self) -> String {
        let app = self.app;
        let (status, body) = app.post("/api/v1/programs", &self.funder, self.terms).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["id"].as_str().expect("id").to_string();
        if self.funded_cents > 0 {
            let (status, body) = app
                .post(
                    &format!("/api/v1/programs/{id}/fundings"),
                    &self.funder,
                    json!({"amount_cents": self.funded_cents, "reference": "OP-2026-0001"}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        if self.quota > 0 {
            let (status, body) = app
                .post(
                    &format!("/api/v1/programs/{id}/allocations"),
                    &self.funder,
                    json!({"distributor_id": self.distributor_id, "cheques": self.quota}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        id
    }
}

#[derive(Clone)]
pub struct World {
    pub funder_id: String,
    pub funder: String,
    pub distributor_id: String,
    pub distributor: String,
    pub site_id: String,
    pub site: String,
    pub program_id: String,
}

pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}

/// Declares each listed `async fn name(backend: Backend)` as a test on SQLite and one on
/// PostgreSQL (which passes without running when no test server is configured).
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if $crate::common::postgres_url().is_none() {
                        eprintln!("PASSNUM_TEST_POSTGRES_URL is not set: skipped on PostgreSQL");
                        return;
                    }
                    super::$name($crate::common::Backend::Postgres).await
                }
            )*
        }
    };
}

impl TestApp {
    pub async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::PUT, path, Some(token), Some(body), None)
            .await
    }

    /// Raw body and content type of a GET.
    pub async fn get_text(&self, path: &str, token: &str) -> (StatusCode, String, String) {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, content_type, resp.text().await.expect("body"))
    }

    /// The SEPA file of a batch: its transfers are first taken to the bank (`POST …/export`,
    /// refused harmlessly if they already were), then the file is read.
    pub async fn sepa(&self, batch_id: &str, token: &str) -> (StatusCode, String, String) {
        let _ = self
            .post(
                &format!("/api/v1/settlements/{batch_id}/export"),
                token,
                json!({}),
            )
            .await;
        self.get_text(&format!("/api/v1/settlements/{batch_id}/sepa.xml"), token)
            .await
    }

    /// Gives a site bank details (a valid French test IBAN).
    /// Bank details that batches pay into: asked for with `token` and, when that is the site's
    /// (pending), sent with a RIB and approved by the operator.
    pub async fn bank(&self, site_id: &str, token: &str) {
        self.bank_account(site_id, token, "FR14 2004 1010 0505 0001 3M02 606")
            .await;
    }

    /// [`Self::bank`] with a given IBAN; returns the details' id.
    pub async fn bank_account(&self, site_id: &str, token: &str, iban: &str) -> String {
        let (status, body) = self.bank_request(site_id, token, iban).await;
        let id = body["id"].as_str().expect("details id").to_string();
        if status == StatusCode::ACCEPTED {
            let (status, body) = self.bank_document(site_id, token, RIB_PDF).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let (status, body) = self.bank_decision(&id, true, None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        } else {
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        id
    }

    /// Asks for new bank details, without deciding anything.
    pub async fn bank_request(
        &self,
        site_id: &str,
        token: &str,
        iban: &str,
    ) -> (StatusCode, Value) {
        self.put(
            &format!("/api/v1/sites/{site_id}/bank"),
            token,
            json!({"iban": iban, "holder": "Médiathèque d'Aquitaine"}),
        )
        .await
    }

    /// Sends the RIB of the site's pending request, as a raw body.
    pub async fn bank_document(
        &self,
        site_id: &str,
        token: &str,
        bytes: &[u8],
    ) -> (StatusCode, Value) {
        let resp = self
            .client
            .put(format!(
                "{}/api/v1/sites/{site_id}/bank/document",
                self.base
            ))
            .bearer_auth(token)
            .header("content-type", "application/pdf")
            .header("content-disposition", "attachment; filename=\"rib.pdf\"")
            .body(bytes.to_vec())
            .send()
            .await
            .expect("request sent");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// The operator approves or refuses a request for bank details.
    pub async fn bank_decision(
        &self,
        id: &str,
        approve: bool,
        reason: Option<&str>,
    ) -> (StatusCode, Value) {
        self.post(
            &format!("/api/v1/bank-requests/{id}/decision"),
            &self.operator_token,
            json!({"approve": approve, "reason": reason}),
        )
        .await
    }
}

/// The smallest document the platform takes for a RIB: a PDF's first bytes.
pub const RIB_PDF: &[u8] = b"%PDF-1.4\n% RIB de test\n%%EOF\n";

/// Validates a SEPA payment file against the schema with xmllint (Debian's libxml2-utils).
/// Without xmllint the check is skipped with one line, unless `PASSNUM_REQUIRE_XMLLINT=1` (CI).
pub fn xmllint(xml: &str) {
    xmllint_against(
        xml,
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/pain.001.001.09.xsd"
        ),
    );
}

/// Validates a bank statement a test wrote against the camt.053.001.08 schema the platform
/// embeds, as [`xmllint`] does.
pub fn xmllint_camt(xml: &str) {
    xmllint_against(
        xml,
        concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/camt.053.001.08.xsd"),
    );
}

fn xmllint_against(xml: &str, schema: &str) {
    let path = std::env::temp_dir().join(format!("passnum-xml-{}.xml", uuid::Uuid::new_v4()));
    std::fs::write(&path, xml).expect("temp file");
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--schema", schema])
        .arg(&path)
        .output();
    let _ = std::fs::remove_file(&path);
    let out = match out {
        Ok(out) => out,
        Err(e)
            if std::env::var("PASSNUM_REQUIRE_XMLLINT")
                .is_ok_and(|v| !v.is_empty() && v != "0") =>
        {
            panic!("PASSNUM_REQUIRE_XMLLINT is set but xmllint cannot run ({e}): install libxml2-utils")
        }
        Err(_) => {
            eprintln!(
                "xmllint is missing (Debian package libxml2-utils): XML schema check skipped"
            );
            return;
        }
    };
    assert!(
        out.status.success(),
        "{}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The password every test person has.
pub const PASSWORD: &str = "une phrase de passe assez longue";

impl TestApp {
    /// A person who can log in for an organisation.
    pub async fn person(&self, org_id: &str, email: &str) {
        self.user(
            org_id,
            email,
            "Camille Martin",
            passnum::users::Role::Agent,
            Some(PASSWORD),
        )
        .await;
    }

    /// An account, as the operator's bootstrap or an invitation would make it.
    pub async fn user(
        &self,
        org_id: &str,
        email: &str,
        name: &str,
        role: passnum::users::Role,
        password: Option<&str>,
    ) {
        let (org_id, email, name) = (org_id.to_string(), email.to_string(), name.to_string());
        let (password, now) = (password.map(str::to_string), self.now());
        self.write(move |tx| {
            Box::pin(async move {
                passnum::users::create(tx, &org_id, &email, &name, role, password.as_deref(), now)
                    .await
            })
        })
        .await
        .expect("person created");
    }

    /// The operator organisation.
    pub async fn operator_org(&self) -> passnum::orgs::Organization {
        let mut conn = self.state.db.read().await.expect("read");
        let id = passnum::orgs::operator_exists(&mut conn)
            .await
            .expect("query")
            .expect("the operator exists");
        passnum::orgs::get(&mut conn, &id).await.expect("operator")
    }

    /// Runs domain operations in one unit of work, as the platform (the command line, a job).
    pub async fn write<T, F>(&self, work: F) -> passnum::error::Result<T>
    where
        T: Send + 'static,
        F: for<'t, 'c> FnOnce(
                &'t mut passnum::db::Tx<'c>,
            ) -> passnum::db::BoxFuture<'t, passnum::error::Result<T>>
            + Send
            + 'static,
    {
        self.state
            .db
            .transact(passnum::db::Origin::platform(), work)
            .await
    }

    /// A connection of its own to the test database, for what a test does behind the app's
    /// back: tampering with rows, reading them raw.
    pub async fn raw(&self) -> sqlx::AnyConnection {
        sqlx::any::install_default_drivers();
        let url = if self.database_url.starts_with("sqlite:") && !self.database_url.contains('?') {
            format!("{}?mode=rw", self.database_url)
        } else {
            self.database_url.clone()
        };
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .expect("a raw connection to the test database");
        if self.database_url.starts_with("sqlite:") {
            sqlx::query("PRAGMA busy_timeout = 5000")
                .execute(&mut conn)
                .await
                .expect("busy timeout");
        }
        conn
    }
}

/// A client that keeps cookies, as a person's browser does for the web pages.
pub fn cookie_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .expect("client")
}

/// The CSRF token of the first form in a page.
pub fn csrf_of(html: &str) -> String {
    const MARK: &str = "name=\"csrf\" value=\"";
    let at = html.find(MARK).expect("a form with a CSRF token");
    let rest = &html[at + MARK.len()..];
    rest[..rest.find('"').expect("closing quote")].to_string()
}

/// The codes of a carnet's cheques, as the API answers it.
pub fn codes_of(pass: &Value) -> Vec<String> {
    pass["vouchers"]
        .as_array()
        .expect("vouchers")
        .iter()
        .map(|v| v["code"].as_str().expect("code").to_string())
        .collect()
}
