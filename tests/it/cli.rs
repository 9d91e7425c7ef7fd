//! The command line: bootstrap prints a token last, ledger verify catches tampering, months
//! close once.

use crate::common;

use std::process::Command;

fn passnum(database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_passnum"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("PASSNUM_SIGNING_KEYS", common::TEST_KEYS)
        .env("RUST_LOG", "warn")
        .output()
        .expect("passnum runs")
}

#[tokio::test]
async fn bootstrap_then_ledger_verify_detects_tampering() {
    let app = common::TestApp::spawn(common::Backend::Sqlite)
        .await
        .expect("sqlite");
    let w = app.world(50_000, 10).await;
    let pass = app.issue(&w, 5).await;
    let (status, _) = app
        .redeem(&w.site, pass["vouchers"][0]["code"].as_str().unwrap())
        .await;
    assert_eq!(status, 201);
    // March 2026 ended long before today (the command's clock): its people are kept, once.
    for closed in ["1 month(s)", "0 month(s)"] {
        let out = passnum(&app.database_url, &["close-months"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.starts_with(closed),
            "{stdout}"
        );
    }

    let out = passnum(&app.database_url, &["bootstrap"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.lines().last().unwrap().trim().to_string();
    assert!(token.starts_with("pn_"), "{stdout}");
    // The printed token works.
    let (status, _) = app
        .post(
            "/api/v1/organizations",
            &token,
            serde_json::json!({"kind": "funder", "name": "Ville de Pau"}),
        )
        .await;
    assert_eq!(status, 201);

    let out = passnum(&app.database_url, &["ledger", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Someone edits one ledger entry behind the platform's back.
    tamper_then_verify(
        &app,
        "amount_cents = amount_cents + 1",
        2,
        "does not balance",
    )
    .await;
    // An entry moved to an account that does not exist (no foreign key stops it).
    tamper_then_verify(
        &app,
        "account_id = 'nowhere'",
        1,
        "its account does not exist",
    )
    .await;
}

/// Edits one line of a redemption's ledger transaction directly; `ledger verify` must fail
/// and say `expected`.
async fn tamper_then_verify(app: &common::TestApp, set: &str, line: i64, expected: &str) {
    sqlx::query(&format!(
        "UPDATE ledger_entries SET {set} WHERE line = {line} AND transaction_id IN \
         (SELECT id FROM ledger_transactions WHERE kind = 'redemption')"
    ))
    .execute(&mut app.raw().await)
    .await
    .unwrap();
    let out = passnum(&app.database_url, &["ledger", "verify"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(expected), "{stderr}");
}

#[test]
fn keys_rotate_adds_a_key_that_signs_while_old_ones_verify() {
    let dir = std::env::temp_dir().join(format!("passnum-keys-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("passnum.keys");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_passnum"))
            .args(["keys", "rotate", "--keys-file"])
            .arg(&file)
            .env_remove("PASSNUM_SIGNING_KEYS")
            .output()
            .unwrap()
    };
    assert!(run().status.success());
    let out = run();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Key K3"));
    let ring = passnum::vouchers::keys::read_file(&file).unwrap();
    let ids: Vec<_> = ring.keys().iter().map(|k| k.id.clone()).collect();
    assert_eq!(ids, ["K1", "K2", "K3"]);
    assert_eq!(ring.current().id, "K3");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn keys_retire_only_once_no_cheque_they_signed_circulates() {
    let app = common::TestApp::spawn(common::Backend::Sqlite)
        .await
        .expect("sqlite");
    let w = app.world(50_000, 10).await;
    app.issue(&w, 5).await; // signed by K2, the current test key
    let dir = std::env::temp_dir().join(format!("passnum-keys-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("passnum.keys");
    let lines: String = common::TEST_KEYS
        .split(',')
        .map(|k| k.replacen(':', " ", 1) + "\n")
        .collect();
    std::fs::write(&file, lines).unwrap();
    let keys = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_passnum"))
            .arg("keys")
            .args(args)
            .arg("--keys-file")
            .arg(&file)
            .env("DATABASE_URL", &app.database_url)
            .env_remove("PASSNUM_SIGNING_KEYS")
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    assert!(keys(&["rotate"]).0);
    let (ok, list) = keys(&["list"]);
    assert!(ok, "{list}");
    assert!(list.contains("K1 : aucun chèque en circulation"), "{list}");
    assert!(list.contains("K2 : 5 chèque(s) en circulation"), "{list}");
    assert!(list.contains("K3 (signe les nouveaux chèques)"), "{list}");

    let (ok, text) = keys(&["retire", "K2"]);
    assert!(!ok, "K2 still verifies live cheques: {text}");
    assert!(text.contains("5 cheque(s) in circulation"), "{text}");
    let (ok, text) = keys(&["retire", "K3"]);
    assert!(!ok, "the current key stays: {text}");
    let (ok, text) = keys(&["retire", "K1"]);
    assert!(ok, "{text}");
    let ring = passnum::vouchers::keys::read_file(&file).unwrap();
    let ids: Vec<_> = ring.keys().iter().map(|k| k.id.clone()).collect();
    assert_eq!(ids, ["K2", "K3"]);
    let retired: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'key.retired'")
            .fetch_one(app.state.db.reads())
            .await
            .unwrap();
    assert_eq!(retired, 1);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = std::env::temp_dir().join(format!("passnum-logs-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_passnum"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("p.db").display()),
        )
        .env("PASSNUM_SIGNING_KEYS", common::TEST_KEYS)
        .env("PASSNUM_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(server.stderr.take().unwrap());
    let mut line = String::new();
    let mut listening = None;
    while std::io::BufRead::read_line(&mut stderr, &mut line).unwrap() > 0 {
        let entry: serde_json::Value =
            serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(entry["level"].is_string(), "{entry}");
        if entry["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("listening on"))
        {
            listening = Some(entry);
            break;
        }
        line.clear();
    }
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(dir);
    assert!(listening.is_some(), "no start-up line");
}

#[test]
fn check_config_names_the_settings_left_at_their_example_value() {
    let check = |envs: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_passnum"));
        command.arg("check-config").env("RUST_LOG", "warn");
        for name in [
            "PASSNUM_PAYER_IBAN",
            "PASSNUM_PAYER_NAME",
            "PASSNUM_HELPLINE_PHONE",
            "PASSNUM_HELPLINE_EMAIL",
            "PASSNUM_PUBLIC_URL",
            "PASSNUM_SMTP_URL",
            "PASSNUM_PUBLISHER",
            "PASSNUM_PUBLICATION_DIRECTOR",
            "PASSNUM_HOSTING_PROVIDER",
        ] {
            command.env_remove(name);
        }
        command.envs(envs.iter().copied());
        command.output().expect("passnum runs")
    };
    let out = check(&[]);
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    for setting in [
        "PASSNUM_PAYER_IBAN",
        "PASSNUM_HELPLINE_PHONE",
        "PASSNUM_SMTP_URL",
        "PASSNUM_PUBLISHER",
        "PASSNUM_HOSTING_PROVIDER",
    ] {
        assert!(stdout.contains(setting), "{setting}: {stdout}");
    }
    let out = check(&[
        ("PASSNUM_PAYER_IBAN", "FR76 3000 4000 0312 3456 7890 143"),
        ("PASSNUM_PAYER_NAME", "GIP Pass numerique"),
        ("PASSNUM_HELPLINE_PHONE", "05 56 00 00 00"),
        ("PASSNUM_HELPLINE_EMAIL", "aide@passnum.gouv.example"),
        ("PASSNUM_PUBLIC_URL", "https://passnum.example"),
        ("PASSNUM_SMTP_URL", "smtp://127.0.0.1:2525"),
        (
            "PASSNUM_PUBLISHER",
            "GIP Pass numérique, 20 avenue de Ségur, 75007 Paris",
        ),
        (
            "PASSNUM_PUBLICATION_DIRECTOR",
            "Camille Martin, directrice du GIP",
        ),
        (
            "PASSNUM_HOSTING_PROVIDER",
            "Hébergeur SAS, 2 rue Kellermann, 59100 Roubaix, 09 00 00 00 00",
        ),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
