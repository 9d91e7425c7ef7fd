//! Where a site or a place stands: the `qualification_status` CHECKs of
//! `migrations/0001_voucher_core.sql` and `0007_places.sql`.

use jiff::civil::Date;

crate::text_enum! {
    pub enum Status {
        /// Never qualified (a new site, a place waiting for an application).
        None = "none",
        Qualified = "qualified",
        /// Suspended by the operator (or disqualified for good): redeems nothing.
        Suspended = "suspended",
    }
}

impl Status {
    /// Whether this qualification lets its site or place redeem on `today`: qualified, until a
    /// day not yet past.
    pub fn is_current(self, until: Option<&str>, today: Date) -> bool {
        self == Status::Qualified
            && until
                .and_then(|d| d.parse::<Date>().ok())
                .is_some_and(|until| until >= today)
    }

    /// The journal action of a change to this status, for a site or a place.
    pub(super) fn action(self, subject: &str) -> String {
        format!("{subject}.{}", self.as_str())
    }
}
