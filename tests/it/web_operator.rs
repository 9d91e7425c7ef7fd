//! The operator's pages over plain HTTP (a cookie-keeping client, no JavaScript), on both
//! databases: organisations, invitations by e-mail, site qualification, the audit trail and a
//! settlement batch from preparation to payment. The same journey runs in Chromium in
//! `browser_operator.rs`.

use crate::common;

use common::{cookie_client, csrf_of};

use common::mime;
use common::smtp::SmtpSink;
use common::{Backend, TestApp};
use jiff::SignedDuration;
use passnum::mail::Mailer;
use reqwest::StatusCode;

const FROM: &str = "Pass numérique <ne-pas-repondre@passnum.example>";
const PASSWORD: &str = "une phrase de passe assez longue";
const OPERATOR_EMAIL: &str = "claire@operateur.example";

on_both_databases!(
    operator_runs_organisations_people_sites_and_settlements,
    journal_pages_by_fifty_and_filters,
);

/// A page: status, final URL (after redirects), body.
struct Page {
    status: StatusCode,
    url: String,
    html: String,
}

/// Askama writes `'` and `&` as `&#39;` and `&#38;`: put them back so that French sentences and
/// links can be matched.
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

async fn post(client: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> Page {
    let resp = client.post(url).form(form).send().await.expect("sent");
    Page {
        status: resp.status(),
        url: resp.url().to_string(),
        html: readable(resp.text().await.expect("body")),
    }
}

/// Logs in through the form; returns the page reached and the session's CSRF token.
async fn log_in(app: &TestApp, client: &reqwest::Client, email: &str) -> (Page, String) {
    let form = get(client, &format!("{}/connexion", app.base)).await;
    let csrf = csrf_of(&form.html);
    let page = post(
        client,
        &format!("{}/connexion", app.base),
        &[("csrf", &csrf), ("email", email), ("password", PASSWORD)],
    )
    .await;
    let page = match common::web::second_factor(app, client, email, &page.html).await {
        Some(p) => Page {
            status: p.status,
            url: p.url,
            html: readable(p.html),
        },
        None => page,
    };
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let csrf = csrf_of(&page.html);
    (page, csrf)
}

/// An administrator of the operator organisation, signed in.
async fn operator_client(app: &TestApp) -> (reqwest::Client, String) {
    let operator_id = app.operator_org().await.id;
    app.user(
        &operator_id,
        OPERATOR_EMAIL,
        "Claire Opératrice",
        passnum::users::Role::Admin,
        Some(PASSWORD),
    )
    .await;
    sign_in_operator(app).await
}

/// A new session for the operator's administrator.
async fn sign_in_operator(app: &TestApp) -> (reqwest::Client, String) {
    let client = cookie_client();
    let (page, csrf) = log_in(app, &client, OPERATOR_EMAIL).await;
    assert!(page.url.ends_with("/operateur"), "{}", page.url);
    (client, csrf)
}

async fn create_person(app: &TestApp, org_id: &str, email: &str) {
    app.user(
        org_id,
        email,
        "Sam Accueil",
        passnum::users::Role::Agent,
        Some(PASSWORD),
    )
    .await;
}

/// The last path segment of a URL (an id).
fn last_segment(url: &str) -> String {
    url.rsplit('/').next().expect("segment").to_string()
}

/// The text part of a received message.
fn text_of(mail: &common::smtp::ReceivedMail) -> String {
    mime::parts(&mail.data)
        .iter()
        .find(|p| p.media_type() == "text/plain" && !p.is_attachment())
        .unwrap_or_else(|| panic!("no text part in:\n{}", mail.data))
        .text()
}

async fn operator_runs_organisations_people_sites_and_settlements(backend: Backend) {
    let sink = SmtpSink::start();
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mailer = Mailer::new(&sink.url, FROM).expect("mailer");
    let w = app.world(100_000, 20).await;
    let base = app.base.clone();

    // Nobody signed in is sent to log in.
    let anonymous = get(&cookie_client(), &format!("{base}/operateur")).await;
    assert!(anonymous.url.ends_with("/connexion"), "{}", anonymous.url);

    // 1. The organisations, by kind, sites with their qualification.
    let (op, csrf) = operator_client(&app).await;
    // The operator's own notice that their second factor is set up: not what this test follows.
    sqlx::query("DELETE FROM outbox")
        .execute(&mut app.raw().await)
        .await
        .unwrap();
    let home = get(&op, &format!("{base}/operateur")).await;
    assert_eq!(home.status, StatusCode::OK);
    for name in [
        "Département de la Gironde",
        "CCAS de Bordeaux",
        "Médiathèque Mériadeck",
        "Qualifié",
        "31 décembre 2027",
        "<h2>Financeurs (1)</h2>",
        "<h2>Lieux de médiation (1)</h2>",
    ] {
        assert!(home.html.contains(name), "{name} missing: {}", home.html);
    }

    // 2. Creating organisations through the form: errors are shown, values kept.
    let create = format!("{base}/operateur/organisations");
    let refused = post(
        &op,
        &create,
        &[
            ("csrf", &csrf),
            ("kind", "site"),
            ("name", "Espace numérique de Talence"),
            ("siret", "12345678901234"),
            ("department", "33"),
            ("postcode", "33400"),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.html.contains("id=\"erreurs\""), "{}", refused.html);
    assert!(refused.html.contains("href=\"#siret\""), "{}", refused.html);
    assert!(refused.html.contains("Le SIRET doit compter 14 chiffres"));
    assert!(refused
        .html
        .contains("value=\"Espace numérique de Talence\""));
    let refused = post(
        &op,
        &create,
        &[
            ("csrf", &csrf),
            ("kind", "operator"),
            ("name", "Autre opérateur"),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.html.contains("Choisissez le type d'organisation"));
    let site = post(
        &op,
        &create,
        &[
            ("csrf", &csrf),
            ("kind", "site"),
            ("name", "Espace numérique de Talence"),
            ("siret", "73282932000074"),
            ("department", "33"),
            ("postcode", "33400"),
        ],
    )
    .await;
    assert_eq!(site.status, StatusCode::OK, "{}", site.html);
    assert!(
        site.url.contains("/operateur/organisations/"),
        "{}",
        site.url
    );
    assert!(site.html.contains("<h1>Espace numérique de Talence</h1>"));
    assert!(site.html.contains("Non qualifié"));
    let site_id = last_segment(&site.url);
    let site_url = format!("{base}/operateur/organisations/{site_id}");
    let distributor = post(
        &op,
        &create,
        &[
            ("csrf", &csrf),
            ("kind", "distributor"),
            ("name", "Mairie de Pessac"),
            ("siret", ""),
            ("department", "33"),
            ("postcode", ""),
        ],
    )
    .await;
    assert_eq!(distributor.status, StatusCode::OK, "{}", distributor.html);
    let distributor_url = distributor.url.clone();
    let home = get(&op, &format!("{base}/operateur")).await;
    assert!(home.html.contains("<h2>Lieux de médiation (2)</h2>"));
    assert!(home.html.contains("Mairie de Pessac"));

    // 3. Inviting a person: an e-mail with a one-time link.
    let invite = format!("{distributor_url}/invitations");
    let invited = post(
        &op,
        &invite,
        &[
            ("csrf", &csrf),
            ("name", "Lou Bernard"),
            ("email", "Lou@Pessac.example"),
            ("role", "admin"),
        ],
    )
    .await;
    assert_eq!(invited.status, StatusCode::OK, "{}", invited.html);
    assert!(invited
        .html
        .contains("Invitation envoyée à Lou Bernard (lou@pessac.example)"));
    assert!(invited
        .html
        .contains("n'a pas encore choisi son mot de passe"));
    let again = post(
        &op,
        &invite,
        &[
            ("csrf", &csrf),
            ("name", "Lou Bernard"),
            ("email", "lou@pessac.example"),
            ("role", "agent"),
        ],
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again
        .html
        .contains("Un compte existe déjà avec cette adresse e-mail."));
    assert!(again.html.contains("value=\"lou@pessac.example\""), "kept");

    let sent = passnum::mail::deliver_due(&app.state.db, &mailer, app.now())
        .await
        .expect("delivery");
    assert_eq!(sent, 1);
    let received = sink.wait_for(1).await;
    assert_eq!(received[0].to, vec!["lou@pessac.example".to_string()]);
    let subject = mime::header(&mime::top_headers(&received[0].data), "Subject").expect("subject");
    assert_eq!(
        mime::decode_rfc2047(&subject),
        "Votre accès à l'espace professionnel du Pass numérique"
    );
    let text = text_of(&received[0]);
    assert!(text.contains("Bonjour Lou Bernard"), "{text}");
    assert!(text.contains("Mairie de Pessac"), "{text}");
    let link_prefix = format!("{}/invitation/", app.state.config.public_url);
    let at = text
        .find(&link_prefix)
        .unwrap_or_else(|| panic!("no link in {text}"));
    let token: String = text[at + link_prefix.len()..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    assert!(token.len() >= 40, "{token}");

    // The invited person follows the link, chooses a password and logs in.
    let lou = cookie_client();
    let form = get(&lou, &format!("{base}/invitation/{token}")).await;
    assert_eq!(form.status, StatusCode::OK);
    let lou_csrf = csrf_of(&form.html);
    let done = post(
        &lou,
        &format!("{base}/invitation/{token}"),
        &[
            ("csrf", &lou_csrf),
            ("password", PASSWORD),
            ("confirmation", PASSWORD),
        ],
    )
    .await;
    assert!(
        done.url.contains("/connexion?fait=mot-de-passe"),
        "{}",
        done.url
    );
    let (landing, _) = log_in(&app, &lou, "lou@pessac.example").await;
    assert!(landing.url.ends_with("/distributeur"), "{}", landing.url);
    // Not an operator: refused.
    let refused = get(&lou, &format!("{base}/operateur")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = get(&lou, &format!("{base}/operateur/journal")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let used = get(&op, &distributor_url).await;
    assert!(used.html.contains("<td>Actif</td>"), "{}", used.html);

    // 4. A token for the new site, shown once.
    let with_token = post(&op, &format!("{site_url}/jetons"), &[("csrf", &csrf)]).await;
    assert_eq!(with_token.status, StatusCode::OK);
    let at = with_token
        .html
        .find("<code class=\"token\">")
        .expect("token shown");
    let rest = &with_token.html[at + 20..];
    let site_token = rest[..rest.find('<').expect("end")].to_string();
    assert!(site_token.starts_with("pn_"), "{site_token}");
    let again = get(&op, &site_url).await;
    assert!(!again.html.contains(&site_token), "shown only once");

    // 5. Qualified: it redeems. Suspended with a reason: refused, and told why.
    let qualify = format!("{site_url}/qualification");
    let past = post(
        &op,
        &qualify,
        &[
            ("csrf", &csrf),
            ("status", "qualified"),
            ("valid_until", "2026-01-31"),
        ],
    )
    .await;
    assert_eq!(past.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        past.html.contains("aujourd'hui ou plus tard"),
        "{}",
        past.html
    );
    assert!(
        site.html.contains("value=\"2027-03-02\""),
        "default: one year"
    );
    let qualified = post(
        &op,
        &qualify,
        &[
            ("csrf", &csrf),
            ("status", "qualified"),
            ("valid_until", "2026-12-31"),
        ],
    )
    .await;
    assert_eq!(qualified.status, StatusCode::OK, "{}", qualified.html);
    assert!(qualified
        .html
        .contains("Espace numérique de Talence est qualifié jusqu'au 31 décembre 2026."));
    let pass = app.issue(&w, 5).await;
    let code = |i: usize| pass["vouchers"][i]["code"].as_str().unwrap().to_string();
    let (status, body) = app.redeem(&site_token, &code(0)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Decisions taken at distinct times, so that their order is known.
    app.advance(SignedDuration::from_mins(5));
    create_person(&app, &site_id, "accueil@talence.example").await;
    let no_reason = post(
        &op,
        &qualify,
        &[("csrf", &csrf), ("status", "suspended"), ("reason", "  ")],
    )
    .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_reason.html.contains("Indiquez le motif"));
    let suspended = post(
        &op,
        &qualify,
        &[
            ("csrf", &csrf),
            ("status", "suspended"),
            ("reason", "Locaux fermés pour travaux"),
        ],
    )
    .await;
    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.html);
    assert!(suspended.html.contains("est suspendu"));
    assert!(suspended.html.contains("Locaux fermés pour travaux"));
    let (status, body) = app.redeem(&site_token, &code(1)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(common::error_code(&body), "site_not_qualified");
    let sent = passnum::mail::deliver_due(&app.state.db, &mailer, app.now())
        .await
        .expect("delivery");
    assert_eq!(sent, 1, "the site's person is told");
    let received = sink.wait_for(2).await;
    assert_eq!(received[1].to, vec!["accueil@talence.example".to_string()]);
    assert!(text_of(&received[1]).contains("Motif : Locaux fermés pour travaux"));
    let home = get(&op, &format!("{base}/operateur")).await;
    assert!(home.html.contains("<td>Suspendu</td>"), "{}", home.html);

    // 6. The audit trail lists those decisions, who made them and when (Paris time).
    let journal = get(&op, &format!("{base}/operateur/journal")).await;
    assert_eq!(journal.status, StatusCode::OK);
    for text in [
        "Lieu qualifié",
        "jusqu'au 31 décembre 2026",
        "Lieu suspendu",
        "Motif de la suspension",
        "Locaux fermés pour travaux",
        "Personne invitée",
        "Jeton d'API créé",
        "Organisation créée",
        "Opérateur du Pass numérique",
        "2 mars 2026 à 12:00",
    ] {
        assert!(journal.html.contains(text), "{text}: {}", journal.html);
    }
    let newest = journal.html.find("Motif de la suspension").unwrap();
    let oldest = journal.html.find("Lieu qualifié").unwrap();
    assert!(newest < oldest, "newest first");
    let filtered = get(
        &op,
        &format!("{base}/operateur/journal?action=site.&sujet={site_id}"),
    )
    .await;
    assert!(filtered.html.contains("Lieu suspendu"));
    assert!(!filtered.html.contains("Jeton d'API créé"));
    assert!(!filtered.html.contains("Médiathèque Mériadeck"));
    assert!(
        filtered.html.contains("<h2>3 décisions</h2>"),
        "{}",
        filtered.html
    );

    // 7. A settlement batch, from preparation to payment.
    let (status, body) = app.redeem(&w.site, &code(2)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let batches = format!("{base}/operateur/reglements");
    let list = get(&op, &batches).await;
    assert!(list.html.contains("Aucun lot"));
    assert!(
        list.html.contains("value=\"2026-03-02\""),
        "today by default"
    );
    let nothing = post(&op, &batches, &[("csrf", &csrf), ("until", "2026-03-02")]).await;
    assert_eq!(nothing.status, StatusCode::CONFLICT);
    assert!(nothing.html.contains("role=\"alert\""));
    assert!(
        nothing.html.contains("Aucun encaissement à régler"),
        "{}",
        nothing.html
    );
    app.bank(&w.site_id, &w.site).await;
    app.bank(&site_id, &site_token).await;
    app.advance(SignedDuration::from_hours(49));
    // Sessions last 12 hours.
    let (op, csrf) = sign_in_operator(&app).await;
    let batch = post(&op, &batches, &[("csrf", &csrf), ("until", "2026-03-04")]).await;
    assert_eq!(batch.status, StatusCode::OK, "{}", batch.html);
    assert!(
        batch.url.contains("/operateur/reglements/"),
        "{}",
        batch.url
    );
    let batch_url = batch.url.clone();
    for text in [
        "Lot de règlement jusqu'au 4 mars 2026",
        "20,00\u{a0}€",
        "Médiathèque Mériadeck",
        "Espace numérique de Talence",
        "Pass numérique 2026",
        "À approuver",
    ] {
        assert!(batch.html.contains(text), "{text}: {}", batch.html);
    }
    let sepa = format!("{batch_url}/sepa");
    let early = post(&op, &sepa, &[("csrf", &csrf)]).await;
    assert_eq!(early.status, StatusCode::CONFLICT);
    assert!(early.html.contains("doit être approuvé"), "{}", early.html);
    let approved = post(
        &op,
        &format!("{batch_url}/approuver"),
        &[("csrf", &csrf), ("confirm", "1")],
    )
    .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.html);
    assert!(approved.html.contains("Le lot est approuvé"));
    let twice = post(
        &op,
        &format!("{batch_url}/approuver"),
        &[("csrf", &csrf), ("confirm", "1")],
    )
    .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert!(twice
        .html
        .contains("Cette étape n'est pas possible maintenant"));
    assert!(twice.html.contains("role=\"alert\""));
    let exported = post(&op, &sepa, &[("csrf", &csrf), ("confirm", "1")]).await;
    assert_eq!(exported.status, StatusCode::OK, "{}", exported.html);
    assert!(exported.html.contains("Le fichier de virement est prêt"));
    // Reading the file changes nothing, and it is the same file at every download.
    let resp = op
        .get(format!("{batch_url}/virements.xml"))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::OK);
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert!(header("content-type").starts_with("application/xml"));
    assert!(header("content-disposition").starts_with("attachment; filename="));
    let xml = resp.text().await.expect("xml");
    assert!(
        xml.contains("urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"),
        "{xml}"
    );
    assert!(xml.contains("FR1420041010050500013M02606"), "{xml}");
    let exported = get(&op, &batch_url).await;
    assert!(exported
        .html
        .contains("Fichier de virement envoyé à la banque"));
    let paid = post(
        &op,
        &format!("{batch_url}/payer"),
        &[("csrf", &csrf), ("confirm", "1")],
    )
    .await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.html);
    assert!(paid.html.contains("Le lot est payé"));
    let at = paid
        .html
        .find("<option value=\"")
        .expect("a line to reject");
    let rest = &paid.html[at + 15..];
    let line_id = rest[..rest.find('"').unwrap()].to_string();
    let rejected = post(
        &op,
        &format!("{batch_url}/rejets"),
        &[
            ("csrf", &csrf),
            ("confirm", "1"),
            ("line_id", &line_id),
            ("reason", "Compte clos"),
        ],
    )
    .await;
    assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.html);
    assert!(rejected.html.contains("Rejeté par la banque : Compte clos"));
    let again = post(
        &op,
        &format!("{batch_url}/rejets"),
        &[
            ("csrf", &csrf),
            ("confirm", "1"),
            ("line_id", &line_id),
            ("reason", "Compte clos"),
        ],
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.html.contains("déjà marquée comme rejetée"));
    let list = get(&op, &batches).await;
    assert!(list.html.contains("Lot du 4 mars 2026"));
    assert!(list.html.contains("<td>Payé</td>"), "{}", list.html);
    let journal = get(&op, &format!("{base}/operateur/journal?action=settlement.")).await;
    for text in [
        "Lot de règlement préparé",
        "Lot approuvé",
        "Fichier de virement produit",
        "Lot payé",
        "Virement rejeté par la banque",
        "Lot jusqu'au 4 mars 2026",
    ] {
        assert!(journal.html.contains(text), "{text}: {}", journal.html);
    }
    assert!(!journal.html.contains("Lieu qualifié"));

    // Forms without the session's token are refused.
    let forged = post(&op, &format!("{batch_url}/payer"), &[("csrf", "forged")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    app.assert_ledger_verifies().await;
}

async fn journal_pages_by_fifty_and_filters(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let operator_id = {
        let mut conn = app.state.db.read().await.expect("conn");
        passnum::orgs::operator_exists(&mut conn)
            .await
            .expect("query")
            .expect("operator")
    };
    // 120 entries about one subject, one second apart; the newest is numbered 119.
    let (now, operator) = (app.now(), operator_id.clone());
    app.write(move |tx| {
        Box::pin(async move {
            for i in 0..120i64 {
                let at = now.checked_add(SignedDuration::from_secs(i)).expect("time");
                let action = if i % 4 == 0 {
                    "bankXaccount.changed"
                } else {
                    "bank_account.changed"
                };
                passnum::audit::record(
                    tx,
                    &passnum::clock::format_ts(at),
                    Some(&operator),
                    action,
                    Some("subject-1"),
                    &format!("entry {i:03}"),
                )
                .await?;
            }
            Ok(())
        })
    })
    .await
    .expect("record");
    let (op, _) = operator_client(&app).await;
    let url = |query: &str| format!("{}/operateur/journal?{query}", app.base);
    let rows = |html: &str| html.matches("<time datetime=").count();

    let first = get(&op, &url("sujet=subject-1")).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(rows(&first.html), 50);
    assert!(
        first.html.contains("120 décisions — page 1 sur 3"),
        "{}",
        first.html
    );
    assert!(first.html.contains("entry 119"));
    assert!(!first.html.contains("entry 069"));
    let pager = &first.html[first.html.find("class=\"pager\"").expect("pager")..];
    assert!(
        pager.contains("href=\"/operateur/journal?sujet=subject-1&page=2\""),
        "{pager}"
    );
    assert!(!first.html.contains("Page précédente"));
    let last = get(&op, &url("sujet=subject-1&page=3")).await;
    assert_eq!(rows(&last.html), 20);
    assert!(last.html.contains("entry 000"));
    assert!(last.html.contains("Page précédente"));
    assert!(!last.html.contains("Page suivante"));
    let beyond = get(&op, &url("sujet=subject-1&page=99")).await;
    assert!(beyond.html.contains("page 3 sur 3"));
    let junk = get(&op, &url("sujet=subject-1&page=abc")).await;
    assert!(junk.html.contains("page 1 sur 3"));

    // '_' in a prefix is a character, not a wildcard.
    let bank = get(&op, &url("action=bank_account.&sujet=subject-1")).await;
    assert!(bank.html.contains("90 décisions"), "{}", bank.html);
    assert!(!bank.html.contains("bankXaccount"));
    assert!(bank
        .html
        .contains("<option value=\"bank_account.\" selected>"));
    let upper = get(&op, &url("action=BANKX")).await;
    assert!(upper.html.contains("30 décisions"), "{}", upper.html);
    assert!(upper.html.contains("Commençant par « bankx »"));
    let none = get(&op, &url("sujet=nothing-here")).await;
    assert!(none.html.contains("Aucune décision ne correspond."));
}
