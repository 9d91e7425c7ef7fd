//! CSV files people open in a spreadsheet: every file passnum writes goes through
//! [`csv_file`], so that no cell can run as a formula. Depends on nothing else of the crate
//! (the fuzz targets compile it on its own).

/// Every CSV file passnum writes (reports, exports, open data): a header line, then the rows,
/// quoted where needed, each cell made harmless for spreadsheets ([`safe_cell`]).
pub fn csv_file<R, C>(delimiter: u8, headers: &[&str], rows: R) -> Result<Vec<u8>, csv::Error>
where
    R: IntoIterator,
    R::Item: IntoIterator<Item = C>,
    C: AsRef<str>,
{
    let mut out = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::new());
    out.write_record(headers)?;
    for row in rows {
        let cells: Vec<std::borrow::Cow<'_, str>> = row
            .into_iter()
            .map(|c| std::borrow::Cow::Owned(safe_cell(c.as_ref()).into_owned()))
            .collect();
        out.write_record(cells.iter().map(|c| c.as_ref()))?;
    }
    out.into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}

/// A cell a spreadsheet will show as text, never run: one that starts with `=`, `+`, `-`, `@`,
/// a tab or a carriage return (a formula to Excel or LibreOffice, e.g. `=HYPERLINK(…)`) gets a
/// leading `'`, OWASP's rule, unless it is a plain number (a longitude, a negative amount).
pub fn safe_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && !is_plain_number(cell) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// `-0.5769`, `+33`, `-12,50`: a sign, digits, one decimal point or comma.
fn is_plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix(['-', '+']).unwrap_or(cell);
    let mut separators = 0;
    !digits.is_empty()
        && digits.chars().all(|c| {
            if c == '.' || c == ',' {
                separators += 1;
                separators == 1
            } else {
                c.is_ascii_digit()
            }
        })
        && digits.chars().any(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_numbers_kept() {
        for formula in [
            "=HYPERLINK(\"http://evil.example\",\"clic\")",
            "+cmd|' /C calc'!A0",
            "-2+3",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
        ] {
            assert_eq!(safe_cell(formula), format!("'{formula}"), "{formula}");
        }
        for kept in ["-0.5769", "+33", "-12,50", "Médiathèque", "12 €", ""] {
            assert_eq!(safe_cell(kept), kept);
        }
        let csv = csv_file(b';', &["nom"], [["=1+1"], ["Lieu"]]).unwrap();
        assert_eq!(String::from_utf8(csv).unwrap(), "nom\n'=1+1\nLieu\n");
    }
}
