//! The site's payments pages: each transfer with its reference, where it stands and the date
//! paid, the cheques it covers; another site sees none of them; the statement PDF names the
//! transfer reference and writes dates as people do. On both databases.

use crate::common;

use common::web::{get, signed_in};
use common::{Backend, TestApp, World};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_databases!(site_reads_each_payment_and_its_cheques);

/// A paid batch of three cheques for the world's site (its first place named); the batch.
pub async fn paid_batch(app: &TestApp, w: &World) -> Value {
    app.bank(&w.site_id, &w.site).await;
    let pass = app.issue(w, 5).await;
    for v in pass["vouchers"].as_array().unwrap().iter().take(3) {
        app.redeem(&w.site, v["code"].as_str().unwrap()).await;
    }
    app.advance(jiff::SignedDuration::from_hours(49));
    let op = app.operator_token.clone();
    let (_, batch) = app
        .post("/api/v1/settlements", &op, json!({"until": "2026-12-31"}))
        .await;
    let id = batch["id"].as_str().unwrap().to_string();
    app.post(&format!("/api/v1/settlements/{id}/approve"), &op, json!({}))
        .await;
    app.sepa(&id, &op).await;
    app.post(&format!("/api/v1/settlements/{id}/paid"), &op, json!({}))
        .await;
    let (_, batch) = app
        .get(&format!("/api/v1/settlements/{id}"), Some(&op))
        .await;
    batch
}

async fn site_reads_each_payment_and_its_cheques(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let batch = paid_batch(&app, &w).await;
    let batch_id = batch["id"].as_str().unwrap();
    let line = &batch["lines"][0];
    let (line_id, reference) = (
        line["id"].as_str().unwrap(),
        line["end_to_end_id"].as_str().unwrap(),
    );
    let (client, _) = signed_in(&app, &w.site_id, "compta@lieu.example").await;

    let home = get(&client, &format!("{}/lieu", app.base)).await;
    assert!(
        home.html.contains("href=\"/lieu/paiements\""),
        "{}",
        home.html
    );
    let list = get(&client, &format!("{}/lieu/paiements", app.base)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.html);
    assert!(list.html.contains(reference), "{}", list.html);
    assert!(list.html.contains("30,00\u{a0}€ — Payé"), "{}", list.html);
    assert!(list
        .html
        .contains(&format!("href=\"/lieu/paiements/{line_id}\"")));
    let today = passnum::fr::long_date(app.now().to_zoned(passnum::clock::paris()).date());
    assert!(list.html.contains(&today), "{today}: {}", list.html);

    let one = get(&client, &format!("{}/lieu/paiements/{line_id}", app.base)).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.html);
    assert!(one.html.contains(reference), "{}", one.html);
    assert_eq!(
        one.html
            .matches("<td class=\"num\">10,00\u{a0}€</td>")
            .count(),
        3
    );
    assert!(one.html.contains(&format!("/lieu/releves/{batch_id}.pdf")));
    assert!(one.html.contains(&format!("/lieu/releves/{batch_id}.csv")));

    // The statement names the transfer and dates the sessions in words.
    let resp = client
        .get(format!("{}/lieu/releves/{batch_id}.pdf", app.base))
        .send()
        .await
        .unwrap();
    let text = common::pdf::pdf_texts(&resp.bytes().await.unwrap()).join("\n");
    assert!(text.contains(reference), "{text}");
    assert!(text.contains("Référence du virement"), "{text}");
    assert!(text.contains("Durée"), "{text}");
    assert!(!text.contains("(minutes"), "{text}");
    assert!(
        text.contains("décembre 2026") || text.contains("janvier 2027"),
        "{text}"
    );

    // Another site: neither the list's lines nor the page.
    let (other_id, _) = app.qualified_site("Autre").await;
    let (other, _) = signed_in(&app, &other_id, "autre@lieu.example").await;
    let list = get(&other, &format!("{}/lieu/paiements", app.base)).await;
    assert!(!list.html.contains(reference), "{}", list.html);
    let page = get(&other, &format!("{}/lieu/paiements/{line_id}", app.base)).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);

    // A transfer the bank returned says why.
    let op = app.operator_token.clone();
    let (status, body) = app
        .post(
            &format!("/api/v1/settlements/{batch_id}/lines/{line_id}/reject"),
            &op,
            json!({"reason_code": "AC04", "reason": "Compte clos"}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let one = get(&client, &format!("{}/lieu/paiements/{line_id}", app.base)).await;
    assert!(one.html.contains("Rejeté par la banque"), "{}", one.html);
    assert!(one.html.contains("Compte clos"), "{}", one.html);
}
