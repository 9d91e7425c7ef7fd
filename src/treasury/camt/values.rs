//! Simple values: a value checked against its simple type (built-in and facets), and the
//! built-ins as XSD defines them (decimals, dates, times), with amounts read as exact cents.

use super::schema::{Builtin, Pattern, Schema};
use super::shorten;
use super::tree::is_xml_space;

impl Schema {
    /// Checks a simple value; the message says what is wrong with it.
    pub(super) fn check_value(&self, ty: usize, raw: &str) -> Result<(), String> {
        let st = &self.simple[ty];
        let shown = shorten(raw);
        let value = match st.builtin {
            // libxml2 collapses blanks around these and not around dates; so do we.
            Builtin::Decimal | Builtin::Boolean => raw.trim_matches(is_xml_space),
            _ => raw,
        };
        let decimal = match st.builtin {
            Builtin::String => None,
            Builtin::Decimal => match parse_decimal(value) {
                Some(d) => Some(d),
                None => {
                    return Err(format!(
                        "« {shown} » n'est pas un nombre décimal valide (chiffres et point \
                         décimal, par exemple 1234.50)"
                    ))
                }
            },
            Builtin::Boolean => {
                if matches!(value, "true" | "false" | "1" | "0") {
                    None
                } else {
                    return Err(format!(
                        "« {shown} » n'est pas une valeur booléenne (true ou false)"
                    ));
                }
            }
            Builtin::Date => {
                if is_xsd_date(value) {
                    None
                } else {
                    return Err(format!(
                        "« {shown} » n'est pas une date valide (AAAA-MM-JJ)"
                    ));
                }
            }
            Builtin::DateTime => {
                if is_xsd_date_time(value) {
                    None
                } else {
                    return Err(format!(
                        "« {shown} » n'est pas une date et heure valide (AAAA-MM-JJThh:mm:ss)"
                    ));
                }
            }
            Builtin::GYearMonth => {
                if is_xsd_year_month(value) {
                    None
                } else {
                    return Err(format!("« {shown} » n'est pas un mois valide (AAAA-MM)"));
                }
            }
        };
        for f in &st.facets {
            let length = value.chars().count();
            if f.min_length.is_some_and(|min| length < min) {
                return Err(if length == 0 {
                    "la valeur est vide alors qu'elle est obligatoire".to_string()
                } else {
                    format!(
                        "« {shown} » est trop court ({length} caractères, au moins {} attendus)",
                        f.min_length.unwrap_or(0)
                    )
                });
            }
            if let Some(max) = f.max_length.filter(|&max| length > max) {
                return Err(format!(
                    "« {shown} » est trop long ({length} caractères, au plus {max} permis)"
                ));
            }
            if !f.patterns.is_empty() && !f.patterns.iter().any(|p| p.is_match(value)) {
                return Err(format!(
                    "« {shown} » {}",
                    pattern_hint(&st.name, &f.patterns[0])
                ));
            }
            if !f.enumeration.is_empty() && !f.enumeration.iter().any(|e| e == value) {
                return Err(if f.enumeration.len() <= 8 {
                    format!(
                        "« {shown} » n'est pas une valeur permise ({})",
                        f.enumeration.join(", ")
                    )
                } else {
                    format!("« {shown} » n'est pas une valeur permise par la norme")
                });
            }
            if let Some(d) = &decimal {
                if let Some(max) = f.fraction_digits.filter(|&max| d.fraction_digits() > max) {
                    return Err(format!(
                        "« {shown} » a {} décimales, au plus {max} permises",
                        d.fraction_digits()
                    ));
                }
                if let Some(max) = f.total_digits.filter(|&max| d.total_digits() > max) {
                    return Err(format!(
                        "« {shown} » a {} chiffres, au plus {max} permis",
                        d.total_digits()
                    ));
                }
                if f.non_negative && d.negative && !d.is_zero() {
                    return Err(format!(
                        "le montant « {shown} » est négatif ; un montant de relevé est toujours \
                         positif, son sens étant donné par CdtDbtInd (CRDT ou DBIT)"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// What to say when a value does not match its pattern: plain words for the usual types.
fn pattern_hint(type_name: &str, pattern: &Pattern) -> String {
    match type_name {
        "IBAN2007Identifier" => {
            "n'est pas un IBAN de forme valide (2 lettres majuscules, 2 chiffres, \
             puis lettres et chiffres, sans espace)"
                .into()
        }
        "ActiveOrHistoricCurrencyCode" | "ActiveCurrencyCode" => {
            "n'est pas un code devise de 3 lettres majuscules (par exemple EUR)".into()
        }
        "BICFIDec2014Identifier" | "AnyBICDec2014Identifier" => {
            "n'est pas un code BIC de forme valide".into()
        }
        "CountryCode" => "n'est pas un code pays de 2 lettres majuscules (par exemple FR)".into(),
        _ => format!(
            "n'a pas la forme imposée par la norme (motif {})",
            pattern.source
        ),
    }
}

/// An xs:decimal as written: sign, integer digits, fraction digits.
pub(super) struct Decimal<'a> {
    negative: bool,
    int: &'a str,
    frac: &'a str,
}

impl Decimal<'_> {
    fn significant_int(&self) -> &str {
        self.int.trim_start_matches('0')
    }
    pub(super) fn significant_frac(&self) -> &str {
        self.frac.trim_end_matches('0')
    }
    pub(super) fn is_zero(&self) -> bool {
        self.significant_int().is_empty() && self.significant_frac().is_empty()
    }
    /// As XSD counts them: on the value, so without leading or trailing zeros.
    fn total_digits(&self) -> usize {
        self.significant_int().len() + self.significant_frac().len()
    }
    fn fraction_digits(&self) -> usize {
        self.significant_frac().len()
    }
}

pub(super) fn parse_decimal(text: &str) -> Option<Decimal<'_>> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return None;
    }
    Some(Decimal {
        negative,
        int,
        frac,
    })
}

/// Why an amount read from the file cannot be used.
#[derive(Debug, PartialEq)]
pub(super) enum AmountError {
    NotDecimal,
    Negative,
    TooPrecise,
    TooLarge,
}

/// An amount in cents, exactly: "1234.5" is 123450, "0.10" is 10. More than two significant
/// decimals, a negative amount or one beyond i64 is an error; zero is allowed here (balances).
pub(super) fn cents_from_decimal(text: &str) -> Result<i64, AmountError> {
    let d = parse_decimal(text.trim_matches(is_xml_space)).ok_or(AmountError::NotDecimal)?;
    if d.negative && !d.is_zero() {
        return Err(AmountError::Negative);
    }
    let frac = d.significant_frac();
    if frac.len() > 2 {
        return Err(AmountError::TooPrecise);
    }
    let mut cents: i64 = 0;
    for b in d
        .int
        .bytes()
        .chain(frac.bytes())
        .chain("00"[frac.len()..].bytes())
    {
        cents = cents
            .checked_mul(10)
            .and_then(|c| c.checked_add(i64::from(b - b'0')))
            .ok_or(AmountError::TooLarge)?;
    }
    Ok(cents)
}

fn digits2(s: &str) -> Option<u32> {
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `-?YYYY` (more digits allowed, without a leading zero; not 0000), then the rest.
fn split_year(s: &str) -> Option<(i64, &str)> {
    let unsigned = s.strip_prefix('-').unwrap_or(s);
    let len = unsigned.bytes().take_while(u8::is_ascii_digit).count();
    let digits = &unsigned[..len];
    if !(4..=12).contains(&len) || (len > 4 && digits.starts_with('0')) {
        return None;
    }
    let year: i64 = digits.parse().ok()?;
    if year == 0 {
        return None;
    }
    Some((
        if s.starts_with('-') { -year } else { year },
        &unsigned[len..],
    ))
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

fn is_timezone(s: &str) -> bool {
    if s.is_empty() || s == "Z" {
        return true;
    }
    let Some(rest) = s.strip_prefix('+').or_else(|| s.strip_prefix('-')) else {
        return false;
    };
    let Some((h, m)) = rest.split_once(':') else {
        return false;
    };
    matches!((digits2(h), digits2(m)), (Some(h), Some(m)) if m < 60 && (h < 14 || (h == 14 && m == 0)))
}

/// `-?YYYY-MM-DD` and what follows it.
pub(super) fn split_date(s: &str) -> Option<&str> {
    let (year, rest) = split_year(s)?;
    let rest = rest.strip_prefix('-')?;
    let month = digits2(rest.get(..2)?)?;
    let rest = rest[2..].strip_prefix('-')?;
    let day = digits2(rest.get(..2)?)?;
    ((1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)).then(|| &rest[2..])
}

fn is_xsd_date(s: &str) -> bool {
    split_date(s).is_some_and(is_timezone)
}

fn is_xsd_year_month(s: &str) -> bool {
    let Some((_, rest)) = split_year(s) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix('-') else {
        return false;
    };
    rest.get(..2)
        .and_then(digits2)
        .is_some_and(|m| (1..=12).contains(&m))
        && is_timezone(&rest[2..])
}

fn is_xsd_date_time(s: &str) -> bool {
    let Some(rest) = split_date(s).and_then(|r| r.strip_prefix('T')) else {
        return false;
    };
    let (Some(h), Some(m), Some(sec)) = (
        rest.get(..2).and_then(digits2),
        rest.get(2..3)
            .filter(|c| *c == ":")
            .and(rest.get(3..5))
            .and_then(digits2),
        rest.get(5..6)
            .filter(|c| *c == ":")
            .and(rest.get(6..8))
            .and_then(digits2),
    ) else {
        return false;
    };
    let mut rest = &rest[8..];
    let mut fraction_zero = true;
    if let Some(frac) = rest.strip_prefix('.') {
        let len = frac.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return false;
        }
        fraction_zero = frac[..len].bytes().all(|b| b == b'0');
        rest = &frac[len..];
    }
    let time_ok =
        (h < 24 && m < 60 && sec < 60) || (h == 24 && m == 0 && sec == 0 && fraction_zero);
    time_ok && is_timezone(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact_cents() {
        assert_eq!(cents_from_decimal("0.1"), Ok(10));
        assert_eq!(cents_from_decimal("10"), Ok(1_000));
        assert_eq!(cents_from_decimal("1234.5"), Ok(123_450));
        assert_eq!(cents_from_decimal("0.10"), Ok(10));
        assert_eq!(cents_from_decimal("1.50000"), Ok(150));
        assert_eq!(cents_from_decimal(" +3 "), Ok(300));
        assert_eq!(cents_from_decimal(".5"), Ok(50));
        assert_eq!(cents_from_decimal("5."), Ok(500));
        assert_eq!(cents_from_decimal("0"), Ok(0));
        assert_eq!(cents_from_decimal("-0.00"), Ok(0));
        assert_eq!(cents_from_decimal("92233720368547758.07"), Ok(i64::MAX));
        assert_eq!(
            cents_from_decimal("92233720368547758.08"),
            Err(AmountError::TooLarge)
        );
        assert_eq!(cents_from_decimal("1.005"), Err(AmountError::TooPrecise));
        assert_eq!(cents_from_decimal("-5"), Err(AmountError::Negative));
        assert_eq!(cents_from_decimal("1,50"), Err(AmountError::NotDecimal));
        assert_eq!(cents_from_decimal("1e3"), Err(AmountError::NotDecimal));
        assert_eq!(cents_from_decimal("."), Err(AmountError::NotDecimal));
    }

    #[test]
    fn dates_and_times_are_checked_like_xmllint() {
        for ok in [
            "2026-12-05",
            "2024-02-29",
            "2026-12-05Z",
            "2026-12-05+01:00",
            "10000-01-01",
            "-2026-01-01",
        ] {
            assert!(is_xsd_date(ok), "{ok}");
        }
        for bad in [
            "2026-02-30",
            "2100-02-29",
            "0000-01-01",
            "2026-1-05",
            " 2026-12-05",
            "2026-12-05+14:01",
            "02026-01-01",
        ] {
            assert!(!is_xsd_date(bad), "{bad}");
        }
        for ok in [
            "2026-12-05T24:00:00",
            "2026-12-05T10:00:00.123Z",
            "2026-12-05T10:00:00+14:00",
            "2026-12-05T10:00:00-00:00",
        ] {
            assert!(is_xsd_date_time(ok), "{ok}");
        }
        for bad in [
            "2026-12-05T23:59:60",
            "2026-12-05T24:00:01",
            "2026-12-05T10:00",
            "2026-12-05T10:00:00.Z",
            "2026-12-05 10:00:00",
        ] {
            assert!(!is_xsd_date_time(bad), "{bad}");
        }
        assert!(is_xsd_year_month("2026-12") && !is_xsd_year_month("2026-13"));
    }
}
