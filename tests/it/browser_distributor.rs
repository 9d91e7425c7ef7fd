//! The distributor's screens in a real Chromium, at 1280 and at 320 pixels, each checked by
//! axe-core (and, on the phone, for words split across lines): finding a carnet, activating a
//! carnet printed in stock, and issuing carnets from a CSV file (its errors, its summary, the
//! progress page of a file still running).

use crate::common;

use common::browser::{Browser, DEFAULT_SIZE, PHONE_WIDTH};
use common::{Backend, TestApp, World, PASSWORD};
use passnum::vouchers::files::{self, Upload};
use serde_json::json;

const AGENT: &str = "agent@distributeur.example";

async fn stock_carnet(app: &TestApp, w: &World) -> String {
    let (status, body) = app
        .post(
            "/api/v1/passes",
            &w.distributor,
            json!({"program_id": w.program_id, "cheques": 10, "active": false}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// A file stored and left running (as if the server were issuing it): its progress page.
async fn running_file(app: &TestApp, w: &World) -> String {
    let distributor = {
        let mut conn = app.state.db.read().await.expect("read");
        passnum::orgs::get(&mut conn, &w.distributor_id)
            .await
            .expect("distributor")
    };
    let (now, today) = (app.now(), app.state.clock.today());
    let program = w.program_id.clone();
    let file: String = (1..=60).map(|i| format!("5;EN-COURS-{i}\n")).collect();
    let started = app
        .write(move |tx| {
            Box::pin(async move {
                files::start(
                    tx,
                    &distributor,
                    None,
                    &program,
                    "en-cours.csv",
                    file.as_bytes(),
                    now,
                    today,
                )
                .await
            })
        })
        .await
        .expect("stored");
    match started {
        Upload::Started { id, .. } => id,
        Upload::Refused(errors) => panic!("{errors:?}"),
    }
}

/// Writes a CSV file for the file input; returns its path.
fn csv(name: &str, text: &str) -> String {
    let path = common::browser::artifacts_dir().join(name);
    std::fs::write(&path, text).expect("csv written");
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_distributor_finds_activates_and_issues_from_a_file() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let w = app.world(1_000_000, 500).await;
    app.person(&w.distributor_id, AGENT).await;
    let running = running_file(&app, &w).await;
    b.visit(&format!("{}/connexion", app.base), "distributeur-connexion")
        .await;
    b.fill("#email", AGENT).await;
    b.fill("#password", PASSWORD).await;
    b.submit_form("form[action='/connexion'] button[type=submit]")
        .await;
    b.second_factor(&app, AGENT).await;

    for (width, size) in [(DEFAULT_SIZE.0, "1280"), (PHONE_WIDTH, "320")] {
        b.set_window_size(width, DEFAULT_SIZE.1).await;
        let stock = stock_carnet(&app, &w).await;

        // Find the stock carnet by its code typed without hyphens, then activate it.
        let code = {
            let (_, pass) = app
                .get(&format!("/api/v1/passes/{stock}"), Some(&w.distributor))
                .await;
            pass["pass_code"].as_str().unwrap().replace('-', "")
        };
        b.visit(
            &format!("{}/distributeur", app.base),
            &format!("distributeur-{size}"),
        )
        .await;
        b.fill("#q", &code.to_lowercase()).await;
        b.submit_form("form[role=search] button").await;
        b.check_axe(&format!("distributeur-recherche-{size}")).await;
        assert!(b
            .text("#chercher ~ div[role=status]")
            .await
            .contains("1 carnet pour"));
        b.fill("#q", "aucune-reference-pareille").await;
        b.submit_form("form[role=search] button").await;
        b.check_axe(&format!("distributeur-recherche-vide-{size}"))
            .await;
        assert!(b
            .page_source()
            .await
            .contains("Aucun de vos carnets ne correspond"));

        b.visit(
            &format!("{}/distributeur/carnets/{stock}", app.base),
            &format!("distributeur-carnet-stock-{size}"),
        )
        .await;
        b.fill("#beneficiary_ref", &format!("FT-2026-{size}")).await;
        b.fill("#activation_email", "beneficiaire@example.org")
            .await;
        b.submit_form("form[action$='/activer'] button").await;
        b.check_axe(&format!("distributeur-carnet-active-{size}"))
            .await;
        assert!(b.page_source().await.contains("Le carnet est activé"));

        // A file with mistakes: every one listed, nothing issued.
        b.visit(
            &format!("{}/distributeur/carnets/fichier", app.base),
            &format!("distributeur-fichier-{size}"),
        )
        .await;
        if width == PHONE_WIDTH {
            b.assert_no_horizontal_scroll().await;
        }
        let bad = csv(
            &format!("erreurs-{size}.csv"),
            "taille;référence\n5;A-1\n6;A-2\n5;A-3;pas-une-adresse\n",
        );
        b.find("#file")
            .await
            .send_keys(&bad)
            .await
            .expect("file chosen");
        b.submit_form("form[enctype] button[type=submit]").await;
        b.check_axe(&format!("distributeur-fichier-erreurs-{size}"))
            .await;
        let errors = b.text("#erreurs").await;
        assert!(
            errors.contains("Ligne 3") && errors.contains("Ligne 4"),
            "{errors}"
        );

        // A good file: the summary and its PDF link.
        let good = csv(
            &format!("carnets-{size}.csv"),
            &format!("5;B-{size}-1\n10;B-{size}-2;b@example.org\n5;B-{size}-3\n"),
        );
        b.find("#file")
            .await
            .send_keys(&good)
            .await
            .expect("file chosen");
        b.submit_form("form[enctype] button[type=submit]").await;
        b.check_axe(&format!("distributeur-fichier-fait-{size}"))
            .await;
        let source = b.page_source().await;
        assert!(source.contains("3 carnets émis"), "{source}");
        assert!(source.contains("/pdf\""));

        // A file still running: its progress, still by default (axe-core refuses any timed
        // reload), then reloading itself when the person asks.
        b.visit(
            &format!("{}/distributeur/carnets/fichier/{running}", app.base),
            &format!("distributeur-fichier-en-cours-{size}"),
        )
        .await;
        assert!(b.exists("progress").await);
        b.client()
            .goto(&format!(
                "{}/distributeur/carnets/fichier/{running}?actualiser=oui",
                app.base
            ))
            .await
            .expect("progress page");
        let source = b.page_source().await;
        assert!(source.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
        assert!(source.contains("Arrêter la mise à jour automatique"));
    }
}
