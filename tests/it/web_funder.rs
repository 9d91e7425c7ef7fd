//! The funder's pages over plain HTTP (a cookie-keeping client, no JavaScript), on both
//! databases: create a programme through the form, fund it, give quotas, follow its use on the
//! dashboard and in every CSV export, close it and download the credit note. The same pages
//! run in Chromium with axe-core in `browser_funder.rs`.

use crate::common;

use common::{cookie_client, csrf_of};

use common::{Backend, TestApp, World};
use reqwest::StatusCode;

on_both_databases!(funder_runs_a_programme_from_creation_to_credit_note);

/// Status, final URL (after redirects), content type and body.
struct Answer {
    status: StatusCode,
    url: String,
    content_type: String,
    body: String,
}

async fn answer(resp: reqwest::Response) -> Answer {
    Answer {
        status: resp.status(),
        url: resp.url().to_string(),
        content_type: resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        body: resp.text().await.unwrap(),
    }
}

async fn get(client: &reqwest::Client, url: &str) -> Answer {
    answer(client.get(url).send().await.unwrap()).await
}

async fn post(client: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> Answer {
    answer(client.post(url).form(form).send().await.unwrap()).await
}

/// Creates a person in the organisation and logs them in; returns the client and its token.
async fn log_in(app: &TestApp, org_id: &str, email: &str) -> (reqwest::Client, String) {
    app.user(
        org_id,
        email,
        "Claire Dubois",
        passnum::users::Role::Agent,
        Some("une phrase de passe assez longue"),
    )
    .await;
    sign_in(app, email).await
}

/// Logs an existing person in; returns the client and its CSRF token.
async fn sign_in(app: &TestApp, email: &str) -> (reqwest::Client, String) {
    let client = cookie_client();
    let csrf = sign_in_with(app, &client, email).await;
    (client, csrf)
}

/// Logs an existing person in with this client (its clones share its cookies); returns the
/// CSRF token.
async fn sign_in_with(app: &TestApp, client: &reqwest::Client, email: &str) -> String {
    let client = client.clone();
    let login = get(&client, &format!("{}/connexion", app.base)).await;
    let a = post(
        &client,
        &format!("{}/connexion", app.base),
        &[
            ("csrf", &csrf_of(&login.body)),
            ("email", email),
            ("password", "une phrase de passe assez longue"),
        ],
    )
    .await;
    let (status, body) = match common::web::second_factor(app, &client, email, &a.body).await {
        Some(page) => (page.status, page.html),
        None => (a.status, a.body),
    };
    assert_eq!(status, StatusCode::OK, "{}: {body}", a.url);
    csrf_of(&body)
}

/// The world's organisations, with another programme.
fn with_program(w: &World, program_id: &str) -> World {
    World {
        funder_id: w.funder_id.clone(),
        funder: w.funder.clone(),
        distributor_id: w.distributor_id.clone(),
        distributor: w.distributor.clone(),
        site_id: w.site_id.clone(),
        site: w.site.clone(),
        program_id: program_id.to_string(),
    }
}

async fn funder_runs_a_programme_from_creation_to_credit_note(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // The world's programme, created through the API, is the funder's first.
    let w = app.world(100_000, 10).await;
    let (second_distributor, _) = app.org("distributor", "Mission locale de Bordeaux").await;
    let (client, csrf) = log_in(&app, &w.funder_id, "claire@gironde.example").await;
    let home_url = format!("{}/financeur", app.base);
    let home = get(&client, &home_url).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Pass numérique 2026"), "{}", home.body);
    assert!(home.body.contains("Créer un programme"));

    // Validation errors come back on the form, with what was typed.
    let create_url = format!("{}/financeur/programmes", app.base);
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("name", "Ateliers numériques 2026"),
        ("budget", "50 000,123"),
        ("cheque_value", "10"),
        ("validity_days", "365"),
        ("grace_days", "0"),
        ("department", "33"),
    ];
    let a = post(&client, &create_url, &fields).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("id=\"erreurs\""), "{}", a.body);
    assert!(
        a.body.contains("deux chiffres après la virgule"),
        "{}",
        a.body
    );
    assert!(a.body.contains("value=\"Ateliers numériques 2026\""));
    assert!(a
        .body
        .contains("id=\"budget\" name=\"budget\" value=\"50 000,123\""));
    assert!(a.body.contains("aria-invalid=\"true\""));
    fields[2] = ("budget", "50 000");
    fields[6] = ("department", "99");
    let a = post(&client, &create_url, &fields).await;
    assert!(a.body.contains("Le code de département"), "{}", a.body);
    fields[6] = ("department", "33");
    fields.push(("territory", "33, Bordeaux"));
    let a = post(&client, &create_url, &fields).await;
    assert!(a.body.contains("code INSEE"), "{}", a.body);
    assert!(a
        .body
        .contains("id=\"territory\" name=\"territory\" value=\"33, Bordeaux\""));
    // Then created, for the Gironde and the Dordogne and for two kinds of help: the
    // redirection leads to its dashboard, which says so.
    fields[7] = ("territory", "33, 24");
    fields.push(("service_workshop", "1"));
    fields.push(("service_individual_help", "1"));
    let a = post(&client, &create_url, &fields).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("Le programme est créé"), "{}", a.body);
    let path = a.url.split('?').next().unwrap();
    let program_id = path.rsplit('/').next().unwrap().to_string();
    assert!(path.ends_with(&format!("/financeur/programmes/{program_id}")));
    let program_url = format!("{}/financeur/programmes/{program_id}", app.base);
    assert!(
        a.body.contains("50\u{202f}000,00\u{a0}€"),
        "budget of 50 000 €"
    );
    assert!(
        a.body.contains(
            "Acceptés : Dordogne (24) et Gironde (33) ; pour accompagnement individuel, atelier \
             collectif."
        ),
        "{}",
        a.body
    );
    assert!(a.body.contains("Aucun chèque n'a encore été émis"));

    // Funding: beyond the budget is refused on the page, then 500 € arrive.
    let fund_url = format!("{program_url}/versements");
    let a = post(
        &client,
        &fund_url,
        &[("csrf", &csrf), ("amount", "60 000"), ("reference", "OP-1")],
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.body.contains("dépasserait le budget"), "{}", a.body);
    assert!(a.body.contains("value=\"OP-1\""), "typed values kept");
    let a = post(
        &client,
        &fund_url,
        &[
            ("csrf", &csrf),
            ("amount", "500"),
            ("reference", "OP-2026-42"),
        ],
    )
    .await;
    assert!(
        a.body.contains("Le versement est enregistré."),
        "{}",
        a.body
    );
    // Quotas: 20 cheques to the CCAS, 5 to the Mission locale; too many is refused.
    let quota_url = format!("{program_url}/quotas");
    let a = post(
        &client,
        &quota_url,
        &[
            ("csrf", &csrf),
            ("distributor_id", &w.distributor_id),
            ("cheques", "51"),
        ],
    )
    .await;
    assert!(a.body.contains("ne suffit pas"), "{}", a.body);
    assert!(a.body.contains("selected>CCAS de Bordeaux"), "choice kept");
    for (distributor, cheques) in [(&w.distributor_id, "20"), (&second_distributor, "5")] {
        let a = post(
            &client,
            &quota_url,
            &[
                ("csrf", &csrf),
                ("distributor_id", distributor),
                ("cheques", cheques),
            ],
        )
        .await;
        assert!(a.body.contains("Le quota est attribué"), "{}", a.body);
    }

    // The CCAS issues 15 cheques in March; 3 are used in March and 1 in April.
    let b = with_program(&w, &program_id);
    let ten = app.issue(&b, 10).await;
    let five = app.issue(&b, 5).await;
    for i in 0..3 {
        let (status, body) = app
            .redeem(&w.site, ten["vouchers"][i]["code"].as_str().unwrap())
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    app.advance(jiff::SignedDuration::from_hours(31 * 24));
    let (status, body) = app
        .redeem(&w.site, five["vouchers"][0]["code"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // A month later the session has lapsed: log in again.
    let (client, csrf) = sign_in(&app, "claire@gironde.example").await;

    let dash = get(&client, &program_url).await;
    assert_eq!(dash.status, StatusCode::OK);
    let d = &dash.body;
    for expected in [
        "<h1>Ateliers numériques 2026</h1>",
        // Budget consumed, funded, available, usage rate.
        "<p class=\"big\">40,00\u{a0}€</p>",
        "0,1\u{a0}% du budget de 50\u{202f}000,00\u{a0}€",
        "<p class=\"big\">500,00\u{a0}€</p>",
        "Reste à verser : 49\u{202f}500,00\u{a0}€",
        "<p class=\"big\">250,00\u{a0}€</p>",
        "Soit 25 chèques",
        "<p class=\"big\">26,7\u{a0}%</p>",
        "4 chèques utilisés sur 15 émis",
        // Names, not ids.
        "<th scope=\"row\">CCAS de Bordeaux</th>",
        "<th scope=\"row\">Mission locale de Bordeaux</th>",
        "<th scope=\"row\">Médiathèque Mériadeck</th>",
        "<th scope=\"row\">33</th>",
        // The chart, labelled, with its months.
        "<svg role=\"img\" aria-labelledby=\"graphique-titre graphique-desc\"",
        "<title id=\"graphique-titre\">",
        "De mars 2026 à avril 2026 : 15 chèques émis et 4 chèques utilisés.",
        "<title>mars 2026 : 15 chèques émis</title>",
        "<title>avril 2026 : 1 chèque utilisé</title>",
        ">mars</text>",
        ">avr.</text>",
        "<th scope=\"row\">avril 2026</th>",
    ] {
        assert!(d.contains(expected), "{expected:?} missing from {d}");
    }
    assert_eq!(
        d.matches(&w.distributor_id).count(),
        1,
        "an id only as the quota form's option value"
    );
    assert!(!d.contains("<script"), "no JavaScript");
    for slug in ["chiffres", "mois", "distributeurs", "lieux", "departements"] {
        assert!(d.contains(&format!("/export/{slug}.csv")), "{slug} link");
    }

    // Each table as CSV, `;`-separated with decimal commas.
    let csv = |slug: &str| {
        let client = client.clone();
        let url = format!("{program_url}/export/{slug}.csv");
        async move {
            let a = get(&client, &url).await;
            assert_eq!(a.status, StatusCode::OK, "{url}: {}", a.body);
            assert_eq!(a.content_type, "text/csv; charset=utf-8");
            a.body
        }
    };
    assert_eq!(
        csv("distributeurs").await,
        "Distributeur;Chèques attribués;Chèques émis;Chèques utilisés;Taux d'utilisation (%);Quota restant\n\
         CCAS de Bordeaux;20;15;4;26,7;5\n\
         Mission locale de Bordeaux;5;0;0;;5\n"
    );
    assert_eq!(
        csv("lieux").await,
        "Lieu;Chèques utilisés;Montant (€);Part des utilisations (%);Réglé (€);Payé (€)\n\
         Médiathèque Mériadeck;4;40,00;100,0;0,00;0,00\n"
    );
    assert_eq!(
        csv("departements").await,
        "Département;Chèques émis;Chèques utilisés;Taux d'utilisation (%)\n33;15;4;26,7\n"
    );
    assert_eq!(
        csv("mois").await,
        "Mois;Chèques émis;Montant émis (€);Chèques utilisés;Montant utilisé (€)\n\
         mars 2026;15;150,00;3;30,00\n\
         avril 2026;0;0,00;1;10,00\n"
    );
    assert_eq!(
        csv("chiffres").await,
        "Poste;Montant (€);Chèques;Part du budget (%)\n\
         Budget du programme;50000,00;;100,0\n\
         Versé par le financeur;500,00;;1,0\n\
         Reste à verser;49500,00;;99,0\n\
         Disponible, à attribuer;250,00;25;0,5\n\
         Attribué aux distributeurs;250,00;25;0,5\n\
         Quotas pas encore émis;100,00;10;0,2\n\
         Chèques émis;150,00;15;0,3\n\
         Chèques utilisés (budget consommé);40,00;4;0,1\n\
         Chèques en circulation, pas encore utilisés;110,00;11;0,2\n\
         Chèques expirés;0,00;0;0,0\n\
         Chèques annulés (carnets perdus);0,00;0;0,0\n\
         Réglé aux lieux, frais compris;0,00;;0,0\n\
         Payé aux lieux;0,00;;0,0\n\
         Frais de gestion de l'opérateur;0,00;;0,0\n\
         Rendu au financeur (avoir);0,00;;0,0\n"
    );
    let a = get(&client, &format!("{program_url}/export/autre.csv")).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);

    // The home lists both programmes with their figures.
    let home = get(&client, &home_url).await;
    assert!(
        home.body.contains(&format!(
            "href=\"/financeur/programmes/{program_id}\">Ateliers numériques 2026</a>"
        )),
        "{}",
        home.body
    );
    assert!(home.body.contains("<td class=\"num\">26,7\u{a0}%</td>"));

    // Another funder, a distributor and an anonymous visitor see none of it.
    let (other_funder, _) = app.org("funder", "Région Nouvelle-Aquitaine").await;
    let (other, other_csrf) = log_in(&app, &other_funder, "marc@region.example").await;
    for path in ["", "/export/lieux.csv", "/avoir.csv", "/avoir.pdf"] {
        let a = get(&other, &format!("{program_url}{path}")).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!a.body.contains("Ateliers"), "{path}");
    }
    for (path, form) in [
        ("versements", vec![("amount", "10"), ("reference", "X")]),
        (
            "quotas",
            vec![
                ("distributor_id", w.distributor_id.as_str()),
                ("cheques", "1"),
            ],
        ),
        ("cloture", vec![("confirm", "1")]),
    ] {
        let mut form = form;
        form.push(("csrf", &other_csrf));
        let a = post(&other, &format!("{program_url}/{path}"), &form).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}: {}", a.body);
    }
    let a = get(&other, &format!("{}/financeur", app.base)).await;
    assert!(!a.body.contains("Ateliers"), "{}", a.body);
    let (agent, _) = log_in(&app, &w.distributor_id, "agent@ccas.example").await;
    assert_eq!(
        get(&agent, &program_url).await.status,
        StatusCode::FORBIDDEN
    );
    let a = get(&cookie_client(), &home_url).await;
    assert!(a.url.ends_with("/connexion"), "{}", a.url);

    // The credit note exists only once closed; planning the end asks to be confirmed, and
    // the daily job closes the programme the day after its last day (30 days on by default).
    let a = get(&client, &format!("{program_url}/avoir.csv")).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    let close_url = format!("{program_url}/cloture");
    let a = post(&client, &close_url, &[("csrf", &csrf)]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("Mettre fin au programme "), "{}", a.body);
    assert!(
        a.body.contains("Oui, mettre fin au programme"),
        "{}",
        a.body
    );
    assert!(
        !a.body.contains("La fin du programme est prévue"),
        "{}",
        a.body
    );
    let a = post(
        &client,
        &close_url,
        &[("csrf", &csrf), ("closes_on", ""), ("confirm", "1")],
    )
    .await;
    assert!(
        a.body.contains("La fin du programme est prévue"),
        "{}",
        a.body
    );
    assert!(a.body.contains("Annuler la fin prévue"), "{}", a.body);
    app.advance(jiff::SignedDuration::from_hours(31 * 24));
    passnum::cli::jobs::expire(&app.state).await.expect("job");
    // The session ended meanwhile.
    let csrf = sign_in_with(&app, &client, "claire@gironde.example").await;
    let a = get(&client, &program_url).await;
    assert!(
        a.body.contains("<strong>Programme clos.</strong>"),
        "{}",
        a.body
    );
    assert!(
        a.body.contains("<strong>460,00\u{a0}€</strong>"),
        "{}",
        a.body
    );
    assert!(
        !a.body.contains("action=\"/financeur/programmes"),
        "no more forms"
    );
    let a = post(
        &client,
        &fund_url,
        &[("csrf", &csrf), ("amount", "10"), ("reference", "OP-3")],
    )
    .await;
    assert!(a.body.contains("Ce programme est clos"), "{}", a.body);
    let note = get(&client, &format!("{program_url}/avoir.csv")).await;
    assert_eq!(note.status, StatusCode::OK);
    assert_eq!(note.content_type, "text/csv; charset=utf-8");
    for line in [
        "Poste;Montant (€)",
        "Versé par le financeur;500,00",
        "Chèques utilisés dans les lieux;40,00",
        "Chèques expirés;110,00",
        "Avoir rendu au financeur;460,00",
    ] {
        assert!(
            note.body.lines().any(|l| l == line),
            "{line}: {}",
            note.body
        );
    }
    let pdf = client
        .get(format!("{program_url}/avoir.pdf"))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), StatusCode::OK);
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF"));
    let figures = csv("chiffres").await;
    assert!(
        figures.contains("Rendu au financeur (avoir);460,00;;0,9\n"),
        "{figures}"
    );
    app.assert_ledger_verifies().await;
}
