//! The bank's own statement, imported: a camt.053.001.08 file (written here and validated with
//! xmllint against the schema) confirms a funding, marks a batch paid and rejects a returned
//! transfer; what it cannot match waits for a person; importing it twice changes nothing; the
//! coverage of what is owed is measured against its closing balance. On both databases.

use crate::common;
use common::camt::{EntryXml, StatementXml};
use common::web::{get, signed_in};
use common::{error_code, xmllint_camt, Backend, TestApp, World};
use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_databases!(
    a_statement_confirms_pays_and_returns,
    statements_that_do_not_validate_are_refused_with_the_reason,
    only_received_money_backs_allocations_when_the_programme_asks,
    coverage_is_measured_against_the_closing_balance,
    the_operator_imports_and_matches_on_the_page,
    the_demo_shows_a_month_of_money,
);

const PAYER: &str = "FR7630004000031234567890143";

/// Uploads a statement as the operator.
async fn import(app: &TestApp, token: &str, xml: &str) -> (StatusCode, Value) {
    let resp = app
        .client
        .post(format!("{}/api/v1/bank-statements", app.base))
        .bearer_auth(token)
        .header("content-type", "application/xml")
        .body(xml.to_string())
        .send()
        .await
        .expect("sent");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn statement(id: &str, closing_cents: i64, entries: Vec<EntryXml>) -> String {
    let xml = StatementXml {
        message_id: id.into(),
        account_iban: PAYER.into(),
        opening_cents: 0,
        closing_cents,
        date: "2026-12-10".into(),
        entries,
    }
    .to_xml();
    xmllint_camt(&xml);
    xml
}

/// Cheques redeemed at the world's site and at a second site, both with approved bank
/// details; a batch approved and exported: `(batch, SEPA file)`.
async fn exported_batch(app: &TestApp, w: &World) -> (Value, String) {
    let (site2_id, site2) = app.qualified_site("France Services Cenon").await;
    app.bank(&w.site_id, &w.site).await;
    app.bank(&site2_id, &site2).await;
    let pass = app.issue(w, 10).await;
    let codes: Vec<&str> = pass["vouchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["code"].as_str().unwrap())
        .collect();
    for (i, code) in codes.iter().take(5).enumerate() {
        let site = if i < 3 { &w.site } else { &site2 };
        let (status, body) = app.redeem(site, code).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    app.advance(SignedDuration::from_hours(49));
    let op = &app.operator_token;
    let (status, batch) = app
        .post("/api/v1/settlements", op, json!({"until": "2027-12-31"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    let id = batch["id"].as_str().unwrap();
    app.post(&format!("/api/v1/settlements/{id}/approve"), op, json!({}))
        .await;
    let (status, _, xml) = app.sepa(id, op).await;
    assert_eq!(status, StatusCode::OK);
    (batch, xml)
}

fn between<'x>(xml: &'x str, open: &str, close: &str) -> &'x str {
    let start = xml.find(open).expect(open) + open.len();
    &xml[start..start + xml[start..].find(close).expect(close)]
}

async fn a_statement_confirms_pays_and_returns(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(200_000, 100).await;
    let op = app.operator_token.clone();
    let (status, funding) = app
        .post(
            &format!("/api/v1/programs/{}/fundings", w.program_id),
            &w.funder,
            json!({"amount_cents": 50_000, "reference": "MANDAT 2026-774"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{funding}");
    assert_eq!(funding["status"], "declared");
    let (batch, sepa) = exported_batch(&app, &w).await;
    let batch_id = batch["id"].as_str().unwrap();
    let lines = batch["lines"].as_array().unwrap();
    let returned = &lines[1];
    let e2e = |l: &Value| l["end_to_end_id"].as_str().unwrap().to_string();
    let xml = statement(
        "RELEVE-2026-12-10",
        5_000_000,
        vec![
            EntryXml::Credit {
                cents: 50_000,
                reference: "VIR DEPARTEMENT MANDAT 2026 774".into(),
                debtor: "DEPARTEMENT DE LA GIRONDE".into(),
                acct_svcr_ref: "BQ-0001".into(),
            },
            EntryXml::Debit {
                cents: batch["total_cents"].as_i64().unwrap(),
                message_id: between(&sepa, "<MsgId>", "</MsgId>").into(),
                payment_info_id: Some(between(&sepa, "<PmtInfId>", "</PmtInfId>").into()),
                end_to_end_ids: lines
                    .iter()
                    .map(|l| (e2e(l), l["amount_cents"].as_i64().unwrap()))
                    .collect(),
                acct_svcr_ref: "BQ-0002".into(),
            },
            EntryXml::Return {
                cents: returned["amount_cents"].as_i64().unwrap(),
                end_to_end_id: e2e(returned),
                reason: "AC04".into(),
                acct_svcr_ref: "BQ-0003".into(),
            },
            EntryXml::Debit {
                cents: 1_250,
                message_id: "FRAIS-TENUE-COMPTE-12".into(),
                payment_info_id: None,
                end_to_end_ids: vec![],
                acct_svcr_ref: "BQ-0004".into(),
            },
            EntryXml::Credit {
                cents: 30_000,
                reference: "VIREMENT SANS REFERENCE CONNUE".into(),
                debtor: "COMMUNE DE CENON".into(),
                acct_svcr_ref: "BQ-0005".into(),
            },
        ],
    );
    let (status, report) = import(&app, &op, &xml).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["already_imported"], false);
    for (field, n) in [
        ("entries", 5),
        ("fundings_confirmed", 1),
        ("batches_paid", 1),
        ("transfers_returned", 1),
        ("unmatched", 2),
    ] {
        assert_eq!(report[field], n, "{field}: {report}");
    }
    // The batch is paid, the returned line rejected with the bank's reason.
    let (_, view) = app
        .get(&format!("/api/v1/settlements/{batch_id}"), Some(&op))
        .await;
    assert_eq!(view["status"], "paid", "{view}");
    let line = view["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == returned["id"])
        .unwrap();
    assert_eq!(line["status"], "rejected");
    assert_eq!(line["rejection_code"], "AC04");
    let (_, coverage) = app.get("/api/v1/coverage", Some(&w.funder)).await;
    assert_eq!(
        coverage["programmes"][0]["received_cents"], 50_000,
        "{coverage}"
    );
    assert_eq!(coverage["programmes"][0]["announced_cents"], 200_000);
    assert_eq!(
        coverage["programmes"][0]["held_cents"],
        returned["amount_cents"]
    );

    // Imported again: nothing changes.
    let journal_before = app.journal(batch_id).await.len();
    let (status, again) = import(&app, &op, &xml).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["already_imported"], true);
    assert_eq!(again["statement"]["id"], report["statement"]["id"]);
    assert_eq!(app.journal(batch_id).await.len(), journal_before);
    let (_, statements) = app.get("/api/v1/bank-statements", Some(&op)).await;
    assert_eq!(statements.as_array().unwrap().len(), 1);

    // What it could not match waits for a person.
    let (_, unmatched) = app.get("/api/v1/bank-entries/unmatched", Some(&op)).await;
    let unmatched = unmatched.as_array().unwrap().clone();
    assert_eq!(unmatched.len(), 2, "{unmatched:?}");
    let fee = unmatched
        .iter()
        .find(|e| e["direction"] == "debit")
        .unwrap();
    let credit = unmatched
        .iter()
        .find(|e| e["direction"] == "credit")
        .unwrap();
    let (status, body) = app
        .post(
            &format!("/api/v1/bank-entries/{}/match", fee["id"].as_str().unwrap()),
            &op,
            json!({"set_aside": ""}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_note")
    );
    let (status, body) = app
        .post(
            &format!("/api/v1/bank-entries/{}/match", fee["id"].as_str().unwrap()),
            &op,
            json!({"set_aside": "Frais de tenue de compte de décembre"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["kind"], "set_aside");
    let (_, cenon) = app
        .post(
            &format!("/api/v1/programs/{}/fundings", w.program_id),
            &w.funder,
            json!({"amount_cents": 30_000, "reference": "Convention Cenon"}),
        )
        .await;
    let credit_id = credit["id"].as_str().unwrap();
    let (status, body) = app
        .post(
            &format!("/api/v1/bank-entries/{credit_id}/match"),
            &op,
            json!({"funding_id": funding["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/v1/bank-entries/{credit_id}/match"),
            &op,
            json!({"funding_id": cenon["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["kind"], "funding");
    let (status, _) = app
        .post(
            &format!("/api/v1/bank-entries/{credit_id}/match"),
            &op,
            json!({"set_aside": "encore"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, unmatched) = app.get("/api/v1/bank-entries/unmatched", Some(&op)).await;
    assert!(unmatched.as_array().unwrap().is_empty());
    let journal = app.journal(&w.program_id).await;
    assert_eq!(
        journal.iter().filter(|a| *a == "funding.confirmed").count(),
        2,
        "{journal:?}"
    );
    let statement_id = report["statement"]["id"].as_str().unwrap();
    let journal = app.journal(statement_id).await;
    assert!(journal.iter().any(|a| a == "bank_statement.imported"));
    assert_eq!(
        journal
            .iter()
            .filter(|a| *a == "bank_entry.matched")
            .count(),
        2
    );
    app.assert_ledger_verifies().await;
}

async fn statements_that_do_not_validate_are_refused_with_the_reason(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(10_000, 5).await;
    let op = app.operator_token.clone();
    let valid = statement("RELEVE-A", 0, vec![]);
    let cases: Vec<(String, &str, &str)> = vec![
        ("pas du XML".into(), "invalid_statement", "XML"),
        (
            valid.replace("camt.053.001.08", "camt.053.001.02"),
            "invalid_statement",
            "camt.053.001.02",
        ),
        (
            valid.replace("<CdtDbtInd>CRDT</CdtDbtInd>", "<CdtDbtInd>XXXX</CdtDbtInd>"),
            "invalid_statement",
            "CdtDbtInd",
        ),
        (
            valid.replace(PAYER, "FR1420041010050500013M02606"),
            "foreign_account",
            "compte payeur",
        ),
        (
            valid.replace("<GrpHdr>", "<!DOCTYPE x [<!ENTITY a \"b\">]><GrpHdr>"),
            "invalid_statement",
            "",
        ),
    ];
    for (xml, code, said) in cases {
        let (status, body) = import(&app, &op, &xml).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, code),
            "{body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(said), "{message}");
    }
    // A payment file is not a statement.
    let (status, body) = import(
        &app,
        &op,
        "<?xml version=\"1.0\"?><Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.09\"/>",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("pain.001"));
    // Nobody but the operator imports or reads.
    let (status, _) = import(&app, &w.funder, &valid).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .get("/api/v1/bank-entries/unmatched", Some(&w.site))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.get("/api/v1/coverage", Some(&w.site)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, statements) = app.get("/api/v1/bank-statements", Some(&op)).await;
    assert!(statements.as_array().unwrap().is_empty());
}

async fn only_received_money_backs_allocations_when_the_programme_asks(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(10_000, 5).await;
    let id = app
        .programme(&w.funder, &w.distributor_id, "Pass numérique prudent")
        .terms(json!({"confirmed_funding_only": true}))
        .funded(20_000)
        .create()
        .await;
    let path = format!("/api/v1/programs/{id}/allocations");
    let allocate = |cheques: i64| {
        app.post(
            &path,
            &w.funder,
            json!({"distributor_id": w.distributor_id, "cheques": cheques}),
        )
    };
    let (status, body) = allocate(5).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "funding_not_confirmed"),
        "{body}"
    );
    let xml = statement(
        "RELEVE-B",
        20_000,
        vec![EntryXml::Credit {
            cents: 20_000,
            reference: "OP-2026-0001".into(),
            debtor: "DEPARTEMENT".into(),
            acct_svcr_ref: "BQ-B1".into(),
        }],
    );
    let (status, report) = import(&app, &app.operator_token, &xml).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    // The world's programme has a funding with the same reference but another amount: only
    // the one of the same amount is confirmed.
    assert_eq!(report["fundings_confirmed"], 1, "{report}");
    let (status, body) = allocate(20).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = allocate(1).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

async fn coverage_is_measured_against_the_closing_balance(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(200_000, 100).await;
    let (other_funder_id, other_funder) = app.org("funder", "Ville de Cenon").await;
    app.programme(&other_funder, &w.distributor_id, "Pass Cenon")
        .funded(10_000)
        .create()
        .await;
    let pass = app.issue(&w, 10).await;
    for v in pass["vouchers"].as_array().unwrap().iter().take(3) {
        app.redeem(&w.site, v["code"].as_str().unwrap()).await;
    }
    let (_, coverage) = app.get("/api/v1/coverage", Some(&app.operator_token)).await;
    assert_eq!(coverage["covered"], Value::Null, "{coverage}");
    assert_eq!(coverage["owed_cents"], 3_000);
    assert_eq!(coverage["programmes"].as_array().unwrap().len(), 2);
    let (_, theirs) = app.get("/api/v1/coverage", Some(&other_funder)).await;
    assert_eq!(theirs["programmes"].as_array().unwrap().len(), 1);
    assert_eq!(theirs["programmes"][0]["name"], "Pass Cenon");
    let _ = other_funder_id;
    // A closing balance below what is owed: the page and `ledger verify` say so.
    let xml = statement("RELEVE-C", 2_000, vec![]);
    import(&app, &app.operator_token, &xml).await;
    let (_, coverage) = app.get("/api/v1/coverage", Some(&w.funder)).await;
    assert_eq!(coverage["covered"], false);
    assert_eq!(coverage["shortfall_cents"], 1_000);
    let mut conn = app.state.db.read().await.unwrap();
    let problems = passnum::treasury::verify_coverage(&mut conn).await.unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("does not cover"));
    drop(conn);
    let xml = statement("RELEVE-D", 3_000, vec![]);
    let mut xml = xml.replace("2026-12-10", "2026-12-11");
    xml = xml.replace("RELEVE-D", "RELEVE-D2");
    import(&app, &app.operator_token, &xml).await;
    let (_, coverage) = app.get("/api/v1/coverage", Some(&w.funder)).await;
    assert_eq!(coverage["covered"], true, "{coverage}");
    let (funder_page, _) = signed_in(&app, &w.funder_id, "finances@gironde.fr").await;
    let page = get(&funder_page, &format!("{}/financeur/couverture", app.base)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.html.contains("couvre tout ce qui est dû aux lieux"),
        "{}",
        page.html
    );
    assert!(!page.html.contains("Pass Cenon"));
}

/// A multipart body with one file field named `statement`.
fn multipart(csrf: &str, once: &str, xml: &str) -> (String, Vec<u8>) {
    let b = "----passnumtreasuryboundary";
    let body = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"once\"\r\n\r\n{once}\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"statement\"; filename=\"releve.xml\"\r\n\
         Content-Type: application/xml\r\n\r\n{xml}\r\n--{b}--\r\n"
    );
    (
        format!("multipart/form-data; boundary={b}"),
        body.into_bytes(),
    )
}

async fn the_operator_imports_and_matches_on_the_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.world(10_000, 5).await;
    let operator_id = app.operator_org().await.id;
    let (client, _) = signed_in(&app, &operator_id, "tresorerie@operateur.fr").await;
    let url = format!("{}/operateur/tresorerie", app.base);
    let page = get(&client, &url).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("Aucun relevé du compte payeur"));
    let send = |xml: String, page: &common::web::Page| {
        let (content_type, body) = multipart(&page.csrf(), &page.once(), &xml);
        client
            .post(&url)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let refused = send("<Document/>".into(), &page).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().await.unwrap().contains("camt.053"));
    let xml = statement(
        "RELEVE-P",
        100_000,
        vec![EntryXml::Debit {
            cents: 990,
            message_id: "COMMISSION".into(),
            payment_info_id: None,
            end_to_end_ids: vec![],
            acct_svcr_ref: "BQ-P1".into(),
        }],
    );
    let page = get(&client, &url).await;
    // Sent twice (a double click): imported once.
    for _ in 0..2 {
        let done = send(xml.clone(), &page).await.unwrap();
        assert_eq!(done.status(), StatusCode::OK);
        let html = done.text().await.unwrap();
        assert!(html.contains("Relevé RELEVE-P importé"), "{html}");
        assert!(html.contains("1 écriture à rapprocher à la main"), "{html}");
    }
    let page = get(&client, &url).await;
    assert!(page.html.contains("Débit de 9,90"), "{}", page.html);
    let (_, unmatched) = app
        .get("/api/v1/bank-entries/unmatched", Some(&app.operator_token))
        .await;
    let entry_id = unmatched[0]["id"].as_str().unwrap();
    // Setting it aside asks first, naming the entry; nothing changes yet.
    let asked = common::web::post(
        &client,
        &format!("{url}/ecritures/{entry_id}"),
        &[
            ("csrf", &page.csrf()),
            ("once", &page.once()),
            ("choice", "aside"),
            ("note", "Commission de la banque"),
        ],
    )
    .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.html);
    assert!(
        asked.html.contains("Mettre de côté le débit de 9,90"),
        "{}",
        asked.html
    );
    assert!(asked.html.contains("Oui, la mettre de côté"));
    let (_, still) = app
        .get("/api/v1/bank-entries/unmatched", Some(&app.operator_token))
        .await;
    assert_eq!(still.as_array().unwrap().len(), 1, "{still}");
    let done = common::web::post(
        &client,
        &format!("{url}/ecritures/{entry_id}"),
        &[
            ("csrf", &page.csrf()),
            ("once", &page.once()),
            ("choice", "aside"),
            ("note", "Commission de la banque"),
            ("confirm", "1"),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(
        done.html.contains("L'écriture est rapprochée"),
        "{}",
        done.html
    );
    assert!(done
        .html
        .contains("toutes les écritures importées sont rapprochées"));
}

/// The demo's month: bank details approved and one change to check, last month's draft batch
/// to approve, and a statement (valid camt.053) that confirms both fundings when imported.
async fn the_demo_shows_a_month_of_money(backend: Backend) {
    let Some(url) = common::fresh_database(backend).await else {
        return;
    };
    let clock = passnum::clock::MockClock::new("2026-03-02T10:00:00Z".parse().unwrap());
    let state = passnum::start(common::test_config(&url), clock)
        .await
        .expect("starts");
    let filled = passnum::cli::demo::fill(&state).await.expect("demo");
    let xml = filled.statement.expect("a statement");
    xmllint_camt(&xml);
    assert!(
        filled.guide.contains("/operateur/reglements/"),
        "{}",
        filled.guide
    );
    let app = TestApp::spawn_on(&url, |_| {}).await;
    let op = app.operator_token.clone();
    let batch_id = between(&filled.guide, "/operateur/reglements/", " (");
    let (_, draft) = app
        .get(&format!("/api/v1/settlements/{batch_id}"), Some(&op))
        .await;
    assert_eq!(draft["status"], "draft", "{draft}");
    assert_eq!(draft["total_cents"], 7_000);
    let (_, requests) = app.get("/api/v1/bank-requests", Some(&op)).await;
    assert_eq!(requests[0]["site_name"], "Association Les Connectés");
    assert_eq!(requests[0]["document"]["content_type"], "application/pdf");
    let (status, report) = import(&app, &op, &xml).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["fundings_confirmed"], 2, "{report}");
    assert_eq!(report["unmatched"], 1);
    let (_, coverage) = app.get("/api/v1/coverage", Some(&op)).await;
    assert_eq!(coverage["covered"], true, "{coverage}");
    app.assert_ledger_verifies().await;
}
