//! SQL for redemptions, and the conditional updates of vouchers they make.

use crate::catalogue::typology::Themes;
use crate::db::{Batch, Conn, Param};
use crate::error::Result;
use crate::money::Cents;
use crate::vouchers::ChequeStatus;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RedemptionRow {
    pub id: String,
    pub voucher_id: String,
    pub site_id: String,
    pub program_id: String,
    #[serde(skip)]
    pub distributor_id: String,
    /// The cheque's carnet, from the cheque taken: people are counted by it.
    #[serde(skip)]
    pub pass_id: String,
    pub value_cents: Cents,
    pub service: Option<String>,
    pub minutes: Option<i64>,
    pub redeemed_at: String,
    pub undone_at: Option<String>,
    pub settlement_id: Option<String>,
    /// The cheque's short code, as printed.
    pub code: String,
    /// The place where the service was given (absent on redemptions made before places).
    pub place_id: Option<String>,
    /// The catalogue service named, if any.
    pub service_id: Option<String>,
    /// Theme identifiers of the national typology.
    #[sqlx(try_from = "String")]
    #[schema(value_type = Vec<String>)]
    pub themes: Themes,
    /// `at_site`, `at_home` or `remote`.
    pub location: Option<String>,
    /// The redemption id shared by the cheques redeemed together for one session (a
    /// workshop's id for the cheques of its carnets).
    pub group_id: Option<String>,
    /// Level of help given: `emergency`, `inclusion` or `upskilling` (the carnet's unless the
    /// site said otherwise).
    pub help_level: Option<String>,
    /// When the help was given, for a session recorded offline and synced later (the sync is
    /// `redeemed_at`, which settlement follows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_at: Option<String>,
    /// The console that recorded the session offline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// Every cheque of the session, in answers to a redemption or an undo.
    #[sqlx(skip)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cheques: Vec<ChequeLine>,
}

/// One cheque of a session.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChequeLine {
    /// The redemption of this cheque.
    pub redemption_id: String,
    pub voucher_id: String,
    pub code: String,
    pub value_cents: Cents,
}

impl ChequeLine {
    pub fn of(r: &RedemptionRow) -> ChequeLine {
        ChequeLine {
            redemption_id: r.id.clone(),
            voucher_id: r.voucher_id.clone(),
            code: r.code.clone(),
            value_cents: r.value_cents,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct TakenVoucher {
    pub id: String,
    pub code: String,
    pub pass_id: String,
    pub program_id: String,
    pub distributor_id: String,
    pub value_cents: Cents,
    /// The last day it is accepted: the local day it is checked against (with its
    /// programme's planned end and stored zone), and what its PN2 payload must state.
    pub redeemable_until: String,
    pub closes_on: Option<String>,
    pub time_zone: Option<String>,
    /// The rules of the cheque's programme (see `programs::Territory` and `Services`).
    pub territory: String,
    pub services: String,
    /// The level of help noted on the cheque's carnet, if any.
    pub help_level: Option<String>,
    /// How many cheques its carnet has (to tell when it is finished).
    pub pass_cheques: i64,
}

#[derive(sqlx::FromRow)]
pub struct VoucherState {
    #[sqlx(try_from = "String")]
    pub status: ChequeStatus,
    pub expires_on: String,
    pub redeemable_until: String,
    pub redeemed_at: Option<String>,
    /// When the cheque's programme was closed, if it was.
    pub program_closed_at: Option<String>,
    /// Its programme's last day (planned, or the day it ended), if any.
    pub program_closes_on: Option<String>,
    /// Where its programme is (territory, stored zone): the zone of its last day.
    pub territory: String,
    pub time_zone: Option<String>,
}

/// The one statement that decides who redeems these cheques: those still valid on `today`, of
/// a programme not past its last day, are taken; the others are left as they are. `today` is
/// the earliest day anywhere: the caller checks each cheque against its programme's own day.
pub async fn take_vouchers(
    conn: &mut Conn,
    codes: &[String],
    today: &str,
    now: &str,
) -> Result<Vec<TakenVoucher>> {
    let sql = take_vouchers_sql(codes.len());
    let mut query = sqlx::query_as(&sql).bind(now).bind(today);
    for code in codes {
        query = query.bind(code);
    }
    Ok(query.fetch_all(&mut *conn).await?)
}

/// `status` as an expression no index matches, for statements that find cheques by their code
/// or id: compared bare, both planners may intersect the key's index with `vouchers_expiry`
/// (status, last day), which walks every cheque of that status. SQLite does so without
/// statistics, as passnum's databases are (run L: 8 concurrent sites fell from 2,058 to 175
/// redemptions/s over 144,000 cheques); PostgreSQL in the generic plan it settles on for a
/// prepared statement taking several codes (issue 25: 12 ms for a group of four over 400,000
/// cheques instead of 0.04 ms, and eight sites got fewer redemptions per second than one).
const STATUS: &str = "status || ''";

/// The statement of [`take_vouchers`] for `codes` codes.
fn take_vouchers_sql(codes: usize) -> String {
    let list = (3..codes + 3)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "UPDATE vouchers SET status = 'redeemed', status_changed_at = $1 \
         WHERE code IN ({list}) AND {STATUS} = 'valid' AND redeemable_until >= $2 \
         AND NOT EXISTS (SELECT 1 FROM programs p WHERE p.id = vouchers.program_id \
                         AND p.closes_on < $2) \
         RETURNING {TAKEN}"
    )
}

/// What a taken cheque brings back (see [`TakenVoucher`]).
const TAKEN: &str =
    "id, code, pass_id, program_id, distributor_id, value_cents, redeemable_until, \
     (SELECT territory FROM programs p WHERE p.id = vouchers.program_id) AS territory, \
     (SELECT services FROM programs p WHERE p.id = vouchers.program_id) AS services, \
     (SELECT help_level FROM passes c WHERE c.id = vouchers.pass_id) AS help_level, \
     (SELECT cheques FROM passes c WHERE c.id = vouchers.pass_id) AS pass_cheques, \
     (SELECT closes_on FROM programs p WHERE p.id = vouchers.program_id) AS closes_on, \
     (SELECT time_zone FROM programs p WHERE p.id = vouchers.program_id) AS time_zone";

/// Cheques of these codes that the expiry job expired with a last day on or after `bound`,
/// of programmes still open (a closed programme's unused value went back to its funder), and
/// when they were expired: `(id, status_changed_at)`.
pub async fn expired_since(
    conn: &mut Conn,
    codes: &[String],
    bound: &str,
) -> Result<Vec<(String, Option<String>)>> {
    let list = (2..codes.len() + 2)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT id, status_changed_at FROM vouchers \
         WHERE code IN ({list}) AND {STATUS} = 'expired' AND redeemable_until >= $1 \
         AND NOT EXISTS (SELECT 1 FROM programs p WHERE p.id = vouchers.program_id \
                         AND (p.closed_at IS NOT NULL OR p.closes_on < $1))"
    );
    let mut query = sqlx::query_as(&sql).bind(bound);
    for code in codes {
        query = query.bind(code);
    }
    Ok(query.fetch_all(&mut *conn).await?)
}

/// Takes expired cheques, by id, as [`take_vouchers`] takes valid ones.
pub async fn take_expired(conn: &mut Conn, ids: &[String], now: &str) -> Result<Vec<TakenVoucher>> {
    let list = (2..ids.len() + 2)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE vouchers SET status = 'redeemed', status_changed_at = $1 \
         WHERE id IN ({list}) AND {STATUS} = 'expired' RETURNING {TAKEN}"
    );
    let mut query = sqlx::query_as(&sql).bind(now);
    for id in ids {
        query = query.bind(id);
    }
    Ok(query.fetch_all(&mut *conn).await?)
}

/// Gives back expired cheques taken for a session that could not have them: expired again,
/// since the moment the job expired them.
pub async fn give_back_expired(conn: &mut Conn, back: &[(String, Option<String>)]) -> Result<()> {
    for (id, expired_at) in back {
        sqlx::query(
            "UPDATE vouchers SET status = 'expired', status_changed_at = $1 \
             WHERE id = $2 AND status = 'redeemed'",
        )
        .bind(expired_at)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Gives back cheques taken for a session that could not have all of its own: they are valid
/// again, as if never taken (an undo does the same).
pub async fn give_back(conn: &mut Conn, voucher_ids: &[String]) -> Result<()> {
    let list = (1..=voucher_ids.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE vouchers SET status = 'valid', status_changed_at = NULL \
         WHERE id IN ({list}) AND {STATUS} = 'redeemed'"
    );
    let mut query = sqlx::query(&sql);
    for id in voucher_ids {
        query = query.bind(id);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

pub async fn voucher_state(conn: &mut Conn, code: &str) -> Result<Option<VoucherState>> {
    Ok(sqlx::query_as(
        "SELECT v.status, v.expires_on, v.redeemable_until, r.redeemed_at, \
         p.closed_at AS program_closed_at, p.closes_on AS program_closes_on, \
         COALESCE(p.territory, '') AS territory, p.time_zone FROM vouchers v \
         LEFT JOIN redemptions r ON r.voucher_id = v.id AND r.undone_at IS NULL \
         LEFT JOIN programs p ON p.id = v.program_id \
         WHERE v.code = $1",
    )
    .bind(code)
    .fetch_optional(&mut *conn)
    .await?)
}

pub fn insert(batch: &mut Batch, redemptions: &[RedemptionRow]) {
    let rows = redemptions
        .iter()
        .map(|r| {
            vec![
                Param::from(&r.id),
                (&r.voucher_id).into(),
                (&r.site_id).into(),
                (&r.program_id).into(),
                (&r.distributor_id).into(),
                (&r.pass_id).into(),
                r.value_cents.into(),
                (&r.service).into(),
                r.minutes.into(),
                (&r.redeemed_at).into(),
                (&r.place_id).into(),
                (&r.service_id).into(),
                r.themes.stored().into(),
                (&r.location).into(),
                (&r.group_id).into(),
                // Canonical, as in `vouchers`: the printed form without its dashes.
                r.code.replace('-', "").into(),
                (&r.help_level).into(),
                (&r.session_at).into(),
                (&r.device_id).into(),
            ]
        })
        .collect();
    batch.push_rows(
        "INSERT INTO redemptions (id, voucher_id, site_id, program_id, distributor_id, \
         pass_id, value_cents, service, minutes, redeemed_at, place_id, service_id, themes, location, \
         group_id, code, help_level, session_at, device_id)",
        "",
        rows,
    );
}

/// `settlement_id` is the batch whose line pays the redemption: the line whose period covers
/// it, or for batches made before periods (migration 0012) the batch the row names.
const COLUMNS: &str = "r.id, r.voucher_id, r.site_id, r.program_id, r.distributor_id, \
                       r.pass_id, r.value_cents, r.service, r.minutes, r.redeemed_at, r.undone_at, \
                       COALESCE(r.settlement_id, sl.settlement_id) AS settlement_id, r.code, \
                       r.place_id, r.service_id, r.themes, r.location, r.group_id, \
                       r.help_level, r.session_at, r.device_id";

/// The settlement line, if any, whose period covers `r` (it is `sl` in `COLUMNS`).
const COVERING_LINE: &str = "LEFT JOIN settlement_lines sl ON sl.site_id = r.site_id \
     AND sl.program_id = r.program_id AND sl.period_start <= r.redeemed_at \
     AND r.redeemed_at < sl.period_end AND r.undone_at IS NULL AND r.settlement_id IS NULL";

pub async fn find_for_site(
    conn: &mut Conn,
    id: &str,
    site_id: &str,
) -> Result<Option<RedemptionRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM redemptions r {COVERING_LINE} WHERE r.id = $1 AND r.site_id = $2"
    ))
    .bind(id)
    .bind(site_id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// The cheques redeemed together for one session.
pub async fn group_for_site(
    conn: &mut Conn,
    group_id: &str,
    site_id: &str,
) -> Result<Vec<RedemptionRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM redemptions r {COVERING_LINE} WHERE r.group_id = $1 AND r.site_id = $2 ORDER BY r.code"
    ))
    .bind(group_id)
    .bind(site_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn list_for_site(
    conn: &mut Conn,
    site_id: &str,
    limit: i64,
) -> Result<Vec<RedemptionRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM redemptions r {COVERING_LINE} WHERE r.site_id = $1 ORDER BY r.redeemed_at DESC, r.id LIMIT $2"
    ))
    .bind(site_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// Undoes a redemption only if it is live, unsettled and recent enough, in one statement.
/// Settled: a settlement line's period covers it, or (before periods) it names a batch.
pub async fn mark_undone(
    conn: &mut Conn,
    id: &str,
    site_id: &str,
    cutoff: &str,
    now: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE redemptions SET undone_at = $1 WHERE id = $2 AND site_id = $3 \
         AND undone_at IS NULL AND settlement_id IS NULL AND redeemed_at >= $4 \
         AND NOT EXISTS (SELECT 1 FROM settlement_lines sl \
             WHERE sl.site_id = redemptions.site_id AND sl.program_id = redemptions.program_id \
             AND sl.period_start <= redemptions.redeemed_at \
             AND redemptions.redeemed_at < sl.period_end)",
    )
    .bind(now)
    .bind(id)
    .bind(site_id)
    .bind(cutoff)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn restore_voucher(conn: &mut Conn, voucher_id: &str) -> Result<()> {
    let done = sqlx::query(
        "UPDATE vouchers SET status = 'valid', status_changed_at = NULL \
         WHERE id = $1 AND status = 'redeemed'",
    )
    .bind(voucher_id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Err(
            anyhow::anyhow!("undone redemption's cheque {voucher_id} was not redeemed").into(),
        );
    }
    Ok(())
}

pub async fn cancel_if_pass_cancelled(
    conn: &mut Conn,
    voucher_id: &str,
    now: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE vouchers SET status = 'cancelled', status_changed_at = $1 \
         WHERE id = $2 AND status = 'valid' \
         AND pass_id IN (SELECT id FROM passes WHERE status = 'cancelled')",
    )
    .bind(now)
    .bind(voucher_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::take_vouchers_sql;
    use crate::db::Db;

    /// The plan SQLite picks on a database without statistics, as passnum's are.
    #[tokio::test]
    async fn sqlite_looks_codes_up_in_their_index() {
        for codes in [1, 2, 20, 64] {
            let binds = vec!["x"; codes + 2];
            let details = crate::db::sqlite_plan(&take_vouchers_sql(codes), &binds).await;
            assert!(
                details.iter().any(|d| d.contains("(code=?)")),
                "{codes} codes: {details:?}"
            );
        }
    }

    /// The generic plan PostgreSQL settles on for a prepared statement (sqlx prepares each
    /// one): codes looked up in their index, never a walk of `vouchers_expiry`.
    #[tokio::test]
    async fn postgres_generic_plan_looks_codes_up_in_their_index() {
        let Ok(admin) = std::env::var("PASSNUM_TEST_POSTGRES_URL") else {
            eprintln!("skipped: PASSNUM_TEST_POSTGRES_URL is not set");
            return;
        };
        sqlx::any::install_default_drivers();
        let name = format!(
            "passnum_plan_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let admin_pool = sqlx::AnyPool::connect(&admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin_pool)
            .await
            .unwrap();
        let (base, _) = admin.rsplit_once('/').unwrap();
        let db = Db::connect(&format!("{base}/{name}"), 1).await.unwrap();
        db.migrate().await.unwrap();
        let mut conn = db.read().await.unwrap();
        // Cheques enough for the plan to matter (an empty table's plans mean nothing), written
        // without the rows they refer to, and not analysed, as after a day's issuance.
        for sql in [
            "SET session_replication_role = replica",
            "INSERT INTO vouchers (id, pass_id, program_id, distributor_id, position, code, \
             key_id, value_cents, expires_on, redeemable_until, status) \
             SELECT 'v' || n, 'p' || (n / 10), 'prog', 'dist', n % 10, 'C' || n, 'K1', 1000, \
             '2027-12-31', '2028-01-31', 'valid' FROM generate_series(1, 50000) AS n",
            "SET session_replication_role = DEFAULT",
            "SET plan_cache_mode = force_generic_plan",
        ] {
            sqlx::query(sql).execute(&mut *conn).await.unwrap();
        }
        for codes in [1, 2, 4, 64] {
            let args = vec!["'x'"; codes + 2].join(", ");
            sqlx::query(&format!(
                "PREPARE take{codes} AS {}",
                take_vouchers_sql(codes)
            ))
            .execute(&mut *conn)
            .await
            .unwrap();
            let plan: Vec<String> =
                sqlx::query_scalar(&format!("EXPLAIN EXECUTE take{codes}({args})"))
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap();
            let plan = plan.join("\n");
            assert!(plan.contains("vouchers_code_key"), "{codes} codes:\n{plan}");
            assert!(!plan.contains("vouchers_expiry"), "{codes} codes:\n{plan}");
        }
        drop(conn);
        db.close().await;
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&admin_pool)
            .await
            .unwrap();
    }
}

/// Writes a workshop's row (its cheques are the redemptions sharing its id as `group_id`).
pub async fn insert_workshop(
    conn: &mut Conn,
    w: &super::workshop::WorkshopRow,
    cheques: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO workshops (id, site_id, place_id, kind, attendees, carnets, cheques, \
         minutes, themes, location, help_level, held_at) \
         VALUES ($1, $2, $3, 'workshop', $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&w.id)
    .bind(&w.site_id)
    .bind(&w.place_id)
    .bind(w.attendees)
    .bind(w.carnets)
    .bind(cheques)
    .bind(w.minutes)
    .bind(w.themes.stored())
    .bind(&w.location)
    .bind(&w.help_level)
    .bind(&w.held_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct WorkshopFields {
    id: String,
    site_id: String,
    place_id: Option<String>,
    attendees: i64,
    carnets: i64,
    minutes: Option<i64>,
    themes: String,
    location: Option<String>,
    help_level: Option<String>,
    held_at: String,
}

/// One of a site's workshops, with its cheques (undone ones included, as the receipt shows).
pub async fn find_workshop(
    conn: &mut Conn,
    site_id: &str,
    id: &str,
) -> Result<Option<super::workshop::WorkshopRow>> {
    let found: Option<WorkshopFields> = sqlx::query_as(
        "SELECT id, site_id, place_id, attendees, carnets, minutes, themes, location, \
         help_level, held_at FROM workshops WHERE id = $1 AND site_id = $2",
    )
    .bind(id)
    .bind(site_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(w) = found else {
        return Ok(None);
    };
    let cheques: Vec<ChequeLine> = group_for_site(conn, &w.id, site_id)
        .await?
        .iter()
        .map(|r| ChequeLine {
            code: crate::vouchers::codes::display_code(&r.code),
            ..ChequeLine::of(r)
        })
        .collect();
    Ok(Some(super::workshop::WorkshopRow {
        total_cents: cheques.iter().map(|c| c.value_cents).sum(),
        cheques,
        id: w.id,
        site_id: w.site_id,
        place_id: w.place_id,
        attendees: w.attendees,
        carnets: w.carnets,
        minutes: w.minutes,
        themes: Themes::from(w.themes),
        location: w.location,
        help_level: w.help_level,
        held_at: w.held_at,
    }))
}
