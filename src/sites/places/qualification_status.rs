//! Where a site or a place stands: the `qualification_status` CHECKs of
//! `migrations/0001_voucher_core.sql` and `0007_places.sql`. Here, with the places, because
//! a site's qualification is its places' (orgs and `qualification` both use it).

use jiff::civil::Date;

crate::text_enum! {
    pub enum QualificationStatus {
        /// Never qualified (a new site, a place waiting for an application).
        None = "none",
        Qualified = "qualified",
        /// Suspended by the operator (or disqualified for good): redeems nothing.
        Suspended = "suspended",
    }
}

impl QualificationStatus {
    /// Whether this qualification lets its site or place redeem on `today`: qualified, until a
    /// day not yet past.
    pub fn is_current(self, until: Option<&str>, today: Date) -> bool {
        self == QualificationStatus::Qualified
            && until
                .and_then(|d| d.parse::<Date>().ok())
                .is_some_and(|until| until >= today)
    }

    /// The journal action of a change to this status, for a site or a place.
    pub fn action(self, subject: &str) -> String {
        format!("{subject}.{}", self.as_str())
    }
}
