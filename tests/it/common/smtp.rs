//! An SMTP server in the test process (mailin-embedded) that keeps what it receives in memory.

use mailin_embedded::{response, Handler, Response, Server, SslConfig};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct ReceivedMail {
    /// Envelope recipients (RCPT TO).
    pub to: Vec<String>,
    /// The message as sent after DATA (RFC 5322, CRLF line ends, dots unstuffed).
    pub data: String,
}

pub struct SmtpSink {
    /// `smtp://127.0.0.1:PORT`, plain SMTP without TLS.
    pub url: String,
    pub port: u16,
    received: Arc<Mutex<Vec<ReceivedMail>>>,
}

/// One per connection (mailin clones it), so the message being received is per session.
#[derive(Clone)]
struct Collector {
    received: Arc<Mutex<Vec<ReceivedMail>>>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Collector {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mail = ReceivedMail {
            to: std::mem::take(&mut self.to),
            data: String::from_utf8_lossy(&std::mem::take(&mut self.data)).into_owned(),
        };
        lock(&self.received).push(mail);
        response::OK
    }
}

fn lock(m: &Mutex<Vec<ReceivedMail>>) -> std::sync::MutexGuard<'_, Vec<ReceivedMail>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SmtpSink {
    /// Listens on a random port of 127.0.0.1. The server thread blocks in accept() until the
    /// test process ends: mailin has no shutdown, and a parked thread costs nothing.
    pub fn start() -> SmtpSink {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind SMTP sink");
        let port = listener.local_addr().expect("sink address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let mut server = Server::new(Collector {
            received: received.clone(),
            to: Vec::new(),
            data: Vec::new(),
        });
        server
            .with_name("sink.test")
            .with_ssl(SslConfig::None)
            .expect("no TLS")
            // Pooled client connections each hold a thread while idle.
            .with_num_threads(16)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpSink {
            url: format!("smtp://127.0.0.1:{port}"),
            port,
            received,
        }
    }

    pub fn messages(&self) -> Vec<ReceivedMail> {
        lock(&self.received).clone()
    }

    /// Waits (10 s at most) until `n` messages have arrived, and returns all received so far.
    pub async fn wait_for(&self, n: usize) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.messages();
            if got.len() >= n || tokio::time::Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A URL where nothing listens: bound then released, so connecting is refused.
pub fn closed_smtp_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    format!("smtp://127.0.0.1:{port}")
}
