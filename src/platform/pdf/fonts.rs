//! Standard-14 fonts (never embedded) with WinAnsi text encoding, and the glyph widths that
//! line wrapping and right-alignment need.
//!
//! The width tables come from the metrics of URW's NimbusSans Regular and Bold (Debian's
//! `fonts-urw-base35`), which are metric-compatible with Helvetica. They were generated once by a
//! script; the build does not read any font file.

use pdf_writer::Name;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Font {
    Regular,
    Bold,
    /// Courier-Bold: every code character gets the same width, so codes are easy to read out.
    Mono,
}

impl Font {
    pub(crate) const ALL: [Font; 3] = [Font::Regular, Font::Bold, Font::Mono];

    /// The name in each page's resource dictionary.
    pub(crate) fn resource(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
            Font::Mono => Name(b"F3"),
        }
    }

    pub(crate) fn base_font(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"Helvetica"),
            Font::Bold => Name(b"Helvetica-Bold"),
            Font::Mono => Name(b"Courier-Bold"),
        }
    }

    /// Advance width of one WinAnsi byte, in thousandths of the font size.
    pub(crate) fn advance(self, byte: u8) -> u16 {
        let index = usize::from(byte.max(32) - 32);
        match self {
            Font::Regular => HELVETICA[index],
            Font::Bold => HELVETICA_BOLD[index],
            Font::Mono => 600,
        }
    }

    /// Width in points of WinAnsi-encoded text.
    pub(crate) fn width(self, text: &[u8], size: f32) -> f32 {
        let units: u32 = text.iter().map(|&b| u32::from(self.advance(b))).sum();
        units as f32 * size / 1000.0
    }
}

/// WinAnsi code of U+00A0, the non-breaking space: `wrap` never breaks there.
pub(crate) const NBSP: u8 = 0xA0;

/// Encodes text as WinAnsi (Windows-1252) bytes; characters it lacks become '?'.
pub(crate) fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    encode_into(text, &mut out);
    out
}

/// `encode`, appending to `out`.
pub(crate) fn encode_into(text: &str, out: &mut Vec<u8>) {
    // Printable ASCII is itself in WinAnsi.
    if text.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        out.extend_from_slice(text.as_bytes());
    } else {
        out.extend(text.chars().map(encode_char));
    }
}

fn encode_char(c: char) -> u8 {
    match c {
        ' '..='~' => c as u8,
        '\u{A0}'..='\u{FF}' => c as u8,
        '\t' => b' ',
        // Spaces that must not break (French thousands separator, space before ':' or '€').
        '\u{2007}' | '\u{202F}' | '\u{2060}' => NBSP,
        '\u{2000}'..='\u{200A}' => b' ',
        '\u{2010}' | '\u{2011}' | '\u{2212}' => b'-',
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8A,
        '‹' => 0x8B,
        'Œ' => 0x8C,
        'Ž' => 0x8E,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9A,
        '›' => 0x9B,
        'œ' => 0x9C,
        'ž' => 0x9E,
        'Ÿ' => 0x9F,
        _ => b'?',
    }
}

/// Greedy line breaking at ASCII spaces. A word wider than the line is cut between characters
/// (long URLs in narrow table cells). Always returns at least one (possibly empty) line.
pub(crate) fn wrap(font: Font, size: f32, text: &[u8], max_width: f32) -> Vec<Vec<u8>> {
    let space = font.width(b" ", size);
    let mut lines = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    let mut line_width = 0.0;
    for word in text.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        let word_width = font.width(word, size);
        if !line.is_empty() && line_width + space + word_width <= max_width {
            line.push(b' ');
            line.extend_from_slice(word);
            line_width += space + word_width;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if word_width <= max_width {
            line.extend_from_slice(word);
            line_width = word_width;
            continue;
        }
        line_width = 0.0;
        for &b in word {
            let w = font.width(&[b], size);
            if !line.is_empty() && line_width + w > max_width {
                lines.push(std::mem::take(&mut line));
                line_width = 0.0;
            }
            line.push(b);
            line_width += w;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Shortens text to `max_width`, ending it with '…' when something was cut.
pub(crate) fn truncate(font: Font, size: f32, text: &[u8], max_width: f32) -> Vec<u8> {
    if font.width(text, size) <= max_width {
        return text.to_vec();
    }
    let ellipsis = 0x85;
    let mut out = Vec::with_capacity(text.len());
    let mut width = font.width(&[ellipsis], size);
    for &b in text {
        width += font.width(&[b], size);
        if width > max_width {
            break;
        }
        out.push(b);
    }
    while out.last() == Some(&b' ') {
        out.pop();
    }
    out.push(ellipsis);
    out
}

// Widths of WinAnsi codes 32..=255 in thousandths of an em, from NimbusSans-Regular.afm and
// NimbusSans-Bold.afm. Codes WinAnsi leaves undefined (127, 129, 141, 143, 144, 157) are 0:
// `encode` never produces them.
pub(crate) const HELVETICA: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
    0, 556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0, 0, 222, 222,
    333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667, 278, 333, 556, 556, 556, 556,
    260, 556, 333, 737, 370, 556, 584, 333, 737, 333, 400, 584, 333, 333, 333, 556, 537, 278, 333,
    333, 365, 556, 834, 834, 834, 611, 667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667,
    278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667,
    611, 556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278, 556, 556,
    556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
];

pub(crate) const HELVETICA_BOLD: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667,
    611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556,
    278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
    0, 556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0, 0, 278, 278,
    500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667, 278, 333, 556, 556, 556, 556,
    280, 556, 333, 737, 370, 556, 584, 333, 737, 333, 400, 584, 333, 333, 333, 611, 556, 278, 333,
    333, 365, 556, 834, 834, 834, 611, 722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667,
    278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667,
    611, 556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278, 611, 611,
    611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_french_text_as_winansi() {
        assert_eq!(
            encode("é è à ç"),
            [0xE9, b' ', 0xE8, b' ', 0xE0, b' ', 0xE7]
        );
        assert_eq!(encode("œŒ€’…–"), [0x9C, 0x8C, 0x80, 0x92, 0x85, 0x96]);
        // Narrow no-break space, as ICU puts in "1 234,50 €".
        assert_eq!(encode("1\u{202f}234"), [b'1', NBSP, b'2', b'3', b'4']);
        assert_eq!(encode("→ 日"), b"? ?");
        // Printable ASCII is copied as is, other control characters are not.
        assert_eq!(encode("a\tb\rc~"), b"a b?c~");
    }

    #[test]
    fn widths_match_helvetica_metrics() {
        assert_eq!(Font::Regular.advance(b'A'), 667);
        assert_eq!(Font::Bold.advance(b'A'), 722);
        assert_eq!(Font::Regular.advance(0x80), 556); // €
        assert_eq!(Font::Regular.advance(0xE9), 556); // é
        assert_eq!(Font::Mono.advance(b'W'), 600);
        assert!((Font::Regular.width(b"Hello", 10.0) - 22.78).abs() < 0.01);
    }

    #[test]
    fn wraps_at_spaces_and_cuts_overlong_words() {
        let text = encode("un deux trois quatre cinq");
        let width = Font::Regular.width(b"un deux trois", 10.0);
        let lines = wrap(Font::Regular, 10.0, &text, width);
        assert_eq!(lines, [b"un deux trois".to_vec(), b"quatre cinq".to_vec()]);

        let url = b"https://passnum.example/lieux/bordeaux";
        let lines = wrap(Font::Regular, 10.0, url, 60.0);
        assert!(lines.len() > 2);
        assert!(lines.iter().all(|l| Font::Regular.width(l, 10.0) <= 60.0));
        assert_eq!(lines.concat(), url);

        // No break inside "05 56 00 00 00" written with non-breaking spaces.
        let phone = encode("appelez le 05\u{a0}56\u{a0}00\u{a0}00\u{a0}00");
        let lines = wrap(Font::Regular, 10.0, &phone, 80.0);
        assert_eq!(lines.last().map(Vec::len), Some(14));

        assert_eq!(wrap(Font::Regular, 10.0, b"", 50.0), [Vec::<u8>::new()]);
    }

    #[test]
    fn truncates_with_an_ellipsis() {
        let short = truncate(Font::Regular, 10.0, b"Lot 12", 100.0);
        assert_eq!(short, b"Lot 12");
        let cut = truncate(
            Font::Regular,
            10.0,
            &encode("Relevé de règlement du lot"),
            50.0,
        );
        assert_eq!(cut.last(), Some(&0x85));
        assert!(Font::Regular.width(&cut, 10.0) <= 50.0);
    }
}
