//! The carnet as the beneficiary gets it, end to end: a distributor downloads the PDF and
//! e-mails it through the outbox to a real (in-process) SMTP server. Both copies must print the
//! pass code, the helpline, and exactly the cheques that can still be used — their short codes
//! and their QR codes — and never a cheque already spent.

use crate::common;

use common::{cookie_client, csrf_of};

use common::mime;
use common::pdf::{pdf_qr_payloads, pdf_texts};
use common::smtp::SmtpSink;
use common::{Backend, TestApp};
use passnum::mail::Mailer;
use reqwest::StatusCode;

const FROM: &str = "Pass numérique <ne-pas-repondre@passnum.example>";
const PASSWORD: &str = "une phrase de passe assez longue";
const HELPLINE: &str = "01 00 00 00 00";
const BENEFICIARY: &str = "beneficiaire@example.org";

on_both_databases!(printed_and_emailed_carnet_shows_only_usable_cheques);

/// A cheque as the API issued it.
struct Cheque {
    code: String,
    qr_payload: String,
}

/// What a correct carnet shows.
struct Expected<'a> {
    pass_code: &'a str,
    usable: &'a [Cheque],
    spent: &'a Cheque,
}

async fn post_form(
    client: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let resp = client.post(url).form(form).send().await.expect("sent");
    (resp.status(), resp.text().await.expect("body"))
}

/// Creates an agent of the distributor and signs them in; returns the client and the CSRF token
/// of the signed-in session.
async fn sign_in_distributor(app: &TestApp, distributor_id: &str) -> (reqwest::Client, String) {
    let email = "agent@ccas.example";
    app.user(
        distributor_id,
        email,
        "Camille Martin",
        passnum::users::Role::Agent,
        Some(PASSWORD),
    )
    .await;

    let client = cookie_client();
    let resp = client
        .get(format!("{}/connexion", app.base))
        .send()
        .await
        .expect("sent");
    let csrf = csrf_of(&resp.text().await.expect("body"));
    let (status, html) = post_form(
        &client,
        &format!("{}/connexion", app.base),
        &[("csrf", &csrf), ("email", email), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let csrf = csrf_of(&html);
    (client, csrf)
}

async fn pending(app: &TestApp) -> i64 {
    let mut conn = app.state.db.read().await.expect("conn");
    passnum::mail::pending_count(&mut conn)
        .await
        .expect("count")
}

/// The checks every copy of the carnet must pass, whichever way it reached the beneficiary.
fn assert_carnet_pdf(origin: &str, bytes: &[u8], expected: &Expected) {
    let pages = pdf_texts(bytes);
    assert!(!pages.is_empty(), "{origin}: no pages");
    let text = pages.join("\n");
    assert!(
        text.contains(expected.pass_code),
        "{origin}: pass code {} missing from:\n{text}",
        expected.pass_code
    );
    for cheque in expected.usable {
        assert!(
            text.contains(&cheque.code),
            "{origin}: usable cheque {} missing from:\n{text}",
            cheque.code
        );
    }
    assert!(
        !text.contains(&expected.spent.code),
        "{origin}: spent cheque {} is printed:\n{text}",
        expected.spent.code
    );
    assert!(
        text.contains(HELPLINE),
        "{origin}: helpline {HELPLINE} missing from:\n{text}"
    );

    let scanned = pdf_qr_payloads(bytes);
    let wanted: Vec<&str> = expected
        .usable
        .iter()
        .map(|c| c.qr_payload.as_str())
        .collect();
    assert_eq!(
        scanned, wanted,
        "{origin}: the QR codes must be exactly the usable cheques, in order"
    );
}

async fn printed_and_emailed_carnet_shows_only_usable_cheques(backend: Backend) {
    // 1. An SMTP server, the app, a distributor agent signed in.
    let sink = SmtpSink::start();
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = app.world(100_000, 20).await;
    let (client, csrf) = sign_in_distributor(&app, &w.distributor_id).await;

    // 2. A carnet of 10 issued through the API; its first cheque is spent at a site.
    let pass = app.issue(&w, 10).await;
    let pass_id = pass["id"].as_str().expect("pass id").to_string();
    let pass_code = pass["pass_code"].as_str().expect("pass code").to_string();
    let cheques: Vec<Cheque> = pass["vouchers"]
        .as_array()
        .expect("vouchers")
        .iter()
        .map(|v| Cheque {
            code: v["code"].as_str().expect("code").to_string(),
            qr_payload: v["qr_payload"].as_str().expect("QR payload").to_string(),
        })
        .collect();
    assert_eq!(cheques.len(), 10);
    let (status, body) = app.redeem(&w.site, &cheques[0].code).await;
    assert!(status.is_success(), "redemption refused: {status} {body}");
    let expected = Expected {
        pass_code: &pass_code,
        usable: &cheques[1..],
        spent: &cheques[0],
    };
    let carnet_url = format!("{}/distributeur/carnets/{pass_id}", app.base);

    // 3. The PDF to print.
    let resp = client
        .get(format!("{carnet_url}/pdf"))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::OK);
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(content_type, "application/pdf");
    let printed = resp.bytes().await.expect("PDF body");
    assert_carnet_pdf("downloaded PDF", &printed, &expected);

    // 4. The same carnet by e-mail, through the outbox and SMTP.
    assert_eq!(pending(&app).await, 0);
    let (status, page) = post_form(
        &client,
        &format!("{carnet_url}/envoyer"),
        &[("csrf", &csrf), ("email", BENEFICIARY)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(!page.contains("role=\"alert\""), "{page}");
    assert!(page.contains(BENEFICIARY), "confirmation names the address");
    assert_eq!(pending(&app).await, 1, "one message queued");

    let mailer = Mailer::new(&sink.url, FROM).expect("mailer");
    let sent = passnum::mail::deliver_due(&app.state.db, &mailer, app.now())
        .await
        .expect("delivery runs");
    assert_eq!(sent, 1);
    let received = sink.wait_for(1).await;
    assert_eq!(received.len(), 1, "one message received");
    let mail = &received[0];
    assert_eq!(mail.to, vec![BENEFICIARY.to_string()]);

    let headers = mime::top_headers(&mail.data);
    let to = mime::header(&headers, "To").expect("To");
    assert!(to.contains(BENEFICIARY), "To: {to}");
    let subject = mime::header(&headers, "Subject").expect("Subject");
    assert_eq!(
        mime::decode_rfc2047(&subject),
        "Votre carnet Pass numérique"
    );

    let parts = mime::parts(&mail.data);
    let text = parts
        .iter()
        .find(|p| p.media_type() == "text/plain" && !p.is_attachment())
        .unwrap_or_else(|| panic!("no text part in:\n{}", mail.data))
        .text();
    assert!(
        text.contains(&pass_code),
        "text part lacks the pass code {pass_code}:\n{text}"
    );

    let attachments: Vec<&mime::Part> = parts.iter().filter(|p| p.is_attachment()).collect();
    assert_eq!(attachments.len(), 1, "one attachment");
    let attachment = attachments[0];
    assert_eq!(
        attachment.filename().as_deref(),
        Some(format!("carnet-{pass_code}.pdf").as_str())
    );
    assert_eq!(attachment.media_type(), "application/pdf");
    assert_eq!(
        attachment
            .header("Content-Transfer-Encoding")
            .map(|e| e.to_ascii_lowercase())
            .as_deref(),
        Some("base64")
    );
    assert_carnet_pdf("e-mailed PDF", &attachment.decoded(), &expected);
    assert_eq!(pending(&app).await, 0);

    // 5. A bad address: the page says so, and nothing is queued or sent.
    let (status, page) = post_form(
        &client,
        &format!("{carnet_url}/envoyer"),
        &[("csrf", &csrf), ("email", "beneficiaire.example.org")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(
        page.contains("id=\"erreurs\""),
        "no error summary shown: {page}"
    );
    assert!(page.contains("aria-invalid=\"true\""), "{page}");
    assert_eq!(pending(&app).await, 0, "nothing queued for a bad address");
    let sent = passnum::mail::deliver_due(&app.state.db, &mailer, app.now())
        .await
        .expect("delivery runs");
    assert_eq!(sent, 0);
    assert_eq!(sink.messages().len(), 1);
}
