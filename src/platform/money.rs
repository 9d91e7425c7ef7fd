//! Money: every amount the platform counts is a whole number of euro cents, so sums are exact
//! and a cent is never rounded away. [`Cents`] is that number with its unit: read once at the
//! edge (an integer in JSON, "1 250,50" typed in a form), stored as an integer column, written
//! out the French way.

use serde::{Deserialize, Serialize};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Mul, Neg, Sub, SubAssign};

/// An amount in euro cents, as an integer (1000 is 10 €). A balance may be negative (the
/// funder's account gives value away); each operation bounds the amounts it accepts.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    sqlx::Type,
    utoipa::ToSchema,
)]
#[serde(transparent)]
#[sqlx(transparent)]
#[schema(value_type = i64, format = Int64)]
pub struct Cents(i64);

impl Cents {
    pub const ZERO: Cents = Cents(0);

    pub const fn new(cents: i64) -> Cents {
        Cents(cents)
    }

    /// Whole euros: `Cents::euros(10)` is ten euros.
    pub const fn euros(euros: i64) -> Cents {
        Cents(euros * 100)
    }

    /// The number of cents, for arithmetic with counts and for storage.
    pub const fn get(self) -> i64 {
        self.0
    }

    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// An amount typed the French way, in euros ("50 000", "50000,50", "1.500", "12 €").
    /// Never rounds: a third decimal is refused rather than guessed; zero is refused.
    pub fn parse_euros(text: &str) -> Result<Cents, String> {
        const HELP: &str = "indiquez un montant en euros, par exemple 50 000 ou 1 250,50.";
        // Spaces of every kind (including non-breaking ones) group thousands.
        let cleaned: String = text
            .trim()
            .trim_matches('€')
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let (whole, cents) = match cleaned.split_once(',') {
            Some((w, c)) => (w, c),
            // Without a comma, a dot followed by one or two digits is a decimal point ("12.5");
            // followed by three it groups thousands ("1.500"), as French writing does.
            None => match cleaned.rsplit_once('.') {
                Some((w, c)) if c.len() <= 2 && !w.contains('.') => (w, c),
                _ => (cleaned.as_str(), ""),
            },
        };
        if cents.len() > 2 {
            return Err(
                "un montant a au plus deux chiffres après la virgule (les centimes).".to_string(),
            );
        }
        let mut groups = whole.split('.');
        let first = groups.next().unwrap_or_default();
        let rest: Vec<&str> = groups.collect();
        let grouped = rest.is_empty() || (first.len() <= 3 && rest.iter().all(|g| g.len() == 3));
        let digits: String = std::iter::once(first).chain(rest).collect();
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if !grouped
            || !all_digits(&digits)
            || !all_digits(cents)
            || (digits.is_empty() && cents.is_empty())
            || digits.len() > 12
        {
            return Err(HELP.to_string());
        }
        let whole: i64 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| HELP.to_string())?
        };
        let cents: i64 = format!("{cents:0<2}")
            .parse()
            .map_err(|_| HELP.to_string())?;
        let total = whole * 100 + cents;
        if total == 0 {
            return Err("le montant doit être supérieur à zéro.".to_string());
        }
        Ok(Cents(total))
    }

    /// `12,34`, the bare number as French tables write it (CSV and PDF columns name the unit).
    pub fn number_text(self) -> String {
        crate::fr::euros(self.0)
    }

    /// `12,34 €`, for a sentence or a page. Deliberately not `Display`: an amount is never
    /// written without choosing how (cents in a journal entry, euros for a person).
    pub fn text(self) -> String {
        crate::fr::euros_text(self.0)
    }
}

impl From<Cents> for i64 {
    fn from(cents: Cents) -> i64 {
        cents.0
    }
}

impl Add for Cents {
    type Output = Cents;
    fn add(self, other: Cents) -> Cents {
        Cents(self.0 + other.0)
    }
}

impl Sub for Cents {
    type Output = Cents;
    fn sub(self, other: Cents) -> Cents {
        Cents(self.0 - other.0)
    }
}

impl AddAssign for Cents {
    fn add_assign(&mut self, other: Cents) {
        self.0 += other.0;
    }
}

impl SubAssign for Cents {
    fn sub_assign(&mut self, other: Cents) {
        self.0 -= other.0;
    }
}

impl Neg for Cents {
    type Output = Cents;
    fn neg(self) -> Cents {
        Cents(-self.0)
    }
}

/// A count of cheques times a cheque's value.
impl Mul<i64> for Cents {
    type Output = Cents;
    fn mul(self, count: i64) -> Cents {
        Cents(self.0 * count)
    }
}

/// How many times one amount fits in another: a balance divided by a cheque's value is a
/// number of cheques.
impl std::ops::Div for Cents {
    type Output = i64;
    fn div(self, each: Cents) -> i64 {
        self.0 / each.0
    }
}

impl Sum for Cents {
    fn sum<I: Iterator<Item = Cents>>(iter: I) -> Cents {
        Cents(iter.map(|c| c.0).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::Cents;

    #[test]
    fn euros_typed_the_french_way() {
        for (typed, cents) in [
            ("50 000", 5_000_000),
            ("50000,50", 5_000_050),
            ("50 000,5", 5_000_050),
            ("50\u{a0}000,05 €", 5_000_005),
            ("50\u{202f}000", 5_000_000),
            ("1.500", 150_000),
            ("1.500.000,00", 150_000_000),
            ("12.5", 1_250),
            ("12.50", 1_250),
            ("10", 1_000),
            (",50", 50),
            ("0,01", 1),
        ] {
            assert_eq!(
                Cents::parse_euros(typed),
                Ok(Cents::new(cents)),
                "{typed:?}"
            );
        }
        for bad in [
            "",
            "abc",
            "12,345",
            "-5",
            "1,2,3",
            "12.34.56",
            "1.50.000",
            "0",
            "0,00",
            "5e3",
            "1234567890123",
        ] {
            assert!(Cents::parse_euros(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn written_the_french_way() {
        assert_eq!(Cents::new(123_456).text(), "1\u{202f}234,56\u{a0}€");
        assert_eq!(Cents::new(-5).number_text(), "-0,05");
        assert_eq!(Cents::euros(10) * 3 - Cents::new(1), Cents::new(2999));
        assert_eq!(
            [Cents::new(1), Cents::new(2)].into_iter().sum::<Cents>(),
            Cents::new(3)
        );
    }

    #[test]
    fn an_integer_in_json() {
        assert_eq!(serde_json::to_string(&Cents::new(1000)).unwrap(), "1000");
        assert_eq!(
            serde_json::from_str::<Cents>("250").unwrap(),
            Cents::new(250)
        );
    }
}
