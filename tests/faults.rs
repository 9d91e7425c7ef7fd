//! Faults: redemption storms, two servers on one database, a server killed under load, the
//! database cut away. Whatever happens, a cheque is redeemed at most once, every answered
//! success is in the database once, and the ledger verifies.

#[path = "it/common/mod.rs"]
mod common;

use common::faults::{
    assert_ledger_verify_cli, issue_cheques, route_through, send, storm, tally, Attempt, Proxy,
    Server,
};
use common::{fresh_database, postgres_url, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};

on_both_databases!(
    race_storm,
    overlapping_sessions_storm,
    crash_under_load,
    sigterm_answers_what_it_commits
);

const CHEQUES: usize = 1_000;
const ATTEMPTS: usize = 10_000;
const CLIENTS: usize = 64;
const SITES: usize = 4;

/// Every cheque is tried `ATTEMPTS / CHEQUES` times in a row, so its attempts are in flight
/// together, by every site in turn, half by typed code and half by QR payload.
fn attempts_on(
    cheques: &[(String, String)],
    sites: &[String],
    bases: &[String],
    per_cheque: usize,
) -> Vec<Attempt> {
    let mut attempts = Vec::with_capacity(cheques.len() * per_cheque);
    for (c, (code, payload)) in cheques.iter().enumerate() {
        for i in 0..per_cheque {
            attempts.push(Attempt {
                base: bases[(c + i) % bases.len()].clone(),
                token: sites[(c + i) % sites.len()].clone(),
                input: if i % 2 == 0 { code } else { payload }.clone(),
                cheque: c,
            });
        }
    }
    attempts
}

/// Exactly one success per cheque, every other attempt `409 already_redeemed`, no 5xx.
fn assert_one_success_per_cheque(answers: &[common::faults::Answer], attempts: &[Attempt]) {
    let counts = tally(answers);
    let cheques: HashSet<usize> = attempts.iter().map(|a| a.cheque).collect();
    assert_eq!(counts.get("201"), Some(&cheques.len()), "{counts:?}");
    assert_eq!(
        counts.get("409 already_redeemed"),
        Some(&(attempts.len() - cheques.len())),
        "{counts:?}"
    );
    let mut won = HashSet::new();
    let mut vouchers = HashSet::new();
    for (answer, attempt) in answers.iter().zip(attempts) {
        if answer.status == Some(StatusCode::CREATED) {
            assert!(
                won.insert(attempt.cheque),
                "cheque {} twice",
                attempt.cheque
            );
            let voucher = answer.body["voucher_id"].as_str().expect("voucher_id");
            assert!(vouchers.insert(voucher.to_string()));
        }
    }
}

async fn race_storm(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(CHEQUES as i64 * 1_000, CHEQUES as i64).await;
    let mut sites = vec![w.site.clone()];
    for i in 1..SITES {
        sites.push(app.qualified_site(&format!("Espace numérique {i}")).await.1);
    }
    let cheques = issue_cheques(&app, &w.distributor, &w.program_id, CHEQUES / 10, 8).await;
    let attempts = attempts_on(
        &cheques,
        &sites,
        std::slice::from_ref(&app.base),
        ATTEMPTS / CHEQUES,
    );

    let started = Instant::now();
    let answers = storm(&attempts, CLIENTS).await;
    eprintln!(
        "race storm on {backend:?}: {} attempts in {:?}",
        attempts.len(),
        started.elapsed()
    );
    assert_one_success_per_cheque(&answers, &attempts);
    let rec = app.reconciliation(&w).await;
    assert_eq!(rec["redeemed_cents"], CHEQUES as i64 * 1_000, "{rec}");
    app.assert_ledger_verifies().await;
}

/// Sessions of two cheques that overlap (each cheque asked by two sessions and alone), each
/// sent twice at once under one idempotency key, all in flight together: the server handles
/// them in groups, where a cheque asked twice goes to one session only and a session that
/// cannot have both of its cheques gets neither.
async fn overlapping_sessions_storm(backend: Backend) {
    use futures::StreamExt;
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(400_000, 400).await;
    let cheques = issue_cheques(&app, &w.distributor, &w.program_id, 20, 4).await;
    let mut sessions: Vec<(String, Vec<String>)> = Vec::new();
    for (p, pass) in cheques.chunks(10).enumerate() {
        for j in 0..pass.len() {
            sessions.push((format!("single-{p}-{j}"), vec![pass[j].0.clone()]));
            if j + 1 < pass.len() {
                // The QR payload for one of the two, as a scan would send.
                let pair = vec![pass[j].0.clone(), pass[j + 1].1.clone()];
                sessions.push((format!("pair-{p}-{j}"), pair));
            }
        }
    }
    let client = reqwest::Client::new();
    let sends = sessions.iter().flat_map(|s| [s, s]).map(|(key, codes)| {
        let (client, app, token) = (&client, &app, &w.site);
        async move {
            let answer = send(
                client,
                Method::POST,
                &format!("{}/api/v1/redemptions", app.base),
                token,
                Some(json!({"codes": codes, "service": "workshop"})),
                Some(key),
            )
            .await;
            (key.clone(), answer)
        }
    });
    let answers: Vec<(String, common::faults::Answer)> = futures::stream::iter(sends)
        .buffer_unordered(CLIENTS)
        .collect()
        .await;

    let mut first: std::collections::HashMap<String, &common::faults::Answer> =
        std::collections::HashMap::new();
    let mut redeemed = HashSet::new();
    for (key, answer) in &answers {
        match answer.status {
            Some(StatusCode::CREATED) => {}
            Some(StatusCode::CONFLICT) => assert_eq!(answer.code(), "already_redeemed"),
            other => panic!("{key}: {other:?} {}", answer.body),
        }
        // Both sends of a session get the same answer, once one of them succeeded.
        match first.get(key) {
            Some(earlier) if earlier.status == Some(StatusCode::CREATED) => {
                assert_eq!(answer.status, Some(StatusCode::CREATED), "{key}");
                assert_eq!(answer.body, earlier.body, "{key}");
            }
            Some(_) if answer.status == Some(StatusCode::CREATED) => {
                panic!("{key}: refused once, redeemed by its twin")
            }
            _ => {}
        }
        first.insert(key.clone(), answer);
    }
    for (key, answer) in &first {
        if answer.status == Some(StatusCode::CREATED) {
            let lines = answer.body["cheques"].as_array().expect("cheques");
            let asked = sessions
                .iter()
                .find(|(k, _)| k == key)
                .expect("session")
                .1
                .len();
            assert_eq!(lines.len(), asked, "{key}: {}", answer.body);
            for line in lines {
                let voucher = line["voucher_id"].as_str().expect("voucher_id").to_string();
                assert!(redeemed.insert(voucher), "{key}: a cheque redeemed twice");
            }
        }
    }
    let rec = app.reconciliation(&w).await;
    assert_eq!(
        rec["redeemed_cents"],
        redeemed.len() as i64 * 1_000,
        "{rec}"
    );
    app.assert_ledger_verifies().await;
}

mod outage {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_outage() {
        if super::postgres_url().is_none() {
            eprintln!("PASSNUM_TEST_POSTGRES_URL is not set: the outage runs on PostgreSQL only");
            return;
        }
        super::database_outage().await
    }
}

/// PostgreSQL vanishes for a few seconds under load: requests fail fast with 503, nothing is
/// half-written, `/readyz` tells, and the server recovers by itself.
async fn database_outage() {
    const OUTAGE: Duration = Duration::from_secs(4);
    let database_url = fresh_database(Backend::Postgres).await.expect("database");
    let (upstream, _) = route_through(&database_url, "127.0.0.1:1".parse().unwrap());
    let proxy = Proxy::start(upstream).await;
    let (_, proxied_url) = route_through(&database_url, proxy.addr);
    let app = TestApp::spawn_on(&proxied_url, |c| c.db_acquire_timeout_secs = 1).await;
    let w = app.world(300_000, 300).await;
    let cheques = issue_cheques(&app, &w.distributor, &w.program_id, 30, 4).await;

    // 16 clients go through the cheques, each pausing a little between requests so the load
    // spans the outage.
    let started = Instant::now();
    let clients = 16;
    let load = (0..clients).map(|c| {
        let (app, cheques, site) = (&app, &cheques, w.site.clone());
        async move {
            let mut answers = Vec::new();
            for (i, (code, _)) in cheques.iter().enumerate().skip(c).step_by(clients) {
                let at = started.elapsed();
                let answer = send(
                    &app.client,
                    Method::POST,
                    &format!("{}/api/v1/redemptions", app.base),
                    &site,
                    Some(json!({"code": code, "service": "workshop"})),
                    None,
                )
                .await;
                answers.push((i, at, answer));
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            answers
        }
    });
    let checks = async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        let cut_at = started.elapsed();
        proxy.cut();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let ready = send(
            &app.client,
            Method::GET,
            &format!("{}/readyz", app.base),
            "",
            None,
            None,
        )
        .await;
        assert_eq!(
            ready.status,
            Some(StatusCode::SERVICE_UNAVAILABLE),
            "{ready:?}"
        );
        // Pages say it in French too, with the same hint to come back.
        let page = send(
            &app.client,
            Method::GET,
            &format!("{}/lieux?q=33000", app.base),
            "",
            None,
            None,
        )
        .await;
        assert_eq!(
            page.status,
            Some(StatusCode::SERVICE_UNAVAILABLE),
            "{page:?}"
        );
        assert!(
            page.body
                .as_str()
                .is_some_and(|html| html.contains("indisponible")),
            "{page:?}"
        );
        assert!(page.retry_after.is_some(), "{page:?}");
        tokio::time::sleep(OUTAGE - Duration::from_millis(500)).await;
        let restored_at = started.elapsed();
        proxy.restore().await;
        // The pool notices on its own: no restart.
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let ready = send(
                &app.client,
                Method::GET,
                &format!("{}/readyz", app.base),
                "",
                None,
                None,
            )
            .await;
            if ready.status == Some(StatusCode::OK) {
                break;
            }
            assert!(Instant::now() < deadline, "never ready again: {ready:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!(
            "ready again {:?} after the restore",
            started.elapsed() - restored_at
        );
        (cut_at, restored_at)
    };
    let (answers, (cut_at, restored_at)) = tokio::join!(futures::future::join_all(load), checks);
    let answers: Vec<_> = answers.into_iter().flatten().collect();
    eprintln!(
        "outage: {:?}",
        tally(
            &answers
                .iter()
                .map(|(_, _, a)| a.clone())
                .collect::<Vec<_>>()
        )
    );

    let mut during = 0;
    for (_, at, a) in &answers {
        match a.status {
            Some(StatusCode::CREATED) => {}
            Some(StatusCode::SERVICE_UNAVAILABLE) => {
                assert_eq!(a.code(), "unavailable", "{a:?}");
                let message = a.body["error"]["message"].as_str().unwrap_or_default();
                assert!(message.contains("indisponible"), "{a:?}");
                assert!(a.retry_after.is_some(), "503 without Retry-After: {a:?}");
                assert!(
                    a.elapsed < Duration::from_secs(4),
                    "a 503 took {:?}",
                    a.elapsed
                );
            }
            // A commit whose answer was lost is not possible here (the request failed), but
            // the same cheque is never tried twice during the load: anything else is a bug.
            _ => panic!("unexpected answer during the outage: {a:?}"),
        }
        if *at > cut_at + Duration::from_millis(100) && *at + a.elapsed < restored_at {
            during += 1;
            assert_eq!(a.status, Some(StatusCode::SERVICE_UNAVAILABLE), "{a:?}");
        }
    }
    assert!(during > 0, "no request fell in the outage");
    let slowest = answers
        .iter()
        .filter(|(_, _, a)| a.status == Some(StatusCode::SERVICE_UNAVAILABLE))
        .map(|(_, _, a)| a.elapsed)
        .max();
    eprintln!("outage: {during} requests inside it, slowest 503 in {slowest:?}");
    assert!(
        answers
            .iter()
            .any(|(_, at, a)| *at > restored_at && a.status == Some(StatusCode::CREATED)),
        "no redemption succeeded after the restore"
    );

    // Whatever failed is redeemed now, once.
    for (i, _, a) in &answers {
        if a.status != Some(StatusCode::CREATED) {
            let (status, body) = app.redeem(&w.site, &cheques[*i].0).await;
            assert!(
                status == StatusCode::CREATED
                    || (status == StatusCode::CONFLICT
                        && common::error_code(&body) == "already_redeemed"),
                "{status} {body}"
            );
        }
    }
    let rec = app.reconciliation(&w).await;
    assert_eq!(rec["redeemed_cents"], 300_000, "{rec}");
    app.assert_ledger_verifies().await;
}

/// One write of the crash load, with the idempotency key it carries and its first answer.
struct Sent {
    token: String,
    method: Method,
    path: String,
    body: Option<serde_json::Value>,
    key: String,
    first: common::faults::Answer,
}

impl Sent {
    fn answered_ok(&self) -> bool {
        self.first.status.is_some_and(|s| s.is_success())
    }
}

/// Sends a write with a fresh idempotency key and keeps it for the retries.
async fn send_kept(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    method: Method,
    path: String,
    body: Option<serde_json::Value>,
) -> Sent {
    let key = uuid::Uuid::new_v4().to_string();
    let first = send(
        client,
        method.clone(),
        &format!("{base}{path}"),
        token,
        body.clone(),
        Some(&key),
    )
    .await;
    Sent {
        token: token.to_string(),
        method,
        path,
        body,
        key,
        first,
    }
}

/// One client of the crash load: issues a carnet, redeems its cheques, undoes every third
/// redemption, and again, until its first request without an answer.
async fn crash_client(
    client: reqwest::Client,
    base: String,
    distributor: String,
    program_id: String,
    site: String,
) -> Vec<Sent> {
    let mut sent = Vec::new();
    loop {
        let issue = send_kept(
            &client,
            &base,
            &distributor,
            Method::POST,
            "/api/v1/passes".into(),
            Some(json!({"program_id": program_id, "cheques": 10, "beneficiary_ref": "B-CRASH"})),
        )
        .await;
        let pass = issue.first.body.clone();
        let go_on = issue.answered_ok();
        sent.push(issue);
        if !go_on {
            return sent;
        }
        for (n, voucher) in pass["vouchers"]
            .as_array()
            .expect("vouchers")
            .iter()
            .enumerate()
        {
            let redeem = send_kept(
                &client,
                &base,
                &site,
                Method::POST,
                "/api/v1/redemptions".into(),
                Some(json!({"code": voucher["code"], "service": "individual_help"})),
            )
            .await;
            let id = redeem.first.body["id"].as_str().map(str::to_string);
            let go_on = redeem.answered_ok();
            sent.push(redeem);
            if !go_on {
                return sent;
            }
            if n % 3 == 0 {
                let undo = send_kept(
                    &client,
                    &base,
                    &site,
                    Method::DELETE,
                    format!("/api/v1/redemptions/{}", id.expect("id")),
                    None,
                )
                .await;
                let go_on = undo.answered_ok();
                sent.push(undo);
                if !go_on {
                    return sent;
                }
            }
        }
    }
}

/// The server is SIGKILLed in the middle of issuances, redemptions and undos, then restarted
/// on the same database: what was answered 2xx is there once, retries with the same keys get
/// the first answer, and cut-off requests come to one consistent outcome.
async fn crash_under_load(backend: Backend) {
    let Some(database_url) = fresh_database(backend).await else {
        return;
    };
    let mut server = Server::start(&database_url, &[]).await;
    let mut app = TestApp::remote(&database_url, &server.base).await;
    let w = app.world(10_000_000, 10_000).await;
    let mut sites = vec![w.site.clone()];
    for i in 1..3 {
        sites.push(app.qualified_site(&format!("Tiers-lieu {i}")).await.1);
    }

    let client = reqwest::Client::new();
    let load: Vec<_> = (0..12)
        .map(|c| {
            tokio::spawn(crash_client(
                client.clone(),
                server.base.clone(),
                w.distributor.clone(),
                w.program_id.clone(),
                sites[c % sites.len()].clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    server.kill();
    let mut sent = Vec::new();
    for client in load {
        sent.extend(client.await.expect("client"));
    }
    let cut_off = sent.iter().filter(|s| s.first.status.is_none()).count();
    eprintln!(
        "crash on {backend:?}: {} writes, {} answered, {cut_off} cut off",
        sent.len(),
        sent.len() - cut_off
    );
    for s in &sent {
        assert!(
            s.first.status.is_none() || s.answered_ok(),
            "a write failed before the crash: {} {} {:?}",
            s.method,
            s.path,
            s.first
        );
    }
    assert!(cut_off > 0);

    server.restart().await;
    app.base = server.base.clone();
    for s in &sent {
        let url = format!("{}{}", server.base, s.path);
        let retry = || {
            send(
                &client,
                s.method.clone(),
                &url,
                &s.token,
                s.body.clone(),
                Some(&s.key),
            )
        };
        let (again, once_more) = (retry().await, retry().await);
        assert!(
            again.status.is_some_and(|s| s.is_success()),
            "retry of {} {}: {again:?}",
            s.method,
            s.path
        );
        assert_eq!(
            (again.status, &again.body),
            (once_more.status, &once_more.body)
        );
        if s.answered_ok() {
            assert_eq!((again.status, &again.body), (s.first.status, &s.first.body));
        }
    }

    // Each key made exactly one thing: passes, redemptions and undos are all there, once.
    let issued = sent.iter().filter(|s| s.path == "/api/v1/passes").count();
    let (status, passes) = app.get("/api/v1/passes", Some(&w.distributor)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(passes.as_array().map(Vec::len), Some(issued), "{passes}");
    let redeemed = sent
        .iter()
        .filter(|s| s.path == "/api/v1/redemptions")
        .count();
    let undone = sent.iter().filter(|s| s.method == Method::DELETE).count();
    let mut rows = Vec::new();
    for site in &sites {
        let (status, list) = app.get("/api/v1/redemptions", Some(site)).await;
        assert_eq!(status, StatusCode::OK);
        rows.extend(list.as_array().expect("list").clone());
    }
    assert_eq!(rows.len(), redeemed);
    assert_eq!(
        rows.iter().filter(|r| !r["undone_at"].is_null()).count(),
        undone
    );
    let rec = app.reconciliation(&w).await;
    assert_eq!(
        rec["redeemed_cents"],
        (redeemed - undone) as i64 * 1_000,
        "{rec}"
    );
    assert_ledger_verify_cli(&database_url);
}

mod two_servers {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn one_postgres() {
        if super::postgres_url().is_none() {
            eprintln!("PASSNUM_TEST_POSTGRES_URL is not set: two servers need PostgreSQL");
            return;
        }
        super::two_servers_one_database().await
    }
}

/// Two `passnum serve` on one PostgreSQL database share the storm: still one success per
/// cheque. Then both settle at once (API on each server and the command line): every
/// redemption is paid by exactly one settlement line.
async fn two_servers_one_database() {
    let database_url = fresh_database(Backend::Postgres).await.expect("database");
    // No undo window, so what was redeemed a moment ago can be settled now.
    let env = [("PASSNUM_UNDO_WINDOW_HOURS", "0")];
    let servers = [
        Server::start(&database_url, &env).await,
        Server::start(&database_url, &env).await,
    ];
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    let app = TestApp::remote(&database_url, &bases[0]).await;
    let w = app.world(CHEQUES as i64 * 1_000, CHEQUES as i64).await;
    app.bank(&w.site_id, &w.site).await;
    let mut sites = vec![w.site.clone()];
    for i in 1..SITES {
        let (id, token) = app.qualified_site(&format!("Espace numérique {i}")).await;
        app.bank(&id, &token).await;
        sites.push(token);
    }
    let cheques = issue_cheques(&app, &w.distributor, &w.program_id, CHEQUES / 10, 8).await;
    let attempts = attempts_on(&cheques, &sites, &bases, ATTEMPTS / CHEQUES);
    let started = Instant::now();
    let answers = storm(&attempts, CLIENTS).await;
    eprintln!(
        "two servers: {} attempts in {:?}",
        attempts.len(),
        started.elapsed()
    );
    assert_one_success_per_cheque(&answers, &attempts);

    // Settlement started everywhere at once, once the last redemptions are older than the
    // margin a batch leaves for transactions still in flight.
    let margin = passnum::settlement::IN_FLIGHT_MARGIN.unsigned_abs();
    tokio::time::sleep(margin + Duration::from_secs(1)).await;
    let until = jiff::Zoned::now()
        .in_tz("Europe/Paris")
        .expect("tz")
        .date()
        .to_string();
    let api = bases.iter().flat_map(|base| {
        let (app, until) = (&app, until.clone());
        (0..2).map(move |_| {
            let until = until.clone();
            async move {
                send(
                    &app.client,
                    Method::POST,
                    &format!("{base}/api/v1/settlements"),
                    &app.operator_token,
                    Some(json!({"until": until})),
                    None,
                )
                .await
            }
        })
    });
    let cli = (0..2).map(|_| {
        let (database_url, until) = (database_url.clone(), until.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_passnum"))
                .args(["settle", "--until", &until])
                .current_dir(std::env::temp_dir())
                .env("DATABASE_URL", &database_url)
                .env("PASSNUM_SIGNING_KEYS", common::TEST_KEYS)
                .env("PASSNUM_UNDO_WINDOW_HOURS", "0")
                .env("RUST_LOG", "error")
                .output()
                .expect("passnum settle runs")
        })
    });
    let (api, cli) = tokio::join!(
        futures::future::join_all(api),
        futures::future::join_all(cli)
    );
    let mut batches = 0;
    for a in &api {
        match a.status {
            Some(StatusCode::CREATED) => batches += 1,
            // Another batch settled them first, or is saving lines for the same period.
            Some(StatusCode::CONFLICT)
                if matches!(a.code(), "nothing_to_settle" | "concurrent_settlement") => {}
            _ => panic!("settlement answered {a:?}"),
        }
    }
    for out in cli {
        let out = out.expect("settle");
        if out.status.success() {
            batches += 1;
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains("régler") || stderr.contains("au même moment"),
                "passnum settle failed: {stderr}"
            );
        }
    }
    assert!(batches >= 1);

    let db = app.state.db.reads();
    // Which lines pay a redemption: those of its site and programme whose period covers it.
    let covering = "SELECT COUNT(*) FROM settlement_lines l WHERE l.site_id = r.site_id \
                    AND l.program_id = r.program_id AND r.redeemed_at >= l.period_start \
                    AND r.redeemed_at < l.period_end";
    let (unsettled, twice): (i64, i64) = sqlx::query_as(&format!(
        "SELECT CAST(COALESCE(SUM(CASE WHEN ({covering}) = 0 THEN 1 ELSE 0 END), 0) AS BIGINT), \
                CAST(COALESCE(SUM(CASE WHEN ({covering}) > 1 THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM redemptions r WHERE r.undone_at IS NULL"
    ))
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!((unsettled, twice), (0, 0));
    let (lines, settled): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(redemptions), 0) AS BIGINT), \
         CAST(COALESCE(SUM(settled_cents), 0) AS BIGINT) FROM settlement_lines",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!((lines, settled), (CHEQUES as i64, CHEQUES as i64 * 1_000));
    // Each redemption is counted by the line whose period covers it, and only by it.
    let mismatched: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM settlement_lines l WHERE l.redemptions <> \
         (SELECT COUNT(*) FROM redemptions r WHERE r.undone_at IS NULL \
          AND r.site_id = l.site_id AND r.program_id = l.program_id \
          AND r.redeemed_at >= l.period_start AND r.redeemed_at < l.period_end)",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(mismatched, 0);
    eprintln!("two servers: {batches} settlement batch(es) pay {lines} redemptions");
    assert_ledger_verify_cli(&database_url);
}

/// SIGTERM under load (a deploy, a scale-in): the server stops taking connections but finishes
/// the requests in flight, so every redemption it commits is answered to its client, and it
/// exits cleanly. (A request refused at the door never reached the database.)
async fn sigterm_answers_what_it_commits(backend: Backend) {
    let Some(database_url) = fresh_database(backend).await else {
        return;
    };
    let mut server = Server::start(&database_url, &[]).await;
    let app = TestApp::remote(&database_url, &server.base).await;
    let w = app.world(1_000_000, 1_000).await;
    let cheques = issue_cheques(&app, &w.distributor, &w.program_id, 40, 4).await;
    let client = reqwest::Client::new();
    let load: Vec<_> = cheques
        .iter()
        .map(|(code, _)| {
            let (client, base, site, code) = (
                client.clone(),
                server.base.clone(),
                w.site.clone(),
                code.clone(),
            );
            tokio::spawn(async move {
                let answer = client
                    .post(format!("{base}/api/v1/redemptions"))
                    .bearer_auth(&site)
                    .json(&json!({"code": code}))
                    .send()
                    .await;
                let status = match answer {
                    Ok(resp) => {
                        let status = resp.status();
                        // The whole answer must arrive, not just its status line.
                        resp.bytes().await.ok().map(|_| status)
                    }
                    Err(_) => None,
                };
                (code, status)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let exit = server.terminate(Duration::from_secs(40)).await;
    assert!(
        exit.is_some_and(|s| s.success()),
        "passnum serve did not exit cleanly on SIGTERM: {exit:?}"
    );
    let mut answered = HashSet::new();
    for task in load {
        let (code, status) = task.await.expect("client");
        match status {
            Some(StatusCode::CREATED) => {
                answered.insert(code);
            }
            Some(other) => panic!("{code}: {other} during shutdown"),
            None => {}
        }
    }
    let committed: Vec<String> = sqlx::query_scalar(
        "SELECT v.code FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id",
    )
    .fetch_all(app.state.db.reads())
    .await
    .expect("redemptions");
    let committed: HashSet<String> = committed
        .iter()
        .map(|c| passnum::vouchers::codes::display_code(c))
        .collect();
    let answered: HashSet<String> = answered
        .iter()
        .map(|c| {
            passnum::vouchers::codes::parse_code(c)
                .map(|c| passnum::vouchers::codes::display_code(&c))
                .expect("a code")
        })
        .collect();
    eprintln!(
        "SIGTERM on {backend:?}: {} attempts, {} answered 201",
        cheques.len(),
        answered.len()
    );
    assert!(!answered.is_empty(), "nothing was in flight");
    assert_eq!(committed, answered, "committed and answered differ");
    assert_ledger_verify_cli(&database_url);
}
