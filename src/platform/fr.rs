//! French formats and identifiers: SIRET, postcodes, département codes; dates, amounts and
//! numbers as people read them, and as they type them in forms.

/// A SIRET (an establishment's number), checked once: 14 digits with a valid key, whatever
/// spaces it was typed with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Siret(String);

impl Siret {
    /// `None` unless it is a valid SIRET (spaces are ignored).
    pub fn parse(input: &str) -> Option<Siret> {
        let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        is_valid_siret(&compact).then_some(Siret(compact))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// 14 digits whose Luhn sum is a multiple of 10. La Poste's establishments (SIREN 356000000)
/// follow their own rule: the digit sum is a multiple of 5.
pub fn is_valid_siret(siret: &str) -> bool {
    if siret.len() != 14 || !siret.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let digits: Vec<u32> = siret.bytes().map(|b| (b - b'0') as u32).collect();
    if siret.starts_with("356000000") && siret != "35600000000048" {
        return digits.iter().sum::<u32>().is_multiple_of(5);
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                (d * 2) / 10 + (d * 2) % 10
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

pub fn is_valid_postcode(postcode: &str) -> bool {
    postcode.len() == 5 && postcode.bytes().all(|b| b.is_ascii_digit())
}

/// The overseas codes, départements and collectivités alike: 971–976, Saint-Barthélemy (977),
/// Saint-Martin (978), Wallis-et-Futuna (986), Polynésie française (987) and
/// Nouvelle-Calédonie (988), each with its own clock (`zones`).
pub const OVERSEAS: [&str; 11] = [
    "971", "972", "973", "974", "975", "976", "977", "978", "986", "987", "988",
];

/// 01–95 (without 20), 2A, 2B, and the overseas codes ([`OVERSEAS`]).
pub fn is_valid_department(code: &str) -> bool {
    match code {
        "2A" | "2B" => true,
        _ if code.len() == 2 && code.bytes().all(|b| b.is_ascii_digit()) => {
            matches!(code.parse::<u32>(), Ok(n) if (1..=95).contains(&n) && n != 20)
        }
        _ => OVERSEAS.contains(&code),
    }
}

/// What a person reads when a département code is refused.
pub const DEPARTMENT_FORMAT: &str = "Le code de département doit être de la forme 01 à 95, 2A, \
     2B, 971 à 978 ou 986 à 988.";

/// A commune's INSEE code: its département's two digits (2A/2B in Corsica, 97x or 98x
/// overseas) and three more ("33063" is Bordeaux, "98818" Nouméa).
pub fn is_valid_insee_code(code: &str) -> bool {
    code.len() == 5
        && code.is_ascii()
        && ((!code.starts_with("97") && !code.starts_with("98") && is_valid_department(&code[..2]))
            || is_valid_department(&code[..3]))
        && code[2..].bytes().all(|b| b.is_ascii_digit())
}

/// The name of a département by its code ("33" → "Gironde").
pub fn department_name(code: &str) -> Option<&'static str> {
    DEPARTMENTS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| *name)
}

const DEPARTMENTS: [(&str, &str); 107] = [
    ("01", "Ain"),
    ("02", "Aisne"),
    ("03", "Allier"),
    ("04", "Alpes-de-Haute-Provence"),
    ("05", "Hautes-Alpes"),
    ("06", "Alpes-Maritimes"),
    ("07", "Ardèche"),
    ("08", "Ardennes"),
    ("09", "Ariège"),
    ("10", "Aube"),
    ("11", "Aude"),
    ("12", "Aveyron"),
    ("13", "Bouches-du-Rhône"),
    ("14", "Calvados"),
    ("15", "Cantal"),
    ("16", "Charente"),
    ("17", "Charente-Maritime"),
    ("18", "Cher"),
    ("19", "Corrèze"),
    ("2A", "Corse-du-Sud"),
    ("2B", "Haute-Corse"),
    ("21", "Côte-d'Or"),
    ("22", "Côtes-d'Armor"),
    ("23", "Creuse"),
    ("24", "Dordogne"),
    ("25", "Doubs"),
    ("26", "Drôme"),
    ("27", "Eure"),
    ("28", "Eure-et-Loir"),
    ("29", "Finistère"),
    ("30", "Gard"),
    ("31", "Haute-Garonne"),
    ("32", "Gers"),
    ("33", "Gironde"),
    ("34", "Hérault"),
    ("35", "Ille-et-Vilaine"),
    ("36", "Indre"),
    ("37", "Indre-et-Loire"),
    ("38", "Isère"),
    ("39", "Jura"),
    ("40", "Landes"),
    ("41", "Loir-et-Cher"),
    ("42", "Loire"),
    ("43", "Haute-Loire"),
    ("44", "Loire-Atlantique"),
    ("45", "Loiret"),
    ("46", "Lot"),
    ("47", "Lot-et-Garonne"),
    ("48", "Lozère"),
    ("49", "Maine-et-Loire"),
    ("50", "Manche"),
    ("51", "Marne"),
    ("52", "Haute-Marne"),
    ("53", "Mayenne"),
    ("54", "Meurthe-et-Moselle"),
    ("55", "Meuse"),
    ("56", "Morbihan"),
    ("57", "Moselle"),
    ("58", "Nièvre"),
    ("59", "Nord"),
    ("60", "Oise"),
    ("61", "Orne"),
    ("62", "Pas-de-Calais"),
    ("63", "Puy-de-Dôme"),
    ("64", "Pyrénées-Atlantiques"),
    ("65", "Hautes-Pyrénées"),
    ("66", "Pyrénées-Orientales"),
    ("67", "Bas-Rhin"),
    ("68", "Haut-Rhin"),
    ("69", "Rhône"),
    ("70", "Haute-Saône"),
    ("71", "Saône-et-Loire"),
    ("72", "Sarthe"),
    ("73", "Savoie"),
    ("74", "Haute-Savoie"),
    ("75", "Paris"),
    ("76", "Seine-Maritime"),
    ("77", "Seine-et-Marne"),
    ("78", "Yvelines"),
    ("79", "Deux-Sèvres"),
    ("80", "Somme"),
    ("81", "Tarn"),
    ("82", "Tarn-et-Garonne"),
    ("83", "Var"),
    ("84", "Vaucluse"),
    ("85", "Vendée"),
    ("86", "Vienne"),
    ("87", "Haute-Vienne"),
    ("88", "Vosges"),
    ("89", "Yonne"),
    ("90", "Territoire de Belfort"),
    ("91", "Essonne"),
    ("92", "Hauts-de-Seine"),
    ("93", "Seine-Saint-Denis"),
    ("94", "Val-de-Marne"),
    ("95", "Val-d'Oise"),
    ("971", "Guadeloupe"),
    ("972", "Martinique"),
    ("973", "Guyane"),
    ("974", "La Réunion"),
    ("975", "Saint-Pierre-et-Miquelon"),
    ("976", "Mayotte"),
    ("977", "Saint-Barthélemy"),
    ("978", "Saint-Martin"),
    ("986", "Wallis-et-Futuna"),
    ("987", "Polynésie française"),
    ("988", "Nouvelle-Calédonie"),
];

/// The département of a postcode: its first two digits, three overseas, and Corsica split
/// (200xx–201xx Corse-du-Sud, 202xx–206xx Haute-Corse).
pub fn department_of_postcode(postcode: &str) -> Option<String> {
    if !is_valid_postcode(postcode) {
        return None;
    }
    Some(match &postcode[..2] {
        "97" | "98" => postcode[..3].to_string(),
        "20" if postcode < "20200" => "2A".into(),
        "20" => "2B".into(),
        d => d.to_string(),
    })
}

const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// `2026-03-12` → `12 mars 2026`, as a person reads a date.
pub fn long_date(date: jiff::civil::Date) -> String {
    let month = MONTHS[(date.month() as usize).saturating_sub(1) % 12];
    let day = if date.day() == 1 {
        "1er".to_string()
    } else {
        date.day().to_string()
    };
    format!("{day} {month} {}", date.year())
}

/// The same for a date stored as text; falls back to the text itself.
pub fn long_date_text(text: &str) -> String {
    text.get(..10)
        .and_then(|d| d.parse().ok())
        .map(long_date)
        .unwrap_or_else(|| text.to_string())
}

/// A stored instant as a person in mainland France reads it: "12 mars 2026 à 14:05" (Paris
/// time); falls back to the text itself.
pub fn moment_text(ts: &str) -> String {
    moment_text_in(ts, &crate::clock::paris())
}

/// The same in the reader's zone (a place's, a programme's: see `zones`).
pub fn moment_text_in(ts: &str, zone: &jiff::tz::TimeZone) -> String {
    match crate::clock::parse_ts(ts) {
        Some(t) => {
            let zoned = t.to_zoned(zone.clone());
            format!("{} à {}", long_date(zoned.date()), zoned.strftime("%H:%M"))
        }
        None => ts.to_string(),
    }
}

/// The day of a stored instant in the reader's zone, "12 mars 2026"; falls back to the
/// text's own date.
pub fn long_date_in(ts: &str, zone: &jiff::tz::TimeZone) -> String {
    match crate::clock::parse_ts(ts) {
        Some(t) => long_date(t.to_zoned(zone.clone()).date()),
        None => long_date_text(ts),
    }
}

/// `1234` cents → `12,34`, the way amounts are written in France (without the € sign).
pub fn euros(cents: impl Into<i64>) -> String {
    let cents: i64 = cents.into();
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{},{:02}", cents.abs() / 100, cents.abs() % 100)
}

/// The same with its unit, `50 000,00 €`, for a sentence or a page: thousands apart with a
/// narrow no-break space and the sign held to its number by a no-break space, as French
/// typography writes them (and as `Intl.NumberFormat('fr-FR')` does). Tables (CSV, PDF) name
/// the unit in their column headers and keep the bare number, which spreadsheets read.
pub fn euros_text(cents: impl Into<i64>) -> String {
    let cents: i64 = cents.into();
    let sign = if cents < 0 { "-" } else { "" };
    let units = (cents.unsigned_abs() / 100).to_string();
    let mut grouped = String::with_capacity(units.len() + units.len() / 3 * 3);
    for (i, digit) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            grouped.push('\u{202f}');
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped},{:02}\u{a0}€", cents.unsigned_abs() % 100)
}

/// `part / whole` in percent with one decimal ("26,7"), rounded half up; empty when there is
/// nothing to divide by.
pub fn percent(part: impl Into<i64>, whole: impl Into<i64>) -> String {
    let (part, whole): (i64, i64) = (part.into(), whole.into());
    if whole <= 0 || part < 0 {
        return String::new();
    }
    let tenths = (part as i128 * 2000 + whole as i128) / (whole as i128 * 2);
    format!("{},{}", tenths / 10, tenths % 10)
}

/// The same for a page: "26,7 %", or a dash when there is nothing to divide by.
pub fn percent_text(part: impl Into<i64>, whole: impl Into<i64>) -> String {
    match percent(part, whole) {
        p if p.is_empty() => "—".to_string(),
        p => format!("{p}\u{a0}%"),
    }
}

// ---------------------------------------------------------------------------------------------
// Numbers as people type them in forms.

/// A whole number typed by a person ("1 000", " 365 ").
pub fn parse_count(text: &str) -> Option<i64> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sirets() {
        assert!(is_valid_siret("73282932000074"));
        assert!(is_valid_siret("35600000000048"));
        assert!(is_valid_siret("35600000012346")); // digit sum 30
        assert!(!is_valid_siret("35600000012345"));
        assert!(!is_valid_siret("73282932000075"));
        assert!(!is_valid_siret("7328293200007"));
        assert!(!is_valid_siret("7328293200007a"));
    }

    #[test]
    fn counts_and_percents() {
        assert_eq!(parse_count(" 1 000 "), Some(1000));
        assert_eq!(parse_count("12a"), None);
        assert_eq!(parse_count(""), None);
        assert_eq!(percent(4, 15), "26,7");
        assert_eq!(percent(1, 3), "33,3");
        assert_eq!(percent(2, 3), "66,7");
        assert_eq!(percent(1, 0), "");
        assert_eq!(percent(15, 15), "100,0");
        assert_eq!(percent_text(4, 15), "26,7\u{a0}%");
        assert_eq!(percent_text(4, 0), "—");
    }

    #[test]
    fn amounts_read() {
        assert_eq!(euros(123_456), "1234,56");
        assert_eq!(euros(-5), "-0,05");
        assert_eq!(euros_text(1_000), "10,00\u{a0}€");
        assert_eq!(euros_text(5_000_000), "50\u{202f}000,00\u{a0}€");
        assert_eq!(
            euros_text(12_345_678_901_i64),
            "123\u{202f}456\u{202f}789,01\u{a0}€"
        );
        assert_eq!(euros_text(-99_999), "-999,99\u{a0}€");
    }

    #[test]
    fn departments() {
        for ok in ["01", "2A", "2B", "75", "95", "971", "976"] {
            assert!(is_valid_department(ok), "{ok}");
        }
        for bad in [
            "00", "20", "96", "97", "98", "970", "979", "985", "989", "2C", "", "1", "9711",
        ] {
            assert!(!is_valid_department(bad), "{bad}");
        }
        // Every overseas code is valid, named, and has its own zone.
        for code in OVERSEAS {
            assert!(is_valid_department(code), "{code}");
            assert!(department_name(code).is_some(), "{code}");
            assert_ne!(
                crate::zones::zone_name_of(code),
                crate::zones::PARIS,
                "{code}"
            );
        }
        for ok in [
            "33063", "2A004", "97209", "97701", "97801", "98818", "98735",
        ] {
            assert!(is_valid_insee_code(ok), "{ok}");
        }
        for bad in ["97901", "98901", "97", "9720", "33a63", "20004"] {
            assert!(!is_valid_insee_code(bad), "{bad}");
        }
        assert_eq!(department_of_postcode("98800").as_deref(), Some("988"));
        assert_eq!(department_name("988"), Some("Nouvelle-Calédonie"));
    }
}
