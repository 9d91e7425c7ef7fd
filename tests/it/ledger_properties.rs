//! Property: any sequence of operations leaves the ledger balanced, in agreement with the
//! cheques, and the reconciliation identity true; and it agrees with an independent count.

use crate::common;

use common::{Backend, TestApp};
use jiff::SignedDuration;
use proptest::prelude::*;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
enum Op {
    Fund(i64),
    Allocate(i64),
    Issue {
        ten: bool,
        active: bool,
    },
    Activate(usize),
    Redeem {
        pass: usize,
        cheque: usize,
        site: usize,
    },
    Undo(usize),
    Cancel(usize),
    Wait(i64),
    Settle,
    PayLatest,
    RejectLatest,
    Expire,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1i64..20_000).prop_map(Op::Fund),
        (1i64..30).prop_map(Op::Allocate),
        (any::<bool>(), prop::bool::weighted(0.8))
            .prop_map(|(ten, active)| Op::Issue { ten, active }),
        (0usize..8).prop_map(Op::Activate),
        (0usize..8, 0usize..10, 0usize..2).prop_map(|(pass, cheque, site)| Op::Redeem {
            pass,
            cheque,
            site
        }),
        (0usize..8).prop_map(Op::Undo),
        (0usize..8).prop_map(Op::Cancel),
        (1i64..72).prop_map(Op::Wait),
        Just(Op::Settle),
        Just(Op::PayLatest),
        Just(Op::RejectLatest),
        Just(Op::Expire),
    ]
}

/// What an independent observer counts from the API's successful answers.
#[derive(Default, Debug)]
struct Count {
    funded: i64,
    allocated: i64,
    issued: i64,
    redeemed: i64,
    undone: i64,
}

async fn run(ops: Vec<Op>) {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let w = app.world(0, 0).await;
    let (second_id, second_site) = app.qualified_site("Second lieu").await;
    app.bank(&w.site_id, &w.site).await;
    app.bank(&second_id, &second_site).await;
    let sites = [w.site.clone(), second_site];
    let op_token = app.operator_token.clone();
    let mut batches: Vec<Value> = Vec::new();
    let mut passes: Vec<Value> = Vec::new();
    let mut redemptions: Vec<(String, String, i64)> = Vec::new();
    let mut count = Count::default();
    for (n, op) in ops.into_iter().enumerate() {
        match op {
            Op::Fund(amount) => {
                let (s, _) = app
                    .post(
                        &format!("/api/v1/programs/{}/fundings", w.program_id),
                        &w.funder,
                        json!({"amount_cents": amount, "reference": format!("OP-{n}")}),
                    )
                    .await;
                if s == 201 {
                    count.funded += amount;
                }
            }
            Op::Allocate(cheques) => {
                let (s, _) = app
                    .post(
                        &format!("/api/v1/programs/{}/allocations", w.program_id),
                        &w.funder,
                        json!({"distributor_id": w.distributor_id, "cheques": cheques}),
                    )
                    .await;
                if s == 201 {
                    count.allocated += cheques * 1000;
                }
            }
            Op::Issue { ten, active } => {
                let cheques = if ten { 10 } else { 5 };
                let (s, body) = app
                    .post(
                        "/api/v1/passes",
                        &w.distributor,
                        json!({"program_id": w.program_id, "cheques": cheques, "active": active}),
                    )
                    .await;
                if s == 201 {
                    count.issued += cheques * 1000;
                    passes.push(body);
                }
            }
            Op::Activate(i) => {
                if let Some(p) = passes.get(i % passes.len().max(1)) {
                    app.post(
                        &format!("/api/v1/passes/{}/activate", p["id"].as_str().unwrap()),
                        &w.distributor,
                        json!({}),
                    )
                    .await;
                }
            }
            Op::Redeem { pass, cheque, site } => {
                if let Some(p) = passes.get(pass % passes.len().max(1)) {
                    let vouchers = p["vouchers"].as_array().unwrap();
                    let code = vouchers[cheque % vouchers.len()]["code"].as_str().unwrap();
                    let (s, body) = app.redeem(&sites[site], code).await;
                    if s == 201 {
                        count.redeemed += 1000;
                        redemptions.push((
                            body["id"].as_str().unwrap().to_string(),
                            sites[site].clone(),
                            1000,
                        ));
                    } else {
                        assert!([409, 410].contains(&s.as_u16()), "{s} {body}");
                    }
                }
            }
            Op::Undo(i) => {
                if let Some((id, site, value)) = redemptions.get(i % redemptions.len().max(1)) {
                    let (s, _) = app.delete(&format!("/api/v1/redemptions/{id}"), site).await;
                    if s == 200 {
                        count.undone += value;
                    }
                }
            }
            Op::Cancel(i) => {
                if let Some(p) = passes.get(i % passes.len().max(1)) {
                    app.post(
                        &format!("/api/v1/passes/{}/cancel", p["id"].as_str().unwrap()),
                        &w.distributor,
                        json!({}),
                    )
                    .await;
                }
            }
            Op::Wait(hours) => app.advance(SignedDuration::from_hours(hours)),
            Op::Settle => {
                let (s, body) = app
                    .post(
                        "/api/v1/settlements",
                        &op_token,
                        json!({"until": "2030-12-31"}),
                    )
                    .await;
                assert!(s == 201 || s == 409, "{s} {body}");
                if s == 201 {
                    batches.push(body);
                }
            }
            Op::PayLatest => {
                if let Some(b) = batches.last() {
                    let id = b["id"].as_str().unwrap();
                    app.post(
                        &format!("/api/v1/settlements/{id}/approve"),
                        &op_token,
                        json!({}),
                    )
                    .await;
                    app.sepa(id, &op_token).await;
                    app.post(
                        &format!("/api/v1/settlements/{id}/paid"),
                        &op_token,
                        json!({}),
                    )
                    .await;
                }
            }
            Op::RejectLatest => {
                if let Some(b) = batches.last() {
                    let id = b["id"].as_str().unwrap();
                    let line = b["lines"][0]["id"].as_str().unwrap();
                    app.post(
                        &format!("/api/v1/settlements/{id}/lines/{line}/reject"),
                        &op_token,
                        json!({}),
                    )
                    .await;
                }
            }
            Op::Expire => {
                passnum::cli::jobs::expire(&app.state).await.unwrap();
            }
        }
        let rec = app.reconciliation(&w).await;
        let n = |k: &str| rec[k].as_i64().unwrap();
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
            "identity after {op:?}: {rec}"
        );
        assert_eq!(n("budget_cents"), n("unfunded_cents") + n("funded_cents"));
        assert_eq!(n("funded_cents"), count.funded);
        assert_eq!(n("allocated_cents"), count.allocated);
        assert_eq!(n("issued_cents"), count.issued);
        assert_eq!(n("redeemed_cents"), count.redeemed - count.undone);
        assert!(n("paid_cents") + n("fee_cents") <= n("settled_cents"));
        assert!(n("settled_cents") <= n("redeemed_cents"));
        assert_eq!(n("undone_cents"), count.undone);
        assert_eq!(
            n("issued_cents"),
            n("outstanding_cents")
                + n("redeemed_cents")
                + n("cancelled_cents")
                + n("expired_cents"),
            "every issued cent is outstanding, redeemed, cancelled or expired"
        );
    }
    app.assert_ledger_verifies().await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn any_sequence_keeps_the_ledger_balanced(ops in prop::collection::vec(op(), 1..40)) {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(run(ops));
    }
}
