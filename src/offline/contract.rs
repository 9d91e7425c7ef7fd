//! What a console sends when it syncs, and what it is answered: the contract of
//! `POST /api/v1/offline/sync` (and of the console's route with the agent's session).

use super::repo::Use;
use crate::vouchers::codes;
use serde::{Deserialize, Serialize};

/// What a console sends when it is back online.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// The sessions recorded offline, at most 100 (a request body holds 64 KiB at most).
    #[schema(max_items = 100)]
    pub records: Vec<SyncRecord>,
}

/// One session recorded offline.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRecord {
    /// The device that recorded it (from its registration).
    pub device_id: String,
    /// The device's own number for this record, unique per device: sending the same record
    /// again is harmless.
    pub seq: i64,
    /// The session's real time, RFC 3339 with its offset (`2026-03-07T20:37:00-04:00`).
    pub session_at: String,
    /// The cheques of the session (of the same carnet), exactly as scanned or typed.
    #[schema(max_items = 10)]
    pub cheques: Vec<Scanned>,
    #[serde(default)]
    pub place_id: Option<String>,
    #[serde(default)]
    pub service_id: Option<String>,
    /// `individual_help`, `administrative_procedure` or `workshop`.
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub minutes: Option<i64>,
    #[serde(default)]
    pub themes: Vec<String>,
    /// `at_site`, `at_home` or `remote`.
    #[serde(default)]
    pub location: Option<String>,
    /// `emergency`, `inclusion` or `upskilling`; the carnet's level when absent.
    #[serde(default)]
    pub help_level: Option<String>,
}

/// A cheque as the console read it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scanned {
    /// The QR payload (any version) or the typed short code.
    pub code: String,
    /// A short code typed offline: only its typos could be checked, the server confirms it.
    #[serde(default)]
    pub to_confirm: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Redeemed: `redemption_id` names it.
    Accepted,
    /// A cheque had already been used: `used` says where and when; nothing was paid.
    Conflict,
    /// Not redeemed: `reason` says why.
    Refused,
}

impl Outcome {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Conflict => "conflict",
            Outcome::Refused => "refused",
        }
    }

    pub(super) fn from_stored(text: &str) -> Outcome {
        match text {
            "accepted" => Outcome::Accepted,
            "conflict" => Outcome::Conflict,
            _ => Outcome::Refused,
        }
    }
}

/// The answer to one record.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RecordOutcome {
    pub device_id: String,
    pub seq: i64,
    pub outcome: Outcome,
    /// The redemption (of the session's first cheque), when accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redemption_id: Option<String>,
    /// The session's time as understood (UTC), when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_at: Option<String>,
    /// Why it is refused or in conflict: a code, and a sentence in French for the agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For a conflict: where and when each cheque had been used.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub used: Vec<UsedCheque>,
    /// True when this is the answer kept from an earlier sending of the same record.
    pub replayed: bool,
}

/// Where and when a cheque had already been used.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct UsedCheque {
    pub code: String,
    pub site_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub place_name: Option<String>,
    pub used_at: String,
}

impl From<Use> for UsedCheque {
    fn from(u: Use) -> Self {
        UsedCheque {
            code: codes::display_code(&u.code),
            site_name: u.site_name,
            place_name: u.place_name,
            used_at: u.used_at,
        }
    }
}
