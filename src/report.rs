//! A document people read both in a spreadsheet and on paper: a title, a few facts, a table.
//! CSV as used in France (`;` between fields, a decimal comma in amounts) and PDF.

use crate::error::{Error, Result};
use std::sync::Arc;

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
        let mut out = csv::WriterBuilder::new()
            .delimiter(b';')
            .flexible(true)
            .from_writer(Vec::new());
        let write_error = |e: csv::Error| Error::Internal(e.into());
        out.write_record(&self.headers).map_err(write_error)?;
        for row in &self.rows {
            out.write_record(row).map_err(write_error)?;
        }
        let bytes = out
            .into_inner()
            .map_err(|e| Error::Internal(anyhow::anyhow!("CSV: {e}")))?;
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

/// The PDFs of many reports, in their order, rendered on every CPU (off the async workers).
pub async fn pdfs(reports: Arc<[Report]>) -> Result<Vec<Vec<u8>>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(reports.len())
        .max(1);
    let mut handles = Vec::with_capacity(workers);
    for first in 0..workers {
        let reports = reports.clone();
        handles.push(tokio::task::spawn_blocking(move || {
            (first..reports.len())
                .step_by(workers)
                .map(|i| reports[i].pdf())
                .collect::<Vec<_>>()
        }));
    }
    let mut rendered = Vec::with_capacity(workers);
    for handle in handles {
        rendered.push(
            handle
                .await
                .map_err(|e| Error::Internal(anyhow::anyhow!("rendering a PDF: {e}")))?
                .into_iter(),
        );
    }
    // Worker k rendered reports k, k + workers, …: deal them back in order.
    Ok((0..reports.len())
        .filter_map(|i| rendered[i % workers].next())
        .collect())
}
