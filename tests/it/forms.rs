//! Forms that help, over plain HTTP on both databases: every mistake of the application form
//! listed at once in a focused summary linking to each field, the fields marked `aria-invalid`
//! and described, what was typed kept (check boxes included); the four steps and the recap,
//! sent twice for one application, the follow-up link shown; a SIRET already registered or
//! already applied with refused by the page and the API; the same summary on the other forms.

use crate::applications::valid_form;
use crate::common;

use common::web::{get, post, Page};
use common::{cookie_client, csrf_of, Backend, TestApp};
use reqwest::StatusCode;
use serde_json::json;

on_both_databases!(
    the_application_form_lists_every_mistake_at_once,
    steps_recap_and_sending_twice_make_one_application,
    a_siret_already_registered_or_pending_is_refused,
    other_forms_mark_their_fields,
    the_issuance_form_marks_its_fields,
    the_carnet_page_forms_mark_their_fields,
    the_catalogue_forms_mark_their_fields,
    the_bank_forms_mark_their_fields,
    the_operator_organisation_forms_mark_their_fields,
    the_disqualification_marks_its_reason,
    the_questionnaire_marks_its_questions,
    the_places_import_marks_the_file,
);

fn owned(list: &[(String, String)]) -> Vec<(&str, &str)> {
    list.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn unescape(text: &str) -> String {
    text.replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
}

/// The hidden fields of a page's form (`<input type="hidden" name=… value=…>`), in order.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    const MARK: &str = "<input type=\"hidden\" name=\"";
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(MARK) {
        rest = &rest[at + MARK.len()..];
        let name = &rest[..rest.find('"').expect("name")];
        let value = rest
            .find("value=\"")
            .filter(|v| *v < rest.find('>').expect("end of tag"))
            .map(|v| {
                let value = &rest[v + 7..];
                unescape(&value[..value.find('"').expect("value")])
            })
            .unwrap_or_default();
        if name != "csrf" || !found.iter().any(|(n, _): &(String, String)| n == "csrf") {
            found.push((name.to_string(), value));
        }
    }
    found
}

/// The opening tag of the element with this id.
fn tag_of<'a>(html: &'a str, id: &str) -> &'a str {
    let mark = format!("id=\"{id}\"");
    let at = html
        .find(&mark)
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let start = html[..at].rfind('<').expect("tag start");
    let end = at + html[at..].find('>').expect("tag end");
    &html[start..=end]
}

/// A form refused at its field `id`: answered `status`, the summary taking the focus and
/// linking to the field, the field marked and described by its message, `kept` still in it.
fn assert_marked(page: &Page, status: StatusCode, id: &str, kept: &str) {
    assert_eq!(page.status, status, "{}", page.html);
    let html = unescape(&page.html);
    assert!(html.contains("<title>Erreur — "), "{html}");
    let summary = tag_of(&html, "erreurs");
    assert!(
        summary.contains("autofocus") && summary.contains("tabindex=\"-1\""),
        "{summary}"
    );
    assert!(
        html.contains(&format!("href=\"#{id}\"")),
        "link to {id}: {html}"
    );
    let field = tag_of(&html, id);
    assert!(
        field.contains("aria-invalid=\"true\"") && field.contains(&format!("{id}-erreur")),
        "{field}"
    );
    assert!(field.contains(&format!("value=\"{kept}\"")), "{field}");
}

fn set(form: &mut Vec<(String, String)>, key: &str, value: &str) {
    form.retain(|(k, _)| k != key);
    form.push((key.to_string(), value.to_string()));
}

async fn applications(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM applications").await
}

async fn the_application_form_lists_every_mistake_at_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let client = cookie_client();
    let url = format!("{}/candidature", app.base);
    let form = get(&client, &url).await;
    assert!(
        form.html.contains("Étape 1 sur 4 : votre structure"),
        "{}",
        form.html
    );

    // Step 1 sent empty: both of its mistakes at once, in a summary that takes the focus.
    let page = post(
        &client,
        &url,
        &[
            ("csrf", &form.csrf()),
            ("etape", "1"),
            ("action", "suivant"),
        ],
    )
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.html.contains("2 erreurs à corriger"), "{}", page.html);
    let summary = tag_of(&page.html, "erreurs");
    assert!(
        summary.contains("tabindex=\"-1\"") && summary.contains("autofocus"),
        "{summary}"
    );
    assert!(page.html.contains("href=\"#org_name\"") && page.html.contains("href=\"#siret\""));

    // The whole form with three mistakes (SIRET, IBAN, charter): all three at once.
    let mut data = valid_form(&form.csrf(), "Association Trois Erreurs");
    set(&mut data, "siret", "732 829 320 00075");
    set(&mut data, "iban", "FR14 2004 1010 0505 0001 3M02 607");
    data.retain(|(k, _)| k != "charte");
    let page = post(&client, &url, &owned(&data)).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.html
    );
    let html = unescape(&page.html);
    assert!(
        html.contains("Votre candidature n'est pas encore envoyée : 3 erreurs à corriger"),
        "{html}"
    );
    for id in ["siret", "iban", "charte"] {
        assert!(html.contains(&format!("href=\"#{id}\"")), "link to {id}");
        let field = tag_of(&html, id);
        assert!(field.contains("aria-invalid=\"true\""), "{field}");
        assert!(field.contains(&format!("{id}-erreur")), "{field}");
    }
    // Described by its hint too; fields without mistakes are not marked.
    assert!(tag_of(&html, "siret").contains("aria-describedby=\"siret-aide siret-erreur\""));
    assert!(!tag_of(&html, "holder").contains("aria-invalid"));
    // What was typed is kept, answers checked again.
    assert!(tag_of(&html, "org_name").contains("value=\"Association Trois Erreurs\""));
    assert!(tag_of(&html, "lieu-1-commune").contains("value=\"Bègles\""));
    assert!(tag_of(&html, "q-q-free-non").contains("checked"));
    assert!(!tag_of(&html, "charte").contains("checked"));
    // A ticked box stays ticked when another field is refused.
    let mut data = valid_form(&form.csrf(), "Association Case Cochée");
    set(&mut data, "contact_phone", "12");
    let page = post(&client, &url, &owned(&data)).await;
    assert!(page.html.contains("1 erreur à corriger"), "{}", page.html);
    assert!(tag_of(&page.html, "charte").contains("checked"));
    assert!(tag_of(&page.html, "contact_phone").contains("aria-invalid=\"true\""));
    assert_eq!(applications(&app).await, 0);

    // The API lists the same mistakes, by field.
    let (status, body) = app
        .request(
            reqwest::Method::POST,
            "/api/v1/public/applications",
            None,
            Some(json!({"org_name": "", "siret": "123", "places": [{"name": "Médiathèque", "postcode": "3300"}]})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_fields");
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["field"].as_str().expect("field"))
        .collect();
    for f in [
        "org_name",
        "siret",
        "places[0].address",
        "places[0].postcode",
        "iban",
        "charter",
    ] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
}

async fn steps_recap_and_sending_twice_make_one_application(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let client = cookie_client();
    let url = format!("{}/candidature", app.base);
    let first = get(&client, &url).await;
    let all = valid_form(&first.csrf(), "Association Pas à Pas");
    let value = |name: &str| {
        all.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    // Each step: the hidden fields the page carries, the step's own fields typed.
    let steps: [(&str, &[&str]); 4] = [
        ("Étape 2 sur 4", &["org_name", "siret"]),
        (
            "Étape 3 sur 4",
            &[
                "contact_name",
                "contact_email",
                "contact_phone",
                "legal_name",
                "legal_role",
            ],
        ),
        (
            "Étape 4 sur 4",
            &[
                "lieux",
                "lieu_0_nom",
                "lieu_0_adresse",
                "lieu_0_code_postal",
                "lieu_0_commune",
                "lieu_1_nom",
                "lieu_1_adresse",
                "lieu_1_code_postal",
                "lieu_1_commune",
                "q_q-public",
                "q_q-trained",
                "q_q-open",
                "q_q-no-sale",
                "q_q-free",
            ],
        ),
        ("Vérifiez votre candidature", &["iban", "holder", "charte"]),
    ];
    let mut page: Page = first;
    for (next, names) in steps {
        let mut data = hidden_fields(&page.html);
        for name in names {
            set(&mut data, name, &value(name));
        }
        set(&mut data, "action", "suivant");
        page = post(&client, &url, &owned(&data)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert!(page.html.contains(next), "{next}: {}", page.html);
    }
    let recap = unescape(&page.html);
    for shown in [
        "Association Pas à Pas",
        "732 829 320 00074",
        "Espace numérique de Bègles",
        "Léa Dupont",
        "Marc Durand, Président",
        "FR14 2004 1010 0505 0001 3M02 606",
        "Acceptée",
        "Modifier",
    ] {
        assert!(recap.contains(shown), "{shown} in {recap}");
    }
    // "Modifier" goes back to a step with everything kept.
    let mut data = hidden_fields(&page.html);
    set(&mut data, "action", "etape_2");
    let step = post(&client, &url, &owned(&data)).await;
    assert!(step.html.contains("Étape 2 sur 4"));
    assert!(tag_of(&step.html, "legal_name").contains("value=\"Marc Durand\""));

    // Sent twice from the recap (a double click): one application, one e-mail.
    let mut data = hidden_fields(&page.html);
    set(&mut data, "action", "envoyer");
    let sent = post(&client, &url, &owned(&data)).await;
    let again = post(&client, &url, &owned(&data)).await;
    assert_eq!(applications(&app).await, 1);
    let acknowledgements = app
        .outbox_subjects()
        .await
        .iter()
        .filter(|(_, s)| s.contains("bien reçue"))
        .count();
    assert_eq!(acknowledgements, 1);
    // Both answers show the private follow-up link, which opens the application.
    for page in [&sent, &again] {
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.url.contains("/candidature/envoyee?suivi="),
            "{}",
            page.url
        );
        assert!(
            page.html.contains("Votre lien personnel de suivi"),
            "{}",
            page.html
        );
    }
    let token = sent.url.split("suivi=").nth(1).expect("token");
    assert_eq!(again.url, sent.url);
    let follow = get(&client, &format!("{}/candidature/suivi/{token}", app.base)).await;
    assert_eq!(follow.status, StatusCode::OK);
    assert!(follow.html.contains("Candidature reçue"), "{}", follow.html);
    // The token itself is nowhere in the database (only its hash, and a sealed copy).
    let stored = app
        .count(&format!(
            "SELECT COUNT(*) FROM idempotency_keys WHERE response_body LIKE '%{token}%'"
        ))
        .await;
    assert_eq!(stored, 0);
}

async fn a_siret_already_registered_or_pending_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let client = cookie_client();
    let url = format!("{}/candidature", app.base);
    let form = get(&client, &url).await;
    let page = post(
        &client,
        &url,
        &owned(&valid_form(&form.csrf(), "Association Clic")),
    )
    .await;
    assert!(page.url.contains("/candidature/envoyee"), "{}", page.html);

    // The same SIRET again, while the first waits: refused at once, with what to do.
    let form = get(&client, &url).await;
    let page = post(&client, &url, &owned(&valid_form(&form.csrf(), "Clic bis"))).await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    let html = unescape(&page.html);
    assert!(html.contains("déjà en cours d'examen"), "{html}");
    assert!(html.contains("href=\"#siret\""));
    assert!(tag_of(&html, "siret").contains("aria-invalid=\"true\""));
    // Caught from the first step already.
    let form = get(&client, &url).await;
    let step = post(
        &client,
        &url,
        &[
            ("csrf", &form.csrf()),
            ("etape", "1"),
            ("action", "suivant"),
            ("org_name", "Clic ter"),
            ("siret", "73282932000074"),
        ],
    )
    .await;
    assert_eq!(step.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unescape(&step.html).contains("déjà en cours d'examen"));
    assert_eq!(applications(&app).await, 1);

    let body = json!({
        "org_name": "Clic API", "siret": "732 829 320 00074",
        "places": [{"name": "Médiathèque", "address": "1 rue de la Paix", "postcode": "33000", "commune": "Bordeaux"}],
        "contact_name": "Léa Dupont", "contact_email": "api@clic.example", "contact_phone": "0556000000",
        "legal_name": "Marc Durand", "legal_role": "Président",
        "iban": "FR14 2004 1010 0505 0001 3M02 606", "holder": "Association Clic",
        "answers": {"q-public": "oui", "q-trained": "oui", "q-open": "oui", "q-no-sale": "oui", "q-free": "non"},
        "charter_accepted": true
    });
    let (status, answer) = app
        .request(
            reqwest::Method::POST,
            "/api/v1/public/applications",
            None,
            Some(body.clone()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["code"], "application_pending");

    // A SIRET that is already an organisation's: refused, pointing to its administrator.
    let (status, created) = app
        .post(
            "/api/v1/organizations",
            &app.operator_token,
            json!({"kind": "site", "name": "Centre social", "siret": "44306184100047", "department": "33", "postcode": "33000"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let mut other = body.clone();
    other["siret"] = json!("443 061 841 00047");
    let (status, answer) = app
        .request(
            reqwest::Method::POST,
            "/api/v1/public/applications",
            None,
            Some(other),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["code"], "siret_registered");
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("administrateur"));
    let form = get(&client, &url).await;
    let mut data = valid_form(&form.csrf(), "Centre social");
    set(&mut data, "siret", "44306184100047");
    let page = post(&client, &url, &owned(&data)).await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(unescape(&page.html).contains("déjà inscrite au Pass numérique"));
    assert_eq!(applications(&app).await, 1);

    // A new SIRET through the API: created.
    let mut fresh = body;
    fresh["siret"] = json!("55203253400646");
    let (status, answer) = app
        .request(
            reqwest::Method::POST,
            "/api/v1/public/applications",
            None,
            Some(fresh),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(applications(&app).await, 2);
}

async fn other_forms_mark_their_fields(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let client = cookie_client();
    // The balance, with a mistyped code: kept, marked, described.
    let page = get(&client, &format!("{}/solde?code=XXXX", app.base)).await;
    let code = tag_of(&page.html, "code");
    assert!(
        code.contains("aria-invalid=\"true\"") && code.contains("value=\"XXXX\""),
        "{code}"
    );
    assert!(
        code.contains("aria-describedby=\"code-aide code-erreur\""),
        "{code}"
    );
    assert!(page.html.contains("1 erreur à corriger"));
    // Login refused: the address kept and the field marked.
    let form = get(&client, &format!("{}/connexion", app.base)).await;
    let page = post(
        &client,
        &format!("{}/connexion", app.base),
        &[
            ("csrf", &csrf_of(&form.html)),
            ("email", "personne@exemple.fr"),
            ("password", "pas le bon mot de passe"),
        ],
    )
    .await;
    let email = tag_of(&page.html, "email");
    assert!(
        email.contains("aria-invalid=\"true\"") && email.contains("personne@exemple.fr"),
        "{email}"
    );
    assert!(tag_of(&page.html, "erreurs").contains("autofocus"));
    // A site's redemption with a mistyped code: kept and marked.
    let w = app.world(10_000, 10).await;
    let (site, csrf) = common::web::signed_in(&app, &w.site_id, "agent@mediatheque.example").await;
    let page = post(
        &site,
        &format!("{}/lieu/encaisser", app.base),
        &[("csrf", &csrf), ("code", "ABCD-EFGH-JK13")],
    )
    .await;
    assert!(page.status.is_client_error(), "{}", page.html);
    let code = tag_of(&page.html, "code");
    assert!(
        code.contains("aria-invalid=\"true\"") && code.contains("ABCD-EFGH-JK13"),
        "{code}"
    );
    assert!(tag_of(&page.html, "erreurs").contains("autofocus"));
    // A reset asked for a malformed address.
    let form = get(&client, &format!("{}/mot-de-passe-oublie", app.base)).await;
    let page = post(
        &client,
        &format!("{}/mot-de-passe-oublie", app.base),
        &[("csrf", &csrf_of(&form.html)), ("email", "pas-une-adresse")],
    )
    .await;
    assert!(
        tag_of(&page.html, "email").contains("aria-invalid=\"true\""),
        "{}",
        page.html
    );
    assert!(tag_of(&page.html, "email").contains("value=\"pas-une-adresse\""));
}

async fn the_issuance_form_marks_its_fields(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 12).await;
    let (agent, csrf) = common::web::signed_in(&app, &w.distributor_id, "agent@ccas.example").await;
    let url = format!("{}/distributeur/carnets", app.base);
    let long = "X".repeat(65);
    let page = post(
        &agent,
        &url,
        &[
            ("csrf", &csrf),
            ("program_id", &w.program_id),
            ("cheques", "10"),
            ("beneficiary_ref", &long),
            ("email", "lea@example.org"),
            ("stock", "1"),
        ],
    )
    .await;
    assert_marked(
        &page,
        StatusCode::UNPROCESSABLE_ENTITY,
        "beneficiary_ref",
        &long,
    );
    assert!(tag_of(&page.html, "beneficiary_ref")
        .contains("beneficiary_ref-aide beneficiary_ref-erreur"));
    // Everything else kept: the address, the size, the stock box.
    assert!(tag_of(&page.html, "email").contains("value=\"lea@example.org\""));
    assert!(tag_of(&page.html, "c10").contains("checked"));
    assert!(!tag_of(&page.html, "c5").contains("checked"));
    assert!(tag_of(&page.html, "stock").contains("checked"));
    // A name and an address where a file number goes: marked at the reference too.
    let page = post(
        &agent,
        &url,
        &[
            ("csrf", &csrf),
            ("program_id", &w.program_id),
            ("cheques", "5"),
            ("beneficiary_ref", "Mme Durand 12 rue des Lilas"),
        ],
    )
    .await;
    assert_marked(
        &page,
        StatusCode::UNPROCESSABLE_ENTITY,
        "beneficiary_ref",
        "Mme Durand 12 rue des Lilas",
    );
    let page = post(
        &agent,
        &url,
        &[
            ("csrf", &csrf),
            ("program_id", &w.program_id),
            ("cheques", "5"),
            ("beneficiary_ref", "FT-7"),
            ("email", "pas-une-adresse"),
        ],
    )
    .await;
    assert_marked(
        &page,
        StatusCode::UNPROCESSABLE_ENTITY,
        "email",
        "pas-une-adresse",
    );
    assert!(tag_of(&page.html, "beneficiary_ref").contains("value=\"FT-7\""));
    // The quota used up: said at the programme's choice.
    let page = post(
        &agent,
        &url,
        &[
            ("csrf", &csrf),
            ("program_id", &w.program_id),
            ("cheques", "10"),
        ],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let page = post(
        &agent,
        &url,
        &[
            ("csrf", &csrf),
            ("program_id", &w.program_id),
            ("cheques", "10"),
        ],
    )
    .await;
    assert!(page.status.is_client_error(), "{}", page.html);
    assert!(
        unescape(&page.html).contains("href=\"#program_id\""),
        "{}",
        page.html
    );
    assert!(tag_of(&page.html, "program_id").contains("aria-invalid=\"true\""));
}

async fn the_carnet_page_forms_mark_their_fields(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 12).await;
    let (agent, csrf) = common::web::signed_in(&app, &w.distributor_id, "agent@ccas.example").await;
    let issued = post(
        &agent,
        &format!("{}/distributeur/carnets", app.base),
        &[
            ("csrf", &csrf),
            ("program_id", &w.program_id),
            ("cheques", "5"),
            ("stock", "1"),
        ],
    )
    .await;
    assert!(
        issued.url.contains("/distributeur/carnets/"),
        "{}",
        issued.html
    );
    let url = issued.url.clone();
    // Activation with a mistyped address: marked, what was typed kept, nothing activated.
    let page = post(
        &agent,
        &format!("{url}/activer"),
        &[
            ("csrf", &csrf),
            ("beneficiary_ref", "FT-9"),
            ("email", "lea.example.org"),
        ],
    )
    .await;
    assert_marked(
        &page,
        StatusCode::UNPROCESSABLE_ENTITY,
        "activation_email",
        "lea.example.org",
    );
    assert!(tag_of(&page.html, "beneficiary_ref").contains("value=\"FT-9\""));
    assert!(!tag_of(&page.html, "email").contains("aria-invalid"));
    assert!(page.html.contains("/activer\""), "still to activate");
    // Sending it to a mistyped address.
    let page = post(
        &agent,
        &format!("{url}/envoyer"),
        &[("csrf", &csrf), ("email", "lea.example.org")],
    )
    .await;
    assert_marked(
        &page,
        StatusCode::UNPROCESSABLE_ENTITY,
        "email",
        "lea.example.org",
    );
    assert!(!tag_of(&page.html, "activation_email").contains("aria-invalid"));
}

async fn the_catalogue_forms_mark_their_fields(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 10).await;
    let (site, csrf) = common::web::signed_in(&app, &w.site_id, "agent@mediatheque.example").await;
    let url = format!("{}/lieu/catalogue", app.base);
    let service = [
        ("csrf", csrf.as_str()),
        ("place_id", w.site_id.as_str()),
        ("title", "Atelier tablette"),
        ("kind", "workshop"),
        ("themes", "admin_money"),
        ("minutes", "120"),
    ];
    // Added with a price out of bounds: the place's form open, marked, what was typed kept.
    let page = post(
        &site,
        &url,
        &[&service[..], &[("price_cheques", "12")]].concat(),
    )
    .await;
    assert_marked(&page, StatusCode::UNPROCESSABLE_ENTITY, "price-1", "12");
    assert!(page.html.contains("<details open>"), "{}", page.html);
    assert!(tag_of(&page.html, "title-1").contains("value=\"Atelier tablette\""));
    assert!(tag_of(&page.html, "theme-1-admin_money").contains("checked"));
    assert!(
        page.html.contains("value=\"120\" selected"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("value=\"workshop\" selected"),
        "{}",
        page.html
    );
    // Added, then changed with a duration that is not a number.
    let page = post(
        &site,
        &url,
        &[&service[..], &[("price_cheques", "2")]].concat(),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let at = page.html.find("/modifier\"").expect("a link to change it");
    let start = page.html[..at].rfind("href=\"").expect("href") + 6;
    let edit = format!("{}{}/modifier", app.base, &page.html[start..at]);
    let page = post(
        &site,
        &edit,
        &[
            &service[..2],
            &service[3..5],
            &[
                ("title", "Atelier tablettes"),
                ("minutes", "deux heures"),
                ("price_cheques", "2"),
            ],
        ]
        .concat(),
    )
    .await;
    assert_marked(
        &page,
        StatusCode::UNPROCESSABLE_ENTITY,
        "minutes",
        "deux heures",
    );
    assert!(tag_of(&page.html, "title").contains("value=\"Atelier tablettes\""));
    assert!(!tag_of(&page.html, "price").contains("aria-invalid"));
}

async fn the_bank_forms_mark_their_fields(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(10_000, 5).await;
    let (site, _) = common::web::signed_in(&app, &w.site_id, "tresorier@lieu.fr").await;
    let url = format!("{}/lieu/banque", app.base);
    let send = async |iban: &'static str, file: &'static [u8]| {
        let form = get(&site, &url).await;
        let (content_type, body) = crate::bank_details::multipart(
            &[
                ("csrf", &form.csrf()),
                ("once", &form.once()),
                ("iban", iban),
                ("bic", ""),
                ("holder", "Médiathèque"),
            ],
            ("RIB.pdf", file),
        );
        let resp = site
            .post(&url)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("sent");
        Page {
            status: resp.status(),
            url: resp.url().to_string(),
            html: resp.text().await.expect("body"),
        }
    };
    let refused = send("FR76 3000 6000", b"%PDF-1.4").await;
    assert_marked(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "iban",
        "FR76 3000 6000",
    );
    assert!(tag_of(&refused.html, "holder").contains("value=\"Médiathèque\""));
    // A file that is not a RIB: said at the file's field.
    let refused = send("DE89 3704 0044 0532 0130 00", b"GIF89a").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(tag_of(&refused.html, "document").contains("aria-invalid=\"true\""));
    assert!(tag_of(&refused.html, "iban").contains("value=\"DE89 3704 0044 0532 0130 00\""));

    // Asked, then refused by the operator without a reason: the reason is marked.
    let asked = send("DE89 3704 0044 0532 0130 00", common::RIB_PDF).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.html);
    let operator_id = app.operator_org().await.id;
    let (op, csrf) = common::web::signed_in(&app, &operator_id, "controle@operateur.fr").await;
    let list = get(&op, &format!("{}/operateur/banque", app.base)).await;
    let at = list.html.find("/decision\"").expect("a decision form");
    let start = list.html[..at].rfind("action=\"").expect("action") + 8;
    let decide = format!("{}{}/decision", app.base, &list.html[start..at]);
    let page = post(
        &op,
        &decide,
        &[("csrf", &csrf), ("decision", "refuser"), ("reason", "")],
    )
    .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.html
    );
    let html = unescape(&page.html);
    assert!(html.contains("href=\"#reason-1\""), "{html}");
    assert!(tag_of(&html, "erreurs").contains("autofocus"));
    let reason = tag_of(&html, "reason-1");
    assert!(
        reason.contains("aria-invalid=\"true\"") && reason.contains("reason-1-erreur"),
        "{reason}"
    );
    assert!(tag_of(&html, "refuse-1").contains("checked"));
}

async fn the_operator_organisation_forms_mark_their_fields(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(10_000, 5).await;
    let operator_id = app.operator_org().await.id;
    let (op, csrf) = common::web::signed_in(&app, &operator_id, "agent@operateur.example").await;
    // Creating an organisation with a wrong SIRET: marked, the rest kept.
    let page = post(
        &op,
        &format!("{}/operateur/organisations", app.base),
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
    assert_marked(
        &page,
        StatusCode::UNPROCESSABLE_ENTITY,
        "siret",
        "12345678901234",
    );
    assert!(tag_of(&page.html, "siret").contains("siret-aide siret-erreur"));
    assert!(tag_of(&page.html, "name").contains("value=\"Espace numérique de Talence\""));
    assert!(page.html.contains("value=\"site\" selected"));
    // Inviting a person with a mistyped address.
    let org = format!("{}/operateur/organisations/{}", app.base, w.distributor_id);
    let page = post(
        &op,
        &format!("{org}/invitations"),
        &[
            ("csrf", &csrf),
            ("name", "Lou Martin"),
            ("email", "lou.ccas.example"),
            ("role", "admin"),
        ],
    )
    .await;
    assert_marked(
        &page,
        StatusCode::UNPROCESSABLE_ENTITY,
        "email",
        "lou.ccas.example",
    );
    assert!(tag_of(&page.html, "name").contains("value=\"Lou Martin\""));
    assert!(tag_of(&page.html, "role-admin").contains("checked"));
    // Suspending a site without a reason.
    let site = format!("{}/operateur/organisations/{}", app.base, w.site_id);
    let page = post(
        &op,
        &format!("{site}/qualification"),
        &[("csrf", &csrf), ("status", "suspended"), ("reason", "  ")],
    )
    .await;
    assert!(page.status.is_client_error(), "{}", page.html);
    assert!(
        unescape(&page.html).contains("href=\"#reason\""),
        "{}",
        page.html
    );
    assert!(tag_of(&page.html, "reason").contains("aria-invalid=\"true\""));
    assert!(tag_of(&page.html, "erreurs").contains("autofocus"));
}

async fn the_disqualification_marks_its_reason(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(10_000, 5).await;
    let operator_id = app.operator_org().await.id;
    let (op, csrf) = common::web::signed_in(&app, &operator_id, "agent@operateur.example").await;
    let url = format!(
        "{}/operateur/organisations/{}/disqualification",
        app.base, w.site_id
    );
    let page = post(
        &op,
        &url,
        &[("csrf", &csrf), ("target", &w.site_id), ("reason", " ")],
    )
    .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.html
    );
    let html = unescape(&page.html);
    assert!(html.contains("<title>Erreur — "), "{html}");
    assert!(tag_of(&html, "erreurs").contains("autofocus"));
    assert!(html.contains("href=\"#reason\""), "{html}");
    let reason = tag_of(&html, "reason");
    assert!(
        reason.contains("aria-invalid=\"true\"")
            && reason.contains("aria-describedby=\"reason-aide reason-erreur\""),
        "{reason}"
    );
    assert!(tag_of(&html, "t-1").contains("checked"));
    assert_eq!(app.count("SELECT COUNT(*) FROM disqualifications").await, 0);
}

async fn the_questionnaire_marks_its_questions(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let operator_id = app.operator_org().await.id;
    let (op, csrf) = common::web::signed_in(&app, &operator_id, "agent@operateur.example").await;
    let url = format!("{}/operateur/questionnaire", app.base);
    let long = "Q".repeat(301);
    let page = post(&op, &url, &[("csrf", &csrf), ("text", &long)]).await;
    assert!(page.status.is_client_error(), "{}", page.html);
    let html = unescape(&page.html);
    assert!(tag_of(&html, "erreurs").contains("autofocus"), "{html}");
    assert!(html.contains("href=\"#new-question\""), "{html}");
    let field = tag_of(&html, "new-question");
    assert!(field.contains("aria-invalid=\"true\"") && field.contains("new-question-erreur"));
    assert!(html.contains(&format!(">{long}</textarea>")), "kept");
    // A question reworded to nothing: its own field marked, the others untouched.
    let list = get(&op, &url).await;
    let at = list
        .html
        .find("action=\"/operateur/questionnaire/")
        .expect("a question")
        + 8;
    let action = &list.html[at..at + list.html[at..].find('"').expect("end")];
    let id = action.rsplit('/').next().expect("id");
    let page = post(
        &op,
        &format!("{}{action}", app.base),
        &[("csrf", &csrf), ("text", " "), ("active", "oui")],
    )
    .await;
    assert!(page.status.is_client_error(), "{}", page.html);
    let html = unescape(&page.html);
    assert!(html.contains(&format!("href=\"#q-{id}\"")), "{html}");
    assert!(tag_of(&html, &format!("q-{id}")).contains("aria-invalid=\"true\""));
    assert!(!tag_of(&html, "new-question").contains("aria-invalid"));
}

async fn the_places_import_marks_the_file(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let operator_id = app.operator_org().await.id;
    let (op, csrf) = common::web::signed_in(&app, &operator_id, "agent@operateur.example").await;
    let url = format!("{}/operateur/lieux", app.base);
    let csv = "id,nom\nx-1,Sans adresse\n";
    let page = post(&op, &url, &[("csrf", &csrf), ("csv", csv)]).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.html
    );
    let html = unescape(&page.html);
    assert!(html.contains("<title>Erreur — "), "{html}");
    assert!(tag_of(&html, "erreurs").contains("autofocus"));
    assert!(html.contains("href=\"#csv\""), "{html}");
    assert!(html.contains("Ligne 1"), "{html}");
    let field = tag_of(&html, "csv");
    assert!(
        field.contains("aria-invalid=\"true\"") && field.contains("csv-erreur"),
        "{field}"
    );
    assert!(html.contains(&format!(">{csv}</textarea>")), "kept: {html}");
}
