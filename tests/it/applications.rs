//! Applying to the Pass numérique and qualification, over plain HTTP (a cookie-keeping client,
//! no JavaScript), on both databases: refusals that store nothing, the follow-up link by
//! e-mail, changes asked for and resubmitted, qualification creating the site, rejection,
//! renewal reminders sent once, and a disqualified site refused at redemption.

use crate::common;

use common::{cookie_client, csrf_of};

use common::{Backend, TestApp, PASSWORD};
use passnum::users::Role;
use reqwest::StatusCode;
use sqlx::Row;

on_both_databases!(
    bad_applications_are_refused_in_french_and_store_nothing,
    apply_follow_correct_and_qualify,
    rejected_application_shows_its_reason,
    questionnaire_is_edited_by_the_operator,
    renewal_reminders_are_sent_once_at_60_and_15_days,
    disqualified_site_cannot_redeem_nor_be_requalified,
    one_place_is_disqualified_and_stays_out,
    the_form_cannot_flood_a_mailbox,
);

const OPERATOR_EMAIL: &str = "claire@operateur.example";
const CONTACT: &str = "lea.dupont@clic.example";

struct Page {
    status: StatusCode,
    url: String,
    html: String,
}

fn readable(html: String) -> String {
    html.replace("&#39;", "'").replace("&#38;", "&")
}

async fn get(client: &reqwest::Client, url: &str) -> Page {
    let resp = client.get(url).send().await.expect("sent");
    Page {
        status: resp.status(),
        url: resp.url().to_string(),
        html: readable(resp.text().await.expect("body")),
    }
}

async fn post(client: &reqwest::Client, url: &str, form: &[(String, String)]) -> Page {
    let resp = client.post(url).form(form).send().await.expect("sent");
    Page {
        status: resp.status(),
        url: resp.url().to_string(),
        html: readable(resp.text().await.expect("body")),
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A complete, valid application with two places.
pub(crate) fn valid_form(csrf: &str, org_name: &str) -> Vec<(String, String)> {
    pairs(&[
        ("csrf", csrf),
        ("lieux", "2"),
        ("org_name", org_name),
        ("siret", "732 829 320 00074"),
        ("lieu_0_nom", "Médiathèque Jean-Moulin"),
        ("lieu_0_adresse", "1 rue de la Paix"),
        ("lieu_0_code_postal", "33000"),
        ("lieu_0_commune", "Bordeaux"),
        ("lieu_1_nom", "Espace numérique de Bègles"),
        ("lieu_1_adresse", "5 place du Marché"),
        ("lieu_1_code_postal", "33130"),
        ("lieu_1_commune", "Bègles"),
        ("contact_name", "Léa Dupont"),
        ("contact_email", CONTACT),
        ("contact_phone", "05 56 00 00 00"),
        ("legal_name", "Marc Durand"),
        ("legal_role", "Président"),
        ("iban", "FR14 2004 1010 0505 0001 3M02 606"),
        ("holder", "Association Clic"),
        ("q_q-public", "oui"),
        ("q_q-trained", "oui"),
        ("q_q-open", "oui"),
        ("q_q-no-sale", "oui"),
        ("q_q-free", "non"),
        ("charte", "oui"),
        ("action", "envoyer"),
    ])
}

fn set(form: &mut [(String, String)], key: &str, value: &str) {
    for (k, v) in form.iter_mut() {
        if k == key {
            *v = value.to_string();
        }
    }
}

/// `(to, subject, text)` of every queued e-mail, oldest first.
async fn outbox(app: &TestApp) -> Vec<(String, String, String)> {
    let mut conn = app.state.db.read().await.expect("conn");
    sqlx::query("SELECT to_address, subject, text_body FROM outbox ORDER BY created_at, id")
        .fetch_all(&mut *conn)
        .await
        .expect("outbox")
        .iter()
        .map(|r| {
            (
                r.get::<String, _>("to_address"),
                r.get::<String, _>("subject"),
                r.get::<String, _>("text_body"),
            )
        })
        .collect()
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    let mut conn = app.state.db.read().await.expect("conn");
    sqlx::query_scalar("SELECT action FROM audit_log")
        .fetch_all(&mut *conn)
        .await
        .expect("audit")
}

async fn operator_client(app: &TestApp) -> reqwest::Client {
    let operator_id = app.operator_org().await.id;
    app.user(
        &operator_id,
        OPERATOR_EMAIL,
        "Claire Opératrice",
        Role::Admin,
        Some(PASSWORD),
    )
    .await;
    log_in(app, OPERATOR_EMAIL).await
}

async fn log_in(app: &TestApp, email: &str) -> reqwest::Client {
    let client = cookie_client();
    let form = get(&client, &format!("{}/connexion", app.base)).await;
    let csrf = csrf_of(&form.html);
    let page = post(
        &client,
        &format!("{}/connexion", app.base),
        &pairs(&[("csrf", &csrf), ("email", email), ("password", PASSWORD)]),
    )
    .await;
    let page = match common::web::second_factor(app, &client, email, &page.html).await {
        Some(p) => Page {
            status: p.status,
            url: p.url,
            html: readable(p.html),
        },
        None => page,
    };
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    client
}

/// Submits a valid application; returns the applicant's client and follow-up token.
async fn apply(app: &TestApp, org_name: &str) -> (reqwest::Client, String) {
    let client = cookie_client();
    let form = get(&client, &format!("{}/candidature", app.base)).await;
    assert_eq!(form.status, StatusCode::OK);
    let before = outbox(app).await.len();
    let page = post(
        &client,
        &format!("{}/candidature", app.base),
        &valid_form(&csrf_of(&form.html), org_name),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.url.contains("/candidature/envoyee"), "{}", page.url);
    assert!(page.html.contains("Candidature envoyée"));
    let mails = outbox(app).await;
    assert_eq!(mails.len(), before + 1);
    let (to, _, text) = mails
        .into_iter()
        .find(|(_, subject, _)| subject.contains("bien reçue"))
        .expect("the acknowledgement");
    // The address is not confirmed yet: nothing the applicant typed is repeated to it.
    assert!(!text.contains(org_name), "{text}");
    assert_eq!(to, CONTACT);
    const LINK: &str = "/candidature/suivi/";
    let at = text.find(LINK).expect("the follow-up link") + LINK.len();
    let token: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert!(token.len() >= 40, "{token}");
    (client, token)
}

async fn application_id(app: &TestApp, org_name: &str) -> String {
    let mut conn = app.state.db.read().await.expect("conn");
    sqlx::query_scalar("SELECT id FROM applications WHERE org_name = $1")
        .bind(org_name)
        .fetch_one(&mut *conn)
        .await
        .expect("application")
}

async fn decide(
    app: &TestApp,
    operator: &reqwest::Client,
    id: &str,
    what: &str,
    fields: &[(&str, &str)],
) -> Page {
    let detail = get(
        operator,
        &format!("{}/operateur/candidatures/{id}", app.base),
    )
    .await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.html);
    let mut form = pairs(fields);
    form.push(("csrf".into(), csrf_of(&detail.html)));
    // A refusal asks to be confirmed first (`confirmations.rs`).
    form.push(("confirm".into(), "1".into()));
    post(
        operator,
        &format!("{}/operateur/candidatures/{id}/{what}", app.base),
        &form,
    )
    .await
}

async fn bad_applications_are_refused_in_french_and_store_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let client = cookie_client();
    let url = format!("{}/candidature", app.base);
    let form = get(&client, &url).await;
    assert_eq!(form.status, StatusCode::OK);
    // The form opens on its first step; all of it comes back on one page after a refusal.
    assert!(form.html.contains("Étape 1 sur 4"));
    let csrf = csrf_of(&form.html);

    let cases: Vec<(&str, &str, &str)> = vec![
        (
            "siret",
            "732 829 320 00075",
            "Le numéro SIRET doit compter 14 chiffres",
        ),
        (
            "iban",
            "FR76 3000 6000 0112 3456 7890 180",
            "Cet IBAN n'est pas valide",
        ),
        ("charte", "", "acceptez"),
        (
            "q_q-open",
            "",
            "Répondez par oui ou par non à la question d'éligibilité n° 3",
        ),
        (
            "contact_email",
            "pas-une-adresse",
            "L'adresse e-mail n'est pas valide",
        ),
        (
            "lieu_1_code_postal",
            "3313",
            "Lieu n° 2 : le code postal doit compter 5 chiffres",
        ),
    ];
    for (field, value, message) in cases {
        let mut data = valid_form(&csrf, "Association Clic");
        set(&mut data, field, value);
        let page = post(&client, &url, &data).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert!(page.html.contains(message), "{field}: {}", page.html);
        assert!(page
            .html
            .contains("Votre candidature n'est pas encore envoyée"));
        // What was typed stays in the form.
        assert!(page.html.contains("value=\"Association Clic\""), "{field}");
    }
    // No place at all: every place field blank.
    let mut data = valid_form(&csrf, "Association Clic");
    for i in 0..2 {
        for f in ["nom", "adresse", "code_postal", "commune"] {
            set(&mut data, &format!("lieu_{i}_{f}"), "");
        }
    }
    let page = post(&client, &url, &data).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.html.contains("Indiquez au moins un lieu"),
        "{}",
        page.html
    );

    // "Ajouter un lieu" redraws the form with one more block and checks nothing yet.
    let mut data = valid_form(&csrf, "Association Clic");
    set(&mut data, "action", "ajouter_lieu");
    set(&mut data, "siret", "faux");
    let page = post(&client, &url, &data).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("Lieu n° 3"));
    assert!(page.html.contains("value=\"Espace numérique de Bègles\""));
    assert!(!page.html.contains("role=\"alert\""));

    // Without the CSRF token, refused.
    let mut data = valid_form("faux", "Association Clic");
    set(&mut data, "csrf", "pas-le-bon-jeton-pas-le-bon-jeton-xx");
    let page = post(&client, &url, &data).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM application_places").await,
        0
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 0);
    let charter = get(&client, &format!("{}/candidature/charte", app.base)).await;
    assert_eq!(charter.status, StatusCode::OK);
    assert!(charter.html.contains("Ne rien vendre"));
}

async fn apply_follow_correct_and_qualify(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (applicant, token) = apply(&app, "Association Clic").await;
    // Only the token's hash is kept.
    let mut conn = app.state.db.read().await.expect("conn");
    let stored: String = sqlx::query_scalar("SELECT follow_token_hash FROM applications")
        .fetch_one(&mut *conn)
        .await
        .expect("row");
    drop(conn);
    assert_ne!(stored, token);
    assert_eq!(stored.len(), 64);

    let follow_url = format!("{}/candidature/suivi/{token}", app.base);
    let page = get(&applicant, &follow_url).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("Candidature reçue"), "{}", page.html);
    assert!(!page.html.contains("Renvoyer ma candidature"));
    // Anyone else, or a mistyped link, finds nothing.
    let page = get(
        &cookie_client(),
        &format!("{}/candidature/suivi/inconnu", app.base),
    )
    .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page
        .html
        .contains("Ce lien de suivi ne correspond à aucune candidature"));

    let operator = operator_client(&app).await;
    let list = get(&operator, &format!("{}/operateur/candidatures", app.base)).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.html.contains("Association Clic"));
    let id = application_id(&app, "Association Clic").await;
    let page = decide(&app, &operator, &id, "examen", &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("Vous examinez cette candidature"));
    assert!(get(&applicant, &follow_url)
        .await
        .html
        .contains("Candidature en cours d'examen"));

    // An empty message is refused on the page.
    let page = decide(&app, &operator, &id, "modifications", &[("message", " ")]).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page
        .html
        .contains("Écrivez ce que la structure doit changer"));
    let message = "Le lieu n° 2 : précisez l'adresse exacte, avec le numéro.";
    let page = decide(
        &app,
        &operator,
        &id,
        "modifications",
        &[("message", message)],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    // The mock clock stands still: find the message rather than take the last one.
    let mails = outbox(&app).await;
    assert!(
        mails
            .iter()
            .any(|(to, _, text)| to == CONTACT && text.contains(message)),
        "{mails:?}"
    );

    let page = get(&applicant, &follow_url).await;
    assert!(page.html.contains("Modifications demandées"));
    assert!(page.html.contains(message));
    assert!(page.html.contains("Renvoyer ma candidature"));
    assert!(page.html.contains("value=\"5 place du Marché\""));
    // Correct it: the second place's address, and one more place.
    let mut form = valid_form(&csrf_of(&page.html), "Association Clic");
    set(&mut form, "lieu_1_adresse", "5 bis place du Marché");
    set(&mut form, "lieux", "3");
    form.extend(pairs(&[
        ("lieu_2_nom", "Tiers-lieu de Talence"),
        ("lieu_2_adresse", "12 avenue de la Libération"),
        ("lieu_2_code_postal", "33400"),
        ("lieu_2_commune", "Talence"),
    ]));
    // A bad correction is refused on the follow-up page and changes nothing.
    let mut bad = form.clone();
    set(&mut bad, "iban", "FR00");
    let page = post(&applicant, &follow_url, &bad).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.html.contains("Cet IBAN n'est pas valide"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM application_places WHERE address = '5 place du Marché'")
            .await,
        1
    );
    let page = post(&applicant, &follow_url, &form).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("Votre candidature corrigée est envoyée"));
    assert!(page.html.contains("Candidature reçue"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM application_places").await,
        3
    );
    // It cannot be changed again until the operator asks.
    let page = post(&applicant, &follow_url, &form).await;
    assert_eq!(page.status, StatusCode::CONFLICT);

    // A date in the past is refused.
    let page = decide(
        &app,
        &operator,
        &id,
        "qualification",
        &[("valid_until", "2026-01-01")],
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM organizations WHERE kind = 'site'")
            .await,
        0
    );
    let detail = get(
        &operator,
        &format!("{}/operateur/candidatures/{id}", app.base),
    )
    .await;
    assert!(
        detail.html.contains("value=\"2027-03-02\""),
        "default: a year from today"
    );
    let page = decide(
        &app,
        &operator,
        &id,
        "qualification",
        &[("valid_until", "2027-03-02")],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("La structure est qualifiée"));

    let mut conn = app.state.db.read().await.expect("conn");
    let site_id: String = sqlx::query_scalar(
        "SELECT id FROM organizations WHERE kind = 'site' AND siret = '73282932000074' \
         AND qualification_status = 'qualified' AND qualified_until = '2027-03-02'",
    )
    .fetch_one(&mut *conn)
    .await
    .expect("the site organisation");
    let places: Vec<(String, String, String)> = sqlx::query(
        "SELECT nom, adresse, qualification_status FROM places WHERE site_org_id = $1 \
         AND qualified_until = '2027-03-02' ORDER BY nom",
    )
    .bind(&site_id)
    .fetch_all(&mut *conn)
    .await
    .expect("places")
    .iter()
    .map(|r| {
        (
            r.get("nom"),
            r.get("adresse"),
            r.get("qualification_status"),
        )
    })
    .collect();
    assert_eq!(places.len(), 3, "{places:?}");
    assert!(places.iter().all(|p| p.2 == "qualified"));
    assert!(places.iter().any(|p| p.1 == "5 bis place du Marché"));
    let iban: String = sqlx::query_scalar("SELECT iban FROM site_bank_accounts WHERE site_id = $1")
        .bind(&site_id)
        .fetch_one(&mut *conn)
        .await
        .expect("bank account");
    assert_eq!(iban, "FR1420041010050500013M02606");
    let (user_id, role): (String, String) = sqlx::query(
        "SELECT id, role FROM users WHERE org_id = $1 AND email = $2 AND password_hash IS NULL",
    )
    .bind(&site_id)
    .bind(CONTACT)
    .fetch_one(&mut *conn)
    .await
    .map(|r| (r.get("id"), r.get("role")))
    .expect("the contact's account");
    assert_eq!(role, "admin");
    let invitations: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM invitations WHERE user_id = $1")
            .bind(&user_id)
            .fetch_one(&mut *conn)
            .await
            .expect("invitation");
    assert_eq!(invitations, 1);
    drop(conn);
    let (to, _, text) = outbox(&app)
        .await
        .into_iter()
        .find(|(_, subject, _)| subject.contains("acceptée"))
        .expect("the acceptance mail");
    assert_eq!(to, CONTACT);
    assert!(text.contains("/invitation/"), "{text}");
    let actions = audit_actions(&app).await;
    for expected in [
        "application.submitted",
        "application.under_review",
        "application.changes_requested",
        "application.resubmitted",
        "application.qualified",
        "organization.created",
        "site.qualified",
        "bank_account.changed",
        "user.invited",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
    let page = get(&applicant, &follow_url).await;
    assert!(page.html.contains("structure qualifiée"), "{}", page.html);
    assert!(page.html.contains("2 mars 2027"), "{}", page.html);
    // Decided: no second qualification.
    let page = decide(
        &app,
        &operator,
        &id,
        "qualification",
        &[("valid_until", "2027-03-02")],
    )
    .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    // Nor a second organisation for the same SIRET: another application is refused when sent,
    // pointing to the registered structure's administrator.
    let client = cookie_client();
    let url = format!("{}/candidature", app.base);
    let form = get(&client, &url).await;
    let page = post(
        &client,
        &url,
        &valid_form(&csrf_of(&form.html), "Association Clic (bis)"),
    )
    .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(
        page.html.contains("déjà inscrite au Pass numérique"),
        "{}",
        page.html
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM applications WHERE org_name = 'Association Clic (bis)'")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM organizations WHERE kind = 'site'")
            .await,
        1
    );
}

async fn rejected_application_shows_its_reason(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (applicant, token) = apply(&app, "Boutique Télé-Plus").await;
    let operator = operator_client(&app).await;
    let id = application_id(&app, "Boutique Télé-Plus").await;
    let reason =
        "Votre structure vend du matériel : elle ne peut pas être un lieu du Pass numérique.";
    // Refusing asks first, naming the structure; nothing is refused yet.
    let detail = get(
        &operator,
        &format!("{}/operateur/candidatures/{id}", app.base),
    )
    .await;
    let asked = post(
        &operator,
        &format!("{}/operateur/candidatures/{id}/refus", app.base),
        &pairs(&[("csrf", &csrf_of(&detail.html)), ("message", reason)]),
    )
    .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.html);
    assert!(
        asked
            .html
            .contains("Refuser la candidature de Boutique Télé-Plus ?"),
        "{}",
        asked.html
    );
    assert!(asked.html.contains("Oui, refuser la candidature"));
    assert!(!audit_actions(&app)
        .await
        .iter()
        .any(|a| a == "application.rejected"));
    let page = decide(&app, &operator, &id, "refus", &[("message", reason)]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let page = get(
        &applicant,
        &format!("{}/candidature/suivi/{token}", app.base),
    )
    .await;
    assert!(page.html.contains("Candidature refusée"));
    assert!(page.html.contains("Motif du refus"));
    assert!(page.html.contains(reason));
    assert!(outbox(&app).await.iter().any(|m| m.2.contains(reason)));
    assert!(audit_actions(&app)
        .await
        .iter()
        .any(|a| a == "application.rejected"));
    let page = decide(
        &app,
        &operator,
        &id,
        "modifications",
        &[("message", "Trop tard")],
    )
    .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
}

async fn questionnaire_is_edited_by_the_operator(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let operator = operator_client(&app).await;
    let url = format!("{}/operateur/questionnaire", app.base);
    let page = get(&operator, &url).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = csrf_of(&page.html);
    let added = "Votre structure a-t-elle un accès à internet pour le public ?";
    let page = post(&operator, &url, &pairs(&[("csrf", &csrf), ("text", added)])).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains(added));
    let page = post(&operator, &url, &pairs(&[("csrf", &csrf), ("text", "")])).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Reword one question and deactivate another.
    let page = post(
        &operator,
        &format!("{url}/q-public"),
        &pairs(&[
            ("csrf", &csrf),
            ("text", "Aidez-vous des personnes avec le numérique ?"),
            ("active", "oui"),
        ]),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    let page = post(
        &operator,
        &format!("{url}/q-free"),
        &pairs(&[("csrf", &csrf), ("text", "Ouvert à tous ?")]),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("(désactivée)"));

    // The new question must be answered; the form asks the questions as they are now.
    let client = cookie_client();
    let form = get(&client, &format!("{}/candidature", app.base)).await;
    let data = valid_form(&csrf_of(&form.html), "Association Clic");
    let page = post(&client, &format!("{}/candidature", app.base), &data).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.html.contains(added), "{}", page.html);
    assert!(page
        .html
        .contains("Aidez-vous des personnes avec le numérique ?"));
    assert!(!page.html.contains("Ouvert à tous ?"));
    let actions = audit_actions(&app).await;
    assert!(actions.iter().any(|a| a == "question.added"));
    assert!(actions.iter().any(|a| a == "question.changed"));
}

async fn renewal_reminders_are_sent_once_at_60_and_15_days(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // Qualified until 2027-12-31.
    let (site_id, _) = app.qualified_site("Médiathèque Mériadeck").await;
    for (email, role) in [
        ("admin@mediatheque.example", Role::Admin),
        ("agent@mediatheque.example", Role::Agent),
    ] {
        app.user(&site_id, email, "Sam", role, Some(PASSWORD)).await;
    }
    let reminders = || async {
        outbox(&app)
            .await
            .into_iter()
            .filter(|(_, subject, _)| subject.contains("renouveler"))
            .collect::<Vec<_>>()
    };
    let at = |ts: &str| app.clock.set(ts.parse().expect("timestamp"));

    at("2027-10-31T08:00:00Z"); // 61 days before: nothing yet
    passnum::cli::jobs::expire(&app.state).await.expect("run");
    assert!(reminders().await.is_empty());
    at("2027-11-01T08:00:00Z"); // 60 days before
    passnum::cli::jobs::expire(&app.state).await.expect("run");
    passnum::cli::jobs::expire(&app.state).await.expect("rerun");
    let sent = reminders().await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, "admin@mediatheque.example");
    assert!(sent[0].2.contains("31 décembre 2027"), "{}", sent[0].2);
    at("2027-11-20T08:00:00Z");
    passnum::cli::jobs::expire(&app.state).await.expect("run");
    assert_eq!(reminders().await.len(), 1);
    at("2027-12-16T08:00:00Z"); // 15 days before
    passnum::cli::jobs::expire(&app.state).await.expect("run");
    passnum::cli::jobs::expire(&app.state).await.expect("rerun");
    assert_eq!(reminders().await.len(), 2);
    at("2027-12-30T08:00:00Z");
    passnum::cli::jobs::expire(&app.state).await.expect("run");
    assert_eq!(reminders().await.len(), 2);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM qualification_reminders")
            .await,
        2
    );
    assert!(audit_actions(&app)
        .await
        .iter()
        .any(|a| a == "site.renewal_reminder"));
}

async fn disqualified_site_cannot_redeem_nor_be_requalified(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 20).await;
    let pass = app.issue(&w, 5).await;
    let code = |i: usize| {
        pass["vouchers"][i]["code"]
            .as_str()
            .expect("code")
            .to_string()
    };
    let (status, body) = app.redeem(&w.site, &code(0)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let operator = operator_client(&app).await;
    let url = format!(
        "{}/operateur/organisations/{}/disqualification",
        app.base, w.site_id
    );
    let org_page = get(
        &operator,
        &format!("{}/operateur/organisations/{}", app.base, w.site_id),
    )
    .await;
    assert!(org_page.html.contains("/disqualification"));
    let page = get(&operator, &url).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let csrf = csrf_of(&page.html);
    // A reason is required.
    let page = post(
        &operator,
        &url,
        &pairs(&[("csrf", &csrf), ("target", &w.site_id), ("reason", "")]),
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    let reason = "Des chèques ont été encaissés sans accompagnement.";
    let page = post(
        &operator,
        &url,
        &pairs(&[("csrf", &csrf), ("target", &w.site_id), ("reason", reason)]),
    )
    .await;
    // First the confirmation, naming the site; nothing is disqualified yet.
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("et tous ses lieux ?"), "{}", page.html);
    assert!(
        page.html.contains("Oui, disqualifier la structure"),
        "{}",
        page.html
    );
    let page = post(
        &operator,
        &url,
        &pairs(&[
            ("csrf", &csrf),
            ("target", &w.site_id),
            ("reason", reason),
            ("confirm", "1"),
        ]),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("La disqualification est enregistrée"));
    assert!(page.html.contains("déjà disqualifié"));

    let (status, body) = app.redeem(&w.site, &code(1)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(common::error_code(&body), "site_not_qualified");
    // Final: the API cannot qualify it again.
    let (status, body) = app
        .put(
            &format!("/api/v1/sites/{}/qualification", w.site_id),
            &app.operator_token,
            serde_json::json!({"status": "qualified", "valid_until": "2027-12-31"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(common::error_code(&body), "disqualified");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM places WHERE qualification_status = 'qualified'")
            .await,
        0
    );
    // The site reads why, on its page and by e-mail.
    app.person(&w.site_id, "agent@mediatheque.example").await;
    let site = log_in(&app, "agent@mediatheque.example").await;
    let home = get(&site, &format!("{}/lieu", app.base)).await;
    assert!(
        home.html.contains("disqualification définitive"),
        "{}",
        home.html
    );
    assert!(home.html.contains(reason));
    let actions = audit_actions(&app).await;
    assert!(actions.iter().any(|a| a == "site.disqualified"));
}

async fn one_place_is_disqualified_and_stays_out(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    apply(&app, "Association Clic").await;
    let operator = operator_client(&app).await;
    let id = application_id(&app, "Association Clic").await;
    let page = decide(
        &app,
        &operator,
        &id,
        "qualification",
        &[("valid_until", "2027-03-02")],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let mut conn = app.state.db.read().await.expect("conn");
    let site_id: String = sqlx::query_scalar("SELECT site_org_id FROM applications")
        .fetch_one(&mut *conn)
        .await
        .expect("site");
    let place_id: String =
        sqlx::query_scalar("SELECT id FROM places WHERE nom = 'Espace numérique de Bègles'")
            .fetch_one(&mut *conn)
            .await
            .expect("place");
    drop(conn);
    let url = format!(
        "{}/operateur/organisations/{site_id}/disqualification",
        app.base
    );
    let page = get(&operator, &url).await;
    assert!(page
        .html
        .contains("Seulement le lieu « Espace numérique de Bègles »"));
    // A place of another site is not a target here.
    let page = post(
        &operator,
        &url,
        &pairs(&[
            ("csrf", &csrf_of(&page.html)),
            ("target", "inconnu"),
            ("reason", "Fermé"),
        ]),
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    let reason = "Ce lieu a fermé ses portes au public.";
    let page = post(
        &operator,
        &url,
        &pairs(&[
            ("csrf", &csrf_of(&page.html)),
            ("target", &place_id),
            ("reason", reason),
            ("confirm", "1"),
        ]),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let status_of = |id: String| {
        let app = &app;
        async move {
            let mut conn = app.state.db.read().await.expect("conn");
            sqlx::query_scalar::<_, String>("SELECT qualification_status FROM places WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *conn)
                .await
                .expect("status")
        }
    };
    assert_eq!(status_of(place_id.clone()).await, "suspended");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM places WHERE qualification_status = 'qualified'")
            .await,
        1
    );
    // Neither the place alone nor its whole site can bring it back.
    let (status, body) = app
        .put(
            &format!("/api/v1/places/{place_id}/qualification"),
            &app.operator_token,
            serde_json::json!({"status": "qualified", "valid_until": "2027-12-31"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = app
        .put(
            &format!("/api/v1/sites/{site_id}/qualification"),
            &app.operator_token,
            serde_json::json!({"status": "qualified", "valid_until": "2027-12-31"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(status_of(place_id).await, "suspended");
    assert!(audit_actions(&app)
        .await
        .iter()
        .any(|a| a == "place.disqualified"));
    assert!(outbox(&app).await.iter().any(|m| m.2.contains(reason)));
}

async fn the_form_cannot_flood_a_mailbox(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.mail_form_limit = 3).await else {
        return;
    };
    let client = cookie_client();
    let url = format!("{}/candidature", app.base);
    let csrf = csrf_of(&get(&client, &url).await.html);
    // Three structures (a SIRET can only apply once at a time).
    for siret in ["41300000000013", "41300000000021", "41300000000039"] {
        let mut data = valid_form(&csrf, "Association Clic");
        set(&mut data, "siret", siret);
        let page = post(&client, &url, &data).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    }
    let mut data = valid_form(&csrf, "Association Clic");
    set(&mut data, "siret", "41300000000047");
    let page = post(&client, &url, &data).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.html.contains("Trop de tentatives"), "{}", page.html);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 3);
}
