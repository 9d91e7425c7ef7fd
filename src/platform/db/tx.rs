//! The unit of work: a write transaction's connection, the writes deferred to its end, and who
//! asked for it. Domain operations take a [`Tx`]; [`super::Db::transact`] is the only way to
//! get one, so every change is committed whole, with its journal entries, or not at all.

use super::{Batch, Conn};
use crate::error::Result;
use std::ops::{Deref, DerefMut};

/// Who asked for a change and from where: kept with each journal entry the change writes.
/// Empty for the command line and background jobs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// The client address of the request (see `http::client_addr`).
    pub client_addr: Option<String>,
    /// The person signed in, when the change comes from the web pages.
    pub user_id: Option<String>,
}

impl Origin {
    /// A change the platform makes by itself (command line, scheduled jobs).
    pub fn platform() -> Self {
        Origin::default()
    }
}

/// Which slot rows of a distributor's `outstanding` a transaction moves (see
/// `ledger::Slot`): random unless the redemption writer gives its lane's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Slot {
    /// One at random: concurrent transactions seldom share one.
    #[default]
    Any,
    /// The lane's own: transactions of different lanes never share one.
    Lane(usize),
}

/// A write transaction in progress. It dereferences to the connection, so reads and the
/// `repo` functions take it as they take any connection; writes whose outcome the work does
/// not need (journal entries, ledger rows, saved answers) wait in [`Tx::deferred`] and are sent
/// together just before the commit.
pub struct Tx<'c> {
    conn: &'c mut Conn,
    deferred: Batch,
    origin: Origin,
    slot: Slot,
}

impl<'c> Tx<'c> {
    pub(super) fn new(conn: &'c mut Conn, origin: Origin) -> Self {
        Tx {
            deferred: Batch::new(conn),
            conn,
            origin,
            slot: Slot::Any,
        }
    }

    /// Who asked for this change.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Names the person acting, once the change itself has told who (a login).
    pub fn set_user(&mut self, user_id: &str) {
        self.origin.user_id = Some(user_id.to_string());
    }

    /// Writes sent together before the commit; see [`Batch`] for what may go there.
    pub fn deferred(&mut self) -> &mut Batch {
        &mut self.deferred
    }

    pub fn slot(&self) -> Slot {
        self.slot
    }

    /// Moves this transaction's `outstanding` rows in one lane's slots (redemption writers).
    pub fn use_slot(&mut self, slot: Slot) {
        self.slot = slot;
    }

    /// Sends the deferred writes now (before a statement that must see them).
    pub async fn flush(&mut self) -> Result<()> {
        if self.deferred.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.deferred, Batch::new(self.conn));
        batch.execute(self.conn).await
    }
}

impl Deref for Tx<'_> {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        self.conn
    }
}

impl DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn
    }
}
