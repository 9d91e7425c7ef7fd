//! A funder can follow every euro from budget to a site's bank account: two funders, three
//! distributors, four sites, hundreds of cheques redeemed, undone, cancelled and expired, two
//! batches and a bank rejection; every figure checked against an independent count.

use crate::common;

use common::{error_code, xmllint, Backend, TestApp};
use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeMap;

on_both_databases!(every_euro_is_followed_from_budget_to_bank);

/// What the test itself counts, per programme, from the API's successful answers.
#[derive(Default, Debug, Clone)]
struct Count {
    funded: i64,
    allocated: i64,
    issued: i64,
    redeemed: i64,
    undone: i64,
    cancelled: i64,
    expired: i64,
    settled: i64,
    fee: i64,
    paid: i64,
}

struct Programme {
    id: String,
    funder: String,
    value: i64,
    fee_rate_bp: i64,
}

async fn programme(
    app: &TestApp,
    funder: &str,
    name: &str,
    validity: i64,
    fee: i64,
    count: &mut Count,
) -> Programme {
    let (status, body) = app
        .post("/api/v1/programs", funder, json!({"name": name, "budget_cents": 1_000_000, "validity_days": validity, "fee_rate_bp": fee}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let (status, _) = app
        .post(
            &format!("/api/v1/programs/{id}/fundings"),
            funder,
            json!({"amount_cents": 600_000, "reference": format!("OP-{name}")}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    count.funded += 600_000;
    Programme {
        id,
        funder: funder.to_string(),
        value: 1000,
        fee_rate_bp: fee,
    }
}

async fn allocate(
    app: &TestApp,
    p: &Programme,
    distributor_id: &str,
    cheques: i64,
    count: &mut Count,
) {
    let (status, body) = app
        .post(
            &format!("/api/v1/programs/{}/allocations", p.id),
            &p.funder,
            json!({"distributor_id": distributor_id, "cheques": cheques}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    count.allocated += cheques * p.value;
}

async fn issue(
    app: &TestApp,
    p: &Programme,
    distributor: &str,
    cheques: i64,
    count: &mut Count,
) -> Value {
    let (status, body) = app
        .post(
            "/api/v1/passes",
            distributor,
            json!({"program_id": p.id, "cheques": cheques}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    count.issued += cheques * p.value;
    body
}

async fn check(app: &TestApp, p: &Programme, c: &Count, funder: &str) {
    let (status, r) = app
        .get(
            &format!("/api/v1/programs/{}/reconciliation", p.id),
            Some(funder),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let n = |k: &str| r[k].as_i64().unwrap_or_else(|| panic!("{k} in {r}"));
    assert_eq!(n("funded_cents"), c.funded, "funded {r}");
    assert_eq!(n("allocated_cents"), c.allocated, "allocated {r}");
    assert_eq!(n("issued_cents"), c.issued, "issued {r}");
    assert_eq!(n("redeemed_cents"), c.redeemed - c.undone, "redeemed {r}");
    assert_eq!(n("undone_cents"), c.undone, "undone {r}");
    assert_eq!(n("cancelled_cents"), c.cancelled, "cancelled {r}");
    assert_eq!(n("expired_cents"), c.expired, "expired {r}");
    assert_eq!(n("settled_cents"), c.settled, "settled {r}");
    assert_eq!(n("fee_cents"), c.fee, "fee {r}");
    assert_eq!(n("paid_cents"), c.paid, "paid {r}");
    assert_eq!(
        n("outstanding_cents"),
        c.issued - (c.redeemed - c.undone) - c.cancelled - c.expired,
        "outstanding {r}"
    );
    assert_eq!(
        n("available_cents"),
        c.funded - c.allocated + c.expired,
        "available {r}"
    );
    assert_eq!(
        n("funded_cents"),
        n("available_cents")
            + n("unissued_quota_cents")
            + n("outstanding_cents")
            + n("redeemed_unsettled_cents")
            + n("settled_unpaid_cents")
            + n("paid_cents")
            + n("fee_cents")
            + n("credited_cents"),
        "identity {r}"
    );
}

async fn every_euro_is_followed_from_budget_to_bank(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let op = app.operator_token.clone();
    let (_, f1) = app.org("funder", "Département de la Gironde").await;
    let (_, f2) = app.org("funder", "Ville de Roubaix").await;
    let mut distributors = Vec::new();
    for name in [
        "France Travail Bastide",
        "CAF de la Gironde",
        "CCAS de Roubaix",
    ] {
        distributors.push(app.org("distributor", name).await);
    }
    let mut sites = Vec::new();
    for name in [
        "Médiathèque",
        "France Services",
        "Les Connectés",
        "Tiers-lieu",
    ] {
        let site = app.qualified_site(name).await;
        app.bank(&site.0, &site.1).await;
        sites.push(site);
    }
    let mut counts: BTreeMap<&str, Count> = BTreeMap::new();
    let p1 = programme(&app, &f1, "P1", 365, 0, counts.entry("p1").or_default()).await;
    let p2 = programme(&app, &f2, "P2", 365, 400, counts.entry("p2").or_default()).await;
    let p3 = programme(
        &app,
        &f1,
        "P3 court",
        30,
        0,
        counts.entry("p3").or_default(),
    )
    .await;
    allocate(
        &app,
        &p1,
        &distributors[0].0,
        200,
        counts.get_mut("p1").unwrap(),
    )
    .await;
    allocate(
        &app,
        &p1,
        &distributors[1].0,
        150,
        counts.get_mut("p1").unwrap(),
    )
    .await;
    allocate(
        &app,
        &p2,
        &distributors[2].0,
        120,
        counts.get_mut("p2").unwrap(),
    )
    .await;
    allocate(
        &app,
        &p3,
        &distributors[1].0,
        30,
        counts.get_mut("p3").unwrap(),
    )
    .await;

    // Issue carnets and redeem a varying number of cheques of each at a rotating site.
    let mut live: Vec<(String, String, &str, String)> = Vec::new(); // (redemption id, site token, programme, code)
    let mut carnets: Vec<(&str, Value, &str)> = Vec::new();
    for (key, p, d, n) in [
        ("p1", &p1, 0usize, 20),
        ("p1", &p1, 1, 12),
        ("p2", &p2, 2, 11),
        ("p3", &p3, 1, 5),
    ] {
        for i in 0..n {
            let size = if (i + d) % 3 == 0 { 5 } else { 10 };
            let size = if key == "p3" { 5 } else { size };
            let pass = issue(
                &app,
                p,
                &distributors[d].1,
                size,
                counts.get_mut(key).unwrap(),
            )
            .await;
            let used = (size as usize).saturating_sub((i * 3 + d) % 5);
            let used = if key == "p3" { 1 } else { used };
            for v in pass["vouchers"].as_array().unwrap().iter().take(used) {
                let site = &sites[(i + d) % 4];
                let code = v["code"].as_str().unwrap().to_string();
                let (status, body) = app.redeem(&site.1, &code).await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
                counts.get_mut(key).unwrap().redeemed += 1000;
                live.push((
                    body["id"].as_str().unwrap().to_string(),
                    site.1.clone(),
                    key,
                    code,
                ));
            }
            carnets.push((key, pass, distributors[d].1.as_str()));
        }
    }
    assert!(live.len() > 200, "hundreds of cheques: {}", live.len());
    // Undo every ninth redemption; the cheque becomes usable again.
    for (id, site, key, _) in live.iter().step_by(9) {
        let (status, body) = app.delete(&format!("/api/v1/redemptions/{id}"), site).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        counts.get_mut(key).unwrap().undone += 1000;
    }
    // Lost carnets: every fifth is cancelled; its unused cheques go back to the quota.
    for (key, pass, distributor) in carnets.iter().step_by(5) {
        let before = pass["vouchers"].as_array().unwrap().len() as i64;
        let (status, body) = app
            .post(
                &format!("/api/v1/passes/{}/cancel", pass["id"].as_str().unwrap()),
                distributor,
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let redeemed = body["vouchers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["status"] == "redeemed")
            .count() as i64;
        counts.get_mut(key).unwrap().cancelled += (before - redeemed) * 1000;
    }
    for (key, p) in [("p1", &p1), ("p2", &p2), ("p3", &p3)] {
        check(&app, p, &counts[key], &p.funder).await;
    }

    // Batch 1, after the undo window.
    app.advance(SignedDuration::from_hours(49));
    let (status, b1) = app
        .post("/api/v1/settlements", &op, json!({"until": "2026-12-31"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{b1}");
    let settle = |batch: &Value, counts: &mut BTreeMap<&str, Count>| {
        for line in batch["lines"].as_array().unwrap() {
            let key = [("p1", &p1), ("p2", &p2), ("p3", &p3)]
                .into_iter()
                .find(|(_, p)| p.id == line["program_id"].as_str().unwrap())
                .unwrap()
                .0;
            let c = counts.get_mut(key).unwrap();
            c.settled += line["settled_cents"].as_i64().unwrap();
            c.fee += line["fee_cents"].as_i64().unwrap();
        }
    };
    settle(&b1, &mut counts);
    let b1_id = b1["id"].as_str().unwrap().to_string();
    let b1_lines = b1["lines"].as_array().unwrap().len();
    assert!(b1_lines >= 10, "a line per site and programme: {b1}");
    for line in b1["lines"].as_array().unwrap() {
        if line["program_id"] == p2.id.as_str() {
            let settled = line["settled_cents"].as_i64().unwrap();
            assert_eq!(
                line["fee_cents"].as_i64().unwrap(),
                settled * p2.fee_rate_bp / 10_000
            );
        }
    }
    app.post(
        &format!("/api/v1/settlements/{b1_id}/approve"),
        &op,
        json!({}),
    )
    .await;
    let (status, _, xml) = app.sepa(&b1_id, &op).await;
    assert_eq!(status, StatusCode::OK);
    xmllint(&xml);
    assert_eq!(
        xml.matches("<PmtInf>").count(),
        2,
        "one payment block per funder"
    );
    assert_eq!(xml.matches("<CdtTrfTxInf>").count(), b1_lines);
    // The bank rejects one transfer of P1.
    let rejected = b1["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["program_id"] == p1.id.as_str())
        .unwrap()
        .clone();
    let (status, _) = app
        .post(
            &format!(
                "/api/v1/settlements/{b1_id}/lines/{}/reject",
                rejected["id"].as_str().unwrap()
            ),
            &op,
            json!({"reason": "IBAN clôturé"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, paid) = app
        .post(&format!("/api/v1/settlements/{b1_id}/paid"), &op, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    for line in paid["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["status"] == "paid")
    {
        let key = if line["program_id"] == p1.id.as_str() {
            "p1"
        } else if line["program_id"] == p2.id.as_str() {
            "p2"
        } else {
            "p3"
        };
        counts.get_mut(key).unwrap().paid += line["amount_cents"].as_i64().unwrap();
    }
    // Settled redemptions cannot be undone any more.
    let (status, body) = app
        .delete(&format!("/api/v1/redemptions/{}", live[1].0), &live[1].1)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "already_settled")
    );
    for (key, p) in [("p1", &p1), ("p2", &p2), ("p3", &p3)] {
        check(&app, p, &counts[key], &p.funder).await;
    }

    // A month later the short programme's unused cheques have expired.
    app.advance(SignedDuration::from_hours(24 * 31));
    let report = passnum::cli::jobs::expire(&app.state).await.unwrap();
    let p3_outstanding = counts["p3"].issued
        - (counts["p3"].redeemed - counts["p3"].undone)
        - counts["p3"].cancelled;
    assert_eq!(report.cents.get(), p3_outstanding);
    counts.get_mut("p3").unwrap().expired += p3_outstanding;

    // More redemptions, then batch 2 pays them and, again, what the bank rejected.
    let (key, pass, _) = carnets
        .iter()
        .find(|(k, p, _)| {
            *k == "p1" && p["vouchers"].as_array().unwrap().len() == 10 && p["status"] == "active"
        })
        .unwrap();
    let mut more = 0;
    for v in pass["vouchers"].as_array().unwrap().iter().rev().take(2) {
        let (status, _) = app.redeem(&sites[3].1, v["code"].as_str().unwrap()).await;
        if status == StatusCode::CREATED {
            more += 1000;
        }
    }
    counts.get_mut(key).unwrap().redeemed += more;
    // The site whose account was closed gives new bank details: only then is the held
    // amount sent again.
    let (rejected_site, token) = sites
        .iter()
        .find(|(id, _)| rejected["site_id"] == id.as_str())
        .expect("the rejected line's site");
    app.bank_account(rejected_site, token, "DE89370400440532013000")
        .await;
    app.advance(SignedDuration::from_hours(49));
    let (status, b2) = app
        .post("/api/v1/settlements", &op, json!({"until": "2027-12-31"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{b2}");
    settle(&b2, &mut counts);
    let carried: i64 = b2["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["carried_cents"].as_i64().unwrap())
        .sum();
    assert_eq!(carried, rejected["amount_cents"].as_i64().unwrap());
    let b2_id = b2["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/api/v1/settlements/{b2_id}/approve"),
        &op,
        json!({}),
    )
    .await;
    let (_, _, xml) = app.sepa(&b2_id, &op).await;
    xmllint(&xml);
    let (_, paid) = app
        .post(&format!("/api/v1/settlements/{b2_id}/paid"), &op, json!({}))
        .await;
    for line in paid["lines"].as_array().unwrap() {
        let key = if line["program_id"] == p1.id.as_str() {
            "p1"
        } else if line["program_id"] == p2.id.as_str() {
            "p2"
        } else {
            "p3"
        };
        counts.get_mut(key).unwrap().paid += line["amount_cents"].as_i64().unwrap();
    }
    for (key, p) in [("p1", &p1), ("p2", &p2), ("p3", &p3)] {
        let c = &counts[key];
        check(&app, p, c, &p.funder).await;
        // Everything redeemed has reached the sites' bank accounts, less the operator's fee.
        assert_eq!(c.paid + c.fee, c.redeemed - c.undone, "{key}: {c:?}");
    }

    // A site's statement, parsed back: its cheques are listed.
    let site = &sites[0];
    let resp = app
        .client
        .get(format!(
            "{}/api/v1/settlements/{b1_id}/statements/{}.pdf",
            app.base, site.0
        ))
        .bearer_auth(&site.1)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = common::pdf::pdf_texts(&resp.bytes().await.unwrap()).join("\n");
    let (_, csv) = {
        let (s, _, body) = app
            .get_text(
                &format!("/api/v1/settlements/{b1_id}/statements/{}.csv", site.0),
                &site.1,
            )
            .await;
        (s, body)
    };
    let codes: Vec<&str> = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split(';').next())
        .filter(|c| c.len() == 14)
        .collect();
    assert!(!codes.is_empty());
    for code in codes {
        assert!(text.contains(code), "{code} in the PDF statement");
    }
    app.assert_ledger_verifies().await;
}
