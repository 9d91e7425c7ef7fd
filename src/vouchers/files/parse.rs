//! Reading a file of carnets as spreadsheets export it: one line per carnet (size, beneficiary
//! reference, optional e-mail), separated by `;` (French spreadsheets) or `,`, in UTF-8 with or
//! without a byte-order mark, an optional header line. Every line is checked with the rules of a
//! single issuance, and every mistake is reported with its line number, all at once.

use super::super::issue::{check_carnet, SIZES};
use super::super::NewCarnet;

/// Most lines a file may hold (a large distributor's print run).
pub const MAX_LINES: usize = 5000;

/// A line that will become a carnet.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// Its number in the file, as a spreadsheet shows it (from 1, header included).
    pub number: usize,
    pub cheques: i64,
    pub beneficiary_ref: Option<String>,
    pub email: Option<String>,
    /// The optional columns after the e-mail: level of help and anonymous facts.
    pub facts: crate::outcomes::FactsInput,
}

/// Every line of the file, checked; or each mistake, in words with its line number.
pub fn parse(bytes: &[u8]) -> Result<Vec<Line>, Vec<String>> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text.strip_prefix('\u{feff}').unwrap_or(text),
        Err(_) => {
            return Err(vec![
                "Le fichier n'est pas en UTF-8. Dans votre tableur, enregistrez-le au format \
                 « CSV UTF-8 » et envoyez-le de nouveau."
                    .to_string(),
            ])
        }
    };
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let separator = if first.contains(';') { b';' } else { b',' };
    let (mut lines, mut errors) = (Vec::new(), Vec::new());
    let mut header_seen = false;
    // Line by line (a carnet's fields never span lines), so that each mistake is given the line
    // number a spreadsheet shows.
    for (index, text) in text.lines().enumerate() {
        let number = index + 1;
        if text.trim().is_empty() {
            continue;
        }
        let record = csv::ReaderBuilder::new()
            .delimiter(separator)
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes())
            .records()
            .next();
        let record = match record {
            Some(Ok(record)) => record,
            Some(Err(_)) | None => {
                errors.push(format!("Ligne {number} : elle ne peut pas être lue."));
                continue;
            }
        };
        let fields: Vec<&str> = record.iter().collect();
        if fields.iter().all(|f| f.is_empty()) {
            continue;
        }
        // A first line whose size is not a number is the column names.
        if !header_seen {
            header_seen = true;
            if fields[0].parse::<i64>().is_err() && fields[0].chars().any(char::is_alphabetic) {
                continue;
            }
        }
        match line(number, &fields) {
            Ok(line) => lines.push(line),
            Err(message) => errors.push(format!("Ligne {number} : {message}")),
        }
    }
    if errors.is_empty() && lines.is_empty() {
        errors.push(
            "Le fichier ne contient aucun carnet : une ligne par carnet, avec sa taille, la \
             référence du bénéficiaire et, si vous le souhaitez, son e-mail."
                .to_string(),
        );
    }
    if lines.len() + errors.len() > MAX_LINES {
        errors.insert(
            0,
            format!("Le fichier compte plus de {MAX_LINES} carnets : partagez-le en plusieurs fichiers."),
        );
    }
    if errors.is_empty() {
        Ok(lines)
    } else {
        Err(errors)
    }
}

fn line(number: usize, fields: &[&str]) -> Result<Line, String> {
    if fields.len() > 8 {
        return Err(format!(
            "{} colonnes au lieu de 8 au plus (taille, référence, e-mail, niveau d'aide, \
             tranche d'âge, situation, quartier prioritaire, commune rurale). Une référence ne \
             contient pas le séparateur du fichier.",
            fields.len()
        ));
    }
    let field = |i: usize| {
        fields
            .get(i)
            .map(|f| f.to_string())
            .filter(|f| !f.is_empty())
    };
    let cheques = match fields[0].parse::<i64>() {
        Ok(n) if SIZES.contains(&n) => n,
        _ => {
            return Err(format!(
                "la taille « {} » n'est pas possible : un carnet contient 5 ou 10 chèques.",
                fields[0]
            ))
        }
    };
    let carnet = NewCarnet {
        cheques,
        beneficiary_ref: field(1),
        email: field(2),
        help_level: field(3),
        age_bracket: field(4),
        situation: field(5),
        priority_area: field(6),
        rural: field(7),
    };
    let checked = check_carnet(carnet).map_err(|e| lower_first(&e.to_string()))?;
    let stored = |v: Option<&'static str>| v.map(str::to_string);
    Ok(Line {
        number,
        cheques: checked.cheques,
        beneficiary_ref: checked.beneficiary_ref,
        email: checked.email,
        facts: crate::outcomes::FactsInput {
            help_level: stored(checked.facts.help_level.map(|v| v.as_str())),
            age_bracket: stored(checked.facts.age_bracket.map(|v| v.as_str())),
            situation: stored(checked.facts.situation.map(|v| v.as_str())),
            priority_area: stored(checked.facts.priority_area.map(|v| v.as_str())),
            rural: stored(checked.facts.rural.map(|v| v.as_str())),
        },
    })
}

/// "La référence…" → "la référence…", to follow "Ligne 3 : ".
fn lower_first(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_semicolons_a_bom_and_a_header() {
        let file = "\u{feff}Taille;Référence;E-mail\r\n5;FT-1;\r\n\r\n10;FT-2;a@example.org\r\n";
        let lines = parse(file.as_bytes()).expect("valid");
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].number, 2);
        assert_eq!(lines[1].number, 4);
        assert_eq!(lines[1].cheques, 10);
        assert_eq!(lines[1].email.as_deref(), Some("a@example.org"));
        assert_eq!(lines[0].email, None);
    }

    #[test]
    fn reads_commas_without_header() {
        let lines = parse(b"5,FT-1\n10,\"FT-2\",b@example.org\n").expect("valid");
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].beneficiary_ref.as_deref(), Some("FT-1"));
        assert_eq!(lines[0].number, 1);
    }

    #[test]
    fn lists_every_mistake_with_its_line() {
        let long = "x".repeat(65);
        let file = format!(
            "5;FT-1\n7;FT-2\n5;FT-3;pas-un-email\n10;{long}\n5;a;;inclusion;26_44;other;no;no;x\n\
             5;FT-6;;urgent\n"
        );
        let errors = parse(file.as_bytes()).expect_err("invalid");
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(
            errors[0].starts_with("Ligne 2 : la taille « 7 »"),
            "{errors:?}"
        );
        assert!(errors[1].starts_with("Ligne 3 : "), "{errors:?}");
        assert!(errors[2].starts_with("Ligne 4 : "), "{errors:?}");
        assert!(errors[3].starts_with("Ligne 5 : 9 colonnes"), "{errors:?}");
        assert!(
            errors[4].starts_with("Ligne 6 : le niveau d'aide"),
            "{errors:?}"
        );
    }

    #[test]
    fn refuses_an_empty_file_and_another_encoding() {
        assert_eq!(parse(b"Taille;Reference\n").expect_err("empty").len(), 1);
        assert!(parse(b"5;R\xe9f-1\n").expect_err("latin-1")[0].contains("UTF-8"));
    }
}
