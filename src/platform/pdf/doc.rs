//! Flowing A4 documents: headings, paragraphs, label/value lines and tables that break across
//! pages, with a footer on every page.

use super::fonts::{self, Font, NBSP};
use super::{Page, Writer, MM, PAGE_HEIGHT, PAGE_WIDTH};

const MARGIN: f32 = 20.0 * MM;
const TEXT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;
const TOP: f32 = PAGE_HEIGHT - MARGIN;
/// Content stops here; the footer lives below.
const BOTTOM: f32 = 22.0 * MM;
const FOOTER_BASELINE: f32 = 12.0 * MM;
const FOOTER_SIZE: f32 = 8.5;

const HEADING_SIZE: f32 = 18.0;
const HEADING_LEADING: f32 = 23.0;
const BODY_SIZE: f32 = 10.0;
const BODY_LEADING: f32 = 13.5;
const BLOCK_GAP: f32 = 7.0;
const CELL_SIZE: f32 = 9.0;
const CELL_LEADING: f32 = 11.5;
const CELL_PAD_X: f32 = 4.0;
const CELL_PAD_Y: f32 = 3.0;

/// An A4 portrait document that flows: text wraps, tables break across pages, and every page
/// has a footer with the document title and "Page n / N".
pub struct Doc {
    title: String,
    done: Vec<Page>,
    page: Page,
    /// Top of the free space left on the current page.
    y: f32,
}

/// Widens each column whose longest word would otherwise be cut over two lines (a cheque code
/// split in two is misread), taking the room from the columns with some to spare, in
/// proportion; unchanged when the longest words cannot all fit the page.
fn fit_longest_words(widths: Vec<f32>, headers: &[&str], rows: &[Vec<String>]) -> Vec<f32> {
    let longest = |font: Font, text: &str| {
        fonts::encode(text)
            .split(|&b| b == b' ' || b == b'\n')
            .map(|word| font.width(word, CELL_SIZE))
            .fold(0.0, f32::max)
    };
    let needed: Vec<f32> = (0..widths.len())
        .map(|c| {
            let cells = rows
                .iter()
                .filter_map(|row| row.get(c))
                .map(|text| longest(Font::Regular, text))
                .fold(0.0, f32::max);
            let header = headers.get(c).map_or(0.0, |h| longest(Font::Bold, h));
            cells.max(header) + 2.0 * CELL_PAD_X
        })
        .collect();
    let missing: f32 = widths
        .iter()
        .zip(&needed)
        .map(|(w, n)| (n - w).max(0.0))
        .sum();
    let spare: f32 = widths
        .iter()
        .zip(&needed)
        .map(|(w, n)| (w - n).max(0.0))
        .sum();
    if missing <= 0.0 || missing > spare {
        return widths;
    }
    let taken = missing / spare;
    widths
        .iter()
        .zip(&needed)
        .map(|(&w, &n)| if w < n { n } else { w - (w - n) * taken })
        .collect()
}

/// Where the baseline goes for a line whose box starts at `top`: the capitals are centred in
/// the leading, whatever the size.
fn baseline(top: f32, size: f32, leading: f32) -> f32 {
    top - leading / 2.0 - size * 0.35
}

/// Encodes and wraps text, keeping the caller's explicit line breaks.
fn wrap_text(font: Font, size: f32, text: &str, width: f32) -> Vec<Vec<u8>> {
    text.split('\n')
        .flat_map(|line| fonts::wrap(font, size, &fonts::encode(line), width))
        .collect()
}

/// Column widths in points: the given fractions scaled to sum to 1, or equal columns when the
/// fractions do not fit the headers.
fn column_widths(columns: usize, fractions: &[f32]) -> Vec<f32> {
    let sum: f32 = fractions.iter().sum();
    let usable = fractions.len() == columns
        && sum > 0.0
        && fractions.iter().all(|f| f.is_finite() && *f >= 0.0);
    if usable {
        fractions.iter().map(|f| f / sum * TEXT_WIDTH).collect()
    } else {
        vec![TEXT_WIDTH / columns as f32; columns]
    }
}

struct Columns<'a> {
    xs: Vec<f32>,
    widths: Vec<f32>,
    right: &'a [bool],
}

impl Doc {
    pub fn new(title: &str) -> Doc {
        Doc {
            title: title.to_owned(),
            done: Vec::new(),
            page: Page::new(),
            y: TOP,
        }
    }

    /// Large bold title line.
    pub fn heading(&mut self, text: &str) {
        let lines = wrap_text(Font::Bold, HEADING_SIZE, text, TEXT_WIDTH);
        if !self.at_top() {
            self.y -= BLOCK_GAP;
        }
        // A heading alone at the bottom of a page reads badly: keep a few lines after it.
        self.ensure(lines.len() as f32 * HEADING_LEADING + 3.0 * BODY_LEADING);
        for line in &lines {
            self.ensure(HEADING_LEADING);
            let y = baseline(self.y, HEADING_SIZE, HEADING_LEADING);
            self.page.text(Font::Bold, HEADING_SIZE, MARGIN, y, line);
            self.y -= HEADING_LEADING;
        }
        self.y -= BLOCK_GAP / 2.0;
    }

    /// Wrapped body text, 10 pt.
    pub fn paragraph(&mut self, text: &str) {
        for line in wrap_text(Font::Regular, BODY_SIZE, text, TEXT_WIDTH) {
            self.ensure(BODY_LEADING);
            let y = baseline(self.y, BODY_SIZE, BODY_LEADING);
            self.page.text(Font::Regular, BODY_SIZE, MARGIN, y, &line);
            self.y -= BODY_LEADING;
        }
        self.y -= BLOCK_GAP;
    }

    /// Label: value lines (label bold), e.g. ("Lot", "2026-03"), ("Total", "1 234,50 €").
    pub fn key_values(&mut self, pairs: &[(&str, &str)]) {
        // French typography: a non-breaking space before the colon.
        let labels: Vec<Vec<u8>> = pairs
            .iter()
            .map(|(label, _)| {
                let mut bytes = fonts::encode(label);
                bytes.extend_from_slice(&[NBSP, b':']);
                bytes
            })
            .collect();
        let gap = 8.0;
        let widest = labels
            .iter()
            .map(|label| Font::Bold.width(label, BODY_SIZE))
            .fold(0.0, f32::max);
        let label_width = (widest + gap).min(TEXT_WIDTH * 0.4);
        for (label, (_, value)) in labels.iter().zip(pairs) {
            let label_lines = fonts::wrap(Font::Bold, BODY_SIZE, label, label_width - gap);
            let value_lines = wrap_text(Font::Regular, BODY_SIZE, value, TEXT_WIDTH - label_width);
            let count = label_lines.len().max(value_lines.len());
            self.ensure((count as f32 * BODY_LEADING).min(TOP - BOTTOM));
            for i in 0..count {
                self.ensure(BODY_LEADING);
                let y = baseline(self.y, BODY_SIZE, BODY_LEADING);
                if let Some(line) = label_lines.get(i) {
                    self.page.text(Font::Bold, BODY_SIZE, MARGIN, y, line);
                }
                if let Some(line) = value_lines.get(i) {
                    let x = MARGIN + label_width;
                    self.page.text(Font::Regular, BODY_SIZE, x, y, line);
                }
                self.y -= BODY_LEADING;
            }
        }
        self.y -= BLOCK_GAP;
    }

    /// A table with a bold header row repeated on each page. `widths` are fractions of the
    /// text width (sum 1.0); `right` says which columns are right-aligned (amounts). Cells wrap.
    pub fn table(
        &mut self,
        headers: &[&str],
        widths: &[f32],
        right: &[bool],
        rows: &[Vec<String>],
    ) {
        if headers.is_empty() {
            return;
        }
        let widths = fit_longest_words(column_widths(headers.len(), widths), headers, rows);
        let xs = widths
            .iter()
            .scan(MARGIN, |x, w| {
                let left = *x;
                *x += w;
                Some(left)
            })
            .collect();
        let columns = Columns { xs, widths, right };
        let wrap_cells = |font: Font, texts: &mut dyn Iterator<Item = &str>| -> Vec<Vec<Vec<u8>>> {
            columns
                .widths
                .iter()
                .map(|w| {
                    let text = texts.next().unwrap_or("");
                    wrap_text(font, CELL_SIZE, text, w - 2.0 * CELL_PAD_X)
                })
                .collect()
        };
        let header = wrap_cells(Font::Bold, &mut headers.iter().copied());
        let header_lines = header.iter().map(Vec::len).max().unwrap_or(1);
        let header_height = row_height(header_lines);

        if !self.at_top() {
            self.y -= BLOCK_GAP / 2.0;
        }
        self.ensure(header_height + row_height(1));
        self.table_header(&columns, &header, header_lines);
        let mut fresh = true;
        // Most rows of a long table (a statement's cheques) are one line per cell: those are
        // drawn from reused buffers, without wrapping.
        let mut single: Vec<Vec<u8>> = vec![Vec::new(); headers.len()];
        for row in rows {
            if one_line_each(&columns, row, &mut single) {
                if self.y - row_height(1) < BOTTOM {
                    self.new_page();
                    self.table_header(&columns, &header, header_lines);
                }
                self.table_row_of_lines(&columns, &single);
                fresh = false;
                continue;
            }
            let mut cells = wrap_cells(Font::Regular, &mut row.iter().map(String::as_str));
            loop {
                let lines = cells.iter().map(Vec::len).max().unwrap_or(1);
                if self.y - row_height(lines) >= BOTTOM {
                    self.table_row(&columns, &cells, lines, Font::Regular);
                    fresh = false;
                    break;
                }
                let fit = ((self.y - BOTTOM - 2.0 * CELL_PAD_Y) / CELL_LEADING).floor();
                let fit = fit.max(0.0) as usize;
                let fits_a_page = row_height(lines) <= TOP - BOTTOM - header_height;
                if fits_a_page || (fit == 0 && !fresh) {
                    self.new_page();
                    self.table_header(&columns, &header, header_lines);
                    fresh = true;
                    continue;
                }
                // Taller than a whole page: print what fits here, carry the rest over.
                let fit = fit.max(1);
                let rest = cells
                    .iter_mut()
                    .map(|cell| cell.split_off(fit.min(cell.len())))
                    .collect();
                self.table_row(&columns, &cells, fit, Font::Regular);
                cells = rest;
                self.new_page();
                self.table_header(&columns, &header, header_lines);
                fresh = true;
            }
        }
        self.y -= BLOCK_GAP;
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.done.push(self.page);
        let total = self.done.len();
        let title = fonts::encode(&self.title);
        let capacity = 4096 + total * 8192;
        let mut writer = Writer::with_capacity(capacity);
        for (index, mut page) in self.done.into_iter().enumerate() {
            footer(&mut page, &title, index + 1, total);
            writer.add_page(page);
        }
        writer.finish(&self.title)
    }

    fn at_top(&self) -> bool {
        self.y >= TOP
    }

    /// Starts a new page unless `height` still fits on this one (or this one is still empty).
    fn ensure(&mut self, height: f32) {
        if self.y - height < BOTTOM && !self.at_top() {
            self.new_page();
        }
    }

    fn new_page(&mut self) {
        let full = std::mem::replace(&mut self.page, Page::new());
        self.done.push(full);
        self.y = TOP;
    }

    fn table_header(&mut self, columns: &Columns, header: &[Vec<Vec<u8>>], lines: usize) {
        self.page
            .line(MARGIN, self.y, MARGIN + TEXT_WIDTH, self.y, 0.8);
        self.table_row(columns, header, lines, Font::Bold);
        self.page
            .line(MARGIN, self.y, MARGIN + TEXT_WIDTH, self.y, 0.8);
    }

    /// Draws a body row of one line per cell, and a rule below it.
    fn table_row_of_lines(&mut self, columns: &Columns, cells: &[Vec<u8>]) {
        let y = baseline(self.y - CELL_PAD_Y, CELL_SIZE, CELL_LEADING);
        for (column, line) in cells.iter().enumerate() {
            let x = columns.xs[column];
            if columns.right.get(column).copied().unwrap_or(false) {
                let edge = x + columns.widths[column] - CELL_PAD_X;
                self.page
                    .text_right(Font::Regular, CELL_SIZE, edge, y, line);
            } else {
                self.page
                    .text(Font::Regular, CELL_SIZE, x + CELL_PAD_X, y, line);
            }
        }
        self.y -= row_height(1);
        self.page
            .line(MARGIN, self.y, MARGIN + TEXT_WIDTH, self.y, 0.3);
    }

    /// Draws the first `lines` lines of each cell and a rule below them.
    fn table_row(&mut self, columns: &Columns, cells: &[Vec<Vec<u8>>], lines: usize, font: Font) {
        for (column, cell) in cells.iter().enumerate() {
            let x = columns.xs[column];
            let width = columns.widths[column];
            let right = columns.right.get(column).copied().unwrap_or(false);
            for (i, line) in cell.iter().take(lines).enumerate() {
                let top = self.y - CELL_PAD_Y - i as f32 * CELL_LEADING;
                let y = baseline(top, CELL_SIZE, CELL_LEADING);
                if right {
                    let edge = x + width - CELL_PAD_X;
                    self.page.text_right(font, CELL_SIZE, edge, y, line);
                } else {
                    self.page.text(font, CELL_SIZE, x + CELL_PAD_X, y, line);
                }
            }
        }
        self.y -= row_height(lines);
        if font == Font::Regular {
            self.page
                .line(MARGIN, self.y, MARGIN + TEXT_WIDTH, self.y, 0.3);
        }
    }
}

/// Encodes each cell of `row` into `out` if every one is a single line that fits its column
/// as `wrap` would print it (no line break, no space to drop).
fn one_line_each(columns: &Columns, row: &[String], out: &mut [Vec<u8>]) -> bool {
    for (i, width) in columns.widths.iter().enumerate() {
        let text = row.get(i).map_or("", String::as_str);
        let bytes = text.as_bytes();
        if text.contains('\n')
            || bytes.first() == Some(&b' ')
            || bytes.last() == Some(&b' ')
            || bytes.windows(2).any(|w| w == b"  ")
        {
            return false;
        }
        let cell = &mut out[i];
        cell.clear();
        fonts::encode_into(text, cell);
        // With room to spare: `wrap` sums the same widths in another order.
        if Font::Regular.width(cell, CELL_SIZE) > width - 2.0 * CELL_PAD_X - 0.01 {
            return false;
        }
    }
    true
}

fn row_height(lines: usize) -> f32 {
    lines.max(1) as f32 * CELL_LEADING + 2.0 * CELL_PAD_Y
}

fn footer(page: &mut Page, title: &[u8], number: usize, total: usize) {
    let rule = FOOTER_BASELINE + 11.0;
    page.line(MARGIN, rule, MARGIN + TEXT_WIDTH, rule, 0.4);
    let numbering = format!("Page {number} / {total}");
    let numbering = numbering.as_bytes();
    let right = MARGIN + TEXT_WIDTH;
    page.text_right(
        Font::Regular,
        FOOTER_SIZE,
        right,
        FOOTER_BASELINE,
        numbering,
    );
    let room = TEXT_WIDTH - Font::Regular.width(numbering, FOOTER_SIZE) - 20.0;
    let title = fonts::truncate(Font::Regular, FOOTER_SIZE, title, room);
    page.text(Font::Regular, FOOTER_SIZE, MARGIN, FOOTER_BASELINE, &title);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdf::readback::{load, page_texts, text_runs};

    #[test]
    fn a_column_is_widened_rather_than_a_word_cut() {
        let code = "WWWW-WWWW-WWWW";
        let rows = vec![vec![
            code.to_string(),
            "Accompagnement individuel".to_string(),
        ]];
        let widths = fit_longest_words(vec![40.0, 400.0], &["Code", "Service"], &rows);
        let room = widths[0] - 2.0 * CELL_PAD_X;
        assert_eq!(wrap_text(Font::Regular, CELL_SIZE, code, room).len(), 1);
        assert!(
            (widths.iter().sum::<f32>() - 440.0).abs() < 0.01,
            "{widths:?}"
        );
        // Nothing to give: left as asked.
        assert_eq!(
            fit_longest_words(
                vec![40.0, 40.0],
                &["", ""],
                &[vec![code.into(), code.into()]]
            ),
            [40.0, 40.0]
        );
    }

    fn statement() -> Vec<u8> {
        let mut doc = Doc::new("Relevé de règlement – lot 2026-03");
        doc.heading("Relevé de règlement");
        doc.paragraph(
            "Ce relevé récapitule les chèques encaissés par les lieux de médiation : \
             accès aux droits, démarches en ligne, œuvre collective. Le garçon de café \
             à la Maison France services reçoit 10 € par chèque.",
        );
        doc.paragraph("Première ligne\nSeconde ligne après un saut.");
        doc.key_values(&[("Lot", "2026-03"), ("Total", "1\u{202f}234,50 €")]);
        let rows: Vec<Vec<String>> = (1..=120)
            .map(|i| {
                let name = if i == 7 {
                    "Médiathèque François-Mitterrand, espace numérique du rez-de-chaussée, \
                     ouvert du lundi au samedi"
                        .to_owned()
                } else {
                    format!("Médiathèque n°{i}")
                };
                vec![format!("S{i:04}"), name, format!("{},00 €", i * 10)]
            })
            .collect();
        doc.table(
            &["Lieu", "Désignation", "Montant"],
            &[0.2, 0.55, 0.25],
            &[false, false, true],
            &rows,
        );
        doc.paragraph("Fin du relevé.");
        doc.finish()
    }

    #[test]
    fn statement_flows_over_pages_with_footers() {
        let pdf = load(&statement());
        let texts = page_texts(&pdf);
        let total = texts.len();
        assert!(total >= 3, "expected 3+ pages, got {total}");
        for (i, text) in texts.iter().enumerate() {
            assert!(
                text.contains(&format!("Page {} / {total}", i + 1)),
                "{text}"
            );
            assert!(
                text.contains("Relevé de règlement – lot 2026-03"),
                "footer title"
            );
            // The header row is repeated on every page the table covers.
            assert!(text.contains("Désignation"), "page {}: {text}", i + 1);
        }
        let all = texts.concat();
        for expected in [
            "Relevé de règlement",
            "œuvre collective",
            "10 € par chèque",
            "Première ligne",
            "Lot :",
            "1 234,50 €",
            "S0001",
            "Médiathèque n°120",
            "1200,00 €",
            "espace numérique du",
            "Fin du relevé.",
        ] {
            assert!(all.contains(expected), "missing {expected:?}");
        }
        // Wrapped paragraphs: no line runs into the right margin.
        for page in 1..=total as u32 {
            for (font, size, x, _, bytes) in text_runs(&pdf, page) {
                let font = if font == "F2" {
                    Font::Bold
                } else {
                    Font::Regular
                };
                assert!(x + font.width(&bytes, size) <= MARGIN + TEXT_WIDTH + 0.01);
            }
        }
    }

    #[test]
    fn amounts_are_right_aligned() {
        let pdf = load(&statement());
        let edges: Vec<f32> = text_runs(&pdf, 2)
            .into_iter()
            .filter(|(_, _, _, _, bytes)| bytes.ends_with(&[b' ', 0x80]) && bytes[0] != b'T')
            .map(|(_, size, x, _, bytes)| x + Font::Regular.width(&bytes, size))
            .collect();
        assert!(edges.len() > 10);
        assert!(
            edges.iter().all(|e| (e - edges[0]).abs() < 0.01),
            "{edges:?}"
        );
    }

    #[test]
    fn a_cell_taller_than_a_page_is_split() {
        let mut doc = Doc::new("Long");
        let long = "mot ".repeat(3000);
        doc.table(
            &["A", "B"],
            &[0.5, 0.5],
            &[false, true],
            &[vec![long, "fin".into()]],
        );
        let pdf = load(&doc.finish());
        assert!(pdf.get_pages().len() >= 3);
        let texts = page_texts(&pdf);
        assert!(texts.iter().all(|t| t.contains('A') && t.contains('B')));
    }

    #[test]
    fn an_empty_document_has_one_page() {
        let pdf = load(&Doc::new("Vide").finish());
        let texts = page_texts(&pdf);
        assert_eq!(texts.len(), 1);
        assert!(texts[0].contains("Page 1 / 1"));
    }
}
