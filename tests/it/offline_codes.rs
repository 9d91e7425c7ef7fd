//! Cheques verifiable offline (issue 26, point 2): carnets print a PN2 payload (programme,
//! value, last day, short code, Ed25519), the server accepts it and the old PN1 alike, and the
//! public keys and the signed list of cancelled cheques are published. On both databases.

use crate::common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{error_code, Backend, TestApp, World, TEST_KEYS};
use ed25519_dalek::{Signature, VerifyingKey};
use passnum::vouchers::codes::{self, programme_ref, Claims, Keyring, OfflinePayload, SigningKey};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_databases!(
    new_carnets_carry_pn2_and_both_versions_redeem,
    forged_altered_and_disagreeing_pn2_are_refused_clearly,
    keys_and_signed_revocations_are_published,
    rotation_keeps_old_offline_payloads_valid,
);

fn payloads(pass: &Value) -> Vec<String> {
    pass["vouchers"]
        .as_array()
        .expect("vouchers")
        .iter()
        .map(|v| v["qr_payload"].as_str().expect("payload").to_string())
        .collect()
}

fn code(pass: &Value, i: usize) -> String {
    pass["vouchers"][i]["code"]
        .as_str()
        .expect("code")
        .replace('-', "")
}

/// The keys document, fetched without a token.
async fn keys_document(app: &TestApp) -> Value {
    let (status, body) = app.get("/api/v1/public/keys", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The published public key `id`, as a device imports it.
fn published_key(doc: &Value, id: &str) -> VerifyingKey {
    let key = doc["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["key_id"] == id)
        .unwrap_or_else(|| panic!("key {id} published: {doc}"));
    assert_eq!(key["algorithm"], "Ed25519");
    let bytes: [u8; 32] = URL_SAFE_NO_PAD
        .decode(key["public_key"].as_str().expect("public key"))
        .expect("base64url")
        .try_into()
        .expect("32 bytes");
    VerifyingKey::from_bytes(&bytes).expect("a point")
}

/// What a device does with a scanned PN2: parse it, verify it with the published key.
fn device_verifies(doc: &Value, payload: &str) -> OfflinePayload {
    let parsed = OfflinePayload::parse(payload).expect("a PN2 payload");
    let key = published_key(doc, &parsed.key_id);
    key.verify_strict(
        parsed.signed_part().as_bytes(),
        &Signature::from_bytes(&parsed.signature),
    )
    .expect("the published key verifies the payload");
    parsed
}

async fn new_carnets_carry_pn2_and_both_versions_redeem(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 20).await;
    let pass = app.issue(&w, 5).await;
    let printed = payloads(&pass);
    let doc = keys_document(&app).await;
    for (i, payload) in printed.iter().enumerate() {
        assert!(payload.starts_with("PN2.K2."), "{payload}");
        let parsed = device_verifies(&doc, payload);
        assert_eq!(
            parsed.code,
            code(&pass, i),
            "the printed short code is unchanged"
        );
        assert_eq!(parsed.claims.value_cents, 1000);
        assert_eq!(parsed.claims.last_day.to_string(), "2027-03-02");
        assert_eq!(parsed.claims.programme, programme_ref(&w.program_id));
    }

    // The printed carnet's QR codes are those payloads.
    let mut conn = app.state.db.read().await.expect("read");
    let distributor = passnum::orgs::get(&mut conn, &w.distributor_id)
        .await
        .expect("distributor");
    let pass_id = pass["id"].as_str().expect("id");
    let printable =
        passnum::vouchers::printable(&mut conn, &app.state.keyring, &distributor, pass_id, {
            passnum::clock::Clock::today(&*app.clock)
        })
        .await
        .expect("printable");
    drop(conn);
    let pdf = passnum::vouchers::print::carnet_pdf(&printable, &app.state.letterhead());
    assert_eq!(common::pdf::pdf_qr_payloads(&pdf), printed);

    // Redeemed by its PN2, and by a PN1 made with the HMAC key (a carnet printed before).
    let (status, body) = app.redeem(&w.site, &printed[0]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let pn1 = app
        .state
        .keyring
        .payload("K2", &code(&pass, 1))
        .expect("PN1");
    assert!(pn1.starts_with("PN1.K2."));
    let (status, body) = app.redeem(&w.site, &pn1).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Both versions of one cheque are one cheque.
    let (status, body) = app.redeem(&w.site, &printed[1]).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "already_redeemed"),
        "{body}"
    );
    // Several cheques of a session, PN2 and PN1 together.
    let pn1 = app
        .state
        .keyring
        .payload("K1", &code(&pass, 3))
        .expect("PN1");
    let (status, body) = app
        .post(
            "/api/v1/redemptions",
            &w.site,
            json!({"codes": [printed[2], pn1], "service": "individual_help", "minutes": 90}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(app.reconciliation(&w).await["redeemed_cents"], 4000);
    app.assert_ledger_verifies().await;
}

/// A PN2 signed with the platform's own key but stating `claims`: what only a leaked key or
/// a bug could print.
fn signed_with(app: &TestApp, code: &str, claims: &Claims) -> String {
    app.state
        .keyring
        .offline_payload("K2", code, claims)
        .expect("payload")
}

async fn forged_altered_and_disagreeing_pn2_are_refused_clearly(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 20).await;
    let pass = app.issue(&w, 5).await;
    let printed = payloads(&pass);
    let payload = &printed[0];

    let refused = |status: StatusCode, body: &Value, words: &str| {
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains(words), "{message}");
    };
    // Its value raised by hand: the signature no longer matches.
    let richer = payload.replacen(".1000.", ".9000.", 1);
    assert_ne!(&richer, payload);
    let (status, body) = app.redeem(&w.site, &richer).await;
    refused(status, &body, "faux ou a été modifié");
    assert_eq!(error_code(&body), "invalid_code");
    // Its last day moved.
    let later = payload.replacen(".20270302.", ".20280302.", 1);
    assert_ne!(&later, payload);
    let (status, body) = app.redeem(&w.site, &later).await;
    refused(status, &body, "faux ou a été modifié");
    // Signed by another platform's key under the same id.
    let foreign =
        Keyring::new(vec![SigningKey::new("K2", vec![42; 32]).expect("key")]).expect("keyring");
    let parsed = OfflinePayload::parse(payload).expect("PN2");
    let forged = foreign
        .offline_payload("K2", &parsed.code, &parsed.claims)
        .expect("forged");
    let (status, body) = app.redeem(&w.site, &forged).await;
    refused(status, &body, "faux ou a été modifié");
    // A key id this platform never had.
    let unknown = payload.replacen("PN2.K2.", "PN2.K7.", 1);
    let (status, body) = app.redeem(&w.site, &unknown).await;
    refused(status, &body, "n'a pas été émis");
    // Shapes that are not a PN2: a clear refusal, never a 500.
    for junk in [
        "PN2.",
        "PN2.K2.X",
        "PN2.K2.ABCDEFGH.1000.20270302.ABCDEFGHJK12.X",
        "PN2.K2.ABCDEFGH.01000.20270302.ABCDEFGHJK12.AAAA",
        "PN2.K2.ABCDEFGH.1000.20270230.ABCDEFGHJK12.AAAA",
        "PN2.K2.ABCDEFGH.99999999999999999999.20270302.ABCDEFGHJK12.AAAA",
    ] {
        let (status, body) = app.redeem(&w.site, junk).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_code"),
            "{junk}: {body}"
        );
    }

    // Validly signed, but stating what the cheque is not: refused, and the cheque stays valid.
    let cheque = code(&pass, 0);
    let truth = parsed.claims.clone();
    for lie in [
        Claims {
            value_cents: 2000,
            ..truth.clone()
        },
        Claims {
            last_day: "2028-03-02".parse().expect("date"),
            ..truth.clone()
        },
        Claims {
            programme: programme_ref("another programme"),
            ..truth.clone()
        },
    ] {
        let (status, body) = app.redeem(&w.site, &signed_with(&app, &cheque, &lie)).await;
        refused(status, &body, "ne correspond pas");
        assert_eq!(error_code(&body), "payload_mismatch");
    }
    // Among several cheques, the one that disagrees is named, and none is redeemed.
    let lie = Claims {
        value_cents: 500,
        ..truth.clone()
    };
    let (status, body) = app
        .post(
            "/api/v1/redemptions",
            &w.site,
            json!({"codes": [printed[1], signed_with(&app, &cheque, &lie)],
                   "service": "individual_help", "minutes": 60}),
        )
        .await;
    refused(status, &body, &codes::display_code(&cheque));
    assert_eq!(app.count("SELECT COUNT(*) FROM redemptions").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM vouchers WHERE status = 'valid'")
            .await,
        5
    );
    // The truth redeems.
    let (status, body) = app.redeem(&w.site, payload).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.assert_ledger_verifies().await;
}

/// The list as a device reads it: checked with the published key first.
async fn verified_revocations(app: &TestApp, query: &str) -> Value {
    let (status, body) = app
        .get(&format!("/api/v1/public/revocations{query}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let doc = keys_document(app).await;
    let key_id = body["key_id"].as_str().expect("key id");
    let current = doc["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["current"] == true)
        .expect("a current key");
    assert_eq!(current["key_id"], key_id);
    let signature: [u8; 64] = URL_SAFE_NO_PAD
        .decode(body["signature"].as_str().expect("signature"))
        .expect("base64url")
        .try_into()
        .expect("64 bytes");
    let text = body["signed_text"].as_str().expect("signed text");
    published_key(&doc, key_id)
        .verify_strict(text.as_bytes(), &Signature::from_bytes(&signature))
        .expect("the list's signature verifies");
    // Changing the signed text breaks it.
    assert!(published_key(&doc, key_id)
        .verify_strict(
            format!("{text}\ncarnet x Y").as_bytes(),
            &Signature::from_bytes(&signature)
        )
        .is_err());
    body
}

async fn keys_and_signed_revocations_are_published(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 20).await;
    let doc = keys_document(&app).await;
    let ids: Vec<&str> = doc["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["key_id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["K1", "K2"]);
    for key in doc["keys"].as_array().expect("keys") {
        assert_eq!(key["current"], key["key_id"] == "K2", "{key}");
        assert_eq!(key["retired_at"], Value::Null);
        assert!(key["valid_from"].as_str().is_some());
        // Only the public half: 32 bytes, and nothing like a secret.
        assert_eq!(key.as_object().expect("object").len(), 6, "{key}");
    }
    let ring = &app.state.keyring;
    for k in ring.keys() {
        assert_eq!(published_key(&doc, &k.id).to_bytes(), k.public_key());
    }
    let programme = doc["programmes"]
        .as_array()
        .expect("programmes")
        .iter()
        .find(|p| p["reference"] == programme_ref(&w.program_id).as_str())
        .expect("the programme is published");
    assert_eq!(programme["name"], "Pass numérique 2026");
    assert_eq!(programme["cheque_value_cents"], 1000);
    assert_eq!(programme["status"], "open");

    let kept = app.issue(&w, 5).await;
    let lost = app.issue(&w, 5).await;
    let (status, body) = app.redeem(&w.site, &payloads(&lost)[0]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.advance(jiff::SignedDuration::from_hours(26));
    let cancel = format!("/api/v1/passes/{}/cancel", lost["id"].as_str().expect("id"));
    let (status, body) = app.post(&cancel, &w.distributor, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let list = verified_revocations(&app, "?depuis=2026-03-03").await;
    assert_eq!(list["since"], "2026-03-03");
    let entries = list["list"].as_array().expect("list");
    assert_eq!(entries.len(), 1, "{list}");
    assert_eq!(entries[0]["kind"], "carnet");
    let mut revoked: Vec<String> = (1..5).map(|i| code(&lost, i)).collect();
    revoked.sort();
    assert_eq!(
        entries[0]["cheques"],
        json!(revoked),
        "the used one is not listed"
    );
    let text = list["signed_text"].as_str().expect("text");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "passnum revocations v1");
    assert_eq!(
        lines[1],
        format!("issued_at {}", list["issued_at"].as_str().unwrap())
    );
    assert_eq!(lines[2], "since 2026-03-03");
    assert_eq!(
        lines[3],
        format!(
            "carnet {} {}",
            entries[0]["cancelled_at"].as_str().unwrap(),
            revoked.join(" ")
        )
    );
    for i in 0..5 {
        assert!(!text.contains(&code(&kept, i)));
    }
    // `since` is a synonym; all without a date; nothing after the cancellation.
    let all = verified_revocations(&app, "").await;
    assert_eq!(all["list"], list["list"]);
    assert_eq!(all["since"], Value::Null);
    let later = verified_revocations(&app, "?since=2026-03-04").await;
    assert_eq!(later["list"], json!([]));
    // A date that is not one: a French 400, never a 500.
    for bad in ["?since=hier", "?depuis=2026-02-30", "?since=2026-3-1"] {
        let (status, body) = app
            .get(&format!("/api/v1/public/revocations{bad}"), None)
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_date"),
            "{bad}: {body}"
        );
    }
    // Past their last day, cancelled cheques leave the list: devices refuse them by date.
    app.advance(jiff::SignedDuration::from_hours(24 * 400));
    let expired = verified_revocations(&app, "").await;
    assert_eq!(expired["list"], json!([]));
}

const K3: &str = "K3:AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=";

async fn rotation_keeps_old_offline_payloads_valid(backend: Backend) {
    let Some(before) = TestApp::spawn(backend).await else {
        return;
    };
    let w: World = before.world(100_000, 20).await;
    let old = before.issue(&w, 5).await;
    assert!(payloads(&old)[0].starts_with("PN2.K2."));
    let old_doc = keys_document(&before).await;

    // `passnum keys rotate`: K3 is added and signs new cheques once the server restarts.
    let after = TestApp::spawn_on(&before.database_url, |c| {
        c.signing_keys = Some(format!("{TEST_KEYS},{K3}"));
    })
    .await;
    let new = after.issue(&w, 5).await;
    assert!(payloads(&new)[0].starts_with("PN2.K3."));
    let doc = keys_document(&after).await;
    let current: Vec<&Value> = doc["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["current"] == true)
        .collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["key_id"], "K3");
    // K2's published key has not changed: devices holding it keep verifying old cheques.
    assert_eq!(
        published_key(&doc, "K2").to_bytes(),
        published_key(&old_doc, "K2").to_bytes()
    );
    device_verifies(&doc, &payloads(&old)[1]);
    device_verifies(&doc, &payloads(&new)[1]);
    for payload in [&payloads(&old)[0], &payloads(&new)[0]] {
        let (status, body) = after.redeem(&w.site, payload).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // The old PN1 of an old cheque keeps verifying too.
    let pn1 = after
        .state
        .keyring
        .payload("K2", &code(&old, 2))
        .expect("PN1");
    let (status, body) = after.redeem(&w.site, &pn1).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // The revocation list is now signed with K3.
    let list = verified_revocations(&after, "").await;
    assert_eq!(list["key_id"], "K3");

    // `passnum keys retire K1`: K1 is published as retired, and its payloads are refused.
    let k1 = Keyring::new(vec![SigningKey::new("K1", vec![1; 32]).expect("key")]).expect("keyring");
    let k1_payload = k1
        .offline_payload(
            "K1",
            &code(&old, 3),
            &OfflinePayload::parse(&payloads(&old)[3])
                .expect("PN2")
                .claims,
        )
        .expect("payload");
    let (status, body) = after.redeem(&w.site, &k1_payload).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "K1 still verifies before retiring: {body}"
    );
    let retired = TestApp::spawn_on(&before.database_url, |c| {
        let (_, rest) = TEST_KEYS.split_once(',').expect("two keys");
        c.signing_keys = Some(format!("{rest},{K3}"));
    })
    .await;
    let doc = keys_document(&retired).await;
    let k1 = doc["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["key_id"] == "K1")
        .expect("K1 still listed");
    assert!(k1["retired_at"].as_str().is_some(), "{k1}");
    assert_eq!(k1["current"], false);
    let k1_payload = Keyring::new(vec![SigningKey::new("K1", vec![1; 32]).expect("key")])
        .expect("keyring")
        .offline_payload(
            "K1",
            &code(&old, 4),
            &OfflinePayload::parse(&payloads(&old)[4])
                .expect("PN2")
                .claims,
        )
        .expect("payload");
    let (status, body) = retired.redeem(&w.site, &k1_payload).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_code"),
        "{body}"
    );
    retired.assert_ledger_verifies().await;
}
