//! Bank details that cannot be redirected: a site's new IBAN waits for the operator's check
//! of its RIB, the old account keeps being paid meanwhile, every member of the site hears of
//! it, and every step is in the journal. On both databases, through the API and the pages.

use crate::common;
use common::web::{get, signed_in};
use common::{error_code, xmllint, Backend, TestApp, World, RIB_PDF};
use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_databases!(
    an_unapproved_change_pays_the_old_account,
    a_rejected_then_approved_change_pays_the_new_account_once,
    a_returned_transfer_waits_for_approved_details,
    documents_are_checked_and_private,
    the_pages_ask_and_decide,
);

const OLD: &str = "FR1420041010050500013M02606";
const NEW: &str = "DE89370400440532013000";

async fn redeem_n(app: &TestApp, w: &World, n: usize) {
    let pass = app.issue(w, 10).await;
    for v in pass["vouchers"].as_array().unwrap().iter().take(n) {
        let (status, body) = app.redeem(&w.site, v["code"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

/// A batch of what is payable, approved and exported: `(batch, SEPA file)`.
async fn batch(app: &TestApp) -> (Value, String) {
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
    assert_eq!(status, StatusCode::OK, "{xml}");
    xmllint(&xml);
    (batch, xml)
}

async fn an_unapproved_change_pays_the_old_account(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(200_000, 100).await;
    app.user(
        &w.site_id,
        "agent@lieu.fr",
        "Agent",
        passnum::users::Role::Agent,
        None,
    )
    .await;
    app.bank_account(&w.site_id, &w.site, OLD).await;
    // With the site's token alone, someone asks for another account.
    let (status, body) = app.bank_request(&w.site_id, &w.site, NEW).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        (&body["status"], &body["effective"]),
        (&json!("pending"), &json!("after_review"))
    );
    let (status, _) = app.bank_document(&w.site_id, &w.site, RIB_PDF).await;
    assert_eq!(status, StatusCode::OK);
    redeem_n(&app, &w, 2).await;
    let (_, xml) = batch(&app).await;
    assert!(xml.contains(OLD), "{xml}");
    assert!(!xml.contains(NEW), "{xml}");

    // Every member of the site was told, and the operator's people asked to check.
    let mails = app.outbox_subjects().await;
    let told =
        |to: &str, subject: &str| mails.iter().any(|(t, s)| t == to && s.starts_with(subject));
    assert!(
        told(
            "agent@lieu.fr",
            "Demande de changement de coordonnées bancaires"
        ),
        "{mails:?}"
    );
    let (_, details) = app
        .get(&format!("/api/v1/sites/{}/bank", w.site_id), Some(&w.site))
        .await;
    assert_eq!(details["current"]["iban"], "FR14*******************2606");
    assert_eq!(details["pending"]["iban"], "DE89**************3000");
    assert_eq!(
        details["pending"]["document"]["content_type"],
        "application/pdf"
    );
    let journal = app.journal(&w.site_id).await;
    for action in [
        "bank_account.requested",
        "bank_account.document",
        "bank_account.approved",
    ] {
        assert!(journal.iter().any(|a| a == action), "{action}: {journal:?}");
    }
}

async fn a_rejected_then_approved_change_pays_the_new_account_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(200_000, 100).await;
    app.user(
        &w.site_id,
        "agent@lieu.fr",
        "Agent",
        passnum::users::Role::Agent,
        None,
    )
    .await;
    app.bank_account(&w.site_id, &w.site, OLD).await;
    let (_, asked) = app.bank_request(&w.site_id, &w.site, NEW).await;
    let first = asked["id"].as_str().unwrap().to_string();
    app.bank_document(&w.site_id, &w.site, RIB_PDF).await;
    // A refusal needs a reason, which the site is told.
    let (status, body) = app.bank_decision(&first, false, None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "reason_required")
    );
    let (status, body) = app
        .bank_decision(
            &first,
            false,
            Some("Le titulaire du RIB n'est pas le lieu."),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "rejected");
    let (status, body) = app.bank_decision(&first, true, None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "bank_details_decided")
    );
    redeem_n(&app, &w, 1).await;
    let (_, xml) = batch(&app).await;
    assert!(xml.contains(OLD) && !xml.contains(NEW));

    // Asked again with the right document, approved: the next batch pays the new account,
    // each redemption once.
    let second = app.bank_account(&w.site_id, &w.site, NEW).await;
    assert_ne!(second, first);
    redeem_n(&app, &w, 2).await;
    let (b2, xml) = batch(&app).await;
    assert!(xml.contains(NEW) && !xml.contains(OLD), "{xml}");
    assert_eq!(b2["total_cents"], 2_000, "{b2}");
    let (status, body) = app
        .post(
            "/api/v1/settlements",
            &app.operator_token,
            json!({"until": "2027-12-31"}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "nothing_to_settle")
    );
    let subjects: Vec<String> = app
        .outbox_subjects()
        .await
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert!(subjects
        .iter()
        .any(|s| s.starts_with("Nouvelles coordonnées bancaires refusées")));
    assert!(subjects
        .iter()
        .any(|s| s.starts_with("Nouvelles coordonnées bancaires acceptées")));
    let journal = app.journal(&w.site_id).await;
    assert!(
        journal.iter().any(|a| a == "bank_account.rejected"),
        "{journal:?}"
    );
    app.assert_ledger_verifies().await;
}

async fn a_returned_transfer_waits_for_approved_details(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(200_000, 100).await;
    let op = app.operator_token.clone();
    app.bank_account(&w.site_id, &w.site, OLD).await;
    redeem_n(&app, &w, 2).await;
    let (b1, _) = batch(&app).await;
    let id = b1["id"].as_str().unwrap();
    let line = b1["lines"][0]["id"].as_str().unwrap();
    app.post(&format!("/api/v1/settlements/{id}/paid"), &op, json!({}))
        .await;
    let (status, body) = app
        .post(
            &format!("/api/v1/settlements/{id}/lines/{line}/reject"),
            &op,
            json!({"reason": "AC04"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // New details asked for but not checked yet: the amount stays held, nothing is paid.
    let (_, asked) = app.bank_request(&w.site_id, &w.site, NEW).await;
    let request = asked["id"].as_str().unwrap().to_string();
    app.bank_document(&w.site_id, &w.site, RIB_PDF).await;
    app.advance(SignedDuration::from_hours(49));
    let (status, body) = app
        .post("/api/v1/settlements", &op, json!({"until": "2027-12-31"}))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "nothing_to_settle"),
        "{body}"
    );
    // Approved: the held amount goes to the new account, once.
    let (status, _) = app.bank_decision(&request, true, None).await;
    assert_eq!(status, StatusCode::OK);
    let (b2, xml) = batch(&app).await;
    assert_eq!(b2["lines"][0]["carried_cents"], 2_000, "{b2}");
    assert!(xml.contains(NEW) && !xml.contains(OLD));
    let (status, _) = app
        .post("/api/v1/settlements", &op, json!({"until": "2027-12-31"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    app.assert_ledger_verifies().await;
}

async fn documents_are_checked_and_private(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(10_000, 5).await;
    let (other_id, other) = app.qualified_site("Autre lieu").await;
    // No request yet: nothing to attach a document to.
    let (status, body) = app.bank_document(&w.site_id, &w.site, RIB_PDF).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "no_pending_bank_details")
    );
    let (_, asked) = app.bank_request(&w.site_id, &w.site, NEW).await;
    let id = asked["id"].as_str().unwrap().to_string();
    // Approving without the RIB is refused: there is nothing to compare with.
    let (status, body) = app.bank_decision(&id, true, None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "document_missing")
    );
    for (bytes, code) in [
        (&b"<html><script>alert(1)</script>"[..], "document_type"),
        (&b"MZ\x90\x00 an executable"[..], "document_type"),
    ] {
        let (status, body) = app.bank_document(&w.site_id, &w.site, bytes).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, code)
        );
    }
    let mut big = b"%PDF-1.4\n".to_vec();
    big.resize(6 * 1024 * 1024, b' ');
    // Refused from its declared length: the server may answer 413 and close before the
    // client has finished sending, which the client sees as a broken connection.
    let sent = app
        .client
        .put(format!(
            "{}/api/v1/sites/{}/bank/document",
            app.base, w.site_id
        ))
        .bearer_auth(&w.site)
        .body(big)
        .send()
        .await;
    match sent {
        Ok(resp) => assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE),
        Err(e) => assert!(e.is_request(), "{e}"),
    }
    // Another site can neither attach to it nor read it; a distributor cannot list requests.
    let (status, _) = app.bank_document(&w.site_id, &other, RIB_PDF).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.bank_document(&w.site_id, &w.site, RIB_PDF).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = app
        .get_text(&format!("/api/v1/bank-requests/{id}/document"), &other)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get(&format!("/api/v1/sites/{}/bank", w.site_id), Some(&other))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("/api/v1/bank-requests", Some(&w.distributor)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The operator sees the full IBAN, the document's fingerprint, and the document itself.
    let (status, list) = app
        .get("/api/v1/bank-requests", Some(&app.operator_token))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["iban"], NEW);
    let sha = &list[0]["document"]["sha256"];
    assert_eq!(sha.as_str().unwrap().len(), 64);
    let resp = app
        .client
        .get(format!("{}/api/v1/bank-requests/{id}/document", app.base))
        .bearer_auth(&app.operator_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    assert_eq!(resp.headers()["content-security-policy"], "sandbox");
    assert_eq!(&resp.bytes().await.unwrap()[..], RIB_PDF);
    // A newer request replaces the waiting one, whose decision is then refused.
    let (_, again) = app.bank_request(&w.site_id, &w.site, OLD).await;
    assert_ne!(again["id"], json!(id));
    let (status, body) = app.bank_decision(&id, false, Some("x")).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "bank_details_decided")
    );
    let (_, list) = app
        .get("/api/v1/bank-requests", Some(&app.operator_token))
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let _ = other_id;
}

/// A multipart body as a browser sends it: text fields, then one file.
pub(crate) fn multipart(fields: &[(&str, &str)], file: (&str, &[u8])) -> (String, Vec<u8>) {
    let boundary = "----passnumtestboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"{}\"\r\nContent-Type: application/pdf\r\n\r\n",
            file.0
        )
        .as_bytes(),
    );
    body.extend_from_slice(file.1);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn the_pages_ask_and_decide(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(10_000, 5).await;
    let (site, _) = signed_in(&app, &w.site_id, "tresorier@lieu.fr").await;
    let url = format!("{}/lieu/banque", app.base);
    let form = get(&site, &url).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.html.contains("Aucun compte n'est encore enregistré"));
    let send = |file: &'static [u8], once: String, csrf: String| {
        let (content_type, body) = multipart(
            &[
                ("csrf", &csrf),
                ("once", &once),
                ("iban", "DE89 3704 0044 0532 0130 00"),
                ("bic", ""),
                ("holder", "Médiathèque"),
            ],
            ("RIB.pdf", file),
        );
        site.post(&url)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    // A file that is not a RIB: the page says why and keeps what was typed.
    let refused = send(b"GIF89a", form.once(), form.csrf()).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(html.contains("ni un PDF"), "{html}");
    assert!(html.contains("DE89 3704 0044 0532 0130 00"));
    // Sent twice (a double click): one request.
    let form = get(&site, &url).await;
    for _ in 0..2 {
        let done = send(RIB_PDF, form.once(), form.csrf()).await.unwrap();
        assert_eq!(done.status(), StatusCode::OK);
        let html = done.text().await.unwrap();
        assert!(html.contains("Votre demande est enregistrée"), "{html}");
        assert!(html.contains("DE89**************3000"));
    }
    let (_, list) = app
        .get("/api/v1/bank-requests", Some(&app.operator_token))
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let id = list[0]["id"].as_str().unwrap().to_string();

    // The operator opens the list, the RIB, and accepts.
    let operator_id = app.operator_org().await.id;
    let (operator, _) = signed_in(&app, &operator_id, "controle@operateur.fr").await;
    let page = get(&operator, &format!("{}/operateur/banque", app.base)).await;
    assert!(
        page.html.contains("DE89 3704 0044 0532 0130 00"),
        "{}",
        page.html
    );
    let rib = operator
        .get(format!("{}/operateur/banque/{id}/rib", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(rib.headers()["content-type"], "application/pdf");
    // Accepting asks first, naming the site and the new IBAN; it changes nothing yet.
    let journal = app.count("SELECT COUNT(*) FROM audit_log").await;
    let asked = common::web::post(
        &operator,
        &format!("{}/operateur/banque/{id}/decision", app.base),
        &[
            ("csrf", &page.csrf()),
            ("once", &page.once()),
            ("decision", "accepter"),
            ("reason", ""),
        ],
    )
    .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.html);
    assert!(
        asked
            .html
            .contains("Accepter les coordonnées bancaires de "),
        "{}",
        asked.html
    );
    assert!(
        asked.html.contains("DE89 3704 0044 0532 0130 00"),
        "{}",
        asked.html
    );
    assert!(asked.html.contains("Oui, accepter ces coordonnées"));
    assert!(asked.html.contains("href=\"/operateur/banque\""));
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log").await, journal);
    let decided = common::web::post(
        &operator,
        &format!("{}/operateur/banque/{id}/decision", app.base),
        &[
            ("csrf", &page.csrf()),
            ("confirm", "1"),
            ("once", &page.once()),
            ("decision", "accepter"),
            ("reason", ""),
        ],
    )
    .await;
    assert_eq!(decided.status, StatusCode::OK);
    assert!(
        decided.html.contains("Les coordonnées sont acceptées"),
        "{}",
        decided.html
    );
    assert!(decided.html.contains("Aucune demande n'attend"));
    let page = get(&site, &url).await;
    assert!(page.html.contains("Compte utilisé pour vos remboursements"));
    assert!(page.html.contains("DE89**************3000"));
    assert!(!page.html.contains("Demande en cours de vérification"));
}
