//! The funder's view of what the money did (`/financeur/programmes/{id}/resultats`), on both
//! databases: a programme with known carnets and sessions over two months and two places,
//! every figure checked in the CSV of each table, the `.ods` read back, a period filter, and
//! who may see it. The same page runs in Chromium with axe-core at 320 and 1280 px at the end.

use crate::common;
use common::codes_of;

use common::browser::Browser;
use common::web::{get, post, signed_in};
use common::{cookie_client, Backend, TestApp, World};
use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_databases!(
    funder_view_counts_what_the_money_did,
    funder_view_breaks_satisfaction_down_and_hides_small_counts,
);

async fn session(app: &TestApp, site: &str, codes: &[String], details: Value) {
    let mut body = json!({ "codes": codes });
    if let (Some(b), Some(d)) = (body.as_object_mut(), details.as_object()) {
        b.extend(d.clone());
    }
    let (status, answer) = app.post("/api/v1/redemptions", site, body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

async fn issue(app: &TestApp, w: &World, cheques: i64, active: bool) -> Vec<String> {
    let (status, body) = app
        .post(
            "/api/v1/passes",
            &w.distributor,
            json!({"program_id": w.program_id, "cheques": cheques, "active": active}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    codes_of(&body)
}

/// A downloaded file: status, content type, bytes.
async fn download(client: &reqwest::Client, url: &str) -> (StatusCode, String, Vec<u8>) {
    let resp = client.get(url).send().await.expect("sent");
    let status = resp.status();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (
        status,
        content_type,
        resp.bytes().await.expect("body").to_vec(),
    )
}

/// The rows of one CSV table (`;`-separated, header first).
async fn csv(client: &reqwest::Client, url: &str) -> Vec<Vec<String>> {
    let (status, content_type, bytes) = download(client, url).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{url}: {}",
        String::from_utf8_lossy(&bytes)
    );
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    String::from_utf8(bytes)
        .expect("utf-8")
        .lines()
        .map(|l| l.split(';').map(str::to_string).collect())
        .collect()
}

fn row<'a>(rows: &'a [Vec<String>], first: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r[0] == first)
        .unwrap_or_else(|| panic!("no row {first:?} in {rows:?}"))
}

async fn funder_view_counts_what_the_money_did(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // 2 March 2026: a programme, a distributor in Bordeaux, the Médiathèque (Gironde).
    let w = app.world(200_000, 30).await;
    let (_, dax) = app
        .qualified_site_at("Espace numérique de Dax", "40100")
        .await;
    let a = issue(&app, &w, 10, true).await;
    let b = issue(&app, &w, 5, true).await;
    // Printed in stock, never handed out.
    let _c = issue(&app, &w, 5, false).await;
    session(
        &app,
        &w.site,
        &a[..2],
        json!({"service": "individual_help", "minutes": 60, "themes": ["email", "health"]}),
    )
    .await;
    session(
        &app,
        &w.site,
        &b[..1],
        json!({"service": "administrative_procedure", "minutes": 30, "themes": ["admin_money"]}),
    )
    .await;
    // 2 April: a workshop at Dax uses the rest of carnet A; B comes once more; D is issued.
    app.advance(SignedDuration::from_hours(24 * 31));
    session(
        &app,
        &dax,
        &a[2..],
        json!({"service": "workshop", "minutes": 120, "themes": ["email"]}),
    )
    .await;
    session(
        &app,
        &dax,
        &b[1..2],
        json!({"service": "individual_help", "minutes": 45}),
    )
    .await;
    let _d = issue(&app, &w, 5, true).await;

    let (client, _) = signed_in(&app, &w.funder_id, "claire@gironde.example").await;
    let base = format!(
        "{}/financeur/programmes/{}/resultats",
        app.base, w.program_id
    );
    let page = get(&client, &base).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("Depuis le début du programme"));
    assert_eq!(
        page.html.matches("<svg role=\"img\"").count(),
        8,
        "{}",
        page.html
    );
    assert!(page.html.contains("resultats/resultats.ods"));

    // Key figures: A, B, C, D issued; C is in stock; A and B started; A finished.
    let key = csv(&client, &format!("{base}/chiffres.csv")).await;
    assert_eq!(key[0], ["Indicateur", "Valeur"]);
    for (label, value) in [
        ("Carnets émis", "4"),
        ("Carnets remis à un bénéficiaire", "3"),
        ("Carnets commencés (un chèque utilisé)", "2"),
        ("Carnets terminés (tous les chèques utilisés)", "1"),
        ("Personnes aidées", "2"),
        ("Séances", "4"),
        // 60 + 30 + 120 + 45 minutes; a session of several cheques counts once.
        ("Heures d'accompagnement", "4,25"),
        ("Chèques utilisés", "12"),
    ] {
        assert_eq!(row(&key, label)[1], value, "{label}");
    }

    // The money, as the ledger has it.
    let r = app.reconciliation(&w).await;
    let euros = |v: &Value| {
        let c = v.as_i64().expect("cents");
        format!("{},{:02}", c / 100, c % 100)
    };
    let money = csv(&client, &format!("{base}/argent.csv")).await;
    let returned =
        json!(r["expired_cents"].as_i64().unwrap() + r["cancelled_cents"].as_i64().unwrap());
    for (label, value) in [
        ("Versé par le financeur", &r["funded_cents"]),
        ("Attribué aux distributeurs", &r["allocated_cents"]),
        ("Émis en chèques", &r["issued_cents"]),
        ("Utilisé dans les lieux", &r["redeemed_cents"]),
        ("Payé aux lieux", &r["paid_cents"]),
        (
            "Revenu au programme (chèques expirés ou annulés)",
            &returned,
        ),
        ("Rendu au financeur (avoir)", &r["credited_cents"]),
    ] {
        assert_eq!(row(&money, label)[1], euros(value), "{label}: {r}");
    }
    assert_eq!(row(&money, "Émis en chèques")[1], "250,00");
    assert_eq!(row(&money, "Utilisé dans les lieux")[1], "120,00");

    // Month by month: issued, handed out, started, finished, people, sessions, hours, cheques.
    let months = csv(&client, &format!("{base}/mois.csv")).await;
    assert_eq!(
        months[0],
        [
            "Mois",
            "Carnets émis",
            "Carnets remis",
            "Carnets commencés",
            "Carnets terminés",
            "Personnes aidées",
            "Séances",
            "Heures d'accompagnement",
            "Chèques utilisés",
            "Montant utilisé (€)",
            "Avis reçus",
            "Satisfaction (sur 10)"
        ]
    );
    // No answer to "Je donne mon avis": fewer than 11, shown as such.
    assert_eq!(
        &months[1..],
        [
            [
                "mars 2026",
                "3",
                "2",
                "2",
                "0",
                "2",
                "2",
                "1,50",
                "3",
                "30,00",
                "moins de 11",
                "moins de 11"
            ],
            [
                "avril 2026",
                "1",
                "1",
                "0",
                "1",
                "2",
                "2",
                "2,75",
                "9",
                "90,00",
                "moins de 11",
                "moins de 11"
            ],
        ]
    );
    let distributors = csv(&client, &format!("{base}/distributeurs.csv")).await;
    assert_eq!(
        &distributors[1..],
        [[
            "CCAS de Bordeaux",
            "4",
            "3",
            "2",
            "1",
            "2",
            "4",
            "4,25",
            "12",
            "120,00",
            "moins de 11",
            "moins de 11"
        ]]
    );
    // Places and départements: where the help was given; the most used first.
    let places = csv(&client, &format!("{base}/lieux.csv")).await;
    assert_eq!(
        places[0],
        [
            "Lieu",
            "Personnes aidées",
            "Séances",
            "Heures d'accompagnement",
            "Chèques utilisés",
            "Montant utilisé (€)",
            "Avis reçus",
            "Satisfaction (sur 10)"
        ]
    );
    let none = "moins de 11";
    assert_eq!(
        &places[1..],
        [
            [
                "Espace numérique de Dax",
                "2",
                "2",
                "2,75",
                "9",
                "90,00",
                none,
                none
            ],
            [
                "Médiathèque Mériadeck",
                "2",
                "2",
                "1,50",
                "3",
                "30,00",
                none,
                none
            ],
        ]
    );
    let departments = csv(&client, &format!("{base}/departements.csv")).await;
    assert_eq!(
        &departments[1..],
        [
            ["40 — Landes", "2", "2", "2,75", "9", "90,00", none, none],
            ["33 — Gironde", "2", "2", "1,50", "3", "30,00", none, none],
        ]
    );
    let kinds = csv(&client, &format!("{base}/types.csv")).await;
    assert_eq!(
        &kinds[1..],
        [
            ["Atelier collectif", "1", "1", "2,00", "8", "80,00"],
            ["Accompagnement individuel", "2", "2", "1,75", "3", "30,00"],
            ["Démarche administrative", "1", "1", "0,50", "1", "10,00"],
        ]
    );
    // A session on two themes counts in both; people are not counted by theme.
    let themes = csv(&client, &format!("{base}/themes.csv")).await;
    assert_eq!(
        themes[0],
        [
            "Thème",
            "Séances",
            "Heures d'accompagnement",
            "Chèques utilisés",
            "Montant utilisé (€)"
        ]
    );
    assert_eq!(
        &themes[1..],
        [
            ["Courriels", "2", "3,00", "10", "100,00"],
            ["Santé", "1", "1,00", "2", "20,00"],
            ["Démarche : argent, impôts", "1", "0,50", "1", "10,00"],
            ["Non renseigné", "1", "0,75", "1", "10,00"],
        ]
    );

    // The same figures in one OpenDocument spreadsheet, a sheet per table.
    let (status, content_type, bytes) = download(&client, &format!("{base}/resultats.ods")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        content_type,
        "application/vnd.oasis.opendocument.spreadsheet"
    );
    let book = spreadsheet_ods::read_ods_buf(&bytes).expect("an .ods");
    let names: Vec<String> = (0..book.num_sheets())
        .map(|i| book.sheet(i).name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "Chiffres",
            "Argent",
            "Argent par mois",
            "Par mois",
            "Par distributeur",
            "Par lieu",
            "Par département",
            "Types d'aide",
            "Niveaux d'aide",
            "Thèmes"
        ]
    );
    let places_sheet = book.sheet(5);
    // Title, three facts, a blank line, then the table as in the CSV.
    assert_eq!(places_sheet.value(5, 0).as_str_or(""), "Lieu");
    assert_eq!(
        places_sheet.value(6, 0).as_str_or(""),
        "Espace numérique de Dax"
    );
    assert_eq!(places_sheet.value(6, 4).as_f64_or(0.0), 9.0);
    assert_eq!(places_sheet.value(6, 5).as_f64_or(0.0), 90.0);
    assert_eq!(book.sheet(0).value(6, 1).as_f64_or(0.0), 4.0);

    // April only: D issued and handed out, A finished; two people helped in two sessions.
    let april = "?du=2026-04-01&au=2026-04-30";
    let page = get(&client, &format!("{base}{april}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.html
            .contains("Du 1er avril 2026 au 30 avril 2026 inclus"),
        "{}",
        page.html
    );
    // The download links keep the period (`&` escaped as HTML writes it).
    assert!(page.html.contains("chiffres.csv?du=2026-04-01&"));
    assert!(page.html.contains("au=2026-04-30\">Télécharger ce tableau"));
    let key = csv(&client, &format!("{base}/chiffres.csv{april}")).await;
    for (label, value) in [
        ("Carnets émis", "1"),
        ("Carnets remis à un bénéficiaire", "1"),
        ("Carnets commencés (un chèque utilisé)", "0"),
        ("Carnets terminés (tous les chèques utilisés)", "1"),
        ("Personnes aidées", "2"),
        ("Séances", "2"),
        ("Heures d'accompagnement", "2,75"),
        ("Chèques utilisés", "9"),
    ] {
        assert_eq!(row(&key, label)[1], value, "{label}");
    }
    let money = csv(&client, &format!("{base}/argent.csv{april}")).await;
    assert_eq!(row(&money, "Versé par le financeur")[1], "0,00");
    assert_eq!(row(&money, "Émis en chèques")[1], "50,00");
    assert_eq!(row(&money, "Utilisé dans les lieux")[1], "90,00");
    // March only: nothing finished yet.
    let key = csv(&client, &format!("{base}/chiffres.csv?au=2026-03-31")).await;
    assert_eq!(
        row(&key, "Carnets terminés (tous les chèques utilisés)")[1],
        "0"
    );
    assert_eq!(row(&key, "Carnets commencés (un chèque utilisé)")[1], "2");
    // Once March and April can no longer change (48 hours of undo window past their end),
    // the daily run keeps their people: the month's view reads them, and says the same.
    let tables = [
        "chiffres",
        "mois",
        "distributeurs",
        "lieux",
        "departements",
        "types",
        "niveaux",
    ];
    let mut counted = Vec::new();
    for t in tables {
        counted.push(csv(&client, &format!("{base}/{t}.csv{april}")).await);
    }
    app.advance(SignedDuration::from_hours(24 * 32));
    let closed = passnum::cli::jobs::close_months(&app.state).await;
    assert_eq!(closed.expect("months closed"), 2);
    let again = passnum::cli::jobs::close_months(&app.state).await;
    assert_eq!(again.expect("nothing more to close"), 0);
    // A month later, the first session has ended: a colleague looks.
    let (client, _) = signed_in(&app, &w.funder_id, "marc@gironde.example").await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM figure_month_people WHERE month = '2026-04' \
             AND dimension = 'place' AND people = 2"
        )
        .await,
        1
    );
    for (t, before) in tables.iter().zip(&counted) {
        let after = csv(&client, &format!("{base}/{t}.csv{april}")).await;
        assert_eq!(&after, before, "{t}");
    }
    // Read from the kept rows, not counted again: a change there shows.
    let bump = |by: i64| {
        app.state
            .db
            .transact(passnum::db::Origin::platform(), move |tx| {
                Box::pin(async move {
                    sqlx::query(
                        "UPDATE figure_month_people SET people = people + $1 \
                         WHERE month = '2026-04' AND dimension = 'place'",
                    )
                    .bind(by)
                    .execute(&mut **tx)
                    .await?;
                    Ok(())
                })
            })
    };
    bump(40).await.expect("kept people changed");
    let places = csv(&client, &format!("{base}/lieux.csv{april}")).await;
    assert_eq!(row(&places, "Espace numérique de Dax")[1], "42");
    bump(-40).await.expect("kept people restored");

    // A period backwards or a date that is none is refused in plain French.
    for bad in ["?du=2026-05-01&au=2026-04-01", "?du=2026-13-01"] {
        let page = get(&client, &format!("{base}{bad}")).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(page.html.contains("date"), "{}", page.html);
    }
    let (status, _, _) = download(&client, &format!("{base}/inconnu.csv")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Another funder does not see it; a distributor is refused; the operator sees it.
    let (other_funder, _) = app.org("funder", "Région Occitanie").await;
    let (other, _) = signed_in(&app, &other_funder, "paul@occitanie.example").await;
    let page = get(&other, &base).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let (status, _, _) = download(&other, &format!("{base}/resultats.ods")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = download(&other, &format!("{base}/lieux.csv")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (distributor, _) = signed_in(&app, &w.distributor_id, "lea@ccas.example").await;
    let page = get(&distributor, &base).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let operator = app.operator_org().await;
    let (operator, _) = signed_in(&app, &operator.id, "ops@passnum.example").await;
    let page = get(&operator, &base).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.html.contains("Retour au programme"));
    app.assert_ledger_verifies().await;
}

/// Answers to "Je donne mon avis" by place, département, month and distributor: an average is
/// shown about 11 answers or more, as in the observatory; when a single group is hidden, the
/// smallest shown is hidden too, or the total minus the others would give it away.
async fn funder_view_breaks_satisfaction_down_and_hides_small_counts(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // March: 12 sessions at the Médiathèque (Gironde), answered 8 six times and 7 six times.
    let w = app.world(400_000, 30).await;
    let (_, dax) = app
        .qualified_site_at("Espace numérique de Dax", "40100")
        .await;
    let (_, mont) = app
        .qualified_site_at("Tiers-lieu de Mont-de-Marsan", "40000")
        .await;
    let carnets: Vec<(String, Vec<String>)> = {
        let mut out = Vec::new();
        for _ in 0..3 {
            let pass = app.issue(&w, 10).await;
            out.push((
                pass["pass_code"].as_str().expect("pass code").to_string(),
                codes_of(&pass),
            ));
        }
        out
    };
    let holder = cookie_client();
    // One session of one cheque, then its answer by the carnet's code.
    let answered = |site: String, carnet: usize, cheque: usize, mark: i64| {
        let (app, holder, carnets) = (&app, holder.clone(), &carnets);
        async move {
            let (pass_code, codes) = &carnets[carnet];
            let (status, body) = app.redeem(&site, &codes[cheque]).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            let url = format!("{}/avis/{pass_code}", app.base);
            let form = get(&holder, &url).await;
            let mark = mark.to_string();
            let given = post(
                &holder,
                &url,
                &[
                    ("csrf", form.csrf().as_str()),
                    ("once", form.once().as_str()),
                    ("overall", mark.as_str()),
                ],
            )
            .await;
            assert!(given.html.contains("Merci !"), "{}", given.html);
        }
    };
    for i in 0..12 {
        let (carnet, cheque) = if i < 10 { (0, i) } else { (1, i - 10) };
        answered(
            w.site.clone(),
            carnet,
            cheque,
            if i % 2 == 0 { 8 } else { 7 },
        )
        .await;
    }
    // April: 11 at Dax (all 6), 2 at Mont-de-Marsan (both 10), in the Landes.
    app.advance(SignedDuration::from_hours(24 * 31));
    for i in 0..11 {
        let (carnet, cheque) = if i < 8 { (1, i + 2) } else { (2, i - 8) };
        answered(dax.clone(), carnet, cheque, 6).await;
    }
    for cheque in 3..5 {
        answered(mont.clone(), 2, cheque, 10).await;
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM opinions").await, 25);

    let (client, _) = signed_in(&app, &w.funder_id, "claire@gironde.example").await;
    let base = format!(
        "{}/financeur/programmes/{}/resultats",
        app.base, w.program_id
    );
    let last_two = |rows: &[Vec<String>], first: &str| -> [String; 2] {
        let r = row(rows, first);
        [r[r.len() - 2].clone(), r[r.len() - 1].clone()]
    };
    let hidden = ["moins de 11".to_string(), "moins de 11".to_string()];
    let shown = |n: &str, avg: &str| [n.to_string(), avg.to_string()];
    // 12 × 7.5 and 11 × 6 and 2 × 10: 176 / 25 = 7.04.
    let key = csv(&client, &format!("{base}/chiffres.csv")).await;
    assert_eq!(row(&key, "Avis reçus (« Je donne mon avis »)")[1], "25");
    assert_eq!(row(&key, "Satisfaction moyenne (sur 10)")[1], "7,0");
    let page = get(&client, &base).await;
    assert!(page.html.contains("7,0 sur 10"), "{}", page.html);
    // Mont-de-Marsan has 2 answers: hidden; Dax, the smallest shown, is hidden with it.
    let places = csv(&client, &format!("{base}/lieux.csv")).await;
    assert_eq!(
        last_two(&places, "Médiathèque Mériadeck"),
        shown("12", "7,5")
    );
    assert_eq!(last_two(&places, "Espace numérique de Dax"), hidden);
    assert_eq!(last_two(&places, "Tiers-lieu de Mont-de-Marsan"), hidden);
    // The Landes: 11 × 6 + 2 × 10 = 86 / 13 = 6.6.
    let departments = csv(&client, &format!("{base}/departements.csv")).await;
    assert_eq!(last_two(&departments, "40 — Landes"), shown("13", "6,6"));
    assert_eq!(last_two(&departments, "33 — Gironde"), shown("12", "7,5"));
    let months = csv(&client, &format!("{base}/mois.csv")).await;
    assert_eq!(last_two(&months, "mars 2026"), shown("12", "7,5"));
    assert_eq!(last_two(&months, "avril 2026"), shown("13", "6,6"));
    let distributors = csv(&client, &format!("{base}/distributeurs.csv")).await;
    assert_eq!(
        last_two(&distributors, "CCAS de Bordeaux"),
        shown("25", "7,0")
    );
    // Not broken down by kind of help.
    let kinds = csv(&client, &format!("{base}/types.csv")).await;
    assert!(!kinds[0].contains(&"Avis reçus".to_string()), "{kinds:?}");
    // March only: the Médiathèque's 12, and no one else's.
    let march = "?du=2026-03-01&au=2026-03-31";
    let key = csv(&client, &format!("{base}/chiffres.csv{march}")).await;
    assert_eq!(row(&key, "Satisfaction moyenne (sur 10)")[1], "7,5");
    let places = csv(&client, &format!("{base}/lieux.csv{march}")).await;
    assert_eq!(places.len(), 2, "{places:?}");
    // The .ods has the same cells.
    let (_, _, bytes) = download(&client, &format!("{base}/resultats.ods")).await;
    let book = spreadsheet_ods::read_ods_buf(&bytes).expect("an .ods");
    let sheet = book.sheet(6);
    assert_eq!(sheet.value(5, 0).as_str_or(""), "Département du lieu");
    assert_eq!(sheet.value(5, 7).as_str_or(""), "Satisfaction (sur 10)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn funder_view_reads_at_320_and_1280_px_in_the_browser() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let w = app.world(100_000, 20).await;
    let a = issue(&app, &w, 10, true).await;
    session(
        &app,
        &w.site,
        &a[..2],
        json!({"service": "individual_help", "minutes": 60, "themes": ["email", "health"]}),
    )
    .await;
    app.advance(SignedDuration::from_hours(24 * 31));
    session(
        &app,
        &w.site,
        &a[2..3],
        json!({"service": "workshop", "minutes": 90, "themes": ["admin_transport"]}),
    )
    .await;
    app.user(
        &w.funder_id,
        "claire@gironde.example",
        "Claire Dubois",
        passnum::users::Role::Agent,
        Some("une phrase de passe assez longue"),
    )
    .await;
    b.visit(&format!("{}/connexion", app.base), "resultats-connexion")
        .await;
    b.fill("#email", "claire@gironde.example").await;
    b.fill("#password", "une phrase de passe assez longue")
        .await;
    b.submit_form("form[action='/connexion'] button[type=submit]")
        .await;
    b.second_factor(&app, "claire@gironde.example").await;
    let url = format!(
        "{}/financeur/programmes/{}/resultats",
        app.base, w.program_id
    );
    for (width, name) in [
        (1280, "financeur-resultats-large"),
        (320, "financeur-resultats-320"),
    ] {
        b.set_window_size(width, 900).await;
        b.visit(&url, name).await;
        b.assert_no_horizontal_scroll().await;
        assert!(b.text("h1").await.contains("Ce que l'argent a permis"));
    }
    // The period form is a plain GET: its answer is this address.
    b.visit(
        &format!("{url}?du=2026-04-01"),
        "financeur-resultats-periode",
    )
    .await;
    assert!(b.page_source().await.contains("Depuis le 1er avril 2026"));
    b.close().await;
}
