//! The public observatory over HTTP on both databases: a programme with known sessions in three
//! départements gives known figures, every figure about fewer than 11 people is suppressed (and
//! one département's is not derivable from the national total), the page stays under 30 KB
//! without a script, and the open data is described by a data package that `frictionless
//! validate` accepts (when PASSNUM_FRICTIONLESS names it). In Chromium with axe-core at 320 and
//! 1280 pixels: `observatory_and_feedback_pages_are_accessible`.

use crate::common;

use common::browser::Browser;
use common::web::{get, post};
use common::{cookie_client, Backend, TestApp};
use reqwest::StatusCode;

on_both_databases!(figures_of_the_last_twelve_months_with_small_counts_suppressed);

/// Issues `people` carnets and redeems one cheque of each (one hour) with the site's token;
/// returns the carnets' codes.
async fn sessions(app: &TestApp, w: &common::World, site: &str, people: usize) -> Vec<String> {
    let mut codes = Vec::new();
    for _ in 0..people {
        let pass = app.issue(w, 5).await;
        let (status, body) = app
            .redeem(site, pass["vouchers"][0]["code"].as_str().unwrap())
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        codes.push(pass["pass_code"].as_str().unwrap().to_string());
    }
    codes
}

async fn answer(app: &TestApp, code: &str, mark: &str) {
    let client = cookie_client();
    let url = format!("{}/avis/{code}", app.base);
    let form = get(&client, &url).await;
    let page = post(
        &client,
        &url,
        &[
            ("csrf", &form.csrf()),
            ("once", &form.once()),
            ("overall", mark),
        ],
    )
    .await;
    assert!(page.html.contains("Merci !"), "{}", page.html);
}

fn line_of<'a>(csv: &'a str, start: &str) -> &'a str {
    csv.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line {start} in {csv}"))
}

async fn figures_of_the_last_twelve_months_with_small_counts_suppressed(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(1_000_000, 500).await;
    let (_, paris) = app
        .qualified_site_at("Espace numérique Paris", "75011")
        .await;
    let (_, lyon) = app.qualified_site_at("Fabrique Lyon", "69001").await;
    sessions(&app, &w, &w.site, 12).await;
    sessions(&app, &w, &paris, 3).await;
    let lyon_codes = sessions(&app, &w, &lyon, 14).await;
    for code in &lyon_codes[..11] {
        answer(&app, code, "8").await;
    }
    answer(&app, &lyon_codes[11], "10").await;

    let client = cookie_client();
    let page = get(&client, &format!("{}/observatoire", app.base)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.len() <= 30 * 1024, "{} bytes", page.html.len());
    assert!(!page.html.contains("<script"), "{}", page.html);
    let html = page.html.replace('\u{a0}', " ");
    assert!(
        html.contains("<strong>29</strong> personnes aidées"),
        "{html}"
    );
    assert!(html.contains("<strong>29</strong> heures"), "{html}");
    // (11 × 8 + 10) / 12 = 8.17
    assert!(
        html.contains("<strong>8,2</strong> sur 10 (12 avis)"),
        "{html}"
    );
    assert!(
        html.contains("<strong>3</strong> lieux qualifiés"),
        "{html}"
    );
    assert!(html.contains("Rhône (69)"), "{html}");

    let csv = app
        .get_text("/observatoire/donnees/departements.csv", "")
        .await;
    assert_eq!(csv.0, StatusCode::OK);
    let csv = csv.2;
    assert!(
        csv.starts_with("territoire,debut,fin,personnes_aidees,seances,heures,avis,satisfaction_moyenne,lieux_qualifies\n"),
        "{csv}"
    );
    assert!(
        line_of(&csv, "France,").ends_with(",29,29,29,12,8.2,3"),
        "{csv}"
    );
    assert!(
        line_of(&csv, "69,").ends_with(",14,14,14,12,8.2,1"),
        "{csv}"
    );
    // Paris: 3 people. Gironde: 12, but France minus Rhône minus Gironde would give Paris away.
    assert!(
        line_of(&csv, "75,")
            .ends_with(",moins de 11,moins de 11,moins de 11,moins de 11,moins de 11,1"),
        "{csv}"
    );
    assert!(
        line_of(&csv, "33,")
            .ends_with(",moins de 11,moins de 11,moins de 11,moins de 11,moins de 11,1"),
        "{csv}"
    );
    let kinds = app.get_text("/observatoire/donnees/aides.csv", "").await.2;
    assert!(
        kinds.contains(",Accompagnement individuel,29,29"),
        "{kinds}"
    );
    // No level was noted on these carnets or sessions.
    let levels = app
        .get_text("/observatoire/donnees/niveaux.csv", "")
        .await
        .2;
    assert!(
        levels.starts_with("territoire,debut,fin,niveau_aide,personnes_aidees,seances\n")
            && levels.contains(",Non renseigné,29,29"),
        "{levels}"
    );
    let package = app
        .get_text("/observatoire/donnees/datapackage.json", "")
        .await
        .2;
    let package: serde_json::Value = serde_json::from_str(&package).expect("JSON");
    assert_eq!(package["resources"][0]["path"], "departements.csv");
    frictionless(&[
        ("datapackage.json", serde_json::to_string(&package).unwrap()),
        ("departements.csv", csv),
        ("aides.csv", kinds),
        ("niveaux.csv", levels),
    ]);
    let missing = app.get_text("/observatoire/donnees/autre.csv", "").await;
    assert_eq!(missing.0, StatusCode::NOT_FOUND);

    // Thirteen months later, the sessions are out of the period.
    app.advance(jiff::SignedDuration::from_hours(24 * 400));
    let csv = app
        .get_text("/observatoire/donnees/departements.csv", "")
        .await
        .2;
    assert!(
        line_of(&csv, "France,")
            .ends_with(",moins de 11,moins de 11,moins de 11,moins de 11,moins de 11,3"),
        "{csv}"
    );
}

/// Validates the data package and its files with the `frictionless` command (PyPI), named by
/// PASSNUM_FRICTIONLESS; skipped when unset unless PASSNUM_REQUIRE_FRICTIONLESS=1.
fn frictionless(files: &[(&str, String)]) {
    let Some(program) = std::env::var("PASSNUM_FRICTIONLESS")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        let required =
            std::env::var("PASSNUM_REQUIRE_FRICTIONLESS").is_ok_and(|v| !v.is_empty() && v != "0");
        assert!(
            !required,
            "PASSNUM_REQUIRE_FRICTIONLESS is set but PASSNUM_FRICTIONLESS does not name the validator"
        );
        eprintln!(
            "PASSNUM_FRICTIONLESS is not set: open data not checked with frictionless (skipped)"
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!(
        "passnum-observatoire-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (name, content) in files {
        std::fs::write(dir.join(name), content).expect("temp file");
    }
    let out = std::process::Command::new(&program)
        .current_dir(&dir)
        .args(["validate", "--trusted", "datapackage.json"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "frictionless refuses the observatory's open data:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The observatory and the feedback page in Chromium: axe-core (WCAG 2.1 AA) at 1280 pixels and
/// on a 320-pixel phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observatory_and_feedback_pages_are_accessible() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite app");
    let w = app.world(1_000_000, 500).await;
    let codes = sessions(&app, &w, &w.site, 12).await;
    for (width, name) in [(1280, "large"), (320, "telephone")] {
        b.set_window_size(width, 900).await;
        b.visit(
            &format!("{}/observatoire", app.base),
            &format!("observatoire-{name}"),
        )
        .await;
        b.check_axe(&format!("observatoire-{name}")).await;
        b.visit(
            &format!("{}/avis/{}", app.base, codes[0]),
            &format!("avis-{name}"),
        )
        .await;
        b.check_axe(&format!("avis-{name}")).await;
    }
    // A mistake shown on the field, then the answer.
    b.submit_form("form button[type=submit]").await;
    b.check_axe("avis-erreur").await;
    assert!(b.exists("#erreurs").await);
    b.click("#r7").await;
    b.click("#reached-en_partie").await;
    b.submit_form("form button[type=submit]").await;
    assert!(b.page_source().await.contains("Merci"));
    b.close().await;
}
