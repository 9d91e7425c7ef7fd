//! The site's console without a connection (issue 26, point 3), in a real headless Chromium
//! whose network is cut through chromedriver's network conditions: opened online it keeps the
//! page (service worker), the keys and the signed list of cancelled cheques; offline it checks
//! scanned cheques itself and notes the sessions; back online it syncs them, each cheque
//! redeemed once at its offline time, a cheque used elsewhere meanwhile a conflict. And the
//! console's addresses as a browser without JavaScript sees them.

use crate::common;

use common::browser::{Browser, WAIT};
use common::web::{get, signed_in};
use common::{Backend, TestApp, PASSWORD};
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A relay between the browser and the server that can be cut, as a network that goes away.
/// Chromium's network conditions reach the page, not its service worker's own requests, which
/// would still find the server: cutting the relay as well makes the test's offline a real one.
struct Relay {
    base: String,
    cut: tokio::sync::watch::Sender<bool>,
}

impl Relay {
    async fn to(server: &str) -> Relay {
        let target = server.trim_start_matches("http://").to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (cut, watch) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if *watch.borrow() {
                    continue;
                }
                let (target, mut watch) = (target.clone(), watch.clone());
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watch.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Relay { base, cut }
    }

    /// Cuts every connection and refuses new ones, or lets them through again.
    fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

async fn log_in(b: &Browser, app: &TestApp, base: &str, email: &str, name: &str) {
    b.visit(&format!("{base}/connexion"), name).await;
    b.fill("#email", email).await;
    b.fill("#password", PASSWORD).await;
    b.submit_form("form[action='/connexion'] button[type=submit]")
        .await;
    b.second_factor(app, email).await;
}

/// Waits until `script` (a function body returning a boolean, or a promise of one) is true.
async fn wait_until(b: &Browser, script: &str, what: &str) {
    let deadline = Instant::now() + WAIT * 2;
    let mut last;
    loop {
        let answer = b
            .client()
            .execute_async(
                &format!(
                    "const done = arguments[0];
                     Promise.resolve((async () => {{ {script} }})())
                       .then((v) => done(v === true), (e) => done(String(e)));"
                ),
                vec![],
            )
            .await;
        match answer {
            Ok(Value::Bool(true)) => return,
            Ok(v) => last = v,
            Err(e) => last = Value::String(e.to_string()),
        }
        if Instant::now() > deadline {
            let state = b
                .client()
                .execute(
                    "const s = document.getElementById('console-state');
                     const e = document.getElementById('console-error');
                     return [s && s.textContent, e && e.textContent];",
                    vec![],
                )
                .await
                .unwrap_or(Value::Null);
            panic!(
                "{what}: not so after {:?} (last answer {last}; console says {state})",
                WAIT * 2
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the console keeps of its site, by name.
async fn stored(b: &Browser, name: &str) -> Value {
    let text = b
        .client()
        .execute(
            "const [name] = arguments;
             for (let i = 0; i < localStorage.length; i++) {
               const k = localStorage.key(i);
               if (k.startsWith('passnum-console:') && k.endsWith(':' + name)) return localStorage.getItem(k);
             }
             return null;",
            vec![json!(name)],
        )
        .await
        .expect("localStorage read");
    match text {
        Value::String(t) => serde_json::from_str(&t).expect("JSON kept by the console"),
        _ => Value::Null,
    }
}

async fn pending_count(b: &Browser) -> usize {
    stored(b, "pending").await.as_array().map_or(0, Vec::len)
}

/// Types (or pastes, as a scanner does) `code` into the first code field and sends the form.
async fn offer(b: &Browser, code: &str, service: &str) {
    b.fill("#code", code).await;
    b.select("#service", service).await;
    b.click("#redeem-form button[type=submit]").await;
}

/// Offers a cheque offline and waits until the console has noted it (`pending` notes then).
async fn note(b: &Browser, code: &str, service: &str, pending: usize) {
    offer(b, code, service).await;
    wait_until(
        b,
        &format!(
            "const n = Object.keys(localStorage).filter((k) => k.endsWith(':pending'))
               .map((k) => JSON.parse(localStorage.getItem(k)).length)[0] || 0;
             return n === {pending} && !document.getElementById('console-ok').hidden;"
        ),
        &format!("the session with {code} noted offline"),
    )
    .await;
}

/// Offers a cheque offline and waits for the refusal saying `why`.
async fn refused(b: &Browser, code: &str, why: &str) {
    b.client()
        .execute(
            "document.getElementById('console-error').textContent = '';",
            vec![],
        )
        .await
        .expect("script");
    offer(b, code, "individual_help").await;
    wait_until(
        b,
        &format!(
            "const e = document.getElementById('console-error');
             return !e.hidden && e.textContent.includes({});",
            json!(why)
        ),
        &format!("{code} refused offline with « {why} »"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_console_redeems_offline_then_syncs_once() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let w = app.world(100_000, 20).await;
    let (_, other) = app.qualified_site("France Services Cenon").await;
    let pass = app.issue(&w, 5).await;
    let payload = |i: usize| {
        pass["vouchers"][i]["qr_payload"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let code = |i: usize| pass["vouchers"][i]["code"].as_str().unwrap().to_string();
    assert!(payload(0).starts_with("PN2."), "{}", payload(0));
    // A carnet declared lost before the console fetched the list of cancelled cheques.
    let lost = app.issue(&w, 5).await;
    let cancel = format!("/api/v1/passes/{}/cancel", lost["id"].as_str().unwrap());
    let (status, body) = app.post(&cancel, &w.distributor, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let email = "agent@mediatheque.example";
    app.user(
        &w.site_id,
        email,
        "Sam Agent",
        passnum::users::Role::Admin,
        Some(PASSWORD),
    )
    .await;

    // Online: the console is opened, this device registered; it keeps what it needs.
    let relay = Relay::to(&app.base).await;
    log_in(&b, &app, &relay.base, email, "console-connexion").await;
    let console = format!("{}/lieu/console", relay.base);
    b.visit(&console, "console-en-ligne").await;
    b.fill("#console-label", "Tablette accueil").await;
    b.click("#console-device-form button[type=submit]").await;
    wait_until(
        &b,
        "return document.getElementById('console').dataset.ready === 'oui';",
        "the console ready for offline",
    )
    .await;
    wait_until(
        &b,
        "await navigator.serviceWorker.ready;
         return !!navigator.serviceWorker.controller && !!(await caches.match('/lieu/console'))
           && !!(await caches.match('/static/console.js'));",
        "the console page kept by its service worker",
    )
    .await;
    let device = stored(&b, "device").await;
    let device_id = device["id"].as_str().expect("device id").to_string();
    assert_eq!(device["label"], "Tablette accueil");
    b.check_axe("console-prete-1280").await;
    b.set_window_size(320, 800).await;
    b.check_axe("console-prete-320").await;
    b.set_window_size(1280, 900).await;

    // The server's page changes (the site is renamed): a page shown offline with the old name
    // is the copy the service worker kept.
    let mut raw = app.raw().await;
    sqlx::query("UPDATE organizations SET name = 'Médiathèque renommée' WHERE id = $1")
        .bind(&w.site_id)
        .execute(&mut raw)
        .await
        .expect("renamed");

    // The network is cut; meanwhile a cheque is redeemed online at another site.
    b.set_offline(true).await;
    relay.set_cut(true);
    let (status, body) = app.redeem(&other, &code(3)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // The page opens again without the network (from the service worker's copy) and says so.
    b.visit(&console, "console-hors-ligne").await;
    wait_until(
        &b,
        "try { await fetch('/api/v1/public/keys', { cache: 'no-store' }); return false; }
         catch (e) { return !navigator.onLine; }",
        "the page cut from the network",
    )
    .await;
    let shown = b.page_source().await;
    assert!(
        shown.contains("Médiathèque Mériadeck") && !shown.contains("Médiathèque renommée"),
        "the console page offline is the copy kept online"
    );
    assert!(
        b.text("#console-state").await.starts_with("Hors ligne."),
        "{}",
        b.text("#console-state").await
    );

    // Three sessions verified and noted offline, and one typed code noted « à confirmer ».
    note(&b, &payload(0), "individual_help", 1).await;
    b.check_axe("console-seance-notee").await;
    note(&b, &payload(1), "administrative_procedure", 2).await;
    note(&b, &payload(3), "individual_help", 3).await;
    note(&b, &code(2), "individual_help", 4).await;
    assert!(
        b.text("#console-ok").await.contains("à confirmer"),
        "{}",
        b.text("#console-ok").await
    );
    // A forged cheque (one symbol of its signature changed) and a cancelled one are refused.
    let mut forged = payload(4).into_bytes();
    let at = forged.len() - 20;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    refused(&b, &forged, "Chèque falsifié").await;
    let lost_payload = lost["vouchers"][0]["qr_payload"].as_str().unwrap();
    refused(&b, lost_payload, "Chèque annulé").await;
    refused(&b, &payload(0), "déjà noté sur cet appareil").await;
    assert_eq!(pending_count(&b).await, 4);
    b.set_window_size(320, 800).await;
    b.check_axe("console-en-attente-320").await;
    b.set_window_size(1280, 900).await;
    let records: Vec<Value> = stored(&b, "pending")
        .await
        .as_array()
        .expect("pending")
        .iter()
        .map(|n| n["record"].clone())
        .collect();
    assert!(records.iter().all(|r| r["device_id"] == device_id.as_str()));
    let seqs: Vec<i64> = records.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    assert_eq!(
        records[3]["cheques"][0]["to_confirm"], true,
        "{}",
        records[3]
    );
    assert_eq!(records[1]["service"], "administrative_procedure");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM redemptions WHERE device_id IS NOT NULL")
            .await,
        0,
        "nothing reached the server while offline"
    );

    // Back online a little later: the console syncs by itself.
    app.advance(SignedDuration::from_mins(10));
    relay.set_cut(false);
    b.set_offline(false).await;
    wait_until(
        &b,
        "return document.querySelectorAll('#console-results li').length === 4;",
        "the four sessions answered",
    )
    .await;
    assert_eq!(pending_count(&b).await, 0);
    let results = b.text("#console-results").await;
    assert_eq!(results.matches("Encaissé").count(), 3, "{results}");
    assert!(results.contains("Déjà utilisé"), "{results}");
    assert!(results.contains("France Services Cenon"), "{results}");
    b.check_axe("console-synchronisee").await;

    // Each redemption once, at the time noted offline.
    let by_device = format!("SELECT COUNT(*) FROM redemptions WHERE device_id = '{device_id}'");
    assert_eq!(app.count(&by_device).await, 3);
    for (record, i) in [(&records[0], 0), (&records[1], 1), (&records[3], 2)] {
        let noted: Timestamp = record["session_at"].as_str().unwrap().parse().unwrap();
        let code = code(i);
        let (session_at, device): (Option<String>, Option<String>) = sqlx::query_as(
            "SELECT r.session_at, r.device_id FROM redemptions r \
             JOIN vouchers v ON v.id = r.voucher_id WHERE v.code = $1",
        )
        .bind(code.replace('-', ""))
        .fetch_one(&mut raw)
        .await
        .expect("one redemption of the cheque");
        assert_eq!(
            session_at.as_deref(),
            Some(passnum::clock::format_ts(noted).as_str()),
            "{code}"
        );
        assert_eq!(device.as_deref(), Some(device_id.as_str()));
    }
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id \
             WHERE r.undone_at IS NULL"
        )
        .await,
        4,
        "three offline and the one at the other site"
    );

    // The same records sent again change nothing: each gets its first answer back.
    let before = app.count("SELECT COUNT(*) FROM redemptions").await;
    let (status, again) = app
        .post(
            "/api/v1/offline/sync",
            &w.site,
            json!({ "records": records }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let outcomes: Vec<&str> = again["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["replayed"], true, "{r}");
            r["outcome"].as_str().unwrap()
        })
        .collect();
    assert_eq!(outcomes, ["accepted", "accepted", "conflict", "accepted"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM redemptions").await, before);
    // The synchronise button then has nothing left to send.
    b.click("#console-sync").await;
    wait_until(
        &b,
        "return document.getElementById('console-ok').textContent.includes('Aucune séance en attente');",
        "nothing left to sync",
    )
    .await;
    app.assert_ledger_verifies().await;

    // Online, the console (still the page kept offline) redeems as the redemption page does.
    b.fill("#code", &payload(4)).await;
    b.submit_form("#redeem-form button[type=submit]").await;
    let receipt = b.check_axe("console-recu-en-ligne").await;
    assert!(
        receipt.url.contains("/lieu/encaissements/"),
        "{}",
        receipt.url
    );
    assert!(b.page_source().await.contains(&code(4)));

    // The conflict is on the site's offline page too.
    b.visit(
        &format!("{}/lieu/hors-ligne", relay.base),
        "console-conflits",
    )
    .await;
    let page = b.page_source().await;
    assert!(page.contains(&code(3)), "the conflict is listed");
    app.assert_ledger_verifies().await;
    b.close().await;
}

/// Without JavaScript the console is the redemption form (sent to /lieu/encaisser), with its
/// manifest; the worker, the manifest and the script are served; a device registered by the
/// console's script gets its id back as JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_console_works_online_without_javascript() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let w = app.world(100_000, 20).await;
    let pass = app.issue(&w, 5).await;
    let (client, _) = signed_in(&app, &w.site_id, "agent@mediatheque.example").await;
    let page = get(&client, &format!("{}/lieu/console", app.base)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("action=\"/lieu/encaisser\""));
    assert!(page
        .html
        .contains("rel=\"manifest\" href=\"/lieu/manifest.webmanifest\""));
    assert!(page.html.contains("<script src=\"/static/console.js\""));
    // What the console checks offline: this site's place and the programme it accepts.
    let setup = page
        .html
        .split("data-setup=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("data-setup")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&");
    let setup: Value = serde_json::from_str(&setup).expect("setup JSON");
    assert_eq!(setup["site_id"], w.site_id.as_str());
    assert_eq!(setup["places"][0]["zone"], "Europe/Paris");
    assert_eq!(setup["places"][0]["redeems"], true);
    assert_eq!(
        setup["places"][0]["programmes"][0]["reference"],
        passnum::vouchers::codes::programme_ref(&w.program_id).as_str()
    );

    // Sent without JavaScript, the form redeems as the redemption page's does.
    let code = pass["vouchers"][0]["code"].as_str().unwrap();
    let done = common::web::post(
        &client,
        &format!("{}/lieu/encaisser", app.base),
        &[
            ("csrf", &page.csrf()),
            ("once", &page.once()),
            ("code", code),
            ("service", "individual_help"),
            ("minutes", "60"),
            ("location", "at_site"),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.html);
    assert!(done.url.contains("/lieu/encaissements/"), "{}", done.url);

    for (path, kind) in [
        ("/lieu/manifest.webmanifest", "application/manifest+json"),
        ("/lieu/sw.js", "text/javascript"),
        ("/static/console.js", "text/javascript"),
        ("/lieu/icone.svg", "image/svg+xml"),
    ] {
        let resp = client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
        if path.ends_with("webmanifest") {
            let manifest: Value = resp.json().await.unwrap();
            assert_eq!(manifest["start_url"], "/lieu/console");
            assert_eq!(manifest["scope"], "/lieu/");
            assert_eq!(manifest["display"], "standalone");
        }
    }

    // The console's script registers its device and keeps the id it is given.
    let hors_ligne = get(&client, &format!("{}/lieu/hors-ligne", app.base)).await;
    let resp = client
        .post(format!("{}/lieu/hors-ligne/appareils", app.base))
        .header("accept", "application/json")
        .form(&[
            ("csrf", hors_ligne.csrf().as_str()),
            ("once", &hors_ligne.once()),
            ("label", "Tablette accueil"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let device: Value = resp.json().await.unwrap();
    assert_eq!(device["label"], "Tablette accueil");
    let id = device["id"].as_str().unwrap();
    let mut conn = app.raw().await;
    let (label,): (String,) = sqlx::query_as("SELECT label FROM offline_devices WHERE id = $1")
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(label, "Tablette accueil");
    // An empty name is refused in JSON too.
    let resp = client
        .post(format!("{}/lieu/hors-ligne/appareils", app.base))
        .header("accept", "application/json")
        .form(&[("csrf", hors_ligne.csrf().as_str()), ("label", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_label", "{body}");
}
