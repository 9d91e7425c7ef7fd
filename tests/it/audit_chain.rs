//! The audit log is a hash chain: actions over HTTP are journaled with who, when and from where,
//! the sealer chains them, and `passnum audit verify` catches any edited or deleted entry.
//! Also: a locked account is told by e-mail, and a forgotten password is reset by a one-time
//! link sent by e-mail.

use crate::common;

use common::{cookie_client, csrf_of};

use common::smtp::SmtpSink;
use common::{Backend, TestApp};
use reqwest::StatusCode;
use std::process::Command;

on_both_databases!(
    actions_are_chained_and_tampering_is_caught,
    concurrent_sealers_never_fork_the_chain,
    a_rewritten_chain_misses_its_anchor,
    logins_are_journaled_and_lockout_is_mailed,
    forgotten_password_is_reset_by_a_one_time_link,
);

fn passnum(database_url: &str, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_passnum"));
    cmd.args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("passnum runs")
}

fn audit_verify(app: &TestApp) -> (bool, String) {
    let out = passnum(
        &app.database_url,
        &["audit", "verify"],
        &[("PASSNUM_SIGNING_KEYS", common::TEST_KEYS)],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `passnum audit verify` with anchors: (success, everything printed).
fn audit_verify_anchored(app: &TestApp, anchors: &[&str]) -> (bool, String) {
    let mut args = vec!["audit", "verify"];
    for anchor in anchors {
        args.extend(["--anchor", anchor]);
    }
    let out = passnum(
        &app.database_url,
        &args,
        &[("PASSNUM_SIGNING_KEYS", common::TEST_KEYS)],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Whoever can write the whole database can recompute a consistent chain; the anchor printed
/// by an earlier verification, kept elsewhere, is what catches it.
async fn a_rewritten_chain_misses_its_anchor(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 20).await;
    app.issue(&w, 5).await;
    app.issue(&w, 5).await;
    let (ok, text) = audit_verify_anchored(&app, &[]);
    assert!(ok, "{text}");
    let anchor = text
        .split_whitespace()
        .last()
        .expect("an anchor is printed")
        .to_string();
    let (ok, text) = audit_verify_anchored(&app, &[&anchor]);
    assert!(ok, "{text}");
    assert!(text.contains("1 ancrage(s) retrouvé(s)"), "{text}");

    // Rewrite history: edit an entry, then reseal everything from the genesis.
    exec(
        &app,
        "UPDATE audit_log SET detail = 'rien à voir' WHERE chain_seq = 2",
    )
    .await;
    exec(&app, "UPDATE audit_log SET chain_seq = NULL, hash = NULL").await;
    exec(
        &app,
        &format!(
            "UPDATE audit_chain_head SET last_seq = 0, last_hash = '{}'",
            passnum::audit::chain::GENESIS
        ),
    )
    .await;
    let (ok, text) = audit_verify_anchored(&app, &[]);
    assert!(
        ok,
        "consistent with itself, the rewritten chain passes alone: {text}"
    );
    let (ok, text) = audit_verify_anchored(&app, &[&anchor]);
    assert!(!ok, "{text}");
    assert!(text.contains("réécrit"), "{text}");

    // A malformed anchor is refused with a message, not a crash.
    let (ok, text) = audit_verify_anchored(&app, &["42:pas-une-empreinte"]);
    assert!(!ok);
    assert!(text.contains("SHA-256"), "{text}");
}

/// Seals what waits, then verifies the whole chain (also used by the retention tests).
pub(crate) async fn seal_and_verify(app: &TestApp) -> passnum::audit::VerifyReport {
    passnum::audit::seal(&app.state.db).await.expect("seal");
    let mut conn = app.state.db.read().await.expect("conn");
    passnum::audit::verify(&mut conn)
        .await
        .expect("verify runs")
}

/// A statement run behind the app's back (tampering, or a state a test needs).
pub(crate) async fn exec(app: &TestApp, sql: &str) {
    sqlx::query(sql)
        .execute(&mut app.raw().await)
        .await
        .expect("statement behind the app's back");
}

async fn actions_are_chained_and_tampering_is_caught(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 20).await;
    let pass = app.issue(&w, 10).await;
    let codes: Vec<&str> = pass["vouchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["code"].as_str().unwrap())
        .collect();
    let (status, first) = app.redeem(&w.site, codes[0]).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, _) = app.redeem(&w.site, codes[1]).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app
        .delete(
            &format!("/api/v1/redemptions/{}", first["id"].as_str().unwrap()),
            &w.site,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pass_id = pass["id"].as_str().unwrap();
    let (status, body) = app
        .post(
            &format!("/api/v1/passes/{pass_id}/cancel"),
            &w.distributor,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Who, what, from where: one issuance entry per carnet, not per cheque.
    for (action, n) in [
        ("pass.issued", 1),
        ("redemption.created", 2),
        ("redemption.undone", 1),
        ("pass.cancelled", 1),
        ("site.qualified", 1),
    ] {
        let got = app
            .count(&format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = '{action}'"
            ))
            .await;
        assert_eq!(got, n, "{action}");
    }
    let (org, addr): (Option<String>, Option<String>) = sqlx::query_as(
        "SELECT actor_org_id, client_addr FROM audit_log WHERE action = 'redemption.created' LIMIT 1",
    )
    .fetch_one(app.state.db.reads())
    .await
    .unwrap();
    assert_eq!(org.as_deref(), Some(w.site_id.as_str()));
    assert_eq!(addr.as_deref(), Some("127.0.0.1"));

    // Rows wait unsealed until the sealer chains them.
    let unsealed = app
        .count("SELECT COUNT(*) FROM audit_log WHERE chain_seq IS NULL")
        .await;
    assert!(unsealed > 5, "{unsealed}");
    let report = seal_and_verify(&app).await;
    assert!(report.is_ok(), "{:?}", report.problems);
    let total = app.count("SELECT COUNT(*) FROM audit_log").await;
    assert_eq!(report.entries, total);
    assert_eq!(report.head_seq, total);
    let (ok, text) = audit_verify(&app);
    assert!(ok, "{text}");
    assert!(text.contains("Journal d'audit vérifié"), "{text}");

    // 1. Someone edits an entry's detail behind the platform's back.
    let (edited_id, seq): (String, i64) = sqlx::query_as(
        "SELECT id, chain_seq FROM audit_log WHERE action = 'redemption.created' ORDER BY chain_seq LIMIT 1",
    )
    .fetch_one(app.state.db.reads())
    .await
    .unwrap();
    exec(
        &app,
        &format!("UPDATE audit_log SET detail = 'rien à voir' WHERE id = '{edited_id}'"),
    )
    .await;
    let report = seal_and_verify(&app).await;
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(
        report.problems[0].contains(&edited_id),
        "{:?}",
        report.problems
    );
    assert!(report.problems[0].contains("modifiée"));
    let (ok, text) = audit_verify(&app);
    assert!(!ok, "{text}");
    assert!(text.contains(&edited_id), "{text}");

    exec(
        &app,
        &format!("UPDATE audit_log SET chain_seq = NULL, hash = NULL WHERE id = '{edited_id}'"),
    )
    .await;

    // 2. Unsealing a row (or deleting it) leaves a gap where it was.
    let report = seal_and_verify(&app).await;
    assert!(!report.is_ok());
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("supprimée") && p.contains(&format!("n° {seq} à {seq}"))),
        "{:?}",
        report.problems
    );

    // 3. Deleting a middle row on a fresh chain of its own.
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 20).await;
    app.issue(&w, 5).await;
    let report = seal_and_verify(&app).await;
    assert!(report.is_ok(), "{:?}", report.problems);
    let middle = report.head_seq / 2;
    exec(
        &app,
        &format!("DELETE FROM audit_log WHERE chain_seq = {middle}"),
    )
    .await;
    let report = seal_and_verify(&app).await;
    assert!(
        report
            .problems
            .first()
            .is_some_and(|p| p.contains(&format!("n° {middle} à {middle} supprimée"))),
        "{:?}",
        report.problems
    );
    let (ok, text) = audit_verify(&app);
    assert!(!ok, "{text}");
    assert!(text.contains("supprimée"), "{text}");

    // 4. Deleting the newest entries: the head still names them.
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 20).await;
    app.issue(&w, 5).await;
    let report = seal_and_verify(&app).await;
    assert!(report.is_ok(), "{:?}", report.problems);
    let head = report.head_seq;
    exec(
        &app,
        &format!("DELETE FROM audit_log WHERE chain_seq >= {}", head - 1),
    )
    .await;
    let report = seal_and_verify(&app).await;
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(
        report.problems[0].contains(&format!("n° {} à {head} supprimée", head - 1)),
        "{:?}",
        report.problems
    );
    let (ok, text) = audit_verify(&app);
    assert!(!ok, "{text}");
    assert!(text.contains("tête de chaîne"), "{text}");

    // A key rotation from the command line is journaled too.
    let keys = std::env::temp_dir().join(format!("passnum-keys-{}", uuid::Uuid::new_v4()));
    let out = passnum(
        &app.database_url,
        &["keys", "rotate"],
        &[("PASSNUM_KEYS_FILE", keys.to_str().unwrap())],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'key.rotated'")
            .await,
        1
    );
    let _ = std::fs::remove_file(keys);
}

async fn concurrent_sealers_never_fork_the_chain(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // A second server process on the same database, with its own pool.
    let other = passnum::db::Db::connect(&app.database_url, 4)
        .await
        .expect("second pool");
    let write = |db: passnum::db::Db, n: usize| async move {
        for i in 0..n {
            db.transact(passnum::db::Origin::platform(), move |tx| {
                Box::pin(async move {
                    passnum::audit::record(
                        tx,
                        "2026-03-02T11:00:00Z",
                        None,
                        "test.write",
                        None,
                        &i.to_string(),
                    )
                    .await
                })
            })
            .await
            .unwrap();
        }
    };
    let seal_often = |db: passnum::db::Db| async move {
        let mut sealed = 0;
        for _ in 0..20 {
            sealed += passnum::audit::seal(&db).await.expect("seal");
            tokio::task::yield_now().await;
        }
        sealed
    };
    let (_, _, a, b) = tokio::join!(
        tokio::spawn(write(app.state.db.clone(), 150)),
        tokio::spawn(write(other.clone(), 150)),
        tokio::spawn(seal_often(app.state.db.clone())),
        tokio::spawn(seal_often(other.clone())),
    );
    let last = passnum::audit::seal(&other).await.unwrap();
    let total = app.count("SELECT COUNT(*) FROM audit_log").await;
    assert_eq!(a.unwrap() + b.unwrap() + last, total as u64);
    let report = seal_and_verify(&app).await;
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.head_seq, total);
    assert_eq!(
        app.count("SELECT COUNT(DISTINCT chain_seq) FROM audit_log")
            .await,
        total
    );
}

async fn logins_are_journaled_and_lockout_is_mailed(backend: Backend) {
    let sink = SmtpSink::start();
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(0, 0).await;
    app.person(&w.site_id, "cible@lieu.example").await;
    let client = cookie_client();
    let url = format!("{}/connexion", app.base);
    let html = client.get(&url).send().await.unwrap().text().await.unwrap();
    let csrf = csrf_of(&html);
    let attempt = |password: &'static str| {
        let (client, url, csrf) = (client.clone(), url.clone(), csrf.clone());
        async move {
            client
                .post(&url)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("email", "cible@lieu.example"),
                    ("password", password),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for _ in 0..10 {
        assert_eq!(attempt("mauvais mot de passe").await, StatusCode::OK);
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'login.failed'")
            .await,
        10
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'login.locked' AND client_addr = '127.0.0.1'"
        )
        .await,
        1
    );

    // The owner of the account learns it by e-mail, in plain French.
    let mailer = passnum::mail::Mailer::new(&sink.url, &app.state.config.mail_from).unwrap();
    let sent = passnum::mail::deliver_due(&app.state.db, &mailer, app.now())
        .await
        .unwrap();
    assert_eq!(sent, 1);
    let mails = sink.wait_for(1).await;
    assert_eq!(mails[0].to, vec!["cible@lieu.example".to_string()]);
    let text = common::mime::parts(&mails[0].data)
        .iter()
        .find(|p| p.media_type() == "text/plain")
        .expect("text part")
        .text();
    // Locked at 12:00 Paris time (11:00 UTC) for 15 minutes.
    for expected in [
        "verrouillé",
        "jusqu'à 12 h 15 le 2 mars 2026 (heure de Paris)",
        "Si ce n'était pas vous",
        "changez votre mot de passe",
        app.state.config.helpline_phone.as_str(),
        app.state.config.helpline_email.as_str(),
    ] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }

    // Once the lock is over, the right password works; the entry names the person.
    app.advance(jiff::SignedDuration::from_mins(16));
    // (16 minutes also outlast the per-account rate-limit window of the test set-up.)
    let status = attempt(common::PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let (user, addr): (Option<String>, Option<String>) = sqlx::query_as(
        "SELECT actor_user_id, client_addr FROM audit_log WHERE action = 'login.succeeded'",
    )
    .fetch_one(app.state.db.reads())
    .await
    .unwrap();
    assert!(user.is_some());
    assert_eq!(addr.as_deref(), Some("127.0.0.1"));
    let report = seal_and_verify(&app).await;
    assert!(report.is_ok(), "{:?}", report.problems);
}

async fn forgotten_password_is_reset_by_a_one_time_link(backend: Backend) {
    let sink = SmtpSink::start();
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.login_attempt_limit = 3;
        c.mail_form_limit = 3;
    })
    .await
    else {
        return;
    };
    let w = app.world(0, 0).await;
    app.person(&w.site_id, "oubli@lieu.example").await;
    let client = cookie_client();
    let url = format!("{}/mot-de-passe-oublie", app.base);
    let html = client.get(&url).send().await.unwrap().text().await.unwrap();
    let csrf = csrf_of(&html);
    let ask = |email: &'static str| {
        let (client, url, csrf) = (client.clone(), url.clone(), csrf.clone());
        async move {
            let resp = client
                .post(&url)
                .form(&[("csrf", csrf.as_str()), ("email", email)])
                .send()
                .await
                .unwrap();
            let status = resp.status();
            let retry = resp.headers().get("retry-after").is_some();
            (status, retry, resp.text().await.unwrap())
        }
    };
    // The same answer whether or not the address has an account.
    let (status, _, known) = ask("oubli@lieu.example").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, unknown) = ask("personne@nulle-part.example").await;
    assert_eq!(status, StatusCode::OK);
    let sentence = "Si un compte existe pour cette adresse";
    assert!(
        known.contains(sentence) && unknown.contains(sentence),
        "{known}"
    );

    let mailer = passnum::mail::Mailer::new(&sink.url, &app.state.config.mail_from).unwrap();
    passnum::mail::deliver_due(&app.state.db, &mailer, app.now())
        .await
        .unwrap();
    let mails = sink.wait_for(1).await;
    assert_eq!(mails.len(), 1, "only the real account gets a message");
    let text = common::mime::parts(&mails[0].data)
        .iter()
        .find(|p| p.media_type() == "text/plain")
        .expect("text part")
        .text();
    let link = text
        .lines()
        .find(|l| l.contains("/invitation/"))
        .expect("a link")
        .trim()
        .to_string();
    let token = link.rsplit('/').next().unwrap().to_string();

    // The link sets a new password once.
    let page = format!("{}/invitation/{token}", app.base);
    let html = client
        .get(&page)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf2 = csrf_of(&html);
    let new_password = "un tout nouveau mot de passe";
    let resp = client
        .post(&page)
        .form(&[
            ("csrf", csrf2.as_str()),
            ("password", new_password),
            ("confirmation", new_password),
        ])
        .send()
        .await
        .unwrap();
    assert!(resp.url().path().ends_with("/connexion"), "{}", resp.url());
    let html = client
        .get(&page)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("déjà servi ou a expiré"), "{html}");
    let (letterhead, password, now) = (app.state.letterhead(), new_password.to_string(), app.now());
    let login = app
        .write(move |tx| {
            Box::pin(async move {
                passnum::users::log_in(tx, &letterhead, "oubli@lieu.example", &password, now).await
            })
        })
        .await
        .unwrap();
    assert!(
        matches!(login, passnum::users::LogIn::Opened { .. }),
        "the new password works"
    );

    // Asking again and again (limit 3 per address and per e-mail here): 429 with Retry-After.
    let (status, _, _) = ask("oubli@lieu.example").await;
    assert_eq!(status, StatusCode::OK);
    let (status, retry, _) = ask("oubli@lieu.example").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry);
    assert!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'password.reset_requested'")
            .await
            >= 1
    );
}
