//! Writes sent together: a [`Batch`] of statements whose outcome the work does not need,
//! deferred to the end of a [`super::Tx`] and sent in one hand-off or round trip.

use super::{is_postgres, Conn};
use sqlx::any::AnyArguments;
use sqlx::Arguments;

/// Where a value goes in the SQL of a [`Batch`] part: `format!("… WHERE id = {P}")`.
pub const P: &str = "\u{1f}";

/// A value bound in a [`Batch`]: the schema has only text and integer columns.
#[derive(Clone, Debug)]
pub enum Param {
    Text(Option<String>),
    Int(Option<i64>),
}

impl From<String> for Param {
    fn from(v: String) -> Self {
        Param::Text(Some(v))
    }
}
impl From<&str> for Param {
    fn from(v: &str) -> Self {
        Param::Text(Some(v.to_string()))
    }
}
impl From<&String> for Param {
    fn from(v: &String) -> Self {
        Param::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Param {
    fn from(v: Option<String>) -> Self {
        Param::Text(v)
    }
}
impl From<Option<&str>> for Param {
    fn from(v: Option<&str>) -> Self {
        Param::Text(v.map(str::to_string))
    }
}
impl From<&Option<String>> for Param {
    fn from(v: &Option<String>) -> Self {
        Param::Text(v.clone())
    }
}
impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Param::Int(Some(v))
    }
}

impl From<crate::money::Cents> for Param {
    fn from(v: crate::money::Cents) -> Self {
        Param::Int(Some(v.get()))
    }
}
impl From<Option<i64>> for Param {
    fn from(v: Option<i64>) -> Self {
        Param::Int(v)
    }
}

/// Parameters per statement: SQLite takes up to 32,766, PostgreSQL 65,535.
const PARAMS_PER_STATEMENT: usize = 30_000;
/// Rows per part of [`Batch::push_rows`]. On SQLite every part is a statement of its own and
/// large ones gain nothing (measured: 100,000 rows of 11 columns, 0.26–0.42 s whether 200 or
/// 1,000 rows a statement); on PostgreSQL parts share a statement.
const PARAMS_PER_PART: usize = 4_000;

/// Writes whose outcome is not needed to go on, sent to the database together: on SQLite in
/// one multi-statement string (one hand-off to sqlx's connection thread), on PostgreSQL as
/// statements whose parts are data-modifying CTEs (one round trip per 30,000 values). Parts
/// must not depend on each other's effects (on PostgreSQL they run against one snapshot, in no
/// promised order); a write whose result decides what comes next (a guarded debit, a
/// conditional update) does not belong in a batch. Upserts that add to the same row may be
/// pushed twice (a unit of work deferring several ledger postings): PostgreSQL refuses a row
/// updated twice in one statement, so the second part starts a new one.
///
/// Placeholders are written [`P`] and numbered when the batch runs, since SQLite binds `$N`
/// in time quadratic in their number (sqlx asks each parameter's name, which SQLite looks up
/// in a list: 100,000 rows of 11 columns at 200 rows a statement took 4.8 s with `$N`,
/// 0.26 s with `?`).
pub struct Batch {
    postgres: bool,
    parts: Vec<(String, Vec<Param>)>,
    /// Per part, the rows an `ON CONFLICT … DO UPDATE` may update (table and conflict key).
    updates: Vec<Vec<String>>,
}

impl Batch {
    pub fn new(conn: &Conn) -> Self {
        Batch {
            postgres: is_postgres(conn),
            parts: Vec::new(),
            updates: Vec::new(),
        }
    }

    /// Adds one statement; `params` fill its [`P`]s in order.
    pub fn push(&mut self, sql: impl Into<String>, params: Vec<Param>) {
        let sql = sql.into();
        debug_assert_eq!(sql.matches(P).count(), params.len(), "{sql}");
        self.parts.push((sql, params));
        self.updates.push(Vec::new());
    }

    /// `{head} VALUES (…), (…) {tail}` for every row, in as many parts as their size needs.
    pub fn push_rows(&mut self, head: &str, tail: &str, rows: Vec<Vec<Param>>) {
        let Some(columns) = rows.first().map(Vec::len) else {
            return;
        };
        let row = format!("({})", vec![P; columns].join(", "));
        let per_part = (PARAMS_PER_PART / columns.max(1)).max(1);
        let key = if self.postgres {
            updated_key(head, tail)
        } else {
            None
        };
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<Vec<Param>> = rows.by_ref().take(per_part).collect();
            let values = vec![row.as_str(); chunk.len()].join(", ");
            let updates = match &key {
                Some((table, at)) => chunk
                    .iter()
                    .map(|r| format!("{table}{:?}", at.iter().map(|&i| &r[i]).collect::<Vec<_>>()))
                    .collect(),
                None => Vec::new(),
            };
            self.push(
                format!("{head} VALUES {values} {tail}"),
                chunk.into_iter().flatten().collect(),
            );
            if let Some(last) = self.updates.last_mut() {
                *last = updates;
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    pub async fn execute(self, conn: &mut Conn) -> crate::error::Result<()> {
        if self.postgres {
            let mut statement: Vec<(String, Vec<Param>)> = Vec::new();
            let mut params = 0;
            let mut updated: std::collections::HashSet<String> = Default::default();
            for (part, updates) in self.parts.into_iter().zip(self.updates) {
                let again = updates.iter().any(|row| updated.contains(row));
                if (again || params + part.1.len() > PARAMS_PER_STATEMENT) && !statement.is_empty()
                {
                    run_postgres(conn, std::mem::take(&mut statement)).await?;
                    params = 0;
                    updated.clear();
                }
                updated.extend(updates);
                params += part.1.len();
                statement.push(part);
            }
            if !statement.is_empty() {
                run_postgres(conn, statement).await?;
            }
            Ok(())
        } else {
            if self.parts.is_empty() {
                return Ok(());
            }
            let sql: Vec<String> = self
                .parts
                .iter()
                .map(|(sql, _)| sql.replace(P, "?"))
                .collect();
            let args = arguments(self.parts.into_iter().flat_map(|(_, params)| params));
            sqlx::query_with(&sql.join(";\n"), args)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }
    }
}

/// For `{head}` = `INSERT INTO t (a, b, …)` and `{tail}` = `ON CONFLICT (a, …) DO UPDATE …`:
/// the table and the positions of the conflict key's columns in each row.
fn updated_key(head: &str, tail: &str) -> Option<(String, Vec<usize>)> {
    if !tail.contains("DO UPDATE") {
        return None;
    }
    let inside = |text: &str| -> Option<Vec<String>> {
        let open = text.find('(')?;
        let close = open + text[open..].find(')')?;
        Some(
            text[open + 1..close]
                .split(',')
                .map(|c| c.trim().to_string())
                .collect(),
        )
    };
    let table = head
        .strip_prefix("INSERT INTO ")?
        .split([' ', '('])
        .next()?;
    let columns = inside(head)?;
    let key = inside(tail)?
        .iter()
        .map(|k| columns.iter().position(|c| c == k))
        .collect::<Option<Vec<usize>>>()?;
    Some((table.to_string(), key))
}

async fn run_postgres(
    conn: &mut Conn,
    parts: Vec<(String, Vec<Param>)>,
) -> crate::error::Result<()> {
    let mut n = 0;
    let mut numbered = |sql: &str| {
        let mut out = String::with_capacity(sql.len() + 16);
        for (i, piece) in sql.split(P).enumerate() {
            if i > 0 {
                n += 1;
                out.push_str(&format!("${n}"));
            }
            out.push_str(piece);
        }
        out
    };
    let texts: Vec<String> = parts.iter().map(|(sql, _)| numbered(sql)).collect();
    let sql = match texts.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, ctes)) => {
            let ctes: Vec<String> = ctes
                .iter()
                .enumerate()
                .map(|(i, part)| format!("part{i} AS ({part})"))
                .collect();
            format!("WITH {} {last}", ctes.join(", "))
        }
        None => return Ok(()),
    };
    let args = arguments(parts.into_iter().flat_map(|(_, params)| params));
    sqlx::query_with(&sql, args).execute(&mut *conn).await?;
    Ok(())
}

fn arguments(params: impl Iterator<Item = Param>) -> AnyArguments<'static> {
    let mut args = AnyArguments::default();
    for param in params {
        let added = match param {
            Param::Text(v) => args.add(v),
            Param::Int(v) => args.add(v),
        };
        added.expect("text and integers always encode");
    }
    args
}

#[cfg(test)]
mod tests {
    use super::updated_key;

    #[test]
    fn an_upsert_names_its_table_and_conflict_columns() {
        assert_eq!(
            updated_key(
                "INSERT INTO ledger_flows (account_id, kind, slot, program_id, amount_cents)",
                "ON CONFLICT (account_id, kind, slot) DO UPDATE SET amount_cents = 1",
            ),
            Some(("ledger_flows".to_string(), vec![0, 1, 2]))
        );
        assert_eq!(
            updated_key(
                "INSERT INTO ledger_accounts (id, program_id)",
                "ON CONFLICT (id) DO NOTHING"
            ),
            None
        );
    }
}
