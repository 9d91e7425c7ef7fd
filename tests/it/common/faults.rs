//! Helpers for the fault tests: the server as a child process, a TCP proxy that can cut the
//! database away, and a storm of concurrent redemption attempts.

use super::{test_config, TestApp, TEST_KEYS};
use futures::StreamExt;
use passnum::clock::MockClock;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `passnum serve` as a child process on a database, so it can be killed and restarted.
pub struct Server {
    child: Option<Child>,
    pub base: String,
    database_url: String,
    env: Vec<(String, String)>,
}

impl Server {
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> Server {
        let mut server = Server {
            child: None,
            base: String::new(),
            database_url: database_url.to_string(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        server.restart().await;
        server
    }

    /// Starts the process (again) on a free port and waits until it is ready.
    pub async fn restart(&mut self) {
        self.kill();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let bind = format!("127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_passnum"))
            .args(["serve", "--bind", &bind])
            .current_dir(std::env::temp_dir())
            .env("DATABASE_URL", &self.database_url)
            .env("PASSNUM_SIGNING_KEYS", TEST_KEYS)
            .env("PASSNUM_INVALID_CODE_LIMIT", "1000000")
            .env("PASSNUM_PUBLIC_LOOKUP_LIMIT", "1000000")
            .env("RUST_LOG", "error")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("passnum serve starts");
        self.child = Some(child);
        self.base = format!("http://{bind}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", self.base)).send().await {
                if r.status() == StatusCode::OK {
                    return;
                }
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("passnum serve exited: {status}");
            }
            assert!(Instant::now() < deadline, "passnum serve never got ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, as systemd or a container runtime stops it; waits for the process to exit and
    /// returns its status, or None if it is still running after `within`.
    pub async fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM not sent");
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().expect("wait") {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// SIGKILL: no graceful shutdown, requests in flight are cut.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs a `passnum` command on a database and returns its output.
pub fn passnum(database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_passnum"))
        .args(args)
        .current_dir(std::env::temp_dir())
        .env("DATABASE_URL", database_url)
        .env("PASSNUM_SIGNING_KEYS", TEST_KEYS)
        .env("RUST_LOG", "error")
        .output()
        .expect("passnum runs")
}

pub fn assert_ledger_verify_cli(database_url: &str) {
    let out = passnum(database_url, &["ledger", "verify"]);
    assert!(
        out.status.success(),
        "passnum ledger verify failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestApp {
    /// Speaks to a server running elsewhere (a child process) on `database_url`, with an
    /// operator token made directly in that database. The in-process state serves nothing: it
    /// only reads the database for checks.
    pub async fn remote(database_url: &str, base: &str) -> TestApp {
        let clock = MockClock::new(jiff::Timestamp::now());
        let state = passnum::start(test_config(database_url), clock.clone())
            .await
            .expect("state on the shared database");
        let operator_token = passnum::cli::bootstrap(&state).await.expect("bootstrap");
        TestApp {
            base: base.to_string(),
            client: reqwest::Client::new(),
            clock,
            state,
            database_url: database_url.to_string(),
            operator_token,
            authenticators: Default::default(),
        }
    }
}

/// One redemption attempt: which server, which site, which code (short code or QR payload).
#[derive(Clone, Debug)]
pub struct Attempt {
    pub base: String,
    pub token: String,
    pub input: String,
    pub cheque: usize,
}

/// An answer as the client saw it. `status` is None when the connection failed.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: Option<StatusCode>,
    pub body: Value,
    pub retry_after: Option<String>,
    pub elapsed: Duration,
}

impl Answer {
    pub fn code(&self) -> &str {
        super::error_code(&self.body)
    }
}

/// Sends a request and never panics: a cut connection is an answer too.
pub async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
    idempotency_key: Option<&str>,
) -> Answer {
    let started = Instant::now();
    let mut req = client.request(method, url).bearer_auth(token);
    if let Some(k) = idempotency_key {
        req = req.header("Idempotency-Key", k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let (status, body, retry_after) = match req.send().await {
        Ok(resp) => {
            let status = resp.status();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            match resp.text().await {
                Ok(text) => (
                    Some(status),
                    serde_json::from_str(&text).unwrap_or(Value::String(text)),
                    retry_after,
                ),
                Err(e) => (None, Value::String(e.to_string()), None),
            }
        }
        Err(e) => (None, Value::String(e.to_string()), None),
    };
    Answer {
        status,
        body,
        retry_after,
        elapsed: started.elapsed(),
    }
}

/// Fires every attempt from `clients` concurrent clients, in order, and returns the answers in
/// the order of the attempts.
pub async fn storm(attempts: &[Attempt], clients: usize) -> Vec<Answer> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .expect("client");
    let mut answers: Vec<(usize, Answer)> = futures::stream::iter(attempts.iter().enumerate())
        .map(|(i, a)| {
            let client = client.clone();
            async move {
                let answer = send(
                    &client,
                    reqwest::Method::POST,
                    &format!("{}/api/v1/redemptions", a.base),
                    &a.token,
                    Some(json!({"code": a.input, "service": "individual_help", "minutes": 60})),
                    None,
                )
                .await;
                (i, answer)
            }
        })
        .buffer_unordered(clients)
        .collect()
        .await;
    answers.sort_by_key(|(i, _)| *i);
    answers.into_iter().map(|(_, a)| a).collect()
}

/// Counts answers by `status code`, for readable failures.
pub fn tally(answers: &[Answer]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for a in answers {
        let key = match a.status {
            Some(s) if s.is_success() => s.as_u16().to_string(),
            Some(s) => format!("{} {}", s.as_u16(), a.code()),
            None => "no answer".to_string(),
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

/// Issues `passes` active carnets of 10 cheques, `parallel` at a time, and returns every
/// cheque as `(short code, QR payload)`.
pub async fn issue_cheques(
    app: &TestApp,
    distributor: &str,
    program_id: &str,
    passes: usize,
    parallel: usize,
) -> Vec<(String, String)> {
    let bodies: Vec<Value> = futures::stream::iter(0..passes)
        .map(|i| async move {
            let (status, body) = app
                .post(
                    "/api/v1/passes",
                    distributor,
                    json!({"program_id": program_id, "cheques": 10, "beneficiary_ref": format!("B-{i:04}")}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            body
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    bodies
        .iter()
        .flat_map(|b| b["vouchers"].as_array().expect("vouchers").clone())
        .map(|v| {
            (
                v["code"].as_str().expect("code").to_string(),
                v["qr_payload"].as_str().expect("payload").to_string(),
            )
        })
        .collect()
}

/// A TCP proxy in front of PostgreSQL that the test can cut, as when the server stops: every
/// connection is dropped and new ones are refused (nothing listens), until it is restored.
pub struct Proxy {
    pub addr: SocketAddr,
    upstream: String,
    cuts: tokio::sync::watch::Sender<u64>,
    accept: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Proxy {
    pub async fn start(upstream: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let proxy = Proxy {
            addr: listener.local_addr().expect("addr"),
            upstream,
            cuts: tokio::sync::watch::channel(0u64).0,
            accept: std::sync::Mutex::new(None),
        };
        proxy.listen(listener);
        proxy
    }

    fn listen(&self, listener: tokio::net::TcpListener) {
        let (upstream, cuts) = (self.upstream.clone(), self.cuts.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut cut = cuts.subscribe();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        *self.accept.lock().expect("lock") = Some(task);
    }

    pub fn cut(&self) {
        if let Some(task) = self.accept.lock().expect("lock").take() {
            task.abort();
        }
        self.cuts.send_modify(|generation| *generation += 1);
    }

    /// Listens again on the same address.
    pub async fn restore(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("proxy: cannot listen again yet ({e})");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("proxy cannot listen again on {}: {e}", self.addr),
            }
        };
        self.listen(listener);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}

/// `postgres://user:pw@host:port/db` → (`host:port`, the same URL through `via`).
pub fn route_through(url: &str, via: SocketAddr) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("scheme");
    let (auth, rest) = match rest.rsplit_once('@') {
        Some((auth, rest)) => (format!("{auth}@"), rest),
        None => (String::new(), rest),
    };
    let (host, path) = rest.split_once('/').expect("database");
    let host = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:5432")
    };
    (host, format!("{scheme}://{auth}{via}/{path}"))
}
