//! Every irreversible action of the pages asks first (issue 24): its form, posted, answers a
//! confirmation page naming the action and its object, and changes nothing; the form of that
//! page (the same fields, with `confirm=1`) acts, once even when sent twice. On both databases.

use crate::common;

use common::web::{get, post, signed_in, Page};
use common::{Backend, TestApp};
use jiff::SignedDuration;
use reqwest::StatusCode;

on_both_databases!(
    carnet_cancel_and_undo_ask_first,
    settlement_steps_ask_first,
    disqualification_and_token_revocation_ask_first,
    programme_end_asks_first,
    second_factor_removal_asks_first,
);

/// The fields of the confirmation page's form, as a browser sends them.
pub(crate) fn confirm_fields(page: &Page) -> Vec<(String, String)> {
    let start = page
        .html
        .find("class=\"confirm\"")
        .expect("a confirmation form");
    let form = &page.html[start..page.html[start..].find("</form>").unwrap() + start];
    form.split("<input type=\"hidden\" ")
        .skip(1)
        .map(|tag| {
            let attr = |name: &str| {
                let at = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                let value = &tag[at..at + tag[at..].find('"').unwrap()];
                value
                    .replace("&#39;", "'")
                    .replace("&quot;", "\"")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&")
            };
            (attr("name"), attr("value"))
        })
        .collect()
}

async fn actions(app: &TestApp, action: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM audit_log WHERE action = '{action}'"
    ))
    .await
}

/// Posts the action's form: the confirmation page names the object (`names`) and writes
/// nothing; then its form, sent twice at once, does the action once. Returns the answer.
async fn ask_then_act(
    app: &TestApp,
    client: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
    names: &[&str],
    action: &str,
) -> Page {
    let before = actions(app, action).await;
    let journal = app.count("SELECT COUNT(*) FROM audit_log").await;
    let asked = post(client, url, form).await;
    assert_eq!(asked.status, StatusCode::OK, "{url}: {}", asked.html);
    for name in names {
        assert!(asked.html.contains(name), "{url}: {name}: {}", asked.html);
    }
    assert!(asked.html.contains("Non, revenir"), "{}", asked.html);
    assert!(asked
        .html
        .contains("<button type=\"submit\" class=\"danger\">Oui, "));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log").await,
        journal,
        "{url}: the confirmation page writes nothing"
    );
    let fields = confirm_fields(&asked);
    assert!(fields.contains(&("confirm".into(), "1".into())));
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let (first, second) = tokio::join!(post(client, url, &fields), post(client, url, &fields));
    assert_eq!(first.status, StatusCode::OK, "{url}: {}", first.html);
    assert_eq!(second.status, first.status, "{url}: {}", second.html);
    assert_eq!(first.url, second.url, "{url}: the same answer");
    assert_eq!(
        actions(app, action).await,
        before + 1,
        "{url}: {action} once"
    );
    first
}

async fn carnet_cancel_and_undo_ask_first(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 20).await;
    // The site undoes a session of two cheques.
    let pass = app.issue(&w, 5).await;
    let (status, body) = app
        .redeem(&w.site, pass["vouchers"][0]["code"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let redemption_id = body["id"].as_str().expect("an id").to_string();
    let (site, csrf) = signed_in(&app, &w.site_id, "agent@lieu.example").await;
    let home = get(&site, &format!("{}/lieu", app.base)).await;
    let url = format!("{}/lieu/encaissements/{redemption_id}/annuler", app.base);
    let code = pass["vouchers"][0]["code"].as_str().unwrap();
    let done = ask_then_act(
        &app,
        &site,
        &url,
        &[("csrf", &csrf), ("once", &home.once())],
        &[
            &format!("Annuler l&#39;encaissement du chèque {code} ?"),
            "ne vous sera pas payée",
            "href=\"/lieu\"",
        ],
        "redemption.undone",
    )
    .await;
    assert!(
        done.html.contains("peut de nouveau être utilisé"),
        "{}",
        done.html
    );

    // The distributor cancels a carnet: the confirmation names it and counts what comes back.
    let pass = app.issue(&w, 10).await;
    let (pass_id, pass_code) = (
        pass["id"].as_str().unwrap().to_string(),
        pass["pass_code"].as_str().unwrap().to_string(),
    );
    let (agent, csrf) = signed_in(&app, &w.distributor_id, "agent@distributeur.example").await;
    let carnet_url = format!("{}/distributeur/carnets/{pass_id}", app.base);
    let carnet = get(&agent, &carnet_url).await;
    let done = ask_then_act(
        &app,
        &agent,
        &format!("{carnet_url}/annuler"),
        &[("csrf", &csrf), ("once", &carnet.once())],
        &[
            &format!("Annuler le carnet {pass_code}"),
            "Les 10 chèques non utilisés ne pourront plus être utilisés",
            &format!("href=\"/distributeur/carnets/{pass_id}\""),
            "Oui, annuler le carnet",
        ],
        "pass.cancelled",
    )
    .await;
    assert!(done.html.contains("Le carnet est annulé"), "{}", done.html);
}

async fn settlement_steps_ask_first(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let pass = app.issue(&w, 5).await;
    let (status, body) = app
        .redeem(&w.site, pass["vouchers"][0]["code"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.bank(&w.site_id, &w.site).await;
    app.advance(SignedDuration::from_hours(49));
    let operator_id = app.operator_org().await.id;
    let (op, csrf) = signed_in(&app, &operator_id, "claire@operateur.example").await;
    let batches = format!("{}/operateur/reglements", app.base);
    let until = app
        .now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let list = get(&op, &batches).await;
    let page = post(
        &op,
        &batches,
        &[("csrf", &csrf), ("once", &list.once()), ("until", &until)],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let batch_url = page.url.split('?').next().unwrap().to_string();
    let step = async |what: &str, extra: &[(&str, &str)], names: &[&str], action: &str| {
        let once = get(&op, &batch_url).await.once();
        let mut form = vec![("csrf", csrf.as_str()), ("once", once.as_str())];
        form.extend_from_slice(extra);
        ask_then_act(
            &app,
            &op,
            &format!("{batch_url}/{what}"),
            &form,
            names,
            action,
        )
        .await
    };
    let done = step(
        "approuver",
        &[],
        &[
            "Approuver le lot de règlement jusqu&#39;au",
            "Oui, approuver le lot",
        ],
        "settlement.approved",
    )
    .await;
    assert!(done.html.contains("Le lot est approuvé"), "{}", done.html);
    // Producing the file sends the transfers to the bank: asked first too.
    let exported = step(
        "sepa",
        &[],
        &[
            "Produire le fichier de virement du lot jusqu&#39;au",
            "envoyé à la banque",
            "Oui, produire le fichier",
        ],
        "settlement.exported",
    )
    .await;
    assert!(
        exported.html.contains("Le fichier de virement est prêt"),
        "{}",
        exported.html
    );
    let done = step(
        "payer",
        &[],
        &[
            "Marquer payé le lot de règlement",
            "relevé par e-mail",
            "Oui, le lot est payé",
        ],
        "settlement.paid",
    )
    .await;
    assert!(done.html.contains("Le lot est payé"), "{}", done.html);
    let at = done.html.find("<option value=\"").expect("a line") + 15;
    let line_id = done.html[at..at + done.html[at..].find('"').unwrap()].to_string();
    let done = step(
        "rejets",
        &[
            ("line_id", &line_id),
            ("reason_code", "AC04"),
            ("reason", "Compte clos"),
        ],
        &[
            "Marquer rejeté le virement de",
            "Oui, ce virement est rejeté",
        ],
        "settlement.line_rejected",
    )
    .await;
    assert!(done.html.contains("Rejeté par la banque"), "{}", done.html);
    let done = step(
        "renvois",
        &[("line_id", &line_id)],
        &[
            "Renvoyer le virement de",
            "au même compte ?",
            "Oui, le renvoyer au même compte",
        ],
        "settlement.line_released",
    )
    .await;
    assert_eq!(done.status, StatusCode::OK);
}

async fn disqualification_and_token_revocation_ask_first(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let operator_id = app.operator_org().await.id;
    let (op, csrf) = signed_in(&app, &operator_id, "claire@operateur.example").await;
    let org_url = format!("{}/operateur/organisations/{}", app.base, w.distributor_id);
    let page = get(&op, &org_url).await;
    let at = page.html.find("/jetons/").expect("a token to revoke") + "/jetons/".len();
    let token_id = page.html[at..at + 16].to_string();
    let done = ask_then_act(
        &app,
        &op,
        &format!("{org_url}/jetons/{token_id}/revoquer"),
        &[("csrf", &csrf), ("once", &page.once())],
        &[
            "Révoquer un jeton d&#39;accès à l&#39;API de ",
            &format!("Jeton {token_id}."),
            "seront refusés dès maintenant",
            &format!("href=\"/operateur/organisations/{}\"", w.distributor_id),
        ],
        "api_token.revoked",
    )
    .await;
    assert!(done.html.contains("Révoqué le"), "{}", done.html);

    let url = format!(
        "{}/operateur/organisations/{}/disqualification",
        app.base, w.site_id
    );
    let page = get(&op, &url).await;
    let done = ask_then_act(
        &app,
        &op,
        &url,
        &[
            ("csrf", &csrf),
            ("once", &page.once()),
            ("target", &w.site_id),
            ("reason", "Des chèques encaissés sans accompagnement."),
        ],
        &[
            "Disqualifier définitivement",
            "et tous ses lieux ?",
            "Oui, disqualifier la structure",
            &format!(
                "href=\"/operateur/organisations/{}/disqualification\"",
                w.site_id
            ),
        ],
        "site.disqualified",
    )
    .await;
    assert!(
        done.html.contains("La disqualification est enregistrée"),
        "{}",
        done.html
    );
}

async fn programme_end_asks_first(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let (funder, csrf) = signed_in(&app, &w.funder_id, "claire@financeur.example").await;
    let url = format!("{}/financeur/programmes/{}", app.base, w.program_id);
    let page = get(&funder, &url).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let done = ask_then_act(
        &app,
        &funder,
        &format!("{url}/cloture"),
        &[("csrf", &csrf), ("once", &page.once()), ("closes_on", "")],
        &[
            "Mettre fin au programme ",
            "clos pour de bon",
            "Oui, mettre fin au programme",
            &format!("href=\"/financeur/programmes/{}\"", w.program_id),
        ],
        "program.close_scheduled",
    )
    .await;
    assert!(
        done.html.contains("La fin du programme est prévue"),
        "{}",
        done.html
    );
}

async fn second_factor_removal_asks_first(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let funder_email = "tresorier@financeur.example";
    // A funder sets up a second factor at first login.
    signed_in(&app, &w.funder_id, funder_email).await;
    let operator_id = app.operator_org().await.id;
    let (op, csrf) = signed_in(&app, &operator_id, "claire@operateur.example").await;
    let person: String = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(funder_email)
        .fetch_one(app.state.db.reads())
        .await
        .unwrap();
    let org_url = format!("{}/operateur/organisations/{}", app.base, w.funder_id);
    let page = get(&op, &org_url).await;
    let done = ask_then_act(
        &app,
        &op,
        &format!("{org_url}/personnes/{person}/double-authentification"),
        &[("csrf", &csrf), ("once", &page.once())],
        &[
            "Retirer la double authentification de Camille Martin",
            funder_email,
            "Oui, retirer la double authentification",
            &format!("href=\"/operateur/organisations/{}\"", w.funder_id),
        ],
        "second_factor.reset",
    )
    .await;
    assert!(
        done.html
            .contains("La double authentification de cette personne est retirée"),
        "{}",
        done.html
    );
}
