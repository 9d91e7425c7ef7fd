//! Where an application stands: the states of the `status` CHECK of
//! `migrations/0008_applications.sql`, what each is called in French, and the one table of
//! the moves between them (from which states each is taken, the journal action it records).

use crate::error::{Error, Result};

crate::text_enum! {
    /// It arrives `Received`; the operator may start examining it (`UnderReview`), then, from
    /// either of these open states, sends it back (`ChangesRequested`), refuses it (`Rejected`)
    /// or accepts it (`Qualified`). Only a `ChangesRequested` application can be corrected by
    /// the applicant, which makes it `Received` again; `Rejected` and `Qualified` are final.
    pub enum Status {
        Received = "received",
        UnderReview = "under_review",
        ChangesRequested = "changes_requested",
        Qualified = "qualified",
        Rejected = "rejected",
    }
}

impl Status {
    /// In plain words, for the applicant and the operator.
    pub fn label(self) -> &'static str {
        match self {
            Status::Received => "Candidature reçue",
            Status::UnderReview => "Candidature en cours d'examen",
            Status::ChangesRequested => "Modifications demandées",
            Status::Qualified => "Candidature acceptée : structure qualifiée",
            Status::Rejected => "Candidature refusée",
        }
    }

    /// Whether the operator can still decide on it.
    pub fn is_open(self) -> bool {
        matches!(self, Status::Received | Status::UnderReview)
    }

    /// The move into this state from `from`, or why it is refused.
    pub fn entered_from(self, from: Status) -> Result<&'static Move> {
        let found = MOVES
            .iter()
            .find(|m| m.to == self)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("no move to {}", self.as_str())))?;
        if found.from.contains(&from) {
            return Ok(found);
        }
        Err(if self == Status::Received {
            Error::conflict(
                "not_changeable",
                "Cette candidature ne peut plus être modifiée : l'opérateur ne vous a pas demandé de changement.",
            )
        } else {
            Error::conflict(
                "already_decided",
                format!(
                    "Cette candidature n'attend pas de décision (état : {}).",
                    from.label().to_lowercase()
                ),
            )
        })
    }
}

/// One move of an application: into which state, from which, and the journal action.
#[derive(Debug)]
pub struct Move {
    pub to: Status,
    pub from: &'static [Status],
    pub action: &'static str,
}

const OPEN: &[Status] = &[Status::Received, Status::UnderReview];

pub const MOVES: [Move; 5] = [
    Move {
        to: Status::UnderReview,
        from: OPEN,
        action: "application.under_review",
    },
    Move {
        to: Status::ChangesRequested,
        from: OPEN,
        action: "application.changes_requested",
    },
    Move {
        to: Status::Rejected,
        from: OPEN,
        action: "application.rejected",
    },
    Move {
        to: Status::Qualified,
        from: OPEN,
        action: "application.qualified",
    },
    Move {
        to: Status::Received,
        from: &[Status::ChangesRequested],
        action: "application.resubmitted",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_but_the_first_is_entered_by_one_move() {
        for state in Status::ALL {
            let moves = MOVES.iter().filter(|m| m.to == *state).count();
            assert_eq!(moves, 1, "{}", state.as_str());
        }
    }

    #[test]
    fn final_states_are_left_by_no_move() {
        for done in [Status::Qualified, Status::Rejected] {
            assert!(!done.is_open());
            assert!(MOVES.iter().all(|m| !m.from.contains(&done)));
            let refused = Status::Received.entered_from(done).unwrap_err();
            assert_eq!(refused.code(), "not_changeable");
            let refused = Status::Rejected.entered_from(done).unwrap_err();
            assert_eq!(refused.code(), "already_decided");
        }
    }
}
