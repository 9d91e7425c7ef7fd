//! OpenDocument spreadsheets (`.ods`, the format French administrations are asked to use):
//! one sheet per [`Report`], its title and facts above its table. Cells that read as numbers
//! (`42`, `12,50`) are written as numbers, so that a spreadsheet can add them up; everything
//! else is text, which a spreadsheet never runs as a formula.

use crate::error::{Error, Result};
use crate::report::Report;
use spreadsheet_ods::{Sheet, WorkBook};

/// A workbook with one sheet per `(sheet name, report)`.
pub fn ods_file(sheets: &[(&str, &Report)]) -> Result<Vec<u8>> {
    let mut book = WorkBook::new_empty();
    for (name, report) in sheets {
        let mut sheet = Sheet::new(*name);
        sheet.set_value(0, 0, report.title.as_str());
        let mut row = 1;
        for (key, value) in &report.facts {
            sheet.set_value(row, 0, key.as_str());
            sheet.set_value(row, 1, value.as_str());
            row += 1;
        }
        // A blank line between the facts and the table.
        row += 1;
        for (col, header) in (0u32..).zip(&report.headers) {
            sheet.set_value(row, col, *header);
        }
        for cells in &report.rows {
            row += 1;
            for (col, cell) in (0u32..).zip(cells) {
                match number(cell) {
                    Some(n) => sheet.set_value(row, col, n),
                    None => sheet.set_value(row, col, cell.as_str()),
                }
            }
        }
        book.push_sheet(sheet);
    }
    spreadsheet_ods::write_ods_buf(&mut book, Vec::new())
        .map_err(|e| Error::Internal(anyhow::anyhow!("cannot write the spreadsheet: {e}")))
}

/// `42`, `-3`, `12,50` (a French decimal comma) as a number; anything else is text.
fn number(cell: &str) -> Option<f64> {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    let plain = !digits.is_empty()
        && digits.chars().next().is_some_and(|c| c.is_ascii_digit())
        && digits.chars().all(|c| c.is_ascii_digit() || c == ',')
        && digits.matches(',').count() <= 1;
    plain.then(|| cell.replace(',', ".").parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_text() {
        assert_eq!(number("42"), Some(42.0));
        assert_eq!(number("-12,50"), Some(-12.5));
        assert_eq!(number("mars 2026"), None);
        assert_eq!(number("75 — Paris"), None);
        assert_eq!(number(""), None);
        assert_eq!(number("1,2,3"), None);
    }

    #[test]
    fn written_and_read_back() {
        let report = Report {
            title: "Titre".into(),
            facts: vec![("Programme".into(), "Essai".into())],
            headers: vec!["Mois", "Chèques"],
            widths: vec![0.5, 0.5],
            right: vec![false, true],
            rows: vec![vec!["mars 2026".into(), "3".into()]],
        };
        let bytes = ods_file(&[("Par mois", &report)]).expect("ods");
        let book = spreadsheet_ods::read_ods_buf(&bytes).expect("read");
        let sheet = book.sheet(0);
        assert_eq!(sheet.name(), "Par mois");
        assert_eq!(sheet.value(3, 1).as_str_or(""), "Chèques");
        assert_eq!(sheet.value(4, 1).as_f64_or(0.0), 3.0);
    }
}
