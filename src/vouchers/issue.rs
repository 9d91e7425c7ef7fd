//! Issuing carnets within a distributor's quota: one, or a batch of up to [`MAX_BATCH`], all
//! or nothing, each cheque signed and its value moved from the quota to what is in circulation.

use super::codes::{self, Keyring};
use super::repo::{self, PassRow, VoucherRow};
use super::{view, ChequeStatus, PassStatus, PassView};
use crate::clock::format_ts;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::ledger::{self, Account, Kind, Transfer};
use crate::orgs::{OrgKind, Organization};
use crate::outcomes::{Facts, FactsInput};
use jiff::{Timestamp, ToSpan};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPass {
    pub program_id: String,
    pub cheques: i64,
    pub beneficiary_ref: Option<String>,
    pub email: Option<String>,
    pub active: Option<bool>,
    /// Level of help the person needs: `emergency`, `inclusion` or `upskilling`.
    #[serde(default)]
    pub help_level: Option<String>,
    /// Optional anonymous facts, from lists: `under_26`, `26_44`, `45_64`, `65_plus`.
    #[serde(default)]
    pub age_bracket: Option<String>,
    /// `job_seeker`, `employed`, `retired`, `student` or `other`.
    #[serde(default)]
    pub situation: Option<String>,
    /// Lives in a priority neighbourhood (QPV): `yes`, `no` or `unknown`.
    #[serde(default)]
    pub priority_area: Option<String>,
    /// Lives in a rural commune: `yes`, `no` or `unknown`.
    #[serde(default)]
    pub rural: Option<String>,
}

pub(super) fn clean_beneficiary_ref(value: Option<String>) -> Result<Option<String>> {
    let value = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    if value.as_ref().is_some_and(|v| v.chars().count() > 64) {
        return Err(Error::invalid(
            "invalid_beneficiary_ref",
            "La référence du bénéficiaire fait 64 caractères au plus. N'y mettez ni nom ni adresse : un identifiant interne suffit.",
        ));
    }
    if value.as_deref().is_some_and(looks_like_name_or_address) {
        return Err(Error::invalid(
            "personal_data_in_reference",
            "La référence du bénéficiaire ne doit contenir ni nom ni adresse : elle est gardée avec le carnet. Indiquez votre numéro de dossier interne.",
        ));
    }
    Ok(value)
}

/// Whether a reference holds what the form says to leave out: a civility before a name
/// ("Mme Durand") or a street address ("12 rue des Lilas"). A file number never does.
fn looks_like_name_or_address(reference: &str) -> bool {
    const CIVILITIES: [&str; 6] = ["mme", "mlle", "mr", "monsieur", "madame", "mademoiselle"];
    const STREETS: [&str; 13] = [
        "rue",
        "avenue",
        "boulevard",
        "bd",
        "chemin",
        "allée",
        "allee",
        "impasse",
        "route",
        "quai",
        "lotissement",
        "résidence",
        "residence",
    ];
    let lower = reference.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let civility = words.iter().any(|w| CIVILITIES.contains(w))
        || reference.starts_with("M. ")
        || reference.contains(" M. ");
    let street =
        words.iter().any(|w| STREETS.contains(w)) && reference.chars().any(|c| c.is_ascii_digit());
    civility || street
}

pub async fn issue(
    tx: &mut Tx<'_>,
    keyring: &Keyring,
    distributor: &Organization,
    new: NewPass,
    now: Timestamp,
) -> Result<PassView> {
    distributor.require(OrgKind::Distributor)?;
    let carnet = NewCarnet {
        cheques: new.cheques,
        beneficiary_ref: new.beneficiary_ref,
        email: new.email,
        help_level: new.help_level,
        age_bracket: new.age_bracket,
        situation: new.situation,
        priority_area: new.priority_area,
        rural: new.rural,
    };
    let batch = NewBatch {
        program_id: new.program_id,
        carnets: vec![carnet],
        active: new.active,
    };
    let mut issued = issue_carnets(tx, keyring, distributor, batch, now).await?;
    Ok(issued.remove(0))
}

/// Most carnets one batch may hold: a batch is one transaction, kept short.
pub const MAX_BATCH: usize = 1000;

/// Many carnets of one programme at once, e.g. a distributor's yearly print run.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBatch {
    pub program_id: String,
    pub carnets: Vec<NewCarnet>,
    /// False for carnets printed in stock, activated when handed over.
    pub active: Option<bool>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCarnet {
    pub cheques: i64,
    pub beneficiary_ref: Option<String>,
    pub email: Option<String>,
    /// Level of help the person needs: `emergency`, `inclusion` or `upskilling`.
    #[serde(default)]
    pub help_level: Option<String>,
    /// Optional anonymous facts, from lists: `under_26`, `26_44`, `45_64`, `65_plus`.
    #[serde(default)]
    pub age_bracket: Option<String>,
    /// `job_seeker`, `employed`, `retired`, `student` or `other`.
    #[serde(default)]
    pub situation: Option<String>,
    /// Lives in a priority neighbourhood (QPV): `yes`, `no` or `unknown`.
    #[serde(default)]
    pub priority_area: Option<String>,
    /// Lives in a rural commune: `yes`, `no` or `unknown`.
    #[serde(default)]
    pub rural: Option<String>,
}

impl NewCarnet {
    fn facts_input(&self) -> FactsInput {
        FactsInput {
            help_level: self.help_level.clone(),
            age_bracket: self.age_bracket.clone(),
            situation: self.situation.clone(),
            priority_area: self.priority_area.clone(),
            rural: self.rural.clone(),
        }
    }
}

/// Issues a batch of carnets: all or nothing, within the distributor's quota.
pub async fn issue_batch(
    tx: &mut Tx<'_>,
    keyring: &Keyring,
    distributor: &Organization,
    batch: NewBatch,
    now: Timestamp,
) -> Result<Vec<PassView>> {
    distributor.require(OrgKind::Distributor)?;
    if batch.carnets.is_empty() || batch.carnets.len() > MAX_BATCH {
        return Err(Error::invalid(
            "invalid_batch",
            format!("Un lot contient de 1 à {MAX_BATCH} carnets."),
        ));
    }
    issue_carnets(tx, keyring, distributor, batch, now).await
}

/// The sizes a carnet may have, in cheques.
pub const SIZES: [i64; 2] = [5, 10];

/// One carnet's request, checked and cleaned.
pub(super) struct CheckedCarnet {
    pub cheques: i64,
    pub beneficiary_ref: Option<String>,
    pub email: Option<String>,
    pub facts: Facts,
}

/// Checks one carnet's request: its size, reference, e-mail, and the level of help and facts
/// noted (each from its list).
pub(super) fn check_carnet(carnet: NewCarnet) -> Result<CheckedCarnet> {
    if !SIZES.contains(&carnet.cheques) {
        return Err(Error::invalid(
            "invalid_cheques",
            "Un carnet contient 5 ou 10 chèques.",
        ));
    }
    let facts = Facts::parse(&carnet.facts_input())?;
    let beneficiary_ref = clean_beneficiary_ref(carnet.beneficiary_ref)?;
    let email = crate::mail::Email::parse_optional(carnet.email.as_deref())?
        .map(crate::mail::Email::into_string);
    Ok(CheckedCarnet {
        cheques: carnet.cheques,
        beneficiary_ref,
        email,
        facts,
    })
}

async fn issue_carnets(
    tx: &mut Tx<'_>,
    keyring: &Keyring,
    distributor: &Organization,
    batch: NewBatch,
    now: Timestamp,
) -> Result<Vec<PassView>> {
    let single = batch.carnets.len() == 1;
    let mut carnets = Vec::with_capacity(batch.carnets.len());
    for (index, carnet) in batch.carnets.into_iter().enumerate() {
        // In a batch, say which carnet is wrong.
        let at = |e: Error| {
            if single {
                e
            } else {
                e.prefixed(&format!("Carnet n° {} : ", index + 1))
            }
        };
        carnets.push(check_carnet(carnet).map_err(at)?);
    }
    let program = crate::programs::find(tx, &batch.program_id)
        .await?
        .ok_or_else(|| Error::invalid("unknown_program", "Ce programme n'existe pas."))?;
    // The carnet's days are its programme's: issued at 23:30 in Paris, a carnet of Nouméa is
    // already of the next day there, and its last day ends at midnight there.
    let today = program.today(now);
    program.require_issuable(today)?;
    let expires_on = today
        .checked_add(program.validity_days.days())
        .map_err(|e| Error::Internal(e.into()))?;
    let redeemable_until = expires_on
        .checked_add(program.grace_days.days())
        .map_err(|e| Error::Internal(e.into()))?
        .to_string();
    let active = batch.active.unwrap_or(true);
    let created_at = format_ts(now);
    let key_id = keyring.current().id.clone();
    let mut passes = Vec::with_capacity(carnets.len());
    let mut vouchers = Vec::new();
    for CheckedCarnet {
        cheques,
        beneficiary_ref,
        email,
        facts,
    } in carnets
    {
        let pass = PassRow {
            id: crate::db::new_id(),
            program_id: program.id.clone(),
            distributor_id: distributor.id.clone(),
            pass_code: codes::generate_code(),
            status: if active {
                PassStatus::Active
            } else {
                PassStatus::Inactive
            },
            beneficiary_ref,
            email,
            cheques,
            expires_on: expires_on.to_string(),
            created_at: created_at.clone(),
            help_level: facts.help_level.map(|v| v.as_str().to_string()),
            age_bracket: facts.age_bracket.map(|v| v.as_str().to_string()),
            situation: facts.situation.map(|v| v.as_str().to_string()),
            priority_area: facts.priority_area.map(|v| v.as_str().to_string()),
            rural: facts.rural.map(|v| v.as_str().to_string()),
        };
        vouchers.extend((0..cheques).map(|position| VoucherRow {
            id: crate::db::new_id(),
            pass_id: pass.id.clone(),
            position: position + 1,
            code: codes::generate_code(),
            key_id: key_id.clone(),
            value_cents: program.cheque_value_cents,
            expires_on: pass.expires_on.clone(),
            redeemable_until: redeemable_until.clone(),
            status: if active {
                ChequeStatus::Valid
            } else {
                ChequeStatus::Inactive
            },
        }));
        passes.push(pass);
    }
    insert_with_unique_codes(tx, &program.id, &distributor.id, &mut passes, &mut vouchers).await?;
    // One entry per carnet: its cheques are listed in the database, not in the journal.
    let stock = if active {
        ""
    } else {
        ", en stock (non activé)"
    };
    let cheque_value = program.cheque_value_cents.text();
    let entries: Vec<crate::audit::NewEntry> = passes
        .iter()
        .map(|pass| crate::audit::NewEntry {
            at: &pass.created_at,
            actor_org_id: Some(&distributor.id),
            action: "pass.issued",
            subject_id: Some(&pass.id),
            detail: format!(
                "{} chèque(s) de {}, programme {}{stock}",
                pass.cheques, cheque_value, program.id
            ),
        })
        .collect();
    crate::audit::record_many(tx, &entries);
    // The quota check is the ledger's guarded debit (no read-then-write), posted last so the
    // distributor's shared balance rows stay locked briefly; one posting per batch, referenced by
    // its first carnet's id when alone, by a batch id otherwise.
    let reference = if single {
        passes[0].id.clone()
    } else {
        format!("batch:{}", crate::db::new_id())
    };
    ledger::post(
        tx,
        &program.id,
        Kind::Issuance,
        &reference,
        Transfer {
            from: Account::Quota(&distributor.id),
            to: Account::Outstanding(&distributor.id),
            amount_cents: program.cheque_value_cents * vouchers.len() as i64,
        },
        &created_at,
    )
    .await?;
    let mut by_pass = vouchers.into_iter().peekable();
    let carnets: Vec<(PassRow, Vec<VoucherRow>)> = passes
        .into_iter()
        .map(|pass| {
            let mut own = Vec::with_capacity(pass.cheques as usize);
            while let Some(v) = by_pass.next_if(|v| v.pass_id == pass.id) {
                own.push(v);
            }
            (pass, own)
        })
        .collect();
    Ok(views_on_every_cpu(keyring, carnets, today))
}

/// Carnets answered together are signed on every CPU: a cheque's offline payload is an
/// Ed25519 signature (about 22 µs), half of a large batch's work, done while the transaction
/// holds the writer (BENCHMARKS.md, run W).
fn views_on_every_cpu(
    keyring: &Keyring,
    carnets: Vec<(PassRow, Vec<VoucherRow>)>,
    today: jiff::civil::Date,
) -> Vec<PassView> {
    const CARNETS_PER_CPU_AT_LEAST: usize = 50;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_chunk = carnets.len().div_ceil(cpus).max(CARNETS_PER_CPU_AT_LEAST);
    if carnets.len() <= per_chunk {
        return carnets
            .into_iter()
            .map(|(pass, own)| view(keyring, pass, own, today))
            .collect();
    }
    let mut chunks: Vec<Vec<(PassRow, Vec<VoucherRow>)>> = Vec::new();
    let mut carnets = carnets.into_iter().peekable();
    while carnets.peek().is_some() {
        chunks.push(carnets.by_ref().take(per_chunk).collect());
    }
    std::thread::scope(|scope| {
        let signing: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|(pass, own)| view(keyring, pass, own, today))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        signing
            .into_iter()
            .flat_map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e))
            })
            .collect()
    })
}

/// Inserts carnets and cheques; if a random code was already taken (about once in 10^5 batches
/// of a thousand carnets with ten million cheques in circulation), draws every code again and
/// retries, in a savepoint so the transaction goes on.
async fn insert_with_unique_codes(
    conn: &mut Conn,
    program_id: &str,
    distributor_id: &str,
    passes: &mut [PassRow],
    vouchers: &mut [VoucherRow],
) -> Result<()> {
    const ATTEMPTS: usize = 3;
    let mut attempt = 1;
    loop {
        let mut savepoint = sqlx::Connection::begin(&mut *conn).await?;
        let inserted = async {
            repo::insert_passes(&mut savepoint, passes).await?;
            repo::insert_vouchers(&mut savepoint, program_id, distributor_id, vouchers).await
        }
        .await;
        match inserted {
            Ok(()) => {
                savepoint.commit().await?;
                return Ok(());
            }
            Err(e) if e.is_unique_violation() && attempt < ATTEMPTS => {
                savepoint.rollback().await?;
                tracing::warn!(attempt, "a drawn code was already taken: drawing again");
                for pass in passes.iter_mut() {
                    pass.pass_code = codes::generate_code();
                }
                for voucher in vouchers.iter_mut() {
                    voucher.code = codes::generate_code();
                }
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_name_or_an_address_is_not_a_reference() {
        for refused in [
            "Mme Durand Josiane 12 rue des Lilas",
            "M. Martin",
            "madame durand",
            "12 RUE DES LILAS",
            "3 bis avenue Jean Jaurès",
            "Résidence les Pins 4",
        ] {
            assert!(super::looks_like_name_or_address(refused), "{refused}");
        }
        for kept in [
            "CAF-2026-00123",
            "dossier 4512",
            "FT 75 118 442",
            "Route-ABC",
        ] {
            assert!(!super::looks_like_name_or_address(kept), "{kept}");
        }
    }
}
