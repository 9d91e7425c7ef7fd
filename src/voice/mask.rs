//! Free-text comments as the operator reads them: anything that looks like a name, an e-mail
//! address, a phone number or any other number is masked. A heuristic that masks too much
//! rather than too little: a capitalised word that does not start a sentence is taken for a
//! name (a place's name too), and so is a word in capitals or one after a title (Madame, M.).

const TITLES: &[&str] = &[
    "m.",
    "mme",
    "mme.",
    "mlle",
    "mlle.",
    "madame",
    "monsieur",
    "mademoiselle",
    "dr",
    "dr.",
    "docteur",
    "maître",
    "me",
];

/// Masks names (`[nom]`), e-mail addresses (`[courriel]`) and numbers, phone numbers included
/// (`[nombre]`, once for a number written in groups).
pub fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = String::new();
    let mut sentence_start = true;
    let mut after_title = false;
    let mut open_number = false;
    for piece in pieces(text) {
        if piece.starts_with(char::is_whitespace) {
            space.push_str(piece);
            continue;
        }
        let lead_len = piece.len() - piece.trim_start_matches(is_punctuation).len();
        let (lead, rest) = piece.split_at(lead_len);
        let core = rest.trim_end_matches(is_punctuation);
        let trail = &rest[core.len()..];
        let title = TITLES.contains(&piece.trim_matches(is_comma).to_lowercase().as_str());
        let masked = if core.contains('@') {
            Some("[courriel]")
        } else if core.chars().any(|c| c.is_ascii_digit()) {
            Some("[nombre]")
        } else if !title && looks_like_a_name(core, sentence_start, after_title) {
            Some("[nom]")
        } else {
            None
        };
        let number = masked == Some("[nombre]");
        // The "+" of "+33 6…" belongs to the number.
        let lead = if number {
            lead.trim_end_matches('+')
        } else {
            lead
        };
        // "06 12 34 56 78" is one number, masked once.
        if !(number && open_number && lead.is_empty()) {
            out.push_str(&space);
            out.push_str(lead);
            out.push_str(masked.unwrap_or(core));
        }
        out.push_str(trail);
        space.clear();
        open_number = number && trail.is_empty();
        after_title = title;
        sentence_start = if core.is_empty() {
            // A lone "«" or "-" neither starts nor continues a sentence.
            sentence_start || piece.contains(['.', '!', '?'])
        } else {
            !title && trail.contains(['.', '!', '?'])
        };
    }
    out.push_str(&space);
    out
}

/// The text cut into runs of white space and runs of anything else.
fn pieces(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut in_space = None;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if in_space.is_some_and(|s| s != space) {
            pieces.push(&text[start..i]);
            start = i;
        }
        in_space = Some(space);
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

fn is_punctuation(c: char) -> bool {
    !c.is_alphanumeric() && c != '@'
}

fn is_comma(c: char) -> bool {
    c == ',' || c == ';' || c == ':'
}

fn looks_like_a_name(word: &str, sentence_start: bool, after_title: bool) -> bool {
    let Some(first) = word.chars().next() else {
        return false;
    };
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    let shouting = letters >= 2 && word.chars().all(|c| !c.is_lowercase());
    first.is_uppercase() && (after_title || !sentence_start || shouting)
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn names_after_the_start_of_a_sentence_are_masked() {
        assert_eq!(
            mask("Merci à Julie Martin, très patiente."),
            "Merci à [nom] [nom], très patiente."
        );
        assert_eq!(
            mask("Madame Dupont était super. Tout va bien !"),
            "Madame [nom] était super. Tout va bien !"
        );
        assert_eq!(mask("M. Durand m'a aidé"), "M. [nom] m'a aidé");
        assert_eq!(mask("DUPONT est gentil"), "[nom] est gentil");
        assert_eq!(mask("Je reviendrai."), "Je reviendrai.");
    }

    #[test]
    fn e_mails_phones_and_numbers_are_masked() {
        assert_eq!(
            mask("Appelez-moi au 06 12 34 56 78 ou jean.dupont@mail.fr."),
            "Appelez-moi au [nombre] ou [courriel]."
        );
        assert_eq!(mask("J'ai 74 ans, merci"), "J'ai [nombre] ans, merci");
        assert_eq!(mask("mon numéro : +33612345678"), "mon numéro : [nombre]");
        assert_eq!(mask("dossier n°12AB3"), "dossier [nombre]");
    }

    #[test]
    fn plain_text_and_spacing_are_kept() {
        assert_eq!(mask(""), "");
        assert_eq!(mask("  très bien\nmerci  "), "  très bien\nmerci  ");
        assert_eq!(
            mask("(très) bien, vraiment ; « parfait »"),
            "(très) bien, vraiment ; « parfait »"
        );
    }
}
