//! A tested restore: data made over HTTP, backed up with deploy/backup.sh, restored with
//! deploy/restore.sh into a fresh database, which then holds the same rows and whose ledger
//! verifies. SQLite always; PostgreSQL when a test server is set and pg_dump is on PATH.

use crate::common;

use common::{fresh_database, Backend, TestApp};
use reqwest::StatusCode;
use std::process::Command;

on_both_databases!(backup_then_restore_keeps_everything);

const TABLES: [&str; 10] = [
    "organizations",
    "programs",
    "fundings",
    "allocations",
    "passes",
    "vouchers",
    "redemptions",
    "ledger_transactions",
    "ledger_entries",
    "audit_log",
];

async fn counts(url: &str) -> Vec<i64> {
    let db = passnum::db::Db::connect(url, 1).await.expect("connect");
    let mut out = Vec::new();
    for table in TABLES {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(db.reads())
            .await
            .expect("count");
        out.push(n);
    }
    db.close().await;
    out
}

fn script(name: &str, database_url: &str, arg: &str) -> String {
    let path = format!("{}/deploy/{name}", env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("bash")
        .arg(&path)
        .arg(arg)
        .env("DATABASE_URL", database_url)
        .env("PASSNUM_BIN", env!("CARGO_BIN_EXE_passnum"))
        .env("PASSNUM_SIGNING_KEYS", common::TEST_KEYS)
        .output()
        .expect("script runs");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

async fn backup_then_restore_keeps_everything(backend: Backend) {
    if backend == Backend::Postgres && Command::new("pg_dump").arg("--version").output().is_err() {
        eprintln!("pg_dump is not on PATH: skipped on PostgreSQL");
        return;
    }
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let pass = app.issue(&w, 5).await;
    for voucher in pass["vouchers"].as_array().unwrap().iter().take(2) {
        let (status, body) = app.redeem(&w.site, voucher["code"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let before = counts(&app.database_url).await;
    assert!(before.iter().all(|&n| n > 0), "{before:?}");

    let dir = std::env::temp_dir().join(format!("passnum-backup-{}", uuid::Uuid::new_v4()));
    let written = script("backup.sh", &app.database_url, dir.to_str().unwrap());
    let file = written.lines().last().expect("backup file").to_string();
    assert!(std::path::Path::new(&file).is_file(), "{written}");

    // The live database keeps working after the backup; the restore holds the earlier state.
    app.issue(&w, 5).await;

    let target = fresh_database(backend).await.expect("fresh database");
    let restored = script("restore.sh", &target, &file);
    assert!(restored.contains("Ledger verified"), "{restored}");
    assert_eq!(counts(&target).await, before);
    // A second restore over a database that now has data is refused.
    let refused = Command::new("bash")
        .arg(format!("{}/deploy/restore.sh", env!("CARGO_MANIFEST_DIR")))
        .arg(&file)
        .env("DATABASE_URL", &target)
        .env("PASSNUM_BIN", env!("CARGO_BIN_EXE_passnum"))
        .output()
        .expect("script runs");
    assert!(!refused.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
