//! "Je donne mon avis" on the State's 0-10 scale, over HTTP on both databases: one answer per
//! session (a redemption group), reached from the site's receipt (an unguessable link) and from
//! the carnet's code; a second answer refused kindly; the site, the funder and the operator see
//! the answers counted (the operator also the comments, masked); the old 1-5 ratings stay apart;
//! retention erases the comments. The pages in Chromium with axe-core: `browser_voice`.

use crate::common;

use common::web::{get, post, signed_in};
use common::{cookie_client, Backend, TestApp};
use reqwest::StatusCode;
use serde_json::json;

on_both_databases!(one_answer_per_session_seen_counted_and_masked);

/// The token of the session's feedback link on a receipt page.
fn token_on(html: &str) -> String {
    const MARK: &str = "/avis/seance/";
    let at = html.find(MARK).expect("a feedback link on the receipt") + MARK.len();
    html[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

async fn one_answer_per_session_seen_counted_and_masked(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let pass = app.issue(&w, 5).await;
    let code = pass["pass_code"].as_str().unwrap().to_string();
    let cheque = |i: usize| pass["vouchers"][i]["code"].as_str().unwrap().to_string();
    let holder = cookie_client();
    let give = |url: String, fields: Vec<(&'static str, String)>| {
        let holder = holder.clone();
        async move {
            let form = get(&holder, &url).await;
            let mut sent = vec![("csrf", form.csrf()), ("once", form.once())];
            sent.extend(fields);
            let sent: Vec<(&str, &str)> = sent.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(&holder, &url, &sent).await
        }
    };
    let by_carnet = format!("{}/avis/{code}", app.base);

    // No session yet: nothing to give an opinion on.
    let page = give(by_carnet.clone(), vec![("overall", "8".into())]).await;
    assert!(page.html.contains("après une séance"), "{}", page.html);

    // Two sessions: two cheques together, then one.
    let (status, together) = app
        .post(
            "/api/v1/redemptions",
            &w.site,
            json!({"codes": [cheque(0), cheque(1)], "service": "workshop", "minutes": 120}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{together}");
    let (status, alone) = app.redeem(&w.site, &cheque(2)).await;
    assert_eq!(status, StatusCode::CREATED, "{alone}");

    // The receipt hands over the session's link, the same each time it is shown, without the
    // carnet's code.
    let (site, _) = signed_in(&app, &w.site_id, "agent@mediatheque.example").await;
    let receipt = format!(
        "{}/lieu/encaissements/{}",
        app.base,
        together["id"].as_str().unwrap()
    );
    let first = get(&site, &receipt).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.html);
    let token = token_on(&first.html);
    assert!(token.len() >= 40, "{token}");
    assert!(first.html.contains("QR code de la page"), "{}", first.html);
    assert_eq!(token_on(&get(&site, &receipt).await.html), token);
    assert!(!first.html.contains(&format!("/avis/{code}")));
    assert_eq!(app.count("SELECT COUNT(*) FROM opinion_links").await, 1);

    // An unknown link, a mark out of the scale, an answer off the list: refused, on the field.
    let by_link = format!("{}/avis/seance/{token}", app.base);
    let unknown = get(&holder, &format!("{}/avis/seance/nope", app.base)).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let form = get(&holder, &by_link).await;
    assert!(form.html.contains("Atelier") || form.html.contains("Médiathèque Mériadeck"));
    assert!(form
        .html
        .contains(&format!("action=\"/avis/seance/{token}\"")));
    let wrong = give(by_link.clone(), vec![("overall", "11".into())]).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.html.contains("href=\"#r0\""), "{}", wrong.html);
    let wrong = give(
        by_link.clone(),
        vec![("overall", "9".into()), ("clear", "bof".into())],
    )
    .await;
    assert!(wrong.html.contains("href=\"#clear-oui\""), "{}", wrong.html);

    // The answer, then a second one for the same session: refused kindly.
    let comment = "Merci à Julie Martin ! Rappelez-moi au 06 12 34 56 78 ou julie@exemple.fr";
    let given = give(
        by_link.clone(),
        vec![
            ("overall", "9".into()),
            ("reached", "oui".into()),
            ("alone", "avec_aide".into()),
            ("comment", comment.into()),
        ],
    )
    .await;
    assert_eq!(given.status, StatusCode::OK, "{}", given.html);
    assert!(given.html.contains("Merci !"), "{}", given.html);
    let again = give(by_link.clone(), vec![("overall", "2".into())]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.html.contains("déjà enregistré"), "{}", again.html);

    // By the carnet's code, the session still waiting: the lone cheque's. Then none is left.
    let balance = get(&holder, &format!("{}/solde?code={code}", app.base)).await;
    assert!(balance.html.contains(&format!("href=\"/avis/{code}\"")));
    let given = give(by_carnet.clone(), vec![("overall", "3".into())]).await;
    assert!(given.html.contains("Merci !"), "{}", given.html);
    let again = give(by_carnet.clone(), vec![("overall", "3".into())]).await;
    assert!(again.html.contains("déjà enregistré"), "{}", again.html);
    let balance = get(&holder, &format!("{}/solde?code={code}", app.base)).await;
    assert!(
        balance.html.contains("sur chaque séance"),
        "{}",
        balance.html
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM opinions").await, 2);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM opinions WHERE site_id IS NOT NULL AND overall IN (3, 9)")
            .await,
        2
    );

    // An old 1-5 rating stays apart.
    crate::audit_chain::exec(
        &app,
        &format!(
            "INSERT INTO feedback (id, pass_id, rating, comment, created_at) \
             VALUES ('old-1', '{}', 4, NULL, '2026-01-01T00:00:00.000000Z')",
            pass["id"].as_str().unwrap()
        ),
    )
    .await;

    // The site: its own answers counted, no comment.
    let mine = get(&site, &format!("{}/lieu/avis", app.base)).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.html);
    assert!(mine.html.contains("6,0 sur 10"), "{}", mine.html);
    assert!(mine.html.contains("(2 avis)"), "{}", mine.html);
    assert!(!mine.html.contains("Julie") && !mine.html.contains("[nom]"));
    assert!(!mine.html.contains("sur 5"), "{}", mine.html);
    // The funder: its programmes', with the old scale apart.
    let (funder, _) = signed_in(&app, &w.funder_id, "agent@gironde.example").await;
    let theirs = get(&funder, &format!("{}/financeur/avis", app.base)).await;
    assert!(theirs.html.contains("6,0 sur 10"), "{}", theirs.html);
    assert!(
        theirs.html.contains("1 avis de 1 à 5, moyenne 4,0 sur 5"),
        "{}",
        theirs.html
    );
    assert!(!theirs.html.contains("Julie") && !theirs.html.contains("[nom]"));
    // The operator: everything, and the comments masked.
    let operator_id = app.operator_org().await.id;
    let (operator, _) = signed_in(&app, &operator_id, "claire@operateur.example").await;
    let all = get(&operator, &format!("{}/operateur/avis", app.base)).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.html);
    assert!(
        all.html
            .contains("Merci à [nom] [nom] ! Rappelez-moi au [nombre] ou [courriel]"),
        "{}",
        all.html
    );
    assert!(!all.html.contains("Julie") && !all.html.contains("06 12"));
    // Least privilege: a site cannot read the operator's page, nobody anonymous any.
    assert_eq!(
        get(&site, &format!("{}/operateur/avis", app.base))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let anonymous = get(&cookie_client(), &format!("{}/financeur/avis", app.base)).await;
    assert!(anonymous.url.contains("/connexion"), "{}", anonymous.url);

    // An undone session's link no longer takes an answer.
    let (status, third) = app.redeem(&w.site, &cheque(3)).await;
    assert_eq!(status, StatusCode::CREATED, "{third}");
    let receipt = format!(
        "{}/lieu/encaissements/{}",
        app.base,
        third["id"].as_str().unwrap()
    );
    let token = token_on(&get(&site, &receipt).await.html);
    let (status, body) = app
        .delete(
            &format!("/api/v1/redemptions/{}", third["id"].as_str().unwrap()),
            &w.site,
        )
        .await;
    assert!(status.is_success(), "{body}");
    let gone = get(&holder, &format!("{}/avis/seance/{token}", app.base)).await;
    assert!(gone.html.contains("annulée"), "{}", gone.html);

    // Retention erases the comments after their period; the answers stay.
    app.advance(jiff::SignedDuration::from_hours(24 * 400));
    let report = passnum::cli::jobs::retention(&app.state)
        .await
        .expect("the retention job runs");
    assert_eq!(report.comments, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM opinions WHERE comment IS NULL")
            .await,
        2
    );
}
