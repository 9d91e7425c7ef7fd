//! The period of the funder's view: Paris days typed by a person, as stored instants and as
//! the kept figures' months and days it reads.

use super::repo;
use crate::clock::{format_ts, paris};
use crate::error::{Error, Result};
use jiff::civil::Date;

/// Calendar days in Paris, both included; none means since the programme began, or up to now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Period {
    pub from: Option<Date>,
    pub to: Option<Date>,
}

impl Period {
    /// From what a person typed (`YYYY-MM-DD`, or nothing).
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Period> {
        let day = |text: Option<&str>, what: &str| -> Result<Option<Date>> {
            match text.map(str::trim).filter(|t| !t.is_empty()) {
                None => Ok(None),
                Some(t) => t.parse::<Date>().map(Some).map_err(|_| {
                    Error::invalid(
                        "invalid_period",
                        format!("La date {what} n'est pas une date valide (jour/mois/année)."),
                    )
                }),
            }
        };
        let period = Period {
            from: day(from, "de début")?,
            to: day(to, "de fin")?,
        };
        if let (Some(f), Some(t)) = (period.from, period.to) {
            if f > t {
                return Err(Error::invalid(
                    "invalid_period",
                    "La date de début doit être avant la date de fin, ou le même jour.",
                ));
            }
        }
        Ok(period)
    }

    /// The kept figures it reads: its whole months, and the days of the months it covers in
    /// part.
    pub(super) fn spans(&self) -> repo::Spans {
        let month = |d: Date| format!("{:04}-{:02}", d.year(), d.month());
        let empty = (String::new(), String::new());
        // The day after the last, and the first day of the first whole month.
        let end = self.to.and_then(|d| d.tomorrow().ok());
        let first_whole = match self.from {
            None => Some(String::new()),
            Some(d) if d.day() == 1 => Some(month(d)),
            Some(d) => d.last_of_month().tomorrow().ok().map(month),
        };
        let end_month = end.map(month).unwrap_or_else(|| "9999".into());
        let from_day = self.from.map(|d| d.to_string()).unwrap_or_default();
        let end_day = end.map(|d| d.to_string()).unwrap_or_else(|| "9999".into());
        match first_whole {
            Some(m0) if m0 < end_month => repo::Spans {
                days: [
                    if from_day.is_empty() {
                        empty.clone()
                    } else {
                        (from_day, format!("{m0}-01"))
                    },
                    if end.is_none() {
                        empty.clone()
                    } else {
                        (format!("{end_month}-01"), end_day)
                    },
                ],
                months: (m0, end_month),
            },
            _ => repo::Spans {
                months: empty.clone(),
                days: [(from_day, end_day), empty],
            },
        }
    }

    /// The Paris month (`YYYY-MM`) it is exactly, from its first day to its last.
    pub(super) fn whole_month(&self) -> Option<String> {
        let (from, to) = (self.from?, self.to?);
        (from.day() == 1 && to == from.last_of_month())
            .then(|| format!("{:04}-{:02}", from.year(), from.month()))
    }

    /// The period of a whole Paris month.
    pub(super) fn month(first: Date) -> Period {
        Period {
            from: Some(first.first_of_month()),
            to: Some(first.last_of_month()),
        }
    }

    /// `[start, end)` as stored instants: midnight in Paris on the first day, and on the day
    /// after the last.
    pub(super) fn bounds(&self) -> (String, String) {
        let midnight = |d: Date| d.to_zoned(paris()).ok().map(|z| format_ts(z.timestamp()));
        let start = self.from.and_then(midnight).unwrap_or_default();
        let end = self
            .to
            .and_then(|d| d.tomorrow().ok())
            .and_then(midnight)
            .unwrap_or_else(|| "9999".into());
        (start, end)
    }
}
