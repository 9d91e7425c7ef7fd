//! The distributor's screens beside single issuance: activating a carnet printed in stock,
//! finding a carnet by reference or code (never another distributor's), and issuing many
//! carnets from a CSV file (every mistake listed at once, the quota covering the whole file, a
//! stored job issued in chunks, once, with one PDF of all its carnets). On both databases.

use crate::common;

use common::pdf::pdf_texts;
use common::web::{get, post, signed_in};
use common::{Backend, TestApp, World};
use passnum::vouchers::files::{self, Upload};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_databases!(
    a_stock_carnet_is_activated_once_from_its_page,
    the_search_finds_only_own_carnets_by_reference_or_code,
    a_file_of_120_lines_issues_120_carnets_once,
    a_file_with_bad_lines_lists_every_error_and_issues_nothing,
    a_file_beyond_the_quota_is_refused,
    a_stored_file_is_resumed_and_issued_once,
    a_closing_programme_is_said_on_the_activation_and_file_pages,
);

const AGENT: &str = "agent@ccas.example";

/// A carnet issued through the API for the world's distributor.
async fn issue(app: &TestApp, w: &World, reference: &str, active: bool) -> Value {
    issue_for(app, &w.distributor, &w.program_id, reference, active).await
}

async fn issue_for(
    app: &TestApp,
    token: &str,
    program_id: &str,
    reference: &str,
    active: bool,
) -> Value {
    let (status, body) = app
        .post(
            "/api/v1/passes",
            token,
            json!({"program_id": program_id, "cheques": 5, "beneficiary_ref": reference,
                   "active": active}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn a_stock_carnet_is_activated_once_from_its_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 20).await;
    let stock = issue(&app, &w, "", false).await;
    let id = stock["id"].as_str().unwrap();
    let (agent, csrf) = signed_in(&app, &w.distributor_id, AGENT).await;
    let url = format!("{}/distributeur/carnets/{id}", app.base);
    let carnet = get(&agent, &url).await;
    assert!(
        carnet.html.contains("en stock, à activer"),
        "{}",
        carnet.html
    );
    assert!(carnet
        .html
        .contains(&format!("action=\"/distributeur/carnets/{id}/activer\"")));
    assert!(carnet.html.contains("Pas de nom ni d&#39;adresse"));

    // A reference too long: said on the page, nothing activated.
    let once = carnet.once();
    let long = "X".repeat(65);
    let refused = post(
        &agent,
        &format!("{url}/activer"),
        &[
            ("csrf", &csrf),
            ("once", &once),
            ("beneficiary_ref", &long),
            ("email", ""),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.html.contains("64 caractères au plus"),
        "{}",
        refused.html
    );

    // A page opened now, whose form is sent after the activation below.
    let stale = get(&agent, &url).await;
    // Sent twice (a double click), then again with the back button: activated once.
    let once = refused.once();
    let form = [
        ("csrf", csrf.as_str()),
        ("once", once.as_str()),
        ("beneficiary_ref", " FT-2026-0042 "),
        ("email", "madame.durand@example.org"),
    ];
    let activate = format!("{url}/activer");
    let (first, second) = tokio::join!(
        post(&agent, &activate, &form),
        post(&agent, &activate, &form)
    );
    let third = post(&agent, &activate, &form).await;
    for page in [&first, &second, &third] {
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert!(page.html.contains("Le carnet est activé"), "{}", page.html);
        assert!(
            !page.html.contains("/activer\""),
            "no activation form any more"
        );
    }
    let activations = app.journal(id).await;
    let times = activations
        .iter()
        .filter(|a| *a == "pass.activated")
        .count();
    assert_eq!(times, 1, "{activations:?}");
    let (_, pass) = app
        .get(&format!("/api/v1/passes/{id}"), Some(&w.distributor))
        .await;
    assert_eq!(pass["status"], "active");
    assert_eq!(pass["beneficiary_ref"], "FT-2026-0042");
    assert_eq!(pass["email"], "madame.durand@example.org");

    // The same form from a page opened before: a plain French sentence, not a second activation.
    let stale_once = stale.once();
    let again = [
        ("csrf", csrf.as_str()),
        ("once", stale_once.as_str()),
        ("beneficiary_ref", "FT-2026-0042"),
        ("email", ""),
    ];
    let late = post(&agent, &activate, &again).await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.html);
    assert!(
        late.html.contains("Ce carnet est déjà activé."),
        "{}",
        late.html
    );

    // Another distributor's carnet cannot be activated from here.
    let (other_id, other) = app.org("distributor", "Mission locale").await;
    let program = app
        .programme(&w.funder, &other_id, "Pass numérique Mission locale")
        .funded(100_000)
        .quota(20)
        .create()
        .await;
    let foreign = issue_for(&app, &other, &program, "ML-1", false).await;
    let foreign_url = format!(
        "{}/distributeur/carnets/{}",
        app.base,
        foreign["id"].as_str().unwrap()
    );
    let page = get(&agent, &url).await;
    let denied = post(
        &agent,
        &format!("{foreign_url}/activer"),
        &[
            ("csrf", &csrf),
            ("once", &page.once()),
            ("beneficiary_ref", "X"),
        ],
    )
    .await;
    assert_eq!(denied.status, StatusCode::NOT_FOUND);
    let (_, foreign) = app
        .get(
            &format!("/api/v1/passes/{}", foreign["id"].as_str().unwrap()),
            Some(&other),
        )
        .await;
    assert_eq!(foreign["status"], "inactive");
}

async fn the_search_finds_only_own_carnets_by_reference_or_code(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 40).await;
    let first = issue(&app, &w, "FT-2026-0042", true).await;
    let second = issue(&app, &w, "FT-2026-0100", false).await;
    let unrelated = issue(&app, &w, "CAF-77", true).await;
    // Another distributor, with a carnet under the very same reference.
    let (other_id, other) = app.org("distributor", "Mission locale").await;
    let program = app
        .programme(&w.funder, &other_id, "Pass numérique Mission locale")
        .funded(100_000)
        .quota(20)
        .create()
        .await;
    let foreign = issue_for(&app, &other, &program, "FT-2026-0042", true).await;
    let code = |p: &Value| p["pass_code"].as_str().unwrap().to_string();

    let (agent, _) = signed_in(&app, &w.distributor_id, AGENT).await;
    let search = |q: String| {
        let agent = agent.clone();
        let url = format!("{}/distributeur", app.base);
        async move {
            let page = agent
                .get(&url)
                .query(&[("q", q)])
                .send()
                .await
                .expect("sent");
            assert_eq!(page.status(), StatusCode::OK);
            page.text().await.expect("body")
        }
    };
    let results = |html: &str| -> String {
        let start = html.find("id=\"chercher\"").expect("search section");
        let end = html.find("id=\"emettre\"").expect("issue section");
        html[start..end].to_string()
    };

    // Part of a reference, in any case: both of this distributor's, not the other's.
    let found = results(&search("ft-2026-0".into()).await);
    assert!(found.contains("2 carnets pour « ft-2026-0 »"), "{found}");
    assert!(found.contains(&code(&first)) && found.contains(&code(&second)));
    assert!(!found.contains(&code(&unrelated)));
    assert!(
        !found.contains(&code(&foreign)),
        "another distributor's carnet shown"
    );
    let found = results(&search("0042".into()).await);
    assert!(found.contains("1 carnet pour"), "{found}");
    assert!(found.contains(&code(&first)));

    // A carnet's code, typed without hyphens and in lower case; a cheque's code leads to its
    // carnet.
    let typed = code(&second).replace('-', "").to_lowercase();
    let found = results(&search(typed).await);
    assert!(found.contains(&code(&second)), "{found}");
    assert!(found.contains("en stock, à activer"));
    let cheque = first["vouchers"][3]["code"].as_str().unwrap().to_string();
    let found = results(&search(cheque).await);
    assert!(found.contains(&code(&first)), "{found}");

    // The other distributor's code finds nothing, and the page says what was searched.
    let found = results(&search(code(&foreign)).await);
    assert!(
        found.contains(&format!(
            "Aucun de vos carnets ne correspond à « {} »",
            code(&foreign)
        )),
        "{found}"
    );
    assert!(!found.contains("class=\"card\""));
    // Wildcards are typed characters, not patterns.
    let found = results(&search("%".into()).await);
    assert!(found.contains("Aucun de vos carnets"), "{found}");
}

/// A multipart body as a browser sends the file form.
pub fn file_form(fields: &[(&str, &str)], name: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----passnumcarnetsboundary4Xc9";
    let mut body = Vec::new();
    for (field, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Sends the file form of the page just opened: `(status, final URL, HTML)`.
async fn send_file(
    app: &TestApp,
    agent: &reqwest::Client,
    page: &common::web::Page,
    program_id: &str,
    file: &[u8],
) -> (StatusCode, String, String) {
    let (content_type, body) = file_form(
        &[
            ("csrf", &page.csrf()),
            ("once", &page.once()),
            ("program_id", program_id),
        ],
        "carnets.csv",
        file,
    );
    let resp = agent
        .post(format!("{}/distributeur/carnets/fichier", app.base))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("sent");
    let (status, url) = (resp.status(), resp.url().to_string());
    (status, url, resp.text().await.expect("body"))
}

/// `lines` lines of 5 cheques, semicolons, a BOM and a header, every tenth with an e-mail.
fn csv_file(lines: usize) -> Vec<u8> {
    let mut text = String::from("\u{feff}Taille;Référence;E-mail\r\n");
    for i in 1..=lines {
        let email = if i % 10 == 0 {
            format!("personne{i}@example.org")
        } else {
            String::new()
        };
        text.push_str(&format!("5;FT-2026-{i:04};{email}\r\n"));
    }
    text.into_bytes()
}

/// Opens the file's page until it is no longer running (at most a minute).
async fn until_finished(agent: &reqwest::Client, url: &str) -> String {
    for _ in 0..120 {
        let page = get(agent, url).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        if !page.html.contains("<progress") {
            return page.html;
        }
        assert!(!page.html.contains("http-equiv=\"refresh\""));
        assert!(page.html.contains("?actualiser=oui"));
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    panic!("the file of carnets did not finish within a minute");
}

async fn pass_codes(app: &TestApp) -> Vec<String> {
    let mut conn = app.raw().await;
    sqlx::query_scalar("SELECT pass_code FROM passes ORDER BY pass_code")
        .fetch_all(&mut conn)
        .await
        .expect("codes")
}

async fn a_file_of_120_lines_issues_120_carnets_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(1_000_000, 700).await;
    let (agent, _) = signed_in(&app, &w.distributor_id, AGENT).await;
    let home = get(&agent, &format!("{}/distributeur", app.base)).await;
    assert!(home.html.contains("href=\"/distributeur/carnets/fichier\""));
    let page = get(
        &agent,
        &format!("{}/distributeur/carnets/fichier", app.base),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    let file = csv_file(120);
    // Sent twice at once (a double click): one job.
    let (first, second) = tokio::join!(
        send_file(&app, &agent, &page, &w.program_id, &file),
        send_file(&app, &agent, &page, &w.program_id, &file)
    );
    assert_eq!(first.0, StatusCode::OK, "{}", first.2);
    assert_eq!(second.0, StatusCode::OK, "{}", second.2);
    assert_eq!(first.1, second.1, "both show the same file");
    let summary = until_finished(&agent, &first.1).await;
    assert!(summary.contains("120 carnets émis"), "{summary}");
    assert!(
        summary.contains("12 carnets partent par e-mail"),
        "{summary}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM carnet_files").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM passes").await, 120);
    assert_eq!(app.count("SELECT COUNT(*) FROM vouchers").await, 600);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM passes WHERE status = 'active'")
            .await,
        120
    );
    assert_eq!(
        app.count("SELECT COUNT(DISTINCT beneficiary_ref) FROM passes")
            .await,
        120
    );
    let mails = app.outbox_subjects().await;
    assert_eq!(mails.len(), 12, "{mails:?}");
    assert!(mails.iter().any(|(to, _)| to == "personne120@example.org"));

    // One PDF with every carnet of the file.
    let pdf_url = format!("{}/pdf", first.1);
    let resp = agent.get(&pdf_url).send().await.expect("sent");
    assert_eq!(resp.status(), StatusCode::OK);
    let pdf = resp.bytes().await.expect("pdf");
    let pages = pdf_texts(&pdf);
    let text = pages.join("\n");
    for code in pass_codes(&app).await {
        let printed = passnum::vouchers::codes::display_code(&code);
        assert!(
            text.contains(&printed),
            "carnet {printed} missing from the PDF"
        );
    }
    // Each carnet starts on its own page: a cover and its 5 cheques on two pages.
    assert!(pages.len() >= 120, "{} pages", pages.len());

    // Sending the same form once more later (the back button): still one job.
    let again = send_file(&app, &agent, &page, &w.program_id, &file).await;
    assert_eq!(again.1, first.1);
    assert_eq!(app.count("SELECT COUNT(*) FROM passes").await, 120);

    // Another distributor sees neither the file nor its PDF.
    let (other_id, _) = app.org("distributor", "Mission locale").await;
    let (other, _) = signed_in(&app, &other_id, "agent@mission.example").await;
    assert_eq!(get(&other, &first.1).await.status, StatusCode::NOT_FOUND);
    let denied = other.get(&pdf_url).send().await.expect("sent");
    assert_eq!(denied.status(), StatusCode::NOT_FOUND);
    let list = get(
        &other,
        &format!("{}/distributeur/carnets/fichier", app.base),
    )
    .await;
    assert!(!list.html.contains("carnets.csv"));
    app.assert_ledger_verifies().await;
}

async fn a_file_with_bad_lines_lists_every_error_and_issues_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 100).await;
    let (agent, _) = signed_in(&app, &w.distributor_id, AGENT).await;
    let page = get(
        &agent,
        &format!("{}/distributeur/carnets/fichier", app.base),
    )
    .await;
    let file = format!(
        "5,FT-1\n10,FT-2,a@example.org\n7,FT-3\n5,FT-4\n5,FT-5,pas-une-adresse\n5,FT-6\n\
         10,{}\n5,FT-8\n",
        "R".repeat(70)
    );
    let (status, _, html) = send_file(&app, &agent, &page, &w.program_id, file.as_bytes()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("Aucun carnet n'a été émis"), "{html}");
    assert!(html.contains("Corrigez ces 3 points"), "{html}");
    for line in ["Ligne 3 : ", "Ligne 5 : ", "Ligne 7 : "] {
        assert!(html.contains(line), "{line} missing: {html}");
    }
    assert!(html.contains("aria-invalid=\"true\""));
    assert_eq!(app.count("SELECT COUNT(*) FROM passes").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM carnet_files").await, 0);

    // A file in another encoding (Latin-1 from an old spreadsheet): said so.
    let page = get(
        &agent,
        &format!("{}/distributeur/carnets/fichier", app.base),
    )
    .await;
    let (status, _, html) = send_file(&app, &agent, &page, &w.program_id, b"5;R\xe9f-1\n").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("CSV UTF-8"), "{html}");
    assert_eq!(app.count("SELECT COUNT(*) FROM passes").await, 0);
}

async fn a_file_beyond_the_quota_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 22).await;
    let (agent, _) = signed_in(&app, &w.distributor_id, AGENT).await;
    let page = get(
        &agent,
        &format!("{}/distributeur/carnets/fichier", app.base),
    )
    .await;
    let file = "5;A-1\n10;A-2\n5;A-3\n5;A-4\n";
    let (status, _, html) = send_file(&app, &agent, &page, &w.program_id, file.as_bytes()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(
        html.contains("Le fichier demande 25 chèques et il vous en reste 22"),
        "{html}"
    );
    assert!(
        html.contains("les 3 premiers carnets du fichier sur 4"),
        "{html}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM passes").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM carnet_files").await, 0);
}

/// A file stored but not yet issued (the server stopped right after the upload) is issued at
/// the next start; two runners of the same file (a restart while one still runs) issue each
/// line once.
async fn a_stored_file_is_resumed_and_issued_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(1_000_000, 700).await;
    let distributor = {
        let mut conn = app.state.db.read().await.expect("read");
        passnum::orgs::get(&mut conn, &w.distributor_id)
            .await
            .expect("distributor")
    };
    let (now, today) = (app.now(), app.state.clock.today());
    let store = |lines: usize| {
        let (distributor, program) = (distributor.clone(), w.program_id.clone());
        app.write(move |tx| {
            Box::pin(async move {
                let file = csv_file(lines);
                files::start(
                    tx,
                    &distributor,
                    None,
                    &program,
                    "lot.csv",
                    &file,
                    now,
                    today,
                )
                .await
            })
        })
    };
    let Upload::Started { id, lines } = store(60).await.expect("stored") else {
        panic!("the file is valid");
    };
    assert_eq!(lines, 60);
    assert_eq!(app.count("SELECT COUNT(*) FROM passes").await, 0);
    app.state.file_runner().resume_all().await;
    assert_eq!(app.count("SELECT COUNT(*) FROM passes").await, 60);

    let Upload::Started { id: second, .. } = store(70).await.expect("stored") else {
        panic!("the file is valid");
    };
    let runner = app.state.file_runner();
    let (a, b) = tokio::join!(runner.run(&second), runner.run(&second));
    a.expect("first runner");
    b.expect("second runner");
    assert_eq!(app.count("SELECT COUNT(*) FROM passes").await, 130);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM carnet_file_lines WHERE pass_id IS NOT NULL")
            .await,
        130
    );
    for file in [&id, &second] {
        let mut conn = app.state.db.read().await.expect("read");
        let view = files::get(&mut conn, &distributor, file)
            .await
            .expect("file");
        assert_eq!(view.status, files::FileStatus::Done);
        assert_eq!(view.lines_done, view.lines_total);
    }
    app.assert_ledger_verifies().await;
}

/// Fifteen days before a programme ends, a stock carnet can no longer be handed over nor a file
/// issued: both pages say so in words, and nothing changes.
async fn a_closing_programme_is_said_on_the_activation_and_file_pages(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 40).await;
    let stock = issue(&app, &w, "", false).await;
    let id = stock["id"].as_str().unwrap();
    let (status, body) = app
        .post(
            &format!("/api/v1/programs/{}/close", w.program_id),
            &w.funder,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.clock
        .set("2026-03-17T08:00:00Z".parse().expect("timestamp"));
    let (agent, csrf) = signed_in(&app, &w.distributor_id, AGENT).await;
    let url = format!("{}/distributeur/carnets/{id}", app.base);
    let page = get(&agent, &url).await;
    let refused = post(
        &agent,
        &format!("{url}/activer"),
        &[
            ("csrf", &csrf),
            ("once", &page.once()),
            ("beneficiary_ref", "FT-1"),
            ("email", ""),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::GONE, "{}", refused.html);
    assert!(
        refused.html.contains("prend fin le 1er avril 2026"),
        "{}",
        refused.html
    );
    let (_, pass) = app
        .get(&format!("/api/v1/passes/{id}"), Some(&w.distributor))
        .await;
    assert_eq!(pass["status"], "inactive");

    let page = get(
        &agent,
        &format!("{}/distributeur/carnets/fichier", app.base),
    )
    .await;
    let (status, _, html) = send_file(&app, &agent, &page, &w.program_id, b"5;FT-2\n").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("prend fin le 1er avril 2026"), "{html}");
    assert_eq!(app.count("SELECT COUNT(*) FROM carnet_files").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM passes").await, 1);
}
