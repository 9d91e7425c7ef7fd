//! Personal data kept only as long as needed (issue 28, point 1): the daily job erases each kind
//! of data at the end of its period and not before, journals the counts once, leaves the audit
//! chain and the ledger verifiable, and a second run erases nothing more. Client addresses are
//! truncated without breaking the chain, including rows sealed in the old chain format.

use crate::audit_chain::{exec, seal_and_verify};
use crate::common::{self, Backend, TestApp, World};
use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};

on_both_databases!(
    each_kind_is_erased_after_its_period_and_not_before,
    truncated_addresses_keep_the_chain_verifiable,
    an_old_format_chain_still_verifies_once_converted_and_truncated,
    join_requests_go_after_their_period,
);

/// The personal-data page writes the periods the job uses, from the same settings.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_personal_data_page_writes_the_periods_in_force() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.retention.email_days = 45;
        c.retention.deactivated_account_months = 24;
    })
    .await
    .expect("sqlite");
    let page = common::web::get(&app.client, &format!("{}/donnees-personnelles", app.base)).await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.html.replace('\n', " ");
    for expected in [
        "effacée 45 jours après la fin du carnet",
        "gardées entières 30 jours",
        "effacé après 12 mois",
        "sans connexion pendant 12 mois est désactivé. 24 mois plus tard",
        "effacés 30 jours après leur envoi",
    ] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }
}

/// `passnum retention`, as cron runs it (with the real clock: the test's entries, made on
/// 2 March 2026, are long past 30 days).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_command_runs_the_job_for_cron() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let w = app.world(100_000, 30).await;
    app.issue(&w, 5).await;
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_passnum"))
            .arg("retention")
            .env("DATABASE_URL", &app.database_url)
            .env("PASSNUM_SIGNING_KEYS", common::TEST_KEYS)
            .env("RUST_LOG", "warn")
            .output()
            .expect("passnum runs")
    };
    let out = run();
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{out:?}");
    assert!(
        printed.contains("adresses IP réduites au réseau"),
        "{printed}"
    );
    let out = run();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Nothing past its retention period"),
        "{out:?}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE client_addr = '127.0.0.1'")
            .await,
        0
    );
    assert_chain_verifies(&app).await;
}

/// Moves the test clock (it starts on 2 March 2026, 12:00 in Paris) to a day, at noon in Paris.
fn on(app: &TestApp, day: &str) {
    app.clock.set(
        format!("{day}T11:00:00Z")
            .parse()
            .expect("a day of the test"),
    );
}

async fn run(app: &TestApp) -> passnum::retention::Report {
    passnum::cli::jobs::retention(&app.state)
        .await
        .expect("the retention job runs")
}

/// Runs the job, then once more the same day: the second run finds nothing and writes nothing.
async fn run_twice(app: &TestApp) -> passnum::retention::Report {
    let report = run(app).await;
    let entries = journal_entries(app).await;
    assert_eq!(
        run(app).await.total(),
        0,
        "a second run erases nothing more"
    );
    assert_eq!(journal_entries(app).await, entries, "and writes no entry");
    report
}

async fn journal_entries(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'retention.erased' ORDER BY at")
        .fetch_all(app.state.db.reads())
        .await
        .expect("journal")
}

async fn assert_chain_verifies(app: &TestApp) {
    let report = seal_and_verify(app).await;
    assert!(report.is_ok(), "{:?}", report.problems);
}

async fn text(app: &TestApp, sql: &str) -> Option<String> {
    sqlx::query_scalar(sql)
        .fetch_one(app.state.db.reads())
        .await
        .expect("one value")
}

async fn issue_to(app: &TestApp, w: &World, email: &str) -> serde_json::Value {
    let (status, body) = app
        .post(
            "/api/v1/passes",
            &w.distributor,
            json!({"program_id": w.program_id, "cheques": 5, "beneficiary_ref": "B-7", "email": email}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn log_in(app: &TestApp, email: &str) {
    let (letterhead, email, now) = (app.state.letterhead(), email.to_string(), app.now());
    let login = app
        .write(move |tx| {
            Box::pin(async move {
                passnum::users::log_in(tx, &letterhead, &email, common::PASSWORD, now).await
            })
        })
        .await
        .expect("login runs");
    assert!(matches!(login, passnum::users::LogIn::Opened { .. }));
}

async fn each_kind_is_erased_after_its_period_and_not_before(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 30).await;
    // A carnet used up today, one cancelled today, one still in use.
    let used = issue_to(&app, &w, "utilise@exemple.fr").await;
    for cheque in used["vouchers"].as_array().unwrap() {
        let (status, body) = app.redeem(&w.site, cheque["code"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let cancelled = issue_to(&app, &w, "perdu@exemple.fr").await;
    let (status, body) = app
        .post(
            &format!(
                "/api/v1/passes/{}/cancel",
                cancelled["id"].as_str().unwrap()
            ),
            &w.distributor,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let live = issue_to(&app, &w, "encore@exemple.fr").await;
    let now = passnum::clock::format_ts(app.now());
    // A message to the used carnet's address still waiting, one sent today to someone else, a
    // comment, and an attempt counter.
    for (id, to, status, sent_at) in [
        (
            "m-waiting",
            "utilise@exemple.fr",
            "pending",
            "NULL".to_string(),
        ),
        ("m-sent", "pro@lieu.example", "sent", format!("'{now}'")),
        ("m-live", "encore@exemple.fr", "pending", "NULL".to_string()),
        ("m-failed", "pro@lieu.example", "failed", "NULL".to_string()),
    ] {
        exec(
            &app,
            &format!(
                "INSERT INTO outbox (id, to_address, subject, text_body, attachments, status, \
                 next_attempt_at, created_at, sent_at) VALUES ('{id}', '{to}', 'Objet', 'Texte', \
                 '[]', '{status}', '{now}', '{now}', {sent_at})"
            ),
        )
        .await;
    }
    exec(
        &app,
        &format!(
            "INSERT INTO feedback (id, pass_id, rating, comment, created_at) \
             VALUES ('f1', '{}', 5, 'Merci à Julie, très patiente', '{now}')",
            live["id"].as_str().unwrap()
        ),
    )
    .await;
    exec(
        &app,
        &format!(
            "INSERT INTO rate_limits (key, window_start, hits) VALUES ('login:203.0.113.7', {}, 3)",
            app.now().as_second()
        ),
    )
    .await;
    // Two people: one logs in today only, the other again in September.
    app.person(&w.site_id, "ancien@lieu.example").await;
    app.person(&w.site_id, "fidele@lieu.example").await;
    log_in(&app, "ancien@lieu.example").await;
    log_in(&app, "fidele@lieu.example").await;

    // Day 0 and day 29: nothing is past its period.
    assert_eq!(run_twice(&app).await, Default::default());
    on(&app, "2026-03-31");
    assert_eq!(run_twice(&app).await, Default::default());
    assert!(journal_entries(&app).await.is_empty());
    assert_eq!(
        app.count("SELECT COUNT(*) FROM passes WHERE email IS NOT NULL")
            .await,
        3
    );

    // Day 31: the ended carnets' e-mails, their waiting message, the sent message, today's
    // addresses and the counter go; the live carnet keeps its e-mail.
    on(&app, "2026-04-02");
    passnum::audit::seal(&app.state.db).await.expect("seal");
    let full_addresses = app
        .count(
            "SELECT COUNT(*) FROM audit_log WHERE client_addr = '127.0.0.1' \
             AND at < '2026-03-03'",
        )
        .await;
    assert!(full_addresses > 5, "{full_addresses}");
    let report = run_twice(&app).await;
    assert_eq!(
        report,
        passnum::retention::Report {
            carnet_emails: 2,
            mails: 3,
            addresses: full_addresses as u64,
            counters: 1,
            ..Default::default()
        }
    );
    let emails: Vec<Option<String>> = sqlx::query_scalar("SELECT email FROM passes ORDER BY email")
        .fetch_all(app.state.db.reads())
        .await
        .unwrap();
    assert_eq!(
        emails.iter().flatten().collect::<Vec<_>>(),
        ["encore@exemple.fr"]
    );
    let outbox: Vec<String> = sqlx::query_scalar("SELECT id FROM outbox ORDER BY id")
        .fetch_all(app.state.db.reads())
        .await
        .unwrap();
    assert_eq!(outbox, ["m-live"]);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE client_addr = '127.0.0.1' AND at < '2026-03-03'"
        )
        .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE client_addr = '127.0.0.0/24'")
            .await,
        full_addresses
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM rate_limits").await, 0);
    assert_eq!(
        text(&app, "SELECT comment FROM feedback").await.as_deref(),
        Some("Merci à Julie, très patiente")
    );
    // Counts only, never what was erased.
    let entries = journal_entries(&app).await;
    assert_eq!(entries.len(), 1);
    assert!(
        entries[0].contains("adresses e-mail de carnets : 2 ;")
            && entries[0].contains(&format!(
                "adresses IP réduites au réseau : {full_addresses} ;"
            )),
        "{}",
        entries[0]
    );
    assert!(!entries[0].contains('@'), "{}", entries[0]);
    assert_chain_verifies(&app).await;
    app.assert_ledger_verifies().await;

    // In September, one of the two logs in again.
    on(&app, "2026-09-18");
    log_in(&app, "fidele@lieu.example").await;
    run_twice(&app).await;

    // A year on: the comment goes (the rating stays); the person gone since March is
    // deactivated and loses their sessions; the other is not.
    on(&app, "2027-03-02");
    assert_eq!(
        run_twice(&app).await,
        Default::default(),
        "not the day before"
    );
    on(&app, "2027-03-03");
    let report = run_twice(&app).await;
    assert_eq!(
        (report.comments, report.accounts_deactivated),
        (1, 1),
        "{report:?}"
    );
    assert_eq!(report.accounts_erased, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM feedback WHERE comment IS NULL AND rating = 5")
            .await,
        1
    );
    let state = |email: &'static str| {
        let app = &app;
        async move {
            sqlx::query_as::<_, (Option<String>, Option<String>, i64)>(&format!(
                "SELECT u.disabled_at, u.erased_at, \
                 (SELECT COUNT(*) FROM sessions s WHERE s.user_id = u.id) \
                 FROM users u WHERE u.email = '{email}'"
            ))
            .fetch_optional(app.state.db.reads())
            .await
            .unwrap()
        }
    };
    let (disabled, erased, sessions) = state("ancien@lieu.example").await.expect("still there");
    assert!(disabled.is_some() && erased.is_none() && sessions == 0);
    let (disabled, _, sessions) = state("fidele@lieu.example").await.expect("there");
    assert!(
        disabled.is_none() && sessions == 2,
        "{disabled:?} {sessions}"
    );
    assert_chain_verifies(&app).await;

    // A year after its deactivation, the account keeps nothing personal; its id stays for the
    // journal.
    on(&app, "2028-03-03");
    let report = run_twice(&app).await;
    assert_eq!(report.accounts_erased, 0, "not the day before: {report:?}");
    assert_eq!(
        report.accounts_deactivated, 1,
        "the other one, idle since September"
    );
    on(&app, "2028-03-04");
    let report = run_twice(&app).await;
    assert_eq!(report.accounts_erased, 1, "{report:?}");
    assert_eq!(report.total(), 1, "{report:?}");
    assert!(state("ancien@lieu.example").await.is_none());
    let (email, name, password, erased): (String, String, Option<String>, Option<String>) =
        sqlx::query_as(
            "SELECT email, name, password_hash, erased_at FROM users WHERE erased_at IS NOT NULL",
        )
        .fetch_one(app.state.db.reads())
        .await
        .unwrap();
    assert!(email.ends_with("@compte-efface.invalid"), "{email}");
    assert_eq!(name, "Compte effacé");
    assert!(password.is_none() && erased.is_some());
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log a JOIN users u ON u.id = a.subject_id \
             WHERE a.action = 'login.succeeded' AND u.erased_at IS NOT NULL"
        )
        .await,
        1,
        "the journal still names the account's id"
    );
    assert_eq!(journal_entries(&app).await.len(), 4);
    assert_chain_verifies(&app).await;

    // The person deactivated a day ago comes back: the operator invites them again, and the
    // same account opens, without a password until they choose one from the new link.
    let id_of = |email: &'static str| {
        let app = &app;
        async move {
            sqlx::query_scalar::<_, String>(&format!(
                "SELECT id FROM users WHERE email = '{email}' AND disabled_at IS NULL"
            ))
            .fetch_optional(app.state.db.reads())
            .await
            .unwrap()
        }
    };
    assert_eq!(id_of("fidele@lieu.example").await, None);
    let (operator, letterhead, now) = (app.operator_org().await, app.state.letterhead(), app.now());
    let site_id = w.site_id.clone();
    let back = app
        .write(move |tx| {
            Box::pin(async move {
                let new = passnum::users::NewUser {
                    email: "fidele@lieu.example".into(),
                    name: "Fidèle de retour".into(),
                    role: "agent".into(),
                };
                passnum::users::invite(
                    tx,
                    &operator,
                    &site_id,
                    new,
                    "l'opérateur",
                    &letterhead,
                    now,
                )
                .await
            })
        })
        .await
        .expect("invited again");
    assert_eq!(
        id_of("fidele@lieu.example").await.as_deref(),
        Some(back.id.as_str())
    );
    assert!(back.password_hash.is_none() && back.name == "Fidèle de retour");
    app.assert_ledger_verifies().await;
}

async fn truncated_addresses_keep_the_chain_verifiable(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 30).await;
    app.issue(&w, 5).await;
    assert_chain_verifies(&app).await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE client_addr IS NOT NULL \
             AND (client_addr_digest IS NULL OR client_addr_salt IS NULL OR chain_format <> 2)"
        )
        .await,
        0,
        "every address sealed with its commitment"
    );
    on(&app, "2026-04-02");
    app.issue(&w, 5).await;
    let report = run(&app).await;
    assert!(report.addresses > 3, "{report:?}");
    assert_chain_verifies(&app).await;
    let truncated = text(
        &app,
        "SELECT id FROM audit_log WHERE client_addr = '127.0.0.0/24' ORDER BY chain_seq LIMIT 1",
    )
    .await
    .expect("a truncated entry");
    let recent = text(
        &app,
        "SELECT id FROM audit_log WHERE client_addr = '127.0.0.1' ORDER BY chain_seq DESC LIMIT 1",
    )
    .await
    .expect("an entry of today, still full");

    // Another network in place of the kept one, another commitment, another full address (in
    // the same /24): each is caught, and names its entry.
    for (id, column, value) in [
        (&truncated, "client_addr", "127.0.1.0/24"),
        (&truncated, "client_addr_digest", "00"),
        (&recent, "client_addr", "127.0.0.2"),
        (&recent, "client_addr_salt", "NULL"),
    ] {
        let before = text(
            &app,
            &format!("SELECT {column} FROM audit_log WHERE id = '{id}'"),
        )
        .await;
        let quoted = |v: Option<&str>| v.map_or("NULL".to_string(), |v| format!("'{v}'"));
        let value = (value != "NULL").then_some(value);
        exec(
            &app,
            &format!(
                "UPDATE audit_log SET {column} = {} WHERE id = '{id}'",
                quoted(value)
            ),
        )
        .await;
        let report = seal_and_verify(&app).await;
        assert_eq!(report.problems.len(), 1, "{column}: {:?}", report.problems);
        assert!(
            report.problems[0].contains(id.as_str()) && report.problems[0].contains("modifiée"),
            "{:?}",
            report.problems
        );
        exec(
            &app,
            &format!(
                "UPDATE audit_log SET {column} = {} WHERE id = '{id}'",
                quoted(before.as_deref())
            ),
        )
        .await;
        assert_chain_verifies(&app).await;
    }
    // And from the command line, as an auditor runs it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_passnum"))
        .args(["audit", "verify"])
        .env("DATABASE_URL", &app.database_url)
        .env("PASSNUM_SIGNING_KEYS", common::TEST_KEYS)
        .env("RUST_LOG", "warn")
        .output()
        .expect("passnum runs");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(printed.contains("Journal d'audit vérifié"), "{printed}");
}

fn put(h: &mut Sha256, field: Option<&str>) {
    match field {
        None => h.update([0u8]),
        Some(text) => {
            h.update([1u8]);
            h.update((text.len() as u64).to_be_bytes());
            h.update(text.as_bytes());
        }
    }
}

type OldRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    String,
    i64,
);

/// Reseals the whole journal as the platform did before migration 0025 (format 1: the full
/// address in each hash), written here from that version's formula.
async fn reseal_in_format_1(app: &TestApp) {
    passnum::audit::seal(&app.state.db).await.expect("seal");
    let rows: Vec<OldRow> = sqlx::query_as(
        "SELECT id, at, actor_org_id, actor_user_id, client_addr, action, subject_id, detail, \
         chain_seq FROM audit_log ORDER BY chain_seq",
    )
    .fetch_all(app.state.db.reads())
    .await
    .unwrap();
    let mut prev = passnum::audit::chain::GENESIS.to_string();
    let mut conn = app.raw().await;
    for (id, at, org, user, addr, action, subject, detail, seq) in &rows {
        let mut h = Sha256::new();
        put(&mut h, Some(&prev));
        h.update(seq.to_be_bytes());
        for field in [
            Some(id.as_str()),
            Some(at.as_str()),
            org.as_deref(),
            user.as_deref(),
            addr.as_deref(),
            Some(action.as_str()),
            subject.as_deref(),
            Some(detail.as_str()),
        ] {
            put(&mut h, field);
        }
        prev = data_encoding::HEXLOWER.encode(&h.finalize());
        sqlx::query(
            "UPDATE audit_log SET hash = $1, chain_format = 1, client_addr_digest = NULL, \
             client_addr_salt = NULL WHERE id = $2",
        )
        .bind(&prev)
        .bind(id)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    sqlx::query("UPDATE audit_chain_head SET last_seq = $1, last_hash = $2")
        .bind(rows.len() as i64)
        .bind(&prev)
        .execute(&mut conn)
        .await
        .unwrap();
}

async fn an_old_format_chain_still_verifies_once_converted_and_truncated(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 30).await;
    let pass = app.issue(&w, 5).await;
    reseal_in_format_1(&app).await;
    let old = app
        .count("SELECT COUNT(*) FROM audit_log WHERE chain_format = 1")
        .await;
    assert!(old > 3);
    assert_chain_verifies(&app).await;
    // New entries chain on in format 2.
    app.issue(&w, 5).await;
    assert_chain_verifies(&app).await;
    let anchor = seal_and_verify(&app).await;

    // A format-1 row edited before the job: nothing is converted, addresses stay whole.
    let first = text(&app, "SELECT id FROM audit_log WHERE chain_seq = 2")
        .await
        .unwrap();
    let detail = text(
        &app,
        &format!("SELECT detail FROM audit_log WHERE id = '{first}'"),
    )
    .await;
    exec(
        &app,
        &format!("UPDATE audit_log SET detail = 'rien' WHERE id = '{first}'"),
    )
    .await;
    on(&app, "2026-04-02");
    let report = run(&app).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'audit.chain_converted'")
            .await,
        0
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE chain_format = 1 AND client_addr = '127.0.0.1'"
        )
        .await,
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE chain_format = 1 AND client_addr IS NOT NULL"
        )
        .await,
    );
    assert!(
        report.addresses > 0,
        "format-2 rows are truncated: {report:?}"
    );
    assert!(!seal_and_verify(&app).await.is_ok());
    exec(
        &app,
        &format!(
            "UPDATE audit_log SET detail = '{}' WHERE id = '{first}'",
            detail.unwrap().replace('\'', "''")
        ),
    )
    .await;
    assert_chain_verifies(&app).await;

    // Intact, the format-1 rows are converted (one entry), then truncated.
    on(&app, "2026-04-03");
    let report = run_twice(&app).await;
    assert!(report.addresses > 0, "{report:?}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'audit.chain_converted'")
            .await,
        1
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE client_addr = '127.0.0.1' AND at < '2026-03-03'"
        )
        .await,
        0
    );
    assert_chain_verifies(&app).await;
    app.assert_ledger_verifies().await;
    // The anchor noted before the conversion still holds.
    let mut conn = app.state.db.read().await.unwrap();
    let anchor = passnum::audit::Anchor {
        seq: anchor.head_seq,
        hash: anchor.head_hash,
    };
    assert!(passnum::audit::check_anchors(&mut conn, &[anchor])
        .await
        .unwrap()
        .is_empty());
    drop(conn);

    // A truncated format-1 row given another network, or an edited one, is caught.
    let old_row = text(
        &app,
        &format!(
            "SELECT id FROM audit_log WHERE chain_format = 1 AND subject_id = '{}' \
             AND client_addr IS NOT NULL LIMIT 1",
            pass["id"].as_str().unwrap()
        ),
    )
    .await
    .expect("a format-1 entry of the first carnet");
    for (column, value) in [("client_addr", "127.0.1.0/24"), ("detail", "rien")] {
        let before = text(
            &app,
            &format!("SELECT {column} FROM audit_log WHERE id = '{old_row}'"),
        )
        .await
        .unwrap();
        exec(
            &app,
            &format!("UPDATE audit_log SET {column} = '{value}' WHERE id = '{old_row}'"),
        )
        .await;
        let report = seal_and_verify(&app).await;
        assert!(
            report.problems.iter().any(|p| p.contains("conversion")),
            "{column}: {:?}",
            report.problems
        );
        exec(
            &app,
            &format!(
                "UPDATE audit_log SET {column} = '{}' WHERE id = '{old_row}'",
                before.replace('\'', "''")
            ),
        )
        .await;
        assert_chain_verifies(&app).await;
    }
}

/// A ProConnect agent's request to join an organisation goes 30 days after its decision, or
/// after it was made when nobody decided; a recent one stays.
async fn join_requests_go_after_their_period(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 30).await;
    for (id, created, decided) in [
        (
            "r-refused",
            "2026-01-10T09:00:00Z",
            "'2026-01-20T09:00:00Z'",
        ),
        ("r-forgotten", "2026-01-10T09:00:00Z", "NULL"),
        ("r-recent", "2026-02-25T09:00:00Z", "'2026-02-26T09:00:00Z'"),
    ] {
        exec(
            &app,
            &format!(
                "INSERT INTO membership_requests (id, org_id, oidc_subject, email, name, \
                 matched_by, status, created_at, decided_at) VALUES ('{id}', '{}', 'sub-{id}', \
                 '{id}@mairie.example', 'Agent {id}', 'domain', 'refused', '{created}', {decided})",
                w.distributor_id
            ),
        )
        .await;
    }
    on(&app, "2026-03-02");
    let report = run_twice(&app).await;
    assert_eq!(report.requests, 2, "{report:?}");
    let left: Vec<String> = sqlx::query_scalar("SELECT id FROM membership_requests")
        .fetch_all(app.state.db.reads())
        .await
        .unwrap();
    assert_eq!(left, ["r-recent"]);
    assert_chain_verifies(&app).await;
}
