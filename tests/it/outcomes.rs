//! Outcomes recorded where they happen (issue 27, point 1): the level of help and anonymous
//! facts at issuance (API, page, file), the needs check's suggestion, the level at redemption
//! defaulting to the carnet's, and a workshop taking cheques of several carnets with its
//! attendance count, recorded once however often it is sent. On both databases; the issuance
//! page with its new fields in a browser at 1280 and 320 pixels with axe-core.

use crate::common;

use common::browser::{Browser, DEFAULT_SIZE, PHONE_WIDTH};
use common::web::{get, post, signed_in};
use common::{error_code, Backend, TestApp, World, PASSWORD};
use passnum::vouchers::codes::{programme_ref, Claims, OfflinePayload};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_databases!(
    issuance_keeps_the_level_and_facts_and_refuses_values_off_the_lists,
    the_needs_check_suggests_five_or_ten_cheques_with_its_reason,
    a_redemption_has_the_carnets_level_unless_the_site_gives_one,
    a_workshop_of_three_carnets_and_eight_people_is_recorded_once,
    the_site_records_a_workshop_on_its_page_once,
    a_workshop_compares_what_its_pn2_payloads_state,
);

async fn issue_with(app: &TestApp, w: &World, extra: Value) -> (StatusCode, Value) {
    let mut body = json!({"program_id": w.program_id, "cheques": 5});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.post("/api/v1/passes", &w.distributor, body).await
}

fn code(pass: &Value, i: usize) -> String {
    pass["vouchers"][i]["code"].as_str().unwrap().to_string()
}

async fn issuance_keeps_the_level_and_facts_and_refuses_values_off_the_lists(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(1_000_000, 200).await;
    let (status, pass) = issue_with(
        &app,
        &w,
        json!({"help_level": "emergency", "age_bracket": "65_plus", "situation": "retired",
               "priority_area": "no", "rural": "yes"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{pass}");
    assert_eq!(pass["help_level"], "emergency");
    let stored = app
        .count(&format!(
            "SELECT COUNT(*) FROM passes WHERE id = '{}' AND help_level = 'emergency' \
             AND age_bracket = '65_plus' AND situation = 'retired' AND priority_area = 'no' \
             AND rural = 'yes'",
            pass["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(stored, 1);

    // Nothing said: all stays unknown.
    let (status, plain) = issue_with(&app, &w, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{plain}");
    assert!(plain["help_level"].is_null());

    // Off the lists: a clear 422, nothing issued.
    let before = app.count("SELECT COUNT(*) FROM passes").await;
    for (field, value, code) in [
        ("help_level", "urgent", "invalid_help_level"),
        ("age_bracket", "42", "invalid_age_bracket"),
        ("situation", "Mme Durand, chômeuse", "invalid_situation"),
        ("priority_area", "peut-être", "invalid_priority_area"),
        ("rural", "oui", "invalid_rural"),
    ] {
        let (status, body) = issue_with(&app, &w, json!({ field: value })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        assert_eq!(error_code(&body), code, "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().len() > 20,
            "{body}"
        );
    }
    // In a batch, the carnet at fault is named.
    let (status, body) = app
        .post(
            "/api/v1/passes/batch",
            &w.distributor,
            json!({"program_id": w.program_id, "carnets": [
                {"cheques": 5, "help_level": "inclusion"},
                {"cheques": 5, "help_level": "beaucoup"}]}),
        )
        .await;
    if status != StatusCode::NOT_FOUND {
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Carnet n° 2"));
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM passes").await, before);

    // A file of carnets with the optional columns.
    let file = "taille;référence;e-mail;niveau;âge;situation;qpv;rural\n\
                5;F-1;;upskilling;26_44;employed;yes;no\n10;F-2\n";
    let (client, csrf) = signed_in(&app, &w.distributor_id, "agent@distributeur.example").await;
    let page = get(
        &client,
        &format!("{}/distributeur/carnets/fichier", app.base),
    )
    .await;
    let boundary = "----passnumoutcomesboundary";
    let mut body = String::new();
    for (name, value) in [
        ("csrf", csrf.as_str()),
        ("once", page.once().as_str()),
        ("program_id", w.program_id.as_str()),
    ] {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"carnets.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{file}\r\n--{boundary}--\r\n"
    ));
    let sent = client
        .post(format!("{}/distributeur/carnets/fichier", app.base))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("sent");
    let status = sent.status();
    let html = sent.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM passes WHERE beneficiary_ref = 'F-1' AND help_level = \
             'upskilling' AND age_bracket = '26_44' AND situation = 'employed' AND \
             priority_area = 'yes' AND rural = 'no'"
        )
        .await,
        1
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM passes WHERE beneficiary_ref = 'F-2' AND help_level IS NULL"
        )
        .await,
        1
    );

    // The distributor's form: the level and facts chosen in lists.
    let home = get(&client, &format!("{}/distributeur", app.base)).await;
    let issued = post(
        &client,
        &format!("{}/distributeur/carnets", app.base),
        &[
            ("csrf", &csrf),
            ("once", &home.once()),
            ("program_id", &w.program_id),
            ("cheques", "10"),
            ("beneficiary_ref", "P-1"),
            ("help_level", "inclusion"),
            ("age_bracket", "under_26"),
            ("situation", "student"),
            ("priority_area", "unknown"),
            ("rural", ""),
        ],
    )
    .await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.html);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM passes WHERE beneficiary_ref = 'P-1' AND cheques = 10 AND \
             help_level = 'inclusion' AND age_bracket = 'under_26' AND situation = 'student' \
             AND priority_area = 'unknown' AND rural IS NULL"
        )
        .await,
        1
    );
    let home = get(&client, &format!("{}/distributeur", app.base)).await;
    let refused = post(
        &client,
        &format!("{}/distributeur/carnets", app.base),
        &[
            ("csrf", &csrf),
            ("once", &home.once()),
            ("program_id", &w.program_id),
            ("cheques", "5"),
            ("help_level", "n-importe"),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.html.contains("help_level-erreur"),
        "{}",
        refused.html
    );
    app.assert_ledger_verifies().await;
}

async fn the_needs_check_suggests_five_or_ten_cheques_with_its_reason(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(1_000_000, 100).await;
    let (client, _) = signed_in(&app, &w.distributor_id, "agent@distributeur.example").await;
    let light = get(
        &client,
        &format!(
            "{}/distributeur?besoins=1&urgent_right=oui&no_device=non&never_alone=non&reading=non&several_needs=non",
            app.base
        ),
    )
    .await;
    assert_eq!(light.status, StatusCode::OK);
    assert!(light.html.contains("5 chèques suggérés"), "{}", light.html);
    assert!(light.html.contains("Urgence numérique"));
    assert!(light
        .html
        .contains("id=\"c5\" name=\"cheques\" value=\"5\" checked"));
    assert!(light.html.contains("value=\"emergency\" selected"));

    let heavy = get(
        &client,
        &format!(
            "{}/distributeur?besoins=1&no_device=oui&never_alone=oui&reading=oui&several_needs=non",
            app.base
        ),
    )
    .await;
    assert!(heavy.html.contains("10 chèques suggérés"), "{}", heavy.html);
    assert!(
        heavy
            .html
            .contains("le chemin vers l&#x27;autonomie est plus long")
            || heavy
                .html
                .contains("le chemin vers l'autonomie est plus long")
            || heavy
                .html
                .contains("le chemin vers l&#39;autonomie est plus long")
    );
    assert!(heavy.html.contains("value=\"10\" checked"));
    assert!(heavy.html.contains("value=\"inclusion\" selected"));
    // Without the check, no suggestion.
    let plain = get(&client, &format!("{}/distributeur", app.base)).await;
    assert!(!plain.html.contains("chèques suggérés"));
}

async fn a_redemption_has_the_carnets_level_unless_the_site_gives_one(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(1_000_000, 100).await;
    let (_, pass) = issue_with(&app, &w, json!({"help_level": "inclusion"})).await;
    let (status, first) = app.redeem(&w.site, &code(&pass, 0)).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["help_level"], "inclusion");
    let (status, second) = app
        .post(
            "/api/v1/redemptions",
            &w.site,
            json!({"code": code(&pass, 1), "service": "administrative_procedure",
                   "minutes": 30, "themes": ["admin_money"], "help_level": "emergency"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["help_level"], "emergency");
    let (status, refused) = app
        .post(
            "/api/v1/redemptions",
            &w.site,
            json!({"code": code(&pass, 2), "help_level": "expert"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(error_code(&refused), "invalid_help_level");
    // A carnet without a level: none.
    let (_, plain) = issue_with(&app, &w, json!({})).await;
    let (_, third) = app.redeem(&w.site, &code(&plain, 0)).await;
    assert!(third["help_level"].is_null(), "{third}");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM redemptions WHERE help_level = 'inclusion' OR \
             help_level = 'emergency'"
        )
        .await,
        2
    );
    app.assert_ledger_verifies().await;
}

async fn a_workshop_of_three_carnets_and_eight_people_is_recorded_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(1_000_000, 200).await;
    let mut carnets = Vec::new();
    for level in ["inclusion", "upskilling", "inclusion"] {
        carnets.push(issue_with(&app, &w, json!({"help_level": level})).await.1);
    }
    let codes: Vec<String> = carnets.iter().map(|p| code(p, 0)).collect();
    let body = json!({"codes": codes, "attendees": 8, "minutes": 120,
                      "themes": ["digital_security"]});

    // Fewer people than carnets: refused, nothing redeemed.
    let mut too_few = body.clone();
    too_few["attendees"] = json!(2);
    let (status, refused) = app.post("/api/v1/workshops", &w.site, too_few).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(error_code(&refused), "attendees_below_carnets");
    assert_eq!(app.count("SELECT COUNT(*) FROM redemptions").await, 0);

    let send = || {
        app.request(
            Method::POST,
            "/api/v1/workshops",
            Some(&w.site),
            Some(body.clone()),
            Some("atelier-du-mardi"),
        )
    };
    let (status, workshop) = send().await;
    assert_eq!(status, StatusCode::CREATED, "{workshop}");
    assert_eq!(workshop["attendees"], 8);
    assert_eq!(workshop["carnets"], 3);
    assert_eq!(workshop["cheques"].as_array().unwrap().len(), 3);
    // Sent twice: the first answer again, nothing more written.
    let (status, again) = send().await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["id"], workshop["id"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM workshops").await, 1);
    let id = workshop["id"].as_str().unwrap();
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM redemptions WHERE group_id = '{id}' AND service = 'workshop' \
             AND minutes = 120 AND undone_at IS NULL"
        ))
        .await,
        3
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM workshops WHERE id = '{id}' AND attendees = 8 AND carnets = 3 \
             AND cheques = 3"
        ))
        .await,
        1
    );
    // Each carnet's level, as none was given for the workshop.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM redemptions WHERE group_id = '{id}' AND help_level = 'inclusion'"
        ))
        .await,
        2
    );
    // Each cheque its own balanced ledger transaction.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'redemption'")
            .await,
        3
    );
    // Without the key, the same cheques again are refused: already used.
    let (status, twice) = app.post("/api/v1/workshops", &w.site, body.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{twice}");
    assert_eq!(error_code(&twice), "already_redeemed");
    assert_eq!(app.count("SELECT COUNT(*) FROM workshops").await, 1);
    let (status, read) = app
        .get(&format!("/api/v1/workshops/{id}"), Some(&w.site))
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["attendees"], 8);
    // Another site does not see it.
    let (_, other) = app.qualified_site("Espace numérique de Pessac").await;
    let (status, _) = app
        .get(&format!("/api/v1/workshops/{id}"), Some(&other))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.assert_ledger_verifies().await;
}

/// A workshop given PN2 payloads checks what each states (value, last day, programme) against
/// the cheque, as a single session does: one that disagrees refuses the whole workshop.
async fn a_workshop_compares_what_its_pn2_payloads_state(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(1_000_000, 200).await;
    let mut payloads = Vec::new();
    let mut codes = Vec::new();
    for _ in 0..2 {
        let pass = issue_with(&app, &w, json!({})).await.1;
        payloads.push(
            pass["vouchers"][0]["qr_payload"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        codes.push(code(&pass, 0).replace('-', ""));
    }
    let truth = OfflinePayload::parse(&payloads[1]).expect("PN2").claims;
    let signed = |claims: &Claims| {
        app.state
            .keyring
            .offline_payload("K2", &codes[1], claims)
            .expect("payload")
    };
    for lie in [
        Claims {
            value_cents: truth.value_cents * 2,
            ..truth.clone()
        },
        Claims {
            last_day: "2030-01-01".parse().expect("date"),
            ..truth.clone()
        },
        Claims {
            programme: programme_ref("another programme"),
            ..truth.clone()
        },
    ] {
        let (status, body) = app
            .post(
                "/api/v1/workshops",
                &w.site,
                json!({"codes": [payloads[0], signed(&lie)], "attendees": 2}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_code(&body), "payload_mismatch");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&passnum::vouchers::codes::display_code(&codes[1])),
            "{message}"
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM redemptions").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM workshops").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM vouchers WHERE status = 'redeemed'")
            .await,
        0
    );
    // The truth, signed again, and the printed payload: recorded.
    let (status, body) = app
        .post(
            "/api/v1/workshops",
            &w.site,
            json!({"codes": [payloads[0], signed(&truth)], "attendees": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["carnets"], 2);
    app.assert_ledger_verifies().await;
}

async fn the_site_records_a_workshop_on_its_page_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(1_000_000, 200).await;
    let mut codes = Vec::new();
    for _ in 0..3 {
        codes.push(code(&issue_with(&app, &w, json!({})).await.1, 0));
    }
    let (client, csrf) = signed_in(&app, &w.site_id, "agent@lieu.example").await;
    let url = format!("{}/lieu/atelier", app.base);
    let page = get(&client, &url).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let once = page.once();
    let all = codes.join("\n");
    // Themes and where it took place, as on the form of a single session.
    assert!(
        page.html.contains("name=\"themes\" value=\"email\""),
        "{}",
        page.html
    );
    assert!(page.html.contains("name=\"location\" value=\"at_home\""));
    let form = [
        ("csrf", csrf.as_str()),
        ("once", once.as_str()),
        ("codes", all.as_str()),
        ("attendees", "8"),
        ("minutes", "120"),
        ("help_level", "upskilling"),
        ("themes", "email"),
        ("themes", "admin_money"),
        ("location", "remote"),
    ];
    let (first, second) = tokio::join!(post(&client, &url, &form), post(&client, &url, &form));
    assert_eq!(first.status, StatusCode::OK, "{}", first.html);
    assert_eq!(second.status, StatusCode::OK, "{}", second.html);
    assert_eq!(first.url, second.url, "both show the same workshop");
    assert!(
        first.html.contains("8 personnes présentes, 3 carnets"),
        "{}",
        first.html
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM workshops").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM redemptions WHERE help_level = 'upskilling'")
            .await,
        3
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM redemptions WHERE location = 'remote' \
             AND themes LIKE '%email%' AND themes LIKE '%admin_money%'"
        )
        .await,
        3
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM workshops WHERE location = 'remote' \
             AND themes LIKE '%email%' AND themes LIKE '%admin_money%'"
        )
        .await,
        1
    );
    // A mistake is said under its field, the themes and place kept as ticked.
    let page = get(&client, &url).await;
    let refused = post(
        &client,
        &url,
        &[
            ("csrf", csrf.as_str()),
            ("once", page.once().as_str()),
            ("codes", all.as_str()),
            ("attendees", "huit"),
            ("themes", "health"),
            ("location", "at_home"),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.html.contains("attendees-erreur"),
        "{}",
        refused.html
    );
    assert!(refused.html.contains("value=\"health\" checked"));
    assert!(refused.html.contains("value=\"at_home\" checked"));
    assert!(!refused.html.contains("value=\"email\" checked"));
    // A theme off the list is refused under the themes.
    let page = get(&client, &url).await;
    let refused = post(
        &client,
        &url,
        &[
            ("csrf", csrf.as_str()),
            ("once", page.once().as_str()),
            ("codes", all.as_str()),
            ("attendees", "8"),
            ("themes", "astrology"),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.html.contains("themes-erreur"), "{}", refused.html);
    app.assert_ledger_verifies().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_issuance_page_with_its_new_fields_passes_axe_at_1280_and_320() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let w = app.world(1_000_000, 100).await;
    const AGENT: &str = "agent@distributeur.example";
    app.person(&w.distributor_id, AGENT).await;
    b.visit(&format!("{}/connexion", app.base), "outcomes-connexion")
        .await;
    b.fill("#email", AGENT).await;
    b.fill("#password", PASSWORD).await;
    b.submit_form("form[action='/connexion'] button[type=submit]")
        .await;
    b.second_factor(&app, AGENT).await;
    for (width, size) in [(DEFAULT_SIZE.0, "1280"), (PHONE_WIDTH, "320")] {
        b.set_window_size(width, DEFAULT_SIZE.1).await;
        b.visit(
            &format!("{}/distributeur", app.base),
            &format!("outcomes-distributeur-{size}"),
        )
        .await;
        // The needs check, answered without JavaScript: its suggestion fills the form in.
        b.click("#no_device-oui").await;
        b.click("#reading-oui").await;
        b.submit_form("form[aria-labelledby=besoins] button").await;
        b.check_axe(&format!("outcomes-suggestion-{size}")).await;
        assert!(b.text("#suggestion").await.contains("10 chèques suggérés"));
        b.select("#situation", "retired").await;
        b.fill("#beneficiary_ref", &format!("AXE-{size}")).await;
        b.submit_form("form[action='/distributeur/carnets'] button[type=submit]")
            .await;
        b.check_axe(&format!("outcomes-carnet-{size}")).await;
        // A value off the list (as a tampered form sends): said at its field.
        b.visit(
            &format!("{}/distributeur", app.base),
            &format!("outcomes-distributeur-bis-{size}"),
        )
        .await;
        b.client()
            .execute(
                "document.getElementById('help_level').options[1].value = 'autre'; \
                 document.getElementById('help_level').selectedIndex = 1;",
                vec![],
            )
            .await
            .expect("script");
        b.submit_form("form[action='/distributeur/carnets'] button[type=submit]")
            .await;
        b.check_axe(&format!("outcomes-erreur-{size}")).await;
        assert!(b.exists("#help_level-erreur").await);
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM passes WHERE beneficiary_ref LIKE 'AXE-%' AND cheques = 10 AND help_level = 'inclusion' AND situation = 'retired'")
            .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_workshop_page_passes_axe_at_1280_and_320() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let w = app.world(1_000_000, 100).await;
    const AGENT: &str = "agent@lieu.example";
    app.person(&w.site_id, AGENT).await;
    b.visit(&format!("{}/connexion", app.base), "atelier-connexion")
        .await;
    b.fill("#email", AGENT).await;
    b.fill("#password", PASSWORD).await;
    b.submit_form("form[action='/connexion'] button[type=submit]")
        .await;
    b.second_factor(&app, AGENT).await;
    for (width, size) in [(DEFAULT_SIZE.0, "1280"), (PHONE_WIDTH, "320")] {
        b.set_window_size(width, DEFAULT_SIZE.1).await;
        let mut codes = Vec::new();
        for _ in 0..2 {
            codes.push(code(&issue_with(&app, &w, json!({})).await.1, 0));
        }
        b.visit(
            &format!("{}/lieu/atelier", app.base),
            &format!("atelier-{size}"),
        )
        .await;
        // One person fewer than carnets: said at the field, nothing redeemed.
        b.fill("#codes", &codes.join("\n")).await;
        b.fill("#attendees", "1").await;
        b.submit_form("form[action='/lieu/atelier'] button[type=submit]")
            .await;
        b.check_axe(&format!("atelier-erreur-{size}")).await;
        assert!(b.exists("#attendees-erreur").await);
        b.fill("#attendees", "5").await;
        b.submit_form("form[action='/lieu/atelier'] button[type=submit]")
            .await;
        b.check_axe(&format!("atelier-recu-{size}")).await;
        assert!(b
            .page_source()
            .await
            .contains("5 personnes présentes, 2 carnets"));
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM workshops").await, 2);
}
