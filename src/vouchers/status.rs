//! Where a carnet and each of its cheques stand: the `status` CHECKs of
//! `migrations/0001_voucher_core.sql`, and what each is called in French.

crate::text_enum! {
    /// A carnet (pass).
    pub enum PassStatus {
        /// Printed in stock: its cheques are redeemable once it is handed over and activated.
        Inactive = "inactive",
        Active = "active",
        /// Declared lost: its unused cheques went back to the quota.
        Cancelled = "cancelled",
        /// Never stored: a carnet past its last day reads so before the nightly expiry runs.
        Expired = "expired",
    }
}

impl PassStatus {
    /// In a sentence ("Ce carnet est …").
    pub fn label(self) -> &'static str {
        match self {
            PassStatus::Inactive => "en stock, à activer",
            PassStatus::Active => "actif",
            PassStatus::Cancelled => "annulé",
            PassStatus::Expired => "expiré",
        }
    }
}

crate::text_enum! {
    /// One cheque of a carnet.
    pub enum ChequeStatus {
        /// Of a carnet in stock, not yet activated.
        Inactive = "inactive",
        /// Can be redeemed until its last day.
        Valid = "valid",
        Redeemed = "redeemed",
        Cancelled = "cancelled",
        Expired = "expired",
    }
}

impl ChequeStatus {
    /// Still to be used (now, or once its carnet is activated).
    pub fn is_unused(self) -> bool {
        matches!(self, ChequeStatus::Valid | ChequeStatus::Inactive)
    }
}
