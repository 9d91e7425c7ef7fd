//! Security over HTTP against the real app: guessing codes hits 429, forms need their CSRF
//! token, one organisation never sees another's data, every answer carries the security headers,
//! and malformed requests are refused in the error format without touching the data.

use crate::common;

use common::{error_code, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_databases!(
    guessing_pass_codes_hits_429_long_before_a_hit,
    guessing_short_codes_hits_429_long_before_a_hit,
    an_address_guessing_through_many_sites_is_blocked_for_all,
    forms_without_csrf_token_change_nothing,
    sites_cannot_touch_another_sites_data,
    distributors_and_funders_cannot_touch_another_ones_data,
    malformed_requests_are_refused_and_change_nothing,
    forwarded_addresses_count_only_behind_a_trusted_proxy,
    instances_on_one_postgresql_share_their_limits,
);

/// Headers every kind of answer must carry.
fn assert_security_headers(what: &str, headers: &reqwest::header::HeaderMap) {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let csp = get("content-security-policy");
    assert!(csp.contains("default-src 'self'"), "{what}: CSP {csp:?}");
    assert!(
        csp.contains("frame-ancestors 'none'"),
        "{what}: CSP {csp:?}"
    );
    assert!(!csp.contains("unsafe-inline"), "{what}: CSP {csp:?}");
    assert!(!csp.contains("unsafe-eval"), "{what}: CSP {csp:?}");
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    assert!(
        !get("referrer-policy").is_empty(),
        "{what}: no Referrer-Policy"
    );
}

/// Status, headers and JSON (or text) body of a raw request.
async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Option<Vec<u8>>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = app.client.request(method, format!("{}{path}", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, value)
}

/// Declares a body of `declared` bytes and sends none of it: the server must answer on the
/// headers alone. (Sending the body would race the server's early answer: once it has
/// refused, it closes the connection and a client still writing sees a broken pipe.)
async fn oversized(
    app: &TestApp,
    path: &str,
    token: &str,
    declared: usize,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {declared}\r\n\
         Connection: close\r\n\r\n"
    );
    stream
        .write_all(head.as_bytes())
        .await
        .expect("headers sent");
    let mut answer = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.expect("answer read");
            answer.extend_from_slice(&buf[..n]);
            if n == 0 || complete_response(&answer) {
                break;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("the server answers before the body is sent");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a full answer");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .expect("a status line");
    let mut headers = reqwest::header::HeaderMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            headers.append(
                reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()).expect("name"),
                value.trim().parse().expect("value"),
            );
        }
    }
    let value = serde_json::from_str(body).unwrap_or(Value::String(body.to_string()));
    (status, headers, value)
}

/// Whether `bytes` hold a whole HTTP answer with a Content-Length.
fn complete_response(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .is_some_and(|len| body.len() >= len)
}

/// The API's error format: `{"error": {"code", "message"}}`, nothing else.
fn assert_error_format(what: &str, body: &Value) {
    let error = body["error"].as_object().unwrap_or_else(|| {
        panic!("{what}: not in the error format: {body}");
    });
    assert!(
        error["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{what}: {body}"
    );
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {body}"
    );
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{what}: {body}");
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(app.state.db.reads())
        .await
        .expect("count")
}

/// Everything the tests below could change, to compare before and after.
async fn counts(app: &TestApp) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for table in [
        "organizations",
        "api_tokens",
        "programs",
        "fundings",
        "allocations",
        "passes",
        "vouchers",
        "redemptions",
        "site_bank_accounts",
        "settlements",
        "ledger_transactions",
        "idempotency_keys",
    ] {
        out.push((table, count(app, table).await));
    }
    out
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

async fn guessing_pass_codes_hits_429_long_before_a_hit(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.public_lookup_limit = 30).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let pass = app.issue(&w, 5).await;
    let real = pass["pass_code"].as_str().expect("pass code").to_string();
    let mut limited_after = None;
    for attempt in 1..=100 {
        let guess = format!("PN-{attempt:04}-ZZZZ");
        let (status, headers, body) = raw(
            &app,
            Method::GET,
            &format!("/api/v1/public/passes/{guess}"),
            None,
            None,
            None,
        )
        .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(retry_after(&headers).is_some_and(|s| s > 0), "{headers:?}");
            assert_error_format("429", &body);
            limited_after = Some(attempt);
            break;
        }
        assert!(status.is_client_error(), "{status} {body}");
    }
    assert_eq!(limited_after, Some(31), "the 31st guess is refused");
    // Once limited, even the right code tells nothing, through the API or the page.
    let (status, _) = app
        .get(&format!("/api/v1/public/passes/{real}"), None)
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let resp = app
        .client
        .get(format!("{}/solde?code={real}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(resp.headers()).is_some());
    assert_security_headers("429 page", resp.headers());
}

async fn guessing_short_codes_hits_429_long_before_a_hit(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.invalid_code_limit = 20).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let pass = app.issue(&w, 5).await;
    let real = pass["vouchers"][0]["code"].as_str().unwrap().to_string();
    let before = counts(&app).await;
    let mut limited_after = None;
    for attempt in 1..=100u32 {
        // Well-formed guesses with a wrong check symbol or an unknown code.
        let guess = format!("ABCD-EFGH-JK{:02}", attempt % 100);
        let (status, headers, body) = raw(
            &app,
            Method::POST,
            "/api/v1/redemptions",
            Some(&w.site),
            Some("application/json"),
            Some(json!({"code": guess}).to_string().into_bytes()),
        )
        .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(retry_after(&headers).is_some_and(|s| s > 0), "{headers:?}");
            assert_error_format("429", &body);
            limited_after = Some(attempt);
            break;
        }
        assert_eq!(error_code(&body), "invalid_code", "{body}");
    }
    assert_eq!(limited_after, Some(21), "the 21st guess is refused");
    // Blocked means blocked: a real code is not even tried, so guessing cannot go on.
    let (status, _) = app.redeem(&w.site, &real).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Another site behind the same address (a shared counter, a mobile carrier) is not
    // blocked by its neighbour's mistakes; the address itself is allowed five times as many.
    let (_, other_site) = app.qualified_site("Espace public numérique").await;
    let (status, body) = app.redeem(&other_site, "ABCD-EFGH-JK99").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let after = counts(&app).await;
    let redemptions = |c: &[(&str, i64)]| c.iter().find(|(t, _)| *t == "redemptions").unwrap().1;
    assert_eq!(redemptions(&before), redemptions(&after));
}

/// Both counters (a site's, its address's, read together before each redemption) block: five
/// sites' worth of guesses from one address block a sixth site there, whose own count is nil.
async fn an_address_guessing_through_many_sites_is_blocked_for_all(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.invalid_code_limit = 4).await else {
        return;
    };
    let mut sites = Vec::new();
    for i in 0..6 {
        sites.push(app.qualified_site(&format!("Espace numérique {i}")).await.1);
    }
    // Four guesses per site: each site reaches its own limit, the address 20 (5 × 4).
    for (i, site) in sites[..5].iter().enumerate() {
        for attempt in 0..4 {
            let (status, body) = app.redeem(site, &format!("ABCD-EFGH-J{i}{attempt}K")).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(error_code(&body), "invalid_code", "{body}");
        }
        let (status, body) = app.redeem(site, "ABCD-EFGH-JK99").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "site {i}: {body}");
    }
    let (status, body) = app.redeem(&sites[5], "ABCD-EFGH-JK98").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
}

async fn forms_without_csrf_token_change_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    app.person(&w.distributor_id, "agent@ccas.example").await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let login = format!("{}/connexion", app.base);
    // The log-in form itself needs the token: a cross-site login is refused.
    let resp = client
        .post(&login)
        .form(&[
            ("email", "agent@ccas.example"),
            ("password", common::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_security_headers("403 page", resp.headers());
    let html = client
        .get(&login)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    let csrf = html[at..at + html[at..].find('"').unwrap()].to_string();
    let resp = client
        .post(&login)
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "agent@ccas.example"),
            ("password", common::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let before = counts(&app).await;
    let issue = format!("{}/distributeur/carnets", app.base);
    let fields = [("program_id", w.program_id.as_str()), ("cheques", "5")];
    for token in [
        None,
        Some(""),
        Some("forged-token-forged-token-forged-token"),
    ] {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        if let Some(t) = token {
            form.push(("csrf", t));
        }
        let resp = client.post(&issue).form(&form).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "csrf {token:?}");
    }
    // Nor does a JSON body or a token in a header stand in for the form field.
    let resp = client
        .post(&issue)
        .header("x-csrf-token", &csrf)
        .json(&json!({"program_id": w.program_id, "cheques": 5, "csrf": csrf}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(before, counts(&app).await);
}

async fn sites_cannot_touch_another_sites_data(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let (other_id, other) = app.qualified_site("Espace public numérique").await;
    let pass = app.issue(&w, 5).await;
    let (status, redemption) = app
        .redeem(&w.site, pass["vouchers"][0]["code"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{redemption}");
    let redemption_id = redemption["id"].as_str().unwrap();
    app.bank(&w.site_id, &w.site).await;
    let before = counts(&app).await;

    // Undoing another site's redemption: not found, and it stays.
    let (status, body) = app
        .delete(&format!("/api/v1/redemptions/{redemption_id}"), &other)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error_format("undo", &body);
    // The other site's list does not show it.
    let (status, list) = app.get("/api/v1/redemptions", Some(&other)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list, json!([]));
    // Bank details of another site can be neither set nor read back.
    let (status, body) = app
        .put(
            &format!("/api/v1/sites/{}/bank", w.site_id),
            &other,
            json!({"iban": "FR76 3000 6000 0112 3456 7890 189", "holder": "Escroc"}),
        )
        .await;
    assert!(
        matches!(status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
        "{status} {body}"
    );
    assert!(!body.to_string().contains("3M02"), "{body}");
    // Settlement: the site being paid sees its statement, the other one does not.
    let (status, batch) = app
        .post(
            "/api/v1/settlements",
            &app.operator_token,
            json!({"until": "2026-12-31"}),
        )
        .await;
    if status == StatusCode::CREATED {
        let batch_id = batch["id"].as_str().unwrap();
        let (status, body) = app
            .get(&format!("/api/v1/settlements/{batch_id}"), Some(&other))
            .await;
        assert!(
            matches!(status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
            "{status} {body}"
        );
        let (status, _, text) = app
            .get_text(
                &format!(
                    "/api/v1/settlements/{batch_id}/statements/{}.csv",
                    w.site_id
                ),
                &other,
            )
            .await;
        assert!(
            matches!(status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
            "{status} {text}"
        );
        assert!(!text.contains(&w.site_id), "{text}");
        // Nor can a site approve a batch.
        let (status, _) = app
            .post(
                &format!("/api/v1/settlements/{batch_id}/approve"),
                &other,
                json!({}),
            )
            .await;
        assert!(matches!(
            status,
            StatusCode::NOT_FOUND | StatusCode::FORBIDDEN
        ));
    }
    // A site cannot qualify itself nor mint tokens.
    let (status, _) = app
        .put(
            &format!("/api/v1/sites/{other_id}/qualification"),
            &other,
            json!({"status": "qualified", "valid_until": "2030-12-31"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(
            &format!("/api/v1/organizations/{}/tokens", w.site_id),
            &other,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let mut after = counts(&app).await;
    after.retain(|(t, _)| {
        !matches!(
            *t,
            "settlements" | "ledger_transactions" | "idempotency_keys"
        )
    });
    let mut before = before;
    before.retain(|(t, _)| {
        !matches!(
            *t,
            "settlements" | "ledger_transactions" | "idempotency_keys"
        )
    });
    assert_eq!(before, after);
}

async fn distributors_and_funders_cannot_touch_another_ones_data(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let (_, other_distributor) = app.org("distributor", "Mairie de Talence").await;
    let (_, other_funder) = app.org("funder", "CAF de la Gironde").await;
    let pass = app.issue(&w, 5).await;
    let pass_id = pass["id"].as_str().unwrap();
    let before = counts(&app).await;
    let secret_code = pass["vouchers"][0]["code"].as_str().unwrap();

    let (status, body) = app
        .get(
            &format!("/api/v1/passes/{pass_id}"),
            Some(&other_distributor),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error_format("show", &body);
    let (status, list) = app.get("/api/v1/passes", Some(&other_distributor)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!list.to_string().contains(secret_code), "{list}");
    for action in ["cancel", "activate"] {
        let (status, body) = app
            .post(
                &format!("/api/v1/passes/{pass_id}/{action}"),
                &other_distributor,
                if action == "activate" {
                    json!({"beneficiary_ref": "X"})
                } else {
                    json!({})
                },
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{action}: {body}");
    }
    // Another distributor cannot issue on a programme that gave it no quota.
    let (status, body) = app
        .post(
            "/api/v1/passes",
            &other_distributor,
            json!({"program_id": w.program_id, "cheques": 5}),
        )
        .await;
    assert!(status.is_client_error(), "{status} {body}");
    // Another funder sees nothing of the programme and cannot move its money.
    let program = format!("/api/v1/programs/{}", w.program_id);
    for path in [
        program.clone(),
        format!("{program}/reconciliation"),
        format!("{program}/reconciliation/breakdown"),
    ] {
        let (status, body) = app.get(&path, Some(&other_funder)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let writes = [
        (
            format!("{program}/fundings"),
            json!({"amount_cents": 1000, "reference": "X-1"}),
        ),
        (
            format!("{program}/allocations"),
            json!({"distributor_id": w.distributor_id, "cheques": 1}),
        ),
        (format!("{program}/close"), json!({})),
    ];
    for (path, body) in writes {
        let (status, answer) = app.post(&path, &other_funder, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {answer}");
    }
    // The real distributor still sees its pass.
    let (status, _) = app
        .get(&format!("/api/v1/passes/{pass_id}"), Some(&w.distributor))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(before, counts(&app).await);
}

async fn malformed_requests_are_refused_and_change_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let before = counts(&app).await;
    let json_ct = Some("application/json");
    let good = |extra: Value| {
        let mut b = json!({"program_id": w.program_id, "cheques": 5});
        if let (Some(b), Some(e)) = (b.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        b.to_string().into_bytes()
    };
    let huge = "x".repeat(60_000);
    let cases: Vec<(&str, Option<&str>, Vec<u8>)> = vec![
        ("malformed JSON", json_ct, b"{\"program_id\": ".to_vec()),
        ("not an object", json_ct, b"[1, 2, 3]".to_vec()),
        ("wrong type", json_ct, good(json!({"cheques": "cinq"}))),
        ("float", json_ct, good(json!({"cheques": 5.5}))),
        ("negative", json_ct, good(json!({"cheques": -5}))),
        ("too many", json_ct, good(json!({"cheques": i64::MAX}))),
        ("missing field", json_ct, b"{\"cheques\": 5}".to_vec()),
        ("unknown field", json_ct, good(json!({"admin": true}))),
        ("null", json_ct, b"null".to_vec()),
        (
            "huge string",
            json_ct,
            good(json!({"beneficiary_ref": huge})),
        ),
        (
            "huge e-mail",
            json_ct,
            good(json!({"email": format!("{huge}@example.org")})),
        ),
        (
            "invalid UTF-8",
            json_ct,
            [
                b"{\"program_id\": \"".as_slice(),
                &[0xff, 0xfe, 0xc3],
                b"\", \"cheques\": 5}",
            ]
            .concat(),
        ),
        ("wrong content type", Some("text/plain"), good(json!({}))),
        (
            "form content type",
            Some("application/x-www-form-urlencoded"),
            good(json!({})),
        ),
        ("deeply nested", json_ct, {
            let mut s = "[".repeat(10_000);
            s.push_str(&"]".repeat(10_000));
            s.into_bytes()
        }),
    ];
    for (what, content_type, body) in cases {
        let (status, headers, answer) = raw(
            &app,
            Method::POST,
            "/api/v1/passes",
            Some(&w.distributor),
            content_type,
            Some(body),
        )
        .await;
        assert!(status.is_client_error(), "{what}: {status} {answer}");
        assert_error_format(what, &answer);
        assert_security_headers(what, &headers);
        assert!(
            headers.get("content-type").is_some_and(|v| v
                .to_str()
                .unwrap_or_default()
                .starts_with("application/json")),
            "{what}: {headers:?}"
        );
    }
    // Found by schemathesis: a code starting with a multi-byte character used to panic the
    // handler (the connection closed without an answer).
    for code in [
        "0\u{10000}",
        "é123",
        "PN1\u{e9}.K2.X.Y",
        "\u{10000}\u{10000}",
    ] {
        let (status, body) = app.redeem(&w.site, code).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{code}: {body}");
        assert_eq!(error_code(&body), "invalid_code", "{code}");
    }
    // Oversized body: 413 in the error format, answered on the declared length alone.
    let (status, headers, answer) =
        oversized(&app, "/api/v1/passes", &w.distributor, 200_000).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_error_format("413", &answer);
    assert_security_headers("413", &headers);
    let (status, _, answer) =
        oversized(&app, "/api/v1/redemptions", &w.site, 3 * 1024 * 1024).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(before, counts(&app).await);
    // Every kind of answer carries the security headers.
    let (status, headers, body) = raw(&app, Method::GET, "/healthz", None, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_security_headers("JSON", &headers);
    assert_eq!(body["status"], "ok");
    let kinds: Vec<(&str, Method, String, Option<&str>, StatusCode)> = vec![
        ("HTML", Method::GET, "/".into(), None, StatusCode::OK),
        (
            "static",
            Method::GET,
            "/static/style.css".into(),
            None,
            StatusCode::OK,
        ),
        (
            "API 404",
            Method::GET,
            "/api/v1/nothing-here".into(),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            "page 404",
            Method::GET,
            "/nothing-here".into(),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            "API 405",
            Method::PATCH,
            "/api/v1/passes".into(),
            Some(w.distributor.as_str()),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            "page 405",
            Method::DELETE,
            "/connexion".into(),
            None,
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            "401",
            Method::GET,
            "/api/v1/passes".into(),
            Some("pn_not-a-token"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "403",
            Method::POST,
            "/api/v1/organizations".into(),
            Some(w.site.as_str()),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (what, method, path, token, expected) in kinds {
        let is_api = path.starts_with("/api/");
        // A well-formed body, so that the refusal is about who asks.
        let body = (method == Method::POST).then(|| {
            json!({"kind": "site", "name": "Lieu pirate"})
                .to_string()
                .into_bytes()
        });
        let ct = body.as_ref().map(|_| "application/json");
        let (status, headers, answer) = raw(&app, method, &path, token, ct, body).await;
        assert_eq!(status, expected, "{what}: {answer}");
        assert_security_headers(what, &headers);
        if is_api {
            assert_error_format(what, &answer);
        }
    }
}

/// Status of a public look-up sent through a proxy that says it is for `forwarded_for`. Each
/// address guesses codes of its own prefix (its last number), since guesses sharing a prefix
/// are limited together whatever their address.
async fn lookup_via(app: &TestApp, forwarded_for: &str) -> StatusCode {
    let last = forwarded_for.rsplit('.').next().unwrap_or_default();
    app.client
        .get(format!(
            "{}/api/v1/public/passes/P{last:0>3}-ZZZZ-ZZZZ",
            app.base
        ))
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .expect("request sent")
        .status()
}

async fn forwarded_addresses_count_only_behind_a_trusted_proxy(backend: Backend) {
    // The tests' client connects from 127.0.0.1: here it plays a trusted reverse proxy.
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.public_lookup_limit = 3;
        c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("network")];
    })
    .await
    else {
        return;
    };
    for _ in 0..3 {
        assert_ne!(
            lookup_via(&app, "198.51.100.1").await,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    assert_eq!(
        lookup_via(&app, "198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another person behind the same proxy keeps their own allowance...
    assert_ne!(
        lookup_via(&app, "198.51.100.2").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // ...but a client cannot dodge its limit by prepending a made-up address.
    assert_eq!(
        lookup_via(&app, "203.0.113.50, 198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );

    // Without a trusted proxy the header is ignored: every made-up address is the peer's.
    let Some(direct) = TestApp::spawn_with(backend, |c| c.public_lookup_limit = 3).await else {
        return;
    };
    let statuses = futures::future::join_all((1..=5).map(|i| {
        let direct = &direct;
        async move { lookup_via(direct, &format!("198.51.100.{i}")).await }
    }))
    .await;
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        2,
        "{statuses:?}"
    );
}

/// Scale-out: on PostgreSQL, instances share their counters, so a client spreading its
/// guesses over instances gets no more than the limit. (SQLite serves from one process.)
async fn instances_on_one_postgresql_share_their_limits(backend: Backend) {
    if backend == Backend::Sqlite {
        return;
    }
    let Some(first) = TestApp::spawn_with(backend, |c| c.public_lookup_limit = 4).await else {
        return;
    };
    let second = TestApp::spawn_on(&first.database_url, |c| c.public_lookup_limit = 4).await;
    let guesses = futures::future::join_all((0..10).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        async move {
            app.client
                .get(format!("{}/api/v1/public/passes/PN-{i:04}-ZZZZ", app.base))
                .send()
                .await
                .expect("request sent")
                .status()
        }
    }))
    .await;
    let refused = guesses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        refused, 6,
        "4 guesses in all, whichever instance: {guesses:?}"
    );
}
