//! Where a carnet and each of its cheques stand: the `status` CHECKs of
//! `migrations/0001_voucher_core.sql`, what each is called in French, and the one table of a
//! carnet's moves (from which states, the journal action each records).

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

/// One move of a carnet once issued: into which state, from which, and the journal action.
/// (Issuing records `pass.issued`; a carnet past its last day is read as expired, not moved.)
#[derive(Debug)]
pub struct PassMove {
    pub to: PassStatus,
    pub from: &'static [PassStatus],
    pub action: &'static str,
}

/// Handing a carnet printed in stock to its beneficiary.
pub const ACTIVATE: PassMove = PassMove {
    to: PassStatus::Active,
    from: &[PassStatus::Inactive],
    action: "pass.activated",
};

/// Declaring a carnet lost: its unused cheques go back to the quota.
pub const CANCEL: PassMove = PassMove {
    to: PassStatus::Cancelled,
    from: &[PassStatus::Inactive, PassStatus::Active],
    action: "pass.cancelled",
};

/// Every move, for whoever needs them all (the repository's updates guard the `from` states in
/// SQL, so two concurrent moves cannot both happen).
pub const PASS_MOVES: [&PassMove; 2] = [&ACTIVATE, &CANCEL];

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_carnet_is_left_by_no_move() {
        assert!(PASS_MOVES
            .iter()
            .all(|m| !m.from.contains(&PassStatus::Cancelled) && !m.from.contains(&m.to)));
    }
}
