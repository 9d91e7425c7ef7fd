//! A document people read both in a spreadsheet and on paper: a title, a few facts, a table.
//! CSV as used in France (`;` between fields, a decimal comma in amounts) and PDF.

use crate::error::{Error, Result};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// A table with a title, ready to be written as CSV or PDF.
pub struct Report {
    pub title: String,
    pub facts: Vec<(String, String)>,
    pub headers: Vec<&'static str>,
    pub widths: Vec<f32>,
    pub right: Vec<bool>,
    pub rows: Vec<Vec<String>>,
}

impl Report {
    pub fn csv(&self) -> Result<String> {
        let bytes = crate::spreadsheet::csv_file(b';', &self.headers, &self.rows)
            .map_err(|e| Error::Internal(e.into()))?;
        String::from_utf8(bytes).map_err(|e| Error::Internal(e.into()))
    }

    pub fn pdf(&self) -> Vec<u8> {
        let mut doc = crate::pdf::Doc::new(&self.title);
        doc.heading(&self.title);
        let facts: Vec<(&str, &str)> = self
            .facts
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        doc.key_values(&facts);
        doc.table(&self.headers, &self.widths, &self.right, &self.rows);
        doc.finish()
    }
}

/// A report as it is sent: its files, and what a covering message says of it.
pub struct Rendered {
    pub title: String,
    pub facts: Vec<(String, String)>,
    /// Rows of its table.
    pub rows: usize,
    pub pdf: Vec<u8>,
    /// Only when asked for.
    pub csv: Option<String>,
}

impl Report {
    fn render(self, with_csv: bool) -> Result<Rendered> {
        let csv = if with_csv { Some(self.csv()?) } else { None };
        Ok(Rendered {
            pdf: self.pdf(),
            csv,
            rows: self.rows.len(),
            title: self.title,
            facts: self.facts,
        })
    }
}

type Job<K> = (usize, K, Box<dyn FnOnce() -> Report + Send>);
/// What a worker rendered: `(index pushed, key, report)`.
type Done<K> = Vec<(usize, K, Rendered)>;

/// Builds and renders many reports on every CPU, off the async workers, while the caller
/// reads the data of the next ones. A report's rows are dropped once it is rendered.
pub struct Renderer<K> {
    jobs: Option<mpsc::Sender<Job<K>>>,
    workers: Vec<tokio::task::JoinHandle<Result<Done<K>>>>,
    pushed: usize,
}

impl<K: Send + 'static> Renderer<K> {
    pub fn new(with_csv: bool) -> Renderer<K> {
        let count = std::thread::available_parallelism().map_or(1, |n| n.get());
        // A few reports waiting each: enough to keep the workers busy, little held in memory.
        let (jobs, queue) = mpsc::channel::<Job<K>>(2 * count);
        let queue = Arc::new(Mutex::new(queue));
        let workers = (0..count)
            .map(|_| {
                let queue = queue.clone();
                tokio::task::spawn_blocking(move || {
                    let mut done = Vec::new();
                    loop {
                        // One worker waits for the next job while holding the lock, the
                        // others wait for the lock: either way they are idle.
                        let job = queue
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .blocking_recv();
                        let Some((index, key, build)) = job else {
                            return Ok(done);
                        };
                        done.push((index, key, build().render(with_csv)?));
                    }
                })
            })
            .collect();
        Renderer {
            jobs: Some(jobs),
            workers,
            pushed: 0,
        }
    }

    /// Queues a report, built by `build` on a worker; waits while the workers are behind.
    pub async fn push(
        &mut self,
        key: K,
        build: impl FnOnce() -> Report + Send + 'static,
    ) -> Result<()> {
        let index = self.pushed;
        self.pushed += 1;
        let jobs = self.jobs.as_ref().ok_or_else(stopped)?;
        jobs.send((index, key, Box::new(build)))
            .await
            .map_err(|_| stopped())
    }

    /// Every report rendered, in the order pushed.
    pub async fn finish(mut self) -> Result<Vec<(K, Rendered)>> {
        self.jobs = None;
        let mut all = Vec::with_capacity(self.pushed);
        for worker in self.workers.drain(..) {
            let done = worker
                .await
                .map_err(|e| Error::Internal(anyhow::anyhow!("rendering reports: {e}")))??;
            all.extend(done);
        }
        all.sort_by_key(|(index, _, _)| *index);
        Ok(all.into_iter().map(|(_, key, r)| (key, r)).collect())
    }
}

fn stopped() -> Error {
    Error::Internal(anyhow::anyhow!("the report renderers stopped"))
}
