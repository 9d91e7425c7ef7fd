//! Redemption of a cheque by a qualified site: at most once, whatever the concurrency. The
//! guard is one conditional UPDATE of the cheque's status (no read-then-write), backed by a
//! unique index allowing one live redemption per cheque.

mod check;
pub mod limits;
mod record;
mod repo;
mod undo;
mod workshop;
pub mod writer;

pub use check::{check, check_among, read_code, NewRedemption, Session, MAX_CHEQUES};
pub use record::{record, record_together, redeem};
pub use repo::{ChequeLine, RedemptionRow};
pub use undo::undo;
pub use workshop::{
    get_workshop, record_workshop, NewWorkshop, WorkshopRow, MAX_ATTENDEES, MAX_WORKSHOP_CHEQUES,
};

use crate::db::Conn;
use crate::error::{Error, Result};
use crate::orgs::{OrgKind, Organization};
use crate::vouchers::codes::{self};

/// One of the site's redemptions, with every cheque of its session (its receipt).
pub async fn get(conn: &mut Conn, site: &Organization, id: &str) -> Result<RedemptionRow> {
    site.require(OrgKind::Site)?;
    let mut redemption = repo::find_for_site(conn, id, &site.id)
        .await?
        .ok_or_else(|| Error::not_found("Cet encaissement n'existe pas."))?;
    let group = match &redemption.group_id {
        Some(group_id) => repo::group_for_site(conn, group_id, &site.id).await?,
        None => vec![redemption.clone()],
    };
    redemption.code = codes::display_code(&redemption.code);
    redemption.cheques = group
        .iter()
        .map(|m| ChequeLine {
            code: codes::display_code(&m.code),
            ..ChequeLine::of(m)
        })
        .collect();
    Ok(redemption)
}

pub async fn list(conn: &mut Conn, site: &Organization) -> Result<Vec<RedemptionRow>> {
    site.require(OrgKind::Site)?;
    let mut rows = repo::list_for_site(conn, &site.id, 500).await?;
    for r in &mut rows {
        r.code = codes::display_code(&r.code);
    }
    Ok(rows)
}
