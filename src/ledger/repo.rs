//! SQL for the ledger tables.

use super::Account;
use crate::db::{Batch, Conn, Param};
use crate::error::Result;
use sqlx::Row;
use std::collections::BTreeMap;

/// Takes `amount` from an account only if it holds at least that much. Returns false otherwise.
pub async fn debit_guarded(conn: &mut Conn, account_id: &str, amount: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE ledger_accounts SET balance_cents = balance_cents - $1 \
         WHERE id = $2 AND balance_cents >= $1",
    )
    .bind(amount)
    .bind(account_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One ledger transaction to insert.
pub struct TransactionRow {
    pub id: String,
    pub kind: &'static str,
    pub reference: String,
    pub amount_cents: i64,
}

/// One line of a transaction.
pub struct Entry {
    pub transaction_id: String,
    pub line: i64,
    pub account_id: String,
    pub amount_cents: i64,
}

pub fn insert_transactions(
    batch: &mut Batch,
    program_id: &str,
    rows: &[TransactionRow],
    now: &str,
) {
    let rows = rows
        .iter()
        .map(|t| {
            vec![
                Param::from(&t.id),
                program_id.into(),
                t.kind.into(),
                (&t.reference).into(),
                t.amount_cents.into(),
                now.into(),
            ]
        })
        .collect();
    batch.push_rows(
        "INSERT INTO ledger_transactions (id, program_id, kind, reference, amount_cents, \
         created_at)",
        "",
        rows,
    );
}

pub fn insert_entries(batch: &mut Batch, entries: &[Entry]) {
    let rows = entries
        .iter()
        .map(|e| {
            vec![
                Param::from(&e.transaction_id),
                e.line.into(),
                (&e.account_id).into(),
                e.amount_cents.into(),
            ]
        })
        .collect();
    batch.push_rows(
        "INSERT INTO ledger_entries (transaction_id, line, account_id, amount_cents)",
        "",
        rows,
    );
}

fn account_row(id: &str, program_id: &str, account: Account<'_>, cents: i64) -> Vec<Param> {
    vec![
        id.into(),
        program_id.into(),
        account.code().into(),
        account.org_id().into(),
        cents.into(),
    ]
}

/// Creates accounts whose balance row stays 0 (their balance is their flows), if missing.
/// Takes no row lock when they exist.
pub fn ensure_accounts(
    batch: &mut Batch,
    program_id: &str,
    accounts: &BTreeMap<String, Account<'_>>,
) {
    let rows = accounts
        .iter()
        .map(|(id, account)| account_row(id, program_id, *account, 0))
        .collect();
    batch.push_rows(
        "INSERT INTO ledger_accounts (id, program_id, code, org_id, balance_cents)",
        "ON CONFLICT (id) DO NOTHING",
        rows,
    );
}

/// Adds to maintained balances (creating the accounts), one row each.
pub fn add_to_balances(
    batch: &mut Batch,
    program_id: &str,
    deltas: &BTreeMap<String, (Account<'_>, i64)>,
) {
    let rows = deltas
        .iter()
        .map(|(id, (account, delta))| account_row(id, program_id, *account, *delta))
        .collect();
    batch.push_rows(
        "INSERT INTO ledger_accounts (id, program_id, code, org_id, balance_cents)",
        "ON CONFLICT (id) DO UPDATE \
         SET balance_cents = ledger_accounts.balance_cents + excluded.balance_cents",
        rows,
    );
}

/// Adds to `ledger_flows` rows: an account's total for one kind of transaction, in one slot.
pub fn add_to_flows(
    batch: &mut Batch,
    program_id: &str,
    deltas: &BTreeMap<(String, &'static str, i64), (Account<'_>, i64)>,
) {
    let rows = deltas
        .iter()
        .map(|((id, kind, slot), (account, delta))| {
            vec![
                Param::from(id.as_str()),
                (*kind).into(),
                (*slot).into(),
                program_id.into(),
                account.code().into(),
                account.org_id().into(),
                (*delta).into(),
            ]
        })
        .collect();
    batch.push_rows(
        "INSERT INTO ledger_flows (account_id, kind, slot, program_id, code, org_id, \
         amount_cents)",
        "ON CONFLICT (account_id, kind, slot) \
         DO UPDATE SET amount_cents = ledger_flows.amount_cents + excluded.amount_cents",
        rows,
    );
}

/// Every account's balance parts, `(id, program_id, code, org_id, b)`, to be summed per
/// account: the maintained balance row, plus the flows of the accounts whose balance is their
/// flows (a distributor's `outstanding`, see `Account::balance_is_flows`).
const BALANCES: &str =
    "SELECT id, program_id, code, org_id, balance_cents AS b FROM ledger_accounts \
     UNION ALL SELECT account_id, program_id, code, org_id, amount_cents FROM ledger_flows \
     WHERE code = 'outstanding'";

pub async fn balance(conn: &mut Conn, account_id: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT CAST(COALESCE(SUM(b), 0) AS BIGINT) FROM ({BALANCES}) u WHERE id = $1"
    ))
    .bind(account_id)
    .fetch_one(&mut *conn)
    .await?)
}

/// One flow or balance row of a programme, for reconciliation.
pub struct FlowRow {
    pub code: String,
    pub org_id: String,
    /// None for a balance.
    pub kind: Option<String>,
    pub amount_cents: i64,
}

/// Every flow and balance of a programme: a few rows per organisation taking part.
pub async fn flows_and_balances(conn: &mut Conn, program_id: &str) -> Result<Vec<FlowRow>> {
    let rows = sqlx::query(
        "SELECT code, org_id, kind, CAST(SUM(amount_cents) AS BIGINT) AS amount_cents \
         FROM ledger_flows WHERE program_id = $1 GROUP BY code, org_id, kind \
         UNION ALL \
         SELECT code, org_id, NULL, balance_cents FROM ledger_accounts \
         WHERE program_id = $1 AND code <> 'outstanding' \
         UNION ALL \
         SELECT code, org_id, NULL, CAST(SUM(amount_cents) AS BIGINT) FROM ledger_flows \
         WHERE program_id = $1 AND code = 'outstanding' GROUP BY code, org_id",
    )
    .bind(program_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(FlowRow {
                code: r.try_get("code")?,
                org_id: r.try_get("org_id")?,
                kind: r.try_get("kind")?,
                amount_cents: r.try_get("amount_cents")?,
            })
        })
        .collect()
}

/// Transactions whose entries do not sum to zero, or do not move their stated amount.
pub async fn unbalanced_transactions(conn: &mut Conn) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT t.id FROM ledger_transactions t \
         LEFT JOIN ledger_entries e ON e.transaction_id = t.id \
         GROUP BY t.id, t.amount_cents \
         HAVING COALESCE(SUM(e.amount_cents), 0) <> 0 \
             OR COALESCE(SUM(CASE WHEN e.amount_cents > 0 THEN e.amount_cents ELSE 0 END), 0) \
                <> t.amount_cents",
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Entries whose transaction or account does not exist (no foreign key checks them: see
/// migration 0014), with what is missing.
pub async fn orphan_entries(conn: &mut Conn) -> Result<Vec<(String, i64, String)>> {
    let rows = sqlx::query(
        "SELECT e.transaction_id, e.line, \
                CASE WHEN t.id IS NULL THEN 'transaction' ELSE 'account' END AS missing \
         FROM ledger_entries e \
         LEFT JOIN ledger_transactions t ON t.id = e.transaction_id \
         LEFT JOIN ledger_accounts a ON a.id = e.account_id \
         WHERE t.id IS NULL OR a.id IS NULL",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}

/// Accounts whose maintained balance differs from the sum of their entries (those whose balance
/// is their flows are checked through [`drifted_flows`]).
pub async fn drifted_balances(conn: &mut Conn) -> Result<Vec<(String, i64, i64)>> {
    let rows = sqlx::query(
        "SELECT a.id, a.balance_cents, CAST(COALESCE(SUM(e.amount_cents), 0) AS BIGINT) AS summed \
         FROM ledger_accounts a LEFT JOIN ledger_entries e ON e.account_id = a.id \
         WHERE a.code <> 'outstanding' \
         GROUP BY a.id, a.balance_cents \
         HAVING a.balance_cents <> COALESCE(SUM(e.amount_cents), 0)",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("balance_cents")?,
                r.try_get("summed")?,
            ))
        })
        .collect()
}

/// Flows that differ from the sum of their entries: `(account, kind, kept, summed)`.
// Written as UNION ALL + GROUP BY rather than FULL OUTER JOIN: SQLite mis-evaluates the
// latter inside a filtered subquery.
pub async fn drifted_flows(conn: &mut Conn) -> Result<Vec<(String, String, i64, i64)>> {
    let rows = sqlx::query(
        "SELECT account_id, kind, CAST(SUM(kept) AS BIGINT) AS kept, \
                CAST(SUM(summed) AS BIGINT) AS summed FROM ( \
           SELECT account_id, kind, amount_cents AS kept, 0 AS summed FROM ledger_flows \
           UNION ALL \
           SELECT e.account_id, t.kind, 0, e.amount_cents FROM ledger_entries e \
           JOIN ledger_transactions t ON t.id = e.transaction_id) u \
         GROUP BY account_id, kind HAVING SUM(kept) <> SUM(summed)",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("account_id")?,
                r.try_get("kind")?,
                r.try_get("kept")?,
                r.try_get("summed")?,
            ))
        })
        .collect()
}

/// Accounts other than the funder's with a negative balance.
pub async fn negative_accounts(conn: &mut Conn) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT id FROM ({BALANCES}) u WHERE code <> 'funder' GROUP BY id HAVING SUM(b) < 0"
    ))
    .fetch_all(&mut *conn)
    .await?)
}

/// Programmes whose balances do not sum to zero.
pub async fn programs_not_summing_to_zero(conn: &mut Conn) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT program_id FROM ({BALANCES}) u GROUP BY program_id HAVING SUM(b) <> 0"
    ))
    .fetch_all(&mut *conn)
    .await?)
}

/// Ledger balances compared with what the voucher and redemption tables say they should be:
/// `(account id, ledger balance, expected)` for each disagreement. What a site is owed is
/// compared as redeemed + payable + paid + the operator fees kept on it, under the `redeemed`
/// account's id.
pub async fn disagreements_with_vouchers(conn: &mut Conn) -> Result<Vec<(String, i64, i64)>> {
    let rows = sqlx::query(
        "SELECT id, CAST(SUM(ledger) AS BIGINT) AS ledger, \
                CAST(SUM(expected) AS BIGINT) AS expected FROM ( \
           SELECT account_id AS id, amount_cents AS ledger, 0 AS expected FROM ledger_flows \
           WHERE code = 'outstanding' \
           UNION ALL \
           SELECT program_id || ':outstanding:' || distributor_id, 0, value_cents FROM vouchers \
           WHERE status IN ('inactive', 'valid') \
           UNION ALL \
           SELECT program_id || ':redeemed:' || org_id, balance_cents, 0 FROM ledger_accounts \
           WHERE code IN ('redeemed', 'payable', 'paid') \
           UNION ALL \
           SELECT program_id || ':redeemed:' || site_id, 0, value_cents FROM redemptions \
           WHERE undone_at IS NULL \
           UNION ALL \
           SELECT program_id || ':redeemed:' || org_id, -amount_cents, 0 FROM ledger_flows \
           WHERE code = 'redeemed' AND kind = 'operator_fee') u \
         GROUP BY id HAVING SUM(ledger) <> SUM(expected)",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("ledger")?,
                r.try_get("expected")?,
            ))
        })
        .collect()
}

/// Cheques marked redeemed without exactly one live redemption, or the reverse.
pub async fn voucher_redemption_mismatches(conn: &mut Conn) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT v.id FROM vouchers v \
         LEFT JOIN redemptions r ON r.voucher_id = v.id AND r.undone_at IS NULL \
         WHERE (v.status = 'redeemed') <> (r.id IS NOT NULL)",
    )
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn program_budgets(conn: &mut Conn) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query("SELECT id, budget_cents FROM programs ORDER BY id")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("budget_cents")?)))
        .collect()
}

pub async fn balances_of(
    conn: &mut Conn,
    program_id: &str,
    code: &str,
) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query(&format!(
        "SELECT org_id, CAST(SUM(b) AS BIGINT) AS balance_cents FROM ({BALANCES}) u \
             WHERE program_id = $1 AND code = $2 GROUP BY org_id ORDER BY org_id"
    ))
    .bind(program_id)
    .bind(code)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("org_id")?, r.try_get("balance_cents")?)))
        .collect()
}

/// Every flow and balance of one organisation, across programmes: `(programme, row)`.
pub async fn flows_and_balances_of_org(
    conn: &mut Conn,
    org_id: &str,
) -> Result<Vec<(String, FlowRow)>> {
    let rows = sqlx::query(
        "SELECT program_id, code, org_id, kind, CAST(SUM(amount_cents) AS BIGINT) AS amount_cents \
         FROM ledger_flows WHERE org_id = $1 GROUP BY program_id, code, org_id, kind \
         UNION ALL \
         SELECT program_id, code, org_id, NULL, balance_cents FROM ledger_accounts \
         WHERE org_id = $1 AND code <> 'outstanding' \
         UNION ALL \
         SELECT program_id, code, org_id, NULL, CAST(SUM(amount_cents) AS BIGINT) \
         FROM ledger_flows WHERE org_id = $1 AND code = 'outstanding' \
         GROUP BY program_id, code, org_id",
    )
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("program_id")?,
                FlowRow {
                    code: r.try_get("code")?,
                    org_id: r.try_get("org_id")?,
                    kind: r.try_get("kind")?,
                    amount_cents: r.try_get("amount_cents")?,
                },
            ))
        })
        .collect()
}
