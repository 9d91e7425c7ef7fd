//! The e-mail outbox: enqueued in the business transaction, delivered over real SMTP to an
//! in-process server, retried with backoff, never sent twice by two senders.

use crate::common;

use common::mime::{decode_rfc2047, header, mime_parts, top_headers};

use base64::Engine as _;
use common::smtp::{closed_smtp_url, SmtpSink};
use common::{Backend, TestApp};
use jiff::Timestamp;
use passnum::clock::format_ts;
use passnum::mail::{self, Attachment, Mailer, Outgoing};
use sqlx::Row;

const FROM: &str = "Pass numérique <ne-pas-repondre@passnum.example>";
const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";

on_both_databases!(
    delivers_text_html_and_attachment,
    rolled_back_message_is_never_sent,
    smtp_failure_is_retried_with_backoff_then_given_up,
    invalid_address_is_refused,
    two_senders_never_send_the_same_message,
);

fn statement_mail(to: &str) -> Outgoing {
    Outgoing {
        to: to.into(),
        subject: "Votre relevé de règlement".into(),
        text_body:
            "Bonjour,\n\nVeuillez trouver ci-joint votre relevé.\n\nL'équipe du Pass numérique"
                .into(),
        html_body: Some(
            "<p>Bonjour,</p><p>Veuillez trouver ci-joint votre <b>relevé</b>.</p>".into(),
        ),
        attachments: vec![Attachment {
            filename: "releve-2026-03.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: PDF.to_vec(),
        }],
    }
}

fn simple_mail(to: &str, subject: &str) -> Outgoing {
    Outgoing {
        to: to.into(),
        subject: subject.into(),
        text_body: "Bonjour.".into(),
        html_body: None,
        attachments: vec![],
    }
}

async fn enqueue_committed(app: &TestApp, mail: &Outgoing) -> String {
    try_enqueue(app, mail).await.expect("enqueued")
}

/// Enqueues in a unit of work of its own: committed if it is accepted.
async fn try_enqueue(app: &TestApp, mail: &Outgoing) -> passnum::error::Result<String> {
    let (mail, now) = (mail.clone(), app.now());
    app.write(move |tx| Box::pin(async move { mail::enqueue(tx, &mail, now).await }))
        .await
}

struct OutboxRow {
    status: String,
    attempts: i64,
    next_attempt_at: String,
    last_error: Option<String>,
    sent_at: Option<String>,
}

async fn outbox_row(app: &TestApp, id: &str) -> OutboxRow {
    let row = sqlx::query(
        "SELECT status, attempts, next_attempt_at, last_error, sent_at FROM outbox WHERE id = $1",
    )
    .bind(id)
    .fetch_one(app.state.db.reads())
    .await
    .expect("outbox row");
    OutboxRow {
        status: row.get("status"),
        attempts: row.get("attempts"),
        next_attempt_at: row.get("next_attempt_at"),
        last_error: row.get("last_error"),
        sent_at: row.get("sent_at"),
    }
}

async fn pending(app: &TestApp) -> i64 {
    let mut conn = app.state.db.read().await.expect("conn");
    mail::pending_count(&mut conn).await.expect("count")
}

async fn delivers_text_html_and_attachment(backend: Backend) {
    let sink = SmtpSink::start();
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mailer = Mailer::new(&sink.url, FROM).expect("mailer");
    let id = enqueue_committed(&app, &statement_mail("tresorerie@mediatheque.example")).await;
    assert_eq!(pending(&app).await, 1);

    let sent = mail::deliver_due(&app.state.db, &mailer, app.now())
        .await
        .expect("delivery runs");
    assert_eq!(sent, 1);
    let received = sink.wait_for(1).await;
    assert_eq!(received.len(), 1);
    let got = &received[0];
    assert_eq!(got.to, vec!["tresorerie@mediatheque.example".to_string()]);

    let headers = top_headers(&got.data);
    assert_eq!(
        decode_rfc2047(&header(&headers, "Subject").expect("Subject")),
        "Votre relevé de règlement"
    );
    let from = decode_rfc2047(&header(&headers, "From").expect("From"));
    assert!(
        from.contains("Pass numérique") && from.contains("<ne-pas-repondre@passnum.example>"),
        "{from}"
    );
    assert_eq!(
        header(&headers, "Message-ID").expect("Message-ID"),
        format!("<{id}@passnum.example>")
    );
    assert!(got.data.contains("multipart/mixed"), "{}", got.data);
    assert!(got.data.contains("multipart/alternative"), "{}", got.data);
    assert!(got.data.contains("text/plain"));
    assert!(got.data.contains("text/html"));
    assert!(got
        .data
        .contains("Content-Disposition: attachment; filename=\"releve-2026-03.pdf\""));

    let part = mime_parts(&got.data)
        .into_iter()
        .find(|p| p.contains("Content-Disposition: attachment"))
        .expect("attachment part");
    let (part_headers, body) = part.split_once("\r\n\r\n").expect("part headers");
    assert!(
        part_headers.contains("Content-Type: application/pdf"),
        "{part_headers}"
    );
    assert!(
        part_headers.contains("Content-Transfer-Encoding: base64"),
        "{part_headers}"
    );
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .expect("base64 body");
    assert_eq!(bytes, PDF);

    let row = outbox_row(&app, &id).await;
    assert_eq!(row.status, "sent");
    assert_eq!(row.attempts, 1);
    assert!(row.sent_at.is_some_and(|at| at >= format_ts(app.now())));
    assert_eq!(pending(&app).await, 0);

    // Sent is final: a later run sends nothing more.
    let again = mail::deliver_due(&app.state.db, &mailer, app.now())
        .await
        .expect("delivery runs");
    assert_eq!(again, 0);
    assert_eq!(sink.messages().len(), 1);
}

async fn rolled_back_message_is_never_sent(backend: Backend) {
    let sink = SmtpSink::start();
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mailer = Mailer::new(&sink.url, FROM).expect("mailer");
    let (mail, now) = (simple_mail("a@b.example", "Annulé"), app.now());
    let rolled_back = app
        .write(move |tx| {
            Box::pin(async move {
                mail::enqueue(tx, &mail, now).await.expect("enqueued");
                // The business change fails after its message was queued.
                Err::<(), _>(passnum::error::Error::conflict("test", "the change fails"))
            })
        })
        .await;
    assert!(rolled_back.is_err());

    assert_eq!(pending(&app).await, 0);
    let sent = mail::deliver_due(&app.state.db, &mailer, app.now())
        .await
        .expect("delivery runs");
    assert_eq!(sent, 0);
    // A committed one afterwards goes through, and only it.
    enqueue_committed(&app, &simple_mail("c@d.example", "Validé")).await;
    let sent = mail::deliver_due(&app.state.db, &mailer, app.now())
        .await
        .expect("delivery runs");
    assert_eq!(sent, 1);
    let received = sink.wait_for(1).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].to, vec!["c@d.example".to_string()]);
}

async fn smtp_failure_is_retried_with_backoff_then_given_up(backend: Backend) {
    let sink = SmtpSink::start();
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let down = Mailer::new(&closed_smtp_url(), FROM).expect("mailer");
    let up = Mailer::new(&sink.url, FROM).expect("mailer");

    // One failure, then success once due again.
    let id = enqueue_committed(&app, &simple_mail("a@b.example", "Réessai")).await;
    let sent = mail::deliver_due(&app.state.db, &down, app.now())
        .await
        .expect("delivery runs despite SMTP failure");
    assert_eq!(sent, 0);
    let row = outbox_row(&app, &id).await;
    assert_eq!(row.status, "pending");
    assert_eq!(row.attempts, 1);
    assert!(row.last_error.as_deref().is_some_and(|e| !e.is_empty()));
    assert!(row.next_attempt_at > format_ts(app.now()));
    let next = row.next_attempt_at.parse::<Timestamp>().expect("timestamp");
    let delay = next.duration_since(app.now()).as_secs_f64();
    assert!((60.0..61.0).contains(&delay), "first retry after {delay}s");

    // Not due yet: nothing happens, even with a working server.
    assert_eq!(
        mail::deliver_due(&app.state.db, &up, app.now())
            .await
            .expect("runs"),
        0
    );
    assert_eq!(outbox_row(&app, &id).await.attempts, 1);

    app.clock.set(next);
    assert_eq!(
        mail::deliver_due(&app.state.db, &up, app.now())
            .await
            .expect("runs"),
        1
    );
    assert_eq!(sink.wait_for(1).await.len(), 1);
    let row = outbox_row(&app, &id).await;
    assert_eq!((row.status.as_str(), row.attempts), ("sent", 2));

    // Ten failures in a row: delays double, then the message is given up.
    let id = enqueue_committed(&app, &simple_mail("c@d.example", "Abandon")).await;
    let mut delays = Vec::new();
    for attempt in 1..=10 {
        let before = app.now();
        assert_eq!(
            mail::deliver_due(&app.state.db, &down, before)
                .await
                .expect("runs"),
            0
        );
        let row = outbox_row(&app, &id).await;
        assert_eq!(row.attempts, attempt);
        if attempt < 10 {
            assert_eq!(row.status, "pending");
            let next = row.next_attempt_at.parse::<Timestamp>().expect("timestamp");
            delays.push(next.duration_since(before).as_mins());
            app.clock.set(next);
        } else {
            assert_eq!(row.status, "failed");
        }
    }
    assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256]);
    assert_eq!(pending(&app).await, 0);
    app.advance(jiff::SignedDuration::from_hours(24));
    assert_eq!(
        mail::deliver_due(&app.state.db, &up, app.now())
            .await
            .expect("runs"),
        0
    );
    assert_eq!(sink.messages().len(), 1);
}

async fn invalid_address_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    for bad in [
        "",
        "jean.dupont",
        "jean@localhost",
        "jean dupont@mairie.fr",
        "@mairie.fr",
    ] {
        let err = try_enqueue(&app, &simple_mail(bad, "x"))
            .await
            .expect_err("refused");
        match err {
            passnum::error::Error::Unprocessable { code, message } => {
                assert_eq!(code, "invalid_email");
                assert_eq!(message, "L'adresse e-mail n'est pas valide.");
            }
            other => panic!("{bad:?}: unexpected {other:?}"),
        }
    }
    let long = format!("{}@mairie.fr", "a".repeat(250));
    assert!(try_enqueue(&app, &simple_mail(&long, "x")).await.is_err());
    assert_eq!(pending(&app).await, 0);
}

async fn two_senders_never_send_the_same_message(backend: Backend) {
    let sink = SmtpSink::start();
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // A second server process on the same database.
    let other = TestApp::spawn_on(&app.database_url, |_| {}).await;
    const N: usize = 30;
    for i in 0..N {
        let mail = simple_mail(
            &format!("beneficiaire{i}@exemple.fr"),
            &format!("Message {i}"),
        );
        enqueue_committed(&app, &mail).await;
    }

    let m1 = Mailer::new(&sink.url, FROM).expect("mailer");
    let m2 = Mailer::new(&sink.url, FROM).expect("mailer");
    let now = app.now();
    let (a, b) = tokio::join!(
        mail::deliver_due(&app.state.db, &m1, now),
        mail::deliver_due(&other.state.db, &m2, now),
    );
    let (a, b) = (a.expect("first sender"), b.expect("second sender"));
    assert_eq!(a + b, N, "sent {a} + {b}");
    let received = sink.wait_for(N).await;
    assert_eq!(received.len(), N);
    let mut ids: Vec<String> = received
        .iter()
        .map(|m| header(&top_headers(&m.data), "Message-ID").expect("Message-ID"))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N, "a message was sent twice");
    assert_eq!(pending(&app).await, 0);
    // Nothing is left for anyone.
    let (a, b) = tokio::join!(
        mail::deliver_due(&app.state.db, &m1, now),
        mail::deliver_due(&other.state.db, &m2, now),
    );
    assert_eq!((a.expect("runs"), b.expect("runs")), (0, 0));
    assert_eq!(sink.messages().len(), N);
}
