//! Alerts against gaming (issue 27, point 5): each pattern fires on its pattern and not on
//! ordinary use, once per subject; the operator and the funder concerned see them with their
//! facts and mark them reviewed; nobody else sees them.

use crate::audit_chain::exec;
use crate::common::web::{get, post, signed_in};
use crate::common::{codes_of, Backend, TestApp, World};
use jiff::SignedDuration;
use passnum::alerts::Found;
use reqwest::StatusCode;

on_both_databases!(
    a_carnet_used_up_in_a_day_and_sessions_after_closing_are_flagged_once,
    most_of_a_distributors_carnets_at_one_site_is_flagged,
    a_site_far_above_its_usual_rate_is_flagged_and_a_steady_one_is_not,
    the_funder_concerned_and_the_operator_see_and_review_them,
);

async fn detect(app: &TestApp) -> Found {
    passnum::cli::jobs::alerts(&app.state)
        .await
        .expect("the alerts job runs")
}

async fn redeem_all(app: &TestApp, token: &str, codes: &[String]) {
    for code in codes {
        let (status, body) = app.redeem(token, code).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

/// Opening hours on the site's own place (the one its redemptions are recorded at).
async fn hours(app: &TestApp, site_id: &str, horaires: &str) {
    exec(
        app,
        &format!("UPDATE places SET horaires = '{horaires}' WHERE site_org_id = '{site_id}'"),
    )
    .await;
}

/// The test clock starts on Monday 2 March 2026 at 12:00 in Paris.
async fn a_carnet_used_up_in_a_day_and_sessions_after_closing_are_flagged_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(1_000_000, 100).await;
    hours(&app, &w.site_id, "Mo-Sa 09:00-19:00").await;
    // Ordinary use: a carnet used over two days, within opening hours.
    let spread = codes_of(&app.issue(&w, 5).await);
    redeem_all(&app, &w.site, &spread[..3]).await;
    // A whole carnet on one afternoon.
    let whole = codes_of(&app.issue(&w, 5).await);
    redeem_all(&app, &w.site, &whole).await;
    let found = detect(&app).await;
    assert_eq!(found.carnet_in_one_day, 1, "{found:?}");
    assert_eq!(found.total(), 1, "{found:?}");

    app.advance(SignedDuration::from_hours(24));
    redeem_all(&app, &w.site, &spread[3..]).await;
    // 21:30 in Paris: the place closed at 19:00.
    app.advance(SignedDuration::from_mins(9 * 60 + 30));
    let late = codes_of(&app.issue(&w, 5).await);
    redeem_all(&app, &w.site, &late[..2]).await;
    let found = detect(&app).await;
    // The spread carnet is used up, but over two days.
    assert_eq!(found.carnet_in_one_day, 0, "{found:?}");
    assert_eq!(found.outside_hours, 1, "{found:?}");
    assert_eq!(detect(&app).await.total(), 0, "found again");
    assert_eq!(app.count("SELECT COUNT(*) FROM alerts").await, 2);

    let summaries = summaries(&app).await;
    assert!(
        summaries
            .iter()
            .any(|s| s.contains("Les 5 chèques du carnet") && s.contains("le 2 mars 2026")),
        "{summaries:?}"
    );
    assert!(
        summaries
            .iter()
            .any(|s| s.starts_with("2 séances (2 chèques)") && s.contains("le 3 mars 2026")),
        "{summaries:?}"
    );
}

async fn summaries(app: &TestApp) -> Vec<String> {
    let mut conn = app.raw().await;
    sqlx::query_scalar("SELECT summary FROM alerts ORDER BY detected_at")
        .fetch_all(&mut conn)
        .await
        .expect("summaries")
}

async fn most_of_a_distributors_carnets_at_one_site_is_flagged(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.alerts.distributor_min_carnets = 4;
        c.alerts.distributor_share_percent = 60;
    })
    .await
    else {
        return;
    };
    let w = app.world(1_000_000, 100).await;
    let (_, other_site) = app.qualified_site("Espace public numérique").await;
    // Three carnets started: under the minimum, nothing yet.
    for token in [&w.site, &w.site, &other_site] {
        let pass = codes_of(&app.issue(&w, 5).await);
        redeem_all(&app, token, &pass[..1]).await;
    }
    assert_eq!(detect(&app).await.total(), 0);
    // Three of four (75 %) at the same site, the fourth (25 %) elsewhere.
    let pass = codes_of(&app.issue(&w, 5).await);
    redeem_all(&app, &w.site, &pass[..2]).await;
    let found = detect(&app).await;
    assert_eq!(found.distributor_concentration, 1, "{found:?}");
    assert_eq!(found.total(), 1, "{found:?}");
    let summaries = summaries(&app).await;
    assert_eq!(
        summaries,
        vec![
            "3 des 4 carnets commencés remis par CCAS de Bordeaux (75 %) ont été utilisés chez \
             Médiathèque Mériadeck."
        ]
    );
    assert_eq!(detect(&app).await.total(), 0, "found again");
}

async fn a_site_far_above_its_usual_rate_is_flagged_and_a_steady_one_is_not(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.alerts.rate_min_cheques = 5;
        c.alerts.rate_factor = 3;
    })
    .await
    else {
        return;
    };
    let w = app.world(1_000_000, 200).await;
    let (_, steady) = app.qualified_site("Espace public numérique").await;
    let mut pool: Vec<String> = Vec::new();
    for week in 0..6 {
        // One cheque a week at the médiathèque, six at the other place.
        while pool.len() < 7 {
            pool.extend(codes_of(&app.issue(&w, 10).await));
        }
        let used: Vec<String> = pool.drain(..7).collect();
        redeem_all(&app, &w.site, &used[..1]).await;
        redeem_all(&app, &steady, &used[1..]).await;
        if week == 0 {
            assert_eq!(detect(&app).await.total(), 0);
        }
        app.advance(SignedDuration::from_hours(24 * 7));
    }
    assert_eq!(detect(&app).await.rate_spike, 0, "steady so far");
    // This week: twelve at the médiathèque (its usual rate is one), six at the other.
    while pool.len() < 18 {
        pool.extend(codes_of(&app.issue(&w, 10).await));
    }
    let used: Vec<String> = pool.drain(..18).collect();
    redeem_all(&app, &w.site, &used[..12]).await;
    redeem_all(&app, &steady, &used[12..]).await;
    app.advance(SignedDuration::from_hours(1));
    let found = detect(&app).await;
    assert_eq!(found.rate_spike, 1, "{found:?}");
    let summaries = summaries(&app).await;
    assert!(
        summaries
            .iter()
            .any(|s| s == "Médiathèque Mériadeck a utilisé 12 chèques en 7 jours, contre 1 par semaine d'habitude."),
        "{summaries:?}"
    );
    assert_eq!(
        detect(&app).await.rate_spike,
        0,
        "found again the same week"
    );
}

async fn the_funder_concerned_and_the_operator_see_and_review_them(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w: World = app.world(1_000_000, 100).await;
    let whole = codes_of(&app.issue(&w, 5).await);
    redeem_all(&app, &w.site, &whole).await;
    assert_eq!(detect(&app).await.carnet_in_one_day, 1);

    let (funder, _) = signed_in(&app, &w.funder_id, "financeur@gironde.example").await;
    let page = get(&funder, &format!("{}/financeur/alertes", app.base)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.html
            .contains("Carnet utilisé en entier en une journée"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("Remis par : CCAS de Bordeaux"),
        "{}",
        page.html
    );

    // Another funder sees none; a distributor or a site may not look.
    let (other_id, _) = app.org("funder", "Ville de Pessac").await;
    let (other, _) = signed_in(&app, &other_id, "financeur@pessac.example").await;
    let page = get(&other, &format!("{}/financeur/alertes", app.base)).await;
    assert!(
        page.html.contains("Aucune alerte n'attend"),
        "{}",
        page.html
    );
    let (site, _) = signed_in(&app, &w.site_id, "agent@lieu.example").await;
    let page = get(&site, &format!("{}/operateur/alertes", app.base)).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    let operator = app.operator_org().await;
    let (op, _) = signed_in(&app, &operator.id, "operateur@passnum.example").await;
    let page = get(&op, &format!("{}/operateur/alertes", app.base)).await;
    assert!(page.html.contains("À examiner (1)"), "{}", page.html);
    let id: String = {
        let mut conn = app.raw().await;
        sqlx::query_scalar("SELECT id FROM alerts")
            .fetch_one(&mut conn)
            .await
            .expect("alert")
    };
    let form = [
        ("csrf", page.csrf()),
        ("once", page.once()),
        (
            "note",
            "Atelier collectif confirmé par le lieu.".to_string(),
        ),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let url = format!("{}/operateur/alertes/{id}/examinee", app.base);
    let done = post(&op, &url, &form).await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(
        done.html.contains("alerte est marquée comme examinée"),
        "{}",
        done.html
    );
    assert!(done.html.contains("À examiner (0)"), "{}", done.html);
    assert!(done
        .html
        .contains("Atelier collectif confirmé par le lieu."));
    // Sent twice: the same answer, one review in the journal.
    let again = post(&op, &url, &form).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'alert.reviewed'")
            .await,
        1
    );
    // The funder sees it reviewed, by the operator.
    let page = get(&funder, &format!("{}/financeur/alertes", app.base)).await;
    assert!(page.html.contains("Déjà examinées"), "{}", page.html);
    assert!(
        page.html.contains("Examinée le 2 mars 2026"),
        "{}",
        page.html
    );
}

/// The funder's alerts page in Chromium with axe-core, at 1280 and 320 px, before and after a
/// review.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_alerts_page_is_accessible_in_the_browser() {
    let Some(b) = crate::common::browser::Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let w = app.world(1_000_000, 100).await;
    hours(
        &app,
        &w.site_id,
        "Mo-Fr 09:00-12:00,14:00-18:30; Sa 08:30-12:00",
    )
    .await;
    let whole = codes_of(&app.issue(&w, 5).await);
    redeem_all(&app, &w.site, &whole).await;
    detect(&app).await;
    app.user(
        &w.funder_id,
        "claire@gironde.example",
        "Claire Dubois",
        passnum::users::Role::Agent,
        Some("une phrase de passe assez longue"),
    )
    .await;
    b.visit(&format!("{}/connexion", app.base), "alertes-connexion")
        .await;
    b.fill("#email", "claire@gironde.example").await;
    b.fill("#password", "une phrase de passe assez longue")
        .await;
    b.submit_form("form[action='/connexion'] button[type=submit]")
        .await;
    b.second_factor(&app, "claire@gironde.example").await;
    b.visit(
        &format!("{}/financeur/alertes", app.base),
        "financeur-alertes",
    )
    .await;
    b.check_axe("financeur-alertes").await;
    assert!(b
        .page_source()
        .await
        .contains("Séances en dehors des horaires"));
    b.fill("#note-1", "Vu avec le lieu.").await;
    b.submit_form("form[action$='/examinee'] button[type=submit]")
        .await;
    b.check_axe("financeur-alertes-examinee").await;
    assert!(b.text("[role=status]").await.contains("examinée"));
}
